"""Build generated code with the real toolchains and run it on rows, many models per build.

One build per language serves any number of cases: Go gets one module with a package per
case, C one binary with a scoring function per case, Java one javac call with a package per
case. Rows go in and outputs come back as raw little-endian float64, so nothing is lost in
decimal text.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import BuildError
from ..outdir import write_files

TOOLCHAINS = {
    "go": (("go", "gofmt"), "install Go from https://go.dev/dl/ (or `apt-get install golang`)"),
    "c": (("gcc",), "install a C compiler (`apt-get install gcc`)"),
    "java": (("javac", "java"), "install a JDK 11+ (`apt-get install default-jdk`)"),
}
STRICT_C = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2"]
STRICT_JAVA = ["-Xlint:all", "-Werror"]
TIMEOUT = 900


@dataclass
class Case:
    """One model's generated files for one language, and the rows to score."""

    name: str            # an identifier: package (Go, Java) and function suffix (C)
    files: dict          # relative path -> text or bytes, as transpile returned them
    n_features: int
    n_outputs: int
    rows: np.ndarray


def names_for(lang: str, name: str) -> dict:
    """transpile() options that give each case its own symbols in a shared build."""
    if lang == "c":
        return {"function": f"score_{name}"}
    return {"package": name}


def missing_toolchain(lang: str) -> str | None:
    """None when the toolchain for `lang` is installed, else what to install."""
    tools, hint = TOOLCHAINS[lang]
    absent = [t for t in tools if shutil.which(t) is None]
    return f"{', '.join(absent)} not found: {hint}" if absent else None


def run_cases(lang: str, cases: list[Case], workdir: str | None = None,
              entry: str = "single") -> dict:
    """Build every case for `lang` at once, run each on its rows: {name: (n_rows, n_out)}.

    `entry` is "single" (Score per row) or "batch" (ScoreBatch over all rows at once).
    """
    problem = missing_toolchain(lang)
    if problem:
        raise BuildError(problem)
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix=f"transpiler-{lang}-")
    try:
        runner = {"go": _build_go, "c": _build_c, "java": _build_java}[lang]
        command = runner(cases, workdir)
        args = [entry]
        for i, case in enumerate(cases):
            rows = np.ascontiguousarray(case.rows, dtype="<f8")
            inp = os.path.join(workdir, f"in{i}.bin")
            rows.tofile(inp)
            args += [str(i), inp, os.path.join(workdir, f"out{i}.bin"), str(len(rows))]
        _run(command + args, workdir, "running the generated code")
        return {case.name: np.fromfile(os.path.join(workdir, f"out{i}.bin"), dtype="<f8")
                .reshape(len(case.rows), case.n_outputs) for i, case in enumerate(cases)}
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(cmd, cwd, what) -> str:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{what} took longer than {TIMEOUT} s: {' '.join(cmd[:3])}") from exc
    if r.returncode != 0:
        msg = (r.stderr or r.stdout).strip()
        raise BuildError(f"{what} failed ({' '.join(cmd[:2])}): {msg[-3000:]}")
    return r.stdout


# --- Go -----------------------------------------------------------------------------------

GO_DRIVER = """package main

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"

%(imports)s
)

type scorer struct {
	score            func([]float64) []float64
	batch            func([]float64, []float64)
	nFeatures, nOuts int
}

var scorers = []scorer{
%(table)s
}

func main() {
	batch := os.Args[1] == "batch"
	args := os.Args[2:]
	for i := 0; i+3 < len(args); i += 4 {
		idx, _ := strconv.Atoi(args[i])
		n, _ := strconv.Atoi(args[i+3])
		s := scorers[idx]
		data, err := os.ReadFile(args[i+1])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 0, n*s.nOuts*8)
		row := make([]float64, s.nFeatures)
		if batch {
			rows := make([]float64, n*s.nFeatures)
			for j := range rows {
				rows[j] = math.Float64frombits(binary.LittleEndian.Uint64(data[j*8:]))
			}
			res := make([]float64, n*s.nOuts)
			s.batch(rows, res)
			for _, v := range res {
				out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
			}
			n = 0
		}
		for r := 0; r < n; r++ {
			for j := range row {
				row[j] = math.Float64frombits(binary.LittleEndian.Uint64(data[(r*s.nFeatures+j)*8:]))
			}
			res := s.score(row)
			if len(res) != s.nOuts {
				fmt.Fprintf(os.Stderr, "case %%d returned %%d values, want %%d\\n", idx, len(res), s.nOuts)
				os.Exit(3)
			}
			for _, v := range res {
				out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
			}
		}
		if err := os.WriteFile(args[i+2], out, 0o644); err != nil {
			panic(err)
		}
	}
}
"""


def _build_go(cases, workdir):
    for case in cases:
        write_files(os.path.join(workdir, case.name), case.files)
    with open(os.path.join(workdir, "go.mod"), "w") as fh:
        fh.write("module cases\n\ngo 1.21\n")
    imports = "\n".join(f'\t{c.name} "cases/{c.name}"' for c in cases)
    table = "\n".join(f"\t{{{c.name}.Score, {c.name}.ScoreBatch, {c.n_features}, {c.n_outputs}}},"
                      for c in cases)
    os.makedirs(os.path.join(workdir, "driver"), exist_ok=True)
    with open(os.path.join(workdir, "driver", "main.go"), "w") as fh:
        fh.write(GO_DRIVER % {"imports": imports, "table": table})
    unformatted = _run(["gofmt", "-l"] + [c.name for c in cases], workdir, "gofmt").strip()
    if unformatted:
        raise BuildError(f"gofmt would reformat: {unformatted}")
    _run(["go", "vet", "./..."], workdir, "go vet")
    _run(["go", "build", "-o", "drv", "./driver"], workdir, "go build")
    return [os.path.join(workdir, "drv")]


# --- C ------------------------------------------------------------------------------------

C_DRIVER = """#include <stdio.h>
#include <stdlib.h>

typedef void (*scorer)(const double *, double *);
typedef void (*batcher)(const double *, size_t, double *);
%(decls)s
static const scorer scorers[] = {%(table)s};
static const batcher batchers[] = {%(batch)s};
static const int n_features[] = {%(nf)s};
static const int n_outputs[] = {%(no)s};

int main(int argc, char **argv) {
    int batch = argv[1][0] == 'b';
    for (int i = 2; i + 3 < argc; i += 4) {
        int idx = atoi(argv[i]);
        long n = atol(argv[i + 3]);
        int nf = n_features[idx], no = n_outputs[idx];
        double *in = malloc(sizeof(double) * (size_t)(n * nf + 1));
        double *out = malloc(sizeof(double) * (size_t)(n * no + 1));
        FILE *f = fopen(argv[i + 1], "rb");
        if (!f || fread(in, sizeof(double), (size_t)(n * nf), f) != (size_t)(n * nf)) return 2;
        fclose(f);
        if (batch) batchers[idx](in, (size_t)n, out);
        else for (long r = 0; r < n; r++) scorers[idx](in + r * nf, out + r * no);
        f = fopen(argv[i + 2], "wb");
        if (!f || fwrite(out, sizeof(double), (size_t)(n * no), f) != (size_t)(n * no)) return 2;
        fclose(f);
        free(in);
        free(out);
    }
    return 0;
}
"""


def _build_c(cases, workdir):
    objects, jobs = [], []
    for case in cases:
        d = os.path.join(workdir, case.name)
        write_files(d, case.files)
        for src in sorted(f for f in case.files if f.endswith(".c")):
            obj = os.path.join(d, src[:-2] + ".o")
            objects.append(obj)
            jobs.append(["gcc", *STRICT_C, "-I", d, "-c", os.path.join(d, src), "-o", obj])
    decls = "\n".join(f"void score_{c.name}(const double *, double *);\n"
                      f"void score_{c.name}_batch(const double *, size_t, double *);" for c in cases)
    driver = os.path.join(workdir, "driver.c")
    with open(driver, "w") as fh:
        fh.write(C_DRIVER % {"decls": decls, "table": ", ".join(f"score_{c.name}" for c in cases),
                             "batch": ", ".join(f"score_{c.name}_batch" for c in cases),
                             "nf": ", ".join(str(c.n_features) for c in cases),
                             "no": ", ".join(str(c.n_outputs) for c in cases)})
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda cmd: _run(cmd, workdir, "gcc"), jobs))
    exe = os.path.join(workdir, "drv")
    _run(["gcc", *STRICT_C, driver, *objects, "-lm", "-o", exe], workdir, "gcc (link)")
    return [exe]


# --- Java ---------------------------------------------------------------------------------

JAVA_DRIVER = """import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Paths;

public final class Driver {
    private static final int[] OUTPUTS = {%(outputs)s};

    private Driver() {
    }

    private static int outputs(int idx) {
        return OUTPUTS[idx];
    }

    private static double[] score(int idx, double[] row) {
        switch (idx) {
%(cases)s
            default:
                throw new IllegalArgumentException("no case " + idx);
        }
    }

    private static void batch(int idx, double[] rows, int n, double[] out) {
        switch (idx) {
%(batches)s
            default:
                throw new IllegalArgumentException("no case " + idx);
        }
    }

    public static void main(String[] args) throws IOException {
        boolean batch = args[0].equals("batch");
        for (int i = 1; i + 3 < args.length; i += 4) {
            int idx = Integer.parseInt(args[i]);
            int n = Integer.parseInt(args[i + 3]);
            ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(Paths.get(args[i + 1])))
                .order(ByteOrder.LITTLE_ENDIAN);
            int nf = in.capacity() / 8 / Math.max(n, 1);
            ByteBuffer out = null;
            if (batch) {
                double[] rows = new double[n * nf];
                in.asDoubleBuffer().get(rows);
                double[] res = new double[n * outputs(idx)];
                batch(idx, rows, n, res);
                out = ByteBuffer.allocate(8 * res.length).order(ByteOrder.LITTLE_ENDIAN);
                for (double v : res) {
                    out.putDouble(v);
                }
                n = 0;
            }
            for (int r = 0; r < n; r++) {
                double[] row = new double[nf];
                for (int j = 0; j < nf; j++) {
                    row[j] = in.getDouble();
                }
                double[] res = score(idx, row);
                if (out == null) {
                    out = ByteBuffer.allocate(8 * res.length * n).order(ByteOrder.LITTLE_ENDIAN);
                }
                for (double v : res) {
                    out.putDouble(v);
                }
            }
            Files.write(Paths.get(args[i + 2]), out == null ? new byte[0] : out.array());
        }
    }
}
"""


def _build_java(cases, workdir):
    sources = []
    for case in cases:
        d = os.path.join(workdir, "src", case.name)
        write_files(d, case.files)
        sources += [os.path.join(d, f) for f in case.files if f.endswith(".java")]
    body = "\n".join(f"            case {i}:\n                return {c.name}.Model.score(row);"
                     for i, c in enumerate(cases))
    batches = "\n".join(f"            case {i}:\n                {c.name}.Model.scoreBatch(rows, n, out);\n"
                        "                return;" for i, c in enumerate(cases))
    outputs = ", ".join(str(c.n_outputs) for c in cases)
    driver = os.path.join(workdir, "src", "Driver.java")
    with open(driver, "w") as fh:
        fh.write(JAVA_DRIVER % {"cases": body, "batches": batches, "outputs": outputs})
    classes = os.path.join(workdir, "classes")
    argfile = os.path.join(workdir, "sources.txt")
    with open(argfile, "w") as fh:
        fh.write("\n".join([driver, *sources]))
    _run(["javac", *STRICT_JAVA, "-d", classes, f"@{argfile}"], workdir, "javac")
    for case in cases:  # resources (e.g. model tables) go beside their class
        for rel, content in case.files.items():
            if not rel.endswith(".java"):
                write_files(os.path.join(classes, case.name), {rel: content})
    return ["java", "-Xss16m", "-cp", classes, "Driver"]
