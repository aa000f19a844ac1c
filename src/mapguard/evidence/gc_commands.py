"""`mapguard gc`: a gctrace, read from a file or from a program run with gctrace=1."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import zlib
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, BinaryIO

import click
from rich.markup import escape as markup
from rich.table import Table

from mapguard.bundle.options import bundle_options, open_bundle_writer
from mapguard.clikit import AFTER_DASHES, CommandAfterDashes, emit_json, format_option
from mapguard.errors import InputError, UsageError
from mapguard.evidence.gcrun import GRACE_S, GcRun, run_with_gctrace
from mapguard.evidence.gcsummary import GcAggregate, GcSummary
from mapguard.evidence.render import console, sparkline
from mapguard.evidence.summarystats import Distribution, Trend
from mapguard.formats.gctrace import EXPECTED_SHAPE, GcCycle, GctraceStream
from mapguard.formats.pprof import GZIP_MAGIC

_WARNED_LINES = 5
_READ_SIZE = 1 << 20


@click.command(cls=CommandAfterDashes)
@click.argument("log", required=False, type=click.Path(path_type=Path, allow_dash=True))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Write the report to this file instead of standard output.")
@click.option("--rows", default=40, show_default=True, type=click.IntRange(min=0),
              help="Cycles kept for the table and JSON (first and last halves); 0 keeps all "
                   "(memory then grows with the log).")
@click.option("--grace", default=GRACE_S, show_default=True, type=click.FloatRange(min=0),
              help="Seconds a signalled child gets to exit before SIGTERM, then SIGKILL.")
@format_option()
@bundle_options
@click.pass_context
def gc(ctx: click.Context, log: Path | None, output: Path | None, rows: int, grace: float,
       output_format: str, bundle_dir: Path | None, bundle_label: str) -> int:
    """GC pauses, CPU share, cycle rate and heap trend from GODEBUG=gctrace=1 output.

    \b
    mapguard gc gctrace.log          a saved stderr, plain or gzip'd ("-" reads standard input)
    mapguard gc -- ./server ARGS     run it with gctrace=1 and summarise at its exit
    """
    command: list[str] | None = ctx.meta.get(AFTER_DASHES)
    bundle = open_bundle_writer(bundle_dir, bundle_label, "mapguard gc")
    run: GcRun | None = None
    if command is not None:
        if log is not None:
            raise UsageError("give either a gctrace file or `-- COMMAND`, not both")
        run = run_with_gctrace(command, rows=rows, grace_s=grace)
        aggregate = run.aggregate
        source = " ".join(command)
    elif log is not None:
        source = "<stdin>" if str(log) == "-" else str(log)
        aggregate = _read_log(log, source, rows)
    else:
        raise UsageError("mapguard gc needs a gctrace file or `-- COMMAND ARGS...`")
    _warn(aggregate, source)
    summary = aggregate.summary()
    report = io.StringIO()
    with redirect_stdout(report):
        if output_format == "json":
            emit_json(_document(source, aggregate, summary, run))
        else:
            _print(source, aggregate, summary, run)
    text = report.getvalue()
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            sys.stdout.write(text)  # what was collected is not lost
            raise InputError(output, f"cannot write: {exc.strerror or exc} (the report went "
                             "to standard output)") from exc
    else:
        sys.stdout.write(text)
    if bundle is not None:
        gogc = os.environ.get("GOGC", "")  # what a child run here inherits
        bundle.add_json("gc", bundle_label,
                        {"version": 1, **_document(source, aggregate, summary, run)},
                        meta={"gogc": int(gogc)} if gogc.isdigit() else {})
    return 0


def _read_log(log: Path, source: str, rows: int) -> GcAggregate:
    """Stream the log through the parser into running aggregates: any length fits."""
    aggregate = GcAggregate(rows)
    stream = GctraceStream()
    try:
        with _opened(log) as handle:
            for chunk in _chunks(handle, source):
                if (block := stream.feed(chunk)) is not None:
                    aggregate.add(block)
    except OSError as exc:
        raise InputError(source, f"cannot read: {exc.strerror or exc}") from exc
    if (block := stream.finish()) is not None:
        aggregate.add(block)
    if not aggregate.cycles:
        if aggregate.malformed:
            first = aggregate.malformed[0]
            raise InputError(source, f"malformed gctrace line: {first.text[:120]!r}",
                             where=f"line {first.line}", expected=EXPECTED_SHAPE)
        raise InputError(source, "no gctrace lines found",
                         expected="the stderr of a Go program run with GODEBUG=gctrace=1")
    return aggregate


@contextlib.contextmanager
def _opened(log: Path) -> Iterator[BinaryIO]:
    if str(log) == "-":
        yield sys.stdin.buffer
        return
    with log.open("rb") as handle:
        yield handle


def _chunks(handle: BinaryIO, source: str) -> Iterator[bytes]:
    """The log's bytes in chunks; a gzip'd log (one or more members) is inflated as it is read,
    a chunk at a time, so a gzip bomb costs time, not memory."""
    data = handle.read(_READ_SIZE)
    if not data.startswith(GZIP_MAGIC):
        while data:
            yield data
            data = handle.read(_READ_SIZE)
        return
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        while data:
            pending = data
            while pending:
                if out := inflater.decompress(pending, _READ_SIZE):
                    yield out
                if inflater.eof:  # the next member, if any
                    pending = inflater.unused_data
                    if len(pending) >= 2 and not pending.startswith(GZIP_MAGIC):
                        return  # trailing garbage, as gzip(1) tolerates
                    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    pending = inflater.unconsumed_tail
            while not inflater.eof and (out := inflater.decompress(b"", _READ_SIZE)):
                yield out  # what the input read so far still holds
            data = handle.read(_READ_SIZE)
    except zlib.error as exc:
        raise InputError(source, f"corrupt gzip data ({exc})") from None


def _warn(aggregate: GcAggregate, source: str) -> None:
    for bad in aggregate.malformed[:_WARNED_LINES]:
        click.echo(f"mapguard: warning: {source}: line {bad.line}: malformed gctrace line: "
                   f"{bad.text[:100]!r}", err=True)
    if aggregate.malformed_count > _WARNED_LINES:
        click.echo(f"mapguard: warning: {source}: {aggregate.malformed_count - _WARNED_LINES} "
                   "more malformed gctrace lines", err=True)


def _distribution_json(value: Distribution) -> dict[str, Any]:
    return {"count": value.count, "p50": value.p50, "p99": value.p99, "max": value.max}


def _trend_json(value: Trend | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"first": value.first, "last": value.last, "min": value.min, "max": value.max,
            "slope_per_s": value.slope_per_s}


def _document(source: str, aggregate: GcAggregate, summary: GcSummary,
              run: GcRun | None) -> dict[str, Any]:
    shown, omitted = aggregate.shown
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
        "cycles": [cycle._asdict() | {"notes": list(cycle.notes)} for cycle in shown],
        "cycles_omitted": omitted,
        "malformed": [{"line": bad.line, "text": bad.text} for bad in aggregate.malformed],
        "malformed_count": aggregate.malformed_count,
    }
    if run is not None:
        document["child"] = {"command": list(run.command), "exit_status": run.exit_status,
                             "interrupted": run.interrupted, "killed": run.escalated}
    return document


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.3f}"


def _print(source: str, aggregate: GcAggregate, summary: GcSummary, run: GcRun | None) -> None:
    out = console()
    heading = Table.grid(padding=(0, 2))
    heading.add_column(style="bold")
    heading.add_column()
    heading.add_row("source", markup(source))
    if run is not None:
        state = "interrupted, " if run.interrupted else ""
        state += "killed after the grace period, " if run.escalated else ""
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
    for label, trend, series in (("heap live", summary.heap_live_mb, aggregate.live_series),
                                 ("heap goal", summary.heap_goal_mb, aggregate.goal_series)):
        if trend is not None:
            slope = "" if trend.slope_per_s is None else f", trend {trend.slope_per_s:+,.2f} MB/s"
            values = [float(value) for _, value in series.result(0)]
            heading.add_row(label, f"{trend.first:g} → {trend.last:g} MB (min {trend.min:g}, "
                                   f"max {trend.max:g}){slope}  {sparkline(values)}")
    out.print(heading)
    shown, omitted = aggregate.shown
    if shown:
        out.print(_cycle_table(shown, omitted))


def _cycle_table(shown: list[GcCycle], omitted: int) -> Table:
    table = Table(title="GC cycles", title_justify="left")
    for name in ("gc", "at s", "GC CPU", "STW sweep ms", "mark ms", "STW mark-term ms",
                 "heap start→end→live MB", "goal MB", "P", "notes"):
        table.add_column(name, justify="left" if name in ("notes",) else "right")
    half = len(shown) // 2
    for index, cycle in enumerate(shown):
        if omitted and index == half:
            table.add_row("…", f"{omitted} more", *[""] * 8)
        table.add_row(
            str(cycle.number), f"{cycle.at_s:,.3f}", f"{cycle.gc_cpu_percent}%",
            _ms(cycle.stw_sweep_term_ms), _ms(cycle.concurrent_mark_ms),
            _ms(cycle.stw_mark_term_ms),
            f"{cycle.heap_start_mb}→{cycle.heap_end_mb}→{cycle.heap_live_mb}",
            str(cycle.heap_goal_mb), str(cycle.procs), " ".join(cycle.notes),
        )
    return table
