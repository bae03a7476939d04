"""The rows a verification runs on: the user's own (CSV, .npy, Parquet, or an array) and rows
derived from the model (verify/rows.py: thresholds, NaN, one per leaf; here also unseen
categories, the model's own missing value, and random rows), each labelled with its origin.
"""
from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from .. import ir
from ..errors import InputError, MissingDependencyError
from . import rows as derive

MISSING_TEXT = {"", "nan", "na", "n/a", "null", "none", "?"}
# Names libraries give features they were not told the names of: XGBoost f0, scikit-learn's
# x0 (get_feature_names_out), LightGBM Column_0; a header of them maps by number.
GENERIC_NAME = re.compile(r"^(?:f|x|Column_)(\d+)$")
# Columns taken for the target when a header has one more column than the model's features
LABEL_NAMES = ("label", "target", "y", "class", "labels", "targets")
RANDOM_ROWS = 100
SAMPLED_ROWS = 50


@dataclass
class UserRows:
    X: np.ndarray
    name: str                          # file name, or "rows" for an array
    lines: tuple | None = None         # CSV: the line each row is on
    ignored: tuple = ()                # columns not among the model's features

    def origin(self, i: int) -> str:
        if self.lines is not None:
            return f"{self.name} line {self.lines[i]}"
        return f"{self.name}[{i}]"


# --- reading -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Columns:
    """What to leave out of a header: --label (the target) and --ignore columns."""
    label: str | None = None
    ignore: tuple = ()


def read_rows(path: str, model: ir.Model, columns: Columns = Columns()) -> UserRows:
    """Rows from a file, with columns in the model's feature order."""
    if not os.path.lexists(path):
        raise InputError(f"no such rows file: {path}; give a CSV, .npy or Parquet file to --data")
    from ..load.files import open_regular

    try:        # a FIFO or device is refused here, before any reader could block on it
        open_regular(path, "CSV, .npy or Parquet file").close()
    except OSError as exc:
        raise InputError(f"cannot read rows file {path}: {exc.strerror}") from exc
    ext = os.path.splitext(path)[1].lower()
    name = os.path.basename(path)
    if ext == ".npy":
        return _from_array(_read_npy(path), name, model)
    if ext in (".parquet", ".pq"):
        return _from_frame(_read_parquet(path), name, model, columns)
    return _read_csv(path, name, model, columns)


def user_rows(data, model: ir.Model, columns: Columns = Columns()) -> UserRows:
    """Rows given to the API: a path, an array, or a pandas DataFrame."""
    if isinstance(data, UserRows):
        return data
    if isinstance(data, (str, os.PathLike)):
        return read_rows(os.fspath(data), model, columns)
    if hasattr(data, "columns") and hasattr(data, "to_numpy"):
        return _from_frame(data, "rows", model, columns)
    try:
        X = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"the rows are not numbers ({exc}); pass a 2-D numeric array") from None
    return _from_array(X, "rows", model)


def _read_npy(path):
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{path} is not a readable .npy array ({exc}); "
                         "save the rows with numpy.save") from None


def _read_parquet(path):
    try:
        import pandas as pd
        return pd.read_parquet(path)
    except ImportError as exc:
        raise MissingDependencyError(
            f"reading {os.path.basename(path)} needs pandas and pyarrow; "
            "run `pip install pandas pyarrow`, or give the rows as CSV or .npy") from exc
    except Exception as exc:  # pyarrow raises its own errors for a bad file
        raise InputError(f"{path} is not a readable Parquet file ({exc}); "
                         "check the file, or give the rows as CSV or .npy") from None


def _from_array(X: np.ndarray, name: str, model: ir.Model) -> UserRows:
    if X.dtype.kind not in "biuf":
        raise InputError(f"{name} holds {X.dtype} values, not numbers; save numeric rows")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[None, :] if len(X) == model.n_features else X[:, None]
    if X.ndim != 2:
        raise InputError(f"{name} has {X.ndim} dimensions; give a 2-D array of rows")
    _check_width(X.shape[1], name, model)
    return UserRows(X=X, name=name)


def _from_frame(frame, name: str, model: ir.Model, chosen: Columns = Columns()) -> UserRows:
    columns = [str(c) for c in frame.columns]
    try:
        X = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} has columns that are not numbers ({exc}); "
                         "encode categories as numbers first") from None
    return _select(X, columns, name, model, None, chosen)


def _read_csv(path: str, name: str, model: ir.Model, columns: Columns = Columns()) -> UserRows:
    """CSV (or TSV) with or without a header; empty fields and NA/NaN/null are missing."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            sample = fh.read(65536)
            fh.seek(0)
            delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
            reader = csv.reader(fh, delimiter=delimiter)
            lines = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path} ({exc}); give a UTF-8 CSV file") from None
    numbered = [(n, row) for n, row in lines if any(c.strip() for c in row)]
    if not numbered:
        raise InputError(f"{path} has no rows; give at least one row of feature values")
    header = None
    if any(_number(c) is None for c in numbered[0][1]):
        header = [c.strip() for c in numbered[0][1]]
        numbered = numbered[1:]
    width = len(header) if header else len(numbered[0][1])
    X = np.empty((len(numbered), width))
    for i, (line, row) in enumerate(numbered):
        if len(row) != width:
            raise InputError(f"{name} line {line} has {len(row)} fields, not {width}; "
                             "give every row the same columns")
        for j, cell in enumerate(row):
            v = _number(cell)
            if v is None:
                raise InputError(f"{name} line {line}, column {j + 1}: {cell!r} is not a number; "
                                 "leave missing values empty or write NaN")
            X[i, j] = v
    line_numbers = tuple(n for n, _ in numbered)
    if header is None:
        if columns.label or columns.ignore:
            raise InputError(f"{name} has no header, so --label and --ignore name no column; "
                             "add a header line or drop the option")
        _check_width(width, name, model)
        return UserRows(X=X, name=name, lines=line_numbers)
    return _select(X, header, name, model, line_numbers, columns)


def _number(cell: str):
    s = cell.strip()
    if s.lower() in MISSING_TEXT:
        return math.nan
    try:
        return float(s)
    except ValueError:
        return None


def _check_width(width: int, name: str, model: ir.Model) -> None:
    if width != model.n_features:
        raise InputError(f"{name} has {width} columns but the model takes {model.n_features} "
                         "features; give exactly the model's features, in training order "
                         "(or a header that names them)")


def _select(X, columns, name, model: ir.Model, lines, chosen: Columns = Columns()) -> UserRows:
    """Named columns: reorder to the model's features when it knows their names, else by the
    generic names (f3, x3, Column_3: feature 3); the label, --ignore columns and, with generic
    names, any other column are left out and listed."""
    names = [str(n) for n in model.feature_names]
    for given in ([chosen.label] if chosen.label else []) + list(chosen.ignore):
        if given not in columns:
            raise InputError(f"{name} has no column {given!r} (its header: "
                             f"{', '.join(columns[:8])}{', ...' if len(columns) > 8 else ''})")
    dropped = {chosen.label, *chosen.ignore} - {None}
    keep = [j for j, c in enumerate(columns) if c not in dropped]
    left = tuple(c for c in columns if c in dropped)
    X, columns = X[:, keep], [columns[j] for j in keep]
    generic = not names or all(_generic(n) == i for i, n in enumerate(names))
    if generic:
        numbered = {c: _generic(c) for c in columns}
        if any(k is not None for k in numbered.values()):
            return _by_number(X, columns, numbered, name, model, lines, left)
        labels = [c for c in columns if c.lower() in LABEL_NAMES]
        if len(columns) == model.n_features + 1 and len(labels) == 1:
            j = columns.index(labels[0])
            return UserRows(X=np.delete(X, j, axis=1), name=name, lines=lines,
                            ignored=left + (labels[0],))
    if generic or not set(names) & set(columns):   # positional: no names to match
        _check_width(len(columns), name, model)
        return UserRows(X=X, name=name, lines=lines, ignored=left)
    absent = [n for n in names if n not in columns]
    if absent:
        raise InputError(f"{name} has no column for the model's features "
                         f"{', '.join(absent[:5])}; give a column for every feature")
    order = [columns.index(n) for n in names]
    ignored = left + tuple(c for c in columns if c not in names)
    return UserRows(X=X[:, order], name=name, lines=lines, ignored=ignored)


def _generic(column: str) -> int | None:
    m = GENERIC_NAME.match(column)
    return int(m.group(1)) if m else None


def _by_number(X, columns, numbered, name, model, lines, left) -> UserRows:
    """Columns named f<i> / x<i> / Column_<i>: feature i; the others are left out."""
    where = {}
    for j, c in enumerate(columns):
        k = numbered[c]
        if k is not None and k < model.n_features:
            if k in where:
                raise InputError(f"{name} names feature {k} twice ({columns[where[k]]}, {c}); "
                                 "give each feature one column")
            where[k] = j
    absent = [k for k in range(model.n_features) if k not in where]
    if absent:
        raise InputError(f"{name} has no column for features {', '.join(map(str, absent[:5]))} "
                         f"of the model's {model.n_features} (columns f0/x0/Column_0 ... "
                         f"f{model.n_features - 1}); give a column for every feature")
    used = set(where.values())
    return UserRows(X=X[:, [where[k] for k in range(model.n_features)]], name=name, lines=lines,
                    ignored=left + tuple(c for j, c in enumerate(columns) if j not in used))


# --- deriving ----------------------------------------------------------------------------

@dataclass
class RowSet:
    """All rows of a verification, in parts: (kind, count) in row order."""

    rows: np.ndarray
    parts: list = field(default_factory=list)
    user: UserRows | None = None

    def origin(self, i: int) -> str:
        start = 0
        for kind, count in self.parts:
            if i < start + count:
                if kind == "user" and self.user is not None:
                    return self.user.origin(i - start)
                return f"derived: {kind}"
            start += count
        return "row"

    def kinds(self, keep=None) -> dict:
        """Rows per kind, counting only rows where `keep` (a bool mask) is true."""
        out, start = {}, 0
        for kind, count in self.parts:
            n = count if keep is None else int(np.sum(keep[start:start + count]))
            out[kind] = out.get(kind, 0) + n
            start += count
        return out


def _base(model: ir.Model, X) -> np.ndarray:
    """Values for the features a derived row does not set: the user rows' medians, else 0."""
    if X is None or not len(X):
        return np.zeros(model.n_features)
    finite = np.where(np.isfinite(X), X, np.nan)
    with np.errstate(all="ignore"):
        counts = np.sum(~np.isnan(finite), axis=0)
        base = np.nanmedian(np.where(counts > 0, finite, 0.0), axis=0)
    return np.where(np.isfinite(base), base, 0.0)


def special_rows(model: ir.Model, base: np.ndarray) -> np.ndarray:
    """Values a model treats specially beyond NaN: unseen and negative categories, the
    model's own missing value (XGBoost's `missing`), and zeros where zero means missing."""
    if model.pre:
        return derive.through_pre(special_rows, model, base)
    ens = model.raw
    if not isinstance(ens, ir.Ensemble):
        return np.empty((0, model.n_features))
    words, zero_features = {}, set()
    for tree in ens.trees:
        inner = tree.left >= 0
        if tree.categories is not None:
            for node, cats in enumerate(tree.categories):
                if cats is not None:
                    f = int(tree.feature[node])
                    words[f] = max(words.get(f, 0), len(cats))
        if tree.zero_missing is not None:
            zero_features.update(int(f) for f in tree.feature[inner & tree.zero_missing])
    values = {f: [-1.0, 32.0 * w, 32.0 * w + 1.5, 0.5] for f, w in words.items()}
    for f in zero_features:
        values.setdefault(f, []).extend([0.0, -0.0, 1e-36, -1e-36])
    if ens.missing_value is not None:
        for f in range(model.n_features):
            values.setdefault(f, []).append(ens.missing_value)
    out = []
    for f in sorted(values):
        for v in values[f]:
            row = base.copy()
            row[f] = v
            out.append(row)
    return np.array(out).reshape(-1, model.n_features)


def _spread(model: ir.Model, X) -> np.ndarray:
    """A per-feature scale for random rows: the user rows' spread, else the thresholds'."""
    if X is not None and len(X) > 1:
        with np.errstate(all="ignore"):
            s = np.nanstd(np.where(np.isfinite(X), X, np.nan), axis=0)
    else:
        s = np.zeros(model.n_features)
        if isinstance(model.raw, ir.Ensemble) and not model.pre:
            lo, hi = np.full(model.n_features, np.inf), np.full(model.n_features, -np.inf)
            for tree in model.raw.trees:
                inner = (tree.left >= 0) & np.isfinite(tree.threshold)
                np.minimum.at(lo, tree.feature[inner], tree.threshold[inner])
                np.maximum.at(hi, tree.feature[inner], tree.threshold[inner])
            s = np.where(hi >= lo, (hi - lo) / 2, 0.0)
    return np.where(np.isfinite(s) & (s > 0), s, 1.0)


def row_set(model: ir.Model, user: UserRows | None = None, *, derived: bool = True,
            seed: int = 0) -> RowSet:
    """The user's rows followed by every kind of derived row."""
    rng = np.random.default_rng(seed)
    X = None if user is None else user.X
    parts = []
    if X is not None and len(X):
        parts.append(("user", X))
    if derived:
        base = _base(model, X)
        parts += [("threshold", derive.threshold_rows(model, base)),
                  ("NaN", derive.nan_rows(model, base)),
                  ("leaf", derive.leaf_rows(model, base)),
                  ("special value", special_rows(model, base))]
        random = base + rng.normal(size=(RANDOM_ROWS, model.n_features)) * _spread(model, X)
        parts.append(("random", random))
        if X is not None and len(X) > 1:
            picks = X[rng.integers(0, len(X), size=min(len(X), SAMPLED_ROWS))].copy()
            picks[rng.random(picks.shape) < 0.2] = np.nan
            parts.append(("user rows with NaN", picks))
    parts = [(k, np.asarray(p, dtype=np.float64).reshape(-1, model.n_features)) for k, p in parts]
    parts = [(k, p) for k, p in parts if len(p)]
    if not parts:
        raise InputError("there are no rows to verify on; give rows with --data")
    return RowSet(rows=np.vstack([p for _, p in parts]), parts=[(k, len(p)) for k, p in parts],
                  user=user)
