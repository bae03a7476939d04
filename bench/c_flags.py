"""What the C prologue's guarantees cost under the flags users build with.

Usage: python bench/c_flags.py [--source DIR]

For a tree ensemble (code layout), a kernel SVR and a wide logistic regression, the generated C
is built under each configuration of the test harness that optimises (strict gcc -O2, gcc -Ofast,
clang -O3 -ffast-math) and plain clang -O3, and scored with bench/drivers.py's C driver: batch
rows/s, best of several passes. `--source DIR` renders the templates of another checkout
(e.g. a worktree of an older commit) so two versions of the prologue compare in one run.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = {
    "gcc -O2": ["gcc", "-std=c99", "-O2"],
    "gcc -Ofast -march=native": ["gcc", "-std=c99", "-Ofast", "-march=native"],
    "clang -O3": ["clang", "-std=c99", "-O3"],
    "clang -O3 -ffast-math -march=native": ["clang", "-std=c99", "-O3", "-ffast-math",
                                            "-march=native"],
}


def models(rng):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVR

    X = rng.normal(size=(4000, 30))
    y = X[:, 0] * 2 + np.sin(X[:, 1]) + rng.normal(scale=0.1, size=len(X))
    return X, {
        "forest 100 x depth 10": RandomForestRegressor(n_estimators=100, max_depth=10,
                                                        random_state=0).fit(X, y),
        "SVR rbf": SVR(C=1.0).fit(X[:1500], y[:1500]),
        "logistic 30 features": LogisticRegression(max_iter=500).fit(X, y > 0),
    }


def rate(files, cc, rows_path, work):
    from drivers import C_MAIN
    from transpiler.outdir import write_files

    write_files(work, {**files, "main.c": C_MAIN})
    srcs = sorted(f for f in os.listdir(work) if f.endswith(".c"))   # not selftest/'s main
    subprocess.run(cc + ["-o", "drv", *srcs, "-lm"], cwd=work, check=True, capture_output=True)
    out = subprocess.run(["./drv", rows_path, "5"], cwd=work, check=True, capture_output=True,
                         text=True).stdout.split()
    return float(out[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", help="checkout whose transpiler renders the code")
    args = ap.parse_args()
    if args.source:
        sys.path.insert(0, os.path.abspath(args.source))
    sys.path.insert(0, HERE)
    import transpiler

    rng = np.random.default_rng(0)
    X, fitted = models(rng)
    rows = rng.normal(size=(20000, X.shape[1]))
    print(f"transpiler from {os.path.dirname(transpiler.__file__)}")
    print("| model | " + " | ".join(CONFIGS) + " |")
    print("|---" * (len(CONFIGS) + 1) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        rows_path = os.path.join(tmp, "rows.bin")
        rows.astype("<f8").tofile(rows_path)
        for name, model in fitted.items():
            files = transpiler.transpile(model, "c")
            rates = [rate(files, cc, rows_path, os.path.join(tmp, f"{len(os.listdir(tmp))}"))
                     for cc in CONFIGS.values()]
            print(f"| {name} | " + " | ".join(f"{r:,.0f}" for r in rates) + " |")


if __name__ == "__main__":
    main()
