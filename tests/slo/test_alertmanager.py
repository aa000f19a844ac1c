"""Alertmanager: the generated configuration is valid, routes by tier, and pages inhibit tickets."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from mapguard.slo.alertmanager import render_alertmanager
from mapguard.slo.spec import load_specs

from .conftest import MAPGUARD_SPEC, SLOTH_SPEC, free_port, wait_until_ready


@pytest.fixture
def am_config(tmp_path: Path) -> Path:
    path = tmp_path / "am.yml"
    path.write_text(render_alertmanager(load_specs([MAPGUARD_SPEC])))
    return path


def test_amtool_accepts_the_configuration(amtool: str, am_config: Path) -> None:
    proc = subprocess.run([amtool, "check-config", str(am_config)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 inhibit rules" in proc.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["mapguard_tier=page", "mapguard_slo_id=checkout-availability"], "mapguard-page"),
        (["mapguard_tier=ticket", "mapguard_guard=gc_pause"], "mapguard-ticket"),
        (["alertname=Watchdog"], "mapguard-default"),
    ],
)
def test_routes_by_tier(amtool: str, am_config: Path, labels: list[str], receiver: str) -> None:
    proc = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={am_config}", *labels],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.stdout.strip() == receiver, proc.stdout + proc.stderr


@pytest.mark.slow
def test_a_firing_page_inhibits_the_ticket_of_the_same_slo(
    alertmanager_bin: str, am_config: Path, tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    processes.append(subprocess.Popen(
        [alertmanager_bin, f"--config.file={am_config}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))
    wait_until_ready(f"{url}/-/ready", processes[-1])

    def alert(name: str, tier: str, slo_id: str) -> dict[str, object]:
        return {"labels": {"alertname": name, "mapguard_tier": tier, "mapguard_slo_id": slo_id}}

    response = httpx.post(f"{url}/api/v2/alerts", json=[
        alert("CheckoutAvailabilityPage", "page", "checkout-availability"),
        alert("CheckoutAvailabilityTicket", "ticket", "checkout-availability"),
        alert("CheckoutLatencyTicket", "ticket", "checkout-latency"),
    ], timeout=10)
    assert response.status_code == 200
    deadline = time.monotonic() + 20
    while True:
        states = {a["labels"]["alertname"]: a["status"]
                  for a in httpx.get(f"{url}/api/v2/alerts", timeout=10).json()}
        if len(states) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert states["CheckoutAvailabilityTicket"]["inhibitedBy"]
    assert states["CheckoutAvailabilityTicket"]["state"] == "suppressed"
    assert states["CheckoutAvailabilityPage"]["state"] == "active"
    assert states["CheckoutLatencyTicket"]["state"] == "active"  # another SLO: not inhibited


def test_sloth_convention_routes_on_sloth_severity(amtool: str, tmp_path: Path) -> None:
    path = tmp_path / "am-sloth.yml"
    path.write_text(render_alertmanager(load_specs([SLOTH_SPEC, MAPGUARD_SPEC])))
    proc = subprocess.run([amtool, "check-config", str(path)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "2 inhibit rules" in proc.stdout, proc.stdout + proc.stderr
    for labels, receiver in (
        (["alertname=K8sApiserverAvailabilityAlert", "sloth_severity=page"], "mapguard-page"),
        (["alertname=K8sApiserverAvailabilityAlert", "sloth_severity=ticket"],
         "mapguard-ticket"),
        (["mapguard_tier=ticket", "mapguard_guard=gc_pause"], "mapguard-ticket"),
    ):
        proc = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={path}", *labels],
            capture_output=True, text=True, timeout=60,
        )
        assert proc.stdout.strip() == receiver, proc.stdout + proc.stderr
    assert "equal:\n  - sloth_id" in path.read_text()
