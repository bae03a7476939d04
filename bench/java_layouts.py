"""Java: the code layout (trees cut into methods the JIT compiles) against the table layout.

    python bench/java_layouts.py                 # every shape below
    python bench/java_layouts.py --models t900   # one

For each model and layout it transpiles, builds with javac and prints single-thread ns per
row (batch entry point and row by row, the best of several passes after a warm-up, in a JVM
of its own) and the largest generated method in bytes of bytecode. `auto` in Java follows
these numbers (tables.choose_layout); bench/RESULTS.md records a run. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import transpiler  # noqa: E402
from transpiler.outdir import write_files  # noqa: E402
from transpiler.verify.harness import java_method_sizes  # noqa: E402
import transpiler.emit.java as java_emit  # noqa: E402

# Big methods take C2 long to compile (seconds on a loaded machine): each JVM compiles in the
# foreground (-Xbatch), runs batches and single rows for WARM seconds of its own CPU time, then
# times passes of each entry point in CPU time of the thread (the machine is shared).
JAVA_MAIN = """import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Paths;

public final class Bench {
    private Bench() {
    }

    private static double sum;
    private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();

    private static long now() {
        return CPU.getCurrentThreadCpuTime();
    }

    private static double singles(double[] rows, int n, double[] row) {
        long t = now();
        for (int i = 0; i < n; i++) {
            System.arraycopy(rows, i * Model.N_FEATURES, row, 0, Model.N_FEATURES);
            sum += Model.score(row)[0];
        }
        return (now() - t) / (double) n;
    }

    private static double batch(double[] rows, int n, double[] out) {
        long t = now();
        Model.scoreBatch(rows, n, out);
        sum += out[0];
        return (now() - t) / (double) n;
    }

    public static void main(String[] args) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(Paths.get(args[0]))).order(ByteOrder.LITTLE_ENDIAN);
        int reps = Integer.parseInt(args[1]);
        double warm = Double.parseDouble(args[2]);
        double[] rows = new double[b.capacity() / 8];
        b.asDoubleBuffer().get(rows);
        int n = rows.length / Model.N_FEATURES;
        double[] out = new double[n * Model.N_OUTPUTS];
        double[] row = new double[Model.N_FEATURES];
        long end = now() + (long) (warm * 1e9);
        while (now() < end) {
            batch(rows, n, out);
            singles(rows, n, row);
        }
        double bestBatch = Double.MAX_VALUE;
        double bestSingle = Double.MAX_VALUE;
        for (int r = 0; r < reps; r++) {
            bestBatch = Math.min(bestBatch, batch(rows, n, out));
            bestSingle = Math.min(bestSingle, singles(rows, n, row));
        }
        System.out.println(bestBatch + " " + bestSingle + " " + sum);
    }
}
"""

N_TRAIN, N_FEATURES, N_BENCH = 20_000, 10, 20_000


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_TRAIN, N_FEATURES))
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + X[:, 2] * X[:, 3] + 0.1 * rng.normal(size=N_TRAIN)
    return X, y


def models():
    """name -> a function that trains the model (regressors on 20,000 x 10 rows)."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.tree import DecisionTreeRegressor

    return {
        # the example: 1,799 nodes, depth 19; one method of 12.5 KB before the cut
        "t900": lambda X, y: DecisionTreeRegressor(max_leaf_nodes=900, random_state=0).fit(X, y),
        "t2000": lambda X, y: DecisionTreeRegressor(max_leaf_nodes=2000, random_state=0).fit(X, y),
        "t300": lambda X, y: DecisionTreeRegressor(max_leaf_nodes=300, random_state=0).fit(X, y),
        "rf20x500": lambda X, y: RandomForestRegressor(20, max_leaf_nodes=500, random_state=0,
                                                       n_jobs=1).fit(X, y),
        "rf100x150": lambda X, y: RandomForestRegressor(100, max_leaf_nodes=150, random_state=0,
                                                        n_jobs=1).fit(X, y),
        "t3000": lambda X, y: DecisionTreeRegressor(max_leaf_nodes=3000, random_state=0).fit(X, y),
        # complete enough for heaps (depth <= 10): `auto` walks them as heap tables
        "rf50d8": lambda X, y: RandomForestRegressor(50, max_depth=8, random_state=0, n_jobs=1).fit(X, y),
    }


def run(model, layout, rows_path, work, reps, warm):
    files = transpiler.transpile(model, "java", layout=layout, selftest=False)
    gen = write_files(os.path.join(work, "model"), files)
    with open(os.path.join(gen, "Bench.java"), "w") as fh:
        fh.write(JAVA_MAIN)
    r = subprocess.run(["javac", "-d", "classes", "model/Model.java", "model/Bench.java"], cwd=work,
                       capture_output=True, text=True)
    if r.returncode:
        return None, None, r.stderr.strip().splitlines()[0][-120:]
    for rel, content in files.items():
        if isinstance(content, bytes):
            shutil.copy(os.path.join(gen, rel), os.path.join(work, "classes", rel))
    largest = max(s for s, cls, _ in java_method_sizes(glob.glob(os.path.join(work, "classes", "*.class")))
                  if cls == "Model")
    r = subprocess.run(["java", "-Xbatch", "-XX:+UseSerialGC", "-XX:ActiveProcessorCount=1", "-cp", "classes",
                        "Bench", rows_path, str(reps), str(warm)], cwd=work, check=True, capture_output=True, text=True)
    batch, single, _ = map(float, r.stdout.split())
    return batch, single, largest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warm", type=float, default=4.0, help="CPU seconds of warm-up in each JVM")
    ap.add_argument("--budget", type=int, default=None,
                    help="bytes of bytecode per tree method (default: the emitter's)")
    args = ap.parse_args()
    if args.budget:
        java_emit.TREE_METHOD_BUDGET = args.budget
    X, y = data()
    Xb = data(1)[0][:N_BENCH]
    print("| model | nodes (largest tree) | auto | layout | batch ns/row | single ns/row | largest method |")
    print("|---|---|---|---|---|---|---|")
    for name, train in models().items():
        if args.models and name not in args.models:
            continue
        model = train(X, y)
        trees = getattr(model, "estimators_", [model])
        sizes = [t.tree_.node_count for t in trees]
        auto = transpiler.transpile(model, "java", selftest=False)
        chosen = "table" if any(isinstance(v, bytes) for v in auto.values()) else "code"
        with tempfile.TemporaryDirectory() as tmp:
            rows_path = os.path.join(tmp, "rows.bin")
            np.ascontiguousarray(Xb, dtype="<f8").tofile(rows_path)
            for layout in ("code", "table"):
                work = os.path.join(tmp, layout)
                os.makedirs(work)
                batch, single, largest = run(model, layout, rows_path, work, args.reps, args.warm)
                cells = (f"{batch:,.1f} | {single:,.1f} | {largest:,} B" if batch else
                         f"- | - | javac failed: {largest}")
                print(f"| {name} | {sum(sizes):,} ({max(sizes):,}) | {chosen} | {layout} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
