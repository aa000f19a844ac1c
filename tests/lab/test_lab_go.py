"""`mapguard lab` with the real Go toolchain: the physical facts its claims table must get
right, and the command's outputs.

The run here is a reduced one (the clear and pool groups, small sizes, eight short rounds);
`benchmarks/bench_lab.py` times the full and the quick lab.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.gotool import GoToolchain
from mapguard.lab.claims import ClaimResult, Verdict, evaluate
from mapguard.lab.plan import make_plan
from mapguard.lab.runner import FIXED_STEPS, run_lab

pytestmark = pytest.mark.slow


def test_claims_table_gets_the_physical_facts_right(go_toolchain: GoToolchain) -> None:
    """One reduced lab run (one test: under xdist a shared fixture would run once per worker)."""
    plan = replace(make_plan(True, ["clear", "pool"]), refill_sizes=(8, 1024), rounds=8,
                   benchtime="20ms", emptied_capacity=4096, retention_size=1 << 15)
    seen: list[tuple[int, int]] = []
    run = run_lab(plan, go_toolchain, lambda done, total: seen.append((done, total)))
    # The progress bar's steps: every build, check and benchmark result, up to the total.
    assert seen[-1][0] == seen[-1][1] == FIXED_STEPS + plan.rounds * plan.expected_results()
    assert [done for done, _total in seen] == sorted(done for done, _total in seen)
    _every_other_round_runs_the_ways_in_reverse(run.timings_text)
    claims = {result.claim.id: result for result in evaluate(run)}
    _refill_after_clear_allocates_nothing(claims)
    _delete_loop_is_clear_in_code_and_in_time(claims)
    _uncleared_pooled_map_leaks_into_the_next_user(claims)
    _facts_from_crashes_compilers_and_linkers(claims)


def _every_other_round_runs_the_ways_in_reverse(timings_text: str) -> None:
    # One round per run of the test binary, each starting with its "goos:" header.
    rounds = [[line.split()[0] for line in text.splitlines()
               if line.startswith("BenchmarkRefill/") and len(line.split()) > 2]
              for text in timings_text.split("goos:")[1:]]
    assert len(rounds) == 8
    first = [name for name in rounds[0] if "/size=1024" in name]
    assert [name.split("/")[1] for name in first] == [
        "strategy=make", "strategy=clear", "strategy=deleteloop"]
    for number, names in enumerate(rounds):
        assert names == (rounds[0] if number % 2 == 0 else rounds[1]), number
        assert [name for name in names if "/size=1024" in name] == (
            first if number % 2 == 0 else first[::-1])


def _refill_after_clear_allocates_nothing(claims: dict[str, ClaimResult]) -> None:
    result = claims["clear-refill-allocates-nothing"]
    assert result.outcome.verdict is Verdict.HOLDS, result.outcome.evidence
    sizes = result.outcome.numbers["sizes"]
    assert set(sizes) == {"8", "1024"}
    for measured in sizes.values():
        assert measured["clear_B_op"] == 0 and measured["clear_allocs_op"] == 0
        assert measured["make_B_op"] > 0  # re-creating does allocate: the check can fail


def _delete_loop_is_clear_in_code_and_in_time(claims: dict[str, ClaimResult]) -> None:
    compiled = claims["delete-loop-compiles-to-mapclear"]
    assert compiled.outcome.verdict is Verdict.HOLDS, compiled.outcome.evidence
    assert "runtime.mapclear" in compiled.outcome.numbers["loop"]
    timed = claims["delete-loop-costs-what-clear-costs"]
    assert timed.outcome.verdict is Verdict.HOLDS, timed.outcome.evidence
    comparisons = timed.outcome.numbers["comparisons"]
    assert [c["at"] for c in comparisons] == ["8", "1024"]
    # Identical code may differ steadily by a few percent (placement, order); a loop deleting
    # key by key would cost 2x to 4x a clear.
    margin = timed.outcome.numbers["margin"]
    assert f"within {margin:.0%} " in timed.claim.claim
    assert all(not c["differs"] or abs(c["ratio"] - 1) <= margin for c in comparisons)
    # The same statistics do see a real difference: clear against re-creating.
    faster = claims["clear-cheaper-than-recreate"]
    assert any(c["differs"] for c in faster.outcome.numbers["comparisons"]), \
        faster.outcome.evidence


def _uncleared_pooled_map_leaks_into_the_next_user(claims: dict[str, ClaimResult]) -> None:
    result = claims["uncleared-pool-leaks"]
    assert result.outcome.verdict is Verdict.HOLDS, result.outcome.evidence
    numbers = result.outcome.numbers
    assert numbers["leaked_entries_op"] > 0 and numbers["wrong_results_op"] > 0
    assert numbers["cleared_leaked_entries_op"] == 0


def _facts_from_crashes_compilers_and_linkers(claims: dict[str, ClaimResult]) -> None:
    for claim in ("concurrent-writes-are-fatal", "published-write-is-fatal",
                  "map-value-is-a-pointer", "maps-never-shrink", "clone-copies-capacity",
                  "race-and-N-keep-the-loop", "nan-keys-survive-the-loop",
                  "lazy-init-loses-writes", "pool-drops-at-gc", "http-handlers-run-concurrently"):
        assert claims[claim].outcome.verdict is Verdict.HOLDS, (claim, claims[claim].outcome)
    for claim in ("map-is-a-24-byte-header", "need-pointer-to-modify-map"):
        assert claims[claim].outcome.verdict is Verdict.FAILS, (claim, claims[claim].outcome)
    assert claims["syncmap-is-faster"].outcome.verdict is Verdict.UNMEASURED


def test_lab_command_writes_report_json_and_plots(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "lab"
    assert main(["lab", "--quick", "--only", "pool", "-o", str(out), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["plan"]["groups"] == ["pool"] and document["go"].startswith("go1.")
    verdicts = {claim["id"]: claim["verdict"] for claim in document["claims"]}
    assert verdicts["uncleared-pool-leaks"] == "holds"
    assert verdicts["clear-refill-allocates-nothing"] == "not measured"
    names = sorted(path.name for path in out.iterdir())
    assert names == ["claims.md", "lab.json", "lab.txt", "pool.png", "pool.svg", "results.txt"]
    assert (out / "pool.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (out / "pool.svg").read_bytes()[:400]
    assert "| A pooled map put back without clearing" in (out / "claims.md").read_text()
    assert "BenchmarkRequestMap/strategy=pool-uncleared" in (out / "results.txt").read_text()
