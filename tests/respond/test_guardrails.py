"""The guard rails as a pure decision: once per firing, kill switch, cooldown, max runs,
concurrency, dry run."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from mapguard.respond.config import Action, Command, Mode, Step
from mapguard.respond.guardrails import Decision, History, Receiver, StepKind, decide
from mapguard.slo.durations import Duration

NOW = 1_000_000.0
ACTION = Action(
    name="shed", matchers=(),
    fire=Step(Command("/bin/true", ()), Duration(30)), on_resolve=None,
    cooldown=Duration(600), max_runs=3, max_runs_window=Duration(3600),
)
FRESH = History(handled=False, fired=False, last_run_at=None, runs_in_window=0)
IDLE = Receiver(Mode.ACT, None, pending=0, max_concurrent=2, max_queued=1)


def _decide(history: History = FRESH, receiver: Receiver = IDLE,
            step: StepKind = StepKind.FIRE) -> tuple[Decision, str]:
    verdict = decide(ACTION, step, history, receiver, NOW)
    return verdict.decision, verdict.reason


def _history(**changes: Any) -> History:
    return replace(FRESH, **changes)


def _receiver(**changes: Any) -> Receiver:
    return replace(IDLE, **changes)


def test_a_fresh_firing_runs() -> None:
    assert _decide() == (Decision.RAN, "started")


def test_dry_run_by_mode() -> None:
    assert _decide(receiver=_receiver(mode=Mode.DRY_RUN)) == (Decision.DRY_RUN,
                                                             "dry run: would run")


def test_once_per_firing() -> None:
    assert _decide(_history(handled=True, fired=True))[0] is Decision.DUPLICATE


@pytest.mark.parametrize(("ago", "decision"), [(1, Decision.COOLDOWN),
                                               (599, Decision.COOLDOWN),
                                               (600, Decision.RAN)])
def test_cooldown(ago: int, decision: Decision) -> None:
    found, reason = _decide(_history(last_run_at=NOW - ago, runs_in_window=1))
    assert found is decision
    if decision is Decision.COOLDOWN:
        assert reason == f"cooldown 10m: last run {ago} s ago, {600 - ago} s left"


def test_max_runs_per_window() -> None:
    assert _decide(_history(last_run_at=NOW - 700, runs_in_window=3)) == (
        Decision.RATE_LIMITED, "3 runs within 1h (max_runs 3)")
    assert _decide(_history(last_run_at=NOW - 700, runs_in_window=2))[0] is Decision.RAN


def test_kill_switch_stops_fire_and_resolve() -> None:
    engaged = _receiver(kill_switch="SIGUSR1")
    assert _decide(receiver=engaged) == (Decision.KILL_SWITCH, "kill switch engaged (SIGUSR1)")
    assert _decide(_history(fired=True), engaged, StepKind.RESOLVE)[0] is Decision.KILL_SWITCH


def test_concurrency_queues_then_turns_away() -> None:
    assert _decide(receiver=_receiver(pending=1)) == (Decision.RAN, "started")
    assert _decide(receiver=_receiver(pending=2)) == (Decision.RAN, "queued for a free slot")
    assert _decide(receiver=_receiver(pending=3))[0] is Decision.BUSY


def test_resolve_only_after_a_run_and_despite_the_cooldown() -> None:
    assert _decide(step=StepKind.RESOLVE)[0] is Decision.NOT_FIRED
    just_ran = _history(fired=True, last_run_at=NOW - 1, runs_in_window=3)
    assert _decide(just_ran, step=StepKind.RESOLVE)[0] is Decision.RAN
    assert _decide(_history(fired=True, handled=True), step=StepKind.RESOLVE)[0] is \
        Decision.DUPLICATE


def test_dry_run_still_shows_the_guard_rails() -> None:
    dry = _receiver(mode=Mode.DRY_RUN, pending=99)
    assert _decide(_history(last_run_at=NOW - 5), dry)[0] is Decision.COOLDOWN
    assert _decide(receiver=dry)[0] is Decision.DRY_RUN  # a dry run takes no slot
