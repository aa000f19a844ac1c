"""The CI recipes of docs/gate.md, run as written: the GitHub Actions job's `run:` steps and the
GitLab job's script go to bash with the variables those CIs set, in a clone of a Go module on a
change branch. The steps that set a runner up (checkout, setup-go, installing mapguard) are the
CI's own and not run here; everything that calls mapguard, git or Go is."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.gate.test_gate_go import (
    BENCH_TEST,
    FIXED,
    GO_MOD,
    LINT_CONFIG,
    REBUILT_PER_PASS,
    _git,
)
from tests.realparts import require_executable

pytestmark = pytest.mark.slow

GATE_DOC = Path(__file__).resolve().parents[2] / "docs" / "gate.md"
SETUP_ONLY = ("pip install", "apt-get", "python3 -m venv", "export PATH")


def _recipe(heading: str) -> dict[str, Any]:
    text = GATE_DOC.read_text()
    start = text.index(f"\n## {heading}\n")
    block = re.search(r"```yaml\n(.*?)```", text[start:], re.DOTALL)
    assert block is not None
    document = yaml.safe_load(block[1])
    assert isinstance(document, dict)
    return document


def _clone(tmp_path: Path, change: str) -> Path:
    """A clone whose origin has the fixed code on main, on a branch that changes svc.go."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "go.mod").write_text(GO_MOD)
    (upstream / "svc.go").write_text(FIXED)
    (upstream / "svc_test.go").write_text(BENCH_TEST)
    (upstream / ".mapguard.toml").write_text(LINT_CONFIG)  # MG001 on, for lint and the gate
    _git(upstream, "init", "-q", "-b", "main")
    _git(upstream, "add", "-A")
    _git(upstream, "commit", "-q", "-m", "fixed")
    _git(tmp_path, "clone", "-q", str(upstream), "work")
    work = tmp_path / "work"
    _git(work, "checkout", "-q", "-b", "change")
    (work / "svc.go").write_text(change)
    _git(work, "commit", "-q", "--allow-empty", "-am", "change")
    return work


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    # `mapguard` on PATH is this checkout's, as the recipe's install step would provide.
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            **extra}


@pytest.mark.parametrize(("change", "status"), [(FIXED, 0), (REBUILT_PER_PASS, 1)],
                         ids=["fixed", "regression"])
def test_the_github_actions_recipe(tmp_path: Path, change: str, status: int) -> None:
    require_executable("git", "apt-get install git")
    work = _clone(tmp_path, change)
    runner = tmp_path / "runner"
    runner.mkdir()
    summary = tmp_path / "step-summary.md"
    env = _env(tmp_path, RUNNER_TEMP=str(runner), GITHUB_STEP_SUMMARY=str(summary))
    (job,) = _recipe("GitHub Actions")["jobs"].values()
    steps = [step for step in job["steps"] if "run" in step
             and not any(setup in step["run"] for setup in SETUP_ONLY)]
    assert [step["name"] for step in steps] == ["benchmarks of the base and of the change",
                                               "mapguard gate"]
    for step in steps:
        script = step["run"].replace("${{ github.base_ref }}", "main")
        assert "${{" not in script, script
        proc = _bash(script, work, env)
        want = status if step["name"] == "mapguard gate" else 0
        assert proc.returncode == want, (step["name"], proc.stdout, proc.stderr)
    assert (runner / "old.txt").read_text().count("BenchmarkCount") == 6
    upload = next(step for step in job["steps"] if "upload-sarif" in step.get("uses", ""))
    (run,) = json.loads((work / upload["with"]["sarif_file"]).read_text())["runs"]
    table = summary.read_text()
    if status:
        # The map made per pass is also on the heap now (made in a loop, kept outside it).
        assert sorted(r["ruleId"] for r in run["results"]) == ["MG001", "new-heap-map"]
        assert "| `svc.go:17` | MG001 " in table and "| escape | ❌ fail |" in table
    else:
        assert run["results"] == [] and "mapguard gate passed" in table


def test_the_gitlab_ci_recipe(tmp_path: Path) -> None:
    require_executable("git", "apt-get install git")
    work = _clone(tmp_path, REBUILT_PER_PASS)
    job = _recipe("GitLab CI")["mapguard-gate"]
    assert job["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    env = _env(tmp_path, CI_PIPELINE_SOURCE="merge_request_event",
               CI_MERGE_REQUEST_TARGET_BRANCH_NAME="main", **job["variables"])
    lines = [line for line in job["before_script"] + job["script"]
             if not any(setup in line for setup in SETUP_ONLY)]
    assert lines[0].startswith("git fetch origin") and lines[-1].startswith("mapguard gate")
    proc = _bash("\n".join(lines), work, env)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "MG001" in proc.stdout
    for artifact in job["artifacts"]["paths"]:
        assert (work / artifact).stat().st_size > 0, artifact
    assert "MG001" in (work / "gl-mapguard.sarif").read_text()
