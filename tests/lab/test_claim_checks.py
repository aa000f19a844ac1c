"""Claim checks on given timings: what a verdict means, without running Go."""

from __future__ import annotations

import pytest

from mapguard.formats.benchfmt import parse_benchfmt
from mapguard.lab.claims import CHECKS, Evidence, Verdict
from mapguard.lab.plan import make_plan
from mapguard.lab.runner import LabRun

ROUNDS = 8


def _run(refill_ns: dict[tuple[str, int], float]) -> LabRun:
    """A lab run whose Refill results are `refill_ns` (strategy, size) -> CPU ns per op, with
    the small round-to-round spread of a quiet machine (+-0.2 %)."""
    lines = []
    for round_index in range(ROUNDS):
        wobble = 1 + 0.002 * (round_index % 3 - 1)
        lines += [f"BenchmarkRefill/strategy={strategy}/size={size}-2 \t 100000 \t "
                  f"{ns * wobble:.2f} ns/op \t {ns * wobble:.2f} cpu-ns/op \t 0 B/op \t "
                  "0 allocs/op" for (strategy, size), ns in refill_ns.items()]
    text = "\n".join(lines) + "\n"
    empty = parse_benchfmt("", "facts")
    return LabRun(plan=make_plan(True, ["clear"]), go_version="go1.26.8",
                  timings=parse_benchfmt(text, "timings"), timings_text=text, facts=empty,
                  facts_text="", listings={}, escape="", linkname={}, race="",
                  swiss_tables=True, machine={}, elapsed_s=0.0)


@pytest.mark.parametrize(("loop_8", "loop_1024", "verdict"), [
    (123.3, 14_400.0, Verdict.HOLDS),  # the same
    # The same code placed elsewhere: steady, beyond noise, a few percent (127.1 vs 123.3 ns
    # is what a loaded CI machine measured).
    (127.1, 14_100.0, Verdict.HOLDS),
    (270.0, 14_400.0, Verdict.FAILS),  # deleting 8 keys one by one: 2.2x
    (123.3, 57_000.0, Verdict.FAILS),  # and 1024: 4x
])
def test_delete_loop_costs_what_clear_costs_within_the_same_code_margin(
        loop_8: float, loop_1024: float, verdict: Verdict) -> None:
    run = _run({("clear", 8): 123.3, ("deleteloop", 8): loop_8,
                ("clear", 1024): 14_400.0, ("deleteloop", 1024): loop_1024})
    outcome = CHECKS["delete_loop_costs_what_clear_costs"](Evidence(run))
    assert outcome.verdict is verdict, outcome.evidence
    comparisons = outcome.numbers["comparisons"]
    if loop_8 == 127.1:  # beyond noise, so only the margin makes it hold
        assert comparisons[0]["differs"] and comparisons[0]["ratio"] == pytest.approx(1.031,
                                                                                      abs=1e-3)
