"""What changed between two profiles of the same kind: the map part first, then functions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mapguard.errors import InputError
from mapguard.evidence.attribution import Attribution
from mapguard.evidence.site import Site
from mapguard.evidence.sourcetree import SourceVersion
from mapguard.formats.pprof import Profile


@dataclass(frozen=True, slots=True)
class Change:
    name: str  # an op or a function
    base: int
    new: int

    @property
    def delta(self) -> int:
        return self.new - self.base


@dataclass(frozen=True, slots=True)
class SiteChange:
    site: Site
    op: str
    base: int
    new: int

    @property
    def delta(self) -> int:
        return self.new - self.base


@dataclass(frozen=True, slots=True)
class ProfileDiff:
    kind: str
    sample_type: str
    unit: str
    total: Change
    map_total: Change
    by_op: tuple[Change, ...]
    sites: tuple[SiteChange, ...]  # largest change first
    functions: tuple[Change, ...]  # flat value by leaf function, largest change first
    base_source: SourceVersion | None = None
    new_source: SourceVersion | None = None
    notes: tuple[str, ...] = ()  # each side's notes, "base: ..." and "new: ..."

    def to_json(self, top: int | None = None) -> dict[str, object]:
        def change(c: Change | SiteChange) -> dict[str, object]:
            return {"base": c.base, "new": c.new, "delta": c.delta}

        return {
            "kind": self.kind, "sample_type": self.sample_type, "unit": self.unit,
            "total": change(self.total),
            "map": {"total": change(self.map_total),
                    "by_op": {c.name: change(c) for c in self.by_op}},
            "sites": [{"function": s.site.function, "file": s.site.file, "line": s.site.line,
                       "op": s.op, **change(s)} for s in self.sites[:top]],
            "functions": [{"function": f.name, **change(f)} for f in self.functions[:top]],
            "source": {"base": self.base_source.to_json() if self.base_source else None,
                       "new": self.new_source.to_json() if self.new_source else None},
            "notes": list(self.notes),
        }


def flat_by_function(profile: Profile, index: int) -> dict[str, int]:
    """Value by the leaf frame's function, as `go tool pprof -top` shows it in `flat`."""
    leaves = profile.samples.leaves()
    values = profile.samples.values[:, index]
    per_location = np.zeros(len(profile.locations) + 1, dtype=np.int64)
    np.add.at(per_location, np.where(leaves >= 0, leaves, len(profile.locations)), values)
    result: dict[str, int] = {}
    for location, value in zip(profile.locations, per_location[:-1].tolist(), strict=True):
        if value:
            name = location.frames[0].function if location.frames else f"0x{location.address:x}"
            result[name] = result.get(name, 0) + value
    if per_location[-1]:
        result["(no stack)"] = int(per_location[-1])
    return result


def diff_profiles(base: Profile, new: Profile, base_attr: Attribution, new_attr: Attribution,
                  sample_index: str | None, source: str) -> ProfileDiff:
    if base_attr.sample_type != new_attr.sample_type or base_attr.unit != new_attr.unit:
        raise InputError(source, f"cannot compare {base_attr.sample_type} with "
                         f"{new_attr.sample_type}", expected="two profiles of the same kind")
    ops = sorted(set(base_attr.by_op) | set(new_attr.by_op))
    by_op = tuple(Change(op, base_attr.by_op.get(op, 0), new_attr.by_op.get(op, 0))
                  for op in ops)
    base_sites = _by_site(base_attr)
    new_sites = _by_site(new_attr)
    sites = [SiteChange(site, op, base_sites.get((site, op), 0), new_sites.get((site, op), 0))
             for site, op in base_sites.keys() | new_sites.keys()]
    sites.sort(key=lambda c: (-abs(c.delta), c.site.file, c.site.line, c.op))
    base_flat = flat_by_function(base, base.sample_index(sample_index))
    new_flat = flat_by_function(new, new.sample_index(sample_index))
    functions = [Change(name, base_flat.get(name, 0), new_flat.get(name, 0))
                 for name in base_flat.keys() | new_flat.keys()]
    functions.sort(key=lambda c: (-abs(c.delta), c.name))
    return ProfileDiff(
        kind=new_attr.kind, sample_type=new_attr.sample_type, unit=new_attr.unit,
        total=Change("total", base_attr.total, new_attr.total),
        map_total=Change("map", base_attr.map_total, new_attr.map_total),
        by_op=by_op,
        sites=tuple(c for c in sites if c.delta),
        functions=tuple(c for c in functions if c.delta),
        base_source=base_attr.source,
        new_source=new_attr.source,
        notes=tuple(f"base: {note}" for note in base_attr.notes)
        + tuple(f"new: {note}" for note in new_attr.notes),
    )


def _by_site(attribution: Attribution) -> dict[tuple[Site, str], int]:
    """Value by (site, op), whatever library frame did the work."""
    found: dict[tuple[Site, str], int] = {}
    for cost in attribution.sites:
        key = (cost.site, cost.op)
        found[key] = found.get(key, 0) + cost.value
    return found
