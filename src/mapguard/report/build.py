"""What the report shows, gathered from a bundle: one view per label (its diagnosis, map cost by
site, GC over time, latency per step, lint findings with their code, escape verdicts) and the
comparison of two labels. Everything is plain data; the template only lays it out."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapguard import __version__
from mapguard.bundle.evidence import LoadEvidence, SloEvidence
from mapguard.bundle.reader import Bundle, read_json_file
from mapguard.diagnose.collect import SavedSeries, label_evidence, saved_series
from mapguard.diagnose.engine import LabelEvidence, attach_correlations, diagnose
from mapguard.diagnose.knowledge import CauseEntry
from mapguard.diagnose.model import Diagnosis
from mapguard.diagnose.sites import SiteFiles
from mapguard.errors import MapguardError
from mapguard.evidence.quantities import human
from mapguard.report import plots

FRAME_CONTEXT = 2
TOP_SITES = 12


@dataclass(frozen=True, slots=True)
class CodeLine:
    number: int
    text: str
    marked: bool


@dataclass(frozen=True, slots=True)
class FindingView:
    rule: str
    name: str
    severity: str
    where: str
    message: str
    frame: tuple[CodeLine, ...]


@dataclass(frozen=True, slots=True)
class SiteRow:
    where: str
    function: str
    op: str
    value: str
    share: str


@dataclass(frozen=True, slots=True)
class EscapeRow:
    where: str
    expr: str
    verdict: str
    why: str


@dataclass(frozen=True, slots=True)
class StepRow:
    name: str
    p50: str
    p99: str
    max: str
    answered: int
    failed: int
    slo: str


@dataclass
class LabelView:
    label: str
    diagnosis: Diagnosis
    measured: bool = False  # an allocation profile (or watch interval) was read
    sites: list[SiteRow] = field(default_factory=list)
    site_plot: str | None = None
    gc_plot: str | None = None
    gc_summary: str | None = None
    findings: list[FindingView] = field(default_factory=list)
    escape: list[EscapeRow] = field(default_factory=list)
    steps: list[StepRow] = field(default_factory=list)
    slo: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ComparisonRow:
    metric: str
    values: tuple[str, ...]
    change: str
    evidence: str


@dataclass
class ReportView:
    title: str
    generated: str
    version: str
    bundle: str
    labels: list[LabelView]
    comparison_labels: tuple[str, ...] = ()
    comparison: list[ComparisonRow] = field(default_factory=list)
    latency_plot: str | None = None
    slo_rules: list[str] = field(default_factory=list)
    bench: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def build_report(bundle: Bundle, knowledge: Sequence[CauseEntry], *, threshold: float,
                 source: Path | None = None, compare: Sequence[str] = ()) -> ReportView:
    problems = list(bundle.problems)
    views: list[LabelView] = []
    evidence_of: dict[str, LabelEvidence] = {}
    for label in bundle.evidence_labels():
        collected = label_evidence(bundle, label, source=source)
        problems += collected.problems
        evidence = collected.evidence
        evidence_of[label] = evidence
        series, trouble = saved_series(bundle, label)
        problems += trouble
        diagnosis = diagnose(evidence, knowledge, threshold=threshold)
        if series is not None:
            diagnosis = attach_correlations(diagnosis, series.correlations)
        views.append(_label_view(evidence, diagnosis, series))
    demo = _demo(bundle, problems)
    chosen = tuple(compare) or _default_comparison(list(evidence_of))
    report = ReportView(
        title="mapguard report", generated=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        version=__version__, bundle=str(bundle.root), labels=views,
        files=[entry.name for entry in bundle.entries], problems=problems)
    if len(chosen) == 2 and all(label in evidence_of for label in chosen):
        report.comparison_labels = chosen
        report.comparison = _comparison([evidence_of[label] for label in chosen],
                                        [v.diagnosis for v in views if v.label in chosen],
                                        demo)
    report.latency_plot = _latency_plot([evidence_of[v.label] for v in views])
    report.slo_rules = _slo_rules(demo)
    report.bench = _bench(bundle, problems)
    return report


def _default_comparison(labels: list[str]) -> tuple[str, ...]:
    if "before" in labels and "after" in labels:
        return ("before", "after")
    return tuple(labels[:2]) if len(labels) == 2 else ()


# --- one label ------------------------------------------------------------------------------


def _label_view(evidence: LabelEvidence, diagnosis: Diagnosis,
                series: SavedSeries | None) -> LabelView:
    view = LabelView(evidence.label, diagnosis, evidence.allocation is not None)
    files = SiteFiles(evidence.source)
    allocation = evidence.allocation
    if allocation is not None and allocation.sites:
        top = allocation.sites[:TOP_SITES]
        view.sites = [SiteRow(_where(files, s.site.file, s.site.line),
                              (s.site.function or "").rsplit("/", 1)[-1], s.op,
                              human(s.value, allocation.unit),
                              f"{100 * s.value / allocation.total:.1f}%" if allocation.total
                              else "-") for s in top]
        view.site_plot = plots.site_bars(
            [(row.where, s.op, float(s.value)) for row, s in zip(view.sites, top, strict=True)],
            allocation.unit, f"{evidence.label}: map {allocation.unit} by site")
    gc = evidence.gc
    if series is not None and series.pauses:
        start = series.pauses[0][0]
        view.gc_plot = plots.gc_timeline(
            {"GC pause time (ms per second)": [(t - start, 1e3 * v) for t, v in series.pauses]},
            {site: [(t - start, v) for t, v in points] for site, points in series.sites.items()},
            f"{evidence.label}: GC pauses and map allocation rates ({series.origin})",
            unit="GC pause, ms per second")
    elif gc is not None and gc.timeline:
        start = gc.timeline[0].at_s
        view.gc_plot = plots.gc_timeline(
            {"stop-the-world pause per cycle": [(p.at_s - start, p.pause_ms)
                                                for p in gc.timeline]},
            {}, f"{evidence.label}: GC pauses over the run ({gc.cycles} cycles)")
        from mapguard.diagnose.costmodel import describe

        view.gc_summary = describe(gc)
    view.findings = [_finding_view(files, f) for lint in evidence.lint for f in lint.findings]
    # The compiler's flows name positions by absolute path: shown relative to the source tree.
    under_root = f"{files.root}/" if files.root is not None else None
    view.escape = [EscapeRow(_where(files, e.site.file, e.site.line), e.expr, e.verdict,
                             (e.why or "").replace(under_root, "") if under_root else
                             e.why or "") for x in evidence.escape for e in x.sites]
    view.steps = [_step_row(step) for load in evidence.loads for step in load.steps]
    view.slo = _slo_lines(evidence.slo, evidence.loads)
    return view


def _where(files: SiteFiles, file: str, line: int) -> str:
    if not file:
        return "?"
    resolved = files.resolve(file) or file
    return f"{files.display(resolved)}:{line}" if line else files.display(resolved)


def _finding_view(files: SiteFiles, finding: Any) -> FindingView:
    resolved = files.resolve(finding.file)
    frame: tuple[CodeLine, ...] = ()
    if resolved is not None:
        try:
            lines = Path(resolved).read_bytes().decode("utf-8", "replace").split("\n")
        except OSError:
            lines = []
        first = max(1, finding.line - FRAME_CONTEXT)
        last = min(len(lines), finding.line + FRAME_CONTEXT)
        frame = tuple(CodeLine(n, lines[n - 1].replace("\t", "    "), n == finding.line)
                      for n in range(first, last + 1))
    return FindingView(finding.rule, finding.name, finding.severity,
                       _where(files, finding.file, finding.line), finding.message, frame)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def _step_row(step: Any) -> StepRow:
    verdicts = "; ".join(
        f"{v.slo} {'held' if v.held else 'BROKEN' if v.held is False else '?'}"
        + (f" {v.burn_rate:.1f}x" if v.burn_rate is not None else "") for v in step.slo)
    return StepRow(step.name, _ms(step.p50_ms), _ms(step.p99_ms), _ms(step.max_ms),
                   step.answered, step.failed, verdicts or "-")


def _slo_lines(slos: Sequence[SloEvidence], loads: Sequence[LoadEvidence]) -> list[str]:
    lines = []
    for evidence in slos:
        for state in evidence.slos:
            budget = ("budget left unknown" if state.budget_remaining is None
                      else f"{100 * state.budget_remaining:.1f}% of the error budget left")
            burns = ", ".join(f"{w.window} {w.burn_rate:.2f}x" for w in state.windows
                              if w.burn_rate is not None)
            firing = f"; firing: {', '.join(state.alerts)}" if state.alerts else ""
            lines.append(f"{state.slo} (objective {state.objective}%): {budget}; burn "
                         f"{burns or 'not measured'}{firing}")
    for load in loads:
        broken = {v.slo for v in load.burned}
        held = {v.slo for step in load.steps for v in step.slo} - broken
        if broken:
            lines.append(f"{load.origin}: broken in some steps: {', '.join(sorted(broken))}")
        if held:
            lines.append(f"{load.origin}: held in every step: {', '.join(sorted(held))}")
    return lines


# --- across labels --------------------------------------------------------------------------


def _latency_plot(evidence: Sequence[LabelEvidence]) -> str | None:
    with_steps = [(e.label, [s for load in e.loads for s in load.steps]) for e in evidence]
    with_steps = [(label, steps) for label, steps in with_steps if steps]
    if not with_steps:
        return None
    names = list(dict.fromkeys(step.name for _, steps in with_steps for step in steps))
    series = {label: [next((s.p99_ms for s in steps if s.name == name), None) for name in names]
              for label, steps in with_steps}
    return plots.grouped_bars(names, series, "p99 latency, ms", "p99 latency per step")


def _share(evidence: LabelEvidence) -> float | None:
    allocation = evidence.allocation
    if allocation is None or not allocation.total:
        return None
    return allocation.map_total / allocation.total


def _comparison(evidence: Sequence[LabelEvidence], diagnoses: Sequence[Diagnosis],
                demo: dict[str, Any] | None) -> list[ComparisonRow]:
    rows = []

    def row(metric: str, values: list[float | None], shown: Any, note: str = "") -> None:
        cells = tuple("-" if v is None else shown(v) for v in values)
        change = ""
        first, second = values
        if first is not None and second is not None and first:
            change = f"{100 * (second - first) / first:+.0f}%"
        rows.append(ComparisonRow(metric, cells, change, note))

    per_request = [e.allocation.map_total / e.allocation.requests
                   if e.allocation and e.allocation.requests else None for e in evidence]
    row("map bytes per request", per_request, lambda v: f"{v:,.0f} B")
    row("map share of allocated bytes", [_share(e) for e in evidence],
        lambda v: f"{100 * v:.1f}%")
    row("GC CPU", [e.gc.gc_cpu_percent if e.gc else None for e in evidence],
        lambda v: f"{v:.2f}%")
    row("GC pause p99", [e.gc.pause_p99_ms if e.gc else None for e in evidence],
        lambda v: f"{v:.2f} ms")
    row("lint findings", [float(sum(len(x.findings) for x in e.lint)) if e.lint else None
                          for e in evidence], lambda v: f"{v:.0f}")
    row("map causes above the threshold", [float(len(d.causes)) for d in diagnoses],
        lambda v: f"{v:.0f}")
    row("heap-escaping map sites", [float(sum(s.verdict != "stack" for x in e.escape
                                              for s in x.sites)) if e.escape else None
                                    for e in evidence], lambda v: f"{v:.0f}")
    if demo is not None:
        rows += _demo_comparisons(demo)
    return rows


def _demo_comparisons(demo: dict[str, Any]) -> list[ComparisonRow]:
    """The demo's own before/after tests: each metric with its p-value and verdict."""
    found = []
    evidence = demo.get("evidence")
    for item in (evidence or {}).get("comparisons", []) if isinstance(evidence, dict) else []:
        if not isinstance(item, dict) or not isinstance(item.get("metric"), str):
            continue
        before, after = item.get("before"), item.get("after")
        p = item.get("p_value")
        test = ("compiler verdicts, exact" if item.get("exact") else
                "not tested" if p is None else f"Mann-Whitney p={p:.3f}, "
                f"{'+'.join(str(n) for n in item.get('samples', []))} "
                f"{item.get('sample_kind', '')}")
        found.append(ComparisonRow(
            f"demo: {item['metric'].replace('_', ' ')}",
            tuple("-" if v is None else f"{v:,.4g}" for v in (before, after)),
            str(item.get("verdict", "")), test))
    return found


def _demo(bundle: Bundle, problems: list[str]) -> dict[str, Any] | None:
    for entry in bundle.of("demo"):
        try:
            document = read_json_file(entry.path)
        except MapguardError as exc:
            problems.append(str(exc))
            continue
        if isinstance(document, dict):
            return document
    return None


def _slo_rules(demo: dict[str, Any] | None) -> list[str]:
    slo = (demo or {}).get("slo")
    if not isinstance(slo, dict) or slo.get("status") != "ok":
        return []
    lines = [f"spec {slo.get('spec')}: SLOs {', '.join(map(str, slo.get('slos', [])))}; "
             f"{slo.get('rules')} rules ({slo.get('alerting_rules')} alerting)"]
    promtool = slo.get("promtool")
    if isinstance(promtool, dict):
        lines.append(f"promtool check rules: {'ok' if promtool.get('ok') else 'FAILED'}")
    tests = slo.get("tests")
    if isinstance(tests, dict):
        lines.append(f"promtool test rules: {tests.get('groups')} burn scenarios, "
                     f"{'pass' if tests.get('ok') else 'FAIL'}")
    return lines


def _bench(bundle: Bundle, problems: list[str]) -> list[dict[str, Any]]:
    rows = []
    for entry in bundle.of("bench"):
        if not entry.path.name.endswith(".json"):
            continue
        try:
            document = read_json_file(entry.path)
        except MapguardError as exc:
            problems.append(str(exc))
            continue
        for verdict in document.get("verdicts", []) if isinstance(document, dict) else []:
            if isinstance(verdict, dict):
                rows.append({"label": entry.label, **{k: verdict.get(k) for k in (
                    "benchmark", "unit", "old", "new", "p_holm", "verdict")}})
    return rows
