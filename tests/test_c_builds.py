"""Generated C as users build it: their compilers and flags, their names, the shipped self-test,
and many threads (README: C)."""
import os
import pickle
import re
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

import transpiler
import transpiler.emit
from transpiler import ir
from transpiler.cli import app
from transpiler.emit.base import selftest_data
from transpiler.outdir import write_files
from transpiler.verify.harness import Case, run_cases

from support import require_compiler, require_toolchain

HERE = os.path.dirname(os.path.abspath(__file__))
IRIS = os.path.join(HERE, "..", "examples", "iris_forest.pkl")
LAYOUTS = ("code", "table")


@pytest.fixture(scope="module")
def iris():
    with open(IRIS, "rb") as fh:
        model = pickle.load(fh)
    return model, transpiler.to_ir(model)


def test_iris_nan_rows_under_every_configuration(iris):
    """The issue's row {6.0, 3.0, NaN, 1.8} gave 0/0.267/0.733 under -Ofast; all-NaN rows moved too."""
    require_toolchain("c")
    model, irm = iris
    rows = np.array([[6.0, 3.0, np.nan, 1.8], [np.nan] * 4, [np.nan, 3.0, np.nan, np.nan]])
    cases = [Case(f"iris_{layout}", transpiler.emit.emit(irm, "c", layout=layout, function=f"score_iris_{layout}"),
                  4, 3, rows) for layout in LAYOUTS]
    out = run_cases("c", cases)   # every configuration, bit for bit
    for layout in LAYOUTS:
        np.testing.assert_array_equal(out[f"iris_{layout}"][0], [0.0, 0.0, 1.0])
        np.testing.assert_array_equal(out[f"iris_{layout}"], model.predict_proba(rows))


NAMES = ["score", "Score", "post", "narrow", "addLeaf", "Model", "model", "HOT", "init", "fmt",
         "Math", "System", "x", "input", "rows", "out", "n_features", "scorers", "leaf_value",
         "add_leaf", "tables_ready", "kernel", "linear", "preprocess", "nodes", "node", "step",
         "TREE_FN", "N_FEATURES", "BATCH_ROWS", "in_category", "exp32", "keyed"]
REFUSED = {"main": "entry point", "exp": "declares exp", "tp_post": "tp_", "TP": "tp_", "tr_libm_exp": "tr_",
           "_score": "underscore", "strlen": "declares strlen", "class": "C++ keyword",
           "uint32_t": "declares uint32_t", "NAN": "declares NAN", "memo": "str*, mem*"}


def test_user_names_build_and_score(iris):
    """Every name either builds and scores right under every configuration, or is refused."""
    require_toolchain("c")
    model, irm = iris
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3], [6.0, 3.0, np.nan, 1.8]])
    # Each name in one layout, alternately (every helper is prefixed in both): one build.
    cases = [Case(f"n{i}", transpiler.emit.emit(irm, "c", layout=LAYOUTS[i % 2], function=name),
                  4, 3, rows, names={"function": name}) for i, name in enumerate(NAMES)]
    out = run_cases("c", cases)
    want = model.predict_proba(rows)
    for case in cases:
        np.testing.assert_array_equal(out[case.name], want, err_msg=case.names["function"])


@pytest.mark.parametrize("name,why", sorted(REFUSED.items()))
def test_colliding_names_are_refused(tmp_path, name, why):
    result = CliRunner().invoke(app, [IRIS, "--lang", "c", "--function", name, "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --function {name!r}") and why in lines[0], lines
    assert not (tmp_path / "out").exists()


def build_selftest(d, cc=("gcc",)):
    exe = os.path.join(d, "selftest.exe")
    sources = [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".c")]
    subprocess.run([*cc, "-I", d, *sources, os.path.join(d, "selftest", "model_selftest.c"), "-lm", "-o", exe],
                   check=True, capture_output=True, text=True)
    return subprocess.run([exe], capture_output=True, text=True)


def test_selftest_fails_when_a_threshold_moves_one_ulp(iris, tmp_path):
    """The self-test holds rows on the thresholds: a threshold one ulp lower sends the row that
    lies on it (x <= t) the other way, and the self-test names that row."""
    require_toolchain("c")
    _, irm = iris
    files = transpiler.emit.emit(irm, "c", layout="code")
    d = str(tmp_path / "ok")
    write_files(d, files)
    ok = build_selftest(d)
    assert ok.returncode == 0 and "self-test passed (32 rows)" in ok.stdout, ok.stderr
    data = selftest_data(irm)
    rows = np.array(data["rows"], dtype=np.uint64).view(np.float64).reshape(data["n_rows"], -1)
    text = files["model.c"]
    for m in re.finditer(r"x\[(\d)\] <= ([0-9.e+-]+)\b", text):
        j, t = int(m.group(1)), float(m.group(2))   # scikit-learn: float32 x, float64 threshold
        hit = np.flatnonzero(rows[:, j].astype(np.float32) == t)
        if len(hit):
            break
    else:
        pytest.fail("no self-test row lies on a threshold")
    lower = np.nextafter(t, -np.inf)
    changed = text[:m.start(2)] + repr(float(lower)) + text[m.end(2):]
    d = str(tmp_path / "changed")
    write_files(d, {**files, "model.c": changed})
    bad = build_selftest(d)
    assert bad.returncode == 1, bad.stdout
    assert re.search(rf"row {hit[0]}, output \d: expected [-0-9.e+]+, got [-0-9.e+]+", bad.stderr), bad.stderr
    assert f"self-test FAILED at row {hit[0]}" in bad.stderr


TSAN_DRIVER = r"""
#include <pthread.h>
#include <stdio.h>
#include "model.h"

enum { THREADS = 8, ROUNDS = 10 };

/* Each thread scores the self-test's rows one by one and as a batch, from the program's start. */
static void *run(void *arg) {
    int *failed = (int *)arg;
    for (int i = 0; i < ROUNDS; i++) {
        *failed |= score_selftest();
    }
    return NULL;
}

int main(void) {
    pthread_t t[THREADS];
    int failed[THREADS] = {0};
    for (int i = 0; i < THREADS; i++) {
        pthread_create(&t[i], NULL, run, &failed[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    for (int i = 0; i < THREADS; i++) {
        if (failed[i]) {
            printf("thread %d: wrong numbers\n", i);
            return 1;
        }
    }
    printf("threads agree\n");
    return 0;
}
"""
RACY = r"""
#include <pthread.h>
static int shared;
static void *bump(void *arg) { (void)arg; shared++; return NULL; }
int main(void) {
    pthread_t a, b;
    pthread_create(&a, NULL, bump, NULL);
    pthread_create(&b, NULL, bump, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return shared == 0;
}
"""


def tsan_run(d, source, tmp_path, cc):
    with open(os.path.join(d, "threads.c"), "w") as fh:
        fh.write(source)
    exe = os.path.join(d, "threads.exe")
    sources = [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".c")]
    subprocess.run([cc, "-std=c99", "-O1", "-g", "-fsanitize=thread", "-I", d, *sources, "-lm", "-lpthread",
                    "-o", exe], check=True, capture_output=True, text=True)
    env = {**os.environ, "TSAN_OPTIONS": "halt_on_error=1 exitcode=66"}
    return subprocess.run([exe], capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_many_threads_under_thread_sanitizer(iris, tmp_path, cc):
    """Score and batch from 8 pthreads at once, starting as the program starts (the table layout's
    tables are decoded before main): ThreadSanitizer finds no race and every thread's numbers
    are the model's. A deliberately racy program shows the sanitizer works here."""
    require_toolchain("c")
    require_compiler(cc)
    racy = str(tmp_path / "racy")
    os.makedirs(racy)
    r = tsan_run(racy, RACY, tmp_path, cc)
    assert r.returncode == 66 and "data race" in r.stderr, r.stderr[-2000:]
    _, irm = iris
    for layout in LAYOUTS:
        d = str(tmp_path / layout)
        write_files(d, transpiler.emit.emit(irm, "c", layout=layout))
        r = tsan_run(d, TSAN_DRIVER, tmp_path, cc)
        assert r.returncode == 0 and "threads agree" in r.stdout, r.stdout + r.stderr[-3000:]


def test_no_arithmetic_takes_clangs_fast_math_flags(tmp_path):
    """What the pragmas cannot reach: clang 14 gives a unary minus -ffast-math's flags whatever
    they say (-(a / c) became a * (-1 / c) in AdaBoost's code). In the LLVM IR clang makes of
    the generated C under -ffast-math, no arithmetic instruction may carry a fast-math flag:
    the golden files and models of every post-processing and preprocessing kind."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import AdaBoostClassifier, IsolationForest
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, Normalizer, PolynomialFeatures
    from sklearn.svm import SVC, SVR

    require_compiler("clang")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    models = [AdaBoostClassifier(n_estimators=4, random_state=0).fit(X, y),
              IsolationForest(n_estimators=4, random_state=0).fit(X),
              SVR().fit(X, X[:, 0]), SVC(kernel="poly").fit(X, y),
              CalibratedClassifierCV(LogisticRegression(), cv=2).fit(X, y),
              make_pipeline(MinMaxScaler(), Normalizer(), PolynomialFeatures(2),
                            LogisticRegression()).fit(X, y)]
    dirs = [os.path.join(HERE, "..", "golden", g, "c") for g in sorted(os.listdir(os.path.join(HERE, "..", "golden")))]
    for i, model in enumerate(models):
        dirs.append(write_files(str(tmp_path / f"m{i}"), transpiler.transpile(model, "c")))
    flagged = re.compile(r"= (fneg|fadd|fsub|fmul|fdiv|frem|fcmp)( (fast|reassoc|nnan|ninf|nsz|arcp|contract|afn))+")
    checked = 0
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith(".c"):
                continue
            r = subprocess.run(["clang", "-std=c99", "-O0", "-ffast-math", "-I", d, "-S", "-emit-llvm",
                                "-o", "-", os.path.join(d, name)], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            hits = sorted({m.group(0) for m in flagged.finditer(r.stdout)})
            assert not hits, f"{d}/{name}: {hits}"
            checked += 1
    assert checked >= 15
