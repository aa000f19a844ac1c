"""The claims table: each claim of the lab's data file with a measured verdict and the numbers
behind it.

A verdict is "holds", "does not hold", "depends" (true for some sizes or workloads and not for
others: the evidence says where) or "not measured" (its group was left out with --only, or a
tool it needs is missing: the evidence says which). Timing claims use the statistics of
`mapguard bench compare`; allocation counts and facts are exact.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from typing import Any

import yaml

from mapguard.bench.units import scaled
from mapguard.errors import InputError
from mapguard.formats.escape import EscapeReport
from mapguard.goversion import GoVersion
from mapguard.lab.analysis import (
    CPU_TIME,
    WALL_TIME,
    PairComparison,
    compare_pairs,
    crossover,
    fact,
    median_or_none,
    ordered_keys,
    samples,
    series,
)
from mapguard.lab.runner import LabRun


class Verdict(StrEnum):
    HOLDS = "holds"
    FAILS = "does not hold"
    DEPENDS = "depends"
    UNMEASURED = "not measured"


@dataclass(frozen=True, slots=True)
class Claim:
    id: str
    source: str  # "MG001".."MG010" or "common"
    claim: str
    check: str
    needs: tuple[str, ...]
    quote: str | None = None  # the rule text's words that make the claim


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    evidence: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claim: Claim
    outcome: Outcome


_FIELDS = {"id", "source", "claim", "check", "needs", "quote"}


@functools.cache
def load_claims() -> tuple[Claim, ...]:
    """The claims data file shipped in mapguard/data/lab/claims.yaml."""
    path = resources.files("mapguard") / "data" / "lab" / "claims.yaml"
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    claims = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not {"id", "source", "claim", "check"} <= set(entry) \
                or not set(entry) <= _FIELDS:
            raise InputError(str(path), "bad claim entry", where=f"entry {index}",
                             expected=f"keys {sorted(_FIELDS)}")
        if entry["check"] not in CHECKS:
            raise InputError(str(path), f"unknown check {entry['check']!r}",
                             where=f"entry {index}")
        claims.append(Claim(str(entry["id"]), str(entry["source"]), str(entry["claim"]),
                            str(entry["check"]), tuple(entry.get("needs") or ()),
                            entry.get("quote")))
    return tuple(claims)


def evaluate(run: LabRun, claims: Sequence[Claim] | None = None) -> list[ClaimResult]:
    found = []
    for claim in claims or load_claims():
        missing = [group for group in claim.needs if group not in run.plan.groups]
        if missing:
            outcome = Outcome(Verdict.UNMEASURED,
                              f"group {', '.join(missing)} not run (--only)")
        else:
            outcome = CHECKS[claim.check](Evidence(run))
        found.append(ClaimResult(claim, outcome))
    return found


# --- reading the evidence -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evidence:
    run: LabRun

    def med(self, function: str, unit: str, **where: str) -> float | None:
        values = [value for sample in samples(self.run.timings, function, unit, where).values()
                  for value in sample]
        return median_or_none(values)

    def by(self, function: str, unit: str, vary: str, **where: str) -> dict[str, list[float]]:
        return series(self.run.timings, function, unit, vary, where)

    def facts(self, name: str, *units: str) -> tuple[float, ...] | None:
        """A fact benchmark's values for `units`, or None unless it reported all of them."""
        values = [fact(self.run.facts, name, unit) for unit in units]
        return None if any(value is None for value in values) else tuple(
            value for value in values if value is not None)

    def calls(self, build: str, function: str) -> tuple[str, ...] | None:
        listing = self.run.listings.get(build)
        return listing.get(function) if isinstance(listing, dict) else None

    def listing_problem(self, build: str) -> str | None:
        listing = self.run.listings.get(build)
        return listing if isinstance(listing, str) else None


def _time(value: float | None) -> str:
    return "?" if value is None else f"{scaled(value, 'sec/op')}s"


def _bytes(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{scaled(value, 'B')}B" if value else "0 B"


def _ratio_text(comparisons: Sequence[PairComparison]) -> str:
    parts = []
    for c in comparisons:
        ratio = c.ratio
        mark = "" if c.differs else " (~)"
        parts.append(f"{c.at}: {_time(c.median_a)} vs {_time(c.median_b)}"
                     + (f" = {ratio:.2f}x" if ratio is not None else "") + mark)
    return "; ".join(parts)


def _numbers(comparisons: Sequence[PairComparison]) -> list[dict[str, Any]]:
    return [{"at": c.at, c.a: c.median_a, c.b: c.median_b, "p": c.p, "p_holm": c.p_holm,
             "noise_floor": c.floor, "differs": c.differs} for c in comparisons]


def _pair(ev: Evidence, function: str, vary: str, a: str, b: str, unit: str,
          key: str = "strategy", **where: str) -> list[PairComparison]:
    left = ev.by(function, unit, vary, **{key: a}, **where)
    right = ev.by(function, unit, vary, **{key: b}, **where)
    return compare_pairs(a, left, b, right, unit, ordered_keys([*left, *right]))


def _all_some_none(flags: Sequence[bool]) -> Verdict:
    if flags and all(flags):
        return Verdict.HOLDS
    return Verdict.DEPENDS if any(flags) else Verdict.FAILS


def _not_measured(what: str) -> Outcome:
    return Outcome(Verdict.UNMEASURED, f"no results for {what}")


# --- clear, re-create, delete ---------------------------------------------------------------


def clear_refill_allocates_nothing(ev: Evidence) -> Outcome:
    sizes = ordered_keys(ev.by("Refill", "B/op", "size", strategy="clear"))
    if not sizes:
        return _not_measured("Refill/strategy=clear")
    rows = {size: (ev.med("Refill", "B/op", strategy="clear", size=size),
                   ev.med("Refill", "allocs/op", strategy="clear", size=size),
                   ev.med("Refill", "B/op", strategy="make", size=size)) for size in sizes}
    zero = [size for size, (b, a, _m) in rows.items() if b == 0 and a == 0]
    verdict = Verdict.HOLDS if len(zero) == len(sizes) else Verdict.FAILS
    made = ", ".join(f"{size}: {_bytes(m)}" for size, (_b, _a, m) in rows.items())
    evidence = (f"clear + refill: 0 B/op and 0 allocs/op at {len(zero)} of {len(sizes)} sizes "
                f"({sizes[0]} to {sizes[-1]} entries); re-creating instead allocates per op "
                f"{made}")
    if verdict is Verdict.FAILS:
        evidence += "; allocating at " + ", ".join(s for s in sizes if s not in zero)
    return Outcome(verdict, evidence, {"sizes": {s: {"clear_B_op": b, "clear_allocs_op": a,
                                                     "make_B_op": m}
                                                 for s, (b, a, m) in rows.items()}})


def recreate_allocates(ev: Evidence) -> Outcome:
    allocs = ev.by("Refill", "allocs/op", "size", strategy="make")
    sizes = ordered_keys(allocs)
    if not sizes:
        return _not_measured("Refill/strategy=make")
    per_size = {size: median_or_none(allocs[size]) for size in sizes}
    cycles_make = ev.med("Refill", "gc-cycles/Mop", strategy="make", size=sizes[-1])
    cycles_clear = ev.med("Refill", "gc-cycles/Mop", strategy="clear", size=sizes[-1])
    allocating = all((value or 0) > 0 for value in per_size.values())
    growing = (per_size[sizes[-1]] or 0) > (per_size[sizes[0]] or 0)
    more_gc = (cycles_make or 0) > (cycles_clear or 0)
    verdict = Verdict.HOLDS if allocating and growing and more_gc else Verdict.FAILS
    evidence = ("re-created: " + ", ".join(f"{s}: {per_size[s]:g} allocs/op" for s in sizes
                                           if per_size[s] is not None)
                + f"; GC cycles per million ops at {sizes[-1]} entries: "
                  f"{cycles_make or 0:.4g} re-creating, {cycles_clear or 0:.4g} with clear")
    return Outcome(verdict, evidence, {"allocs_op": per_size,
                                       "gc_cycles_per_Mop": [cycles_make, cycles_clear]})


def clear_faster_than_make(ev: Evidence) -> Outcome:
    comparisons = _pair(ev, "Refill", "size", "clear", "make", CPU_TIME)
    if not comparisons:
        return _not_measured("Refill")
    wins = [c.lower == "clear" for c in comparisons]
    where = crossover(comparisons, "clear", "make", "{} entries")
    return Outcome(_all_some_none(wins),
                   f"clear beats re-creating {where} (CPU time per refill, clear vs make: "
                   f"{_ratio_text(comparisons)})", {"comparisons": _numbers(comparisons)})


def maps_never_shrink(ev: Evidence) -> Outcome:
    found = ev.facts("FactRetention", "full-B", "after-clear-B", "after-delete-B")
    if found is None:
        return _not_measured("FactRetention")
    full, cleared, deleted = found
    kept = cleared >= 0.9 * full and deleted >= 0.9 * full
    size = ev.run.plan.retention_size
    return Outcome(Verdict.HOLDS if kept else Verdict.FAILS,
                   f"a map of {size} entries holds {_bytes(full)} of heap after a GC; after "
                   f"clear {_bytes(cleared)}, after deleting every key {_bytes(deleted)}",
                   {"full_B": full, "after_clear_B": cleared, "after_delete_B": deleted})


def clear_cost_grows_with_capacity(ev: Evidence) -> Outcome:
    small = ev.by("ClearEmptied", CPU_TIME, "capacity")
    keys = ordered_keys(small)
    if len(keys) < 2:
        return _not_measured("ClearEmptied")
    comparisons = compare_pairs(keys[0], {"x": small[keys[0]]}, keys[-1], {"x": small[keys[-1]]},
                                CPU_TIME)
    (c,) = comparisons
    ratio = c.ratio or 0
    grows = c.differs and ratio > 2
    return Outcome(Verdict.FAILS if grows else Verdict.HOLDS,
                   f"clear + refill of 16 entries: {_time(c.median_a)} in a map that never held "
                   f"more than {keys[0]}, {_time(c.median_b)} ({ratio:.1f}x) in one that once held "
                   f"{keys[-1]}: clear walks the capacity the map kept",
                   {"comparison": _numbers(comparisons)})


# --- hints and growth ------------------------------------------------------------------------


def hint_fewer_allocations(ev: Evidence) -> Outcome:
    none = ev.by("Fill", "allocs/op", "size", hint="none")
    exact = ev.by("Fill", "allocs/op", "size", hint="exact")
    sizes = [size for size in ordered_keys(none) if size in exact]
    if not sizes:
        return _not_measured("Fill")
    rows = {size: (median_or_none(none[size]), median_or_none(exact[size]),
                   ev.med("Fill", "B/op", hint="none", size=size),
                   ev.med("Fill", "B/op", hint="exact", size=size)) for size in sizes}
    beyond_first = [size for size in sizes if int(size) > 8]
    fewer = [(rows[s][1] or 0) < (rows[s][0] or 0) and (rows[s][3] or 0) <= (rows[s][2] or 0)
             for s in beyond_first]
    evidence = "; ".join(f"{s}: {rows[s][1]:g} vs {rows[s][0]:g} allocs/op, "
                         f"{_bytes(rows[s][3])} vs {_bytes(rows[s][2])} per op"
                         for s in sizes if rows[s][0] is not None and rows[s][1] is not None)
    return Outcome(_all_some_none(fewer), f"with a hint vs without: {evidence}",
                   {"sizes": {s: dict(zip(("allocs_none", "allocs_hint", "B_none", "B_hint"),
                                          rows[s], strict=True)) for s in sizes}})


def room_for_eight(ev: Evidence) -> Outcome:
    found = ev.facts("FactFirstGrowth", "allocs-fill-8", "allocs-fill-9")
    if found is None:
        return _not_measured("FactFirstGrowth")
    eight, nine = found
    return Outcome(Verdict.HOLDS if nine > eight else Verdict.FAILS,
                   f"a new map filled with 8 entries: {eight:g} allocations; with 9: {nine:g}",
                   {"allocs_fill_8": eight, "allocs_fill_9": nine})


def clone_copies_capacity(ev: Evidence) -> Outcome:
    found = ev.facts("FactRetention", "full-B", "clone-of-emptied-B", "fresh-copy-B")
    if found is None:
        return _not_measured("FactRetention")
    full, clone, fresh = found
    return Outcome(Verdict.HOLDS if clone >= 0.5 * full else Verdict.FAILS,
                   f"maps.Clone of an emptied map that held {ev.run.plan.retention_size} "
                   f"entries allocates {_bytes(clone)} (the full map: {_bytes(full)}); "
                   f"make(map, len(m)) of it: {_bytes(fresh)}",
                   {"clone_B": clone, "full_B": full, "fresh_B": fresh})


def hint_faster(ev: Evidence) -> Outcome:
    comparisons = _pair(ev, "Fill", "size", "exact", "none", CPU_TIME, key="hint")
    if not comparisons:
        return _not_measured("Fill")
    wins = [c.lower == "exact" for c in comparisons]
    return Outcome(_all_some_none(wins),
                   f"a size hint makes filling faster "
                   f"{crossover(comparisons, 'exact', 'none', '{} entries')} "
                   f"(CPU time, hint vs none: {_ratio_text(comparisons)})",
                   {"comparisons": _numbers(comparisons)})


# --- the delete loop ---------------------------------------------------------------------------


def _is_delete(symbol: str) -> bool:
    return symbol.startswith("runtime.mapdelete")


def delete_loop_compiles_to_mapclear(ev: Evidence) -> Outcome:
    problem = ev.listing_problem("default")
    if problem:
        return Outcome(Verdict.UNMEASURED, f"assembly listing failed: {problem}")
    loop = ev.calls("default", "ClearByDeleteLoop") or ()
    refill = ev.calls("default", "RefillByDeleteLoop") or ()
    builtin = ev.calls("default", "ClearByBuiltin") or ()
    same = all("runtime.mapclear" in calls and not any(map(_is_delete, calls))
               for calls in (loop, refill)) and "runtime.mapclear" in builtin
    return Outcome(Verdict.HOLDS if same else Verdict.FAILS,
                   f"go build -gcflags=-S: the loop calls {_calls(loop)}; clear(m) calls "
                   f"{_calls(builtin)}", {"loop": list(loop), "clear": list(builtin)})


def _calls(calls: Sequence[str]) -> str:
    shown = [call for call in calls if not call.startswith(("runtime.morestack",
                                                            "runtime.gcWriteBarrier"))]
    return ", ".join(shown) if shown else "nothing"


# "Costs the same" of two ways that compile to the same instructions (the exact delete loop and
# clear; atomic.Pointer and unsafe.Pointer) means within this margin. Identical code at two
# addresses still differs steadily by a few percent, from where it lies and the order the
# benchmarks run in (the delete loop 0.6-1 % faster than clear at 8 entries over 400 rounds,
# 3 % seen in one loaded run): a difference no noise floor absorbs once the machine is quiet
# enough. Deleting key by key, what "slow" would mean, costs 2x (8 entries) to 4x (1024) a clear.
SAME_CODE_MARGIN = 0.10


def _apart_beyond(comparisons: Sequence[PairComparison], margin: float
                  ) -> list[PairComparison]:
    """The comparisons that differ beyond noise, and by more than `margin`."""
    return [c for c in comparisons if c.differs and (c.ratio is None or
                                                     abs(c.ratio - 1) > margin)]


def delete_loop_costs_what_clear_costs(ev: Evidence) -> Outcome:
    comparisons = _pair(ev, "Refill", "size", "clear", "deleteloop", CPU_TIME)
    if not comparisons:
        return _not_measured("Refill")
    apart = _apart_beyond(comparisons, SAME_CODE_MARGIN)
    verdict = Verdict.HOLDS if not apart else Verdict.FAILS
    evidence = (f"CPU time per refill, clear vs the delete loop: {_ratio_text(comparisons)}; "
                + (f"no size apart beyond noise by more than {SAME_CODE_MARGIN:.0%}"
                   if not apart else f"{len(apart)} size(s) apart by more than "
                   f"{SAME_CODE_MARGIN:.0%}: {', '.join(c.at for c in apart)}"))
    numbers = [{**number, "ratio": c.ratio} for number, c in
               zip(_numbers(comparisons), comparisons, strict=True)]
    return Outcome(verdict, evidence, {"comparisons": numbers, "margin": SAME_CODE_MARGIN})


def race_and_n_keep_the_loop(ev: Evidence) -> Outcome:
    seen, notes = [], []
    for build in ("-N -l", "-race"):
        problem = ev.listing_problem(build)
        if problem:
            notes.append(f"{build}: not measured ({problem.splitlines()[0]})")
            continue
        calls = ev.calls(build, "ClearByDeleteLoop") or ()
        keyed = any(map(_is_delete, calls)) and "runtime.mapclear" not in calls
        seen.append(keyed)
        notes.append(f"{build}: the loop calls {_calls(calls)}")
    if not seen:
        return Outcome(Verdict.UNMEASURED, "; ".join(notes))
    return Outcome(Verdict.HOLDS if all(seen) else Verdict.FAILS, "; ".join(notes))


def nan_keys(ev: Evidence) -> Outcome:
    found = ev.facts("FactNaNKeys", "left-after-loop", "left-after-clear")
    if found is None:
        return _not_measured("FactNaNKeys")
    looped, cleared = found
    calls = ev.calls("default", "ClearFloatsByDeleteLoop")
    not_optimised = calls is not None and "runtime.mapclear" not in calls
    holds = looped >= 2 and cleared == 0 and not_optimised
    return Outcome(Verdict.HOLDS if holds else Verdict.FAILS,
                   f"map with two NaN keys and 1.0: {looped:g} entries left after the loop, "
                   f"{cleared:g} after clear; the float loop compiles to {_calls(calls or ())}")


# --- concurrency -------------------------------------------------------------------------------


def concurrent_writes_fatal(ev: Evidence) -> Outcome:
    found = ev.facts("FactConcurrentWrites", "fatal", "recovered")
    if found is None:
        return _not_measured("FactConcurrentWrites")
    fatal, recovered = found
    holds = fatal == 1 and recovered == 0
    return Outcome(Verdict.HOLDS if holds else Verdict.FAILS,
                   "two goroutines writing one map: the process died with 'fatal error: "
                   "concurrent map writes'" + (", and its deferred recover() never ran"
                                                if recovered == 0 else ", but recover() ran")
                   if fatal == 1 else "the runtime did not catch the concurrent writes within "
                                      "20 s (its check is best-effort)")


def _race_outcome(ev: Evidence, mode: str, what: str) -> Outcome:
    if isinstance(ev.run.race, str):
        return Outcome(Verdict.UNMEASURED, ev.run.race)
    run = ev.run.race[mode]
    return Outcome(Verdict.HOLDS if run.reported else Verdict.FAILS,
                   f"{what} built with -race: "
                   + ("WARNING: DATA RACE" if run.reported else "no race reported")
                   + f", exit status {run.exit_status}")


def race_detector_map_write(ev: Evidence) -> Outcome:
    return _race_outcome(ev, "map-write", "two goroutines writing one map")


def race_detector_published_write(ev: Evidence) -> Outcome:
    return _race_outcome(ev, "published-write",
                         "a map written after an atomic.Pointer published it")


def http_concurrent(ev: Evidence) -> Outcome:
    found = ev.facts("FactHTTPConcurrent", "handlers-at-once")
    if found is None:
        return _not_measured("FactHTTPConcurrent")
    most, = found
    return Outcome(Verdict.HOLDS if most >= 2 else Verdict.FAILS,
                   f"two requests to an httptest server: {most:g} handlers ran at the same time")


def _sync_comparisons(ev: Evidence, rival: str) -> dict[str, list[PairComparison]]:
    """rwmutex against `rival` by read ratio, per goroutine count (wall-clock time)."""
    counts = ordered_keys(ev.by("Concurrent", WALL_TIME, "goroutines", impl="rwmutex"))
    return {count: _pair(ev, "Concurrent", "reads", "rwmutex", rival, WALL_TIME, key="impl",
                         goroutines=count) for count in counts}


def syncmap_not_general(ev: Evidence) -> Outcome:
    by_count = _sync_comparisons(ev, "syncmap")
    if not by_count:
        return _not_measured("Concurrent")
    losses = [(count, c) for count, cs in by_count.items() for c in cs if c.lower == "rwmutex"]
    evidence = "; ".join(
        f"{count} goroutine(s): sync.Map beats RWMutex+map "
        f"{crossover(cs, 'syncmap', 'rwmutex', '{} % reads')}" for count, cs in by_count.items())
    return Outcome(Verdict.HOLDS if losses else Verdict.FAILS,
                   evidence + (f"; RWMutex+map is faster in {len(losses)} workload(s)"
                               if losses else "; sync.Map never loses here"),
                   {count: _numbers(cs) for count, cs in by_count.items()})


def syncmap_faster(ev: Evidence) -> Outcome:
    by_count = _sync_comparisons(ev, "syncmap")
    if not by_count:
        return _not_measured("Concurrent")
    flags = [c.lower == "syncmap" for cs in by_count.values() for c in cs]
    evidence = "; ".join(
        f"{count} goroutine(s): {crossover(cs, 'syncmap', 'rwmutex', '{} % reads')}"
        for count, cs in by_count.items())
    return Outcome(_all_some_none(flags), f"sync.Map beats RWMutex+map {evidence}",
                   {count: _numbers(cs) for count, cs in by_count.items()})


def lazy_init(ev: Evidence) -> Outcome:
    found = ev.facts("FactLazyInit", "maps-built", "lost-writes")
    if found is None:
        return _not_measured("FactLazyInit")
    built, lost = found
    return Outcome(Verdict.HOLDS if built == 2 and lost == 1 else Verdict.FAILS,
                   f"both goroutines past the nil check (interleaving forced with channels): "
                   f"{built:g} maps built, {lost:g} write lost")


def pool_leaks(ev: Evidence) -> Outcome:
    leaked = ev.med("RequestMap", "leaked-entries/op", strategy="pool-uncleared")
    wrong = ev.med("RequestMap", "wrong-results/op", strategy="pool-uncleared")
    clean = ev.med("RequestMap", "leaked-entries/op", strategy="pool-cleared")
    if leaked is None or wrong is None or clean is None:
        return _not_measured("RequestMap")
    holds = leaked > 0 and wrong > 0 and clean == 0
    words = ev.run.plan.request_words
    return Outcome(Verdict.HOLDS if holds else Verdict.FAILS,
                   f"requests of {words} words ({words // 2} distinct): the uncleared pooled "
                   f"map held {leaked:g} entries of earlier requests when handed out, and "
                   f"{wrong * 100:.0f}% of results were wrong; cleared before Put: {clean:g}",
                   {"leaked_entries_op": leaked, "wrong_results_op": wrong,
                    "cleared_leaked_entries_op": clean})


def pool_cleared_allocates_nothing(ev: Evidence) -> Outcome:
    pooled = ev.med("RequestMap", "B/op", strategy="pool-cleared")
    fresh = ev.med("RequestMap", "B/op", strategy="per-request")
    if pooled is None or fresh is None:
        return _not_measured("RequestMap")
    return Outcome(Verdict.HOLDS if pooled == 0 < fresh else Verdict.FAILS,
                   f"{_bytes(pooled)} per op from the cleared pool, {_bytes(fresh)} per op "
                   f"for a map made per request")


def pool_drops_at_gc(ev: Evidence) -> Outcome:
    found = ev.facts("FactPoolGC", "kept-without-gc", "kept-after-1-gc", "kept-after-2-gc")
    if found is None:
        return _not_measured("FactPoolGC")
    kept0, kept1, kept2 = found
    holds = kept0 == 1 and kept2 == 0
    return Outcome(Verdict.HOLDS if holds else Verdict.FAILS,
                   f"an object Put then Got back: {'kept' if kept0 else 'lost'} without a GC, "
                   f"{'kept' if kept1 else 'lost'} across one GC (the victim cache), "
                   f"{'kept' if kept2 else 'lost'} across two")


def atomic_pointer_same_cost(ev: Evidence) -> Outcome:
    comparisons = []
    for op in ("load", "store"):
        for c in compare_pairs("typed", ev.by("Publish", CPU_TIME, "op", api="typed"),
                               "unsafe", ev.by("Publish", CPU_TIME, "op", api="unsafe"),
                               CPU_TIME, [op]):
            comparisons.append(c)
    if not comparisons:
        return _not_measured("Publish")
    # Both compile to the same atomic instructions, inlined at different places.
    apart = _apart_beyond(comparisons, SAME_CODE_MARGIN)
    return Outcome(Verdict.HOLDS if not apart else Verdict.FAILS,
                   f"CPU time, atomic.Pointer vs unsafe.Pointer: {_ratio_text(comparisons)}; "
                   + (f"neither apart beyond noise by more than {SAME_CODE_MARGIN:.0%}"
                      if not apart else f"{', '.join(c.at for c in apart)} apart by more "
                      f"than {SAME_CODE_MARGIN:.0%}"),
                   {"comparisons": _numbers(comparisons), "margin": SAME_CODE_MARGIN})


def map_value_is_pointer(ev: Evidence) -> Outcome:
    found = ev.facts("FactMapValue", "map-value-B", "pointer-B")
    if found is None:
        return _not_measured("FactMapValue")
    size, pointer = found
    return Outcome(Verdict.HOLDS if size == pointer else Verdict.FAILS,
                   f"unsafe.Sizeof(map value) = {size:g} bytes, a pointer = {pointer:g}")


def map_is_header(ev: Evidence) -> Outcome:
    found = ev.facts("FactMapValue", "map-value-B", "slice-header-B")
    if found is None:
        return _not_measured("FactMapValue")
    size, header = found
    return Outcome(Verdict.HOLDS if size == header else Verdict.FAILS,
                   f"unsafe.Sizeof(map value) = {size:g} bytes; a slice header is {header:g}")


def need_pointer_to_modify(ev: Evidence) -> Outcome:
    found = ev.facts("FactMapValue", "caller-sees-write")
    if found is None:
        return _not_measured("FactMapValue")
    sees, = found
    return Outcome(Verdict.FAILS if sees == 1 else Verdict.HOLDS,
                   "a function given the map by value wrote m[1] = 2: the caller "
                   + ("sees it" if sees == 1 else "does not see it")
                   + "; *map is needed only to replace the caller's map")


def pointer_make_costs_more(ev: Evidence) -> Outcome:
    comparisons = _pair(ev, "Replace", "size", "return", "pointer", CPU_TIME)
    if not comparisons:
        return _not_measured("Replace")
    more = [c.lower == "return" for c in comparisons]
    verdict = _all_some_none(more)
    escapes = escape_verdicts(ev.run.escape)
    said = "; ".join(f"{function}: {verdict_text}" for function, verdict_text in escapes.items())
    return Outcome(verdict,
                   f"CPU time, returning a new map vs *p = make: {_ratio_text(comparisons)}"
                   + (f"; escape analysis: {said}" if said else ""),
                   {"comparisons": _numbers(comparisons), "escape": escapes})


def escape_verdicts(escape: EscapeReport | str) -> dict[str, str]:
    """The compiler's verdict for each map allocation in the pointer group's strategies."""
    if isinstance(escape, str):
        return {}
    wanted = ("ResetViaPointer", "NewFilled", "Refill", "CountLocal")
    found: dict[str, str] = {}
    for site in escape.map_sites():
        if site.function in wanted and site.inlined_from is None:
            found.setdefault(site.function, f"{site.expr} {site.verdict.value}")
    return {function: found[function] for function in wanted if function in found}


def published_write_fatal(ev: Evidence) -> Outcome:
    found = ev.facts("FactPublishedWrite", "fatal")
    if found is None:
        return _not_measured("FactPublishedWrite")
    fatal, = found
    return Outcome(Verdict.HOLDS if fatal == 1 else Verdict.FAILS,
                   "a reader and a writer of one published map: "
                   + ("the process died with 'fatal error: concurrent map read and map write'"
                      if fatal == 1 else "not caught within 20 s (the check is best-effort)"))


# --- the linker and the runtime ------------------------------------------------------------


def linkname_refused(ev: Evidence) -> Outcome:
    check = ev.run.linkname["denied"]
    version = GoVersion.parse(ev.run.go_version.split()[0].split("-")[0])
    if check.ok:
        note = " (expected before Go 1.23)" if version < GoVersion(1, 23) else ""
        return Outcome(Verdict.FAILS, f"//go:linkname to runtime.mapclear linked{note}")
    return Outcome(Verdict.HOLDS, "//go:linkname to runtime.mapclear: "
                   + (check.output.splitlines()[-1] if check.output else "the build failed"))


def linkname_allowed(ev: Evidence) -> Outcome:
    check = ev.run.linkname["allowed"]
    return Outcome(Verdict.HOLDS if check.ok else Verdict.FAILS,
                   "//go:linkname to runtime.mapassign_faststr "
                   + ("links" if check.ok else f"fails: {check.output.splitlines()[-1:]}"))


def linkname_unchecked(ev: Evidence) -> Outcome:
    check = ev.run.linkname["denied-unchecked"]
    return Outcome(Verdict.HOLDS if check.ok else Verdict.FAILS,
                   "runtime.mapclear with -ldflags=-checklinkname=0 "
                   + ("links" if check.ok else "still fails"))


def swiss_tables(ev: Evidence) -> Outcome:
    return Outcome(Verdict.HOLDS if ev.run.swiss_tables else Verdict.FAILS,
                   f"{ev.run.go_version}: GOROOT/src/internal/runtime/maps "
                   + ("exists" if ev.run.swiss_tables else "does not exist"))


# --- keys --------------------------------------------------------------------------------------


def _key_allocs(ev: Evidence, key: str, op: str, length: str) -> float | None:
    return ev.med("Key", "allocs/op", key=key, op=op, len=length)


def sprint_allocates(ev: Evidence) -> Outcome:
    allocs = _key_allocs(ev, "sprint", "lookup", "short")
    if allocs is None:
        return _not_measured("Key/key=sprint")
    return Outcome(Verdict.HOLDS if allocs >= 1 else Verdict.FAILS,
                   f"m[fmt.Sprintf(\"%s/%s\", a, b)]: {allocs:g} allocs/op")


def concat_write_allocates(ev: Evidence) -> Outcome:
    allocs = _key_allocs(ev, "concat", "increment", "short")
    if allocs is None:
        return _not_measured("Key/key=concat/op=increment")
    return Outcome(Verdict.HOLDS if allocs >= 1 else Verdict.FAILS,
                   f"m[a+\"/\"+b]++ on an existing 11-byte key: {allocs:g} allocs/op")


def concat_lookup_allocates_when_long(ev: Evidence) -> Outcome:
    short = _key_allocs(ev, "concat", "lookup", "short")
    long = _key_allocs(ev, "concat", "lookup", "long")
    if short is None or long is None:
        return _not_measured("Key/key=concat/op=lookup")
    holds = short == 0 and long >= 1
    return Outcome(Verdict.HOLDS if holds else Verdict.FAILS,
                   f"lookups m[a+\"/\"+b]: {short:g} allocs/op for an 11-byte key, {long:g} for "
                   f"a 41-byte key")


def struct_key_no_alloc(ev: Evidence) -> Outcome:
    found = {f"{op} ({length})": _key_allocs(ev, "struct", op, length)
             for op, length in (("lookup", "short"), ("lookup", "long"),
                                ("increment", "short"))}
    if any(value is None for value in found.values()):
        return _not_measured("Key/key=struct")
    zero = all(value == 0 for value in found.values())
    return Outcome(Verdict.HOLDS if zero else Verdict.FAILS,
                   "struct keys: " + ", ".join(f"{what}: {value:g} allocs/op"
                                               for what, value in found.items()))


def bytes_key_no_alloc(ev: Evidence) -> Outcome:
    allocs = _key_allocs(ev, "bytes", "lookup", "long")
    if allocs is None:
        return _not_measured("Key/key=bytes")
    return Outcome(Verdict.HOLDS if allocs == 0 else Verdict.FAILS,
                   f"m[string(b)] with a 41-byte b: {allocs:g} allocs/op")


def struct_keys_faster(ev: Evidence) -> Outcome:
    comparisons = []
    for op, length in (("lookup", "short"), ("lookup", "long"), ("increment", "short")):
        struct = samples(ev.run.timings, "Key", CPU_TIME,
                         {"key": "struct", "op": op, "len": length})
        concat = samples(ev.run.timings, "Key", CPU_TIME,
                         {"key": "concat", "op": op, "len": length})
        if struct and concat:
            label = f"{op} {length}"
            comparisons.append((label, next(iter(struct.values())), next(iter(concat.values()))))
    if not comparisons:
        return _not_measured("Key")
    compared = compare_pairs("struct", {label: s for label, s, _c in comparisons}, "concat",
                             {label: c for label, _s, c in comparisons}, CPU_TIME,
                             [label for label, _s, _c in comparisons])
    flags = [c.lower == "struct" for c in compared]
    return Outcome(_all_some_none(flags),
                   f"CPU time, struct vs concatenated key: {_ratio_text(compared)}",
                   {"comparisons": _numbers(compared)})


CHECKS: dict[str, Callable[[Evidence], Outcome]] = {
    function.__name__: function for function in (
        clear_refill_allocates_nothing, recreate_allocates, clear_faster_than_make,
        maps_never_shrink, clear_cost_grows_with_capacity, hint_fewer_allocations,
        room_for_eight, clone_copies_capacity, hint_faster, delete_loop_compiles_to_mapclear,
        delete_loop_costs_what_clear_costs, race_and_n_keep_the_loop, nan_keys,
        concurrent_writes_fatal, race_detector_map_write, http_concurrent, syncmap_not_general,
        syncmap_faster,
        lazy_init, pool_leaks, pool_cleared_allocates_nothing, pool_drops_at_gc,
        atomic_pointer_same_cost, map_value_is_pointer, map_is_header, need_pointer_to_modify,
        pointer_make_costs_more, published_write_fatal, race_detector_published_write,
        linkname_refused, linkname_allowed, linkname_unchecked, swiss_tables, sprint_allocates,
        concat_write_allocates, concat_lookup_allocates_when_long, struct_key_no_alloc,
        bytes_key_no_alloc, struct_keys_faster,
    )
}
