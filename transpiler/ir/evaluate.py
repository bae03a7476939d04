"""The reference evaluator: runs an ir.Model over rows in NumPy.

It is the middle oracle between the source library and the generated code, so every
operation here mirrors, in order and in type, what the emitters generate.
"""
from __future__ import annotations

import math

import numpy as np

from . import libm, preprocess as pp
from .kernel import Kernel
from .model import CALIBRATED_RECORD, Ensemble, Linear, Model

# LightGBM's kZeroThreshold is the float literal 1e-35f; |x| <= this counts as zero.
ZERO_THRESHOLD = float(np.float32(1e-35))  # 1.0000000180025095e-35


def evaluate(model: Model, rows) -> np.ndarray:
    """Score every row; returns (n_rows, model.n_outputs) float64."""
    X = np.asarray(rows, dtype=np.float64)
    if X.ndim == 1:
        X = X[None, :]
    if X.shape[1] != model.n_features:
        raise ValueError(f"rows have {X.shape[1]} features, the model expects {model.n_features}")
    if model.pre:
        X = preprocess(model.pre, X)
    if isinstance(model.raw, Ensemble):
        raw = ensemble_raw(model.raw, X)
        dtype = np.dtype(model.raw.accumulate)
    elif isinstance(model.raw, Linear):
        raw = linear_raw(model.raw, X)
        dtype = np.dtype(model.raw.accumulate)
    elif isinstance(model.raw, Kernel):
        raw = kernel_raw(model.raw, X)
        dtype = np.dtype(np.float64)
    else:
        raise TypeError(f"unknown raw stage {type(model.raw).__name__}")
    out = postprocess(model.post, raw.astype(dtype), dtype.type(model.post_scale),
                      model.post_params)
    return out.astype(np.float64)


# --- preprocessing (ir.preprocess) ----------------------------------------------------

def preprocess(steps, X: np.ndarray) -> np.ndarray:
    for step in steps:
        X = _step(step, X)
    return X


def _missing(X: np.ndarray, missing) -> np.ndarray:
    return np.isnan(X) if missing is None else X == missing


def _step(step, X: np.ndarray) -> np.ndarray:
    if isinstance(step, pp.Elementwise):
        op = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[step.op]
        with np.errstate(all="ignore"):
            return op(X, step.values[None, :])
    if isinstance(step, pp.Clip):
        return np.where(X < step.lo, step.lo, np.where(X > step.hi, step.hi, X))
    if isinstance(step, pp.Impute):
        return np.where(_missing(X, step.missing), step.fill[None, :], X)
    if isinstance(step, pp.Indicator):
        return _missing(X, step.missing).astype(np.float64)
    if isinstance(step, pp.Binarize):
        return (X > step.threshold).astype(np.float64)
    if isinstance(step, pp.Normalize):
        return _normalize(step.norm, X)
    if isinstance(step, pp.Select):
        return X[:, step.index]
    if isinstance(step, pp.Products):
        out = np.empty((X.shape[0], len(step.left)))
        ones = np.ones(X.shape[0])
        for k, (a, b) in enumerate(zip(step.left.tolist(), step.right.tolist())):
            out[:, k] = (out[:, a] if a >= 0 else ones) * (X[:, b] if b >= 0 else ones)
        return out
    if isinstance(step, pp.Encode):
        out = np.empty_like(X)
        for j in range(X.shape[1]):
            known = step.values[step.start[j]:step.start[j + 1]]
            pos = np.minimum(np.searchsorted(known, X[:, j]), max(len(known) - 1, 0))
            hit = known[pos] == X[:, j] if len(known) else np.zeros(len(X), dtype=bool)
            out[:, j] = np.where(hit, pos, np.where(np.isnan(X[:, j]), step.missing[j], step.unknown))
        return out
    if isinstance(step, pp.Concat):
        return np.hstack([preprocess(part, X) for part in step.parts])
    raise TypeError(f"unknown preprocessing step {type(step).__name__}")


def _normalize(norm: str, X: np.ndarray) -> np.ndarray:
    s = np.zeros(X.shape[0])
    for j in range(X.shape[1]):
        if norm == "l1":
            s = s + np.abs(X[:, j])
        elif norm == "l2":
            s = s + X[:, j] * X[:, j]
        else:
            a = np.abs(X[:, j])
            s = np.where(a > s, a, s)             # a NaN never wins the comparison
    if norm == "l2":
        s = np.sqrt(s)
    s = np.where(s < pp.EPS10, 1.0, s)
    return X / s[:, None]


# --- kernel machines (ir.kernel) -------------------------------------------------------

def _powi(base: np.ndarray, times: int) -> np.ndarray:
    r, t = np.ones_like(base), base
    while times > 0:
        if times % 2 == 1:
            r = r * t
        t = t * t
        times //= 2
    return r


def kernel_values(km: Kernel, X: np.ndarray) -> np.ndarray:
    """(n_rows, n_sv): the kernel of every row with every support vector, in IR order."""
    sv = km.support
    acc = np.zeros((X.shape[0], sv.shape[0]))
    with np.errstate(all="ignore"):
        for j in range(X.shape[1]):
            if km.kernel == "rbf":
                d = X[:, j, None] - sv[None, :, j]
                acc = acc + d * d
            else:
                acc = acc + X[:, j, None] * sv[None, :, j]
        if km.kernel == "rbf":
            return libm.exp(-km.gamma * acc).reshape(acc.shape)
        if km.kernel == "poly":
            return _powi(km.gamma * acc + km.coef0, km.degree)
        if km.kernel == "sigmoid":
            return np.tanh(km.gamma * acc + km.coef0)
    return acc


def kernel_raw(km: Kernel, X: np.ndarray) -> np.ndarray:
    k = kernel_values(km, X)
    out = np.zeros((X.shape[0], km.n_outputs))
    for i in range(k.shape[1]):
        out = out + km.coef[None, :, i] * k[:, i, None]
    return out + km.intercept[None, :]


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
    # glibc's expf (what XGBoost calls) for float32, its exp (LightGBM's, SciPy's expit's) for
    # float64: the functions every emitter carries (libm.py).
    if a.dtype == np.float32:
        return libm.expf(a).reshape(a.shape)
    return libm.exp(a).reshape(a.shape)


_c_log1p = np.frompyfunc(math.log1p, 1, 1)


def postprocess(post: str, raw: np.ndarray, scale, params=()) -> np.ndarray:
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
        e = _exp(raw)
        if e.dtype == np.float64:   # LightGBM's log1p is the C library's; NumPy's is its own
            return _c_log1p(e).astype(np.float64).reshape(e.shape)
        return np.log1p(e)
    if post == "signed_square":
        return np.sign(raw) * raw * raw
    if post == "argmax":
        return np.argmax(raw, axis=1).astype(raw.dtype)[:, None]
    if post == "ovo_votes":
        return _ovo_votes(raw)
    if post == "samme":
        r = raw / params[0]
        if r.shape[1] == 2:
            d = -r[:, 0] + r[:, 1]
            z = np.stack([-d / 2, d / 2], axis=1)
        else:
            z = r / (r.shape[1] - 1)
        return postprocess("softmax", z, scale)
    if post == "weighted_median":
        return _weighted_median(raw, np.asarray(params, dtype=np.float64))
    if post == "isolation":
        denominator, offset = params
        q = raw / denominator if denominator != 0 else np.ones_like(raw)
        return -(2.0 ** -q) - offset
    if post == "calibrated":
        return _calibrated(raw, params)
    raise ValueError(f"unknown post-processor {post!r}")


def _ovo_votes(raw: np.ndarray) -> np.ndarray:
    n = raw.shape[0]
    k = int(round((1 + (1 + 8 * raw.shape[1]) ** 0.5) / 2))
    votes, conf = np.zeros((n, k)), np.zeros((n, k))
    p = 0
    for i in range(k):
        for j in range(i + 1, k):
            d = raw[:, p]
            conf[:, i] = conf[:, i] - (-d)
            conf[:, j] = conf[:, j] + (-d)
            neg = d < 0
            votes[:, i] += ~neg
            votes[:, j] += neg
            p += 1
    return votes + conf / (3 * (np.abs(conf) + 1))


def _weighted_median(raw: np.ndarray, weights: np.ndarray) -> np.ndarray:
    order = np.argsort(raw, axis=1, kind="stable")
    cdf = np.zeros(raw.shape)
    run = np.zeros(raw.shape[0])
    for c in range(raw.shape[1]):
        run = run + weights[order[:, c]]
        cdf[:, c] = run
    first = np.argmax(cdf >= 0.5 * run[:, None], axis=1)
    rows = np.arange(raw.shape[0])
    return raw[rows, order[rows, first]][:, None]


def calibration_records(params):
    """(n_classes, n_folds, records as (fold, source, target, kind, a, b, xs, ys) tuples)."""
    n_classes, n_folds, n_records = (int(v) for v in params[:3])
    base = 3 + CALIBRATED_RECORD * n_records
    pool = np.asarray(params[base:], dtype=np.float64)
    records = []
    for r in range(n_records):
        fold, source, target, kind, a, b, start, count = params[3 + CALIBRATED_RECORD * r:
                                                                3 + CALIBRATED_RECORD * (r + 1)]
        start, count = int(start), int(count)
        records.append((int(fold), int(source), int(target), int(kind), float(a), float(b),
                        pool[start:start + count], pool[start + count:start + 2 * count]))
    return n_classes, n_folds, records


def isotonic(v: np.ndarray, lo: float, hi: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """IsotonicRegression.predict: clip to [lo, hi], then np.interp (which scipy's linear
    interp1d calls), written out in its order of operations."""
    v = np.clip(v, lo, hi)
    if len(xs) == 1:         # a constant, even for NaN
        return np.full(v.shape, ys[0])
    n = len(xs)
    j = np.searchsorted(xs, v, side="right") - 1          # the last xs[j] <= v
    jj = np.clip(j, 0, n - 2)
    with np.errstate(all="ignore"):
        slope = (ys[jj + 1] - ys[jj]) / (xs[jj + 1] - xs[jj])
        mid = slope * (v - xs[jj]) + ys[jj]
    exact = (j >= n - 1) | (xs[np.clip(j, 0, n - 1)] == v)
    out = np.where(j < 0, ys[0], np.where(exact, ys[np.clip(j, 0, n - 1)], mid))
    return np.where(np.isnan(v), np.nan, out)


def _calibrated(raw: np.ndarray, params) -> np.ndarray:
    n_classes, n_folds, records = calibration_records(params)
    total = np.zeros((raw.shape[0], n_classes))
    for fold in range(n_folds):
        p = np.zeros((raw.shape[0], n_classes))
        resp = raw
        for f, source, target, kind, a, b, xs, ys in records:
            if f != fold:
                continue
            if kind == 2:
                resp = _ovo_votes(raw[:, source:source + target * (target - 1) // 2])
                continue
            v = resp[:, source]
            if kind == 0:
                p[:, target] = 1.0 / (1.0 + libm.exp(a * v + b))
            else:
                p[:, target] = isotonic(v, a, b, xs, ys)
        if n_classes == 2:
            p[:, 0] = 1.0 - p[:, 1]
        else:
            s = np.zeros(raw.shape[0])
            for c in range(n_classes):
                s = s + p[:, c]
            with np.errstate(all="ignore"):
                p = np.where(s[:, None] != 0, p / s[:, None], 1 / n_classes)
        p[(1.0 < p) & (p <= 1.0 + 1e-5)] = 1.0
        total = total + p
    return total / n_folds
