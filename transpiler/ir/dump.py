"""A JSON dump of an ir.Model: for golden files, debugging and diffing two loads."""
from __future__ import annotations

import json
import math


from .kernel import Kernel
from .model import Ensemble, Linear, Model


def _num(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def _tree(t) -> dict:
    d = {
        "target": t.target,
        "feature": t.feature.tolist(),
        "threshold": [_num(v) for v in t.threshold],
        "left": t.left.tolist(),
        "right": t.right.tolist(),
        "default_left": [int(b) for b in t.default_left],
        "leaf_value": [[_num(v) for v in row] for row in t.leaf_value],
    }
    if t.zero_missing is not None:
        d["zero_missing"] = [int(b) for b in t.zero_missing]
    if t.categories is not None:
        d["categories"] = [None if c is None else list(c) for c in t.categories]
    if t.count is not None:
        d["count"] = [_num(v) for v in t.count]
    if t.linear is not None:
        d["linear"] = {"const": [_num(v) for v in t.linear.const], "start": t.linear.start.tolist(),
                       "feature": t.linear.feature.tolist(),
                       "coef": [_num(v) for v in t.linear.coef]}
    return d


def dump(model: Model) -> dict:
    raw = model.raw
    if isinstance(raw, Ensemble):
        raw_d = {
            "kind": "ensemble", "n_outputs": raw.n_outputs,
            "base_score": [_num(v) for v in raw.base_score],
            "feature_type": raw.feature_type, "op": raw.op, "accumulate": raw.accumulate,
            "aggregation": raw.aggregation, "cat_negative": raw.cat_negative,
            "trees": [_tree(t) for t in raw.trees],
        }
    elif isinstance(raw, Linear):
        raw_d = {"kind": "linear", "coef": [[_num(v) for v in row] for row in raw.coef],
                 "intercept": [_num(v) for v in raw.intercept]}
        if raw.accumulate != "float64":
            raw_d["accumulate"] = raw.accumulate
    elif isinstance(raw, Kernel):
        raw_d = {"kind": "kernel", "kernel": raw.kernel, "gamma": _num(raw.gamma),
                 "coef0": _num(raw.coef0), "degree": raw.degree,
                 "support": [[_num(v) for v in row] for row in raw.support],
                 "coef": [[_num(v) for v in row] for row in raw.coef],
                 "intercept": [_num(v) for v in raw.intercept]}
    else:
        raise TypeError(type(raw).__name__)
    if raw.missing_value is not None:   # only when set, so older dumps stay byte-identical
        raw_d["missing_value"] = _num(raw.missing_value)
    extra = {}
    if model.pre:                       # likewise: keys only for models that use them
        extra["pre"] = dump_steps(model.pre)
    if model.post_params:
        extra["post_params"] = [_num(v) for v in model.post_params]
    return {**extra,
        "n_features": model.n_features, "n_outputs": model.n_outputs, "task": model.task,
        "output_kind": model.output_kind, "post": model.post, "post_scale": _num(model.post_scale),
        "classes": [c if isinstance(c, str) else _num(c) for c in model.classes],
        "feature_names": list(model.feature_names), "source": model.source,
        "raw": raw_d,
    }


def dump_steps(steps) -> list:
    """Preprocessing steps (ir.preprocess) as JSON-ready dicts."""
    return [_step(s) for s in steps]


def _step(step) -> dict:
    d = {"step": type(step).__name__}
    for name in step.__dataclass_fields__:
        v = getattr(step, name)
        if name == "parts":
            d[name] = [[_step(s) for s in part] for part in v]
        elif hasattr(v, "tolist"):
            d[name] = [_num(x) if isinstance(x, float) else x for x in v.tolist()]
        else:
            d[name] = v if isinstance(v, str) or v is None else _num(v)
    return d


def dumps(model: Model) -> str:
    return json.dumps(dump(model), indent=1, sort_keys=True) + "\n"


__all__ = ["dump", "dump_steps", "dumps"]
