"""scikit-learn's libsvm models (SVC, NuSVC, SVR, NuSVR, OneClassSVM) -> ir.Model (ir.Kernel).

libsvm computes, per output, sum(coef * kernel(x, sv)) - rho with rho = -intercept; one-vs-one
outputs of SVC sum the support vectors of class i (coefficient row j-1), then those of class j
(row i). Those are the IR's dense rows with zeros elsewhere. Binary SVC/NuSVC negate the
decision; the public dual_coef_ and intercept_ already hold the negated values, and negation
is exact, so they give the same bits. decision_function_shape='ovr' turns the pair decisions
into per-class votes plus confidences ("ovo_votes").
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..errors import unsupported
from .sklearn_boosting import outlier_method
from .sklearn_common import feature_names, require_fitted, sklearn_version

LIBRARY = "sklearn"


def kernel_stage(obj) -> ir.Kernel:
    """The decision values of a fitted libsvm model, one output per libsvm decision value
    (negated for binary SVC/NuSVC, as decision_function returns it)."""
    require_fitted(obj, "support_vectors_", "_dual_coef_")
    if callable(obj.kernel) or obj.kernel not in ir.KERNELS:
        raise unsupported(obj, f"kernel={obj.kernel!r}; use linear, poly, rbf or sigmoid")
    if getattr(obj, "_sparse", False):
        raise unsupported(obj, "fitted on a sparse matrix; fit it on a dense array")
    sv = np.asarray(obj.support_vectors_, dtype=np.float64)
    dual = np.asarray(obj._dual_coef_, dtype=np.float64)
    intercept = np.asarray(obj._intercept_, dtype=np.float64)
    classes = getattr(obj, "classes_", None)
    if classes is not None and len(classes) > 2:
        coef = _one_vs_one(dual, np.asarray(obj._n_support), len(classes))
    elif classes is not None:
        coef, intercept = -dual, -intercept      # what decision_function returns: -dec
    else:
        coef = dual
    return ir.Kernel(support=ir.frozen_array(sv, np.float64),
                     coef=ir.frozen_array(coef, np.float64), intercept=ir.frozen_array(intercept, np.float64), kernel=obj.kernel,
                     gamma=float(obj._gamma), coef0=float(obj.coef0), degree=int(obj.degree))


def _one_vs_one(dual, n_support, k) -> np.ndarray:
    start = np.concatenate([[0], np.cumsum(n_support)])
    coef = np.zeros((k * (k - 1) // 2, dual.shape[1]))
    p = 0
    for i in range(k):
        for j in range(i + 1, k):
            coef[p, start[i]:start[i + 1]] = dual[j - 1, start[i]:start[i + 1]]
            coef[p, start[j]:start[j + 1]] = dual[i, start[j]:start[j + 1]]
            p += 1
    return coef


def _model(obj, km, post="identity", output_kind="predict") -> ir.Model:
    classifier = hasattr(obj, "classes_")
    return ir.Model(
        n_features=km.n_features, raw=km, post=post,
        task="classification" if classifier else "regression",
        classes=tuple(obj.classes_.tolist()) if classifier else (),
        feature_names=feature_names(obj), source=f"sklearn.{type(obj).__name__}",
        source_version=sklearn_version(), output_kind=output_kind)


def load_classifier(obj, options) -> ir.Model:
    if np.size(getattr(obj, "_probA", ())):      # fitted with probability=True
        raise unsupported(obj, "probability=True (libsvm's Platt scaling, deprecated in "
                               "scikit-learn 1.9); use CalibratedClassifierCV(SVC(), "
                               "ensemble=False) instead, as scikit-learn advises")
    km = kernel_stage(obj)
    multi = len(obj.classes_) > 2
    post = "ovo_votes" if multi and obj.decision_function_shape == "ovr" else "identity"
    return _model(obj, km, post, "decision_function")


def load_regressor(obj, options) -> ir.Model:
    return _model(obj, kernel_stage(obj))


def load_one_class(obj, options) -> ir.Model:
    if outlier_method(obj, options) == "score_samples":
        raise unsupported(obj, "score_samples; its decision_function is supported")
    return _model(obj, kernel_stage(obj), output_kind="decision_function")


CLASSES = {
    "SVC": load_classifier, "NuSVC": load_classifier,
    "SVR": load_regressor, "NuSVR": load_regressor,
    "OneClassSVM": load_one_class,
}
