"""Derived rows for models with preprocessing steps (pipelines): rows derived in the space the
trees read (on thresholds, through every leaf, special values) mapped back to the caller's
input space.

Steps are undone from the last to the first: affine steps by their inverse, nudged by ulps
until the forward step gives the target exactly (so a row still lands on its threshold);
Select by scattering into the base row; Encode by the category a code stands for (an unknown
code becomes a value no category has); Concat part by part. A row through a step that cannot
be undone (Products, Normalize, Binarize, Indicator) is dropped, unless the step sits in a
Concat part whose columns another part also provides.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import ir
from ..ir import preprocess as pp
from ..ir.evaluate import preprocess

NUDGE = 8          # ulps tried on each side of an inverted affine value


class CannotInvert(Exception):
    pass


def _affine_inverse(step: pp.Elementwise, y: np.ndarray) -> np.ndarray:
    inv = {"+": np.subtract, "-": np.add, "*": np.divide, "/": np.multiply}[step.op]
    with np.errstate(all="ignore"):
        x = inv(y, step.values[None, :])
    fwd = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[step.op]
    best = x.copy()
    with np.errstate(all="ignore"):
        hit = fwd(x, step.values[None, :]) == y
        for k in range(1, NUDGE + 1):
            for direction in (np.inf, -np.inf):
                cand = x.copy()
                for _ in range(k):
                    cand = np.nextafter(cand, direction)
                ok = ~hit & (fwd(cand, step.values[None, :]) == y)
                best = np.where(ok, cand, best)
                hit |= ok
    return best


def _invert_step(step, y: np.ndarray, base_in: np.ndarray) -> np.ndarray:
    """Rows x (n, n_in) with step(x) == y where possible; base_in fills what y does not fix."""
    if isinstance(step, pp.Elementwise):
        return _affine_inverse(step, y)
    if isinstance(step, (pp.Clip, pp.Impute)):
        return y          # values inside the clip range, non-missing values: unchanged
    if isinstance(step, pp.Select):
        x = np.tile(base_in, (len(y), 1))
        for k in range(len(step.index) - 1, -1, -1):   # the first of duplicates wins
            x[:, step.index[k]] = y[:, k]
        return x
    if isinstance(step, pp.Encode):
        x = np.empty_like(y)
        for j in range(y.shape[1]):
            known = step.values[step.start[j]:step.start[j + 1]]
            code = y[:, j]
            unknown = (known.max() + 1.0) if len(known) else 0.0
            inside = (np.isfinite(code) & (code >= 0) & (code < len(known))
                      & (code == np.floor(code)))
            idx = np.where(inside, code, 0).astype(np.int64)
            x[:, j] = np.where(inside, known[idx] if len(known) else 0.0,
                               np.where(np.isnan(code), np.nan, unknown))
        return x
    if isinstance(step, pp.Concat):
        return _invert_concat(step, y, base_in)
    raise CannotInvert(type(step).__name__)


def _invert_concat(step: pp.Concat, y: np.ndarray, base_in: np.ndarray) -> np.ndarray:
    x = np.tile(base_in, (len(y), 1))
    done = np.zeros(len(base_in), dtype=bool)
    col = 0
    for part in step.parts:
        width = pp.chain_width(part, len(base_in))
        try:
            got = invert_chain(part, y[:, col:col + width], base_in)
        except CannotInvert:
            got = None
        col += width
        if got is None:
            continue
        # The columns this part reads are the ones it changed away from the base row.
        changed = ~np.all((got == base_in[None, :]) | (np.isnan(got) & np.isnan(base_in)[None, :]),
                          axis=0)
        take = changed & ~done
        x[:, take] = got[:, take]
        done |= take
    return x


def invert_chain(steps, y: np.ndarray, base_in: np.ndarray) -> np.ndarray:
    """Undo `steps` (applied to rows like base_in) for the rows y of their output."""
    bases = [np.asarray(base_in, dtype=np.float64)[None, :]]
    for step in steps[:-1]:
        bases.append(preprocess((step,), bases[-1]))
    for step, base in zip(reversed(steps), reversed(bases)):
        y = _invert_step(step, y, base[0])
    return y


def through_pre(derive, model: ir.Model, base: np.ndarray) -> np.ndarray:
    """derive(model, base) for a model with `pre`: run on the model without its steps (in the
    space the trees read, from the base row carried through the steps), then mapped back."""
    inner = replace(model, pre=(), n_features=model.n_x)
    base_x = preprocess(model.pre, np.asarray(base, dtype=np.float64)[None, :])[0]
    rows = derive(inner, np.where(np.isfinite(base_x), base_x, 0.0))
    if not len(rows):
        return np.empty((0, model.n_features))
    try:
        return invert_chain(model.pre, rows, base)
    except CannotInvert:
        return np.empty((0, model.n_features))
