"""Limits on what loading one untrusted file may cost: memory, time and nesting.

A file of a few bytes can ask for gigabytes (a bytearray of 3e9, a compressed stream that
inflates a thousandfold, a list shared at every level of a 40-deep nest that turns into 2^40
strings, a UBJSON count of 10^9, a LightGBM tree of num_leaves=10^9) or for minutes. The
unpickler and every native reader (XGBoost JSON, UBJSON and binary, LightGBM text) charge each
allocation they make for the file to the load's one Budget before making it, and check the
clock as they read; both scale with the file's size, so a real model as large as its file says
stays within them:
- memory: MEMORY_PER_BYTE times the file's size, at least MEMORY_FLOOR;
- time: SECONDS_FLOOR, plus SECONDS_PER_MB for each MB of the file (importing the
  libraries' modules a file names does not count);
- nesting: containers at most MAX_DEPTH deep, and no container that counts more than
  `memory / 8` items when shared parts are counted each time they appear.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import time

from ..errors import InputError

MEMORY_FLOOR = 128 << 20
MEMORY_PER_BYTE = 32
SECONDS_FLOOR = 10.0
SECONDS_PER_MB = 1.0
MAX_DEPTH = 1000


_ACTIVE = contextvars.ContextVar("transpiler_load_budget", default=None)


@contextlib.contextmanager
def active(budget: "Budget"):
    """Make `budget` the one readers charge when not handed one (bytes an estimator kept,
    parsed after the unpickler returned), for the rest of this load."""
    token = _ACTIVE.set(budget)
    try:
        yield budget
    finally:
        _ACTIVE.reset(token)


def current(path: str) -> "Budget":
    """The active load's budget; outside a load of a file (an object in memory), none."""
    budget = _ACTIVE.get()
    return budget if budget is not None else Budget.unbounded(path)


class BudgetError(InputError):
    """Loading the file would go past one of the budgets."""


def _mb(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MB"


class Budget:
    """What one load may still allocate and until when it may run."""

    def __init__(self, path: str, size: int | None = None):
        if size is None:
            size = os.stat(path).st_size
        self.path = path
        self.limit = max(MEMORY_FLOOR, MEMORY_PER_BYTE * size)
        self.used = 0
        self.seconds = SECONDS_FLOOR + SECONDS_PER_MB * size / (1 << 20)
        self.deadline = time.monotonic() + self.seconds
        self._ticks = 0

    @classmethod
    def unbounded(cls, path: str) -> "Budget":
        """No memory or time limit (an object already in memory, a file the caller trusts);
        nesting is still bounded."""
        budget = cls(path, 0)
        budget.limit = budget.seconds = float("inf")
        budget.deadline = float("inf")
        return budget

    def charge(self, n: int, what: str = "its contents") -> None:
        """Count n more bytes, or refuse before they are allocated."""
        if n < 0:
            raise BudgetError(f"refused to load {self.path}: it holds a negative size for {what}")
        self.used += n
        if self.used > self.limit:
            raise BudgetError(
                f"refused to load {self.path}: {what} would take more than {_mb(self.limit)} "
                f"of memory ({MEMORY_PER_BYTE}x the file's size, at least {_mb(MEMORY_FLOOR)}); "
                "nothing in it was run. A real model needs no more than that")

    def tick(self) -> None:
        """Called often: refuse once the time budget is spent (the clock read one call in 256)."""
        self._ticks += 1
        if self._ticks & 255 == 0:
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise BudgetError(
                f"refused to load {self.path}: reading it took more than {self.seconds:.0f} s "
                f"({SECONDS_FLOOR:.0f} s plus {SECONDS_PER_MB:.0f} s per MB of file); "
                "nothing in it was run")

    def check_depth(self, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise self.too_deep()

    def too_deep(self) -> BudgetError:
        return BudgetError(f"refused to load {self.path}: it nests containers more than "
                           f"{MAX_DEPTH} deep; nothing in it was run")

    def too_wide(self, items: int) -> BudgetError:
        return BudgetError(f"refused to load {self.path}: a structure in it shares parts so that "
                           f"it counts more than {items:,} items when expanded; nothing in it "
                           "was run")
