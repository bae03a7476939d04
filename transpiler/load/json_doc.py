"""JSON documents of untrusted files, parsed under the load's Budget.

The standard json module parses in C, quickly (tens of MB a second on any input, so the clock
is checked before and after), but builds Python objects far larger than their text: `0,` is a
list slot of 8 bytes, `[],` a list of 64, `{"":0},` a dict of about 200. Before parsing, the
objects the text can make are bounded from counts of its separators and charged, so a file of
ten million tiny numbers or empty containers is refused instead of filling memory. Nesting
deeper than the recursion limit (1000, as MAX_DEPTH) is reported as too deep.
"""
from __future__ import annotations

import json

from .budget import Budget

ITEM_BYTES = 64         # a number or string object and its slot in a list (measured: 10-64)
ENTRY_BYTES = 128       # a dict entry: its slot in the hash table, with growth (measured: 64-130)
CONTAINER_BYTES = 72    # an empty list or dict and its slot


def cost(data: bytes) -> int:
    """An upper bound of what json.loads(data) allocates: every value follows a comma, colon or
    opening bracket; text (decoded and inside strings) takes up to 4 bytes a character when
    it is not ASCII."""
    per_char = 1 if data.isascii() else 4
    return (ITEM_BYTES * (data.count(b",") + 1) + ENTRY_BYTES * data.count(b":")
            + CONTAINER_BYTES * (data.count(b"[") + data.count(b"{")) + 2 * per_char * len(data))


def loads(data: bytes, budget: Budget, what: str = "its JSON document"):
    """json.loads, refused by the budget before it allocates too much or nests too deep.
    Malformed text raises ValueError as json.loads does."""
    budget.check_time()
    budget.charge(cost(data), what)
    try:
        doc = json.loads(data)
    except RecursionError:
        raise budget.too_deep() from None
    budget.check_time()
    return doc
