"""`mapguard slo`: validate, generate, status, convert — thin shells over the library."""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

from mapguard.bundle.options import bundle_options, open_bundle_writer
from mapguard.clikit import counted, emit_json, format_option
from mapguard.errors import InputError, UsageError
from mapguard.respond.config import is_loopback, read_token
from mapguard.slo import tools
from mapguard.slo.alert_windows import Catalog, load_catalogs
from mapguard.slo.alertmanager import RespondWebhook, render_alertmanager
from mapguard.slo.conventions import Convention
from mapguard.slo.convert import TARGETS, convert
from mapguard.slo.dashboard import render_dashboard
from mapguard.slo.durations import Duration
from mapguard.slo.generate import generate, slo_groups, with_options
from mapguard.slo.kubernetes import render_prometheus_rules
from mapguard.slo.model import SLO, SpecSet
from mapguard.slo.promtool_tests import build_tests, render_tests
from mapguard.slo.rules import RecordingRule, RuleGroup, render
from mapguard.slo.spec import Discovery, check_specs, load_specs
from mapguard.slo.spec_sloth import DEFAULT_PERIOD
from mapguard.slo.status import PrometheusAPI, fetch_status, render_text, report_json

SPECS = click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
DEFAULT_PERIOD_OPTION = click.option(
    "--default-period", "--default-slo-period", "default_period",
    default=str(DEFAULT_PERIOD), show_default=True,
    help="SLO period for specs that do not set one (Sloth, OpenSLO without timeWindow).",
)
WINDOWS_OPTION = click.option(
    "--windows", "--slo-period-windows-path", "windows_dir",
    type=click.Path(path_type=Path),
    help="Directory of Sloth AlertWindows catalogs: the burn windows per SLO period "
         "(replaces the SRE workbook's, as in Sloth).",
)
LABELS_OPTION = click.option(
    "--labels", "convention", type=click.Choice([c.value for c in Convention]),
    help="Label convention of the rules: sloth (sloth_* labels, one alert name per SLO; the "
         "default for Sloth specs) or mapguard (the default for mapguard/v1 and OpenSLO v1).",
)
DUPLICATES_OPTION = click.option(
    "--ignore-slo-duplicates", is_flag=True,
    help="Allow one SLO id in several files (as Sloth's flag; generate then needs -o DIR/).",
)
INCLUDE_OPTION = click.option("-n", "--fs-include", "include",
                              help="Only read files of a directory whose path matches this regex.")
EXCLUDE_OPTION = click.option("-e", "--fs-exclude", "exclude",
                              help="Skip files of a directory whose path matches this regex "
                                   "(wins over --fs-include).")


def _period(text: str) -> Duration:
    try:
        return Duration.parse(text)
    except ValueError as exc:
        raise UsageError(f"--default-period: {exc}") from None


def _regex(option: str, text: str | None) -> re.Pattern[str] | None:
    if text is None:
        return None
    try:
        return re.compile(text)
    except re.error as exc:
        raise UsageError(f"{option}: not a regular expression: {exc}") from None


def _extra_labels(pairs: tuple[str, ...]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--extra-labels: {pair!r} is not NAME=VALUE")
        labels[name.strip()] = value
    return labels


@dataclass(frozen=True, slots=True)
class _Inputs:
    default_period: Duration
    catalog: Catalog | None
    discovery: Discovery
    convention: Convention | None
    allow_duplicates: bool


def _inputs(default_period: str, windows_dir: Path | None, include: str | None,
            exclude: str | None, convention: str | None, allow_duplicates: bool) -> _Inputs:
    return _Inputs(
        _period(default_period),
        load_catalogs(windows_dir) if windows_dir is not None else None,
        Discovery(_regex("--fs-include", include), _regex("--fs-exclude", exclude)),
        Convention(convention) if convention else None,
        allow_duplicates,
    )


def _read(specs: Sequence[Path], inputs: _Inputs, extra_labels: dict[str, str] | None = None
          ) -> tuple[SpecSet, tuple[InputError, ...]]:
    loaded, problems = check_specs(
        specs, default_period=inputs.default_period, catalog=inputs.catalog,
        discovery=inputs.discovery, allow_duplicates=inputs.allow_duplicates,
    )
    return with_options(loaded, convention=inputs.convention, extra_labels=extra_labels), problems


def _report_problems(problems: Sequence[InputError]) -> None:
    for problem in problems:
        click.echo(f"mapguard: error: {problem}", err=True)


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

    Reads Sloth specs unchanged (prometheus/v1, the Kubernetes PrometheusServiceLevel and its
    OpenSLO v1alpha), OpenSLO v1, and `mapguard/v1` (Sloth plus histogram latency SLIs, any
    period, custom burn windows and map guards).
    """


@slo.command()
@SPECS
@DEFAULT_PERIOD_OPTION
@WINDOWS_OPTION
@LABELS_OPTION
@DUPLICATES_OPTION
@INCLUDE_OPTION
@EXCLUDE_OPTION
@click.option("--promtool/--no-promtool", "use_promtool", default=True, show_default=True,
              help="Also check the rules the specs generate with `promtool check rules` "
                   "(when promtool is installed).")
@format_option()
def validate(specs: tuple[Path, ...], default_period: str, windows_dir: Path | None,
             convention: str | None, ignore_slo_duplicates: bool, include: str | None,
             exclude: str | None, use_promtool: bool, output_format: str) -> int:
    """Check spec files and directories: one line per problem (file:line: field: what was
    expected) for every problem in every file, then exit 2."""
    inputs = _inputs(default_period, windows_dir, include, exclude, convention,
                     ignore_slo_duplicates)
    loaded, problems = _read(specs, inputs)
    checked = None
    if not problems and use_promtool and tools.find("promtool"):
        problems = _promtool_problems(loaded)
        checked = "promtool check rules: ok" if not problems else None
    _warn(loaded.warnings)
    if output_format == "json":
        emit_json({
            "valid": not problems,
            "files": [str(p) for p in specs],
            "formats": sorted(set(loaded.formats)),
            "slos": [slo.id for slo in loaded.slos],
            "map_guards": [guard.target for guard in loaded.guards],
            "problems": [str(problem) for problem in problems],
            "warnings": list(loaded.warnings),
            "promtool": checked is not None,
        })
        return 2 if problems else 0
    if problems:
        _report_problems(problems)
        return 2
    formats = ", ".join(sorted(set(loaded.formats)))
    guards = counted(len(loaded.guards), "map guard")
    click.echo(f"ok: {counted(len(loaded.slos), 'SLO')}, {guards} ({formats})"
               + (f"; {checked}" if checked else ""))
    return 0


def _promtool_problems(specs: SpecSet) -> tuple[InputError, ...]:
    """promtool's verdict on the rules each spec file generates (one promtool run), one line
    per SLO it rejects."""
    with tempfile.TemporaryDirectory(prefix="mapguard-validate-") as tmp:
        paths = []
        for index, (_, part) in enumerate(_per_file(specs)):
            path = Path(tmp) / f"{index}.yml"
            path.write_text(render(generate(part)), encoding="utf-8")
            paths.append(path)
        verdict = tools.check_rules(*paths)
        output = verdict.output
        for path in paths:
            output = output.replace(f"{path}: ", "")
    return () if verdict.ok else promtool_problems(specs, output)


def _failures(output: str) -> list[str]:
    lines = [line.strip() for line in output.splitlines()
             if "group " in line or "parse error" in line or "invalid" in line]
    return lines or [output.strip().splitlines()[-1] if output.strip() else "failed"]


def promtool_problems(specs: SpecSet, output: str) -> tuple[InputError, ...]:
    """promtool's failures as one line per SLO they are about (first failure, and a count)."""
    by_slo: dict[str, list[str]] = {}
    owners: dict[str, SLO | None] = {}
    for line in _failures(output):
        slo = next((s for s in specs.slos
                    if any(f'"{name}"' in line for name in _group_names(s))), None)
        key = slo.id if slo is not None else ""
        by_slo.setdefault(key, []).append(line)
        owners[key] = slo
    found = []
    for key, lines in by_slo.items():
        more = f" (and {counted(len(lines) - 1, 'more failure')})" if len(lines) > 1 else ""
        slo = owners[key]
        if slo is None:
            found.append(InputError(", ".join(sorted(set(specs.formats))) or "specs",
                                    f"promtool rejects the generated rules: {lines[0]}{more}"))
        else:
            found.append(InputError(slo.source, f"promtool rejects the rules of SLO {slo.id!r}: "
                                    f"{lines[0]}{more}", where=slo.path))
    return tuple(found)


def _group_names(slo: SLO) -> list[str]:
    return [group.name for group in slo_groups(slo)]


def _output_kind(output_format: str) -> str:
    return "prometheusrule" if output_format == "prometheusrule" else "rules"


def _rules_text(specs: SpecSet, groups: Sequence[RuleGroup], kind: str,
                sources: Sequence[str]) -> str:
    if kind == "prometheusrule":
        return render_prometheus_rules(specs, sources=sources)
    return render(groups, sources=sources)


@slo.command(name="generate")
@SPECS
@click.option("-o", "--output", "output_text", type=click.Path(),
              help="Rule file to write (default: standard output); a directory (existing, or "
                   "ending in /) gets one rule file per spec file, as Sloth writes them.")
@click.option("--tests", "tests_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write promtool unit tests for the rules (needs -o FILE).")
@click.option("--alertmanager", "am_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write an Alertmanager route + inhibition configuration.")
@click.option("--respond", "respond_url", metavar="URL",
              help="Also send map guard alerts and pages to `mapguard respond` at this URL "
                   "(needs --alertmanager), e.g. http://127.0.0.1:9466/alerts.")
@click.option("--respond-token-file", "respond_token", type=click.Path(path_type=Path),
              help="File holding the bearer token Alertmanager sends to mapguard respond "
                   "(needed for any address but loopback).")
@click.option("--respond-ca-file", "respond_ca", type=click.Path(path_type=Path),
              help="PEM file of the CA that signed mapguard respond's certificate (https URLs "
                   "with a private CA).")
@click.option("--dashboard", "dashboard_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a Grafana dashboard (JSON) reading the recording rules.")
@DEFAULT_PERIOD_OPTION
@WINDOWS_OPTION
@LABELS_OPTION
@click.option("-l", "--extra-labels", "extra_labels", multiple=True, metavar="NAME=VALUE",
              help="A label for every generated rule (repeatable), as Sloth's --extra-labels.")
@DUPLICATES_OPTION
@INCLUDE_OPTION
@EXCLUDE_OPTION
@click.option("--check/--no-check", default=True, show_default=True,
              help="Check what was written with promtool check rules and amtool check-config "
                   "(skipped with a note when the tools are missing).")
@click.option("--run-tests", is_flag=True,
              help="Also run the written promtool tests (in parallel, one process per CPU).")
@format_option(("text", "json", "prometheusrule"))
def generate_command(
    specs: tuple[Path, ...], output_text: str | None, tests_path: Path | None,
    am_path: Path | None, respond_url: str | None, respond_token: Path | None,
    respond_ca: Path | None, dashboard_path: Path | None, default_period: str,
    windows_dir: Path | None, convention: str | None, extra_labels: tuple[str, ...],
    ignore_slo_duplicates: bool, include: str | None, exclude: str | None, check: bool,
    run_tests: bool, output_format: str,
) -> int:
    """Write Prometheus rules (and tests, Alertmanager config, dashboard) for SLO specs.

    --format prometheusrule writes monitoring.coreos.com/v1 PrometheusRule objects instead of
    a rule file (one per input, as Sloth's Kubernetes mode); json reports as JSON.
    """
    # pathlib drops a trailing slash: look at the text as given.
    output = Path(output_text) if output_text is not None else None
    to_dir = output_text is not None and (Path(output_text).is_dir()
                                          or output_text.endswith(("/", os.sep)))
    if (output is None or to_dir) and (tests_path is not None or output_format == "json"):
        raise UsageError("--tests and --format json need the rules in one file: "
                         "add -o RULES.yml")
    if run_tests and tests_path is None:
        raise UsageError("--run-tests needs --tests FILE")
    respond = _respond_webhook(respond_url, respond_token, respond_ca, am_path)
    if ignore_slo_duplicates and not to_dir:
        raise UsageError("--ignore-slo-duplicates needs -o DIR/ (one rule file per spec): "
                         "one rule file cannot hold the same SLO twice")
    started = time.perf_counter()
    inputs = _inputs(default_period, windows_dir, include, exclude, convention,
                     ignore_slo_duplicates)
    loaded, problems = _read(specs, inputs, _extra_labels(extra_labels))
    if problems:
        _warn(loaded.warnings)
        _report_problems(problems)
        return 2
    kind = _output_kind(output_format)
    groups = generate(loaded)
    warnings = list(loaded.warnings)
    written: dict[str, str] = {}
    rule_files: list[tuple[Path, SpecSet]] = []
    if output is None:
        sys.stdout.write(_rules_text(loaded, groups, kind, [str(p) for p in specs]))
    elif to_dir:
        for source, part in _per_file(loaded):
            target = output / _relative(Path(source), specs)
            _write(target, _rules_text(part, generate(part), kind, [source]))
            rule_files.append((target, part))
        written["rules"] = str(output)
    else:
        _write(output, _rules_text(loaded, groups, kind, [str(p) for p in specs]))
        rule_files.append((output, loaded))
        written["rules"] = str(output)
    if tests_path is not None and output is not None:
        relative = os.path.relpath(output.resolve(), tests_path.resolve().parent)
        document, test_warnings = build_tests(loaded, groups, relative)
        warnings += test_warnings
        _write(tests_path, render_tests(document))
        written["tests"] = str(tests_path)
    if am_path is not None:
        _write(am_path, render_alertmanager(loaded, respond=respond))
        written["alertmanager"] = str(am_path)
    if dashboard_path is not None:
        _write(dashboard_path, render_dashboard(loaded, groups))
        written["dashboard"] = str(dashboard_path)
    elapsed = time.perf_counter() - started
    verdicts = _checks(rule_files, written, kind=kind, check=check, run_tests=run_tests)
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
        note = ", ".join(f"{k} {path}" for k, path in written.items())
        click.echo(f"mapguard: {recording} recording and {alerting} alerting rules for "
                   f"{counted(len(loaded.slos), 'SLO')} and "
                   f"{counted(len(loaded.guards), 'map guard')} in "
                   f"{elapsed:.2f} s{': ' + note if note else ''}", err=True)
        for verdict in verdicts:
            click.echo(f"mapguard: {verdict.summary}", err=True)
            if not verdict.ok:
                click.echo(verdict.output, err=True)
    return 0 if all(v.ok for v in verdicts) else 1


def _respond_webhook(url: str | None, token_file: Path | None, ca_file: Path | None,
                     am_path: Path | None) -> RespondWebhook | None:
    if url is None:
        if token_file is not None or ca_file is not None:
            raise UsageError("--respond-token-file and --respond-ca-file need --respond URL")
        return None
    if am_path is None:
        raise UsageError("--respond needs --alertmanager FILE (the configuration it goes into)")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UsageError(f"--respond: {url!r} is not an http(s) URL")
    if token_file is None and not is_loopback(parts.hostname):
        raise UsageError(f"--respond: {parts.hostname} is not a loopback address: mapguard "
                         "respond requires a bearer token there; add --respond-token-file")
    if token_file is not None:
        try:
            read_token(token_file)
        except ValueError as exc:
            raise InputError("--respond-token-file", str(exc)) from None
    if ca_file is not None:
        _check_certificate(ca_file)
    # Absolute: Alertmanager reads relative paths from its configuration's directory.
    return RespondWebhook(url, _absolute(token_file), _absolute(ca_file))


def _absolute(path: Path | None) -> str | None:
    return str(path.resolve()) if path is not None else None


def _check_certificate(path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError("--respond-ca-file", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError("--respond-ca-file", f"{path} is not UTF-8 text",
                         expected="a PEM certificate") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise InputError("--respond-ca-file", f"{path} holds no certificate",
                         expected="a PEM certificate") from None


def _per_file(specs: SpecSet) -> list[tuple[str, SpecSet]]:
    """The specs split by the file they came from (in order)."""
    sources = list(dict.fromkeys([s.source for s in specs.slos] + [g.source for g in specs.guards]))
    return [
        (source, SpecSet(tuple(s for s in specs.slos if s.source == source),
                         tuple(g for g in specs.guards if g.source == source)))
        for source in sources
    ]


def _relative(source: Path, given: Sequence[Path]) -> Path:
    """Where a spec's rule file goes under -o DIR: its path below the directory it was found
    in, or its name when it was given as a file."""
    for root in given:
        if root.is_dir():
            try:
                return source.relative_to(root)
            except ValueError:
                continue
    return Path(source.name)


def _checks(rule_files: Sequence[tuple[Path, SpecSet]], written: dict[str, str], *, kind: str,
            check: bool, run_tests: bool) -> list[tools.Verdict]:
    verdicts: list[tools.Verdict] = []
    missing = []
    if check and rule_files:
        if tools.find("promtool"):
            verdicts += [_check_rules(path, part, kind) for path, part in rule_files]
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


def _check_rules(path: Path, specs: SpecSet, kind: str) -> tools.Verdict:
    """promtool's verdict on one written file, its failures summarised one line per SLO."""
    if kind == "prometheusrule":
        # promtool reads rule files: check the same groups as one.
        with tempfile.TemporaryDirectory(prefix="mapguard-check-") as tmp:
            plain = Path(tmp) / "rules.yml"
            plain.write_text(render(generate(specs)), encoding="utf-8")
            verdict = tools.check_rules(plain)
            output = verdict.output.replace(str(plain), str(path))
    else:
        verdict = tools.check_rules(path)
        output = verdict.output
    if verdict.ok:
        return verdict
    lines = [str(problem) for problem in promtool_problems(specs, output)]
    return tools.Verdict(f"{verdict.tool} {path}", False, "\n".join(lines))


@slo.command()
@click.option("--prometheus", "url", required=True, envvar="MAPGUARD_PROMETHEUS",
              help="Base URL of the Prometheus server, e.g. http://127.0.0.1:9090.")
@click.option("--slo", "only", multiple=True, help="Only this SLO (id or name); repeatable.")
@click.option("--timeout", default=10.0, show_default=True, help="HTTP timeout in seconds.")
@format_option()
@bundle_options
def status(url: str, only: tuple[str, ...], timeout: float, output_format: str,
           bundle_dir: Path | None, bundle_label: str) -> int:
    """SLI, burn rate per window, budget left and firing alerts; exit 1 while alerts fire."""
    bundle = open_bundle_writer(bundle_dir, bundle_label, "mapguard slo status")
    api = PrometheusAPI(url, timeout=timeout)
    report = fetch_status(api, only=only)
    if output_format == "json":
        emit_json(report_json(report))
    else:
        click.echo(render_text(report))
    if bundle is not None:
        bundle.add_json("slo", bundle_label, {"version": 1, **report_json(report)})
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

