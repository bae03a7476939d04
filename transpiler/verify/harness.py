"""Build generated code with the real toolchains and run it on rows, many models per build.

One build per language serves any number of cases: Go gets one module with a package per
case, C one binary with a scoring function per case, Java one javac call with a package per
case. Rows go in and outputs come back as raw little-endian float64, so nothing is lost in
decimal text.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..emit.java import JIT_METHOD_LIMIT  # HotSpot compiles no larger method
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

    name: str            # an identifier: the case's directory, and its names by default
    files: dict          # relative path -> text or bytes, as transpile returned them
    n_features: int
    n_outputs: int
    rows: np.ndarray
    names: dict | None = None    # the package/function/class_name options the files were
                                 # generated with; None: names_for(lang, name)


def names_for(lang: str, name: str) -> dict:
    """transpile() options that give each case its own symbols in a shared build."""
    if lang == "c":
        return {"function": f"score_{name}"}
    return {"package": name}


def case_names(lang: str, case: Case):
    """The package, function and class names the case's code was generated with."""
    from ..emit import TARGETS

    given = names_for(lang, case.name) if case.names is None else case.names
    return TARGETS[lang].names(given.get("package"), given.get("function"),
                               given.get("class_name"))


def missing_toolchain(lang: str) -> str | None:
    """None when the toolchain for `lang` is installed, else what to install."""
    tools, hint = TOOLCHAINS[lang]
    absent = [t for t in tools if shutil.which(t) is None]
    return f"{', '.join(absent)} not found: {hint}" if absent else None


def run_cases(lang: str, cases: list[Case], workdir: str | None = None,
              entry: str = "single", selftest: bool = True, c_builds: tuple[str, ...] | None = None) -> dict:
    """Build every case for `lang` at once, run each on its rows: {name: (n_rows, n_out)}.

    `entry` is "single" (Score per row) or "batch" (ScoreBatch over all rows at once).
    `selftest`: also run the self-tests of the generated files (Go: go test); they are
    compiled and vetted either way. `c_builds`: the labels of the C_CONFIGS that C is built
    under (verify: the strict gcc build alone), by default all of them (the tests).
    """
    problem = missing_toolchain(lang)
    if problem:
        raise BuildError(problem)
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix=f"transpiler-{lang}-")
    try:
        runner = {"go": _build_go, "c": _build_c, "java": _build_java}[lang]
        if lang == "c":
            built = runner(cases, workdir, selftest, c_configs(c_builds))
        else:
            built = runner(cases, workdir, selftest) if lang == "go" else runner(cases, workdir)
        commands = built if lang == "c" else [built + [""]]    # C: one per configuration
        for i, case in enumerate(cases):
            np.ascontiguousarray(case.rows, dtype="<f8").tofile(os.path.join(workdir, f"in{i}.bin"))
        results = []
        for *command, label in commands:
            args = [entry]
            for i, case in enumerate(cases):
                args += [str(i), os.path.join(workdir, f"in{i}.bin"),
                         os.path.join(workdir, f"out{i}{label}.bin"), str(len(case.rows))]
            _run(command + args, workdir, f"running the generated code {label}".strip())
            results.append({case.name: np.fromfile(os.path.join(workdir, f"out{i}{label}.bin"), dtype="<f8")
                            .reshape(len(case.rows), case.n_outputs) for i, case in enumerate(cases)})
        for (*_, label), other in zip(commands[1:], results[1:]):
            for name, out in other.items():
                _same_outputs(results[0][name], out, label, commands[0][-1], name)
        return results[0]
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


def _build_go(cases, workdir, selftest=True):
    imports, table = [], []
    for i, case in enumerate(cases):
        d = os.path.join(workdir, case.name)
        write_files(d, case.files)
        names = case_names("go", case)
        score, batch = names.function, names.function + "Batch"
        if not score[0].isupper():    # unexported: the driver reaches it through exported aliases
            score, batch = _go_exports(d, names, case.files)
        imports.append(f'\tm{i} "cases/{case.name}"')
        table.append(f"\t{{m{i}.{score}, m{i}.{batch}, {case.n_features}, {case.n_outputs}}},")
    with open(os.path.join(workdir, "go.mod"), "w") as fh:
        fh.write("module cases\n\ngo 1.21\n")
    os.makedirs(os.path.join(workdir, "driver"), exist_ok=True)
    with open(os.path.join(workdir, "driver", "main.go"), "w") as fh:
        fh.write(GO_DRIVER % {"imports": "\n".join(imports), "table": "\n".join(table)})
    unformatted = _run(["gofmt", "-l"] + [c.name for c in cases], workdir, "gofmt").strip()
    if unformatted:
        raise BuildError(f"gofmt would reformat: {unformatted}")
    _run(["go", "vet", "./..."], workdir, "go vet")
    _run(["go", "build", "-o", "drv", "./driver"], workdir, "go build")
    # every case package's own self-test (model_test.go), as a user's plain `go test` runs it
    if selftest:
        _run(["go", "test", "-count=1", "-vet=off", "./..."], workdir,
             "go test (the generated self-tests)")
    return [os.path.join(workdir, "drv")]


def _go_exports(directory, names, files):
    """Exported aliases of an unexported scoring function, in a file beside the case's own."""
    from ..emit.go_names import identifiers

    taken = set().union(*(identifiers(t) for t in files.values() if isinstance(t, str)))
    score = next(n for n in (f"HarnessScore{k or ''}" for k in range(len(taken) + 1))
                 if n not in taken and n + "Batch" not in taken)
    with open(os.path.join(directory, "zz_harness.go"), "w") as fh:
        fh.write(f"package {names.package}\n\n// Exported for the test driver.\n"
                 f"var {score} = {names.function}\n\n"
                 f"var {score}Batch = {names.function}Batch\n")
    return score, score + "Batch"


# --- C ------------------------------------------------------------------------------------

# By default, every C case is built and run under each configuration whose compiler is
# installed (gcc is required; tests/support.py require_toolchain wants them all in CI): the strict build, the
# usual "unsafe" flags of gcc and clang, and the .c files as C++17. Their outputs must agree
# bit for bit, and each configuration runs the self-tests of the generated files.
C_WARN = ["-Wall", "-Wextra", "-Werror"]
C_CONFIGS = (
    ("gcc", "gcc", STRICT_C),
    ("gcc-Ofast", "gcc", ["-std=c99", *C_WARN, "-Ofast", "-march=native", "-ffp-contract=fast"]),
    ("clang-fast-math", "clang", ["-std=c99", *C_WARN, "-O3", "-ffast-math", "-march=native"]),
    # C++ at -O0: these prove the files compile and score as C++; optimising them too would
    # double the configurations' cost.
    ("g++", "g++", ["-x", "c++", "-std=c++17", *C_WARN, "-O0"]),
    ("clang++", "clang++", ["-x", "c++", "-std=c++17", *C_WARN, "-O0"]),
)


def c_configs(labels: tuple[str, ...] | None = None) -> list:
    """The configurations of C_CONFIGS named by `labels` (default: all) whose compiler is
    installed (the strict gcc one always is)."""
    return [c for c in C_CONFIGS if (labels is None or c[0] in labels)
            and (c is C_CONFIGS[0] or shutil.which(c[1]))]


C_DRIVER = """#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif
typedef void (*tp_scorer)(const double *, double *);
typedef void (*tp_batcher)(const double *, size_t, double *);
%(decls)s
#ifdef __cplusplus
}
#endif
%(selftest_decls)s
static const tp_scorer tp_scorers[] = {%(table)s};
static const tp_batcher tp_batchers[] = {%(batch)s};
static int (*const tp_selftests[])(void) = {%(selftests)s};
static const int tp_n_features[] = {%(nf)s};
static const int tp_n_outputs[] = {%(no)s};

int main(int argc, char **argv) {
    if (strcmp(argv[1], "selftest") == 0) { /* the self-tests' own mains */
        int failed = 0;
        for (size_t i = 0; i < sizeof tp_selftests / sizeof tp_selftests[0]; i++) {
            failed |= tp_selftests[i] != NULL && tp_selftests[i]() != 0;
        }
        return failed;
    }
    int batch = argv[1][0] == 'b';
    for (int i = 2; i + 3 < argc; i += 4) {
        int idx = atoi(argv[i]);
        long n = atol(argv[i + 3]);
        int nf = tp_n_features[idx], no = tp_n_outputs[idx];
        double *in = (double *)malloc(sizeof(double) * (size_t)(n * nf + 1));
        double *out = (double *)malloc(sizeof(double) * (size_t)(n * no + 1));
        FILE *f = fopen(argv[i + 1], "rb");
        if (!f || fread(in, sizeof(double), (size_t)(n * nf), f) != (size_t)(n * nf)) return 2;
        fclose(f);
        if (batch) tp_batchers[idx](in, (size_t)n, out);
        else for (long r = 0; r < n; r++) tp_scorers[idx](in + r * nf, out + r * no);
        f = fopen(argv[i + 2], "wb");
        if (!f || fwrite(out, sizeof(double), (size_t)(n * no), f) != (size_t)(n * no)) return 2;
        fclose(f);
        free(in);
        free(out);
    }
    return 0;
}
"""
SELFTEST_C = "selftest/model_selftest.c"


def _build_c(cases, workdir, selftest, configs):
    """One driver per configuration (drv-<config>); returns their commands, the first's first."""
    selftests = [i for i, c in enumerate(cases) if SELFTEST_C in c.files]
    for case in cases:
        write_files(os.path.join(workdir, case.name), case.files)
    fns = [case_names("c", c).function for c in cases]
    decls = "\n".join(f"void {f}(const double *, double *);\n"
                      f"void {f}_batch(const double *, size_t, double *);" for f in fns)
    driver = os.path.join(workdir, "driver.c")
    with open(driver, "w") as fh:
        fh.write(C_DRIVER % {
            "decls": decls, "table": ", ".join(fns), "batch": ", ".join(f"{f}_batch" for f in fns),
            "selftest_decls": "".join(f"int tp_selftest_main_{i}(void);\n" for i in selftests),
            "selftests": ", ".join(f"tp_selftest_main_{i}" for i in selftests) or "NULL",
            "nf": ", ".join(str(c.n_features) for c in cases),
            "no": ", ".join(str(c.n_outputs) for c in cases)})
    jobs, links = [], []
    for label, cc, flags in configs:
        objdir = os.path.join(workdir, "obj-" + label)
        objects = []
        for i, case in enumerate(cases):
            d = os.path.join(workdir, case.name)
            # The library is every .c at the top of the output directory; the self-test's main
            # is renamed so that one driver runs every case's.
            sources = sorted(f for f in case.files if f.endswith(".c") and "/" not in f)
            extra = [[f"-Dmain=tp_selftest_main_{i}"]] if i in selftests else []
            for src, defs in [*[(f, []) for f in sources], *[(SELFTEST_C, e) for e in extra]]:
                obj = os.path.join(objdir, case.name, src.replace("/", "_")[:-2] + ".o")
                os.makedirs(os.path.dirname(obj), exist_ok=True)
                objects.append(obj)
                jobs.append(([cc, *flags, *defs, "-I", d, "-c", os.path.join(d, src), "-o", obj], label))
        exe = os.path.join(workdir, "drv-" + label)
        jobs.append(([cc, *flags, "-c", driver, "-o", os.path.join(objdir, "driver.o")], label))
        links.append(([cc, os.path.join(objdir, "driver.o"), *objects, "-lm", "-o", exe], label))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        list(pool.map(lambda job: _run(job[0], workdir, job[1]), jobs))
        list(pool.map(lambda job: _run(job[0], workdir, job[1] + " (link)"), links))
    for label, *_ in configs:
        if selftests and selftest:
            _run([os.path.join(workdir, "drv-" + label), "selftest"], workdir, f"the self-tests ({label})")
    return [[os.path.join(workdir, "drv-" + label), label] for label, *_ in configs]


def _same_outputs(first, other, label, first_label, case) -> None:
    """Raises BuildError unless two configurations' outputs are the same bits (any NaN for NaN)."""
    same = (first.view("<u8") == other.view("<u8")) | (np.isnan(first) & np.isnan(other))
    if not same.all():
        r, k = map(int, np.argwhere(~same.reshape(len(first), -1))[0])
        raise BuildError(f"{label} differs from {first_label} on case {case}: {int((~same).sum())} "
                         f"values; first row {r}, output {k}: {other.reshape(len(first), -1)[r, k]!r} "
                         f"!= {first.reshape(len(first), -1)[r, k]!r}")


# --- Java ---------------------------------------------------------------------------------

# The driver lives in its own package (no user name contains '$') and reaches each case's
# class by reflection, so no package, class or method name the user chose can clash with or
# hide a name of the driver's (a class `Math`, a package `java`).
JAVA_DRIVER = """package driver$;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Paths;

public final class Driver {
    private static final String[] CLASSES = {%(classes)s};
    private static final String[] FUNCTIONS = {%(functions)s};
    private static final int[] OUTPUTS = {%(outputs)s};
    private static final String[] SELFTESTS = {%(selftests)s};

    private Driver() {
    }

    private static Object call(Method m, Object... args) throws Exception {
        try {
            return m.invoke(null, args);
        } catch (InvocationTargetException e) {
            throw (Exception) e.getCause();
        }
    }

    public static void main(String[] args) throws Exception {
        for (String name : SELFTESTS) {     // every case's self-test, as generated beside it
            Object bad = call(Class.forName(name).getMethod("check"));
            if (bad != null) {
                System.err.println(name + " failed: " + bad);
                System.exit(1);
            }
        }
        boolean batch = args[0].equals("batch");
        for (int i = 1; i + 3 < args.length; i += 4) {
            int idx = Integer.parseInt(args[i]);
            int n = Integer.parseInt(args[i + 3]);
            Class<?> model = Class.forName(CLASSES[idx]);
            Method score = model.getMethod(FUNCTIONS[idx], double[].class);
            Method scoreBatch = model.getMethod(FUNCTIONS[idx] + "Batch", double[].class, int.class,
                double[].class);
            ByteBuffer in = ByteBuffer.wrap(Files.readAllBytes(Paths.get(args[i + 1])))
                .order(ByteOrder.LITTLE_ENDIAN);
            int nf = in.capacity() / 8 / Math.max(n, 1);
            ByteBuffer out = ByteBuffer.allocate(8 * OUTPUTS[idx] * n).order(ByteOrder.LITTLE_ENDIAN);
            if (batch) {
                double[] rows = new double[n * nf];
                in.asDoubleBuffer().get(rows);
                double[] res = new double[n * OUTPUTS[idx]];
                call(scoreBatch, rows, n, res);
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
                for (double v : (double[]) call(score, (Object) row)) {
                    out.putDouble(v);
                }
            }
            Files.write(Paths.get(args[i + 2]), out.array());
        }
    }
}
"""


# The length of the instructions that end a method body (javap -c prints their offsets);
# anything else is given the longest fixed length, 5 bytes.
LAST_INSTRUCTION = {"return": 1, "ireturn": 1, "lreturn": 1, "freturn": 1, "dreturn": 1,
                    "areturn": 1, "athrow": 1, "goto": 3, "goto_w": 5}


def java_method_sizes(class_files: list[str]) -> list[tuple[int, str, str]]:
    """(bytes of bytecode, class, method) of every method and static initializer in the
    class files, read from `javap -c -p`: a method's size is its last instruction's offset
    plus that instruction's length."""
    if not class_files:
        return []
    out = _run(["javap", "-c", "-p", *class_files], os.path.dirname(class_files[0]), "javap")
    sizes, cls, method, last = [], "", None, 0

    def close():
        if method is not None:
            sizes.append((last, cls, method))

    for line in out.splitlines():
        head = re.match(r"^\S.*\b(?:class|interface|enum|record) ([\w.$]+)", line)
        if head:
            close()
            cls, method = head.group(1), None
        elif re.match(r"^  \S.*\)(?: throws [\w.$, ]+)?;$|^  static \{\};$", line):
            close()
            method, last = line.strip(), 0
        else:
            m = re.match(r"^\s+(\d+): (\w+)", line)
            if m and method is not None:
                last = int(m.group(1)) + LAST_INSTRUCTION.get(m.group(2), 5)
    close()
    return sizes


def check_java_methods(classes: str, packages: list[str]) -> None:
    """Fails when a method generated into one of the packages ("" the unnamed one) is too
    large for the JIT (JIT_METHOD_LIMIT)."""
    files = sorted({f for p in packages
                    for f in glob.glob(os.path.join(classes, *p.split("."), "*.class"))})
    huge = [s for s in java_method_sizes(files) if s[0] > JIT_METHOD_LIMIT]
    if huge:
        size, cls, method = max(huge)
        raise BuildError(f"{len(huge)} generated Java methods are over HotSpot's {JIT_METHOD_LIMIT}-byte "
                         f"JIT limit and would run interpreted; the largest: {cls} {method}, {size} bytes")


def _build_java(cases, workdir):
    sources, classes, functions, selftests = [], [], [], []
    for case in cases:
        d = os.path.join(workdir, "src", case.name)
        write_files(d, case.files)
        sources += [os.path.join(d, f) for f in case.files if f.endswith(".java")]
        names = case_names("java", case)
        classes.append(f'"{names.package}.{names.class_name}"' if names.package
                       else f'"{names.class_name}"')
        functions.append(f'"{names.function}"')
        if f"{names.class_name}SelfTest.java" in case.files:
            selftests.append(classes[-1][:-1] + 'SelfTest"')
    outputs = ", ".join(str(c.n_outputs) for c in cases)
    driver = os.path.join(workdir, "src", "driver$", "Driver.java")
    os.makedirs(os.path.dirname(driver), exist_ok=True)
    with open(driver, "w") as fh:
        fh.write(JAVA_DRIVER % {"classes": ", ".join(classes), "functions": ", ".join(functions),
                                "outputs": outputs, "selftests": ", ".join(selftests)})
    out = os.path.join(workdir, "classes")
    argfile = os.path.join(workdir, "sources.txt")
    with open(argfile, "w") as fh:
        fh.write("\n".join([driver, *sources]))
    _run(["javac", *STRICT_JAVA, "-d", out, f"@{argfile}"], workdir, "javac")
    check_java_methods(out, [case_names("java", c).package for c in cases])
    for case in cases:  # resources (e.g. model tables) go beside their class
        package = case_names("java", case).package
        for rel, content in case.files.items():
            if not rel.endswith(".java"):
                write_files(os.path.join(out, *package.split(".")) if package else out,
                            {rel: content})
    return ["java", "-Xss16m", "-cp", out, "driver$.Driver"]
