"""C99: model.h declares the scoring functions; model.c holds everything else, all static.

Large arrays are written as string literals of their little-endian bytes inside a union with
the typed array: gcc reads a string literal about ten times faster than a list of numbers,
which keeps the build of a 1,000-tree model to seconds. Reading a union member other than the
one initialized is defined in C99 (TC3); it needs a little-endian IEEE-754 machine, which
`{function}_checked` verifies.
"""
from __future__ import annotations

import numpy as np

from .base import Target

C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum extern
float for goto if inline int long register restrict return short signed sizeof static struct
switch typedef union unsigned void volatile while _Bool _Complex _Imaginary main""".split())

C_TYPES = {"float64": "double", "float32": "float", "int32": "int32_t", "uint32": "uint32_t"}
LITTLE_ENDIAN = {"float64": "<f8", "float32": "<f4", "int32": "<i4", "uint32": "<u4"}
LITERAL_MAX = 256        # arrays up to this many values are written as numbers
BYTES_PER_LINE = 48

# How each byte is written in a C string literal: printable characters as they are, the rest
# as three-digit octal escapes (which never swallow a following digit).
C_BYTE = [chr(b) if 32 <= b < 127 and b not in b'"\\?' else f"\\{b:03o}" for b in range(256)]


def c_string(data: bytes) -> str:
    """Bytes as adjacent C string literals, BYTES_PER_LINE to a line."""
    chars = list(map(C_BYTE.__getitem__, data))
    lines = ['"' + "".join(chars[i:i + BYTES_PER_LINE]) + '"' for i in range(0, len(chars), BYTES_PER_LINE)]
    return "\n    ".join(lines) if lines else '""'


class C(Target):
    name = "c"
    files = {"model.h": "c/model.h.j2", "model.c": "c/model.c.j2"}
    keywords = C_KEYWORDS
    types = C_TYPES
    positive_infinity = "HUGE_VAL"

    def string_literal(self, s):
        data = str(s).encode("utf-8", "replace")
        return '"' + "".join(chr(b) if 32 <= b < 127 and b not in b'"\\?' else f"\\{b:03o}"
                             for b in data) + '"'

    def array(self, name, dtype, values):
        values = np.asarray(values)
        if len(values) <= LITERAL_MAX:
            body = self.literals(values, dtype) if len(values) else "0"
            return (f"static const {C_TYPES[dtype]} {name}[{max(len(values), 1)}] = {{\n"
                    f"{self.indent}{body}\n}};")
        data = values.astype(LITTLE_ENDIAN[dtype]).tobytes()
        return self._bytes_union(name, f"{C_TYPES[dtype]} v[{len(values)}]", data)

    def nodes(self, records):
        return self._bytes_union("nodes", f"struct node v[{max(len(records), 1)}]",
                                 records.tobytes() or bytes(records.dtype.itemsize))

    @staticmethod
    def _bytes_union(name, member, data):
        return (f"static const union {{\n    unsigned char bytes[{len(data)}];\n    {member};\n"
                f"}} {name}_ = {{\n    {c_string(data)}\n}};\n#define {name} ({name}_.v)")
