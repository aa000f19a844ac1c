"""`mapguard gate`: one CI step that fails a change for new map risks and measured map cost."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path

import click

from mapguard.errors import MapguardError, UsageError
from mapguard.gate import checks
from mapguard.gate.budgets import Budget
from mapguard.gate.render import (
    exit_status,
    render_json,
    render_markdown,
    render_sarif,
    render_text,
)


@click.command("gate")
@click.argument("directory", default=".", type=click.Path(path_type=Path))
@click.option("--base", help="The base revision (e.g. main, origin/main, a commit): lint and "
                             "escape compare the change against it.")
@click.option("--lint", "with_lint", is_flag=True,
              help="Fail on lint findings that are new (against --baseline or --base).")
@click.option("--baseline", type=click.Path(path_type=Path),
              help="With --lint: a baseline from mapguard lint --write-baseline.")
@click.option("--escape", "with_escape", is_flag=True,
              help="Fail on map sites that escape to the heap and did not at --base.")
@click.option("--bench", help="OLD,NEW: Go benchmark results to compare (mapguard bench run).")
@click.option("--fail-on", multiple=True,
              help="With --bench: a rule like 'sec/op>+5%' or 'allocs/op>0' (default: any "
                   "regression).")
@click.option("--profile", "profiles", multiple=True, type=click.Path(path_type=Path),
              help="A pprof profile (allocs, heap or cpu) for --profile-budget (repeatable).")
@click.option("--profile-budget", "budgets", multiple=True,
              help="e.g. 'map.share<=20%', 'cpu.map.share<=10%', "
                   "'site:server.go:104.bytes_per_op<=256' (repeatable).")
@click.option("--ops", type=click.IntRange(min=1),
              help="Operations the profiles cover (requests, iterations): for *_per_op budgets.")
@click.option("--source", type=click.Path(path_type=Path),
              help="The Go source the profiles were built from (default: DIRECTORY).")
@click.option("--format", "output_format", default="text", show_default=True,
              type=click.Choice(["text", "json", "markdown", "sarif"]), help="Output format.")
@click.option("--summary", type=click.Path(path_type=Path, dir_okay=False),
              help="Also append the Markdown summary to this file ($GITHUB_STEP_SUMMARY).")
@click.option("--sarif", "sarif_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write SARIF to this file (code scanning upload).")
def gate(directory: Path, base: str | None, with_lint: bool, baseline: Path | None,
         with_escape: bool, bench: str | None, fail_on: tuple[str, ...],
         profiles: tuple[Path, ...], budgets: tuple[str, ...], ops: int | None,
         source: Path | None, output_format: str, summary: Path | None,
         sarif_file: Path | None) -> int:
    """Fail a change for new map risks and measured map cost: exit 0 pass, 1 fail, 2 when a
    check could not decide.

    \b
    mapguard gate --base origin/main --lint --escape
    mapguard gate --lint --baseline mapguard-baseline.json --format sarif
    mapguard gate --bench old.txt,new.txt --fail-on 'allocs/op>0'
    mapguard gate --profile allocs.pb.gz --profile-budget 'map.share<=20%' --ops 10000
    DIRECTORY is the Go module to gate (default: here).
    """
    if not directory.is_dir():
        raise UsageError(f"{directory}: not a directory (expected the Go module to gate)")
    root = directory.resolve()
    parsed_budgets = [Budget.parse(text) for text in budgets]
    bench_files = _bench_files(bench)
    for path, option in ((summary, "--summary"), (sarif_file, "--sarif")):
        if path is not None and not path.parent.is_dir():
            raise UsageError(f"{option} {path}: directory {path.parent} does not exist")
    if baseline is not None and not with_lint:
        raise UsageError("--baseline goes with --lint")
    if fail_on and bench_files is None:
        raise UsageError("--fail-on goes with --bench OLD,NEW")
    if budgets and not profiles:
        raise UsageError("--profile-budget needs --profile FILE")
    if profiles and not budgets:
        raise UsageError("--profile needs at least one --profile-budget")
    if not (with_lint or with_escape or bench_files or budgets):
        raise UsageError("nothing to check: give --lint, --escape, --bench or --profile-budget")
    if with_escape and base is None:
        raise UsageError("--escape compares with the base revision: give --base REV")
    results: list[checks.CheckResult] = []
    with ExitStack() as stack:
        base_tree = None
        if base is not None and (with_escape or (with_lint and baseline is None)):
            from mapguard.bench.revisions import checkouts

            (checkout,) = stack.enter_context(checkouts(root, [base]))
            base_tree = checkout.package_dir
        toolchain = None
        if with_escape:
            from mapguard.gotool import find_go

            toolchain = find_go()
        if with_lint:
            results.append(checks.lint_check(root, base_tree, baseline, base))
        if with_escape:
            results.append(checks.escape_check(root, base_tree, base, toolchain))
    if bench_files is not None:
        results.append(checks.bench_check(*bench_files, fail_on))
    if parsed_budgets:
        results.append(_profiles(profiles, source or root, parsed_budgets, ops))
    _emit(results, output_format, base, root, summary, sarif_file)
    return exit_status(results)


def _bench_files(bench: str | None) -> tuple[Path, Path] | None:
    if bench is None:
        return None
    parts = [part.strip() for part in bench.split(",")]
    if len(parts) != 2 or not all(parts):
        raise UsageError(f"--bench {bench!r}: expected OLD,NEW (two benchmark files)")
    return Path(parts[0]), Path(parts[1])


def _profiles(paths: tuple[Path, ...], source: Path, budgets: list[Budget],
              ops: int | None) -> checks.CheckResult:
    from mapguard.bundle.evidence import load_costs
    from mapguard.bundle.reader import Entry

    loaded = []
    problems = []
    for path in paths:
        try:
            loaded.append(load_costs(Entry("profile", "gate", path), source))
        except MapguardError as exc:
            problems.append(str(exc))
    return checks.profile_check(loaded, budgets, ops, problems)


def _emit(results: list[checks.CheckResult], output_format: str, base: str | None, root: Path,
          summary: Path | None, sarif_file: Path | None) -> None:
    if output_format == "json":
        text = json.dumps({"version": 1, **render_json(results, base)}, indent=2) + "\n"
    elif output_format == "markdown":
        text = render_markdown(results, base)
    elif output_format == "sarif":
        text = json.dumps(render_sarif(results, root), indent=2) + "\n"
    else:
        text = render_text(results)
    sys.stdout.write(text)
    try:
        if summary is not None:
            with summary.open("a", encoding="utf-8") as handle:
                handle.write(render_markdown(results, base))
        if sarif_file is not None:
            sarif_file.write_text(json.dumps(render_sarif(results, root), indent=2) + "\n",
                                  encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename}: {exc.strerror}") from None
