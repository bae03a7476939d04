"""`--check DIR`: do the files in DIR still equal what the tool generates from the model now?

Like a formatter's check mode: only the files the tool would write are compared (DIR may hold
others, such as go.mod or tests), and nothing is written. Line endings are compared after
CRLF -> LF, so a checkout with core.autocrlf does not count as drift.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field

DIFF_LINES = 12     # lines of unified diff shown per changed file


@dataclass
class CheckResult:
    directory: str
    missing: list = field(default_factory=list)     # files the tool writes that DIR lacks
    changed: list = field(default_factory=list)     # (file, summary, diff lines)
    same: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.changed

    def summary(self) -> str:
        parts = []
        if self.changed:
            names = ", ".join(f for f, _, _ in self.changed)
            parts.append(f"{len(self.changed)} changed ({names})")
        if self.missing:
            parts.append(f"{len(self.missing)} missing ({', '.join(self.missing)})")
        return "; ".join(parts)


def _read(path: str):
    with open(path, "rb") as fh:
        return fh.read()


def _text_diff(name: str, old: str, new: str):
    a, b = old.splitlines(), new.splitlines()
    diff = list(difflib.unified_diff(a, b, f"{name} (in the directory)", f"{name} (generated now)",
                                     n=1, lineterm=""))
    added = sum(1 for d in diff[2:] if d.startswith("+"))
    removed = sum(1 for d in diff[2:] if d.startswith("-"))
    return f"{_lines(removed)} removed, {added} added", diff


def _lines(n: int) -> str:
    return f"{n} line" if n == 1 else f"{n} lines"


def check_files(files: dict, directory: str) -> CheckResult:
    """Compare generated `files` ({relative path: text or bytes}) with those in `directory`."""
    result = CheckResult(directory=directory)
    for rel in sorted(files):
        path = os.path.join(directory, rel)
        if not os.path.isfile(path):
            result.missing.append(rel)
            continue
        want = files[rel]
        have = _read(path)
        if isinstance(want, bytes):
            if have != want:
                result.changed.append((rel, f"binary content differs ({len(have):,} bytes in "
                                            f"the directory, {len(want):,} generated)", []))
                continue
        else:
            try:
                text = have.decode("utf-8").replace("\r\n", "\n")
            except UnicodeDecodeError:
                text = None
            if text != want:
                if text is None:
                    result.changed.append((rel, "not UTF-8 text", []))
                else:
                    result.changed.append((rel, *_text_diff(rel, text, want)))
                continue
        result.same.append(rel)
    return result


def render(result: CheckResult, regenerate: str = "") -> str:
    """The diff summary a user reads: which files drifted, and the first changed lines."""
    if result.ok:
        n = len(result.same)
        return f"check: {n} file{'' if n == 1 else 's'} in {result.directory} up to date\n"
    lines = [f"check: {result.directory} differs from what the model generates now"]
    for rel in result.missing:
        lines.append(f"  {rel}: missing")
    for rel, what, diff in result.changed:
        lines.append(f"  {rel}: {what}")
        shown = diff[:DIFF_LINES]
        lines += [f"    {d}" for d in shown]
        if len(diff) > len(shown):
            lines.append(f"    ... ({len(diff) - len(shown)} more diff lines)")
    if regenerate:
        lines.append(f"regenerate with: {regenerate}")
    return "\n".join(lines) + "\n"
