"""transpiler: trained scikit-learn, XGBoost and LightGBM models as dependency-free Go, C and Java.

    >>> import transpiler
    >>> files = transpiler.transpile("model.pkl", lang="go")   # {relative path: source text}
    >>> transpiler.write(files, "model/")                       # all files or none, with a manifest
    >>> transpiler.verify("model.pkl", "go").ok                 # built and compared with the model
    >>> transpiler.check("model.pkl", "go", "model/").ok        # no drift since it was written

The pipeline: load -> ir -> optimize -> emit (-> verify). This module is the only place that
wires the stages together.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

from . import verify as _verify_stage  # noqa: F401  (see verify() below)
from ._version import __version__

if TYPE_CHECKING:
    from .ir import Model
    from .verify.check import CheckResult
    from .verify.report import Report

LANGUAGES = ("go", "c", "java")
LAYOUTS = ("auto", "code", "table")

#: What `transpile` returns: {relative path: text} (plus bytes for the table layout's data files).
Files = dict[str, Union[str, bytes]]
#: A fitted model object, or the path of a saved one (pickle, joblib, skops, XGBoost, LightGBM).
ModelInput = Union[Any, str, "os.PathLike[str]"]


def to_ir(model_or_path: ModelInput, **load_options: Any) -> Model:
    """Load a model (object or file path) and run the optimization passes."""
    from . import ir, load, optimize

    if isinstance(model_or_path, ir.Model):     # already loaded: transpile(to_ir(m)) works
        return model_or_path
    return optimize.run(load.load(model_or_path, **load_options))


def _check_lang(lang: str) -> None:
