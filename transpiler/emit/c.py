"""C99: model.h declares the scoring functions; model.c holds everything else, all static;
the table layout's tables (tables.blob, its nodes packed) are base64 text in model_data*.c,
and a large code layout's trees go to model_trees_*.c.

Other large arrays are written as string literals of their little-endian bytes inside a union
with the typed array: gcc reads a string literal about ten times faster than a list of
numbers. Reading a union member other than the one initialized is defined in C99 (TC3). Both
need a little-endian IEEE-754 machine, which `{function}_checked` verifies.
"""
from __future__ import annotations

import base64

import numpy as np

from . import tables as tbl
from ..errors import OptionError
from . import c_names
from .base import GENERATOR, Target, template_env

C_KEYWORDS = frozenset("""auto break case char const continue default do double else enum extern
float for goto if inline int long register restrict return short signed sizeof static struct
switch typedef union unsigned void volatile while _Bool _Complex _Imaginary""".split())

C_TYPES = {"float64": "double", "float32": "float", "int32": "int32_t", "uint32": "uint32_t"}
LITTLE_ENDIAN = {"float64": "<f8", "float32": "<f4", "int32": "<i4", "uint32": "<u4"}
LITERAL_MAX = 256        # arrays up to this many values are written as numbers
BYTES_PER_LINE = 48
# Table text: gcc reads printable string literals in long lines about three times faster than
# escaped bytes; parts of this many characters (a multiple of 4) go to separate files.
TEXT_LINE = 4096
TEXT_PART = 24 * 2 ** 20

# Trees of more than CODE_PART bytes of source go to files of about that size, so a build
# compiles them side by side.
CODE_PART = 2 ** 20

# How each byte is written in a C string literal: printable characters as they are, the rest
# as three-digit octal escapes (which never swallow a following digit).
C_BYTE = [chr(b) if 32 <= b < 127 and b not in b'"\\?' else f"\\{b:03o}" for b in range(256)]


def c_string(data: bytes) -> str:
    """Bytes as adjacent C string literals, BYTES_PER_LINE to a line."""
    chars = list(map(C_BYTE.__getitem__, data))
    lines = ['"' + "".join(chars[i:i + BYTES_PER_LINE]) + '"' for i in range(0, len(chars), BYTES_PER_LINE)]
    return "\n    ".join(lines) if lines else '""'


def code_parts(ctx) -> list[dict]:
    """The code layout's blocks with their part (0: model.c, k: model_trees_k.c) and name.
    Categorical splits read model.c's sets, so those models keep every tree in model.c."""
    bodies = ctx["tree_bodies"]
    split = sum(map(len, bodies)) > CODE_PART and not ctx["has_categories"]
    out, part, size = [], 1 if split else 0, 0
    for block in ctx["tree_blocks"]:
        if split and size >= CODE_PART:
            part, size = part + 1, 0
        size += sum(len(bodies[t]) for t in block["trees"])
        name = f"{ctx['function']}_trees_{block['index']}" if part else f"tp_trees_{block['index']}"
        out.append({**block, "part": part, "name": name})
    return out


def table_text(blob: bytes) -> list[str]:
    """The blob, zero-padded to whole base64 quads, as base64 text in parts of TEXT_PART."""
    text = base64.b64encode(blob + bytes(-len(blob) % 3)).decode("ascii")
    return [text[i:i + TEXT_PART] for i in range(0, len(text), TEXT_PART)] or [""]


# Post-processors and kernels that call the C library's log1p, pow, tanh or exp, whose last
# bit may differ from what the Python model used (exp and expf elsewhere are our own, exact:
# libm.j2): after these the self-test allows 1e-9 relative, elsewhere it wants the same bits.
LIBM_POSTS = frozenset({"softplus", "isolation", "samme"})
LIBM_KERNELS = frozenset({"sigmoid"})


class C(Target):
    name = "c"
    files = {"model.h": "c/model.h.j2", "model.c": "c/model.c.j2"}
    # In a folder of its own, so compiling every .c of the output directory builds the library.
    selftest_files = {"selftest/model_selftest.c": "c/selftest.c.j2"}
    keywords = C_KEYWORDS
    types = C_TYPES
    positive_infinity = "HUGE_VAL"
    packed_nodes = True     # the forest's text shrinks by a quarter, and gcc reads every byte

    def check_identifier(self, ident, option):
        super().check_identifier(ident, option)
        why = c_names.refusal(ident) if option == "--function" else None
        if why:
            raise OptionError(f"{option} {ident!r} cannot be used in C: {why}; choose another name")

    def float32(self, v):
        if abs(float(v)) == float("inf"):     # C++ refuses a double HUGE_VAL in a float array
            return "HUGE_VALF" if v > 0 else "-HUGE_VALF"
        return super().float32(v)

    def array_name(self, name):
        return "tp_" + name     # helpers are prefixed: any --function but tp_* works

    def call_in_category(self, v, offset):
        return f"tp_in_category({v}, {offset})"

    def is_nan(self, v):
        return f"TP_NAN_X({v})"

    def split_test(self, v, op, t, default_left):
        # gcc 12 under -ffinite-math-only turns `if (x < t) a else b` into `x >= t ? b : a` even
        # inside `#pragma GCC optimize("no-fast-math")`, which sends NaN the other way: the
        # macros (trees.j2) add a NaN test on the bits in such builds.
        test = super().split_test(v, op, t, default_left)
        return f"TP_NAN_LEFT({v}, {test})" if default_left else f"TP_NAN_RIGHT({v}, {test})"

    def likely(self, cond):
        return f"TP_HOT({cond})"

    def string_literal(self, s):
        data = str(s).encode("utf-8", "replace")
        return '"' + "".join(chr(b) if 32 <= b < 127 and b not in b'"\\?' else f"\\{b:03o}"
                             for b in data) + '"'

    def bits(self, values):
        """uint64 bit patterns as hexadecimal literals, four to a line."""
        items = [f"0x{v:016X}u" for v in values] or ["0"]
        return ",\n".join(self.indent + ", ".join(items[i:i + 4]) for i in range(0, len(items), 4))

    def array(self, name, dtype, values):
        values = np.asarray(values)
        if len(values) <= LITERAL_MAX:
            body = self.literals(values, dtype) if len(values) else "0"
            return (f"static const {C_TYPES[dtype]} {name}[{max(len(values), 1)}] = {{\n"
                    f"{self.indent}{body}\n}};")
        data = values.astype(LITTLE_ENDIAN[dtype]).tobytes()
        return self._bytes_union(name, f"{C_TYPES[dtype]} v[{len(values)}]", data)

    def data_file(self, names):
        return "model_data.c"

    def extra_context(self, ctx):
        # A model that reads its inputs as float32 keeps its rows as floats: the comparisons
        # give the same bits, and gcc 12 at -O2 was seen to vectorize `(double)(float)v` into a
        # plain copy, dropping the rounding.
        more = {"x_t": "float" if ctx.get("narrow") else "double", "sorted": False,
                "nan_x": "tp_nan32" if ctx.get("narrow") else "tp_nan64"}
        if ctx["selftest"] is not None:
            more.update(selftest_rows=self.bits(ctx["selftest"]["rows"]),
                        selftest_want=self.bits(ctx["selftest"]["want"]),
                        selftest_libm=ctx["post"] in LIBM_POSTS or ctx.get("kernel") in LIBM_KERNELS)
        if ctx.get("tree_bodies"):
            blocks = code_parts(ctx)
            more["tree_blocks"] = blocks
            if len(blocks) > 1 and not ctx["pre"]:
                # Batches take the rows in order of the busiest feature, about 4 MB at a time:
                # the more rows pass a block in turn, the better (16,384 rows ~1.3x 4,096).
                rows = 2 ** 22 // (8 * ctx["n_x"])
                more.update(sorted=True, sort_feature=ctx["busiest_feature"],
                            batch_rows=max(64, min(2 ** 16, 1 << (rows.bit_length() - 1))) if rows else 64)
            return more
        if ctx["heap"]:     # groups of trees pass over blocks of about 1 MB of rows (add_rows)
            more.update(big_block=True, batch_rows=tbl.walk_block_rows(ctx["n_x"]))
        if ctx["data"] is not None:
            parts = table_text(ctx["data"])     # encoded once: data_files writes these parts
            more.update(table_text=parts, table_lengths=[len(p) for p in parts],
                        table_parts=[f"{ctx['function']}_tables_{k}" for k in range(len(parts))])
        return more

    def render(self, model, names, layout, selftest=True):
        """The sources, and a CMakeLists.txt building the library ones as a static library
        named after --function (the self-test's sources are not part of it)."""
        from .. import __version__

        out = super().render(model, names, layout, selftest=selftest)
        tests = {p.format(**vars(names)) for p in self.selftest_files}
        out["CMakeLists.txt"] = template_env().get_template("c/CMakeLists.txt.j2").render(
            generator=f"{GENERATOR} {__version__}", source=self.comment_text(model.source or "a model"),
            function=names.function, sources=sorted(p for p in out if p.endswith(".c") and p not in tests))
        return out

    def extra_files(self, ctx):
        """The data files, or the code layout's trees beyond model.c: model_trees_1.c ..."""
        if not ctx.get("tree_bodies"):
            return super().extra_files(ctx)
        parts = sorted({b["part"] for b in ctx["tree_blocks"]} - {0})
        template = template_env().get_template("c/trees.c.j2")
        return {f"model_trees_{k}.c": template.render(**ctx, part=k, n_parts=len(parts))
                for k in parts}

    def data_files(self, ctx):
        """The blob as base64 text in model_data.c, or model_data_1.c ... when it is large, so
        builds compile the parts side by side; model.c decodes it once at load."""
        parts = ctx["table_text"]
        out = {}
        for k, (text, symbol) in enumerate(zip(parts, ctx["table_parts"])):
            name = ctx["data_file"] if len(parts) == 1 else ctx["data_file"].replace(".c", f"_{k + 1}.c")
            lines = "\n".join(f'    "{text[i:i + TEXT_LINE]}"'
                              for i in range(0, len(text), TEXT_LINE)) or '    ""'
            out[name] = (f"/* Code generated by {ctx['generator']} from {ctx['source']}. DO NOT EDIT. */\n"
                         f"/* The model's tables for model.c, base64, part {k + 1} of {len(parts)}. */\n"
                         f"extern const char {symbol}[];\n"
                         f"const char {symbol}[] =\n{lines};\n")
        return out

    @staticmethod
    def _bytes_union(name, member, data):
        # One byte more than the data: C++ wants room for the literal's terminating NUL.
        return (f"static const union {{\n    unsigned char bytes[{len(data) + 1}];\n    {member};\n"
                f"}} {name}_ = {{\n    {c_string(data)}\n}};\n#define {name} ({name}_.v)")
