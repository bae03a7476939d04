"""Go plugins, the run-time Go loader and the two example services (issue 7).

The end-to-end tests build real plugins and hosts with the local Go (cgo enabled): two models
as plugins served by examples/go-host, checked against the Python models, then one model
rebuilt with new weights and swapped in while a client keeps sending requests; and the same
for examples/go-loader with model files. The loader is also checked bit for bit against the
generated package for models that use every post-processor and tree feature.
"""
from __future__ import annotations

import codecs
import dataclasses
import concurrent.futures
import json
import os
import re
import select
import shutil
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from typer.testing import CliRunner

import transpiler
from transpiler import ir
from transpiler.cli import app
from transpiler.emit import go_plugin, modelfile
from transpiler.outdir import write_files as write
from transpiler.errors import OptionError, UnsupportedModelError
from transpiler.verify.harness import Case, missing_toolchain, run_cases

from support import assert_close, fixture_rows, reference

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST_SRC = os.path.join(ROOT, "examples", "go-host")
LOADER_SRC = os.path.join(ROOT, "examples", "go-loader")
NASTY_NAMES = ['a"quote', "back\\slash", "new\nline", "ü `tick` */ \u2028", "\x00nul"]
LABELS = np.array(["cat", "dog", 'q"uote'])

pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


# --- models -------------------------------------------------------------------------------

def data(seed=0, n=200, nan=0.05):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[rng.random(X.shape) < nan] = np.nan
    y3 = (X[:, 0] > 0).astype(int) + (np.nan_to_num(X[:, 1]) > 0.5)
    yr = np.nan_to_num(X[:, 0]) * 2 + np.nan_to_num(X[:, 2])
    return X, y3, yr


def forest(seed=0):
    """A classifier with hostile feature names and string labels (they end up in Go literals)."""
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    X, y3, _ = data(seed)
    frame = pd.DataFrame(X, columns=NASTY_NAMES)
    return RandomForestClassifier(n_estimators=5, max_depth=4, random_state=seed).fit(frame, LABELS[y3]), X


def booster(seed=0, trees=8):
    xgb = pytest.importorskip("xgboost")
    X, _, yr = data(seed)
    return xgb.XGBRegressor(n_estimators=trees, max_depth=3, n_jobs=1, random_state=seed).fit(X, yr + seed), X


def loader_models():
    """Models that between them use every post-processor, float32 and float64, both
    comparison operators, mean aggregation, wide leaves, NaN routing, XGBoost's `missing`,
    categorical splits, zero-as-missing and linear leaves."""
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    from sklearn.ensemble import ExtraTreesRegressor, GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.svm import LinearSVC
    from sklearn.tree import DecisionTreeClassifier

    X, y, yr = data()
    rng = np.random.default_rng(1)
    Xf = np.nan_to_num(X)
    Xc = X.copy()
    Xc[:, 4] = rng.integers(0, 6, size=len(X))
    Xc[rng.random(len(X)) < 0.05, 4] = np.nan
    Xm = np.where(np.isnan(X), -999.0, X)
    s = dict(n_estimators=6, max_depth=3, n_jobs=1, random_state=0)
    g = dict(n_estimators=4, num_leaves=6, min_child_samples=5, verbose=-1, n_jobs=1)
    softmax = xgb.XGBClassifier(objective="multi:softmax", **s).fit(X, y)
    logistic = xgb.XGBClassifier(**s).fit(X, y > 0)
    return {
        "rf_clf": (RandomForestClassifier(**s).fit(X, y), X),
        "et_multi": (ExtraTreesRegressor(**s).fit(Xf, np.c_[yr, -yr]), Xf),
        "dt_nan": (DecisionTreeClassifier(max_depth=4, random_state=0).fit(X, y > 0), X),
        "gbc": (GradientBoostingClassifier(n_estimators=5, max_depth=3, random_state=0).fit(Xf, y), Xf),
        "xgb_bin": (logistic, X),
        "xgb_multi": (xgb.XGBClassifier(**s).fit(X, y), X),
        "xgb_hinge": (xgb.XGBClassifier(objective="binary:hinge", **s).fit(X, y > 0), X),
        "xgb_poisson": (xgb.XGBRegressor(objective="count:poisson", **s).fit(X, np.exp(yr / 3)), X),
        "xgb_linear": (xgb.XGBRegressor(booster="gblinear", n_estimators=5, n_jobs=1).fit(X, yr), X),
        "xgb_missing": (xgb.XGBRegressor(missing=-999.0, **s).fit(Xm, yr), Xm),
        "xgb_argmax": (softmax.get_booster(), X),
        "xgb_sigmoid": (logistic.get_booster(), X),
        "lgb_cat": (lgb.LGBMRegressor(zero_as_missing=True, **g).fit(Xc, yr, categorical_feature=[4]), Xc),
        "lgb_linear": (lgb.LGBMRegressor(linear_tree=True, **g).fit(X, yr), X),
        "lgb_multi": (lgb.LGBMClassifier(**g).fit(X, y), X),
        "lgb_sqrt": (lgb.LGBMRegressor(reg_sqrt=True, **g).fit(X, yr), X),
        "lgb_softplus": (lgb.LGBMRegressor(objective="cross_entropy_lambda", **g).fit(X, (y > 0) * 1.0), X),
        "lgb_scaled": (lgb.LGBMClassifier(sigmoid=0.7, **g).fit(X, y > 0), X),
        "logreg": (LogisticRegression(max_iter=500).fit(Xf, y), Xf),
        "ovr": (OneVsRestClassifier(LogisticRegression(max_iter=500)).fit(Xf, y), Xf),
        "svc": (LinearSVC().fit(Xf, y), Xf),
        "ridge2": (Ridge().fit(Xf, np.c_[yr, 2 * yr]), Xf),
        "huber": (SGDClassifier(loss="modified_huber", random_state=0).fit(Xf, y), Xf),
        "huber_bin": (SGDClassifier(loss="modified_huber", random_state=0).fit(Xf, y > 0), Xf),
    }


# --- generation (no toolchain needed) -----------------------------------------------------

def test_go_quote_escapes_everything():
    for text in NASTY_NAMES + ["", "plain", "\ud800 lone surrogate", "\U0001f600", "\x7f"]:
        lit = go_plugin.go_quote(text)
        body = lit[1:-1]
        assert lit[0] == lit[-1] == '"' and all(0x20 <= ord(c) < 0x7F for c in lit)
        assert not re.search(r'(?<!\\)(\\\\)*"', body), lit      # no quote ends it early
        decoded = codecs.decode(body, "unicode_escape")            # Go's escapes are Python's
        assert decoded == text.replace("\ud800", "\ufffd")


def test_plugin_files_metadata_and_module_path():
    model, _ = forest()
    irm = transpiler.to_ir(model)
    files = go_plugin.plugin_files(irm)
    assert set(files) == {"model.go", "plugin.go", "fixture.bin", "go.mod"}
    # the scoring code is the ordinary package's, only named main: no copied template
    # (--package main itself is refused: the ordinary package is a library)
    ordinary = transpiler.emit.emit(irm, "go", package="plugmain")
    assert files["model.go"] == ordinary["model.go"].replace("plugmain", "main")
    text = re.search(r'const metadata = (".*")\n', files["plugin.go"]).group(1)
    meta = json.loads(codecs.decode(text[1:-1], "unicode_escape"))
    assert meta["feature_names"] == NASTY_NAMES and meta["classes"] == list(LABELS)
    assert (meta["n_features"], meta["n_outputs"], meta["abi"]) == (5, 3, 1)
    assert meta["source"] == "sklearn.RandomForestClassifier" and meta["source_version"]
    assert meta["hash"] == modelfile.model_hash(irm)
    rows = np.frombuffer(files["fixture.bin"], "<f8")
    assert len(rows) == meta["fixture_rows"] * (5 + 3) and np.isnan(rows).any()
    # only the standard library: no import path with a domain
    for name in ("model.go", "plugin.go"):
        for path in re.findall(r'^\s*(?:_ )?"([^"]+)"$', files[name], re.M):
            assert "." not in path.split("/")[0], path
    module = re.search(r"^module (\S+)$", files["go.mod"], re.M).group(1)
    assert module.startswith("transpiler.plugin/randomforestclassifier_")
    # deterministic, and a different model gets a different module path
    assert go_plugin.plugin_files(irm) == files
    other = go_plugin.plugin_files(transpiler.to_ir(forest(seed=1)[0]))
    assert re.search(r"^module (\S+)$", other["go.mod"], re.M).group(1) != module


def test_model_file_header_and_checksum():
    model, _ = booster()
    irm = transpiler.to_ir(model)
    data_ = modelfile.model_file(irm)
    head = modelfile.read_header(data_)
    assert head["params"] == {"kind": "ensemble", "post": "identity", "n_raw": 1, "accumulate": "float32",
                              "feature_type": "float32", "op": "<", "aggregation": "sum",
                              "cat_negative": "strict", "width": 1}
    assert head["metadata"]["hash"] == modelfile.model_hash(irm) and data_ == modelfile.model_file(irm)
    with pytest.raises(ValueError, match="checksum"):
        modelfile.read_header(data_[:-40] + data_[-39:] + b"x")


def test_options_are_checked():
    irm = transpiler.to_ir(booster()[0])
    emit = transpiler.emit.emit
    for kwargs, message in [(dict(lang="c", plugin=True), "for Go"),
                            (dict(lang="go", plugin=True, loader=True), "choose one"),
                            (dict(lang="go", plugin=True, package="p"), "package main"),
                            (dict(lang="go", loader=True, function="F"), "fixed names"),
                            (dict(lang="go", loader=True, package="bad-name"), "identifier")]:
        with pytest.raises(OptionError, match=message):
            emit(irm, **kwargs)
    assert set(emit(irm, "go", loader=True, package="churn")) == {"loader.go", "model.trpm"}


def test_cli_writes_a_plugin_directory(tmp_path):
    model_path = os.path.join(ROOT, "examples", "iris_forest.pkl")
    out = tmp_path / "plugin"
    result = CliRunner().invoke(app, [model_path, "--lang", "go", "--plugin", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = sorted(f for f in os.listdir(out) if not f.startswith("."))   # not the manifest
    assert written == ["fixture.bin", "go.mod", "model.go", "plugin.go"]
    result = CliRunner().invoke(app, [model_path, "--lang", "java", "--plugin"])
    assert result.exit_code == 2 and "--plugin is for Go" in result.output


def test_loader_template_knows_every_post_processor():
    src = go_plugin.loader_source()
    listed = re.search(r"postNames = \[\.\.\.\]string\{(.*?)\}", src, re.S).group(1)
    assert re.findall(r'"(\w+)"', listed) == list(go_plugin.LOADER_POSTS)
    assert set(go_plugin.LOADER_POSTS) <= set(ir.POSTPROCESSORS)
    irm = transpiler.to_ir(booster()[0])
    other = next(p for p in ir.POSTPROCESSORS if p not in go_plugin.LOADER_POSTS) \
        if len(ir.POSTPROCESSORS) > len(go_plugin.LOADER_POSTS) else None
    if other:  # models the loader cannot interpret are refused, not mis-scored
        with pytest.raises(UnsupportedModelError, match=f"does not read the {other} post-processor"):
            go_plugin.loader_files(dataclasses.replace(irm, post=other, post_params=(1.0, 0.0)))


def test_example_loader_package_is_current():
    with open(os.path.join(LOADER_SRC, "modelfile", "loader.go")) as fh:
        assert fh.read() == go_plugin.loader_source(), \
            "regenerate examples/go-loader/modelfile/loader.go with transpile --loader"


# --- building -----------------------------------------------------------------------------

def require_plugins() -> None:
    """Go with cgo, or skip on a developer machine; in CI a missing toolchain fails."""
    problem = missing_toolchain("go")
    if not problem:
        cgo = subprocess.run(["go", "env", "CGO_ENABLED"], capture_output=True, text=True).stdout.strip()
        if cgo != "1" or shutil.which("gcc") is None:
            problem = "Go plugins need cgo: set CGO_ENABLED=1 and install gcc"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"toolchain missing in CI: {problem}")
        pytest.skip(problem)




def go_build(directory, output, plugin=False):
    cmd = ["go", "build"] + (["-buildmode=plugin"] if plugin else []) + ["-o", output, "."]
    r = subprocess.run(cmd, cwd=directory, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, CGO_ENABLED="1"))
    assert r.returncode == 0, f"{' '.join(cmd)} in {directory}:\n{r.stderr}"
    return output


def build_all(jobs):
    """Run go builds side by side (each is a separate process)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        return [f.result() for f in [pool.submit(go_build, *job) for job in jobs]]


# --- services -----------------------------------------------------------------------------

class Service:
    """A host process on 127.0.0.1 at a free port, stopped at the end (and by its own
    -max-lifetime should this test die first)."""

    def __init__(self, argv, cwd):
        self.log = ""
        self.stderr = open(os.path.join(cwd, "service.log"), "w+")
        self.proc = subprocess.Popen(argv + ["-addr", "127.0.0.1:0", "-max-lifetime", "180s"],
                                     cwd=cwd, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("listening on "):
            self.stop()
            raise AssertionError(f"service did not start: {line!r} {self.log}")
        self.url = line.split()[-1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.seek(0)
        self.log = self.stderr.read()
        self.stderr.close()

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.load(r)

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    def predict(self, path, rows):
        status, body = self.post(path, {"rows": json_rows(rows)})
        assert status == 200, body
        return body["hash"], np.array([[np.nan if v is None else v for v in row] for row in body["outputs"]])


def json_rows(rows):
    return [[None if np.isnan(v) else float(v) for v in row] for row in rows]


def wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Client(threading.Thread):
    """Sends requests one after another during a swap; records hashes and failures."""

    def __init__(self, service, path, rows):
        super().__init__(daemon=True)
        self.service, self.path, self.rows = service, path, json_rows(rows)
        self.hashes, self.failures = [], []
        self.done = threading.Event()

    def run(self):
        deadline = time.monotonic() + 120
        while not self.done.is_set() and time.monotonic() < deadline:
            try:
                status, body = self.service.post(self.path, {"rows": self.rows})
                if status == 200:
                    self.hashes.append(body["hash"])
                else:
                    self.failures.append(body)
            except Exception as exc:  # a dropped connection is a failure too
                self.failures.append(repr(exc))

    def stop(self):
        self.done.set()
        self.join(30)


def model_by_name(models, name):
    return next(m for m in models if m["name"] == name)


# --- plugins: two models, the host, a swap -------------------------------------------------

def patch_go_version(data: bytes, version: str) -> bytes:
    """The plugin as if built by another Go: its build info names another version."""
    at = data.index(b"\xff Go buildinf:")
    v = data.index(version.encode(), at)
    return data[:v] + b"go0" + data[v + 3:]


def test_plugin_host_serves_and_swaps(tmp_path):
    require_plugins()
    forest_model, forest_X = forest()
    xgb_v1, xgb_X = booster(seed=0)
    xgb_v2, _ = booster(seed=3, trees=12)
    irs = {name: transpiler.to_ir(m) for name, m in
           (("forest", forest_model), ("xgb", xgb_v1), ("xgb2", xgb_v2))}
    src = {name: write(tmp_path / f"src-{name}", go_plugin.plugin_files(irm)) for name, irm in irs.items()}
    # a broken update for forest: the same code, a wrong fixture, its own module path
    tampered = go_plugin.plugin_files(irs["forest"])
    fix = np.frombuffer(tampered["fixture.bin"], "<f8").copy()
    fix[-1] += 0.5
    tampered["fixture.bin"] = fix.tobytes()
    tampered["go.mod"] = re.sub(r"^(module \S+)$", r"\1x", tampered["go.mod"], flags=re.M)
    write(tmp_path / "src-tampered", tampered)
    # a plugin that is not ours: Score of the wrong type, no Metadata, no Fixture
    write(tmp_path / "src-foreign", {"go.mod": "module example.com/foreign\n\ngo 1.21\n",
                                     "main.go": "package main\n\n// Score has the wrong type.\n"
                                                "func Score(x []float32) []float32 { return x }\n"})
    for directory in (src["forest"], src["xgb"]):   # as strict as the ordinary package
        gofmt = subprocess.run(["gofmt", "-l", "."], cwd=directory, capture_output=True, text=True)
        assert gofmt.stdout == ""
        vet = subprocess.run(["go", "vet", "."], cwd=directory, capture_output=True, text=True)
        assert vet.returncode == 0, vet.stderr
    host_dir = shutil.copytree(HOST_SRC, tmp_path / "host")
    out = tmp_path / "out"
    out.mkdir()
    host, forest_so, xgb_so, xgb2_so, tampered_so, foreign_so = build_all(
        [(host_dir, str(out / "host"))] +
        [(tmp_path / f"src-{n}", str(out / f"{n}.so"), True)
         for n in ("forest", "xgb", "xgb2", "tampered", "foreign")])

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    for name, so in (("forest", forest_so), ("xgb", xgb_so), ("foreign", foreign_so)):
        shutil.copy(so, plugins / f"{name}.so")
    (plugins / "garbage.so").write_bytes(b"\x7fELF but not really")
    (plugins / "truncated.so").write_bytes(open(forest_so, "rb").read()[:100_000])
    go_version = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    (plugins / "oldgo.so").write_bytes(patch_go_version(open(xgb_so, "rb").read(), go_version))

    service = Service([str(out / "host"), "-dir", str(plugins), "-poll", "100ms"], cwd=tmp_path)
    try:
        models = service.get("/models")
        assert {m["name"] for m in models if m.get("metadata")} == {"forest", "xgb"}
        meta = model_by_name(models, "forest")["metadata"]
        assert meta["feature_names"] == NASTY_NAMES and meta["classes"] == list(LABELS)
        assert meta["hash"] == modelfile.model_hash(irs["forest"])
        errors = {m["name"]: m.get("error", "") for m in models}
        assert "Score has type func([]float32) []float32, want func([]float64) []float64" in errors["foreign"]
        assert "no symbol Metadata" in errors["foreign"] and "no symbol Fixture" in errors["foreign"]
        assert "garbage.so is not a Go plugin" in errors["garbage"]
        assert "truncated.so is not a Go plugin" in errors["truncated"]
        assert f"built with go0{go_version[3:]} and this host with {go_version}" in errors["oldgo"]

        # both models give the Python models' numbers (fixture rows: thresholds, NaN, leaves)
        for name, model, X, irm, method, rtol in (
                ("forest", forest_model, forest_X, irs["forest"], "predict_proba", 0.0),
                ("xgb", xgb_v1, xgb_X, irs["xgb"], "predict", 1e-6)):
            rows = fixture_rows(irm, X)
            digest, got = service.predict(f"/predict/{name}", rows)
            assert digest == modelfile.model_hash(irm)
            assert_close(got, reference(model, rows, method), rtol, f"{name} plugin vs Python")
            assert_close(got, ir.evaluate(irm, rows), 0.0, f"{name} plugin vs IR")
        status, body = service.post("/predict/xgb", {"rows": [[1.0, 2.0]]})
        assert status == 400 and "takes 5" in body["error"]
        assert service.post("/predict/nope", {"rows": []})[0] == 404

        rows = fixture_rows(irs["xgb"], xgb_X)[:50]
        client = Client(service, "/predict/xgb", rows)
        client.start()
        try:
            # a plugin that fails its self-check does not replace the serving version
            os.replace(shutil.copy(tampered_so, tmp_path / "next.so"), plugins / "forest.so")
            wait_for(lambda: "failed its self-check" in
                     model_by_name(service.get("/models"), "forest").get("error", ""), "the tampered plugin")
            assert service.predict("/predict/forest", forest_X[:3])[0] == modelfile.model_hash(irs["forest"])
            # the new weights arrive by an atomic rename, as a deployment would do it
            wait_for(lambda: len(client.hashes) > 20, "requests before the swap")
            os.replace(shutil.copy(xgb2_so, tmp_path / "next.so"), plugins / "xgb.so")
            new = modelfile.model_hash(irs["xgb2"])
            wait_for(lambda: model_by_name(service.get("/models"), "xgb")["metadata"]["hash"] == new,
                     "the new xgb plugin")
            wait_for(lambda: client.hashes.count(new) > 20, "requests after the swap")
        finally:
            client.stop()
        assert client.failures == []
        old = modelfile.model_hash(irs["xgb"])
        first_new = client.hashes.index(new)
        assert set(client.hashes[:first_new]) == {old} and set(client.hashes[first_new:]) == {new}
        digest, got = service.predict("/predict/xgb", rows)
        assert digest == new
        assert_close(got, reference(xgb_v2, rows, "predict"), 1e-6, "rebuilt xgb plugin vs Python")
        assert not np.allclose(got, reference(xgb_v1, rows, "predict"))
        # a rollback to the first build: Go cannot open that module path again, the host
        # serves the version it already holds
        os.replace(shutil.copy(xgb_so, tmp_path / "next.so"), plugins / "xgb.so")
        wait_for(lambda: model_by_name(service.get("/models"), "xgb")["metadata"]["hash"] == old,
                 "the rollback")
        assert_close(service.predict("/predict/xgb", rows)[1], reference(xgb_v1, rows, "predict"), 1e-6,
                     "rolled back xgb plugin vs Python")
    finally:
        service.stop()
    assert "still serving the version loaded at" in service.log


# --- the loader ---------------------------------------------------------------------------

LOADER_DRIVER = """package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"

	"drv/modelfile"
)

func floats(path string) []float64 {
	data, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	out := make([]float64, len(data)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
	}
	return out
}

func save(path string, values []float64) {
	out := make([]byte, 0, 8*len(values))
	for _, v := range values {
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		panic(err)
	}
}

// score MODEL ROWS OUT: Score row by row into OUT, ScoreBatch into OUT.batch.
// load MODEL...: Holder.Load of each file in turn; prints what is served after each.
func main() {
	if os.Args[1] == "score" {
		m, err := modelfile.LoadFile(os.Args[2])
		if err != nil {
			panic(err)
		}
		if err := m.SelfCheck(1e-9); err != nil {
			fmt.Println(err)
		}
		rows := floats(os.Args[3])
		var single []float64
		for r := 0; r < len(rows)/m.NFeatures(); r++ {
			single = append(single, m.Score(rows[r*m.NFeatures():(r+1)*m.NFeatures()])...)
		}
		batch := make([]float64, len(single))
		m.ScoreBatch(rows, batch)
		save(os.Args[4], single)
		save(os.Args[4]+".batch", batch)
		return
	}
	var h modelfile.Holder
	for _, path := range os.Args[2:] {
		_, err := h.Load(path, 1e-9)
		hash := "none"
		if m := h.Model(); m != nil {
			hash = m.Hash()
		}
		fmt.Println(strconv.Quote(fmt.Sprint(err)), hash)
	}
}
"""


@pytest.fixture(scope="module")
def loader_cases():
    cases = {}
    for name, (model, X) in loader_models().items():
        irm = transpiler.to_ir(model)
        cases[name] = (irm, fixture_rows(irm, X))
    return cases


def test_loader_matches_generated_code_bit_for_bit(tmp_path, loader_cases):
    require_plugins()
    posts = {irm.post for irm, _ in loader_cases.values()}
    assert posts == set(go_plugin.LOADER_POSTS)
    drv = tmp_path / "drv"
    write(drv, {"go.mod": "module drv\n\ngo 1.21\n", "main.go": LOADER_DRIVER,
                "modelfile/loader.go": go_plugin.loader_source()})
    vet = subprocess.run(["go", "vet", "./..."], cwd=drv, capture_output=True, text=True)
    assert vet.returncode == 0 and not subprocess.run(["gofmt", "-l", "."], cwd=drv, capture_output=True,
                                                      text=True).stdout, vet.stderr
    go_build(drv, str(drv / "drv"))
    compiled = run_cases("go", [Case(name, transpiler.emit.emit(irm, "go", package=name),
                                     irm.n_features, irm.n_outputs, rows)
                                for name, (irm, rows) in loader_cases.items()])
    for name, (irm, rows) in loader_cases.items():
        model_path = write(tmp_path / name, {"model.trpm": modelfile.model_file(irm)}) / "model.trpm"
        rows_path, out_path = tmp_path / f"{name}.in", tmp_path / f"{name}.out"
        np.ascontiguousarray(rows, "<f8").tofile(rows_path)
        r = subprocess.run([str(drv / "drv"), "score", str(model_path), str(rows_path), str(out_path)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stdout == "", f"{name}: {r.stdout}{r.stderr}"
        got = np.fromfile(out_path, "<f8").reshape(len(rows), irm.n_outputs)
        batch = np.fromfile(f"{out_path}.batch", "<f8").reshape(got.shape)
        want = compiled[name]
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        assert same.all(), f"{name}: loader differs from generated code at {np.argwhere(~same)[:3]}"
        assert np.array_equal(batch, got, equal_nan=True), name
        with np.errstate(all="ignore"):
            assert_close(got, ir.evaluate(irm, rows), 1e-6, f"{name} loader vs IR")


def test_loader_refuses_bad_files_and_keeps_the_model(tmp_path, loader_cases):
    require_plugins()
    drv = write(tmp_path / "drv", {"go.mod": "module drv\n\ngo 1.21\n", "main.go": LOADER_DRIVER,
                                   "modelfile/loader.go": go_plugin.loader_source()})
    go_build(drv, str(drv / "drv"))
    good = modelfile.model_file(loader_cases["rf_clf"][0])
    other = modelfile.model_file(loader_cases["et_multi"][0])
    wrong = bytearray(good[:-32])
    at = wrong.rindex(b"TRPL") - 8                 # the last self-check output
    wrong[at:at + 8] = struct.pack("<d", 0.123)
    wrong = bytes(wrong) + __import__("hashlib").sha256(bytes(wrong)).digest()
    files = {"good": good, "truncated": good[:-100], "flipped": good[:50] + b"X" + good[51:],
             "garbage": b"hello", "wrong": wrong, "other": other}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    r = subprocess.run([str(drv / "drv"), "load"] + [str(tmp_path / n) for n in files],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line.rsplit(" ", 1)[0]) for line in r.stdout.splitlines()]
    hashes = {line.rsplit(" ", 1)[1] for line in r.stdout.splitlines()}
    assert lines[0] == "<nil>" and hashes == {modelfile.read_header(good)["metadata"]["hash"]}
    assert "checksum mismatch" in lines[1] and "checksum mismatch" in lines[2]
    assert "not a transpiler model file" in lines[3]
    assert "self-check: row" in lines[4]
    assert "takes 5 features and gives 2 outputs, the current one 5 and 3" in lines[5]
    assert all("still serving the previous model" in line for line in lines[1:])


def test_loader_service_swaps_model_files(tmp_path):
    require_plugins()
    v1, X = booster(seed=0)
    v2, _ = booster(seed=3, trees=12)
    ir1, ir2 = transpiler.to_ir(v1), transpiler.to_ir(v2)
    src = shutil.copytree(LOADER_SRC, tmp_path / "go-loader")
    go_build(src, str(tmp_path / "service"))
    model_path = tmp_path / "model.trpm"
    model_path.write_bytes(modelfile.model_file(ir1))
    service = Service([str(tmp_path / "service"), "-model", str(model_path), "-poll", "100ms"], cwd=tmp_path)
    try:
        rows = fixture_rows(ir1, X)
        digest, got = service.predict("/predict", rows)
        assert digest == modelfile.model_hash(ir1) == service.get("/model")["hash"]
        assert_close(got, reference(v1, rows, "predict"), 1e-6, "loader service vs Python")
        client = Client(service, "/predict", rows[:50])
        client.start()
        try:
            wait_for(lambda: len(client.hashes) > 20, "requests before the swap")
            # a torn copy is refused, the old model keeps serving
            (tmp_path / "next").write_bytes(modelfile.model_file(ir2)[:-1000])
            os.replace(tmp_path / "next", model_path)
            wait_for(lambda: "checksum mismatch" in (tmp_path / "service.log").read_text(), "the torn file")
            (tmp_path / "next").write_bytes(modelfile.model_file(ir2))
            os.replace(tmp_path / "next", model_path)
            new = modelfile.model_hash(ir2)
            wait_for(lambda: service.get("/model")["hash"] == new, "the new model file")
            wait_for(lambda: client.hashes.count(new) > 20, "requests after the swap")
        finally:
            client.stop()
        assert client.failures == []
        first_new = client.hashes.index(new)
        assert set(client.hashes[first_new:]) == {new}
        digest, got = service.predict("/predict", rows)
        assert_close(got, reference(v2, rows, "predict"), 1e-6, "swapped loader service vs Python")
    finally:
        service.stop()
    assert "checksum mismatch" in service.log and "still serving the previous model" in service.log


# --- the ordinary package: two models in one binary ---------------------------------------

def test_two_models_as_packages_in_one_binary():
    require_plugins()
    forest_model, forest_X = forest()
    xgb_model, xgb_X = booster()
    cases = []
    for name, model, X in (("forest", forest_model, forest_X), ("xgb", xgb_model, xgb_X)):
        irm = transpiler.to_ir(model)
        cases.append(Case(name, transpiler.emit.emit(irm, "go", package=name), irm.n_features,
                          irm.n_outputs, fixture_rows(irm, X)))
    out = run_cases("go", cases)       # one module, one binary, both packages linked in
    assert_close(out["forest"], reference(forest_model, cases[0].rows, "predict_proba"), 0.0, "forest")
    assert_close(out["xgb"], reference(xgb_model, cases[1].rows, "predict"), 1e-6, "xgb")
