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


def concat(ens: ir.Ensemble) -> dict:
    """All trees' node arrays joined, child ids made global: one forest to walk at once."""
    trees = ens.trees
    sizes = np.array([t.n_nodes for t in trees], dtype=np.int64)
    base = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(trees) else np.zeros(0, np.int64)
    offset = np.repeat(base, sizes)
    left = _join([t.left for t in trees], np.int64)
    right = _join([t.right for t in trees], np.int64)
    leaf = left < 0
    zm = [t.zero_missing if t.zero_missing is not None else np.zeros(t.n_nodes, bool) for t in trees]
    return dict(
        roots=base, tree_of=np.repeat(np.arange(len(trees)), sizes),
        left=np.where(leaf, -1, left + offset), right=np.where(leaf, -1, right + offset),
        feature=_join([t.feature for t in trees], np.int64),
        threshold=_join([t.threshold for t in trees], np.float64),
        default_left=_join([t.default_left for t in trees], np.bool_),
        zero_missing=_join(zm, np.bool_))


def levels(left, right, roots) -> list[np.ndarray]:
    """Node ids level by level from the roots: one NumPy step per level, no recursion."""
    out, frontier = [], np.asarray(roots, dtype=np.int64)
    while len(frontier):
        out.append(frontier)
        inner = frontier[left[frontier] >= 0]
        frontier = np.stack([left[inner], right[inner]], axis=1).reshape(-1)
    return out


def flatten(ens: ir.Ensemble) -> Tables:
    """Every tree in preorder, all trees at once: subtree sizes bottom-up by levels, then each
    node's position is its parent's + 1 (left child) or + 1 + the left subtree's size."""
    width = ensemble_width(ens)
    f = concat(ens)
    left, right, tree_of = f["left"], f["right"], f["tree_of"]
    lv = levels(left, right, f["roots"])
    size = np.ones(len(left), dtype=np.int64)
    for nodes in reversed(lv):
        inner = nodes[left[nodes] >= 0]
        size[inner] += size[left[inner]] + size[right[inner]]
    depths = np.zeros(len(ens.trees), dtype=np.int64)
    pos = np.zeros(len(left), dtype=np.int64)
    for d, nodes in enumerate(lv):
        depths[tree_of[nodes]] = d
        inner = nodes[left[nodes] >= 0]
        pos[left[inner]] = pos[inner] + 1
        pos[right[inner]] = pos[inner] + 1 + size[left[inner]]
    reached = size[f["roots"]]                       # nodes reachable in each tree
    new_base = np.concatenate([[0], np.cumsum(reached)[:-1]]) if len(reached) else reached
    reachable = np.concatenate(lv) if lv else np.zeros(0, np.int64)
    new_id = np.full(len(left), -1, dtype=np.int64)
    new_id[reachable] = new_base[tree_of[reachable]] + pos[reachable]
    order = np.empty(len(reachable), dtype=np.int64)
    order[new_id[reachable]] = reachable
    is_leaf = left[order] < 0
    leaf_no = np.cumsum(is_leaf) - 1                 # leaves numbered in preorder
    info = f["feature"][order] | np.where(f["default_left"][order], FLAG_DEFAULT_LEFT, 0)
    info |= np.where(f["zero_missing"][order], FLAG_ZERO_MISSING, 0)
    thr = f["threshold"][order].copy()
    cat_bits: list[int] = []
    if any(t.categories is not None for t in ens.trees):
        cat_index: dict[tuple, int] = {}
        cats = [c for t in ens.trees for c in (t.categories or (None,) * t.n_nodes)]
        for i in np.flatnonzero(~is_leaf):
            words = cats[order[i]]
            if words is None:
                continue
            if words not in cat_index:                # identical sets share one entry
                cat_index[words] = len(cat_bits)
                cat_bits.extend((len(words),) + words)
            info[i] |= FLAG_CATEGORICAL
            thr[i] = cat_index[words]
    n = len(order)
    if n >= 2**31 or int(is_leaf.sum()) * width >= 2**31:
        raise ValueError("the model has more than 2**31 nodes or leaf values")
    leaf_nodes = order[is_leaf]
    leaf_value = _join([t.leaf_value for t in ens.trees], ens.accumulate).reshape(-1, width)
    inner = ~is_leaf
    return Tables(
        thr=np.where(is_leaf, np.nan, thr), info=np.where(is_leaf, LEAF, info).astype(np.int32),
        right=np.where(is_leaf, np.arange(n), new_id[np.maximum(right[order], 0)]).astype(np.int32),
        leaf_of=np.where(is_leaf, leaf_no * width, 0).astype(np.int32),
        cat_bits=np.array(cat_bits, dtype=np.uint32), depths=depths.astype(np.int32),
        leaf_value=leaf_value[leaf_nodes].reshape(-1), roots=new_base.astype(np.int32),
        targets=np.array([t.target for t in ens.trees], dtype=np.int32), width=width,
        has_zero_missing=bool((info[inner] & FLAG_ZERO_MISSING).any()),
        has_categories=bool((info[inner] & FLAG_CATEGORICAL).any()),
        max_depth=int(depths.max(initial=0)), linear=_linear_leaves(ens, leaf_nodes, tree_of),
    )


def _linear_leaves(ens: ir.Ensemble, leaf_nodes, tree_of) -> tuple | None:
    """(const per leaf, start per leaf + 1, feature, coef) in leaf order, or None.

    Every leaf gets a linear model; a constant leaf has no terms."""
    if not any(t.linear is not None for t in ens.trees):
        return None
    if ensemble_width(ens) != 1:
        raise ValueError("linear leaves need trees of width 1")
    bases = np.concatenate([[0], np.cumsum([t.n_nodes for t in ens.trees])[:-1]])
    const, count, feature, coef = [], [], [], []
    for g in leaf_nodes:
        tree = ens.trees[tree_of[g]]
        node = g - bases[tree_of[g]]
        lin = tree.linear
        if lin is None:
            const.append(tree.leaf_value[node, 0])
            count.append(0)
            continue
        a, b = lin.start[node], lin.start[node + 1]
        const.append(lin.const[node])
        count.append(b - a)
        feature.append(lin.feature[a:b])
        coef.append(lin.coef[a:b])
    start = np.concatenate([[0], np.cumsum(count)]).astype(np.int32)
    return (np.array(const, dtype=np.float64), start, _join(feature, np.int32), _join(coef, np.float64))


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
        cond = f"{v} != {v} || {member}" if default_left else member
    else:
        t = syntax.double(float(tables.thr[n]))
        negated = ">" if op == "<=" else ">="
        cond = f"!({v} {negated} {t})" if default_left else f"{v} {op} {t}"
    if info & FLAG_ZERO_MISSING:   # zeros are missing before any other test, as NaN is
        zero = syntax.is_zero(v)
        cond = f"{cond} || {zero}" if default_left else f"{cond} && !({zero})"
    return cond
