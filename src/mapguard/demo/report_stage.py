"""Stage 5 of `mapguard demo`: the diagnosis of before/ and after/ from the evidence the other
stages wrote into the bundle, and the report of both in one HTML file.

Nothing is measured again: the stage reads the bundle (the profiles, GC traces, escape verdicts,
lint findings and latency runs of stages 1-3), so it costs a few seconds of attribution and
drawing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mapguard.bundle.reader import open_bundle
from mapguard.diagnose.engine import DEFAULT_THRESHOLD
from mapguard.diagnose.knowledge import load_knowledge
from mapguard.diagnose.model import Diagnosis
from mapguard.diagnose.render import diagnosed_json
from mapguard.report.build import build_report
from mapguard.report.render import render_html

REPORT_FILE = "report.html"


@dataclass(frozen=True, slots=True)
class ReportStage:
    bundle: Path
    report: Path
    size: int
    render_seconds: float
    diagnoses: tuple[Diagnosis, ...]  # before/, after/, as far as the bundle holds them
    measured: bool  # the bundle holds allocation profiles of both versions
    problems: tuple[str, ...]

    def diagnosis(self, label: str) -> Diagnosis | None:
        return next((d for d in self.diagnoses if d.label == label), None)


def run_report_stage(bundle_dir: Path) -> ReportStage:
    """The report's own diagnoses of before/ and after/ are the stage's: one reading."""
    bundle = open_bundle(bundle_dir)
    started = time.perf_counter()
    report = build_report(bundle, load_knowledge(), threshold=DEFAULT_THRESHOLD)
    html = render_html(report)
    path = bundle_dir / REPORT_FILE
    path.write_text(html, encoding="utf-8")
    views = [view for view in report.labels if view.label in ("before", "after")]
    return ReportStage(bundle_dir, path, len(html.encode("utf-8")),
                       time.perf_counter() - started, tuple(v.diagnosis for v in views),
                       len(views) == 2 and all(v.measured for v in views),
                       tuple(report.problems))


def expectations(stage: ReportStage) -> list[tuple[str, bool, str]]:
    """(claim, ok, detail): the planted causes of before/ ranked by measured cost, each at its
    site; none above the threshold on after/. Only when both versions were measured."""
    if not stage.measured:
        return []
    before, after = stage.diagnosis("before"), stage.diagnosis("after")
    assert before is not None and after is not None
    impacts = [d.cost.impact for d in before.causes if d.cost is not None]
    planted = [d for d in before.causes if d.cause.rule is not None]
    ranked = (bool(before.causes) and len(planted) == len(before.causes)
              and impacts == sorted(impacts, reverse=True))
    named = ", ".join(f"{d.cause.rule} at {d.display}" for d in before.causes) or "none"
    return [
        ("before/: the planted map causes are ranked by measured cost, each at its site",
         ranked, named),
        (f"after/: no map cause at or above {100 * after.threshold:g}%", not after.causes,
         ", ".join(d.statement for d in after.causes)),
    ]


def stage_json(stage: ReportStage) -> dict[str, Any]:
    return {
        "bundle": str(stage.bundle), "report": str(stage.report), "size_bytes": stage.size,
        "render_seconds": round(stage.render_seconds, 3),
        "diagnoses": {d.label: {"ranked_by": d.ranked_by, "threshold": d.threshold,
                                "causes": [diagnosed_json(c, i + 1)
                                           for i, c in enumerate(d.causes)],
                                "risks": len(d.risks), "unexplained": len(d.unexplained)}
                      for d in stage.diagnoses},
        "problems": list(stage.problems),
    }


def stage_text(stage: ReportStage) -> list[str]:
    lines = []
    for diagnosis in stage.diagnoses:
        head = (f"{diagnosis.label}/: {len(diagnosis.causes)} map cause(s) at or above "
                f"{100 * diagnosis.threshold:g}%, ranked by {diagnosis.ranked_by}"
                if diagnosis.causes else
                f"{diagnosis.label}/: no map cause at or above {100 * diagnosis.threshold:g}%")
        lines.append(head)
        lines += [f"  {rank}. {found.statement} [{found.confidence}]"
                  for rank, found in enumerate(diagnosis.causes, 1)]
        if diagnosis.risks:
            rules = sorted({d.cause.rule or d.cause.id for d in diagnosis.risks})
            lines.append(f"  risks (correctness): {', '.join(rules)}")
    lines.append(f"\nreport: {stage.report} ({stage.size:,} bytes, one file, no network "
                 f"needed); bundle: {stage.bundle}")
    lines += [f"problem: {problem}" for problem in stage.problems]
    return lines
