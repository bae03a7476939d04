"""Our exp / expf (templates/*/libm.j2): the large proof and the cost per call.

    python bench/libm.py --proof 100000000   # exp on 10^8 doubles against the C library (C)
    python bench/libm.py                     # ns per call, ours against the language's own exp

The proof uses tests/libm/proof.c (the test suite runs it on a smaller sample). The timing
loops feed each call's result into the next argument so calls cannot overlap or be hoisted;
nothing here is asserted: the numbers are for reading (bench/RESULTS.md).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from transpiler.emit.base import libm_source  # noqa: E402

PROOF = os.path.join(os.path.dirname(HERE), "tests", "libm")

C_TIME = r"""
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "libm.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    const long n = 20000000;
    double s = 0.0, t0;
    float f = 0.0f;
    t0 = now(); for (long i = 0; i < n; i++) s = tr_libm_exp(-8.0 + 1e-7 * i + 1e-300 * s);
    printf("c exp ours %.2f\n", (now() - t0) / n * 1e9);
    t0 = now(); for (long i = 0; i < n; i++) s = exp(-8.0 + 1e-7 * i + 1e-300 * s);
    printf("c exp own %.2f\n", (now() - t0) / n * 1e9);
    t0 = now(); for (long i = 0; i < n; i++) f = tr_libm_expf(-8.0f + 1e-7f * (float)i + 1e-30f * f);
    printf("c expf ours %.2f\n", (now() - t0) / n * 1e9);
    t0 = now(); for (long i = 0; i < n; i++) f = expf(-8.0f + 1e-7f * (float)i + 1e-30f * f);
    printf("c expf own %.2f\n", (now() - t0) / n * 1e9);
    return s == 0.5 && f == 0.5f;
}
"""

GO_TIME = """package main

import (
	"fmt"
	"math"
	"time"
)

LIBM

func main() {
	const n = 20000000
	s, f := 0.0, float32(0)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		s = trExp(-8 + 1e-7*float64(i) + 1e-300*s)
	}
	fmt.Printf("go exp ours %.2f\\n", float64(time.Since(t0).Nanoseconds())/n)
	t0 = time.Now()
	for i := 0; i < n; i++ {
		s = math.Exp(-8 + 1e-7*float64(i) + 1e-300*s)
	}
	fmt.Printf("go exp own %.2f\\n", float64(time.Since(t0).Nanoseconds())/n)
	t0 = time.Now()
	for i := 0; i < n; i++ {
		f = trExpf(-8 + 1e-7*float32(i) + 1e-30*f)
	}
	fmt.Printf("go expf ours %.2f\\n", float64(time.Since(t0).Nanoseconds())/n)
	t0 = time.Now()
	for i := 0; i < n; i++ {
		f = float32(math.Exp(float64(-8 + 1e-7*float32(i) + 1e-30*f)))
	}
	fmt.Printf("go expf own (float32(math.Exp)) %.2f\\n", float64(time.Since(t0).Nanoseconds())/n)
	if s == 0.5 && f == 0.5 {
		fmt.Println()
	}
}
"""

JAVA_TIME = """public final class Time {
LIBM
    public static void main(String[] args) {
        final int n = 20000000;
        double s = 0.0;
        float f = 0.0f;
        for (int round = 0; round < 2; round++) { // the first round warms the JIT up
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) s = trExp(-8.0 + 1e-7 * i + 1e-300 * s);
            long t1 = System.nanoTime();
            for (int i = 0; i < n; i++) s = Math.exp(-8.0 + 1e-7 * i + 1e-300 * s);
            long t2 = System.nanoTime();
            for (int i = 0; i < n; i++) f = trExpf(-8.0f + 1e-7f * i + 1e-30f * f);
            long t3 = System.nanoTime();
            for (int i = 0; i < n; i++) f = (float) Math.exp(-8.0f + 1e-7f * i + 1e-30f * f);
            long t4 = System.nanoTime();
            if (round == 1) {
                System.out.printf("java exp ours %.2f%njava exp own %.2f%n", (t1 - t0) / (double) n, (t2 - t1) / (double) n);
                System.out.printf("java expf ours %.2f%njava expf own ((float) Math.exp) %.2f%n", (t3 - t2) / (double) n, (t4 - t3) / (double) n);
            }
        }
        if (s == 0.5 && f == 0.5f) System.out.println();
    }
}
"""


def timing(work: str) -> None:
    with open(os.path.join(work, "libm.h"), "w") as fh:
        fh.write(libm_source("c"))
    with open(os.path.join(work, "time.c"), "w") as fh:
        fh.write(C_TIME)
    for flags in (["-O2"], ["-O2", "-march=native"]):   # fma() a call to libm, or one instruction
        print("gcc " + " ".join(flags), flush=True)
        subprocess.run(["gcc", *flags, "-I", work, os.path.join(work, "time.c"), "-o",
                        os.path.join(work, "ctime"), "-lm"], check=True)
        subprocess.run([os.path.join(work, "ctime")], check=True)
    go = os.path.join(work, "go")
    os.makedirs(go)
    with open(os.path.join(go, "main.go"), "w") as fh:
        fh.write(GO_TIME.replace("LIBM\n", libm_source("go"), 1))
    with open(os.path.join(go, "go.mod"), "w") as fh:
        fh.write("module t\n\ngo 1.21\n")
    subprocess.run(["go", "build", "-o", "t", "."], cwd=go, check=True)
    subprocess.run([os.path.join(go, "t")], check=True)
    with open(os.path.join(work, "Time.java"), "w") as fh:
        fh.write(JAVA_TIME.replace("LIBM\n", libm_source("java"), 1))
    subprocess.run(["javac", "-d", work, os.path.join(work, "Time.java")], check=True)
    subprocess.run(["java", "-cp", work, "Time"], check=True)


def proof(work: str, n: int, seed: int) -> None:
    with open(os.path.join(work, "libm.h"), "w") as fh:
        fh.write(libm_source("c"))
    exe = os.path.join(work, "proof")
    subprocess.run(["gcc", "-O2", "-march=native", "-I", work, os.path.join(PROOF, "proof.c"),
                    os.path.join(PROOF, "ref.c"), "-o", exe, "-lm"], check=True)
    subprocess.run([exe, "exp", str(n), str(seed)], check=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--proof", type=int, metavar="N", help="run the exp proof on N doubles")
    ap.add_argument("--seed", type=int, default=20261206)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        if args.proof:
            proof(work, args.proof, args.seed)
        else:
            timing(work)


if __name__ == "__main__":
    main()
