"""`mapguard diagnose --prometheus` against a real Prometheus: 40 minutes of watch metrics are
backfilled with promtool (one map site whose allocation rate drives the GC's pause time two
steps later, one that does not), then queried over the HTTP API like any live server."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mapguard.cli import main
from tests.realparts import require_executable
from tests.slo.conftest import free_port, wait_until_ready

pytestmark = pytest.mark.slow

STEP_S = 15
POINTS = 160  # 40 minutes
LAG_STEPS = 2
HOT, COLD = "svc/hot.go:7", "svc/cold.go:1"  # an insert, and a line with no map on it
SOURCE = {"svc/hot.go": "package svc\n\nfunc Hot(xs []string) int {\n\tm := make(map[string]"
                        "int)\n\tfor _, x := range xs {\n\t\tif x != \"\" {\n\t\t\tm[x]++\n"
                        "\t\t}\n\t}\n\treturn len(m)\n}\n",
          "svc/cold.go": "package svc\n"}
INSTALL = "run `python3 dev.py test` (installs Debian's prometheus)"


def _openmetrics(end: float) -> str:
    """Counters whose per-step increase is the rate times the step; timestamps in seconds."""
    rng = np.random.default_rng(11)
    hot = rng.gamma(2.0, 4e5, POINTS)
    cold = rng.gamma(2.0, 4e5, POINTS)
    shifted = np.concatenate([np.full(LAG_STEPS, hot.mean()), hot[:-LAG_STEPS]])
    pause = shifted * 2e-9 + rng.normal(0, 1e-4, POINTS).clip(-2e-4, 2e-4) + 1e-3
    times = end - STEP_S * np.arange(POINTS)[::-1]
    lines = ["# TYPE mapguard_map_alloc_bytes counter"]
    for site, rates in ((HOT, hot), (COLD, cold)):
        total = 0.0
        for t, rate in zip(times, rates, strict=True):
            total += rate * STEP_S
            lines.append(f'mapguard_map_alloc_bytes_total{{target="riskd",site="{site}",'
                         f'op="grow"}} {total:.0f} {t:.3f}')
    lines.append("# TYPE mapguard_map_alloc_share gauge")
    lines += [f'mapguard_map_alloc_share{{target="riskd"}} 0.25 {t:.3f}' for t in times]
    lines.append("# TYPE mapguard_gc_pause_seconds histogram")
    total = count = 0.0
    rows = {"sum": [], "count": [], "bucket": []}
    for t, seconds in zip(times, pause, strict=True):
        total += seconds * STEP_S
        count += 10
        rows["bucket"].append(f'mapguard_gc_pause_seconds_bucket{{target="riskd",le="+Inf"}} '
                              f"{count:.0f} {t:.3f}")
        rows["sum"].append(f'mapguard_gc_pause_seconds_sum{{target="riskd"}} {total:.6f} '
                           f"{t:.3f}")
        rows["count"].append(f'mapguard_gc_pause_seconds_count{{target="riskd"}} {count:.0f} '
                             f"{t:.3f}")
    lines += rows["bucket"] + rows["sum"] + rows["count"]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    promtool = require_executable("promtool", INSTALL)
    binary = require_executable("prometheus", INSTALL)
    directory = tmp_path_factory.mktemp("prometheus")
    data = directory / "om.txt"
    data.write_text(_openmetrics(time.time() - 120))
    tsdb = directory / "tsdb"
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(data),
                    str(tsdb)], check=True, capture_output=True, timeout=300)
    (directory / "prometheus.yml").write_text("global: {scrape_interval: 15s}\n")
    port = free_port()
    process = subprocess.Popen(
        [binary, f"--config.file={directory / 'prometheus.yml'}",
         f"--storage.tsdb.path={tsdb}", f"--web.listen-address=127.0.0.1:{port}",
         "--storage.tsdb.retention.time=1d"],
        stdout=subprocess.DEVNULL, stderr=(directory / "prometheus.log").open("wb"))
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(f"{url}/-/ready", process, timeout=60)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name, text in SOURCE.items():
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_text(text)
    return tmp_path / "src"


def test_correlation_finds_the_site_that_drives_the_pauses(
        prometheus: str, tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle"
    status = main(["diagnose", "--prometheus", prometheus, "--target", "riskd", "--since",
                   "50m", "--step", "15s", "--source", str(tree), "--bundle", str(bundle),
                   "--format", "json"])
    captured = capsys.readouterr()
    assert status == 1, captured.err
    (diagnosis,) = json.loads(captured.out)["diagnoses"]
    found = {c["site"]: c for c in diagnosis["correlations"]}
    hot, cold = found[HOT], found[COLD]
    assert hot["significant"] and hot["lag_steps"] == LAG_STEPS and hot["spearman"] > 0.5
    assert not cold["significant"]
    # The hot site's map is made in Hot on every call and grown: the cause, with the
    # correlation among its evidence.
    (cause,) = diagnosis["causes"]
    assert cause["cause"] == "map-grown-per-call" and cause["site"]["line"] == 4
    assert any(e["kind"] == "correlation" for e in cause["evidence"])
    # Shares come from the exported map share: map bytes are a quarter of all bytes.
    assert sum(c["cost"]["share"] for c in diagnosis["causes"]) < 0.25 + 1e-6

    # What Prometheus showed was saved: the bundle is diagnosed again without it.
    assert (bundle / "prometheus" / "riskd.json").is_file()
    assert main(["diagnose", "--bundle", str(bundle), "--format", "json"]) == 1
    (again,) = json.loads(capsys.readouterr().out)["diagnoses"]
    assert [c["cause"] for c in again["causes"]] == ["map-grown-per-call"]
    assert {c["site"] for c in again["correlations"]} == {HOT, COLD}
    assert main(["report", "--bundle", str(bundle)]) == 0
    html = (bundle / "report.html").read_text()
    assert 'alt="GC pauses over time, riskd"' in html  # drawn from the saved series
    assert "moves with GC pause time 30 s later" in html


def test_an_unknown_target_says_what_is_missing(prometheus: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--prometheus", prometheus, "--target", "nobody"]) == 2
    assert "no mapguard_map_alloc_bytes_total for target 'nobody'" in capsys.readouterr().err


def test_an_unreachable_prometheus(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert main(["diagnose", "--prometheus", f"http://127.0.0.1:{port}", "--target",
                 "riskd"]) == 2
    err = capsys.readouterr().err
    assert "cannot reach Prometheus" in err and "Traceback" not in err


def test_the_readme_line_runs_as_shown(prometheus: str, tree: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The README's `diagnose --prometheus` line, with this server's address for its own."""
    from tests.diagnose.readme import section_commands

    (args,) = [a for a in section_commands("Diagnose, report, gate") if "--prometheus" in a]
    args[args.index("--prometheus") + 1] = prometheus
    tree.rename(tree.parent / "riskd")  # the README's --source ./riskd
    monkeypatch.chdir(tree.parent)
    assert main(args) == 1, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "1. svc/hot.go:4 in Hot: a map made on every call" in out
    assert "svc/hot.go:7's map allocation rate moves with GC pause time 30 s later" in out
