"""Run a Go program with `GODEBUG=gctrace=1` and collect its GC cycles as they happen.

The child keeps the terminal: its stdin and stdout are ours, and every byte it writes to stderr
is copied to our stderr unchanged, as it arrives, while the gctrace lines in it are parsed.
Ctrl-C reaches the child (same process group) and ends the run; what was collected stays, and
a second Ctrl-C kills a child that does not exit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import BinaryIO

from mapguard.errors import ToolError
from mapguard.formats.gctrace import GcTrace, GctraceParser

_READ_SIZE = 1 << 16


@dataclass(frozen=True, slots=True)
class GcRun:
    trace: GcTrace
    command: tuple[str, ...]
    exit_status: int  # negative: killed by that signal (subprocess convention)
    interrupted: bool


def godebug_with_gctrace(current: str | None) -> str:
    """GODEBUG with ``gctrace=1`` appended: the runtime lets the last setting of a name win."""
    return f"{current},gctrace=1" if current else "gctrace=1"


def run_with_gctrace(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    passthrough: BinaryIO | None = None,
) -> GcRun:
    """Run `command` to its end; `passthrough` receives the child's stderr (default: ours)."""
    if not command:
        raise ToolError("no command to run (usage: mapguard gc -- ./server ARGS...)")
    child_env = dict(os.environ if env is None else env)
    child_env["GODEBUG"] = godebug_with_gctrace(child_env.get("GODEBUG"))
    out = passthrough if passthrough is not None else sys.stderr.buffer
    try:
        child = subprocess.Popen(list(command), stderr=subprocess.PIPE, env=child_env)
    except OSError as exc:
        raise ToolError(f"cannot run {command[0]}: {exc.strerror or exc}") from exc

    interrupts = 0

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupts
        interrupts += 1
        # The terminal sends SIGINT to the child as well; pass it on in case we were signalled
        # alone, and insist the second time.
        if child.poll() is not None:
            return
        if interrupts == 1:
            child.send_signal(signal.SIGINT)
        else:
            child.kill()

    parser = GctraceParser()
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        _pump(child, out, parser)
        status = child.wait()
    finally:
        signal.signal(signal.SIGINT, previous)
    return GcRun(parser.result(), tuple(command), status, interrupts > 0)


def _pump(child: subprocess.Popen[bytes], out: BinaryIO, parser: GctraceParser) -> None:
    assert child.stderr is not None
    fd = child.stderr.fileno()
    pending = b""
    passing = True
    while chunk := os.read(fd, _READ_SIZE):
        if passing:
            try:
                out.write(chunk)
                out.flush()
            except OSError:
                passing = False  # our stderr went away; keep collecting the child's cycles
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            parser.feed(line.decode("utf-8", "replace"))
    if pending:
        parser.feed(pending.decode("utf-8", "replace"))
    child.stderr.close()
