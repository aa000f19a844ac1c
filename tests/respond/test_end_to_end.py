"""End to end with the real parts: a service whose map allocation rate jumps, Prometheus
evaluating the map guard generated from a spec, Alertmanager routing with the configuration
`slo generate --respond` wrote, and `mapguard respond` on loopback running a command and
`kubectl scale` (a fake kubectl that records its arguments: there is no cluster here).

The guard compares the 5-minute allocation rate with the hour before the last 15 minutes. So
that the test runs in about a minute and a half, not hours:
- that hour is backfilled (`promtool tsdb create-blocks-from openmetrics`) before Prometheus
  starts: the service's own counter, at a quiet rate;
- the service then jumps (10 MB/s at site `a`, then at site `b`) and the guard fires;
- the alert clears when the backfilled history reaches the baseline window: a minute of very
  busy allocation, placed 15 minutes minus a minute before Prometheus started, raises the
  baseline above the spike. (A spike that simply stops would take the five minutes of the rate
  window to leave it.)
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily

from mapguard.cli import main
from mapguard.respond.audit import AuditLog, Entry
from tests.slo.conftest import free_port, wait_until_ready

from .conftest import Trace, start_respond, wait_for

QUIET = 20_000.0  # bytes/s, the baseline
SPIKE = 10_000_000.0  # bytes/s: 500x the baseline, 100x the floor
BUSY_HISTORY = 200_000_000.0  # bytes/s for one minute of backfilled history
CLEARS_AFTER = 60  # seconds after Prometheus starts, the busy minute enters the baseline
HISTORY = 80 * 60  # seconds of backfilled history
JOB = "riskd"

SPEC = """\
version: mapguard/v1
service: riskd
map_guards:
  - target: riskd
    alloc_increase_percent: 300
    min_alloc_bytes_per_second: 100000
    alloc_for: 1s
"""


class Allocations:
    """`mapguard_map_alloc_bytes_total{target, site, op}` whose rate per site changes on
    command: the value is the integral of a piecewise-constant rate, so the backfilled history
    and the live counter are one series."""

    def __init__(self, sites: tuple[str, ...], start: float) -> None:
        self.lock = threading.Lock()
        self.segments = {site: [(start, QUIET)] for site in sites}

    def set_rate(self, site: str, rate: float, at: float | None = None) -> None:
        with self.lock:
            self.segments[site].append((time.time() if at is None else at, rate))
            self.segments[site].sort()

    def value(self, site: str, at: float) -> float:
        with self.lock:
            segments = list(self.segments[site])
        total = 0.0
        for index, (start, rate) in enumerate(segments):
            end = segments[index + 1][0] if index + 1 < len(segments) else at
            if start >= at:
                break
            total += rate * (min(end, at) - start)
        return total

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("mapguard_map_alloc_bytes", "Map allocation bytes.",
                                     labels=["target", "site", "op"])
        now = time.time()
        for site in self.segments:
            family.add_metric(["riskd", site, "assign"], self.value(site, now))
        yield family

    def openmetrics(self, instance: str, start: float, end: float, step: int = 15) -> str:
        lines = ["# HELP mapguard_map_alloc_bytes Map allocation bytes.",
                 "# TYPE mapguard_map_alloc_bytes counter"]
        for site in self.segments:
            labels = (f'job="{JOB}",instance="{instance}",target="riskd",site="{site}",'
                      'op="assign"')
            at = start
            while at <= end:
                lines.append(f"mapguard_map_alloc_bytes_total{{{labels}}} "
                             f"{self.value(site, at):.1f} {at:.3f}")
                at += step
        return "\n".join([*lines, "# EOF", ""])


def respond_config(tmp_path: Path, recorder: Path, trace: Trace) -> Path:
    config = tmp_path / "respond.yaml"
    config.write_text(textwrap.dedent(f"""\
        mode: act
        audit: audit.sqlite
        kubeconfig: kubeconfig
        environment: {{set: {{TRACE: "{trace.path}"}}}}
        defaults: {{cooldown: 10m, max_runs: {{count: 3, per: 1h}}}}
        actions:
          - name: shed-load
            matchers: ['alertname="MapguardMapAllocSpike"', 'mapguard_guard="alloc_spike"']
            command: ["{recorder}", shed, "--site={{{{ labels.site }}}}", "{{{{ labels.target }}}}"]
            on_resolve:
              command: ["{recorder}", unshed, "--site={{{{ labels.site }}}}"]
          - name: scale-out
            matchers: ['mapguard_guard="alloc_spike"', 'target="riskd"']
            scale: {{name: "{{{{ labels.target }}}}", namespace: prod, replicas: 6}}
            on_resolve:
              scale: {{name: "{{{{ labels.target }}}}", namespace: prod, replicas: 2}}
    """))
    return config


def short_timings(am_path: Path) -> None:
    """The generated respond routes, with timings for a test instead of production."""
    config = yaml.safe_load(am_path.read_text())
    routes = [r for r in config["route"]["routes"] if r["receiver"] == "mapguard-respond"]
    assert [r["matchers"] for r in routes] == [['mapguard_guard=~".+"'],
                                              ['mapguard_tier="page"']]
    for route in routes:
        route.update(group_wait="1s", group_interval="2s", repeat_interval="4s")
    am_path.write_text(yaml.safe_dump(config, sort_keys=False))


def entries(audit: Path) -> list[Entry]:
    if not audit.exists():
        return []
    log = AuditLog.open_for_reading(audit)
    try:
        return list(log.entries())
    finally:
        log.close()


def decisions(audit: Path, action: str, step: str, site: str) -> list[Entry]:
    return [e for e in entries(audit) if e.action == action and e.step == step
            and e.labels is not None and e.labels.get("site") == site]


@pytest.mark.slow
def test_guard_fires_runs_once_cools_down_and_undoes_on_resolve(
    prometheus_bin: str, alertmanager_bin: str, amtool: str, promtool: str, tmp_path: Path,
    processes: list[subprocess.Popen[bytes]], recorder: Path, fake_kubectl: Path,
    trace: Trace, capsys: pytest.CaptureFixture[str],
) -> None:
    # The service, exporting the counter on a free port.
    started = time.time()
    allocations = Allocations(("a", "b"), started - HISTORY - 60)
    registry = CollectorRegistry()
    registry.register(allocations)  # type: ignore[arg-type]
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        instance = f"127.0.0.1:{server.server_port}"
        _run_scenario(prometheus_bin, alertmanager_bin, promtool, tmp_path, processes,
                      recorder, fake_kubectl, trace, capsys, allocations, instance, started)
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _run_scenario(prometheus_bin: str, alertmanager_bin: str, promtool: str, tmp_path: Path,
                  processes: list[subprocess.Popen[bytes]], recorder: Path,
                  fake_kubectl: Path, trace: Trace, capsys: pytest.CaptureFixture[str],
                  allocations: Allocations, instance: str, started: float) -> None:
    # History: quiet, except one busy minute that reaches the baseline CLEARS_AFTER seconds
    # after Prometheus starts (the baseline is the hour that ended 15 minutes ago).
    busy = started - 15 * 60 + CLEARS_AFTER
    for site in ("a", "b"):
        allocations.set_rate(site, BUSY_HISTORY, at=busy)
        allocations.set_rate(site, QUIET, at=busy + 60)
    history = tmp_path / "history.om"
    history.write_text(allocations.openmetrics(instance, started - HISTORY, started - 2))
    data = tmp_path / "prometheus"
    backfill = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics",
                               str(history), str(data)], capture_output=True, text=True,
                              timeout=120)
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr

    # mapguard respond, with the fake kubectl first on its PATH.
    config = respond_config(tmp_path, recorder, trace)
    audit = tmp_path / "audit.sqlite"
    url, _respond = start_respond(
        config, processes, tmp_path / "respond.log",
        env={"PATH": f"{fake_kubectl.parent}:/usr/bin:/bin"})

    # Rules and the Alertmanager configuration from the spec, as a user would write them.
    (tmp_path / "slo.yaml").write_text(SPEC)
    rules, am_config = tmp_path / "rules.yml", tmp_path / "am.yml"
    assert main(["slo", "generate", str(tmp_path / "slo.yaml"), "-o", str(rules),
                 "--alertmanager", str(am_config), "--respond", url]) == 0
    short_timings(am_config)
    am_port = free_port()
    processes.append(subprocess.Popen(
        [alertmanager_bin, f"--config.file={am_config}", f"--storage.path={tmp_path / 'am'}",
         f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))
    wait_until_ready(f"http://127.0.0.1:{am_port}/-/ready", processes[-1])
    prometheus_config = tmp_path / "prometheus.yml"
    prometheus_config.write_text(textwrap.dedent(f"""\
        global: {{scrape_interval: 1s, evaluation_interval: 1s}}
        rule_files: [{rules}]
        alerting:
          alertmanagers: [{{static_configs: [{{targets: ["127.0.0.1:{am_port}"]}}]}}]
        scrape_configs:
          - job_name: {JOB}
            static_configs: [{{targets: ["{instance}"]}}]
    """))
    port = free_port()
    processes.append(subprocess.Popen(
        [prometheus_bin, f"--config.file={prometheus_config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))
    wait_until_ready(f"http://127.0.0.1:{port}/-/ready", processes[-1], timeout=60)

    # Site a jumps: the guard fires, both actions run once.
    allocations.set_rate("a", SPIKE)
    wait_for(lambda: [e for e in decisions(audit, "shed-load", "fire", "a")
                      if e.outcome == "ok"], "shed-load to run for site a", timeout=45)
    # Site b jumps while the actions cool down: decided, not run.
    allocations.set_rate("b", SPIKE)
    wait_for(lambda: decisions(audit, "scale-out", "fire", "b"),
             "a decision on site b", timeout=45)
    # Alertmanager repeats a's notification while it fires.
    wait_for(lambda: [e for e in decisions(audit, "shed-load", "fire", "a")
                      if e.decision == "duplicate"], "a repeated notification", timeout=30)
    assert time.time() < started + CLEARS_AFTER, "too slow: the alerts clear before this"

    # The baseline catches up: the alerts clear, the resolve steps run for a, not for b.
    wait_for(lambda: [e for e in decisions(audit, "scale-out", "resolve", "a")
                      if e.outcome == "ok"], "the resolve of site a",
             timeout=CLEARS_AFTER + 60)
    wait_for(lambda: [e for e in decisions(audit, "shed-load", "resolve", "a")
                      if e.outcome == "ok"], "the resolve of site a", timeout=30)
    wait_for(lambda: decisions(audit, "shed-load", "resolve", "b"), "the resolve of site b",
             timeout=30)

    shed = [argv for argv in trace.argvs() if argv[0] in {"shed", "unshed"}]
    assert shed == [["shed", "--site=a", "riskd"], ["unshed", "--site=a"]]
    kubeconfig = f"--kubeconfig={tmp_path / 'kubeconfig'}"
    scaled = [argv for argv in trace.argvs() if argv[0] == kubeconfig]
    assert scaled == [
        [kubeconfig, "--namespace=prod", "scale", "deployment/riskd", "--replicas=6"],
        [kubeconfig, "--namespace=prod", "scale", "deployment/riskd", "--replicas=2"],
    ]
    assert all("KUBECONFIG" not in run["env"] for run in trace.runs())

    for action in ("shed-load", "scale-out"):
        fired_a = decisions(audit, action, "fire", "a")
        assert [e.decision for e in fired_a].count("ran") == 1
        assert {e.decision for e in fired_a} == {"ran", "duplicate"}
        assert len({e.firing for e in fired_a}) == 1
        fired_b = decisions(audit, action, "fire", "b")
        assert fired_b and {e.decision for e in fired_b} == {"cooldown"}, fired_b
        resolved_a = decisions(audit, action, "resolve", "a")
        assert [(e.decision, e.outcome, e.exit_status) for e in resolved_a] == [
            ("ran", "ok", 0)]
        assert resolved_a[0].at > fired_a[0].at
        assert {e.decision for e in decisions(audit, action, "resolve", "b")} == {"not-fired"}

    # What the user reads.
    capsys.readouterr()
    assert main(["respond", "audit", "--config", str(config), "--format", "json"]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    ran = [d for d in document["decisions"] if d["decision"] == "ran"]
    assert len(ran) == 4 and all(d["outcome"] == "ok" for d in ran)
    assert main(["respond", "audit", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "ran          shed-load (fire)" in text
    assert "cooldown     scale-out (fire)" in text
