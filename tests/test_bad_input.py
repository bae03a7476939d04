"""A corpus of broken and adversarial inputs, each with its expected one-line message and exit
code; output directories; names that must not inject code; the checked entry points."""
from __future__ import annotations

import json
import os
import pickle
import subprocess

import joblib
import numpy as np
import pytest
from sklearn import tree
from typer.testing import CliRunner

import transpiler
import transpiler.emit
from transpiler.cli import app
from transpiler.emit import TARGETS
from support import require_toolchain

runner = CliRunner()
RNG = np.random.RandomState(0)
X = RNG.rand(80, 3)
Y = X[:, 0] * 2 + X[:, 1]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, code: int, *words) -> str:
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """Real model files to break: a pickle, a joblib file, XGBoost JSON/UBJ, LightGBM text."""
    import lightgbm
    import xgboost

    d = tmp_path_factory.mktemp("good")
    model = tree.DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, Y)
    (d / "tree.pkl").write_bytes(pickle.dumps(model))
    joblib.dump(model, d / "tree.joblib")
    booster = xgboost.train({"max_depth": 2, "nthread": 1}, xgboost.DMatrix(X, Y), 2)
    booster.save_model(d / "xgb.json")
    booster.save_model(d / "xgb.ubj")
    lightgbm.train({"verbose": -1, "num_leaves": 4, "num_threads": 1, "min_data_in_leaf": 5},
                   lightgbm.Dataset(X, Y), 2).save_model(d / "lgb.txt")
    return d


def _xgb_edit(good, edit):
    doc = json.loads((good / "xgb.json").read_text())
    edit(doc, doc["learner"]["gradient_booster"]["model"]["trees"][0])
    return json.dumps(doc)


def _lgb_edit(good, key, value):
    lines = (good / "lgb.txt").read_text().split("\n")
    i = next(i for i, line in enumerate(lines) if line.startswith(key + "="))
    lines[i] = f"{key}={value}"
    return "\n".join(lines)


def _tree_edit(attr, index, value):
    def make(good):
        model = pickle.loads((good / "tree.pkl").read_bytes())
        state = model.tree_.__getstate__()
        state["nodes"][attr][index] = value
        model.tree_.__setstate__(state)
        return pickle.dumps(model)
    return make


# (name, file name, contents(good dir) -> bytes | str | None, words in the message)
CORPUS = [
    ("missing file", "nope.pkl", None, ["no such file"]),
    ("empty file", "e.pkl", lambda g: b"", ["is empty"]),
    ("random bytes", "r.pkl", lambda g: RNG.bytes(3000), ["not a readable"]),
    ("text", "t.pkl", lambda g: "hello, I am not a model\n", ["not a readable"]),
    ("truncated pickle", "t.pkl", lambda g: (g / "tree.pkl").read_bytes()[:500], ["not a readable"]),
    ("truncated joblib", "t.joblib", lambda g: (g / "tree.joblib").read_bytes()[:900],
     ["not a readable"]),
    ("plain data", "d.pkl", lambda g: pickle.dumps({"a": [1, 2]}), ["not a trained model"]),
    ("unfitted", "u.pkl", lambda g: pickle.dumps(tree.DecisionTreeRegressor()), ["not fitted"]),
    ("sklearn child out of range", "c.pkl", _tree_edit("left_child", 0, 999), ["corrupt"]),
    ("sklearn cycle", "y.pkl", _tree_edit("left_child", 1, 0), ["corrupt"]),
    ("sklearn feature out of range", "f.pkl", _tree_edit("feature", 0, 77), ["corrupt"]),
    ("sklearn NaN threshold", "n.pkl", _tree_edit("threshold", 0, np.nan), ["threshold"]),
    ("xgb truncated json", "x.json", lambda g: (g / "xgb.json").read_bytes()[:700],
     ["not a readable XGBoost JSON model"]),
    ("xgb truncated ubj", "x.ubj", lambda g: (g / "xgb.ubj").read_bytes()[:700],
     ["not a readable XGBoost UBJSON model"]),
    ("xgb child out of range", "x.json",
     lambda g: _xgb_edit(g, lambda d, t: t["left_children"].__setitem__(0, 99)), ["out of range"]),
    ("xgb cycle", "x.json",
     lambda g: _xgb_edit(g, lambda d, t: t["left_children"].__setitem__(1, 0)), ["twice"]),
    ("xgb NaN threshold", "x.json",
     lambda g: _xgb_edit(g, lambda d, t: t["split_conditions"].__setitem__(0, float("nan"))),
     ["threshold"]),
    ("xgb missing field", "x.json", lambda g: _xgb_edit(g, lambda d, t: t.pop("split_indices")),
     ["split_indices"]),
    ("xgb huge class count", "x.json", lambda g: _xgb_edit(
        g, lambda d, t: d["learner"]["learner_model_param"].__setitem__("num_class", "1000000000")),
     ["outputs"]),
    ("xgb huge feature count", "x.json", lambda g: _xgb_edit(
        g, lambda d, t: d["learner"]["learner_model_param"].__setitem__("num_feature", "1e300")),
     ["features"]),
    ("xgb node id not an integer", "x.json",
     lambda g: _xgb_edit(g, lambda d, t: t["left_children"].__setitem__(0, 1.5)), ["integer"]),
    ("xgb wrong type", "x.json", lambda g: _xgb_edit(
        g, lambda d, t: d["learner"]["gradient_booster"]["model"].__setitem__("trees", "x")),
     ["corrupt"]),
    ("lgb truncated", "l.txt", lambda g: (g / "lgb.txt").read_bytes()[:400],
     ["not a readable LightGBM model"]),
    ("lgb child out of range", "l.txt", lambda g: _lgb_edit(g, "left_child", "1 5 -2"),
     ["not a readable LightGBM model"]),
    ("lgb NaN threshold", "l.txt", lambda g: _lgb_edit(g, "threshold", "nan nan nan"),
     ["threshold"]),
    ("lgb huge leaf count", "l.txt", lambda g: _lgb_edit(g, "num_leaves", "999999999999"),
     ["not a readable LightGBM model"]),
    ("lgb no trees, huge class count", "l.txt", lambda g: (g / "lgb.txt").read_text().split(
        "Tree=0")[0].replace("num_tree_per_iteration=1", "num_tree_per_iteration=1000000000")
     + "end of trees\n", ["out of range"]),
    ("lgb huge tree count", "l.txt",
     lambda g: _lgb_edit(g, "num_tree_per_iteration", "1000000000"),
     ["not a readable LightGBM model"]),
]


@pytest.mark.parametrize("name,filename,contents,words", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus(good, tmp_path, name, filename, contents, words):
    path = tmp_path / filename
    if contents is not None:
        data = contents(good)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    one_line_error(invoke(path, "--lang", "go"), 2, *words)
    if contents is not None:    # the same through the API: the documented error type
        with pytest.raises(transpiler.errors.TranspilerError):
            transpiler.transpile(str(path), "c")


def test_a_directory(tmp_path):
    one_line_error(invoke(tmp_path, "--lang", "go"), 2, "is a directory")


def test_debug_shows_the_traceback(tmp_path):
    result = invoke(tmp_path / "nope.pkl", "--lang", "go", "--debug")
    assert result.exit_code != 0 and isinstance(result.exception, transpiler.errors.InputError)


@pytest.mark.parametrize("args,words", [
    (["--lang", "rust"], ["unknown --lang", "go, c, java"]),
    ([], ["missing --lang"]),
    (["--lang", "go", "--layout", "fast"], ["--layout"]),
    (["--lang", "go", "--frobnicate"], ["No such option", "--help"]),
    (["--lang"], ["requires an argument"]),
    (["--lang", "go", "extra"], ["unexpected extra argument"]),
    (["--lang", "c", "--report", "pdf"], ["--report"]),
])
def test_usage_errors(good, args, words):
    one_line_error(invoke(good / "tree.pkl", *args), 2, *words)


@pytest.mark.parametrize("lang,option,value", [
    ("go", "--package", "func"), ("go", "--package", "a-b"), ("go", "--function", "x;os.Exit(1)"),
    ("c", "--function", "int"), ("c", "--function", "f(void);system"), ("c", "--function", "é"),
    ("java", "--class", "class"), ("java", "--package", "com.evil;import"),
    ("java", "--function", "x\ny"), ("java", "--package", "a..b"), ("go", "--function", ""),
])
def test_names_cannot_inject_code(good, lang, option, value):
    one_line_error(invoke(good / "tree.pkl", "--lang", lang, option, value), 2, option)


# --- output directories ----------------------------------------------------------------

def test_output_replaces_its_own_files_and_keeps_nothing_stale(good, tmp_path):
    out = tmp_path / "out"
    assert invoke(good / "tree.pkl", "--lang", "go", "--layout", "table", "-o", out).exit_code == 0
    assert (out / "model.bin").exists()
    result = invoke(good / "tree.pkl", "--lang", "go", "--layout", "code", "-o", out)
    assert result.exit_code == 0, result.output
    # model.bin removed; the code layout writes model.go and its self-test
    assert sorted(os.listdir(out)) == [".transpiler-files", "model.go", "model_test.go"]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".transpile-")]


def test_output_refuses_a_directory_with_other_files(good, tmp_path):
    out = tmp_path / "src"
    out.mkdir()
    (out / "main.go").write_text("package main\n")
    one_line_error(invoke(good / "tree.pkl", "--lang", "go", "-o", out), 2, "main.go", "--force")
    assert os.listdir(out) == ["main.go"]
    result = invoke(good / "tree.pkl", "--lang", "go", "-o", out, "--force")
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(out)) == [".transpiler-files", "main.go", "model.go", "model_test.go"]
    assert (out / "main.go").read_text() == "package main\n"


def test_output_recognises_files_generated_before_the_manifest(good, tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    (out / "model.go").write_text("// Code generated by transpiler 0.0.9 from x. DO NOT EDIT.\n")
    assert invoke(good / "tree.pkl", "--lang", "go", "-o", out).exit_code == 0


@pytest.mark.parametrize("target", ["file", "under_a_file"])
def test_output_that_cannot_be_written(good, tmp_path, target):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker if target == "file" else blocker / "sub"
    one_line_error(invoke(good / "tree.pkl", "--lang", "c", "-o", out), 2)
    assert blocker.read_text() == "x"


# --- strings from the model and the checked entry points, compiled -----------------------

HOSTILE = 'a"b\\c\n*/ /* \u00e9\U0001F600 \x7f ?? " + evil() + "\r\u2028'


@pytest.fixture(scope="module")
def hostile_model():
    """A model whose source description (it goes into the header comment) tries to escape."""
    from dataclasses import replace

    model = transpiler.to_ir(tree.DecisionTreeRegressor(max_depth=2).fit(X, Y))
    return replace(model, source=HOSTILE, feature_names=(HOSTILE, "b", "c"))


def _compile_and_run(lang, model, tmp_path):
    require_toolchain(lang)
    files = transpiler.emit.emit(model, lang)
    literal = TARGETS[lang].string_literal(HOSTILE)
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(content if isinstance(content, bytes) else content.encode())
    if lang == "c":
        (tmp_path / "main.c").write_text(f"""#include <stdio.h>
#include "model.h"
int main(void) {{
    double in[3] = {{0.1, 0.2, 0.3}}, out[SCORE_N_OUTPUTS];
    const char *s = {literal};
    for (const char *p = s; *p; p++) printf("%02x", (unsigned char)*p);
    printf("\\n%d %d\\n", score_checked(in, 2, out, SCORE_N_OUTPUTS), score_checked(in, 3, out, SCORE_N_OUTPUTS));
    return 0;
}}
""")
        exe = str(tmp_path / "a.out")
        subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", exe,
                        "main.c", "model.c", "-lm"], cwd=tmp_path, check=True)
        cmd = [exe]
    elif lang == "go":
        (tmp_path / "go.mod").write_text("module m\n\ngo 1.21\n")
        os.makedirs(tmp_path / "model", exist_ok=True)
        for rel in files:
            os.replace(tmp_path / rel, tmp_path / "model" / rel)
        (tmp_path / "main.go").write_text(f"""package main

import (
\t"fmt"

\t"m/model"
)

func main() {{
\tfor _, b := range []byte({literal}) {{
\t\tfmt.Printf("%02x", b)
\t}}
\t_, err := model.ScoreChecked([]float64{{0.1, 0.2}})
\tout, err2 := model.ScoreChecked([]float64{{0.1, 0.2, 0.3}})
\tfmt.Printf("\\n%v %v %d\\n", err != nil, err2 != nil, len(out))
}}
""")
        cmd = ["go", "run", "."]
    else:
        (tmp_path / "Main.java").write_text(f"""public class Main {{
    public static void main(String[] args) throws Exception {{
        StringBuilder hex = new StringBuilder();
        for (byte b : {literal}.getBytes("UTF-8")) hex.append(String.format("%02x", b));
        System.out.println(hex);
        boolean thrown = false;
        try {{ Model.score(new double[2]); }} catch (IllegalArgumentException e) {{ thrown = true; }}
        System.out.println(thrown + " " + Model.score(new double[3]).length);
    }}
}}
""")
        subprocess.run(["javac", "-Xlint:all", "-Werror", "Main.java", "Model.java"], cwd=tmp_path,
                       check=True, capture_output=True)
        cmd = ["java", "-cp", ".", "Main"]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("lang", ["go", "c", "java"])
def test_hostile_strings_and_checked_entry_points(lang, hostile_model, tmp_path):
    out = _compile_and_run(lang, hostile_model, tmp_path).split("\n")
    expected = HOSTILE.encode("utf-8").hex()
    assert out[0] == expected          # the literal holds exactly the string
    assert out[1] == {"c": "-1 0", "go": "true false 1", "java": "true 1"}[lang]
