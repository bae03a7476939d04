"""Go: one package per model (`model` by default) with `func Score(input []float64) []float64`."""
from __future__ import annotations

import math
import re

from ..ir.evaluate import ZERO_THRESHOLD
from .base import Target

GO_KEYWORDS = frozenset("""break case chan const continue default defer else fallthrough for func go
goto if import interface map package range return select struct switch type var""".split())

GO_TYPES = {"float64": "float64", "float32": "float32", "int32": "int32", "uint32": "uint32"}


# (import spec, what in the code needs it), in gofmt's order
GO_IMPORTS = (('_ "embed"', r"//go:embed"), ('"encoding/binary"', r"\bbinary\."),
              ('"fmt"', r"\bfmt\."), ('"math"', r"\bmath\."))


class Go(Target):
    name = "go"
    files = {"model.go": "go/model.go.j2"}
    keywords = GO_KEYWORDS
    default_package = "model"
    default_function = "Score"
    indent = "\t"
    types = GO_TYPES
    positive_infinity = "math.Inf(1)"

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
