"""`lint --profile` without building Go: table sizes read back from growth allocations, the
join of findings with synthetic profiles, and bad --profile input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.evidence.tablesize import Layout, allocation_size, reached
from mapguard.goversion import NEWEST_KNOWN
from mapguard.lint.measured import apply_evidence
from mapguard.lint.profiled import load_evidence
from mapguard.source.discover import PackageDir, SourceFile
from mapguard.source.loader import VersionChoice, load_packages
from mapguard.source.typeinfo import TypeInfo
from mapguard.source.types import Named
from mapguard.source.typesize import has_pointers, size_of
from tests.pprof_samples import Stack, build

from .conftest import WriteModule, lint_dir

# Growth allocations of real maps (Go 1.27, MemProfileRate = 1): object size -> bytes.
# map[string]int grown to 60 entries; sizes past 512 bytes carry the 8-byte malloc header.
STRING_INT_60 = {8: 8, 16: 176, 32: 128, 208: 208, 416: 416, 896: 896, 1792: 1792, 3456: 3456}
# map[int]bool grown to 400 entries (no pointers: no header), sampled at the default rate.
INT_BOOL_400 = {32: 1572896, 288: 3670920, 576: 4720896, 1152: 7346880, 2304: 18912000,
                4864: 45293568, 9472: 101031424}
# map[string]int grown to 60 entries by Go 1.19: buckets (B = 4, plus an overflow bucket).
STRING_INT_60_GO119 = {16: 176, 24: 24, 208: 416, 416: 416, 896: 896, 1792: 1792, 4096: 4096}
STRING_INT = Layout((16, 8), (8, 8), pointers=True)


def test_swiss_capacity_from_the_largest_table() -> None:
    found = reached(STRING_INT_60, STRING_INT)
    assert found is not None and found.layout == "swiss"
    assert (found.slots, found.fewest_entries, found.most_entries) == (128, 57, 112)
    found = reached(INT_BOOL_400, Layout((8, 8), (1, 1), pointers=False))
    assert found is not None and (found.slots, found.most_entries) == (512, 448)


def test_old_buckets_are_told_from_swiss_tables_by_their_sizes() -> None:
    found = reached(STRING_INT_60_GO119, STRING_INT)
    assert found is not None and found.layout == "buckets"
    assert (found.fewest_entries, found.most_entries) == (53, 104)


def test_split_tables_counted_from_the_largest_size() -> None:
    """Past 1024 slots a full table splits in two: per map one 1024-slot table from the last
    doubling and two more per split; against the one 512-slot table, three 1024-slot
    tables mean one split: two tables, 2048 slots."""
    layout = Layout((8, 8), (1, 1), pointers=False)
    half, full = allocation_size(64 * 136, False), allocation_size(128 * 136, False)
    found = reached({half: 100 * half, full: 300 * full}, layout)
    assert found is not None and (found.tables, found.slots, found.most_entries) == (2, 2048, 1792)


def test_unknown_layout_is_inferred_or_refused() -> None:
    found = reached(STRING_INT_60, None)
    assert found is not None and found.slots == 128
    assert reached({12345: 100}, None) is None  # no table series explains it
    assert reached({}, STRING_INT) is None


def test_allocation_header_only_for_small_pointerful_objects() -> None:
    assert allocation_size(3200, True) == 3456 and allocation_size(3200, False) == 3200
    assert allocation_size(400, True) == 416
    assert allocation_size(40000, True) == allocation_size(40000, False)


def test_type_sizes_follow_go_layout(write_module: WriteModule) -> None:
    root = write_module({"t.go": """
        package t

        type hit struct {
            user, path string
            status     int
        }
        type flags struct {
            a bool
            b int32
            c bool
        }
        type ID int64
        type other = [4]int
        """})
    files = (SourceFile(root / "t.go", (root / "t.go").read_bytes()),)
    packages, _ = load_packages(PackageDir(root, files),
                                lambda _m: VersionChoice(NEWEST_KNOWN, "default"))
    info = TypeInfo(packages[0])
    assert size_of(Named("", "hit"), info) == (40, 8)
    assert size_of(Named("", "flags"), info) == (12, 4)
    assert size_of(Named("", "ID"), info) == (8, 8)
    assert size_of(Named("", "other"), info) is None  # array lengths are not kept: unknown
    assert has_pointers(Named("", "hit"), info) is True
    assert has_pointers(Named("", "flags"), info) is False
    assert size_of(Named("example.com/x", "T"), info) is None


PROGRAM = {
    "report.go": """
        package report

        type hit struct{ user, path string }

        func byPath(hits []hit) map[string]hit {
            index := make(map[string]hit)
            for _, h := range hits {
                index[h.path] = h
            }
            return index
        }

        func byUser(hits []hit) map[string]hit {
            index := make(map[string]hit)
            for _, h := range hits {
                index[h.user] = h
            }
            return index
        }
        """,
    "other/other.go": """
        package other

        type hit struct{ user string }

        func byUser(hits []hit) map[string]hit {
            index := make(map[string]hit)
            for _, h := range hits {
                index[h.user] = h
            }
            return index
        }
        """,
}


def _allocs(root: Path, stacks: list[Stack]) -> Path:
    path = root / "allocs.pb.gz"
    path.write_bytes(build([("alloc_objects", "count"), ("alloc_space", "bytes"),
                            ("inuse_objects", "count"), ("inuse_space", "bytes")], stacks,
                           default="inuse_space"))
    return path


def _frame(root: Path, function: str, line: int, address: int) -> tuple[str, str, int, int]:
    return (f"example.com/mod.{function}", str(root / "report.go"), line, address)


def test_join_ranks_and_demotes_by_the_profile(write_module: WriteModule) -> None:
    root = write_module(PROGRAM)
    main_frame = ("main.main", "/build/main.go", 3, 0x900)
    profile = _allocs(root, [
        Stack([_frame(root, "byPath", 8, 0x100), main_frame], [100, 9_000_000, 0, 0], 4096),
        Stack([_frame(root, "byUser", 16, 0x200), main_frame], [1, 4096, 0, 0], 4096),
    ])
    evidence = load_evidence(str(profile), root, 0.01)
    result = apply_evidence(lint_dir(root), evidence)
    mg002 = [(f.path.name, f.line, f.measured) for f in result.findings if f.rule == "MG002"]
    assert [(name, line) for name, line, _ in mg002] == [
        ("report.go", 6), ("other.go", 6), ("report.go", 14)]
    hot, unprofiled, cold = (m for _, _, m in mg002)
    assert hot is not None and hot.status == "measured" and not hot.demoted
    assert hot.value == 9_000_000 and hot.lines == (6, 8)
    assert cold is not None and cold.demoted and cold.value == 4096
    # No samples at all in that package: the profile does not judge it.
    assert unprofiled is not None and unprofiled.status == "not-profiled"
    assert not unprofiled.demoted
    assert result.failing == tuple(f for f in result.findings if f.line != 14)


@pytest.fixture
def module(write_module: WriteModule, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_module(PROGRAM)
    monkeypatch.chdir(root)
    return root


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["lint", "--no-cache", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_text_report_says_the_threshold_and_the_cold(module: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    main_frame = ("main.main", "/build/main.go", 3, 0x900)
    profile = _allocs(module, [
        Stack([_frame(module, "byPath", 8, 0x100), main_frame], [100, 9_000_000, 0, 0], 4096),
        Stack([_frame(module, "byUser", 16, 0x200), main_frame], [1, 4096, 0, 0], 4096)])
    status, out, _ = _run(["--profile", str(profile), "./..."], capsys)
    assert status == 1
    assert "hot from 1% of alloc_space" in out
    assert "cold in the profile (below 1% of alloc_space)" in out
    assert "measured: 8.6 MiB (100.0% of alloc_space)" in out
    # MG002 is off by default and runs here on the profile's evidence: other.go, which the
    # profile cannot judge, does not count either. Asked for by name, it counts there.
    assert "2 demoted as cold in the profile" in out
    assert "off by default, counted only where hot" in out
    status, out, _ = _run(["--profile", str(profile), "--extend-select", "MG002", "./..."],
                          capsys)
    assert status == 1 and "1 demoted as cold in the profile" in out
    assert "off by default, counted only where hot" not in out
    # Speed advice the profile demotes does not fail the run: here every site is cold.
    elsewhere = _allocs(module, [
        Stack([_frame(module, "byPath", 10, 0x300), main_frame], [1, 9_000_000, 0, 0], 64),
        Stack([_frame(module, "byPath", 8, 0x100), main_frame], [1, 4096, 0, 0], 4096)])
    status, out, _ = _run(["--profile", str(elsewhere), "./report.go", "--format", "json"],
                          capsys)
    document = json.loads(out)
    assert status == 0 and len(document["findings"]) == 2
    assert all(f["measured"]["demoted"] for f in document["findings"])


@pytest.mark.parametrize("problem", ["missing", "directory", "garbage", "mutex"])
def test_bad_profile_is_one_line_and_status_2(module: Path, problem: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    target = module / "profile.pb.gz"
    if problem == "directory":
        target.mkdir()
    elif problem == "garbage":
        target.write_bytes(b"\xff\xfe not a profile \x00\x81")
    elif problem == "mutex":
        target.write_bytes(build([("contentions", "count"), ("delay", "nanoseconds")], [
            Stack([("sync.(*Mutex).Unlock", "/go/src/sync/mutex.go", 1, 0x10)], [1, 100])]))
    status, out, err = _run(["--profile", str(target), "./..."], capsys)
    assert status == 2 and out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "profile.pb.gz" in lines[0], err
    assert "Traceback" not in err


def test_hot_share_needs_a_profile(module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = _run(["--hot-share", "2", "./..."], capsys)
    assert status == 2 and "--hot-share needs --profile" in err
    status, _, err = _run(["--hot-share", "0", "--profile", "x", "./..."], capsys)
    assert status == 2 and "--hot-share" in err
