"""xgboost models -> ir.Model: pickled estimators and Boosters, and native .json/.ubj files.

Objects are saved with `booster.save_raw("ubj")` and read by the same code as native
files (xgb_model.convert), so both paths give the same IR. Native files are parsed by our
own code (json, or xgb_ubjson for .ubj) and never need xgboost installed.

What Score returns:
- XGBClassifier, XGBRFClassifier: predict_proba ([1-p, p] for binary:logistic, softmax
  probabilities for multi:softprob and multi:softmax, one sigmoid per label for multi-label);
  binary:logitraw gives the margin (decision_function), binary:hinge the 0/1 label.
- XGBRegressor, XGBRFRegressor, XGBRanker, Booster: predict.
- The sklearn wrappers predict with the trees up to best_iteration when early stopping
  recorded one, and with their `missing` value; a Booster predicts with every tree, NaN missing.

Options (the `options` dict), for native files unless noted:
- binary_proba (bool): whether binary:logistic (and reg:logistic) score [1-p, p] like
  XGBClassifier.predict_proba or p alone like Booster.predict. Default: True, unless the file
  was saved by an sklearn regressor or ranker (its `scikit_learn` attribute says so).
  Objects: overrides the estimator's default. Other objectives of a file follow the estimator
  that saved it (XGBClassifier: predict_proba; else predict, e.g. multi:softmax -> class index).
- missing (float): the input value that counts as missing besides NaN. Default NaN
  (XGBoost does not save it in the file). Objects: overrides the estimator's `missing`.
- use_best_iteration (bool): predict with the trees up to the recorded best_iteration.
  Default True for files and sklearn estimators, False for a bare Booster (as Booster.predict).
- iteration_range ((begin, end)): boosting rounds to use, as in predict; overrides the above.
- dart_inplace (bool): dart only. True mirrors inplace_predict, which the sklearn wrappers'
  predict uses; False mirrors Booster.predict on a DMatrix. The two differ in the last bits.
  Default True for files and sklearn estimators, False for a bare Booster.
"""
from __future__ import annotations

import math

from .. import ir
from ..errors import InputError, OptionError
from . import files, json_doc, records
from . import xgb_binary
from .budget import Budget
from .xgb_model import Spec, convert
from .xgb_ubjson import UBJSONError, decode

LIBRARY = "xgboost"

_UBJ_LENGTH_MARKERS = (b"i", b"U", b"I", b"l", b"L")


def sniff(path: str, head: bytes) -> bool:
    """A JSON or UBJSON XGBoost model (an object whose first keys include "learner"), or the
    legacy binary format (xgb_binary.sniff)."""
    if head[:1] == b"{" and head[1:2] in _UBJ_LENGTH_MARKERS + (b"#", b"$"):
        return b"learner" in head[:64]
    return head.lstrip()[:1] == b"{" and b'"learner"' in head or xgb_binary.sniff(head)


def read_document(path: str, budget: Budget | None = None):
    """The model document of a .json, .ubj or legacy binary file, read under `budget` (by
    default one for the file's size)."""
    budget = budget or Budget(path)
    data = files.read_bytes(path, budget)
    if xgb_binary.sniff(data[:4096]):
        return xgb_binary.read_serialized(data, path, budget)
    if data[:1] == b"{" and data[1:2] in _UBJ_LENGTH_MARKERS + (b"#", b"$"):
        try:
            return decode(data, budget)
        except UBJSONError as exc:
            raise InputError(f"{path} is not a readable XGBoost UBJSON model ({exc}); "
                             "the file may be truncated, save the model again") from None
    try:
        return json_doc.loads(data, budget)
    except ValueError as exc:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise InputError(f"{path} is not a readable XGBoost JSON model ({exc}); "
                         "the file may be truncated, save the model again") from None


def _flag(options: dict, key: str, default: bool) -> bool:
    value = options.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise OptionError(f"option {key} must be true or false, not {value!r}")
    return value


def _missing(options: dict, default):
    value = options.get("missing")
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise OptionError(f"option missing must be a number (or nan), not {value!r}") from None


def _sklearn_type(doc, budget: Budget) -> str | None:
    """`_estimator_type` that XGBModel.save_model records in the learner's attributes."""
    try:
        meta = doc["learner"]["attributes"].get("scikit_learn")
        return (json_doc.loads(meta.encode("utf-8"), budget, "its scikit_learn attribute")
                .get("_estimator_type") if meta else None)
    except (KeyError, TypeError, AttributeError, ValueError):
        return None


def load_file(path: str, options: dict, budget: Budget | None = None) -> ir.Model:
    budget = budget or Budget(path)
    doc = read_document(path, budget)
    kind = _sklearn_type(doc, budget)
    regressor = kind in ("regressor", "ranker")
    spec = Spec(proba=kind == "classifier",
                binary_proba=_flag(options, "binary_proba", not regressor),
                use_best_iteration=_flag(options, "use_best_iteration", True),
                missing=_missing(options, math.nan),
                iteration_range=options.get("iteration_range"),
                source="xgboost.Booster" if kind is None else f"xgboost file ({kind})",
                dart_inplace=_flag(options, "dart_inplace", True))
    return convert(doc, spec)


def _document(booster):
    if isinstance(booster, (bytes, bytearray)):     # xgboost < 1.0 pickled the raw model
        return xgb_binary.read_serialized(booster)
    # UBJSON: node arrays arrive as typed binary blocks (one frombuffer each), several times
    # faster to write and read than JSON for a large model.
    if isinstance(booster, records.XGBoostBoosterRecord):   # from an untrusted pickle
        try:
            return booster.document()
        except ValueError as exc:   # UBJSONError, JSONDecodeError
            raise InputError(f"the XGBoost Booster in the file is not readable ({exc}); "
                             "save the model again") from None
    try:
        return decode(bytes(booster.save_raw("ubj")))
    except ValueError as exc:
        raise InputError(f"xgboost wrote a model we cannot parse ({exc}); "
                         "report this with your xgboost version") from exc


def _booster_of(obj):
    record = vars(obj).get("_Booster")
    if isinstance(record, records.XGBoostBoosterRecord):
        return record
    if isinstance(record, (bytes, bytearray)):        # xgboost < 1.0: save_raw() bytes
        return record
    try:
        return obj.get_booster()
    except Exception as exc:   # xgboost raises NotFittedError (a ValueError/AttributeError mix)
        raise InputError(f"{type(obj).__name__} is not fitted ({exc}); call fit() before "
                         "saving or transpiling it") from None


def load_sklearn(obj, options: dict) -> ir.Model:
    booster = _booster_of(obj)
    classifier = hasattr(obj, "n_classes_") and type(obj).__name__.endswith("Classifier")
    spec = Spec(proba=classifier, binary_proba=_flag(options, "binary_proba", classifier),
                use_best_iteration=_flag(options, "use_best_iteration", True),
                missing=_missing(options, getattr(obj, "missing", math.nan)),
                iteration_range=options.get("iteration_range"),
                source=f"xgboost.{type(obj).__name__}",
                classes=getattr(obj, "classes_", None) if classifier else None,
                dart_inplace=_flag(options, "dart_inplace", True))
    return convert(_document(booster), spec)


def load_booster(obj, options: dict) -> ir.Model:
    spec = Spec(proba=False, binary_proba=_flag(options, "binary_proba", False),
                use_best_iteration=_flag(options, "use_best_iteration", False),
                missing=_missing(options, math.nan),
                iteration_range=options.get("iteration_range"),
                source="xgboost.Booster",
                dart_inplace=_flag(options, "dart_inplace", False))
    return convert(_document(obj), spec)


CLASSES = {
    "XGBRegressor": load_sklearn,
    "XGBClassifier": load_sklearn,
    "XGBRFRegressor": load_sklearn,
    "XGBRFClassifier": load_sklearn,
    "XGBRanker": load_sklearn,
    "Booster": load_booster,
}
