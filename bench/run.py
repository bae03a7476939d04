"""Benchmark: our generated Go, C and Java against the tools a user would pick instead.

    python bench/run.py                  # all reference models (minutes; trains and caches them)
    python bench/run.py --models xgb300  # one model
    python bench/run.py --quick          # small models, a smoke run
    BENCH_LEAVES_DIR=DIR python bench/run.py --models lgbm500  # leaves from a local module copy

For each model it prints source bytes, build seconds and peak memory, and single-thread
rows/s (batch entry point and row by row) for our code, next to native predict, m2cgen,
TL2cgen, lleaves and leaves where they are installed, all measured in the same run, with
ratios against native predict. On LightGBM models it also times Go single rows, ours against
leaves, alternating in one process (the ratio varies less than two separate runs' figures).
Each table ends with the share of CPU time the hypervisor stole while the model ran: a run
with much of it is slow throughout. Nothing here is asserted: the numbers are for reading.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import transpiler  # noqa: E402
from transpiler.outdir import write_files  # noqa: E402
from drivers import C_MAIN, GO_MAIN, JAVA_MAIN  # noqa: E402

CACHE = os.path.join(HERE, ".cache")
N_TRAIN, N_FEATURES, N_BENCH = 100_000, 30, 20_000
TIMEOUT = int(os.environ.get("BENCH_TIMEOUT", 600))   # seconds per build or compile
MEMORY_LIMIT = 16 * 2**30   # builds beyond this are reported as killed
M2CGEN_MAX_TREES = int(os.environ.get("BENCH_M2CGEN_MAX_TREES", 500))  # beyond 500, m2cgen's
# Go build needs > 20 GB (measured before we began)


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, N_FEATURES))
    y = X[:, 0] * 2 + np.sin(X[:, 1] * 3) + X[:, 2] * X[:, 3] + rng.normal(scale=0.3, size=n)
    return X, y


# --- reference models --------------------------------------------------------------------

def train(name):
    """Train (or load from the cache) a reference model; returns (model, path of its file)."""
    import pickle

    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"{name}.pkl")
    if os.path.exists(path):
        with open(path, "rb") as fh:
            return pickle.load(fh), path
    X, y = data(N_TRAIN)
    kind, *spec = name.split("_")
    if name.startswith("xgb"):
        import xgboost as xgb

        trees = int(name[3:].split("_")[0])
        model = xgb.XGBRegressor(n_estimators=trees, max_depth=8, learning_rate=0.05, n_jobs=2,
                                 tree_method="hist", random_state=0).fit(X, y)
    elif name.startswith("lgbm"):
        import lightgbm as lgb

        trees = int(name[4:])
        model = lgb.LGBMRegressor(n_estimators=trees, num_leaves=63, learning_rate=0.05,
                                  n_jobs=2, verbose=-1, random_state=0).fit(X, y)
    elif name.startswith("rf"):
        from sklearn.ensemble import RandomForestRegressor

        trees = int(name[2:])
        model = RandomForestRegressor(n_estimators=trees, n_jobs=2, random_state=0,
                                      max_samples=0.2).fit(X, y)
    else:
        raise SystemExit(f"unknown model {name}")
    with open(path, "wb") as fh:
        pickle.dump(model, fh)
    return model, path


MODELS = {"xgb300": "XGB 300 trees x depth 8", "xgb1000": "XGB 1,000 trees x depth 8",
          "lgbm500": "LightGBM 500 trees x 63 leaves", "rf500": "RandomForest 500 trees, full depth"}
QUICK = {"xgb30": "XGB 30 trees x depth 8", "lgbm50": "LightGBM 50 trees x 63 leaves",
         "rf20": "RandomForest 20 trees, full depth"}


# --- measuring ---------------------------------------------------------------------------

def measured(cmd, cwd, env=None):
    """Run cmd; return (seconds, peak RSS in MB of the largest process it started, ok, stderr)."""
    # The command runs in a session of its own, so a timeout kills the compilers it started too
    # (killing only `sh` or `gcc` leaves cc1 running and slowing every later measurement).
    probe = ("import os, resource, signal, subprocess, sys, time\n"
             "def limit():\n"
             f"    resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))\n"
             "t = time.time()\n"
             "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,\n"
             "                     preexec_fn=limit, start_new_session=True)\n"
             "try:\n"
             f"    _, err = p.communicate(timeout={TIMEOUT})\n"
             "except subprocess.TimeoutExpired:\n"
             "    os.killpg(p.pid, signal.SIGKILL)\n"
             "    p.communicate()\n"
             "    sys.exit('TimeoutExpired')\n"
             "sys.stderr.write(err if len(err) <= 2000 else err[:500] + err[-1500:])\n"
             "print(time.time() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, p.returncode)\n")
    try:
        r = subprocess.run([sys.executable, "-c", probe, *cmd], cwd=cwd, capture_output=True,
                           text=True, env=env, timeout=TIMEOUT + 60)
        if "TimeoutExpired" in r.stderr:
            return float(TIMEOUT), float("nan"), False, f"stopped after {TIMEOUT} s"
        secs, mb, code = r.stdout.split()
        return float(secs), float(mb), code == "0", r.stderr
    except (subprocess.TimeoutExpired, ValueError) as exc:
        return float(TIMEOUT), float("nan"), False, f"stopped after {TIMEOUT} s ({type(exc).__name__})"


def source_bytes(directory):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(directory) for f in fs
               if f.endswith((".go", ".c", ".h", ".java", ".bin")))


def run_driver(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT,
                       env={**os.environ, "GOMAXPROCS": "1"})
    if r.returncode:
        return float("nan"), float("nan")
    batch, single, _ = r.stdout.split()
    return float(batch), float(single)


def write_rows(path, X):
    np.ascontiguousarray(X, dtype="<f8").tofile(path)


def reps_for(n_trees):
    return max(3, int(2000 / max(n_trees, 1)))


def ours(lang, model_path, rows_path, work, n_trees):
    """Transpile, build and run our code for lang; returns a result row."""
    t = time.time()
    files = transpiler.transpile(model_path, lang, **({"package": "model"} if lang == "go" else {}))
    transpile_s = time.time() - t
    gen = write_files(os.path.join(work, "model"), files)
    size = source_bytes(gen)
    reps = reps_for(n_trees)
    if lang == "go":
        with open(os.path.join(work, "go.mod"), "w") as fh:
            fh.write("module bench\n\ngo 1.21\n")
        os.makedirs(os.path.join(work, "cmd"))
        with open(os.path.join(work, "cmd", "main.go"), "w") as fh:
            fh.write(GO_MAIN)
        secs, mb, ok, err = measured(["go", "build", "-o", "drv", "./cmd"], work)
        run = ["./drv", rows_path, str(reps)]
    elif lang == "c":
        with open(os.path.join(work, "main.c"), "w") as fh:
            fh.write(C_MAIN)
        # Every .c file (large tables come in parts), two at a time as `make -j2` would.
        srcs = " ".join(["main.c"] + sorted(f"model/{f}" for f in os.listdir(gen) if f.endswith(".c")))
        secs, mb, ok, err = measured(["sh", "-c", f"printf '%s\\n' {srcs} | xargs -P 2 -n 1 gcc -O2 "
                                      f"-std=c99 -I model -c && gcc *.o -lm -o drv"], work)
        run = ["./drv", rows_path, str(reps)]
    else:
        with open(os.path.join(gen, "Bench.java"), "w") as fh:
            fh.write(JAVA_MAIN)
        secs, mb, ok, err = measured(["javac", "-d", "classes", "model/Model.java", "model/Bench.java"], work)
        for rel, content in files.items():
            if isinstance(content, bytes):
                shutil.copy(os.path.join(gen, rel), os.path.join(work, "classes", rel))
        run = ["java", "-XX:+UseSerialGC", "-XX:ActiveProcessorCount=1", "-cp", "classes", "Bench",
               rows_path, str(reps)]
    batch, single = run_driver(run, work) if ok else (float("nan"), float("nan"))
    return dict(tool=f"transpiler {lang}", bytes=size, build_s=secs, build_mb=mb, ok=ok,
                batch=batch, single=single, transpile_s=transpile_s, error="" if ok else err[-300:])


def native(name, model, X):
    """Single-thread batch throughput of the library's own predict."""
    if name.startswith("xgb"):
        booster = model.get_booster()
        booster.set_param({"nthread": 1})
        predict = lambda: booster.inplace_predict(X)  # noqa: E731
    elif name.startswith("lgbm"):
        predict = lambda: model.booster_.predict(X, num_threads=1)  # noqa: E731
    else:
        model.set_params(n_jobs=1)
        predict = lambda: model.predict(X)  # noqa: E731
    predict()
    return dict(tool="native predict", batch=len(X) / best_time(predict))


def best_time(call, passes=3):
    """Seconds of the fastest of a few calls: the drivers report their best pass too."""
    best = float("inf")
    for _ in range(passes):
        t = time.time()
        call()
        best = min(best, time.time() - t)
    return best


def m2cgen_row(lang, model, rows_path, work, n_trees):
    try:
        import m2cgen
    except ImportError:
        return None
    sys.setrecursionlimit(100_000)
    try:
        t = time.time()
        code = {"go": m2cgen.export_to_go, "c": m2cgen.export_to_c, "java": m2cgen.export_to_java}[lang](model)
        export_s = time.time() - t
    except Exception as exc:  # noqa: BLE001 - whatever m2cgen raises is the finding
        return dict(tool=f"m2cgen {lang}", ok=False, error=f"export failed: {type(exc).__name__}: {exc}"[:200])
    note = ""
    if re.search(r"\bnan\b", code):
        # m2cgen reads base_score from get_params(), None in xgboost 3, and writes `nan`:
        # the code cannot compile. Patch in the real one to measure the build anyway.
        code = re.sub(r"\bnan\b", repr(float(transpiler.to_ir(model).raw.base_score[0])), code)
        note = " (emits `nan` for base_score; patched to build)"
    os.makedirs(work)
    if lang == "c":
        path = os.path.join(work, "model.c")
        with open(path, "w") as fh:
            fh.write(code)
        secs, mb, ok, err = measured(["gcc", "-O2", "-c", "model.c"], work)
    elif lang == "go":
        with open(os.path.join(work, "model.go"), "w") as fh:
            fh.write(code if code.startswith("package") else "package model\n\n" + code)
        with open(os.path.join(work, "go.mod"), "w") as fh:
            fh.write("module m2c\n\ngo 1.21\n")
        secs, mb, ok, err = measured(["go", "build", "./..."], work)
    else:
        with open(os.path.join(work, "Model.java"), "w") as fh:
            fh.write(code)
        secs, mb, ok, err = measured(["javac", "Model.java"], work)
    return dict(tool=f"m2cgen {lang}{note}", bytes=len(code), build_s=secs, build_mb=mb, ok=ok,
                transpile_s=export_s, error="" if ok else "build failed: " + (
                    "the compiler ran out of memory" if "out of memory" in err else err.strip()[-150:]))


def tl2cgen_row(name, model, rows_path, work):
    if name.startswith("rf") and not os.environ.get("BENCH_TL2CGEN_RF"):
        # Its code generation for 18 M nodes holds ~12 GB and takes minutes before a compile
        # that has never finished within the limit; BENCH_TL2CGEN_RF=1 runs it anyway.
        return dict(tool="TL2cgen C", ok=False, error="not run (set BENCH_TL2CGEN_RF=1): its compile "
                    "of the full-depth forest did not finish in earlier runs")
    if not name.startswith(("xgb", "lgbm", "rf")):
        return None
    try:
        import tl2cgen
        import treelite
    except ImportError:
        return None
    try:
        if name.startswith("xgb"):
            tl = treelite.frontend.from_xgboost(model.get_booster())
        elif name.startswith("lgbm"):
            tl = treelite.frontend.from_lightgbm(model.booster_)
        else:
            tl = treelite.sklearn.import_model(model)
        t = time.time()
        tl2cgen.generate_c_code(tl, dirpath=work, params={})
        gen_s = time.time() - t
    except Exception as exc:  # noqa: BLE001
        return dict(tool="TL2cgen C", ok=False, error=f"{type(exc).__name__}: {exc}"[:200])
    srcs = [f for f in os.listdir(work) if f.endswith(".c")]
    size = source_bytes(work)
    secs, mb, ok, err = measured(["sh", "-c", "gcc -O2 -fPIC -shared -o lib.so " + " ".join(srcs)], work)
    batch = float("nan")
    if ok:
        X = np.fromfile(rows_path, dtype="<f8").reshape(-1, N_FEATURES)
        predictor = tl2cgen.Predictor(os.path.join(work, "lib.so"), nthread=1)
        dmat = tl2cgen.DMatrix(X)
        predictor.predict(dmat)
        batch = len(X) / best_time(lambda: predictor.predict(dmat))
    return dict(tool="TL2cgen C", bytes=size, build_s=secs, build_mb=mb, ok=ok, batch=batch,
                transpile_s=gen_s, error="" if ok else err[-200:])


LLEAVES = """
import sys, time, numpy as np, lleaves
m = lleaves.Model(model_file=sys.argv[1])
t = time.time(); m.compile(cache=sys.argv[2]); secs = time.time() - t
X = np.fromfile(sys.argv[3], dtype="<f8").reshape(-1, int(sys.argv[4]))
m.predict(X, n_jobs=1)
best = float("inf")
for _ in range(3):
    t = time.time(); m.predict(X, n_jobs=1); best = min(best, time.time() - t)
print(secs, len(X) / best)
"""


def lleaves_row(name, model, rows_path, work):
    if not name.startswith("lgbm"):
        return None
    # Only where it is installed; it is imported in the subprocess, whose llvmlite may differ.
    if importlib.util.find_spec("lleaves") is None:
        return None
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "model.txt")
    model.booster_.save_model(path)
    # lleaves 1.3 uses llvmlite's PassManagerBuilder, gone since llvmlite 0.45: point
    # BENCH_LLEAVES_PYTHONPATH at an older llvmlite (pip install --target DIR llvmlite==0.43.0).
    env = dict(os.environ)
    if os.environ.get("BENCH_LLEAVES_PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ["BENCH_LLEAVES_PYTHONPATH"],
                                                          env.get("PYTHONPATH")]))
    try:
        r = subprocess.run([sys.executable, "-c", LLEAVES, path, os.path.join(work, "lleaves.o"),
                            rows_path, str(N_FEATURES)], capture_output=True, text=True,
                           timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        return dict(tool="lleaves", ok=False, build_s=float(TIMEOUT), error=f"compile stopped after {TIMEOUT} s")
    if r.returncode:
        last = (r.stderr.strip().splitlines() or ["no message"])[-1]
        hint = " (set BENCH_LLEAVES_PYTHONPATH to an llvmlite < 0.45)" if "PassManagerBuilder" in last else ""
        return dict(tool="lleaves", ok=False, error=f"failed: {last[:150]}{hint}")
    secs, batch = (float(v) for v in r.stdout.split())
    return dict(tool="lleaves", build_s=secs, ok=True, batch=batch)


LEAVES_MAIN = """package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/dmitryikh/leaves"
)

func main() {
	model, err := leaves.LGEnsembleFromFile(os.Args[1], false)
	if err != nil {
		panic(err)
	}
	data, _ := os.ReadFile(os.Args[2])
	rows := make([]float64, len(data)/8)
	for i := range rows {
		rows[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[i*8:]))
	}
	nf := model.NFeatures()
	n := len(rows) / nf
	out := make([]float64, n)
	model.PredictDense(rows, n, nf, out, 0, 1) // warm-up
	batch, single, s := 0.0, 0.0, 0.0
	for r := 0; r < 3; r++ { // the best pass, as our drivers do
		t := time.Now()
		model.PredictDense(rows, n, nf, out, 0, 1)
		batch = math.Max(batch, float64(n)/time.Since(t).Seconds())
	}
	for r := 0; r < 3; r++ {
		t := time.Now()
		for i := 0; i < n; i++ {
			s += model.PredictSingle(rows[i*nf:(i+1)*nf], 0)
		}
		single = math.Max(single, float64(n)/time.Since(t).Seconds())
	}
	fmt.Println(batch, single, s)
}
"""


# Go single rows, ours against leaves, in one process: passes over the same rows alternate
# between the two, so a slow spell of a shared machine slows both; prints the median and
# quartiles of our time over leaves' per pass.
PAIRED_MAIN = """package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"github.com/dmitryikh/leaves"
	m "leavesbench/model"
)

func main() {
	lm, err := leaves.LGEnsembleFromFile(os.Args[1], false)
	if err != nil {
		panic(err)
	}
	data, _ := os.ReadFile(os.Args[2])
	rows := make([]float64, len(data)/8)
	for i := range rows {
		rows[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[i*8:]))
	}
	nf := m.NFeatures
	n := min(len(rows)/nf, 5000)
	pass := func(f func([]float64) float64) float64 {
		t, s := time.Now(), 0.0
		for i := 0; i < n; i++ {
			s += f(rows[i*nf : (i+1)*nf])
		}
		if math.IsNaN(s) {
			panic("NaN")
		}
		return time.Since(t).Seconds()
	}
	theirs := func(r []float64) float64 { return lm.PredictSingle(r, 0) }
	ours := func(r []float64) float64 { return m.Score(r)[0] }
	ratios := make([]float64, 41)
	for i := range ratios {
		ratios[i] = pass(ours) / pass(theirs)
	}
	sort.Float64s(ratios)
	fmt.Println(ratios[20], ratios[10], ratios[30])
}
"""


def paired_latency(work, ours_go, rows_path):
    """Our Go package's single-row time over leaves', alternating in one process (see
    PAIRED_MAIN): (median, p25, p75), or None. work is leaves' module, already set up."""
    if not os.path.isdir(ours_go):
        return None
    shutil.copytree(ours_go, os.path.join(work, "model"))
    os.makedirs(os.path.join(work, "paired"))
    with open(os.path.join(work, "paired", "main.go"), "w") as fh:
        fh.write(PAIRED_MAIN)
    if subprocess.run(["go", "build", "-o", "paired-drv", "./paired"], cwd=work, capture_output=True).returncode:
        return None
    r = subprocess.run(["./paired-drv", "model.txt", rows_path], cwd=work,
                       capture_output=True, text=True, timeout=TIMEOUT, env={**os.environ, "GOMAXPROCS": "1"})
    return tuple(float(v) for v in r.stdout.split()) if r.returncode == 0 else None


# The module proxy here serves this version of leaves (its last commit), not @latest.
LEAVES_VERSION = "v0.0.0-20230708180554-25d19a787328"


def leaves_setup():
    """Commands that make github.com/dmitryikh/leaves importable in a fresh module, and the error
    to report if one fails."""
    local = os.environ.get("BENCH_LEAVES_DIR")
    if not local:
        return ([["go", "get", f"github.com/dmitryikh/leaves@{LEAVES_VERSION}"]],
                f"could not fetch github.com/dmitryikh/leaves@{LEAVES_VERSION}")
    # A local copy of the module, for machines where the module proxy refuses it; tidy pins the
    # replaced module and records go.sum for the module's own requirements.
    return ([["go", "mod", "edit", f"-replace=github.com/dmitryikh/leaves={os.path.abspath(local)}"],
             ["go", "mod", "tidy"]], f"could not use the leaves module in BENCH_LEAVES_DIR={local}")


def leaves_row(name, model, rows_path, work, ours_go):
    if not name.startswith("lgbm") or shutil.which("go") is None:
        return None
    os.makedirs(work, exist_ok=True)
    # leaves reads version=v2/v3 model files only; LightGBM 4 writes v4, the same text for trees
    # without linear leaves, so the header is relabelled (leaves then predicts what LightGBM does).
    text = model.booster_.model_to_string()
    with open(os.path.join(work, "model.txt"), "w") as fh:
        fh.write(re.sub(r"^version=v4$", "version=v3", text, count=1, flags=re.M))
    with open(os.path.join(work, "main.go"), "w") as fh:
        fh.write(LEAVES_MAIN)
    setup, error = leaves_setup()
    for cmd in [["go", "mod", "init", "leavesbench"], *setup]:
        if subprocess.run(cmd, cwd=work, capture_output=True).returncode:
            return dict(tool="leaves (Go)", ok=False, error=error)
    secs, mb, ok, err = measured(["go", "build", "-o", "drv", "."], work)
    batch, single = run_driver(["./drv", "model.txt", rows_path], work) if ok else (float("nan"),) * 2
    return dict(tool="leaves (Go)", build_s=secs, build_mb=mb, ok=ok, batch=batch, single=single,
                error="" if ok else err[-200:], paired=paired_latency(work, ours_go, rows_path) if ok else None)


def cpu_ticks():
    """(steal, total) CPU ticks of the machine so far, from Linux's /proc/stat; None elsewhere.
    Steal is time the hypervisor gave this VM's CPUs to others: a run with much of it is slow
    throughout (builds and rows/s alike)."""
    try:
        with open("/proc/stat") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return ticks[7] if len(ticks) > 7 else 0, sum(ticks[:8])


# --- report ------------------------------------------------------------------------------

def fmt(v, spec):
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, spec)


def table(title, rows, native_rate):
    lines = [f"\n### {title}\n",
             "| tool | source | build s | build MB | transpile s | batch rows/s | x native | single rows/s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = r.get("batch", float("nan")) / native_rate if native_rate else float("nan")
        size = r.get("bytes")
        lines.append("| {} | {} | {} | {} | {} | {} | {} | {} |".format(
            r["tool"], "-" if size is None else f"{size / 1e6:.2f} MB", fmt(r.get("build_s"), ".1f"),
            fmt(r.get("build_mb"), ".0f"), fmt(r.get("transpile_s"), ".2f"),
            fmt(r.get("batch"), ",.0f"), fmt(ratio, ".2f"), fmt(r.get("single"), ",.0f"))
            + (" " + " ".join(r["error"].split()) if r.get("error") else ""))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", help="comma-separated names: " + ", ".join(MODELS))
    ap.add_argument("--quick", action="store_true", help="small models, for a smoke run")
    ap.add_argument("--no-alternatives", action="store_true", help="only native predict and ours")
    ap.add_argument("--out", help="also write the tables to this Markdown file")
    args = ap.parse_args()
    catalogue = QUICK if args.quick else MODELS
    names = args.models.split(",") if args.models else list(catalogue)
    # Warm Go's build cache on the standard library, so build times are the model's own.
    warm = tempfile.mkdtemp()
    with open(os.path.join(warm, "go.mod"), "w") as fh:
        fh.write("module warm\n\ngo 1.21\n")
    with open(os.path.join(warm, "main.go"), "w") as fh:
        fh.write('package main\n\nimport (\n\t_ "embed"\n\t"encoding/binary"\n\t"fmt"\n\t"math"\n\t"os"\n'
                 '\t"time"\n)\n\nvar _ = binary.LittleEndian\nvar _ = math.Pi\nvar _ = os.Args\nvar _ = time.Now\n\n'
                 'func main() { fmt.Println() }\n')
    subprocess.run(["go", "build", "./..."], cwd=warm, capture_output=True)
    out = [f"Single thread, {N_BENCH:,} rows of {N_FEATURES} features; {os.cpu_count()} cores; "
           f"transpiler {transpiler.__version__}."]
    X, _ = data(N_BENCH, seed=1)
    for name in names:
        model, path = train(name)
        n_trees = {"xgb": lambda: model.n_estimators, "lgb": lambda: model.n_estimators,
                   "rf2": lambda: len(model.estimators_)}.get(name[:3], lambda: len(model.estimators_))()
        ticks = cpu_ticks()
        with tempfile.TemporaryDirectory() as tmp:
            rows_path = os.path.join(tmp, "rows.bin")
            write_rows(rows_path, X)
            results = [native(name, model, X)]
            for lang in ("c", "go", "java"):
                results.append(ours(lang, path, rows_path, os.path.join(tmp, f"ours-{lang}"), n_trees))
                print(results[-1], file=sys.stderr)
            if not args.no_alternatives:
                for row in (tl2cgen_row(name, model, rows_path, os.path.join(tmp, "tl2cgen")),
                            lleaves_row(name, model, rows_path, os.path.join(tmp, "lleaves")),
                            leaves_row(name, model, rows_path, os.path.join(tmp, "leaves"),
                                       os.path.join(tmp, "ours-go", "model"))):
                    if row:
                        results.append(row)
                        print(row, file=sys.stderr)
                for lang in ("c", "go", "java") if n_trees <= M2CGEN_MAX_TREES else ():
                    row = m2cgen_row(lang, model, rows_path, os.path.join(tmp, f"m2cgen-{lang}"), n_trees)
                    if row:
                        results.append(row)
                        print(row, file=sys.stderr)
            out.append(table(catalogue.get(name, name), results, results[0]["batch"]))
            now = cpu_ticks()
            if ticks and now and now[1] > ticks[1]:
                out[-1] += (f"\n\nCPU time stolen by the hypervisor while this model ran: "
                            f"{100 * (now[0] - ticks[0]) / (now[1] - ticks[1]):.0f}%.")
            paired = next((r["paired"] for r in results if r.get("paired")), None)
            if paired:
                out[-1] += ("\n\nGo single rows, our time over leaves' with passes alternating in one "
                            "process: median {:.2f} (quartiles {:.2f}-{:.2f}).".format(*paired))
            print(out[-1], flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
