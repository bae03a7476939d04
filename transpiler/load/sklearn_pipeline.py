"""scikit-learn Pipelines and their preprocessing steps -> ir.Model with `pre` steps.

A Pipeline is its final estimator's IR with the earlier steps prepended as ir.preprocess
steps, so the generated code takes the raw row. Each transformer maps to the steps that do
what its transform does, in the same order and type (float64):
- StandardScaler / RobustScaler: x - center, then / scale; MaxAbsScaler: x / scale;
  MinMaxScaler: x * scale_, then + min_, then clip when clip=True;
- Normalizer: row norm (zero-ish norms count as 1); Binarizer: x > threshold;
- SimpleImputer: missing -> statistic, features without one dropped, optional indicators;
- PolynomialFeatures: every term is an earlier term times one feature, as scikit-learn builds
  it (terms only needed as factors are computed, then dropped);
- OrdinalEncoder (numeric categories): the category's position, unknown/missing codes;
- ColumnTransformer: each transformer on its columns, outputs joined in order.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import ir
from ..errors import unsupported
from ..ir import preprocess as pp
from .sklearn_common import feature_names, require_fitted

LIBRARY = "sklearn"


def _scaler(obj, n_in):
    name = type(obj).__name__
    if name == "StandardScaler":
        steps = []
        if obj.with_mean:
            steps.append(pp.elementwise("-", obj.mean_))
        if obj.with_std:
            steps.append(pp.elementwise("/", obj.scale_))
        return steps
    if name == "RobustScaler":
        steps = []
        if obj.with_centering:
            steps.append(pp.elementwise("-", obj.center_))
        if obj.with_scaling:
            steps.append(pp.elementwise("/", obj.scale_))
        return steps
    if name == "MaxAbsScaler":
        return [pp.elementwise("/", obj.scale_)]
    # MinMaxScaler
    steps = [pp.elementwise("*", obj.scale_), pp.elementwise("+", obj.min_)]
    if obj.clip:
        lo, hi = obj.feature_range
        steps.append(pp.Clip(float(lo), float(hi)))
    return steps


def _missing_marker(obj, value):
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    raise unsupported(obj, f"missing_values={value!r}; only numbers and NaN are supported")


def _imputer(obj, n_in):
    try:    # strategy='constant' keeps an object array of numbers
        stats = np.asarray(obj.statistics_).astype(np.float64)
    except (TypeError, ValueError):
        raise unsupported(obj, "statistics that are not numbers; impute numbers") from None
    missing = _missing_marker(obj, obj.missing_values)
    valid = np.flatnonzero(~np.isnan(stats))   # features without a statistic are dropped
    main = [pp.impute(stats[valid], missing)]
    if len(valid) != n_in:
        main.insert(0, pp.select(valid))
    indicator = getattr(obj, "indicator_", None)
    if not getattr(obj, "add_indicator", False) or indicator is None:
        return main
    return [pp.Concat((tuple(main), (pp.select(indicator.features_), pp.Indicator(missing))))]


def _polynomial(obj, n_in):
    powers = np.asarray(obj.powers_)
    outputs = [tuple(np.repeat(np.arange(n_in), row)) for row in powers]
    needed = set()
    for key in outputs:
        for i in range(len(key) + 1):
            needed.add(key[i:])
    terms = sorted(needed, key=lambda k: (len(k), k))
    index = {k: i for i, k in enumerate(terms)}
    # Term (f, rest...) = term(rest) * x[f], f the smallest feature: scikit-learn's order.
    left = [-1 if len(k) <= 1 else index[k[1:]] for k in terms]
    right = [-1 if not k else k[0] for k in terms]
    steps = [pp.products(left, right)]
    if [index[k] for k in outputs] != list(range(len(terms))):
        steps.append(pp.select([index[k] for k in outputs]))
    return steps


def _ordinal_encoder(obj, n_in):
    if any(c is not None and len(c) for c in getattr(obj, "infrequent_categories_", []) or []):
        raise unsupported(obj, "infrequent categories (min_frequency / max_categories)")
    cats, has_nan = [], []
    for c in obj.categories_:
        c = np.asarray(c)
        if c.dtype.kind not in "fiu":
            raise unsupported(obj, "string categories; the generated code takes numbers, so "
                                   "encode them as numbers before fitting")
        c = c.astype(np.float64)
        has_nan.append(bool(len(c)) and np.isnan(c[-1]))
        cats.append(c[~np.isnan(c)])
    # NaN is a category where training saw it (-> encoded_missing_value), else unknown.
    unknown = float(obj.unknown_value if obj.handle_unknown == "use_encoded_value" else np.nan)
    missing = [float(obj.encoded_missing_value) if nan else unknown for nan in has_nan]
    return [pp.encode(cats, unknown, missing)]


def _function_transformer(obj, n_in):
    # The identity: no function (ColumnTransformer's passthrough), or HGB's check_array.
    func = obj.func
    if func is None or getattr(getattr(func, "func", None), "__name__", "") == "check_array":
        return []
    raise unsupported(obj, "a function other than the identity")


def _column_transformer(obj, n_in):
    if getattr(obj, "sparse_output_", False):
        raise unsupported(obj, "sparse output")
    parts = []
    indices = obj._transformer_to_input_indices
    for name, trans, _ in obj.transformers_:
        cols = list(indices.get(name, []))
        if (isinstance(trans, str) and trans == "drop") or not cols:
            continue
        steps = [pp.select(cols)]
        if not (isinstance(trans, str) and trans == "passthrough"):
            steps += transformer_steps(trans, len(cols), owner=obj)
        parts.append(tuple(steps))
    if len(parts) == 1:
        return list(parts[0])
    return [pp.Concat(tuple(parts))]


def _nested_pipeline(obj, n_in):
    steps = []
    for _, step in obj.steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        steps += transformer_steps(step, pp.chain_width(steps, n_in), owner=obj)
    return steps


TRANSFORMERS = {
    "StandardScaler": _scaler, "MinMaxScaler": _scaler, "MaxAbsScaler": _scaler,
    "RobustScaler": _scaler,
    "Normalizer": lambda obj, n: [pp.Normalize(obj.norm)],
    "Binarizer": lambda obj, n: [pp.Binarize(float(obj.threshold))],
    "SimpleImputer": _imputer,
    "PolynomialFeatures": _polynomial,
    "OrdinalEncoder": _ordinal_encoder,
    "FunctionTransformer": _function_transformer,
    "ColumnTransformer": _column_transformer,
    "Pipeline": _nested_pipeline,
}


def transformer_steps(obj, n_in: int, owner=None) -> tuple:
    """The ir.preprocess steps equivalent to a fitted transformer's transform on n_in columns."""
    name = type(obj).__name__
    convert = TRANSFORMERS.get(name)
    if convert is None or type(obj).__module__.split(".")[0] != LIBRARY:
        where = f" in {type(owner).__name__}" if owner is not None else ""
        raise unsupported(name, f"as a preprocessing step{where}; supported: "
                                + ", ".join(sorted(TRANSFORMERS)))
    if name not in ("Pipeline", "FunctionTransformer", "ColumnTransformer"):
        require_fitted(obj, "n_features_in_")
    if getattr(obj, "n_features_in_", n_in) != n_in:
        raise unsupported(obj, f"it expects {obj.n_features_in_} columns, gets {n_in}")
    steps = tuple(convert(obj, n_in))
    pp.check_chain(steps, n_in)
    return steps


def load_pipeline(obj, options) -> ir.Model:
    from . import load_object

    steps = [s for _, s in obj.steps
             if s is not None and not (isinstance(s, str) and s == "passthrough")]
    if not steps:
        raise unsupported(obj, "no steps")
    final = steps[-1]
    if not hasattr(final, "predict") and not hasattr(final, "decision_function"):
        raise unsupported(obj, f"its last step {type(final).__name__} is not a model")
    require_fitted(steps[0], "n_features_in_")
    n_in = int(steps[0].n_features_in_)
    pre = []
    for step in steps[:-1]:
        pre += transformer_steps(step, pp.chain_width(pre, n_in), owner=obj)
    inner = load_object(final, options)
    if pp.chain_width(pre, n_in) != inner.n_features:
        raise unsupported(obj, f"its steps give {pp.chain_width(pre, n_in)} columns, "
                               f"the model takes {inner.n_features}")
    return replace(inner, n_features=n_in, pre=tuple(pre) + inner.pre,
                   feature_names=feature_names(obj) or feature_names(steps[0]),
                   source=f"sklearn.Pipeline({inner.source.removeprefix('sklearn.')})")


def load_frozen(obj, options) -> ir.Model:
    from . import load_object

    return load_object(obj.estimator, options)


CLASSES = {"Pipeline": load_pipeline, "FrozenEstimator": load_frozen}
