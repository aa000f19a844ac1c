"""Run Prometheus' and Alertmanager's own checkers on what mapguard writes.

`promtool check rules`, `promtool test rules` and `amtool check-config` are the
judges; mapguard only runs them (list arguments, timeouts) and reports their verdict.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mapguard.errors import ToolError

INSTALL_HINT = {
    "promtool": "install Prometheus (Debian: apt-get install prometheus)",
    "amtool": "install Alertmanager (Debian: apt-get install prometheus-alertmanager)",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    tool: str
    ok: bool
    output: str

    @property
    def summary(self) -> str:
        return f"{self.tool}: {'ok' if self.ok else 'FAILED'}"


def find(tool: str) -> str | None:
    return shutil.which(tool)


def require(tool: str) -> str:
    path = find(tool)
    if path is None:
        raise ToolError(f"{tool} not found: {INSTALL_HINT.get(tool, 'install it')}")
    return path


def _run(tool: str, args: Sequence[str], timeout: float) -> Verdict:
    command = [require(tool), *args]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"`{tool} {' '.join(args)}` did not finish within {timeout:.0f} s") \
            from None
    except OSError as exc:
        raise ToolError(f"cannot run {tool}: {exc.strerror}") from None
    return Verdict(f"{tool} {args[0]} {args[1]}", proc.returncode == 0,
                   (proc.stdout + proc.stderr).strip())


def check_rules(*paths: Path, timeout: float = 120) -> Verdict:
    # No lint: its duplicate-rules check flags alerts that share a name and labels across SLOs
    # (as Sloth writes them: the SLO series tell them apart), which promtool itself accepts.
    return _run("promtool", ["check", "rules", "--lint=none", *map(str, paths)], timeout)


def check_alertmanager(path: Path, timeout: float = 60) -> Verdict:
    return _run("amtool", ["check-config", str(path)], timeout)


def run_rule_tests(path: Path, *, jobs: int = 0, timeout: float = 1800) -> Verdict:
    """`promtool test rules`, with the test groups spread over `jobs` processes (0: one per CPU).

    promtool runs groups one after another; splitting the file keeps long suites short.
    """
    document: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    tests = document.get("tests", []) if isinstance(document, dict) else []
    workers = max(1, min(len(tests), jobs or _cpus()))
    if workers <= 1:
        return _run("promtool", ["test", "rules", str(path)], timeout)
    rule_files = [str((path.parent / f).resolve()) for f in document.get("rule_files", [])]
    with tempfile.TemporaryDirectory(prefix="mapguard-promtool-") as tmp:
        chunks = []
        for index in range(workers):
            chunk = {**document, "rule_files": rule_files, "tests": tests[index::workers]}
            chunk_path = Path(tmp) / f"tests-{index}.yml"
            chunk_path.write_text(yaml.safe_dump(chunk, sort_keys=False), encoding="utf-8")
            chunks.append(chunk_path)
        with ThreadPoolExecutor(workers) as pool:
            verdicts = list(pool.map(
                lambda p: _run("promtool", ["test", "rules", str(p)], timeout), chunks
            ))
    return Verdict("promtool test rules", all(v.ok for v in verdicts),
                   "\n".join(v.output for v in verdicts if not v.ok))


def _cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
