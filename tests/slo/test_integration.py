"""End to end: a Go service with a known error rate, a real Prometheus, `mapguard slo status`
reading mapguard's rules and the rules Sloth itself generated, side by side."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.errors import ToolError
from mapguard.gotool import GoToolchain, run_go
from mapguard.slo.status import PrometheusAPI, fetch_status

from .conftest import free_port, wait_until_ready

ERRSVC = Path(__file__).parent / "errsvc"
# What Sloth generated from its getting-started example: it reads
# http_request_duration_seconds_count{job="myservice",code=...}, which the scrape job "myservice"
# below makes of errsvc's http_requests_total{code}.
SLOTH_RULES = Path(__file__).parent / "testdata" / "sloth" / "examples" / "_gen" / \
    "getting-started.yml"
ERROR_RATE = 0.05  # against a 99.9 % objective: burn rate 50
SLOW_RATE = 0.02  # against a 99 % latency objective: burn rate 2

SPEC = """\
version: mapguard/v1
service: errsvc
period: 30d
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="errsvc",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="errsvc"}[{{.window}}]))
  - name: latency
    objective: 99
    sli:
      latency: {histogram: http_request_duration_seconds, le: "0.1", selector: job="errsvc"}
map_guards:
  - target: errsvc
    gc_pause_max_seconds: 0.5
"""


def ready(url: str, *, since: float) -> bool:
    try:
        report = fetch_status(PrometheusAPI(url))
    except ToolError:  # rules not evaluated yet
        return False
    return (
        time.monotonic() > since + 20
        and len(report.slos) == 3
        and all(w.error_ratio is not None for s in report.slos for w in s.windows)
        and any(a.name == "ErrsvcAvailabilityPage" for s in report.slos for a in s.alerts)
        and any(a.name == "MyServiceHighErrorRate" for s in report.slos for a in s.alerts)
    )


@pytest.mark.slow
def test_status_shows_the_burn_the_service_was_configured_with(
    go_toolchain: GoToolchain, prometheus_bin: str, tmp_path: Path,
    processes: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str],
) -> None:
    binary = tmp_path / "errsvc"
    build = run_go(["build", "-o", str(binary), "."], cwd=ERRSVC, toolchain=go_toolchain,
                   timeout=300)
    assert build.returncode == 0, build.stderr
    service = subprocess.Popen(
        [str(binary), f"-error-rate={ERROR_RATE}", f"-slow-rate={SLOW_RATE}", "-rps=200"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    processes.append(service)
    assert service.stdout is not None
    target = service.stdout.readline().decode().split("http://")[1].strip()

    (tmp_path / "slo.yaml").write_text(SPEC)
    rules = tmp_path / "rules.yml"
    assert main(["slo", "generate", str(tmp_path / "slo.yaml"), "-o", str(rules)]) == 0
    config = tmp_path / "prometheus.yml"
    config.write_text(textwrap.dedent(f"""\
        global: {{scrape_interval: 1s, evaluation_interval: 1s}}
        rule_files: [{rules}, {SLOTH_RULES}]
        scrape_configs:
          - job_name: errsvc
            static_configs: [{{targets: ["{target}"]}}]
          - job_name: myservice
            static_configs: [{{targets: ["{target}"]}}]
            metric_relabel_configs:
              - {{source_labels: [__name__], regex: "http_request_duration_seconds.*",
                  action: drop}}
              - {{source_labels: [__name__], regex: http_requests_total,
                  target_label: __name__, replacement: http_request_duration_seconds_count}}
    """))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    processes.append(subprocess.Popen(
        [prometheus_bin, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))
    wait_until_ready(f"{url}/-/ready", processes[-1])

    # Wait for 20 s of scrapes in every window and for the page to be evaluated.
    started = time.monotonic()
    while not ready(url, since=started):
        assert time.monotonic() < started + 120, "Prometheus never showed the burn"
        time.sleep(1)

    capsys.readouterr()
    assert main(["slo", "status", "--prometheus", url, "--format", "json"]) == 1  # alerts fire
    document = json.loads(capsys.readouterr().out)
    assert document["version"] == 1
    slos = {s["slo"]: s for s in document["slos"]}
    for name, error_rate, budget in (("availability", ERROR_RATE, 0.001),
                                     ("latency", SLOW_RATE, 0.01)):
        windows = {w["window"]: w for w in slos[name]["windows"]}
        assert set(windows) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"}
        for window in windows.values():
            assert window["error_ratio"] == pytest.approx(error_rate, rel=0.2), window
            assert window["burn_rate"] == pytest.approx(error_rate / budget, rel=0.2)
        assert slos[name]["budget_remaining"] == pytest.approx(1 - error_rate / budget, rel=0.2)
    pages = {a["labels"]["mapguard_window_pair"] for a in slos["availability"]["alerts"]
             if a["tier"] == "page"}
    assert pages == {"1h/5m", "6h/30m"}

    # Sloth's own rules, read through their sloth_* labels.
    sloth = slos["requests-availability"]
    assert (sloth["id"], sloth["service"], sloth["objective_percent"], sloth["period"]) == (
        "myservice-requests-availability", "myservice", "99.9", "30d")
    windows = {w["window"]: w for w in sloth["windows"]}
    assert set(windows) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"}
    assert windows["1h"]["error_ratio"] == pytest.approx(ERROR_RATE, rel=0.2)
    assert {(a["alertname"], a["tier"]) for a in sloth["alerts"]} >= {
        ("MyServiceHighErrorRate", "page")}

    assert main(["slo", "status", "--prometheus", url]) == 1
    text = capsys.readouterr().out
    assert "errsvc availability: objective 99.9 % over 30d" in text
    assert "FIRING ErrsvcAvailabilityPage (page, 1h/5m)" in text
    assert "myservice requests-availability: objective 99.9 % over 30d" in text
    assert "FIRING MyServiceHighErrorRate (page)" in text
