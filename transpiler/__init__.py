"""transpiler: trained scikit-learn, XGBoost and LightGBM models as dependency-free Go, C and Java.

    >>> import transpiler
    >>> files = transpiler.transpile("model.pkl", lang="go")   # {relative path: source text}
    >>> transpiler.write(files, "model/")                       # all files or none, with a manifest
    >>> transpiler.verify("model.pkl", "go").ok                 # built and compared with the model
    >>> transpiler.check("model.pkl", "go", "model/").ok        # no drift since it was written

The pipeline: load -> ir -> optimize -> emit (-> verify). This module is the only place that
wires the stages together.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

from . import verify as _verify_stage  # noqa: F401  (see verify() below)
from ._version import __version__

if TYPE_CHECKING:
    from .ir import Model
    from .verify.check import CheckResult
    from .verify.report import Report

LANGUAGES = ("go", "c", "java")
LAYOUTS = ("auto", "code", "table")

#: What `transpile` returns: {relative path: text} (plus bytes for the table layout's data files).
Files = dict[str, Union[str, bytes]]
#: A fitted model object, or the path of a saved one (pickle, joblib, skops, XGBoost, LightGBM).
ModelInput = Union[Any, str, "os.PathLike[str]"]


def to_ir(model_or_path: ModelInput, **load_options: Any) -> Model:
    """Load a model (object or file path) and run the optimization passes."""
    from . import ir, load, optimize

    if isinstance(model_or_path, ir.Model):     # already loaded: transpile(to_ir(m)) works
        return model_or_path
    return optimize.run(load.load(model_or_path, **load_options))


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:  # checked first: no point loading a model for nothing
        from .errors import OptionError

        raise OptionError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")


def transpile(model_or_path: ModelInput, lang: str = "go", *, package: str | None = None,
              function: str | None = None, class_name: str | None = None,
              layout: str = "auto", plugin: bool = False, loader: bool = False,
              selftest: bool = True, trust_pickle: bool = False, **load_options: Any) -> Files:
    """Translate a fitted model (or the path of a saved one) into source files for `lang`.

    Returns {relative path: file content}. Options name what is generated: `package` (Go and
    Java package), `function` (the scoring function), `class_name` (the Java class); `layout`
    is auto, code or table. Go only: `plugin=True` gives a `package main` directory to build
    with -buildmode=plugin, `loader=True` a Go package that loads model files at run time and
    this model's file. `trust_pickle=True` loads pickles with the full pickle module (only for
    files you trust); other `load_options` go to the loader (XGBoost `missing`,
    `iteration_range`, LightGBM `num_iteration`). `selftest=False` leaves out the self-test
    shipped beside the model (README: Self-test). Raises TranspilerError (transpiler.errors)
    on bad input: its `exit_code` is what the command would exit with.
    """
    from . import emit

    _check_lang(lang)
    model = to_ir(model_or_path, **_load_options(trust_pickle, load_options))
    return emit.emit(model, lang, package=package, function=function, class_name=class_name,
                     layout=layout, plugin=plugin, loader=loader, selftest=selftest)


def explain(model_or_path: ModelInput, lang: str = "go", *, layout: str = "auto",
            trust_pickle: bool = False, **load_options: Any) -> str:
    """Which layout `transpile` uses for this model in `lang`, and why (sizes and limits)."""
    from . import emit

    _check_lang(lang)
    return emit.explain(to_ir(model_or_path, **_load_options(trust_pickle, load_options)),
                        lang, layout)


def write(files: Mapping[str, str | bytes], directory: str | os.PathLike[str], *,
          force: bool = False, resources: str | os.PathLike[str] | None = None) -> None:
    """Write `files` (from transpile) into `directory`, all of them or none: staged beside it
    and moved in, with a manifest (.transpiler-files) so a later write replaces them and
    deletes the ones no longer generated. A directory holding files the tool did not write is
    refused (OptionError) unless force=True, which writes beside them and never touches them.
    Java: `resources` is where the table layout's Model.bin goes (Maven and Gradle:
    src/main/resources/<package path>), as `--resources`."""
    from .outdir import write_output, write_split

    if resources is None:
        write_output(dict(files), os.fspath(directory), force=force)
    else:
        write_split(dict(files), os.fspath(directory), os.fspath(resources), force=force)


# The name `verify` is both this function and the stage package transpiler/verify/. The package
# is imported above, before this def, so the attribute stays the function: importing a
# submodule later (`from transpiler.verify.run import ...`) does not rebind it.
def verify(model_or_path: ModelInput, lang: str = "go", *, layout: str = "auto",
           rows: Any = None, tolerance: str | None = None, derived: bool = True,
           package: str | None = None, function: str | None = None,
           class_name: str | None = None, trust_pickle: bool = False,
           **load_options: Any) -> Report:
    """Generate `lang` code, build it with the local toolchain, run it on rows and compare its
    outputs with the model's own (the library's predict where it is installed).

    rows: extra rows (a CSV/.npy/Parquet path, an array or a DataFrame); derived: add rows
    derived from the model (thresholds, NaN, every leaf). tolerance: as `--tolerance` takes it
    ("0", "2ulp", "1e-9"), default what the model family allows. The Report's `ok` is True
    when every value agrees; `summary()` says what differs. Raises BuildError when the code
    does not build (a missing toolchain included). package/function/class_name: the code is
    built under these names, as transpile() gives it."""
    from .verify.run import verify as run

    _check_lang(lang)
    return run(model_or_path, lang, layout=layout, rows=rows, derived=derived,
               tolerance=tolerance, load_options=_load_options(trust_pickle, load_options),
               package=package, function=function, class_name=class_name)


def check(model_or_path: ModelInput, lang: str, directory: str | os.PathLike[str], *,
          package: str | None = None, function: str | None = None,
          class_name: str | None = None, layout: str = "auto", plugin: bool = False,
          loader: bool = False, selftest: bool = True, trust_pickle: bool = False,
          **load_options: Any) -> CheckResult:
    """Compare the files in `directory` with what `transpile` generates now (same options);
    writes nothing. The CheckResult's `ok` is False when a file is missing or changed."""
    from .verify.check import check_files

    files = transpile(model_or_path, lang, package=package, function=function,
                      class_name=class_name, layout=layout, plugin=plugin, loader=loader,
                      selftest=selftest, trust_pickle=trust_pickle, **load_options)
    return check_files(files, os.fspath(directory))


def _load_options(trust_pickle: bool, options: dict[str, Any]) -> dict[str, Any]:
    return {**options, "trust_pickle": True} if trust_pickle else dict(options)


__all__ = ["LANGUAGES", "LAYOUTS", "Files", "ModelInput", "__version__", "check", "explain",
           "to_ir", "transpile", "verify", "write"]
