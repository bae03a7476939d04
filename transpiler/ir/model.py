"""The intermediate representation: what every loader produces and every emitter consumes.

A model computes a raw vector (a linear map or a sum of trees), then applies one named
post-processor from a closed set. Trees are node tables, never nested objects, so no stage
has to recurse over tree depth and each emitter can choose its own layout.

Comparison semantics of a tree node (the same in the evaluator and in every language):

    x = input[feature]                       # float64 from the caller
    x = (float32) x      if ensemble.feature_type == "float32"
    if isnan(x) or (zero_missing[node] and |x| <= 1e-35f):  go default (default_left)
                                             # 1e-35f = 1.0000000180025095e-35, LightGBM's kZeroThreshold
    (missing too when ensemble.missing_value is set and x == missing_value: XGBoost's `missing`)
    elif node is categorical:  c = trunc(x); left  iff  0 <= c < 32*words and bit c is set
                               (with cat_negative == "strict", any x < 0 is no member)
    else:                      left  iff  x OP threshold      (OP is "<" or "<=")

Leaves add `leaf_value[node]` (length `width`) to outputs `target .. target+width-1`.
A tree with `linear` (LightGBM linear_tree, width 1) adds instead, at leaf n:

    v = linear.const[n]
    for j in linear.start[n] .. linear.start[n+1]-1:  v = v + linear.coef[j] * x[linear.feature[j]]
    if any of those x is NaN:  v = leaf_value[n]            (x read as for splits)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

FEATURE_TYPES = ("float32", "float64")
OPS = ("<", "<=")
AGGREGATIONS = ("sum", "mean")

# Post-processors: name -> (number of raw values in, number of outputs) as functions of k.
POSTPROCESSORS = (
    "identity",         # out = raw
    "sigmoid",          # out[i] = 1 / (1 + exp(-raw[i]))
    "binary_sigmoid",   # raw has 1 value: out = [1 - p, p] with p = sigmoid(raw)
    "softmax",          # out = exp(raw - max) / sum, the sum taken in float64 and rounded
    "ovr_normalize",    # p = sigmoid(raw); out = p / sum(p)   (one-vs-rest probabilities)
    "exp",              # out[i] = exp(raw[i])
    "modified_huber",   # p = (clip(raw, -1, 1) + 1) / 2; out = p / sum(p), all-zero -> 1/k
    "binary_modified_huber",  # raw has 1 value: p = (clip(raw, -1, 1) + 1) / 2; out = [1 - p, p]
    "hinge",            # out[i] = 1 if raw[i] > 0 else 0 (binary:hinge)
    "argmax",           # out = [index of the largest raw value] (multi:softmax)
    "softplus",         # out[i] = log1p(exp(raw[i])) (LightGBM 4.x cross_entropy_lambda)
    "signed_square",    # out[i] = sign(raw[i]) * raw[i] * raw[i], left to right (LightGBM reg_sqrt)
    # The following read Model.post_params (numbers; the layout is given with each).
    "ovo_votes",        # raw: one value d per class pair (i, j), i < j, in order (k classes):
                        #   d < 0 votes for j, anything else for i; conf[i] -= -d; conf[j] += -d;
                        #   out[c] = votes[c] + conf[c] / (3 * (|conf[c]| + 1))   (no params)
    "samme",            # params (W,): r = raw / W; k == 2: d = -r[0] + r[1], z = [-d / 2, d / 2];
                        #   else z = r / (k - 1); out = softmax(z) (as "softmax")
    "weighted_median",  # params: a weight per raw value. Raw values sorted ascending (ties in
                        #   raw order), weights summed in that order from 0.0 to cdf; out = [the
                        #   first sorted value with cdf >= 0.5 * total]
    "isolation",        # params (denominator, offset): out = -(2 ** -(raw / denominator)) - offset;
                        #   denominator 0 -> out = -(2 ** -1) - offset
    "calibrated",       # params: see CALIBRATED below
)
# "calibrated" (CalibratedClassifierCV): params = (n_classes, n_folds, n_records, records...,
# pool...). A record is 8 numbers (fold, source, target, kind, a, b, start, count), grouped by
# fold in order. Per fold: p = zeros(n_classes), resp = raw; for its records: v = resp[source];
#   kind 2 (one-vs-one votes, first in its fold): resp = "ovo_votes" of the `target`
#     classes' pair decisions raw[source ...] (multiclass SVC's decision_function)
#   kind 0 (sigmoid): p[target] = 1 / (1 + exp(a * v + b))
#   kind 1 (isotonic, np.interp after clipping): v = clip(v, a, b); xs = pool[start:start+count],
#     ys = pool[start+count:start+2*count]; count == 1 -> ys[0]; NaN -> NaN; else j = the last
#     index with xs[j] <= v: j < 0 -> ys[0]; j == count-1 or xs[j] == v -> ys[j]; else
#     (ys[j+1] - ys[j]) / (xs[j+1] - xs[j]) * (v - xs[j]) + ys[j]
# then n_classes == 2: p[0] = 1 - p[1]; else s = sum(p) in order from 0.0: p = p / s, or
# 1 / n_classes everywhere when s == 0; then values in (1, 1 + 1e-5] become 1. The output is
# the sum of the folds' p, in fold order from 0.0, divided by n_folds.
CALIBRATED_RECORD = 8
# sigmoid-family post-processors compute 1 / (1 + exp(-post_scale * raw)) (LightGBM's `sigmoid`)


def frozen_array(values, dtype) -> np.ndarray:
    """A read-only contiguous copy, so IR nodes can't be changed after construction."""
    arr = np.ascontiguousarray(np.array(values, dtype=dtype))
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class LeafLinear:
    """Linear models in the leaves of one tree, terms stored CSR-style (see the module docstring)."""

    const: np.ndarray            # float64 per node (0 at internal nodes)
    start: np.ndarray            # int32, n_nodes + 1: node n's terms are start[n] .. start[n+1]-1
    feature: np.ndarray          # int32 per term
    coef: np.ndarray             # float64 per term


@dataclass(frozen=True, eq=False)
class Tree:
    """One tree as parallel node arrays. Node 0 is the root; a leaf has left == -1."""

    feature: np.ndarray          # int32, -1 at leaves
    threshold: np.ndarray        # float64 (exact float32 values when feature_type is float32)
    left: np.ndarray             # int32, child taken when the test is true
    right: np.ndarray            # int32
    default_left: np.ndarray     # bool: where NaN (and zero_missing zeros) go
    leaf_value: np.ndarray       # (n_nodes, width) in the ensemble's accumulation type
    target: int = 0              # first output this tree adds to
    zero_missing: Optional[np.ndarray] = None       # bool per node, or None for all False
    categories: Optional[tuple] = None              # per node: tuple of uint32 words, or None
    linear: Optional[LeafLinear] = None             # linear leaf models, or None for constant leaves
    count: Optional[np.ndarray] = None              # float64 per node: the training samples (or
                                                    # hessian) that reached it, or None. Layout
                                                    # only: it never changes a prediction

    @property
    def n_nodes(self) -> int:
        return len(self.feature)

    @property
    def width(self) -> int:
        return self.leaf_value.shape[1]

    def is_leaf(self) -> np.ndarray:
        return self.left < 0

    def depth(self) -> int:
        """Longest root-to-leaf path in edges, computed without recursion."""
        depth = np.zeros(self.n_nodes, dtype=np.int64)
        best = 0
        stack = [0]
        while stack:
            node = stack.pop()
            if self.left[node] < 0:
                best = max(best, int(depth[node]))
                continue
            for child in (self.left[node], self.right[node]):
                depth[child] = depth[node] + 1
                stack.append(int(child))
        return best


def make_tree(feature, threshold, left, right, default_left, leaf_value, *, target=0,
              zero_missing=None, categories=None, leaf_dtype="float64", linear=None,
              count=None) -> Tree:
    """Build a Tree from array-likes, freezing every table."""
    leaf = np.asarray(leaf_value, dtype=leaf_dtype)
    if leaf.ndim == 1:
        leaf = leaf[:, None]
    zm = None
    if zero_missing is not None and np.any(zero_missing):
        zm = frozen_array(zero_missing, np.bool_)
    cats = None
    if categories is not None and any(c is not None for c in categories):
        cats = tuple(None if c is None else tuple(int(w) for w in c) for c in categories)
    lin = None
    if linear is not None:  # (const, start, feature, coef) array-likes
        const, start, feat, coef = linear
        assert leaf.shape[1] == 1 and len(start) == len(leaf) + 1
        lin = LeafLinear(const=frozen_array(const, np.float64), start=frozen_array(start, np.int32),
                         feature=frozen_array(feat, np.int32), coef=frozen_array(coef, np.float64))
    return Tree(
        feature=frozen_array(feature, np.int32),
        threshold=frozen_array(threshold, np.float64),
        left=frozen_array(left, np.int32),
        right=frozen_array(right, np.int32),
        default_left=frozen_array(default_left, np.bool_),
        leaf_value=frozen_array(leaf, leaf_dtype),
        target=int(target),
        zero_missing=zm,
        categories=cats,
        linear=lin,
        count=None if count is None else frozen_array(count, np.float64),
    )


@dataclass(frozen=True, eq=False)
class Ensemble:
    """Raw scores as a sum (or mean) of trees, plus a base score per output."""

    trees: tuple
    n_outputs: int
    base_score: tuple                   # per raw output, added first (margin space)
    feature_type: str = "float64"       # what features are narrowed to before comparing
    op: str = "<="
    accumulate: str = "float64"         # type of leaf values and of the running sum
    aggregation: str = "sum"            # "mean" divides each output by its tree count
    cat_negative: str = "trunc"         # "trunc": c = trunc(x) < 0 is no member; "strict": x < 0
    missing_value: Optional[float] = None   # x == this (after narrowing) is missing, like NaN

    def __post_init__(self):
        assert self.feature_type in FEATURE_TYPES and self.op in OPS
        assert self.accumulate in FEATURE_TYPES and self.aggregation in AGGREGATIONS
        assert len(self.base_score) == self.n_outputs

    def trees_per_output(self) -> np.ndarray:
        counts = np.zeros(self.n_outputs, dtype=np.int64)
        for t in self.trees:
            counts[t.target:t.target + t.width] += 1
        return counts


@dataclass(frozen=True, eq=False)
class Linear:
    """Raw scores as coef @ x + intercept, in float64, features read in order.

    accumulate == "float32" is XGBoost's gblinear instead: x narrowed to float32, then
        out = intercept;  for j in order:  if x[j] is not NaN and != missing_value:
                                               out = out + x[j] * coef[j]   (float32 * and +)
    """

    coef: np.ndarray        # (n_outputs, n_features)
    intercept: np.ndarray   # (n_outputs,)
    accumulate: str = "float64"             # "float32": the XGBoost order and types above
    missing_value: Optional[float] = None   # float32 only: x == this is skipped, like NaN

    @property
    def n_outputs(self) -> int:
        return self.coef.shape[0]


@dataclass(frozen=True, eq=False)
class Model:
    """A whole model: raw scores, a post-processor, and what the generated code reports."""

    n_features: int                     # width of the caller's row (before `pre`)
    raw: object                         # Ensemble | Linear | Kernel
    post: str = "identity"
    post_scale: float = 1.0             # sigmoid slope; 1.0 everywhere but LightGBM's `sigmoid`
    task: str = "regression"            # "regression" | "classification" | "ranking"
    classes: tuple = ()
    feature_names: tuple = ()
    source: str = ""                    # e.g. "sklearn.tree.DecisionTreeRegressor"
    source_version: str = ""
    output_kind: str = "predict"        # "predict" | "predict_proba" | "decision_function"
    meta: dict = field(default_factory=dict)
    pre: tuple = ()                     # preprocessing steps (ir.preprocess); input -> raw stage
    post_params: tuple = ()             # numbers for the post-processors that need them

    def __post_init__(self):
        assert self.post in POSTPROCESSORS, self.post
        if self.pre:
            from .preprocess import check_chain

            assert check_chain(self.pre, self.n_features) == self.n_x

    @property
    def n_x(self) -> int:
        """Width of the vector the raw stage reads: n_features after the preprocessing steps."""
        if not self.pre:
            return self.n_features
        from .preprocess import chain_width

        return chain_width(self.pre, self.n_features)

    @property
    def n_outputs(self) -> int:
        """Length of the vector Score returns."""
        k = self.raw.n_outputs
        if self.post in ("binary_sigmoid", "binary_modified_huber"):
            return 2
        if self.post in ("argmax", "weighted_median"):
            return 1
        if self.post == "ovo_votes":
            return int(round((1 + (1 + 8 * k) ** 0.5) / 2))
        if self.post == "calibrated":
            return int(self.post_params[0])
        return k
