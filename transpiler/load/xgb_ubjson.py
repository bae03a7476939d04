"""A UBJSON decoder for XGBoost's `.ubj` model files, so reading them needs no xgboost.

UBJSON (ubjson.org, draft 12) is JSON with typed binary values, big-endian. XGBoost writes
node tables as strongly typed counted arrays (`[$d#L<n>` + n float32s), which we turn into
NumPy arrays in one `frombuffer` call; everything else becomes dicts, lists, str, int, float.

The decoder keeps an explicit stack of open containers (no recursion, at most MAX_DEPTH deep),
checks every length against the bytes left, charges each value to the load's Budget before
making it (a count of 10^9 one-byte items would otherwise build ~64 bytes of Python objects per
byte of file), checks the clock as it goes, and raises UBJSONError (a ValueError) with the
offset on bad input.
"""
from __future__ import annotations

import struct

import numpy as np

from .budget import Budget, current

# Fixed-size scalar markers: (struct format, size, NumPy big-endian dtype).
_SCALARS = {
    b"i": (">b", 1, ">i1"),
    b"U": (">B", 1, ">u1"),
    b"I": (">h", 2, ">i2"),
    b"l": (">i", 4, ">i4"),
    b"L": (">q", 8, ">i8"),
    b"d": (">f", 4, ">f4"),
    b"D": (">d", 8, ">f8"),
}
_INT_MARKERS = (b"i", b"U", b"I", b"l", b"L")
_CONSTANTS = {b"Z": None, b"T": True, b"F": False}
# What a decoded value costs in Python objects, charged before it is made (bytes).
SCALAR_BYTES = 40       # an int or float object and its slot
SLOT_BYTES = 8          # None, True, False: a shared object, only the slot
CONTAINER_BYTES = 72    # an empty list or dict and its slot
ENTRY_BYTES = 48        # a dict entry beyond its key string
STRING_BYTES = 64       # a str object's header and its slot, plus 4 bytes a character at most
ARRAY_BYTES = 128       # a NumPy array's header, plus its data twice (the slice and the copy)
_NATIVE = {">i1": np.int8, ">u1": np.uint8, ">i2": np.int16, ">i4": np.int32, ">i8": np.int64,
           ">f4": np.float32, ">f8": np.float64}


class UBJSONError(ValueError):
    """The bytes are not valid UBJSON (or use a feature XGBoost never writes)."""


class _Frame:
    """An open array or object: where decoded values go until the container closes."""

    __slots__ = ("value", "is_object", "remaining", "elem", "key")

    def __init__(self, is_object, remaining, elem):
        self.value = {} if is_object else []
        self.is_object = is_object
        self.remaining = remaining      # None: closed by ']' / '}'
        self.elem = elem                # marker every element has ($ type), or None
        self.key = None


class _Reader:
    def __init__(self, data: bytes, budget: Budget):
        self.buf = bytes(data)
        self.pos = 0
        self.budget = budget

    def fail(self, what: str):
        raise UBJSONError(f"{what} at byte {self.pos}")

    def take(self, n: int) -> bytes:
        pos = self.pos
        if n < 0 or pos + n > len(self.buf):
            self.fail("unexpected end of data")
        self.pos = pos + n
        return self.buf[pos:pos + n]

    def marker(self, skip_noop: bool = True) -> bytes:
        buf, pos = self.buf, self.pos
        while True:
            m = buf[pos:pos + 1]
            if not m:
                self.fail("unexpected end of data")
            pos += 1
            if m != b"N" or not skip_noop:
                self.pos = pos
                return m

    def scalar(self, m: bytes):
        fmt, size, _ = _SCALARS[m]
        if self.pos + size > len(self.buf):
            self.fail("unexpected end of data")
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += size
        return value

    def length(self, m: bytes) -> int:
        if m not in _INT_MARKERS:
            self.fail(f"expected an integer length, found marker {m!r}")
        n = self.scalar(m)
        if n < 0:
            self.fail("negative length")
        return n

    def string(self, length_marker: bytes) -> str:
        n = self.length(length_marker)
        if n <= len(self.buf) - self.pos:
            self.budget.charge(STRING_BYTES + 4 * n, "a string")
        try:
            return str(self.take(n), "utf-8")
        except UnicodeDecodeError:
            self.fail("invalid UTF-8 in a string")

    def header(self):
        """After '[' or '{': the optional $type and #count of an optimized container."""
        elem = count = None
        m = self.marker()
        if m == b"$":
            elem = bytes(self.take(1))
            if elem in _CONSTANTS or elem == b"N":
                self.fail(f"typed container of {elem!r} values is not supported")
            m = self.marker()
            if m != b"#":
                self.fail("a typed container needs a count")
        if m == b"#":
            count = self.length(self.marker())
            # Every element takes at least one byte, so a count past the end is corrupt.
            if count > len(self.buf) - self.pos:
                self.fail(f"container count {count} is larger than the data left")
        else:
            self.pos -= 1  # not a header: give the marker back
        return elem, count


def decode(data: bytes, budget: Budget | None = None):
    """Decode one UBJSON value (XGBoost models: an object) from `data`, charging `budget`
    (by default the active load's; outside a load only the nesting is bounded)."""
    if budget is None:
        budget = current("the UBJSON data")
    r = _Reader(data, budget)
    cost = steps = 0        # small values are charged (and the clock read) 1024 at a time
    stack: list[_Frame] = []
    result = _UNSET = object()

    def deliver(value):
        nonlocal result
        if not stack:
            result = value
            return
        top = stack[-1]
        if top.is_object:
            top.value[top.key] = value
            top.key = None
        else:
            top.value.append(value)
        if top.remaining is not None:
            top.remaining -= 1

    while result is _UNSET:
        steps += 1
        if steps & 1023 == 0:
            budget.charge(cost, "its values")
            budget.check_time()
            cost = 0
        top = stack[-1] if stack else None
        if top is not None and top.remaining == 0:
            deliver(stack.pop().value)
            continue
        if top is not None and top.is_object and top.key is None:
            m = r.marker()
            if top.remaining is None and m == b"}":
                deliver(stack.pop().value)
                continue
            top.key = r.string(m)
            cost += ENTRY_BYTES
        if top is not None and top.elem is not None:
            m = top.elem
        else:
            m = r.marker()
            if top is not None and not top.is_object and top.remaining is None and m == b"]":
                deliver(stack.pop().value)
                continue
        if m in _SCALARS:
            cost += SCALAR_BYTES
            deliver(r.scalar(m))
        elif m in _CONSTANTS:
            cost += SLOT_BYTES
            deliver(_CONSTANTS[m])
        elif m == b"S":
            deliver(r.string(r.marker()))
        elif m == b"C":
            cost += STRING_BYTES
            deliver(chr(r.take(1)[0]))
        elif m == b"H":
            text = r.string(r.marker())
            try:
                deliver(float(text) if any(c in text for c in ".eE") else int(text))
            except ValueError:
                r.fail(f"bad high-precision number {text!r}")
        elif m in (b"[", b"{"):
            elem, count = r.header()
            if m == b"[" and elem in _SCALARS and count is not None:
                _, size, dtype = _SCALARS[elem]
                if size * count > len(r.buf) - r.pos:
                    r.fail(f"typed array of {count} items is larger than the data left")
                budget.charge(ARRAY_BYTES + 2 * size * count, "a typed array")
                raw = r.take(size * count)
                deliver(np.frombuffer(raw, dtype=dtype).astype(_NATIVE[dtype]))
                continue
            cost += CONTAINER_BYTES
            closer = b"}" if m == b"{" else b"]"
            if count == 0 or count is None and r.buf[r.pos:r.pos + 1] == closer:
                r.pos += count is None          # an empty container needs no frame
                deliver({} if m == b"{" else [])
                continue
            budget.check_depth(len(stack) + 1)
            stack.append(_Frame(m == b"{", count, elem))
        else:
            r.pos -= 1
            r.fail(f"unknown marker {m!r}")
    if r.pos != len(r.buf):
        r.fail("trailing bytes after the top-level value")
    return result
