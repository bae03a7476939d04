"""The user's Go function name against the generated package's own identifiers.

Templates use plain helper names (`score`, `post`, `narrow`, `addLeaf`, locals such as `input`,
imported packages such as `math`). Go.render renders with a placeholder for --function, then
binds the user's name here: every identifier of the generated files that equals one of the
user's names (F, FChecked, FBatch) is renamed to a fresh identifier of the same length (so
gofmt's column alignment does not change), an imported package gets an alias, and only what
cannot move (exported names, Go's predeclared identifiers) makes the name refused.
"""
from __future__ import annotations

import itertools
import re

from ..errors import OptionError

# Stands for --function while rendering; no template or model string produces it.
PLACEHOLDER = "ZqTranspilerFunctionZq"
SUFFIXES = ("", "Checked", "Batch")

GO_KEYWORDS = frozenset("""break case chan const continue default defer else fallthrough for func go
goto if import interface map package range return select struct switch type var""".split())

PREDECLARED = frozenset("""any bool byte comparable complex64 complex128 error float32 float64 int
int8 int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr true false iota nil
append cap clear close complex copy delete imag len make max min new panic print println real
recover""".split())

# Comments and literals pass unchanged; numbers are consumed whole so `0x1p-3` or `1e10` never
# look like identifiers.
TOKEN = re.compile(r"""(?P<skip>//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|`[^`]*`|'(?:\\.|[^'\\\n])*'
                       |\.?[0-9](?:[eEpP][+-]|[\w.])*)
                     |(?P<id>[A-Za-z_]\w*)""", re.S | re.X)
LOWER = "abcdefghijklmnopqrstuvwxyz"
ALNUM = "0123456789" + LOWER
IMPORT_LINE = re.compile(r'^\t"(?P<path>[\w/]+)"$', re.M)


def check_function(function: str) -> None:
    """Names Go itself forbids or that would change the meaning of the generated code."""
    if function == "init":
        raise OptionError("--function 'init' is reserved in Go for package initializers, "
                          "which cannot be called; choose another name")
    if function == "_":
        raise OptionError("--function '_' is Go's blank identifier, which cannot be called; "
                          "choose another name")
    if function in PREDECLARED:
        raise OptionError(f"--function {function!r} would hide Go's predeclared {function}, "
                          "which the generated code uses; choose another name")


def check_package(package: str) -> None:
    if package == "main":
        raise OptionError("--package 'main' makes a program, not a library other Go code can "
                          "import (and needs a func main); choose another name")
    if package == "_":
        raise OptionError("--package '_' is Go's blank identifier, not a usable package name; "
                          "choose another name")
    if package == "init":
        raise OptionError("--package 'init' cannot be imported under its own name in Go "
                          "(init is reserved for initializers); choose another name")


def identifiers(text: str) -> set[str]:
    return {m.group("id") for m in TOKEN.finditer(text) if m.group("id")}


def fresh(name: str, taken: set[str]) -> str | None:
    """An unexported identifier as long as name, not in `taken`: its last one to three
    characters replaced."""
    n = len(name)
    for k in range(1, min(n, 3) + 1):
        heads = LOWER if k == n else ALNUM     # a new first character must be a letter
        for combo in itertools.product(heads, *[ALNUM] * (k - 1)):
            cand = name[:n - k] + "".join(combo)
            if cand not in taken and cand not in PREDECLARED and cand not in GO_KEYWORDS:
                return cand
    return None


def split_clause(text: str) -> tuple[str, str]:
    """(up to the package clause, the rest): the clause's name is in no scope, so it neither
    collides nor is renamed."""
    clause = re.search(r"^package \w+\n", text, re.M)
    return text[:clause.end()], text[clause.end():]


def bind(files: dict, function: str) -> dict:
    """files rendered with PLACEHOLDER for --function, with the user's name in its place."""
    sources = {path: split_clause(text) for path, text in files.items()
               if path.endswith(".go") and isinstance(text, str)}
    present = set().union(*(identifiers(body) for _, body in sources.values()))
    wanted = {function + s for s in SUFFIXES}
    taken = present | wanted
    renames = {}
    for name in sorted(wanted & present):
        new = fresh(name, taken) if not name[0].isupper() else None
        if new is None:
            raise OptionError(f"--function {function!r}: the generated Go package already has "
                              f"{name} (part of its API); choose another name")
        renames[name] = new
        taken.add(new)
    out = dict(files)
    for path, (head, body) in sources.items():
        if renames:
            body = TOKEN.sub(lambda m: renames.get(m.group("id"), m.group(0))
                             if m.group("id") else m.group(0), body)
            imports = {m.group("path").rsplit("/", 1)[-1]: m for m in IMPORT_LINE.finditer(body)}
            for name, new in renames.items():
                if name in imports:    # the package keeps its path under another name
                    spec = imports[name]
                    body = body.replace(spec.group(0), f'\t{new} "{spec.group("path")}"', 1)
        out[path] = (head + body).replace(PLACEHOLDER, function)
    return out
