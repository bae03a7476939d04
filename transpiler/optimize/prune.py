"""Collapse splits whose two sides end in leaves with the same value.

Such splits cannot change any output (scikit-learn trees grown to purity make them often), so
dropping them shrinks the code without changing a single bit.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import ir


def merge_equal_leaves(model: ir.Model) -> ir.Model:
    if not isinstance(model.raw, ir.Ensemble):
        return model
    trees = tuple(_merge_tree(t) for t in model.raw.trees)
    if all(a is b for a, b in zip(trees, model.raw.trees)):
        return model
    return replace(model, raw=replace(model.raw, trees=trees))


def _candidates(left, right, leaf, values) -> np.ndarray:
    internal = np.flatnonzero(left >= 0)
    l, r = left[internal], right[internal]
    both = leaf[l] & leaf[r]
    same = np.all(values[l] == values[r], axis=1)
    return internal[both & same]


def _merge_tree(tree: ir.Tree) -> ir.Tree:
    left, right = tree.left.copy(), tree.right.copy()
    values = tree.leaf_value.copy()
    leaf = left < 0
    if not len(_candidates(left, right, leaf, values)):
        return tree
    # Parents are numbered before children in every loader's layout? Not guaranteed, so order
    # nodes by a breadth-first walk and fold from the deepest up.
    order = _bfs(left, right)
    for n in order[::-1]:
        l, r = left[n], right[n]
        if l >= 0 and leaf[l] and leaf[r] and np.array_equal(values[l], values[r]):
            values[n] = values[l]
            left[n] = right[n] = -1
            leaf[n] = True
    keep = _bfs(left, right)
    new_id = np.full(len(left), -1, dtype=np.int64)
    new_id[keep] = np.arange(len(keep))
    remap = lambda a: np.where(a >= 0, new_id[np.maximum(a, 0)], -1)  # noqa: E731
    leaf_keep = leaf[keep]
    return ir.make_tree(
        feature=np.where(leaf_keep, -1, tree.feature[keep]),
        threshold=np.where(leaf_keep, 0.0, tree.threshold[keep]),
        left=remap(left[keep]), right=remap(right[keep]),
        default_left=np.where(leaf_keep, False, tree.default_left[keep]),
        leaf_value=np.where(leaf_keep[:, None], values[keep], 0),
        target=tree.target,
        zero_missing=None if tree.zero_missing is None else tree.zero_missing[keep] & ~leaf_keep,
        categories=None if tree.categories is None else
        tuple(None if leaf_keep[i] else tree.categories[k] for i, k in enumerate(keep)),
        leaf_dtype=tree.leaf_value.dtype,
        count=None if tree.count is None else tree.count[keep],
    )


def _bfs(left, right) -> np.ndarray:
    order = [0]
    i = 0
    while i < len(order):
        n = order[i]
        i += 1
        if left[n] >= 0:
            order.append(int(left[n]))
            order.append(int(right[n]))
    return np.array(order, dtype=np.int64)
