"""The library's own objects for verify's reference, rebuilt from the records of a safe load.

transpile never runs library code on a file's bytes: the safe unpickler leaves sklearn's Tree
and the Boosters as records (load/records.py). verify's reference is the library itself, so
once our loaders have accepted the model (every index, count and value checked), each record
is turned back into the library's object from its checked state: a Tree from its node table,
a Booster from the bytes our own parser read. A record that cannot be rebuilt (an old format
the installed library no longer reads) stays as it is, and the reference falls back to the IR
evaluator, saying why.
"""
from __future__ import annotations

import numpy as np

from ..load.records import LightGBMBoosterRecord, Record, TreeRecord, XGBoostBoosterRecord

LIBRARIES = ("sklearn", "xgboost", "lightgbm")


def realize(obj):
    """obj with every rebuildable record inside replaced (in place where obj is mutable)."""
    memo: dict = {}
    return _fix(obj, memo)


def _fix(x, memo):
    key = id(x)
    if key in memo:
        return memo[key]
    memo[key] = x            # shared and cyclic references resolve to the object in progress
    if isinstance(x, Record):
        out = _rebuild(x)
    elif isinstance(x, list):
        x[:] = [_fix(v, memo) for v in x]
        out = x
    elif isinstance(x, tuple):
        out = type(x)(_fix(v, memo) for v in x) if type(x) is tuple else x
    elif isinstance(x, dict):
        for k in list(x):
            x[k] = _fix(x[k], memo)
        out = x
    elif isinstance(x, np.ndarray) and x.dtype == object:
        for i, v in np.ndenumerate(x):
            x[i] = _fix(v, memo)
        out = x
    elif type(x).__module__.split(".")[0] in LIBRARIES and hasattr(x, "__dict__"):
        for k, v in list(vars(x).items()):
            new = _fix(v, memo)
            if new is not v:
                setattr(x, k, new)
        out = x
    else:
        out = x
    memo[key] = out
    return out


def _rebuild(rec: Record):
    try:
        if isinstance(rec, TreeRecord):
            return _tree(rec)
        if isinstance(rec, XGBoostBoosterRecord):
            return _xgboost(rec)
        if isinstance(rec, LightGBMBoosterRecord):
            return _lightgbm(rec)
    except Exception:    # the installed library cannot take it: the reference says so later
        pass
    return rec


def _tree(rec: TreeRecord):
    from sklearn.tree._tree import NODE_DTYPE, Tree

    tree = Tree(rec.n_features, np.asarray(rec.n_classes, dtype=np.intp), rec.n_outputs)
    nodes = np.zeros(rec.node_count, dtype=NODE_DTYPE)
    fields = {"left_child": rec.children_left, "right_child": rec.children_right,
              "feature": rec.feature, "threshold": rec.threshold, "impurity": rec.impurity,
              "n_node_samples": rec.n_node_samples,
              "weighted_n_node_samples": rec.weighted_n_node_samples,
              "missing_go_to_left": getattr(rec, "missing_go_to_left", None)}
    for name in NODE_DTYPE.names:
        if fields.get(name) is not None:
            nodes[name] = fields[name]
    tree.__setstate__({"max_depth": rec.max_depth, "node_count": rec.node_count,
                       "nodes": nodes, "values": np.ascontiguousarray(rec.value)})
    return tree


def _state(rec: Record, drop: tuple) -> dict:
    return {k: v for k, v in vars(rec).items() if k not in drop and k != "_args"}


def _xgboost(rec: XGBoostBoosterRecord):
    import xgboost

    booster = xgboost.Booster.__new__(xgboost.Booster)
    booster.__setstate__({**_state(rec, ("raw",)), "handle": bytearray(rec.raw)})
    return booster


def _lightgbm(rec: LightGBMBoosterRecord):
    import lightgbm

    booster = lightgbm.Booster.__new__(lightgbm.Booster)
    booster.__setstate__({**_state(rec, ("model_text",)), "_handle": rec.model_text,
                          "train_set": None})
    return booster
