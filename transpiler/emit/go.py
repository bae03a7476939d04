"""Go: one package per model (`model` by default) with `func Score(input []float64) []float64`."""
from __future__ import annotations

import math
import re
from dataclasses import replace

from ..ir.evaluate import ZERO_THRESHOLD
from . import go_names
from .base import Target
from .go_names import GO_KEYWORDS


GO_TYPES = {"float64": "float64", "float32": "float32", "int32": "int32", "uint32": "uint32"}


# (import spec, what in the code needs it), in gofmt's order
GO_IMPORTS = (('_ "embed"', r"//go:embed"), ('"encoding/binary"', r"\bbinary\."),
              ('"fmt"', r"\bfmt\."), ('"math"', r"\bmath\."),
              ('"testing"', r"\btesting\."))


# Go's math functions that are exact (correctly rounded or no rounding at all); any other
# call (Exp, Log, Pow, Tanh...) may differ from the C library the self-test outputs came from.
EXACT_MATH = frozenset("""Abs Copysign Float32bits Float32frombits Float64bits Float64frombits
Inf IsInf IsNaN NaN Sqrt Floor Ceil Trunc Max Min Signbit FMA""".split())


class Go(Target):
    name = "go"
    files = {"model.go": "go/model.go.j2"}
    selftest_files = {"model_test.go": "go/model_test.go.j2"}
    keywords = GO_KEYWORDS
    default_package = "model"
    default_function = "Score"
    indent = "\t"
    types = GO_TYPES
    positive_infinity = "math.Inf(1)"

    def names(self, package, function, class_name):
        names = super().names(package, function, class_name)
        go_names.check_function(names.function)
        go_names.check_package(names.package)
        return names

    def render(self, model, names, layout, selftest=True):
        # The user's function name is bound after rendering, where helpers it would collide
        # with can be renamed (go_names.bind).
        files = super().render(model, replace(names, function=go_names.PLACEHOLDER), layout,
                               selftest)
        return go_names.bind(files, names.function)

    def selftest_context(self, ctx, files):
        calls = set(re.findall(r"\bmath\.([A-Z]\w*)\(", files["model.go"]))
        bits = lambda values: ",\n\t".join(", ".join(f"{v:#018x}" for v in values[i:i + 4])
                                            for i in range(0, len(values), 4))
        return {"inexact_math": sorted(calls - EXACT_MATH),
                "selftest_rows": bits(ctx["selftest"]["rows"]),
                "selftest_want": bits(ctx["selftest"]["want"])}

    def astral_escape(self, c):
        return f"\\U{c:08x}"

    def if_open(self, cond):
        return f"if {cond} {{"

    def ret(self, value):
        return f"return {value}"

    def call_in_category(self, v, offset):
        return f"inCategory({v}, {offset})"

    def is_zero(self, v):
        return f"math.Abs({v}) <= {self.double(ZERO_THRESHOLD)}"

    def data_file(self, names):
        return "model.bin"

    def double(self, v):
        # Go constants have no negative zero: the literal -0.0 is +0.
        if float(v) == 0.0 and math.copysign(1.0, float(v)) < 0:
            return "math.Copysign(0, -1)"
        return super().double(v)

    def float32(self, v):
        if abs(float(v)) == float("inf") or float(v) == 0.0 and math.copysign(1.0, float(v)) < 0:
            return f"float32({self.double(float(v))})"     # math.Inf/Copysign give float64
        return str(__import__("numpy").float32(v))

    def array_name(self, name):
        head, *rest = name.split("_")
        return head + "".join(p.capitalize() for p in rest)

    def array(self, name, dtype, values):
        if not len(values):
            return f"var {name} = [1]{GO_TYPES[dtype]}{{}}"
        return (f"var {name} = [...]{GO_TYPES[dtype]}{{\n"
                f"\t{self.literals(values, dtype)},\n}}")

    def finish(self, text):
        # Go rejects unused imports, so import each package only where the code uses it.
        used = [path for path, pattern in GO_IMPORTS if re.search(pattern, text)]
        block = "\n\nimport (\n" + "".join(f"\t{p}\n" for p in used) + ")\n" if used else "\n"
        return text.replace("\n\n// IMPORTS\n", block, 1)
