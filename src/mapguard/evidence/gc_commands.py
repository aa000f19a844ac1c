"""`mapguard gc`: a gctrace, read from a file or from a program run with gctrace=1."""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from mapguard.clikit import AFTER_DASHES, CommandAfterDashes, emit_json, format_option
from mapguard.errors import InputError, UsageError
from mapguard.evidence.gcrun import GcRun, run_with_gctrace
from mapguard.evidence.gcsummary import GcSummary, summarize_gctrace
from mapguard.evidence.render import console, sparkline
from mapguard.evidence.summarystats import Distribution, Trend
from mapguard.formats.gctrace import GcCycle, GcTrace, MalformedLine, parse_gctrace

_WARNED_LINES = 5


@click.command(cls=CommandAfterDashes)
@click.argument("log", required=False, type=click.Path(path_type=Path, allow_dash=True))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the report to this file instead of standard output.")
@click.option("--rows", default=40, show_default=True, type=click.IntRange(min=0),
              help="Cycles shown in the text table (first and last halves); 0 shows all.")
@format_option()
@click.pass_context
def gc(ctx: click.Context, log: Path | None, output: Path | None, rows: int,
       output_format: str) -> int:
    """GC pauses, CPU share, cycle rate and heap trend from GODEBUG=gctrace=1 output.

    \b
    mapguard gc gctrace.log          a saved stderr ("-" reads standard input)
    mapguard gc -- ./server ARGS     run it with gctrace=1 and summarise at its exit
    """
    command: list[str] | None = ctx.meta.get(AFTER_DASHES)
    run: GcRun | None = None
    if command is not None:
        if log is not None:
            raise UsageError("give either a gctrace file or `-- COMMAND`, not both")
        run = run_with_gctrace(command)
        trace = run.trace
        source = " ".join(command)
    elif log is not None:
        source = "<stdin>" if str(log) == "-" else str(log)
        trace = parse_gctrace(_read(log), source)
    else:
        raise UsageError("mapguard gc needs a gctrace file or `-- COMMAND ARGS...`")
    _warn(trace.malformed, source)
    summary = summarize_gctrace(trace)
    report = io.StringIO()
    with redirect_stdout(report):
        if output_format == "json":
            emit_json(_document(source, trace, summary, run))
        else:
            _print(source, trace, summary, run, rows)
    text = report.getvalue()
    if output is not None:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _read(log: Path) -> str:
    if str(log) == "-":
        return sys.stdin.read()
    try:
        return log.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        raise InputError(log, f"cannot read: {exc.strerror or exc}") from exc


def _warn(malformed: tuple[MalformedLine, ...], source: str) -> None:
    for bad in malformed[:_WARNED_LINES]:
        click.echo(f"mapguard: warning: {source}: line {bad.line}: malformed gctrace line: "
                   f"{bad.text[:100]!r}", err=True)
    if len(malformed) > _WARNED_LINES:
        click.echo(f"mapguard: warning: {source}: {len(malformed) - _WARNED_LINES} more "
                   "malformed gctrace lines", err=True)


def _distribution_json(value: Distribution) -> dict[str, Any]:
    return {"count": value.count, "p50": value.p50, "p99": value.p99, "max": value.max}


def _trend_json(value: Trend | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"first": value.first, "last": value.last, "min": value.min, "max": value.max,
            "slope_per_s": value.slope_per_s}


def _document(source: str, trace: GcTrace, summary: GcSummary,
              run: GcRun | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "source": source,
        "summary": {
            "cycles": summary.cycles,
            "forced": summary.forced,
            "span_s": summary.span_s,
            "cycles_per_s": summary.cycles_per_s,
            "gc_cpu_percent": summary.gc_cpu_percent,
            "gc_cpu_window_percent": summary.gc_cpu_window_percent,
            "stw_pause_ms": _distribution_json(summary.pauses_ms),
            "cycle_pause_ms": _distribution_json(summary.cycle_pause_ms),
            "concurrent_mark_ms": _distribution_json(summary.concurrent_mark_ms),
            "heap_live_mb": _trend_json(summary.heap_live_mb),
            "heap_goal_mb": _trend_json(summary.heap_goal_mb),
            "procs": summary.procs,
        },
        "cycles": [cycle._asdict() | {"notes": list(cycle.notes)} for cycle in trace.cycles],
        "malformed": [{"line": bad.line, "text": bad.text} for bad in trace.malformed],
    }
    if run is not None:
        document["child"] = {"command": list(run.command), "exit_status": run.exit_status,
                             "interrupted": run.interrupted}
    return document


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.3f}"


def _print(source: str, trace: GcTrace, summary: GcSummary, run: GcRun | None,
           rows: int) -> None:
    out = console()
    heading = Table.grid(padding=(0, 2))
    heading.add_column(style="bold")
    heading.add_column()
    heading.add_row("source", source)
    if run is not None:
        state = "interrupted, " if run.interrupted else ""
        heading.add_row("child", f"{state}exit status {run.exit_status}")
    rate = f"{summary.cycles_per_s:,.2f}/s" if summary.cycles_per_s is not None else "—"
    heading.add_row("cycles", f"{summary.cycles} ({summary.forced} forced) over "
                              f"{summary.span_s:,.3f} s, {rate}")
    window = ("" if summary.gc_cpu_window_percent is None
              else f", {summary.gc_cpu_window_percent:.1f}% over the logged cycles")
    heading.add_row("GC CPU", "—" if summary.gc_cpu_percent is None
                    else f"{summary.gc_cpu_percent}% since program start (runtime's figure)"
                    f"{window}")
    pauses = summary.pauses_ms
    heading.add_row("STW pauses", f"p50 {_ms(pauses.p50)} ms, p99 {_ms(pauses.p99)} ms, "
                                  f"max {_ms(pauses.max)} ms ({pauses.count}, two per cycle)")
    heading.add_row("mark", f"p50 {_ms(summary.concurrent_mark_ms.p50)} ms, "
                            f"max {_ms(summary.concurrent_mark_ms.max)} ms (concurrent)")
    for label, trend, column in (("heap live", summary.heap_live_mb, "heap_live_mb"),
                                 ("heap goal", summary.heap_goal_mb, "heap_goal_mb")):
        if trend is not None:
            slope = "" if trend.slope_per_s is None else f", trend {trend.slope_per_s:+,.2f} MB/s"
            heading.add_row(label, f"{trend.first:g} → {trend.last:g} MB (min {trend.min:g}, "
                                   f"max {trend.max:g}){slope}  "
                                   f"{sparkline(trace.cycles.column(column))}")
    out.print(heading)
    if trace.cycles:
        out.print(_cycle_table(trace, rows))


def _cycle_table(trace: GcTrace, rows: int) -> Table:
    table = Table(title="GC cycles", title_justify="left")
    for name in ("gc", "at s", "GC CPU", "STW sweep ms", "mark ms", "STW mark-term ms",
                 "heap start→end→live MB", "goal MB", "P", "notes"):
        table.add_column(name, justify="left" if name in ("notes",) else "right")
    cycles = trace.cycles
    shown: list[GcCycle | None]
    if rows and len(cycles) > rows:
        half = max(1, rows // 2)
        shown = [*cycles[:half], None, *cycles[-half:]]
    else:
        shown = list(cycles)
    for cycle in shown:
        if cycle is None:
            table.add_row("…", f"{len(cycles) - 2 * (rows // 2 or 1)} more", *[""] * 8)
            continue
        table.add_row(
            str(cycle.number), f"{cycle.at_s:,.3f}", f"{cycle.gc_cpu_percent}%",
            _ms(cycle.stw_sweep_term_ms), _ms(cycle.concurrent_mark_ms),
            _ms(cycle.stw_mark_term_ms),
            f"{cycle.heap_start_mb}→{cycle.heap_end_mb}→{cycle.heap_live_mb}",
            str(cycle.heap_goal_mb), str(cycle.procs), " ".join(cycle.notes),
        )
    return table
