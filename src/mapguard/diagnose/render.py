"""A diagnosis as text, Markdown and JSON."""

from __future__ import annotations

from typing import Any

from mapguard.diagnose.model import Cost, Diagnosed, Diagnosis, Evidence, Unexplained
from mapguard.evidence.quantities import human


def cost_json(cost: Cost | None) -> dict[str, Any] | None:
    if cost is None:
        return None
    return {"resource": cost.resource, "value": cost.value,
            "share": None if cost.share is None else round(cost.share, 6),
            "per_request": None if cost.per_request is None else round(cost.per_request, 2),
            "gc_cpu_percent": None if cost.gc_cpu_percent is None else round(
                cost.gc_cpu_percent, 4),
            "stall_p99_seconds": cost.stall_p99_s}


def _evidence_json(item: Evidence) -> dict[str, str]:
    return {"kind": item.kind, "origin": item.origin, "statement": item.statement}


def diagnosed_json(found: Diagnosed, rank: int | None = None) -> dict[str, Any]:
    cause = found.cause
    return {
        **({"rank": rank} if rank is not None else {}),
        "cause": cause.id, "kind": cause.kind, "rule": cause.rule, "title": cause.title,
        "site": {"file": found.display.rsplit(":", 1)[0], "line": found.anchor.line,
                 "function": found.anchor.function},
        "statement": found.statement,
        "cost": cost_json(found.cost),
        "confidence": found.confidence,
        "evidence": [_evidence_json(e) for e in found.evidence],
        "measured_sites": [{"file": s.site.file, "line": s.site.line, "op": s.op,
                            "value": s.value} for s in found.sites],
        "explanation": cause.explanation, "fix": cause.fix,
        "references": [r.text() for r in cause.references],
        "similar_incidents": list(found.incidents),
    }


def _unexplained_json(item: Unexplained) -> dict[str, Any]:
    return {"site": item.display, "function": item.function, "op": item.op,
            "value": item.value, "share": None if item.share is None else round(item.share, 6),
            "why": item.why}


def diagnosis_json(diagnosis: Diagnosis) -> dict[str, Any]:
    return {
        "label": diagnosis.label,
        "threshold": diagnosis.threshold,
        "ranked_by": diagnosis.ranked_by,
        "causes": [diagnosed_json(d, i + 1) for i, d in enumerate(diagnosis.causes)],
        "below_threshold": [diagnosed_json(d) for d in diagnosis.below],
        "not_measured": [diagnosed_json(d) for d in diagnosis.unmeasured],
        "risks": [diagnosed_json(d) for d in diagnosis.risks],
        "unexplained": [_unexplained_json(u) for u in diagnosis.unexplained],
        "correlations": list(diagnosis.correlations),
        "context": [_evidence_json(e) for e in diagnosis.context],
        "next_steps": list(diagnosis.next_steps),
        "evidence_files": list(diagnosis.sources),
        "notes": list(diagnosis.notes),
        "fingerprint": diagnosis.fingerprint(),
    }


def _cost_text(cost: Cost | None) -> str:
    if cost is None:
        return "not measured"
    if cost.resource == "allocated bytes":
        parts = [human(int(cost.value), "bytes")]
        if cost.share is not None:
            parts.append(f"{100 * cost.share:.1f}% of allocation")
        if cost.per_request is not None:
            parts.append(f"{cost.per_request:,.0f} B/request")
        if cost.gc_cpu_percent is not None:
            parts.append(f"~{cost.gc_cpu_percent:.2f}% CPU in GC")
        return ", ".join(parts)
    if cost.resource == "CPU time":
        share = f", {100 * cost.share:.1f}% of CPU" if cost.share is not None else ""
        return f"{human(int(cost.value), 'nanoseconds')}{share}"
    return (f"{cost.value * 1e3:.1f} ms growing, p99 stall {1e3 * (cost.stall_p99_s or 0):.2f} ms"
            + (f", {100 * cost.share:.2f}% of the time" if cost.share is not None else ""))


def render_text(diagnosis: Diagnosis) -> str:
    out = [f"diagnosis of {diagnosis.label}: "
           + (f"{len(diagnosis.causes)} map cause(s) at or above "
              f"{100 * diagnosis.threshold:g}%, ranked by {diagnosis.ranked_by}"
              if diagnosis.causes else
              f"no map cause at or above {100 * diagnosis.threshold:g}% of its resource")]
    for item in diagnosis.context:
        out.append(f"  {item.statement}")
    for rank, found in enumerate(diagnosis.causes, 1):
        out += ["", f"{rank}. {found.statement}", *_details(found)]
    if diagnosis.below:
        out += ["", "measured, below the threshold:"]
        out += [f"  - {d.statement} ({d.confidence})" for d in diagnosis.below]
    if diagnosis.unmeasured:
        out += ["", "seen in the code, not measured (see next steps):"]
        out += [f"  - {d.statement}" for d in diagnosis.unmeasured]
    if diagnosis.risks:
        out += ["", "risks (correctness, not cost):"]
        for found in diagnosis.risks:
            out.append(f"  - {found.display}: {found.cause.rule or ''} {found.cause.title}; "
                       f"fix: {found.cause.fix}")
    if diagnosis.unexplained:
        out += ["", "map cost no cause explains:"]
        out += [f"  - {u.display} {u.op} {human(u.value, 'bytes')}"
                + (f" ({100 * u.share:.1f}%)" if u.share is not None else "") + f": {u.why}"
                for u in diagnosis.unexplained]
    for correlation in diagnosis.correlations:
        out += ["", f"correlation: {correlation['statement']}"]
    if diagnosis.next_steps:
        out += ["", "to collect next:"] + [f"  - {step}" for step in diagnosis.next_steps]
    for note in diagnosis.notes:
        out.append(f"note: {note}")
    return "\n".join(out)


def _details(found: Diagnosed) -> list[str]:
    lines = [f"   cost: {_cost_text(found.cost)}; confidence: {found.confidence}"]
    lines += [f"   evidence ({item.kind}, {item.origin}): {item.statement}"
              for item in found.evidence]
    lines.append(f"   why: {found.cause.explanation}")
    lines.append(f"   fix: {found.cause.fix}")
    if found.cause.references:
        lines.append("   read: " + "; ".join(r.text() for r in found.cause.references))
    for incident in found.incidents:
        fixed = f"; fixed by: {incident['fix']}" if incident.get("fix") else ""
        lines.append(f"   seen before: incident {incident['id']} \"{incident['title']}\" "
                     f"({incident['created']}, similarity {incident['similarity']:.2f}){fixed}")
    return lines


def render_markdown(diagnosis: Diagnosis) -> str:
    out = [f"### mapguard diagnosis: {diagnosis.label}", ""]
    if not diagnosis.causes:
        out.append(f"No map cause at or above {100 * diagnosis.threshold:g}% of its resource.")
    else:
        out += ["| # | cause | where | cost | confidence |", "|---|---|---|---|---|"]
        for rank, found in enumerate(diagnosis.causes, 1):
            rule = f"{found.cause.rule} " if found.cause.rule else ""
            out.append(f"| {rank} | {_md(rule + found.cause.title)} | `{_md(found.display)}` | "
                       f"{_md(_cost_text(found.cost))} | {found.confidence} |")
    if diagnosis.next_steps:
        out += ["", "To collect next:"] + [f"- {_md(step)}" for step in diagnosis.next_steps]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
