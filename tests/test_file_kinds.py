"""Files of kinds no loader reads are named from their content (whatever their file name), in
one line with exit code 2: CatBoost binary and JSON, ONNX, Keras archives and HDF5, JSON that
is not a model, and pickles of model libraries we have no loader for. All hand-made bytes:
none of those libraries is needed."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
from typer.testing import CliRunner

import transpiler
from transpiler.cli import app
from transpiler.errors import InputError, UnsupportedModelError
from transpiler.load import formats, load


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (lengths below 128 here)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def onnx_bytes() -> bytes:
    """ModelProto: ir_version 8, producer, version, domain, model_version 0, a graph with one
    node, opset_import {domain "", version 17}."""
    node = _field(1, b"X") + _field(2, b"Y") + _field(4, b"Identity")
    graph = _field(1, node) + _field(2, b"g")
    opset = _field(1, b"") + bytes([2 << 3, 17])
    return (bytes([0x08, 8]) + _field(2, b"skl2onnx") + _field(3, b"1.16.0")
            + _field(4, b"ai.onnx") + bytes([5 << 3, 0]) + _field(7, graph) + _field(8, opset))


def zip_bytes(names) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name in names:
            archive.writestr(name, b"{}" if name.endswith(".json") else b"\x89HDF")
    return buf.getvalue()


CATBOOST_JSON = {
    "model_info": {"params": {"loss_function": {"type": "Logloss"}}},
    "features_info": {"float_features": [{"feature_index": 0, "borders": [0.5]}]},
    "oblivious_trees": [{"splits": [{"float_feature_index": 0, "border": 0.5}],
                         "leaf_values": [0.1, -0.1], "leaf_weights": [3, 4]}],
    "scale_and_bias": [1, [0]],
}
LGBM_DUMP = {"name": "tree", "version": "v4", "num_class": 1, "feature_names": ["a"],
             "tree_info": [{"tree_index": 0, "tree_structure": {"leaf_value": 0.5}}]}
KERAS_CONFIG = {"class_name": "Sequential", "config": {"name": "sequential", "layers": []}}

# name -> (file name, bytes, error type, words in the message)
KINDS = {
    "catboost_cbm": ("model.bin", b"CBM1" + bytes(range(60)), InputError,
                     ["CatBoost model (.cbm)"]),
    "catboost_json": ("model.json", json.dumps(CATBOOST_JSON).encode(), InputError,
                      ["CatBoost JSON export"]),
    "onnx": ("model.pkl", onnx_bytes(), InputError, ["an ONNX model"]),
    "keras_zip": ("model.keras", zip_bytes(["metadata.json", "config.json", "model.weights.h5"]),
                  InputError, ["a Keras model (.keras)"]),
    "other_zip": ("model.zip", zip_bytes(["data.csv"]), InputError, ["neither a skops file"]),
    "hdf5": ("model.h5", b"\x89HDF\r\n\x1a\n" + bytes(40), InputError, ["an HDF5 file"]),
    "json_not_a_model": ("model.json", b'{"weights": [1, 2, 3]}', InputError,
                         ["a JSON file that is not an XGBoost model (no `learner` key)"]),
    "json_list": ("model.txt", b"[1, 2, 3]\n", InputError, ["no `learner` key"]),
    "json_broken": ("model.json", b'{"a": [1, 2', InputError, ["a JSON file that does not parse"]),
    "lightgbm_dump": ("model.json", json.dumps(LGBM_DUMP).encode(), InputError,
                      ["LightGBM JSON dump", "save_model"]),
    "keras_json": ("model.json", json.dumps(KERAS_CONFIG).encode(), InputError,
                   ["Keras model configuration"]),
    "catboost_pickle": ("model.pkl", b"\x80\x02ccatboost.core\nCatBoostClassifier\n)\x81}b.",
                        UnsupportedModelError, ["unsupported model catboost.CatBoostClassifier"]),
    "statsmodels_pickle": ("model.pkl", b"\x80\x02cstatsmodels.regression.linear_model\n"
                           b"RegressionResultsWrapper\n)\x81}b.", UnsupportedModelError,
                           ["unsupported model statsmodels.RegressionResultsWrapper"]),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_named_from_content(kind, tmp_path):
    filename, data, error, words = KINDS[kind]
    path = tmp_path / filename
    path.write_bytes(data)
    with pytest.raises(error) as exc:
        load(str(path))
    msg = str(exc.value)
    assert "\n" not in msg and "not a readable pickle" not in msg
    assert "trust-pickle" not in msg and "pip install skops" not in msg
    for w in words:
        assert w in msg, msg


@pytest.mark.parametrize("kind", ["catboost_cbm", "onnx", "statsmodels_pickle", "json_not_a_model"])
def test_cli_one_line_exit_2(kind, tmp_path):
    filename, data, _, words = KINDS[kind]
    path = tmp_path / filename
    path.write_bytes(data)
    result = CliRunner().invoke(app, [str(path), "--lang", "go"])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words[0] in lines[0]


def test_dangerous_globals_are_still_refused(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.")
    with pytest.raises(InputError) as exc:
        transpiler.load.load(str(path))
    assert "refused" in str(exc.value) and "os.system" in str(exc.value)
    assert not formats.other_library_class("catboost.core", "load_model")   # functions: refused


def test_models_we_read_are_not_taken_for_other_kinds():
    assert not formats._onnx(b"\x80\x04\x95")        # a pickle
    assert not formats._onnx(b"tree\nversion=v4\n")
    assert formats._onnx(onnx_bytes())
    assert not formats._onnx(onnx_bytes()[:2] + b"\xff\xff\xff")
