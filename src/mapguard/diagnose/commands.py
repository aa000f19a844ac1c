"""`mapguard diagnose` and `mapguard incidents`: thin commands over the diagnosis library."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from mapguard.bundle.options import open_bundle_writer
from mapguard.bundle.reader import open_bundle, read_json_file
from mapguard.bundle.writer import BundleWriter
from mapguard.clikit import emit_json
from mapguard.diagnose import incidents as library
from mapguard.diagnose.collect import label_evidence, saved_series
from mapguard.diagnose.engine import (
    DEFAULT_THRESHOLD,
    LabelEvidence,
    attach_correlations,
    diagnose,
)
from mapguard.diagnose.knowledge import CauseEntry, load_knowledge
from mapguard.diagnose.model import Diagnosed, Diagnosis
from mapguard.diagnose.render import diagnosis_json, render_markdown, render_text
from mapguard.errors import InputError, UsageError


def parse_threshold(text: str) -> float:
    """`1%`, `0.5%` or a fraction (`0.01`)."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"--threshold {text!r}: expected a percentage like 1% or a "
                         "fraction like 0.01") from None
    if not 0 <= value <= 1:
        raise UsageError(f"--threshold {text!r}: must be between 0% and 100%")
    return value


def parse_duration_s(text: str, option: str) -> float:
    from mapguard.load.plan import parse_seconds

    return parse_seconds(text, option)


@click.command("diagnose")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path),
              help="An evidence bundle directory (any subset of the kinds of evidence).")
@click.option("--label", "labels", multiple=True,
              help="Diagnose only this label of the bundle (repeatable; default: all).")
@click.option("--prometheus", "prometheus_url",
              help="A Prometheus holding mapguard_map_alloc_bytes_total by site (the metric "
                   "mapguard watch exports): diagnose a live target.")
@click.option("--target", help="With --prometheus: the target label of the series.")
@click.option("--since", default="1h", show_default=True,
              help="With --prometheus: how far back to look.")
@click.option("--step", default="15s", show_default=True,
              help="With --prometheus: resolution of the series correlated.")
@click.option("--latency-query", help="With --prometheus: a PromQL latency series (e.g. a p99) "
                                      "to correlate with each site's allocation rate.")
@click.option("--source", type=click.Path(path_type=Path),
              help="The Go source tree the evidence was taken from (overrides the bundle's).")
@click.option("--threshold", default=f"{100 * DEFAULT_THRESHOLD:g}%", show_default=True,
              help="Smallest share of its resource (allocated bytes, CPU) a cause must have.")
@click.option("--knowledge", type=click.Path(path_type=Path),
              help="A cause library in place of the shipped one (YAML).")
@click.option("--incidents", "incidents_db", type=click.Path(path_type=Path),
              help="Incident library to compare with (default: $MAPGUARD_INCIDENTS or "
                   "$XDG_DATA_HOME/mapguard/incidents.sqlite, when it exists).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the diagnosis to this file instead of standard output.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True, help="Output format.")
def diagnose_command(bundle_dir: Path | None, labels: tuple[str, ...],
                     prometheus_url: str | None, target: str | None, since: str, step: str,
                     latency_query: str | None, source: Path | None, threshold: str,
                     knowledge: Path | None, incidents_db: Path | None, output: Path | None,
                     output_format: str) -> int:
    """Rank the causes of map cost by measured impact, with evidence and confidence.

    \b
    mapguard diagnose --bundle evidence/
    mapguard diagnose --prometheus http://127.0.0.1:9090 --target riskd --since 2h --source .
    Exit status: 0 no map cause above the threshold, 1 causes found, 2 bad input (the files
    that could be read are still diagnosed).
    """
    limit = parse_threshold(threshold)
    if source is not None and not source.is_dir():
        raise UsageError(f"--source {source}: not a directory")
    if output is not None and not output.parent.is_dir():
        raise UsageError(f"-o {output}: directory {output.parent} does not exist")
    if bundle_dir is None and prometheus_url is None:
        raise UsageError("give --bundle DIR or --prometheus URL")
    causes = load_knowledge(knowledge)
    problems: list[str] = []
    if prometheus_url is not None:
        if not target:
            raise UsageError("--prometheus needs --target (the series' target label)")
        # With --bundle, what Prometheus showed is saved there (for the report, and to
        # diagnose again later).
        writer = open_bundle_writer(bundle_dir, _label_for(target), "mapguard diagnose")
        diagnoses = [diagnose_prometheus(prometheus_url, target, since, step, latency_query,
                                         source, causes, limit, writer)]
    else:
        assert bundle_dir is not None
        diagnoses, problems = diagnose_bundle(bundle_dir, labels, source, causes, limit)
    diagnoses = [with_incidents(d, incidents_db) for d in diagnoses]
    write_output(diagnoses, output_format, output,
                 str(bundle_dir) if bundle_dir is not None else prometheus_url)
    for problem in problems:
        click.echo(f"mapguard: {problem}", err=True)
    if problems:
        return 2
    return 1 if any(d.causes for d in diagnoses) else 0


def diagnose_bundle(bundle_dir: Path, labels: tuple[str, ...], source: Path | None,
                    causes: tuple[CauseEntry, ...], threshold: float
                    ) -> tuple[list[Diagnosis], list[str]]:
    bundle = open_bundle(bundle_dir)
    problems = list(bundle.problems)
    chosen = list(labels) or bundle.evidence_labels()
    unknown = [label for label in chosen if label not in bundle.labels()]
    if unknown:
        raise UsageError(f"--label {unknown[0]}: not in {bundle_dir} (labels: "
                         f"{', '.join(bundle.labels()) or 'none'})")
    diagnoses = []
    for label in chosen:
        collected = label_evidence(bundle, label, source=source)
        problems += collected.problems
        found = diagnose(collected.evidence, causes, threshold=threshold)
        series, trouble = saved_series(bundle, label)
        problems += trouble
        diagnoses.append(attach_correlations(found, series.correlations) if series else found)
    if not diagnoses:
        diagnoses.append(diagnose(LabelEvidence("empty", source), causes, threshold=threshold))
    return diagnoses, problems


def _label_for(target: str) -> str:
    """A bundle label for a target name (`10.0.0.5:6060` -> `10.0.0.5_6060`)."""
    cleaned = re.sub(r"[^A-Za-z0-9_+-]", "_", target).strip("_") or "target"
    return cleaned[:64]


def diagnose_prometheus(url: str, target: str, since: str, step: str,
                        latency_query: str | None, source: Path | None,
                        causes: tuple[CauseEntry, ...], threshold: float,
                        writer: BundleWriter | None = None) -> Diagnosis:
    from mapguard.diagnose import prometheus as live

    api = live.RangeAPI(url)
    window = live.Window.last(parse_duration_s(since, "--since"),
                              parse_duration_s(step, "--step"))
    costs = live.watch_costs(api, target, window)
    lint = (_lint_source(source),) if source is not None else ()
    evidence = LabelEvidence(target, source, lint=lint, allocation=costs)
    found = diagnose(evidence, causes, threshold=threshold)
    correlations = [c.to_json() for c in live.correlations(api, target, window,
                                                            latency_query=latency_query)]
    if writer is not None:
        label = _label_for(target)
        writer.add_json("watch", label, {"version": 1, "targets": [live.costs_json(target,
                                                                                   costs)]},
                        meta={"from": url, "window_seconds": window.end - window.start})
        writer.add_json("prometheus", label, {
            "version": 1, "prometheus": url, "target": target,
            "window": {"start": window.start, "end": window.end, "step": window.step},
            **live.series_for_plot(api, target, window), "correlations": correlations})
        if source is not None:
            writer.set_source(label, source)
    return attach_correlations(found, correlations)


def _lint_source(source: Path) -> Any:
    from mapguard.bundle.evidence import LintEvidence, LintFinding
    from mapguard.lint.engine import LintOptions, lint

    result = lint([str(source.resolve()) + "/..."], LintOptions(jobs=1))
    return LintEvidence(f"mapguard lint {source}", tuple(
        LintFinding(f.rule, f.name, str(f.severity), str(f.path), f.line, f.column, f.message)
        for f in result.findings), result.files)


def _nothing_recorded(db: Path | None, path: Path) -> bool:
    """No library named, and none (or an empty file) at the default place: nothing recorded
    yet, which is no error."""
    return db is None and (not path.exists() or (path.is_file() and path.stat().st_size == 0))


def with_incidents(diagnosis: Diagnosis, db: Path | None) -> Diagnosis:
    """Past incidents similar to this diagnosis, named on the causes they share."""
    path = db or library.default_path()
    if _nothing_recorded(db, path):
        return diagnosis
    store = library.IncidentLibrary.open(path, create=False)
    try:
        matches = store.similar(diagnosis.fingerprint())
    finally:
        store.close()
    if not matches:
        return diagnosis

    def named(found: Diagnosed) -> Diagnosed:
        mine = {f"cause:{found.cause.id}"} | ({f"rule:{found.cause.rule}"} if found.cause.rule
                                              else set())
        related = tuple(m.to_json() for m in matches if mine & set(m.shared))
        return replace(found, incidents=related) if related else found

    return replace(diagnosis, causes=tuple(map(named, diagnosis.causes)),
                   risks=tuple(map(named, diagnosis.risks)))


def write_output(diagnoses: list[Diagnosis], output_format: str, output: Path | None,
                 origin: str | None) -> None:
    if output_format == "json":
        document = {"version": 1, "evidence": origin,
                    "diagnoses": [diagnosis_json(d) for d in diagnoses]}
        text = json.dumps(document, indent=2) + "\n"
    elif output_format == "markdown":
        text = "\n".join(render_markdown(d) for d in diagnoses)
    else:
        text = "\n\n".join(render_text(d) for d in diagnoses) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        sys.stdout.write(text)  # what was diagnosed is not lost
        raise UsageError(f"-o {output}: cannot write: {exc.strerror}") from None


# --- incidents ------------------------------------------------------------------------------


_db_option = click.option("--db", type=click.Path(path_type=Path),
                          help="The incident library (default: $MAPGUARD_INCIDENTS or "
                               "$XDG_DATA_HOME/mapguard/incidents.sqlite).")


@click.group("incidents")
def incidents() -> None:
    """The incident library: confirmed incidents, compared with every new diagnosis."""


@incidents.command("add")
@click.option("--from", "from_file", required=True, type=click.Path(path_type=Path),
              help="A diagnosis: the output of mapguard diagnose --format json.")
@click.option("--title", required=True, help="What happened, in a few words.")
@click.option("--confirmed-cause", required=True,
              help="RULE_OR_CAUSE@FILE:LINE, e.g. MG001@server.go:94.")
@click.option("--fix", help="What fixed it (a commit, a change).")
@click.option("--label", help="Which label of the diagnosis (default: the one naming the cause).")
@_db_option
def add(from_file: Path, title: str, confirmed_cause: str, fix: str | None, label: str | None,
        db: Path | None) -> int:
    """Record a confirmed incident with its evidence fingerprint."""
    confirmed = library.ConfirmedCause.parse(confirmed_cause)
    document = read_json_file(from_file)
    diagnoses = document.get("diagnoses") if isinstance(document, dict) else None
    if not isinstance(diagnoses, list) or not all(isinstance(d, dict) for d in diagnoses):
        raise InputError(from_file, "not a diagnosis",
                         expected="the output of mapguard diagnose --format json")
    chosen = _choose(diagnoses, confirmed, label, from_file)
    named = [entry for kind in ("causes", "below_threshold", "risks", "not_measured")
             for entry in chosen.get(kind) or [] if confirmed.matches(entry)]
    if not named:
        click.echo(f"mapguard: warning: {confirmed_cause} is not among the causes of the "
                   "diagnosis; recorded as given", err=True)
    fingerprint = {str(t) for t in chosen.get("fingerprint") or []} | set(confirmed.tokens())
    store = library.IncidentLibrary.open(db or library.default_path(), create=True)
    try:
        number = store.add(title=title, confirmed_cause=confirmed_cause, fix=fix,
                           label=chosen.get("label"), fingerprint=fingerprint,
                           diagnosis=chosen)
    finally:
        store.close()
    click.echo(f"incident {number} recorded in {store.path}")
    return 0


def _choose(diagnoses: list[dict[str, Any]], confirmed: library.ConfirmedCause,
            label: str | None, origin: Path) -> dict[str, Any]:
    if label is not None:
        for found in diagnoses:
            if found.get("label") == label:
                return found
        raise UsageError(f"--label {label}: not in {origin}")
    for found in diagnoses:
        if any(confirmed.matches(entry) for kind in ("causes", "below_threshold", "risks")
               for entry in found.get(kind) or []):
            return found
    if not diagnoses:
        raise InputError(origin, "holds no diagnosis")
    return diagnoses[0]


@incidents.command("list")
@_db_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def list_incidents(db: Path | None, output_format: str) -> int:
    """Every confirmed incident, oldest first."""
    found = _all(db)
    if output_format == "json":
        emit_json({"incidents": [i.summary_json() for i in found]})
        return 0
    if not found:
        click.echo("no incidents recorded")
    for incident in found:
        fixed = f"; fixed by: {incident.fix}" if incident.fix else ""
        click.echo(f"{incident.id:>4}  {incident.created}  {incident.title}  "
                   f"[{incident.confirmed_cause}]{fixed}")
    return 0


def _all(db: Path | None) -> list[library.Incident]:
    path = db or library.default_path()
    if _nothing_recorded(db, path):
        return []
    store = library.IncidentLibrary.open(path, create=False)
    try:
        return store.all()
    finally:
        store.close()


@incidents.command("show")
@click.argument("incident_id", type=int)
@_db_option
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
def show(incident_id: int, db: Path | None, output_format: str) -> int:
    """One incident: its cause, fix, fingerprint and the diagnosis it was recorded with."""
    path = db or library.default_path()
    store = library.IncidentLibrary.open(path, create=False)
    try:
        incident = store.get(incident_id)
    finally:
        store.close()
    if output_format == "json":
        emit_json({**incident.summary_json(), "fingerprint": list(incident.fingerprint),
                   "diagnosis": incident.diagnosis})
        return 0
    click.echo(f"incident {incident.id}: {incident.title}")
    click.echo(f"recorded: {incident.created}")
    click.echo(f"confirmed cause: {incident.confirmed_cause}")
    click.echo(f"fix: {incident.fix or '(not recorded)'}")
    click.echo(f"fingerprint: {', '.join(incident.fingerprint)}")
    causes = incident.diagnosis.get("causes") or []
    if causes:
        click.echo("its diagnosis:")
        for cause in causes:
            click.echo(f"  {cause.get('rank', '-')}. {cause.get('statement', '')}")
    return 0
