"""Presentation helpers shared by the escape, gc and trace commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

_BARS = "▁▂▃▄▅▆▇█"
# Into a pipe or a file nothing is cut or wrapped: tables take the width their cells need.
UNLIMITED_WIDTH = 100_000


def console(file: object | None = None) -> Console:
    """A console for reports: the terminal's width on a terminal; into a pipe or a file
    (CI logs, `> report.txt`) lines as long as their content, never cut."""
    stream = file if file is not None else sys.stdout
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    return Console(file=stream, width=None if is_tty else UNLIMITED_WIDTH,  # type: ignore[arg-type]
                   highlight=False, soft_wrap=not is_tty)


def unclipped(table: Table) -> Table:
    """On a narrow terminal, cells wrap (fold) instead of ending in "…": a path, a function
    name or a line number is never cut short."""
    for column in table.columns:
        column.overflow = "fold"
        column.no_wrap = False
    return table


def sparkline(values: list[float], width: int = 60) -> str:
    """Values as a row of block characters, scaled between their minimum and maximum."""
    if not values:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [max(values[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)])
                  for i in range(width)]
    low, high = min(values), max(values)
    if high == low:
        return _BARS[0] * len(values)
    scale = (len(_BARS) - 1) / (high - low)
    return "".join(_BARS[round((value - low) * scale)] for value in values)


def display_path(file: str) -> str:
    """A path relative to the working directory when it is under it, else as given."""
    if not Path(file).is_absolute():
        return file
    try:
        relative = os.path.relpath(file)
    except ValueError:  # another drive
        return file
    return file if relative.startswith("..") else relative


def megabytes(size: float) -> str:
    return f"{size / (1 << 20):,.1f} MiB"


def milliseconds(ns: float | None) -> str:
    return "—" if ns is None else f"{ns / 1e6:,.3f}"
