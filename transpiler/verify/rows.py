"""Rows derived from a model itself: on every split threshold and its float neighbours, NaN in
each feature, and one row per leaf that reaches it. Together with the user's rows they make
the fixtures on which all oracles must agree.
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..ir.evaluate import category_member, tree_leaves
from .pre_rows import through_pre


def _neighbours(t: float, feature_type: str) -> list[float]:
    if not np.isfinite(t):  # scikit-learn keeps infinite thresholds but rejects infinite rows
        return []
    out = [t]
    if feature_type == "float32":
        f = np.float32(t)
        out += [float(np.nextafter(f, np.float32(-np.inf))), float(f),
                float(np.nextafter(f, np.float32(np.inf)))]
    out += [float(np.nextafter(t, -np.inf)), float(np.nextafter(t, np.inf))]
    return out


def threshold_rows(model: ir.Model, base: np.ndarray, limit: int = 4000) -> np.ndarray:
    """Copies of `base` with one feature set exactly on a split threshold (and beside it)."""
    if model.pre:   # derived where the trees read, mapped back through the pipeline's steps
        return through_pre(lambda m, b: threshold_rows(m, b, limit), model, base)
    if not isinstance(model.raw, ir.Ensemble):
        return np.empty((0, model.n_features))
    pairs = set()
    for tree in model.raw.trees:
        inner = tree.left >= 0
        for f, t in zip(tree.feature[inner], tree.threshold[inner]):
            pairs.add((int(f), float(t)))
    rows = []
    for f, t in sorted(pairs):
        for v in _neighbours(t, model.raw.feature_type):
            row = base.copy()
            row[f] = v
            rows.append(row)
            if len(rows) >= limit:
                return np.array(rows)
    return np.array(rows).reshape(-1, model.n_features)


def nan_rows(model: ir.Model, base: np.ndarray) -> np.ndarray:
    """One row per feature with that feature NaN, one all NaN, and one all zero."""
    rows = []
    for f in range(model.n_features):
        row = base.copy()
        row[f] = np.nan
        rows.append(row)
    rows.append(np.full(model.n_features, np.nan))
    rows.append(np.zeros(model.n_features))
    return np.array(rows)


def leaf_rows(model: ir.Model, base: np.ndarray, limit: int | None = None) -> np.ndarray:
    """For every leaf of every tree (of the first trees, up to `limit` rows), a row that
    follows the path to it (when one exists)."""
    if model.pre:
        return through_pre(lambda m, b: leaf_rows(m, b, limit), model, base)
    if not isinstance(model.raw, ir.Ensemble):
        return np.empty((0, model.n_features))
    ens = model.raw
    rows = []
    for tree in ens.trees:
        for path in _paths(tree):
            row = _row_for_path(tree, path, base, ens)
            if row is not None:
                rows.append(row)
            if limit is not None and len(rows) >= limit:
                return np.array(rows)
    return np.array(rows).reshape(-1, model.n_features)


def _paths(tree: ir.Tree):
    """(node, went_left) lists from the root to each leaf, with an explicit stack."""
    stack = [(0, [])]
    while stack:
        node, path = stack.pop()
        if tree.left[node] < 0:
            yield path
            continue
        stack.append((int(tree.right[node]), path + [(node, False)]))
        stack.append((int(tree.left[node]), path + [(node, True)]))


def _leaf_of(tree, path) -> int:
    if not path:
        return 0
    node, went_left = path[-1]
    return int(tree.left[node] if went_left else tree.right[node])


def _row_for_path(tree, path, base, ens):
    lo = {}   # feature -> values must be > lo (op "<=") or >= lo (op "<")
    hi = {}   # feature -> values must be <= hi (op "<=") or < hi (op "<")
    nan_needed = set()
    cats = {}
    for node, went_left in path:
        f = int(tree.feature[node])
        if tree.categories is not None and tree.categories[node] is not None:
            cats.setdefault(f, []).append((tree.categories[node], went_left))
            continue
        t = float(tree.threshold[node])
        if went_left:
            hi[f] = min(hi.get(f, np.inf), t)
        else:
            lo[f] = max(lo.get(f, -np.inf), t)
    row = base.copy()
    for f in set(lo) | set(hi):
        v = _inside(lo.get(f, -np.inf), hi.get(f, np.inf), ens)
        if v is None:
            nan_needed.add(f)
            v = np.nan
        row[f] = v
    for f, rules in cats.items():
        row[f] = _category(rules)
    return row


def _inside(lo, hi, ens):
    """A value (exact after the float32 cast when there is one) strictly inside the interval."""
    f32 = ens.feature_type == "float32"
    cast = (lambda v: float(np.float32(v))) if f32 else float
    step_dn = (lambda v: float(np.nextafter(np.float32(v), np.float32(-np.inf)))) if f32 else \
        (lambda v: float(np.nextafter(v, -np.inf)))
    step_up = (lambda v: float(np.nextafter(np.float32(v), np.float32(np.inf)))) if f32 else \
        (lambda v: float(np.nextafter(v, np.inf)))
    ok_lo = (lambda v: v > lo) if ens.op == "<=" else (lambda v: v >= lo)
    ok_hi = (lambda v: v <= hi) if ens.op == "<=" else (lambda v: v < hi)
    candidates = []
    if np.isfinite(hi):
        h = cast(hi)
        candidates += [h, step_dn(h), step_dn(step_dn(h))]
    if np.isfinite(lo):
        lv = cast(lo)
        candidates += [lv, step_up(lv), step_up(step_up(lv))]
    if np.isfinite(lo) and np.isfinite(hi):
        candidates.append(cast((lo + hi) / 2))
    if not candidates:
        candidates = [0.0]
    for v in candidates:
        if np.isfinite(v) and ok_lo(v) and ok_hi(v):
            return v
    return None


def _category(rules):
    for c in range(0, 1024):
        if all(category_member(w, float(c), "trunc") == left
               for w, left in rules):
            return float(c)
    return -1.0  # no category fits every rule: a negative value is no member of any set


def fixture_rows(model: ir.Model, X=None, seed: int = 0, limit: int | None = None) -> np.ndarray:
    """User rows (if any) plus every kind of derived row, for the model's features; `limit`
    caps the threshold and leaf rows each (a self-test's few dozen rows of a large model)."""
    rng = np.random.default_rng(seed)
    parts = []
    if X is not None and len(X):
        X = np.asarray(X, dtype=np.float64)
        parts.append(X)
        base = np.nanmedian(np.where(np.isfinite(X), X, np.nan), axis=0)
        base = np.where(np.isfinite(base), base, 0.0)
    else:
        base = np.zeros(model.n_features)
    parts += [threshold_rows(model, base, 4000 if limit is None else limit), nan_rows(model, base),
              leaf_rows(model, base, limit)]
    if X is not None and len(X) > 1:
        picks = X[rng.integers(0, len(X), size=min(len(X), 50))].copy()
        picks[rng.random(picks.shape) < 0.2] = np.nan
        parts.append(picks)
    return np.vstack([p for p in parts if len(p)])


def _unreachable(tree: ir.Tree, path, ens) -> bool:
    """Whether no row reaches the end of `path`: a feature whose numeric interval on it is
    empty and whose NaN goes the other way at one of its nodes (scikit-learn 1.3-1.4 grew
    such leaves). Paths through categorical, zero-as-missing or `missing` value nodes count as
    reachable."""
    if tree.categories is not None or tree.zero_missing is not None or \
            ens.missing_value is not None:
        return False
    lo, hi, nan_ok = {}, {}, {}
    for node, went_left in path:
        f = int(tree.feature[node])
        t = float(tree.threshold[node])
        if went_left:
            hi[f] = min(hi.get(f, np.inf), t)
        else:
            lo[f] = max(lo.get(f, -np.inf), t)
        nan_ok[f] = nan_ok.get(f, True) and bool(tree.default_left[node]) == went_left
    return any(not nan_ok[f] and _inside(lo.get(f, -np.inf), hi.get(f, np.inf), ens) is None
               for f in nan_ok)


def leaf_coverage(model: ir.Model, rows: np.ndarray) -> tuple[int, int]:
    """(leaves reached by `rows`, leaves in the model that some row can reach)."""
    if not isinstance(model.raw, ir.Ensemble):
        return (0, 0)
    if model.pre:
        from ..ir.evaluate import preprocess

        rows = preprocess(model.pre, np.asarray(rows, dtype=np.float64))
    reached = total = 0
    for tree in model.raw.trees:
        leaves = np.array([_leaf_of(tree, path) for path in _paths(tree)
                           if not _unreachable(tree, path, model.raw)], dtype=np.int64)
        hit = np.unique(tree_leaves(tree, np.asarray(rows, dtype=np.float64), model.raw))
        total += len(leaves)
        reached += len(np.intersect1d(leaves, hit))
    return reached, total
