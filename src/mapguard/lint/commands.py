"""`mapguard lint`, `mapguard explain`, `mapguard rules`: thin commands over the lint engine."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mapguard.clikit import counted, emit_json, format_option
from mapguard.errors import MapguardError, UsageError
from mapguard.goversion import GoVersion
from mapguard.lint import baseline as baselines
from mapguard.lint.cache import default_cache_dir
from mapguard.lint.config import find_config, load_config
from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.fixes import plan_fixes, unified_diff
from mapguard.lint.output import (
    display_path,
    dumps,
    render_errors,
    render_github,
    render_json,
    render_sarif,
    render_text,
)
from mapguard.lint.registry import ALL_RULES, rule_for, select_rules
from mapguard.lint.results import LintResult
from mapguard.lint.rule import Finding
from mapguard.source.discover import Selection

if TYPE_CHECKING:
    from mapguard.lint.escape_join import Annotations


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command()
@click.argument("targets", nargs=-1)
@format_option(("text", "json", "sarif", "github"))
@click.option("--fix", is_flag=True, help="Apply the safe fixes to the files.")
@click.option("--unsafe-fixes", is_flag=True,
              help="With --fix or --diff, also the fixes marked unsafe.")
@click.option("--diff", "show_diff", is_flag=True, help="Print the fixes as a diff instead.")
@click.option("--select", multiple=True, help="Only these rules (codes or names, comma-separated).")
@click.option("--ignore", multiple=True, help="Skip these rules.")
@click.option("--go-version", help="Give advice as if go.mod said this version (e.g. 1.21).")
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Configuration file (default: nearest .mapguard.toml or pyproject.toml).")
@click.option("--baseline", "baseline_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Report only findings not recorded in this baseline.")
@click.option("--write-baseline", type=click.Path(path_type=Path, dir_okay=False),
              help="Record the current findings as the baseline and exit 0.")
@click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable).")
@click.option("--include-generated", is_flag=True, default=None,
              help="Also lint generated files.")
@click.option("--advice-everywhere", is_flag=True, default=None,
              help="Also give the speed and style advice (MG001-MG003, MG010) in test and "
                   "tool code.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), help="Worker processes (0: all cores).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the result cache.")
@click.option("--output", "-o", "output_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the report to this file instead of stdout.")
@click.option("--escape", "with_escape", is_flag=True,
              help="Build the packages with -gcflags=-m=2 and show each finding's map verdict.")
def lint_command(
    targets: tuple[str, ...], output_format: str, fix: bool, unsafe_fixes: bool,
    show_diff: bool, select: tuple[str, ...], ignore: tuple[str, ...], go_version: str | None,
    config_path: Path | None, baseline_path: Path | None, write_baseline: Path | None,
    exclude: tuple[str, ...], include_generated: bool | None,
    advice_everywhere: bool | None, jobs: int | None,
    no_cache: bool, output_path: Path | None, with_escape: bool,
) -> int:
    """Find risky map updates in Go packages (default ./...).

    TARGETS are Go package patterns as for `go vet`: `./...`, `dir/...`, a directory (its
    package) or .go files. Exit status: 0 nothing found, 1 findings, 2 usage or input errors
    (files that do not parse are listed and the rest is analysed).
    """
    cwd = Path.cwd()
    loaded = load_config(config_path or find_config(cwd))
    config = loaded.config
    # A rule named on the command line is wanted, whatever the configuration ignores.
    chosen = _split(select)
    rules = select_rules(chosen or config.select,
                         _split(ignore) or ([] if chosen else config.ignore))
    version_text = go_version or config.go_version
    try:
        forced = GoVersion.parse(version_text) if version_text else None
    except ValueError as exc:
        raise UsageError(f"--go-version: {exc}") from None
    options = LintOptions(
        rules=rules,
        selection=Selection(
            exclude=(*config.exclude, *exclude), base=loaded.base,
            include_generated=config.include_generated if include_generated is None
            else include_generated,
            include_tests=config.include_tests,
        ),
        go_version=forced,
        detect_toolchain=forced is None,
        jobs=jobs if jobs is not None else config.jobs,
        cache_dir=None if no_cache or not config.cache else default_cache_dir(),
        advice_everywhere=(config.advice_everywhere if advice_everywhere is None
                           else advice_everywhere),
    )
    patterns = list(targets) or ["./..."]
    with _progress(output_format) as report_progress:
        result = lint(patterns, options, cwd=cwd, progress=report_progress)
    if write_baseline is not None:
        count = baselines.write_baseline(write_baseline, result.findings)
        click.echo(f"wrote {count} findings to {write_baseline}", err=True)
        return 2 if result.errors else 0
    baseline_file = baseline_path or (loaded.base / config.baseline if config.baseline else None)
    if baseline_file is not None:
        new, matched = baselines.filter_new(baseline_file, result.findings)
        result = replace(result, findings=tuple(new))
        if matched:
            click.echo(f"{matched} findings matched the baseline {baseline_file}", err=True)
    if fix or show_diff:
        result = _apply_fixes(result, cwd, write=fix and not show_diff, unsafe=unsafe_fixes)
    escape: Annotations | None = None
    escape_error: MapguardError | None = None
    if with_escape:
        from mapguard.lint.escape_join import escape_annotations

        try:
            escape = escape_annotations(result.findings, [str(cwd / p) for p in patterns])
        except MapguardError as exc:
            escape_error = exc  # the findings are still reported, without verdicts
    _emit(result, output_format, cwd, output_path, escape)
    if escape_error is not None:
        raise escape_error
    if result.errors:
        return 2
    return 1 if result.findings else 0


@contextmanager
def _progress(output_format: str) -> Iterator[Callable[[int, int], None] | None]:
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    with Progress(TextColumn("linting"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("packages"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("lint", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _apply_fixes(result: LintResult, cwd: Path, *, write: bool, unsafe: bool) -> LintResult:
    by_file: dict[Path, list[Finding]] = defaultdict(list)
    for finding in result.findings:
        if finding.fix is not None:
            by_file[finding.path].append(finding)
    fixed: set[Finding] = set()
    for path, findings in sorted(by_file.items()):
        plan = plan_fixes(path, path.read_bytes(), findings, unsafe=unsafe)
        if plan.parse_error is not None:
            click.echo(f"{display_path(path, cwd)}: {plan.parse_error}", err=True)
            continue
        if write:
            path.write_bytes(plan.fixed)
            fixed.update(plan.applied)
        else:
            sys.stdout.write(unified_diff(plan, display_path(path, cwd)))
    if write:
        files = len({f.path for f in fixed})
        click.echo(f"fixed {counted(len(fixed), 'finding')} in {counted(files, 'file')}",
                   err=True)
        return replace(result, findings=tuple(f for f in result.findings if f not in fixed))
    return result


def _emit(result: LintResult, output_format: str, cwd: Path, output_path: Path | None,
          escape: Annotations | None = None) -> None:
    if output_format == "json":
        text = dumps(render_json(result, cwd, escape))
    elif output_format == "sarif":
        text = dumps(render_sarif(result, ALL_RULES, cwd))
    elif output_format == "github":
        text = render_github(result, cwd)
    else:
        text = render_text(result, cwd, color=output_path is None and sys.stdout.isatty(),
                           escape=escape)
        if result.errors:
            click.echo("files not analysed:\n" + render_errors(result, cwd), err=True)
    if output_path is not None:
        output_path.write_text(text + "\n", encoding="utf-8")
    elif text:
        click.echo(text)


@click.command()
@click.argument("rule")
def explain(rule: str) -> int:
    """What a rule finds, why it costs, an example, what to write instead, false alarms."""
    found = rule_for(rule)
    needs = f", needs Go {found.needs}" if found.needs else ""
    click.echo(f"# {found.code} {found.name} ({found.severity}{needs})\n")
    click.echo(found.doc.strip())
    return 0


@click.command()
@format_option()
def rules(output_format: str) -> int:
    """The rule catalogue."""
    if output_format == "json":
        emit_json({"rules": [
            {"code": r.code, "name": r.name, "severity": str(r.severity),
             "needs": str(r.needs) if r.needs else None, "summary": r.summary}
            for r in ALL_RULES
        ]})
        return 0
    for r in ALL_RULES:
        needs = f"go>={r.needs}" if r.needs else ""
        click.echo(f"{r.code}  {r.name:28} {r.severity!s:8} {needs:9} {r.summary}")
    return 0

