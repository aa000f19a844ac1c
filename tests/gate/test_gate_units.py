"""The gate's options and budgets: every mistake is one line and exit 2, before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapguard.bundle.evidence import CostEvidence, SiteValue
from mapguard.cli import main
from mapguard.errors import UsageError
from mapguard.evidence.site import Site
from mapguard.gate.budgets import Budget, measure
from mapguard.gate.checks import CheckResult, Violation
from mapguard.gate.render import exit_status, render_markdown, render_sarif

ALLOCATION = CostEvidence(
    "p", "allocs", "bytes", 10_000, 3_000, {"grow": 3_000},
    (SiteValue(Site("/build/svc/server.go", 104, 0, "svc.handle"), "grow", 2_000),
     SiteValue(Site("/build/svc/cache.go", 9, 0, "svc.put"), "grow", 1_000)))


@pytest.mark.parametrize(("text", "value", "ok"), [
    ("map.share<=30%", 0.3, True),
    ("map.share<30%", 0.3, False),
    ("map.bytes_per_op<=2KiB", 30.0, True),
    ("site:server.go:104.share<=10%", 0.2, False),
    ("site:svc/server.go:104.bytes_per_op<=20", 20.0, True),
    ("site:other.go:1.bytes<=0", 0.0, True),
])
def test_budgets_measure_what_they_name(text: str, value: float, ok: bool) -> None:
    measured = measure(Budget.parse(text), ALLOCATION, None, ops=100)
    assert measured.value == pytest.approx(value) and measured.ok is ok


def test_a_budget_without_its_evidence_is_not_a_pass() -> None:
    assert measure(Budget.parse("cpu.map.share<=5%"), ALLOCATION, None, 1).value is None
    assert measure(Budget.parse("map.bytes_per_op<=1KiB"), ALLOCATION, None, None).value is None
    assert measure(Budget.parse("map.share<=5%"), None, None, None).value is None


@pytest.mark.parametrize("text", ["map.share<=20", "map.bytes<=5%", "heap<=1", "map.share=2%"])
def test_bad_budgets(text: str) -> None:
    with pytest.raises(UsageError, match="--profile-budget"):
        Budget.parse(text)


@pytest.mark.parametrize(("args", "said"), [
    ([], "nothing to check"),
    (["--escape"], "--base"),
    (["--bench", "old.txt"], "OLD,NEW"),
    (["--fail-on", "allocs/op>0", "--lint", "--base", "x"], "--fail-on goes with --bench"),
    (["--profile-budget", "map.share<=2%"], "needs --profile"),
    (["--lint", "--baseline", "b.json", "--summary", "/nonexistent/dir/s.md"], "does not exist"),
])
def test_usage_errors(tmp_path: Path, args: list[str], said: str,
                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1


def test_bad_input_files_make_the_check_an_error(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "old.txt"
    binary.write_bytes(b"\xff\xfeBenchmark")
    assert main(["gate", str(tmp_path), "--bench", f"{binary},{tmp_path / 'missing.txt'}"]) == 2
    assert "not UTF-8" in capsys.readouterr().out
    assert main(["gate", str(tmp_path), "--profile", str(tmp_path), "--profile-budget",
                 "map.share<=5%"]) == 2
    assert "ERROR profile" in capsys.readouterr().out
    assert main(["gate", str(tmp_path / "missing"), "--lint"]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_outputs_escape_what_they_quote() -> None:
    results = [CheckResult("lint", "fail", "1 new | finding", (Violation(
        "lint", "MG001", "a <b> | c", "x.go", 3, 1),))]
    markdown = render_markdown(results, "main")
    assert "&lt;b>" in markdown and "\\|" in markdown and exit_status(results) == 1
    sarif = render_sarif(results, Path("/repo"))
    assert sarif["runs"][0]["results"][0]["ruleId"] == "MG001"
