"""The `transpile` command: outputs, options, and one-line errors with exit codes."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn import datasets, linear_model, tree
from sklearn.neighbors import KNeighborsClassifier
from typer.testing import CliRunner

from transpiler.cli import app

runner = CliRunner()
X, y = datasets.load_iris(return_X_y=True)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "tree.pkl"
    path.write_bytes(pickle.dumps(tree.DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, y)))
    return path


def assert_one_line_error(result, code, *words):
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize("lang,needle", [("go", "func Score(input []float64) []float64"),
                                         ("c", "void score(const double *input, double *output)"),
                                         ("java", "public static double[] score(double[] input)")])
def test_stdout(model_path, lang, needle):
    result = invoke(model_path, "--lang", lang)
    assert result.exit_code == 0, result.output
    assert needle in result.output


@pytest.mark.parametrize("lang,files", [("go", ["model.go", "model_test.go"]), ("c", ["model.c", "model.h", "CMakeLists.txt", "selftest"]),
                                        ("java", ["Model.java", "ModelSelfTest.java"])])
def test_output_directory(model_path, tmp_path, lang, files):
    out = tmp_path / "deep" / "out"
    result = invoke(model_path, "--lang", lang, "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == sorted(files + [".transpiler-files"])  # + the manifest
    assert not [p for p in os.listdir(out.parent) if p.startswith(".transpile-")]


def test_naming_options(model_path, tmp_path):
    result = invoke(model_path, "--lang", "java", "--package", "com.acme.models",
                    "--class", "Iris", "--function", "predict", "-o", tmp_path / "j")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "j" / "Iris.java").read_text()
    assert "package com.acme.models;" in text and "public final class Iris" in text
    assert "public static double[] predict(double[] input)" in text
    result = invoke(model_path, "--lang", "go", "--package", "iris", "--function", "Predict")
    assert "package iris" in result.output and "func Predict(input []float64)" in result.output
    result = invoke(model_path, "--lang", "c", "--function", "iris_score")
    assert "void iris_score(const double *input, double *output)" in result.output
    assert "TRANSPILED_IRIS_SCORE_H" in result.output


def test_output_is_deterministic(model_path):
    assert invoke(model_path, "--lang", "go").output == invoke(model_path, "--lang", "go").output


def test_list_models():
    result = invoke("--list-models")
    assert result.exit_code == 0
    for name in ("DecisionTreeClassifier", "RandomForestRegressor", "LogisticRegression", "LinearSVR"):
        assert name in result.output


def test_missing_file(tmp_path):
    assert_one_line_error(invoke(tmp_path / "nope.pkl", "--lang", "go"), 2, "no such file")


def test_directory(tmp_path):
    assert_one_line_error(invoke(tmp_path, "--lang", "go"), 2, "is a directory")


def test_empty_file(tmp_path):
    (tmp_path / "e.pkl").write_bytes(b"")
    assert_one_line_error(invoke(tmp_path / "e.pkl", "--lang", "go"), 2, "is empty")


def test_not_a_pickle(tmp_path):
    (tmp_path / "t.pkl").write_text("hello, I am not a model\n")
    assert_one_line_error(invoke(tmp_path / "t.pkl", "--lang", "go"), 2, "not a readable")


def test_pickle_of_plain_data(tmp_path):
    (tmp_path / "d.pkl").write_bytes(pickle.dumps({"a": 1}))
    assert_one_line_error(invoke(tmp_path / "d.pkl", "--lang", "go"), 2, "not a trained model")


def test_unfitted_model(tmp_path):
    (tmp_path / "u.pkl").write_bytes(pickle.dumps(tree.DecisionTreeRegressor()))
    assert_one_line_error(invoke(tmp_path / "u.pkl", "--lang", "c"), 2, "not fitted", "fit()")


def test_unsupported_model(tmp_path):
    (tmp_path / "s.pkl").write_bytes(pickle.dumps(KNeighborsClassifier().fit(X, y)))
    assert_one_line_error(invoke(tmp_path / "s.pkl", "--lang", "c"), 2, "unsupported model KNeighborsClassifier",
                          "--list-models")


def test_multi_output_classifier_is_unsupported(tmp_path):
    model = tree.DecisionTreeClassifier(max_depth=2).fit(X, np.c_[y, y])
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    assert_one_line_error(invoke(tmp_path / "m.pkl", "--lang", "c"), 2, "multi-output")


def test_unknown_language(model_path):
    assert_one_line_error(invoke(model_path, "--lang", "rust"), 2, "unknown --lang", "go, c, java")


def test_missing_language(model_path):
    assert_one_line_error(invoke(model_path), 2, "missing --lang")


def test_unknown_layout(model_path):
    assert_one_line_error(invoke(model_path, "--lang", "go", "--layout", "fast"), 2, "--layout")


@pytest.mark.parametrize("option,value", [("--function", "2fast"), ("--function", "return"),
                                          ("--package", "a-b"), ("--class", "class")])
def test_bad_identifiers(model_path, option, value):
    lang = "java" if option != "--package" else "go"
    assert_one_line_error(invoke(model_path, "--lang", lang, option, value), 2, option)


def test_unwritable_output(model_path, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke(model_path, "--lang", "go", "-o", blocker / "sub")
    assert_one_line_error(result, 2, "cannot write")


def test_error_leaves_no_output(tmp_path):
    (tmp_path / "u.pkl").write_bytes(pickle.dumps(tree.DecisionTreeRegressor()))
    invoke(tmp_path / "u.pkl", "--lang", "go", "-o", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_python_dash_m(model_path):
    r = subprocess.run([sys.executable, "-m", "transpiler", str(model_path), "--lang", "c"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "void score(" in r.stdout


def test_api_returns_files():
    import transpiler

    model = linear_model.LinearRegression().fit(X, y)
    files = transpiler.transpile(model, lang="c", function="iris")
    assert set(files) == {"model.c", "model.h", "CMakeLists.txt", "selftest/model_selftest.c"} and "void iris(" in files["model.h"]
