"""`mapguard demo`: every stage of mapguard on riskd, the Go service shipped in the package.

riskd (`data/demo/`) comes twice: `before/` holds one instance of each pattern of the rule
catalogue, `after/` is its fixed twin. The demo runs mapguard's stages on both:

1. code — `mapguard lint` with every rule (those off by default too): every rule fires on
   before/, none on after/;
2. test — the Go toolchain's evidence: escape verdicts of the map sites, and the map bytes, GC
   cycles and pauses of the running service under the same load (`evidence`);
3. test — request latency under the same open-loop load while a CPU quota steps down, p99 and
   SLO compliance per step side by side (`latency`);
4. production — the SLO spec shipped next to the service (`riskd.slo.yaml`) turned into
   Prometheus rules and alerts, checked by promtool when it is installed, and the burn
   scenarios mapguard derives from the spec run against them with `promtool test rules`;
5. evolution — every stage's evidence goes into an evidence bundle as the stage ends; the
   diagnosis of both versions and the report of both (one HTML file) are made from it.

Each stage is timed; a stage that cannot run (no Go toolchain) is skipped with its reason. The
exit status says whether every stage that ran came out as the demo claims.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import click

from mapguard import gotool
from mapguard.clikit import counted, emit_json, format_option
from mapguard.errors import MapguardError, ToolError
from mapguard.goversion import GoVersion
from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.output import render_json, render_text, summary_line
from mapguard.lint.registry import ALL_RULES
from mapguard.lint.results import LintResult
from mapguard.load.engine import termination_as_interrupt

if TYPE_CHECKING:  # only: the evidence and SLO stages import numpy, scipy, pydantic when they run
    from mapguard.demo.comparison import Comparison
    from mapguard.demo.evidence import EvidenceStage, VersionEvidence
    from mapguard.demo.latency import LatencyStage, Side
    from mapguard.demo.report_stage import ReportStage
    from mapguard.load.slo_verdict import StepVerdict
    from mapguard.slo.tools import Verdict

STAGES = ("lint", "evidence", "latency", "slo", "report")
DEFAULT_REQUESTS = 10_000
MIN_REQUESTS = 100
MAX_REQUESTS = 100_000  # riskd caches every decision of the run (see evidence.cache_entries)
SPEC_FILE = "riskd.slo.yaml"
T = TypeVar("T")


def demo_root() -> Path:
    """The directory holding `before/` and `after/` of the demo service."""
    return Path(str(resources.files("mapguard") / "data" / "demo"))


# --- stage 1: code ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LintStage:
    before: LintResult
    after: LintResult

    def counts(self) -> list[tuple[str, str, int, int]]:
        before = Counter(f.rule for f in self.before.findings)
        after = Counter(f.rule for f in self.after.findings)
        # The evidence-only rules (MG011, MG012) need a profile, which this stage has not.
        return [(r.code, r.name, before[r.code], after[r.code]) for r in ALL_RULES
                if not r.evidence_only]

    @property
    def as_expected(self) -> bool:
        """Every rule fires on `before/`, nothing on `after/`, and every file parsed."""
        return (not self.after.findings and not self.before.errors and not self.after.errors
                and all(before > 0 for _, _, before, _ in self.counts()))

    def problems(self) -> str:
        silent = [code for code, _, before, _ in self.counts() if before == 0]
        parts = [f"silent on before/: {', '.join(silent)}"] if silent else []
        if self.after.findings:
            parts.append(f"{len(self.after.findings)} findings on after/")
        if self.before.errors or self.after.errors:
            parts.append(f"{len(self.before.errors) + len(self.after.errors)} files not parsed")
        return "; ".join(parts)


def run_lint_stage(root: Path, toolchain_version: GoVersion | None) -> LintStage:
    options = LintOptions(jobs=1, toolchain_version=toolchain_version)
    return LintStage(lint([str(root / "before") + "/..."], options),
                     lint([str(root / "after") + "/..."], options))


# --- stage 3: production ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SloStage:
    spec: Path
    formats: tuple[str, ...]
    slos: tuple[str, ...]
    guards: tuple[str, ...]
    recording_rules: int
    alerting_rules: int
    alerts: tuple[str, ...]  # distinct alert names
    promtool: Verdict | None  # None: promtool is not installed, nothing was checked
    tests: Verdict | None  # the generated burn scenarios run by `promtool test rules`
    test_groups: int
    warnings: tuple[str, ...]


def run_slo_stage(spec: Path) -> SloStage:
    """Generate the rules of `spec` and their burn-scenario tests; check and run them with
    promtool when it is installed."""
    import tempfile

    from mapguard.slo import tools
    from mapguard.slo.generate import generate
    from mapguard.slo.promtool_tests import build_tests, render_tests
    from mapguard.slo.rules import AlertingRule, RecordingRule, render
    from mapguard.slo.spec import load_specs

    specs = load_specs([spec])
    groups = generate(specs)
    rules = [rule for group in groups for rule in group.rules]
    document, test_warnings = build_tests(specs, groups, "rules.yml")
    verdict = tests = None
    if tools.find("promtool"):
        with tempfile.TemporaryDirectory(prefix="mapguard-demo-slo-") as tmp:
            path = Path(tmp) / "rules.yml"
            path.write_text(render(groups, sources=[spec.name]), encoding="utf-8")
            verdict = tools.check_rules(path)
            if verdict.ok:
                test_path = Path(tmp) / "rules.test.yml"
                test_path.write_text(render_tests(document), encoding="utf-8")
                tests = tools.run_rule_tests(test_path)
    alerts = dict.fromkeys(rule.alert for rule in rules if isinstance(rule, AlertingRule))
    return SloStage(
        spec=spec, formats=specs.formats, slos=tuple(slo.id for slo in specs.slos),
        guards=tuple(guard.target for guard in specs.guards),
        recording_rules=sum(isinstance(rule, RecordingRule) for rule in rules),
        alerting_rules=sum(isinstance(rule, AlertingRule) for rule in rules),
        alerts=tuple(alerts), promtool=verdict, tests=tests,
        test_groups=len(document.get("tests", [])),
        warnings=(*specs.warnings, *test_warnings),
    )


# --- the run ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageRun(Generic[T]):
    """How one stage went: `ok` (with its result), `skipped` or `failed` (with the reason), or
    `not selected`."""

    name: str
    status: str
    seconds: float = 0.0
    result: T | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "seconds": round(self.seconds, 2),
                **({"reason": self.reason} if self.reason else {})}


def _timed(name: str, selected: Sequence[str], run: Callable[[], T]) -> StageRun[T]:
    if name not in selected:
        return StageRun(name, "not selected", reason=f"--stage {'/'.join(selected)}")
    started = time.perf_counter()
    try:
        result = run()
    except (MapguardError, OSError) as exc:
        return StageRun(name, "failed", time.perf_counter() - started, reason=str(exc))
    return StageRun(name, "ok", time.perf_counter() - started, result)


@dataclass(frozen=True, slots=True)
class Expectation:
    stage: str
    claim: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class DemoReport:
    root: Path
    go: str | None  # the toolchain's version, e.g. go1.27.3
    lint: StageRun[LintStage]
    evidence: StageRun[EvidenceStage]
    latency: StageRun[LatencyStage]
    slo: StageRun[SloStage]
    seconds: float
    report: StageRun[ReportStage] = StageRun("report", "not selected")

    @property
    def stages(self) -> tuple[StageRun[Any], ...]:
        return (self.lint, self.evidence, self.latency, self.slo, self.report)

    def expectations(self) -> list[Expectation]:
        found = [Expectation(run.name, "the stage runs", False, run.reason or "")
                 for run in self.stages if run.status == "failed"]
        if self.lint.result is not None:
            stage = self.lint.result
            found.append(Expectation("lint", "every rule fires on before/, none on after/",
                                     stage.as_expected, stage.problems()))
        if self.evidence.result is not None:
            found += _evidence_expectations(self.evidence.result)
        if self.latency.result is not None:
            found += _latency_expectations(self.latency.result)
        if self.slo.result is not None:
            checks = (
                ("promtool accepts the generated rules", self.slo.result.promtool),
                ("the alerts fire and stay quiet as the generated promtool tests expect",
                 self.slo.result.tests),
            )
            for claim, verdict in checks:
                if verdict is not None:
                    last = (verdict.output.splitlines() or ["no output"])[-1]
                    found.append(Expectation("slo", claim, verdict.ok, "" if verdict.ok else last))
        if self.report.result is not None:
            from mapguard.demo.report_stage import expectations

            found += [Expectation("report", claim, ok, detail)
                      for claim, ok, detail in expectations(self.report.result)]
        return found

    @property
    def ok(self) -> bool:
        return all(expectation.ok for expectation in self.expectations())


def _evidence_expectations(stage: EvidenceStage) -> list[Expectation]:
    sides = (stage.before, stage.after)
    failed = sum(side.failed for side in sides)
    problems = [f"{failed} requests failed"] if failed else []
    problems += [f"{side.version}/ exited {side.exit_status}" for side in sides
                 if side.exit_status]
    bytes_ = stage.comparison("map_bytes_per_request")
    detail = (f"{_number(bytes_.before)} -> {_number(bytes_.after)} B/request, "
              f"{_p_text(bytes_)}")
    return [
        Expectation("evidence", "every request succeeds and riskd stops cleanly on SIGTERM",
                    not problems, "; ".join(problems)),
        Expectation("evidence", "after/ allocates fewer map bytes per request than before/",
                    stage.fewer_map_bytes, detail),
    ]


def _latency_expectations(stage: LatencyStage) -> list[Expectation]:
    """Only what the demo controls: the quota undone and riskd alive. The latencies, whichever
    way they come out, are measurements, not claims."""
    found = [Expectation("latency", "riskd served every latency run and stopped cleanly",
                         not any(stage.exit_statuses),
                         "; ".join(f"{v}/ exited {s}" for v, s in zip(("before", "after"),
                                                                     stage.exit_statuses,
                                                                     strict=True) if s))]
    if stage.cgroup is not None:
        found.append(Expectation("latency", "every CPU quota was undone (riskd back in its "
                                 "cgroup, the chaos cgroups removed)", stage.restored,
                                 "; ".join(stage.restore_problems)))
    return found


def find_toolchain() -> tuple[gotool.GoToolchain | None, str | None]:
    """The Go toolchain, or why there is none (a broken `$MAPGUARD_GO` included)."""
    try:
        found = gotool.find_go()
    except ToolError as exc:
        return None, str(exc)
    if found is None:
        return None, f"no Go toolchain found: {gotool.INSTALL_HINT}"
    return found, None


def _go_stage(name: str, selected: Sequence[str], toolchain: gotool.GoToolchain | None,
              missing: str | None, run: Callable[[gotool.GoToolchain], T]) -> StageRun[T]:
    """A stage that needs Go: skipped with the reason when there is none."""
    if toolchain is None and name in selected:
        return StageRun(name, "skipped", reason=missing)

    def with_go() -> T:
        assert toolchain is not None  # _timed runs it only when selected
        return run(toolchain)

    return _timed(name, selected, with_go)


def run_demo(selected: Sequence[str], requests: int, *, bundle: Path | None = None,
             progress: Callable[[str], None] | None = None,
             on_stage: Callable[[StageRun[Any]], None] | None = None) -> DemoReport:
    """Run the selected stages in order; `on_stage` sees each as soon as it is done. With a
    `bundle` directory, each stage's evidence is written into it as the stage ends, and the
    report stage reads it back."""
    started = time.perf_counter()
    root = demo_root()
    toolchain, missing = find_toolchain()
    writer = None
    if bundle is not None:
        from mapguard.demo.bundle import open_writer

        writer = open_writer(bundle, root)

    def done(run: StageRun[Any]) -> None:
        if writer is not None and run.result is not None:
            from mapguard.demo import bundle as saved

            save = {"lint": lambda: saved.write_lint(writer, run.result, root),
                    "evidence": lambda: saved.write_evidence(writer, run.result),
                    "latency": lambda: saved.write_latency(writer, run.result)}.get(run.name)
            if save is not None:
                save()
        if on_stage is not None:
            on_stage(run)

    lint_run = _timed("lint", selected,
                      lambda: run_lint_stage(root, toolchain.version if toolchain else None))
    done(lint_run)
    def evidence(go: gotool.GoToolchain) -> EvidenceStage:
        from mapguard.demo.evidence import run_evidence_stage

        return run_evidence_stage(root, go, requests=requests, progress=progress)

    def latency(go: gotool.GoToolchain) -> LatencyStage:
        from mapguard.demo.latency import run_latency_stage

        return run_latency_stage(root, go, root / SPEC_FILE, progress=progress)

    evidence_run = _go_stage("evidence", selected, toolchain, missing, evidence)
    done(evidence_run)
    latency_run = _go_stage("latency", selected, toolchain, missing, latency)
    done(latency_run)
    slo_run = _timed("slo", selected, lambda: run_slo_stage(root / SPEC_FILE))
    done(slo_run)
    report = DemoReport(root, toolchain.full_version if toolchain else None, lint_run,
                        evidence_run, latency_run, slo_run, time.perf_counter() - started)
    if writer is None or bundle is None or "report" not in selected:
        return replace(report, report=StageRun("report", "not selected" if "report" not in
                                               selected else "skipped",
                                               reason="no --bundle directory"))
    from mapguard.demo.bundle import write_demo
    from mapguard.demo.report_stage import run_report_stage

    write_demo(writer, report_json(report))  # the report compares with the demo's own tests
    report_run = _timed("report", selected, lambda: run_report_stage(bundle))
    report = replace(report, report=report_run, seconds=time.perf_counter() - started)
    write_demo(writer, report_json(report))
    done(report_run)
    return report


# --- JSON ---------------------------------------------------------------------------------


def report_json(report: DemoReport) -> dict[str, Any]:
    expectations = report.expectations()
    return {
        "service": str(report.root),
        "go": report.go,
        "lint": {**report.lint.to_json(), **_lint_json(report.lint.result, report.root)},
        "evidence": {**report.evidence.to_json(), **_evidence_json(report.evidence.result)},
        "latency": {**report.latency.to_json(), **_latency_json(report.latency.result)},
        "slo": {**report.slo.to_json(), **_slo_json(report.slo.result)},
        "report": {**report.report.to_json(), **_report_json(report.report.result)},
        "expectations": [{"stage": e.stage, "claim": e.claim, "ok": e.ok, "detail": e.detail}
                         for e in expectations],
        "ok": all(e.ok for e in expectations),
        "seconds": round(report.seconds, 2),
    }


def _lint_json(stage: LintStage | None, root: Path) -> dict[str, Any]:
    if stage is None:
        return {}
    return {
        "before": render_json(stage.before, root),
        "after": render_json(stage.after, root),
        "by_rule": [{"rule": code, "name": name, "before": before, "after": after}
                    for code, name, before, after in stage.counts()],
    }


def _evidence_json(stage: EvidenceStage | None) -> dict[str, Any]:
    if stage is None:
        return {}
    from mapguard.demo.evidence import BATCHES, GODEBUG_EXTRA, WORKERS

    return {
        "load": {"batches": BATCHES, "requests_per_batch": stage.requests_per_batch,
                 "workers": WORKERS, "feedback_every": 0,
                 "godebug": f"gctrace=1,{GODEBUG_EXTRA}"},
        "before": _version_json(stage.before),
        "after": _version_json(stage.after),
        "comparisons": [_comparison_json(c) for c in stage.comparisons],
        "alpha": 0.05,
    }


def _version_json(side: VersionEvidence) -> dict[str, Any]:
    gc = side.gc
    return {
        "escape": {"heap": side.escape.heap, "moved_to_heap": side.escape.moved,
                   "stack": side.escape.stack},
        "requests": side.requests,
        "failed": side.failed,
        "exit_status": side.exit_status,
        "map_bytes_per_request": side.map_bytes_per_request(),
        "map_bytes_per_request_by_op": {op: side.map_bytes_per_request(op)
                                        for op in side.batches[0].map_bytes_by_op},
        "map_share_of_allocated_bytes": side.map_share,
        "unattributed_map_bytes": side.unattributed_bytes,
        "gc": {
            "cycles": gc.cycles,
            "cycles_per_1000_requests": side.gc_cycles_per_1000,
            "pause_ms": {"count": gc.pauses_ms.count, "p50": gc.pauses_ms.p50,
                         "p99": gc.pauses_ms.p99, "max": gc.pauses_ms.max},
            "cpu_percent": gc.gc_cpu_window_percent,
            "cpu_percent_since_start": gc.gc_cpu_percent,
        },
        "top_sites": [{"function": s.function, "file": s.file, "line": s.line, "op": s.op,
                       "bytes": s.bytes, "bytes_per_request": s.bytes / side.requests}
                      for s in side.top_sites],
        "batches": [{"requests": b.requests, "failed": b.failed, "seconds": round(b.seconds, 3),
                     "map_bytes_by_op": dict(b.map_bytes_by_op), "total_bytes": b.total_bytes,
                     "gc_cycles": b.gc_cycles} for b in side.batches],
    }


def _comparison_json(c: Comparison) -> dict[str, Any]:
    return {"metric": c.metric, "unit": c.unit, "before": c.before, "after": c.after,
            "change": c.change, "p_value": c.p_value, "samples": list(c.samples),
            "sample_kind": c.sample_kind, "exact": c.exact, "verdict": c.verdict}


def _latency_json(stage: LatencyStage | None) -> dict[str, Any]:
    if stage is None:
        return {}
    from mapguard.demo import latency

    return {
        "load": {"rate": latency.RATE, "seconds_per_run": latency.RUN_S,
                 "rounds": latency.ROUNDS, "warmup_seconds": latency.WARMUP_S,
                 "order": "alternating (before, after), (after, before)",
                 "latency_from": "intended send time", "godebug": "gctrace=1",
                 "timeout_seconds": latency.TIMEOUT_S},
        "quota": {"cgroup": stage.cgroup, "not_used_because": stage.no_quota_reason,
                  "unit": "share of one CPU per period"},
        "regime": {"go": stage.regime.go_version, "reason": stage.regime.reason},
        "steps": [{"quota_cpus": step.quota_cpus,
                   "before": _side_json(step.before), "after": _side_json(step.after),
                   "p99": _comparison_json(step.p99)} for step in stage.steps],
        "restored": stage.restored, "restore_problems": list(stage.restore_problems),
        "load_average": [round(v, 2) for v in stage.load_average],
    }


def _side_json(side: Side) -> dict[str, Any]:
    from mapguard.load.commands import step_json, verdict_json

    throttle = side.throttle
    return {
        **step_json(side.merged),
        "runs": len(side.runs),
        "throttle": None if throttle is None else {
            "periods": throttle.periods, "throttled": throttle.throttled,
            "throttled_ms": round(throttle.throttled_us / 1000, 3)},
        "gomaxprocs": list(side.gomaxprocs), "gc_cycles": side.gc_cycles,
        "slo": [verdict_json(v) for v in side.slo],
    }


def _report_json(stage: ReportStage | None) -> dict[str, Any]:
    if stage is None:
        return {}
    from mapguard.demo.report_stage import stage_json

    return stage_json(stage)


def _slo_json(stage: SloStage | None) -> dict[str, Any]:
    if stage is None:
        return {}
    verdict = stage.promtool
    return {
        "spec": str(stage.spec), "formats": list(stage.formats), "slos": list(stage.slos),
        "map_guards": list(stage.guards),
        "rules": stage.recording_rules + stage.alerting_rules,
        "recording_rules": stage.recording_rules, "alerting_rules": stage.alerting_rules,
        "alerts": list(stage.alerts),
        "promtool": None if verdict is None else {"check": "promtool check rules",
                                                  "ok": verdict.ok, "output": verdict.output},
        "tests": None if stage.tests is None else {"run": "promtool test rules",
                                                   "groups": stage.test_groups,
                                                   "ok": stage.tests.ok,
                                                   "output": stage.tests.output},
        "warnings": list(stage.warnings),
    }


# --- text ---------------------------------------------------------------------------------


def print_stage(run: StageRun[Any], root: Path) -> None:
    if run.status == "not selected":
        return
    title = {"lint": "Stage 1, code: mapguard lint (every rule, those off by default too)",
             "evidence": "Stage 2, test: evidence from the Go toolchain",
             "latency": "Stage 3, test: latency under load and CPU quota steps",
             "slo": "Stage 4, production: SLOs as Prometheus rules",
             "report": "Stage 5, evolution: diagnosis and report"}[run.name]
    click.echo(f"\n== {title} ==\n")
    if run.result is None:
        click.echo(f"{run.status}: {run.reason}")
    elif isinstance(run.result, LintStage):
        _print_lint(run.result, root)
    elif isinstance(run.result, SloStage):
        _print_slo(run.result)
    elif run.name == "report":
        from mapguard.demo.report_stage import stage_text

        click.echo("\n".join(stage_text(run.result)))
    elif run.name == "latency":
        _print_latency(run.result)
    else:
        _print_evidence(run.result)


def _print_lint(stage: LintStage, root: Path) -> None:
    click.echo("-- before/ --\n")
    click.echo(render_text(stage.before, root, color=sys.stdout.isatty()))
    click.echo(f"\n-- after/ (the fixed twin) --\n\n{summary_line(stage.after)}\n")
    click.echo(f"{'rule':6} {'name':28} {'before':>6} {'after':>6}")
    for code, name, before, after in stage.counts():
        click.echo(f"{code:6} {name:28} {before:>6} {after:>6}")


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _p_text(c: Comparison) -> str:
    if c.exact:
        return "compiler verdicts, exact"
    if c.p_value is None:
        return "one figure each, not tested"
    return f"p={c.p_value:.3f}, {c.samples[0]}+{c.samples[1]} {c.sample_kind}"


def _change_text(c: Comparison) -> str:
    if c.verdict in ("~", "same", "not tested", "not measured"):
        return "" if c.verdict == "not tested" else c.verdict
    assert c.before is not None and c.after is not None
    if c.exact:
        return f"{c.after - c.before:+,.0f}"
    if c.unit == "ratio":
        return f"{100 * (c.after - c.before):+.1f} pts"
    return f"{100 * c.change:+.0f}%" if c.change is not None else c.verdict


_ROWS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("map_bytes_per_request", "map bytes / request", lambda v: f"{v:,.0f}"),
    ("map_create_bytes_per_request", "  create", lambda v: f"{v:,.0f}"),
    ("map_grow_bytes_per_request", "  grow", lambda v: f"{v:,.0f}"),
    ("map_share_of_allocated_bytes", "map share of allocated bytes", lambda v: f"{100 * v:.1f}%"),
    ("gc_cycles_per_1000_requests", "GC cycles / 1000 requests", lambda v: f"{v:.2f}"),
    ("gc_pause_p99_ms", "GC pause p99", lambda v: f"{v:.2f} ms"),
    ("gc_cpu_percent", "GC CPU share", lambda v: f"{v:.1f}%"),
    ("escape_heap_map_sites", "escape: map sites on heap", lambda v: f"{v:.0f}"),
    ("escape_moved_to_heap_map_sites", "        moved to heap", lambda v: f"{v:.0f}"),
    ("escape_stack_map_sites", "        on stack", lambda v: f"{v:.0f}"),
)


def _print_evidence(stage: EvidenceStage) -> None:
    from mapguard.demo.evidence import BATCHES, GODEBUG_EXTRA, WORKERS

    before, after = stage.before, stage.after
    click.echo(f"load: {before.requests:,} POST /decide per version in {BATCHES} batches of "
               f"{stage.requests_per_batch:,} ({WORKERS} workers, same seeds, no /feedback); "
               f"failed: {before.failed} before, {after.failed} after")
    click.echo(f"riskd ran with GODEBUG=gctrace=1,{GODEBUG_EXTRA}: every allocation is "
               "profiled, so bytes are exact counts,\nbut latency and GC CPU are not "
               "production figures. ~ means the difference is within noise.\n")
    click.echo(f"{'':30} {'before':>10} {'after':>10}  {'change':<9} evidence")
    for metric, label, shown in _ROWS:
        c = stage.comparison(metric)
        cells = [shown(v) if v is not None else "-" for v in (c.before, c.after)]
        click.echo(f"{label:30} {cells[0]:>10} {cells[1]:>10}  {_change_text(c):<9} "
                   f"{_p_text(c)}")
    click.echo("\ntop map sites, bytes / request:")
    for side in (before, after):
        for index, site in enumerate(side.top_sites):
            head = f"{side.version}/" if index == 0 else ""
            function = (site.function or "?").rsplit("/", 1)[-1].split(".", 1)[-1]
            where = f"{site.file}:{site.line}"
            click.echo(f"  {head:8} {site.bytes / side.requests:>7,.0f}  {site.op:7} "
                       f"{where:28} {function}")


def _print_latency(stage: LatencyStage) -> None:
    from mapguard.demo import latency

    click.echo(f"load: {latency.RATE} POST /decide per second, open loop (latency from the "
               f"intended send time), the same bodies for both;\n{latency.ROUNDS} runs of "
               f"{latency.RUN_S:g} s per version and step after {latency.WARMUP_S:g} s of warm-up "
               "each, in alternating order; riskd with GODEBUG=gctrace=1 (no profiling)")
    if stage.cgroup is not None:
        click.echo(f"quota: {stage.cgroup}, a share of one CPU per 100 ms period; "
                   f"GOMAXPROCS: {stage.regime.reason}")
    else:
        click.echo(f"no CPU quota steps: {stage.no_quota_reason}")
    objectives = [v.objective for v in stage.steps[0].before.slo] if stage.steps else []
    heads = " ".join(f"{o.slo.name + ' SLO':>19}" for o in objectives)
    click.echo(f"\n{'quota':>6} {'':6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
               f"{'throttled':>10} {'P':>3} {heads}  p99 change")
    for step in stage.steps:
        quota = "none" if step.quota_cpus is None else f"{100 * step.quota_cpus:g}%"
        for index, side in enumerate((step.before, step.after)):
            merged = side.merged
            lat = merged.latency
            throttle = side.throttle
            throttled = (f"{100 * throttle.throttled / throttle.periods:.0f}%"
                         if throttle and throttle.periods else "-")
            procs = "/".join(str(p) for p in side.gomaxprocs) or "?"
            slo = " ".join(f"{_slo_cell(v):>19}" for v in side.slo)
            tail = f"  {_p99_change(step.p99)}" if index == 1 else ""
            click.echo(f"{quota if index == 0 else '':>6} {side.version + '/':6} "
                       f"{_ms(lat.at(50.0) if lat else None):>8} "
                       f"{_ms(lat.at(99.0) if lat else None):>8} "
                       f"{_ms(lat.max_ms if lat else None):>8} {throttled:>10} {procs:>3} "
                       f"{slo}{tail}")
    late = [side for step in stage.steps for side in (step.before, step.after)
            if side.merged.generator_late]
    click.echo("\nSLO cells: share of requests good (held or BROKEN) and the burn rate that "
               "step would cause.\n~ means the p99 difference is within noise (Mann-Whitney "
               "over the runs' p99s, p >= 0.05).")
    if late:
        click.echo("note: the load generator's own timers were late in some runs (a busy "
                   "machine); their latencies include that delay")
    click.echo("machine load average at the end: "
               + " ".join(f"{v:.2f}" for v in stage.load_average))


def _p99_change(c: Comparison) -> str:
    if c.verdict == "not measured":
        return "not compared: the generator could not hold the rate on one side"
    return f"{_change_text(c) or c.verdict} ({_p_text(c)})"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def _slo_cell(verdict: StepVerdict) -> str:
    if verdict.good_ratio is None or verdict.burn_rate is None:
        return "not measured"
    state = "held" if verdict.held else "BROKEN"
    return f"{100 * verdict.good_ratio:.2f}% {state} {verdict.burn_rate:.1f}x"


def _print_slo(stage: SloStage) -> None:
    slos, guards = counted(len(stage.slos), "SLO"), counted(len(stage.guards), "map guard")
    click.echo(f"spec: {stage.spec.name} ({', '.join(stage.formats)}): {slos} "
               f"({', '.join(stage.slos)}), {guards} ({', '.join(stage.guards)})")
    click.echo(f"rules: {stage.recording_rules + stage.alerting_rules} "
               f"({stage.recording_rules} recording, {stage.alerting_rules} alerting); "
               f"alerts: {', '.join(stage.alerts)}")
    if stage.promtool is None:
        click.echo("promtool: not installed, the rules were not checked")
    else:
        click.echo(f"{stage.promtool.summary.replace('FAILED', 'rejected the rules')}")
        if not stage.promtool.ok:
            click.echo(stage.promtool.output)
    if stage.tests is not None:
        outcome = "pass" if stage.tests.ok else "FAIL"
        click.echo(f"promtool test rules: {stage.test_groups} generated scenarios (burns page "
                   f"and ticket, healthy traffic stays quiet, pages clear, map guards fire): "
                   f"{outcome}")
        if not stage.tests.ok:
            click.echo(stage.tests.output)
    for warning in stage.warnings:
        click.echo(f"warning: {warning}")


def print_summary(report: DemoReport) -> None:
    click.echo("\n== Expectations ==\n")
    expectations = report.expectations()
    if not expectations:
        click.echo("none: no stage ran")
    for expectation in expectations:
        mark = "ok  " if expectation.ok else "FAIL"
        detail = f" ({expectation.detail})" if expectation.detail else ""
        click.echo(f"{mark}  {expectation.stage}: {expectation.claim}{detail}")
    timings = ", ".join(f"{run.name} {run.seconds:.1f} s" for run in report.stages
                        if run.status in ("ok", "failed"))
    click.echo(f"\ndemo took {report.seconds:.1f} s" + (f" ({timings})" if timings else ""))


# --- the command --------------------------------------------------------------------------


def _progress(message: str) -> None:
    click.echo(f"mapguard demo: {message}", err=True)


@click.command("demo")
@click.option("--stage", type=click.Choice([*STAGES, "all"]), default="all", show_default=True,
              help="Run one stage only.")
@click.option("--requests", type=click.IntRange(MIN_REQUESTS, MAX_REQUESTS),
              default=DEFAULT_REQUESTS, show_default=True,
              help="POST /decide requests per version in the evidence stage.")
@click.option("--bundle", "bundle_dir", type=click.Path(path_type=Path, file_okay=False),
              help="Write the evidence bundle and the report here (default: a new directory "
                   "under the system's temporary directory, kept and named at the end).")
@format_option()
def demo_command(stage: str, requests: int, bundle_dir: Path | None, output_format: str) -> int:
    """Run mapguard on riskd, the Go service shipped inside mapguard, before and after its fixes.

    Stage 1 lints both versions, stage 2 measures them with the Go toolchain (escape analysis,
    allocation profiles and GC traces under load), stage 3 measures their latency under
    open-loop load and CPU quota steps, stage 4 turns riskd's SLO spec into Prometheus rules,
    stage 5 diagnoses both versions from the evidence bundle and writes the report.
    Exit status 1 when a stage did not come out as expected.
    """
    selected = STAGES if stage == "all" else (stage,)
    text = output_format == "text"
    root = demo_root()
    if bundle_dir is None and "report" in selected:
        bundle_dir = Path(tempfile.mkdtemp(prefix="mapguard-demo-"))
    if text:
        click.echo(f"mapguard demo: riskd, a risk-decision HTTP service in Go ({root})")
    # SIGTERM ends the demo like Ctrl-C: services stopped, CPU quotas undone on the way out.
    with termination_as_interrupt():
        report = run_demo(
            selected, requests, bundle=bundle_dir,
            progress=_progress if text and sys.stderr.isatty() else None,
            on_stage=(lambda run: print_stage(run, root)) if text else None,
        )
    if text:
        print_summary(report)
    else:
        emit_json(report_json(report))
    return 0 if report.ok else 1
