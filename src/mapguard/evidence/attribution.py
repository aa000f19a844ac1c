"""Attribute a profile's cost to map operations and source sites: `attribute_profile`.

One model for every profile format. Each sample is decided by its *decisive frame*: walking from
the leaf, the first frame that is not plain runtime machinery (mallocgc, memmove...).

* A map runtime function names the op itself (CPU profiles, symbolised debug=1 heap profiles).
* sync.Map internals mean `syncmap`.
* Heap and allocs profiles in protobuf drop the runtime frames (docs/go-facts.md): there the
  decisive frame is the line that allocated, user or library code, and its Go source says what
  the line allocates (`mapsyntax`) — read from the user's tree, the GOROOT or the module cache,
  and only when the function matches that source (`sourcematch`).

The cost is charged to the first frame of the user's own module at or above the decisive one
(the *site*; the library frame that did the map work, `http.Header` growth in textproto, is
kept as `via`); cost with no user frame goes to the first frame that is not runtime. A line is
never labelled from a source that does not match the profiled build: such cost is attributed
to its function only (`Attribution.unmatched`), and every site says how it matched.

The per-sample work is vectorised over the profile's columns; Python only loops over distinct
(decisive location, mechanism location, site location, object size) groups, which are few.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mapguard.evidence.binary import BinaryInfo, matches_profile, profile_build_ids
from mapguard.evidence.goframes import FrameKind, frame_kind, map_op
from mapguard.evidence.mapsyntax import UNKNOWN_INSERT, LineFacts, size_class
from mapguard.evidence.site import Site
from mapguard.evidence.sourcematch import SourceMatch
from mapguard.evidence.sourcetree import SourceFiles, SourceVersion
from mapguard.formats.pprof import Frame, IntArray, Location, Profile

ALLOCATION_KINDS = ("allocs", "heap")
ALLOCATION_OPS = ("create", "grow", "syncmap")
DOMINANT_SHARE = 0.95
# Frame codes: runtime machinery is skipped; library = standard library and dependencies.
_SKIP, _MAP, _SYNC, _LIBRARY, _USER = range(5)
_PLAIN = (_SYNC, _LIBRARY, _USER)  # not runtime: a site when no user frame is above


@dataclass(frozen=True, slots=True)
class SiteCost:
    site: Site
    op: str
    value: int
    share: float  # of the profile total
    # How the site's function matched the source it was read against. Only a trusted match
    # (`match.trusted`) makes `site.line` a line of that source; otherwise it is the line in
    # the profiled build, and the op came from the runtime's frames, not from reading it.
    match: SourceMatch = SourceMatch.NO_SOURCE
    via: Site | None = None  # the library frame that did the map work, when not the site
    largest_object: int = 0  # bytes of the largest single allocation here (0: unknown)
    # Value by object size, largest first (allocation profiles): map growth allocates one
    # table per doubling, so the sizes tell how large the map's tables got.
    sizes: tuple[tuple[int, int], ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"function": self.site.function, "file": self.site.file, "line": self.site.line,
                "op": self.op, "value": self.value, "share": round(self.share, 4),
                "match": str(self.match), "via": _site_json(self.via),
                "largest_object": self.largest_object}


@dataclass(frozen=True, slots=True)
class FunctionCost:
    """Allocation in a function whose source did not match the profile: by function only."""

    function: str
    file: str
    value: int
    match: SourceMatch

    def to_json(self) -> dict[str, object]:
        return {"function": self.function, "file": self.file, "value": self.value,
                "match": str(self.match)}


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
    # Value in functions whose source did not match (not classified, not in map_total).
    unmatched: tuple[FunctionCost, ...] = ()
    source: SourceVersion | None = None

    def to_json(self, top: int | None = None) -> dict[str, object]:
        sites = self.sites if top is None else self.sites[:top]
        return {
            "kind": self.kind, "sample_type": self.sample_type, "unit": self.unit,
            "total": self.total,
            "map": {"total": self.map_total, "by_op": dict(self.by_op)},
            "sites": [s.to_json() for s in sites],
            "unattributed": self.unattributed,
            "unmatched": [f.to_json() for f in self.unmatched],
            "source": self.source.to_json() if self.source else None,
            "notes": list(self.notes),
        }


def _site_json(site: Site | None) -> dict[str, object] | None:
    return None if site is None else {"function": site.function, "file": site.file,
                                      "line": site.line}


def attribute_profile(profile: Profile, source: Path | SourceFiles | None = None, *,
                      revision: str | None = None, binary: BinaryInfo | None = None,
                      sample_index: str | None = None) -> Attribution:
    """Attribute `profile` against the Go source tree `source`: map cost by op and site.

    `source` is the directory of the Go sources (a module, or any directory under which the
    profile's file paths are found by suffix), or None to read the paths the profile names.
    When it is a git checkout, the files are read at the profiled build's revision: `revision`
    if given, else the VCS revision in `binary`'s Go build information (`read_binary`), else
    the work tree. Every site says whether its function matched that source
    (`SiteCost.match`); cost in functions that do not match is attributed by function only
    (`Attribution.unmatched`), never labelled from a line of another version. `binary` is
    also checked against the profile's build ID (a note says when it is not the profiled one).

    To attribute many profiles of one build (an agent's intervals), pass a `SourceFiles` built
    once as `source`: it keeps the parsed files. `sample_index` picks the sample type as
    `go tool pprof -sample_index` does (default: the profile's default).
    """
    if isinstance(source, SourceFiles):
        if revision is not None or binary is not None:
            raise ValueError("revision and binary belong to the SourceFiles passed as source")
        sources = source
    else:
        sources = SourceFiles(source, revision=revision, binary=binary)
    notes: list[str] = list(sources.version.notes)
    if sources.binary is not None and matches_profile(sources.binary, profile) is False:
        notes.append(f"{sources.binary.path} is not the profiled binary (build ID "
                     f"{sources.binary.gnu_build_id or 'none'}, the profile's "
                     f"{profile_build_ids(profile)[0]}): its revision may not be the profiled one")
    result = _attribute(profile, sample_index, sources)
    return dataclasses.replace(result, notes=(*notes, *result.notes))


@dataclass
class _Decisions:
    """Per-location facts, computed once: the first decisive frame, the first user frame and
    the first frame that is not runtime (-1: none in that location)."""

    kind: IntArray
    frame: list[int]
    op: list[str | None]
    user_frame: IntArray
    plain_frame: IntArray


def _locations(locations: tuple[Location, ...], sources: SourceFiles) -> _Decisions:
    n = len(locations)
    kind = np.full(n, _SKIP, dtype=np.int64)
    frame_at = [0] * n
    ops: list[str | None] = [None] * n
    user = np.full(n, -1, dtype=np.int64)
    plain = np.full(n, -1, dtype=np.int64)
    is_user: dict[tuple[str, str], bool] = {}
    for i, location in enumerate(locations):
        for j, frame in enumerate(location.frames):
            found = frame_kind(frame.function, frame.file)
            if found in (FrameKind.STDLIB, FrameKind.USER):
                key = (frame.function, frame.file)
                if key not in is_user:
                    is_user[key] = sources.is_user(frame.function, frame.file)
                code = _USER if is_user[key] else _LIBRARY
            else:
                code = {FrameKind.RUNTIME: _SKIP, FrameKind.MAP: _MAP,
                        FrameKind.SYNCMAP: _SYNC}[found]
            if code == _USER and user[i] < 0:
                user[i] = j
            if code in _PLAIN and plain[i] < 0:
                plain[i] = j
            if code != _SKIP and kind[i] == _SKIP:
                kind[i] = code
                frame_at[i] = j
                ops[i] = map_op(frame.function) if code == _MAP else None
    return _Decisions(kind, frame_at, ops, user, plain)


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
    """Samples summed by (decisive location, mechanism location, site location, object
    size). The mechanism is the first location with a non-runtime frame at or above the
    decisive one; the site the first with a user frame (-1 where there is none)."""

    decisive: IntArray
    mechanism: IntArray
    site: IntArray
    size: IntArray
    value: IntArray


def _group(profile: Profile, index: int, decisions: _Decisions) -> _Groups:
    table = profile.samples
    starts, ends = table.offsets[:-1], table.offsets[1:]
    stacks = table.stacks
    empty = np.zeros(0, dtype=np.int64)
    kinds = decisions.kind[stacks] if len(stacks) else empty
    decisive_pos = _first_at_or_after(kinds != _SKIP, starts, ends)
    has_decisive = decisive_pos < ends
    from_decisive = np.where(has_decisive, decisive_pos, ends)
    users = decisions.user_frame[stacks] >= 0 if len(stacks) else empty.astype(bool)
    plains = decisions.plain_frame[stacks] >= 0 if len(stacks) else empty.astype(bool)
    site_pos = _first_at_or_after(users, from_decisive, ends)
    mechanism_pos = _first_at_or_after(plains, from_decisive, ends)
    # A map op inside sync.Map (its dirty map's mapassign) is sync.Map's cost.
    sync_pos = _first_at_or_after(kinds == _SYNC, from_decisive, ends)
    decisive_pos = np.where(sync_pos < site_pos, sync_pos, decisive_pos)
    if len(stacks):
        last = len(stacks) - 1

        def at(position: IntArray) -> IntArray:
            return np.where(position < ends, stacks[np.minimum(position, last)], -1)

        decisive, mechanism, site = at(decisive_pos), at(mechanism_pos), at(site_pos)
    else:
        decisive = mechanism = site = np.full(len(table), -1, dtype=np.int64)
    values = table.values[:, index]
    size = table.object_size
    order = np.lexsort((size, site, mechanism, decisive))
    d, m, s, z, v = (decisive[order], mechanism[order], site[order], size[order],
                     values[order])
    if not len(order):
        return _Groups(d, m, s, z, v)
    change = np.ones(len(order), dtype=bool)
    change[1:] = ((d[1:] != d[:-1]) | (m[1:] != m[:-1]) | (s[1:] != s[:-1])
                  | (z[1:] != z[:-1]))
    bounds = np.flatnonzero(change)
    return _Groups(d[bounds], m[bounds], s[bounds], z[bounds], np.add.reduceat(v, bounds))


@dataclass(frozen=True, slots=True)
class _LineCall:
    """Value allocated on one source line by one PC (decisive location), toward one site."""

    location: int
    site: Site
    match: SourceMatch
    size: int
    value: int


class _Attributor:
    def __init__(self, profile: Profile, sources: SourceFiles) -> None:
        self.profile = profile
        self.sources = sources
        self.allocation = profile.kind in ALLOCATION_KINDS
        self.decisions = _locations(profile.locations, sources)
        self.ledger = _Ledger()
        # Allocation lines to read in the source: (decisive frame, is a library frame) -> calls
        self.lines: dict[tuple[str, str, int], list[_LineCall]] = defaultdict(list)
        self.line_frames: dict[tuple[str, str, int], Frame] = {}

    def frame(self, location: int, index: int) -> Frame:
        return self.profile.locations[location].frames[index]

    def site(self, site_loc: int, mechanism: int, decisive: int) -> tuple[Site, SourceMatch]:
        """The site frame: the first user frame, else the first that is not runtime, else
        the decisive frame itself; with how a user frame matches its source (a library
        site's line was not read: `NO_SOURCE`, unless its line is classified below)."""
        decisions = self.decisions
        if site_loc >= 0:
            frame = self.frame(site_loc, int(decisions.user_frame[site_loc]))
            match = self.sources.check(frame)
        else:
            if mechanism >= 0:
                frame = self.frame(mechanism, int(decisions.plain_frame[mechanism]))
            else:
                frame = self.frame(decisive, decisions.frame[decisive])
            match = SourceMatch.NO_SOURCE
        return Site(frame.file, frame.line, frame.column, frame.function), match

    def via(self, mechanism: int, site_loc: int) -> Site | None:
        """The library frame that did the map work, when it is not the site itself."""
        if mechanism < 0 or mechanism == site_loc or site_loc < 0:
            return None
        frame = self.frame(mechanism, int(self.decisions.plain_frame[mechanism]))
        if self.decisions.user_frame[mechanism] == self.decisions.plain_frame[mechanism]:
            return None
        return Site(frame.file, frame.line, frame.column, frame.function)

    def add_group(self, decisive: int, mechanism: int, site_loc: int, size: int,
                  value: int) -> None:
        code = int(self.decisions.kind[decisive])
        if code == _MAP:
            op = self.decisions.op[decisive] or "access"
            site, match = self.site(site_loc, mechanism, decisive)
            if self.allocation and op in ("insert", "grow"):
                op = self.literal_fill(site, match) or "grow"
            self.ledger.add(site, op, value, match, self.via(mechanism, site_loc), size)
        elif code == _SYNC:
            site, match = self.site(site_loc, mechanism, decisive)
            self.ledger.add(site, "syncmap", value, match, None, size)
        elif code in (_USER, _LIBRARY) and self.allocation:
            # The line that allocated tells what it was (see `attribute_lines`).
            index = self.decisions.frame[decisive]
            frame = self.frame(decisive, index)
            site, match = self.site(site_loc, mechanism, decisive)
            key = ("library" if code == _LIBRARY else "user", frame.file, frame.line)
            self.line_frames.setdefault(key, frame)
            self.lines[key].append(_LineCall(decisive, site, match, size, value))

    def literal_fill(self, site: Site, match: SourceMatch) -> str | None:
        """A map literal is built by inserts: on a line that only creates maps, they are
        creation. Read only in a source that matches."""
        if not match.trusted:
            return None
        source = self.sources.get(site.file)
        if source is not None and source.facts(site.line).map_ops == {"create"}:
            return "create"
        return None

    def attribute_lines(self) -> None:
        """Classify the allocating lines by their source. In protobuf heap profiles the
        runtime frames are dropped, so map creation and growth are found here; with runtime
        frames only what has no map runtime frame (sync.Map's boxing) is."""
        for key, calls in self.lines.items():
            frame = self.line_frames[key]
            library = key[0] == "library"
            if library:
                source, match = self.sources.library(frame)
            else:
                source, match = self.sources.get(frame.file), self.sources.check(frame)
            if source is None or not match.trusted:
                self.ledger.unclassified(frame, library, sum(c.value for c in calls), match)
                continue
            facts = source.facts_with_inlining(frame.line)
            if self.profile.runtime_frames:
                # Map memory would show its map runtime frame: what reaches here is the line's
                # other allocations (sync.Map's boxing of keys and values has no such frame).
                facts = LineFacts(tuple(a for a in facts.allocations
                                        if a.op not in ("create", "grow", UNKNOWN_INSERT)))
            ops = self.classify(facts, calls)
            line_site = Site(frame.file, frame.line, 0, frame.function)
            for call in calls:
                op = ops[call.location]
                if op is None:
                    self.ledger.ambiguous(line_site, call.value)
                elif op != "other":
                    itself = (call.site.file, call.site.line) == (frame.file, frame.line)
                    via = line_site if library and not itself else None
                    self.ledger.add(call.site, op, call.value, match if itself else call.match,
                                    via, call.size)

    def classify(self, facts: LineFacts, calls: list[_LineCall]) -> dict[int, str | None]:
        """The op of each PC on the line. Each inlined copy of the line (the same line inlined
        into different callers) has PCs of its own: copies are split one by one."""
        copies: dict[tuple[tuple[str, int], ...], dict[int, dict[int, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int)))
        for call in calls:
            location = self.profile.locations[call.location]
            inlined_into = tuple((f.function, f.line) for f in location.frames[
                self.decisions.frame[call.location] + 1:])
            copies[inlined_into][call.location][call.size] += call.value
        ops: dict[int, str | None] = {}
        for by_location in copies.values():
            locations = sorted(by_location)
            call_sites = [(self.profile.locations[loc].address, dict(by_location[loc]))
                          for loc in locations]
            ops.update(zip(locations, classify_call_sites(facts, call_sites), strict=True))
        return ops


def _attribute(profile: Profile, sample_index: str | None, sources: SourceFiles
               ) -> Attribution:
    index = profile.sample_index(sample_index)
    value_type = profile.sample_types[index]
    work = _Attributor(profile, sources)
    groups = _group(profile, index, work.decisions)
    for decisive, mechanism, site_loc, size, value in zip(
            groups.decisive.tolist(), groups.mechanism.tolist(), groups.site.tolist(),
            groups.size.tolist(), groups.value.tolist(), strict=True):
        if decisive >= 0 and value != 0:
            work.add_group(decisive, mechanism, site_loc, size, value)
    if work.allocation:
        work.attribute_lines()
    return work.ledger.result(profile.kind, value_type.type, value_type.unit,
                              profile.total(index), work.allocation, sources.version)


def classify_call_sites(facts: LineFacts, call_sites: list[tuple[int, dict[int, int]]]
                        ) -> list[str | None]:
    """Split a line's cost between its allocating expressions. `call_sites` holds, per PC on
    the line, value by object size. Returns each PC's op, in order: create, grow, syncmap,
    other (not a map), or None where it stays ambiguous.

    One PC is one allocating call, so PCs are split, never sizes within a PC. A PC whose one
    object size is what one expression of the line allocates (`make([]byte, 100)` -> 112, an
    inlined map's 48-byte header) is that expression; a PC with several sizes doubling (table
    or bucket arrays) is map growth when inserts are the line's only map op; what then remains
    goes to the one kind of expression left, if only one is left. An index assignment the
    source cannot type (`UNKNOWN_INSERT`) may or may not be a map's growth: its PCs stay
    ambiguous."""
    return [None if op == UNKNOWN_INSERT else op for op in _classify(facts, call_sites)]


def _classify(facts: LineFacts, call_sites: list[tuple[int, dict[int, int]]]
              ) -> list[str | None]:
    if not facts.map_ops:
        return ["other"] * len(call_sites)
    kinds = {a.op for a in facts.allocations}
    if len(kinds) == 1:
        return [next(iter(kinds))] * len(call_sites)
    predicted: dict[int, set[str]] = defaultdict(set)
    for allocation in facts.allocations:
        if allocation.size:
            predicted[size_class(allocation.size)].add(allocation.op)
    ops: list[str | None] = []
    for _, sizes in call_sites:
        # The runtime's own allocations (a GC starting inside mallocgc) are charged to the
        # same PC: a size that holds nearly all of a PC's value speaks for the PC.
        dominant = max(sizes, key=lambda size: sizes[size])
        share = sizes[dominant] / (sum(sizes.values()) or 1)
        matches = predicted.get(dominant, set()) if share >= DOMINANT_SHARE else set()
        if len(matches) == 1:
            ops.append(next(iter(matches)))
        elif facts.map_ops == {"grow"} and _doubling(sizes):
            ops.append("grow")
        else:
            ops.append(None)
    left = {a.op for a in facts.allocations if not a.size or len(
        predicted[size_class(a.size)]) != 1} - {op for op in ops if op is not None}
    if len(left) == 1:
        remaining = next(iter(left))
        ops = [remaining if op is None else op for op in ops]
    return ops


def _doubling(sizes: Mapping[int, int]) -> bool:
    """Map tables grow by doubling: two object sizes about 2x apart betray one."""
    distinct = sorted(s for s in sizes if s > 0)
    return any(1.8 <= b / a <= 2.3 for a, b in itertools.pairwise(distinct))


class _Ledger:
    def __init__(self) -> None:
        self.sites: dict[tuple[Site, str, Site | None], int] = defaultdict(int)
        self.sizes: dict[tuple[Site, str, Site | None], dict[int, int]] = defaultdict(
            lambda: defaultdict(int))
        self.matches: dict[Site, SourceMatch] = {}
        self.by_op: dict[str, int] = defaultdict(int)
        self.unattributed = 0
        self.ambiguous_sites: dict[Site, int] = defaultdict(int)
        self.unmatched: dict[tuple[str, str], tuple[int, SourceMatch]] = {}
        self.library_unread: dict[str, int] = defaultdict(int)

    def add(self, site: Site, op: str, value: int, match: SourceMatch, via: Site | None,
            size: int) -> None:
        self.sites[(site, op, via)] += value
        self.sizes[(site, op, via)][size] += value
        self.matches[site] = match
        self.by_op[op] += value

    def ambiguous(self, site: Site, value: int) -> None:
        self.unattributed += value
        self.ambiguous_sites[site] += value

    def unclassified(self, frame: Frame, library: bool, value: int, match: SourceMatch
                     ) -> None:
        if library:
            self.library_unread[frame.file] += value
            return
        key = (frame.function, frame.file)
        before, _ = self.unmatched.get(key, (0, match))
        self.unmatched[key] = (before + value, match)

    def result(self, kind: str, sample_type: str, unit: str, total: int,
               allocation: bool, source: SourceVersion) -> Attribution:
        by_op = {op: self.by_op.get(op, 0) for op in ALLOCATION_OPS} if allocation else {}
        by_op.update({op: v for op, v in self.by_op.items() if v})
        ranked = sorted(self.sites.items(), key=lambda item: (
            -abs(item[1]), item[0][0].file, item[0][0].line, item[0][1],
            item[0][2].file if item[0][2] else "", item[0][2].line if item[0][2] else 0))
        share = (lambda v: abs(v) / total) if total else (lambda v: 0.0)
        sites = tuple(SiteCost(site, op, value, share(value), self.matches[site], via,
                               max(max(self.sizes[key]), 0), _by_size(self.sizes[key]))
                      for key, value in ranked for site, op, via in (key,))
        notes = [f"{site.file}:{site.line}: {value} {unit} on a line that mixes map and other "
                 "allocations could not be split" for site, value in sorted(
                     self.ambiguous_sites.items(), key=lambda item: -item[1])]
        unmatched = tuple(sorted(
            (FunctionCost(function, file, value, match)
             for (function, file), (value, match) in self.unmatched.items()),
            key=lambda cost: (-cost.value, cost.function)))
        if unmatched:
            value = sum(cost.value for cost in unmatched)
            missing = sum(1 for cost in unmatched if cost.match is SourceMatch.MISSING)
            notes.append(f"{value} {unit} in {len(unmatched)} function(s) whose source does not "
                         f"match the profile ({missing} not found{_source_hint(source)}): "
                         "attributed by function only, not classified")
        if self.library_unread:
            value = sum(self.library_unread.values())
            notes.append(f"{value} {unit} allocated in {len(self.library_unread)} library "
                         "file(s) whose source is not here or is another version: not classified")
        return Attribution(kind, sample_type, unit, total, sum(self.by_op.values()),
                           by_op, sites, self.unattributed, tuple(notes), unmatched, source)


def _by_size(values: Mapping[int, int]) -> tuple[tuple[int, int], ...]:
    return tuple(sorted(((size, value) for size, value in values.items() if size > 0 and value),
                        reverse=True))


def _source_hint(source: SourceVersion) -> str:
    if source.root is None:
        return "; give --source DIR"
    if source.revision is None:
        return "; give --binary or --revision to read the profiled revision"
    return ""


@dataclass(frozen=True, slots=True)
class SiteTotal:
    """All of a profile's value at one site, map work or not: the cumulative value of the
    line of the first frame of the user's module (a string concatenation, a `strconv` call
    and a map insert on that line alike)."""

    site: Site
    value: int
    match: SourceMatch


def site_totals(profile: Profile, source: SourceFiles, *, sample_index: str | None = None
                ) -> tuple[SiteTotal, ...]:
    """The profile's value charged to its sites (see `SiteCost`), whatever the work was, by
    line; largest first. Value with no user frame is left out."""
    index = profile.sample_index(sample_index)
    decisions = _locations(profile.locations, source)
    groups = _group(profile, index, decisions)
    by_location: dict[int, int] = defaultdict(int)
    for site_loc, value in zip(groups.site.tolist(), groups.value.tolist(), strict=True):
        if site_loc >= 0 and value:
            by_location[site_loc] += value
    totals: dict[Site, int] = defaultdict(int)
    matches: dict[Site, SourceMatch] = {}
    for location, value in by_location.items():
        frame = profile.locations[location].frames[int(decisions.user_frame[location])]
        site = Site(frame.file, frame.line, 0, frame.function)
        totals[site] += value
        if site not in matches:
            matches[site] = source.check(frame)
    return tuple(SiteTotal(site, value, matches[site]) for site, value in sorted(
        totals.items(), key=lambda item: (-item[1], item[0].file, item[0].line)))
