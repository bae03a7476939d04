"""scikit-learn linear models -> ir.Model.

Every model here scores raw = X @ coef_.T + intercept_ in float64 (coef_ is widened exactly when
it was fitted in float32), then applies what its predict / predict_proba applies on top:
- regressors: nothing, or exp for GLMs whose fitted loss has a log link;
- LogisticRegression: binary -> _predict_proba_lr, [1 - expit(d), expit(d)];
  multi-class -> softmax(decision_function). scikit-learn >= 1.8 ignores a `multi_class`
  attribute left on an old pickle; older installs still honor it (see _legacy_ovr);
- SGDClassifier: log_loss -> _predict_proba_lr (OvR-normalized sigmoids), modified_huber ->
  (clip(d, -1, 1) + 1) / 2, normalized, all-zero rows -> 1/k; other losses have no predict_proba;
- other linear classifiers: decision_function (1 value when binary);
- OneVsRestClassifier over binary linear classifiers: their rows stacked, then its own rules.
"""
from __future__ import annotations

import inspect

import numpy as np

from .. import ir
from ..errors import unsupported
from .sklearn_common import feature_names, require_fitted, sklearn_release, sklearn_version

LIBRARY = "sklearn"

REGRESSORS = (
    "LinearRegression", "Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV",
    "MultiTaskLasso", "MultiTaskLassoCV", "MultiTaskElasticNet", "MultiTaskElasticNetCV",
    "Lars", "LarsCV", "LassoLars", "LassoLarsCV", "LassoLarsIC",
    "OrthogonalMatchingPursuit", "OrthogonalMatchingPursuitCV", "BayesianRidge", "ARDRegression",
    "HuberRegressor", "TheilSenRegressor", "QuantileRegressor", "SGDRegressor",
    "PassiveAggressiveRegressor", "LinearSVR",
)
GLMS = ("PoissonRegressor", "GammaRegressor", "TweedieRegressor")
CLASSIFIERS = (
    "LogisticRegression", "LogisticRegressionCV", "RidgeClassifier", "RidgeClassifierCV",
    "SGDClassifier", "Perceptron", "PassiveAggressiveClassifier", "LinearSVC",
)
# GLM loss links (sklearn._loss.link) -> the post-processor that applies their inverse.
LINK_POST = {"IdentityLink": "identity", "LogLink": "exp"}


def _coef_matrix(obj) -> np.ndarray:
    """coef_ as a dense float64 (n_outputs, n_features) array; sparsify() leaves it sparse."""
    coef = obj.coef_
    if hasattr(coef, "toarray"):
        coef = coef.toarray()
    coef = np.asarray(coef)
    if coef.dtype.kind not in "fiu" or coef.ndim not in (1, 2):
        raise unsupported(obj, f"coef_ of shape {coef.shape} and dtype {coef.dtype}")
    coef = np.atleast_2d(coef.astype(np.float64))
    n_features = getattr(obj, "n_features_in_", coef.shape[1])
    if coef.shape[1] != n_features:
        raise unsupported(obj, f"coef_ has {coef.shape[1]} columns for {n_features} features")
    return coef


def linear_stage(obj) -> ir.Linear:
    """The raw stage of one fitted linear estimator: its coef_ rows and matching intercepts."""
    coef = _coef_matrix(obj)
    # intercept_ is 0.0 (a scalar) when fit_intercept=False, even for several outputs.
    intercept = np.asarray(getattr(obj, "intercept_", 0.0), dtype=np.float64).ravel()
    if intercept.size == 1:
        intercept = np.full(coef.shape[0], intercept[0])
    if intercept.shape != (coef.shape[0],):
        raise unsupported(obj, f"intercept_ of shape {intercept.shape} for {coef.shape[0]} outputs")
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise unsupported(obj, "its coefficients are not finite, so training diverged; "
                               "retrain it, e.g. with a smaller learning rate or scaled features")
    return ir.Linear(coef=ir.frozen_array(coef, np.float64),
                     intercept=ir.frozen_array(intercept, np.float64))


def _model(obj, lin: ir.Linear, post: str, output_kind: str, *, post_scale: float = 1.0,
           meta=None) -> ir.Model:
    classifier = output_kind != "predict"
    return ir.Model(
        n_features=lin.coef.shape[1], raw=lin, post=post, post_scale=post_scale,
        task="classification" if classifier else "regression",
        classes=tuple(obj.classes_.tolist()) if classifier else (),
        feature_names=feature_names(obj),
        source=f"sklearn.{type(obj).__name__}", source_version=sklearn_version(),
        output_kind=output_kind, meta=dict(meta or {}),
    )


def load_regressor(obj, options) -> ir.Model:
    require_fitted(obj, "coef_")
    return _model(obj, linear_stage(obj), "identity", "predict")


def load_glm(obj, options) -> ir.Model:
    require_fitted(obj, "coef_")
    # The fitted loss, not the `link` parameter, says which link predict inverts ('auto' is
    # resolved from `power` at fit time).
    loss = getattr(obj, "_base_loss", None)
    if loss is None:
        loss = obj._get_loss()
    link = type(loss.link).__name__
    if link not in LINK_POST:
        raise unsupported(obj, f"link function {link}")
    return _model(obj, linear_stage(obj), LINK_POST[link], "predict")


def _honors_multi_class(obj) -> bool:
    """True when the installed scikit-learn still reads `multi_class` in predict_proba (< 1.8)."""
    return "multi_class" in inspect.signature(type(obj).__init__).parameters


def _legacy_ovr(obj, binary: bool) -> bool:
    """predict_proba's one-vs-rest rule of the installed scikit-learn 1.3-1.7 (1.5 added
    'deprecated')."""
    multi_class = getattr(obj, "multi_class", "auto")
    if multi_class in ("ovr", "warn") or binary and multi_class != "multinomial":
        return True
    if multi_class in ("auto", "deprecated"):
        if obj.solver == "liblinear":
            return True
        if obj.solver == "newton-cholesky":
            # one-vs-rest in predict_proba until 1.5; 1.6 added its multinomial fit
            return sklearn_release() < (1, 6)
    return False


def probability_post(obj, n_classes: int):
    """(post-processor, post_scale) of predict_proba, or None when obj has no predict_proba."""
    binary = n_classes == 2
    name = type(obj).__name__
    if name in ("LogisticRegression", "LogisticRegressionCV"):
        if _honors_multi_class(obj):
            if _legacy_ovr(obj, binary):
                return ("binary_sigmoid" if binary else "ovr_normalize"), 1.0
            if binary:
                # softmax([-d, d]) == [1 - expit(2d), expit(2d)]
                return "binary_sigmoid", 2.0
        return ("binary_sigmoid" if binary else "softmax"), 1.0
    if name == "SGDClassifier":
        # The same test as SGDClassifier._check_proba, so old losses ('log') have no probabilities.
        if obj.loss == "log_loss":
            return ("binary_sigmoid" if binary else "ovr_normalize"), 1.0
        if obj.loss == "modified_huber":
            return ("binary_modified_huber" if binary else "modified_huber"), 1.0
    return None


def load_classifier(obj, options) -> ir.Model:
    require_fitted(obj, "coef_", "classes_")
    lin = linear_stage(obj)
    n_classes = len(obj.classes_)
    meta = {}
    binarizer = getattr(obj, "_label_binarizer", None)
    if binarizer is not None and binarizer.y_type_.startswith("multilabel"):
        meta["multilabel"] = True     # RidgeClassifier: one decision value per label
    elif lin.n_outputs != (1 if n_classes == 2 else n_classes):
        raise unsupported(obj, f"{lin.n_outputs} coefficient rows for {n_classes} classes")
    proba = probability_post(obj, n_classes)
    if proba is None:
        return _model(obj, lin, "identity", "decision_function", meta=meta)
    post, scale = proba
    return _model(obj, lin, post, "predict_proba", post_scale=scale, meta=meta)


def load_one_vs_rest(obj, options) -> ir.Model:
    """OneVsRestClassifier: one binary linear classifier per class, rows stacked in class order."""
    require_fitted(obj, "estimators_", "classes_")
    estimators = list(obj.estimators_)
    for est in estimators:
        if type(est).__name__ == "_ConstantPredictor":
            raise unsupported(obj, "a label that is in every or in no training row, so it has "
                                   "no linear model; drop that label and refit")
        if type(est).__name__ not in CLASSIFIERS or type(est).__module__.split(".")[0] != LIBRARY:
            raise unsupported(obj, f"wrapping {type(est).__name__}; it must wrap one of "
                                   + ", ".join(CLASSIFIERS))
    stages = [linear_stage(est) for est in estimators]
    if any(s.n_outputs != 1 for s in stages):
        raise unsupported(obj, "an estimator with more than one coefficient row")
    lin = ir.Linear(coef=ir.frozen_array(np.vstack([s.coef for s in stages]), np.float64),
                    intercept=ir.frozen_array(np.concatenate([s.intercept for s in stages]),
                                              np.float64))
    multilabel = bool(obj.multilabel_)
    meta = {"multilabel": True} if multilabel else {}
    # OneVsRestClassifier offers predict_proba exactly when its first estimator does.
    if not hasattr(estimators[0], "predict_proba"):
        return _model(obj, lin, "identity", "decision_function", meta=meta)
    inner, scale = probability_post(estimators[0], 2)
    if len(estimators) == 1:
        # [1 - p, p] divided by its sum, which is 1 up to an ulp.
        return _model(obj, lin, inner, "predict_proba", post_scale=scale, meta=meta)
    if inner == "binary_sigmoid":
        post = "sigmoid" if multilabel else "ovr_normalize"
        return _model(obj, lin, post, "predict_proba", post_scale=scale, meta=meta)
    # modified_huber per class: OvR leaves rows whose probabilities are all zero at zero, which
    # no IR post-processor does (SGDClassifier's own modified_huber spreads them to 1/k).
    raise unsupported(obj, f"probabilities of {type(estimators[0]).__name__}(loss="
                           f"{getattr(estimators[0], 'loss', '?')!r}) per class; wrap a "
                           "LogisticRegression or use SGDClassifier directly")


CLASSES = {
    **{name: load_regressor for name in REGRESSORS},
    **{name: load_glm for name in GLMS},
    **{name: load_classifier for name in CLASSIFIERS},
    "OneVsRestClassifier": load_one_vs_rest,
}
