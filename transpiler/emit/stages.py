"""Template context for the stages around the raw scores: preprocessing steps, kernel
machines, and the numbers of post-processors that take parameters.

Preprocessing is lowered to a flat list of ops over one scratch vector `b` (the caller's row
at 0 .. n_in-1, then a fresh region for each op's output), so templates only loop; a Concat
becomes its parts' ops followed by a gather of their outputs. Every op does per element what
ir.preprocess specifies, in the same order.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ir
from ..ir import preprocess as pp
from ..ir.evaluate import calibration_records


class _Lowering:
    def __init__(self, target):
        self.target = target
        self.ops = []
        self.arrays = {}          # logical name -> (dtype, values)
        self.size = 0

    def region(self, n: int) -> int:
        start = self.size
        self.size += n
        return start

    def array(self, op_index: int, what: str, dtype: str, values) -> str:
        name = f"pre{op_index}_{what}"
        self.arrays[name] = (dtype, np.asarray(values))
        return self.target.array_name(name)

    def missing(self, value):
        """(is NaN, literal) for a missing marker or code; NaN has no literal in arrays."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return True, self.target.double(0.0)
        return False, self.target.double(value)

    def chain(self, steps, src: int, n: int) -> tuple[int, int]:
        for step in steps:
            src, n = self.step(step, src, n)
        return src, n

    def step(self, step, src: int, n: int) -> tuple[int, int]:
        i = len(self.ops)
        lit = self.target.double
        if isinstance(step, pp.Concat):
            outs = [self.chain(part, src, n) for part in step.parts]
            index = np.concatenate([np.arange(o, o + w) for o, w in outs]) if outs else []
            return self.gather(index)
        if isinstance(step, pp.Select):
            return self.gather(src + step.index.astype(np.int64))
        n_out = pp.out_width(step, n)
        op = dict(src=src, dst=self.region(n_out), n=n_out)
        if isinstance(step, pp.Elementwise):
            op.update(kind="elementwise", op=step.op, v=self.array(i, "v", "float64", step.values))
        elif isinstance(step, pp.Clip):
            op.update(kind="clip", lo=lit(step.lo), hi=lit(step.hi))
        elif isinstance(step, pp.Impute):
            nan, value = self.missing(step.missing)
            op.update(kind="impute", fill=self.array(i, "fill", "float64", step.fill),
                      missing_nan=nan, missing=value)
        elif isinstance(step, pp.Indicator):
            nan, value = self.missing(step.missing)
            op.update(kind="indicator", missing_nan=nan, missing=value)
        elif isinstance(step, pp.Binarize):
            op.update(kind="binarize", t=lit(step.threshold))
        elif isinstance(step, pp.Normalize):
            op.update(kind="normalize", norm=step.norm, eps=lit(pp.EPS10))
        elif isinstance(step, pp.Products):
            left = np.where(step.left >= 0, op["dst"] + step.left.astype(np.int64), -1)
            right = np.where(step.right >= 0, src + step.right.astype(np.int64), -1)
            op.update(kind="products", left=self.array(i, "left", "int32", left),
                      right=self.array(i, "right", "int32", right))
        elif isinstance(step, pp.Encode):
            miss_nan = np.isnan(step.missing)
            unknown_nan, unknown = self.missing(step.unknown)
            op.update(kind="encode", start=self.array(i, "start", "int32", step.start),
                      known=self.array(i, "known", "float64", step.values),
                      miss_nan=self.array(i, "miss_nan", "int32", miss_nan.astype(np.int32)),
                      miss=self.array(i, "miss", "float64", np.where(miss_nan, 0.0, step.missing)),
                      unknown_nan=unknown_nan, unknown=unknown)
        else:
            raise TypeError(f"unknown preprocessing step {type(step).__name__}")
        self.ops.append(op)
        return op["dst"], n_out

    def gather(self, index) -> tuple[int, int]:
        i = len(self.ops)
        index = np.asarray(index, dtype=np.int64)
        op = dict(kind="gather", src=0, dst=self.region(len(index)), n=len(index),
                  index=self.array(i, "index", "int32", index))
        self.ops.append(op)
        return op["dst"], len(index)


def pre_context(model: ir.Model, target) -> tuple[dict, dict]:
    if not model.pre:
        return {"pre": False, "n_x": model.n_features}, {}
    low = _Lowering(target)
    low.region(model.n_features)
    out, width = low.chain(model.pre, 0, model.n_features)
    assert width == model.n_x
    return {"pre": True, "n_x": model.n_x, "pre_ops": low.ops, "pre_size": max(low.size, 1),
            "pre_out": out}, low.arrays


def kernel_context(km: ir.Kernel, target) -> tuple[dict, dict]:
    lit = target.double
    ctx = {"n_sv": km.support.shape[0], "kernel": km.kernel, "gamma": lit(km.gamma),
           "neg_gamma": lit(-km.gamma), "coef0": lit(km.coef0), "degree": int(km.degree)}
    arrays = {"support": ("float64", km.support.reshape(-1)),
              "dual_coef": ("float64", km.coef.reshape(-1)),
              "intercept": ("float64", km.intercept)}
    return ctx, arrays


def post_context(model: ir.Model, target) -> tuple[dict, dict]:
    p, lit = model.post_params, target.double
    if model.post == "samme":
        return {"samme_w": lit(p[0]), "samme_k1": lit(model.raw.n_outputs - 1)}, {}
    if model.post == "weighted_median":
        return {}, {"median_weight": ("float64", np.asarray(p, dtype=np.float64))}
    if model.post == "isolation":
        denominator, offset = p
        return {"iso_den": lit(denominator) if denominator != 0 else None,
                "iso_offset": lit(offset)}, {}
    if model.post == "calibrated":
        n_classes, n_folds, records = calibration_records(p)
        first = np.searchsorted([r[0] for r in records], np.arange(n_folds + 1))
        pool, start = [], []
        for r in records:
            start.append(len(pool))
            pool += list(r[6]) + list(r[7])
        cols = list(zip(*records)) if records else [()] * 8
        arrays = {"cal_first": ("int32", first), "cal_source": ("int32", cols[1]),
                  "cal_target": ("int32", cols[2]), "cal_kind": ("int32", cols[3]),
                  "cal_a": ("float64", cols[4]), "cal_b": ("float64", cols[5]),
                  "cal_start": ("int32", start),
                  "cal_count": ("int32", [len(r[6]) for r in records]),
                  "cal_pool": ("float64", pool)}
        return {"cal_folds": n_folds, "cal_classes": n_classes, "cal_k": lit(1.0 / n_classes),
                "cal_ovo": any(r[3] == 2 for r in records),
                "cal_clamp": lit(1.0 + 1e-5), "cal_n": lit(float(n_folds))}, arrays
    return {}, {}


def context(model: ir.Model, target) -> tuple[dict, list]:
    """Template variables and array declarations of the stages around the raw scores."""
    ctx, arrays = pre_context(model, target)
    if isinstance(model.raw, ir.Kernel):
        more, more_arrays = kernel_context(model.raw, target)
        ctx.update(more)
        arrays.update(more_arrays)
    more, more_arrays = post_context(model, target)
    ctx.update(more)
    arrays.update(more_arrays)
    A = target.array_name
    return ctx, [target.array(A(name), dtype, values) for name, (dtype, values) in arrays.items()]
