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

    # --- syntax hooks used by tables.tree_branches -------------------------------------
    def if_open(self, cond: str) -> str:
        return f"if ({cond}) {{"

    def ret(self, value: str) -> str:
        return f"return {value};"

    def call_in_category(self, v: str, offset: int) -> str:
        return f"in_category({v}, {offset})"

    def is_zero(self, v: str) -> str:
        return f"fabs({v}) <= 1e-35"

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
    def render(self, model: ir.Model, names: Names, layout: str) -> dict:
        ctx = context(model, self, names, layout)
        ctx.update(self.extra_context(ctx))
        env = template_env()
        out = {}
        for path, template in self.files.items():
            text = env.get_template(template).render(**ctx)
            out[path.format(**vars(names))] = self.finish(text)
        return out

    def extra_context(self, ctx: dict) -> dict:
        """Language-specific template variables derived from the shared context."""
        return {}

    def finish(self, text: str) -> str:
        """A last pass over a rendered file (Go uses it for imports)."""
        return text


@functools.lru_cache(maxsize=1)
def template_env() -> jinja2.Environment:
    # templates/ lives beside the package in the repository and is installed as
    # transpiler.templates (see pyproject.toml).
    root = importlib.resources.files("transpiler.templates")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False)


def context(model: ir.Model, target: Target, names: Names, layout: str) -> dict:
    """Everything a template needs, already rendered as this language's text."""
    from .. import __version__

    raw = model.raw
    acc = raw.accumulate if isinstance(raw, ir.Ensemble) else "float64"
    ctx = dict(
        names=names, package=names.package, function=names.function, class_name=names.class_name,
        generator=f"{GENERATOR} {__version__}", source=model.source or "a model",
        source_version=model.source_version,
        n_features=model.n_features, n_raw=raw.n_outputs, n_outputs=model.n_outputs,
        post=model.post, acc=acc, acc_t=target.types[acc],
        post_scale=target.literal(model.post_scale, acc),
        one=target.literal(1.0, acc), zero=target.literal(0.0, acc), two=target.literal(2.0, acc),
        arrays=[], kind="linear" if isinstance(raw, ir.Linear) else "ensemble",
        output_kind=model.output_kind, classes=", ".join(str(c) for c in model.classes),
    )
    A = target.array_name
    if isinstance(raw, ir.Linear):
        ctx["arrays"] = [target.array(A("coef"), "float64", raw.coef.reshape(-1)),
                         target.array(A("intercept"), "float64", raw.intercept)]
        ctx.update(narrow=False, layout="linear")
        return ctx
    t = tbl.flatten(raw)
    chosen = tbl.choose_layout(raw, t, layout)
    counts = raw.trees_per_output()
    ctx.update(
        narrow=raw.feature_type == "float32", layout=chosen, op=raw.op, width=t.width,
        n_trees=len(raw.trees), has_zero_missing=t.has_zero_missing,
        has_categories=t.has_categories, mean=raw.aggregation == "mean",
        cat_strict=raw.cat_negative == "strict",
        base_score=", ".join(target.literal(v, acc) for v in raw.base_score),
        counts=[target.literal(max(int(c), 1), acc) for c in counts],
        targets=[int(v) for v in t.targets],
        tree_bodies=[], linear=t.linear is not None,
    )
    arrays = [target.array(A("leaf_value"), acc, t.leaf_value)]
    if t.linear is not None:
        const, start, feature, coef = t.linear
        arrays += [target.array(A("lin_const"), "float64", const),
                   target.array(A("lin_start"), "int32", start),
                   target.array(A("lin_feature"), "int32", feature),
                   target.array(A("lin_coef"), "float64", coef)]
    if t.has_categories:
        arrays.append(target.array(A("cat_bits"), "uint32", t.cat_bits))
    if chosen == "code":
        ctx["tree_bodies"] = ["\n".join(tbl.tree_branches(t, int(r), target, raw.op,
                                                             target.body_depth))
                              for r in t.roots]
    else:
        arrays += [target.array(A("node_feature"), "int32", t.feature),
                   target.array(A("node_threshold"), "float64", t.threshold),
                   target.array(A("node_left"), "int32", t.left),
                   target.array(A("node_right"), "int32", t.right),
                   target.array(A("node_flags"), "uint8", t.flags),
                   target.array(A("tree_root"), "int32", t.roots),
                   target.array(A("tree_target"), "int32", t.targets)]
        if t.has_categories:
            arrays.append(target.array(A("node_cat"), "int32", t.cat_offset))
    ctx["arrays"] = arrays
    return ctx
