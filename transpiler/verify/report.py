"""Comparing generated-code outputs with reference outputs, and reporting it as text, JSON or JUnit.

A value agrees when it is bit-identical to the reference, both are NaN, or it lies within the
tolerance: `ulps` units in the last place (in the model's output precision) or `rel` relative
to the value's magnitude. The default tolerance is the fidelity the model family allows
(DEFAULT_TOLERANCES); `--tolerance` overrides it.
"""
from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np

from .. import ir
from ..errors import OptionError
from ..ir.dump import dump_steps
from ..ir.evaluate import kernel_values, preprocess

SHOWN_MISMATCHES = 5      # rows with their inputs in the report
SHOWN_FEATURES = 24       # inputs printed per row in text (JSON has them all)


@dataclass(frozen=True)
class Tolerance:
    rel: float = 0.0              # |got - ref| <= rel * magnitude
    ulps: int = 0                 # or at most this many ulps apart in `precision`
    precision: str = "float64"

    def describe(self) -> str:
        parts = []
        if self.ulps:
            parts.append(f"{self.ulps} ulp ({self.precision})")
        if self.rel:
            parts.append(f"{self.rel:g} relative")
        return " or ".join(parts) or "exact"


# The fidelity each model family allows, in one place (see the README's Fidelity section).
DEFAULT_TOLERANCES = {
    "sklearn trees": Tolerance(),                                # same float32 tests, same sums
    "sklearn linear": Tolerance(rel=1e-12),                      # BLAS sums in another order
    "xgboost": Tolerance(),                                      # same sums, glibc's expf
    # predict_proba of multi:softmax is scipy's softmax in NumPy's own (SIMD) float32 exp
    "xgboost multi:softmax proba": Tolerance(ulps=6, precision="float32"),
    "lightgbm": Tolerance(),                                     # same sums, glibc's exp
    "other float32": Tolerance(ulps=1, precision="float32"),
    "other float64": Tolerance(rel=1e-12),
}


# Why the library's own outputs can differ from the code's where a family is not bit for bit.
WHY = {
    "sklearn linear": "NumPy's BLAS and libsvm sum dot products in another order; NumPy's "
                      "exp is its own SIMD one",
    "xgboost multi:softmax proba": "the wrapper's softmax uses NumPy's own SIMD float32 exp",
}
SIDE_ROWS = 5000   # rows the IR evaluator rescores to tell which side differs
PLOTTED_ROWS = 1500   # rows in each scatter plot of the html report
ULP_BINS = ((0, 0), (1, 1), (2, 2), (3, 4), (5, 16), (17, 256), (257, 1 << 20), (1 << 20, None))


def output_precision(model: ir.Model) -> str:
    """The type the model computes its outputs in: float32 for XGBoost, float64 otherwise."""
    return getattr(model.raw, "accumulate", "float64")


def family(model: ir.Model) -> str:
    """The DEFAULT_TOLERANCES key for a model."""
    library = model.source.split(".")[0].split(" ")[0]
    if library == "sklearn":
        # Sums of leaves are exact; exp/pow post-processors, kernels, BLAS sums and the l2
        # norm of a Normalizer are not.
        exact = (isinstance(model.raw, ir.Ensemble) and model.post == "identity"
                 and '"Normalize"' not in json.dumps(dump_steps(model.pre)))
        return "sklearn trees" if exact else "sklearn linear"
    if library == "xgboost":
        if model.meta.get("objective") == "multi:softmax" and model.output_kind == "predict_proba":
            return "xgboost multi:softmax proba"
        return "xgboost"
    if library == "lightgbm":
        return "lightgbm"
    return f"other {output_precision(model)}"


def default_tolerance(model: ir.Model) -> Tolerance:
    return DEFAULT_TOLERANCES[family(model)]


_ULPS = re.compile(r"^\s*(\d+)\s*ulps?\s*$", re.IGNORECASE)


def parse_tolerance(text: str, model: ir.Model) -> Tolerance:
    """`0` or `exact`; `N ulp` (in the model's output precision); or a relative error (`1e-9`)."""
    t = text.strip().lower()
    if t == "exact":
        return Tolerance()
    m = _ULPS.match(t)
    if m:
        return Tolerance(ulps=int(m.group(1)), precision=output_precision(model))
    try:
        rel = float(t)
    except ValueError:
        rel = math.nan
    if not (rel >= 0 and math.isfinite(rel)):
        raise OptionError(f"--tolerance {text!r} is not a tolerance; give a relative error "
                          "such as 1e-9, a count of ulps such as 2ulp, or 0 for exact")
    return Tolerance(rel=rel)


def magnitude(model: ir.Model, rows: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """What a relative tolerance is relative to, per value.

    For float64 linear models it is the size of the terms summed, not of the result: the
    library sums them in another order, so a result that cancels to near zero carries the
    rounding of the large terms. A post-processor (sigmoid, softmax, exp) turns that absolute
    error of the raw score into a relative error of the output.
    """
    mag = np.abs(ref)
    lin = model.raw
    if model.pre:       # the raw stage reads the rows after the pipeline's steps
        rows = preprocess(model.pre, np.asarray(rows, dtype=np.float64))
    if isinstance(lin, ir.Kernel):       # libsvm sums its dot products with BLAS
        k = np.abs(kernel_values(lin, np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0)))
        terms = (k @ np.abs(lin.coef).T + np.abs(lin.intercept)).max(axis=1, keepdims=True)
        mag = np.maximum(mag, terms) if model.post == "identity" else mag * np.maximum(terms, 1.0)
    elif isinstance(lin, ir.Linear) and lin.accumulate == "float64":
        terms = np.abs(np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0)) @ np.abs(lin.coef).T
        terms = (terms + np.abs(lin.intercept)).max(axis=1, keepdims=True)
        if model.post == "identity":
            mag = np.maximum(mag, terms)
        else:
            mag = mag * np.maximum(terms, 1.0)
    return mag


def _ordered(a: np.ndarray, precision: str) -> np.ndarray:
    """Integers in the order of the floats, so that neighbours differ by one (+0 == -0)."""
    if precision == "float32":
        i = a.astype(np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    i = a.view(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFFFFFFFFFF), i)


def ulp_distance(got: np.ndarray, ref: np.ndarray, precision: str = "float64") -> np.ndarray:
    """Units in the last place between got and ref (uint64; NaN against a number: max)."""
    got = np.ascontiguousarray(got, dtype=np.float64)
    ref = np.ascontiguousarray(ref, dtype=np.float64)
    a, b = _ordered(got, precision), _ordered(ref, precision)
    same_sign = (a >= 0) == (b >= 0)
    with np.errstate(over="ignore"):
        d = np.where(same_sign, np.abs(a - b).astype(np.uint64),
                     np.abs(a).astype(np.uint64) + np.abs(b).astype(np.uint64))
    gn, rn = np.isnan(got), np.isnan(ref)
    d[gn & rn] = 0
    d[gn != rn] = np.iinfo(np.uint64).max
    return d


@dataclass
class Mismatch:
    row: int
    origin: str
    inputs: list
    expected: list
    got: list
    ir: list | None


@dataclass
class Report:
    """The outcome of one verification; `ok` decides the exit status."""

    lang: str
    model: str                  # what the user passed: a path or a class name
    source: str                 # ir.Model.source
    reference: str              # where the expected outputs came from
    tolerance: Tolerance
    tolerance_origin: str       # "default for sklearn trees" or "--tolerance"
    rows: int                   # rows compared
    row_kinds: dict             # kind -> rows compared
    skipped: int                # rows the library refused (e.g. NaN for linear models)
    skipped_reason: str
    values: int
    bit_identical: int
    max_abs: float
    max_rel: float
    max_ulps: int | None        # None when a NaN stands against a number
    precision: str
    mismatched_values: int
    mismatched_rows: int
    labels: tuple | None        # (rows whose class label agrees, rows) for classifiers
    leaves: tuple               # (reached, total); (0, 0) for models without trees
    first: list = field(default_factory=list)   # Mismatch, up to SHOWN_MISMATCHES
    notes: list = field(default_factory=list)
    # of the values not bit-identical (in up to SIDE_ROWS rows): how many, and how many of
    # them the generated code computes as the IR evaluator does (then the library differs)
    sides: tuple | None = None
    family: str = ""            # the DEFAULT_TOLERANCES key
    ulp_bins: tuple = ()        # (label, values) for the ulp-distance histogram (html)
    points: tuple = ()          # per output: (expected, generated) of up to PLOTTED_ROWS rows

    @property
    def ok(self) -> bool:
        return self.mismatched_values == 0

    def summary(self) -> str:
        """One line, for the error message of a failed run."""
        return (f"{self.mismatched_values} of {self.values} values in {self.mismatched_rows} "
                f"of {self.rows} rows differ beyond {self.tolerance.describe()} "
                f"(max {_num(self.max_abs)} absolute, {_ulps(self.max_ulps)} ulp)")


def labels_of(model: ir.Model, out: np.ndarray) -> np.ndarray | None:
    """The class each row's outputs stand for, or None for models that are not classifiers."""
    if model.task != "classification" or out.shape[1] == 0:
        return None
    if model.post in ("hinge", "argmax"):
        return out[:, 0]
    if out.shape[1] == 1:
        cut = 0.0 if model.output_kind == "decision_function" else 0.5
        return (out[:, 0] > cut).astype(np.float64)
    return np.argmax(np.nan_to_num(out, nan=-np.inf), axis=1).astype(np.float64)


def compare(irm: ir.Model, rows: np.ndarray, got: np.ndarray, ref: np.ndarray,
            tolerance: Tolerance, *, index=None, origin=lambda i: f"row {i}", ir_eval=None,
            **context) -> Report:
    """Compare got with ref value by value; `context` fills the descriptive Report fields.

    index maps each compared row to its number among all rows, which `origin` describes;
    ir_eval (rows -> outputs) adds the IR evaluator's outputs to the rows shown.
    """
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    precision = output_precision(irm)
    both_nan = np.isnan(got) & np.isnan(ref)
    nan_clash = np.isnan(got) != np.isnan(ref)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.where(both_nan | (got == ref), 0.0, np.abs(got - ref))
        rel = np.where(diff == 0, 0.0, diff / np.abs(ref))
        within_rel = np.isfinite(diff) & (diff <= tolerance.rel * magnitude(irm, rows, ref))
    ulps = ulp_distance(got, ref, precision)
    tol_ulps = ulps if tolerance.precision == precision else \
        ulp_distance(got, ref, tolerance.precision)
    agree = both_nan | (got == ref) | (~nan_clash & (within_rel | (tol_ulps <= tolerance.ulps)))
    bits = (got.view(np.int64) == ref.view(np.int64)) | both_nan
    clean = ~nan_clash
    bad_rows = np.flatnonzero(~agree.all(axis=1))
    shown = bad_rows[:SHOWN_MISMATCHES]
    ir_out = None if ir_eval is None or not len(shown) else ir_eval(rows[shown])
    sides = None
    inexact = np.flatnonzero(~bits.all(axis=1))[:SIDE_ROWS]
    if ir_eval is not None and len(inexact):
        mine = ir_eval(rows[inexact])
        odd = ~bits[inexact]
        same = (mine.view(np.int64) == got[inexact].view(np.int64)) | (np.isnan(mine) & np.isnan(got[inexact]))
        sides = (int(odd.sum()), int((odd & same).sum()))
    first = []
    for k, i in enumerate(shown):
        n = int(i if index is None else index[i])
        first.append(Mismatch(row=n, origin=origin(n), inputs=rows[i].tolist(),
                              expected=ref[i].tolist(), got=got[i].tolist(),
                              ir=None if ir_out is None else ir_out[k].tolist()))
    labels = None
    lg, lr = labels_of(irm, got), labels_of(irm, ref)
    if lg is not None:
        labels = (int(np.sum(lg == lr)), len(rows))
    finite_ulps = ulps[clean]
    ulp_bins = tuple((_bin_label(lo, hi), int(((finite_ulps >= lo) if hi is None else
                                              ((finite_ulps >= lo) & (finite_ulps <= hi))).sum()))
                     for lo, hi in ULP_BINS)
    if nan_clash.any():
        ulp_bins += (("NaN vs number", int(nan_clash.sum())),)
    # the rows plotted: every differing one (up to the limit), then an even spread of the rest
    rest = np.setdiff1d(np.arange(len(rows)), bad_rows)
    room = min(max(PLOTTED_ROWS - len(bad_rows), 0), len(rest))
    spread = rest[np.linspace(0, len(rest) - 1, room).astype(int)] if room else rest[:0]
    pick = np.sort(np.concatenate([bad_rows[:PLOTTED_ROWS], spread])).astype(int)
    points = tuple((ref[pick, k].tolist(), got[pick, k].tolist()) for k in range(got.shape[1]))
    return Report(
        ulp_bins=ulp_bins, points=points,
        rows=len(rows), values=int(got.size), bit_identical=int(bits.sum()),
        max_abs=float(diff[clean].max(initial=0.0)), max_rel=float(rel[clean].max(initial=0.0)),
        max_ulps=None if nan_clash.any() else int(ulps.max(initial=0)), precision=precision,
        mismatched_values=int((~agree).sum()), mismatched_rows=len(bad_rows), labels=labels,
        tolerance=tolerance, first=first, sides=sides, **context)


def _bin_label(lo, hi) -> str:
    if hi is None:
        return f"> {lo - 1:,}"
    return f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"


# --- output ------------------------------------------------------------------------------

def _num(v) -> str:
    """Shortest text that reads back as the same float."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e16:
        return str(int(v)) if v or math.copysign(1, v) > 0 else "-0"
    return repr(v)


def _ulps(v) -> str:
    return "NaN vs number" if v is None else f"{v:,}"


def _vector(values, limit=None) -> str:
    shown = values if limit is None else values[:limit]
    more = "" if limit is None or len(values) <= limit else f", ... ({len(values) - limit} more)"
    return "[" + ", ".join(_num(float(v)) for v in shown) + more + "]"


def _pct(part, whole) -> str:
    return "100%" if part == whole else f"{100.0 * part / whole:.2f}%" if whole else "-"


def side_text(r: Report) -> str:
    """Which side the values that are not bit-identical come from, and why."""
    n, same = r.sides
    if same == n:
        text = (f"the library, on all {n:,} values not bit-identical: the generated code "
                "computes them as the IR evaluator does")
    elif same == 0:
        text = f"the generated code, on all {n:,} values not bit-identical: the IR evaluator differs from it"
    else:
        text = (f"{same:,} of {n:,} values not bit-identical are the library's (the generated code "
                f"computes them as the IR evaluator does), {n - same:,} the generated code's")
    why = WHY.get(r.family, "") if same else ""
    return text + (f" ({why})" if why else "")


def render_text(r: Report) -> str:
    kinds = ", ".join(f"{n:,} {k}" for k, n in r.row_kinds.items() if n)
    lines = [
        f"verify {r.lang}: {r.model} ({r.source})",
        f"reference:  {r.reference}",
        f"rows:       {r.rows:,} compared ({kinds})",
    ]
    if r.skipped:
        lines.append(f"skipped:    {r.skipped:,} rows: {r.skipped_reason}")
    if r.leaves[1]:
        lines.append(f"leaves:     {r.leaves[0]:,} of {r.leaves[1]:,} reached "
                     f"({_pct(*r.leaves)})")
    lines += [
        f"values:     {r.values:,}, bit-identical {r.bit_identical:,} "
        f"({_pct(r.bit_identical, r.values)})",
        f"max error:  {_num(r.max_abs)} absolute, {_num(r.max_rel)} relative, "
        f"{_ulps(r.max_ulps)} ulp ({r.precision})",
    ]
    if r.labels:
        lines.append(f"labels:     {r.labels[0]:,} of {r.labels[1]:,} rows agree")
    lines.append(f"tolerance:  {r.tolerance.describe()} ({r.tolerance_origin})")
    if r.sides:
        lines.append(f"differs:    {side_text(r)}")
    lines += [f"note:       {n}" for n in r.notes]
    if r.ok:
        lines.append("result:     OK")
        return "\n".join(lines) + "\n"
    lines.append(f"result:     MISMATCH: {r.summary()}")
    lines.append("first rows that differ:")
    for m in r.first:
        lines.append(f"  row {m.row} ({m.origin}): input {_vector(m.inputs, SHOWN_FEATURES)}")
        lines.append(f"    expected     {_vector(m.expected)}")
        lines.append(f"    got          {_vector(m.got)}")
        if m.ir is not None:
            lines.append(f"    IR evaluator {_vector(m.ir)}")
    return "\n".join(lines) + "\n"


def _plain(v):
    """JSON has no NaN or infinity: those become the strings "nan", "inf", "-inf"."""
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if v != v else ("inf" if v > 0 else "-inf")
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


def as_dict(r: Report) -> dict:
    return _plain({
        "ok": r.ok, "lang": r.lang, "model": r.model, "source": r.source,
        "reference": r.reference,
        "tolerance": {"rel": r.tolerance.rel, "ulps": r.tolerance.ulps,
                      "precision": r.tolerance.precision, "text": r.tolerance.describe(),
                      "origin": r.tolerance_origin},
        "rows": {"compared": r.rows, "kinds": dict(r.row_kinds), "skipped": r.skipped,
                 "skipped_reason": r.skipped_reason},
        "leaves": {"reached": r.leaves[0], "total": r.leaves[1]},
        "values": r.values, "bit_identical": r.bit_identical,
        "max_abs_error": r.max_abs, "max_rel_error": r.max_rel, "max_ulps": r.max_ulps,
        "ulp_precision": r.precision,
        "labels": None if r.labels is None else {"agree": r.labels[0], "rows": r.labels[1]},
        "mismatched_values": r.mismatched_values, "mismatched_rows": r.mismatched_rows,
        "first_mismatches": [dict(row=m.row, origin=m.origin, input=m.inputs,
                                  expected=m.expected, got=m.got, ir=m.ir) for m in r.first],
        "notes": list(r.notes),
        "differs": side_text(r) if r.sides else None,
    })


def render_json(r: Report) -> str:
    return json.dumps(as_dict(r), indent=2, allow_nan=False) + "\n"


def render_junit(r: Report) -> str:
    """One test suite with one test case, failed on a mismatch; the text report as its output."""
    suite = ET.Element("testsuite", name="transpiler verify", tests="1",
                       failures="0" if r.ok else "1", errors="0", skipped="0")
    props = ET.SubElement(suite, "properties")
    for key, value in as_dict(r).items():
        if not isinstance(value, (dict, list)):
            ET.SubElement(props, "property", name=key, value=str(value))
    case = ET.SubElement(suite, "testcase", classname=f"transpiler.verify.{r.lang}",
                         name=f"{r.model} matches {r.source}")
    text = render_text(r)
    if not r.ok:
        ET.SubElement(case, "failure", message=r.summary(), type="mismatch").text = text
    ET.SubElement(case, "system-out").text = text
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_html(r: Report) -> str:
    from .html import render   # the page and its plots live in their own module

    return render(r)


RENDERERS = {"text": render_text, "json": render_json, "junit": render_junit, "html": render_html}
