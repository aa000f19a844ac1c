"""mapguard's comparison against benchstat's own golden outputs, on benchstat's own inputs.

The text tables must be the goldens to the byte: the same medians, confidence intervals,
deltas, "~" verdicts, p-values, n, notes and geomeans. The CSV goldens carry the centers at full
precision: those must be the same floats.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from mapguard.bench.projection import Filter, Projection, key_text
from mapguard.bench.render import render_tables_text
from mapguard.bench.statistics import go_value
from mapguard.bench.tables import LabelledFile, Table, build_tables
from mapguard.formats.benchfmt import parse_benchfmt

DATA = Path(__file__).parent / "testdata" / "benchstat"
NOTE = Projection(col=("note",))

TEXT_GOLDENS = {
    "crcOldNew.stdout": (["crc-old.txt", "crc-new.txt"], Projection(), ""),
    "crcIgnore.stdout": (["crc-old.txt", "crc-new.txt"], Projection(ignore=("note",)), ""),
    "crcSizeVsPoly.stdout": (["crc-new.txt"], Projection(row=("/size",), col=("/poly",)),
                             "/align:0"),
    "units.stdout": (["units.txt"], NOTE, ""),
    "zero.stdout": (["zero.txt"], NOTE, ""),
    "smallSample.stdout": (["smallSample.txt"], NOTE, ""),
    "issue19565.stdout": (["issue19565.txt"], NOTE, ""),
    "issue19634.stdout": (["issue19634.txt"], NOTE, ""),
}


def tables_for(names: list[str], projection: Projection, filter_text: str = "") -> list[Table]:
    files = [LabelledFile(name, parse_benchfmt((DATA / name).read_text(), name))
             for name in names]
    return build_tables(files, projection, Filter.parse(filter_text))


@pytest.mark.parametrize("golden", sorted(TEXT_GOLDENS))
def test_text_output_equals_benchstat_golden(golden: str) -> None:
    names, projection, filter_text = TEXT_GOLDENS[golden]
    ours = render_tables_text(tables_for(names, projection, filter_text))
    assert ours == (DATA / golden).read_text()


def test_golden_verdicts_are_not_all_alike() -> None:
    """The goldens exercise both verdicts and both directions, so agreeing means something."""
    deltas = [cell.comparison.delta(cell.baseline.center, cell.summary.center)
              for table in tables_for(["crc-old.txt", "crc-new.txt"], Projection(ignore=("note",)))
              for cell in table.cells.values() if cell.comparison and cell.baseline]
    assert deltas.count("~") >= 10
    assert sum(delta.startswith("+") for delta in deltas) >= 10
    assert sum(delta.startswith("-") for delta in deltas) >= 10


def _csv_rows(golden: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO((DATA / golden).read_text())))


def test_csv_golden_centers_deltas_and_geomeans() -> None:
    """-format csv old.txt new.txt: centers and geomeans as Go prints a float64."""
    (table,) = tables_for(["old.txt", "new.txt"], Projection())
    rows = {row[0]: row for row in _csv_rows("csvOldNew.stdout") if row and row[0]}
    for row_key in table.rows:
        golden = rows[key_text(row_key)]
        old, new = (table.cells[(row_key, column)] for column in table.columns)
        assert new.comparison is not None and new.baseline is not None
        assert golden[1:] == [
            go_value(old.summary.center), old.summary.range_percent(),
            go_value(new.summary.center), new.summary.range_percent(),
            new.comparison.delta(new.baseline.center, new.summary.center),
            new.comparison.label(),
        ]
    geomean = rows["geomean"]
    old_mean, new_mean = (table.geomeans[column] for column in table.columns)
    assert old_mean.value is not None and new_mean.value is not None
    assert new_mean.ratio is not None
    assert geomean[1] == go_value(old_mean.value)
    assert geomean[3] == go_value(new_mean.value)
    assert geomean[5] == f"{(new_mean.ratio - 1) * 100:+.2f}%"


def test_csv_errors_golden_pooled_row_and_its_warning() -> None:
    """-row .name new.txt pools json and gob into one row, and says that they vary."""
    (table,) = tables_for(["new.txt"], Projection(row=(".name",)))
    (cell,) = table.cells.values()
    golden = {row[0]: row for row in _csv_rows("csvErrors.stdout") if row and row[0]}
    assert golden["Encode"][1:] == [go_value(cell.summary.center), cell.summary.range_percent()]
    (warning,) = (DATA / "csvErrors.stderr").read_text().splitlines()
    assert warning.split(": ", 1)[1] == cell.notes[0] == "benchmarks vary in .fullname"
