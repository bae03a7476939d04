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

import codecs
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..errors import InputError
from . import json_doc
from .budget import Budget, current
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


# Reading under the load's Budget: the text arrives in pieces and only one tree's lines are kept
# at a time, a line may be at most MAX_LINE characters (LightGBM's longest, a tree's values,
# are a few MB: at most 131,072 leaves), a declared count (num_leaves, num_cat, features) is
# checked against the characters its values take before an array is allocated for it, and
# values are converted a piece of PIECE characters at a time.
MAX_LINE = 128 << 20
PIECE = 1 << 18
LINE_BYTES = 64         # a str object, its slot and its dict entry, plus 4 bytes a character
TREE_BYTES = 2048       # a TextTree and its arrays' headers, beyond the arrays' data
WORD_BYTES = 64         # a str kept from a list of words (feature names)


def parse(text, origin: str = "the model string", budget: Budget | None = None) -> TextModel:
    """Parse a LightGBM text model (a str, or an iterable of bytes pieces of the file); a
    malformed or truncated one raises InputError, one past `budget` (by default the active
    load's) BudgetError."""
    budget = budget or current(origin)
    pieces = _str_pieces(text) if isinstance(text, str) else _decoded(text, origin)
    try:
        return _parse(_Lines(pieces, budget), budget)
    except _Corrupt as exc:
        raise InputError(f"{origin} is not a readable LightGBM model ({exc}); save it again "
                         "with Booster.save_model or pass the trained model object") from None


def _str_pieces(text: str):
    for i in range(0, len(text), 1 << 20):
        yield text[i:i + (1 << 20)]


def _decoded(chunks, origin: str):
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in chunks:
            yield decoder.decode(chunk)
        yield decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputError(f"{origin} is not a readable LightGBM model (not UTF-8 text); "
                         "save it again with Booster.save_model") from None


class _Lines:
    """The lines of text arriving in pieces, one at a time (peek looks at the next without
    taking it). A line ends at LF, CRLF or CR; the text's final line end starts no line."""

    def __init__(self, pieces, budget: Budget):
        self._lines = self._split(pieces, budget)
        self._next = None

    @staticmethod
    def _split(pieces, budget):
        partial, size, held_cr = [], 0, ""
        for piece in pieces:
            budget.tick()
            piece = held_cr + piece
            held_cr = "\r" if piece.endswith("\r") else ""    # maybe the first half of CRLF
            if held_cr:
                piece = piece[:-1]
            parts = piece.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for part in parts[:-1]:
                if partial:
                    partial.append(part)
                    part, partial, size = "".join(partial), [], 0
                yield part
            size += len(parts[-1])
            if size > MAX_LINE:
                raise _Corrupt(f"a line is longer than {MAX_LINE:,} characters "
                               "(LightGBM writes none near that long)")
            if parts[-1]:
                partial.append(parts[-1])
        if held_cr or partial:      # the last line, ended by CR or by the end of the text
            yield "".join(partial)

    def peek(self):
        if self._next is None:
            self._next = next(self._lines, False)
        return self._next if self._next is not False else None

    def take(self):
        line = self.peek()
        self._next = None
        return line


def _charge_line(budget: Budget, line: str, what: str) -> None:
    budget.charge(LINE_BYTES + (len(line) if line.isascii() else 4 * len(line)), what)


def _parse(lines: _Lines, budget: Budget) -> TextModel:
    first = lines.take()
    if first is None or first.strip() != "tree":
        raise _Corrupt('it does not start with the line "tree"')
    header = _header(lines, budget)
    num_class = _int(header, "num_class")
    k = _int(header, "num_tree_per_iteration") if "num_tree_per_iteration" in header else num_class
    max_feature_idx = _int(header, "max_feature_idx")
    if not (1 <= num_class <= MAX_OUTPUTS and 1 <= k <= MAX_OUTPUTS
            and 0 <= max_feature_idx < MAX_FEATURES):
        raise _Corrupt("num_class, num_tree_per_iteration or max_feature_idx out of range")
    n_features = max_feature_idx + 1
    names = ()
    if header.get("feature_names", "").strip():
        names = _words(header["feature_names"], n_features, budget)
        if names is None:
            raise _Corrupt(f"feature_names does not list {n_features} features")
        names = tuple(names)
    # feature_infos ("[min:max]", "none", or categories "1:5:7") is unused, but LightGBM
    # requires one word per feature: a cut header lacks it
    infos = header.get("feature_infos")
    if infos is None or _count_words(infos, n_features) != n_features:
        raise _Corrupt(f"feature_infos is missing or does not list {n_features} features")

    # As in LightGBM's loader, the trees end at the first line that is neither a tree nor
    # blank: "end of trees" (v3 on), or directly "feature importances:" / "parameters:" in
    # files whose writer left that line out; the sections after them do not matter.
    trees = []
    ended = False
    while True:
        line = lines.peek()
        if line is None:
            break
        line = line.strip()
        if not line:
            lines.take()
        elif line.startswith("Tree="):
            lines.take()
            block = _block(lines, len(trees), budget)
            if lines.peek() is None:  # LightGBM ends every tree with a blank line
                raise _Corrupt(f"the file is truncated in tree {len(trees)}")
            budget.charge(TREE_BYTES, f"tree {len(trees)}")
            trees.append(_tree(block, len(trees), n_features, budget))
        else:
            ended = True
            break
    if "tree_sizes" in header:
        expected = _count_words(header["tree_sizes"], len(header["tree_sizes"]))
        if len(trees) != expected:  # LightGBM reads exactly this many trees, by byte offsets
            raise _Corrupt(f"the file has {len(trees)} trees where tree_sizes lists {expected}")
    if not trees and not ended:
        raise _Corrupt("the file ends before its trees")
    if len(trees) % k:
        raise _Corrupt(f"{len(trees)} trees is not a whole number of iterations of {k} trees")
    parameters, pandas_categorical = _trailer(lines, budget)
    return TextModel(
        version=header.get("version", ""), num_class=num_class, num_tree_per_iteration=k,
        max_feature_idx=max_feature_idx, objective=header.get("objective", "").strip(),
        average_output="average_output" in header, feature_names=names, trees=trees,
        parameters=parameters, pandas_categorical=pandas_categorical)


def _header(lines: _Lines, budget: Budget) -> dict:
    header = {}
    while True:
        line = lines.peek()
        if line is None or line.startswith("Tree=") or line.strip() == "end of trees":
            return header
        lines.take()
        key, _, value = line.partition("=")
        if key.strip():
            _charge_line(budget, line, "its header")
            header[key.strip()] = value


def _block(lines: _Lines, index: int, budget: Budget) -> dict:
    """key=value lines up to the next blank line (not taken)."""
    block = {}
    while True:
        line = lines.peek()
        if line is None or not line.strip():
            return block
        lines.take()
        key, eq, value = line.partition("=")
        if not eq:
            raise _Corrupt(f"line {line[:60]!r} inside tree {index} has no '='")
        _charge_line(budget, line, f"tree {index}")
        block[key.strip()] = value


def _int(d, key, where="the header"):
    if key not in d:
        raise _Corrupt(f"{where} has no {key}")
    try:
        return int(d[key])
    except ValueError:
        raise _Corrupt(f"{key}={d[key][:40]!r} in {where} is not an integer") from None


def _pieces(text: str):
    """text in pieces of about PIECE characters, cut at spaces (so no word is cut)."""
    start = 0
    while start < len(text):
        end = start + PIECE
        if end < len(text):
            cut = text.rfind(" ", start, end)
            if cut <= start:
                cut = text.find(" ", end, end + PIECE)
                if cut < 0 and end + PIECE < len(text):
                    raise _Corrupt(f"a word of more than {PIECE:,} characters")
            end = len(text) if cut < 0 else cut + 1
        yield text[start:end]
        start = end


def _count_words(text: str, most: int) -> int:
    """The number of whitespace-separated words in text, or most + 1 once past most."""
    count = 0
    for piece in _pieces(text):
        count += len(piece.split())
        if count > most:
            return most + 1
    return count


def _words(text: str, n: int, budget: Budget):
    """The words of text when there are exactly n, else None."""
    if n and 2 * n - 1 > len(text):
        return None
    budget.charge(8 * n + WORD_BYTES * n + 4 * len(text), "a list of names")
    words = []
    for piece in _pieces(text):
        words.extend(piece.split())
        if len(words) > n:
            return None
    return words if len(words) == n else None


def _array(block, key, n, dtype, where, budget, default=None):
    if key not in block:
        if default is not None:
            return default
        raise _Corrupt(f"{where} has no {key}")
    text = block[key]
    if n > 0 and 2 * n - 1 > len(text):     # each value takes a character and a separator
        raise _Corrupt(f"{where} has fewer than {n} values in {key}")
    budget.charge(n * np.dtype(dtype).itemsize, where)
    out = np.empty(n, dtype=dtype)
    count = 0
    try:
        for piece in _pieces(text):
            parts = piece.split()
            if count + len(parts) > n:
                raise _Corrupt(f"{where} has more than {n} values in {key}")
            out[count:count + len(parts)] = np.array(parts, dtype=dtype)
            count += len(parts)
            budget.tick()
    except (ValueError, OverflowError):
        raise _Corrupt(f"{where} has a value in {key} that is not a number") from None
    if count != n:
        raise _Corrupt(f"{where} has {count} values in {key}, expected {n}")
    return out


def _tree(block, index, n_features, budget) -> TextTree:
    where = f"tree {index}"
    n = _int(block, "num_leaves", where)
    num_cat = _int(block, "num_cat", where)
    if n < 1 or num_cat < 0:
        raise _Corrupt(f"{where} has num_leaves={n}, num_cat={num_cat}")
    leaf_value = _array(block, "leaf_value", n, np.float64, where, budget)
    is_linear = "is_linear" in block and _int(block, "is_linear", where) != 0
    m = n - 1
    empty_i = np.zeros(0, dtype=np.int64)
    if n > 1:
        split_feature = _array(block, "split_feature", m, np.int64, where, budget)
        threshold = _array(block, "threshold", m, np.float64, where, budget)
        decision_type = _array(block, "decision_type", m, np.int64, where, budget,
                               np.zeros(m, dtype=np.int64))
        left = _array(block, "left_child", m, np.int64, where, budget)
        right = _array(block, "right_child", m, np.int64, where, budget)
    else:
        split_feature, threshold, decision_type, left, right = (
            empty_i, np.zeros(0), empty_i, empty_i, empty_i)
    tree = TextTree(n, split_feature, threshold, decision_type, left, right, leaf_value,
                    is_linear=is_linear)
    if num_cat > 0:
        tree.cat_boundaries = _array(block, "cat_boundaries", num_cat + 1, np.int64, where, budget)
        words = tree.cat_boundaries[-1]
        bits = _array(block, "cat_threshold", int(max(words, 0)), np.int64, where, budget)
        if (np.diff(tree.cat_boundaries) < 0).any() or tree.cat_boundaries[0] != 0:
            raise _Corrupt(f"{where} has decreasing cat_boundaries")
        if ((bits < 0) | (bits > 0xFFFFFFFF)).any():
            raise _Corrupt(f"{where} has a cat_threshold word outside 32 bits")
        tree.cat_threshold = bits.astype(np.uint32)
    if is_linear:
        tree.leaf_const = _array(block, "leaf_const", n, np.float64, where, budget, np.zeros(n))
        counts = _array(block, "num_features", n, np.int64, where, budget,
                        np.zeros(n, dtype=np.int64))
        if (counts < 0).any():
            raise _Corrupt(f"{where} has a negative count in num_features")
        total = int(counts.sum())
        tree.num_features = counts
        tree.leaf_features = _array(block, "leaf_features", total, np.int64, where, budget)
        tree.leaf_coeff = _array(block, "leaf_coeff", total, np.float64, where, budget)
        if ((tree.leaf_features < 0) | (tree.leaf_features >= n_features)).any():
            raise _Corrupt(f"{where} has a linear-leaf feature index out of range")
    _check_structure(tree, num_cat, n_features, where, budget)
    tree.count = _counts(block, m, n, where, budget)
    return tree


def _counts(block, m, n, where, budget):
    """internal_count and leaf_count joined, or None when either is missing or malformed: they
    only order the node tables, no prediction depends on them."""
    try:
        inner = _array(block, "internal_count", m, np.float64, where, budget) if m else np.zeros(0)
        leaves = _array(block, "leaf_count", n, np.float64, where, budget)
    except _Corrupt:
        return None
    budget.charge(8 * (m + n), where)
    return np.concatenate([inner, leaves])


def _check_structure(t: TextTree, num_cat: int, n_features: int, where: str,
                     budget: Budget) -> None:
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
        budget.tick()
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


def _trailer(lines: _Lines, budget: Budget):
    parameters = {}
    pandas_categorical = None
    in_params = False
    while True:
        line = lines.take()
        if line is None:
            break
        line = line.strip()
        if line == "parameters:":
            in_params = True
        elif line == "end of parameters":
            in_params = False
        elif in_params and line.startswith("[") and line.endswith("]") and ":" in line:
            key, _, value = line[1:-1].partition(":")
            _charge_line(budget, line, "its parameters")
            parameters[key.strip()] = value.strip()
        elif line.startswith("pandas_categorical:"):
            try:
                pandas_categorical = json_doc.loads(
                    line[len("pandas_categorical:"):].encode("utf-8"), budget,
                    "its pandas_categorical line")
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

