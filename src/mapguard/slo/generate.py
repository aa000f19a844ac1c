"""The generation chain: validated specs → SLI rules → metadata rules → alerts, then map guards.

In mapguard's convention an SLO's steps are joined into one group, evaluated in order at one
timestamp, so its alerts always see the ratios recorded in the same evaluation. Separate groups
would be evaluated independently (one interval of lag, in any order under `promtool test rules`).
They stay separate when the spec gives them different intervals, and in Sloth's convention,
which keeps Sloth's three group names (`sloth-slo-sli-recordings-<id>`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from mapguard.slo.alerts import alert_rules
from mapguard.slo.conventions import Convention
from mapguard.slo.guards import guard_groups
from mapguard.slo.model import SLO, SpecSet, Step
from mapguard.slo.rules import RuleGroup, meta_rules, sli_rules

_STEPS = ((Step.SLI, sli_rules), (Step.META, meta_rules), (Step.ALERTS, alert_rules))


def slo_groups(slo: SLO) -> tuple[RuleGroup, ...]:
    steps = tuple(build(slo) for step, build in _STEPS if step in slo.steps)
    steps = tuple(group for group in steps if group.rules)
    if slo.convention is Convention.SLOTH or len({step.interval for step in steps}) > 1:
        return steps
    rules = tuple(rule for step in steps for rule in step.rules)
    interval = steps[0].interval if steps else None
    return (RuleGroup(f"mapguard-slo-{slo.id}", rules, interval),) if rules else ()


def generate(specs: SpecSet) -> tuple[RuleGroup, ...]:
    """All rule groups: per SLO in spec order, then per map guard."""
    groups: list[RuleGroup] = []
    for slo in specs.slos:
        groups += slo_groups(slo)
    for guard in specs.guards:
        groups += guard_groups(guard)
    return tuple(groups)


def with_options(
    specs: SpecSet, *, convention: Convention | None = None,
    extra_labels: Mapping[str, str] | None = None,
) -> SpecSet:
    """The specs with a label convention forced on every SLO (`--labels`) and extra labels
    added to every SLO (`--extra-labels`, as Sloth's: on every recorded series)."""
    slos = tuple(
        replace(
            slo,
            convention=convention or slo.convention,
            labels={**slo.labels, **(extra_labels or {})},
        )
        for slo in specs.slos
    )
    return replace(specs, slos=slos)
