"""Summarise an execution trace file.

The file's header names its format (``go 1.N trace``, N the Go release that introduced the
format). The formats of Go 1.22 to 1.27 are read directly (`formats.tracewire`), without Go,
a generation (about a second of the trace) at a time. A newer format is handed to the Go
toolchain's own reader, `go tool trace -d=parsed`, whose output streams through its parser
and the summarizer; a toolchain reads formats up to its own
release, so a trace newer than the toolchain, or an old-format one (Go <= 1.21), is refused with
both versions named before anything runs. A trace without events is refused too.
"""

from __future__ import annotations

import mmap
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mapguard.errors import InputError, ToolError
from mapguard.evidence.tracesummary import (
    TraceSummarizer,
    TraceSummary,
    summarize_wire,
)
from mapguard.formats.trace import (
    FIRST_PARSED_MINOR,
    HEADER_SIZE,
    parse_parsed_events,
    parse_trace_header,
)
from mapguard.formats.tracewire import WIRE_MINORS, read_trace_wire
from mapguard.gotool import GoToolchain, go_environment, require_go

_STDERR_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class TraceResult:
    path: Path
    format_minor: int  # the N of the header's "go 1.N trace"
    toolchain: str | None  # the Go toolchain whose reader was used, e.g. "go1.27.3"; None: ours
    summary: TraceSummary
    # The toolchain's reader stopped early (a truncated or corrupt trace): the summary covers
    # what it read before that.
    error: str | None = None


def check_trace_version(format_minor: int, toolchain: GoToolchain, source: str) -> None:
    written = f"trace written by Go 1.{format_minor} (header 'go 1.{format_minor} trace')"
    have = f"the Go toolchain in use is {toolchain.full_version}"
    if format_minor < FIRST_PARSED_MINOR:
        raise InputError(
            source,
            f"{written}, but {have} and mapguard reads Go 1.{FIRST_PARSED_MINOR}+ traces;"
            f" record it again with Go 1.{FIRST_PARSED_MINOR} or newer",
        )
    if (toolchain.version.major, toolchain.version.minor) < (1, format_minor):
        raise InputError(
            source,
            f"{written}, but {have}; run mapguard with Go 1.{format_minor} or newer"
            " (set MAPGUARD_GO)",
        )


def read_trace_format(path: Path) -> int:
    try:
        with path.open("rb") as handle:
            head = handle.read(HEADER_SIZE)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    return parse_trace_header(head, str(path))


def summarize_trace_file(
    path: Path, *, points: int = 200, toolchain: GoToolchain | None = None
) -> TraceResult:
    """The summary of a trace file; `toolchain` reads formats newer than mapguard knows."""
    format_minor = read_trace_format(path)
    if format_minor in WIRE_MINORS:
        return _read_directly(path, format_minor, points)
    chosen = toolchain or require_go()
    check_trace_version(format_minor, chosen, str(path))
    return _read_with_go(path, format_minor, points, chosen)


def _read_directly(path: Path, format_minor: int, points: int) -> TraceResult:
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0,
                                                  access=mmap.ACCESS_READ) as data:
            trace = read_trace_wire(data, str(path))  # type: ignore[arg-type]
            summary = summarize_wire(trace, points=points)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    if summary.events == 0:
        _no_events(path)
    error = None if trace.truncated_at is None else \
        f"the trace ends inside a batch at offset {trace.truncated_at}"
    return TraceResult(path, format_minor, None, summary, error)


def _no_events(path: Path) -> None:
    raise InputError(path, "the trace holds no events (only its header: was it stopped at "
                     "once, or cut short?)", expected="a trace with events")


def _read_with_go(path: Path, format_minor: int, points: int, chosen: GoToolchain
                  ) -> TraceResult:
    summarizer = TraceSummarizer(points=points)
    with tempfile.TemporaryFile() as errors:
        command = [str(chosen.go), "tool", "trace", "-d=parsed", str(path)]
        try:
            tool = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=errors, text=True, errors="replace",
                env=go_environment(chosen),
            )  # fmt: skip
        except OSError as exc:
            raise ToolError(f"cannot run {chosen.go}: {exc.strerror or exc}") from exc
        assert tool.stdout is not None
        try:
            summarizer.add_all(parse_parsed_events(tool.stdout, str(path)))
        finally:
            if tool.poll() is None and not tool.stdout.closed:
                tool.stdout.close()
            status = tool.wait()
        errors.seek(0)
        message = errors.read(_STDERR_LIMIT).decode("utf-8", "replace").strip()
    if status == 0:
        if summarizer.events == 0:
            _no_events(path)
        return TraceResult(path, format_minor, chosen.full_version, summarizer.result())
    problem = " ".join(message.split()) or f"`go tool trace` exited with status {status}"
    if "unsupported trace version" in problem:
        raise InputError(path, f"{problem} (the Go toolchain in use is {chosen.full_version})")
    if summarizer.events == 0:
        raise InputError(path, f"unreadable trace: {problem}")
    return TraceResult(path, format_minor, chosen.full_version, summarizer.result(), problem)
