"""Every plain generated package says what it is: class labels, feature names, the model's hash,
its source and library version, the tool's version. Names and labels come from the model file
and are hostile: built and read back in each language, they must come out byte for byte."""
import os
import subprocess

import numpy as np
import pandas as pd
import pytest
from sklearn import tree

import transpiler
from transpiler.emit.modelfile import model_hash
from transpiler.outdir import write_files
from transpiler.verify.harness import STRICT_C, STRICT_JAVA

from support import require_toolchain

HOSTILE = ['q"uote', "back\\slash", "new\nline", "*/ /* //", "??=trigraph", "ünï 𝔘 \u2028",
           "%s %d {{ }}", "\\u000a"]

C_DRIVER = r"""#include <stdio.h>
#include "model.h"
static void hex(const char *s) { for (; *s; s++) printf("%02x", (unsigned char)*s); printf("\n"); }
int main(void) {
    const char *const *p;
    hex(SCORE_MODEL_HASH); hex(SCORE_MODEL_SOURCE); hex(SCORE_SOURCE_VERSION); hex(SCORE_GENERATOR);
    printf("%d\n", SCORE_N_CLASSES);
    for (p = score_class_labels; *p; p++) hex(*p);
    printf("--\n");
    for (p = score_feature_names; *p; p++) hex(*p);
    return 0;
}
"""

GO_DRIVER = """package main

import (
	"fmt"

	"about/model"
)

func main() {
	for _, s := range []string{model.ModelHash, model.ModelSource, model.SourceVersion, model.Generator} {
		fmt.Printf("%x\\n", s)
	}
	fmt.Println(len(model.ClassLabels()))
	for _, s := range model.ClassLabels() {
		fmt.Printf("%x\\n", s)
	}
	fmt.Println("--")
	for _, s := range model.FeatureNames() {
		fmt.Printf("%x\\n", s)
	}
}
"""

JAVA_DRIVER = """public final class Main {
    static void hex(String s) {
        StringBuilder b = new StringBuilder();
        for (byte c : s.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            b.append(String.format("%02x", c & 0xff));
        }
        System.out.println(b);
    }

    public static void main(String[] args) {
        for (String s : new String[] {Model.MODEL_HASH, Model.MODEL_SOURCE, Model.SOURCE_VERSION, Model.GENERATOR}) {
            hex(s);
        }
        System.out.println(Model.CLASS_LABELS.size());
        Model.CLASS_LABELS.forEach(Main::hex);
        System.out.println("--");
        Model.FEATURE_NAMES.forEach(Main::hex);
    }
}
"""


def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{cmd}: {r.stderr or r.stdout}"
    return r.stdout


def build_and_read(lang, files, workdir):
    """Build the generated files with a driver that prints what they say, hex-encoded."""
    if lang == "c":
        write_files(workdir, {**files, "main.c": C_DRIVER})
        sources = sorted(f for f in os.listdir(workdir) if f.endswith(".c"))
        run(["gcc", *STRICT_C, "-o", "about", *sources, "-lm"], workdir)
        return run(["./about"], workdir)
    if lang == "go":
        write_files(os.path.join(workdir, "model"), files)
        write_files(workdir, {"go.mod": "module about\n\ngo 1.21\n", "main.go": GO_DRIVER})
        assert run(["gofmt", "-l", "."], workdir) == ""
        run(["go", "vet", "./..."], workdir)
        return run(["go", "run", "."], workdir)
    write_files(workdir, {**files, "Main.java": JAVA_DRIVER})
    run(["javac", *STRICT_JAVA, "-d", "classes", "Model.java", "Main.java"], workdir)
    return run(["java", "-cp", "classes", "Main"], workdir)


def expected(values):
    return [v.encode("utf-8").hex() for v in values]


@pytest.fixture(scope="module")
def hostile_model():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, len(HOSTILE))), columns=HOSTILE)
    y = np.array(HOSTILE[:3])[rng.integers(0, 3, size=60)]
    return tree.DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)


@pytest.mark.parametrize("lang", ["c", "go", "java"])
def test_package_says_what_it_is(lang, hostile_model, tmp_path):
    require_toolchain(lang)
    files = transpiler.transpile(hostile_model, lang, selftest=False)
    lines = build_and_read(lang, files, str(tmp_path)).splitlines()
    irm = transpiler.to_ir(hostile_model)
    labels = [str(c) for c in hostile_model.classes_]
    want = expected([model_hash(irm), "sklearn.DecisionTreeClassifier",
                     irm.source_version, f"transpiler {transpiler.__version__}"])
    want += [str(len(labels))] + expected(labels) + ["--"] + expected(HOSTILE)
    assert lines == want


def test_regressor_without_names_says_so(tmp_path):
    require_toolchain("c")
    X = np.arange(20.0).reshape(10, 2)
    model = tree.DecisionTreeRegressor(max_depth=2).fit(X, X[:, 0])
    lines = build_and_read("c", transpiler.transpile(model, "c", selftest=False), str(tmp_path)).splitlines()
    assert lines[4:] == ["0", "--"]        # no classes, no feature names: both lists just NULL
    # the hash follows what the model computes: another fit, another hash
    other = tree.DecisionTreeRegressor(max_depth=2).fit(X, X[:, 1] * 2)
    assert model_hash(transpiler.to_ir(model)) != model_hash(transpiler.to_ir(other))
