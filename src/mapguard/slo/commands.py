"""`mapguard slo`: validate, generate, status, convert — thin shells over the library."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import click

from mapguard.clikit import counted, emit_json, format_option
from mapguard.errors import InputError, UsageError
from mapguard.slo import tools
from mapguard.slo.alertmanager import render_alertmanager
from mapguard.slo.convert import TARGETS, convert
from mapguard.slo.dashboard import render_dashboard
from mapguard.slo.durations import Duration
from mapguard.slo.generate import generate
from mapguard.slo.model import SpecSet
from mapguard.slo.promtool_tests import build_tests, render_tests
from mapguard.slo.rules import RecordingRule, RuleGroup, render
from mapguard.slo.spec import load_specs
from mapguard.slo.spec_sloth import DEFAULT_PERIOD
from mapguard.slo.status import PrometheusAPI, fetch_status, render_text, report_json

SPECS = click.argument("specs", nargs=-1, required=True,
                       type=click.Path(dir_okay=False, path_type=Path))
DEFAULT_PERIOD_OPTION = click.option(
    "--default-period", default=str(DEFAULT_PERIOD), show_default=True,
    help="SLO period for specs that do not set one (Sloth, OpenSLO without timeWindow).",
)


def _period(text: str) -> Duration:
    try:
        return Duration.parse(text)
    except ValueError as exc:
        raise UsageError(f"--default-period: {exc}") from None


def _warn(warnings: Sequence[str]) -> None:
    for warning in warnings:
        click.echo(f"mapguard: warning: {warning}", err=True)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def _counts(groups: Sequence[RuleGroup]) -> tuple[int, int]:
    rules = [rule for group in groups for rule in group.rules]
    recording = sum(isinstance(rule, RecordingRule) for rule in rules)
    return recording, len(rules) - recording


@click.group()
def slo() -> None:
    """SLOs as code: Prometheus rules, alerts, promtool tests, Alertmanager and Grafana.

    Reads Sloth `prometheus/v1` specs unchanged, OpenSLO v1, and `mapguard/v1` (Sloth plus
    histogram latency SLIs, any period, custom burn windows and map guards).
    """


@slo.command()
@SPECS
@DEFAULT_PERIOD_OPTION
@click.option("--promtool/--no-promtool", "use_promtool", default=True, show_default=True,
              help="Also check the rules the specs generate with `promtool check rules` "
                   "(when promtool is installed).")
@format_option()
def validate(specs: tuple[Path, ...], default_period: str, use_promtool: bool,
             output_format: str) -> int:
    """Check spec files; bad specs print one line (file, field, what was expected), exit 2."""
    loaded = load_specs(specs, default_period=_period(default_period))
    groups = generate(loaded)
    checked = None
    if use_promtool and tools.find("promtool"):
        _promtool_validate(loaded, groups)
        checked = "promtool check rules: ok"
    _warn(loaded.warnings)
    if output_format == "json":
        emit_json({
            "valid": True,
            "files": [str(p) for p in specs],
            "formats": list(loaded.formats),
            "slos": [slo.id for slo in loaded.slos],
            "map_guards": [guard.target for guard in loaded.guards],
            "warnings": list(loaded.warnings),
            "promtool": checked is not None,
        })
        return 0
    formats = ", ".join(sorted(set(loaded.formats)))
    guards = counted(len(loaded.guards), "map guard")
    click.echo(f"ok: {counted(len(loaded.slos), 'SLO')}, {guards} ({formats})"
               + (f"; {checked}" if checked else ""))
    return 0


def _promtool_validate(specs: SpecSet, groups: Sequence[RuleGroup]) -> None:
    with tempfile.TemporaryDirectory(prefix="mapguard-validate-") as tmp:
        path = Path(tmp) / "rules.yml"
        path.write_text(render(groups), encoding="utf-8")
        verdict = tools.check_rules(path)
    if verdict.ok:
        return
    output = verdict.output.replace(f"{path}: ", "")
    problem = next((line.strip() for line in output.splitlines()
                    if "group " in line or "parse error" in line), output.splitlines()[-1])
    for slo in specs.slos:
        if f'-{slo.id}"' in problem:
            raise InputError(slo.source, f"promtool rejects the generated rules: {problem}",
                             where=f"{slo.path}.sli", expected="valid PromQL queries")
    raise InputError(", ".join(specs.formats) or "specs",
                     f"promtool rejects the generated rules: {problem}")


@slo.command(name="generate")
@SPECS
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Rule file to write (default: standard output).")
@click.option("--tests", "tests_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write promtool unit tests for the rules (needs -o).")
@click.option("--alertmanager", "am_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write an Alertmanager route + inhibition configuration.")
@click.option("--dashboard", "dashboard_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a Grafana dashboard (JSON) reading the recording rules.")
@DEFAULT_PERIOD_OPTION
@click.option("--check/--no-check", default=True, show_default=True,
              help="Check what was written with promtool check rules and amtool check-config "
                   "(skipped with a note when the tools are missing).")
@click.option("--run-tests", is_flag=True,
              help="Also run the written promtool tests (in parallel, one process per CPU).")
@format_option()
def generate_command(
    specs: tuple[Path, ...], output: Path | None, tests_path: Path | None,
    am_path: Path | None, dashboard_path: Path | None, default_period: str, check: bool,
    run_tests: bool, output_format: str,
) -> int:
    """Write Prometheus rules (and tests, Alertmanager config, dashboard) for SLO specs."""
    if output is None and (tests_path is not None or output_format == "json"):
        raise UsageError("--tests and --format json need the rules in a file: add -o RULES.yml")
    if run_tests and tests_path is None:
        raise UsageError("--run-tests needs --tests FILE")
    started = time.perf_counter()
    loaded = load_specs(specs, default_period=_period(default_period))
    groups = generate(loaded)
    rules_text = render(groups, sources=[str(p) for p in specs])
    warnings = list(loaded.warnings)
    written: dict[str, str] = {}
    if output is None:
        sys.stdout.write(rules_text)
    else:
        _write(output, rules_text)
        written["rules"] = str(output)
    if tests_path is not None and output is not None:
        relative = os.path.relpath(output.resolve(), tests_path.resolve().parent)
        document, test_warnings = build_tests(loaded, groups, relative)
        warnings += test_warnings
        _write(tests_path, render_tests(document))
        written["tests"] = str(tests_path)
    if am_path is not None:
        _write(am_path, render_alertmanager(loaded))
        written["alertmanager"] = str(am_path)
    if dashboard_path is not None:
        _write(dashboard_path, render_dashboard(loaded, groups))
        written["dashboard"] = str(dashboard_path)
    elapsed = time.perf_counter() - started
    verdicts = _checks(written, check=check, run_tests=run_tests) if output or am_path else []
    _warn(warnings)
    recording, alerting = _counts(groups)
    if output_format == "json":
        emit_json({
            "written": written,
            "slos": len(loaded.slos), "map_guards": len(loaded.guards),
            "recording_rules": recording, "alerting_rules": alerting,
            "seconds": round(elapsed, 3),
            "checks": [{"tool": v.tool, "ok": v.ok, "output": v.output} for v in verdicts],
            "warnings": warnings,
        })
    else:
        note = ", ".join(f"{kind} {path}" for kind, path in written.items())
        click.echo(f"mapguard: {recording} recording and {alerting} alerting rules for "
                   f"{counted(len(loaded.slos), 'SLO')} and "
                   f"{counted(len(loaded.guards), 'map guard')} in "
                   f"{elapsed:.2f} s{': ' + note if note else ''}", err=True)
        for verdict in verdicts:
            click.echo(f"mapguard: {verdict.summary}", err=True)
            if not verdict.ok:
                click.echo(verdict.output, err=True)
    return 0 if all(v.ok for v in verdicts) else 1


def _checks(written: dict[str, str], *, check: bool, run_tests: bool) -> list[tools.Verdict]:
    verdicts: list[tools.Verdict] = []
    missing = []
    if check and "rules" in written:
        if tools.find("promtool"):
            verdicts.append(tools.check_rules(Path(written["rules"])))
        else:
            missing.append("promtool")
    if check and "alertmanager" in written:
        if tools.find("amtool"):
            verdicts.append(tools.check_alertmanager(Path(written["alertmanager"])))
        else:
            missing.append("amtool")
    if run_tests and "tests" in written:
        verdicts.append(tools.run_rule_tests(Path(written["tests"])))
    for tool in missing:
        click.echo(f"mapguard: note: {tool} not found, not checked ({tools.INSTALL_HINT[tool]})",
                   err=True)
    return verdicts


@slo.command()
@click.option("--prometheus", "url", required=True, envvar="MAPGUARD_PROMETHEUS",
              help="Base URL of the Prometheus server, e.g. http://127.0.0.1:9090.")
@click.option("--slo", "only", multiple=True, help="Only this SLO (id or name); repeatable.")
@click.option("--timeout", default=10.0, show_default=True, help="HTTP timeout in seconds.")
@format_option()
def status(url: str, only: tuple[str, ...], timeout: float, output_format: str) -> int:
    """SLI, burn rate per window, budget left and firing alerts; exit 1 while alerts fire."""
    api = PrometheusAPI(url, timeout=timeout)
    report = fetch_status(api, only=only)
    if output_format == "json":
        emit_json(report_json(report))
    else:
        click.echo(render_text(report))
    return 1 if report.firing else 0


@slo.command(name="convert")
@SPECS
@click.option("--to", "target", type=click.Choice(TARGETS), required=True,
              help="Format to write.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")
@DEFAULT_PERIOD_OPTION
def convert_command(specs: tuple[Path, ...], target: str, output: Path | None,
                    default_period: str) -> int:
    """Convert specs between Sloth prometheus/v1, OpenSLO v1 and mapguard/v1."""
    loaded = load_specs(specs, default_period=_period(default_period))
    text, warnings = convert(loaded, target)
    _warn([*loaded.warnings, *warnings])
    if output is None:
        sys.stdout.write(text)
    else:
        _write(output, text)
    return 0

