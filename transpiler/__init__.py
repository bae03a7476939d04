"""transpiler: trained scikit-learn, XGBoost and LightGBM models as dependency-free Go, C and Java.

    >>> import transpiler
    >>> files = transpiler.transpile("model.pkl", lang="go")   # {relative path: source text}

The pipeline: load -> ir -> optimize -> emit. This module is the only place that wires the
stages together.
"""
from __future__ import annotations

__version__ = "0.1.0"

LANGUAGES = ("go", "c", "java")


def to_ir(model_or_path, **load_options):
    """Load a model (object or file path) and run the optimization passes."""
    from . import load, optimize

    return optimize.run(load.load(model_or_path, **load_options))


def transpile(model_or_path, lang: str = "go", *, package: str | None = None,
              function: str | None = None, class_name: str | None = None,
              layout: str = "auto", plugin: bool = False, loader: bool = False,
              selftest: bool = True, **load_options) -> dict:
    """Translate a fitted model (or the path of a saved one) into source files for `lang`.

    Returns {relative path: file content}. Options name what is generated: `package` (Go and
    Java package), `function` (the scoring function), `class_name` (the Java class).
    Go only: `plugin=True` gives a `package main` directory to build with -buildmode=plugin,
    `loader=True` a Go package that loads model files at run time and this model's file.
    `selftest=False` leaves out the self-test shipped beside the model (README: Self-test).
    """
    from . import emit

    if lang not in LANGUAGES:  # checked first: no point loading a model for nothing
        from .errors import OptionError

        raise OptionError(f"unknown language {lang!r}; choose one of {', '.join(LANGUAGES)}")
    model = to_ir(model_or_path, **load_options)
    return emit.emit(model, lang, package=package, function=function, class_name=class_name,
                     layout=layout, plugin=plugin, loader=loader, selftest=selftest)


__all__ = ["LANGUAGES", "__version__", "to_ir", "transpile"]
