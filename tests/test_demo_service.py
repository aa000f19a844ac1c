"""The demo service shipped in the package (src/mapguard/data/demo): both versions build, serve
decisions, and the fixed one is clean under the race detector."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

import mapguard
from mapguard.gotool import GoToolchain, run_go

DEMO = Path(mapguard.__file__).parent / "data" / "demo"
LISTENING = re.compile(r"riskd listening on (\S+)")
DECIDE_BODY = {
    "tenant": "acme",
    "subject": "user-42",
    "attributes": {"amount": 6000, "country": "NG", "device": "emulator-x86"},
}

pytestmark = pytest.mark.slow


def _build(go: GoToolchain, version: str, tmp_path: Path) -> tuple[Path, Path]:
    """Copy one version out of the package and build the service and the load generator."""
    src = tmp_path / version
    shutil.copytree(DEMO / version, src)
    server, load = tmp_path / f"riskd-{version}", tmp_path / f"load-{version}"
    for output, package in ((server, "."), (load, "./cmd/load")):
        proc = run_go(["build", "-o", str(output), package], cwd=src, toolchain=go, timeout=300)
        assert proc.returncode == 0, proc.stderr
    return server, load


def _start(server: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [str(server), "-addr", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the service prints its bound address first
    match = LISTENING.search(line)
    if match is None:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"riskd did not start: {line!r} {err}")
    return proc, f"http://{match.group(1)}"


def _request(url: str, body: dict[str, object] | None = None) -> tuple[int, str, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), resp.read()


@pytest.mark.parametrize("version", ["before", "after"])
def test_demo_serves_decisions(version: str, go_toolchain: GoToolchain, tmp_path: Path) -> None:
    server, load = _build(go_toolchain, version, tmp_path)
    proc, base = _start(server)
    try:
        status, ctype, payload = _request(f"{base}/decide", DECIDE_BODY)
        assert status == 200
        assert ctype.startswith("application/json")
        decision = json.loads(payload)
        assert decision["decision"] == "deny"
        assert decision["top_rule"] == "device_emulator"
        assert decision["cached"] is False

        assert json.loads(_request(f"{base}/healthz")[2])["status"] == "ok"
        assert _request(f"{base}/debug/pprof/")[0] == 200

        driven = subprocess.run(
            [str(load), "-target", base, "-n", "300", "-c", "4", "-duration", "30s"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert driven.returncode == 0, driven.stdout + driven.stderr
        assert "requests=300 failed=0" in driven.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, out + err
    assert "stopped" in out


def test_after_handlers_are_race_free(go_toolchain: GoToolchain, tmp_path: Path) -> None:
    src = tmp_path / "after"
    shutil.copytree(DEMO / "after", src)
    proc = run_go(
        ["test", "-race", "-count=1", "./internal/risk/"],
        cwd=src,
        toolchain=go_toolchain,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DATA RACE" not in proc.stdout + proc.stderr
