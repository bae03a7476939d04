"""Stage 3: pure ir.Model -> ir.Model passes, applied in the order of PASSES."""
from __future__ import annotations

from .. import ir
from .prune import merge_equal_leaves

PASSES = (merge_equal_leaves,)


def run(model: ir.Model, passes=PASSES) -> ir.Model:
    for p in passes:
        model = p(model)
    return model
