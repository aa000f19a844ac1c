"""Map allocation costs of one interval of one target: bytes and objects per (site, op), and
all the bytes and objects it allocated (the denominator of the map share)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SiteKey = tuple[str, str]  # (site label, op)


@dataclass(frozen=True, slots=True)
class Unmatched:
    """Bytes allocated in a function whose source does not match the profiled build."""

    function: str
    match: str  # "moved" or "missing" (`SourceMatch`)
    bytes: int


@dataclass(frozen=True, slots=True)
class Costs:
    total_bytes: int
    total_objects: int
    sites: Mapping[SiteKey, tuple[int, int]] = field(default_factory=dict)  # (bytes, objects)
    # Not classified, so in no site: the source tree is not the running build's.
    unmatched: tuple[Unmatched, ...] = ()

    @property
    def map_bytes(self) -> int:
        return sum(value[0] for value in self.sites.values())

    def ranked(self) -> list[tuple[SiteKey, tuple[int, int]]]:
        """Largest bytes first; ties by site and op, so the order is stable."""
        return sorted(self.sites.items(), key=lambda item: (-item[1][0], item[0]))
