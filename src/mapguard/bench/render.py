"""`mapguard bench compare` output: benchstat's tables, then mapguard's verdicts and the gate, as
text, Markdown (for CI step summaries) or JSON."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mapguard.bench.gate import FailRule, Violation
from mapguard.bench.projection import key_text
from mapguard.bench.statistics import go_signed
from mapguard.bench.tables import Table
from mapguard.bench.units import common_scale, scaled
from mapguard.bench.verdicts import RowVerdict, Verdict

_SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"


@dataclass(frozen=True, slots=True)
class Report:
    """Everything one comparison produced."""

    tables: Sequence[Table]
    verdicts: Sequence[RowVerdict]
    rules: Sequence[FailRule] = ()
    violations: Sequence[Violation] = ()
    confirmed: Sequence[Violation] | None = None  # after --confirm reran the regressed ones
    problems: Sequence[str] = ()
    noise_source: str | None = None
    alpha: float = 0.05
    notes: Sequence[str] = field(default_factory=tuple)

    @property
    def failing(self) -> Sequence[Violation]:
        return self.violations if self.confirmed is None else self.confirmed


# --- text ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Grid:
    """Cells laid out in columns; a cell may span several columns (headers)."""

    cells: list[tuple[int, int, int, str, str, str]] = field(default_factory=list)
    row: int = -1
    col: int = 0

    def next_row(self) -> None:
        self.row += 1
        self.col = 0

    def at(self, col: int) -> _Grid:
        self.col = col
        return self

    def put(self, text: str, *, align: str = "<", margin: str | None = None, span: int = 1
            ) -> None:
        if margin is None:
            margin = "" if self.col == 0 or not text else " "
        self.cells.append((self.row, self.col, span, text, margin, align))
        self.col += span

    def render(self) -> list[str]:
        columns = max((col + span for _row, col, span, *_rest in self.cells), default=0)
        margins = [0] * columns
        for _row, col, _span, _text, margin, _align in self.cells:
            margins[col] = max(margins[col], len(margin))
        widths = [0] * columns
        for _row, col, span, text, _margin, _align in sorted(self.cells, key=lambda c: c[2]):
            need = len(text) + margins[col]
            have = sum(widths[col:col + span])
            if span == 1:
                widths[col] = max(widths[col], need)
            elif have < need:
                widths[col + span - 1] += need - have
        offsets = [sum(widths[:col]) for col in range(columns + 1)]
        lines: dict[int, str] = {}
        for row, col, span, text, margin, align in sorted(self.cells, key=lambda c: c[:2]):
            if not text.strip() and not margin.strip():
                continue
            line = lines.get(row, "")
            line += " " * (offsets[col] - len(line))
            line += margin.rjust(margins[col])
            width = offsets[col + span] - offsets[col] - margins[col]
            line += {"<": text, ">": text.rjust(width), "^": " " * ((width - len(text)) // 2)
                     + text}[align]
            lines[row] = line
        return [lines.get(row, "").rstrip() for row in range(self.row + 1)]


def render_tables_text(tables: Sequence[Table]) -> str:
    """benchstat's text tables: configuration changes, then one table per unit."""
    out: list[str] = []
    fields = list(dict.fromkeys(name for table in tables for name, _value in table.config))
    previous: dict[str, str] | None = None
    for index, table in enumerate(tables):
        if index:
            out.append("")
        config = dict(table.config)
        for name in fields:
            if previous is None or config.get(name, "") != previous.get(name, ""):
                out.append(f"{name}: {config.get(name, '')}")
        previous = config
        out += _table_text(table)
    return "\n".join(out) + ("\n" if out else "")


def _table_text(table: Table) -> list[str]:
    center_cols, delta_cols = 3, 3

    def start(column: int) -> int:
        return 1 if column == 0 else 1 + center_cols + (column - 1) * (center_cols + delta_cols)

    footnotes: list[str] = []

    def marks(*groups: Sequence[str]) -> str:
        numbers = []
        for group in groups:
            for note in group:
                if note not in footnotes:
                    footnotes.append(note)
                numbers.append(_superscript(footnotes.index(note) + 1))
        return " ".join(numbers)

    grid = _Grid()
    right_edge = start(len(table.columns) + 1)
    grid.next_row()
    for index, column in enumerate(table.columns):
        width = start(index + 1) - start(index)
        grid.at(start(index)).put(key_text(column), align="^", margin=" │ ", span=width)
    grid.at(right_edge).put("", margin=" │")
    grid.next_row()
    for index, _column in enumerate(table.columns):
        grid.at(start(index)).put(table.unit, align="^", margin=" │ ", span=center_cols)
        if index:
            grid.put("vs base", margin="  ", span=delta_cols)
    grid.at(right_edge).put("", margin=" │")
    for row in table.rows:
        grid.next_row()
        grid.put(key_text(row))
        centers = [cell.summary.center for column in table.columns
                   if (cell := table.cells.get((row, column))) is not None]
        scaler = common_scale(centers, table.unit)
        for index, column in enumerate(table.columns):
            cell = table.cells.get((row, column))
            if cell is None:
                continue
            grid.at(start(index)).put(scaler.format(cell.summary.center), align=">")
            grid.put(cell.summary.range_percent(), align=">", margin=" ± ")
            grid.put(marks(cell.notes, cell.summary.warnings))
            if index and cell.comparison is not None and cell.baseline is not None:
                grid.put(cell.comparison.delta(cell.baseline.center, cell.summary.center),
                         align=">")
                grid.put(f"({cell.comparison.label()})")
                grid.put(marks(cell.comparison.warnings))
    if len(table.rows) > 1:
        grid.next_row()
        grid.put("geomean")
        for index, column in enumerate(table.columns):
            summary = table.geomeans[column]
            if summary.value is not None:
                grid.at(start(index)).put(scaled(summary.value, table.unit), align=">")
            if index:
                grid.at(start(index) + center_cols)
                if summary.ratio is not None:
                    grid.put(f"{go_signed((summary.ratio - 1) * 100, 2)}%", align=">")
                else:
                    grid.put("?")
            grid.at(start(index + 1) - 1).put(marks(summary.warnings))
    lines = grid.render()
    lines += [f"{_superscript(number)} {note}" for number, note in enumerate(footnotes, 1)]
    return lines


def _superscript(number: int) -> str:
    return "".join(_SUPERSCRIPTS[int(digit)] for digit in str(number))


def _percent(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value * 100:+.2f}%"


def _floor_text(row: RowVerdict) -> str:
    return "no floor" if row.floor is None else f"floor {row.floor * 100:.1f}%"


def render_verdicts_text(report: Report) -> str:
    changes = [row for row in report.verdicts if row.verdict is not Verdict.SAME]
    tested = sum(1 for row in report.verdicts if not row.exact)
    lines = [
        f"mapguard verdicts: {len(report.verdicts)} comparisons, p-values adjusted with "
        f"Holm–Bonferroni across the {tested} tested; a change needs p(Holm) <= "
        f"{report.alpha:g} and a delta beyond the noise floor "
        + (f"({report.noise_source})" if report.noise_source else
           "(none given: run `mapguard bench calibrate` and pass --noise)") + ".",
    ]
    if not changes:
        lines.append("  no significant change.")
    width = max((len(row.benchmark) for row in changes), default=0)
    for row in changes:
        where = f" [{row.config}]" if row.config else ""
        lines.append(
            f"  {row.verdict.value:<12} {row.benchmark:<{width}}  {row.unit:<10} "
            f"{_percent(row.relative):>9}  p={row.p:.3f} p(Holm)={row.p_holm:.3f}  "
            f"{_floor_text(row)}{where}"
        )
    lines += [f"  note: {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def render_gate_text(report: Report) -> str:
    if not report.rules:
        return "gate: no --fail-on rule given: not gating (exit 0).\n"
    lines = []
    for violation in report.violations:
        row = violation.row
        lines.append(f"gate: {violation.rule.text} broken by {row.benchmark}: "
                     f"{_percent(row.relative)} ({_change_text(row)})")
    if report.confirmed is not None:
        held = {(v.rule.text, v.row.benchmark, v.row.unit) for v in report.confirmed}
        for violation in report.violations:
            key = (violation.rule.text, violation.row.benchmark, violation.row.unit)
            lines.append(f"gate: --confirm rerun: {violation.row.benchmark} "
                         + ("still breaks " if key in held else "no longer breaks ")
                         + violation.rule.text)
    rules = ", ".join(rule.text for rule in report.rules)
    verdict = "FAILED" if report.failing else "passed"
    lines.append(f"gate: {verdict} ({rules})")
    return "\n".join(lines) + "\n"


def _change_text(row: RowVerdict) -> str:
    return f"{scaled(row.old, row.unit)} -> {scaled(row.new, row.unit)} {row.unit}"


def render_text(report: Report) -> str:
    parts = [render_tables_text(report.tables), render_verdicts_text(report),
             render_gate_text(report)]
    return "\n".join(part for part in parts if part)


# --- markdown -------------------------------------------------------------------------------


def render_markdown(report: Report) -> str:
    status = "failed" if report.failing else ("passed" if report.rules else "not gating")
    lines = [f"### mapguard bench compare: {status}", ""]
    if report.rules:
        lines.append("Rules: " + ", ".join(f"`{rule.text}`" for rule in report.rules))
        lines.append("")
    for violation in report.failing:
        row = violation.row
        lines.append(f"- **{row.benchmark}** breaks `{violation.rule.text}`: "
                     f"{_percent(row.relative)} ({_change_text(row)}), p(Holm)={row.p_holm:.3f}")
    if report.failing:
        lines.append("")
    lines += [
        "| benchmark | unit | " + " | ".join(["baseline", "new", "delta", "p", "p (Holm)",
                                              "noise floor", "verdict"]) + " |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in report.verdicts:
        floor = "–" if row.floor is None else f"{row.floor * 100:.1f}%"
        lines.append(
            f"| {row.benchmark} | {row.unit} | {scaled(row.old, row.unit)} | "
            f"{scaled(row.new, row.unit)} | {_percent(row.relative)} | {row.p:.3f} | "
            f"{row.p_holm:.3f} | {floor} | {row.verdict.value} |"
        )
    lines += ["", f"p-values adjusted with Holm–Bonferroni across all rows; alpha "
                  f"{report.alpha:g}; medians of n runs per side."]
    lines += [f"Input problem: `{problem}`" for problem in report.problems]
    return "\n".join(lines) + "\n"


# --- json -----------------------------------------------------------------------------------


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def report_json(report: Report) -> dict[str, Any]:
    return {
        "alpha": report.alpha,
        "correction": "holm-bonferroni",
        "noise_floors": report.noise_source,
        "tables": [_table_json(table) for table in report.tables],
        "verdicts": [_verdict_json(row) for row in report.verdicts],
        "gate": {
            "rules": [rule.text for rule in report.rules],
            "violations": [_violation_json(v) for v in report.violations],
            "confirmed": (None if report.confirmed is None
                          else [_violation_json(v) for v in report.confirmed]),
            "failed": bool(report.failing),
        },
        "notes": list(report.notes),
        "problems": list(report.problems),
    }


def _table_json(table: Table) -> dict[str, Any]:
    rows = []
    for row in table.rows:
        cells = []
        for column in table.columns:
            cell = table.cells.get((row, column))
            if cell is None:
                continue
            entry: dict[str, Any] = {
                "column": key_text(column), "n": len(cell.values),
                "center": cell.summary.center, "lo": _number(cell.summary.lo),
                "hi": _number(cell.summary.hi), "range": cell.summary.range_percent(),
                "notes": [*cell.notes, *cell.summary.warnings],
            }
            if cell.comparison is not None and cell.baseline is not None:
                entry["vs_base"] = {
                    "delta": cell.comparison.delta(cell.baseline.center, cell.summary.center),
                    "p": cell.comparison.p, "n": [cell.comparison.n1, cell.comparison.n2],
                    "notes": list(cell.comparison.warnings),
                }
            cells.append(entry)
        rows.append({"benchmark": key_text(row), "cells": cells})
    return {
        "config": dict(table.config), "unit": table.unit,
        "assumption": "exact" if table.exact else "nothing",
        "columns": [key_text(column) for column in table.columns], "rows": rows,
        "geomean": [{"column": key_text(column), "value": summary.value, "ratio": summary.ratio,
                     "notes": list(summary.warnings)}
                    for column, summary in table.geomeans.items()],
    }


def _verdict_json(row: RowVerdict) -> dict[str, Any]:
    return {
        "config": row.config, "benchmark": row.benchmark, "unit": row.unit,
        "baseline": row.baseline, "column": row.column, "old": row.old, "new": row.new,
        "relative": row.relative, "absolute": row.absolute, "p": row.p, "p_holm": row.p_holm,
        "n": [row.n_old, row.n_new], "noise_floor": row.floor, "verdict": row.verdict.value,
    }


def _violation_json(violation: Violation) -> dict[str, Any]:
    return {"rule": violation.rule.text, **_verdict_json(violation.row)}
