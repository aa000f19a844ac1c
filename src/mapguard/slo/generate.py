"""The generation chain: validated specs → SLI rules → metadata rules → alerts, then map guards."""

from __future__ import annotations

from mapguard.slo.alerts import alert_rules
from mapguard.slo.guards import guard_groups
from mapguard.slo.model import SLO, SpecSet
from mapguard.slo.rules import RuleGroup, meta_rules, sli_rules


def slo_groups(slo: SLO) -> tuple[RuleGroup, ...]:
    return (sli_rules(slo), meta_rules(slo), alert_rules(slo))


def generate(specs: SpecSet) -> tuple[RuleGroup, ...]:
    """All rule groups: per SLO (SLI, meta, alerts) in spec order, then per map guard."""
    groups: list[RuleGroup] = []
    for slo in specs.slos:
        groups += slo_groups(slo)
    for guard in specs.guards:
        groups += guard_groups(guard)
    return tuple(groups)
