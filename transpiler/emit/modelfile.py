"""What a model looks like from outside its scoring code: metadata, self-check rows, and the
model file (`.trpm`) that the generic Go loader reads at run time.

The model file, all little-endian; sections are a uint32 count then the values, as in the
table blob (tables.blob):

    "TRPM", uint32 version
    uint32 n, then n bytes of UTF-8 JSON: {"metadata": {...}, "params": {...}}
    f64 section  [post_scale, missing_value (NaN when none)]
    f64 section  base score per raw output (ensemble) or intercept (linear)
    f64 section  coefficients, n_raw * n_features, row-major (linear; empty for ensembles)
    f64 section  self-check rows, n_features values each
    f64 section  their expected outputs, n_outputs values each
    ensemble: the table blob ("TRPL", its version, its sections); linear: nothing
    32 bytes     SHA-256 of everything before it, so a torn or corrupt file is refused

Numbers are binary so every value (NaN, infinities, float32 values) arrives bit for bit;
float32 models (XGBoost) store exact float32 values widened to float64.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import struct

import numpy as np

from .. import ir
from . import tables as tbl

FILE_MAGIC = b"TRPM"
FILE_VERSION = 1
SELF_CHECK_ROWS = 16


def metadata(model: ir.Model) -> dict:
    """The model's description: what a host shows and checks before it routes rows to it."""
    from .. import __version__

    return {
        "n_features": model.n_features,
        "n_outputs": model.n_outputs,
        "output_kind": model.output_kind,
        "task": model.task,
        "classes": [_json_value(c) for c in model.classes],
        "feature_names": [str(n) for n in model.feature_names],
        "source": model.source,
        "source_version": model.source_version,
        "generator": f"transpiler {__version__}",
    }


def _json_value(v):
    """A class label as JSON: numbers and strings stay what they are; anything else is text."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool) or isinstance(v, int) or isinstance(v, str):
        return v
    if isinstance(v, float) and math.isfinite(v):
        return v
    return str(v)


def self_check_rows(model: ir.Model, n: int = SELF_CHECK_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """A handful of rows derived from the model (on thresholds, NaN, leaf paths, random) and
    the IR evaluator's outputs for them, so a host can check a freshly loaded model."""
    from ..ir.evaluate import evaluate
    from ..verify.rows import fixture_rows

    derived = fixture_rows(model, limit=4 * n)
    rng = np.random.default_rng(0)
    random = rng.normal(size=(max(4, n - len(derived)), model.n_features))
    pick = np.unique(np.linspace(0, len(derived) - 1, num=min(len(derived), n - 4)).round().astype(int))
    rows = np.vstack([derived[pick], random[: n - len(pick)]])
    with np.errstate(all="ignore"):
        return rows, evaluate(model, rows)


def params(model: ir.Model) -> dict:
    """How the loader must score the tables: the choices model.go.j2 makes at generation time."""
    raw = model.raw
    p = {"kind": "linear" if isinstance(raw, ir.Linear) else "ensemble", "post": model.post,
         "n_raw": raw.n_outputs, "accumulate": raw.accumulate}
    if isinstance(raw, ir.Linear):
        p["feature_type"] = raw.accumulate    # gblinear narrows to float32, like its sums
        return p
    p.update(feature_type=raw.feature_type, op=raw.op, aggregation=raw.aggregation,
             cat_negative=raw.cat_negative, width=tbl.ensemble_width(raw))
    return p


def _section(values, layout: str = "<f8") -> bytes:
    values = np.asarray(values).reshape(-1)
    return struct.pack("<I", len(values)) + np.ascontiguousarray(values, dtype=layout).tobytes()


def model_hash(model: ir.Model) -> str:
    """SHA-256 of everything the model computes with (every field of the IR, arrays by their
    bytes), without `meta`: the same model gives the same hash in a plugin and a model file."""
    h = hashlib.sha256()
    stack = [("model", model)]
    while stack:  # an explicit stack: IR values nest shallowly, but the rule is no recursion
        label, value = stack.pop()
        h.update(f"{label}:{type(value).__name__}:".encode())
        if isinstance(value, np.ndarray):
            h.update(f"{value.dtype.str}{value.shape}".encode())
            h.update(np.ascontiguousarray(value).tobytes())
        elif dataclasses.is_dataclass(value):
            stack.extend((f.name, getattr(value, f.name)) for f in reversed(dataclasses.fields(value))
                         if f.name != "meta")
        elif isinstance(value, (tuple, list)):
            h.update(f"{len(value)}".encode())
            stack.extend(reversed([(str(i), v) for i, v in enumerate(value)]))
        elif isinstance(value, dict):
            stack.extend(reversed([(str(k), value[k]) for k in sorted(value, key=str)]))
        else:
            h.update(repr(value).encode())
        h.update(b";")
    return h.hexdigest()


def model_file(model: ir.Model, meta: dict | None = None) -> bytes:
    """The model as one `.trpm` file (see the module docstring)."""
    raw = model.raw
    meta = dict(metadata(model) if meta is None else meta, hash=model_hash(model))
    rows, want = self_check_rows(model)
    missing = math.nan if raw.missing_value is None else raw.missing_value
    if isinstance(raw, ir.Linear):
        base, coef, tables = raw.intercept, raw.coef, b""
    else:
        base, coef, tables = raw.base_score, np.zeros(0), tbl.blob(tbl.flatten(raw), "wide", raw.op)
    head = json.dumps({"metadata": meta, "params": params(model)}, ensure_ascii=True,
                      separators=(",", ":")).encode()
    body = b"".join([FILE_MAGIC, struct.pack("<II", FILE_VERSION, len(head)), head,
                     _section([model.post_scale, missing]), _section(np.asarray(base, np.float64)),
                     _section(np.asarray(coef, np.float64)), _section(rows), _section(want), tables])
    return body + hashlib.sha256(body).digest()


def read_header(data: bytes) -> dict:
    """The JSON header of a model file (for tools and tests; the Go loader checks everything)."""
    if data[:4] != FILE_MAGIC or len(data) < 44:
        raise ValueError("not a transpiler model file")
    if hashlib.sha256(data[:-32]).digest() != data[-32:]:
        raise ValueError("model file checksum mismatch")
    n = struct.unpack_from("<I", data, 8)[0]
    return json.loads(data[12:12 + n])
