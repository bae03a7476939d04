"""`transpile --verify` and `--check`: honest models verify clean, a corrupted threshold is caught
with the right row, every exit status, user rows (CSV, .npy, Parquet), derived rows reaching
every leaf, reference outputs per family, and the report formats.

Each verification is one build; most use C, the fastest toolchain.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from sklearn import datasets, ensemble, linear_model, tree
from typer.testing import CliRunner

from support import LANGS, require_toolchain
from transpiler import ir
from transpiler.cli import app, progress_bar
from transpiler.errors import InputError, OptionError
from transpiler.verify import check, data, harness, report, run
from transpiler.verify.reference import reference
from transpiler.verify.rows import leaf_coverage

runner = CliRunner()
IRIS = datasets.load_iris(as_frame=True)
X_DF, Y = IRIS.data, IRIS.target
X = X_DF.to_numpy()
FOREST = ensemble.RandomForestClassifier(n_estimators=3, max_depth=4, random_state=0).fit(X_DF, Y)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def said(result) -> str:
    """What the command printed but verify's stage lines (stderr, off a terminal)."""
    return "\n".join(line for line in result.output.splitlines() if not line.startswith("verify: "))


@pytest.fixture
def files(tmp_path):
    """The forest pickled, and its rows as CSV (header in another order, plus the label)."""
    model = tmp_path / "forest.pkl"
    model.write_bytes(pickle.dumps(FOREST))
    rows = tmp_path / "rows.csv"
    X_DF[X_DF.columns[::-1]].assign(target=Y).to_csv(rows, index=False)
    return model, rows


# --- honest models ------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_honest_model_verifies_clean(files, lang):
    require_toolchain(lang)
    model, rows = files
    result = invoke(model, "--lang", lang, "--verify", "--data", rows)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "result:     OK" in out
    assert "reference:  sklearn RandomForestClassifier.predict_proba" in out
    assert "(100%)" in out.split("values:")[1].splitlines()[0]          # all bit-identical
    reached = out.split("leaves:")[1].split("reached")[0].split()
    assert reached[0] == reached[2], out                                  # every leaf reached
    assert "150 user" in out and "not features: target" in out


def test_verify_writes_output_only_after_it_passed(files, tmp_path):
    require_toolchain("c")
    model, rows = files
    result = invoke(model, "--lang", "c", "--data", rows, "--report", "json",
                    "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ok"] and doc["rows"]["kinds"]["user"] == 150 and doc["max_ulps"] == 0
    assert doc["leaves"]["reached"] == doc["leaves"]["total"] > 0
    assert doc["labels"] == {"agree": doc["rows"]["compared"], "rows": doc["rows"]["compared"]}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".transpiler-files", "CMakeLists.txt", "model.c", "model.h", "selftest"]


def test_linear_model_rows_the_library_refuses_are_skipped():
    require_toolchain("c")
    model = linear_model.LogisticRegression(max_iter=1000).fit(X, Y)
    r = run.verify(model, "c", rows=X)
    assert r.ok, report.render_text(r)
    assert r.skipped > 0 and "NaN" in r.skipped_reason      # scikit-learn refuses NaN rows
    assert r.tolerance == report.DEFAULT_TOLERANCES["sklearn linear"]
    assert r.labels == (r.rows, r.rows)


def test_native_files_use_their_library(tmp_path):
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    require_toolchain("c")
    Xn = X.copy()
    Xn[::7, 1] = np.nan
    xgb.XGBClassifier(n_estimators=4, max_depth=3).fit(Xn, Y).save_model(tmp_path / "x.json")
    lgb.LGBMRegressor(n_estimators=4, num_leaves=5, verbose=-1, n_jobs=1).fit(Xn, X[:, 0]) \
        .booster_.save_model(tmp_path / "l.txt")
    for path, ref, fam in [("x.json", "xgboost XGBClassifier.predict_proba", "xgboost"),
                           ("l.txt", "lightgbm Booster(model_file).predict", "lightgbm")]:
        r = run.verify(tmp_path / path, "c", rows=Xn)
        assert r.ok, report.render_text(r)
        assert r.reference.startswith(ref) and r.tolerance_origin == f"default for {fam}"
        assert r.leaves[0] == r.leaves[1] > 0


def test_native_file_without_its_library_uses_the_ir_evaluator(tmp_path, monkeypatch):
    xgb = pytest.importorskip("xgboost")
    xgb.XGBRegressor(n_estimators=3, max_depth=2).fit(X, X[:, 0]).save_model(tmp_path / "x.ubj")
    subject = run.open_subject(tmp_path / "x.ubj")
    monkeypatch.setitem(sys.modules, "xgboost", None)      # import xgboost now fails
    ref = reference(subject.source, subject.library, subject.native, subject.model, X)
    assert ref.description == "IR evaluator (xgboost not installed)" and not ref.library
    assert np.array_equal(ref.outputs, ir.evaluate(subject.model, X))


# --- mismatches ---------------------------------------------------------------------------

def corrupt(files_: dict, model: ir.Model):
    """Move the first tree's root threshold up by 0.1 in the generated C (code layout)."""
    root = model.raw.trees[0]
    f, t = int(root.feature[0]), float(root.threshold[0])
    old = f"x[{f}] <= {t!r})"
    new_t = float(np.float32(t + 0.1))
    assert files_["model.c"].count(old) == 1, old
    return dict(files_, **{"model.c": files_["model.c"].replace(old, f"x[{f}] <= {new_t!r})")}), \
        f, t, new_t


def test_corrupted_threshold_is_caught_with_the_right_row(files, monkeypatch):
    require_toolchain("c")
    model, rows = files
    subject = run.open_subject(model)
    bad, f, t, new_t = corrupt(run.generate(subject, "c", layout="code"), subject.model)
    monkeypatch.setattr(run, "generate", lambda *a, **k: bad)     # what the CLI builds
    result = invoke(model, "--lang", "c", "--data", rows, "--report", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert not doc["ok"] and doc["mismatched_rows"] > 0
    assert "error: the generated c code differs from the model" in result.output
    for m in doc["first_mismatches"]:
        # exactly the rows between the old and the new threshold go the wrong way
        assert t < np.float32(m["input"][f]) <= new_t, m
        assert m["ir"] == m["expected"] != m["got"]          # the IR agrees: the code is wrong
    text = report.render_text(run.verify_files(subject, bad, "c", rows=rows, names={}))
    assert "result:     MISMATCH" in text and "first rows that differ:" in text
    assert "(rows.csv line" in text or "(derived: threshold)" in text


def test_tolerance_option_decides(files):
    subject = run.open_subject(files[0])
    ref = np.array([[1.0, 0.5, 0.0]])
    got = np.nextafter(ref, 2.0)                           # 1 ulp up everywhere
    args = dict(lang="c", model="m", source="s", reference="r", tolerance_origin="t",
                row_kinds={}, skipped=0, skipped_reason="", leaves=(0, 0))
    rows = np.zeros((1, 4))
    exact = report.compare(subject.model, rows, got, ref, report.Tolerance(), **args)
    assert not exact.ok and exact.mismatched_values == 3 and exact.max_ulps == 1
    loose = report.parse_tolerance("1ulp", subject.model)
    assert report.compare(subject.model, rows, got, ref, loose, **args).ok
    rel = report.parse_tolerance("1e-15", subject.model)
    assert report.compare(subject.model, rows, got, ref, rel,
                          **args).mismatched_values == 1        # 0 -> 5e-324 is not relative
    assert invoke(files[0], "--lang", "c", "--tolerance", "lots").exit_code == 2


# --- exit status 2: usage and build errors ------------------------------------------------

@pytest.mark.parametrize("args,words", [
    (["--tolerance", "-1"], "--tolerance"),
    (["--verify", "--report", "xml"], "--report"),
    (["--data", "nope.csv"], "no such rows file"),
    (["--check", "d", "-o", "d"], "--check writes nothing"),
])
def test_usage_errors(files, args, words):
    result = invoke(files[0], "--lang", "c", *args)
    assert result.exit_code == 2, result.output
    assert said(result).startswith("error: ") and words in result.output


def test_rows_with_the_wrong_width(files, tmp_path):
    np.save(tmp_path / "r.npy", X[:, :3])
    result = invoke(files[0], "--lang", "c", "--data", tmp_path / "r.npy")
    assert result.exit_code == 2 and "has 3 columns but the model takes 4" in result.output


def test_build_error_shows_the_compiler_message(files, monkeypatch):
    require_toolchain("c")
    broken = dict(run.generate(run.open_subject(files[0]), "c"))
    broken["model.c"] = broken["model.c"].replace(" x[TP_N_FEATURES];", " x[TP_N_FEATURES]", 1)
    monkeypatch.setattr(run, "generate", lambda *a, **k: broken)
    result = invoke(files[0], "--lang", "c", "--verify")
    assert result.exit_code == 2, result.output
    assert said(result).startswith("error: gcc failed") and "expected" in result.output


def test_missing_toolchain_says_what_to_install(files, monkeypatch):
    monkeypatch.setattr(harness.shutil, "which", lambda name: None)
    for lang, hint in [("go", "install Go"), ("c", "apt-get install gcc"), ("java", "JDK")]:
        result = invoke(files[0], "--lang", lang, "--verify")
        assert result.exit_code == 2 and "not found" in result.output and hint in result.output


# --- --check ------------------------------------------------------------------------------

def test_check_cli(files, tmp_path):
    model = files[0]
    out = tmp_path / "gen"
    assert invoke(model, "--lang", "go", "--package", "iris", "-o", out).exit_code == 0
    ok = invoke(model, "--lang", "go", "--package", "iris", "--check", out)
    assert ok.exit_code == 0 and "2 files in" in ok.output   # model.go, model_test.go and "up to date" in ok.output
    drift = invoke(model, "--lang", "go", "--check", out)            # another package name
    assert drift.exit_code == 1
    assert "model.go: 4 lines removed, 4 added" in drift.output      # clause and comments
    assert "-package iris" in drift.output and "+package model" in drift.output
    assert "error: " in drift.output and "is out of date" in drift.output
    missing = invoke(model, "--lang", "c", "--check", out)
    assert missing.exit_code == 1 and "model.c: missing" in missing.output
    # the hint repeats every option given: pasted, it writes what --check expects
    stale = invoke(model, "--lang", "go", "--package", "other", "--function", "Predict",
                   "--layout", "table", "--no-selftest", "--check", out)
    assert stale.exit_code == 1
    hint = next(line for line in stale.output.splitlines() if line.startswith("regenerate with: "))
    assert hint == (f"regenerate with: transpile {model} --lang go -o {out} --package other "
                    "--function Predict --layout table --no-selftest")
    again = tmp_path / "again"
    words = hint.split(": ", 1)[1].split()[1:]
    assert invoke(*[str(again) if w == str(out) else w for w in words]).exit_code == 0
    assert invoke(*words[:words.index("-o")], "--check", again, *words[words.index("-o") + 2:]).exit_code == 0


def test_check_files(tmp_path):
    (tmp_path / "a.go").write_bytes(b"x\r\ny\r\n")                 # CRLF checkout: no drift
    (tmp_path / "t.bin").write_bytes(b"\x00\x01")
    (tmp_path / "extra.txt").write_text("not generated: ignored")
    same = check.check_files({"a.go": "x\ny\n", "t.bin": b"\x00\x01"}, str(tmp_path))
    assert same.ok and same.same == ["a.go", "t.bin"]
    drift = check.check_files({"a.go": "x\nz\n", "t.bin": b"\x00\x02", "b.go": ""}, str(tmp_path))
    assert not drift.ok and drift.missing == ["b.go"]
    assert [c[0] for c in drift.changed] == ["a.go", "t.bin"]
    text = check.render(drift, "transpile m --lang go -o gen")
    assert "-y" in text and "+z" in text and "binary content differs" in text
    assert "regenerate with: transpile m --lang go -o gen" in text


# --- rows ---------------------------------------------------------------------------------

def _leaves_of_derived_rows(model) -> tuple:
    irm = run.open_subject(model).model
    return leaf_coverage(irm, data.row_set(irm).rows)


def test_derived_rows_reach_every_leaf_sklearn():
    Xn = X.copy()
    Xn[::5, 2] = np.nan
    for model in [FOREST, tree.DecisionTreeRegressor(random_state=0).fit(Xn, X[:, 0]),
                  ensemble.ExtraTreesClassifier(n_estimators=3, random_state=0).fit(X, Y)]:
        reached, total = _leaves_of_derived_rows(model)
        assert reached == total > 10


def test_derived_rows_reach_every_leaf_boosters():
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    rng = np.random.default_rng(1)
    Xc = np.round(rng.normal(size=(400, 4)), 1)
    Xc[:, 2] = rng.integers(0, 40, 400)
    Xc[rng.random(Xc.shape) < 0.05] = np.nan
    y = np.nan_to_num(Xc[:, 0]) + np.sin(np.nan_to_num(Xc[:, 2]))
    models = [xgb.XGBRegressor(n_estimators=8, max_depth=4).fit(Xc, y),
              lgb.LGBMRegressor(n_estimators=8, num_leaves=9, min_child_samples=5, verbose=-1,
                                n_jobs=1, max_cat_to_onehot=2, min_data_per_group=3,
                                cat_smooth=1.0).fit(Xc, y, categorical_feature=[2])]
    for model in models:
        reached, total = _leaves_of_derived_rows(model)
        assert reached == total > 20
    irm = run.open_subject(models[1]).model
    special = data.special_rows(irm, np.zeros(4))
    assert {-1.0, 0.5}.issubset(set(special[:, 2])) and special[:, 2].max() >= 32  # unseen codes


def test_row_kinds_and_origins():
    irm = run.open_subject(FOREST).model
    rs = data.row_set(irm, data.user_rows(X[:10], irm))
    kinds = rs.kinds()
    assert kinds["user"] == 10 and kinds["threshold"] > 0 and kinds["leaf"] > 0
    assert kinds["NaN"] == irm.n_features + 2 and kinds["random"] == data.RANDOM_ROWS
    assert rs.origin(3) == "rows[3]" and rs.origin(10) == "derived: threshold"
    assert len(rs.rows) == sum(kinds.values())


def test_csv_rows(tmp_path):
    irm = run.open_subject(FOREST).model
    p = tmp_path / "r.csv"
    p.write_text("1,2,3,4\n\n5,,NA,8\n")
    rows = data.read_rows(str(p), irm)
    assert rows.X.shape == (2, 4) and np.isnan(rows.X[1, 1:3]).all()
    assert rows.origin(1) == "r.csv line 3"
    names = list(X_DF.columns)
    p.write_text(f"extra,{names[3]},{names[2]},{names[1]},{names[0]}\n9,4,3,2,1\n")
    rows = data.read_rows(str(p), irm)
    assert rows.X.tolist() == [[1, 2, 3, 4]] and rows.ignored == ("extra",)
    assert rows.origin(0) == "r.csv line 2"
    p.write_text(f"{names[0]},{names[1]}\n1,2\n")
    with pytest.raises(InputError, match="no column for the model's features"):
        data.read_rows(str(p), irm)
    p.write_text("1,2,3,4\n1,2,three,4\n")
    with pytest.raises(InputError, match="line 2, column 3: 'three' is not a number"):
        data.read_rows(str(p), irm)
    p.write_text("1\t2\t3\t4\n")
    assert data.read_rows(str(p), irm).X.tolist() == [[1, 2, 3, 4]]


def test_npy_and_parquet_rows(tmp_path):
    irm = run.open_subject(FOREST).model
    np.save(tmp_path / "r.npy", X[:5])
    rows = data.read_rows(str(tmp_path / "r.npy"), irm)
    assert np.array_equal(rows.X, X[:5]) and rows.origin(4) == "r.npy[4]"
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(InputError, match="not numbers"):
        data.read_rows(str(tmp_path / "s.npy"), irm)
    pytest.importorskip("pyarrow")
    X_DF[X_DF.columns[::-1]].iloc[:5].to_parquet(tmp_path / "r.parquet")
    rows = data.read_rows(str(tmp_path / "r.parquet"), irm)
    assert np.array_equal(rows.X, X[:5])                       # columns matched by name


# --- report -------------------------------------------------------------------------------

def test_ulp_distance():
    one = np.array([1.0])
    assert report.ulp_distance(np.nextafter(one, 2), one)[0] == 1
    assert report.ulp_distance(np.array([-0.0]), np.array([0.0]))[0] == 0
    assert report.ulp_distance(np.array([-5e-324]), np.array([5e-324]))[0] == 2
    assert report.ulp_distance(np.array([np.nan]), np.array([np.nan]))[0] == 0
    assert report.ulp_distance(np.array([np.nan]), one)[0] == np.iinfo(np.uint64).max
    f32 = float(np.nextafter(np.float32(1), np.float32(2)))
    assert report.ulp_distance(np.array([f32]), one, "float32")[0] == 1
    assert report.ulp_distance(np.array([-1e308]), np.array([1e308]))[0] > 2 ** 63


def test_linear_tolerance_is_relative_to_the_terms():
    """1e6 * x0 - 1e6 * x1 cancels to ~0 at x0 == x1: the rounding is that of terms of 1e6."""
    model = linear_model.LinearRegression().fit(X, X[:, 0] * 1e6 - X[:, 1] * 1e6)
    irm = run.open_subject(model).model
    rows = np.array([[1.0, 1.0, 0.0, 0.0]])
    ref = model.predict(rows).reshape(1, 1)
    assert abs(ref[0, 0]) < 1e-3
    args = dict(lang="c", model="m", source="s", reference="r", tolerance_origin="t",
                row_kinds={}, skipped=0, skipped_reason="", leaves=(0, 0))
    tol = report.Tolerance(rel=1e-12)
    assert report.compare(irm, rows, ref + 1e-7, ref, tol, **args).ok       # 5e-14 of the terms
    assert not report.compare(irm, rows, ref + 1e-4, ref, tol, **args).ok   # 5e-11 of the terms


def test_json_and_junit_reports():
    irm = run.open_subject(FOREST).model
    rows = np.array([[np.nan, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0]])
    ref = np.array([[1.0, 0.0, 0.0], [np.nan, 0.0, 1.0]])
    got = np.array([[1.0, 0.0, 0.0], [0.5, np.inf, 1.0]])
    r = report.compare(irm, rows, got, ref, report.Tolerance(), origin=lambda i: f"r{i}",
                       lang="go", model="m.pkl", source="sklearn.X", reference="ref",
                       tolerance_origin="t", row_kinds={"user": 2}, skipped=0,
                       skipped_reason="", leaves=(3, 4))
    assert not r.ok and r.mismatched_rows == 1 and r.max_ulps is None and r.bit_identical == 4
    assert r.labels == (1, 2)
    doc = json.loads(report.render_json(r))
    m = doc["first_mismatches"][0]
    assert m["row"] == 1 and m["origin"] == "r1"
    assert m["expected"][0] == "nan" and m["got"][1] == "inf"
    suite = ET.fromstring(report.render_junit(r)).find("testsuite")
    assert suite.get("failures") == "1"
    failure = suite.find("testcase/failure")
    assert "2 of 6 values" in failure.get("message") and "row 1 (r1)" in failure.text
    text = report.render_text(r)
    assert "leaves:     3 of 4 reached (75.00%)" in text and "NaN vs number" in text


# --- progress -----------------------------------------------------------------------------

def test_progress_stages_and_quiet_without_a_terminal():
    require_toolchain("c")
    seen = []
    model = tree.DecisionTreeRegressor(max_depth=3).fit(X, X[:, 0])
    r = run.verify(model, "c", progress=lambda stage, **counts: seen.append((stage, counts)))
    assert r.ok and [s for s, _ in seen] == list(run.STAGES)
    assert seen[2][1] == {"rows": r.rows} and seen[3][1] == {"values": r.values}
    with progress_bar() as bar:      # pytest captures the output: not a terminal
        assert bar is None


def test_stage_lines_off_a_terminal(tmp_path):
    """In CI (no terminal) verify says each stage on stderr as it ends: counts and seconds."""
    require_toolchain("c")
    path = tmp_path / "m.pkl"
    with open(path, "wb") as fh:
        pickle.dump(tree.DecisionTreeRegressor(max_depth=3).fit(X, X[:, 0]), fh)
    r = CliRunner().invoke(app, [str(path), "--lang", "c", "--verify"])
    assert r.exit_code == 0, r.output
    lines = [line for line in r.stderr.splitlines() if line.startswith("verify: ")]
    assert [line.split(":")[1].strip() for line in lines] == list(run.STAGES), lines
    assert re.search(r"verify: deriving rows: [\d,]+ rows, \d+\.\d s$", lines[1])
    assert re.search(r"verify: comparing: [\d,]+ values, [\d,]+ bit-identical, OK, \d+\.\d s$",
                     lines[-1])


def test_bad_tolerance_text():
    irm = run.open_subject(FOREST).model
    for bad in ("-1", "nan", "inf", "1 ulpx", "x"):
        with pytest.raises(OptionError):
            report.parse_tolerance(bad, irm)
    assert report.parse_tolerance("exact", irm) == report.Tolerance()
    assert report.parse_tolerance("3 ulps", irm) == report.Tolerance(ulps=3, precision="float64")


def test_pre_commit_hooks_run_as_configured(files, tmp_path):
    yaml = pytest.importorskip("yaml")
    with open(os.path.join(os.path.dirname(__file__), "..", ".pre-commit-hooks.yaml")) as fh:
        hooks = {h["id"]: h for h in yaml.safe_load(fh)}
    model = files[0]
    assert invoke(model, "--lang", "c", "-o", tmp_path / "gen").exit_code == 0
    user_args = {"transpile-check": [model, "--lang", "c", "--check", tmp_path / "gen"],
                 "transpile-verify": [model, "--lang", "c"]}
    for hook_id, args in user_args.items():
        hook = hooks[hook_id]
        assert hook["entry"].split()[0] == "transpile" and hook["pass_filenames"] is False
        if hook_id == "transpile-verify":
            require_toolchain("c")
        result = invoke(*hook["entry"].split()[1:], *args)
        assert result.exit_code == 0, (hook_id, result.output)


# --- rows files as users have them: a header with the target ------------------------------

def _numpy_models():
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    y = X[:, 0] + X[:, 1]
    return {"sklearn": ensemble.RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y),
            "xgboost": xgb.XGBRegressor(n_estimators=3, max_depth=2).fit(X, y),
            "lightgbm": lgb.LGBMRegressor(n_estimators=3, verbose=-1).fit(X, y)}


@pytest.mark.parametrize("prefix", ["x", "f", "Column_"])
def test_header_with_generic_names_and_a_label(tmp_path, prefix):
    """x0..,label (scikit-learn's names), f0..,label (XGBoost's), Column_0.. (LightGBM's), in
    any order, for models trained on NumPy arrays: the label is left out and listed."""
    for lib, model in _numpy_models().items():
        irm = run.open_subject(model).model
        path = tmp_path / f"{lib}.csv"
        cols = [f"{prefix}{j}" for j in range(X.shape[1])]
        order = [3, 0, 2, 1]
        with open(path, "w") as fh:
            fh.write(",".join(["label"] + [cols[j] for j in order]) + "\n")
            for row, target in zip(X[:20], Y[:20]):
                fh.write(",".join([str(target)] + [repr(float(row[j])) for j in order]) + "\n")
        rows = data.user_rows(str(path), irm)
        assert np.array_equal(rows.X, X[:20]), lib
        assert rows.ignored == ("label",), lib


def test_label_and_ignore_options(tmp_path):
    model = _numpy_models()["xgboost"]
    irm = run.open_subject(model).model
    path = tmp_path / "rows.csv"
    with open(path, "w") as fh:
        fh.write("id,a,b,c,d,outcome\n")
        for i, row in enumerate(X[:10]):
            fh.write(",".join([str(i)] + [repr(float(v)) for v in row] + ["1"]) + "\n")
    with pytest.raises(InputError, match="6 columns but the model takes 4"):
        data.user_rows(str(path), irm)
    rows = data.user_rows(str(path), irm, data.Columns(label="outcome", ignore=("id",)))
    assert np.array_equal(rows.X, X[:10]) and rows.ignored == ("id", "outcome")
    with pytest.raises(InputError, match="no column 'target'"):
        data.user_rows(str(path), irm, data.Columns(label="target"))


def test_verify_cli_on_f_label_csv(tmp_path):
    require_toolchain("c")
    xgb = pytest.importorskip("xgboost")
    model = xgb.XGBClassifier(n_estimators=4, max_depth=3).fit(X, Y)
    path = tmp_path / "m.json"
    model.save_model(path)
    rows = tmp_path / "rows.csv"
    with open(rows, "w") as fh:
        fh.write(",".join(f"f{j}" for j in range(X.shape[1])) + ",label,weight\n")
        for row, target in zip(X, Y):
            fh.write(",".join(repr(float(v)) for v in row) + f",{target},1\n")
    r = invoke(path, "--lang", "c", "--data", rows, "--ignore", "weight")
    assert r.exit_code == 0, r.output
    assert "columns of rows.csv that are not features: weight, label" in r.output
    assert "150 user" in r.output and "result:     OK" in r.output
    assert "tolerance:  exact (default for xgboost)" in r.output
    bad = invoke(path, "--lang", "c", "--ignore", "weight")
    assert bad.exit_code == 2 and "--data" in bad.output


# --- defaults that pass out of the box ------------------------------------------------------

def test_default_models_verify_with_default_options(tmp_path):
    """Default-configured models of every family on unscaled rows (features from 1e-3 to 1e4
    in scale) pass verify with its defaults; XGBoost and LightGBM against their library."""
    require_toolchain("c")
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.svm import SVC

    rng = np.random.default_rng(3)
    Xu = rng.normal(size=(1500, 6)) * np.array([1e-3, 1e-1, 1.0, 10.0, 1e3, 1e4])
    z = Xu[:, 0] * 500 + Xu[:, 2] + np.sin(Xu[:, 3] / 10) + Xu[:, 4] / 1e3
    y3 = np.digitize(z + rng.normal(scale=0.5, size=len(z)), [-1, 1])
    xgb_path, lgb_path = tmp_path / "x.json", tmp_path / "l.txt"
    xgb.XGBClassifier(n_estimators=60, max_depth=8).fit(Xu, y3).save_model(xgb_path)
    lgb.LGBMClassifier(verbose=-1).fit(Xu, y3).booster_.save_model(lgb_path)
    models = [str(xgb_path), str(lgb_path),
              linear_model.LogisticRegression(max_iter=3000).fit(Xu, y3),
              SVC().fit(Xu[:600], y3[:600]),
              HistGradientBoostingClassifier(max_iter=30).fit(Xu, y3)]
    for m in models:
        r = run.verify(m, "c", rows=Xu[:200])
        assert r.ok, (m, r.summary())
        if isinstance(m, str):
            assert r.bit_identical == r.values, (m, r.summary())
            assert "of the loaded file" in r.reference or "Booster(model_file)" in r.reference, \
                (m, r.reference)
        elif r.sides:
            assert r.sides[0] == r.sides[1], (m, report.side_text(r))   # the library's side


# --- --report html ----------------------------------------------------------------------------

def _chromium():
    import shutil

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium missing in CI: apt-get install chromium")
        pytest.skip("chromium not found")
    return exe


def test_html_report_renders_in_chromium_with_the_text_reports_numbers(tmp_path):
    """A page with no network: rendered by headless Chromium, it carries the text report's
    numbers, one scatter plot per output, the ulp histogram, leaf coverage, differing rows."""
    import html
    import subprocess

    require_toolchain("c")
    chromium = _chromium()
    from sklearn.svm import SVC

    rng = np.random.default_rng(4)
    Xu = rng.normal(size=(300, 4)) * np.array([1e-3, 1.0, 1e2, 1e4])
    model = SVC().fit(Xu, (Xu[:, 1] + Xu[:, 2] / 100 > 0).astype(int) + (Xu[:, 3] > 5e3))
    r = run.verify(model, "c", rows=Xu[:100], tolerance="0")     # exact: rows differ
    assert not r.ok and r.first
    page = report.RENDERERS["html"](r)
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")   # self-contained
    path = tmp_path / "report.html"
    path.write_text(page)
    dom = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          path.as_uri()], capture_output=True, text=True, timeout=120).stdout
    text = report.render_text(r)
    for key in ("values:", "max error:", "tolerance:", "differs:"):
        line = next(x for x in text.splitlines() if x.startswith(key)).split(":", 1)[1].strip()
        assert html.escape(line, quote=False) in dom, (key, line)
    assert f"{r.values:,}" in dom and f"{r.bit_identical:,}" in dom
    assert dom.count('aria-label="output ') == r.points.__len__() == 3      # ovr: 3 outputs
    assert 'aria-label="values by ulp distance"' in dom
    assert "MISMATCH" in dom and str(r.first[0].row) in dom and "IR evaluator" in dom
    tree_r = run.verify(tree.DecisionTreeRegressor(max_depth=3).fit(X, X[:, 0]), "c")
    tree_dom = report.RENDERERS["html"](tree_r)
    assert f"{tree_r.leaves[0]:,} of {tree_r.leaves[1]:,} leaves reached" in tree_dom
