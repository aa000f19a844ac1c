"""This machine's noise floor per benchmark, from A/A runs of the same binary.

`mapguard bench calibrate` runs one test binary 2n times, labelling the runs A and B in turn,
exactly as `compare --rev` interleaves two revisions. No change separates A from B, so every
difference between them is noise. The floor of a benchmark is the relative difference of
medians that such A/A runs exceed only 5 % of the time: over the ways of relabelling each round's
two runs (A and B swapped or not), the 95th percentile of |median(B)/median(A) - 1|.
`compare --noise FILE` then calls a significant change "within noise" unless it is larger.

The file is JSON, `"kind": "mapguard-noise-floors"`, with the machine and Go version it was
measured on.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mapguard.bench.projection import key_text
from mapguard.bench.tables import Table
from mapguard.errors import InputError

KIND = "mapguard-noise-floors"
PERCENTILE = 95.0
SPLITS = 4000
_SEED = 14313  # fixed: the same runs always give the same floors


@dataclass(frozen=True, slots=True)
class Floor:
    benchmark: str
    unit: str
    floor: float  # relative: 0.03 is 3 %
    runs: int  # values pooled (both halves)
    aa_delta: float | None  # the actual A/A change, B against A
    aa_p: float | None


@dataclass(frozen=True, slots=True)
class NoiseFloors:
    floors: tuple[Floor, ...]
    go_version: str
    machine: dict[str, Any]
    source: str = ""

    def lookup(self) -> dict[tuple[str, str], float]:
        return {(floor.benchmark, floor.unit): floor.floor for floor in self.floors}


def noise_floor(first: Sequence[float], second: Sequence[float],
                percentile: float = PERCENTILE, splits: int = SPLITS) -> float:
    """The `percentile` of |median(A)/median(B) - 1| when the runs are relabelled at random.

    Runs taken in rounds (A B A B ...) are relabelled round by round, A and B swapped or not:
    that keeps what interleaving buys (drift hits both sides alike), as `compare --rev` will.
    Samples of different sizes are pooled and split at random instead."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    if len(a) == 0 or len(b) == 0:
        return math.inf
    rng = np.random.default_rng(_SEED)
    if len(a) == len(b):
        if len(a) <= 12:  # every relabelling: 2**12 = 4096
            swaps = (np.arange(2 ** len(a))[:, None] >> np.arange(len(a))) & 1
        else:
            swaps = rng.integers(0, 2, size=(splits, len(a)))
        left = np.where(swaps == 1, b, a)
        right = np.where(swaps == 1, a, b)
    else:
        pooled = np.concatenate([a, b])
        order = rng.permuted(np.tile(np.arange(len(pooled)), (splits, 1)), axis=1)
        left, right = pooled[order[:, :len(a)]], pooled[order[:, len(a):]]
    low, high = np.median(left, axis=1), np.median(right, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(low == high, 0.0, np.abs(high / low - 1))
    if not np.all(np.isfinite(ratios)):
        return math.inf  # a zero median against a non-zero one: no relative floor exists
    return float(np.percentile(ratios, percentile, method="inverted_cdf"))


def floors_from(tables: Sequence[Table]) -> tuple[Floor, ...]:
    """Floors of every benchmark and unit of A/A tables (columns A and B)."""
    found = []
    for table in tables:
        for row in table.rows:
            cells = [table.cells.get((row, column)) for column in table.columns]
            present = [cell for cell in cells if cell is not None]
            compared = cells[-1] if len(cells) == 2 else None
            delta = p = None
            if compared is not None and compared.comparison and compared.baseline:
                old, new = compared.baseline.center, compared.summary.center
                delta = 0.0 if old == new else (None if old == 0 else new / old - 1)
                p = compared.comparison.p
            floor = (noise_floor(present[0].values, present[1].values) if len(present) == 2
                     else math.inf)
            found.append(Floor(key_text(row), table.unit, floor,
                               sum(len(cell.values) for cell in present), delta, p))
    return tuple(found)


def machine_description() -> dict[str, Any]:
    try:
        load = os.getloadavg()
    except OSError:
        load = (math.nan, math.nan, math.nan)
    return {
        "node": platform.node(), "system": platform.system(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "load_average": [round(value, 2) for value in load],
    }


def floors_json(floors: NoiseFloors) -> dict[str, Any]:
    return {
        "kind": KIND,
        "go": floors.go_version,
        "machine": floors.machine,
        "percentile": PERCENTILE,
        "floors": [
            {"benchmark": floor.benchmark, "unit": floor.unit,
             "floor": floor.floor if math.isfinite(floor.floor) else None, "runs": floor.runs,
             "aa_delta": floor.aa_delta, "aa_p": floor.aa_p}
            for floor in floors.floors
        ],
    }


def read_floors(path: Path) -> NoiseFloors:
    """A noise-floor file written by `mapguard bench calibrate -o`."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(path, "is a directory", expected="a noise-floor JSON file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text", expected="a noise-floor JSON file") from None
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not JSON: {exc.msg}", where=f"line {exc.lineno}") from None
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise InputError(path, "not a noise-floor file",
                         expected=f'JSON with "kind": "{KIND}" from mapguard bench calibrate')
    floors = []
    for index, entry in enumerate(document.get("floors") or []):
        try:
            value = entry["floor"]
            floors.append(Floor(
                str(entry["benchmark"]), str(entry["unit"]),
                math.inf if value is None else float(value), int(entry.get("runs", 0)),
                entry.get("aa_delta"), entry.get("aa_p"),
            ))
        except (KeyError, TypeError, ValueError):
            raise InputError(path, "bad entry", where=f"floors[{index}]",
                             expected='{"benchmark": ..., "unit": ..., "floor": number}'
                             ) from None
    return NoiseFloors(tuple(floors), str(document.get("go", "")),
                       dict(document.get("machine") or {}), str(path))
