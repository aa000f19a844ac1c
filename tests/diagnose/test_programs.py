"""Diagnoses of real Go programs: a program with a planted cause that no lint rule reports (a map
made per call and grown in the hot path) is still found, from its allocation profile and the
source, and its site is the line where the fix goes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.gotool import GoToolchain, run_go

pytestmark = pytest.mark.slow

TALLY = Path(__file__).resolve().parents[1] / "fixtures" / "diagnose" / "tally"
MAKE_LINE, INSERT_LINE = 21, 24  # of tally/main.go


def test_a_cause_without_a_lint_finding_is_found_from_the_profile(
        go_toolchain: GoToolchain, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "counts := make(map[string]int)" in (TALLY / "main.go").read_text().splitlines()[
        MAKE_LINE - 1]
    binary = tmp_path / "tally"
    proc = run_go(["build", "-o", str(binary), "."], cwd=TALLY, toolchain=go_toolchain)
    assert proc.returncode == 0, proc.stderr
    bundle = tmp_path / "bundle"
    profiles = bundle / "profiles"
    profiles.mkdir(parents=True)
    gc = bundle / "gc"
    gc.mkdir()
    run = subprocess.run([str(binary), "-profile", str(profiles / "tally.allocs.pb.gz"),
                          "-calls", "20000"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GODEBUG": "gctrace=1"})
    assert run.returncode == 0, run.stderr
    (gc / "tally.log").write_text(run.stderr)
    # The lint evidence, written by lint itself: it finds nothing.
    assert main(["lint", str(TALLY) + "/...", "--bundle", str(bundle), "--label",
                 "tally"]) == 0
    capsys.readouterr()

    assert main(["diagnose", "--bundle", str(bundle), "--source", str(TALLY), "--format",
                 "json"]) == 1
    (diagnosis,) = json.loads(capsys.readouterr().out)["diagnoses"]
    first = diagnosis["causes"][0]
    assert first["cause"] == "map-grown-per-call" and first["rule"] is None
    assert (first["site"]["file"], first["site"]["line"]) == ("main.go", MAKE_LINE)
    assert first["confidence"] == "medium"  # measured and read from the source, no rule
    assert {(s["line"], s["op"]) for s in first["measured_sites"]} >= {(INSERT_LINE, "grow")}
    assert first["cost"]["share"] > 0.5 and first["cost"]["gc_cpu_percent"] is not None
    kinds = {e["kind"] for e in first["evidence"]}
    assert kinds == {"source", "allocs"}
    assert "lint the code" not in " ".join(diagnosis["next_steps"])  # the bundle has lint

    # Without --source the profile's own paths are read (built on this machine): same answer.
    assert main(["diagnose", "--bundle", str(bundle), "--format", "json"]) == 1
    (again,) = json.loads(capsys.readouterr().out)["diagnoses"]
    assert again["causes"][0]["cause"] == "map-grown-per-call"
    assert again["causes"][0]["site"]["line"] == MAKE_LINE
