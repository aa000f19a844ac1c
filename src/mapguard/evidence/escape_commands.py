"""`mapguard escape`: which map allocations escape to the heap, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape as markup
from rich.table import Table

from mapguard.bundle.options import bundle_options, open_bundle_writer
from mapguard.bundle.writer import BundleWriter
from mapguard.clikit import emit_json, format_option
from mapguard.evidence.escape_run import (
    EscapeBuildError,
    find_module_root,
    read_escape_log,
    run_escape_build,
)
from mapguard.evidence.render import console, display_path, unclipped
from mapguard.formats.escape import (
    EscapeFact,
    EscapeReport,
    ParamLeak,
    Position,
    Verdict,
    explain,
)

_VERDICT_STYLE = {Verdict.STACK: "green", Verdict.HEAP: "red", Verdict.MOVED: "yellow"}


@click.command()
@click.argument("targets", nargs=-1)
@click.option("--from", "from_log", type=click.Path(path_type=Path),
              help="Read saved compiler output (-gcflags=-m/-m=2 log, or a -json=0 file or "
                   "directory) instead of building.")
@click.option("--all", "show_all", is_flag=True,
              help="Every allocation the compiler judged and every leaking parameter, not only "
                   "map sites.")
@format_option()
@bundle_options
def escape(targets: tuple[str, ...], from_log: Path | None, show_all: bool,
           output_format: str, bundle_dir: Path | None, bundle_label: str) -> int:
    """Escape-analysis verdicts for map allocation sites (runs go build -gcflags=-m=2).

    TARGETS are package patterns (default ./...) or one module directory. With --from, an
    optional directory says where relative paths in the log start (default: here).
    """
    bundle = open_bundle_writer(bundle_dir, bundle_label, "mapguard escape")
    try:
        report = _report(targets, from_log)
    except EscapeBuildError as failure:
        if failure.partial is None:
            raise
        # Show (and keep) what the packages that did compile said, then fail.
        _emit(failure.partial, show_all, output_format, bundle, bundle_label)
        raise
    _emit(report, show_all, output_format, bundle, bundle_label)
    return 0


def _emit(report: EscapeReport, show_all: bool, output_format: str,
          bundle: BundleWriter | None = None, label: str = "") -> None:
    facts = report.facts if show_all else report.map_sites()
    leaks = report.leaks if show_all else ()
    document = {
        "packages": list(report.packages),
        "sites": [fact_json(fact) for fact in facts],
        **({"leaks": [_leak_json(leak) for leak in leaks]} if show_all else {}),
    }
    if output_format == "json":
        emit_json(document)
    else:
        _print(facts, leaks, show_all)
    if bundle is not None:
        bundle.add_json("escape", label, {"version": 1, **document},
                        meta={"base": str(Path.cwd())})


def _report(targets: tuple[str, ...], from_log: Path | None) -> EscapeReport:
    single_dir = len(targets) == 1 and "..." not in targets[0] and Path(targets[0]).is_dir()
    if from_log is not None:
        base = Path(targets[0]) if single_dir else Path.cwd()
        return read_escape_log(from_log, base.resolve())
    if single_dir:
        directory = Path(targets[0]).resolve()
        module = find_module_root(directory)
        relative = directory.relative_to(module).as_posix()
        pattern = "./..." if relative == "." else f"./{relative}/..."
        return run_escape_build([pattern], module)
    return run_escape_build(list(targets) or ["./..."], Path.cwd())


def _position_json(position: Position) -> dict[str, Any]:
    return {"file": position.file, "line": position.line, "column": position.column}


def fact_json(fact: EscapeFact) -> dict[str, Any]:
    return {
        **_position_json(fact.position),
        "function": fact.function,
        "package": fact.package,
        "expr": fact.expr,
        "kind": fact.kind.value,
        "verdict": fact.verdict.value,
        "why": fact.why,
        "flows": [
            {"to": flow.to, "from": flow.source, "steps": [
                {"what": step.what, "why": step.why, "at": str(step.at) if step.at else None}
                for step in flow.steps
            ]}
            for flow in fact.flows
        ],
        "inlined_copies": [
            {**_position_json(copy.position), "verdict": copy.verdict.value,
             "function": copy.function}
            for copy in fact.inlined_copies
        ],
        "inlined_from": fact.inlined_from,
        "grows_on_heap": fact.grows_on_heap,
    }


def _leak_json(leak: ParamLeak) -> dict[str, Any]:
    return {**_position_json(leak.position), "param": leak.param, "detail": leak.detail,
            "package": leak.package}


def _where(position: Position) -> str:
    return f"{display_path(position.file)}:{position.line}:{position.column}"


GROWS_ON_HEAP = ("stack*: only the map's header and first 8 slots are on the stack; inserts "
                 "past 8 entries (or a size hint above 8) put its tables on the heap")


def _copy_verdict(fact: EscapeFact, verdict: Verdict) -> str:
    return verdict.value + ("*" if fact.grows_on_heap and verdict is Verdict.STACK else "")


def _print(facts: tuple[EscapeFact, ...], leaks: tuple[ParamLeak, ...], show_all: bool) -> None:
    out = console()
    counts = {verdict: sum(fact.verdict is verdict for fact in facts) for verdict in Verdict}
    growing = sum(fact.verdict is Verdict.STACK and fact.grows_on_heap for fact in facts)
    noun = "allocation sites" if show_all else "map allocation sites"
    title = (f"{len(facts)} {noun}: {counts[Verdict.HEAP]} escape to the heap, "
             f"{counts[Verdict.MOVED]} moved to the heap, {counts[Verdict.STACK]} on the stack"
             + (f" ({growing} of them can grow onto the heap)" if growing else ""))
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("site")
    table.add_column("function")
    table.add_column("allocation")
    table.add_column("verdict")
    table.add_column("why")
    for fact in facts:
        verdict = f"[{_VERDICT_STYLE[fact.verdict]}]{fact.verdict.value}[/]"
        why = explain(fact, _where) or ""
        if fact.grows_on_heap and fact.verdict is Verdict.STACK:
            verdict += "*"
        if fact.inlined_copies:
            copies = ", ".join(f"{_where(copy.position)} {_copy_verdict(fact, copy.verdict)}"
                               for copy in fact.inlined_copies)
            why += f"{'; ' if why else ''}inlined at {copies}"
        if fact.inlined_from:
            why += f"{'; ' if why else ''}inlined copy of {fact.inlined_from}"
        expr = markup(fact.expr) + (f" [dim]({fact.kind.value})[/]" if show_all else "")
        table.add_row(markup(_where(fact.position)), markup(fact.function or ""), expr, verdict,
                      markup(why))
    out.print(unclipped(table))
    if any(fact.grows_on_heap for fact in facts):
        out.print(GROWS_ON_HEAP)
    if show_all and leaks:
        leak_table = Table(title=f"{len(leaks)} leaking parameters", title_justify="left")
        leak_table.add_column("site")
        leak_table.add_column("parameter")
        leak_table.add_column("leaks")
        for leak in leaks:
            leak_table.add_row(markup(_where(leak.position)), markup(leak.param),
                               markup(leak.detail or ""))
        out.print(unclipped(leak_table))
