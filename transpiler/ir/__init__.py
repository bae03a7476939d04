"""Stage 2: the intermediate representation. Imports nothing from the other stages."""
from .model import (AGGREGATIONS, FEATURE_TYPES, OPS, POSTPROCESSORS, Ensemble, LeafLinear, Linear,
                    Model, Tree, frozen_array, make_tree)
from .kernel import KERNELS, Kernel
from . import preprocess
from .evaluate import evaluate
from .dump import dump, dumps

__all__ = ["AGGREGATIONS", "FEATURE_TYPES", "KERNELS", "OPS", "POSTPROCESSORS", "Ensemble", "Kernel",
           "LeafLinear", "Linear", "Model", "Tree", "frozen_array", "make_tree", "evaluate", "dump",
           "dumps", "preprocess"]
