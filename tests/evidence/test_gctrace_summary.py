"""GC summary arithmetic on gctraces built with known numbers; the `gc` command on a file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.cli import main
from mapguard.evidence.gcrun import godebug_with_gctrace
from mapguard.evidence.gcsummary import (
    KEPT_MALFORMED,
    SPARK_POINTS,
    GcAggregate,
    GcSummary,
    summarize_gctrace,
)
from mapguard.evidence.summarystats import Distribution, Trend, nearest_rank, slope
from mapguard.formats.gctrace import parse_gctrace


def _line(n: int, at: float, sweep: float, mark_term: float, live: int, goal: int,
          forced: bool = False) -> str:
    return (f"gc {n} @{at}s 5%: {sweep}+1.5+{mark_term} ms clock, 0.1+0.2/0.3/0.4+0.5 ms cpu, "
            f"{live + 2}->{live + 3}->{live} MB, {goal} MB goal, 0 MB stacks, 0 MB globals, 4 P"
            + (" (forced)" if forced else ""))


def test_summary_of_known_cycles() -> None:
    # Ten cycles, 0.5 s apart; pauses 1..10 ms (sweep) and 0.1..1.0 ms (mark termination);
    # the live heap grows 2 MB per cycle, i.e. 4 MB/s; the goal is twice the live heap.
    lines = [_line(n, 0.5 * n, float(n), n / 10, 10 + 2 * n, 20 + 4 * n, forced=n == 10)
             for n in range(1, 11)]
    summary = summarize_gctrace(parse_gctrace("\n".join(lines)))
    assert summary.cycles == 10
    assert summary.forced == 1
    assert summary.span_s == pytest.approx(4.5)
    assert summary.cycles_per_s == pytest.approx(9 / 4.5)
    assert summary.gc_cpu_percent == 5
    # Cycles 2..10 each used 0.1 + 0.2 + 0.3 + 0.5 ms of CPU (idle marking left out) in 4.5 s
    # on 4 Ps.
    assert summary.gc_cpu_window_percent == pytest.approx(100 * 9 * 1.1 / (4.5 * 1000 * 4))
    assert summary.procs == 4
    pauses = sorted([float(n) for n in range(1, 11)] + [n / 10 for n in range(1, 11)])
    assert summary.pauses_ms == Distribution(20, pauses[9], pauses[19], 10.0)
    assert summary.cycle_pause_ms.max == pytest.approx(11.0)
    assert summary.heap_live_mb is not None and summary.heap_goal_mb is not None
    assert (summary.heap_live_mb.first, summary.heap_live_mb.last) == (12, 30)
    assert summary.heap_live_mb.slope_per_s == pytest.approx(4.0)
    assert summary.heap_goal_mb.slope_per_s == pytest.approx(8.0)


def test_single_cycle_has_no_rate_or_slope() -> None:
    summary = summarize_gctrace(parse_gctrace(_line(1, 0.1, 0.2, 0.3, 4, 8)))
    assert summary.cycles_per_s is None
    assert summary.heap_live_mb is not None and summary.heap_live_mb.slope_per_s is None


def test_nearest_rank_and_slope() -> None:
    ordered = [float(v) for v in range(1, 101)]
    assert (nearest_rank(ordered, 50), nearest_rank(ordered, 99), nearest_rank(ordered, 100)) == (
        50.0, 99.0, 100.0)
    assert slope([0, 1, 2], [1, 3, 5]) == pytest.approx(2.0)
    assert slope([1, 1], [1, 2]) is None
    assert Distribution.of([]) == Distribution(0, None, None, None)


def test_godebug_is_appended_to() -> None:
    assert godebug_with_gctrace(None) == "gctrace=1"
    assert godebug_with_gctrace("") == "gctrace=1"
    assert godebug_with_gctrace("madvdontneed=1") == "madvdontneed=1,gctrace=1"


def test_gc_command_json_and_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "gctrace.log"
    lines = [_line(n, 0.5 * n, 1.0, 0.5, 10 + n, 20 + n) for n in range(1, 6)]
    log.write_text("\n".join(["server starting", *lines, "gc 6 @3.0s 5%: broken"]) + "\n")
    assert main(["gc", str(log), "--format", "json"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["version"] == 1
    assert document["summary"]["cycles"] == 5
    assert document["summary"]["stw_pause_ms"]["max"] == 1.0
    assert [c["number"] for c in document["cycles"]] == [1, 2, 3, 4, 5]
    assert document["malformed"] == [{"line": 7, "text": "gc 6 @3.0s 5%: broken"}]
    assert "line 7: malformed gctrace line" in captured.err

    out = tmp_path / "report.txt"
    assert main(["gc", str(log), "--rows", "2", "-o", str(out)]) == 0
    text = out.read_text()
    assert "STW pauses" in text and "p99 1.000 ms" in text and "3 more" in text


def test_gc_command_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    not_gctrace = tmp_path / "app.log"
    not_gctrace.write_text("hello\nworld\n")
    assert main(["gc", str(not_gctrace)]) == 2
    assert main(["gc", str(tmp_path / "missing.log")]) == 2
    assert main(["gc"]) == 2
    err = capsys.readouterr().err
    assert "no gctrace lines found" in err
    # Three failures, each one line.
    assert [line.split(":")[0] for line in err.splitlines()] == ["mapguard"] * 3
    assert "cannot read" in err and "needs a gctrace file" in err


def _log(count: int, *, forced_every: int = 97) -> list[str]:
    return [_line(n, 0.25 * n, round(0.01 * (n % 13 + 1), 2), round(0.1 * (n % 7), 2),
                  10 + n % 50, 40 + n % 20, forced=n % forced_every == 0)
            for n in range(1, count + 1)]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_running_aggregates_equal_the_whole_log(cuts: list[int]) -> None:
    lines = _log(sum(cuts))
    whole = parse_gctrace("\n".join(lines))
    expected = GcSummary(
        cycles=len(whole.cycles), forced=sum(c.forced for c in whole.cycles),
        span_s=whole.cycles[-1].at_s - whole.cycles[0].at_s,
        cycles_per_s=None, gc_cpu_percent=5, gc_cpu_window_percent=None,
        pauses_ms=Distribution.of([p for c in whole.cycles for p in c.pauses_ms]),
        cycle_pause_ms=Distribution.of([sum(c.pauses_ms) for c in whole.cycles]),
        concurrent_mark_ms=Distribution.of(whole.cycles.column("concurrent_mark_ms")),
        heap_live_mb=Trend.of(whole.cycles.column("at_s"), whole.cycles.column("heap_live_mb")),
        heap_goal_mb=None, procs=4)
    aggregate = GcAggregate(rows=6)
    start = 0
    for cut in cuts:  # the log in blocks, as a stream reads it
        aggregate.add(parse_gctrace("\n".join(lines[start:start + cut])))
        start += cut
    summary = aggregate.summary()
    for field in ("cycles", "forced", "pauses_ms", "cycle_pause_ms", "concurrent_mark_ms",
                  "procs", "gc_cpu_percent"):
        assert getattr(summary, field) == getattr(expected, field), field
    assert summary.span_s == pytest.approx(expected.span_s)
    live, want = summary.heap_live_mb, expected.heap_live_mb
    assert live is not None and want is not None
    assert (live.first, live.last, live.min, live.max) == (want.first, want.last, want.min,
                                                           want.max)
    assert live.slope_per_s == pytest.approx(want.slope_per_s, abs=1e-9)
    shown, omitted = aggregate.shown
    assert [c.number for c in shown] == [c.number for c in whole.cycles][:3] + (
        [c.number for c in whole.cycles][-3:] if len(whole.cycles) > 6
        else [c.number for c in whole.cycles][3:])
    assert omitted == max(0, len(whole.cycles) - 6)


def test_memory_kept_does_not_grow_with_the_log() -> None:
    aggregate = GcAggregate(rows=10)
    block = parse_gctrace("\n".join(_log(1000) + ["gc 9 @1s 1%: broken"] * 300))
    for _ in range(50):
        aggregate.add(block)
    assert aggregate.cycles == 50_000 and aggregate.malformed_count == 15_000
    shown, omitted = aggregate.shown
    assert len(shown) == 10 and omitted == 49_990
    assert len(aggregate.malformed) == KEPT_MALFORMED
    assert len(aggregate.live_series.result(0)) <= SPARK_POINTS + 1


def test_gzip_logs_and_bombs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "gctrace.log"
    plain.write_text("\n".join(["starting", *_log(300)]) + "\n")
    packed = tmp_path / "gctrace.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    documents = []
    for log in (plain, packed):
        assert main(["gc", str(log), "--format", "json"]) == 0
        document = json.loads(capsys.readouterr().out)
        documents.append({k: v for k, v in document.items() if k != "source"})
    assert documents[0] == documents[1] and documents[0]["summary"]["cycles"] == 300
    # 64 MiB of zeros in one gzip'd "line": streamed through, skipped, refused.
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(b"\0" * (64 << 20), compresslevel=1))
    assert main(["gc", str(bomb)]) == 2
    assert "no gctrace lines found" in capsys.readouterr().err
    broken = tmp_path / "broken.gz"
    broken.write_bytes(packed.read_bytes()[:40] + b"\xff" * 40)
    assert main(["gc", str(broken)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_gc_paths_that_cannot_be_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "gctrace.log"
    log.write_text("\n".join(_log(3)) + "\n")
    latin1 = tmp_path / "latin1.log"
    latin1.write_bytes("caf\xe9 \xff".encode("latin-1") + b"\n" + log.read_bytes())
    assert main(["gc", str(latin1), "--format", "json"]) == 0  # undecodable bytes: other lines
    assert json.loads(capsys.readouterr().out)["summary"]["cycles"] == 3
    assert main(["gc", str(tmp_path / "missing" / "gctrace.log")]) == 2
    assert main(["gc", str(tmp_path)]) == 2  # a directory where the log should be
    assert main(["gc", str(log), "-o", str(tmp_path)]) == 2  # a directory to write to
    assert main(["gc", str(log), "-o", str(tmp_path / "missing" / "out.txt")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 4 and all(e.startswith("mapguard: error: ") for e in errors), errors
