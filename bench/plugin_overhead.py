"""Benchmark: what a Go plugin costs next to a statically linked package and the run-time loader.

    python bench/plugin_overhead.py                 # small and 1,000-tree models, memory per version
    python bench/plugin_overhead.py --quick         # small model only
    python bench/plugin_overhead.py --with-code     # also build the 1,000-tree plugin as code

For each model: the build time and peak memory of `go build -buildmode=plugin` (tables embedded
as data, the default for large models), the time to load the plugin and the model file, and
nanoseconds per Score call, single-threaded, on the same rows: the package linked in and called
directly, the same Score looked up in the plugin, and the loader's Model.Score reading the
model file. Then the memory each loaded version of a 500-tree model keeps: plugins are never
unloaded, the loader's old models are collected. Run by hand, not in the tests; the numbers are
for reading (see the README).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import transpiler  # noqa: E402
from transpiler.emit import go_plugin, modelfile  # noqa: E402
from transpiler.outdir import write_files as write  # noqa: E402

CACHE = os.path.join(HERE, ".cache")

MAIN = """package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"plugin"
	"runtime"
	"runtime/debug"
	"time"

	"bench/model"
	"bench/modelfile"
)

var sink []float64

// timeAll runs each f(n) 15 times, taking turns so that noise from other processes falls on
// all of them alike, and returns the fastest run of each in ns per call. The collector is off
// while a run is timed (Score allocates its result) and runs between runs.
func timeAll(n int, fs ...func(n int)) []float64 {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	best := make([]float64, len(fs))
	for i, f := range fs {
		f(n / 10)
		best[i] = math.Inf(1)
	}
	for rep := 0; rep < 15; rep++ {
		for i, f := range fs {
			runtime.GC()
			t := time.Now()
			f(n)
			best[i] = math.Min(best[i], float64(time.Since(t).Nanoseconds())/float64(n))
		}
	}
	return best
}

func main() {
	data, _ := os.ReadFile(os.Args[3])
	rows := make([][]float64, len(data)/8/model.NFeatures)
	for r := range rows {
		rows[r] = make([]float64, model.NFeatures)
		for j := range rows[r] {
			rows[r][j] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*(r*model.NFeatures+j):]))
		}
	}
	t := time.Now()
	p, err := plugin.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	sym, err := p.Lookup("Score")
	if err != nil {
		panic(err)
	}
	score := sym.(func([]float64) []float64)
	openPlugin := time.Since(t)
	t = time.Now()
	m, err := modelfile.LoadFile(os.Args[2])
	if err != nil {
		panic(err)
	}
	openFile := time.Since(t)
	mask := len(rows) - 1
	for _, x := range rows { // the three give the same numbers
		a, b, c := model.Score(x), score(x), m.Score(x)
		for k := range a {
			if a[k] != b[k] || a[k] != c[k] && !(a[k] != a[k] && c[k] != c[k]) {
				panic("outputs differ")
			}
		}
	}
	t = time.Now() // about 20 ms per timed run
	for i := 0; i < 100; i++ {
		sink = model.Score(rows[i&mask])
	}
	n := int(0.02/time.Since(t).Seconds()*100) + 100
	ns := timeAll(n, func(n int) {
		for i := 0; i < n; i++ {
			sink = model.Score(rows[i&mask])
		}
	}, func(n int) {
		for i := 0; i < n; i++ {
			sink = score(rows[i&mask])
		}
	}, func(n int) {
		for i := 0; i < n; i++ {
			sink = m.Score(rows[i&mask])
		}
	})
	static, viaPlugin, viaLoader := ns[0], ns[1], ns[2]
	fmt.Printf("%.6f %.6f %.2f %.2f %.2f\\n", openPlugin.Seconds(), openFile.Seconds(), static, viaPlugin, viaLoader)
}
"""


MEMORY = """package main

import (
	"fmt"
	"os"
	"plugin"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"bench/modelfile"
)

// rss is the resident memory of this process in MB, after a collection.
func rss() float64 {
	runtime.GC()
	debug.FreeOSMemory()
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			return float64(kb) / 1024
		}
	}
	return 0
}

// plugin|loader FILE...: load each version in turn, keeping only the newest referenced, and
// print the memory in use beyond the start after each.
func main() {
	x := make([]float64, 30)
	var current func([]float64) []float64
	var holder modelfile.Holder
	start := rss()
	for _, path := range os.Args[2:] {
		if os.Args[1] == "plugin" {
			p, err := plugin.Open(path)
			if err != nil {
				panic(err)
			}
			sym, _ := p.Lookup("Score")
			current = sym.(func([]float64) []float64)
		} else {
			if _, err := holder.Load(path, 1e-9); err != nil {
				panic(err)
			}
			current = holder.Model().Score
		}
		current(x)
		fmt.Printf("%.1f ", rss()-start)
	}
	fmt.Println()
}
"""


def memory(work, versions=4, trees=500):
    """Memory kept by each loaded version of a `trees`-tree model: plugins against the loader."""
    import dataclasses

    full = transpiler.to_ir(big_model())
    plugins, model_files = [], []
    app = os.path.join(work, "memory")
    write(app, {"go.mod": "module bench\n\ngo 1.21\n", "main.go": MEMORY,
                "modelfile/loader.go": go_plugin.loader_source()})
    build(app, ["-o", "app", "."])
    for v in range(versions):   # each version its own model: another base score
        raw = dataclasses.replace(full.raw, trees=full.raw.trees[:trees],
                                  base_score=tuple(b + v * 1e-3 for b in full.raw.base_score))
        irm = dataclasses.replace(full, raw=raw)
        d = os.path.join(work, f"memory-{v}")
        write(d, go_plugin.plugin_files(irm))
        build(d, ["-buildmode=plugin", "-o", "model.so", "."])
        plugins.append(os.path.join(d, "model.so"))
        model_files.append(os.path.join(d, "model.trpm"))
        write(d, {"model.trpm": modelfile.model_file(irm)})
    print(f"memory kept after loading {versions} versions of a {trees}-tree model one after another "
          "(MB above the start, after a collection):")
    for mode, paths in (("plugin", plugins), ("loader", model_files)):
        r = subprocess.run([os.path.join(app, "app"), mode, *paths], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(r.stderr)
        print(f"  {mode:7} {r.stdout.strip()}")


def models(quick: bool):
    """(name, fitted model, rows): a 2-feature linear model (the cost of the call itself), a small
    forest and, unless quick, a 1,000-tree XGBoost model of depth 8 (trained once, cached)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression

    X, y = data(2000)
    out = [("linear", LinearRegression().fit(X[:, :2], y), X[:, :2]),   # almost only the call
           ("forest10", RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0, n_jobs=1)
            .fit(X, y > 0), X)]
    if not quick:
        out.append(("xgb1000", big_model(), data(20000)[0]))
    return out


def data(n):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 30))
    y = X[:, 0] * 2 + np.sin(X[:, 1] * 3) + X[:, 2] * X[:, 3] + rng.normal(scale=0.3, size=n)
    return X, y


def big_model():
    import xgboost as xgb

    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, "plugin_xgb1000_d8.json")
    model = xgb.XGBRegressor(n_estimators=1000, max_depth=8, n_jobs=os.cpu_count())
    if os.path.exists(path):
        model.load_model(path)
    else:
        model.fit(*data(20000))
        model.save_model(path)
    return model




# Runs a command and prints the peak memory of its largest process (go, compile or link):
# a child's rusage includes the descendants it waited for.
PEAK = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)")


def build(cwd, args) -> tuple[float, float]:
    """Seconds and peak memory (MB, the largest process) of one go build."""
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", PEAK, "go", "build", *args], cwd=cwd,
                       capture_output=True, text=True, env=dict(os.environ, CGO_ENABLED="1"))
    seconds = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"go build failed in {cwd}:\n{r.stderr}")
    return seconds, int(r.stdout.split()[-1]) / 1024


def run(name, model, X, work, with_code):
    irm = transpiler.to_ir(model)
    plugin_dir = os.path.join(work, name, "plugin")
    files = go_plugin.plugin_files(irm)
    write(plugin_dir, files)
    seconds, mb = build(plugin_dir, ["-buildmode=plugin", "-o", "model.so", "."])
    layout = ("tables as embedded data" if "model.bin" in files
              else "trees as code" if getattr(irm.raw, "trees", None) else "coefficients as code")
    lines = [f"  plugin build ({layout}): {seconds:.1f} s, peak {mb:.0f} MB, "
             f"{os.path.getsize(os.path.join(plugin_dir, 'model.so')) / 1e6:.1f} MB .so"]
    if with_code and "model.bin" in files:
        code_dir = os.path.join(work, name, "plugin-code")
        write(code_dir, go_plugin.plugin_files(irm, layout="code"))
        seconds, mb = build(code_dir, ["-buildmode=plugin", "-o", "model.so", "."])
        lines.append(f"  plugin build (trees as code): {seconds:.1f} s, peak {mb:.0f} MB")
    app = os.path.join(work, name, "app")
    write(app, {"go.mod": "module bench\n\ngo 1.21\n", "main.go": MAIN,
                **{f"model/{k}": v for k, v in transpiler.emit.emit(irm, "go").items()},
                **{f"modelfile/{k}": v for k, v in go_plugin.loader_files(irm).items()}})
    build(app, ["-o", "app", "."])
    rows = X[np.random.default_rng(1).integers(0, len(X), 1024)]
    np.ascontiguousarray(rows, "<f8").tofile(os.path.join(app, "rows.bin"))
    r = subprocess.run([os.path.join(app, "app"), os.path.join(plugin_dir, "model.so"),
                        os.path.join(app, "modelfile", "model.trpm"), os.path.join(app, "rows.bin")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr)
    open_plugin, open_file, static, via_plugin, via_loader = map(float, r.stdout.split())
    lines += [f"  load: plugin.Open + Lookup {open_plugin * 1e3:.1f} ms, loader file {open_file * 1e6:.0f} µs "
              f"({len(modelfile.model_file(irm)) / 1e3:.0f} kB)",
              f"  Score: static {static:.1f} ns, plugin {via_plugin:.1f} ns "
              f"(overhead {via_plugin - static:+.1f} ns), loader {via_loader:.1f} ns"]
    print(f"{name}: {irm.n_features} features, {len(getattr(irm.raw, 'trees', ()))} trees")
    print("\n".join(lines))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small model only")
    parser.add_argument("--with-code", action="store_true",
                        help="also build the plugin with trees as code (slow for 1,000 trees)")
    args = parser.parse_args()
    go = subprocess.run(["go", "version"], capture_output=True, text=True).stdout.strip()
    print(f"{go}; {os.cpu_count()} CPUs; single-threaded Score calls")
    work = tempfile.mkdtemp(prefix="plugin-bench-")
    try:
        warm = os.path.join(work, "warm")   # the standard library in plugin mode, built once
        write(warm, {"go.mod": "module warm\n\ngo 1.21\n", "main.go": "package main\n\nfunc F() {}\n"})
        build(warm, ["-buildmode=plugin", "-o", "w.so", "."])
        for name, model, X in models(args.quick):
            run(name, model, X, work, args.with_code)
        if not args.quick:
            memory(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
