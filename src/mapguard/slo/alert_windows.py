"""Sloth's alert window catalogs (`kind: AlertWindows`): the burn windows for each SLO period.

Sloth ships the SRE workbook's windows for 28d and 30d; `--windows DIR` (Sloth's
`--slo-period-windows-path`) replaces them, as in Sloth, with every AlertWindows file in DIR.
Without it, mapguard derives the workbook's windows for any period (workbook_windows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Literal

from pydantic import Field

from mapguard.errors import InputError
from mapguard.slo.durations import Duration
from mapguard.slo.loading import Document, read_documents, validate
from mapguard.slo.model import BurnWindow, Tier, burn_factor
from mapguard.slo.spec_fields import DurationField, Positive, SpecModel, duration_field

KIND = "AlertWindows"
Catalog = Mapping[Duration, tuple[BurnWindow, ...]]


class WindowSpec(SpecModel):
    errorBudgetPercent: Positive = Field(description="a percentage of the period's budget, e.g. 2")
    shortWindow: DurationField = duration_field()
    longWindow: DurationField = duration_field()


class SpeedSpec(SpecModel):
    quick: WindowSpec
    slow: WindowSpec


class CatalogSpec(SpecModel):
    sloPeriod: DurationField = duration_field()
    page: SpeedSpec
    ticket: SpeedSpec


class AlertWindowsSpec(SpecModel):
    apiVersion: Literal["sloth.slok.dev/v1"] = Field(description='"sloth.slok.dev/v1"')
    kind: Literal["AlertWindows"] = Field(description='"AlertWindows"')
    spec: CatalogSpec


def is_catalog(document: Document) -> bool:
    return isinstance(document.data, dict) and document.data.get("kind") == KIND


def read_catalog(document: Document) -> tuple[Duration, tuple[BurnWindow, ...]]:
    spec = validate(AlertWindowsSpec, document).spec
    period = spec.sloPeriod
    windows = []
    for tier, speeds in ((Tier.PAGE, spec.page), (Tier.TICKET, spec.ticket)):
        for window in (speeds.quick, speeds.slow):
            if window.shortWindow >= window.longWindow:
                raise document.error(
                    ("spec", tier.value), f"short window {window.shortWindow} is not shorter "
                    f"than long window {window.longWindow}",
                )
            share = Fraction(window.errorBudgetPercent) / 100
            windows.append(BurnWindow(
                tier, window.longWindow, window.shortWindow,
                burn_factor(share, period, window.longWindow), share,
            ))
    return period, tuple(windows)


def load_catalogs(directory: Path) -> dict[Duration, tuple[BurnWindow, ...]]:
    """Every AlertWindows file under `directory` (recursively, *.yaml and *.yml)."""
    if not directory.is_dir():
        raise InputError(directory, "not a directory", expected="a directory of AlertWindows "
                         "files (Sloth's --slo-period-windows-path)")
    found: dict[Duration, tuple[BurnWindow, ...]] = {}
    for path in _yaml_files(directory):
        for document in read_documents(path):
            if not is_catalog(document):
                raise document.error(("kind",), "not an AlertWindows catalog",
                                     expected="kind: AlertWindows")
            period, windows = read_catalog(document)
            found[period] = windows
    if not found:
        raise InputError(directory, "no AlertWindows files (*.yaml, *.yml)")
    return found


def _yaml_files(directory: Path) -> Iterable[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix in {".yaml", ".yml"}
                  and p.is_file())
