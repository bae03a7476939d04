"""An XGBoost model document (the dict of `save_raw("json")`, a .json or a .ubj file) -> ir.Model.

One code path for pickled objects and native files, and no xgboost import: objects are
turned into this document first. What XGBoost's predictor does, and how the IR says it:
- features narrowed to float32, `x < split_condition` in float32: feature_type "float32",
  op "<", thresholds holding the exact float32 values;
- NaN, and the `missing` value when it is not NaN, go to the node's default child:
  Ensemble.missing_value;
- categorical nodes send the listed categories RIGHT, everything else (other categories,
  negative or too large codes) left; the IR sends members left, so those nodes swap children
  and flip default_left; XGBoost's negative codes are never members: cat_negative "strict";
- leaves summed in float32 from the base score in margin space, trees in model order;
  dart scales each tree's output by its weight in float32, which we fold into the leaves:
  Booster.predict on a DMatrix adds leaf * w, inplace_predict (the sklearn wrappers' predict)
  adds ((base + leaf) - base) * w, base being the output's margin base score, all in float32;
- gblinear starts from bias + base score and adds x * w feature by feature in float32,
  skipping missing inputs: ir.Linear with accumulate "float32";
- the saved schema has changed since 1.0: base_score as "5E-1" or "[5E-1,...]", no
  split_type/categories before 1.5, no iteration_indptr before 2.0, vector leaves
  (size_leaf_vector > 1) since 2.0: one vector per node in base_weights in 2.x, the leaves'
  vectors in leaf_weights, indexed by right_children, since 3.2.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ir
from ..errors import InputError, OptionError, UnsupportedModelError
from .checks import MAX_FEATURES, MAX_OUTPUTS
from .xgb_objectives import check_outputs, objective_info, parse_base_score, to_margin

MAX_CATEGORY = 1 << 24   # XGBoost treats codes >= 2**24 as invalid (never members)


def _int(value, what: str) -> int:
    try:
        return int(float(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"the model's {what} is {value!r}, not an integer; "
                         "save the model again") from None


def _array(tree: dict, key: str, dtype, n: int | None = None, default=None) -> np.ndarray:
    if key not in tree:
        if default is not None:
            return np.full(n, default, dtype=dtype)
        raise InputError(f"a tree in the model has no {key!r}; the file is not a complete "
                         "XGBoost model, save it again")
    arr = np.asarray(tree[key])
    if arr.dtype == object or arr.ndim != 1 and arr.size:
        raise InputError(f"a tree's {key!r} is not a flat list of numbers; save the model again")
    if np.issubdtype(dtype, np.integer) and arr.size and arr.dtype.kind not in "iub":
        as_float = arr.astype(np.float64) if arr.dtype.kind == "f" else None
        if as_float is None or not (np.isfinite(as_float).all()
                                    and (as_float == np.round(as_float)).all()
                                    and np.abs(as_float).max() < 2.0 ** 62):
            raise InputError(f"a tree's {key!r} holds a value that is not an integer; "
                             "the model file is corrupt, save it again")
    arr = arr.reshape(-1).astype(dtype)
    if n is not None and len(arr) != n:
        raise InputError(f"a tree's {key!r} has {len(arr)} entries for {n} nodes; "
                         "the model file is corrupt, save it again")
    return arr


def _reachable(left: np.ndarray, right: np.ndarray, internal: np.ndarray):
    """None when every node hangs off the root once, else the reachable nodes in level order.

    Rejects children out of range and nodes with two parents (which includes every cycle that
    the root can reach). XGBoost numbers children after their parent, which proves the common
    case without a walk; pruned (deleted) nodes need the walk.
    """
    n = len(left)
    nodes = np.flatnonzero(internal)
    kids = np.concatenate([left[nodes], right[nodes]])
    if kids.size and (kids.min() < 0 or kids.max() >= n):
        raise InputError("a tree has a child index out of range; the model file is corrupt")
    parents = np.bincount(kids, minlength=n)
    if parents.max(initial=0) > 1 or parents[0]:
        raise InputError("a tree has a node reached twice (a cycle); the model file is corrupt")
    if np.all(kids > np.concatenate([nodes, nodes])) and parents[1:].all():
        return None
    return _walk(left, right, internal)


def _walk(left: np.ndarray, right: np.ndarray, internal: np.ndarray) -> np.ndarray:
    """Nodes reachable from the root, level by level (no recursion); rejects cycles/sharing."""
    n = len(left)
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    order = [np.array([0])]
    frontier = order[0]
    while frontier.size:
        inner = frontier[internal[frontier]]
        kids = np.concatenate([left[inner], right[inner]])
        if kids.size and (kids.min() < 0 or kids.max() >= n):
            raise InputError("a tree has a child index out of range; the model file is corrupt")
        if np.any(seen[kids]) or len(np.unique(kids)) != len(kids):
            raise InputError("a tree has a node reached twice (a cycle); the model file is corrupt")
        seen[kids] = True
        order.append(kids)
        frontier = kids
    return np.concatenate(order)


def _category_words(values: np.ndarray):
    cats = values[(values >= 0) & (values < MAX_CATEGORY)].astype(np.int64)
    if cats.size == 0:
        return (0,)
    words = np.zeros(int(cats.max()) // 32 + 1, dtype=np.uint64)
    np.bitwise_or.at(words, cats >> 5, np.uint64(1) << (cats & 31).astype(np.uint64))
    return tuple(int(w) for w in words)


def convert_tree(tree: dict, *, n_features: int, target: int, weight=1.0, base=None) -> ir.Tree:
    """One saved tree as an ir.Tree; `weight` is dart's weight_drop (1 for gbtree), and `base`
    (dart only) the margin base scores the inplace predictor adds and subtracts again."""
    if not isinstance(tree, dict):
        raise InputError("a tree in the model is not an object; the model file is corrupt")
    left = _array(tree, "left_children", np.int64)
    n = len(left)
    if n == 0:
        raise InputError("a tree in the model has no nodes; the model file is corrupt")
    right = _array(tree, "right_children", np.int64, n)
    cond = _array(tree, "split_conditions", np.float32, n)
    index = _array(tree, "split_indices", np.int64, n)
    default_left = _array(tree, "default_left", np.int64, n) != 0
    split_type = _array(tree, "split_type", np.int64, n, default=0)
    width = max(1, _int(tree.get("tree_param", {}).get("size_leaf_vector", 1), "size_leaf_vector"))

    internal = left >= 0
    if internal.any() and (index[internal].min() < 0 or index[internal].max() >= n_features):
        raise InputError(f"a tree splits on a feature outside 0..{n_features - 1}; "
                         "the model file is corrupt")
    if width == 1:
        values = np.where(internal, np.float32(0), cond)[:, None]
    elif "leaf_weights" not in tree:
        # XGBoost 2.x: no leaf_weights; every node's vector in base_weights, node by node.
        bw = _array(tree, "base_weights", np.float32)
        if bw.size != n * width:
            raise InputError("a vector-leaf tree's base_weights are not one vector per node; "
                             "the model file is corrupt")
        values = bw.reshape(n, width)
    else:
        lw = _array(tree, "leaf_weights", np.float32)
        if lw.size % width:
            raise InputError("a vector-leaf tree's leaf_weights do not divide by its width; "
                             "the model file is corrupt")
        lw = lw.reshape(-1, width)
        slot = right[~internal]
        if slot.size and (slot.min() < 0 or slot.max() >= len(lw)):
            raise InputError("a vector-leaf tree points at a missing leaf; "
                             "the model file is corrupt")
        values = np.zeros((n, width), dtype=np.float32)
        values[~internal] = lw[slot]
    if base is not None:
        b = np.asarray(base, dtype=np.float32)[target:target + width]
        values = (values + b) - b
    if base is not None or weight != 1:
        values = values * np.float32(weight)   # float32 product, as dart's predictor
    values = np.where(internal[:, None], np.float32(0), values)

    categorical = internal & (split_type == 1)
    cats = None
    if categorical.any():
        cats = [None] * n
        nodes = _array(tree, "categories_nodes", np.int64)
        segs = _array(tree, "categories_segments", np.int64, len(nodes))
        sizes = _array(tree, "categories_sizes", np.int64, len(nodes))
        flat = _array(tree, "categories", np.int64)
        for node, seg, size in zip(nodes.tolist(), segs.tolist(), sizes.tolist()):
            if not (0 <= node < n and 0 <= seg and 0 <= size and seg + size <= len(flat)):
                raise InputError("a tree's category lists are out of range; "
                                 "the model file is corrupt")
            cats[node] = _category_words(flat[seg:seg + size])
        for node in np.flatnonzero(categorical).tolist():
            if cats[node] is None:
                cats[node] = (0,)
        # XGBoost: listed categories go right. IR: members go left. Swap, and flip the default.
        left, right = np.where(categorical, right, left), np.where(categorical, left, right)
        default_left = np.where(categorical, ~default_left, default_left)

    count = _cover(tree, n)
    feature = np.where(internal, index, -1)
    threshold = np.where(internal & ~categorical, cond, np.float32(0)).astype(np.float64)
    left = np.where(internal, left, -1)
    right = np.where(internal, right, -1)
    default_left = default_left & internal

    order = _reachable(left, right, internal)
    if order is not None and len(order) != n:   # deleted (pruned) nodes: keep the reachable ones
        new = np.full(n, -1, dtype=np.int64)
        new[order] = np.arange(len(order))
        left = np.where(left[order] >= 0, new[np.maximum(left[order], 0)], -1)
        right = np.where(right[order] >= 0, new[np.maximum(right[order], 0)], -1)
        feature, threshold = feature[order], threshold[order]
        default_left, values = default_left[order], values[order]
        count = None if count is None else count[order]
        if cats is not None:
            cats = [cats[i] for i in order.tolist()]
    return ir.make_tree(feature, threshold, left, right, default_left, values, target=target,
                        categories=cats, leaf_dtype="float32", count=count)


def _cover(tree: dict, n: int) -> np.ndarray | None:
    """The cover (hessian sum) per node, which only orders the node tables: None when absent
    or not n finite numbers, since no prediction depends on it. XGBoost keeps it as float32,
    and a JSON file's decimals must read as the binary file's values."""
    try:
        arr = np.asarray(tree.get("sum_hessian", ()), dtype=np.float32).astype(np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None
    return arr if len(arr) == n and np.isfinite(arr).all() else None


class Spec:
    """What the caller knows that the document does not: how predict is called.

    proba: Score is XGBClassifier.predict_proba (else predict); binary_proba: for one sigmoid
    output, [1-p, p] (True) or p (False); None follows `proba`.
    """

    def __init__(self, *, proba: bool, use_best_iteration: bool, missing=float("nan"),
                 iteration_range=None, source: str = "xgboost.Booster", classes=None,
                 dart_inplace: bool = True, binary_proba=None):
        self.proba = proba
        self.binary_proba = proba if binary_proba is None else binary_proba
        self.dart_inplace = dart_inplace
        self.use_best_iteration = use_best_iteration
        self.missing = missing
        self.iteration_range = iteration_range
        self.source = source
        self.classes = classes


def _learner(doc) -> dict:
    if not isinstance(doc, dict) or not isinstance(doc.get("learner"), dict):
        raise InputError("the document has no 'learner' object, so it is not an XGBoost model; "
                         "save the model with booster.save_model('model.json')")
    return doc["learner"]


def _version(doc) -> str:
    v = doc.get("version")
    if isinstance(v, (list, tuple, np.ndarray)) and len(v):
        return ".".join(str(int(x)) for x in v)
    return ""


def _n_outputs(lmp: dict) -> int:
    num_class = _int(lmp.get("num_class", 0), "num_class")
    num_target = _int(lmp.get("num_target", 1), "num_target")
    n = num_class if num_class >= 2 else max(num_target, 1)
    if n > MAX_OUTPUTS:   # checked before anything is allocated per output
        raise InputError(f"the model claims {n} outputs (at most {MAX_OUTPUTS:,}); "
                         "the model file is corrupt")
    return n


def _missing_value(missing):
    """The float32 value XGBoost compares inputs with, or None when it is NaN."""
    if missing is None:
        return None
    m = float(missing)
    if math.isnan(m):
        return None
    return float(np.float32(m))


def _tree_range(gbm: dict, attributes: dict, spec: Spec, per_round: int, n_trees: int):
    """[first, last) tree indices that predict uses."""
    indptr = gbm.get("iteration_indptr")
    if indptr is not None and len(indptr):
        indptr = [int(v) for v in np.asarray(indptr).tolist()]
    else:
        indptr = list(range(0, n_trees + 1, per_round)) if per_round else [0]
        if indptr[-1] != n_trees:
            raise InputError(f"the model has {n_trees} trees, not a multiple of {per_round} "
                             "per round; the model file is corrupt")
    if indptr[-1] != n_trees:
        raise InputError("the model's iteration_indptr does not match its trees; "
                         "the model file is corrupt")
    n_rounds = len(indptr) - 1
    begin, end = 0, n_rounds
    if spec.iteration_range is not None:
        try:
            begin, end = (int(v) for v in spec.iteration_range)
        except (TypeError, ValueError):
            raise OptionError("iteration_range must be two integers (begin, end) of boosting "
                              "rounds, e.g. (0, 100)") from None
        if end == 0:
            end = n_rounds
    elif spec.use_best_iteration and attributes.get("best_iteration") is not None:
        end = _int(attributes["best_iteration"], "best_iteration") + 1
    if not 0 <= begin < end <= n_rounds:
        if spec.iteration_range is not None:
            raise OptionError(f"iteration_range {tuple(spec.iteration_range)} is outside the "
                              f"model's {n_rounds} rounds; pass (begin, end) with "
                              f"0 <= begin < end <= {n_rounds}")
        if n_rounds == 0:
            return 0, 0, n_rounds
        raise InputError(f"the model's best_iteration {end - 1} is past its {n_rounds} rounds; "
                         "the model file is corrupt")
    return indptr[begin], indptr[end], n_rounds


def _post(objective: str, post: str, task: str, n_out: int, spec: Spec):
    """(post, output_kind, classes) of Score, given predict's post-processor."""
    if post == "sigmoid" and n_out == 1 and spec.binary_proba:
        return "binary_sigmoid", "predict_proba", (0, 1)
    if post == "sigmoid" and spec.proba:        # multi-label: one probability per label
        return "sigmoid", "predict_proba", (0, 1)
    if not spec.proba or task != "classification":
        classes = tuple(range(n_out)) if post == "argmax" else ()
        return post, "predict", classes
    # XGBClassifier.predict_proba
    if objective in ("multi:softprob", "multi:softmax"):
        # softprob: XGBoost's softmax; softmax: predict_proba applies scipy's softmax to margins
        return "softmax", "predict_proba", tuple(range(n_out))
    if objective == "binary:logitraw":
        # predict_proba would return [1 - margin, margin]; the margin is the useful score
        return "identity", "decision_function", (0, 1)
    return post, "predict", (0, 1)      # binary:hinge: hard 0/1 labels


def _classes(spec: Spec, default: tuple) -> tuple:
    if spec.classes is None or not default:
        return default
    return tuple(c.item() if hasattr(c, "item") else c for c in spec.classes)


def convert(doc, spec: Spec) -> ir.Model:
    """The whole document as an ir.Model."""
    try:
        return _convert(doc, spec)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        raise InputError(f"the XGBoost model is malformed ({type(exc).__name__}: {exc}); "
                         "save it again with booster.save_model('model.json')") from exc


def _convert(doc, spec: Spec) -> ir.Model:
    learner = _learner(doc)
    objective = learner.get("objective", {}).get("name")
    if not isinstance(objective, str):
        raise InputError("the model has no objective name; save it again with a current xgboost")
    transform, post, task = objective_info(objective)
    lmp = learner.get("learner_model_param", {})
    n_features = _int(lmp.get("num_feature", 0), "num_feature")
    if not 0 <= n_features <= MAX_FEATURES:
        raise InputError(f"the model claims {n_features} features (at most {MAX_FEATURES:,}); "
                         "the model file is corrupt")
    n_out = _n_outputs(lmp)
    check_outputs(objective, n_out)
    if objective == "binary:logitraw" and _older(doc, (1, 3, 1)) and not _older(doc, (1, 0, 0)):
        transform = "logit"     # 1.0-1.3.0 made its base_score a margin as logistic does
    base = parse_base_score(lmp.get("base_score", "5E-1"))
    if len(base) == 1:
        base = base * n_out
    if len(base) != n_out:
        raise InputError(f"the model has {len(base)} base scores for {n_out} outputs; "
                         "the model file is corrupt")
    # xgb_binary marks files of xgboost < 1.0, which stored the margin itself
    base = to_margin(base, "identity" if learner.get("base_score_is_margin") else transform)
    booster = learner.get("gradient_booster", {})
    name = booster.get("name")
    attributes = learner.get("attributes") or {}
    names = learner.get("feature_names")
    names = tuple(str(s) for s in names) if names is not None and len(names) else ()
    post, kind, classes = _post(objective, post, task, n_out, spec)
    meta = {"objective": objective, "booster": name}
    if learner.get("legacy_binary"):
        meta["format"] = "legacy binary"

    if name == "gblinear":
        raw = _linear(booster.get("model", {}), n_features, n_out, base, spec)
    elif name in ("gbtree", "dart"):
        raw = _ensemble(booster, name, attributes, n_features, n_out, base, spec, meta,
                        base_last=learner.get("base_score_is_margin") or _older(doc, (1, 3, 0)))
    else:
        raise UnsupportedModelError(f"unsupported XGBoost booster {name!r}; "
                                    "use gbtree, dart or gblinear")
    cats = _categories_meta(booster, names)
    if cats:
        meta["categories"] = cats
    return ir.Model(n_features=n_features, raw=raw, post=post, task=task,
                    classes=_classes(spec, classes), feature_names=names, source=spec.source,
                    source_version=_version(doc), output_kind=kind, meta=meta)


def _older(doc, version: tuple) -> bool:
    """Whether the document records a writer older than `version` (major, minor, patch); a
    binary file records no patch, taken as the release's last."""
    v = doc.get("version")
    try:
        if v is None or len(v) < 2:
            return False
        mine = tuple(int(x) for x in list(v)[:3])
        return mine + (1 << 30,) * (3 - len(mine)) < version
    except (TypeError, ValueError):
        return False


def _ensemble(booster, name, attributes, n_features, n_out, base, spec, meta,
              base_last=False) -> ir.Ensemble:
    """base_last: the predictor of xgboost < 1.3 summed each output's leaves from 0 and added
    the base score last, in float32; a constant tree per output after the others says so."""
    if name == "dart":
        weights = np.asarray(booster.get("weight_drop", []), dtype=np.float32).reshape(-1)
        booster = booster.get("gbtree", {})
    gbm = booster.get("model", {})
    trees = gbm.get("trees", [])
    n_trees = len(trees)
    info = np.asarray(gbm.get("tree_info", [0] * n_trees), dtype=np.int64).reshape(-1)
    if len(info) != n_trees:
        raise InputError(f"the model has {n_trees} trees but {len(info)} tree_info entries; "
                         "the model file is corrupt")
    if name != "dart":
        weights = np.ones(n_trees, dtype=np.float32)
    elif len(weights) != n_trees:
        raise InputError(f"the dart model has {n_trees} trees but {len(weights)} weights; "
                         "the model file is corrupt")
    param = gbm.get("gbtree_model_param", {})
    parallel = max(1, _int(param.get("num_parallel_tree", 1), "num_parallel_tree"))
    vector = n_trees and _int(trees[0].get("tree_param", {}).get("size_leaf_vector", 1),
                              "size_leaf_vector") > 1
    per_round = parallel * (1 if vector else n_out)
    first, last, n_rounds = _tree_range(gbm, attributes, spec, per_round, n_trees)
    out = []
    for i in range(first, last):
        target = int(info[i])
        if not 0 <= target < n_out:
            raise InputError(f"tree {i} adds to output {target} of {n_out}; "
                             "the model file is corrupt")
        dart_base = base if name == "dart" and spec.dart_inplace and not base_last else None
        tree = convert_tree(trees[i], n_features=n_features, target=target, weight=weights[i],
                            base=dart_base)
        if tree.target + tree.width > n_out:
            raise InputError(f"tree {i} has {tree.width} leaf values for {n_out} outputs; "
                             "the model file is corrupt")
        out.append(tree)
    if base_last:
        out.extend(ir.make_tree([-1], [0.0], [-1], [-1], [False], [[b]], target=k,
                                leaf_dtype="float32") for k, b in enumerate(base))
        base = [np.float32(0)] * n_out
        meta["base_score_last"] = True
    meta.update(rounds=n_rounds, trees_used=[first, last])
    if attributes.get("best_iteration") is not None:
        meta["best_iteration"] = _int(attributes["best_iteration"], "best_iteration")
    return ir.Ensemble(trees=tuple(out), n_outputs=n_out, base_score=tuple(float(b) for b in base),
                       feature_type="float32", op="<", accumulate="float32", aggregation="sum",
                       cat_negative="strict", missing_value=_missing_value(spec.missing))


def _linear(model: dict, n_features: int, n_out: int, base, spec) -> ir.Linear:
    w = np.asarray(model.get("weights", []), dtype=np.float32).reshape(-1)
    if len(w) != (n_features + 1) * n_out:
        raise InputError(f"the gblinear model has {len(w)} weights, expected "
                         f"{(n_features + 1) * n_out}; the model file is corrupt")
    w = w.reshape(n_features + 1, n_out)
    # XGBoost starts each output at bias + base score and adds x * w feature by feature, in
    # float32. It adds the FIRST base score to every output (measured with 3.2 multi-class).
    intercept = np.array([w[n_features, k] + np.float32(base[0]) for k in range(n_out)],
                         dtype=np.float32)
    return ir.Linear(coef=ir.frozen_array(w[:n_features].T, np.float64),
                     intercept=ir.frozen_array(intercept, np.float64), accumulate="float32",
                     missing_value=_missing_value(spec.missing))


def _categories_meta(booster: dict, names: tuple) -> dict:
    """The training categories per categorical feature (3.1+ records them): code i means
    the i-th value. Reported in meta so users know which code to pass."""
    gbm = booster.get("gbtree", booster).get("model", {})
    cats = gbm.get("cats") or {}
    enc = cats.get("enc")
    if not enc:
        return {}
    out = {}
    for j, entry in enumerate(enc):
        if isinstance(entry, dict) and entry.get("values") is not None and len(entry["values"]):
            values = entry["values"]
            if "offsets" in entry:   # strings: one utf-8 blob cut by offsets
                offs = [int(v) for v in np.asarray(entry["offsets"]).tolist()]
                blob = bytes(int(v) & 0xFF for v in np.asarray(values).tolist())
                values = [blob[a:b].decode("utf-8", "replace") for a, b in zip(offs, offs[1:])]
            else:
                values = np.asarray(values).tolist()
            out[names[j] if j < len(names) else str(j)] = values
    return out
