"""XGBoost objectives: how base_score becomes a margin, and which post-processor predict applies.

XGBoost stores `base_score` in output space ("[6.2333333E-1]" for a logistic model) and turns
it into a margin with the objective's ProbToMargin every time it loads a model, in float32:
`-logf(1.0f / p - 1.0f)` for logistic objectives, `logf(p)` for poisson, gamma, tweedie,
cox and aft, the value itself otherwise (binary:logitraw included since 1.3.1, multi:softprob stores
margins). We call the platform's `logf` through ctypes when we can: the float64 log rounded
to float32 differed from XGBoost's margin on 3 of 300 random logistic base scores.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math

import numpy as np

from ..errors import InputError, UnsupportedModelError

# objective -> (base-score transform, post-processor of Booster.predict, task)
OBJECTIVES = {
    "reg:squarederror": ("identity", "identity", "regression"),
    "reg:linear": ("identity", "identity", "regression"),   # the pre-1.0 name of squarederror
    "reg:squaredlogerror": ("identity", "identity", "regression"),
    "reg:pseudohubererror": ("identity", "identity", "regression"),
    "reg:absoluteerror": ("identity", "identity", "regression"),
    "reg:quantileerror": ("identity", "identity", "regression"),
    "reg:logistic": ("logit", "sigmoid", "regression"),
    "binary:logistic": ("logit", "sigmoid", "classification"),
    "binary:logitraw": ("identity", "identity", "classification"),
    "binary:hinge": ("identity", "hinge", "classification"),
    "count:poisson": ("log", "exp", "regression"),
    "reg:gamma": ("log", "exp", "regression"),
    "reg:tweedie": ("log", "exp", "regression"),
    "survival:cox": ("log", "exp", "regression"),
    "survival:aft": ("log", "exp", "regression"),      # predicts exp(margin), any distribution
    "reg:expectileerror": ("identity", "identity", "regression"),   # one alpha (see below)
    "multi:softprob": ("identity", "softmax", "classification"),
    "multi:softmax": ("identity", "argmax", "classification"),
    "rank:pairwise": ("identity", "identity", "ranking"),
    "rank:ndcg": ("identity", "identity", "ranking"),
    "rank:map": ("identity", "identity", "ranking"),
}


def check_outputs(name: str, n_outputs: int) -> None:
    """Refuse what an objective's predict does with several outputs that we do not compute."""
    if name == "reg:expectileerror" and n_outputs > 1:
        raise UnsupportedModelError(
            f"unsupported XGBoost model: reg:expectileerror with {n_outputs} expectile_alpha "
            "values predicts cumulative softplus sums across its outputs (to keep the "
            "expectiles ordered), a post-processor the generated code does not have; train "
            "one model per alpha")


def objective_info(name: str):
    """(transform, post, task) for a supported objective, else UnsupportedModelError."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise UnsupportedModelError(
            f"unsupported XGBoost objective {name!r}: xgboost lists no such objective, so "
            "nothing says how predict turns its margins into outputs (a custom objective?); "
            "retrain with a built-in one such as reg:squarederror, binary:logistic or "
            "multi:softprob (README: Supported models lists all)") from None


def _libm_logf():
    try:
        path = ctypes.util.find_library("m") or ctypes.util.find_library("c")
        if path is None:
            return None
        fn = ctypes.CDLL(path).logf
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_float
    fn.argtypes = [ctypes.c_float]
    return fn


_LOGF = _libm_logf()


def logf(x: np.float32) -> np.float32:
    """log of a float32 as C's logf computes it (XGBoost's arithmetic)."""
    if _LOGF is not None:
        return np.float32(_LOGF(float(x)))
    with np.errstate(all="ignore"):
        return np.float32(np.log(np.float64(x)))


def parse_base_score(text) -> list:
    """'[2.5057511E0]', '[1E0,2E0]' (2.0+) or '5E-1' (1.x) -> float32 values."""
    if isinstance(text, (int, float)):
        return [np.float32(text)]
    s = str(text).strip()
    if s.startswith("[") and s.endswith("]"):
        s = s[1:-1]
    try:
        return [np.float32(float(v)) for v in s.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"the model's base_score {text!r} is not a number or a list of numbers; "
                         "save the model again with a current xgboost") from None


def to_margin(values, transform: str) -> list:
    """ProbToMargin, value by value, in float32."""
    one = np.float32(1)
    out = []
    for p in values:
        p = np.float32(p)
        if transform == "logit":
            if not 0 < p < 1:
                raise InputError(f"base_score {float(p)} is outside (0, 1), which a logistic "
                                 "objective needs; save the model again")
            with np.errstate(all="ignore"):
                out.append(-logf(one / p - one))
        elif transform == "log":
            if not p > 0:
                raise InputError(f"base_score {float(p)} is not positive, which a log-link "
                                 "objective needs; save the model again")
            out.append(logf(p))
        else:
            out.append(p)
    if not all(math.isfinite(float(v)) for v in out):
        raise InputError("the model's base_score is not finite; save the model again")
    return out
