"""Run a Go program with `GODEBUG=gctrace=1` and collect its GC cycles as they happen.

The child keeps the terminal: its stdin and stdout are ours, and every byte it writes to stderr
is copied to our stderr unchanged, as it arrives, while the gctrace lines in it are folded into
running aggregates (bounded memory: a run of days is fine).

Ending the run: SIGINT, SIGTERM or SIGHUP sent to mapguard is passed on to the child, and what
was collected is reported once it exits. A child that has not exited `GRACE_S` seconds later
(it may ignore SIGINT: a program started in the background from a script inherits that) gets
SIGTERM, then SIGKILL; a second signal kills it at once. The child is never left running: it
is killed if mapguard fails, and on Linux the kernel ends it (SIGTERM) if mapguard itself is
killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import BinaryIO

from mapguard.errors import ToolError
from mapguard.evidence.gcsummary import GcAggregate
from mapguard.formats.gctrace import GctraceParser

_READ_SIZE = 1 << 16
GRACE_S = 10.0
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class GcRun:
    aggregate: GcAggregate
    command: tuple[str, ...]
    exit_status: int  # negative: killed by that signal (subprocess convention)
    interrupted: bool  # a signal ended the run
    escalated: bool = False  # the child did not stop on the signal passed on: it was killed


def godebug_with_gctrace(current: str | None) -> str:
    """GODEBUG with ``gctrace=1`` appended: the runtime lets the last setting of a name win."""
    return f"{current},gctrace=1" if current else "gctrace=1"


def run_with_gctrace(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    passthrough: BinaryIO | None = None,
    rows: int = 40,
    grace_s: float = GRACE_S,
) -> GcRun:
    """Run `command` to its end; `passthrough` receives the child's stderr (default: ours)."""
    if not command:
        raise ToolError("no command to run (usage: mapguard gc -- ./server ARGS...)")
    child_env = dict(os.environ if env is None else env)
    child_env["GODEBUG"] = godebug_with_gctrace(child_env.get("GODEBUG"))
    out = passthrough if passthrough is not None else sys.stderr.buffer
    try:
        child = subprocess.Popen(list(command), stderr=subprocess.PIPE, env=child_env,
                                 preexec_fn=_end_with_parent)
    except OSError as exc:
        raise ToolError(f"cannot run {command[0]}: {exc.strerror or exc}") from exc
    stopper = _Stopper(child, grace_s)
    aggregate = GcAggregate(rows)
    try:
        with stopper.forwarding():
            _pump(child, out, aggregate)
            status = child.wait()
    finally:
        stopper.cancel()
        if child.poll() is None:  # mapguard is failing: the child must not outlive it
            child.kill()
            child.wait()
    return GcRun(aggregate, tuple(command), status, stopper.signals > 0, stopper.escalated)


def _end_with_parent() -> None:
    """In the child, before exec: the kernel sends it SIGTERM when mapguard dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class _Stopper:
    """Passes signals on to the child and makes sure a signalled child ends."""

    def __init__(self, child: subprocess.Popen[bytes], grace_s: float) -> None:
        self.child = child
        self.grace_s = grace_s
        self.signals = 0
        self.escalated = False
        self._timer: threading.Timer | None = None

    @contextlib.contextmanager
    def forwarding(self) -> Iterator[None]:
        previous: dict[signal.Signals, Callable[[int, FrameType | None], object] | int | None] = {}
        for forwarded in _FORWARDED:
            handler = signal.getsignal(forwarded)
            if forwarded == signal.SIGHUP and handler == signal.SIG_IGN:
                continue  # started under nohup: keep ignoring hang-ups
            previous[forwarded] = handler
            signal.signal(forwarded, self._on_signal)
        try:
            yield
        finally:
            for restored, handler in previous.items():
                signal.signal(restored, handler)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self.signals += 1
        if self.child.poll() is not None:
            return
        if self.signals > 1:
            self._escalate(signal.SIGKILL)
            return
        # The terminal sends Ctrl-C to the child as well; send it in case we were signalled
        # alone. If the child ignores it, SIGTERM after the grace period, then SIGKILL.
        self.child.send_signal(number)
        self._later(signal.SIGTERM if number != signal.SIGTERM else signal.SIGKILL)

    def _later(self, number: int) -> None:
        def escalate() -> None:
            if self.child.poll() is None:
                self._escalate(number)
                if number != signal.SIGKILL:
                    self._later(signal.SIGKILL)

        self._timer = threading.Timer(self.grace_s, escalate)
        self._timer.daemon = True
        self._timer.start()

    def _escalate(self, number: int) -> None:
        self.escalated = True
        with contextlib.suppress(ProcessLookupError):
            self.child.send_signal(number)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _pump(child: subprocess.Popen[bytes], out: BinaryIO, aggregate: GcAggregate) -> None:
    assert child.stderr is not None
    fd = child.stderr.fileno()
    parser = GctraceParser()
    pending = b""
    passing = True

    def feed(line: bytes) -> None:
        cycle, malformed = parser.feed(line.decode("utf-8", "replace"))
        if cycle is not None:
            aggregate.add_cycle(cycle)
        else:
            aggregate.add_other(malformed)

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
            feed(line)
        if len(pending) > _READ_SIZE:  # a "line" that never ends is no gctrace line
            feed(pending[:200])
            pending = b""
    if pending:
        feed(pending)
    child.stderr.close()
