"""`mapguard load` against real servers on loopback: coordinated omission, the rate held,
errors by kind, SLO verdicts, and what an interrupt keeps."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mapguard.load.engine import run_engine
from mapguard.load.plan import LoadPlan, Step
from mapguard.load.results import step_results
from tests.load.servers import interruptible, serving

pytestmark = pytest.mark.slow
MAPGUARD = [sys.executable, "-m", "mapguard.cli"]


# A run whose generator could not send at the planned rate measured the machine (a loaded CI
# runner), not the code under test; mapguard says so in `generator_bound` and exits 1. Such a
# run is repeated, a bounded number of times, rather than judged.
GENERATOR_BOUND_RETRIES = 2


def _load(*args: str, env: dict[str, str] | None = None, timeout: float = 120
          ) -> tuple[int, dict[str, Any], str]:
    for attempt in range(GENERATOR_BOUND_RETRIES + 1):
        proc = subprocess.run([*MAPGUARD, "load", *args, "--format", "json"],
                              capture_output=True, text=True, timeout=timeout, env=env)
        document = json.loads(proc.stdout) if proc.stdout.strip() else {}
        if not document.get("generator_bound") or attempt == GENERATOR_BOUND_RETRIES:
            break
        print(f"the load generator fell behind (machine busy); run {attempt + 2} of "
              f"{GENERATOR_BOUND_RETRIES + 1}")
    return proc.returncode, document, proc.stderr


@pytest.mark.parametrize("connections", [1, 512])
def test_a_stall_shows_in_the_p99_open_loop_but_not_closed_loop(
    engine: Path, stall_server: Path, connections: int
) -> None:
    """500 ms stalls once per second at 1,000 requests/s: half the requests arrive during a
    stall and wait up to 500 ms, so the p99 measured from the intended send time is near
    490 ms, with one connection or many. Timed from when a request could actually be sent
    (what a closed-loop client reports), one connection shows only the one request per stall
    that was on the wire: a p99 of about a millisecond."""
    with serving(stall_server, "-stall", "500ms", "-every", "1s") as (_, url):
        plan = LoadPlan(url=url + "/", method="GET", steps=(Step(1000, 1, warmup=True),
                                                             Step(1000, 4)),
                        max_connections=connections)
        result = step_results(plan, run_engine(plan, binary=engine))
    (step,) = result.steps
    # The last stall's backlog may not all be sent when the run ends (one connection, or a
    # machine too busy to answer the others in time): only that, and only a little of it with
    # many connections.
    assert set(step.errors) <= {"not sent"}
    assert step.latency is not None
    assert 400 <= step.latency.at(99.0) <= 650, step.latency
    assert step.latency.max_ms >= 450
    if connections == 1:
        closed_loop = step.service
        assert closed_loop is not None
        assert closed_loop.at(99.0) < 50, closed_loop
        assert step.latency.at(99.0) > 8 * closed_loop.at(99.0)
        assert step.queued > step.scheduled // 4  # they waited for the one connection
    else:
        assert step.errors["not sent"] <= 0.02 * step.scheduled
        assert step.max_in_flight > 100  # a connection for each stalled request


def test_the_rate_is_held_and_reported(stall_server: Path) -> None:
    with serving(stall_server) as (_, url):
        status, document, _ = _load(url + "/x", "--rate", "200,400", "--step", "2s",
                                    "--warmup", "1s")
    assert status == 0, document
    steps = document["steps"]
    assert [s["rate"] for s in steps] == [200, 400]
    for step in steps:
        assert step["scheduled"] == pytest.approx(2 * step["rate"], abs=1)
        assert step["held"] is True and step["generator_bound"] is False
        assert step["failed"] == 0 and step["answered"] == step["scheduled"]
        assert step["latency_ms"]["count"] == step["answered"]
        latency = step["latency_ms"]
        assert latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["p99.9"] \
            <= latency["max"]
    assert document["latency_from"] == "intended send time"
    assert document["warmup_seconds"] == 1


def test_errors_by_kind(stall_server: Path) -> None:
    with serving(stall_server, "-status", "503") as (_, url):
        status, document, _ = _load(url + "/", "--rate", "100", "--duration", "1s",
                                    "--warmup", "0s")
    assert status == 0  # no SLO asked: failures are reported, not judged
    (step,) = document["steps"]
    assert step["errors"] == {"status 503": 100} and step["failed"] == 100
    # Answered, if badly: their latency is still measured.
    assert step["answered"] == 100


def test_connection_refused_is_an_error_kind(stall_server: Path) -> None:
    with serving(stall_server) as (process, url):
        pass  # stopped: nothing listens on its port any more
    assert process.poll() is not None
    status, document, _ = _load(url + "/", "--rate", "50", "--duration", "1s", "--warmup", "0s")
    assert status == 0  # failures are reported; only an SLO judges them
    (step,) = document["steps"]
    assert set(step["errors"]) == {"connection refused"}
    assert step["latency_ms"] is None and step["answered"] == 0


def _spec(tmp_path: Path, threshold: str) -> Path:
    spec = tmp_path / "slo.yaml"
    spec.write_text(f"""version: mapguard/v1
service: svc
period: 28d
slos:
  - name: latency
    objective: 99
    sli:
      latency:
        histogram: http_request_duration_seconds
        le: "{threshold}"
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{{code=~"5.."}}[{{{{.window}}}}]))
        total_query: sum(rate(http_requests_total[{{{{.window}}}}]))
""", encoding="utf-8")
    return spec


def test_slo_verdict_per_step(stall_server: Path, tmp_path: Path) -> None:
    spec = _spec(tmp_path, "0.1")
    with serving(stall_server, "-stall", "300ms", "-every", "1s") as (_, url):
        status, document, _ = _load(url + "/", "--rate", "200", "--duration", "2s",
                                    "--slo", str(spec))
    assert status == 1  # a step broke the latency SLO
    verdicts = {v["slo"]: v for v in document["slo"]}
    latency, availability = verdicts["svc-latency"], verdicts["svc-availability"]
    assert latency["kind"] == "latency" and latency["threshold_seconds"] == 0.1
    assert latency["held"] is False and latency["burn_rate"] > 1
    # ~30% of requests arrive in a stall and most of them wait more than 100 ms.
    assert 0.05 < 1 - latency["good_ratio"] < 0.5
    assert latency["burn_rate"] == pytest.approx((1 - latency["good_ratio"]) / 0.01)
    assert any("Page" in alert for alert in latency["would_fire"])
    # No 5xx and no failed request: the stall server answers everything. (A request the step
    # ended before sending, on a busy machine, is left out of availability.)
    errors = [step["errors"] for step in document["steps"]]
    assert availability["held"] is True and availability["burn_rate"] == 0, errors
    assert document["ok"] is False


def test_slo_held_exits_zero(stall_server: Path, tmp_path: Path) -> None:
    with serving(stall_server) as (_, url):
        status, document, _ = _load(url + "/", "--rate", "100", "--duration", "1s",
                                    "--slo", str(_spec(tmp_path, "2")))
    assert status == 0, document
    assert all(v["held"] for v in document["slo"])


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupt_keeps_what_was_measured(stall_server: Path, how: signal.Signals,
                                              tmp_path: Path) -> None:
    with serving(stall_server) as (_, url):
        process = subprocess.Popen(
            [*MAPGUARD, "load", url + "/", "--rate", "100", "--duration", "60s", "--warmup",
             "0s", "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, preexec_fn=interruptible)
        try:
            time.sleep(3.5)
            process.send_signal(how)
            out, _ = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 130
    document = json.loads(out)
    assert document["interrupted"] is True
    (step,) = document["steps"]
    assert step["complete"] is False
    assert 100 <= step["answered"] <= 4000 and step["failed"] == 0


def test_the_engine_stops_when_mapguard_is_killed(stall_server: Path) -> None:
    """The engine reads its stdin to the end: when mapguard dies outright, it stops."""
    with serving(stall_server) as (_, url):
        process = subprocess.Popen([*MAPGUARD, "load", url + "/", "--rate", "50", "--duration",
                                    "60s"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        engine_pid = None
        for _ in range(200):
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
            found = children.read_text().split() if children.exists() else []
            if found:
                engine_pid = int(found[0])
                break
            time.sleep(0.1)
        process.kill()
        process.wait()
        assert engine_pid is not None
        for _ in range(100):
            if not Path(f"/proc/{engine_pid}").exists() or _zombie(engine_pid):
                break
            time.sleep(0.1)
        assert not Path(f"/proc/{engine_pid}").exists() or _zombie(engine_pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def test_record_file_for_chaos(stall_server: Path, tmp_path: Path) -> None:
    record = tmp_path / "record.jsonl"
    with serving(stall_server) as (_, url):
        status, _, _ = _load(url + "/", "--rate", "100", "--duration", "2s",
                             env={**os.environ, "MAPGUARD_LOAD_RECORD": str(record)})
    assert status == 0
    kinds = [json.loads(line)["type"] for line in record.read_text().splitlines()]
    assert kinds[0] == "start" and kinds[-1] == "end" and kinds.count("interval") == 3
