"""The kernel's uprobe events (tracefs `uprobe_events`): define probes at any instruction.

A uprobe event is a definition: `p:GROUP/EVENT PATH:OFFSET name=fetcharg...`. It costs nothing
until something attaches to it; mapguard attaches with perf_event_open (see `perf.py`), so the
breakpoints exist exactly as long as mapguard's file descriptors do, and the kernel removes
them when mapguard exits in any way, SIGKILL included. The definitions are removed on every
exit path mapguard controls; ones left by a killed run (their group names the dead process)
are removed by the next run.

Every run uses its own group, `mapguard_<pid>_<random>`, so parallel runs never collide.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mapguard.errors import InputError, ToolError

_ROOTS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
GROUP_PREFIX = "mapguard_"
_OUR_GROUP = re.compile(r"^[pr]:mapguard_(?P<pid>\d+)_[0-9a-f]+/(?P<event>\w+) ")
_FIELD = re.compile(r"field:(?P<type>[^;]*?)\s+(?P<name>\w+)(?:\[\d*\])?;\s*offset:(?P<offset>\d+);"
                    r"\s*size:(?P<size>\d+);\s*signed:(?P<signed>\d)")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    offset: int
    size: int
    signed: bool


def parse_format(text: str, source: str) -> dict[str, Field]:
    """An event's `format` file: its fields by name, with their offsets in the raw record."""
    fields = {match["name"]: Field(match["name"], int(match["offset"]), int(match["size"]),
                                   match["signed"] == "1")
              for match in _FIELD.finditer(text)}
    if "common_type" not in fields:
        raise InputError(source, "not a trace event format", expected="field: lines")
    return fields


def find_tracefs() -> Path:
    """The tracefs mount with uprobe_events, mounting tracefs when it is not mounted yet."""
    for root in _ROOTS:
        if (root / "uprobe_events").exists():
            return root
    if _ROOTS[0].is_dir() and not any(_ROOTS[0].iterdir()):
        proc = subprocess.run(["mount", "-t", "tracefs", "nodev", str(_ROOTS[0])],
                              capture_output=True, text=True, check=False)
        if proc.returncode == 0 and (_ROOTS[0] / "uprobe_events").exists():
            return _ROOTS[0]
    if any((root / "README").exists() for root in _ROOTS):
        raise ToolError("this kernel has no uprobe events (tracefs has no uprobe_events; "
                        "it needs CONFIG_UPROBE_EVENTS=y)")
    raise ToolError("tracefs is not mounted and could not be mounted at /sys/kernel/tracing; "
                    "mount it: mount -t tracefs nodev /sys/kernel/tracing")


class UprobeEvents:
    """The uprobe events of one run: defined here, removed by `remove_all` (idempotent)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or find_tracefs()
        self.group = f"{GROUP_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
        self.defined: list[str] = []

    def define(self, event: str, path: str, offset: int, fetch: str) -> None:
        line = f"p:{self.group}/{event} {path}:0x{offset:x} {fetch}".rstrip()
        try:
            self._write(line)
        except OSError as exc:
            raise ToolError(f"the kernel refused uprobe {line!r}: "
                            f"{self._last_error() or os.strerror(exc.errno or 0)}") from None
        self.defined.append(event)

    def event_id(self, event: str) -> int:
        return int((self.root / "events" / self.group / event / "id").read_text())

    def fields(self, event: str) -> dict[str, Field]:
        path = self.root / "events" / self.group / event / "format"
        return parse_format(path.read_text(), str(path))

    def remove_all(self) -> list[str]:
        """Remove every definition of this run; returns the ones the kernel kept (busy)."""
        kept = []
        for event in self.defined:
            try:
                self._write(f"-:{self.group}/{event}")
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    kept.append(event)
        self.defined = kept
        return kept

    def _write(self, line: str) -> None:
        # O_APPEND without a seek: tracefs rejects the lseek that Python's "a" mode does.
        fd = os.open(self.root / "uprobe_events", os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def _last_error(self) -> str:
        with contextlib.suppress(OSError):
            lines = (self.root / "error_log").read_text().strip().splitlines()
            return lines[-1].strip() if lines else ""
        return ""


def remove_stale(root: Path) -> int:
    """Remove the definitions of mapguard runs whose process is gone; returns how many."""
    removed = 0
    for line in (root / "uprobe_events").read_text().splitlines():
        match = _OUR_GROUP.match(line)
        if match is None or Path(f"/proc/{match['pid']}").exists():
            continue
        group = line.split(":", 1)[1].split("/", 1)[0]
        with contextlib.suppress(OSError):
            fd = os.open(root / "uprobe_events", os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, f"-:{group}/{match['event']}\n".encode())
                removed += 1
            finally:
                os.close(fd)
    return removed
