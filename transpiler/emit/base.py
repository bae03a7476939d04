"""What every language target shares: the template context and literal formatting.

A language is one subclass of Target: its syntax tables, how it writes a literal and an
array, and which templates make which files. Numbers are rendered here, in Python; templates
only hold skeletons.
"""
from __future__ import annotations

import functools
import importlib.resources
import math
import re
from dataclasses import dataclass

import jinja2
import numpy as np

from .. import ir
from ..errors import OptionError
from ..ir import libm
from ..ir.evaluate import ZERO_THRESHOLD
from . import stages
from . import tables as tbl

GENERATOR = "transpiler"


@dataclass(frozen=True)
class Names:
    """Identifiers the user can choose on the command line."""

    package: str
    function: str
    class_name: str


class Target:
    """A language target. Subclasses override the tables and the few methods that differ."""

    name = ""
    files: dict = {}                     # output path -> template path, both may use {names}
    selftest_files: dict = {}            # the same, written unless --no-selftest
    keywords: frozenset = frozenset()
    default_package = ""
    default_function = "score"
    default_class = "Model"
    indent = "    "
    else_open = "} else {"
    block_close = "}"
    types: dict = {}                     # ir dtype name -> this language's type
    positive_infinity = ""
    line_width = 8                       # array literal values per line
    body_depth = 1                       # indentation depth of a function body
    packed_nodes = False                 # the blob's node records as tables.packed_records

    # --- syntax hooks used by tables.tree_branches -------------------------------------
    def if_open(self, cond: str) -> str:
        return f"if ({cond}) {{"

    def tree_code(self, tables, index: int, root: int, op: str) -> str:
        """Tree `index` of the code layout (its root node `root`): its function's body."""
        return "\n".join(tbl.tree_branches(tables, root, self, op, self.body_depth))

    # `auto`: the largest tree the code layout takes (one function each, whose build time grows
    # faster than its size)
    code_max_tree_nodes = tbl.CODE_MAX_TREE_NODES

    def code_fits(self, tables) -> bool:
        """Whether this language's compiler takes a large model as code (tables.choose_layout)."""
        return True

    def likely(self, cond: str) -> str:
        """cond, marked for the compiler as usually true (C); as it is elsewhere."""
        return cond

    def ret(self, value: str) -> str:
        return f"return {value};"

    def call_in_category(self, v: str, offset: int) -> str:
        return f"in_category({v}, {offset})"

    def split_test(self, v: str, op: str, t: str, default_left: bool) -> str:
        """v op t, true for NaN when missing values go left: NaN fails every comparison, so
        `!(x > t)` sends it left and `x <= t` sends it right."""
        negated = ">" if op == "<=" else ">="
        return f"!({v} {negated} {t})" if default_left else f"{v} {op} {t}"

    def is_nan(self, v: str) -> str:
        return f"{v} != {v}"

    def is_zero(self, v: str) -> str:
        return f"fabs({v}) <= {self.double(ZERO_THRESHOLD)}"

    # --- literals -----------------------------------------------------------------------
    def double(self, v: float) -> str:
        v = float(v)
        if math.isinf(v):
            return self.positive_infinity if v > 0 else "-" + self.positive_infinity
        if math.isnan(v):
            raise ValueError("NaN constant in a model")
        return repr(v)

    def float32(self, v: float) -> str:
        v = np.float32(v)
        if np.isinf(v):
            return self.double(float(v))
        return str(v) + "f"

    def literal(self, v, dtype: str) -> str:
        if dtype == "float64":
            return self.double(v)
        if dtype == "float32":
            return self.float32(v)
        return str(int(v))

    def literals(self, values, dtype: str, indent: str | None = None) -> str:
        """Comma-separated literals, several per line, for an array body."""
        items = [self.literal(v, dtype) for v in np.asarray(values).reshape(-1)]
        rows = [", ".join(items[i:i + self.line_width]) for i in range(0, len(items), self.line_width)]
        return (",\n" + (self.indent if indent is None else indent)).join(rows)

    def array(self, name: str, dtype: str, values) -> str:
        raise NotImplementedError

    def array_name(self, name: str) -> str:
        """Logical snake_case names -> this language's style (C keeps them)."""
        return name

    # --- strings from the model ------------------------------------------------------------
    # Feature names, class labels and the source description come from the model file, which
    # may be hostile: they reach generated code only through these two methods.
    def string_literal(self, s: str) -> str:
        """A string literal of this language holding exactly `s`, in ASCII: nothing in s can end
        the literal or the line: octal escapes for ASCII controls and \\uXXXX beyond ASCII (Go
        and Java); C writes octal bytes of the UTF-8."""
        out = ['"']
        for ch in str(s):
            c = ord(ch)
            if ch in '"\\':
                out.append("\\" + ch)
            elif 0x20 <= c < 0x7F:
                out.append(ch)
            elif c <= 0x7F:     # octal, never \\u000a: Java reads \\u escapes before strings
                out.append(f"\\{c:03o}")
            elif 0xD800 <= c <= 0xDFFF:     # a lone surrogate is no character
                out.append("\\ufffd")
            elif c <= 0xFFFF:
                out.append(f"\\u{c:04x}")
            else:
                out.append(self.astral_escape(c))
        out.append('"')
        return "".join(out)

    def astral_escape(self, c: int) -> str:
        """A code point above U+FFFF in a string literal: Java wants a surrogate pair."""
        c -= 0x10000
        return f"\\u{0xD800 + (c >> 10):04x}\\u{0xDC00 + (c & 0x3FF):04x}"

    @staticmethod
    def comment_text(s: str, limit: int = 120) -> str:
        """Text safe inside a // or /* */ comment: printable ASCII on one line, no comment
        delimiters (Java reads \\u escapes even in comments, so backslashes go too)."""
        text = "".join(ch if 0x20 <= ord(ch) < 0x7F and ch != "\\" else "?" for ch in str(s))
        while "*/" in text or "/*" in text:
            text = text.replace("*/", "* /").replace("/*", "/ *")
        return text[:limit]

    # --- names --------------------------------------------------------------------------
    def names(self, package, function, class_name) -> Names:
        names = Names(package=self.default_package if package is None else package,
                      function=self.default_function if function is None else function,
                      class_name=self.default_class if class_name is None else class_name)
        self.check_identifier(names.function, "--function")
        self.check_identifier(names.class_name, "--class")
        if names.package:
            for part in self.package_parts(names.package):
                self.check_identifier(part, "--package")
        return names

    def package_parts(self, package: str) -> list[str]:
        return [package]

    def check_identifier(self, ident: str, option: str) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident or "") or ident in self.keywords:
            raise OptionError(f"{option} {ident!r} is not a valid {self.name} identifier; "
                              "use letters, digits and underscores, not a keyword")

    # --- rendering ----------------------------------------------------------------------
    def render(self, model: ir.Model, names: Names, layout: str, selftest: bool = True) -> dict:
        ctx = context(model, self, names, layout)
        ctx["selftest"] = selftest_data(model) if selftest else None
        ctx.update(self.extra_context(ctx))
        env = template_env()
        out = {}
        for path, template in self.files.items():
            out[path.format(**vars(names))] = self.finish(env.get_template(template).render(**ctx))
        if selftest:
            ctx.update(self.selftest_context(ctx, out))
            for path, template in self.selftest_files.items():
                text = env.get_template(template).render(**ctx)
                out[path.format(**vars(names))] = self.finish(text)
        out.update(self.extra_files(ctx))
        return out

    def selftest_context(self, ctx: dict, files: dict) -> dict:
        """Self-test template variables that depend on the rendered model files."""
        return {}

    def data_file(self, names: Names) -> str | None:
        """Where the table layout keeps its binary tables (tables.blob)."""
        return None

    def data_files(self, ctx: dict) -> dict:
        """The table layout's data files: the blob as it is, by default."""
        return {ctx["data_file"]: ctx["data"]}

    def extra_files(self, ctx: dict) -> dict:
        """Files beside the templates' own: the table layout's data files."""
        return {} if ctx["data"] is None else self.data_files(ctx)

    def extra_context(self, ctx: dict) -> dict:
        """Language-specific template variables derived from the shared context."""
        return {}

    def finish(self, text: str) -> str:
        """A last pass over a rendered file (Go uses it for imports)."""
        return text


SELFTEST_ROWS = 32


def selftest_data(model: ir.Model) -> dict:
    """The rows a generated self-test scores and the outputs the model gives for them, as the
    raw IEEE-754 bits (uint64), so NaN rows and exact values survive any literal syntax and
    any compiler flag."""
    from .modelfile import self_check_rows

    rows, want = self_check_rows(model, SELFTEST_ROWS)
    as_bits = lambda a: np.ascontiguousarray(a, dtype="<f8").view("<u8").reshape(-1).tolist()
    return {"n_rows": len(rows), "rows": as_bits(rows), "want": as_bits(want)}


@functools.lru_cache(maxsize=1)
def template_env() -> jinja2.Environment:
    # transpiler/templates/ is package data, so a checkout, an sdist and a wheel read the same files.
    root = importlib.resources.files("transpiler.templates")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False)


def about(model: ir.Model, target: Target) -> dict:
    """What the generated package says about its model (README: The generated API), as this
    language's string literals: the strings come from the model file, so only through
    string_literal. Lists are wrapped in lines of `line_width` for the template to join."""
    from .. import __version__
    from .modelfile import model_hash

    def lines(values):
        items = [target.string_literal(str(v.item() if isinstance(v, np.generic) else v))
                 for v in values]
        return [", ".join(items[i:i + target.line_width]) for i in range(0, len(items), target.line_width)]

    return dict(hash=target.string_literal(model_hash(model)),
                source=target.string_literal(model.source),
                source_version=target.string_literal(model.source_version),
                generator=target.string_literal(f"{GENERATOR} {__version__}"),
                n_classes=len(model.classes), classes=lines(model.classes),
                features=lines(model.feature_names))


def libm_context(calls) -> dict:
    """What templates/<lang>/libm.j2 needs: which of exp / expf to emit, tables, constants."""
    return dict(libm=sorted(calls), **libm.hex_context(float.hex))


def libm_source(lang: str, calls=("exp", "expf")) -> str:
    """The libm include of one language on its own (proof programs and benchmarks)."""
    return template_env().get_template(f"{lang}/libm.j2").render(**libm_context(calls))


def context(model: ir.Model, target: Target, names: Names, layout: str) -> dict:
    """Everything a template needs, already rendered as this language's text.

    `data` is the table layout's binary file (Go embeds it, Java loads it as a resource) or None.
    """
    from .. import __version__

    raw = model.raw
    acc = raw.accumulate
    missing = raw.missing_value
    ctx = dict(
        names=names, package=names.package, function=names.function, class_name=names.class_name,
        generator=f"{GENERATOR} {__version__}", source=target.comment_text(model.source or "a model"),
        n_features=model.n_features, n_raw=raw.n_outputs, n_outputs=model.n_outputs,
        post=model.post, acc=acc, acc_t=target.types[acc],
        post_scale=target.literal(model.post_scale, acc),
        one=target.literal(1.0, acc), zero=target.literal(0.0, acc), two=target.literal(2.0, acc),
        kind="linear" if isinstance(raw, ir.Linear) else "kernel" if isinstance(raw, ir.Kernel)
        else "ensemble",
        output_kind=model.output_kind,
        missing_value=None if missing is None else target.double(missing),
        zero_threshold=target.double(ZERO_THRESHOLD),
        batch_rows=max(1, min(64, 8192 // max(model.n_features, model.n_x, 1))),
        blob_version=tbl.BLOB_VERSION, data_file=target.data_file(names), data=None,
        layout="linear", linear=False, has_categories=False, has_zero_missing=False, heap=False,
        big_block=False,
    )
    ctx["about"] = about(model, target)
    ctx.update(libm_context(libm.uses(model)))
    A = target.array_name
    more, stage_arrays = stages.context(model, target)   # preprocessing, kernels, post params
    ctx.update(more)
    if isinstance(raw, ir.Linear):
        ctx["arrays"] = [target.array(A("coef"), acc, raw.coef.reshape(-1)),
                         target.array(A("intercept"), acc, raw.intercept)] + stage_arrays
        ctx["narrow"] = acc == "float32"
        return ctx
    if isinstance(raw, ir.Kernel):
        ctx.update(arrays=stage_arrays, narrow=False)
        return ctx
    t = tbl.flatten(raw)
    chosen = tbl.choose_layout(t, layout, target.code_fits(t), target.code_max_tree_nodes)
    ctx.update(
        narrow=raw.feature_type == "float32", layout=chosen, op=raw.op, width=t.width,
        n_trees=len(raw.trees), has_zero_missing=t.has_zero_missing,
        has_categories=t.has_categories, mean=raw.aggregation == "mean",
        cat_strict=raw.cat_negative == "strict", linear=t.linear is not None,
        base_score=", ".join(target.literal(v, acc) for v in raw.base_score),
        counts=[target.literal(max(int(c), 1), acc) for c in raw.trees_per_output()],
        tree_bodies=[], heap=chosen == "table" and tbl.heap_eligible(t),
    )
    if ctx["heap"]:
        t = tbl.to_heap(t)
        ctx["heap_depth"] = t.max_depth
    elif chosen == "table":
        ctx.update(big_block=True, batch_rows=tbl.walk_block_rows(max(model.n_features, model.n_x)))
    fmt = tbl.node_format(t, raw.feature_type == "float32")
    ctx.update(node_format=fmt, feature_bits=t.feature_bits, feature_mask=t.feature_mask,
               jump_shift=t.feature_bits + len(tbl.FLAGS), node_formats=tbl.NODE_FORMATS,
               has_swaps=t.has_swaps, swapped_shift=t.flag("swapped").bit_length() - 1,
               # C and Go walk a row without NaN through four trees at once without branches (plain splits)
               lanes=chosen == "table" and not ctx["heap"] and len(raw.trees) >= 4
               and not (t.has_categories or t.has_zero_missing),
               **{f"flag_{name}": t.flag(name) for name in tbl.FLAGS})
    arrays = {"leaf_value": (acc, t.leaf_value)}
    if raw.n_outputs > 1:       # with one output, every tree adds to it
        arrays["tree_target"] = ("int32", t.targets)
    if t.has_categories:
        arrays["cat_bits"] = ("uint32", t.cat_bits)
    if t.linear is not None:
        for name, dtype, values in zip(("lin_const", "lin_start", "lin_feature", "lin_coef"),
                                       ("float64", "int32", "int32", "float64"), t.linear):
            arrays[name] = (dtype, values)
    if chosen == "code":
        ctx["tree_bodies"] = [target.tree_code(t, k, int(r), raw.op) for k, r in enumerate(t.roots)]
        ctx.update(block_size=tbl.TREE_BLOCK, tree_blocks=tbl.tree_blocks(len(t.roots)),
                   busiest_feature=tbl.busiest_feature(raw))
        if len(ctx["tree_blocks"]) > 1:     # the more rows run through a block in turn, the better
            ctx.update(big_block=True, batch_rows=tbl.walk_block_rows(max(model.n_features, model.n_x)))
    else:
        ctx["data"] = tbl.blob(t, fmt, raw.op, packed=target.packed_nodes)
        ctx["table_sizes"] = tbl.section_sizes(t)
        arrays = {}
    ctx["arrays"] = [target.array(A(name), dtype, values)
                     for name, (dtype, values) in arrays.items()] + stage_arrays
    return ctx
