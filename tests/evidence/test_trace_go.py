"""Real execution traces from a Go program (fixtures/trace), read with the same toolchain."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.errors import InputError
from mapguard.evidence.trace_run import check_trace_version, summarize_trace_file
from mapguard.evidence.tracesummary import TraceSummarizer, TraceSummary
from mapguard.formats.trace import parse_parsed_events
from mapguard.gotool import GoToolchain, run_go
from mapguard.goversion import GoVersion

FIXTURE = Path(__file__).parent.parent / "fixtures" / "trace"
FORCED_GCS = 3

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def trace_file(go_toolchain: GoToolchain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tracefixture")
    binary = directory / "tracefixture"
    proc = run_go(["build", "-o", str(binary), "."], cwd=FIXTURE, toolchain=go_toolchain)
    assert proc.returncode == 0, proc.stderr
    path = directory / "trace.out"
    subprocess.run([str(binary), str(path), str(FORCED_GCS)], check=True, timeout=120)
    return path


def test_header_names_the_toolchains_format(trace_file: Path, go_toolchain: GoToolchain) -> None:
    head = trace_file.read_bytes()[:16]
    minor = int(head.split(b" ")[1].split(b".")[1])
    # A toolchain writes the newest format it knows, named after the release that introduced it.
    assert 22 <= minor <= go_toolchain.version.minor


def test_summary_of_a_real_trace(trace_file: Path, go_toolchain: GoToolchain) -> None:
    result = summarize_trace_file(trace_file, toolchain=go_toolchain, points=50)
    summary = result.summary
    assert result.error is None and result.toolchain is None  # read without Go
    # At least the forced collections; each complete cycle stops the world twice.
    assert len(summary.gc_cycles) >= FORCED_GCS
    gc_pauses = [p for p in summary.stw if p.reason.startswith("GC")]
    assert all(p.gc_cycle is not None for p in gc_pauses)
    complete = [c for c in summary.gc_cycles if c.duration_ns is not None]
    assert len(complete) >= FORCED_GCS
    for cycle in complete:
        reasons = sorted(p.reason for p in gc_pauses if p.gc_cycle == cycle.index)
        assert reasons == ["GC mark termination", "GC sweep termination"]
    for cycle in complete:
        assert cycle.duration_ns is not None and cycle.mark_ns is not None
        assert 0 < cycle.stw_ns < cycle.duration_ns
        assert cycle.mark_ns <= cycle.duration_ns
    assert any(p.reason == "start trace" for p in summary.stw)
    assert summary.gomaxprocs is not None and summary.gomaxprocs >= 1
    assert 0 < len(summary.heap) <= 51 and max(v for _, v in summary.heap) > 1 << 20
    assert summary.heap_goal and summary.goroutines
    # The four workers were alive at once, besides main.
    assert max(v for _, v in summary.goroutines) >= 5
    times = [t for t, _ in summary.heap]
    assert times == sorted(times) and times[-1] <= summary.duration_ns


def test_cli_json(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", str(trace_file), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["version"] == 1
    assert document["trace"]["complete"] is True
    assert document["summary"]["gc_cycles"] == len(document["gc_cycles"]) >= FORCED_GCS
    assert document["summary"]["stw_pauses"] == len(document["stw"])
    assert {"GC mark termination", "GC sweep termination"} <= set(
        document["summary"]["stw_by_reason_ms"])
    assert main(["trace", str(trace_file)]) == 0
    assert "Stop-the-world pauses by reason" in capsys.readouterr().out


def test_text_format_is_the_one_this_parser_knows(trace_file: Path,
                                                  go_toolchain: GoToolchain) -> None:
    # Pins the parser to the toolchain in use: every event line of its output must be understood.
    proc = run_go(["tool", "trace", "-d=parsed", str(trace_file)], toolchain=go_toolchain)
    assert proc.returncode == 0, proc.stderr
    events = list(parse_parsed_events(proc.stdout.splitlines(), "parsed"))
    summary = TraceSummarizer().add_all(events).result()
    assert summary.events == len(events) > 100


def _via_go(trace_file: Path, go_toolchain: GoToolchain) -> TraceSummary:
    proc = run_go(["tool", "trace", "-d=parsed", str(trace_file)], toolchain=go_toolchain)
    assert proc.returncode == 0, proc.stderr
    return TraceSummarizer(points=50).add_all(
        parse_parsed_events(proc.stdout.splitlines(), "parsed")).result()


def test_reading_the_wire_format_agrees_with_go_tool_trace(
        trace_file: Path, go_toolchain: GoToolchain) -> None:
    ours = summarize_trace_file(trace_file, points=50).summary
    go = _via_go(trace_file, go_toolchain)
    # Events of different Ps can carry one timestamp. go tool trace puts them in an order of its
    # own and moves each tie 1 ns later; our reader may take the same events in the other order.
    # Durations can then differ by a nanosecond or two, and a timeline point can show the other
    # of two simultaneous values (a heap size one P reported, or a one-goroutine transient).
    assert [(c.index, c.began_before_trace) for c in ours.gc_cycles] \
        == [(c.index, c.began_before_trace) for c in go.gc_cycles]
    for mine_cycle, their_cycle in zip(ours.gc_cycles, go.gc_cycles, strict=True):
        for field in ("duration_ns", "mark_ns"):
            mine_ns, their_ns = getattr(mine_cycle, field), getattr(their_cycle, field)
            assert (mine_ns is None) == (their_ns is None)
            assert mine_ns is None or abs(mine_ns - their_ns) <= 2
    assert [(p.reason, p.gc_cycle) for p in ours.stw] == [(p.reason, p.gc_cycle) for p in go.stw]
    for mine, theirs in zip(ours.stw, go.stw, strict=True):
        assert abs(mine.duration_ns - theirs.duration_ns) <= 2
    # (series, largest difference allowed at a point: share of the value, or goroutines)
    for name, share, goroutines in (("heap", 0.01, 0), ("heap_goal", 0.0, 0),
                                    ("goroutines", 0.0, 1), ("runnable", 0.0, 1)):
        mine_values = [v for _, v in getattr(ours, name)]
        their_values = [v for _, v in getattr(go, name)]
        assert len(mine_values) == len(their_values), name
        differ = [(m, t) for m, t in zip(mine_values, their_values, strict=True) if m != t]
        assert len(differ) <= len(mine_values) // 5, (name, differ)
        assert all(abs(m - t) <= max(share * t, goroutines) for m, t in differ), (name, differ)
    assert ours.gomaxprocs == go.gomaxprocs
    assert abs(ours.duration_ns - go.duration_ns) < 1_000_000


def test_a_trace_with_only_its_header_is_an_input_error(
        trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    header_only = tmp_path / "header.out"
    header_only.write_bytes(trace_file.read_bytes()[:16])
    assert main(["trace", str(header_only)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no events" in err


def test_other_version_and_broken_traces(trace_file: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = trace_file.read_bytes()
    newer = tmp_path / "newer.out"
    newer.write_bytes(b"go 1.99 trace\x00\x00\x00" + data[16:])
    older = tmp_path / "older.out"
    older.write_bytes(b"go 1.19 trace\x00\x00\x00" + data[16:])
    truncated = tmp_path / "truncated.out"
    truncated.write_bytes(data[: len(data) // 3])
    not_trace = tmp_path / "profile.pb.gz"
    not_trace.write_bytes(b"\x1f\x8b\x08\x00garbage")
    for path in (newer, older, truncated, not_trace, tmp_path / "missing.out"):
        assert main(["trace", str(path)]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 5 and all(line.startswith("mapguard: error: ") for line in errors)
    assert "Go 1.99" in errors[0] and "go1." in errors[0]
    assert "Go 1.19" in errors[1]


def test_version_check_names_both_versions(go_toolchain: GoToolchain) -> None:
    old = GoToolchain(go_toolchain.go, go_toolchain.goroot, GoVersion(1, 23), "go1.23.4", "PATH")
    check_trace_version(23, old, "t.out")
    check_trace_version(22, old, "t.out")
    with pytest.raises(InputError, match=r"Go 1\.25 .*go1\.23\.4"):
        check_trace_version(25, old, "t.out")
