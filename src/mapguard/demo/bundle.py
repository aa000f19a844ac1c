"""The demo's evidence, written into an evidence bundle stage by stage (an interrupted demo keeps
what its finished stages measured): labels `before` and `after`, the sources they were built
from, and the demo's own JSON at the end."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mapguard.bundle.writer import BundleWriter
from mapguard.demo.service import VERSIONS
from mapguard.lint.output import render_json

if TYPE_CHECKING:
    from mapguard.demo.command import LintStage
    from mapguard.demo.evidence import EvidenceStage, VersionEvidence
    from mapguard.demo.latency import LatencyStage, Side

PRODUCER = "mapguard demo"


def open_writer(directory: Path, root: Path) -> BundleWriter:
    writer = BundleWriter(directory, producer=PRODUCER)
    for version in VERSIONS:
        writer.set_source(version, root / version)
    return writer


def write_lint(writer: BundleWriter, stage: LintStage, root: Path) -> None:
    for version, result in (("before", stage.before), ("after", stage.after)):
        base = root / version
        writer.add_json("lint", version, render_json(result, base), meta={"base": str(base)})


def write_evidence(writer: BundleWriter, stage: EvidenceStage) -> None:
    for side in (stage.before, stage.after):
        _write_version(writer, side)


def _gogc() -> int:
    """The GOGC riskd ran with: ours, which it inherits, else Go's default."""
    value = os.environ.get("GOGC", "100")
    return int(value) if value.isdigit() else 100


def _write_version(writer: BundleWriter, side: VersionEvidence) -> None:
    from mapguard.evidence.escape_commands import fact_json

    version = side.version
    if len(side.profiles) == 2:
        start, end = side.profiles
        writer.add_bytes("profile", version, start, ".heap.start.pb.gz",
                         meta={"what": "the start snapshot of the measured batches"})
        writer.add_bytes("profile", version, end, ".heap.pb.gz", meta={
            "requests": side.requests,
            "what": "heap profile after the last batch; minus the start snapshot, the "
                    "allocation of the measured batches (memprofilerate=1: every allocation)"})
    writer.add_json("gc", version, {
        "source": f"riskd {version}/ stderr with GODEBUG=gctrace=1, the measured batches "
                  "(the forced cycles of the profiles left out)",
        "cycles": [cycle._asdict() | {"notes": list(cycle.notes)} for cycle in side.cycles],
    }, meta={"gogc": _gogc()})
    writer.add_json("escape", version, {
        "packages": [], "sites": [fact_json(fact) for fact in side.escape_facts]})


def write_latency(writer: BundleWriter, stage: LatencyStage) -> None:
    """Each version's latency per CPU quota step, in the shape of `mapguard chaos cpu`."""
    for version in VERSIONS:
        sides = [(step.quota_cpus, step.before if version == "before" else step.after)
                 for step in stage.steps]
        writer.add_json("chaos", version, _chaos_document(version, sides, stage))


def _chaos_document(version: str, sides: list[tuple[float | None, Side]],
                    stage: LatencyStage) -> dict[str, Any]:
    from mapguard.chaos.steps import quota_text
    from mapguard.load.commands import step_json, verdict_json

    steps = []
    verdicts = []
    for number, (quota, side) in enumerate(sides, 1):
        throttle = side.throttle
        steps.append({
            "step": number, "quota_cpus": quota,
            "quota": None if quota is None else quota_text(quota),
            "throttle": None if throttle is None else {
                "periods": throttle.periods, "throttled": throttle.throttled,
                "throttled_ms": round(throttle.throttled_us / 1000, 3)},
            "runtime": {"source": "gctrace", "gomaxprocs": list(side.gomaxprocs),
                        "gc_cycles": side.gc_cycles},
            "load": step_json(side.merged),
        })
        verdicts += [{**verdict_json(v), "step": number} for v in side.slo]
    return {"target": f"riskd {version}/", "cgroup": stage.cgroup, "steps": steps,
            "slo": verdicts, "runs_per_step": len(sides[0][1].runs) if sides else 0}


def write_demo(writer: BundleWriter, document: dict[str, Any]) -> None:
    writer.add_json("demo", "demo", {"version": 1, **document})
