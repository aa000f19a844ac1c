"""End to end: two real Go services under load, `mapguard watch` as a process, a real Prometheus
scraping it with the map guard rules `mapguard slo generate` writes (short windows).

One run checks the bars in order: the agent's per-site bytes agree with `mapguard profile diff`
of the same interval; a steady rate fires nothing; one service is killed, its
`mapguard_target_up` drops to 0 while the other keeps being measured, and it recovers when
the service returns; a map allocation spike fires the generated guard for the right site.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from mapguard.cli import main
from mapguard.formats.promtext import parse_samples
from mapguard.watch.sharding import hashmod
from tests.realparts import require_executable

from .conftest import MAPSVC, free_port

pytestmark = pytest.mark.slow

RATE = 300  # index builds per second (about 1.5 MB/s of map allocation)
SPIKE = 10


def _line_of(text: str) -> str:
    lines = (MAPSVC / "main.go").read_text().splitlines()
    return f"main.go:{next(n for n, line in enumerate(lines, 1) if text in line)}"


GROW_SITE = _line_of("index[i] = i * 2")  # buildIndex's insert: table growth
CREATE_SITE = _line_of('return map[string]int{"a": i')  # tags' literal: creation
SPEC = """\
version: mapguard/v1
service: mapsvc
map_guards:
  - target: {target}
    baseline: last_hour
    alloc_increase_percent: 300
    min_alloc_bytes_per_second: 100000
    alloc_for: 5s
    alloc_window: 10s
    baseline_window: 30s
    baseline_offset: 10s
"""


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict[str, object]]:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = answer.json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def agent_values(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body = httpx.get(url, timeout=10).content
    return {(s.name, s.labels): s.value for s in parse_samples(body, url, [
        "mapguard_map_alloc_bytes", "mapguard_target_up", "mapguard_goroutines",
        "mapguard_scrape_duration_seconds"])}


def site_bytes(url: str, target: str) -> dict[str, float]:
    return {dict(labels)["site"]: value for (name, labels), value in agent_values(url).items()
            if name == "mapguard_map_alloc_bytes_total" and dict(labels)["target"] == target}


def start_service(binary: Path, port: int, processes: list[subprocess.Popen[bytes]]
                  ) -> subprocess.Popen[bytes]:
    # A small GOGC makes GC cycles frequent: a heap profile only shows allocations once two
    # cycles have passed, so frequent cycles keep both measurements' edges sharp.
    service = subprocess.Popen([str(binary), f"-addr=127.0.0.1:{port}", f"-rate={RATE}",
                                "-memprofilerate=16384"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env={**os.environ, "GOGC": "25"})
    processes.append(service)
    assert service.stdout is not None
    assert b"listening on" in service.stdout.readline()
    return service


def test_watch_with_real_services_and_prometheus(
        mapsvc_binary: Path, tmp_path: Path, processes: list[subprocess.Popen[bytes]],
        capsys: pytest.CaptureFixture[str]) -> None:
    prometheus_bin = require_executable("prometheus", "run `python3 dev.py test`")
    ports = {"svc-a": free_port(), "svc-b": free_port()}
    services = {name: start_service(mapsvc_binary, port, processes)
                for name, port in ports.items()}

    config = tmp_path / "watch.yaml"
    config.write_text(textwrap.dedent(f"""\
        listen: 127.0.0.1:0
        interval: 1s
        timeout: 5s
        max_backoff: 2s
        source: {MAPSVC}
        targets:
          - {{url: "http://127.0.0.1:{ports['svc-a']}", name: svc-a}}
          - {{url: "http://127.0.0.1:{ports['svc-b']}", name: svc-b}}
    """))
    log = tmp_path / "agent.log"
    with log.open("wb") as stderr:
        agent = subprocess.Popen([sys.executable, "-m", "mapguard.cli", "watch", "--config",
                                  str(config)], stderr=stderr)
    processes.append(agent)
    wait_for("the agent", lambda: "serving http://127.0.0.1:" in log.read_text(), 60)
    metrics_url = log.read_text().split("serving ")[1].split()[0]

    rules = tmp_path / "rules.yml"
    specs = []
    for name in ports:
        spec = tmp_path / f"{name}.slo.yaml"
        spec.write_text(SPEC.format(target=name))
        specs.append(str(spec))
    assert main(["slo", "generate", *specs, "-o", str(rules)]) == 0
    capsys.readouterr()
    fleet = [f"127.0.0.1:{port}" for port in range(20001, 20013)]
    (tmp_path / "fleet.json").write_text(json.dumps([{"targets": fleet}]))
    prometheus_config = tmp_path / "prometheus.yml"
    prometheus_config.write_text(textwrap.dedent(f"""\
        global: {{scrape_interval: 1s, evaluation_interval: 1s}}
        rule_files: [{rules}]
        scrape_configs:
          - job_name: mapguard
            static_configs: [{{targets: ["{metrics_url.split('/')[2]}"]}}]
          - job_name: shards
            scrape_interval: 1h
            file_sd_configs: [{{files: ["{tmp_path / 'fleet.json'}"]}}]
            relabel_configs:
              - {{source_labels: [__address__], modulus: 4, target_label: shard,
                  action: hashmod}}
    """))
    port = free_port()
    prometheus = Prometheus(f"http://127.0.0.1:{port}")
    processes.append(subprocess.Popen(
        [prometheus_bin, f"--config.file={prometheus_config}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    started = time.monotonic()
    wait_for("Prometheus", lambda: _ready(prometheus.url), 60)

    # --shard agrees with Prometheus' own hashmod on the same addresses.
    def shards_known() -> bool:
        answer = httpx.get(f"{prometheus.url}/api/v1/targets", timeout=10).json()
        active = [t for t in answer["data"]["activeTargets"] if t["labels"]["job"] == "shards"]
        return len(active) == len(fleet)
    wait_for("the shard job's targets", shards_known, 60)
    targets = httpx.get(f"{prometheus.url}/api/v1/targets", timeout=10).json()
    for target in targets["data"]["activeTargets"]:
        if target["labels"]["job"] == "shards":
            address = target["discoveredLabels"]["__address__"]
            assert int(target["labels"]["shard"]) == hashmod(address, 4), address

    # 1. The agent's bytes per site agree with `mapguard profile diff` of the same interval.
    wait_for("svc-a's first interval", lambda: GROW_SITE in site_bytes(metrics_url, "svc-a"), 60)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    before, first = _settled(metrics_url, ports["svc-a"], profiles / "p0.pb.gz")
    time.sleep(20)
    after, second = _settled(metrics_url, ports["svc-a"], profiles / "p1.pb.gz")
    assert main(["profile", "diff", str(first), str(second), "--source", str(MAPSVC),
                 "--sample-index", "alloc_space", "--format", "json", "--top", "50"]) == 0
    diff = json.loads(capsys.readouterr().out)
    from_profile: dict[str, int] = {}
    for site in diff["sites"]:
        key = f"{Path(site['file']).name}:{site['line']}"
        from_profile[key] = from_profile.get(key, 0) + site["delta"]
    for site in (GROW_SITE, CREATE_SITE):
        measured = after[site] - before.get(site, 0)
        assert from_profile[site] > 1_000_000, from_profile  # not a vacuous comparison
        # Both ends are settled, so the agent and the profiles saw the same allocations.
        assert measured == pytest.approx(from_profile[site], rel=1e-9), (site, measured,
                                                                          from_profile)

    # 2. A steady rate fires nothing, and not for want of data.
    wait_for("a baseline", lambda: time.monotonic() - started > 50, 120)
    for record in ("rate5m", "baseline_rate1h"):
        series = prometheus.query(f'mapguard:map_alloc_bytes:{record}{{site="{GROW_SITE}"}}')
        assert len(series) == 2, (record, series)  # one per target
    quiet = prometheus.query('max_over_time(ALERTS{alertname="MapguardMapAllocSpike"}[1h])')
    assert quiet == [], [(alert["metric"]["target"], alert["metric"]["site"],  # type: ignore[index]
                          alert["metric"]["alertstate"]) for alert in quiet]  # type: ignore[index]
    assert prometheus.query('mapguard_goroutines{target="svc-a"} > 0')
    assert prometheus.query('mapguard_gc_pause_seconds_count{target="svc-b"} > 0')

    # 3. svc-b's map allocation jumps; svc-a is killed and comes back meanwhile.
    httpx.get(f"http://127.0.0.1:{ports['svc-b']}/rate", params={"maps": RATE * SPIKE},
              timeout=10)
    services["svc-a"].send_signal(signal.SIGKILL)
    services["svc-a"].wait(timeout=10)
    up_a = ("mapguard_target_up", (("target", "svc-a"),))
    wait_for("svc-a down", lambda: agent_values(metrics_url).get(up_a) == 0, 30)
    b_before = site_bytes(metrics_url, "svc-b")[GROW_SITE]
    wait_for("svc-b measured while svc-a is down",
             lambda: site_bytes(metrics_url, "svc-b")[GROW_SITE] > b_before, 30)
    assert agent_values(metrics_url).get(up_a) == 0
    # Prometheus scrapes the agent on its own clock: on a loaded machine the down window can
    # fall between two scrapes (a clean-clone run saw no 0 at all), so keep svc-a down until
    # Prometheus has stored one.
    wait_for("Prometheus to see svc-a down",
             lambda: prometheus.query('mapguard_target_up{target="svc-a"} == 0'), 30)
    services["svc-a"] = start_service(mapsvc_binary, ports["svc-a"], processes)
    wait_for("svc-a up again", lambda: agent_values(metrics_url).get(up_a) == 1, 60)

    def spike_fires() -> bool:
        firing = prometheus.query('ALERTS{alertname="MapguardMapAllocSpike",'
                                  'alertstate="firing"}')
        # Both of svc-b's sites jump; each alert starts at the evaluation that first sees its
        # own rise, so wait for the growth site's.
        return any(alert["metric"].get("target") == "svc-b"  # type: ignore[union-attr]
                   and alert["metric"].get("site") == GROW_SITE  # type: ignore[union-attr]
                   for alert in firing)
    wait_for("the map guard to fire", spike_fires, 90)
    firing = prometheus.query('ALERTS{alertname="MapguardMapAllocSpike",alertstate="firing"}')
    assert {alert["metric"]["target"] for alert in firing} == {"svc-b"}  # type: ignore[index]
    assert GROW_SITE in {alert["metric"]["site"] for alert in firing}  # type: ignore[index]
    assert prometheus.query('min_over_time(mapguard_target_up{target="svc-a"}[5m]) == 0')

    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=30) == 0


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _settled(metrics_url: str, port: int, path: Path) -> tuple[dict[str, float], Path]:
    """The agent's svc-a counters and a cumulative profile, both at the same point: svc-a stops
    allocating at its map sites, a forced GC publishes everything it allocated into its heap
    profile, and the counters are read after an agent pull that began later. svc-a then
    allocates at its rate again.

    Reading both "at the end of a window" instead left a gap between the agent's pull and
    the test's, and a GC cycle published within it now and then (one run in about ten was
    6 % off)."""
    service = f"http://127.0.0.1:{port}"
    httpx.get(f"{service}/rate", params={"maps": 0}, timeout=10).raise_for_status()
    time.sleep(0.1)  # the generator's tick in flight ends
    # net/http/pprof runs a GC before writing the heap profile when asked with `gc=1` (for
    # `allocs` it ignores the parameter), and a finished GC publishes every allocation made
    # before it into the profile both endpoints write.
    httpx.get(f"{service}/debug/pprof/heap", params={"gc": 1}, timeout=10).raise_for_status()
    path.write_bytes(httpx.get(f"{service}/debug/pprof/allocs", timeout=10).content)
    # The agent pulls each target in turn, so the second scrape seen to finish from now began
    # after the GC above.
    _after_scrapes(metrics_url, "svc-a", 2)
    counters = site_bytes(metrics_url, "svc-a")
    httpx.get(f"{service}/rate", params={"maps": RATE}, timeout=10).raise_for_status()
    return counters, path


def _after_scrapes(metrics_url: str, target: str, count: int) -> None:
    """Return once `count` scrapes of `target` have finished from now on (each scrape sets
    its duration, a float that is almost never the same twice in a row)."""
    key = ("mapguard_scrape_duration_seconds", (("target", target),))

    def duration() -> float | None:
        return agent_values(metrics_url).get(key)

    last = duration()
    deadline = time.monotonic() + 30
    while count:
        assert time.monotonic() < deadline, "the agent stopped scraping"
        time.sleep(0.05)
        if (now := duration()) != last:
            count -= 1
            last = now


def test_without_a_source_tree_sites_are_functions(
        mapsvc_binary: Path, processes: list[subprocess.Popen[bytes]],
        capsys: pytest.CaptureFixture[str]) -> None:
    # The runtime frames Go hides from the proto profile are learnt from a debug=1 pull and
    # named by the service's own symbol endpoint: a real binary's addresses must line up.
    port = free_port()
    start_service(mapsvc_binary, port, processes)
    time.sleep(2)  # some GC cycles: a heap profile shows allocations two cycles late
    assert main(["watch", "--once", "--target", f"http://127.0.0.1:{port}", "--interval", "4s",
                 "--format", "json"]) == 0
    (target,) = json.loads(capsys.readouterr().out)["targets"]
    assert target["mode"] == "symbolized"
    sites = {(s["site"], s["op"]): s["bytes"] for s in target["sites"]}
    assert sites.get(("main.buildIndex", "grow"), 0) > 100_000, sites
    assert sites.get(("main.tags", "create"), 0) > 10_000, sites
    assert not any(site == "main.payload" for site, _ in sites), sites  # a slice, not a map
    assert 0.2 < target["share"] < 0.95, target
