"""Did each step of a load run keep the SLOs of a spec, and what burn rate would it cause?

The spec is read by the SLO loader (mapguard/v1, Sloth or OpenSLO). A step is judged on the
requests it planned to send, as a Prometheus histogram in front of the service would count them:

- latency objective (a latency SLI, or an events SLI whose queries read one `le` bucket): a
  request is good when it was answered, whatever its status, within the threshold; a request
  that was never answered (timeout, connection error, not sent) is bad;
- availability objective (any other events SLI): a request is bad when it got a 5xx status or no
  answer at all (a timeout, a connection error). A request the step ended before it could be
  sent ("not sent": a late timer on a busy machine, or a backlog at the run's end) never reached
  the service, and a counter in front of it would not count it: it is left out, neither good
  nor bad. The spec's queries are not evaluated: the load's own outcome stands for them.

A step where the generator itself could not hold the rate is not judged ("not measured").

The burn rate is the step's bad share over the error budget (1 - objective): 1 spends the budget
exactly over the SLO period; the spec's alert windows say which alert that burn would trigger if
it lasted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from mapguard.load.results import StepResult, count_at_most
from mapguard.slo.model import SLO, EventsSLI, LatencySLI, SpecSet

# The engine's error kind for a ticket the step's end came before (loadengine/main.go).
NOT_SENT = "not sent"
_BUCKET_LE = re.compile(r'_bucket\s*\{[^}]*\ble\s*=\s*"([^"]+)"')


@dataclass(frozen=True, slots=True)
class Objective:
    slo: SLO
    kind: str  # "latency" or "availability"
    threshold_s: float | None  # latency objectives only

    @property
    def target(self) -> Fraction:
        return self.slo.target

    def describe(self) -> str:
        objective = f"{float(self.slo.objective):g}%"
        if self.threshold_s is not None:
            return f"{objective} within {_seconds_text(self.threshold_s)}"
        return f"{objective} without a 5xx or a failed request"


@dataclass(frozen=True, slots=True)
class Skipped:
    slo: SLO
    reason: str


@dataclass(frozen=True, slots=True)
class StepVerdict:
    objective: Objective
    step: int
    total: int
    bad: int | None  # None: not measured (the generator was the limit)

    @property
    def measured(self) -> bool:
        return self.bad is not None and self.total > 0

    @property
    def good_ratio(self) -> float | None:
        if self.bad is None or not self.total:
            return None
        return 1 - self.bad / self.total

    @property
    def burn_rate(self) -> float | None:
        if self.bad is None or not self.total:
            return None
        return float(Fraction(self.bad, self.total) / self.objective.slo.error_budget)

    @property
    def held(self) -> bool | None:
        if self.bad is None or not self.total:
            return None
        return Fraction(self.bad, self.total) <= self.objective.slo.error_budget

    @property
    def alerts(self) -> tuple[str, ...]:
        """The alert windows this burn rate would fire if it lasted that long."""
        burn = self.burn_rate
        if burn is None:
            return ()
        return tuple(f"{self.objective.slo.alerting.alert_name(w.tier)} ({w.pair}, burn >= "
                     f"{float(w.factor):g})" for w in self.objective.slo.alerting.windows
                     if burn >= w.factor)


def objectives(specs: SpecSet) -> tuple[tuple[Objective, ...], tuple[Skipped, ...]]:
    found, skipped = [], []
    for slo in specs.slos:
        sli = slo.sli
        if isinstance(sli, LatencySLI):
            threshold = _threshold(sli.le)
        elif isinstance(sli, EventsSLI):
            le = _BUCKET_LE.search(sli.error_query) or _BUCKET_LE.search(sli.total_query)
            threshold = _threshold(le.group(1)) if le else None
            if le is None:
                found.append(Objective(slo, "availability", None))
                continue
        else:
            skipped.append(Skipped(slo, "a raw error-ratio query: the load cannot tell which "
                                        "of its requests it counts as bad"))
            continue
        if threshold is None:
            skipped.append(Skipped(slo, "its latency threshold is not a finite number of "
                                        "seconds"))
            continue
        found.append(Objective(slo, "latency", threshold))
    return tuple(found), tuple(skipped)


def judge(objective: Objective, step: StepResult) -> StepVerdict:
    total = step.scheduled
    if step.generator_bound:
        # The service was not loaded as planned: its requests that were never sent are the
        # generator's failure, and its latencies are withheld. Nothing to judge.
        return StepVerdict(objective, step.number, total, None)
    if objective.kind == "availability":
        unsent = step.errors.get(NOT_SENT, 0)
        bad = sum(count for kind, count in step.errors.items()
                  if kind != NOT_SENT and not _client_error(kind))
        return StepVerdict(objective, step.number, total - unsent, bad)
    assert objective.threshold_s is not None
    good = count_at_most((i.latency_us for i in step.intervals), objective.threshold_s * 1e6)
    return StepVerdict(objective, step.number, total, max(0, total - good))


def judge_all(found: Sequence[Objective], steps: Sequence[StepResult]) -> tuple[StepVerdict, ...]:
    return tuple(judge(objective, step) for objective in found for step in steps)


def _client_error(kind: str) -> bool:
    return kind.startswith("status 4")


def _threshold(le: str) -> float | None:
    try:
        value = float(le)
    except ValueError:
        return None
    return value if 0 < value < float("inf") else None


def _seconds_text(seconds: float) -> str:
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"
