"""Cumulative pulls become intervals per sample: only what grew is attributed."""

from __future__ import annotations

import numpy as np
import pytest

from mapguard.errors import InputError
from mapguard.formats.pprof import parse_profile
from mapguard.watch.samples import proto_growth, sample_keys
from tests.pprof_samples import HEAP_TYPES, Stack, build

MAIN = "/src/main.go"
FILL = [("main.fill", MAIN, 5, 0x100), ("main.main", MAIN, 20, 0x500)]
MAKE = [("main.make", MAIN, 9, 0x200), ("main.main", MAIN, 21, 0x510)]
OTHER = [("main.other", MAIN, 12, 0x300), ("main.main", MAIN, 22, 0x520)]


def profile(fill: int, make: int, other: int, *, duplicate: int = 0) -> bytes:
    stacks = [Stack(FILL, [fill, fill * 144, 0, 0], size=144),
              Stack(MAKE, [make, make * 48, 0, 0], size=48),
              Stack(OTHER, [other, other * 4096, 0, 0], size=4096)]
    if duplicate:
        stacks.append(Stack(FILL, [duplicate, duplicate * 144, 0, 0], size=144))
    return build(HEAP_TYPES, stacks, default="alloc_space")


def values(grown: object) -> dict[str, tuple[int, int]]:
    from mapguard.formats.pprof import Profile

    assert isinstance(grown, Profile)
    found = {}
    for i in range(len(grown.samples)):
        sample = grown.sample(i)
        leaf = grown.locations[sample.locations[0]].frames[0].function
        found[leaf] = (sample.values[0], sample.values[1])
    return found


def test_keys_are_stable_and_tell_stacks_and_sizes_apart() -> None:
    first = sample_keys(parse_profile(profile(1, 2, 3), "a"))
    again = sample_keys(parse_profile(profile(7, 8, 9), "b"))
    assert list(first) == list(again)
    assert len(set(first.tolist())) == 3
    sized = build(HEAP_TYPES, [Stack(FILL, [1, 144, 0, 0], size=144),
                               Stack(FILL, [1, 288, 0, 0], size=288)])
    assert len(set(sample_keys(parse_profile(sized, "c")).tolist())) == 2


def test_only_grown_samples_with_only_their_growth() -> None:
    first = proto_growth(parse_profile(profile(10, 5, 1), "p"), None, "p")
    assert not first.restarted
    assert values(first.profile) == {"main.fill": (10, 1440), "main.make": (5, 240),
                                     "main.other": (1, 4096)}
    later = proto_growth(parse_profile(profile(13, 5, 1, duplicate=2), "p"), first.counts, "p")
    assert not later.restarted
    assert values(later.profile) == {"main.fill": (5, 720)}  # 3 more, 2 in a duplicate
    assert len(later.keys) == 1
    # The unused locations are gone: attribution reads only what the interval touched.
    assert {f.function for loc in later.profile.locations for f in loc.frames} == {
        "main.fill", "main.main"}
    again = proto_growth(parse_profile(profile(1, 0, 0), "p"), later.counts, "p")
    assert again.restarted and values(again.profile) == {"main.fill": (1, 144)}


def test_held_back_growth_comes_again() -> None:
    first = proto_growth(parse_profile(profile(10, 5, 1), "p"), None, "p")
    later = proto_growth(parse_profile(profile(12, 9, 1), "p"), first.counts, "p")
    kept = later.counts.holding(later.keys[:1], first.counts)
    held = int(np.flatnonzero(np.isin(kept.keys, later.keys[:1]))[0])
    assert (kept.objects[held], kept.bytes[held]) in {(10, 1440), (5, 240)}  # as before
    again = proto_growth(parse_profile(profile(12, 9, 1), "p"), kept, "p")
    assert len(again.keys) == 1 and again.keys[0] == later.keys[0]  # pending, not lost


def test_a_profile_without_allocations_is_refused() -> None:
    data = build((("samples", "count"), ("cpu", "nanoseconds")),
                 [Stack(FILL, [1, 10])])
    with pytest.raises(InputError, match="not an allocation profile"):
        proto_growth(parse_profile(data, "cpu"), None, "cpu")


def test_hidden_runtime_frames_are_learnt_per_call_site_and_put_back() -> None:
    from mapguard.watch.prefixes import hidden_frames, leaf_addresses, restore

    from .fakes import SYMBOLS, hidden_profile, text_profile

    proto = parse_profile(hidden_profile(3), "p")
    (leaf,) = leaf_addresses(proto).tolist()
    assert leaf == 0x2FFF
    assert hidden_frames(text_profile(3), {leaf, 0x9999}, "t") == {leaf: (0x1000, 0x1FFF)}
    with pytest.raises(InputError, match="malformed heap profile header"):
        hidden_frames(b"<html>", {leaf}, "t")
    restored = restore(proto, {leaf: tuple((pc, SYMBOLS[pc]) for pc in (0x1000, 0x1FFF))})
    sample = restored.sample(0)
    names = [restored.locations[i].frames[0].function for i in sample.locations]
    assert names == ["runtime.mallocgc", "internal/runtime/maps.(*Map).growToTable",
                     "main.fill", "main.main"]
    assert sample.values == proto.sample(0).values
