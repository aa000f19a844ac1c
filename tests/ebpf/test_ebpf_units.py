"""mapguard ebpf's pure parts: build info, objdump placements, event formats, pairing, stats."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from mapguard.ebpf.binary import BuildInfo, Function, GoBinary, parse_build_info, read_binary
from mapguard.ebpf.disasm import parse_objdump, placement
from mapguard.ebpf.perf import Sample
from mapguard.ebpf.plan import GROWTH, OP, ProbeSpec, plan_for
from mapguard.ebpf.stats import (
    CappedSeries,
    Durations,
    overloaded,
    slots_after,
)
from mapguard.ebpf.timing import Call, Decoder, Hit, Pairer, ProbePoint, Reorder, caller_stack
from mapguard.ebpf.tracefs import Field, parse_format
from mapguard.errors import InputError
from mapguard.goversion import GoVersion
from mapguard.sitecap import OTHER

# --- build info ---------------------------------------------------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _buildinfo(version: str, modinfo: str, flags: int = 2) -> bytes:
    header = b"\xff Go buildinf:" + bytes([8, flags]) + b"\0" * 16
    sentinel = b"x" * 16
    wrapped = sentinel + modinfo.encode() + sentinel
    return header + _varint(len(version)) + version.encode() + _varint(len(wrapped)) + wrapped


def test_build_info_names_version_modules_and_settings() -> None:
    modinfo = ("path\texample.com/svc/cmd/server\nmod\texample.com/svc\t(devel)\t\n"
               "dep\tgolang.org/x/sync\tv0.7.0\th1:abc=\nbuild\t-trimpath=true\n"
               "build\tvcs.revision=0123abc\n")
    info = parse_build_info(_buildinfo("go1.27.3", modinfo), "bin")
    assert info.go_version == "go1.27.3"
    assert info.path == "example.com/svc/cmd/server"
    assert info.modules == ("example.com/svc", "golang.org/x/sync")
    assert info.setting("vcs.revision") == "0123abc"
    assert info.setting("-trimpath") == "true"
    assert info.setting("missing") is None


def test_build_info_of_go_1_17_and_older_is_refused_by_version() -> None:
    with pytest.raises(InputError, match=r"Go 1\.17 or older"):
        parse_build_info(_buildinfo("go1.16", "", flags=0), "bin")


@pytest.mark.parametrize("data", [b"", b"\xff Go buildinf:", b"not build info" * 4,
                                  _buildinfo("go1.27.3", "path\tx\n")[:40]])
def test_malformed_build_info_is_one_input_error(data: bytes) -> None:
    with pytest.raises(InputError):
        parse_build_info(data, "bin")


def test_read_binary_refuses_what_is_not_a_go_elf(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\xff\xfe\x00 not an ELF \x80")
    with pytest.raises(InputError, match="not an ELF executable"):
        read_binary(junk)
    with pytest.raises(InputError, match="is a directory"):
        read_binary(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        read_binary(tmp_path / "missing" / "server")
    elf_without_go = Path("/bin/sh").resolve()
    if elf_without_go.is_file():
        with pytest.raises(InputError, match="no Go build info"):
            read_binary(elf_without_go)


# --- objdump placements -------------------------------------------------------------------

# `go tool objdump` of Go 1.27's (*table).rehash: a stack check, two RETs, the morestack tail.
REHASH_127 = """\
TEXT internal/runtime/maps.(*table).rehash(SB) /go/src/internal/runtime/maps/table.go
  table.go:1208\t\t0x405de0\t\t493b6610\t\tCMPQ SP, 0x10(R14)\t\t
  table.go:1208\t\t0x405de4\t\t7630\t\t\tJBE 0x405e16\t\t
  table.go:1208\t\t0x405de6\t\t55\t\t\tPUSHQ BP\t\t
  table.go:1208\t\t0x405de7\t\t4889e5\t\t\tMOVQ SP, BP\t\t
  table.go:1225\t\t0x405dfa\t\t770f\t\t\tJA 0x405e0b\t\t
  table.go:1226\t\t0x405e00\t\te85b020000\t\tCALL internal/runtime/maps.(*table).grow(SB)\t
  table.go:1227\t\t0x405e09\t\t5d\t\t\tPOPQ BP\t\t
  table.go:1227\t\t0x405e0a\t\tc3\t\t\tRET\t\t
  table.go:1230\t\t0x405e0b\t\te830000000\t\tCALL internal/runtime/maps.(*table).split(SB)\t
  table.go:1231\t\t0x405e14\t\t5d\t\t\tPOPQ BP\t\t
  table.go:1231\t\t0x405e15\t\tc3\t\t\tRET\t\t
  table.go:1208\t\t0x405e16\t\t4889442408\t\tMOVQ AX, 0x8(SP)\t\t
  table.go:1208\t\t0x405e25\t\te8766d0700\t\tCALL runtime.morestack_noctxt.abi0(SB)\t\t
  table.go:1208\t\t0x405e39\t\teba5\t\t\tJMP internal/runtime/maps.(*table).rehash(SB)\t
"""

# Go 1.19's prologue reserves the frame with SUBQ (single-stepped when probed), and a made-up
# function ends in a tail call.
OLD_AND_TAIL = """\
TEXT runtime.hashGrow(SB) /usr/lib/go-1.19/src/runtime/map.go
  map.go:1041\t\t0x40dfe0\t\t493b6610\t\tCMPQ SP, 0x10(R14)\t\t\t
  map.go:1041\t\t0x40dfe4\t\t0f86dc010000\t\tJBE 0x40e1c6\t\t\t\t
  map.go:1041\t\t0x40dfea\t\t4883ec38\t\tSUBQ $0x38, SP\t\t\t\t
  map.go:1082\t\t0x40e1ae\t\tc3\t\t\tRET\t\t\t\t\t
  map.go:1041\t\t0x40e1c6\t\te80bd00400\t\tCALL runtime.morestack_noctxt.abi0(SB)\t
  map.go:1041\t\t0x40e1e0\t\te9fbfdffff\t\tJMP runtime.hashGrow(SB)\t\t
TEXT main.wrapper(SB) /src/main.go
  main.go:3\t\t0x500000\t\t4889c3\t\tMOVQ AX, BX\t\t
  main.go:4\t\t0x500003\t\te9f8ffffff\t\tJMP main.target(SB)\t\t
"""


def test_placement_probes_after_the_stack_check_and_on_every_ret() -> None:
    functions = parse_objdump(REHASH_127, "objdump")
    rehash = placement("internal/runtime/maps.(*table).rehash",
                       functions["internal/runtime/maps.(*table).rehash"])
    assert rehash.start == 0x405DE0
    assert (rehash.entry.address, rehash.entry.emulated) == (0x405DE6, True)  # PUSHQ BP
    assert [(e.address, e.emulated) for e in rehash.exits] == [(0x405E0A, False),
                                                               (0x405E15, False)]


def test_placement_of_an_old_prologue_and_of_a_tail_call() -> None:
    functions = parse_objdump(OLD_AND_TAIL, "objdump")
    grow = placement("runtime.hashGrow", functions["runtime.hashGrow"])
    assert (grow.entry.address, grow.entry.emulated) == (0x40DFEA, False)  # SUBQ
    assert [e.address for e in grow.exits] == [0x40E1AE]  # the JMP back to itself is no exit
    wrapper = placement("main.wrapper", functions["main.wrapper"])
    assert wrapper.entry.address == 0x500000  # no stack check: the first instruction
    assert [(e.address, e.emulated) for e in wrapper.exits] == [(0x500003, True)]


def test_a_function_without_a_way_out_cannot_be_timed() -> None:
    text = "TEXT main.spin(SB) /m.go\n  m.go:1\t\t0x1000\t\tebfe\t\tJMP 0x1000\t\n"
    with pytest.raises(InputError, match="no RET"):
        placement("main.spin", parse_objdump(text, "objdump")["main.spin"])


def test_unexpected_objdump_output_is_an_input_error() -> None:
    with pytest.raises(InputError, match="line 1"):
        parse_objdump("garbage here\n", "objdump")


# --- event formats and decoding -----------------------------------------------------------

FORMAT = """name: p2_in
ID: 2399
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:unsigned long __probe_ip;\toffset:8;\tsize:8;\tsigned:0;
\tfield:u64 g;\toffset:16;\tsize:8;\tsigned:0;
\tfield:u64 ra;\toffset:24;\tsize:8;\tsigned:0;
\tfield:u64 map;\toffset:32;\tsize:8;\tsigned:0;
\tfield:u64 len;\toffset:40;\tsize:8;\tsigned:0;
\tfield:u16 capacity;\toffset:48;\tsize:2;\tsigned:0;

print fmt: "(%lx) g=0x%Lx", REC->__probe_ip, REC->g
"""


def test_event_format_gives_field_offsets() -> None:
    fields = parse_format(FORMAT, "format")
    assert fields["g"] == Field("g", 16, 8, False)
    assert fields["capacity"] == Field("capacity", 48, 2, False)
    assert fields["common_pid"].signed
    with pytest.raises(InputError):
        parse_format("name: x\n", "format")


def _raw(g: int, ra: int = 0, map_: int = 0, length: int = 0, capacity: int = 0) -> bytes:
    return struct.pack("<HBBiQQQQQH", 1, 0, 0, 42, 0x405DE6, g, ra, map_, length, capacity)


def test_decoder_reads_fetched_arguments() -> None:
    decoder = Decoder(parse_format(FORMAT, "format"))
    raw = _raw(g=0xC000, ra=0x407587, map_=0xABC0, length=14, capacity=32)
    assert decoder.value(raw, "g") == 0xC000
    assert decoder.value(raw, "capacity") == 32
    assert decoder.value(raw, "absent") == 0
    assert decoder.value(raw[:20], "len") == 0  # a short record reads as 0, never raises


def test_caller_stack_adds_the_callers_return_address_once() -> None:
    assert caller_stack((0x10, 0x30, 0x40), 0x20) == (0x10, 0x20, 0x30, 0x40)
    # Kernels that detect a function entry put it there already.
    assert caller_stack((0x10, 0x20, 0x30), 0x20) == (0x10, 0x20, 0x30)
    assert caller_stack((), 0x20) == ()


# --- pairing entries and exits ------------------------------------------------------------

GROW = ProbeSpec("internal/runtime/maps.(*table).grow", GROWTH, "grow", "cx",
                 (("capacity", "%di:u16"),))
ENTRY = ProbePoint("p2_in", GROW, True, 0x40606A)
EXIT = ProbePoint("p2_out0", GROW, False, 0x40611B)


def _hit(point: ProbePoint, time_ns: int, g: int, pid: int = 7, tid: int = 7) -> Hit:
    stack = (point.address, 0x405E05, 0x49A8F6) if point.entry else (point.address,)
    raw = _raw(g=g, ra=0x405E05, map_=0xAB00 + g, length=14, capacity=32)
    return Hit(point, Sample(1, pid, tid, time_ns, stack, raw))


def _pairer() -> Pairer:
    decoder = Decoder(parse_format(FORMAT, "format"))
    return Pairer({"p2_in": decoder, "p2_out0": decoder})


def test_calls_pair_per_goroutine_not_per_thread() -> None:
    pairer = _pairer()
    hits = [_hit(ENTRY, 100, g=1, tid=10), _hit(ENTRY, 150, g=2, tid=11),
            _hit(EXIT, 400, g=2, tid=11), _hit(EXIT, 900, g=1, tid=12)]  # g=1 moved thread
    calls = list(pairer.feed(hits))
    assert [(c.start_ns, c.duration_ns, c.map_address) for c in calls] == [
        (150, 250, 0xAB02), (100, 800, 0xAB01)]
    first: Call = calls[0]
    assert (first.length, first.detail) == (14, 32)
    assert first.stack == (0x40606A, 0x405E05, 0x49A8F6)
    assert pairer.unmatched == 0


def test_lost_halves_are_counted_not_paired_wrongly() -> None:
    pairer = _pairer()
    hits = [_hit(EXIT, 50, g=1), _hit(ENTRY, 100, g=1), _hit(ENTRY, 200, g=1),
            _hit(EXIT, 260, g=1)]
    calls = list(pairer.feed(hits))
    assert [(c.start_ns, c.duration_ns) for c in calls] == [(200, 60)]
    assert pairer.unmatched == 2
    list(pairer.feed([_hit(ENTRY, 300, g=3)]))
    pairer.forget()
    assert pairer.unmatched == 3 and not pairer.pending


def test_reorder_hands_out_in_time_order_up_to_the_watermark() -> None:
    reorder = Reorder(slack_ns=5, clock=lambda: 40)
    hits = [_hit(ENTRY, time_ns, g=time_ns) for time_ns in (30, 10, 50, 20)]
    assert [h.sample.time_ns for h in reorder.take(hits)] == [10, 20, 30]
    assert [h.sample.time_ns for h in reorder.take([], final=True)] == [50]


def test_a_long_read_never_hands_an_exit_out_before_its_entry() -> None:
    """A goroutine enters on CPU 0 and leaves on CPU 1 while the buffers are being read: the
    entry lands in CPU 0's buffer just after it was read, the exit in CPU 1's before it is. The
    reading takes longer than the slack (a burst on a busy machine); the exit must wait for
    the entry, which the next reading brings."""
    now = [1_000]

    def reading(*hits: Hit) -> Iterator[Hit]:
        for hit in hits:
            now[0] += 100  # parsing samples in Python takes time
            yield hit

    reorder, pairer = Reorder(slack_ns=20, clock=lambda: now[0]), _pairer()
    first = reorder.take(reading(_hit(ENTRY, 900, g=1), _hit(EXIT, 1_050, g=2)))
    assert [h.sample.time_ns for h in first] == [900]  # the exit is newer than 1000 - 20
    second = reorder.take(reading(_hit(ENTRY, 1_040, g=2), _hit(EXIT, 1_300, g=1)))
    last = reorder.take([], final=True)
    calls = list(pairer.feed([*first, *second, *last]))
    assert [(c.start_ns, c.duration_ns) for c in calls] == [(1_040, 10), (900, 400)]
    assert pairer.unmatched == 0 and not pairer.pending


# --- statistics and the export cap -------------------------------------------------------


def test_durations_percentiles_within_two_percent_max_and_sum_exact() -> None:
    durations = Durations()
    values = list(range(1_000, 101_000, 100))  # 1 µs .. 101 µs, 1000 values
    durations.add(values[:500])
    durations.add(values[500:])
    assert durations.count == 1000
    assert durations.max_ns == max(values)
    assert durations.sum_ns == sum(values)
    for q in (0.5, 0.99):
        exact = sorted(values)[int(q * len(values)) - 1]
        assert abs(durations.percentile_ns(q) - exact) <= 0.021 * exact
    buckets = durations.cumulative_buckets()
    assert buckets[-1] == (float("inf"), 1000)
    assert dict(buckets)[1e-5] == sum(1 for v in values if v <= 10_000)


def test_capped_series_keep_the_largest_sites_and_sum_the_rest_as_other() -> None:
    capped = CappedSeries(top=2, idle_intervals=3)
    capped.add({"a.go:1": [10] * 5, "b.go:2": [10] * 3, "c.go:3": [10]})
    assert {k: v.count for k, v in capped.series.items()} == {"a.go:1": 5, "b.go:2": 3,
                                                              OTHER: 1}
    capped.add({"c.go:3": [10] * 9})  # no place yet: a and b are not idle
    assert capped.series[OTHER].count == 10
    capped.add({"a.go:1": [10]})
    capped.add({"c.go:3": [10]})  # b idle for 3 intervals gives its place up
    assert {k: v.count for k, v in capped.series.items()} == {"a.go:1": 6, "c.go:3": 1,
                                                              OTHER: 10}


def _call(kind: str, length: int, detail: int) -> Call:
    return Call(ProbeSpec("f", GROWTH, kind), 1, 0, 0, 0, length, detail, ())


def test_slots_after_each_kind_of_growth() -> None:
    assert slots_after(_call("small", 0, 0)) == 8
    assert slots_after(_call("table", 8, 0)) == 16
    assert slots_after(_call("grow", 14, 32)) == 32
    assert slots_after(_call("split", 896, 0)) == 1024
    assert slots_after(_call("hashgrow", 8, 0)) == 16  # the 9th insert doubles 1 bucket
    assert slots_after(_call("hashgrow", 13, 1)) == 32
    assert slots_after(_call("hashgrow", 20, 2)) == 32  # not overloaded: same-size grow
    assert overloaded(9, 0) and not overloaded(8, 0) and overloaded(14, 1)


# --- plans --------------------------------------------------------------------------------


def _binary(version: str, names: list[str]) -> GoBinary:
    functions = tuple(Function(name, 0x401000 + 0x100 * i, 0x80)
                      for i, name in enumerate(names))
    return GoBinary(Path("/srv/server"), BuildInfo(f"go{version}", "main", None, ()),
                    GoVersion.parse(version), functions, (), True)


SWISS = ["internal/runtime/maps.(*Map).growToSmall", "internal/runtime/maps.(*Map).growToTable",
         "internal/runtime/maps.(*table).grow", "internal/runtime/maps.(*table).split"]


def test_swiss_plan_times_the_four_growths_and_counts_what_exists() -> None:
    trie = ("internal/sync.(*HashTrieMap[go.shape.interface {},go.shape.interface {}])"
            ".Swap")
    plan = plan_for(_binary("1.27.3", [*SWISS, "runtime.mapassign_fast64", trie,
                                       "internal/runtime/maps.(*Map).Clear"]))
    assert plan.swiss
    assert [s.kind for s in plan.timed] == ["small", "table", "grow", "split", "clear"]
    assert {(s.function, s.kind) for s in plan.ops} == {("runtime.mapassign_fast64", "assign"),
                                                        (trie, "syncmap")}
    assert all(s.role == OP for s in plan.ops)
    assert "runtime.mapdelete_faststr" in plan.absent


def test_old_plan_times_hashgrow_and_counts_evacuation() -> None:
    plan = plan_for(_binary("1.19.8", ["runtime.hashGrow", "runtime.growWork_fast64",
                                       "sync.(*Map).Store"]))
    assert not plan.swiss
    assert [(s.function, s.map_arg) for s in plan.timed] == [("runtime.hashGrow", "bx")]
    assert {s.kind for s in plan.ops} == {"evacuate", "syncmap"}


def test_plans_refuse_old_go_and_name_missing_growth_functions() -> None:
    with pytest.raises(InputError, match=r"Go 1.17; mapguard ebpf needs Go 1.18"):
        plan_for(_binary("1.17", ["runtime.hashGrow"]))
    with pytest.raises(InputError, match=r"without internal/runtime/maps.\(\*table\).split"):
        plan_for(_binary("1.27", SWISS[:3]))


def test_a_kernel_without_uprobe_events_is_one_tool_error(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from mapguard.ebpf import tracefs
    from mapguard.errors import ToolError

    tracing = tmp_path / "tracing"
    tracing.mkdir()
    (tracing / "README").write_text("tracefs without uprobe_events\n")
    monkeypatch.setattr(tracefs, "_ROOTS", (tracing, tmp_path / "debug" / "tracing"))
    with pytest.raises(ToolError, match="no uprobe events"):
        tracefs.find_tracefs()
