"""The generation chain: validated specs → SLI rules → metadata rules → alerts, then map guards.

Each step builds its own group; an SLO's steps are then joined into one group, evaluated in
order at one timestamp, so its alerts always see the ratios recorded in the same evaluation.
Separate groups would be evaluated independently (one interval of lag, in any order under
`promtool test rules`). They stay separate only when the spec gives them different intervals
(Sloth's `interval.slierror/metadata/alert`).
"""

from __future__ import annotations

from mapguard.slo.alerts import alert_rules
from mapguard.slo.guards import guard_groups
from mapguard.slo.model import SLO, SpecSet
from mapguard.slo.rules import RuleGroup, meta_rules, sli_rules


def slo_groups(slo: SLO) -> tuple[RuleGroup, ...]:
    steps = (sli_rules(slo), meta_rules(slo), alert_rules(slo))
    if len({step.interval for step in steps}) > 1:
        return steps
    rules = tuple(rule for step in steps for rule in step.rules)
    return (RuleGroup(f"mapguard-slo-{slo.id}", rules, steps[0].interval),)


def generate(specs: SpecSet) -> tuple[RuleGroup, ...]:
    """All rule groups: per SLO in spec order, then per map guard."""
    groups: list[RuleGroup] = []
    for slo in specs.slos:
        groups += slo_groups(slo)
    for guard in specs.guards:
        groups += guard_groups(guard)
    return tuple(groups)
