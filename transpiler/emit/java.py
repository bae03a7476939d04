"""Java: one final class (`Model` by default) with `public static double[] score(double[] input)`.

Array literals compile to bytecode in the static initializer, which HotSpot's JIT skips over
8,000 bytes (and the JVM refuses over 64 KB), so arrays beyond a few hundred values are stored
as Base64 strings and decoded once; large trees are cut into methods under that limit too.
"""
from __future__ import annotations

import base64
import re
import threading

import numpy as np

from ..errors import OptionError
from ..ir.evaluate import ZERO_THRESHOLD
from . import tables as tbl
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
# ... and in all: each literal costs the static initializer ~8 bytes of bytecode, which must
# stay under the JIT limit too (JIT_METHOD_LIMIT).
LITERAL_BUDGET = 512
_render = threading.local()     # the literals left to the class being rendered
CHUNK = 60000            # characters per string constant (the class-file limit is 65535 bytes)
JAVA_MAX_CONSTANTS = 40000   # code layout: constants its trees add to the class
# HotSpot never JIT-compiles a method of more than 8,000 bytes of bytecode (HugeMethodLimit):
# it would run interpreted, many times slower. Trees are cut into subroutines of at most
# TREE_METHOD_BUDGET bytes by an upper-bound estimate per node (tree_code); a test reads javap.
JIT_METHOD_LIMIT = 8000
TREE_METHOD_BUDGET = 4000
LEAF_BYTES = 4           # push the leaf's offset (<= 3 bytes), ireturn
SPLIT_BYTES = 12         # x[f]: aload, push f, daload; ldc2_w t; dcmp; if
CATEGORY_BYTES = 18      # NaN test (two loads, dcmpl, if) and inCategory's call
ZERO_BYTES = 16          # Math.abs(x[f]) <= z: a load, invokestatic, ldc2_w, dcmp, if
CALL_BYTES = 5           # return treeK_J(x): aload, invokestatic, ireturn


# Calls of java.lang.Math whose last bit may differ from the C library's that the Python model
# used (log1p, pow, tanh...; exp is our own, exact: libm.j2): where the model calls one, its
# self-test allows 1e-9 relative. abs, sqrt, fma, min, max, floor, ceil are exact everywhere.
LIBM_CALL = re.compile(r"java\.lang\.Math\.(?!(?:abs|sqrt|fma|min|max|floor|ceil|rint)\()\w+\(")

# check()'s locals in the self-test: a local hides a class of the same name, so for a class
# named like one of them, they all get a leading underscore.
SELFTEST_LOCALS = frozenset("rows want nf no n batch r got k i bad".split())


class Java(Target):
    name = "java"
    files = {"{class_name}.java": "java/Model.java.j2"}
    selftest_files = {"{class_name}SelfTest.java": "java/SelfTest.java.j2"}
    # tree_code cuts large trees into methods, so no tree is too large for code by itself, and
    # after the JIT code outran the tables on trees of every size (bench/RESULTS.md)
    code_max_tree_nodes = tbl.CODE_DEEP_MAX_NODES
    keywords = JAVA_KEYWORDS
    default_function = "score"
    types = JAVA_TYPES
    body_depth = 2
    positive_infinity = "java.lang.Double.POSITIVE_INFINITY"

    def names(self, package, function, class_name):
        """Names the generated code cannot use: java.* packages (the JVM refuses to define
        classes there), a class `java` (it would hide the java.lang.* names the code writes out
        in full so that a class Math or System cannot hide them), and the tree methods' names
        (a method treeN(double[]) is already there)."""
        names = super().names(package, function, class_name)
        if names.package.split(".")[0] == "java":
            raise OptionError(f"--package {names.package!r} is not allowed: the JVM refuses to define "
                              "classes in java.* packages; choose another package")
        if names.class_name == "java":
            raise OptionError("--class 'java' would hide the java.lang classes the generated code "
                              "calls; choose another class name")
        if re.fullmatch(r"tree[0-9]+(_[0-9]+)?", names.function):
            raise OptionError(f"--function {names.function!r} is the name of a method holding a tree "
                              "in the generated class; choose another function name")
        return names

    def code_fits(self, tables):
        """javac's limit of 65,535 constants a class (two for each distinct threshold, one for
        each large leaf offset), which m2cgen's Java runs into ("too many constants"). Trees of
        any size fit a method: tree_code cuts them."""
        splits = tables.word >= 0
        offsets = ~tables.word[~splits]
        constants = 2 * len(np.unique(tables.thr[splits])) + len(np.unique(offsets[offsets >= 2 ** 15]))
        return constants <= JAVA_MAX_CONSTANTS

    def tree_code(self, tables, index, root, op):
        """Tree `index` as methods: tree<index>, and for a tree too large for the JIT,
        subtrees cut into tree<index>_1, tree<index>_2 ... that its methods call."""
        end = root + tbl.tree_size(tables, root)
        word = tables.word[root:end].astype(np.int64)
        split = word >= 0
        cost = np.where(split, SPLIT_BYTES, LEAF_BYTES)
        cost += np.where(split & (word & tables.flag("categorical") != 0), CATEGORY_BYTES, 0)
        cost += np.where(split & (word & tables.flag("zero_missing") != 0), ZERO_BYTES, 0)
        cuts = tbl.subtree_cuts(tables, root, cost, CALL_BYTES, TREE_METHOD_BUDGET)
        names = {root: f"tree{index}", **{n: f"tree{index}_{k}" for k, n in enumerate(cuts, 1)}}
        calls = {n: f"{names[n]}(x)" for n in cuts}
        methods = []
        for n in (root, *cuts):
            body = "\n".join(tbl.tree_branches(tables, n, self, op, self.body_depth, calls))
            methods.append(f"{self.indent}private static int {names[n]}(double[] x) {{\n{body}\n{self.indent}}}")
        return "\n\n".join(methods)

    def call_in_category(self, v, offset):
        return f"inCategory({v}, {offset})"

    def is_zero(self, v):
        return f"java.lang.Math.abs({v}) <= {self.double(ZERO_THRESHOLD)}"

    def data_file(self, names):
        return f"{names.class_name}.bin"

    def package_parts(self, package):
        return package.split(".")

    def array_name(self, name):
        return name.upper()

    def float32(self, v):
        if abs(float(v)) == float("inf"):     # a double constant would not fit a float slot
            return "java.lang.Float.POSITIVE_INFINITY" if v > 0 else "java.lang.Float.NEGATIVE_INFINITY"
        return super().float32(v)

    def literal(self, v, dtype):
        if dtype == "uint32" and int(v) > 0x7FFFFFFF:
            return str(int(v) - (1 << 32))
        return super().literal(v, dtype)

    def render(self, model, names, layout, selftest=True):
        # BASE_SCORE and TREE_COUNT hold a literal per raw output
        _render.literals_left = max(0, LITERAL_BUDGET - 2 * model.raw.n_outputs)
        return super().render(model, names, layout, selftest)

    def array(self, name, dtype, values):
        jt = JAVA_TYPES[dtype]
        values = np.asarray(values)
        left = getattr(_render, "literals_left", LITERAL_BUDGET)
        if len(values) <= min(LITERAL_MAX, left):
            _render.literals_left = left - len(values)
            body = self.literals(values, dtype, self.indent * 2) if len(values) else ""
            return f"private static final {jt}[] {name} = {{\n{self.indent * 2}{body}\n{self.indent}}};"
        decoder, layout = DECODERS[dtype]
        text = base64.b64encode(values.astype(layout).tobytes()).decode("ascii")
        parts = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)]
        joined = (",\n" + self.indent * 2).join(f'"{p}"' for p in parts)
        return (f"private static final {jt}[] {name} = {decoder}({len(values)},\n"
                f"{self.indent * 2}{joined});")

    def base64_parts(self, data: bytes) -> str:
        """data as Base64 string literals (each within the class file's 65,535 bytes), one a line."""
        text = base64.b64encode(data).decode("ascii")
        parts = [text[i:i + CHUNK] for i in range(0, len(text), CHUNK)] or [""]
        return (",\n" + self.indent * 3).join(f'"{p}"' for p in parts)

    def extra_context(self, ctx):
        # Encoded arrays call the decoding helpers; literal ones start with "{".
        return {"needs_decoder": any(not d.split(" = ", 1)[1].startswith("{") for d in ctx["arrays"])}

    def selftest_context(self, ctx, files):
        st = ctx["selftest"]
        as_bytes = lambda bits: np.asarray(bits, dtype="<u8").tobytes()
        model_text = files[f"{ctx['class_name']}.java"]
        return dict(selftest_rows=self.base64_parts(as_bytes(st["rows"])),
                    selftest_want=self.base64_parts(as_bytes(st["want"])),
                    selftest_libm=bool(LIBM_CALL.search(model_text)),
                    selftest_var="_" if ctx["class_name"] in SELFTEST_LOCALS else "")
