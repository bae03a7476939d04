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
         layout: str = "auto") -> dict:
    target = TARGETS.get(lang)
    if target is None:
        raise OptionError(f"unknown language {lang!r}; choose one of {', '.join(TARGETS)}")
    if layout not in LAYOUTS:
        raise OptionError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    names = target.names(package, function, class_name)
    return target.render(model, names, layout)
