"""The pprof parser on profiles built field by field, bad input, and fuzzing."""

from __future__ import annotations

import contextlib
import gzip
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.pprof_samples import HEAP_TYPES, Stack, build

from mapguard.errors import InputError
from mapguard.formats.pprof import gunzip, parse_heap_text, parse_profile, scale_heap_sample

MAIN = "/src/app/main.go"
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def heap_profile(compress: bool = True, default: str | None = "alloc_space") -> bytes:
    return build(HEAP_TYPES, [
        Stack([("main.fill", MAIN, 12, 0x100), ("main.main", MAIN, 30, 0x200)],
              [3, 432, 1, 144], size=144),
        Stack([("main.fill", MAIN, 12, 0x100), ("main.main", MAIN, 30, 0x200)],
              [1, 2304, 0, 0], size=2304),
        Stack([("strconv.Itoa", "/go/src/strconv/itoa.go", 40, 0x300),
               ("main.main", MAIN, 31, 0x210)], [10, 160, 2, 32], size=16,
              labels={"handler": "/api"}),
    ], default=default, compress=compress)


@pytest.mark.parametrize("compress", [True, False])
def test_heap_profile_columns_and_records(compress: bool) -> None:
    profile = parse_profile(heap_profile(compress), "heap.pb.gz")
    assert profile.kind == "allocs"
    assert [t.type for t in profile.sample_types] == [t for t, _ in HEAP_TYPES]
    assert profile.sample_index() == 1  # default_sample_type alloc_space
    assert [profile.total(i) for i in range(4)] == [14, 2896, 3, 176]
    first = profile.sample(0)
    assert first.values == (3, 432, 1, 144)
    assert ("bytes", 144) in first.num_labels
    leaf = profile.locations[first.locations[0]]
    assert (leaf.address, leaf.frames[0].function, leaf.frames[0].line) == (0x100, "main.fill",
                                                                            12)
    assert profile.sample(2).labels == (("handler", "/api"),)
    assert profile.samples.leaves().tolist() == [0, 0, 2]


def test_heap_without_default_is_heap_and_defaults_to_last_type() -> None:
    profile = parse_profile(heap_profile(default=None), "heap.pb.gz")
    assert profile.kind == "heap"
    assert profile.sample_types[profile.sample_index()].type == "inuse_space"


@pytest.mark.parametrize(("types", "leaf", "kind"), [
    ((("samples", "count"), ("cpu", "nanoseconds")), "main.f", "cpu"),
    ((("contentions", "count"), ("delay", "nanoseconds")), "sync.(*Mutex).Unlock", "mutex"),
    ((("contentions", "count"), ("delay", "nanoseconds")), "sync.(*Mutex).Lock", "block"),
    ((("goroutine", "count"),), "runtime.gopark", "goroutine"),
    ((("threadcreate", "count"),), "runtime.newm", "threadcreate"),
])
def test_profile_kinds(types: tuple[tuple[str, str], ...], leaf: str, kind: str) -> None:
    values = [1] * len(types)
    data = build(types, [Stack([(leaf, "/x.go", 1, 0x10), ("main.main", MAIN, 2, 0x20)],
                               values)])
    assert parse_profile(data, "p").kind == kind


def test_sample_index_by_name_and_unknown() -> None:
    profile = parse_profile(heap_profile(), "p")
    assert profile.sample_index("inuse_objects") == 2
    with pytest.raises(InputError, match="no sample type 'cycles'"):
        profile.sample_index("cycles")


# --- bad input -----------------------------------------------------------------------------


def test_truncated_gzip() -> None:
    data = heap_profile()
    with pytest.raises(InputError, match="truncated gzip") as info:
        parse_profile(data[: len(data) // 2], "cut.pb.gz")
    assert str(info.value).startswith("cut.pb.gz: ")


def test_gzip_bomb_over_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (8 << 20))
    with pytest.raises(InputError, match="byte cap"):
        parse_profile(bomb, "bomb.gz", max_size=1 << 20)
    assert len(gunzip(bomb, "bomb.gz", max_size=16 << 20)) == 8 << 20


@pytest.mark.parametrize("data", [b"", b"hello, this is not a profile\n", b"\x08\x96\x01",
                                  gzip.compress(b"\xff\xff\xff\xff", mtime=0)],
                         ids=["empty", "text", "protobuf-garbage", "gzip-garbage"])
def test_not_a_profile(data: bytes) -> None:
    with pytest.raises(InputError):
        parse_profile(data, "x")


def test_dangling_references_are_input_errors() -> None:
    from mapguard.formats import profile_pb2

    message = profile_pb2.Profile()
    message.string_table.extend(["", "space", "bytes"])
    message.sample_type.add(type=1, unit=2)
    message.sample.add(location_id=[7], value=[5])
    with pytest.raises(InputError, match="missing location 7"):
        parse_profile(message.SerializeToString(), "x")
    message.sample_type.add(type=99, unit=2)
    with pytest.raises(InputError, match="past the string table"):
        parse_profile(message.SerializeToString(), "x")


# --- debug=1 text --------------------------------------------------------------------------

HEAP_TEXT = b"""heap profile: 1: 144 [4: 2736] @ heap/1048576
1: 144 [3: 432] @ 0x40a 0x4df2e5 0x4df2ff
#\t0x4df2e4\tmain.fill+0x44\t\t/src/app/main.go:12
#\t0x4df2fe\tmain.main+0x5e\t\t/src/app/main.go:30

0: 0 [1: 2304] @ 0x40b 0x4df2e5 0x4df2ff
#\t0x4df2e4\tmain.fill+0x44\t\t/src/app/main.go:12
#\t0x4df2fe\tmain.main+0x5e\t\t/src/app/main.go:30


# runtime.MemStats
# Alloc = 123
"""


def test_heap_text_scales_like_pprof() -> None:
    profile = parse_heap_text(HEAP_TEXT, "heap.txt")
    rate = 1048576 // 2
    expected = [scale_heap_sample(3, 432, rate), scale_heap_sample(1, 2304, rate)]
    assert profile.samples.values[:, 0].tolist() == [expected[0][0], expected[1][0]]
    assert profile.samples.values[:, 1].tolist() == [expected[0][1], expected[1][1]]
    assert expected[0][1] == int(432 / (1 - math.exp(-144 / rate)))
    assert profile.samples.object_size.tolist() == [144, 2304]
    # The leaf PC is kept, callers step back into the call; `#` lines name the user frames.
    first = profile.sample(0)
    addresses = [profile.locations[i].address for i in first.locations]
    assert addresses == [0x40A, 0x4DF2E4, 0x4DF2FE]
    assert profile.locations[first.locations[1]].frames[0].function == "main.fill"
    assert profile.locations[first.locations[0]].frames == ()
    assert parse_profile(HEAP_TEXT, "heap.txt").text_format


def test_heap_text_malformed_record_names_the_line() -> None:
    bad = HEAP_TEXT.replace(b"0: 0 [1: 2304]", b"0: x [1: 2304]")
    with pytest.raises(InputError, match="line 6"):
        parse_heap_text(bad, "heap.txt")


# --- fuzzing -------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=512))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    with contextlib.suppress(InputError):
        parse_profile(data, "fuzz")


@FUZZ
@given(st.data())
def test_fuzz_mutated_profiles(data: st.DataObject) -> None:
    raw = bytearray(heap_profile(compress=data.draw(st.booleans())))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(raw)))
    try:
        profile = parse_profile(bytes(raw[:cut]), "fuzz")
    except InputError:
        return
    for i in range(len(profile.sample_types)):
        profile.total(i)
    for i in range(len(profile.samples)):
        profile.sample(i)


@FUZZ
@given(st.lists(st.sampled_from(HEAP_TEXT.splitlines(keepends=True)) | st.binary(max_size=40),
                max_size=12))
def test_fuzz_heap_text(lines: list[bytes]) -> None:
    with contextlib.suppress(InputError):
        parse_profile(HEAP_TEXT.splitlines(keepends=True)[0] + b"".join(lines), "fuzz")


def test_a_bomb_is_refused_by_its_expansion_before_the_size_cap() -> None:
    from mapguard.formats.pprof import EXPANSION_FLOOR, MAX_EXPANSION

    member = gzip.compress(b"\0" * (8 << 20), compresslevel=9)
    bomb = member * (2 * EXPANSION_FLOOR // (8 << 20))  # gzip members, one after the other
    assert MAX_EXPANSION * len(bomb) < EXPANSION_FLOOR
    with pytest.raises(InputError, match="gzip bomb, not a profile"):
        gunzip(bomb, "bomb.gz")
