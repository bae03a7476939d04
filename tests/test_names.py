"""Any name the user gives either works (builds, and scores as the model does) or is refused
with exit status 2 and one line saying why, in every language.

The names tried: the ones issue 17 lists, plus every identifier found in the code generated
under default names for a few models (helpers, locals, imported packages, API names), taken
from the rendered files themselves, so a helper added to a template is tried too. A name
is tried with the model whose generated code holds it.
"""
from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression

import transpiler
import transpiler.emit
from support import assert_close, require_toolchain
from transpiler.errors import BuildError, TranspilerError
from transpiler.verify.harness import Case, run_cases
from transpiler.verify.rows import fixture_rows

LISTED = ("score", "Score", "post", "narrow", "addLeaf", "Model", "model", "main")
OPTIONS = {"go": ("function", "package"), "java": ("function", "package", "class_name"),
           "c": ("function",)}
# identifiers outside comments and string literals (C's and Java's lexical rules agree with
# Go's on what matters here: //, /* */, "..." and '...')
TOKEN = re.compile(r"""//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'
                       |\.?[0-9](?:[eEpP][+-]|[\w.])*|(?P<id>[A-Za-z_]\w*)""", re.S | re.X)

# Cases that fail today, left to the C and Java work of issue 17: (lang, option, name).
KNOWN_BROKEN: set = set()

rng = np.random.default_rng(17)
X = rng.normal(size=(300, 5))
Y = X[:, 0] * 2 + np.where(X[:, 1] > 0.3, 1.5, -0.5)


def models():
    deep = RandomForestRegressor(n_estimators=4, max_depth=8, random_state=0).fit(X, Y)
    boost = GradientBoostingClassifier(n_estimators=4, max_depth=3, random_state=0).fit(X, Y > 0)
    linear = LogisticRegression().fit(X, Y > 0)
    # trees as code, heap tables, a linear model with a link function (preorder tables add
    # a few walkers, at the cost of a build per name: test_go_selftest covers them)
    return [(deep, "code"), (boost, "table"), (linear, "auto")]


def identifiers(files: dict) -> set:
    return {m.group("id") for text in files.values() if isinstance(text, str)
            for m in TOKEN.finditer(text) if m.group("id")}


class Plan:
    """Per language: every (option, name) with the model it is tried on, built in one go."""

    def __init__(self):
        self.irs = [(transpiler.to_ir(m), layout) for m, layout in models()]
        self.names, self.results = {}, {}

    def names_for(self, lang):
        if lang not in self.names:
            found = [identifiers(transpiler.emit.emit(irm, lang, layout=layout))
                     for irm, layout in self.irs]
            pick = {}
            for name in sorted(set(LISTED).union(*found)):
                pick[name] = next((i for i, ids in enumerate(found) if name in ids), 0)
            self.names[lang] = pick
        return self.names[lang]

    def result(self, lang, option, name):
        if lang not in self.results:
            self.results[lang] = self.run(lang)
        return self.results[lang][(option, name)]

    def run(self, lang):
        results, cases, want = {}, [], {}
        for option in OPTIONS[lang]:
            for name, m in self.names_for(lang).items():
                irm, layout = self.irs[m]
                opts = {option: name}
                if lang == "java" and option != "package":
                    opts["package"] = f"n{len(cases)}"         # its own package per case
                try:
                    files = transpiler.emit.emit(irm, lang, layout=layout, **opts)
                except TranspilerError as exc:
                    results[(option, name)] = ("refused", exc)
                    continue
                rows = fixture_rows(irm, X[:8])
                key = f"k{len(cases)}"
                cases.append((option, name, Case(key, files, irm.n_features, irm.n_outputs,
                                                  rows, opts)))
                want[key] = transpiler.ir.evaluate(irm, rows)
        require_toolchain(lang)
        known = [c for c in cases if (lang, c[0], c[1]) in KNOWN_BROKEN]
        self.build(lang, [c for c in cases if c not in known], want, results)
        for c in known:
            self.build(lang, [c], want, results)
        return results

    def build(self, lang, cases, want, results):
        for group in link_groups(lang, cases):
            self.build_group(lang, group, want, results)

    def build_group(self, lang, group, want, results):
        """Build the cases together; when that fails, the cases whose files the compiler's
        message names are broken and the rest is built again (or halved)."""
        while group:
            try:
                # built and vetted with their self-tests, which run elsewhere; C as C and as
                # C++ (the other configurations differ in flags, which do not touch names)
                got = run_cases(lang, [c[2] for c in group], selftest=False,
                                c_builds=("gcc", "g++"))
            except BuildError as exc:
                if len(group) == 1:
                    results[group[0][:2]] = ("broken", exc)
                    return
                named = set(re.findall(r"\b(k\d+)[/\\]", str(exc)))
                culprits = [c for c in group if c[2].name in named]
                if culprits and len(culprits) < len(group):
                    for c in culprits:
                        results[c[:2]] = ("broken", exc)
                    group = [c for c in group if c[2].name not in named]
                    continue
                half = len(group) // 2
                self.build_group(lang, group[:half], want, results)
                self.build_group(lang, group[half:], want, results)
                return
            for option, name, case in group:
                results[(option, name)] = ("built", got[case.name], want[case.name])
            return


def link_groups(lang, cases):
    """C symbols are global: a group never holds two functions where one name starts the
    other (score and score_batch), since each exports name_batch, name_checked, ..."""
    if lang != "c":
        return [cases] if cases else []
    groups = []
    for case in sorted(cases, key=lambda c: c[1]):
        for g in groups:
            if not any(case[1].startswith(o[1]) or o[1].startswith(case[1]) for o in g):
                g.append(case)
                break
        else:
            groups.append([case])
    return groups


PLAN = Plan()


def params():
    out = []
    for lang, options in OPTIONS.items():
        for option in options:
            for name in PLAN.names_for(lang):
                marks = [pytest.mark.xfail(strict=True, reason="issue 17, left to the "
                                           f"{lang} work")] \
                    if (lang, option, name) in KNOWN_BROKEN else []
                out.append(pytest.param(lang, option, name, marks=marks,
                                        id=f"{lang}-{option}-{name}"))
    return out


@pytest.mark.parametrize("lang,option,name", params())
def test_name_builds_and_scores_or_is_refused(lang, option, name):
    result = PLAN.result(lang, option, name)
    if result[0] == "refused":
        exc = result[1]
        assert exc.exit_code == 2 and str(exc) and "\n" not in str(exc), str(exc)
        return
    assert result[0] == "built", f"{lang} {option}={name!r} does not build: {result[1]}"
    _, got, want = result
    assert_close(got, want, 0.0, f"{lang} {option}={name}")


def test_go_names_that_cannot_work_are_refused_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from transpiler.cli import app

    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(models()[0][0]))
    for args, words in [(["--function", "init"], "initializers"),
                        (["--function", "len"], "predeclared"),
                        (["--function", "NFeatures"], "API"),
                        (["--package", "main"], "program, not a library"),
                        (["--package", "_"], "blank identifier")]:
        r = CliRunner().invoke(app, [str(path), "--lang", "go", *args,
                                     "-o", str(tmp_path / "out")])
        lines = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
        assert r.exit_code == 2 and len(lines) == 1 and words in lines[0], r.output
        assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("lang,args", [
    ("go", ["--package", "churn", "--function", "score"]),
    ("c", ["--function", "churn_score"]),
    ("java", ["--package", "com.acme", "--class", "Churn", "--function", "predict"]),
])
def test_verify_builds_what_it_writes(lang, args, tmp_path, monkeypatch):
    """--verify -o under user names: the build holds exactly the files -o writes."""
    from typer.testing import CliRunner

    from transpiler.cli import app
    from transpiler.verify import harness

    require_toolchain(lang)
    built = []
    real = harness.run_cases
    monkeypatch.setattr(harness, "run_cases",
                        lambda lang_, cases, *a, **k: built.extend(cases) or real(lang_, cases, *a, **k))
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps(models()[0][0]))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, [str(path), "--lang", lang, "--verify", *args, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert len(built) == 1
    written = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*")
               if p.is_file() and p.name != ".transpiler-files"}
    as_bytes = {k: v if isinstance(v, bytes) else v.encode() for k, v in built[0].files.items()}
    assert written == as_bytes
    assert built[0].names == {"package": None, "function": None, "class_name": None,
                              **{("class_name" if a == "--class" else a[2:]): v
                                 for a, v in zip(args[::2], args[1::2])}}
