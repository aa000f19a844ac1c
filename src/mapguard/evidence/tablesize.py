"""How large a map's tables got, read from the sizes of its growth allocations in a profile.

A map grows by allocating a new table twice the size of the old one, so the object sizes
charged to an insert line form a doubling series whose largest member is the table the map
ended with. From the layout of one slot (key and value sizes) that size gives the capacity:

* Go 1.24+ (Swiss tables): a group is an 8-byte control word and 8 slots; a table holds
  2^k groups, at most 1024 slots (128 groups); a larger map splits full tables in two and
  keeps them in a directory, so the number of maximum-size tables allocated per map
  (1 + 2 per split) against the one table of half that size tells how many tables it ended
  with. Load factor 7/8.
* Go 1.23 and older: a bucket holds 8 entries (tophash bytes, keys, values, overflow
  pointer); an array of 2^B buckets, plus 2^(B-4) overflow buckets from B = 4; load 6.5.

Which layout the profiled program had is read from the sizes themselves: the series that
explains more of the observed sizes wins. Keys and values larger than 128 bytes are stored
behind a pointer in both. Allocation sizes are rounded up to Go's size classes, after the
8-byte header Go 1.22+ puts before a small object of more than 512 bytes that holds pointers
(`runtime.mallocHeaderSize`). When the
slot size is not known (a generic map, a type of another package), it is found from the
sizes too: the Swiss slot sizes whose table series explain the most observed sizes, largest
included, must all agree on the capacity, or there is no answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mapguard.evidence.mapsyntax import size_class

SWISS_GROUP_SLOTS = 8
SWISS_MAX_TABLE_SLOTS = 1024
SWISS_LOAD = 7 / 8
BUCKET_ENTRIES = 8
BUCKET_LOAD = 6.5
_INLINE_LIMIT = 128
_POINTER = 8
# Sizes holding less than this share of the growth bytes are noise (a few sampled objects).
_NEGLIGIBLE = 0.01
_HEADER = 8  # runtime.mallocHeaderSize
_HEADER_ABOVE = 512  # objects up to this size keep their pointer bits in the span
_SMALL_OBJECT = 32768


@dataclass(frozen=True, slots=True)
class Layout:
    """(size, alignment) of the key and of the value, in bytes, and whether a slot holds
    pointers (then a table array of more than 512 bytes carries an allocation header)."""

    key: tuple[int, int]
    value: tuple[int, int]
    pointers: bool = True


@dataclass(frozen=True, slots=True)
class Reached:
    """The capacity a map's tables reached: `slots` (Swiss) or bucket entries, and how many
    entries that holds at most; `layout` names the map implementation."""

    slots: int
    tables: int  # Swiss maps past 1024 slots: how many tables; else 1
    most_entries: int  # the most entries this capacity holds before it grows again
    fewest_entries: int  # the fewest entries that made it grow to this capacity
    layout: str  # "swiss" or "buckets"

    def hint(self) -> int:
        """The size hint that makes this capacity at once."""
        return self.most_entries


def reached(growth_sizes: Mapping[int, int], layout: Layout | None) -> Reached | None:
    """The capacity a map reached, from its growth allocations' value by object size (one map
    or many alike: a per-call map that grows the same way on every call); None when the
    sizes fit neither layout. Without a layout, the slot size is inferred (Swiss tables)."""
    total = sum(growth_sizes.values())
    if total <= 0:
        return None
    observed = {size: value for size, value in growth_sizes.items()
                if size > 0 and value >= _NEGLIGIBLE * total}
    if not observed:
        return None
    if layout is None:
        return _inferred(observed)
    swiss = _swiss_series(layout)
    buckets = _bucket_series(layout)
    fits_swiss = sum(1 for size in observed if size in swiss.values())
    fits_buckets = sum(1 for size in observed if size in buckets.values())
    if max(fits_swiss, fits_buckets) == 0:
        return None
    if fits_swiss >= fits_buckets:
        return _swiss_reached(observed, swiss)
    return _bucket_reached(observed, buckets)


# Slot sizes a Swiss table can have: key and value inline up to 128 bytes each.
_SLOT_CANDIDATES = range(8, 2 * _INLINE_LIMIT + 8 + 1, 8)


def _inferred(observed: Mapping[int, int]) -> Reached | None:
    largest = max(observed)
    best: list[Reached] = []
    best_score = 0
    for slot, pointers in ((slot, pointers) for slot in _SLOT_CANDIDATES
                           for pointers in (False, True)):
        series = _series_for_group(8 + SWISS_GROUP_SLOTS * slot, pointers)
        if largest not in series.values():
            continue
        score = sum(1 for size in observed if size in series.values())
        found = _swiss_reached(observed, series)
        if found is None or score < best_score:
            continue
        if score > best_score:
            best, best_score = [], score
        best.append(found)
    if not best or len({(r.slots, r.tables) for r in best}) != 1:
        return None
    return best[0]


def _slot(layout: Layout) -> tuple[int, int]:
    """(size, alignment) of one key-value slot; large keys and values are indirect."""
    key_size, key_align = layout.key if layout.key[0] <= _INLINE_LIMIT else (_POINTER, _POINTER)
    value_size, value_align = (layout.value if layout.value[0] <= _INLINE_LIMIT
                               else (_POINTER, _POINTER))
    align = max(key_align, value_align, 1)
    offset = _round(key_size, value_align)
    return _round(offset + value_size, align), align


def _round(size: int, align: int) -> int:
    return -(-size // align) * align if align > 1 else size


def _swiss_series(layout: Layout) -> dict[int, int]:
    """Groups per table -> allocation size, for 1 (the small map's group) to 128 groups."""
    slot, _ = _slot(layout)
    return _series_for_group(8 + SWISS_GROUP_SLOTS * slot, layout.pointers)


def _series_for_group(group: int, pointers: bool) -> dict[int, int]:
    series: dict[int, int] = {}
    groups = 1
    while groups * SWISS_GROUP_SLOTS <= SWISS_MAX_TABLE_SLOTS:
        series[groups] = allocation_size(groups * group, pointers)
        groups *= 2
    return series


def allocation_size(size: int, pointers: bool) -> int:
    """What the allocator charges for an object of `size` bytes."""
    if pointers and _HEADER_ABOVE < size <= _SMALL_OBJECT - _HEADER:
        size += _HEADER
    return size_class(size)


def _swiss_reached(observed: Mapping[int, int], series: dict[int, int]) -> Reached | None:
    largest = max((groups for groups, size in series.items() if size in observed), default=0)
    if largest == 0:
        return None
    slots = largest * SWISS_GROUP_SLOTS
    tables = 1
    if slots == SWISS_MAX_TABLE_SLOTS:
        # Per map: one table of 1024 slots from the last doubling, two more per split.
        half = observed.get(series[largest // 2], 0) / series[largest // 2]
        full = observed[series[largest]] / series[largest]
        if half > 0:
            tables = max(1, round((full / half + 1) / 2))
    most = int(slots * tables * SWISS_LOAD)
    fewest = int(slots * tables * SWISS_LOAD / 2) + 1 if slots > SWISS_GROUP_SLOTS else 1
    return Reached(slots * tables, tables, most, fewest, "swiss")


def _bucket_series(layout: Layout) -> dict[int, int]:
    """log2(buckets) -> bucket array size, B = 0..16 (overflow buckets from B = 4)."""
    key_size, key_align = layout.key if layout.key[0] <= _INLINE_LIMIT else (_POINTER, _POINTER)
    value_size, value_align = (layout.value if layout.value[0] <= _INLINE_LIMIT
                               else (_POINTER, _POINTER))
    keys = _round(BUCKET_ENTRIES, key_align) + BUCKET_ENTRIES * key_size
    values = _round(keys, value_align) + BUCKET_ENTRIES * value_size
    bucket = _round(_round(values, _POINTER) + _POINTER, max(key_align, value_align, _POINTER))
    series: dict[int, int] = {}
    for power in range(17):
        count = (1 << power) + ((1 << (power - 4)) if power >= 4 else 0)
        series[power] = allocation_size(count * bucket, layout.pointers)
    return series


def _bucket_reached(observed: Mapping[int, int], series: dict[int, int]) -> Reached | None:
    power = max((p for p, size in series.items() if size in observed), default=-1)
    if power < 0:
        return None
    buckets = 1 << power
    most = int(buckets * BUCKET_LOAD)
    fewest = int(buckets * BUCKET_LOAD / 2) + 1 if power > 0 else 1
    return Reached(buckets * BUCKET_ENTRIES, 1, most, fewest, "buckets")
