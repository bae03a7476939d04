"""Models saved by old xgboost releases (tests/data/old_xgboost, written by its make.py in
venvs of xgboost 0.80 to 2.1) give the numbers those releases predicted, bit for bit: in the
IR evaluator and in Go, C and Java. Current xgboost reads none of the binary files of 0.x."""
from __future__ import annotations

import glob
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import transpiler
import transpiler.emit
from transpiler import ir
from transpiler.errors import InputError, UnsupportedModelError
from transpiler.load import xgb_binary
from transpiler.load.xgb_model import Spec, convert
from transpiler.verify.harness import Case, names_for, run_cases

from support import LANGS, require_toolchain

ROOT = os.path.join(os.path.dirname(__file__), "data", "old_xgboost")


def _fixtures():
    out = []
    for manifest in sorted(glob.glob(os.path.join(ROOT, "*", "manifest.json"))):
        folder = os.path.dirname(manifest)
        with open(manifest) as fh:
            info = json.load(fh)
        for entry in info["files"]:
            out.append((info["version"], folder, entry))
    return out


FIXTURES = _fixtures()
FILES = [f for f in FIXTURES if not f[2]["file"].endswith(".pkl")]
PICKLES = [f for f in FIXTURES if f[2]["file"].endswith(".pkl")]


def _id(fixture):
    return f"{fixture[0]}/{fixture[2]['file']}"


def _reference(folder, name):
    with np.load(os.path.join(folder, "preds.npz")) as preds:
        rows = preds["X"]
        return rows, preds[name].astype(np.float64).reshape(len(rows), -1)


def test_fixtures_cover_the_versions_and_formats():
    versions = {f[0] for f in FIXTURES}
    assert {"0.80", "0.90", "1.0.2", "1.3.3", "1.5.2", "1.7.6", "2.0.3"} <= versions
    heads = set()
    for _, folder, entry in FILES:
        with open(os.path.join(folder, entry["file"]), "rb") as fh:
            head = fh.read(4)
        heads.add("binf" if head == b"binf" else "json" if head[:2] == b'{"' else
                  "ubj" if head[:1] == b"{" else "raw")
    assert heads == {"binf", "raw", "json", "ubj"}
    boosters = {entry["pred"] for _, _, entry in FIXTURES}
    assert {"binary", "multi", "reg", "linear", "dart", "poisson", "aft", "logitraw",
            "sk_multi"} <= boosters


@pytest.mark.parametrize("fixture", FILES, ids=_id)
def test_file_matches_the_version_that_wrote_it(fixture):
    version, folder, entry = fixture
    model = transpiler.to_ir(os.path.join(folder, entry["file"]), **entry["options"])
    rows, ref = _reference(folder, entry["pred"])
    got = ir.evaluate(model, rows)
    np.testing.assert_array_equal(got, ref, err_msg=f"{version} {entry['file']}")


@pytest.mark.parametrize("fixture", PICKLES, ids=_id)
def test_pickle_matches_the_version_that_wrote_it(fixture):
    # through the safe unpickler: the Booster's bytes (legacy binary in 0.x, "CONFIG-offset:"
    # in 1.0-1.5, UBJSON later) go to our parsers; 1.0-1.5 classifiers name
    # xgboost.compat.XGBoostLabelEncoder, which no longer exists
    version, folder, entry = fixture
    model = transpiler.to_ir(os.path.join(folder, entry["file"]), **entry["options"])
    rows, ref = _reference(folder, entry["pred"])
    np.testing.assert_array_equal(ir.evaluate(model, rows), ref,
                                  err_msg=f"{version} {entry['file']}")
    if entry["pred"] == "sk_multi":
        assert model.output_kind == "predict_proba" and model.classes == (0, 1, 2)


_COMPILED = {}


def _compiled(lang):
    """Every fixture model (one file of each) built in one toolchain call per language."""
    if lang not in _COMPILED:
        require_toolchain(lang)
        cases, expected, seen = [], {}, set()
        for version, folder, entry in FIXTURES:
            key = (version, entry["pred"])
            if key in seen:
                continue
            seen.add(key)
            model = transpiler.to_ir(os.path.join(folder, entry["file"]), **entry["options"])
            rows, ref = _reference(folder, entry["pred"])
            for layout in ("code", "table"):
                name = f"x{version.replace('.', '')}_{entry['pred']}_{layout}"
                files = transpiler.emit.emit(model, lang, layout=layout, **names_for(lang, name))
                cases.append(Case(name, files, model.n_features, model.n_outputs, rows))
                expected[name] = ref
        _COMPILED[lang] = (run_cases(lang, cases), expected)
    return _COMPILED[lang]


@pytest.mark.parametrize("lang", LANGS)
def test_compiled_code_matches_the_version_that_wrote_the_file(lang):
    out, expected = _compiled(lang)
    assert len(out) == len(expected) > 50
    for name, ref in expected.items():
        np.testing.assert_array_equal(out[name], ref, err_msg=f"{lang} {name}")


# --- the parser on hand-made and damaged files -------------------------------------------------

def _first(pred, version="0.90"):
    return os.path.join(ROOT, version, f"{pred}.model")


def test_format_is_detected_from_content_not_extension(tmp_path):
    for name in ("model.json", "model.pkl", "model"):
        path = tmp_path / name
        path.write_bytes(open(_first("binary"), "rb").read())
        assert transpiler.to_ir(str(path)).meta["objective"] == "binary:logistic"


def test_magic_and_no_magic_read_the_same(tmp_path):
    plain = open(_first("reg", "1.0.2"), "rb").read()
    assert plain[:4] != b"binf"
    path = tmp_path / "m.bin"
    path.write_bytes(b"binf" + plain)
    a = transpiler.to_ir(_first("reg", "1.0.2"))
    b = transpiler.to_ir(str(path))
    rows, _ = _reference(os.path.join(ROOT, "1.0.2"), "reg")
    np.testing.assert_array_equal(ir.evaluate(a, rows), ir.evaluate(b, rows))


def test_old_base_score_is_a_margin_new_one_a_probability():
    old = xgb_binary.parse(open(_first("binary"), "rb").read())["learner"]
    new = xgb_binary.parse(open(_first("binary", "1.7.6"), "rb").read())["learner"]
    assert old["base_score_is_margin"] and float(old["learner_model_param"]["base_score"]) == 0
    assert not new["base_score_is_margin"]
    assert float(new["learner_model_param"]["base_score"]) == 0.5


def test_objective_names_and_attributes_are_read():
    doc = xgb_binary.parse(open(_first("poisson", "1.5.2"), "rb").read())
    assert doc["version"] == [1, 5]
    assert doc["learner"]["objective"]["name"] == "count:poisson"
    assert "objective" not in doc["learner"]["attributes"]     # its config, consumed
    dart = xgb_binary.parse(open(_first("dart"), "rb").read())["learner"]["gradient_booster"]
    assert dart["name"] == "dart" and len(dart["weight_drop"]) == 5


def test_the_pre_0_6_objective_length_layout_is_read(tmp_path):
    data = open(_first("reg"), "rb").read()
    n = struct.unpack_from("<Q", data, 136)[0]
    old = data[:136] + struct.pack("<Q", n << 32) + b"\0\0\0\0" + data[144:]
    path = tmp_path / "old.model"
    path.write_bytes(old)
    rows, ref = _reference(os.path.join(ROOT, "0.90"), "reg")
    np.testing.assert_array_equal(ir.evaluate(transpiler.to_ir(str(path)), rows), ref)


@pytest.mark.parametrize("cut", [150, 200, 400, 1000, -30, -4, -1])
def test_truncated_binary_file_is_one_line_error(cut, tmp_path):
    data = open(_first("dart"), "rb").read()
    path = tmp_path / "cut.model"
    path.write_bytes(data[:cut])
    with pytest.raises(InputError) as err:
        transpiler.to_ir(str(path))
    message = str(err.value)
    assert "XGBoost binary model from xgboost < 1.0" in message and "\n" not in message


def test_lying_counts_are_refused_before_allocating(tmp_path):
    data = bytearray(open(_first("multi", "1.0.2"), "rb").read())
    at = 136 + 8 + len(b"multi:softprob") + 8 + len(b"gbtree")
    for value in (2 ** 31 - 1, -5):
        data[at:at + 4] = struct.pack("<i", value)         # num_trees
        path = tmp_path / "lie.model"
        path.write_bytes(bytes(data))
        with pytest.raises(InputError, match="xgboost 1.0"):
            transpiler.to_ir(str(path))


def test_serialised_booster_of_1_x_is_read():
    raw = open(_first("reg", "1.3.3"), "rb").read()
    config = b'{"learner": {}}'
    blob = xgb_binary.CONFIG_HEADER + struct.pack("<q", len(raw)) + raw + config
    a = xgb_binary.read_serialized(blob)
    assert a["learner"]["objective"]["name"] == "reg:squarederror"
    with pytest.raises(InputError, match="offset"):
        xgb_binary.read_serialized(xgb_binary.CONFIG_HEADER + struct.pack("<q", 10 ** 9) + raw)


def test_survival_aft_predicts_exp_of_the_margin():
    model = transpiler.to_ir(_first("aft", "1.3.3"))
    assert model.post == "exp" and model.meta["objective"] == "survival:aft"


def test_expectile_objective_with_one_alpha_predicts_the_margin():
    # one alpha: predict is the margin, as reg:squarederror's (its base score too)
    doc = xgb_binary.parse(open(_first("reg", "1.7.6"), "rb").read())
    doc["learner"]["objective"]["name"] = "reg:expectileerror"
    model = convert(doc, Spec(proba=False, use_best_iteration=False))
    rows, ref = _reference(os.path.join(ROOT, "1.7.6"), "reg")
    np.testing.assert_array_equal(ir.evaluate(model, rows), ref)
    lmp = doc["learner"]["learner_model_param"]
    lmp["num_target"], lmp["base_score"] = "2", "[1E0,2E0]"
    with pytest.raises(UnsupportedModelError, match="reg:expectileerror with 2"):
        convert(doc, Spec(proba=False, use_best_iteration=False))


def test_base64_models_of_xgboost_0_4_are_named(tmp_path):
    path = tmp_path / "old.model"
    path.write_bytes(b"bs64" + b"AAAA" * 50)
    with pytest.raises(InputError, match="base64 form of xgboost 0.4"):
        transpiler.to_ir(str(path))


def test_cli_damaged_binary_file_is_exit_2_and_one_line(tmp_path):
    data = open(_first("multi", "1.3.3"), "rb").read()
    path = tmp_path / "cut.bin"
    path.write_bytes(data[:len(data) // 2])
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "transpiler", str(path), "--lang", "c",
                        "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == "" and not out.exists()
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    assert "XGBoost binary model from xgboost 1.3" in r.stderr
