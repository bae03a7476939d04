"""Structural checks of a loaded ir.Model, whatever loader built it.

A corrupt or hand-edited file must give a clear error here rather than a hang (a cycle in a
tree), a crash (a child or feature index out of range) or wrong code (a NaN threshold, which
no language can write as a constant) later. The checks are vectorized: one pass over each
tree's arrays, plus a level-by-level walk only for trees not numbered parent-before-child.
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..errors import InputError

MAX_FEATURES = 1 << 24      # node tables keep the feature index in 28 bits; this is plenty
MAX_OUTPUTS = 1 << 16
MAX_NODES = (1 << 31) - 1   # all trees' nodes, indexed by int32 in the generated tables


def _bad(what: str) -> InputError:
    return InputError(f"the model is corrupt: {what}; save it again from the library "
                      "(or check the file was not truncated or edited)")


def _finite(values, what: str, allow_inf: bool = False) -> None:
    v = np.asarray(values, dtype=np.float64)
    bad = np.isnan(v) if allow_inf else ~np.isfinite(v)
    if bad.any():
        raise _bad(f"{what} holds {v[bad][0]!r}")


def check_tree(t: ir.Tree, i: int, n_x: int, n_outputs: int, width: int) -> None:
    n = t.n_nodes
    where = f"tree {i}"
    if n == 0:
        raise _bad(f"{where} has no nodes")
    if not (len(t.threshold) == len(t.left) == len(t.right) == len(t.default_left) == n
            and t.leaf_value.shape[0] == n and (t.count is None or len(t.count) == n)):
        raise _bad(f"{where} has node arrays of different lengths")
    if t.width != width or not 0 <= t.target <= n_outputs - t.width:
        raise _bad(f"{where} adds {t.width} values at output {t.target} of {n_outputs}")
    internal = t.left >= 0
    nodes = np.flatnonzero(internal)
    kids = np.concatenate([t.left[nodes], t.right[nodes]])
    if kids.size and (kids.min() < 1 or kids.max() >= n):
        raise _bad(f"{where} has a child index out of range")
    if np.bincount(kids, minlength=n).max(initial=0) > 1:
        raise _bad(f"{where} has a node with two parents (a cycle or a shared subtree)")
    if kids.size != n - 1:
        raise _bad(f"{where} has nodes unreachable from its root")
    # Each node but the root has exactly one parent now. If every child comes after its
    # parent, all are reachable (by induction); otherwise walk level by level.
    if not np.all(kids > np.concatenate([nodes, nodes])):
        _walk(t, n, where)
    feats = t.feature[nodes]
    if feats.size and (feats.min() < 0 or feats.max() >= n_x):
        raise _bad(f"{where} splits on a feature outside 0..{n_x - 1}")
    numeric = internal.copy()
    if t.categories is not None:
        for node, words in enumerate(t.categories):
            if words is None:
                continue
            numeric[node] = False
            if any(not 0 <= w < 1 << 32 for w in words):
                raise _bad(f"{where} has a category bitset word outside 32 bits")
    _finite(t.threshold[numeric], f"a threshold of {where}", allow_inf=True)
    _finite(t.leaf_value[~internal], f"a leaf value of {where}", allow_inf=True)
    if t.linear is not None:
        lin = t.linear
        start = lin.start.astype(np.int64)
        if (len(start) != n + 1 or start[0] != 0 or (np.diff(start) < 0).any()
                or start[-1] != len(lin.feature) or len(lin.coef) != len(lin.feature)):
            raise _bad(f"{where} has malformed linear leaves")
        if lin.feature.size and (lin.feature.min() < 0 or lin.feature.max() >= n_x):
            raise _bad(f"{where} has a linear-leaf feature outside 0..{n_x - 1}")
        _finite(lin.coef, f"a linear-leaf coefficient of {where}")
        _finite(lin.const, f"a linear-leaf constant of {where}")


def _walk(t: ir.Tree, n: int, where: str) -> None:
    """Count the nodes reachable from the root, one level at a time (no recursion)."""
    seen = 1
    frontier = np.array([0])
    while frontier.size:
        frontier = frontier[t.left[frontier] >= 0]
        frontier = np.concatenate([t.left[frontier], t.right[frontier]])
        seen += frontier.size
        if seen > n:
            break
    if seen != n:
        raise _bad(f"{where} has a cycle or nodes unreachable from its root")


def check_model(model: ir.Model) -> ir.Model:
    """The model itself, or InputError naming the first structural problem."""
    if not isinstance(model.n_features, (int, np.integer)) or not 0 <= model.n_features <= MAX_FEATURES:
        raise _bad(f"it claims {model.n_features} features (at most {MAX_FEATURES:,} are supported)")
    if not np.isfinite(model.post_scale):
        raise _bad(f"its output scale is {model.post_scale!r}")
    raw = model.raw
    n_x = getattr(model, "n_x", model.n_features)
    if isinstance(raw, ir.Ensemble):
        if not 1 <= raw.n_outputs <= MAX_OUTPUTS:
            raise _bad(f"it claims {raw.n_outputs} outputs")
        _finite(raw.base_score, "its base score")
        if sum(t.n_nodes for t in raw.trees) > MAX_NODES:
            raise _bad("it has more tree nodes than the generated tables can index")
        width = raw.trees[0].width if raw.trees else 1
        for i, t in enumerate(raw.trees):
            check_tree(t, i, n_x, raw.n_outputs, width)
    elif isinstance(raw, ir.Linear):
        if raw.coef.ndim != 2 or raw.coef.shape[1] != n_x or raw.intercept.shape != raw.coef.shape[:1]:
            raise _bad(f"its coefficients have shape {raw.coef.shape} for {n_x} features")
        _finite(raw.coef, "a coefficient")
        _finite(raw.intercept, "an intercept")
    return model
