"""`Site`: the join key between source findings, escape facts and profile samples."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Site:
    """A place in Go source: absolute file path, 1-based line and column, enclosing function.

    `column` is 0 when the evidence has no column (pprof lines); `function` is None when unknown.
    """

    file: str
    line: int
    column: int
    function: str | None = None
