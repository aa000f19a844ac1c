"""Cumulative pulls become intervals per sample: only what grew is attributed."""

from __future__ import annotations

import numpy as np
import pytest

from mapguard.errors import InputError
from mapguard.formats.pprof import parse_heap_text, parse_profile
from mapguard.watch.samples import proto_growth, sample_keys, text_growth
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
    grown, counts, restarted = proto_growth(parse_profile(profile(10, 5, 1), "p"), None, "p")
    assert not restarted and values(grown) == {"main.fill": (10, 1440), "main.make": (5, 240),
                                               "main.other": (1, 4096)}
    grown, counts, restarted = proto_growth(parse_profile(profile(13, 5, 1, duplicate=2), "p"),
                                            counts, "p")
    assert not restarted
    assert values(grown) == {"main.fill": (5, 720)}  # 3 more plus 2 in a duplicate sample
    # The unused locations are gone: attribution reads only what the interval touched.
    assert {f.function for loc in grown.locations for f in loc.frames} == {"main.fill",
                                                                           "main.main"}
    grown, _, restarted = proto_growth(parse_profile(profile(1, 0, 0), "p"), counts, "p")
    assert restarted and values(grown) == {"main.fill": (1, 144)}


def test_a_profile_without_allocations_is_refused() -> None:
    data = build((("samples", "count"), ("cpu", "nanoseconds")),
                 [Stack(FILL, [1, 10])])
    with pytest.raises(InputError, match="not an allocation profile"):
        proto_growth(parse_profile(data, "cpu"), None, "cpu")


def text(fill: int, other: int) -> bytes:
    return (f"heap profile: 0: 0 [{fill + other}: {fill * 144 + other * 4096}] @ heap/1048576\n"
            f"0: 0 [{fill}: {fill * 144}] @ 0x1000 0x2000 0x3000\n"
            "#\t0x2fff\tmain.fill+0x10\t/src/main.go:5\n"
            "\n"
            f"0: 0 [{other}: {other * 4096}] @ 0x1100 0x4000\n"
            "#\t0x3fff\tmain.other+0x20\t/src/main.go:12\n"
            "\n"
            "# runtime.MemStats\n# Alloc = 1\n").encode()


def test_text_records_that_did_not_grow_are_not_read() -> None:
    data, counts, restarted = text_growth(text(10, 3), None, "t")
    assert not restarted
    first = parse_heap_text(data, "t")
    assert len(first.samples) == 2
    data, counts, _ = text_growth(text(14, 3), counts, "t")
    assert data.count(b" @ 0x") == 1 and b"main.other" not in data
    grown = parse_heap_text(data, "t")
    (sample,) = [grown.sample(i) for i in range(len(grown.samples))]
    assert grown.locations[sample.locations[2]].frames[0].function == "main.fill"
    assert sample.values[:2][1] > 0
    data, _, _ = text_growth(text(14, 3), counts, "t")
    assert data.count(b"\n") == 1  # the header alone: nothing grew
    _, _, restarted = text_growth(text(1, 0), counts, "t")
    assert restarted


def test_text_without_a_header_is_refused() -> None:
    with pytest.raises(InputError, match="malformed heap profile header"):
        text_growth(b"garbage\n0: 0 [1: 1] @ 0x1\n", None, "t")


def test_keys_do_not_depend_on_the_process_hash_seed() -> None:
    import subprocess
    import sys

    code = ("from mapguard.watch.samples import text_growth; import sys; "
            "sys.stdout.write(str(text_growth(sys.stdin.buffer.read(), None, 't')[1].keys"
            ".tolist()))")
    runs = {subprocess.run([sys.executable, "-c", code], input=text(1, 1), capture_output=True,
                           env={"PYTHONHASHSEED": seed}, check=True).stdout
            for seed in ("1", "2")}
    assert len(runs) == 1
    assert np.asarray(eval(runs.pop())).size == 2
