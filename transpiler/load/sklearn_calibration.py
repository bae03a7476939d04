"""CalibratedClassifierCV (sigmoid, isotonic) -> ir.Model with the "calibrated" post-processor.

predict_proba averages, over the calibrated classifiers (one per CV fold, or one), the
calibrated probabilities of its estimator's response: decision_function when the estimator
has one, else predict_proba (the positive column when binary). The folds' raw stages are
joined into one (trees with shifted targets, stacked linear rows, pooled support vectors),
so the raw vector holds every fold's response; the post-processor calibrates, normalizes
and averages them (see ir.model's CALIBRATED layout).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import ir
from ..errors import unsupported
from ..ir.model import CALIBRATED_RECORD
from .sklearn_common import feature_names, require_fitted, sklearn_version

LIBRARY = "sklearn"
# Post-processors whose raw input is the estimator's decision_function.
DECISION_RAW = ("identity", "binary_sigmoid", "softmax", "ovr_normalize", "modified_huber",
                "binary_modified_huber")


def _response(owner, est, options) -> ir.Model:
    """The IR of est's calibration response, with an identity post-processor."""
    from . import load_object

    while type(est).__name__ == "FrozenEstimator":
        est = est.estimator
    inner = load_object(est, options)
    if hasattr(est, "decision_function"):
        if inner.post == "ovo_votes":      # multiclass SVC: votes are computed per fold
            return replace(inner, post="identity", meta={**inner.meta, "ovo": True})
        if inner.post not in DECISION_RAW:
            raise unsupported(owner, f"calibrating {type(est).__name__}, whose decision_function "
                                     "the tool does not translate")
    elif inner.output_kind != "predict_proba" or inner.post != "identity":
        raise unsupported(owner, f"calibrating {type(est).__name__}'s predict_proba")
    return replace(inner, post="identity", post_scale=1.0, post_params=())


def _join(owner, raws):
    """One raw stage holding every fold's outputs in fold order, and each fold's offset."""
    first = raws[0]
    offsets = np.concatenate([[0], np.cumsum([r.n_outputs for r in raws])])
    if any(type(r) is not type(first) for r in raws):
        raise unsupported(owner, "folds with different kinds of models")
    if isinstance(first, ir.Ensemble):
        keys = [(r.feature_type, r.op, r.accumulate, r.aggregation, r.cat_negative, r.missing_value)
                for r in raws]
        if len(set(keys)) != 1:
            raise unsupported(owner, "folds whose trees read features differently")
        trees = tuple(replace(t, target=t.target + int(off)) for r, off in zip(raws, offsets)
                      for t in r.trees)
        return replace(first, trees=trees, n_outputs=int(offsets[-1]),
                       base_score=tuple(b for r in raws for b in r.base_score)), offsets
    if isinstance(first, ir.Linear):
        if len({r.accumulate for r in raws}) != 1:
            raise unsupported(owner, "folds with different linear arithmetic")
        return replace(first, coef=ir.frozen_array(np.vstack([r.coef for r in raws]), np.float64),
                       intercept=ir.frozen_array(np.concatenate([r.intercept for r in raws]),
                                                 np.float64)), offsets
    if isinstance(first, ir.Kernel):
        if len({(r.kernel, r.gamma, r.coef0, r.degree) for r in raws}) != 1:
            raise unsupported(owner, "folds with different kernel parameters (gamma='scale' "
                                     "differs per fold; set gamma to a number)")
        n_sv = [r.support.shape[0] for r in raws]
        coef = np.zeros((int(offsets[-1]), sum(n_sv)))
        col = 0
        for r, off, n in zip(raws, offsets, n_sv):
            coef[off:off + r.n_outputs, col:col + n] = r.coef
            col += n
        support = np.vstack([r.support for r in raws])
        return replace(first, support=ir.frozen_array(support, np.float64),
                       coef=ir.frozen_array(coef, np.float64),
                       intercept=ir.frozen_array(np.concatenate([r.intercept for r in raws]),
                                                 np.float64)), offsets
    raise unsupported(owner, f"folds of {type(first).__name__}")


def _calibrator(owner, cal):
    name = type(cal).__name__
    if name == "_SigmoidCalibration":
        return 0, float(cal.a_), float(cal.b_), []
    if name == "IsotonicRegression":
        xs = np.asarray(cal.X_thresholds_, dtype=np.float64)
        ys = np.asarray(cal.y_thresholds_, dtype=np.float64)
        if cal.out_of_bounds != "clip" or len(xs) == 0:
            raise unsupported(owner, "an isotonic calibrator with "
                                     f"out_of_bounds={cal.out_of_bounds!r}")
        return 1, float(cal.X_min_), float(cal.X_max_), list(xs) + list(ys)
    raise unsupported(owner, f"calibrator {name}")


def load_calibrated(obj, options) -> ir.Model:
    from sklearn.preprocessing import LabelEncoder

    require_fitted(obj, "calibrated_classifiers_", "classes_")
    if obj.method not in ("sigmoid", "isotonic"):
        raise unsupported(obj, f"method={obj.method!r}; use 'sigmoid' or 'isotonic'")
    n_classes = len(obj.classes_)
    folds = obj.calibrated_classifiers_
    responses = [_response(obj, cc.estimator, options) for cc in folds]
    if len({_pre_key(r) for r in responses}) != 1:
        raise unsupported(obj, "folds with different preprocessing (a Pipeline per fold); put "
                               "CalibratedClassifierCV last inside the Pipeline instead")
    raw, offsets = _join(obj, [r.raw for r in responses])
    encoder = LabelEncoder().fit(obj.classes_)
    records, pool = [], []
    for fold, (cc, resp, off) in enumerate(zip(folds, responses, offsets)):
        est = cc.estimator
        while type(est).__name__ == "FrozenEstimator":
            est = est.estimator
        targets = encoder.transform(est.classes_)
        binary = n_classes == 2
        # The binary response is one column: decision_function, or predict_proba[:, 1].
        sources = [resp.raw.n_outputs - 1] if binary else list(range(len(targets)))
        n_resp = resp.raw.n_outputs
        if resp.meta.get("ovo"):                  # votes over this fold's pair decisions
            records += [fold, int(off), len(targets), 2, 0.0, 0.0, 0, 0]
            n_resp, off = len(targets), 0
        if not binary and n_resp != len(targets):
            raise unsupported(obj, f"{n_resp} responses for {len(targets)} classes")
        for source, target, cal in zip(sources, targets, cc.calibrators):
            kind, a, b, values = _calibrator(obj, cal)
            target = int(target) + 1 if binary else int(target)
            count = len(values) // 2
            records += [fold, int(off) + source, target, kind, a, b, len(pool), count]
            pool += values
    params = (n_classes, len(folds), len(records) // CALIBRATED_RECORD, *records, *pool)
    first = responses[0]
    return ir.Model(
        n_features=first.n_features, raw=raw, post="calibrated",
        post_params=tuple(float(v) for v in params), task="classification",
        classes=tuple(obj.classes_.tolist()),
        feature_names=feature_names(obj) or first.feature_names,
        source=f"sklearn.{type(obj).__name__}", source_version=sklearn_version(),
        output_kind="predict_proba", pre=first.pre)


def _pre_key(model: ir.Model) -> str:
    """The preprocessing steps of a model as text, to compare folds."""
    import json

    from ..ir.dump import dump_steps

    return json.dumps(dump_steps(model.pre))


CLASSES = {"CalibratedClassifierCV": load_calibrated}
