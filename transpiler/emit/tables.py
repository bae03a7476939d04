"""Language-neutral preparation of an ensemble for emitters: flat node tables and tree code.

Every layout shares the leaf table and the accumulation code; they differ only in how a tree
finds its leaf: by branches in code (`code`) or by a loop over node arrays (`table`).
A leaf is identified by its offset into LEAF_VALUE (leaf number * width).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ir

FLAG_DEFAULT_LEFT = 1
FLAG_ZERO_MISSING = 2
FLAG_CATEGORICAL = 4

# `auto` chooses code below these sizes: branches are faster to run for small models, and
# tables keep compile time and memory linear for large or deep ones.
CODE_MAX_NODES = 4096
CODE_MAX_DEPTH = 48


@dataclass
class Tables:
    """All trees of an ensemble, flattened. Node ids are global; leaves carry value offsets."""

    feature: np.ndarray      # int32, -1 at leaves
    threshold: np.ndarray    # float64
    left: np.ndarray         # int32; at a leaf: the leaf's offset into leaf_value
    right: np.ndarray        # int32
    flags: np.ndarray        # uint8: FLAG_* bits
    cat_offset: np.ndarray   # int32: offset into cat_bits of [n_words, word...] (categorical only)
    cat_bits: np.ndarray     # uint32
    leaf_value: np.ndarray   # accumulate dtype, n_leaves * width
    roots: np.ndarray        # int32, per tree
    targets: np.ndarray      # int32, per tree
    width: int
    has_zero_missing: bool
    has_categories: bool
    max_depth: int
    linear: tuple | None = None   # (const per leaf, start per leaf + 1, feature, coef) or None


def ensemble_width(ens: ir.Ensemble) -> int:
    widths = {t.width for t in ens.trees}
    if len(widths) > 1:
        raise ValueError("trees of one ensemble must have the same leaf width")
    return widths.pop() if widths else ens.n_outputs


def flatten(ens: ir.Ensemble) -> Tables:
    width = ensemble_width(ens)
    feats, thrs, lefts, rights, flags, cat_offs, leaves = [], [], [], [], [], [], []
    cat_bits: list[int] = []
    cat_index: dict[tuple, int] = {}
    roots, targets = [], []
    lin_const, lin_count, lin_feature, lin_coef = [], [], [], []
    any_linear = any(t.linear is not None for t in ens.trees)
    node_base = leaf_base = 0
    max_depth = 0
    for tree in ens.trees:
        is_leaf = tree.left < 0
        leaf_no = np.cumsum(is_leaf) - 1 + leaf_base           # leaf number of each leaf node
        left = np.where(is_leaf, leaf_no * width, tree.left + node_base)
        right = np.where(is_leaf, 0, tree.right + node_base)
        fl = np.where(tree.default_left, FLAG_DEFAULT_LEFT, 0)
        if tree.zero_missing is not None:
            fl |= np.where(tree.zero_missing, FLAG_ZERO_MISSING, 0)
        coff = np.zeros(tree.n_nodes, dtype=np.int64)
        if tree.categories is not None:
            for n, words in enumerate(tree.categories):
                if words is None or is_leaf[n]:
                    continue
                fl[n] |= FLAG_CATEGORICAL
                if words not in cat_index:            # identical sets share one entry
                    cat_index[words] = len(cat_bits)
                    cat_bits.extend((len(words),) + words)
                coff[n] = cat_index[words]
        feats.append(np.where(is_leaf, -1, tree.feature))
        thrs.append(np.where(is_leaf, 0.0, tree.threshold))
        lefts.append(left)
        rights.append(right)
        flags.append(np.where(is_leaf, 0, fl))
        cat_offs.append(coff)
        leaves.append(tree.leaf_value[is_leaf].reshape(-1))
        if any_linear:  # every leaf gets a linear model; a constant leaf has no terms
            ids = np.flatnonzero(is_leaf)
            lin = tree.linear
            if lin is None:
                lin_const.append(tree.leaf_value[ids, 0])
                lin_count.append(np.zeros(len(ids), dtype=np.int64))
            else:
                lin_const.append(lin.const[ids])
                lin_count.append(lin.start[ids + 1] - lin.start[ids])
                for n in ids:
                    lin_feature.append(lin.feature[lin.start[n]:lin.start[n + 1]])
                    lin_coef.append(lin.coef[lin.start[n]:lin.start[n + 1]])
        roots.append(node_base)
        targets.append(tree.target)
        node_base += tree.n_nodes
        leaf_base += int(is_leaf.sum())
        max_depth = max(max_depth, tree.depth())
    flags_arr = _join(flags, np.uint8)
    linear = None
    if any_linear:
        if width != 1:
            raise ValueError("linear leaves need trees of width 1")
        start = np.concatenate([[0], np.cumsum(_join(lin_count, np.int64))])
        linear = (_join(lin_const, np.float64), start.astype(np.int32),
                  _join(lin_feature, np.int32), _join(lin_coef, np.float64))
    return Tables(
        feature=_join(feats, np.int32), threshold=_join(thrs, np.float64),
        left=_join(lefts, np.int32), right=_join(rights, np.int32), flags=flags_arr,
        cat_offset=_join(cat_offs, np.int32), cat_bits=np.array(cat_bits, dtype=np.uint32),
        leaf_value=_join(leaves, ens.accumulate), roots=np.array(roots, dtype=np.int32),
        targets=np.array(targets, dtype=np.int32), width=width,
        has_zero_missing=bool((flags_arr & FLAG_ZERO_MISSING).any()),
        has_categories=bool((flags_arr & FLAG_CATEGORICAL).any()),
        max_depth=max_depth, linear=linear,
    )


def _join(parts, dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def choose_layout(ens: ir.Ensemble, tables: Tables, layout: str) -> str:
    if layout != "auto":
        return layout
    if len(tables.feature) <= CODE_MAX_NODES and tables.max_depth <= CODE_MAX_DEPTH:
        return "code"
    return "table"


def tree_branches(tables: Tables, root: int, syntax, op: str, depth: int = 1) -> list[str]:
    """The body of one tree's function as lines of `syntax`, walked with an explicit stack."""
    lines: list[str] = []
    stack: list[tuple[int, int] | tuple[str, int]] = [(root, depth)]
    while stack:
        item, depth = stack.pop()
        pad = syntax.indent * depth
        if isinstance(item, str):
            lines.append(pad + item)
            continue
        n = item
        if tables.feature[n] < 0:
            lines.append(pad + syntax.ret(str(int(tables.left[n]))))
            continue
        lines.append(pad + syntax.if_open(node_condition(tables, n, syntax, op)))
        stack.append((syntax.block_close, depth))
        stack.append((int(tables.right[n]), depth + 1))
        stack.append((syntax.else_open, depth))
        stack.append((int(tables.left[n]), depth + 1))
    return lines


def node_condition(tables: Tables, n: int, syntax, op: str) -> str:
    """The test that sends node n's row left, with NaN (and zero-missing) routing folded in."""
    v = f"x[{int(tables.feature[n])}]"
    fl = int(tables.flags[n])
    default_left = bool(fl & FLAG_DEFAULT_LEFT)
    if fl & FLAG_CATEGORICAL:
        member = syntax.call_in_category(v, int(tables.cat_offset[n]))
        return f"{v} != {v} || {member}" if default_left else member
    t = syntax.double(float(tables.threshold[n]))
    negated = ">" if op == "<=" else ">="
    if default_left:
        cond = f"!({v} {negated} {t})"
    else:
        cond = f"{v} {op} {t}"
    if fl & FLAG_ZERO_MISSING:
        zero = syntax.is_zero(v)
        cond = f"{cond} || {zero}" if default_left else f"{cond} && !({zero})"
    return cond
