"""Files of kinds no loader reads, recognised from their content so the message names them.

load() asks here after the families' sniffers and before unpickling: a CatBoost model, an
ONNX graph, a Keras archive, an HDF5 file or a JSON document that is not an XGBoost model
would otherwise be reported as a broken pickle. Pickles of model libraries we have no loader
for (statsmodels, CatBoost, ...) are named as unsupported models, not refused as unsafe.
"""
from __future__ import annotations

import os
import zipfile

from ..errors import InputError, unsupported
from . import json_doc
from .budget import Budget

# Top-level packages of model libraries without a loader here: a pickle naming one of their
# classes holds a model we cannot read, whatever else it holds (nothing of it is run).
OTHER_MODEL_LIBRARIES = frozenset("""
catboost statsmodels keras tensorflow torch prophet pmdarima ngboost pygam lifelines sktime
h2o cuml imblearn mlxtend interpret onnx onnxruntime skorch tabpfn
""".split())

JSON_READ_LIMIT = 64 << 20     # a larger JSON file is named from its first bytes only
_SUPPORTED = "pass a scikit-learn, XGBoost or LightGBM model"


def other_library_class(module: str, name: str) -> bool:
    """A class (by its name's case) of a model library we have no loader for."""
    return (module.split(".")[0] in OTHER_MODEL_LIBRARIES and name.isidentifier()
            and name[:1].isupper())


def unsupported_class(module: str, name: str):
    top = module.split(".")[0]
    return unsupported(f"{top}.{name}", f"a {top} model; {_SUPPORTED}")


def check(path: str, head: bytes) -> None:
    """Raise the error naming the file's kind when it is one we recognise but do not read."""
    kind = _kind(path, head)
    if kind is not None:
        raise InputError(f"{path} is {kind}")


def _kind(path: str, head: bytes):
    if head.startswith(b"CBM1"):
        return ("a CatBoost model (.cbm), which is not supported; " + _SUPPORTED)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return ("an HDF5 file (a Keras .h5 model or data), which is not supported; "
                + _SUPPORTED)
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if _onnx(head):
        return "an ONNX model, which is not supported; " + _SUPPORTED
    if head.lstrip()[:1] in (b"{", b"["):
        return _json_kind(path, head)
    return None


def _zip_kind(path: str):
    """A Keras 3 archive (config.json + model.weights.h5); skops archives go to skops."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None                 # the skops reader names a broken archive
    if "schema.json" in names:
        return None
    if "config.json" in names and ("model.weights.h5" in names or "metadata.json" in names):
        return "a Keras model (.keras), which is not supported; " + _SUPPORTED
    return ("a zip archive that is neither a skops file (no schema.json) nor a model we "
            "read; " + _SUPPORTED)


def _onnx(head: bytes) -> bool:
    """An ONNX ModelProto: protobuf fields 1 (ir_version, varint) first, then valid fields of
    the numbers ModelProto has (1-8, 14, 20, 25), up to the end of the head."""
    if len(head) < 4 or head[0] != 0x08 or not 1 <= head[1] <= 30:
        return False
    pos, fields = 2, {1}
    while pos < len(head):
        key, pos = _varint(head, pos)
        if key is None:
            return False
        number, wire = key >> 3, key & 7
        if number not in (1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25) or wire not in (0, 2):
            return False
        value, pos = _varint(head, pos)
        if value is None:
            return False
        fields.add(number)
        if wire == 2:
            if pos + value > len(head):
                break               # a field that runs past the head: fine so far
            pos += value
    return bool(fields & {2, 7, 8})  # producer, graph or opset_import


def _varint(data: bytes, pos: int):
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    return None, pos


def _json_kind(path: str, head: bytes):
    doc = None
    try:
        if os.path.getsize(path) <= JSON_READ_LIMIT:
            with open(path, "rb") as fh:
                doc = json_doc.loads(fh.read(), Budget(path))
    except (ValueError, OSError):
        return "a JSON file that does not parse; " + _SUPPORTED
    keys = set(doc) if isinstance(doc, dict) else set()
    text = head if doc is None else b""
    if keys >= {"oblivious_trees", "features_info"} or keys >= {"trees", "features_info"} or \
            (b'"oblivious_trees"' in text and b'"features_info"' in text):
        return ("a CatBoost JSON export, which is not supported; " + _SUPPORTED)
    if keys >= {"tree_info", "feature_names"} or b'"tree_info"' in text:
        return ("a LightGBM JSON dump (Booster.dump_model), which does not keep what prediction "
                "needs; save the model with Booster.save_model and pass that text file")
    if keys >= {"class_name", "config"} and "learner" not in keys:
        return "a Keras model configuration (JSON), which is not supported; " + _SUPPORTED
    if "learner" in keys:
        return None
    return ("a JSON file that is not an XGBoost model (no `learner` key); " + _SUPPORTED)
