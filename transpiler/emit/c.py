"""C99: model.h declares the scoring function; model.c holds everything else, all static."""
from __future__ import annotations

from .base import Target

C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum extern
float for goto if inline int long register restrict return short signed sizeof static struct
switch typedef union unsigned void volatile while _Bool _Complex _Imaginary main""".split())

C_TYPES = {"float64": "double", "float32": "float", "int32": "int32_t", "uint8": "uint8_t",
           "uint32": "uint32_t"}


class C(Target):
    name = "c"
    files = {"model.h": "c/model.h.j2", "model.c": "c/model.c.j2"}
    keywords = C_KEYWORDS
    types = C_TYPES
    positive_infinity = "HUGE_VAL"

    def array(self, name, dtype, values):
        body = self.literals(values, dtype) if len(values) else "0"
        return (f"static const {C_TYPES[dtype]} {name}[{max(len(values), 1)}] = {{\n"
                f"{self.indent}{body}\n}};")

    def nodes(self, t):
        rows = [f"{{{'NAN' if thr != thr else self.double(float(thr))}, {int(info)}, {int(right)}}}"
                for thr, info, right in zip(t.thr, t.info, t.right)]
        body = ",\n    ".join(", ".join(rows[i:i + 4]) for i in range(0, len(rows), 4))
        return f"static const struct node nodes[{len(rows)}] = {{\n    {body}\n}};"
