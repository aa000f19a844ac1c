"""Fixtures for `mapguard respond`: payloads, a recorder command that leaves a trace, configs,
and the receiver started as a real process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# The SLO tests' process and tool fixtures, shared.
from tests.realparts import require_executable
from tests.slo.conftest import (  # noqa: F401
    alertmanager_bin,
    amtool,
    prometheus_bin,
    promtool,
)

TOKEN = "s3cret-token-for-tests-0123456789"
RECORDER = """\
#!{python}
# Appends its argument list and environment names to $TRACE (or the path baked in here).
import json, os, sys
trace = os.environ.get("TRACE") or {trace!r}
with open(trace, "a", encoding="utf-8") as out:
    out.write(json.dumps({{"argv": sys.argv, "env": sorted(os.environ)}}) + "\\n")
print("recorded", len(sys.argv) - 1, "arguments")
"""


def alert(status: str = "firing", *, fingerprint: str = "0123456789abcdef",
          starts_at: str = "2030-01-01T10:00:00Z", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "MapguardMapAllocSpike", **labels},
        "annotations": {"summary": "map allocation is up"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2030-01-01T10:05:00Z",
        "generatorURL": "http://prometheus.example/graph",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict[str, Any]) -> dict[str, Any]:
    alerts = alerts or (alert(),)
    return {
        "version": "4",
        "groupKey": '{}:{alertname="MapguardMapAllocSpike"}',
        "truncatedAlerts": 0,
        "status": alerts[0]["status"],
        "receiver": "mapguard-respond",
        "groupLabels": {"alertname": "MapguardMapAllocSpike"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "alerts": list(alerts),
    }


class Trace:
    """What the recorder command saw, one run per line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def runs(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def argvs(self) -> list[list[str]]:
        return [run["argv"][1:] for run in self.runs()]


@pytest.fixture
def trace(tmp_path: Path) -> Trace:
    return Trace(tmp_path / "trace.jsonl")


def _recording_program(path: Path, trace: Trace) -> Path:
    path.parent.mkdir(exist_ok=True)
    path.write_text(RECORDER.format(python=sys.executable, trace=str(trace.path)))
    path.chmod(0o755)
    return path


@pytest.fixture
def recorder(tmp_path: Path, trace: Trace) -> Path:
    """An executable that records how it was called into `trace`."""
    return _recording_program(tmp_path / "bin" / "record", trace)


@pytest.fixture
def fake_kubectl(tmp_path: Path, trace: Trace) -> Path:
    """A `kubectl` that records its arguments (there is no cluster here), and a kubeconfig."""
    (tmp_path / "kubeconfig").write_text("apiVersion: v1\nkind: Config\n")
    return _recording_program(tmp_path / "kubebin" / "kubectl", trace)


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (openssl)."""
    openssl = require_executable("openssl", "apt-get install openssl")
    cert, key = tmp_path / "respond.crt", tmp_path / "respond.key"
    made = subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    return cert, key


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "respond.token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "respond.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


LISTENING = re.compile(r"listening on (https?://\S+)")


def start_respond(config: Path, started: list[subprocess.Popen[bytes]], log: Path,
                  *extra: str, env: dict[str, str] | None = None,
                  timeout: float = 60) -> tuple[str, subprocess.Popen[bytes]]:
    """`mapguard respond --config CONFIG --listen 127.0.0.1:0`; its URL once it listens."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mapguard.cli", "respond", "--config", str(config),
             "--listen", "127.0.0.1:0", *extra],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )
    started.append(process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = LISTENING.search(log.read_text(errors="replace"))
        if found:
            return found.group(1), process
        if process.poll() is not None:
            raise AssertionError(f"mapguard respond exited {process.returncode}: "
                                 f"{log.read_text(errors='replace')}")
        time.sleep(0.1)
    raise AssertionError(f"mapguard respond did not listen within {timeout} s")


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
