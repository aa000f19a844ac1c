"""`--bundle DIR` on the evidence commands: each writes its evidence where the layout says, a
bad bundle directory fails at once in one line, and what was written is read back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mapguard.bundle.reader import open_bundle
from mapguard.cli import main
from mapguard.gotool import GoToolchain, run_go
from tests import pprof_samples

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TALLY = FIXTURES / "diagnose" / "tally"
BENCHSTAT = Path(__file__).resolve().parents[1] / "bench" / "testdata" / "benchstat"
GC_LOG = "".join(
    f"gc {n} @{n / 10:.3f}s 2%: 0.1+2.0+0.05 ms clock, 0.2+0.1/1.0/0.5+0.1 ms cpu, "
    "4->5->2 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P\n" for n in range(1, 9))
ESCAPE_LOG = "./main.go:21:16: make(map[string]int) escapes to heap\n"


def _profile(path: Path) -> Path:
    frames = [("main.tally", str(TALLY / "main.go"), 24, 0x401000)]
    path.write_bytes(pprof_samples.build(
        [("alloc_objects", "count"), ("alloc_space", "bytes"), ("inuse_objects", "count"),
         ("inuse_space", "bytes")],
        [pprof_samples.Stack(frames, [10, 4096, 0, 0], size=4096)], default="alloc_space"))
    return path


def _commands(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (arguments before --bundle, the file it writes)."""
    gc_log = tmp_path / "gc.log"
    gc_log.write_text(GC_LOG)
    escape_log = tmp_path / "build.log"
    escape_log.write_text(ESCAPE_LOG)
    return {
        "lint": (["lint", str(TALLY) + "/..."], "lint/v1.json"),
        "gc": (["gc", str(gc_log)], "gc/v1.json"),
        "escape": (["escape", str(TALLY), "--from", str(escape_log)], "escape/v1.json"),
        "profile": (["profile", str(_profile(tmp_path / "allocs.pb.gz")), "--source",
                     str(TALLY)], "profiles/v1.allocs.pb.gz"),
        "bench": (["bench", "compare", str(BENCHSTAT / "crc-old.txt"),
                   str(BENCHSTAT / "crc-new.txt")], "bench/v1.json"),
    }


@pytest.mark.parametrize("name", ["lint", "gc", "escape", "profile", "bench"])
def test_each_command_writes_its_evidence(tmp_path: Path, name: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    args, written = _commands(tmp_path)[name]
    bundle = tmp_path / "bundle"
    status = main([*args, "--bundle", str(bundle), "--label", "v1"])
    assert status in (0, 1), capsys.readouterr().err
    assert (bundle / written).is_file()
    (entry,) = open_bundle(bundle).entries
    assert entry.label == "v1" and entry.name == written
    if written.endswith(".json"):
        assert json.loads((bundle / written).read_text())["version"] == 1


def test_a_profile_saved_with_its_source_is_diagnosed(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    bundle = tmp_path / "bundle"
    for name in ("lint", "profile", "gc"):
        args, _ = _commands(tmp_path)[name]
        main([*args, "--bundle", str(bundle), "--label", "v1"])
    capsys.readouterr()
    assert main(["diagnose", "--bundle", str(bundle), "--format", "json"]) == 1
    (diagnosis,) = json.loads(capsys.readouterr().out)["diagnoses"]
    (cause,) = diagnosis["causes"]
    assert cause["cause"] == "map-grown-per-call" and cause["site"]["line"] == 21


@pytest.mark.parametrize("name", ["lint", "gc", "escape", "profile", "bench"])
def test_bad_bundle_directories(tmp_path: Path, name: str,
                                capsys: pytest.CaptureFixture[str]) -> None:
    args, _ = _commands(tmp_path)[name]
    (tmp_path / "file").write_text("")
    for bundle, said in ((tmp_path / "missing" / "b", "does not exist"),
                         (tmp_path / "file", "not a directory")):
        assert main([*args, "--bundle", str(bundle)]) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err
    assert main([*args, "--bundle", str(tmp_path / "b"), "--label", "../x"]) == 2
    assert "--label" in capsys.readouterr().err


def test_an_unwritable_bundle_as_another_user(tmp_path: Path, nobody: int) -> None:
    shared = Path(tempfile.mkdtemp(prefix="mapguard-test-bundle-"))
    try:
        shared.chmod(0o755)  # others may enter but not write
        log = shared / "gc.log"
        log.write_text(GC_LOG)
        log.chmod(0o644)
        child = subprocess.run(
            [sys.executable, "-c", "import sys; from mapguard.cli import main; "
             "sys.exit(main(['gc', sys.argv[1], '--bundle', sys.argv[2]]))", str(log),
             str(shared / "bundle")],
            capture_output=True, text=True, timeout=120, user=nobody, group=nobody,
            env={**os.environ, "HOME": "/tmp"})
        assert child.returncode == 2
        assert "cannot create: Permission denied" in child.stderr
        assert "Traceback" not in child.stderr
    finally:
        shutil.rmtree(shared)


@pytest.mark.slow
def test_trace_writes_its_summary(go_toolchain: GoToolchain, tmp_path: Path) -> None:
    binary = tmp_path / "tracefixture"
    proc = run_go(["build", "-o", str(binary), "."], cwd=FIXTURES / "trace",
                  toolchain=go_toolchain)
    assert proc.returncode == 0, proc.stderr
    trace = tmp_path / "trace.out"
    subprocess.run([str(binary), str(trace), "3"], check=True, timeout=120, capture_output=True)
    assert main(["trace", str(trace), "--bundle", str(tmp_path / "b"), "--label", "t"]) == 0
    document = json.loads((tmp_path / "b" / "trace" / "t.json").read_text())
    assert document["version"] == 1 and document["gc_cycles"]
