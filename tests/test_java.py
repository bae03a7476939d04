"""Java under the user's JVM: every method small enough for HotSpot's JIT, names that cannot
hide java.lang or the helpers, the shipped self-test, and scoring from many threads."""
from __future__ import annotations

import os
import re
import subprocess

import numpy as np
import pytest

import transpiler
import transpiler.emit
import transpiler.emit.java as java_emit
from transpiler import ir
from transpiler.errors import BuildError, OptionError
from transpiler.outdir import write_files
from transpiler.verify.harness import JIT_METHOD_LIMIT, Case, java_method_sizes, run_cases
from support import require_toolchain


@pytest.fixture(scope="module")
def tree900():
    """The issue's example: DecisionTreeRegressor(max_leaf_nodes=900) on 20,000 x 10 rows, whose
    single method of 12.5 KB ran interpreted."""
    from sklearn.tree import DecisionTreeRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 10))
    y = 2 * X[:, 0] + np.sin(3 * X[:, 1]) + X[:, 2] * X[:, 3] + 0.1 * rng.normal(size=len(X))
    model = DecisionTreeRegressor(max_leaf_nodes=900, random_state=0).fit(X, y)
    return transpiler.to_ir(model), X[:500]


def balanced_tree(depth, *, categorical, zero_missing, seed=0):
    """A complete tree of `depth` levels whose splits are all of the costliest kind in bytecode
    (categorical with NaN going left, zero as missing)."""
    rng = np.random.default_rng(seed)
    n = 2 ** (depth + 1) - 1
    inner = np.arange(n) < 2 ** depth - 1
    left = np.where(inner, 2 * np.arange(n) + 1, -1)
    right = np.where(inner, 2 * np.arange(n) + 2, -1)
    feature = np.where(inner, rng.integers(0, 6, n), -1)
    threshold = np.where(inner, rng.normal(size=n).round(2), 0.0)
    cats = [(int(rng.integers(1, 2 ** 31)), int(rng.integers(1, 2 ** 31))) if categorical and i else None
            for i in inner]
    return ir.make_tree(feature, threshold, left, right, inner, rng.normal(size=(n, 1)),
                        zero_missing=inner & zero_missing, categories=cats)


def huge_models(tree900):
    irm, X = tree900
    worst = ir.Model(n_features=6, raw=ir.Ensemble(
        trees=(balanced_tree(11, categorical=True, zero_missing=True),
               balanced_tree(11, categorical=False, zero_missing=True, seed=1)),
        n_outputs=1, base_score=(0.5,)), post="identity")
    rng = np.random.default_rng(1)
    worst_rows = rng.integers(-2, 40, size=(300, 6)).astype(float)
    worst_rows[rng.random(worst_rows.shape) < 0.1] = np.nan
    worst_rows[rng.random(worst_rows.shape) < 0.1] = 0.0
    return {"t900": (irm, X), "worst": (worst, worst_rows)}


def test_no_generated_method_is_over_the_jit_limit(tree900, tmp_path):
    """Large trees are cut into methods under HotSpot's 8,000 bytes in every layout: the
    harness reads javap of every generated class (as in every catalogue build) and so does
    this test, and the cut trees score exactly as the IR evaluator does."""
    require_toolchain("java")
    cases, want = [], {}
    for name, (m, rows) in huge_models(tree900).items():
        for layout in ("code", "table", "auto"):
            key = f"{name}_{layout}"
            cases.append(Case(key, transpiler.emit.emit(m, "java", layout=layout, package=key),
                              m.n_features, m.n_outputs, rows))
            want[key] = ir.evaluate(m, rows)
    got = run_cases("java", cases, workdir=str(tmp_path))
    for key, out in got.items():
        np.testing.assert_array_equal(out, want[key], err_msg=key)
    classes = [str(p) for key in want for p in (tmp_path / "classes" / key).glob("*.class")]
    sizes = java_method_sizes(classes)
    assert max(sizes)[0] <= JIT_METHOD_LIMIT, max(sizes)
    methods = {(cls, re.sub(r"\(.*", "", m).split()[-1]) for _, cls, m in sizes}
    for name in ("t900", "worst"):      # cut into several methods, each called
        assert (f"{name}_code.Model", "tree0_1") in methods
        assert (f"{name}_auto.Model", "tree0_1") in methods
    statics = [s for s, cls, m in sizes if m == "static {};"]
    assert statics and max(statics) <= JIT_METHOD_LIMIT


def test_a_method_over_the_jit_limit_fails_the_build(tree900, monkeypatch):
    require_toolchain("java")
    monkeypatch.setattr(java_emit, "TREE_METHOD_BUDGET", 10 ** 6)     # one method per tree again
    irm, X = tree900
    files = transpiler.emit.emit(irm, "java", layout="code", package="whole")
    with pytest.raises(BuildError, match=r"over HotSpot's 8000-byte JIT limit.*whole\.Model "
                                         r"private static int tree0\(double\[\]\);, 1\d{4} bytes"):
        run_cases("java", [Case("whole", files, irm.n_features, irm.n_outputs, X[:5])])


# (package, function, class): names a user may give, java.lang's classes and the generated
# code's own helpers among them; each builds and passes its self-test, or is refused.
NAMES = [
    (None, "score", "Model"), (None, "Score", "Score"), (None, "post", "Math"),
    (None, "narrow", "System"), (None, "addLeaf", "String"), ("model", "Model", "Model"),
    ("model", "model", "model"), ("Math", "main", "Double"), ("System", "exp", "Float"),
    ("a.b.c", "HOT", "Integer"), ("javax.x", "init", "Long"), ("fmt", "fmt", "StringBuilder"),
    ("p1", "scoreRaw", "IllegalArgumentException"), ("p2", "addBlock", "IllegalStateException"),
    ("p3", "block0", "rows"), ("p4", "decode", "b"), ("p5", "walk", "in"), ("p6", "next", "x"),
    ("p7", "check", "ModelSelfTest"), ("p8", "compare", "Object"), ("p9", "doubles", "Base64"),
    ("p10", "linear", "Arrays"), ("p11", "walkPair", "N_FEATURES"), ("p12", "addTrees", "e"),
    ("p13", "stepFinite", "java_"), ("p14", "thr", "nio"), ("p15", "word", "util"),
    ("java.lang", "score", "Model"), ("java", "score", "Model"), (None, "score", "java"),
    (None, "tree0", "Model"), (None, "tree3_1", "Model"),
]
REFUSED = {("java.lang", "score", "Model"): "java.* packages", ("java", "score", "Model"): "java.* packages",
           (None, "score", "java"): "hide the java.lang", (None, "tree0", "Model"): "holding a tree",
           (None, "tree3_1", "Model"): "holding a tree"}

# Finds each self-test by name: a package named Math or System is hidden behind java.lang's
# classes in source, not in Class.forName.
RUNNER = """public final class Runner {
    private Runner() {
    }

    public static void main(java.lang.String[] args) throws java.lang.Exception {
        for (java.lang.String name : args) {
            java.lang.Object bad = java.lang.Class.forName(name).getMethod("check").invoke(null);
            if (bad != null) {
                java.lang.System.out.println(name + ": " + bad);
                java.lang.System.exit(1);
            }
        }
        java.lang.System.out.println("all passed: " + args.length);
    }
}
"""


def test_user_names_build_or_are_refused(tree900, tmp_path):
    """java.lang classes are written in full, so a class Math or String hides nothing; helpers
    are overloads the user's function cannot clash with, or the name is refused."""
    require_toolchain("java")
    irm, _ = tree900
    small = ir.Model(n_features=6, raw=ir.Ensemble(trees=(balanced_tree(4, categorical=False,
                     zero_missing=False),), n_outputs=1, base_score=(0.0,)), post="sigmoid",
                     classes=("no", "yes"), feature_names=tuple(f"f{j}" for j in range(6)))
    checks = []
    for i, (package, function, cls) in enumerate(NAMES):
        m = irm if i % 3 == 0 else small
        layout = ("code", "table")[i % 2]
        try:
            files = transpiler.emit.emit(m, "java", package=package, function=function,
                                         class_name=cls, layout=layout)
        except OptionError as exc:
            assert (package, function, cls) in REFUSED, exc
            assert REFUSED[package, function, cls] in str(exc)
            assert "\n" not in str(exc)
            continue
        assert (package, function, cls) not in REFUSED
        assert f"public static double[] {function}(double[] input)" in files[f"{cls}.java"]
        where = tmp_path / "src" / (package or "").replace(".", "/")
        write_files(str(where), files)
        for rel, content in files.items():
            if isinstance(content, bytes):
                write_files(str(tmp_path / "classes" / (package or "").replace(".", "/")), {rel: content})
        fq = f"{package}.{cls}" if package else cls
        checks.append(f"{fq}SelfTest")
    assert len(checks) == len(NAMES) - len(REFUSED)
    (tmp_path / "src" / "Runner.java").write_text(RUNNER)
    sources = [str(p) for p in (tmp_path / "src").rglob("*.java")]
    r = subprocess.run(["javac", "-Xlint:all", "-Werror", "-d", str(tmp_path / "classes"), *sources],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    r = subprocess.run(["java", "-cp", str(tmp_path / "classes"), "Runner", *checks], capture_output=True, text=True)
    assert r.returncode == 0 and f"all passed: {len(checks)}" in r.stdout, r.stdout + r.stderr


def chain_model():
    """Splits on float64 thresholds the self-test's rows fall on exactly."""
    n = 13
    feature, threshold, left, right = [-1] * n, [0.0] * n, [-1] * n, [-1] * n
    values = [[0.0]] * n
    for i, t in enumerate([0.5, -0.5, 0.25, 1.5, -1.25, 3.0]):
        node = 2 * i
        feature[node], threshold[node], left[node], right[node] = i % 3, t, node + 1, node + 2
        values[node + 1] = [float(i + 1)]
    values[n - 1] = [-7.0]
    tree = ir.make_tree(feature, threshold, left, right, [False] * n, values)
    return ir.Model(n_features=3, raw=ir.Ensemble(trees=(tree,), n_outputs=1, base_score=(0.0,)),
                    post="identity")


def compile_and_run_selftest(files, where):
    write_files(str(where), files)
    sources = [str(where / f) for f in files if f.endswith(".java")]
    r = subprocess.run(["javac", "-Xlint:all", "-Werror", "-d", str(where / "out"), *sources],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return subprocess.run(["java", "-cp", str(where / "out"), "st.ModelSelfTest"], capture_output=True, text=True)


def test_selftest_fails_on_a_threshold_one_ulp_off(tmp_path):
    require_toolchain("java")
    files = transpiler.emit.emit(chain_model(), "java", package="st", layout="code")
    ok = compile_and_run_selftest(files, tmp_path / "ok")
    assert ok.returncode == 0 and "self-test passed: " in ok.stdout, ok.stdout + ok.stderr
    src = files["Model.java"]
    assert "x[0] <= 0.5)" in src
    one_ulp = repr(float(np.nextafter(0.5, -np.inf)))
    bad = compile_and_run_selftest({**files, "Model.java": src.replace("x[0] <= 0.5)", f"x[0] <= {one_ulp})")},
                                   tmp_path / "bad")
    assert bad.returncode == 1
    m = re.search(r"self-test FAILED: score row (\d+), output 0: expected (\S+) \(bits 0x[0-9a-f]+\), "
                  r"got (\S+) \(bits", bad.stderr)
    assert m, bad.stderr
    assert float(m.group(2)) != float(m.group(3))


def test_no_selftest_leaves_it_out():
    files = transpiler.emit.emit(chain_model(), "java", selftest=False, class_name="Churn")
    assert list(files) == ["Churn.java"]
    assert "ChurnSelfTest.java" in transpiler.emit.emit(chain_model(), "java", class_name="Churn")


THREADS = """package %(pkg)s;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/** 16 tasks on 8 threads score the rows at once, the class's first use among them. */
public final class Threads {
    private Threads() {
    }

    private static double[] single(double[] rows, int n) {
        double[] out = new double[n * Model.N_OUTPUTS];
        for (int r = 0; r < n; r++) {
            double[] row = java.util.Arrays.copyOfRange(rows, r * Model.N_FEATURES, (r + 1) * Model.N_FEATURES);
            System.arraycopy(Model.score(row), 0, out, r * Model.N_OUTPUTS, Model.N_OUTPUTS);
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(Paths.get(args[0]))).order(ByteOrder.LITTLE_ENDIAN);
        double[] rows = new double[b.capacity() / 8];
        b.asDoubleBuffer().get(rows);
        int n = Integer.parseInt(args[1]);
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        List<Future<double[]>> results = new ArrayList<>();
        for (int t = 0; t < 16; t++) {
            boolean batch = t %% 2 == 1;
            Callable<double[]> task = () -> {
                start.await();
                double[] out = new double[n * Model.N_OUTPUTS];
                for (int rep = 0; rep < 20; rep++) {
                    if (batch) {
                        Model.scoreBatch(rows, n, out);
                    } else {
                        out = single(rows, n);
                    }
                }
                return out;
            };
            results.add(pool.submit(task));
        }
        start.countDown();
        List<double[]> outs = new ArrayList<>();
        for (Future<double[]> f : results) {
            outs.add(f.get());
        }
        pool.shutdown();
        double[] alone = single(rows, n);
        for (int t = 0; t < outs.size(); t++) {
            for (int i = 0; i < alone.length; i++) {
                if (Double.doubleToLongBits(outs.get(t)[i]) != Double.doubleToLongBits(alone[i])) {
                    System.out.println("task " + t + " value " + i + ": " + outs.get(t)[i] + " != " + alone[i]);
                    System.exit(1);
                }
            }
        }
        ByteBuffer o = ByteBuffer.allocate(8 * alone.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : alone) {
            o.putDouble(v);
        }
        Files.write(Paths.get(args[2]), o.array());
    }
}
"""


def test_scoring_from_a_thread_pool_gives_the_single_thread_numbers(tree900, tmp_path):
    """Every layout, including the tables' first load from Model.bin (the class initializer,
    which the JVM runs once, under its lock): all 16 tasks equal one thread, bit for bit, and
    the IR evaluator."""
    require_toolchain("java")
    from sklearn.ensemble import RandomForestRegressor

    irm, X = tree900
    rng = np.random.default_rng(2)
    y = X[:, 0] + rng.normal(size=len(X))
    forest = transpiler.to_ir(RandomForestRegressor(30, max_depth=6, random_state=0).fit(X, y))
    rows = X[:200].copy()
    rows[::7, 3] = np.nan
    cases = {"code": (irm, "code"), "table": (irm, "table"), "heap": (forest, "table")}
    for name, (m, layout) in cases.items():
        pkg = f"threads_{name}"
        files = transpiler.emit.emit(m, "java", package=pkg, layout=layout, selftest=False)
        if name == "heap":
            assert "addTreeBlock" in files["Model.java"] and "SLOTS" in files["Model.java"]
        if layout == "table":
            assert "Model.bin" in files
        where = tmp_path / name
        write_files(str(where / pkg), {**files, "Threads.java": THREADS % {"pkg": pkg}})
        r = subprocess.run(["javac", "-Xlint:all", "-Werror", "-d", "out", f"{pkg}/Model.java", f"{pkg}/Threads.java"],
                           cwd=where, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        for rel, content in files.items():
            if isinstance(content, bytes):
                write_files(str(where / "out" / pkg), {rel: content})
        np.ascontiguousarray(rows, dtype="<f8").tofile(where / "rows.bin")
        r = subprocess.run(["java", "-cp", "out", f"{pkg}.Threads", "rows.bin", str(len(rows)), "out.bin"],
                           cwd=where, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        got = np.fromfile(where / "out.bin", dtype="<f8").reshape(len(rows), m.n_outputs)
        np.testing.assert_array_equal(got, ir.evaluate(m, rows), err_msg=name)


def test_auto_takes_code_for_a_tree_of_any_size_in_java():
    """A tree of 8,191 nodes (too deep for heaps) is one function too many for C and Go, but
    Java cuts it into methods, which ran faster than the tables after the JIT."""
    m = ir.Model(n_features=6, raw=ir.Ensemble(trees=(balanced_tree(12, categorical=False, zero_missing=False),),
                                               n_outputs=1, base_score=(0.0,)), post="identity")
    java = transpiler.emit.emit(m, "java", selftest=False)
    assert list(java) == ["Model.java"] and "private static int tree0_1(double[] x)" in java["Model.java"]
    assert "model_data.c" in transpiler.emit.emit(m, "c", selftest=False)


def test_thousands_of_feature_names_stay_under_the_jit_limit(tmp_path):
    """FEATURE_NAMES of 3,000 names (a wide DataFrame) would be 24 KB of static initializer as
    one List.of: they are filled in methods of 512 names."""
    require_toolchain("java")
    n = 3000
    tree = ir.make_tree([n - 1, -1, -1], [0.5, 0, 0], [1, -1, -1], [2, -1, -1], [False] * 3, [[0], [1.0], [2.0]])
    names = tuple(f"col {j}" for j in range(n - 1)) + ("caf\u00e9 \U0001F600 \"q\"",)
    m = ir.Model(n_features=n, raw=ir.Ensemble(trees=(tree,), n_outputs=1, base_score=(0.0,)),
                 post="identity", feature_names=names)
    files = transpiler.emit.emit(m, "java", package="wide")
    rows = np.zeros((3, n))
    rows[:, -1] = [0.0, 0.5, 1.0]
    got = run_cases("java", [Case("wide", files, n, 1, rows)], workdir=str(tmp_path))["wide"]
    np.testing.assert_array_equal(got[:, 0], [1.0, 1.0, 2.0])
    sizes = java_method_sizes([str(p) for p in (tmp_path / "classes" / "wide").glob("*.class")])
    assert max(sizes)[0] <= JIT_METHOD_LIMIT
    (tmp_path / "Names.java").write_text(
        "public final class Names {\n    private Names() {\n    }\n\n"
        "    public static void main(String[] args) {\n"
        "        System.out.print(String.join(\"\\n\", wide.Model.FEATURE_NAMES));\n    }\n}\n")
    r = subprocess.run(["javac", "-cp", str(tmp_path / "classes"), "-d", str(tmp_path / "classes"),
                        str(tmp_path / "Names.java")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["java", "-Dfile.encoding=UTF-8", "-Dstdout.encoding=UTF-8", "-cp",
                        str(tmp_path / "classes"), "Names"], capture_output=True)
    assert r.stdout.decode("utf-8").split("\n") == list(names)
