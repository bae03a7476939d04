"""Stage 4: ir.Model -> {relative path: file content}, one module per language."""
from __future__ import annotations

from .. import ir
from ..errors import OptionError
from .c import C
from .go import Go
from .java import Java

TARGETS = {"go": Go(), "c": C(), "java": Java()}
LAYOUTS = ("auto", "code", "table")


def emit(model: ir.Model, lang: str, *, package=None, function=None, class_name=None,
         layout: str = "auto", plugin: bool = False, loader: bool = False,
         selftest: bool = True) -> dict:
    """`plugin` (a Go plugin directory) and `loader` (the run-time Go loader and a model file)
    are other forms of the Go output: see go_plugin.py. `selftest` adds the self-test each
    language runs with its own toolchain (base.selftest_data)."""
    target = TARGETS.get(lang)
    if target is None:
        raise OptionError(f"unknown language {lang!r}; choose one of {', '.join(TARGETS)}")
    if layout not in LAYOUTS:
        raise OptionError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if plugin or loader:
        from .go_plugin import emit_form

        return emit_form(model, plugin=plugin, loader=loader, lang=lang, package=package,
                         function=function, class_name=class_name, layout=layout)
    names = target.names(package, function, class_name)
    return target.render(model, names, layout, selftest=selftest)


def explain(model: ir.Model, lang: str, layout: str = "auto") -> str:
    """The layout emit() uses for `model` in `lang` and why, in one line."""
    from . import tables

    target = TARGETS[lang]
    if not isinstance(model.raw, ir.Ensemble):
        return f"{lang}: no trees ({type(model.raw).__name__.lower()} model): straight-line code"
    t = tables.flatten(model.raw)
    chosen, why = tables.layout_decision(t, layout, target.code_fits(t), target.code_max_tree_nodes)
    if chosen == "table" and tables.heap_eligible(t):
        chosen = "table (heaps)"
    return f"{lang}: layout {chosen}: {why}"
