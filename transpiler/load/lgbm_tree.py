"""One parsed LightGBM tree -> ir.Tree, with LightGBM's prediction semantics (tree.h).

Node numbering: LightGBM's internal nodes 0..n-2 keep their index; leaf j (stored as ~j) becomes
node n-1+j. A node's decision_type holds: bit 0 categorical, bit 1 default left, bits 2-3 the
missing type (0 None, 1 Zero, 2 NaN). LightGBM's NumericalDecision and CategoricalDecision:

  numerical, missing NaN:   NaN -> default side;                  else x <= threshold
  numerical, missing Zero:  NaN or |x| <= kZeroThreshold -> default side; else x <= threshold
  numerical, missing None:  NaN is read as 0.0, so it goes where 0.0 <= threshold sends it
  categorical:              NaN -> right; c = (int)x; c < 0 -> right; left iff bit c is set

Before any tree runs, predict on dense input turns every |x| <= kZeroThreshold (1e-35f) into 0.0.
Only a threshold inside [-kZeroThreshold, kZeroThreshold] can tell such an x from 0.0, so those
thresholds are moved to the edge of that band: then `x <= threshold` routes tiny x as 0.0.
"""
from __future__ import annotations

import numpy as np

from .. import ir
from .lgbm_text import TextTree

K_ZERO = float(np.float32(1e-35))             # LightGBM's kZeroThreshold
_BELOW_NEG_K_ZERO = float(np.nextafter(-K_ZERO, -np.inf))

_CATEGORICAL, _DEFAULT_LEFT = 1, 2
_MISSING_ZERO, _MISSING_NAN = 1, 2


def _band_threshold(threshold: np.ndarray) -> np.ndarray:
    """Thresholds that send |x| <= kZeroThreshold where LightGBM sends 0.0."""
    t = threshold.copy()
    t[(t >= 0.0) & (t <= K_ZERO)] = K_ZERO                   # 0.0 <= t: the whole band goes left
    t[(t >= -K_ZERO) & (t < 0.0)] = _BELOW_NEG_K_ZERO        # 0.0 > t: the whole band goes right
    return t


def convert_tree(t: TextTree, target: int = 0) -> ir.Tree:
    m = t.num_leaves - 1                  # internal nodes
    size = m + t.num_leaves

    def node(child):
        return np.where(child >= 0, child, m + ~child)

    feature = np.full(size, -1, dtype=np.int64)
    threshold = np.zeros(size)
    left = np.full(size, -1, dtype=np.int64)
    right = np.full(size, -1, dtype=np.int64)
    default_left = np.zeros(size, dtype=bool)
    zero_missing = np.zeros(size, dtype=bool)
    categories = None
    if m:
        dt = t.decision_type
        cat = (dt & _CATEGORICAL) != 0
        missing = (dt >> 2) & 3
        feature[:m] = t.split_feature
        left[:m] = node(t.left_child)
        right[:m] = node(t.right_child)
        threshold[:m] = np.where(cat, 0.0, _band_threshold(t.threshold))
        # missing None (and the unused value 3) read NaN as 0.0: resolve that side statically
        by_bit = (missing == _MISSING_NAN) | (missing == _MISSING_ZERO)
        default_left[:m] = np.where(by_bit, (dt & _DEFAULT_LEFT) != 0, 0.0 <= t.threshold) & ~cat
        zero_missing[:m] = (missing == _MISSING_ZERO) & ~cat
        if cat.any():
            bounds, words = t.cat_boundaries, t.cat_threshold
            categories = [None] * size
            for i in np.flatnonzero(cat):
                idx = int(t.threshold[i])
                categories[i] = tuple(int(w) for w in words[bounds[idx]:bounds[idx + 1]])
    leaf_value = np.zeros(size)
    leaf_value[m:] = t.leaf_value
    linear = None
    if t.is_linear:
        counts = t.num_features
        if counts.sum() == 0:
            leaf_value[m:] = t.leaf_const     # no terms anywhere: every leaf gives its constant
        else:
            const = np.zeros(size)
            const[m:] = t.leaf_const
            start = np.zeros(size + 1, dtype=np.int64)
            start[m + 1:] = np.cumsum(counts)
            linear = (const, start, t.leaf_features, t.leaf_coeff)
    return ir.make_tree(feature, threshold, left, right, default_left, leaf_value, target=target,
                        zero_missing=zero_missing, categories=categories, linear=linear,
                        count=t.count)


def categorical_features(trees) -> list:
    """Sorted indices of the features some tree splits on categorically."""
    used = set()
    for t in trees:
        if t.num_leaves > 1:
            used.update(int(f) for f in t.split_feature[(t.decision_type & _CATEGORICAL) != 0])
    return sorted(used)
