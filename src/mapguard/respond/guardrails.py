"""What to do with one alert for one action: run it, pretend to (dry run), or why not.

A pure function of what the audit log knows (`History`) and the receiver's state. In order:

1. **Once per firing.** Alertmanager repeats a notification until the alert resolves; a firing
   (fingerprint and start time) that already ran this action — or, in a dry run, already
   "would have" — is a duplicate. A resolve step runs once, and only after a run of the
   same firing: there is nothing to undo otherwise.
2. **Kill switch.** While it is engaged, nothing starts.
3. **Cooldown** and **max runs per window**, per action, across all alerts: a second alert
   of the same kind within the cooldown does not scale the service out again. A resolve
   step is exempt: it undoes a run that was allowed.
4. **Concurrency.** At most `max_concurrent` actions run; up to `max_queued` more wait for a
   slot; beyond that the alert is turned away as busy.

Only a run (or a dry run) marks a firing handled. An alert turned away by the kill switch,
the cooldown, the run limit or a full queue is decided again when Alertmanager repeats it, so
a mitigation delayed is not a mitigation lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mapguard.respond.config import Action, Mode


class StepKind(StrEnum):
    FIRE = "fire"
    RESOLVE = "resolve"


class Decision(StrEnum):
    RAN = "ran"  # started (its outcome is recorded when it ends)
    DRY_RUN = "dry-run"  # would have run
    DUPLICATE = "duplicate"  # this firing was handled already
    NOT_FIRED = "not-fired"  # a resolve without a run of the same firing
    KILL_SWITCH = "kill-switch"
    COOLDOWN = "cooldown"
    RATE_LIMITED = "rate-limited"
    BUSY = "busy"
    REFUSED = "refused"  # the alert cannot be rendered into the action
    NO_ACTION = "no-action"  # no action matches the alert
    REJECTED = "rejected"  # the request itself was refused (auth, size, payload)


@dataclass(frozen=True, slots=True)
class History:
    """What the audit log says about this action, in the current mode."""

    handled: bool  # this step already ran (or dry-ran) for this firing
    fired: bool  # the fire step ran (or dry-ran) for this firing
    last_run_at: float | None  # start of the action's last fire run
    runs_in_window: int  # fire runs started within max_runs_window


@dataclass(frozen=True, slots=True)
class Receiver:
    mode: Mode
    kill_switch: str | None  # why it is engaged, or None
    pending: int  # actions running or queued
    max_concurrent: int
    max_queued: int


@dataclass(frozen=True, slots=True)
class Verdict:
    decision: Decision
    reason: str

    @property
    def runs(self) -> bool:
        return self.decision in {Decision.RAN, Decision.DRY_RUN}


def decide(action: Action, step: StepKind, history: History, receiver: Receiver,
           now: float) -> Verdict:
    if history.handled:
        return Verdict(Decision.DUPLICATE, f"this firing was handled already ({step} step)")
    if step is StepKind.RESOLVE and not history.fired:
        return Verdict(Decision.NOT_FIRED, "the action did not run for this firing: "
                       "nothing to undo")
    if receiver.kill_switch is not None:
        return Verdict(Decision.KILL_SWITCH, f"kill switch engaged ({receiver.kill_switch})")
    if step is StepKind.FIRE:
        limited = _limits(action, history, now)
        if limited is not None:
            return limited
    if receiver.mode is Mode.DRY_RUN:
        return Verdict(Decision.DRY_RUN, "dry run: would run")
    if receiver.pending >= receiver.max_concurrent + receiver.max_queued:
        return Verdict(Decision.BUSY, f"{receiver.pending} actions running or queued "
                       f"(max_concurrent {receiver.max_concurrent}, "
                       f"max_queued {receiver.max_queued})")
    return Verdict(Decision.RAN, "started" if receiver.pending < receiver.max_concurrent
                   else "queued for a free slot")


def _limits(action: Action, history: History, now: float) -> Verdict | None:
    if history.last_run_at is not None:
        left = history.last_run_at + action.cooldown.seconds - now
        if left > 0:
            return Verdict(Decision.COOLDOWN, f"cooldown {action.cooldown}: last run "
                           f"{now - history.last_run_at:.0f} s ago, {left:.0f} s left")
    if history.runs_in_window >= action.max_runs:
        return Verdict(Decision.RATE_LIMITED, f"{history.runs_in_window} runs within "
                       f"{action.max_runs_window} (max_runs {action.max_runs})")
    return None
