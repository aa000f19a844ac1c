"""`mapguard trace`: GC cycles, stop-the-world pauses, heap and goroutines in an execution trace."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from mapguard.bundle.options import bundle_options, open_bundle_writer
from mapguard.clikit import emit_json, format_option
from mapguard.errors import InputError
from mapguard.evidence.render import console, megabytes, milliseconds, sparkline
from mapguard.evidence.summarystats import Distribution
from mapguard.evidence.trace_run import TraceResult, summarize_trace_file
from mapguard.evidence.tracesummary import TraceSummary

_GC_ROWS = 30


@click.command()
@click.argument("trace_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--points", default=200, show_default=True, type=click.IntRange(min=2),
              help="Most points per timeline (each keeps the peak of the interval it covers).")
@format_option()
@bundle_options
def trace(trace_file: Path, points: int, output_format: str, bundle_dir: Path | None,
          bundle_label: str) -> int:
    """Summarise a runtime/trace file (Go 1.22+): GC cycles, stop-the-world pauses, heap and
    goroutines. Formats of Go 1.22-1.27 are read directly; newer ones with `go tool trace`."""
    bundle = open_bundle_writer(bundle_dir, bundle_label, "mapguard trace")
    result = summarize_trace_file(trace_file, points=points)
    if output_format == "json":
        emit_json(_document(result))
    else:
        _print(result)
    if bundle is not None:  # a truncated trace too: what was read is kept
        bundle.add_json("trace", bundle_label, {"version": 1, **_document(result)},
                        meta={"from": str(trace_file)})
    if result.error is not None:
        # What was read is printed above; the error still says the trace is incomplete.
        raise InputError(trace_file, f"trace ends early, summary covers what was read: "
                                     f"{result.error}")
    return 0


def _seconds(ns: int) -> float:
    return ns / 1e9


def _pause_stats(summary: TraceSummary) -> dict[str, Distribution]:
    by_reason: dict[str, list[float]] = defaultdict(list)
    for pause in summary.stw:
        by_reason[pause.reason].append(pause.duration_ns / 1e6)
    return {reason: Distribution.of(values) for reason, values in sorted(by_reason.items())}


def _document(result: TraceResult) -> dict[str, Any]:
    summary = result.summary
    pauses = [pause.duration_ns / 1e6 for pause in summary.stw]
    cycles = [cycle.duration_ns / 1e6 for cycle in summary.gc_cycles if cycle.duration_ns]
    return {
        "trace": {"path": str(result.path), "format": f"go 1.{result.format_minor} trace",
                  "toolchain": result.toolchain, "complete": result.error is None,
                  "error": result.error},
        "summary": {
            "duration_s": _seconds(summary.duration_ns),
            "events": summary.events,
            "gomaxprocs": summary.gomaxprocs,
            "gc_cycles": len(summary.gc_cycles),
            "gc_cycle_ms": _dist(Distribution.of(cycles)),
            "stw_pauses": len(summary.stw),
            "stw_ms": _dist(Distribution.of(pauses)),
            "stw_by_reason_ms": {reason: _dist(value)
                                 for reason, value in _pause_stats(summary).items()},
            "heap_peak_bytes": max((value for _, value in summary.heap), default=None),
            "goroutines_peak": max((value for _, value in summary.goroutines), default=None),
        },
        "gc_cycles": [
            {"index": cycle.index, "start_s": _seconds(cycle.start_ns),
             "duration_ms": None if cycle.duration_ns is None else cycle.duration_ns / 1e6,
             "mark_ms": None if cycle.mark_ns is None else cycle.mark_ns / 1e6,
             "stw_ms": cycle.stw_ns / 1e6, "began_before_trace": cycle.began_before_trace}
            for cycle in summary.gc_cycles
        ],
        "stw": [
            {"reason": pause.reason, "start_s": _seconds(pause.start_ns),
             "duration_ms": pause.duration_ns / 1e6, "gc_cycle": pause.gc_cycle}
            for pause in summary.stw
        ],
        "heap_bytes": [[_seconds(t), value] for t, value in summary.heap],
        "heap_goal_bytes": [[_seconds(t), value] for t, value in summary.heap_goal],
        "goroutines": [[_seconds(t), value] for t, value in summary.goroutines],
        "runnable_goroutines": [[_seconds(t), value] for t, value in summary.runnable],
    }


def _dist(value: Distribution) -> dict[str, Any]:
    return {"count": value.count, "p50": value.p50, "p99": value.p99, "max": value.max}


def _print(result: TraceResult) -> None:
    out = console()
    summary = result.summary
    heading = Table.grid(padding=(0, 2))
    heading.add_column(style="bold")
    heading.add_column()
    state = "" if result.error is None else " [red](incomplete)[/]"
    reader = (f"read with {result.toolchain}'s go tool trace" if result.toolchain
              else "read by mapguard")
    heading.add_row("trace", f"{result.path} (go 1.{result.format_minor} trace, {reader})"
                             f"{state}")
    heading.add_row("duration", f"{_seconds(summary.duration_ns):,.3f} s, {summary.events:,} "
                                f"events, GOMAXPROCS {summary.gomaxprocs or '—'}")
    cycles = [c.duration_ns / 1e6 for c in summary.gc_cycles if c.duration_ns is not None]
    spread = Distribution.of(cycles)
    heading.add_row("GC cycles", f"{len(summary.gc_cycles)}; duration p50 {_opt(spread.p50)} ms,"
                                 f" max {_opt(spread.max)} ms")
    pauses = Distribution.of([pause.duration_ns / 1e6 for pause in summary.stw])
    heading.add_row("STW pauses", f"{pauses.count}; p50 {_opt(pauses.p50)} ms, p99 "
                                  f"{_opt(pauses.p99)} ms, max {_opt(pauses.max)} ms")
    for label, line, fmt in (("heap", summary.heap, megabytes),
                             ("heap goal", summary.heap_goal, megabytes)):
        if line:
            values = [value for _, value in line]
            heading.add_row(label, f"peak {fmt(max(values))}, end {fmt(values[-1])}  "
                                   f"{sparkline([float(v) for v in values])}")
    if summary.goroutines:
        values = [value for _, value in summary.goroutines]
        heading.add_row("goroutines", f"peak {max(values)}, end {values[-1]}  "
                                      f"{sparkline([float(v) for v in values])}")
    out.print(heading)

    reasons = Table(title="Stop-the-world pauses by reason", title_justify="left")
    for name in ("reason", "count", "p50 ms", "p99 ms", "max ms"):
        reasons.add_column(name, justify="left" if name == "reason" else "right")
    for reason, value in _pause_stats(summary).items():
        reasons.add_row(reason, str(value.count), _opt(value.p50), _opt(value.p99),
                        _opt(value.max))
    out.print(reasons)

    table = Table(title="GC cycles", title_justify="left")
    for name in ("#", "start s", "duration ms", "mark ms", "STW ms"):
        table.add_column(name, justify="right")
    for cycle in summary.gc_cycles[:_GC_ROWS]:
        table.add_row(str(cycle.index), f"{_seconds(cycle.start_ns):,.6f}",
                      milliseconds(cycle.duration_ns), milliseconds(cycle.mark_ns),
                      milliseconds(cycle.stw_ns))
    if len(summary.gc_cycles) > _GC_ROWS:
        table.add_row("…", f"{len(summary.gc_cycles) - _GC_ROWS} more (see --format json)",
                      "", "", "")
    out.print(table)


def _opt(value: float | None) -> str:
    return "—" if value is None else f"{value:,.3f}"
