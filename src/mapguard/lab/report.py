"""The lab's report: per-group tables of medians, the escape verdicts of the pointer variants,
crossover points in words, and the claims table; as text, JSON and Markdown."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mapguard.bench.statistics import summarize
from mapguard.bench.units import scaled
from mapguard.lab.analysis import (
    CPU_TIME,
    WALL_TIME,
    compare_pairs,
    crossover,
    ordered_keys,
    samples,
    series,
)
from mapguard.lab.claims import ClaimResult, Verdict, escape_verdicts
from mapguard.lab.plan import GROUPS
from mapguard.lab.runner import LabRun

# Columns of the group tables: (unit in the results, header, how to show a value).
_TIME, _COUNT, _BYTES = "time", "count", "bytes"
COLUMNS = (
    (WALL_TIME, "time/op", _TIME),
    (CPU_TIME, "cpu/op", _TIME),
    ("B/op", "B/op", _BYTES),
    ("allocs/op", "allocs/op", _COUNT),
    ("gc-cycles/Mop", "GCs/Mop", _COUNT),
    ("gc-pause-sec/op", "GC pause/op", _TIME),
    ("leaked-entries/op", "leaked/op", _COUNT),
    ("wrong-results/op", "wrong/op", _COUNT),
)


@dataclass(frozen=True, slots=True)
class Row:
    benchmark: str  # without the GOMAXPROCS suffix
    medians: dict[str, float]  # unit -> median
    ranges: dict[str, str]  # unit -> "±3%" (time units)
    runs: int


def group_rows(run: LabRun, group: str) -> list[Row]:
    rows: dict[str, Row] = {}
    for function in GROUPS[group].functions:
        for unit, _header, _kind in COLUMNS:
            for name, values in samples(run.timings, function, unit).items():
                row = rows.setdefault(name, Row(name, {}, {}, len(values)))
                summary = summarize(values)
                row.medians[unit] = summary.center
                if unit in (WALL_TIME, CPU_TIME):
                    row.ranges[unit] = summary.range_percent()
    return list(rows.values())


def _show(value: float | None, kind: str) -> str:
    if value is None or math.isnan(value):
        return "-"
    if value == 0:
        return "0"
    if kind == _TIME:
        return f"{scaled(value, 'sec/op')}s"
    if kind == _BYTES:
        return f"{scaled(value, 'B')}B"
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def _table(rows: Sequence[Row]) -> list[str]:
    used = [column for column in COLUMNS if any(column[0] in row.medians for row in rows)]
    header = ["benchmark", *[column[1] for column in used]]
    body = []
    for row in rows:
        cells = [row.benchmark]
        for unit, _header, kind in used:
            text = _show(row.medians.get(unit), kind)
            if unit in row.ranges:
                text += f" ±{row.ranges[unit]}"
            cells.append(text)
        body.append(cells)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    return ["  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                      for i, (cell, width) in enumerate(zip(line, widths, strict=True))).rstrip()
            for line in [header, *body]]


# --- crossovers --------------------------------------------------------------------------------


def crossovers(run: LabRun) -> list[str]:
    """Where one strategy overtakes another on this machine, in words."""
    said: list[str] = []
    groups = run.plan.groups

    def pair(function: str, vary: str, key: str, a: str, b: str, unit: str,
             **where: str) -> list[Any]:
        left = series(run.timings, function, unit, vary, {key: a, **where})
        right = series(run.timings, function, unit, vary, {key: b, **where})
        return compare_pairs(a, left, b, right, unit, ordered_keys([*left, *right]))

    if "clear" in groups:
        said.append("clear beats re-creating the map "
                    + crossover(pair("Refill", "size", "strategy", "clear", "make", CPU_TIME),
                                "clear", "make", "{} entries") + " (CPU time)")
        said.append("re-creating beats clear "
                    + crossover(pair("Refill", "size", "strategy", "make", "clear", CPU_TIME),
                                "make", "clear", "{} entries") + " (CPU time)")
    if "hint" in groups:
        said.append("a size hint makes filling a new map faster "
                    + crossover(pair("Fill", "size", "hint", "exact", "none", CPU_TIME),
                                "exact", "none", "{} entries") + " (CPU time)")
    if "sync" in groups:
        counts = ordered_keys(series(run.timings, "Concurrent", WALL_TIME, "goroutines",
                                     {"impl": "rwmutex"}))
        names = {"syncmap": "sync.Map", "sharded": "a 16-way sharded map",
                 "cow": "copy-on-write through atomic.Pointer"}
        for rival, words in names.items():
            for count in counts:
                comparisons = pair("Concurrent", "reads", "impl", rival, "rwmutex", WALL_TIME,
                                   goroutines=count)
                said.append(f"{words} beats RWMutex+map "
                            + crossover(comparisons, rival, "rwmutex", "{} % reads")
                            + f" with {count} goroutine{'s' if count != '1' else ''} "
                              "(wall-clock time)")
    return [f"{sentence}, on this machine with {run.go_version}." for sentence in said]


# --- text ------------------------------------------------------------------------------------


def header(run: LabRun) -> str:
    plan = run.plan
    machine = run.machine
    load = machine.get("load_average")
    return (f"mapguard lab ({'quick' if plan.quick else 'full'}): {run.go_version}, "
            f"{machine.get('system')}/{machine.get('machine')}, {machine.get('cpus')} CPUs, "
            f"load average {load}; {plan.rounds} rounds, {plan.benchtime} per benchmark and "
            f"round; took {run.elapsed_s:.0f} s")


def render_text(run: LabRun, claims: Sequence[ClaimResult], said: Sequence[str]) -> str:
    lines = [header(run), "",
             "Medians over the rounds; ±: the 95% confidence interval of time medians. cpu/op "
             "is CPU time of the whole process per op (not inflated by other processes); "
             "GCs/Mop is GC cycles per million ops.", ""]
    for group in run.plan.groups:
        lines.append(f"== {group}: {GROUPS[group].title}")
        lines += _table(group_rows(run, group))
        if group == "pointer":
            for function, verdict in escape_verdicts(run.escape).items():
                lines.append(f"   escape analysis: {function}: {verdict}")
            if isinstance(run.escape, str):
                lines.append(f"   escape analysis failed: {run.escape}")
        lines.append("")
    if said:
        lines.append("== crossovers")
        lines += [f"- {sentence}" for sentence in said]
        lines.append("")
    lines.append("== claims")
    lines += render_claims_text(claims)
    return "\n".join(lines) + "\n"


def render_claims_text(claims: Sequence[ClaimResult]) -> list[str]:
    width = max(len(verdict.value) for verdict in Verdict)
    lines = []
    for result in claims:
        lines.append(f"{result.outcome.verdict.value:<{width}}  {result.claim.source:<6}  "
                     f"{result.claim.claim}")
        lines.append(f"{'':<{width}}  {'':<6}  -> {result.outcome.evidence}")
    counts = {verdict: sum(r.outcome.verdict is verdict for r in claims) for verdict in Verdict}
    lines.append(", ".join(f"{count} {verdict.value}" for verdict, count in counts.items()))
    return lines


def render_claims_markdown(run: LabRun, claims: Sequence[ClaimResult]) -> str:
    lines = [f"# mapguard lab claims ({run.go_version})", "", header(run), "",
             "| claim | source | verdict | evidence |", "|---|---|---|---|"]
    for result in claims:
        claim, evidence = (text.replace("|", "\\|")
                           for text in (result.claim.claim, result.outcome.evidence))
        lines.append(f"| {claim} | {result.claim.source} | **{result.outcome.verdict.value}** "
                     f"| {evidence} |")
    return "\n".join(lines) + "\n"


# --- json ---------------------------------------------------------------------------------------


def report_json(run: LabRun, claims: Sequence[ClaimResult], said: Sequence[str]
                ) -> dict[str, Any]:
    plan = run.plan
    return {
        "go": run.go_version,
        "machine": run.machine,
        "plan": {"quick": plan.quick, "groups": list(plan.groups), "rounds": plan.rounds,
                 "benchtime": plan.benchtime},
        "elapsed_s": run.elapsed_s,
        "groups": {
            group: [{"benchmark": row.benchmark, "runs": row.runs, "medians": row.medians,
                     "ranges": row.ranges} for row in group_rows(run, group)]
            for group in plan.groups
        },
        "escape": escape_verdicts(run.escape),
        "crossovers": list(said),
        "claims": [
            {"id": r.claim.id, "source": r.claim.source, "claim": r.claim.claim,
             "verdict": r.outcome.verdict.value, "evidence": r.outcome.evidence,
             "numbers": r.outcome.numbers}
            for r in claims
        ],
        "problems": [str(problem) for problem in (*run.timings.problems, *run.facts.problems)],
    }
