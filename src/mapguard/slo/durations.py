"""Durations as Prometheus writes them (`5m`, `1h`, `30d`), exact to the second."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"(?:\d+[smhdw])+")
# Largest first: a duration is written in the largest unit that divides it (weeks read as days).
_RENDER_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))

DURATION_EXPECTED = "a duration such as 5m, 1h, 30d (units s, m, h, d, w)"


@dataclass(frozen=True, slots=True, order=True)
class Duration:
    seconds: int

    @classmethod
    def parse(cls, text: str, *, allow_zero: bool = False) -> Duration:
        """Parse `30d`, `1h30m`, `4w`; raise ValueError naming what was expected."""
        cleaned = text.strip()
        if cleaned and cleaned[-1] in "MQY":
            raise ValueError(
                f"{cleaned!r} uses months, quarters or years, which have no fixed length; "
                "write it in days, e.g. 30d or 90d"
            )
        if not _WHOLE.fullmatch(cleaned):
            raise ValueError(f"{cleaned!r} is not a duration; expected {DURATION_EXPECTED}")
        seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
        if seconds <= 0 and not allow_zero:
            raise ValueError(f"{cleaned!r} is not a positive duration")
        return cls(seconds)

    @property
    def minutes(self) -> int:
        """Whole minutes (the promtool tests run at one-minute resolution)."""
        return self.seconds // 60

    def __str__(self) -> str:
        return _render(self.seconds)


@functools.cache
def _render(seconds: int) -> str:
    # Cached: rule files write the same few windows thousands of times.
    for unit, size in _RENDER_UNITS:
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise AssertionError("unreachable: seconds divide by 1")  # pragma: no cover


def parse_duration(value: object, *, allow_zero: bool = False) -> Duration:
    """Pydantic-friendly: accept a Duration or its text."""
    if isinstance(value, Duration):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected {DURATION_EXPECTED}, got {value!r}")
    return Duration.parse(value, allow_zero=allow_zero)


def parse_duration_or_zero(value: object) -> Duration:
    return parse_duration(value, allow_zero=True)
