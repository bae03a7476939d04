"""The reference evaluator: runs an ir.Model over rows in NumPy.

It is the middle oracle between the source library and the generated code, so every
operation here mirrors, in order and in type, what the emitters generate.
"""
from __future__ import annotations

import numpy as np

from .model import Ensemble, Linear, Model

# LightGBM's kZeroThreshold is the float literal 1e-35f; |x| <= this counts as zero.
ZERO_THRESHOLD = float(np.float32(1e-35))  # 1.0000000180025095e-35


def evaluate(model: Model, rows) -> np.ndarray:
    """Score every row; returns (n_rows, model.n_outputs) float64."""
    X = np.asarray(rows, dtype=np.float64)
    if X.ndim == 1:
        X = X[None, :]
    if X.shape[1] != model.n_features:
        raise ValueError(f"rows have {X.shape[1]} features, the model expects {model.n_features}")
    if isinstance(model.raw, Ensemble):
        raw = ensemble_raw(model.raw, X)
        dtype = np.dtype(model.raw.accumulate)
    elif isinstance(model.raw, Linear):
        raw = linear_raw(model.raw, X)
        dtype = np.dtype(model.raw.accumulate)
    else:
        raise TypeError(f"unknown raw stage {type(model.raw).__name__}")
    out = postprocess(model.post, raw.astype(dtype), dtype.type(model.post_scale))
    return out.astype(np.float64)


def linear_raw(lin: Linear, X: np.ndarray) -> np.ndarray:
    if lin.accumulate == "float32":
        return _linear_raw_float32(lin, X)
    # Sequential sum in feature order, then the intercept: the order the emitters use.
    out = np.zeros((X.shape[0], lin.n_outputs))
    for k in range(lin.n_outputs):
        acc = np.zeros(X.shape[0])
        for j in range(X.shape[1]):
            acc = acc + lin.coef[k, j] * X[:, j]
        out[:, k] = acc + lin.intercept[k]
    return out


def _linear_raw_float32(lin: Linear, X: np.ndarray) -> np.ndarray:
    # XGBoost gblinear: start from the intercept, skip missing inputs, float32 throughout.
    X = X.astype(np.float32)
    coef = lin.coef.astype(np.float32)
    out = np.zeros((X.shape[0], lin.n_outputs), dtype=np.float32)
    for k in range(lin.n_outputs):
        acc = np.full(X.shape[0], lin.intercept[k], dtype=np.float32)
        for j in range(X.shape[1]):
            x = X[:, j]
            skip = np.isnan(x)
            if lin.missing_value is not None:
                skip |= x == np.float32(lin.missing_value)
            acc = np.where(skip, acc, acc + x * coef[k, j])
        out[:, k] = acc
    return out


def tree_leaves(tree, X: np.ndarray, ens: Ensemble) -> np.ndarray:
    """The leaf index each row reaches; all rows step down together, one level per pass."""
    if ens.feature_type == "float32":
        X = X.astype(np.float32).astype(np.float64)
    n = X.shape[0]
    node = np.zeros(n, dtype=np.int64)
    rows = np.arange(n)
    active = tree.left[node] >= 0
    while active.any():
        idx = rows[active]
        nd = node[idx]
        x = X[idx, tree.feature[nd]]
        missing = np.isnan(x)
        if ens.missing_value is not None:
            missing |= x == ens.missing_value
        if tree.zero_missing is not None:
            missing |= tree.zero_missing[nd] & (np.abs(x) <= ZERO_THRESHOLD)
        with np.errstate(invalid="ignore"):
            go_left = (x < tree.threshold[nd]) if ens.op == "<" else (x <= tree.threshold[nd])
        if tree.categories is not None:
            go_left = _categorical(tree, nd, x, go_left, ens.cat_negative)
        go_left = np.where(missing, tree.default_left[nd], go_left)
        node[idx] = np.where(go_left, tree.left[nd], tree.right[nd])
        active[idx] = tree.left[node[idx]] >= 0
    return node


def _categorical(tree, nd, x, go_left, cat_negative):
    go_left = go_left.copy()
    for i, (n, v) in enumerate(zip(nd, x)):
        words = tree.categories[n]
        if words is None:
            continue
        go_left[i] = category_member(words, float(v), cat_negative)
    return go_left


def category_member(words, v: float, cat_negative: str) -> bool:
    if v != v or (cat_negative == "strict" and v < 0):
        return False
    if not abs(v) < 2.0 ** 31:
        return False
    c = int(v)  # truncation toward zero, as a C cast does
    return 0 <= c < 32 * len(words) and bool((words[c >> 5] >> (c & 31)) & 1)


def ensemble_raw(ens: Ensemble, X: np.ndarray) -> np.ndarray:
    dt = np.dtype(ens.accumulate).type
    acc = np.tile(np.array(ens.base_score, dtype=dt), (X.shape[0], 1))
    for tree in ens.trees:
        leaves = tree_leaves(tree, X, ens)
        sl = slice(tree.target, tree.target + tree.width)
        values = tree.leaf_value[leaves].astype(dt)
        if tree.linear is not None:
            values[:, 0] = leaf_linear(tree, X, leaves, ens).astype(dt)
        acc[:, sl] = acc[:, sl] + values
    if ens.aggregation == "mean":
        counts = ens.trees_per_output()
        acc = acc / np.maximum(counts, 1).astype(dt)
    return acc


def leaf_linear(tree, X: np.ndarray, leaves: np.ndarray, ens: Ensemble) -> np.ndarray:
    """Linear leaf outputs: const, then each term added in order; NaN in a term's feature
    falls back to the constant leaf value."""
    lin = tree.linear
    if ens.feature_type == "float32":
        X = X.astype(np.float32).astype(np.float64)
    rows = np.arange(X.shape[0])
    out = lin.const[leaves].copy()
    start = lin.start[leaves].astype(np.int64)
    count = lin.start[leaves + 1] - start
    nan = np.zeros(X.shape[0], dtype=bool)
    for k in range(int(count.max(initial=0))):
        has = k < count
        j = np.where(has, start + k, 0)
        x = X[rows, lin.feature[j]]
        nan |= has & np.isnan(x)
        out = np.where(has, out + lin.coef[j] * x, out)
    return np.where(nan, tree.leaf_value[leaves, 0], out)


def _exp(a: np.ndarray) -> np.ndarray:
    # float32: exp in float64, rounded once, as every emitter computes it. glibc's expf (what
    # XGBoost calls) differs from it by 1 ulp on ~0.06% of inputs; NumPy's float32 exp on ~40%.
    if a.dtype == np.float32:
        with np.errstate(over="ignore"):   # exp beyond float32's range is inf, as in C
            return np.exp(a.astype(np.float64)).astype(np.float32)
    return np.exp(a)


def postprocess(post: str, raw: np.ndarray, scale) -> np.ndarray:
    t = raw.dtype.type
    one = t(1)

    def sigmoid(r):
        return one / (one + _exp(-(scale * r)))

    def rowsum(a):
        s = np.zeros(a.shape[0], dtype=a.dtype)
        for k in range(a.shape[1]):
            s = s + a[:, k]
        return s

    if post == "identity":
        return raw
    if post == "sigmoid":
        return sigmoid(raw)
    if post == "binary_sigmoid":
        p = sigmoid(raw[:, 0])
        return np.stack([one - p, p], axis=1)
    if post == "softmax":
        e = _exp(raw - raw.max(axis=1, keepdims=True))
        # the sum in float64, rounded once (XGBoost's softmax; the same as before for float64)
        return e / rowsum(e.astype(np.float64)).astype(t)[:, None]
    if post == "ovr_normalize":
        p = sigmoid(raw)
        return p / rowsum(p)[:, None]
    if post == "exp":
        return _exp(raw)
    if post == "modified_huber":
        p = (np.clip(raw, -one, one) + one) / t(2)
        s = rowsum(p)
        zero = s == 0
        p[zero, :] = one
        s[zero] = raw.shape[1]
        return p / s[:, None]
    if post == "binary_modified_huber":
        p = (np.clip(raw[:, 0], -one, one) + one) / t(2)
        return np.stack([one - p, p], axis=1)
    if post == "hinge":
        return (raw > 0).astype(raw.dtype)
    if post == "softplus":
        return np.log1p(_exp(raw))
    if post == "signed_square":
        return np.sign(raw) * raw * raw
    if post == "argmax":
        return np.argmax(raw, axis=1).astype(raw.dtype)[:, None]
    raise ValueError(f"unknown post-processor {post!r}")
