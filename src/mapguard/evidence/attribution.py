"""Attribute a profile's cost to map operations and source sites.

Every sample is decided by its *decisive frame*: walking from the leaf, the first frame that is
not plain runtime machinery (mallocgc, memmove...). A map runtime function names the op itself
(CPU profiles, symbolised debug=1 heap profiles); sync.Map internals mean `syncmap`; other
standard library code is not a map cost; user code is looked up in the Go source
(`mapsyntax`), because heap and allocs profiles drop the runtime frames (docs/go-facts.md).
The cost goes to the first user frame at or above the decisive one: the site.

The per-sample work is vectorised over the profile's columns; Python only loops over distinct
(decisive location, site location, object size) groups, which are few.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tree_sitter import Node

from mapguard.evidence.goframes import FrameKind, frame_kind, map_op
from mapguard.evidence.mapsyntax import GoSource, LineFacts, size_class
from mapguard.evidence.site import Site
from mapguard.formats.pprof import IntArray, Location, Profile
from mapguard.source.lookup import typed_file
from mapguard.source.types import Unknown

ALLOCATION_KINDS = ("allocs", "heap")
ALLOCATION_OPS = ("create", "grow", "syncmap")
DOMINANT_SHARE = 0.95
_SKIP, _MAP, _SYNC, _STDLIB, _USER = range(5)
_CODES = {FrameKind.RUNTIME: _SKIP, FrameKind.MAP: _MAP, FrameKind.SYNCMAP: _SYNC,
          FrameKind.STDLIB: _STDLIB, FrameKind.USER: _USER}


@dataclass(frozen=True, slots=True)
class SiteCost:
    site: Site
    op: str
    value: int
    share: float  # of the profile total


@dataclass(frozen=True, slots=True)
class Attribution:
    kind: str
    sample_type: str
    unit: str
    total: int
    map_total: int
    by_op: Mapping[str, int]
    sites: tuple[SiteCost, ...]
    unattributed: int  # map-related value whose op or site stays ambiguous
    notes: tuple[str, ...] = ()

    def to_json(self, top: int | None = None) -> dict[str, object]:
        sites = self.sites if top is None else self.sites[:top]
        return {
            "kind": self.kind, "sample_type": self.sample_type, "unit": self.unit,
            "total": self.total,
            "map": {"total": self.map_total, "by_op": dict(self.by_op)},
            "sites": [{"function": s.site.function, "file": s.site.file, "line": s.site.line,
                       "op": s.op, "value": s.value, "share": round(s.share, 4)}
                      for s in sites],
            "unattributed": self.unattributed,
            "notes": list(self.notes),
        }


class SourceFiles:
    """Finds and parses the Go files a profile names: as named, or under `root` by the longest
    path suffix (profiles carry the paths of the build machine)."""

    def __init__(self, root: Path | None = None,
                 read: Callable[[Path], bytes] = Path.read_bytes) -> None:
        self.root = root
        self._read = read
        self._parsed: dict[str, GoSource | None] = {}
        self._resolved: dict[str, Path | None] = {}

    def resolve(self, file: str) -> Path | None:
        if file not in self._resolved:
            self._resolved[file] = self._find(file)
        return self._resolved[file]

    def _find(self, file: str) -> Path | None:
        path = Path(file)
        if self.root is not None:
            parts = path.parts[1:] if path.is_absolute() else path.parts
            for start in range(len(parts)):
                candidate = self.root.joinpath(*parts[start:])
                if candidate.is_file():
                    return candidate
            return None
        return path if path.is_file() else None

    def get(self, file: str) -> GoSource | None:
        if file not in self._parsed:
            path = self.resolve(file)
            try:
                self._parsed[file] = _go_source(path, self._read(path)) if path else None
            except OSError:
                self._parsed[file] = None
        return self._parsed[file]

    def is_under_root(self, file: str) -> bool:
        return self.root is not None and self.resolve(file) is not None


def _go_source(path: Path, content: bytes) -> GoSource:
    """The file with its package's type model when the package loads (and the file on disk
    is the one profiled), else the file alone."""
    typed = typed_file(path)
    if typed is None or typed[0].source != content:
        return GoSource(content)
    go_file, info = typed

    def oracle(expr: Node) -> bool | None:
        found = info.type_of(expr, go_file)
        return None if isinstance(found, Unknown) else info.is_map(found)

    return GoSource(content, go_file.tree, oracle)


@dataclass
class _Decisions:
    """Per-location facts, computed once: the first decisive frame and the first user frame."""

    kind: IntArray
    frame: list[int]
    op: list[str | None]
    user_frame: IntArray


def _locations(locations: tuple[Location, ...], sources: SourceFiles | None) -> _Decisions:
    n = len(locations)
    kind = np.full(n, _SKIP, dtype=np.int64)
    frame_at = [0] * n
    ops: list[str | None] = [None] * n
    user = np.full(n, -1, dtype=np.int64)
    for i, location in enumerate(locations):
        for j, frame in enumerate(location.frames):
            code = _CODES[frame_kind(frame.function, frame.file)]
            if code == _STDLIB and sources is not None and sources.is_under_root(frame.file):
                code = _USER  # a dot-less module path of the user's own
            if code == _USER and user[i] < 0:
                user[i] = j
            if code != _SKIP and kind[i] == _SKIP:
                kind[i] = code
                frame_at[i] = j
                ops[i] = map_op(frame.function) if code == _MAP else None
    return _Decisions(kind, frame_at, ops, user)


def _first_at_or_after(mask: np.ndarray, starts: IntArray, ends: IntArray) -> IntArray:
    """For each segment [start, end), the first position >= start where mask holds, else end."""
    size = len(mask)
    candidates = np.where(mask, np.arange(size, dtype=np.int64), size)
    following = np.minimum.accumulate(candidates[::-1])[::-1] if size else candidates
    result = np.array(ends, dtype=np.int64, copy=True)
    inside = starts < ends
    found = following[starts[inside]]
    result[inside] = np.minimum(found, ends[inside])
    return result


@dataclass
class _Groups:
    """Samples summed by (decisive location, site location, object size)."""

    decisive: IntArray
    site: IntArray
    size: IntArray
    value: IntArray


def _group(profile: Profile, index: int, decisions: _Decisions) -> _Groups:
    table = profile.samples
    starts, ends = table.offsets[:-1], table.offsets[1:]
    stacks = table.stacks
    kinds = decisions.kind[stacks] if len(stacks) else np.zeros(0, dtype=np.int64)
    decisive_pos = _first_at_or_after(kinds != _SKIP, starts, ends)
    has_decisive = decisive_pos < ends
    users = decisions.user_frame[stacks] >= 0 if len(stacks) else np.zeros(0, dtype=bool)
    site_pos = _first_at_or_after(users, np.where(has_decisive, decisive_pos, ends), ends)
    has_site = site_pos < ends
    # A map op inside sync.Map (its dirty map's mapassign) is sync.Map's cost.
    sync_pos = _first_at_or_after(kinds == _SYNC, np.where(has_decisive, decisive_pos, ends),
                                  ends)
    decisive_pos = np.where(sync_pos < site_pos, sync_pos, decisive_pos)
    if len(stacks):
        last = len(stacks) - 1
        decisive = np.where(has_decisive, stacks[np.minimum(decisive_pos, last)], -1)
        site = np.where(has_site, stacks[np.minimum(site_pos, last)], -1)
    else:
        decisive = site = np.full(len(table), -1, dtype=np.int64)
    values = table.values[:, index]
    size = table.object_size
    order = np.lexsort((size, site, decisive))
    d, s, z, v = decisive[order], site[order], size[order], values[order]
    if not len(order):
        return _Groups(d, s, z, v)
    change = np.ones(len(order), dtype=bool)
    change[1:] = (d[1:] != d[:-1]) | (s[1:] != s[:-1]) | (z[1:] != z[:-1])
    bounds = np.flatnonzero(change)
    return _Groups(d[bounds], s[bounds], z[bounds], np.add.reduceat(v, bounds))


def attribute(profile: Profile, sample_index: str | None = None,
              sources: SourceFiles | None = None) -> Attribution:
    """Map cost by op and site for any profile kind."""
    index = profile.sample_index(sample_index)
    value_type = profile.sample_types[index]
    allocation = profile.kind in ALLOCATION_KINDS
    sources = sources or SourceFiles()
    decisions = _locations(profile.locations, sources if allocation and sources.root else None)
    groups = _group(profile, index, decisions)
    ledger = _Ledger()
    line_groups: dict[tuple[str, int], dict[int, dict[int, int]]] = defaultdict(
        lambda: defaultdict(dict))
    for decisive, site_loc, size, value in zip(groups.decisive.tolist(), groups.site.tolist(),
                                               groups.size.tolist(), groups.value.tolist(),
                                               strict=True):
        if decisive < 0 or value == 0:
            continue
        code = int(decisions.kind[decisive])
        if code == _MAP:
            op = decisions.op[decisive] or "access"
            site = _site(profile, decisions, site_loc, decisive)
            if allocation and op in ("insert", "grow"):
                op = _literal_fill(site, sources) or "grow"
            ledger.add(site, op, value)
        elif code == _SYNC:
            ledger.add(_site(profile, decisions, site_loc, decisive), "syncmap", value)
        elif code == _USER and allocation:
            frame = profile.locations[decisive].frames[int(decisions.user_frame[decisive])]
            groups_on_line = line_groups[(frame.file, frame.line)]
            groups_on_line[decisive][size] = groups_on_line[decisive].get(size, 0) + value
    if allocation:
        _attribute_lines(profile, decisions, line_groups, sources, ledger)
    total = profile.total(index)
    return ledger.result(profile.kind, value_type.type, value_type.unit, total, allocation)


def _literal_fill(site: Site, sources: SourceFiles) -> str | None:
    """A map literal is built by inserts: on a line that only creates maps, they are creation."""
    source = sources.get(site.file)
    if source is not None and source.facts(site.line).map_ops == {"create"}:
        return "create"
    return None


def _site(profile: Profile, decisions: _Decisions, site_loc: int, decisive: int) -> Site:
    if site_loc >= 0:
        frame = profile.locations[site_loc].frames[int(decisions.user_frame[site_loc])]
    else:  # no user frame above: charge the decisive frame itself
        frame = profile.locations[decisive].frames[decisions.frame[decisive]]
    return Site(frame.file, frame.line, frame.column, frame.function)


def _attribute_lines(profile: Profile, decisions: _Decisions,
                     line_groups: Mapping[tuple[str, int], Mapping[int, Mapping[int, int]]],
                     sources: SourceFiles, ledger: _Ledger) -> None:
    for (file, line), by_location in line_groups.items():
        any_location = next(iter(by_location))
        frame = profile.locations[any_location].frames[int(decisions.user_frame[any_location])]
        site = Site(file, line, 0, frame.function)
        source = sources.get(file)
        if source is None:
            ledger.missing_source(file, sum(sum(s.values()) for s in by_location.values()))
            continue
        call_sites = [(profile.locations[loc].address, dict(sizes))
                      for loc, sizes in by_location.items()]
        for op, value in split_line(source.facts_with_inlining(line), call_sites):
            if op is None:
                ledger.ambiguous(site, value)
            elif op != "other":
                ledger.add(site, op, value)


def split_line(facts: LineFacts, call_sites: list[tuple[int, dict[int, int]]]
               ) -> list[tuple[str | None, int]]:
    """Split a line's cost between its allocating expressions. `call_sites` holds, per PC on
    the line, value by object size. Returns (op, value) with op None where it stays ambiguous.

    One PC is one allocating call, so PCs are split, never sizes within a PC. A PC whose one
    object size is what one expression of the line allocates (`make([]byte, 100)` -> 112, an
    inlined map's 48-byte header) is that expression; a PC with several sizes doubling (table
    or bucket arrays) is map growth when inserts are the line's only map op; what then remains
    goes to the one kind of expression left, if only one is left."""
    ops = facts.map_ops
    if not ops:
        return [("other", sum(sizes.values())) for _, sizes in call_sites]
    kinds = {a.op for a in facts.allocations}
    if len(kinds) == 1:
        (only,) = kinds
        return [(only, sum(sizes.values())) for _, sizes in call_sites]
    predicted: dict[int, set[str]] = defaultdict(set)
    for allocation in facts.allocations:
        if allocation.size:
            predicted[size_class(allocation.size)].add(allocation.op)
    result: list[tuple[str | None, int]] = []
    undecided: list[dict[int, int]] = []
    for _, sizes in sorted(call_sites):
        # The runtime's own allocations (a GC starting inside mallocgc) are charged to the
        # same PC: a size that holds nearly all of a PC's value speaks for the PC.
        dominant = max(sizes, key=lambda size: sizes[size])
        share = sizes[dominant] / (sum(sizes.values()) or 1)
        matches = predicted.get(dominant, set()) if share >= DOMINANT_SHARE else set()
        if len(matches) == 1:
            result.append((next(iter(matches)), sum(sizes.values())))
        elif ops == {"grow"} and _doubling(sizes):
            result.append(("grow", sum(sizes.values())))
        else:
            undecided.append(sizes)
    left = {a.op for a in facts.allocations if not a.size or len(
        predicted[size_class(a.size)]) != 1}
    if len(left - {op for op, _ in result}) == 1 and undecided:
        remaining = next(iter(left - {op for op, _ in result}))
        result += [(remaining, sum(s.values())) for s in undecided]
    else:
        result += [(None, sum(s.values())) for s in undecided]
    return result


def _doubling(sizes: Mapping[int, int]) -> bool:
    """Map tables grow by doubling: two object sizes about 2x apart betray one."""
    distinct = sorted(s for s in sizes if s > 0)
    return any(1.8 <= b / a <= 2.3 for a, b in itertools.pairwise(distinct))


class _Ledger:
    def __init__(self) -> None:
        self.sites: dict[tuple[Site, str], int] = defaultdict(int)
        self.by_op: dict[str, int] = defaultdict(int)
        self.unattributed = 0
        self.ambiguous_sites: dict[Site, int] = defaultdict(int)
        self.missing: dict[str, int] = defaultdict(int)

    def add(self, site: Site, op: str, value: int) -> None:
        self.sites[(site, op)] += value
        self.by_op[op] += value

    def ambiguous(self, site: Site, value: int) -> None:
        self.unattributed += value
        self.ambiguous_sites[site] += value

    def missing_source(self, file: str, value: int) -> None:
        self.missing[file] += value

    def result(self, kind: str, sample_type: str, unit: str, total: int,
               allocation: bool) -> Attribution:
        by_op = {op: self.by_op.get(op, 0) for op in ALLOCATION_OPS} if allocation else {}
        by_op.update({op: v for op, v in self.by_op.items() if v})
        ranked = sorted(self.sites.items(), key=lambda item: (-abs(item[1]), item[0][0].file,
                                                              item[0][0].line, item[0][1]))
        share = (lambda v: abs(v) / total) if total else (lambda v: 0.0)
        sites = tuple(SiteCost(site, op, value, share(value)) for (site, op), value in ranked)
        notes = [f"{site.file}:{site.line}: {value} {unit} on a line that mixes map and other "
                 "allocations could not be split" for site, value in sorted(
                     self.ambiguous_sites.items(), key=lambda item: -item[1])]
        if self.missing:
            value = sum(self.missing.values())
            notes.append(f"{value} {unit} in {len(self.missing)} source file(s) not found "
                         "(give --source DIR): not classified")
        return Attribution(kind, sample_type, unit, total, sum(self.by_op.values()),
                           by_op, sites, self.unattributed, tuple(notes))

