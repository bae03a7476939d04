"""The Go self-test (model_test.go) run by plain `go test`, and Go's thread safety under -race."""
import os
import re
import subprocess

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor
from sklearn.tree import DecisionTreeRegressor

import transpiler
import transpiler.emit
from support import require_toolchain
from transpiler.outdir import write_files

rng = np.random.default_rng(17)
X = rng.normal(size=(400, 5))
y = X[:, 0] * 2 + np.where(X[:, 1] > 0.3, 1.5, -0.5) + 0.1 * rng.normal(size=400)


def go_module(tmp_path, packages: dict) -> str:
    """A module holding one directory per package: {dir: files}."""
    for d, files in packages.items():
        write_files(str(tmp_path / d), files)
    (tmp_path / "go.mod").write_text("module m\n\ngo 1.21\n")
    return str(tmp_path)


def go(args, cwd):
    return subprocess.run(["go", *args], cwd=cwd, capture_output=True, text=True, timeout=900)


def test_one_ulp_threshold_change_fails_the_selftest(tmp_path):
    require_toolchain("go")
    irm = transpiler.to_ir(DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y))
    files = transpiler.emit.emit(irm, "go", layout="code")
    root = irm.raw.trees[0]
    f, t = int(root.feature[0]), float(root.threshold[0])
    # the split reads `x[f] <= t`, or `!(x[f] > t)` with the busier right child first
    test = re.compile(rf"x\[{f}\] (<=|>) {re.escape(repr(t))}\)")
    assert len(test.findall(files["model.go"])) == 1, test.pattern
    nudged = float(np.nextafter(t, -np.inf))            # one ulp down: a row on t goes right
    code = test.sub(lambda m: f"x[{f}] {m.group(1)} {nudged!r})", files["model.go"])
    bad = dict(files, **{"model.go": code})
    r = go(["test", "-count=1", "./..."], go_module(tmp_path, {"good": files, "bad": bad}))
    assert r.returncode != 0
    assert re.search(r"^ok\s+m/good\b", r.stdout, re.M), r.stdout
    assert re.search(r"^FAIL\s+m/bad\b", r.stdout, re.M), r.stdout
    failures = re.findall(r"row (\d+), output (\d+): (Score|ScoreBatch) gives (\S+), the model (\S+)",
                          r.stdout)
    assert {name for *_, name, _, _ in failures} == {"Score", "ScoreBatch"}, r.stdout
    block = files["model_test.go"].split("var selfTestWant")[0]
    bits = [int(v, 16) for v in re.findall(r"0x[0-9a-f]{16}", block)]
    inputs = np.array(bits, dtype="<u8").view("<f8").reshape(-1, irm.n_features)
    want = transpiler.ir.evaluate(irm, inputs)
    for row, out, _, got, expected in failures:
        row = int(row)
        assert np.float32(inputs[row, f]) == t                # exactly the rows on the threshold
        assert float(expected) == want[row, int(out)] != float(got)


def test_no_selftest_leaves_it_out():
    irm = transpiler.to_ir(DecisionTreeRegressor(max_depth=2).fit(X, y))
    assert "model_test.go" in transpiler.emit.emit(irm, "go")
    assert sorted(transpiler.emit.emit(irm, "go", selftest=False)) == ["model.go"]


CONCURRENT_TEST = """package %(package)s

import (
	"math"
	"sync"
	"testing"
)

// Score and ScoreBatch from many goroutines at once give the numbers one goroutine gets.
func TestConcurrentScoring(t *testing.T) {
	rows := make([]float64, len(selfTestRows))
	for i := range rows {
		rows[i] = math.Float64frombits(selfTestRows[i])
	}
	n := len(rows) / NFeatures
	want := make([]float64, n*NOutputs)
	for r := 0; r < n; r++ {
		copy(want[r*NOutputs:], %(function)s(rows[r*NFeatures:(r+1)*NFeatures]))
	}
	same := func(got []float64) bool {
		for i := range got {
			if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
				return false
			}
		}
		return true
	}
	var wg sync.WaitGroup
	bad := make(chan int, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for rep := 0; rep < 4; rep++ {
				got := make([]float64, n*NOutputs)
				if g%%2 == 0 {
					%(function)sBatch(rows, got)
				} else {
					for r := 0; r < n; r++ {
						copy(got[r*NOutputs:], %(function)s(rows[r*NFeatures:(r+1)*NFeatures]))
					}
				}
				if !same(got) {
					bad <- g
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(bad)
	for g := range bad {
		t.Errorf("goroutine %%d got other numbers", g)
	}
}
"""


def test_score_and_batch_from_many_goroutines_under_race(tmp_path):
    """Every layout: code, heap tables, preorder tables (walked four trees at a time), and a
    linear model with a link function."""
    require_toolchain("go")
    deep = RandomForestRegressor(n_estimators=6, max_depth=14, random_state=0).fit(X, y)
    boost = GradientBoostingClassifier(n_estimators=8, max_depth=3, random_state=0).fit(X, y > 0)
    cases = {"code": (boost, "code"), "heap": (boost, "table"), "preorder": (deep, "table"),
             "forestcode": (deep, "code")}
    packages = {}
    for name, (model, layout) in cases.items():
        files = transpiler.transpile(model, "go", layout=layout, package=name, function="Predict")
        packages[name] = dict(files, **{"concurrent_test.go": CONCURRENT_TEST % {
            "package": name, "function": "Predict"}})
    assert "walkFour" in packages["preorder"]["model.go"]      # the layouts meant above
    assert "heap" in packages["heap"]["model.go"]
    r = go(["test", "-race", "-count=1", "./..."], go_module(tmp_path, packages))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("ok ") == len(cases), r.stdout
