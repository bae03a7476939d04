"""A Catalogue whose cases carry their own tolerance, load options and row filter.

Each case is Spec(model, X, method, ...): the three oracles (the library's `method`, the IR
evaluator, the compiled Go/C/Java) must agree on the fixture rows (X plus rows derived from
the model: on thresholds, through every leaf, NaN) to within `rtol` relative to
max(|reference|, scale), where scale is the size of the terms that a reordered sum rounds
(libsvm and BLAS sum dot products in another order) or 0. rtol = 0 means bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

import transpiler
from transpiler import ir
from transpiler.ir.evaluate import kernel_values, preprocess

from support import Catalogue, fixture_rows, reference


@dataclass
class Spec:
    model: object
    X: np.ndarray
    method: str
    rtol: float = 0.0
    scale: Optional[Callable] = None       # (ir model, rows, reference) -> per-row magnitude
    nan: object = True                     # False: the library refuses NaN rows; or the
                                           # columns where it accepts NaN
    extra: Optional[np.ndarray] = None     # more rows, e.g. unknown categories
    options: dict = field(default_factory=dict)


def within(got, ref, rtol, scale=None, what=""):
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    size = np.abs(ref)
    if scale is not None:
        size = np.maximum(size, np.asarray(scale, dtype=np.float64).reshape(len(ref), -1))
    both_nan = np.isnan(got) & np.isnan(ref)
    with np.errstate(invalid="ignore"):
        ok = both_nan | (got == ref) | (np.abs(got - ref) <= rtol * size)
    if not ok.all():
        i = tuple(np.argwhere(~ok)[0])
        raise AssertionError(f"{what}: {(~ok).sum()} of {ok.size} values differ beyond "
                             f"rtol={rtol}; first at {i}: {got[i]!r} != {ref[i]!r}")


def kernel_scale(irm, rows, ref):
    """Per row: the largest sum of |coef * k| + |intercept| over outputs."""
    x = preprocess(irm.pre, rows) if irm.pre else rows
    k = np.abs(kernel_values(irm.raw, x))
    return (k @ np.abs(irm.raw.coef).T + np.abs(irm.raw.intercept)).max(axis=1)


def linear_scale(irm, rows, ref):
    x = preprocess(irm.pre, rows) if irm.pre else rows
    return (np.abs(x) @ np.abs(irm.raw.coef).T + np.abs(irm.raw.intercept)).max(axis=1)


def offset_scale(irm, rows, ref):
    """decision_function = score - offset: the rounding of the score, not of the difference."""
    return np.abs(ref).max(axis=1) + abs(irm.post_params[-1])


class Fidelity(Catalogue):
    """Catalogue of Spec cases: one build per language, per-case tolerance."""

    def ir(self, name):
        if name not in self._ir:
            s = self.cases[name]
            irm = transpiler.to_ir(s.model, **s.options)
            rows = fixture_rows(irm, s.X)
            if s.extra is not None:
                rows = np.vstack([rows, s.extra])
            if s.nan is not True:
                refused = np.isnan(rows)
                refused[:, list(s.nan or [])] = False
                rows = rows[~refused.any(axis=1)]
            ref = reference(s.model, rows, s.method)
            scale = None if s.scale is None else s.scale(irm, rows, ref)
            self._ir[name] = (irm, rows, ref, scale)
        return self._ir[name]

    def check_ir(self, name):
        irm, rows, ref, scale = self.ir(name)
        within(ir.evaluate(irm, rows), ref, self.cases[name].rtol, scale, f"{name} IR evaluator")
        return irm, rows

    def check_compiled(self, name, lang):
        irm, rows, ref, scale = self.ir(name)
        out = self.built(lang)
        rtol = self.cases[name].rtol
        for layout in self.layouts:
            key = f"{name}_{layout}"
            within(out[key], ref, rtol, scale, f"{name} {lang} {layout}")
            if rtol == 0:
                continue
            # Against the evaluator: only the language's libm may differ (exp, tanh, pow).
            within(out[key], ir.evaluate(irm, rows), rtol, scale, f"{name} {lang} {layout} vs IR")


def agreement(cat: Fidelity, name: str) -> tuple[int, int]:
    """(bit-identical values, values) of the IR evaluator against the library."""
    irm, rows, ref, _ = cat.ir(name)
    got = ir.evaluate(irm, rows)
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    return int(same.sum()), int(same.size)
