"""Our exp / expf (ir/libm.py and templates/*/libm.j2) against the C library's, bit for bit.

The C proof (tests/libm/proof.c) runs every one of the 2^32 floats through expf and a sample
of doubles through exp, also under the compiler options users build with; the Go and Java
versions must print the C version's digest of a shared sample; NumPy's version is checked
against the C library through ctypes. The reference is glibc on x86-64, where these are the
functions XGBoost (expf) and LightGBM (exp) call.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess

import numpy as np
import pytest

from support import require_toolchain
from transpiler.emit.base import libm_source
from transpiler.ir import libm

HERE = os.path.join(os.path.dirname(__file__), "libm")

# compiler, options: what users build the generated C with (the strict set is the default)
FLAGS = [
    ("gcc", "-std=c99 -O2 -Wall -Wextra -Werror"),
    ("gcc", "-std=c99 -Ofast -march=native -Wall -Wextra -Werror"),
    ("gcc", "-std=c99 -O2 -ffp-contract=fast -march=native -Wall -Wextra -Werror"),
    ("clang", "-std=c99 -O3 -ffast-math -Wall -Wextra -Werror"),
    ("clang", "-std=c99 -O3 -ffast-math -march=native -Wall -Wextra -Werror"),
    ("g++", "-std=c++17 -O2 -Wall -Wextra -Werror -x c++"),
    ("clang++", "-std=c++17 -O3 -ffast-math -Wall -Wextra -Werror -x c++"),
]


def _need(*tools):
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"toolchain missing in CI: {', '.join(missing)}")
        pytest.skip(f"{', '.join(missing)} not found")


def build_proof(workdir, cc="gcc", flags="-std=c99 -O2 -march=native -Wall -Wextra -Werror"):
    """The C proof program, built with cc and flags (the C library's side always with -O2)."""
    _need("gcc", cc)
    with open(os.path.join(workdir, "libm.h"), "w") as fh:
        fh.write(libm_source("c"))
    ref = os.path.join(workdir, "ref.o")
    if not os.path.exists(ref):
        subprocess.run(["gcc", "-std=c99", "-O2", "-c", os.path.join(HERE, "ref.c"), "-o", ref],
                       check=True)
    exe = os.path.join(workdir, f"proof-{cc}-{abs(hash(flags))}")
    subprocess.run([cc, *flags.split(), "-I", workdir, os.path.join(HERE, "proof.c"),
                    "-x", "none", ref, "-o", exe, "-lm"], check=True)
    return exe


def run(*args) -> str:
    out = subprocess.run(list(map(str, args)), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_expf_equals_c_library_on_every_float(tmp_path):
    exe = build_proof(str(tmp_path))
    halves = [subprocess.Popen([exe, "expf", "2", str(first)], stdout=subprocess.PIPE, text=True)
              for first in (0, 1)]
    outs = [p.communicate(timeout=900)[0] for p in halves]
    assert [p.returncode for p in halves] == [0, 0], outs
    assert all(o.strip().endswith("expf: 0 of 2147483648 differ") for o in outs), outs


def test_exp_equals_c_library(tmp_path):
    exe = build_proof(str(tmp_path))
    assert run(exe, "exp", 3_000_000, 20261206).strip().endswith("exp: 0 of 3000000 differ")


@pytest.mark.parametrize("cc,flags", FLAGS, ids=[f"{c} {f.split(' -W')[0]}" for c, f in FLAGS])
def test_c_bits_do_not_depend_on_compiler_options(tmp_path, cc, flags):
    exe = build_proof(str(tmp_path), cc, flags)
    assert run(exe, "exp", 300_000, 7).strip().endswith("exp: 0 of 300000 differ")
    assert run(exe, "expf", 997).strip().endswith("expf: 0 of 4307891 differ")


def _c_digest(workdir, n, seed):
    return run(build_proof(workdir), "sum", n, seed).strip()


def test_go_and_java_equal_c(tmp_path):
    require_toolchain("go")
    require_toolchain("java")
    n, seed = 2_000_000, 99
    want = _c_digest(str(tmp_path), n, seed)
    assert want.startswith("digest ")

    go_dir = tmp_path / "go"
    go_dir.mkdir()
    text = open(os.path.join(HERE, "proof.go")).read()
    (go_dir / "main.go").write_text(text.replace("// LIBM\n", libm_source("go").rstrip("\n") + "\n", 1))
    (go_dir / "go.mod").write_text("module proof\n\ngo 1.21\n")
    assert subprocess.run(["gofmt", "-l", "."], cwd=go_dir, capture_output=True, text=True).stdout == ""
    subprocess.run(["go", "vet", "."], cwd=go_dir, check=True)
    subprocess.run(["go", "build", "-o", "proof", "."], cwd=go_dir, check=True)
    assert run(go_dir / "proof", n, seed).strip() == want

    java_dir = tmp_path / "java"
    java_dir.mkdir()
    text = open(os.path.join(HERE, "Proof.java")).read()
    (java_dir / "Proof.java").write_text(text.replace("    // LIBM\n", libm_source("java"), 1))
    subprocess.run(["javac", "-Xlint:all", "-Werror", "Proof.java"], cwd=java_dir, check=True)
    assert run("java", "-cp", java_dir, "Proof", n, seed).strip() == want


def _c_library():
    lib = ctypes.CDLL(ctypes.util.find_library("m"))
    lib.exp.restype, lib.exp.argtypes = ctypes.c_double, [ctypes.c_double]
    lib.expf.restype, lib.expf.argtypes = ctypes.c_float, [ctypes.c_float]
    lib.fma.restype, lib.fma.argtypes = ctypes.c_double, [ctypes.c_double] * 3
    return lib


def _same(a, b, kind):
    a, b = np.asarray(a), np.asarray(b)
    return (a.view(kind) == b.view(kind)) | (np.isnan(a) & np.isnan(b))


def test_numpy_versions_equal_c_library():
    lib = _c_library()
    rng = np.random.default_rng(5)
    edges = [0.0, -0.0, 2.0 ** -54, 1e-300, 512.0, -512.0, 709.78, 709.79, -708.4, -744.44,
             -745.13, -745.14, 1024.0, -1024.0, np.inf, -np.inf, np.nan]
    x = np.concatenate([rng.uniform(-760, 760, 40_000), rng.uniform(-30, 30, 40_000),
                        rng.normal(0, 1e-6, 5_000), edges])
    assert _same(libm.exp(x), [lib.exp(v) for v in x], np.int64).all()
    xf = np.concatenate([rng.uniform(-110, 95, 40_000), rng.uniform(-8, 8, 40_000),
                         [-103.5, -103.3, -104.0, 88.72, 88.73, -87.5, np.inf, -np.inf, np.nan]])
    xf = xf.astype(np.float32)
    assert _same(libm.expf(xf), np.array([lib.expf(v) for v in xf], np.float32), np.int32).all()


def test_numpy_fma_is_rounded_once():
    lib = _c_library()
    rng = np.random.default_rng(8)
    a = rng.normal(0, 1, 30_000) * 2.0 ** rng.integers(-40, 40, 30_000)
    b = rng.normal(0, 1, 30_000)
    c = -a * b * (1 + rng.normal(0, 1e-12, 30_000))   # heavy cancellation: plain a*b+c is off
    got = libm.fma(a, b, c)
    want = [lib.fma(*v) for v in zip(a, b, c)]
    assert _same(got, want, np.int64).all()
    assert not _same(a * b + c, want, np.int64).all()


def test_tables_are_glibcs():
    # spot values of glibc's e_exp_data.c and e_exp2f_data.c; the rest follow the same rule
    assert libm.EXP_TAB[2:4] == (0x3C9B3B4F1A88BF6E, 0x3FEFF63DA9FB3335)
    assert libm.EXP_TAB[254:256] == (0x3C5305C14160CC89, 0x3FEFF3C22B8F71F1)
    assert libm.EXPF_TAB[1] == 0x3FEFD9B0D3158574 and libm.EXPF_TAB[31] == 0x3FEFD0765B6E4540
