"""Java: one final class (`Model` by default) with `public static double[] score(double[] input)`.

Array literals compile to bytecode in the static initializer, which the JVM caps at 64 KB,
so arrays beyond a few hundred values are stored as Base64 strings and decoded once.
"""
from __future__ import annotations

import base64

import numpy as np

from ..ir.evaluate import ZERO_THRESHOLD
from .base import Target

JAVA_KEYWORDS = frozenset("""abstract assert boolean break byte case catch char class const continue
default do double else enum extends final finally float for goto if implements import instanceof
int interface long native new package private protected public return short static strictfp
super switch synchronized this throw throws transient try void volatile while true false null
var record yield sealed permits""".split())

JAVA_TYPES = {"float64": "double", "float32": "float", "int32": "int", "uint32": "int"}
# How a decoded byte buffer fills each array type, and the NumPy layout it is written in.
DECODERS = {"float64": ("doubles", "<f8"), "float32": ("floats", "<f4"), "int32": ("ints", "<i4"),
            "uint32": ("ints", "<u4")}
LITERAL_MAX = 256        # values per array written as literals
CHUNK = 60000            # characters per string constant (the class-file limit is 65535 bytes)
JAVA_MAX_TREE_NODES = 2048   # code layout: the largest tree, as one method
JAVA_MAX_CONSTANTS = 40000   # code layout: constants its trees add to the class


class Java(Target):
    name = "java"
    files = {"{class_name}.java": "java/Model.java.j2"}
    keywords = JAVA_KEYWORDS
    default_function = "score"
    types = JAVA_TYPES
    body_depth = 2
    positive_infinity = "Double.POSITIVE_INFINITY"

    def code_fits(self, tables):
        """javac's limits: a method's 64 KB of bytecode (a tree's, ~15 bytes a node) and the
        class's 65,535 constants (two for each distinct threshold, one for each large leaf
        offset), which m2cgen's Java runs into ("too many constants")."""
        splits = tables.word >= 0
        offsets = ~tables.word[~splits]
        constants = 2 * len(np.unique(tables.thr[splits])) + len(np.unique(offsets[offsets >= 2 ** 15]))
        return tables.largest_tree <= JAVA_MAX_TREE_NODES and constants <= JAVA_MAX_CONSTANTS

    def call_in_category(self, v, offset):
        return f"inCategory({v}, {offset})"

    def is_zero(self, v):
        return f"Math.abs({v}) <= {self.double(ZERO_THRESHOLD)}"

    def data_file(self, names):
        return f"{names.class_name}.bin"

    def package_parts(self, package):
        return package.split(".")

    def array_name(self, name):
        return name.upper()

    def float32(self, v):
        if abs(float(v)) == float("inf"):     # a double constant would not fit a float slot
            return "Float.POSITIVE_INFINITY" if v > 0 else "Float.NEGATIVE_INFINITY"
        return super().float32(v)

    def literal(self, v, dtype):
        if dtype == "uint32" and int(v) > 0x7FFFFFFF:
            return str(int(v) - (1 << 32))
        return super().literal(v, dtype)

    def array(self, name, dtype, values):
        jt = JAVA_TYPES[dtype]
        values = np.asarray(values)
        if len(values) <= LITERAL_MAX:
            body = self.literals(values, dtype, self.indent * 2) if len(values) else ""
            return f"private static final {jt}[] {name} = {{\n{self.indent * 2}{body}\n{self.indent}}};"
        decoder, layout = DECODERS[dtype]
        text = base64.b64encode(values.astype(layout).tobytes()).decode("ascii")
        parts = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)]
        joined = (",\n" + self.indent * 2).join(f'"{p}"' for p in parts)
        return (f"private static final {jt}[] {name} = {decoder}({len(values)},\n"
                f"{self.indent * 2}{joined});")

    def extra_context(self, ctx):
        # Encoded arrays call the decoding helpers; literal ones start with "{".
        return {"needs_decoder": any(not d.split(" = ", 1)[1].startswith("{") for d in ctx["arrays"])}
