"""Inert records of library objects, built by safe_pickle from a file's state.

Unpickling a library object normally runs its own code on the file's bytes: NumPy's dtype and
array __setstate__, sklearn's Tree (Cython), XGBoost's and LightGBM's Booster (their native
model parsers), scipy's sparse matrices. Here none of that runs. A record keeps the class's
name and module (so the loaders find it) and its state, checked: dtypes are rebuilt from
plain kinds (numbers, text, objects, and structs of numbers whose fields fit), arrays from
their bytes with lengths checked, sparse matrices from index arrays checked in range, a Tree's
node table from its fields; a Booster record keeps the raw model bytes (XGBoost) or model
string (LightGBM) for our own parsers. Every size is charged to the load's Budget first.

Records whose real object is plain data (dtype, ndarray, sparse matrix) are replaced by it
when their state arrives (`build` returns the replacement); the others stay records.
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import InputError
from .budget import current


class RecordError(ValueError):
    """A record's state is not what the library writes."""


class Record:
    """Base of every record: `build(state, budget)` takes the pickled state."""

    _real_module = _real_name = "?"

    def __init__(self, *args):
        self._args = args

    def build(self, state, budget):
        return self

    def __repr__(self):
        return f"<record of {self._real_module}.{self._real_name}>"


class InertRecord(Record):
    """A library object the loaders never look into (random states, Cython loss objects):
    its state is dropped."""


_CLASSES: dict = {}


def record_class(base: type, module: str, name: str) -> type:
    """A subclass of `base` named like the library's class, so type(obj).__name__ and
    __module__ read as the real thing's."""
    key = (base, module, name)
    if key not in _CLASSES:
        _CLASSES[key] = type(name, (base,), {"__module__": module, "_real_module": module,
                                             "_real_name": name})
    return _CLASSES[key]


# --- dtypes and arrays ---------------------------------------------------------------------

_CODE = re.compile(r"([biufcOUSV])(\d{1,7})")
MAX_ITEMSIZE = 1 << 20
NUMERIC = "biufc"


def _require(cond, what: str):
    if not cond:
        raise RecordError(what)


def plain_dtype(code: str) -> np.dtype:
    """The dtype a pickle's dtype(code, ...) names, for plain kinds only."""
    m = _CODE.fullmatch(code) if isinstance(code, str) else None
    _require(m is not None, f"a dtype {code!r} that is not a plain number, text or object type")
    dt = np.dtype(code)
    _require(dt.itemsize <= MAX_ITEMSIZE, f"a dtype of {dt.itemsize} bytes per item")
    return dt


class DtypeRecord(Record):
    """numpy.dtype(code, align, copy) and its BUILD state, rebuilt as a checked dtype."""

    _real_module, _real_name = "numpy", "dtype"

    def __init__(self, code=None, *args):
        super().__init__(code, *args)
        self.dtype = plain_dtype(code)

    def build(self, state, budget):
        _require(isinstance(state, tuple) and len(state) in (8, 9), "a malformed dtype state")
        version, endian, subarray, names, fields, elsize = state[:6]
        _require(endian in ("<", ">", "|", "=") and subarray is None
                 and (len(state) == 8 or state[8] is None), "a dtype with a subarray or metadata")
        if names is None:
            _require(self.dtype.kind != "V" and fields is None, "a raw void dtype")
            dt = self.dtype
            if endian in "<>" and dt.kind in NUMERIC + "U" and dt.itemsize > 1:
                dt = dt.newbyteorder(endian)
            return dt
        _require(self.dtype.kind == "V" and isinstance(names, tuple) and isinstance(fields, dict)
                 and len(names) == len(fields) and isinstance(elsize, int)
                 and 0 < elsize <= MAX_ITEMSIZE, "a malformed struct dtype")
        formats, offsets = [], []
        for name in names:
            _require(isinstance(name, str) and name in fields, "a struct dtype's field names")
            entry = fields[name]
            _require(isinstance(entry, tuple) and len(entry) in (2, 3), "a struct dtype's field")
            fdt, offset = _dtype_of(entry[0]), entry[1]
            _require(fdt.kind in NUMERIC and fdt.fields is None and fdt.subdtype is None,
                     "a struct dtype field that is not a plain number")
            _require(isinstance(offset, int) and 0 <= offset and offset + fdt.itemsize <= elsize,
                     "a struct dtype field outside its item")
            formats.append(fdt)
            offsets.append(offset)
        return np.dtype({"names": list(names), "formats": formats, "offsets": offsets,
                         "itemsize": elsize})


def _dtype_of(value) -> np.dtype:
    if isinstance(value, DtypeRecord):
        return value.dtype
    _require(isinstance(value, np.dtype) and (value.kind in NUMERIC + "OUS"
                                              or value.fields is not None),
             "an array whose dtype is not a checked plain type")
    return value


def _count(shape, budget, itemsize: int, what: str) -> int:
    _require(isinstance(shape, tuple) and len(shape) <= 32
             and all(type(s) is int and s >= 0 for s in shape), "a malformed array shape")
    count = 1
    for s in shape:
        count *= s
    budget.charge(count * max(itemsize, 8), what)
    return count


def array_from(raw, dtype, shape, fortran: bool, budget) -> np.ndarray:
    """An array rebuilt from its pickled bytes (or, for objects, its list of items)."""
    dt = _dtype_of(dtype)
    count = _count(shape, budget, dt.itemsize, "an array")
    if dt.hasobject:
        _require(isinstance(raw, list) and len(raw) == count, "an object array of the wrong size")
        flat = np.empty(count, dtype=object)
        for i, item in enumerate(raw):
            flat[i] = item
    else:
        if isinstance(raw, str):        # protocol 0-1 pickles carry the bytes as latin-1 text
            raw = raw.encode("latin-1")
        _require(isinstance(raw, (bytes, bytearray)) and len(raw) == count * dt.itemsize,
                 "array bytes of the wrong length")
        flat = np.frombuffer(raw, dtype=dt, count=count).copy()
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


class ArrayRecord(Record):
    """numpy's _reconstruct(ndarray, (0,), b'b') and the BUILD state it then gets."""

    _real_module, _real_name = "numpy", "ndarray"

    def build(self, state, budget):
        _require(isinstance(state, tuple) and len(state) in (4, 5), "a malformed array state")
        shape, dtype, fortran, raw = state[-4:]
        return array_from(raw, dtype, shape, bool(fortran), budget)


# --- sklearn's Tree ------------------------------------------------------------------------

_NODE_FIELDS = ("left_child", "right_child", "feature", "threshold", "n_node_samples")


class TreeRecord(Record):
    """sklearn.tree._tree.Tree(n_features, n_classes, n_outputs) with its node table, read
    into the attributes the loaders use (children_left, threshold, value, ...)."""

    def __init__(self, n_features=None, n_classes=None, n_outputs=None, *rest):
        super().__init__()
        _require(type(n_features) is int and type(n_outputs) is int and n_outputs >= 1
                 and not rest, "a Tree with malformed arguments")
        classes = np.asarray(n_classes) if isinstance(n_classes, np.ndarray) else None
        _require(classes is not None and classes.ndim == 1 and classes.dtype.kind in "iu"
                 and len(classes) == n_outputs and (classes >= 1).all(),
                 "a Tree with malformed class counts")
        self.n_features, self.n_outputs, self.n_classes = n_features, n_outputs, classes
        self.max_n_classes = int(classes.max())

    def build(self, state, budget):
        _require(isinstance(state, dict), "a Tree state that is not a dict")
        nodes, values, count = state.get("nodes"), state.get("values"), state.get("node_count")
        _require(type(count) is int and isinstance(nodes, np.ndarray) and nodes.shape == (count,)
                 and nodes.dtype.names is not None
                 and all(f in nodes.dtype.names for f in _NODE_FIELDS), "a Tree's node table")
        _require(isinstance(values, np.ndarray) and values.dtype.kind == "f" and values.shape
                 == (count, self.n_outputs, self.max_n_classes), "a Tree's value table")
        self.node_count = self.capacity = count
        self.max_depth = state.get("max_depth")
        self.children_left = nodes["left_child"].astype(np.intp)
        self.children_right = nodes["right_child"].astype(np.intp)
        self.feature = nodes["feature"].astype(np.intp)
        self.threshold = nodes["threshold"].astype(np.float64)
        self.n_node_samples = nodes["n_node_samples"].astype(np.intp)
        for name in ("impurity", "weighted_n_node_samples"):
            setattr(self, name, nodes[name].astype(np.float64) if name in nodes.dtype.names
                    else np.zeros(count))
        if "missing_go_to_left" in nodes.dtype.names:
            self.missing_go_to_left = nodes["missing_go_to_left"].astype(np.uint8)
        self.value = values.astype(np.float64)
        return self


# --- boosters ------------------------------------------------------------------------------

class XGBoostBoosterRecord(Record):
    """xgboost.Booster: its serialized bytes (`handle`) are parsed by our own readers."""

    def build(self, state, budget):
        _require(isinstance(state, dict) and all(isinstance(k, str) for k in state),
                 "a Booster state that is not a dict")
        handle = state.get("handle")
        _require(handle is None or isinstance(handle, (bytes, bytearray)), "a Booster's bytes")
        self.__dict__.update((k, v) for k, v in state.items() if k != "handle")
        self.raw = None if handle is None else bytes(handle)
        self.budget = budget        # parsing the bytes is charged to the same load
        return self

    def document(self) -> dict:
        """The model document (what save_raw writes) of the serialized booster."""
        from . import json_doc
        from .xgb_ubjson import decode

        raw = getattr(self, "raw", None)
        if raw is None:
            raise InputError("the XGBoost Booster in the file holds no model; train it first")
        if raw[:1] == b"{" and raw[1:2] in (b"i", b"U", b"I", b"l", b"L", b"#", b"$"):
            doc = decode(raw, getattr(self, "budget", None))
        elif raw[:2] == b'{"':
            doc = json_doc.loads(raw, getattr(self, "budget", None) or current("the booster"))
        else:
            return _legacy_xgboost(raw, getattr(self, "budget", None))
        if isinstance(doc, dict) and "Model" in doc:
            doc = doc["Model"]
        if not isinstance(doc, dict) or "learner" not in doc:
            raise RecordError("an XGBoost Booster whose bytes hold no learner")
        return doc


def _legacy_xgboost(raw: bytes, budget) -> dict:
    try:
        from . import xgb_binary
    except ImportError:
        xgb_binary = None
    reader = getattr(xgb_binary, "read_serialized", None)
    if reader is None:
        raise InputError("the XGBoost Booster in the file was saved by XGBoost before 1.6 "
                         "(binary format), which is read from a pickle only with "
                         "--trust-pickle for now; or save it again with a newer XGBoost")
    return reader(raw, budget=budget)


class LightGBMBoosterRecord(Record):
    """lightgbm.Booster: its model string is parsed by our own text parser (lgbm_text)."""

    train_set = None

    def build(self, state, budget):
        _require(isinstance(state, dict) and all(isinstance(k, str) for k in state),
                 "a Booster state that is not a dict")
        text = state.get("_handle", state.get("handle"))
        _require(text is None or isinstance(text, str), "a Booster's model string")
        best = state.get("best_iteration", 0)
        _require(type(best) is int, "a Booster's best_iteration")
        self.__dict__.update((k, v) for k, v in state.items()
                             if k not in ("_handle", "handle", "train_set", "valid_sets"))
        self.model_text, self.best_iteration = text, best
        self.budget = budget        # parsing the model string is charged to the same load
        return self


# --- scipy.sparse --------------------------------------------------------------------------

def _index_array(value, what: str, size: int | None = None) -> np.ndarray:
    _require(isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu"
             and (size is None or len(value) == size), f"a sparse matrix's {what}")
    return value


class SparseRecord(Record):
    """A scipy.sparse matrix or array (CSR, CSC or COO), rebuilt from checked index arrays.
    The matrix is charged at its dense size, which is what a loader's toarray() makes."""

    real = None     # the scipy class

    def build(self, state, budget):
        _require(isinstance(state, dict), "a sparse matrix state that is not a dict")
        shape = state.get("_shape")
        _require(isinstance(shape, tuple) and len(shape) == 2
                 and all(type(s) is int and s >= 0 for s in shape), "a sparse matrix's shape")
        budget.charge(shape[0] * shape[1] * 8, "a sparse matrix")
        data = state.get("data")
        _require(isinstance(data, np.ndarray) and data.ndim == 1 and data.dtype.kind in NUMERIC,
                 "a sparse matrix's values")
        fmt = self._real_name[:3]
        if fmt in ("csr", "csc"):
            major, minor = (shape[0], shape[1]) if fmt == "csr" else (shape[1], shape[0])
            indptr = _index_array(state.get("indptr"), "index pointers", major + 1)
            indices = _index_array(state.get("indices"), "indices", len(data))
            _require(indptr[0] == 0 and indptr[-1] == len(data) and (np.diff(indptr) >= 0).all(),
                     "a sparse matrix's index pointers")
            _require(not len(indices) or (indices.min() >= 0 and indices.max() < minor),
                     "a sparse matrix index out of range")
            return self.real((data.copy(), indices.copy(), indptr.copy()), shape=shape)
        if fmt == "coo":
            coords = state.get("coords", (state.get("row"), state.get("col")))
            _require(isinstance(coords, tuple) and len(coords) == 2, "a sparse matrix's coords")
            row, col = (_index_array(c, "coordinates", len(data)) for c in coords)
            for c, n in ((row, shape[0]), (col, shape[1])):
                _require(not len(c) or (c.min() >= 0 and c.max() < n),
                         "a sparse matrix index out of range")
            return self.real((data.copy(), (row.copy(), col.copy())), shape=shape)
        raise RecordError(f"a sparse matrix in the {self._real_name} format (CSR, CSC and COO "
                          "are read)")


def sparse_class(real: type) -> type:
    cls = record_class(SparseRecord, real.__module__, real.__name__)
    cls.real = real
    return cls
