"""Language-neutral preparation of an ensemble for emitters: flat node tables and tree code.

Every layout shares the leaf table and the accumulation code; they differ only in how a tree
finds its leaf: by branches in code (`code`) or by a loop over a node table (`table`).

Nodes of each tree are renumbered in preorder, so a node's left child is always the next
node: a table node needs only (threshold, info, right) — 16 bytes, four to a cache line:
  info   feature index | FLAG_* bits; LEAF (negative, feature bits 0) at a leaf
  right  the right child's global index; at a leaf, the leaf itself
  thr    the threshold; at a categorical node, the offset of its bitset in cat_bits; NaN at
         a leaf, so every comparison fails and a leaf steps to itself
A leaf's value sits at leaf_of[leaf] in leaf_value (leaf number * width). Because leaves are
fixed points of the step "left ? n + 1 : right", a block of rows can walk a tree in lockstep
for the tree's depth without a branch on leaves; that is what the batch entry points do.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .. import ir

FEATURE_MASK = (1 << 28) - 1
LEAF = -(1 << 31)
FLAG_DEFAULT_LEFT = 1 << 28
FLAG_ZERO_MISSING = 1 << 29
FLAG_CATEGORICAL = 1 << 30

# Ensembles no deeper than this (without categorical or zero-as-missing splits) are laid out
# as complete binary trees in heap order: the children of slot i are 2i+1 and 2i+2, so a
# step is `i = 2i + 1 + (x[f] > t)`, with no child pointer to load and no branch.
HEAP_MAX_DEPTH = 10

# `auto` chooses code below these sizes: branches run fastest for small models, while tables
# keep source size, compile time and memory small and linear for large or deep ones.
CODE_MAX_NODES = 1024
CODE_MAX_DEPTH = 48

BLOB_MAGIC = b"TRPL"
BLOB_VERSION = 1


@dataclass
class Tables:
    """All trees of an ensemble, flattened, in preorder."""

    thr: np.ndarray          # float64
    info: np.ndarray         # int32
    right: np.ndarray        # int32
    leaf_of: np.ndarray      # int32: offset in leaf_value of each leaf (0 at splits)
    cat_bits: np.ndarray     # uint32: per set, [n_words, word...]
    leaf_value: np.ndarray   # accumulate dtype, n_leaves * width
    roots: np.ndarray        # int32, per tree
    targets: np.ndarray      # int32, per tree
    depths: np.ndarray       # int32, per tree
    width: int
    has_zero_missing: bool
    has_categories: bool
    max_depth: int
    linear: tuple | None = None   # (const per leaf, start per leaf + 1, feature, coef) or None
    heap: bool = False            # complete trees in heap order (see to_heap)

    @property
    def n_nodes(self) -> int:
        return len(self.info)

    def is_leaf(self, n: int) -> bool:
        return self.info[n] < 0

    def feature(self, n: int) -> int:
        return int(self.info[n]) & FEATURE_MASK


def ensemble_width(ens: ir.Ensemble) -> int:
    widths = {t.width for t in ens.trees}
    if len(widths) > 1:
        raise ValueError("trees of one ensemble must have the same leaf width")
    return widths.pop() if widths else ens.n_outputs


def levels(tree: ir.Tree) -> list[np.ndarray]:
    """Node ids level by level from the root: one NumPy step per level, no recursion."""
    out, frontier = [], np.array([0], dtype=np.int64)
    while len(frontier):
        out.append(frontier)
        inner = frontier[tree.left[frontier] >= 0]
        frontier = np.stack([tree.left[inner], tree.right[inner]], axis=1).reshape(-1).astype(np.int64)
    return out


def preorder(tree: ir.Tree) -> tuple[np.ndarray, int]:
    """Node ids in preorder (left subtree first) and the tree's depth.

    Vectorized by levels: subtree sizes bottom-up, then each node's preorder position is its
    parent's + 1 (left child) or + 1 + the left subtree's size (right child)."""
    lv = levels(tree)
    left, right = tree.left.astype(np.int64), tree.right.astype(np.int64)
    size = np.ones(tree.n_nodes, dtype=np.int64)
    for nodes in reversed(lv):
        inner = nodes[left[nodes] >= 0]
        size[inner] += size[left[inner]] + size[right[inner]]
    pos = np.zeros(tree.n_nodes, dtype=np.int64)
    for nodes in lv:
        inner = nodes[left[nodes] >= 0]
        pos[left[inner]] = pos[inner] + 1
        pos[right[inner]] = pos[inner] + 1 + size[left[inner]]
    reachable = np.concatenate(lv)
    order = np.empty(len(reachable), dtype=np.int64)
    order[pos[reachable]] = reachable
    return order, len(lv) - 1


def flatten(ens: ir.Ensemble) -> Tables:
    width = ensemble_width(ens)
    thrs, infos, rights, leaf_ofs, leaves, depths = [], [], [], [], [], []
    cat_bits: list[int] = []
    cat_index: dict[tuple, int] = {}
    roots, targets = [], []
    lin_const, lin_count, lin_feature, lin_coef = [], [], [], []
    any_linear = any(t.linear is not None for t in ens.trees)
    node_base = leaf_base = 0
    max_depth = 0
    for tree in ens.trees:
        order, depth = preorder(tree)
        max_depth = max(max_depth, depth)
        depths.append(depth)
        n = len(order)
        new_id = np.empty(tree.n_nodes, dtype=np.int64)
        new_id[order] = np.arange(n) + node_base
        is_leaf = tree.left[order] < 0
        leaf_no = np.cumsum(is_leaf) - 1 + leaf_base       # leaves numbered in preorder
        info = tree.feature[order].astype(np.int64)
        info |= np.where(tree.default_left[order], FLAG_DEFAULT_LEFT, 0)
        if tree.zero_missing is not None:
            info |= np.where(tree.zero_missing[order], FLAG_ZERO_MISSING, 0)
        thr = tree.threshold[order].astype(np.float64)
        if tree.categories is not None:
            for i, node in enumerate(order):
                words = tree.categories[node]
                if words is None or is_leaf[i]:
                    continue
                if words not in cat_index:            # identical sets share one entry
                    cat_index[words] = len(cat_bits)
                    cat_bits.extend((len(words),) + words)
                info[i] |= FLAG_CATEGORICAL
                thr[i] = cat_index[words]
        right_child = new_id[np.maximum(tree.right[order], 0)]
        infos.append(np.where(is_leaf, LEAF, info))
        thrs.append(np.where(is_leaf, np.nan, thr))
        rights.append(np.where(is_leaf, np.arange(n) + node_base, right_child))
        leaf_ofs.append(np.where(is_leaf, leaf_no * width, 0))
        leaf_ids = order[is_leaf]
        leaves.append(tree.leaf_value[leaf_ids].reshape(-1))
        if any_linear:  # every leaf gets a linear model; a constant leaf has no terms
            lin = tree.linear
            if lin is None:
                lin_const.append(tree.leaf_value[leaf_ids, 0])
                lin_count.append(np.zeros(len(leaf_ids), dtype=np.int64))
            else:
                lin_const.append(lin.const[leaf_ids])
                lin_count.append(lin.start[leaf_ids + 1] - lin.start[leaf_ids])
                for node in leaf_ids:
                    lin_feature.append(lin.feature[lin.start[node]:lin.start[node + 1]])
                    lin_coef.append(lin.coef[lin.start[node]:lin.start[node + 1]])
        roots.append(node_base)
        targets.append(tree.target)
        node_base += n
        leaf_base += int(is_leaf.sum())
    info_all = _join(infos, np.int64)
    if node_base >= 2**31 or leaf_base * width >= 2**31:
        raise ValueError("the model has more than 2**31 nodes or leaf values")
    linear = None
    if any_linear:
        if width != 1:
            raise ValueError("linear leaves need trees of width 1")
        start = np.concatenate([[0], np.cumsum(_join(lin_count, np.int64))])
        linear = (_join(lin_const, np.float64), start.astype(np.int32),
                  _join(lin_feature, np.int32), _join(lin_coef, np.float64))
    inner = info_all >= 0
    return Tables(
        thr=_join(thrs, np.float64), info=info_all.astype(np.int32),
        right=_join(rights, np.int32), leaf_of=_join(leaf_ofs, np.int32),
        cat_bits=np.array(cat_bits, dtype=np.uint32), depths=np.array(depths, dtype=np.int32),
        leaf_value=_join(leaves, ens.accumulate), roots=np.array(roots, dtype=np.int32),
        targets=np.array(targets, dtype=np.int32), width=width,
        has_zero_missing=bool((info_all[inner] & FLAG_ZERO_MISSING).any()),
        has_categories=bool((info_all[inner] & FLAG_CATEGORICAL).any()),
        max_depth=max_depth, linear=linear,
    )


def to_heap(t: Tables) -> Tables:
    """Every tree as a complete binary tree of depth D = t.max_depth, in heap order.

    Tree k owns slots k*(2^D - 1) .. (k+1)*(2^D - 1) - 1 (thr, info = feature | default-left
    flag) and bottom positions k*2^D .. (k+1)*2^D - 1 in leaf_of. A leaf above the bottom
    owns every bottom position below it, so the padding slots' tests never matter.
    Built level by level for all trees at once."""
    depth = t.max_depth
    slots, bottoms = 2 ** depth - 1, 2 ** depth
    n_trees = len(t.roots)
    thr = np.zeros(n_trees * slots)
    info = np.zeros(n_trees * slots, dtype=np.int64)
    leaf_of = np.zeros(n_trees * bottoms, dtype=np.int64)
    tree = np.arange(n_trees, dtype=np.int64)
    node = t.roots.astype(np.int64)
    pos = np.zeros(n_trees, dtype=np.int64)
    for d in range(depth + 1):
        leaf = t.info[node] < 0
        span = 2 ** (depth - d)
        first = tree[leaf] * bottoms + (pos[leaf] + 1) * span - 1 - slots
        leaf_of[(first[:, None] + np.arange(span)).reshape(-1)] = np.repeat(t.leaf_of[node[leaf]], span)
        inner = ~leaf
        tree, node, pos = tree[inner], node[inner], pos[inner]
        slot = tree * slots + pos
        thr[slot] = t.thr[node]
        info[slot] = t.info[node]
        tree = np.repeat(tree, 2)
        node = np.stack([node + 1, t.right[node].astype(np.int64)], axis=1).reshape(-1)
        pos = np.stack([2 * pos + 1, 2 * pos + 2], axis=1).reshape(-1)
    return Tables(
        thr=thr, info=info.astype(np.int32), right=np.zeros(len(thr), dtype=np.int32),
        leaf_of=leaf_of.astype(np.int32), cat_bits=t.cat_bits, leaf_value=t.leaf_value,
        roots=(np.arange(n_trees) * slots).astype(np.int32), targets=t.targets,
        depths=np.full(n_trees, depth, dtype=np.int32), width=t.width,
        has_zero_missing=False, has_categories=False, max_depth=depth, linear=t.linear,
        heap=True)


def _join(parts, dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def heap_eligible(t: Tables) -> bool:
    return t.max_depth <= HEAP_MAX_DEPTH and not (t.has_categories or t.has_zero_missing)


def choose_layout(tables: Tables, layout: str) -> str:
    if layout != "auto":
        return layout
    if tables.n_nodes <= CODE_MAX_NODES and tables.max_depth <= CODE_MAX_DEPTH:
        return "code"
    return "table"


def blob(t: Tables) -> bytes:
    """The table layout's data as one little-endian file (Go embeds it, Java loads it).

    "TRPL", version, then sections, each a uint32 count and its values:
    thr f64, info i32, right i32, leaf_of i32, leaf_value (f64 or f32), cat_bits u32,
    roots i32, targets i32, depths i32, lin_const f64, lin_start i32, lin_feature i32,
    lin_coef f64.
    """
    lin = t.linear or (np.zeros(0), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    leaf_type = "<f4" if t.leaf_value.dtype == np.float32 else "<f8"
    sections = [(t.thr, "<f8"), (t.info, "<i4"), (t.right, "<i4"), (t.leaf_of, "<i4"),
                (t.leaf_value, leaf_type), (t.cat_bits, "<u4"), (t.roots, "<i4"),
                (t.targets, "<i4"), (t.depths, "<i4"),
                (lin[0], "<f8"), (lin[1], "<i4"), (lin[2], "<i4"), (lin[3], "<f8")]
    parts = [BLOB_MAGIC, struct.pack("<I", BLOB_VERSION)]
    for values, layout in sections:
        parts.append(struct.pack("<I", len(values)))
        parts.append(np.ascontiguousarray(values, dtype=layout).tobytes())
    return b"".join(parts)


def tree_branches(tables: Tables, root: int, syntax, op: str, depth: int = 1) -> list[str]:
    """The body of one tree's function as lines of `syntax`, walked with an explicit stack."""
    lines: list[str] = []
    stack: list[tuple[int, int] | tuple[str, int]] = [(root, depth)]
    while stack:
        item, d = stack.pop()
        pad = syntax.indent * d
        if isinstance(item, str):
            lines.append(pad + item)
            continue
        n = item
        if tables.is_leaf(n):
            lines.append(pad + syntax.ret(str(int(tables.leaf_of[n]))))
            continue
        lines.append(pad + syntax.if_open(node_condition(tables, n, syntax, op)))
        stack.append((syntax.block_close, d))
        stack.append((int(tables.right[n]), d + 1))
        stack.append((syntax.else_open, d))
        stack.append((n + 1, d + 1))
    return lines


def node_condition(tables: Tables, n: int, syntax, op: str) -> str:
    """The test that sends node n's row left, with NaN (and zero-missing) routing folded in.

    NaN fails every comparison, so `!(x > t)` sends it left and `x <= t` sends it right."""
    v = f"x[{tables.feature(n)}]"
    info = int(tables.info[n])
    default_left = bool(info & FLAG_DEFAULT_LEFT)
    if info & FLAG_CATEGORICAL:
        member = syntax.call_in_category(v, int(tables.thr[n]))
        return f"{v} != {v} || {member}" if default_left else member
    t = syntax.double(float(tables.thr[n]))
    negated = ">" if op == "<=" else ">="
    cond = f"!({v} {negated} {t})" if default_left else f"{v} {op} {t}"
    if info & FLAG_ZERO_MISSING:
        zero = syntax.is_zero(v)
        cond = f"{cond} || {zero}" if default_left else f"{cond} && !({zero})"
    return cond
