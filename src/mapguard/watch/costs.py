"""Map allocation costs of one target: what one profile says, and the difference of two.

A `Costs` holds bytes and objects per (site, op) and the profile's whole allocation. When the
target answers Go's server-side delta (`?seconds=N`) a profile's costs are the interval's; else
two cumulative pulls are differenced here, with a restart of the target (its start time moved,
or its total allocation went down) read as a counter reset: the new pull is then all there is
since the restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

SiteKey = tuple[str, str]  # (site label, op)
OTHER = "other"


@dataclass(frozen=True, slots=True)
class Costs:
    total_bytes: int
    total_objects: int
    sites: Mapping[SiteKey, tuple[int, int]] = field(default_factory=dict)  # (bytes, objects)

    @property
    def map_bytes(self) -> int:
        return sum(value[0] for value in self.sites.values())

    def ranked(self) -> list[tuple[SiteKey, tuple[int, int]]]:
        """Largest bytes first; ties by site and op, so the order is stable."""
        return sorted(self.sites.items(), key=lambda item: (-item[1][0], item[0]))


def difference(new: Costs, old: Costs) -> Costs:
    """`new` minus `old`, per site; a site cannot lose allocations, so a negative stays 0."""
    sites: dict[SiteKey, tuple[int, int]] = {}
    for key, (new_bytes, new_objects) in new.sites.items():
        old_bytes, old_objects = old.sites.get(key, (0, 0))
        grown = (max(0, new_bytes - old_bytes), max(0, new_objects - old_objects))
        if grown != (0, 0):
            sites[key] = grown
    return Costs(max(0, new.total_bytes - old.total_bytes),
                 max(0, new.total_objects - old.total_objects), sites)


class CumulativeDiff:
    """Turns cumulative pulls into per-interval costs. Holds the last pull's per-site totals
    (at most `max_sites` sites; the rest are summed as `other`), not the profile."""

    def __init__(self, max_sites: int) -> None:
        self.max_sites = max_sites
        self.previous: Costs | None = None
        self.start_time: float | None = None

    def reset(self) -> None:
        self.previous = None
        self.start_time = None

    def restarted(self, pulled: Costs, start_time: float | None) -> bool:
        """Whether `pulled` comes from another process than the previous pull."""
        if self.previous is None:
            return False
        moved = start_time is not None and self.start_time is not None \
            and start_time != self.start_time
        return moved or pulled.total_bytes < self.previous.total_bytes

    def step(self, pulled: Costs, start_time: float | None) -> tuple[Costs | None, bool]:
        """(the costs since the previous pull or None for the first, whether it restarted)."""
        restarted = self.restarted(pulled, start_time)
        current = self._bounded(pulled)
        previous, self.previous = self.previous, current
        if start_time is not None:  # a failed metrics read does not forget the process
            self.start_time = start_time
        if previous is None:
            return None, False
        if restarted:
            return current, True
        return difference(current, previous), False

    def _bounded(self, pulled: Costs) -> Costs:
        if len(pulled.sites) <= self.max_sites:
            return pulled
        known = self.previous.sites if self.previous is not None else {}
        kept: dict[SiteKey, tuple[int, int]] = {}
        others: dict[str, list[int]] = {}
        # Sites already tracked keep their place, so differences stay per site.
        for key, value in sorted(pulled.sites.items(), key=lambda item: (
                item[0] not in known, -item[1][0], item[0])):
            if key[0] != OTHER and len(kept) < self.max_sites:
                kept[key] = value
            else:
                total = others.setdefault(key[1], [0, 0])
                total[0] += value[0]
                total[1] += value[1]
        for op, (nbytes, objects) in others.items():
            kept[(OTHER, op)] = (nbytes, objects)
        return Costs(pulled.total_bytes, pulled.total_objects, kept)
