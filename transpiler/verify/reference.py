"""Reference outputs: what the Python model itself returns for rows, in the shape Score returns.

Score gives predict_proba, decision_function or predict according to ir.Model.output_kind;
each family has a function that calls its library the same way. A native file (XGBoost
.json/.ubj, LightGBM model.txt) is loaded with its library when that is installed; when it is
not, or the library has no call that returns what Score returns, the IR evaluator is the
reference and the report says why.

To teach a family a new case, extend its function in OBJECT_REFERENCES / FILE_REFERENCES;
raise NoReference(reason) where the library has no equivalent call.
"""
from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass

import numpy as np

from .. import ir
from ..errors import MismatchError


class NoReference(Exception):
    """The library cannot give what Score returns; the message says why."""


@dataclass
class Reference:
    outputs: np.ndarray      # (n_rows, n_outputs) float64; NaN in rows not scored
    scored: np.ndarray       # bool per row: rows the library accepted
    description: str         # e.g. "sklearn RandomForestClassifier.predict_proba"
    skipped_reason: str = ""
    library: bool = True     # False: the IR evaluator stood in


def _two_columns(p: np.ndarray, model: ir.Model) -> np.ndarray:
    """[1 - p, p] where Score gives both classes and the library only p."""
    p = np.asarray(p, dtype=np.float64).reshape(len(p), -1)
    if model.post == "binary_sigmoid" and p.shape[1] == 1:
        p32 = p.astype(np.float32) if model.raw.accumulate == "float32" else p
        return np.hstack([(1 - p32).astype(np.float64), p])
    return p


# --- scikit-learn ------------------------------------------------------------------------

def sklearn_object(obj, model: ir.Model, rows, options):
    method = model.output_kind
    return getattr(obj, method)(rows), f"sklearn {type(obj).__name__}.{method}"


# --- XGBoost -----------------------------------------------------------------------------

def _xgb_predict(booster, rows, model: ir.Model, options, *, inplace: bool, best: bool):
    import xgboost as xgb

    missing = options.get("missing")
    missing = np.nan if missing is None else float(missing)
    rng = options.get("iteration_range")
    if rng is None and best and booster.attr("best_iteration") is not None:
        rng = (0, int(booster.attr("best_iteration")) + 1)
    rng = tuple(rng) if rng is not None else (0, 0)
    if inplace:
        return booster.inplace_predict(rows, missing=missing, iteration_range=rng,
                                       validate_features=False)
    types = booster.feature_types
    dm = xgb.DMatrix(rows, missing=missing, feature_names=booster.feature_names,
                     feature_types=types, enable_categorical=bool(types and "c" in types))
    return booster.predict(dm, iteration_range=rng)


def _xgb_booster(booster, model, rows, options, *, best: bool, inplace: bool, what: str):
    if model.meta.get("objective") == "multi:softmax" and model.output_kind == "predict_proba":
        raise NoReference("Booster.predict gives labels for multi:softmax, Score probabilities")
    inplace = options.get("dart_inplace", inplace)
    best = options.get("use_best_iteration", best)
    out = _xgb_predict(booster, rows, model, options, inplace=inplace, best=best)
    call = "inplace_predict" if inplace else "predict"
    return _two_columns(out, model), f"xgboost {what}.{call}"


def xgboost_object(obj, model: ir.Model, rows, options):
    name = type(obj).__name__
    if name == "Booster":
        return _xgb_booster(obj, model, rows, options, best=False, inplace=False, what="Booster")
    if options.get("missing") is not None or options.get("binary_proba") is not None:
        raise NoReference("load options override how the estimator predicts")
    kw = {} if options.get("iteration_range") is None else \
        {"iteration_range": tuple(options["iteration_range"])}
    kind = model.output_kind
    if kind == "predict_proba":
        return obj.predict_proba(rows, **kw), f"xgboost {name}.predict_proba"
    if kind == "decision_function":
        return (obj.predict(rows, output_margin=True, **kw),
                f"xgboost {name}.predict(output_margin=True)")
    if name.endswith("Classifier"):  # predict would map 0/1 to labels; Score gives the raw 0/1
        return _xgb_booster(obj.get_booster(), model, rows, dict(options, missing=obj.missing),
                            best=True, inplace=True, what=f"{name} booster")
    return obj.predict(rows, **kw), f"xgboost {name}.predict"


def xgboost_file(path, model: ir.Model, rows, options):
    import xgboost as xgb

    if model.meta.get("format") == "legacy binary":
        raise NoReference("xgboost 3 no longer reads the legacy binary format")
    if model.meta.get("base_score_last"):
        raise NoReference("the file's xgboost (< 1.3) added the base score after the trees, "
                          "today's adds it first")

    kind = model.source.partition("(")[2].rstrip(")")   # "xgboost file (classifier)"
    wrapper = {"classifier": xgb.XGBClassifier, "regressor": xgb.XGBRegressor,
               "ranker": xgb.XGBRanker}.get(kind)
    if wrapper is not None and options.get("binary_proba") is None:
        est = wrapper()
        est.load_model(path)
        out, call = xgboost_object(est, model, rows, options)
        return out, f"{call} of the loaded file"
    return _xgb_booster(xgb.Booster(model_file=path), model, rows, options, best=True,
                        inplace=True, what="Booster(model_file)")


# --- LightGBM ----------------------------------------------------------------------------

def lightgbm_object(obj, model: ir.Model, rows, options):
    name = type(obj).__name__
    kw = {"num_iteration": options.get("num_iteration")}
    if name == "Booster":
        return obj.predict(rows, **kw), "lightgbm Booster.predict"
    if model.output_kind == "predict_proba":
        return obj.predict_proba(rows, **kw), f"lightgbm {name}.predict_proba"
    if model.output_kind == "decision_function":
        return obj.predict(rows, raw_score=True, **kw), f"lightgbm {name}.predict(raw_score=True)"
    return obj.predict(rows, **kw), f"lightgbm {name}.predict"


def lightgbm_file(path, model: ir.Model, rows, options):
    import lightgbm as lgb

    booster = lgb.Booster(model_file=path)
    out = booster.predict(rows, num_iteration=options.get("num_iteration"))
    return out, "lightgbm Booster(model_file).predict"


OBJECT_REFERENCES = {"sklearn": sklearn_object, "xgboost": xgboost_object,
                     "lightgbm": lightgbm_object}
FILE_REFERENCES = {"xgboost": xgboost_file, "lightgbm": lightgbm_file}


# --- dispatch ----------------------------------------------------------------------------

def _call(fn, source, model, rows, options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # "X does not have valid feature names" and the like
        with np.errstate(all="ignore"):
            out, description = fn(source, model, rows, options)
    out = np.asarray(out, dtype=np.float64).reshape(len(rows), -1)
    if out.shape[1] != model.n_outputs:
        raise MismatchError(f"{description} returns {out.shape[1]} values per row but the "
                            f"generated code {model.n_outputs}; report this with the model")
    return out, description


def _evaluator(model: ir.Model, rows, reason: str) -> Reference:
    return Reference(outputs=ir.evaluate(model, rows), scored=np.ones(len(rows), dtype=bool),
                     description=f"IR evaluator ({reason})", library=False)


def reference(source, library: str, native: bool, model: ir.Model, rows: np.ndarray,
              options: dict | None = None) -> Reference:
    """Reference outputs for `rows` from `source` (a model object, or a native file's path)."""
    options = options or {}
    fn = (FILE_REFERENCES if native else OBJECT_REFERENCES).get(library)
    if not native:
        from .realize import realize

        source = realize(source)
    if fn is None:
        return _evaluator(model, rows, f"no reference call known for {library}")
    if native:
        try:
            importlib.import_module(library)
        except ImportError:
            return _evaluator(model, rows, f"{library} not installed")
    # The library may refuse some rows (scikit-learn's linear models refuse NaN, its trees
    # infinity): retry without infinite rows, then without any non-finite value.
    masks = [np.ones(len(rows), dtype=bool), ~np.isinf(rows).any(axis=1),
             np.isfinite(rows).all(axis=1)]
    first = None
    for i, keep in enumerate(masks):
        if not keep.any() or (i and (keep == masks[i - 1]).all()):
            continue
        try:
            part, description = _call(fn, source, model, rows[keep], options)
        except NoReference as exc:
            return _evaluator(model, rows, str(exc))
        except MismatchError:
            raise
        except Exception as exc:  # whatever the library raises for rows it refuses
            first = first or exc
            continue
        out = np.full((len(rows), model.n_outputs), np.nan)
        out[keep] = part
        what = "infinity" if i == 1 else "NaN or infinity"
        reason = f"with {what}, which {library} refuses ({_short(first)})" if first else ""
        return Reference(out, keep, description, skipped_reason=reason)
    return _evaluator(model, rows, f"{library} failed: {_short(first)}")


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()).split(". ")[0]   # the first sentence says enough
    return f"{type(exc).__name__}: {text[:120]}"
