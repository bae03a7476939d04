"""Stage 1: a trained model (a Python object or a file) -> ir.Model.

Each model family is one module listed in FAMILIES. A family module provides:
  LIBRARY             top-level package name of the objects it reads ("sklearn", "xgboost", ...)
  CLASSES             {class name: function(obj, options) -> ir.Model}
  sniff(path, head)   optional: True when a file (first bytes `head`) is this family's native format
  load_file(path, options, budget)  optional: parse such a file without the library installed,
                      charging what it reads and builds to `budget` (budget.Budget, one per load)
`options` is a dict of loader options (e.g. what a native file does not record).
"""
from __future__ import annotations

import os

from .. import ir
from ..errors import InputError, TranspilerError, unsupported
from . import (checks, files, formats, lgbm, sklearn_boosting, sklearn_calibration,
               sklearn_linear, sklearn_pipeline, sklearn_svm, sklearn_trees, xgb)
from .budget import Budget, active

FAMILIES = (sklearn_trees, sklearn_linear, sklearn_boosting, sklearn_svm, sklearn_pipeline,
            sklearn_calibration, xgb, lgbm)


def supported_models() -> list[tuple[str, str]]:
    """(library, class name) for every model object the loaders read, sorted."""
    return sorted((f.LIBRARY, name) for f in FAMILIES for name in f.CLASSES)


def load(model_or_path, **options) -> ir.Model:
    """Turn a fitted model, or the path of a saved one, into an ir.Model.

    Files are untrusted input: pickles are unpickled under safe_pickle's policy unless
    `trust_pickle=True`, and whatever a file holds is checked (checks.check_model), so a
    corrupt one gives an InputError, never an IndexError or a hang.
    """
    trust = bool(options.pop("trust_pickle", False))
    if isinstance(model_or_path, (str, os.PathLike)):
        path = os.fspath(model_or_path)
        head = files.read_head(path)
        budget = Budget(path)       # one for the whole load, the parsers after unpickling too
        for family in FAMILIES:
            sniff = getattr(family, "sniff", None)
            if sniff is not None and sniff(path, head):
                with active(budget):
                    return _from_file(path, lambda: family.load_file(path, options, budget))
        formats.check(path, head)   # kinds we recognise but do not read, named
        versions = []
        obj = files.unpickle(path, trust=trust, versions=versions, budget=budget)
        if trust:
            return _from_file(path, lambda: load_object(obj, options), versions)
        with active(budget):
            return _from_file(path, lambda: load_object(obj, options), versions)
    return checks.check_model(load_object(model_or_path, options))


OLDEST_SKLEARN = (1, 1)     # the oldest release whose pickles are read (tests/data/old_versions)


def _too_old(versions) -> str:
    """The oldest of the scikit-learn versions that pickled a file, if older than we read."""
    def key(v):
        parts = [int(p) for p in str(v).split(".")[:2] if p.isdigit()]
        return tuple(parts) if len(parts) == 2 else (0, 0)     # "pre-0.18" and the like
    old = sorted((key(v), v) for v in versions if key(v) < OLDEST_SKLEARN)
    return old[0][1] if old else ""


def _from_file(path: str, build, versions=()) -> ir.Model:
    """build() a model from a file's contents; errors a malformed file can cause in a loader
    (IndexError, KeyError, ... deep in its parsing) become one InputError, which names the
    release to re-save with when the pickle is older than the releases we read."""
    try:
        return checks.check_model(build())
    except TranspilerError:
        raise
    except MemoryError:
        size = os.path.getsize(path) / (1 << 20)
        raise InputError(f"the machine ran out of memory loading {path} ({size:,.0f} MB); "
                         "a model this large needs more memory") from None
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError,
            ZeroDivisionError, RecursionError, AssertionError) as exc:
        old = _too_old(versions)
        if old:
            raise InputError(f"{path} was pickled by scikit-learn {old}, and pickles are read "
                             "from scikit-learn 1.1 on; load it with scikit-learn 1.1 or later, "
                             "check its predictions and save it again") from exc
        raise InputError(f"{path} holds a malformed model ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:160] if str(exc) else ''}); save it again, "
                         "or rerun with --debug and report it if the file is sound") from exc


def load_object(obj, options: dict) -> ir.Model:
    library = type(obj).__module__.split(".")[0]
    name = type(obj).__name__
    for family in FAMILIES:
        if family.LIBRARY == library and name in family.CLASSES:
            return family.CLASSES[name](obj, options)
    if isinstance(obj, (dict, list, tuple, str, bytes, int, float)) or obj is None:
        raise InputError(f"the file holds a {name}, not a trained model; "
                         "pass a pickled scikit-learn, XGBoost or LightGBM model")
    raise unsupported(obj)
