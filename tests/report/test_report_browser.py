"""`mapguard report` in a real browser: a report built from hostile evidence (`<script>` in file
names, messages, labels, benchmark and SLO names) runs nothing, logs no error, requests nothing;
its text shows the hostile strings as text."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mapguard.cli import main
from tests.report.browser import Chromium

pytestmark = pytest.mark.slow

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
EVIL_NAME = "<img src=x onerror=window.__pwned=3>"  # a file name: no slash allowed
CHECKS = {
    "pwned": "typeof window.__pwned",
    "scripts": "document.querySelectorAll('script').length",
    "handlers": "document.querySelectorAll('[onerror],[onload],[onclick],[onmouseover]').length",
    "images": "[...document.images].map(i => i.src.slice(0, 26))",
    "text": "document.body.innerText",
    "sections": "[...document.querySelectorAll('h2')].map(h => h.textContent)",
    "fits": "document.documentElement.scrollWidth <= window.innerWidth",  # no sideways scroll
}


def _write(path: Path, document: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))


def _hostile_bundle(root: Path) -> Path:
    source = root / "src"
    source.mkdir(parents=True)
    (source / "evil.go").write_text(f"package evil\n\n// {EVIL}\nvar m = map[string]int{{}}\n")
    finding = {"rule": "MG002", "name": EVIL, "severity": "info", "path": str(source / "evil.go"),
               "line": 3, "column": 1, "message": EVIL}
    _write(root / "bundle" / "lint" / f"{EVIL_NAME}.json", {"version": 1, "findings": [
        finding, {**finding, "path": f"/{EVIL}/x.go", "line": 1}], "files": 1})
    _write(root / "bundle" / "lint" / "plain.json", {"version": 1, "findings": [finding]})
    _write(root / "bundle" / "escape" / "plain.json", {"version": 1, "sites": [
        {"file": str(source / "evil.go"), "line": 4, "column": 9, "function": EVIL,
         "expr": EVIL, "verdict": "heap", "why": EVIL}]})
    _write(root / "bundle" / "profiles" / "plain.json", {
        "kind": "allocs", "unit": "bytes", "total": 1000,
        "map": {"total": 500, "by_op": {"grow": 500}},
        "sites": [{"function": EVIL, "file": f"/{EVIL_NAME}/x.go", "line": 3, "op": "grow",
                   "value": 300, "via": {"function": EVIL}},
                  {"function": EVIL, "file": str(source / "evil.go"), "line": 4, "op": "grow",
                   "value": 200}]})
    _write(root / "bundle" / "chaos" / "plain.json", {
        "steps": [{"step": 1, "quota": EVIL, "load": {"rate": 10, "answered": 5, "failed": 0,
                                                      "latency_ms": {"p50": 1, "p99": 2}}}],
        "slo": [{"slo": EVIL, "kind": EVIL, "step": 1, "held": False, "burn_rate": 3.0}]})
    _write(root / "bundle" / "bench" / "plain.json", {"verdicts": [
        {"benchmark": EVIL, "unit": EVIL, "old": 1, "new": 2, "p_holm": 0.01,
         "verdict": EVIL}]})
    _write(root / "bundle" / "demo" / "demo.json", {
        "evidence": {"comparisons": [{"metric": EVIL, "before": 1, "after": 2,
                                      "p_value": 0.5, "samples": [5, 5],
                                      "sample_kind": EVIL, "verdict": EVIL}]},
        "slo": {"status": "ok", "spec": EVIL, "slos": [EVIL], "rules": 1,
                "alerting_rules": 1}})
    _write(root / "bundle" / "prometheus" / "plain.json", {
        "sites": {EVIL: [[1.0, 2.0], [2.0, 3.0]]},
        "gc_pause_seconds_per_second": [[1.0, 0.001], [2.0, 0.002]],
        "correlations": [{"site": EVIL, "statement": EVIL}]})
    (root / "bundle" / "bundle.json").write_text(json.dumps({
        "mapguard_bundle": 1, "entries": [], "sources": {"plain": str(source)}}))
    return root / "bundle"


def test_a_report_of_hostile_evidence_runs_nothing_and_requests_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _hostile_bundle(tmp_path)
    report = tmp_path / "report.html"
    assert main(["report", "--bundle", str(bundle), "-o", str(report)]) == 0, \
        capsys.readouterr().err
    html = report.read_text()
    # Escaped, not just blocked by the page's policy: no tag of the input survives as a tag.
    assert re.search(r"<\s*(script|img[^>]*onerror)", html, re.IGNORECASE) is None
    screenshot = tmp_path / "hostile.png"
    with Chromium() as browser:
        visit, page = browser.visit(report, screenshot, CHECKS)
    assert page["pwned"] == "undefined"
    assert page["scripts"] == 0 and page["handlers"] == 0
    assert page["images"] and all(src == "data:image/svg+xml;base64," for src in page["images"])
    assert EVIL in page["text"] and EVIL_NAME in page["text"]  # shown as text
    assert visit.errors == []
    assert [url for url in visit.requests if not url.startswith("data:")] == [report.as_uri()]
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_report_of_nothing_is_a_page_that_says_so(tmp_path: Path) -> None:
    (tmp_path / "bundle").mkdir()
    report = tmp_path / "empty.html"
    assert main(["report", "--bundle", str(tmp_path / "bundle"), "-o", str(report)]) == 0
    with Chromium() as browser:
        visit, page = browser.visit(report, None, CHECKS)
    assert visit.errors == [] and page["scripts"] == 0 and page["fits"] is True
    assert "The bundle holds no evidence to diagnose." in page["text"]
