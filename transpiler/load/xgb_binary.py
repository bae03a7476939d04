"""XGBoost's legacy binary model format (and the pickled booster buffers that wrap it) -> the
model document of xgb_model.convert, so old files take the same path as .json/.ubj ones.

The layout, as xgboost 0.7x-2.x reads it (little-endian, C structs written raw):
- optional magic "binf" (written by 1.2+ and by the R/JVM packages);
- LearnerModelParam, 136 bytes: base_score f32, num_feature u32, num_class i32,
  contain_extra_attrs i32, contain_eval_metrics i32, major_version u32 and minor_version u32
  (0 before 1.0), num_target u32 (2.0+; 0 earlier means 1), boost_from_average, reserved;
- the objective name and the booster name, each a u64 length and bytes (files of xgboost
  < 0.6 could store the length in the high half of the u64 followed by a 4-byte gap);
- gbtree/dart: GBTreeModelParam, 160 bytes (num_trees i32, then num_roots before 1.0 or
  num_parallel_tree since 1.7, both 1 for plain boosting); each tree: TreeParam, 148 bytes
  (num_nodes i32 at 4, num_deleted i32 at 8, size_leaf_vector i32 at 20), num_nodes nodes of
  20 bytes (parent i32, left i32, right i32, sindex u32 whose top bit is default_left and
  whose all-ones value marks a deleted node, leaf value or threshold f32), num_nodes stats
  of 16 bytes (loss_chg, sum_hess, base_weight f32, leaf_child_cnt i32), and before 1.0 a
  leaf vector (u64 count, f32s) when size_leaf_vector is not 0; then num_trees i32 tree_info;
  dart adds its weight_drop (u64 count, f32s);
- gblinear: a 136-byte param, then the weights (u64 count, f32s), feature-major, biases last;
- when contain_extra_attrs: the attributes (u64 count, then string pairs); 1.0+ always write
  them, with the objective's configuration as JSON under "objective";
- before 1.0, count:poisson's max_delta_step and the eval metric names follow (unused here).
base_score: 1.0+ store it in output space (0.5 for a logistic model), as the JSON formats do;
before 1.0 the learner had already turned it into a margin (0 for that model) when it saved,
and used it as is.

Pickled Boosters hold one of: this format (0.x), "CONFIG-offset:" + i64 offset + this
format + the learner's JSON configuration (1.0 to 1.x), or a JSON/UBJSON object with "Model"
and "Config" (newer); read_serialized() reads all of them.
"""
from __future__ import annotations

import re
import struct

import numpy as np

from ..errors import InputError
from . import json_doc
from .budget import Budget, current
from .checks import MAX_FEATURES, MAX_OUTPUTS
from .xgb_ubjson import UBJSONError, decode

MAGIC = b"binf"
CONFIG_HEADER = b"CONFIG-offset:"
BASE64 = b"bs64"          # the base64 text form of xgboost <= 0.4x, refused since 0.6
LEARNER_PARAM = 136
GBTREE_PARAM = 160
TREE_PARAM = 148
LINEAR_PARAM = 136
_NODE = np.dtype([("parent", "<i4"), ("left", "<i4"), ("right", "<i4"), ("sindex", "<u4"),
                  ("value", "<f4")])
_STAT = np.dtype([("loss_chg", "<f4"), ("sum_hess", "<f4"), ("base_weight", "<f4"),
                  ("leaf_child_cnt", "<i4")])
_DELETED = 0xFFFFFFFF
_OBJECTIVE_NAME = re.compile(rb"[a-z]+:[a-z_]+\Z")
_NAME_PREFIX = re.compile(rb"[a-z]+(:[a-z_]*)?\Z")
_UBJ_MARKERS = (b"i", b"U", b"I", b"l", b"L", b"#", b"$")
# Python objects a parsed tree keeps beyond its arrays (dicts, array headers, strings): bytes
# charged to the budget per tree, and per node for the int64/float32 arrays made of its tables
TREE_BYTES = 2048
NODE_BYTES = 64
STRING_BYTES = 64       # a str object and its slot, plus 4 bytes a character at most


class FormatError(ValueError):
    """The bytes are not a well-formed binary model; the message says where."""


class _Reader:
    """Bounds-checked reads: every count is checked against the bytes left before use, and
    what is made of them charged to the budget."""

    def __init__(self, data: bytes, budget: Budget):
        self.data = memoryview(data)
        self.pos = 0
        self.budget = budget

    def left(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or n > self.left():
            raise FormatError(f"the file ends inside {what}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u64(self, what: str) -> int:
        return struct.unpack("<Q", self.take(8, what))[0]

    def string(self, what: str) -> str:
        n = self.u64(what)
        if n <= self.left():
            self.budget.charge(STRING_BYTES + 5 * n, what)     # the bytes, then the str
        return bytes(self.take(n, what)).decode("utf-8", "replace")

    def floats(self, what: str) -> np.ndarray:
        n = self.u64(what)
        if n > self.left() // 4:
            raise FormatError(f"{what} claims {n} values, more than the file holds")
        self.budget.charge(8 * n, what)
        return _quiet(np.frombuffer(self.take(4 * n, what), dtype="<f4"))

    def records(self, dtype: np.dtype, n: int, what: str) -> np.ndarray:
        if n < 0 or n > self.left() // dtype.itemsize:
            raise FormatError(f"{what} claims {n} entries, more than the file holds")
        return np.frombuffer(self.take(n * dtype.itemsize, what), dtype=dtype)


def sniff(head: bytes) -> bool:
    """A legacy binary model (an objective name right after the 136-byte parameter block) or a
    1.x serialised booster ("CONFIG-offset:")."""
    if head.startswith((CONFIG_HEADER, BASE64)):
        return True
    start = len(MAGIC) if head.startswith(MAGIC) else 0
    at = start + LEARNER_PARAM
    if len(head) < at + 8:
        return False
    n = struct.unpack_from("<Q", head, at)[0]
    if n >= 1 << 32:                       # the < 0.6 layout: length high, then a 4-byte gap
        n, at = n >> 32, at + 4
    name = head[at + 8:at + 8 + n]
    pattern = _OBJECTIVE_NAME if len(name) == n else _NAME_PREFIX    # a truncated file
    return 0 < n <= 64 and len(name) > 0 and pattern.match(name) is not None


def writer_version(data: bytes) -> str:
    """'xgboost < 1.0' or 'xgboost 1.7' for a binary model, from its parameter block."""
    start = len(MAGIC) if data[:4] == MAGIC else 0
    if len(data) < start + 28:
        return "xgboost"
    major, minor = struct.unpack_from("<II", data, start + 20)
    return "xgboost < 1.0" if major == 0 else f"xgboost {major}.{minor}"


def parse(data: bytes, budget: Budget | None = None) -> dict:
    """A legacy binary model as the document a JSON model file holds (xgb_model.convert).

    Raises FormatError for bytes that are not a complete model. Besides XGBoost's own keys the
    document says `legacy_binary`, and `base_score_is_margin` for files of xgboost < 1.0.
    What it builds is charged to `budget` (by default the active load's) and its clock checked
    per tree."""
    r = _Reader(data, budget or current("the binary model"))
    if bytes(data[:4]) == MAGIC:
        r.take(4, "the magic")
    (base_score, num_feature, num_class, extra_attrs, _metrics, major, minor,
     num_target) = struct.unpack("<fIiiiIII", r.take(32, "the learner parameters"))
    r.take(LEARNER_PARAM - 32, "the learner parameters")
    if num_feature > MAX_FEATURES:
        raise FormatError(f"it claims {num_feature} features (at most {MAX_FEATURES:,})")
    if not 0 <= num_class <= MAX_OUTPUTS or num_target > MAX_OUTPUTS:
        raise FormatError(f"it claims {max(num_class, num_target)} outputs "
                          f"(at most {MAX_OUTPUTS:,})")
    objective = _name(r, "the objective name")
    booster = r.string("the booster name")
    if booster in ("gbtree", "dart"):
        gbm = _gbtree(r, booster, old=major == 0)
    elif booster == "gblinear":
        gbm = _gblinear(r)
    else:
        raise FormatError(f"its booster is {booster[:40]!r}, not gbtree, dart or gblinear")
    attributes = {}
    if extra_attrs:
        count = r.u64("the attributes")
        if count > r.left() // 16:
            raise FormatError(f"it claims {count} attributes, more than the file holds")
        for _ in range(count):
            r.budget.tick()
            key = r.string("an attribute name")
            attributes[key] = r.string("an attribute value")
    attributes.pop("objective", None)       # the objective's configuration (1.0+)
    lmp = {"base_score": repr(float(base_score)), "num_feature": str(num_feature),
           "num_class": str(num_class), "num_target": str(max(num_target, 1))}
    learner = {"objective": {"name": objective}, "learner_model_param": lmp,
               "gradient_booster": gbm, "attributes": attributes,
               "base_score_is_margin": major == 0, "legacy_binary": True}
    doc = {"learner": learner}
    if major:
        doc["version"] = [major, minor]      # the patch release is not recorded
    return doc


def _name(r: _Reader, what: str) -> str:
    n = r.u64(what)
    if n >= 1 << 32:
        n >>= 32
        r.take(4, what)
    if n <= r.left():
        r.budget.charge(STRING_BYTES + 5 * n, what)
    return bytes(r.take(n, what)).decode("utf-8", "replace")


def _gbtree(r: _Reader, name: str, old: bool) -> dict:
    num_trees, parallel = struct.unpack("<ii", r.take(8, "the gbtree parameters"))
    r.take(GBTREE_PARAM - 8, "the gbtree parameters")
    smallest = TREE_PARAM + _NODE.itemsize + _STAT.itemsize + 4
    if num_trees < 0 or num_trees > r.left() // smallest:
        raise FormatError(f"it claims {num_trees} trees, more than the file holds")
    r.budget.charge(8 * num_trees, "the list of trees")
    trees = [_tree(r, i, old) for i in range(num_trees)]
    info = r.records(np.dtype("<i4"), num_trees, "tree_info").astype(np.int64)
    model = {"gbtree_model_param": {"num_trees": str(num_trees),
                                    "num_parallel_tree": str(max(parallel, 1))},
             "trees": trees, "tree_info": info}
    if name == "gbtree":
        return {"name": "gbtree", "model": model}
    weights = r.floats("the dart weights") if num_trees else np.zeros(0, np.float32)
    if len(weights) != num_trees:
        raise FormatError(f"the dart model has {len(weights)} weights for {num_trees} trees")
    return {"name": "dart", "gbtree": {"name": "gbtree", "model": model},
            "weight_drop": weights}


def _tree(r: _Reader, i: int, old: bool) -> dict:
    what = f"tree {i}"
    num_nodes, num_deleted, _, _, size_leaf_vector = struct.unpack(
        "<iiiii", r.take(TREE_PARAM, what)[4:24])
    if num_nodes <= 0:
        raise FormatError(f"{what} has {num_nodes} nodes")
    r.budget.check_time()
    if num_nodes <= r.left() // (_NODE.itemsize + _STAT.itemsize):
        r.budget.charge(TREE_BYTES + NODE_BYTES * num_nodes, what)
    nodes = r.records(_NODE, num_nodes, what)
    stats = r.records(_STAT, num_nodes, what)
    if old and size_leaf_vector != 0:
        r.floats(f"{what}'s leaf vector")      # never used by a prediction
    if (nodes["left"] < -1).any():
        raise FormatError(f"{what} has a child index below -1")
    deleted = nodes["sindex"] == _DELETED
    if int(deleted[1:].sum()) != num_deleted:
        raise FormatError(f"{what} marks {int(deleted[1:].sum())} deleted nodes, "
                          f"not {num_deleted}")
    # a deleted node is a leaf nobody reaches; convert_tree drops unreachable nodes
    leaf = (nodes["left"] == -1) | deleted
    left = np.where(leaf, -1, nodes["left"]).astype(np.int64)
    right = np.where(leaf, -1, nodes["right"]).astype(np.int64)
    return {"left_children": left, "right_children": right,
            "split_indices": np.where(leaf, 0, nodes["sindex"] & 0x7FFFFFFF).astype(np.int64),
            "split_conditions": _quiet(nodes["value"]),
            "default_left": (np.where(leaf, 0, nodes["sindex"] >> 31)).astype(np.int64),
            "sum_hessian": _quiet(stats["sum_hess"]),
            "tree_param": {"num_nodes": str(num_nodes), "size_leaf_vector": "1"}}


def _quiet(values: np.ndarray) -> np.ndarray:
    """float32 values with every NaN quiet: a signalling NaN's bits would warn when cast."""
    out = values.astype(np.float32)
    out[np.isnan(out)] = np.float32("nan")
    return out


def _gblinear(r: _Reader) -> dict:
    r.take(LINEAR_PARAM, "the gblinear parameters")
    return {"name": "gblinear", "model": {"weights": r.floats("the gblinear weights")}}


def read_serialized(raw: bytes, where: str = "the pickled XGBoost booster",
                    budget: Budget | None = None) -> dict:
    """The model document of the raw bytes a pickled xgboost Booster holds (its "handle"), or of
    a model file's bytes: legacy binary, 1.x "CONFIG-offset:" serialisation, JSON or UBJSON
    (a model, or a {"Model", "Config"} snapshot). InputError names the format when unreadable;
    what is built is charged to `budget` (by default the active load's)."""
    data = bytes(raw)
    budget = budget or current(where)
    if data.startswith(BASE64):
        raise InputError(f"{where} is an XGBoost model in the base64 form of xgboost 0.4 and "
                         "older, which no later release reads; load it with that release "
                         "and save it with save_model")
    if data.startswith(CONFIG_HEADER):
        return _serialised(data, where, budget)
    if data[:1] == b"{":
        return _snapshot(data, where, budget)
    if not sniff(data[:4096]):
        raise InputError(f"{where} holds neither a binary, JSON nor UBJSON XGBoost model; "
                         "save the model again with booster.save_model('model.json')")
    return parse_or_explain(data, where, budget)


def parse_or_explain(data: bytes, where: str, budget: Budget | None = None) -> dict:
    """parse(), with FormatError turned into the one-line InputError that names the format."""
    try:
        return parse(data, budget)
    except FormatError as exc:
        raise InputError(f"{where} is not a readable XGBoost binary model from "
                         f"{writer_version(data)} ({exc}); the file may be truncated, "
                         "save the model again") from None


def _serialised(data: bytes, where: str, budget: Budget) -> dict:
    """1.0-1.x pickles: the header, an i64 offset of the JSON config, the binary model, config."""
    at = len(CONFIG_HEADER)
    if len(data) < at + 8:
        raise InputError(f"{where} (a booster serialised by xgboost 1.x) ends inside its "
                         "header; the file is truncated, save the model again")
    offset = struct.unpack_from("<q", data, at)[0]
    body = memoryview(data)[at + 8:]       # no copies of a large booster
    if not 0 < offset <= len(body):
        raise InputError(f"{where} (a booster serialised by xgboost 1.x) has a configuration "
                         "offset outside the data; the file is corrupt, save the model again")
    return parse_or_explain(body[:offset], where, budget)


def _snapshot(data: bytes, where: str, budget: Budget) -> dict:
    try:
        if data[1:2] in _UBJ_MARKERS:
            doc = decode(data, budget)
        else:
            doc = json_doc.loads(data, budget)
    except (UBJSONError, ValueError, RecursionError) as exc:
        raise InputError(f"{where} is not a readable XGBoost JSON/UBJSON model ({exc}); "
                         "save the model again") from None
    if isinstance(doc, dict) and isinstance(doc.get("Model"), dict):
        return doc["Model"]
    return doc
