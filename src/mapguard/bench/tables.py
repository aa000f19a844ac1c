"""Benchmark results into comparison tables: one per configuration and unit, a row per
benchmark, a column per input; each cell summarised, each non-baseline cell compared with the
baseline (first) column of its row, and a geomean row, as benchstat builds them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mapguard.bench.projection import Filter, Key, Projection
from mapguard.bench.statistics import (
    ALPHA,
    CONFIDENCE,
    Comparison,
    Summary,
    compare_exact,
    compare_samples,
    geomean,
    summarize,
    summarize_exact,
)
from mapguard.formats.benchfmt import BenchFile


@dataclass(frozen=True, slots=True)
class LabelledFile:
    label: str  # the column name: the path as given, or LABEL of LABEL=PATH
    parsed: BenchFile


@dataclass(frozen=True, slots=True)
class Cell:
    values: tuple[float, ...]
    summary: Summary
    comparison: Comparison | None  # against the baseline cell of the row, when there is one
    baseline: Summary | None
    notes: tuple[str, ...]  # about the sample itself ("benchmarks vary in .fullname")


@dataclass(frozen=True, slots=True)
class ColumnGeomean:
    value: float | None  # geomean of the cell centers
    ratio: float | None  # geomean of center / baseline center (None for the baseline column)
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Table:
    config: Key  # the table's key without the unit, e.g. (("goos", "linux"), ...)
    unit: str
    exact: bool  # the unit was declared `assume=exact`
    better: int  # -1 lower is better, +1 higher is better, 0 unknown
    rows: tuple[Key, ...]
    columns: tuple[Key, ...]
    cells: Mapping[tuple[Key, Key], Cell] = field(hash=False)
    geomeans: Mapping[Key, ColumnGeomean] = field(hash=False)


_BETTER_DEFAULTS = {"sec/op": -1, "ns/op": -1, "B/s": 1, "MB/s": 1, "B/op": -1, "allocs/op": -1}


def unit_better(unit: str, metadata: Mapping[tuple[str, str], str]) -> int:
    """Which way is better: the unit's `better` metadata, benchstat's defaults, then (beyond
    benchstat) custom units named like them: "cpu-sec/op" or "heap-B/op" (costs per op, lower
    is better) and "...B/s" (throughput, higher is better)."""
    stated = metadata.get((unit, "better"))
    if stated is not None:
        return {"higher": 1, "lower": -1}.get(stated, 0)
    if unit in _BETTER_DEFAULTS:
        return _BETTER_DEFAULTS[unit]
    if unit.endswith(("-sec/op", "-B/op", "-allocs/op")):
        return -1
    return 1 if unit.endswith("-B/s") else 0


@dataclass(slots=True)
class _Collected:
    """Values by (table key, unit) and cell, with the residues seen in each cell."""

    groups: dict[tuple[Key, str], dict[tuple[Key, Key], list[float]]] = field(
        default_factory=dict)
    residues: dict[tuple[Key, str, Key, Key], set[Key]] = field(default_factory=dict)
    rows: dict[Key, None] = field(default_factory=dict)  # in the order first seen
    columns: dict[Key, None] = field(default_factory=dict)


def _collect(files: Sequence[LabelledFile], projection: Projection,
             result_filter: Filter) -> _Collected:
    found = _Collected()
    # Runs repeat the same benchmark under the same configuration: project each once.
    keys: dict[tuple[str, tuple[tuple[str, str], ...], str], tuple[Key, Key, Key, Key] | None] = {}
    for file in files:
        for result in file.parsed.results:
            memo = (result.name, result.config, file.label)
            if memo not in keys:
                keys[memo] = None if not result_filter.keeps(result, file.label) else (
                    projection.table_key(result, file.label),
                    projection.row_key(result, file.label),
                    projection.col_key(result, file.label),
                    projection.residue(result, file.label),
                )
            projected = keys[memo]
            if projected is None:
                continue
            table, row, col, residue = projected
            for measurement in result.measurements:
                if not result_filter.keeps_unit(measurement):
                    continue
                found.rows.setdefault(row)
                found.columns.setdefault(col)
                cells = found.groups.setdefault((table, measurement.unit), {})
                cells.setdefault((row, col), []).append(measurement.value)
                found.residues.setdefault((table, measurement.unit, row, col), set()).add(residue)
    return found


def build_tables(
    files: Sequence[LabelledFile],
    projection: Projection | None = None,
    result_filter: Filter | None = None,
    *,
    confidence: float = CONFIDENCE,
    alpha: float = ALPHA,
) -> list[Table]:
    metadata: dict[tuple[str, str], str] = {}
    for file in files:
        for entry in file.parsed.units:
            metadata.setdefault((entry.unit, entry.key), entry.value)
    found = _collect(files, projection or Projection(), result_filter or Filter())
    return [
        _table(found, config, unit, metadata, confidence, alpha)
        for config, unit in _observation_order(found.groups)
    ]


def _table(found: _Collected, config: Key, unit: str, metadata: Mapping[tuple[str, str], str],
           confidence: float, alpha: float) -> Table:
    values = found.groups[(config, unit)]
    exact = metadata.get((unit, "assume")) == "exact"
    present_rows = {row for row, _col in values}
    present_cols = {col for _row, col in values}
    rows = tuple(row for row in found.rows if row in present_rows)
    columns = tuple(col for col in found.columns if col in present_cols)
    summaries = {
        key: summarize_exact(sample) if exact else summarize(sample, confidence)
        for key, sample in values.items()
    }
    cells: dict[tuple[Key, Key], Cell] = {}
    for (row, col), sample in values.items():
        base = values.get((row, columns[0])) if col != columns[0] else None
        comparison = None
        if base is not None:
            comparison = (compare_exact(base, sample) if exact
                          else compare_samples(base, sample, alpha))
        cells[(row, col)] = Cell(
            tuple(sample), summaries[(row, col)], comparison,
            summaries[(row, columns[0])] if base is not None else None,
            _residue_notes(found.residues[(config, unit, row, col)]),
        )
    return Table(config, unit, exact, unit_better(unit, metadata), rows, columns, cells,
                 _geomeans(rows, columns, cells))


def _observation_order(groups: Mapping[tuple[Key, str], object]) -> list[tuple[Key, str]]:
    """Tables sorted by configuration, then unit, each in the order first seen (benchstat's)."""
    configs = list(dict.fromkeys(config for config, _unit in groups))
    units = list(dict.fromkeys(unit for _config, unit in groups))
    return sorted(groups, key=lambda key: (configs.index(key[0]), units.index(key[1])))


def _residue_notes(residues: set[Key]) -> tuple[str, ...]:
    if len(residues) <= 1:
        return ()
    varying = []
    for index, (name, _value) in enumerate(next(iter(residues))):
        if len({residue[index][1] for residue in residues if len(residue) > index}) > 1:
            varying.append(name)
    # Residues of different shapes (a configuration key present in one file only).
    if not varying:
        varying = sorted({name for residue in residues for name, _value in residue})
    return (f"benchmarks vary in {', '.join(varying)}",)


def _geomeans(rows: Sequence[Key], columns: Sequence[Key],
              cells: Mapping[tuple[Key, Key], Cell]) -> dict[Key, ColumnGeomean]:
    """Per column: the geomean of the centers and of the ratios to the baseline (the geomean of
    ratios, not the ratio of geomeans, stays meaningful when benchmark sets differ)."""
    baseline_rows = sum((row, columns[0]) in cells for row in rows)
    result: dict[Key, ColumnGeomean] = {}
    for index, col in enumerate(columns):
        centers: list[float] = []
        ratios: list[float] = []
        bad_ratio = False
        for row in rows:
            cell = cells.get((row, col))
            if cell is None:
                continue
            centers.append(cell.summary.center)
            if cell.baseline is not None:
                new, old = cell.summary.center, cell.baseline.center
                if new == old:
                    ratios.append(1.0)  # 0/0 counts as no change
                elif old == 0:
                    bad_ratio = True
                    ratios.append(0.0)
                else:
                    ratios.append(new / old)
        warnings: list[str] = []
        if index > 0 and baseline_rows != len(ratios):
            warnings.append("benchmark set differs from baseline; geomeans may not be comparable")
        value = geomean(centers)
        if value is None:
            warnings.append("summaries must be >0 to compute geomean")
        ratio = None
        if index > 0 and not bad_ratio:
            ratio = geomean(ratios)
            if ratio is None:
                warnings.append("ratios must be >0 to compute geomean")
        result[col] = ColumnGeomean(value, ratio, tuple(warnings))
    return result
