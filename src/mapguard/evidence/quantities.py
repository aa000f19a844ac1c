"""Profile quantities as people read them (bytes in KiB/MiB/GiB, nanoseconds in µs/ms/s), for
every command that prints them. Import-light on purpose: lint uses it and stays fast to start."""

from __future__ import annotations


def human(value: int, unit: str, *, digits: int = 2, name_other_units: bool = False) -> str:
    """`value` of a profile's sample `unit`. Units other than bytes and nanoseconds (counts)
    print as the number, followed by the unit's name when `name_other_units`."""
    if unit == "bytes":
        for factor, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if abs(value) >= factor:
                return f"{value / factor:.{digits}f} {suffix}"
        return f"{value} B"
    if unit == "nanoseconds":
        for factor, suffix in ((10**9, "s"), (10**6, "ms"), (10**3, "µs")):
            if abs(value) >= factor:
                return f"{value / factor:.2f} {suffix}"
        return f"{value} ns"
    return f"{value:,} {unit}".rstrip() if name_other_units else f"{value:,}"
