"""`mapguard lint`, `mapguard explain`, `mapguard rules`: thin commands over the lint engine."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mapguard.bundle.options import bundle_options, open_bundle_writer
from mapguard.clikit import (
    counted,
    emit_json,
    format_option,
    nothing_to_tear_down,
    progress_bar,
)
from mapguard.errors import MapguardError, UsageError
from mapguard.lint import baseline as baselines
from mapguard.lint.config import LoadedConfig, find_config, load_config
from mapguard.lint.engine import LintOptions, content_digest, lint_expansion
from mapguard.lint.modules import (
    CommandLine,
    ModuleOptions,
    options_from,
    without_broken_modules,
)
from mapguard.lint.output import (
    display_path,
    dumps,
    render_errors,
    render_github,
    render_json,
    render_notes,
    render_sarif,
    render_text,
)
from mapguard.lint.registry import ALL_RULES, OFF_BY_DEFAULT, rule_for
from mapguard.lint.results import LintResult
from mapguard.lint.rule import Finding
from mapguard.source.discover import DirTarget, Expansion, expand

if TYPE_CHECKING:
    from mapguard.lint.escape_join import Annotations
    from mapguard.lint.measured import ProfileEvidence


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
@click.option("--extend-select", multiple=True,
              help="Also these rules (MG001, MG002, MG008, MG010, MG013 and MG014 are off by "
                   "default).")
@click.option("--ignore", multiple=True, help="Skip these rules.")
@click.option("--go-version", help="Give advice as if go.mod said this version (e.g. 1.21).")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Configuration file (default: nearest .mapguard.toml or pyproject.toml).")
@click.option("--baseline", "baseline_path", type=click.Path(path_type=Path),
              help="Report only findings not recorded in this baseline.")
@click.option("--write-baseline", type=click.Path(path_type=Path),
              help="Record the current findings as the baseline and exit 0.")
@click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable).")
@click.option("--include-generated", is_flag=True, default=None,
              help="Also lint generated files.")
@click.option("--advice-everywhere", is_flag=True, default=None,
              help="Also give the speed and style advice (MG001-MG003, MG010) in test and "
                   "tool code.")
@click.option("--jobs", "-j", type=click.IntRange(min=0), help="Worker processes (0: all cores).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the result cache.")
@click.option("--output", "-o", "output_path", type=click.Path(path_type=Path),
              help="Write the report to this file instead of stdout.")
@click.option("--escape", "with_escape", is_flag=True,
              help="Build the packages with -gcflags=-m=2 and show each finding's map verdict.")
@click.option("--profile", "profile_target", metavar="FILE|URL",
              help="A pprof profile (allocs, heap or CPU; a file or a /debug/pprof URL): "
                   "findings ranked by their sites' measured cost, speed advice at cold "
                   "sites demoted, and the evidence-only rules MG011 and MG012.")
@click.option("--hot-share", type=click.FloatRange(min=0, max=100, min_open=True),
              metavar="PERCENT",
              help="With --profile: the share of the profile's total that makes a site hot "
                   "(default 1).")
@bundle_options
def lint_command(
    targets: tuple[str, ...], output_format: str, fix: bool, unsafe_fixes: bool,
    show_diff: bool, select: tuple[str, ...], extend_select: tuple[str, ...],
    ignore: tuple[str, ...], go_version: str | None,
    config_path: Path | None, baseline_path: Path | None, write_baseline: Path | None,
    exclude: tuple[str, ...], include_generated: bool | None,
    advice_everywhere: bool | None, jobs: int | None,
    no_cache: bool, output_path: Path | None, with_escape: bool,
    profile_target: str | None, hot_share: float | None, bundle_dir: Path | None,
    bundle_label: str,
) -> int:
    """Find risky map updates in Go packages (default ./...).

    TARGETS are Go package patterns as for `go vet`: `./...`, `dir/...`, a directory (its
    package) or .go files. Exit status: 0 nothing found, 1 findings, 2 usage or input errors
    (files that do not parse are listed and the rest is analysed). With --profile, speed
    advice the profile demotes does not count towards status 1.
    """
    # Every file a lint writes is closed when written, every worker waited for.
    nothing_to_tear_down()
    cwd = Path.cwd()
    bundle = open_bundle_writer(bundle_dir, bundle_label, "mapguard lint")
    for option, path in (("--output", output_path), ("--write-baseline", write_baseline)):
        if path is not None:
            check_writable(path, option)
    run_config = load_config(config_path or find_config(cwd))
    flags = CommandLine(tuple(_split(select)), tuple(_split(ignore)), go_version, exclude,
                        include_generated, jobs, no_cache, advice_everywhere,
                        extend_select=tuple(_split(extend_select)),
                        profile=profile_target is not None)
    options = options_from(run_config, flags)
    modules = ModuleOptions(run_config, options, flags, explicit=config_path is not None)
    expansion = expand(list(targets) or ["./..."], cwd, options.selection)
    for why in expansion.unmatched:
        click.echo(f"warning: {why}", err=True)
    expansion, broken = without_broken_modules(expansion)
    expansion, per_dir = modules.apply(expansion)
    if not expansion.targets:
        raise UsageError("no Go files to lint: their modules' configurations exclude them all")
    evidence: ProfileEvidence | None = None
    if profile_target is not None:
        from mapguard.lint.profiled import load_evidence, tree_root

        share = hot_share if hot_share is not None else run_config.config.hot_share
        evidence = load_evidence(profile_target, tree_root(expansion.roots, cwd), share / 100)
        options = replace(options, evidence=evidence)
        per_dir = {directory: replace(o, evidence=evidence) for directory, o in per_dir.items()}
    elif hot_share is not None:
        raise UsageError("--hot-share needs --profile")

    def options_for(target: DirTarget) -> LintOptions:
        return per_dir[target.directory]

    with progress_bar("linting", "packages", refresh_thread=False) as report_progress:
        result = lint_expansion(expansion, options, progress=report_progress,
                                options_for=options_for)
    if broken:
        result = replace(result, notes=(*broken, *result.notes))
    if write_baseline is not None:
        count = baselines.write_baseline(write_baseline, result.findings)
        click.echo(f"wrote {count} findings to {write_baseline}", err=True)
        return 2 if result.errors else 0
    baseline_file = baseline_path or (run_config.base / run_config.config.baseline
                                      if run_config.config.baseline else None)
    if baseline_file is not None:
        new, matched = baselines.filter_new(baseline_file, result.findings)
        result = replace(result, findings=tuple(new))
        if matched:
            click.echo(f"{matched} findings matched the baseline {baseline_file}", err=True)
    diff = ""
    if fix or show_diff:
        result, diff, written = _apply_fixes(result, expansion, cwd,
                                             write=fix and not show_diff,
                                             unsafe=unsafe_fixes)
        if written:
            # The report shows the files as they are now: positions in the fixed text.
            result = _relint_fixed(result, expansion, {p.parent for p in written}, options,
                                   options_for)
    escape: Annotations | None = None
    escape_error: MapguardError | None = None
    if with_escape:
        from mapguard.lint.escape_join import escape_annotations

        try:
            escape = escape_annotations(result.findings,
                                        [str(cwd / p) for p in (targets or ("./...",))])
        except MapguardError as exc:
            escape_error = exc  # the findings are still reported, without verdicts
    if evidence is not None:
        from mapguard.lint.measured import apply_evidence

        result = apply_evidence(result, evidence, gated=_on_by_evidence(run_config, flags))
    result = replace(result, off_by_default=tuple(
        rule.code for rule in OFF_BY_DEFAULT if rule not in options.rules))
    if diff and output_format != "json":
        # The report's format owns stdout; text has room for the diff before it.
        click.echo(diff, nl=False, err=output_format != "text")
    _emit(result, output_format, cwd, output_path, escape, diff if diff else None)
    if bundle is not None:
        bundle.add_json("lint", bundle_label, render_json(result, cwd, escape),
                        meta={"base": str(cwd)})
    if escape_error is not None:
        raise escape_error
    if result.errors:
        return 2
    return 1 if result.failing else 0


def _on_by_evidence(run_config: LoadedConfig, flags: CommandLine) -> frozenset[str]:
    """The rules that are off by default and run only because a profile was given: their
    findings count only where the profile shows the code hot."""
    config = run_config.config
    named = [*flags.select, *flags.extend_select]
    if not flags.select:
        named += [*(config.select or ()), *config.extend_select]
    asked = {rule_for(key).code for key in named}
    return frozenset(rule.code for rule in OFF_BY_DEFAULT if rule.code not in asked)


def check_writable(path: Path, option: str) -> None:
    """Fail before the work when a report could not be written there."""
    try:
        if path.is_dir():
            raise UsageError(f"{option} {path}: is a directory")
        path.stat()  # a symbolic link loop raises here; a missing file is fine
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise UsageError(f"{option} {path}: {exc.strerror}") from None
    parent = path.parent if str(path.parent) else Path()
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: no such directory {parent}")


def _apply_fixes(result: LintResult, expansion: Expansion, cwd: Path, *, write: bool,
                 unsafe: bool) -> tuple[LintResult, str, set[Path]]:
    """Write the fixes (or, without `write`, return them as one diff); also the files
    written. Only files inside the trees the command line named are written, each atomically
    and only if it still holds the text that was linted. Unsafe fixes only with `unsafe`."""
    # Only --fix and --diff read and write fixes (a plain lint leaves difflib unloaded).
    from mapguard.lint.fixes import plan_fixes, refusal, unified_diff, write_atomically

    by_file: dict[Path, list[Finding]] = defaultdict(list)
    for finding in result.findings:
        if finding.fix is not None:
            by_file[finding.path].append(finding)
    fixed: set[Finding] = set()
    diffs: list[str] = []
    written: set[Path] = set()  # real paths: two names of one file are fixed once
    for path, findings in sorted(by_file.items()):
        shown = display_path(path, cwd)
        why_not = refusal(path, expansion.roots)
        real = path.resolve() if why_not is None else path
        if why_not is None and real in written:
            continue
        try:
            original = path.read_bytes()
        except OSError as exc:
            click.echo(f"{shown}: cannot read: {exc.strerror}; not fixed", err=True)
            continue
        if result.digests.get(path) not in {None, content_digest(original)}:
            why_not = "changed on disk since it was linted: left alone (run mapguard again)"
        if why_not is not None:
            click.echo(f"{shown}: {why_not}", err=True)
            continue
        plan = plan_fixes(path, original, findings, unsafe=unsafe)
        if plan.parse_error is not None:
            click.echo(f"{shown}: {plan.parse_error}", err=True)
            continue
        if not write:
            diffs.append(unified_diff(plan, shown))
            continue
        failure = write_atomically(path, original, plan.fixed)
        if failure is not None:
            click.echo(f"{shown}: {failure}", err=True)
            continue
        written.add(real)
        fixed.update(plan.applied)
    if write:
        files = len({f.path for f in fixed})
        click.echo(f"fixed {counted(len(fixed), 'finding')} in {counted(files, 'file')}",
                   err=True)
        left = tuple(f for f in result.findings if f not in fixed)
        # Every name of a written file changed: the links to it too.
        changed = {p for p in by_file if p in {f.path for f in fixed} or (
            refusal(p, expansion.roots) is None and p.resolve() in written)}
        return replace(result, findings=left), "", changed
    return result, "".join(diffs), set()


def _relint_fixed(result: LintResult, expansion: Expansion, changed: set[Path],
                  options: LintOptions, options_for: Callable[[DirTarget], LintOptions]
                  ) -> LintResult:
    """The result with the `changed` directories linted again."""
    again = lint_expansion(
        replace(expansion, targets=tuple(t for t in expansion.targets if t.directory in changed)),
        options, options_for=options_for)

    def kept(path: Path) -> bool:
        return path.parent not in changed

    return replace(
        result,
        findings=tuple(sorted([*(f for f in result.findings if kept(f.path)), *again.findings],
                              key=lambda f: f.sort_key)),
        errors=tuple(sorted([*(e for e in result.errors if kept(e.path)), *again.errors],
                            key=lambda e: str(e.path))),
        notes=tuple(sorted([*(n for n in result.notes if kept(n.path)), *again.notes],
                           key=lambda n: (str(n.path), n.line))),
    )


def _emit(result: LintResult, output_format: str, cwd: Path, output_path: Path | None,
          escape: Annotations | None = None, diff: str | None = None) -> None:
    if output_format == "json":
        document = render_json(result, cwd, escape)
        if diff is not None:
            document["diff"] = diff
        text = dumps(document)
    elif output_format == "sarif":
        text = dumps(render_sarif(result, ALL_RULES, cwd))
    elif output_format == "github":
        text = render_github(result, cwd)
    else:
        text = render_text(result, cwd, color=output_path is None and sys.stdout.isatty(),
                           escape=escape)
        if result.errors:
            click.echo("files not analysed:\n" + render_errors(result, cwd), err=True)
        if result.notes:
            click.echo(render_notes(result, cwd), err=True)
    if output_path is not None:
        try:
            output_path.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--output {output_path}: {exc.strerror}") from None
    elif text:
        click.echo(text)


@click.command()
@click.argument("rule")
def explain(rule: str) -> int:
    """What a rule finds, why it costs, an example, what to write instead, false alarms."""
    found = rule_for(rule)
    needs = f", needs Go {found.needs}" if found.needs else ""
    if not found.on_by_default:
        needs += ", off by default"
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
             "needs": str(r.needs) if r.needs else None, "summary": r.summary,
             "on_by_default": r.on_by_default and not r.evidence_only}
            for r in ALL_RULES
        ]})
        return 0
    for r in ALL_RULES:
        needs = f"go>={r.needs}" if r.needs else ""
        off = " (off by default)" if not r.on_by_default else ""
        click.echo(f"{r.code}  {r.name:28} {r.severity!s:8} {needs:9} {r.summary}{off}")
    return 0

