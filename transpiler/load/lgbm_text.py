"""LightGBM's native text model (save_model / model_to_string) -> plain arrays, no lightgbm needed.

The format (LightGBM's gbdt_model_text.cpp and tree.cpp): a header of `key=value` lines that
starts with the line "tree"; one block per tree that starts with "Tree=<i>" and ends at a blank
line; "end of trees" (left out by some writers); feature importances; "parameters:" ...
"end of parameters"; and, from the Python package, "pandas_categorical:<json>". Versions v2 to
v4 differ only in optional fields (tree_sizes, num_tree_per_iteration, is_linear, ...), which
default here as LightGBM's own loader defaults them. Line ends may be LF or CRLF. Values are
parsed with str.split and NumPy (correctly rounded, so the 17-digit numbers LightGBM writes
come back bit for bit).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import InputError
from .checks import MAX_FEATURES, MAX_OUTPUTS


@dataclass
class TextTree:
    """One tree as LightGBM stores it: internal nodes 0..n-2, leaf j referenced as ~j."""

    num_leaves: int
    split_feature: np.ndarray        # int64, n-1
    threshold: np.ndarray            # float64, n-1 (a cat_boundaries index at categorical nodes)
    decision_type: np.ndarray        # int64, n-1: bit 0 categorical, 1 default left, 2-3 missing
    left_child: np.ndarray           # int64, n-1
    right_child: np.ndarray          # int64, n-1
    leaf_value: np.ndarray           # float64, n
    cat_boundaries: Optional[np.ndarray] = None   # int64, num_cat + 1
    cat_threshold: Optional[np.ndarray] = None    # uint32 bitset words
    is_linear: bool = False
    leaf_const: Optional[np.ndarray] = None       # float64, n
    num_features: Optional[np.ndarray] = None     # int64, n: terms per leaf
    leaf_features: Optional[np.ndarray] = None    # int64, all leaves' terms in leaf order
    leaf_coeff: Optional[np.ndarray] = None       # float64, same length
    count: Optional[np.ndarray] = None            # float64, internal_count then leaf_count


@dataclass
class TextModel:
    version: str
    num_class: int
    num_tree_per_iteration: int
    max_feature_idx: int
    objective: str                   # "" when the file has no objective line (custom objective)
    average_output: bool             # random forest: predictions are averaged over iterations
    feature_names: tuple
    trees: list
    parameters: dict = field(default_factory=dict)   # the "[key: value]" lines, as strings
    pandas_categorical: object = None


class _Corrupt(Exception):
    """Raised inside the parser; parse() turns it into one InputError naming the source."""


def parse(text: str, origin: str = "the model string") -> TextModel:
    """Parse a LightGBM text model; a malformed or truncated one raises InputError."""
    try:
        return _parse(text)
    except _Corrupt as exc:
        raise InputError(f"{origin} is not a readable LightGBM model ({exc}); save it again "
                         "with Booster.save_model or pass the trained model object") from None


def _parse(text: str) -> TextModel:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it is not a blank line
    if not lines or lines[0].strip() != "tree":
        raise _Corrupt('it does not start with the line "tree"')
    header, pos = _header(lines)
    num_class = _int(header, "num_class")
    k = _int(header, "num_tree_per_iteration") if "num_tree_per_iteration" in header else num_class
    max_feature_idx = _int(header, "max_feature_idx")
    if not (1 <= num_class <= MAX_OUTPUTS and 1 <= k <= MAX_OUTPUTS
            and 0 <= max_feature_idx < MAX_FEATURES):
        raise _Corrupt("num_class, num_tree_per_iteration or max_feature_idx out of range")
    names = tuple(header.get("feature_names", "").split())
    if names and len(names) != max_feature_idx + 1:
        raise _Corrupt(f"{len(names)} feature names for {max_feature_idx + 1} features")
    # feature_infos ("[min:max]", "none", or categories "1:5:7") is unused, but LightGBM
    # requires one word per feature: a cut header lacks it
    infos = header.get("feature_infos")
    if infos is None or len(infos.split()) != max_feature_idx + 1:
        raise _Corrupt(f"feature_infos is missing or does not list {max_feature_idx + 1} features")

    # As in LightGBM's loader, the trees end at the first line that is neither a tree nor
    # blank: "end of trees" (v3 on), or directly "feature importances:" / "parameters:" in
    # files whose writer left that line out; the sections after them do not matter.
    trees = []
    ended = False
    while pos < len(lines):
        line = lines[pos].strip()
        if not line:
            pos += 1
        elif line.startswith("Tree="):
            block, pos = _block(lines, pos + 1, len(trees))
            if pos >= len(lines):  # LightGBM ends every tree with a blank line
                raise _Corrupt(f"the file is truncated in tree {len(trees)}")
            trees.append(_tree(block, len(trees), max_feature_idx + 1))
        else:
            ended = True
            break
    if "tree_sizes" in header:
        expected = len(header["tree_sizes"].split())
        if len(trees) != expected:  # LightGBM reads exactly this many trees, by byte offsets
            raise _Corrupt(f"the file has {len(trees)} trees where tree_sizes lists {expected}")
    if not trees and not ended:
        raise _Corrupt("the file ends before its trees")
    if len(trees) % k:
        raise _Corrupt(f"{len(trees)} trees is not a whole number of iterations of {k} trees")
    parameters, pandas_categorical = _trailer(lines, pos)
    return TextModel(
        version=header.get("version", ""), num_class=num_class, num_tree_per_iteration=k,
        max_feature_idx=max_feature_idx, objective=header.get("objective", "").strip(),
        average_output="average_output" in header, feature_names=names, trees=trees,
        parameters=parameters, pandas_categorical=pandas_categorical)


def _header(lines):
    header = {}
    pos = 1
    while (pos < len(lines) and not lines[pos].startswith("Tree=")
           and lines[pos].strip() != "end of trees"):
        key, _, value = lines[pos].partition("=")
        if key.strip():
            header[key.strip()] = value
        pos += 1
    return header, pos


def _block(lines, pos, index):
    """key=value lines up to the next blank line."""
    block = {}
    while pos < len(lines) and lines[pos].strip():
        key, eq, value = lines[pos].partition("=")
        if not eq:
            raise _Corrupt(f"line {lines[pos][:60]!r} inside tree {index} has no '='")
        block[key.strip()] = value
        pos += 1
    return block, pos


def _int(d, key, where="the header"):
    if key not in d:
        raise _Corrupt(f"{where} has no {key}")
    try:
        return int(d[key])
    except ValueError:
        raise _Corrupt(f"{key}={d[key][:40]!r} in {where} is not an integer") from None


def _array(block, key, n, dtype, where, default=None):
    if key not in block:
        if default is not None:
            return default
        raise _Corrupt(f"{where} has no {key}")
    parts = block[key].split()
    if len(parts) != n:
        raise _Corrupt(f"{where} has {len(parts)} values in {key}, expected {n}")
    try:
        return np.array(parts, dtype=dtype) if parts else np.zeros(0, dtype=dtype)
    except (ValueError, OverflowError):
        raise _Corrupt(f"{where} has a value in {key} that is not a number") from None


def _tree(block, index, n_features) -> TextTree:
    where = f"tree {index}"
    n = _int(block, "num_leaves", where)
    num_cat = _int(block, "num_cat", where)
    if n < 1 or num_cat < 0:
        raise _Corrupt(f"{where} has num_leaves={n}, num_cat={num_cat}")
    leaf_value = _array(block, "leaf_value", n, np.float64, where)
    is_linear = "is_linear" in block and _int(block, "is_linear", where) != 0
    m = n - 1
    empty_i = np.zeros(0, dtype=np.int64)
    if n > 1:
        split_feature = _array(block, "split_feature", m, np.int64, where)
        threshold = _array(block, "threshold", m, np.float64, where)
        decision_type = _array(block, "decision_type", m, np.int64, where,
                               np.zeros(m, dtype=np.int64))
        left = _array(block, "left_child", m, np.int64, where)
        right = _array(block, "right_child", m, np.int64, where)
    else:
        split_feature, threshold, decision_type, left, right = (
            empty_i, np.zeros(0), empty_i, empty_i, empty_i)
    tree = TextTree(n, split_feature, threshold, decision_type, left, right, leaf_value,
                    is_linear=is_linear)
    if num_cat > 0:
        tree.cat_boundaries = _array(block, "cat_boundaries", num_cat + 1, np.int64, where)
        words = tree.cat_boundaries[-1]
        bits = _array(block, "cat_threshold", int(max(words, 0)), np.int64, where)
        if (np.diff(tree.cat_boundaries) < 0).any() or tree.cat_boundaries[0] != 0:
            raise _Corrupt(f"{where} has decreasing cat_boundaries")
        if ((bits < 0) | (bits > 0xFFFFFFFF)).any():
            raise _Corrupt(f"{where} has a cat_threshold word outside 32 bits")
        tree.cat_threshold = bits.astype(np.uint32)
    if is_linear:
        tree.leaf_const = _array(block, "leaf_const", n, np.float64, where, np.zeros(n))
        counts = _array(block, "num_features", n, np.int64, where, np.zeros(n, dtype=np.int64))
        if (counts < 0).any():
            raise _Corrupt(f"{where} has a negative count in num_features")
        total = int(counts.sum())
        tree.num_features = counts
        tree.leaf_features = _array(block, "leaf_features", total, np.int64, where)
        tree.leaf_coeff = _array(block, "leaf_coeff", total, np.float64, where)
        if ((tree.leaf_features < 0) | (tree.leaf_features >= n_features)).any():
            raise _Corrupt(f"{where} has a linear-leaf feature index out of range")
    _check_structure(tree, num_cat, n_features, where)
    tree.count = _counts(block, m, n, where)
    return tree


def _counts(block, m, n, where):
    """internal_count and leaf_count joined, or None when either is missing or malformed: they
    only order the node tables, no prediction depends on them."""
    try:
        inner = _array(block, "internal_count", m, np.float64, where) if m else np.zeros(0)
        leaves = _array(block, "leaf_count", n, np.float64, where)
    except _Corrupt:
        return None
    return np.concatenate([inner, leaves])


def _check_structure(t: TextTree, num_cat: int, n_features: int, where: str) -> None:
    """Every internal node and leaf reached exactly once from the root: no cycles, no orphans."""
    m = t.num_leaves - 1
    if m == 0:
        return
    if ((t.split_feature < 0) | (t.split_feature >= n_features)).any():
        raise _Corrupt(f"{where} splits on a feature index out of range")
    children = np.concatenate([t.left_child, t.right_child])
    if ((children >= m) | (children < -t.num_leaves) | (children == 0)).any():
        raise _Corrupt(f"{where} has a child index out of range")
    internal = np.sort(children[children >= 0])
    leaves = np.sort(~children[children < 0])
    if not (np.array_equal(internal, np.arange(1, m)) and np.array_equal(leaves, np.arange(m + 1))):
        raise _Corrupt(f"{where} is not a tree (a node is reached twice or never)")
    seen = 0
    stack = [0]
    while stack:  # each internal node has one parent, so reaching m nodes rules out cycles
        node = stack.pop()
        seen += 1
        if seen > m:
            raise _Corrupt(f"{where} has a cycle")
        stack.extend(int(c) for c in (t.left_child[node], t.right_child[node]) if c >= 0)
    if seen != m:
        raise _Corrupt(f"{where} has nodes unreachable from the root")
    cat = (t.decision_type & 1).astype(bool)
    if cat.any():
        idx = t.threshold[cat]
        if num_cat == 0 or ((idx < 0) | (idx >= num_cat) | (idx != np.floor(idx))).any():
            raise _Corrupt(f"{where} has a categorical split without its bitset")


def _trailer(lines, pos):
    parameters = {}
    pandas_categorical = None
    in_params = False
    for line in lines[pos:]:
        line = line.strip()
        if line == "parameters:":
            in_params = True
        elif line == "end of parameters":
            in_params = False
        elif in_params and line.startswith("[") and line.endswith("]") and ":" in line:
            key, _, value = line[1:-1].partition(":")
            parameters[key.strip()] = value.strip()
        elif line.startswith("pandas_categorical:"):
            try:
                pandas_categorical = json.loads(line[len("pandas_categorical:"):])
            except ValueError:
                raise _Corrupt("the pandas_categorical line is not valid JSON") from None
    return parameters, pandas_categorical


def _pow10(power: int) -> float:
    """LightGBM's Common::Pow(10.0, power): the same products, associated the same way."""
    base, factors = 10.0, []
    while power > 0:  # Pow(b, p) = Pow(b*b, p/2) | Pow(b*b*b, p/3) | b * Pow(b, p-1)
        if power % 2 == 0:
            base, power = base * base, power // 2
        elif power % 3 == 0:
            base, power = base * base * base, power // 3
        else:
            factors.append(base)
            power -= 1
    result = 1.0
    for f in reversed(factors):  # b1 * (b2 * (... * 1.0))
        result = f * result
    return result


def lightgbm_atof(text: str) -> float:
    """A number as LightGBM's Common::Atof reads it (not correctly rounded).

    LightGBM reads objective parameters such as "sigmoid:6.81" with this parser, and
    float("6.81") differs from it in the last bit for about 1 value in 70.
    """
    p, i, n = text.strip(" "), 0, len(text.strip(" "))
    sign = 1.0
    if p[:1] in "+-" and p:
        sign, i = (-1.0 if p[0] == "-" else 1.0), 1
    if i >= n or not (p[i].isdigit() or p[i] in ".eE"):
        raise ValueError(f"not a number: {text!r}")
    value = 0.0
    while i < n and p[i].isdigit():
        value, i = value * 10.0 + int(p[i]), i + 1
    if i < n and p[i] == ".":
        right, digits, i = 0.0, 0, i + 1
        while i < n and p[i].isdigit():
            right, digits, i = int(p[i]) + right * 10.0, digits + 1, i + 1
        value += right / _pow10(digits)
    negative_exp, scale = False, 1.0
    if i < n and p[i] in "eE":
        i += 1
        if i < n and p[i] in "+-":
            negative_exp, i = p[i] == "-", i + 1
        expon = 0
        while i < n and p[i].isdigit():
            expon, i = expon * 10 + int(p[i]), i + 1
        expon = min(expon, 308)
        while expon >= 50:
            scale, expon = scale * 1e50, expon - 50
        while expon >= 8:
            scale, expon = scale * 1e8, expon - 8
        while expon > 0:
            scale, expon = scale * 10.0, expon - 1
    if i != n:
        raise ValueError(f"not a number: {text!r}")
    return sign * (value / scale if negative_exp else value * scale)

