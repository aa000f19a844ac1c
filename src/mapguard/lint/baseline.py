"""Baselines: record today's findings, then report only new ones.

A finding is recognised by its rule, its file (relative to the baseline's directory) and the
text of its source line, not by its line number, so edits elsewhere in the file do not turn old
findings into new ones. Identical fingerprints are counted, so a second copy of a baselined
mistake is still reported.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from mapguard.digests import sha256_hex
from mapguard.errors import InputError
from mapguard.lint.output import SourceLines
from mapguard.lint.rule import Finding

BASELINE_VERSION = 1


def fingerprint(finding: Finding, base: Path, lines: SourceLines) -> str:
    try:
        relative = finding.path.relative_to(base).as_posix()
    except ValueError:
        relative = finding.path.as_posix()
    text = " ".join((lines.line(finding.path, finding.line) or "").split())
    digest = sha256_hex(f"{finding.rule}\0{relative}\0{text}".encode())
    return digest[:24]


def write_baseline(path: Path, findings: Iterable[Finding]) -> int:
    lines = SourceLines()
    base = path.resolve().parent
    entries = [
        {"rule": f.rule, "path": _relative(f.path, base), "line": f.line,
         "fingerprint": fingerprint(f, base, lines), "message": f.message}
        for f in findings
    ]
    try:
        path.write_text(json.dumps({"version": BASELINE_VERSION, "findings": entries},
                                   indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot write baseline: {exc.strerror}") from None
    return len(entries)


def filter_new(path: Path, findings: Iterable[Finding]) -> tuple[list[Finding], int]:
    """The findings not in the baseline, and how many were matched by it."""
    known = Counter(_read_fingerprints(path))
    lines = SourceLines()
    base = path.resolve().parent
    new: list[Finding] = []
    matched = 0
    for finding in findings:
        key = fingerprint(finding, base, lines)
        if known[key] > 0:
            known[key] -= 1
            matched += 1
        else:
            new.append(finding)
    return new, matched


def _read_fingerprints(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise InputError(path, f"cannot read baseline: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not a baseline: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not a baseline: invalid JSON ({exc.msg})",
                         where=f"line {exc.lineno}") from None
    if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION or not isinstance(
        data.get("findings"), list
    ):
        raise InputError(path, "not a mapguard baseline",
                         expected=f'{{"version": {BASELINE_VERSION}, "findings": [...]}}')
    try:
        return [str(entry["fingerprint"]) for entry in data["findings"]]
    except (KeyError, TypeError):
        raise InputError(path, "baseline entry without a fingerprint") from None


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()
