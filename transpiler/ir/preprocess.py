"""Preprocessing: steps that turn the caller's row into the vector the raw stage reads.

`Model.pre` is a tuple of steps applied in order; each maps a float64 vector x of width n_in
to a vector y of width `out_width(step, n_in)`. Per element, in float64 and in this order:

    Elementwise(op, v)   y[j] = x[j] OP v[j]          OP one of + - * /  (scalers)
    Clip(lo, hi)         y[j] = lo if x[j] < lo, hi if x[j] > hi, else x[j]   (NaN stays NaN)
    Impute(fill, m)      y[j] = fill[j] if x[j] is missing else x[j]
    Indicator(m)         y[j] = 1.0 if x[j] is missing else 0.0
                         (missing: NaN when m is None, else x[j] == m)
    Binarize(t)          y[j] = 1.0 if x[j] > t else 0.0        (NaN -> 0.0)
    Normalize(norm)      s = sum |x[j]| (l1), sqrt(sum x[j] * x[j]) (l2) or max |x[j]| (max),
                         summed in order from 0.0 (max: s = |x[j]| when |x[j]| > s);
                         s < 10 * eps(float64) -> s = 1.0;
                         y[j] = x[j] / s
    Select(index)        y[k] = x[index[k]]
    Products(left, right)  y[k] = a * b with a = y[left[k]] (left[k] < k) or 1.0 when -1,
                         b = x[right[k]] or 1.0 when -1 (polynomial terms, built one factor
                         at a time as scikit-learn does)
    Encode(start, values, unknown, missing)  per feature j: the sorted known values are
                         values[start[j] .. start[j+1]-1]; y[j] = the position of x[j] among
                         them (exact equality), missing[j] when x[j] is NaN, else `unknown`
    Concat(parts)        y = the outputs of each part (a tuple of steps run on x), joined

Concat nests a bounded number of times (pipeline structure, not model size), so walking
steps recursively is safe.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

ELEMENTWISE_OPS = ("+", "-", "*", "/")
NORMS = ("l1", "l2", "max")
EPS10 = 10 * float(np.finfo(np.float64).eps)   # scikit-learn's _handle_zeros_in_scale cut-off


def _frozen(values, dtype) -> np.ndarray:
    arr = np.ascontiguousarray(np.array(values, dtype=dtype))
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Elementwise:
    op: str
    values: np.ndarray          # float64 per feature

    def __post_init__(self):
        assert self.op in ELEMENTWISE_OPS, self.op


@dataclass(frozen=True, eq=False)
class Clip:
    lo: float
    hi: float


@dataclass(frozen=True, eq=False)
class Impute:
    fill: np.ndarray            # float64 per feature
    missing: Optional[float] = None     # None: NaN is missing


@dataclass(frozen=True, eq=False)
class Indicator:
    missing: Optional[float] = None


@dataclass(frozen=True, eq=False)
class Binarize:
    threshold: float


@dataclass(frozen=True, eq=False)
class Normalize:
    norm: str

    def __post_init__(self):
        assert self.norm in NORMS, self.norm


@dataclass(frozen=True, eq=False)
class Select:
    index: np.ndarray           # int32 per output


@dataclass(frozen=True, eq=False)
class Products:
    left: np.ndarray            # int32 per output: an earlier output, or -1 for 1.0
    right: np.ndarray           # int32 per output: an input feature, or -1 for 1.0


@dataclass(frozen=True, eq=False)
class Encode:
    start: np.ndarray           # int32, n_features + 1
    values: np.ndarray          # float64, sorted known values of each feature in turn
    unknown: float              # the code of a value that is not known
    missing: np.ndarray         # float64 per feature: the code of NaN


@dataclass(frozen=True, eq=False)
class Concat:
    parts: tuple                # tuples of steps, each run on the same input


STEPS = (Elementwise, Clip, Impute, Indicator, Binarize, Normalize, Select, Products, Encode,
         Concat)


def elementwise(op, values) -> Elementwise:
    return Elementwise(op, _frozen(values, np.float64))


def impute(fill, missing=None) -> Impute:
    return Impute(_frozen(fill, np.float64), None if missing is None else float(missing))


def select(index) -> Select:
    return Select(_frozen(index, np.int32))


def products(left, right) -> Products:
    return Products(_frozen(left, np.int32), _frozen(right, np.int32))


def encode(categories, unknown=float("nan"), missing=float("nan")) -> Encode:
    """categories: per feature, its sorted known values; missing: one code or one per feature."""
    start = np.concatenate([[0], np.cumsum([len(c) for c in categories])])
    values = np.concatenate([np.asarray(c, dtype=np.float64) for c in categories]) \
        if len(categories) else np.zeros(0)
    missing = np.broadcast_to(np.asarray(missing, dtype=np.float64), (len(categories),))
    return Encode(_frozen(start, np.int32), _frozen(values, np.float64), float(unknown),
                  _frozen(missing, np.float64))


def out_width(step, n_in: int) -> int:
    if isinstance(step, Select):
        return len(step.index)
    if isinstance(step, Products):
        return len(step.left)
    if isinstance(step, Encode):
        return len(step.start) - 1
    if isinstance(step, Concat):
        return sum(chain_width(part, n_in) for part in step.parts)
    return n_in


def chain_width(steps, n_in: int) -> int:
    for step in steps:
        n_in = out_width(step, n_in)
    return n_in


def check_chain(steps, n_in: int) -> int:
    """Validate widths and indices of a chain; returns its output width."""
    for step in steps:
        assert isinstance(step, STEPS), type(step).__name__
        if isinstance(step, (Elementwise, Impute)):
            arr = step.values if isinstance(step, Elementwise) else step.fill
            assert len(arr) == n_in, (type(step).__name__, len(arr), n_in)
        elif isinstance(step, Select):
            assert len(step.index) == 0 or (step.index.min() >= 0 and step.index.max() < n_in)
        elif isinstance(step, Products):
            k = np.arange(len(step.left))
            assert np.all(step.left < k) and np.all(step.right < n_in)
        elif isinstance(step, Encode):
            assert len(step.start) - 1 == n_in
        elif isinstance(step, Concat):
            for part in step.parts:
                check_chain(part, n_in)
        n_in = out_width(step, n_in)
    return n_in
