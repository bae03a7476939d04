"""Shared test helpers: the three oracles and one build per language for many cases."""
from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

import numpy as np
import pytest

import transpiler
import transpiler.emit
from transpiler import ir
from transpiler.verify.harness import C_CONFIGS, Case, missing_toolchain, names_for, run_cases
from transpiler.verify.rows import fixture_rows, leaf_coverage

LANGS = ("go", "c", "java")


def release(module) -> tuple[int, int]:
    """(major, minor) of an installed library: tests that depend on its release ask this."""
    major, minor = module.__version__.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def accepts_nan(model) -> bool:
    """Whether the installed library's model takes NaN inputs, by scikit-learn's allow_nan tag
    (extra trees, bagging over them and IsolationForest refuse NaN before 1.6); models of other
    libraries do. Meta-estimators' tags (Pipeline, CalibratedClassifierCV) do not say: ask only
    of plain estimators. Rows with NaN are compared only where the library accepts them."""
    if not type(model).__module__.startswith("sklearn."):
        return True
    try:
        from sklearn.utils import get_tags      # scikit-learn >= 1.6
    except ImportError:
        return bool(model._get_tags()["allow_nan"])
    return bool(get_tags(model).input_tags.allow_nan)


def require_toolchain(lang: str) -> None:
    """Skip when a toolchain is missing on a developer machine; fail in CI. In CI, C also needs
    every compiler of the harness's C_CONFIGS (elsewhere the harness uses those installed)."""
    problem = missing_toolchain(lang)
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"toolchain missing in CI: {problem}")
        pytest.skip(problem)
    if lang == "c" and os.environ.get("CI"):
        for _, cc, _ in C_CONFIGS:
            require_compiler(cc)


def require_compiler(cc: str) -> None:
    """Skip when the compiler `cc` is missing on a developer machine; fail in CI."""
    if shutil.which(cc) is None:
        problem = f"{cc} not found: `apt-get install clang` (clang, clang++) or `apt-get install g++`"
        if os.environ.get("CI"):
            pytest.fail(f"compiler missing in CI: {problem}")
        pytest.skip(problem)


def reference(model, rows, method: str) -> np.ndarray:
    out = getattr(model, method)(rows)
    return np.asarray(out, dtype=np.float64).reshape(len(rows), -1)


def assert_close(got, ref, rtol=1e-12, what=""):
    """Same values to within rtol relative (NaN equal to NaN); exact zeros stay exact."""
    got, ref = np.asarray(got, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    bad = ~np.isclose(got, ref, rtol=rtol, atol=0.0, equal_nan=True)
    if bad.any():
        i = np.argwhere(bad)[0]
        raise AssertionError(f"{what}: {bad.sum()} values differ; first at {tuple(i)}: "
                             f"{got[tuple(i)]!r} != {ref[tuple(i)]!r}")


class Catalogue:
    """Cases (name, fitted model, rows, method) checked by all three oracles.

    Each language builds every case in one toolchain call, once per test session.
    """

    def __init__(self, cases, layouts=("code", "table"), rtol=0.0):
        self.cases = cases          # name -> (model, rows, method)
        self.layouts = layouts
        self.rtol = rtol
        self._ir = {}
        self._built = {}

    def ir(self, name):
        if name not in self._ir:
            model, X, method = self.cases[name]
            irm = transpiler.to_ir(model)
            rows = fixture_rows(irm, X)
            if not accepts_nan(model):
                rows = rows[~np.isnan(rows).any(axis=1)]
            self._ir[name] = (irm, rows, reference(model, rows, method))
        return self._ir[name]

    def check_ir(self, name):
        irm, rows, ref = self.ir(name)
        assert_close(ir.evaluate(irm, rows), ref, self.rtol, f"{name} IR evaluator")
        return irm, rows

    def built(self, lang):
        if lang not in self._built:
            require_toolchain(lang)
            cases = []
            for name in self.cases:
                irm, rows = self.ir(name)[:2]
                for layout in self.layouts:
                    key = f"{name}_{layout}"
                    files = transpiler.emit.emit(irm, lang, layout=layout, **names_for(lang, key))
                    cases.append(Case(key, files, irm.n_features, irm.n_outputs, rows))
            self._built[lang] = run_cases(lang, cases)
        return self._built[lang]

    def check_compiled(self, name, lang):
        _, _, ref = self.ir(name)
        out = self.built(lang)
        for layout in self.layouts:
            assert_close(out[f"{name}_{layout}"], ref, self.rtol, f"{name} {lang} {layout}")


__all__ = ["LANGS", "Catalogue", "accepts_nan", "release", "assert_close", "fixture_rows", "leaf_coverage", "reference",
           "require_compiler", "require_toolchain"]


class Lazy(Mapping):
    """{name: function returning the case}: the names at once (for parametrize at collection),
    each case fitted the first time a test asks for it, then kept. Collection fits nothing."""

    def __init__(self, builders: dict):
        self._builders = builders
        self._built = {}

    def __getitem__(self, name):
        if name not in self._built:
            make = self._builders[name]
            self._built[name] = make() if callable(make) and getattr(make, "__name__", "") == "<lambda>" else make
        return self._built[name]

    def __iter__(self):
        return iter(self._builders)

    def __len__(self):
        return len(self._builders)
