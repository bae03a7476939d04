"""The Python API has what the command has: transpile, write, check, verify, explain; and the
package says what it is (one version, typed)."""
import importlib.resources
import pickle
import re

import numpy as np
import pytest
from sklearn import datasets, tree
from typer.testing import CliRunner

import transpiler
from transpiler.cli import app
from transpiler.errors import OptionError

from support import require_toolchain


@pytest.fixture(scope="module")
def iris_tree():
    X, y = datasets.load_iris(return_X_y=True)
    return tree.DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)


def test_exports_are_public_and_typed():
    for name in transpiler.__all__:
        assert hasattr(transpiler, name), name
    for name in ("transpile", "write", "check", "verify", "explain", "to_ir"):
        fn = getattr(transpiler, name)
        assert fn.__doc__ and "return" in fn.__annotations__, name
    assert importlib.resources.files("transpiler").joinpath("py.typed").is_file()


def test_one_version():
    from transpiler import _version

    assert transpiler.__version__ == _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", transpiler.__version__)
    # the generated header and the manifest print that version
    files = transpiler.transpile("examples/iris_forest.pkl", "go")
    assert f"transpiler {transpiler.__version__}" in files["model.go"].splitlines()[0]


def test_write_then_check(iris_tree, tmp_path):
    out = tmp_path / "model"
    files = transpiler.transpile(iris_tree, "c", function="iris")
    transpiler.write(files, out)
    manifest = (out / ".transpiler-files").read_text().splitlines()
    assert sorted(files) == [line for line in manifest if not line.startswith("#")]
    assert transpiler.check(iris_tree, "c", out, function="iris").ok
    result = transpiler.check(iris_tree, "c", out)          # other options: other code
    assert not result.ok and {name for name, _, _ in result.changed} == set(files)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OptionError, match="did not generate"):
        transpiler.write(files, out)
    transpiler.write(files, out, force=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_transpile_takes_loaded_ir(iris_tree):
    irm = transpiler.to_ir(iris_tree)
    assert transpiler.transpile(irm, "java") == transpiler.transpile(iris_tree, "java")


def test_verify(iris_tree):
    require_toolchain("c")
    report = transpiler.verify(iris_tree, "c", rows=np.zeros((3, 4)))
    assert report.ok and report.bit_identical == report.values > 0


def test_explain_says_why():
    assert re.search(r"^c: layout code: 71 nodes <= 1,024 \(5 trees", transpiler.explain(
        "examples/iris_forest.pkl", "c"))
    assert "asked for" in transpiler.explain("examples/iris_forest.pkl", "c", layout="table")


def test_cli_verbose_says_layout_and_sizes(tmp_path):
    result = CliRunner().invoke(app, ["examples/iris_forest.pkl", "--lang", "go", "--layout",
                                      "table", "-v", "-o", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    size = (tmp_path / "g" / "model.bin").stat().st_size
    assert "go: layout table (heaps): asked for" in result.output
    assert f"model.bin: {size:,} bytes" in result.output


def test_missing_extra_names_our_distribution(monkeypatch):
    from transpiler.errors import MissingDependencyError, require

    monkeypatch.setitem(__import__("sys").modules, "no_such_lib", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'transpiler-ml\[xgboost\]'"):
        require("no_such_lib", "xgboost")
