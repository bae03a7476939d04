"""Language-neutral preparation of an ensemble for emitters: flat node tables and tree code.

Every layout shares the leaf table and the accumulation code; they differ only in how a tree
finds its leaf: by branches in code (`code`) or by a loop over a node table (`table`).

Nodes of each tree are renumbered in preorder, so one child of a split is always the next
node, and a split needs only its threshold, a word and the distance to its other child:
  word   feature | flags << feature_bits at a split (FLAGS, in that order); at a leaf, the
         bitwise NOT of the leaf's offset in leaf_value, so a negative word is a leaf
  thr    the threshold; at a categorical split, the offset of its bitset in cat_bits
  jump   how many nodes after the split its other child is
The next node is the left child, unless the split is `swapped`: where the model knows how many
training samples reached each node, the busier child comes next, so a walk mostly reads the
records that follow (measured on LightGBM 500 x 63: single rows ~30% faster in C, Go and
Java). A walker goes to the next node when (test passes) XOR swapped. Identical leaf values
are stored once, so a leaf is an index into a small table.

Node records come in two formats (node_format): `narrow`, 8 bytes (float32 threshold; the
jump packed in the word above the flags), where features are compared as float32 and the
tree fits; `wide`, 16 bytes (float64 threshold, word, jump) everywhere else. A
float64 threshold t becomes the float32 that splits every float32 input the same way (for
x <= t the largest float32 <= t), so both formats give the same bits.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .. import ir

FLAGS = ("default_left", "zero_missing", "categorical", "swapped")

# Ensembles no deeper than this (without categorical or zero-as-missing splits) are laid out
# as complete binary trees in heap order: the children of slot i are 2i+1 and 2i+2, so a
# step is `i = 2i + 1 + (x[f] > t)`, with no child pointer to load and no branch.
HEAP_MAX_DEPTH = 10

# `auto` chooses code below these sizes: branches run fastest for small models, while tables
# keep source size, compile time and memory small and linear for large or deep ones. Trees too
# deep for heaps (leaf-wise LightGBM, forests) run fastest as code in blocks (see TREE_BLOCK)
# up to CODE_DEEP_MAX_NODES, where every compiler still builds them in a few seconds
# (LightGBM 500 x 63, 62,500 nodes: gcc ~3.5 s on two cores, go ~1.8 s, javac ~2.2 s; batches
# 2.0-2.4x and single rows 1.5-1.8x the node tables).
CODE_MAX_NODES = 1024
CODE_DEEP_MAX_NODES = 2 ** 16
CODE_MAX_TREE_NODES = 4096      # nor any tree larger: one function each
CODE_MAX_DEPTH = 48

# The code layout calls its trees TREE_BLOCK at a time: a row runs through one block of trees
# after another, and a batch's rows through each block in turn, so the block's code and branch
# history stay hot. Measured on LightGBM 500 x 63 against a call per tree through a table of
# functions: C batches ~1.9x and single rows ~1.9x, Go single rows ~1.6x.
TREE_BLOCK = 32

BLOB_MAGIC = b"TRPL"
BLOB_VERSION = 3
NODE_FORMATS = ("wide", "narrow")          # their numbers in the blob
NODE_DTYPES = {"narrow": np.dtype([("thr", "<f4"), ("word", "<i4")]),
               "wide": np.dtype([("thr", "<f8"), ("word", "<i4"), ("jump", "<i4")])}
FLOAT32_EXACT = 2 ** 24                    # category set offsets a float32 holds exactly


@dataclass
class Tables:
    """All trees of an ensemble, flattened, in preorder (or in heap order, see to_heap)."""

    thr: np.ndarray          # float64
    word: np.ndarray         # int32
    jump: np.ndarray         # int32: distance to the child that is not next (0 at leaves, heaps)
    cat_bits: np.ndarray     # uint32: per set, [n_words, word...]
    leaf_value: np.ndarray   # accumulate dtype, n_leaves * width
    roots: np.ndarray        # int32, per tree
    targets: np.ndarray      # int32, per tree
    depths: np.ndarray       # int32, per tree
    width: int
    feature_bits: int
    has_zero_missing: bool
    has_categories: bool
    max_depth: int
    has_swaps: bool = False       # some split's next node is its right child
    linear: tuple | None = None   # (const per leaf, start per leaf + 1, feature, coef) or None
    heap: bool = False            # complete trees in heap order (see to_heap)
    leaf_of: np.ndarray | None = None   # heaps: leaf offset at each bottom position

    @property
    def n_nodes(self) -> int:
        return len(self.word)

    @property
    def largest_tree(self) -> int:
        """The node count of the largest tree (each tree's nodes follow its root)."""
        return int(np.diff(np.append(self.roots, self.n_nodes)).max(initial=0))

    @property
    def feature_mask(self) -> int:
        return (1 << self.feature_bits) - 1

    def flag(self, name: str) -> int:
        return 1 << (self.feature_bits + FLAGS.index(name))

    def is_leaf(self, n: int) -> bool:
        return self.word[n] < 0

    def feature(self, n: int) -> int:
        return int(self.word[n]) & self.feature_mask

    def leaf(self, n: int) -> int:
        """A leaf node's offset in leaf_value."""
        return ~int(self.word[n])

    def children(self, n):
        """The (left, right) children of split n, or of an array of splits."""
        near, far = n + 1, n + self.jump[n]
        swapped = (self.word[n] & self.flag("swapped")) != 0
        return np.where(swapped, far, near), np.where(swapped, near, far)


def ensemble_width(ens: ir.Ensemble) -> int:
    widths = {t.width for t in ens.trees}
    if len(widths) > 1:
        raise ValueError("trees of one ensemble must have the same leaf width")
    return widths.pop() if widths else ens.n_outputs


def concat(ens: ir.Ensemble) -> dict:
    """All trees' node arrays joined, child ids made global: one forest to walk at once. A
    split is `swapped` when more training samples reached its right child than its left."""
    trees = ens.trees
    sizes = np.array([t.n_nodes for t in trees], dtype=np.int64)
    base = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(trees) else np.zeros(0, np.int64)
    offset = np.repeat(base, sizes)
    left = _join([t.left for t in trees], np.int64)
    right = _join([t.right for t in trees], np.int64)
    leaf = left < 0
    zm = [t.zero_missing if t.zero_missing is not None else np.zeros(t.n_nodes, bool) for t in trees]
    left, right = np.where(leaf, -1, left + offset), np.where(leaf, -1, right + offset)
    swapped = np.zeros(len(left), dtype=bool)
    if any(t.count is not None for t in trees):
        count = _join([np.zeros(t.n_nodes) if t.count is None else t.count for t in trees], np.float64)
        swapped[~leaf] = count[right[~leaf]] > count[left[~leaf]]   # NaN counts: never
    return dict(
        roots=base, tree_of=np.repeat(np.arange(len(trees)), sizes),
        left=left, right=right, swapped=swapped,
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
    node's position is its parent's + 1 (the child that comes next) or + 1 + that child's
    subtree size (the other)."""
    width = ensemble_width(ens)
    f = concat(ens)
    swapped, tree_of = f["swapped"], f["tree_of"]
    first = np.where(swapped, f["right"], f["left"])       # the child that comes next
    other = np.where(swapped, f["left"], f["right"])
    lv = levels(first, other, f["roots"])
    size = np.ones(len(first), dtype=np.int64)
    for nodes in reversed(lv):
        inner = nodes[first[nodes] >= 0]
        size[inner] += size[first[inner]] + size[other[inner]]
    depths = np.zeros(len(ens.trees), dtype=np.int64)
    pos = np.zeros(len(first), dtype=np.int64)
    for d, nodes in enumerate(lv):
        depths[tree_of[nodes]] = d
        inner = nodes[first[nodes] >= 0]
        pos[first[inner]] = pos[inner] + 1
        pos[other[inner]] = pos[inner] + 1 + size[first[inner]]
    reached = size[f["roots"]]                       # nodes reachable in each tree
    new_base = np.concatenate([[0], np.cumsum(reached)[:-1]]) if len(reached) else reached
    reachable = np.concatenate(lv) if lv else np.zeros(0, np.int64)
    new_id = np.full(len(first), -1, dtype=np.int64)
    new_id[reachable] = new_base[tree_of[reachable]] + pos[reachable]
    order = np.empty(len(reachable), dtype=np.int64)
    order[new_id[reachable]] = reachable
    is_leaf = first[order] < 0
    feature = f["feature"][order]
    fb = max(1, int(feature[~is_leaf].max(initial=0)).bit_length())
    flag = {name: 1 << (fb + k) for k, name in enumerate(FLAGS)}
    word = feature | np.where(f["default_left"][order], flag["default_left"], 0)
    word |= np.where(f["zero_missing"][order], flag["zero_missing"], 0)
    word |= np.where(swapped[order], flag["swapped"], 0)
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
            word[i] |= flag["categorical"]
            thr[i] = cat_index[words]
    n = len(order)
    if n >= 2**31 or int(is_leaf.sum()) * width >= 2**31 or fb + len(FLAGS) > 31:
        raise ValueError("the model has more than 2**31 nodes or leaf values, or too many features")
    leaf_nodes = order[is_leaf]
    all_values = _join([t.leaf_value for t in ens.trees], ens.accumulate).reshape(-1, width)
    linear = _linear_leaves(ens, leaf_nodes, tree_of)
    leaf_value, leaf_index = _leaf_table(all_values[leaf_nodes], dedupe=linear is None)
    node = np.arange(n)
    other_child = new_id[np.maximum(other[order], 0)]
    inner = ~is_leaf
    word[is_leaf] = ~(leaf_index * width)
    return Tables(
        thr=np.where(is_leaf, np.nan, thr), word=word.astype(np.int32),
        jump=np.where(is_leaf, 0, other_child - node).astype(np.int32),
        cat_bits=np.array(cat_bits, dtype=np.uint32), depths=depths.astype(np.int32),
        leaf_value=leaf_value.reshape(-1), roots=new_base.astype(np.int32),
        targets=np.array([t.target for t in ens.trees], dtype=np.int32), width=width,
        feature_bits=fb,
        has_zero_missing=bool((word[inner] & flag["zero_missing"]).any()),
        has_categories=bool((word[inner] & flag["categorical"]).any()),
        has_swaps=bool(swapped.any()), max_depth=int(depths.max(initial=0)), linear=linear,
    )


def _leaf_table(values: np.ndarray, dedupe: bool) -> tuple[np.ndarray, np.ndarray]:
    """(distinct leaf rows in order of first use, each leaf's row). Rows are compared bit for
    bit (0.0 and -0.0 stay apart). Linear leaves keep one row per leaf: their terms follow it."""
    if not dedupe or not len(values):
        return values, np.arange(len(values))
    rows = np.ascontiguousarray(values)
    key = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    if rows.shape[1] == 1:                     # integers sort much faster than void
        key = rows.view(np.uint64 if rows.dtype.itemsize == 8 else np.uint32).ravel()
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")
    rank = np.empty_like(by_first)
    rank[by_first] = np.arange(len(by_first))
    return rows[first[by_first]], rank[inverse.reshape(-1)]


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

    Tree k owns slots k*(2^D - 1) .. (k+1)*(2^D - 1) - 1 (thr, word = feature | default-left
    flag) and bottom positions k*2^D .. (k+1)*2^D - 1 in leaf_of. A leaf above the bottom
    owns every bottom position below it, so the padding slots' tests never matter.
    Built level by level for all trees at once."""
    depth = t.max_depth
    slots, bottoms = 2 ** depth - 1, 2 ** depth
    n_trees = len(t.roots)
    thr = np.zeros(n_trees * slots)
    word = np.zeros(n_trees * slots, dtype=np.int64)
    leaf_of = np.zeros(n_trees * bottoms, dtype=np.int64)
    tree = np.arange(n_trees, dtype=np.int64)
    node = t.roots.astype(np.int64)
    pos = np.zeros(n_trees, dtype=np.int64)
    for d in range(depth + 1):
        leaf = t.word[node] < 0
        span = 2 ** (depth - d)
        first = tree[leaf] * bottoms + (pos[leaf] + 1) * span - 1 - slots
        leaf_of[(first[:, None] + np.arange(span)).reshape(-1)] = np.repeat(~t.word[node[leaf]], span)
        inner = ~leaf
        tree, node, pos = tree[inner], node[inner], pos[inner]
        slot = tree * slots + pos
        thr[slot] = t.thr[node]
        word[slot] = t.word[node] & ~t.flag("swapped")     # heap children are in place
        tree = np.repeat(tree, 2)
        node = np.stack(t.children(node), axis=1).reshape(-1)
        pos = np.stack([2 * pos + 1, 2 * pos + 2], axis=1).reshape(-1)
    return Tables(
        thr=thr, word=word.astype(np.int32), jump=np.zeros(len(thr), dtype=np.int32),
        cat_bits=t.cat_bits, leaf_value=t.leaf_value,
        roots=(np.arange(n_trees) * slots).astype(np.int32), targets=t.targets,
        depths=np.full(n_trees, depth, dtype=np.int32), width=t.width,
        feature_bits=t.feature_bits, has_zero_missing=False, has_categories=False,
        max_depth=depth, linear=t.linear, heap=True, leaf_of=leaf_of.astype(np.int32))


def _join(parts, dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


def heap_eligible(t: Tables) -> bool:
    return t.max_depth <= HEAP_MAX_DEPTH and not (t.has_categories or t.has_zero_missing)


def walk_block_rows(n_x: int) -> int:
    """Rows a batch walks through each tree in turn when trees are walked node by node: about
    1 MB of rows (a power of two, 64 to 4,096). Measured on a 500-tree full-depth forest, 4,096
    rows ran 2.5x faster than 64, and a LightGBM 500 x 63 model ~1.2x."""
    rows = (1 << 17) // max(n_x, 1)
    return max(64, min(4096, 1 << (rows.bit_length() - 1))) if rows else 64


def tree_blocks(n_trees: int) -> list[dict]:
    """The code layout's blocks of trees, each its index and its trees (a range)."""
    return [{"index": k, "trees": range(first, min(first + TREE_BLOCK, n_trees))}
            for k, first in enumerate(range(0, n_trees, TREE_BLOCK))]


def busiest_feature(ens: ir.Ensemble) -> int:
    """The feature a row is tested on most, by training counts (the share of a tree's samples
    that reach each split; the number of splits where counts are unknown)."""
    use = np.zeros(max((int(t.feature.max(initial=0)) for t in ens.trees), default=0) + 1)
    for t in ens.trees:
        split = t.left >= 0
        reach = np.ones(t.n_nodes) if t.count is None or not t.count[0] > 0 else t.count / t.count[0]
        np.add.at(use, t.feature[split], reach[split])
    return int(np.argmax(use))


def choose_layout(tables: Tables, layout: str, code_ok: bool = True,
                  max_tree_nodes: int = CODE_MAX_TREE_NODES) -> str:
    """`auto`: code for small models, and for larger trees too deep for heaps (complete trees
    walk fastest as heaps) where the target's compiler takes them (code_ok) and no tree is over
    max_tree_nodes (the target's Target.code_max_tree_nodes); else tables."""
    return layout_decision(tables, layout, code_ok, max_tree_nodes)[0]


def layout_decision(tables: Tables, layout: str, code_ok: bool = True,
                    max_tree_nodes: int = CODE_MAX_TREE_NODES) -> tuple[str, str]:
    """choose_layout's answer and why, in the words `transpile -v` prints."""
    size = (f"{len(tables.roots):,} trees, {tables.n_nodes:,} nodes, depth {tables.max_depth}, "
            f"largest tree {tables.largest_tree:,} nodes")
    if layout != "auto":
        return layout, f"asked for ({size})"
    if tables.max_depth > CODE_MAX_DEPTH:
        return "table", f"depth {tables.max_depth} > {CODE_MAX_DEPTH} nests too deep for code ({size})"
    if tables.n_nodes <= CODE_MAX_NODES:
        return "code", f"{tables.n_nodes:,} nodes <= {CODE_MAX_NODES:,} ({size})"
    if heap_eligible(tables):
        return "table", (f"{tables.n_nodes:,} nodes > {CODE_MAX_NODES:,} and complete trees walk "
                         f"fastest as heaps (depth <= {HEAP_MAX_DEPTH}) ({size})")
    if tables.n_nodes > CODE_DEEP_MAX_NODES:
        return "table", f"{tables.n_nodes:,} nodes > {CODE_DEEP_MAX_NODES:,} ({size})"
    if tables.largest_tree > max_tree_nodes:
        return "table", (f"a tree of {tables.largest_tree:,} nodes > {max_tree_nodes:,} per "
                         f"function ({size})")
    if not code_ok:
        return "table", f"over this language's compiler limits for code ({size})"
    return "code", (f"trees too deep for heaps, {tables.n_nodes:,} nodes <= {CODE_DEEP_MAX_NODES:,} "
                    f"and no tree over {max_tree_nodes:,} ({size})")


def float32_thresholds(thr: np.ndarray, op: str) -> np.ndarray:
    """The float32 thresholds that split float32 inputs exactly as the float64 ones do.

    For x <= t: the largest float32 <= t; for x < t: the smallest float32 >= t (no float32
    lies between those and t). Infinities and NaN stay what they are."""
    with np.errstate(over="ignore", invalid="ignore"):
        f = thr.astype(np.float32)
        wide = f.astype(np.float64)
        if op == "<=":
            return np.where(wide > thr, np.nextafter(f, np.float32(-np.inf)), f)
        return np.where(wide < thr, np.nextafter(f, np.float32(np.inf)), f)


def node_format(t: Tables, float32_features: bool) -> str:
    """`narrow` where the inputs are compared as float32 and every split's word has room for
    its jump (and category offsets fit a float32); else `wide`."""
    if not float32_features:
        return "wide"
    splits = t.word >= 0
    room = 31 - t.feature_bits - len(FLAGS)
    if int(t.jump[splits].max(initial=0)) >= 1 << room:
        return "wide"
    cats = splits & (t.word & t.flag("categorical") != 0)
    if int(t.thr[cats].max(initial=0)) >= FLOAT32_EXACT:
        return "wide"
    return "narrow"


def records(t: Tables, fmt: str, op: str) -> np.ndarray:
    """The node table as little-endian records of `fmt` (NODE_DTYPES)."""
    out = np.zeros(t.n_nodes, dtype=NODE_DTYPES[fmt])
    splits = t.word >= 0
    if fmt == "narrow":
        cats = splits & (t.word & t.flag("categorical") != 0) if t.has_categories else None
        thr = float32_thresholds(t.thr, op)
        if cats is not None:
            thr[cats] = t.thr[cats]
        out["thr"] = thr
        shift = t.feature_bits + len(FLAGS)
        out["word"] = np.where(splits, t.word | (t.jump.astype(np.int64) << shift), t.word)
    else:
        out["thr"], out["word"], out["jump"] = t.thr, t.word, t.jump
    return out


def _sections(t: Tables) -> list[tuple[str, np.ndarray, str]]:
    """The blob's sections after the nodes, in order: (name, values, little-endian layout)."""
    lin = t.linear or (np.zeros(0), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    leaf_type = "<f4" if t.leaf_value.dtype == np.float32 else "<f8"
    leaf_of = t.leaf_of if t.leaf_of is not None else np.zeros(0, np.int32)
    return [("leaf_of", leaf_of, "<i4"), ("leaf_value", t.leaf_value, leaf_type),
            ("cat_bits", t.cat_bits, "<u4"), ("tree_root", t.roots, "<i4"),
            ("tree_target", t.targets, "<i4"), ("tree_depth", t.depths, "<i4"),
            ("lin_const", lin[0], "<f8"), ("lin_start", lin[1], "<i4"),
            ("lin_feature", lin[2], "<i4"), ("lin_coef", lin[3], "<f8")]


def section_sizes(t: Tables) -> dict:
    """How many values each section of the blob holds, by name ("nodes" first)."""
    return {"nodes": t.n_nodes, **{name: len(values) for name, values, _ in _sections(t)}}


LEAF_GROUP = 32   # nodes per leaf mask in packed records


def packed_records(nodes: np.ndarray) -> bytes:
    """Node records with the leaves' dead fields left out: groups of LEAF_GROUP nodes, each a
    uint32 whose bit j marks node j of the group a leaf, then the group's nodes in order,
    whole at a split and only the word at a leaf. A full-depth forest is half leaves, so this
    cuts its records by a quarter (narrow) or more (wide)."""
    n = len(nodes)
    groups = -(-n // LEAF_GROUP)
    leaf = np.zeros(groups * LEAF_GROUP, dtype=bool)
    leaf[:n] = nodes["word"] < 0
    masks = np.packbits(leaf.reshape(groups, LEAF_GROUP), axis=1, bitorder="little")
    size = nodes.dtype.itemsize
    body = np.zeros(groups * LEAF_GROUP * size, dtype=np.uint8)
    body[:n * size] = np.frombuffer(nodes.tobytes(), dtype=np.uint8)
    keep = np.ones((groups * LEAF_GROUP, size), dtype=bool)
    word = nodes.dtype.fields["word"][1]
    keep[leaf] = False
    keep[leaf, word:word + 4] = True
    keep[n:] = False
    stream = np.concatenate([masks, body.reshape(groups, LEAF_GROUP * size)], axis=1)
    kept = np.concatenate([np.ones((groups, 4), dtype=bool), keep.reshape(groups, LEAF_GROUP * size)],
                          axis=1)
    return stream[kept].tobytes()


def blob(t: Tables, fmt: str, op: str, packed: bool = False) -> bytes:
    """The table layout's data as one little-endian file (Go embeds it, Java loads it, C
    compiles it in as text).

    "TRPL", version, node format (index in NODE_FORMATS), feature bits, then sections, each a
    uint32 count and its values: nodes (records, or packed_records when `packed`: C's text,
    where every byte costs compile time), then _sections: leaf_of i32 (heaps), leaf_value
    (f64 or f32), cat_bits u32, roots i32, targets i32, depths i32, lin_const f64, lin_start
    i32, lin_feature i32, lin_coef f64.
    """
    nodes = records(t, fmt, op)
    parts = [BLOB_MAGIC, struct.pack("<III", BLOB_VERSION, NODE_FORMATS.index(fmt), t.feature_bits),
             struct.pack("<I", len(nodes)), packed_records(nodes) if packed else nodes.tobytes()]
    for _, values, layout in _sections(t):
        parts.append(struct.pack("<I", len(values)))
        parts.append(np.ascontiguousarray(values, dtype=layout).tobytes())
    return b"".join(parts)


def subtree_cuts(tables: Tables, root: int, cost: np.ndarray, call_cost: int, budget: int) -> list[int]:
    """Where to cut one tree into subroutines so that no part costs more than `budget`.

    cost[n - root] is what node n adds to its function (say, bytes of code); a cut subtree costs its
    parent `call_cost`. Bottom-up (children follow their parent in preorder, so a reverse scan
    meets them first), a split whose part would exceed the budget hands its larger child, then
    the other, to a function of its own. Returns the cut nodes in preorder (not the root)."""
    end = root + tree_size(tables, root)
    nodes = np.arange(root, end)
    left, right = (k.tolist() for k in tables.children(nodes))
    split = (tables.word[root:end] >= 0).tolist()
    own = [int(c) for c in cost]
    part = [0] * (end - root)       # the cost of each node's part, by n - root
    cut = []
    for i in range(end - root - 1, -1, -1):
        c = own[i]
        if split[i]:
            kids = sorted((left[i] - root, right[i] - root), key=lambda k: -part[k])
            c += part[kids[0]] + part[kids[1]]
            for k in kids:
                if c <= budget:
                    break
                cut.append(k + root)
                c -= part[k] - call_cost
        part[i] = c
    return sorted(cut)


def tree_size(tables: Tables, root: int) -> int:
    """The number of nodes of the tree whose root is node `root` (its nodes follow it)."""
    later = tables.roots[tables.roots > root]
    return int(later.min() if len(later) else tables.n_nodes) - root


def tree_branches(tables: Tables, root: int, syntax, op: str, depth: int = 1,
                  calls: dict | None = None) -> list[str]:
    """The body of one tree's function as lines of `syntax`, walked with an explicit stack.
    The busier child comes first, so the hot path falls through (measured in C on LightGBM
    500 x 63, with the compiler told which way is likely: single rows ~1.15x, batches ~1.05x).
    `calls` maps nodes below the root to the call that returns their subtree's leaf
    (subtree_cuts)."""
    lines: list[str] = []
    stack: list[tuple[int, int] | tuple[str, int]] = [(root, depth)]
    while stack:
        item, d = stack.pop()
        pad = syntax.indent * d
        if isinstance(item, str):
            lines.append(pad + item)
            continue
        n = item
        if calls and n != root and n in calls:
            lines.append(pad + syntax.ret(calls[n]))
            continue
        if tables.is_leaf(n):
            lines.append(pad + syntax.ret(str(tables.leaf(n))))
            continue
        left, right = map(int, tables.children(n))
        cond = node_condition(tables, n, syntax, op)
        if tables.word[n] & tables.flag("swapped"):     # the busier child first
            cond, left, right = f"!({cond})", right, left
        if tables.has_swaps:    # training counts are known: the first child is the busier
            cond = syntax.likely(cond)
        lines.append(pad + syntax.if_open(cond))
        stack.append((syntax.block_close, d))
        stack.append((right, d + 1))
        stack.append((syntax.else_open, d))
        stack.append((left, d + 1))
    return lines


def node_condition(tables: Tables, n: int, syntax, op: str) -> str:
    """The test that sends node n's row left, with NaN (and zero-missing) routing folded in.

    NaN fails every comparison, so `!(x > t)` sends it left and `x <= t` sends it right."""
    v = f"x[{tables.feature(n)}]"
    word = int(tables.word[n])
    default_left = bool(word & tables.flag("default_left"))
    if word & tables.flag("categorical"):
        member = syntax.call_in_category(v, int(tables.thr[n]))
        cond = f"{syntax.is_nan(v)} || {member}" if default_left else member
    else:
        cond = syntax.split_test(v, op, syntax.double(float(tables.thr[n])), default_left)
    if word & tables.flag("zero_missing"):   # zeros are missing before any other test, as NaN is
        zero = syntax.is_zero(v)
        cond = f"{cond} || {zero}" if default_left else f"{cond} && !({zero})"
    return cond
