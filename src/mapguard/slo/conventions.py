"""Every name the generated rules use, in one place: metric names and the two label conventions.

The recording-rule names are Sloth's (`slo:sli_error:ratio_rate5m`, `slo:error_budget:ratio`…)
in both conventions. What differs is how an SLO, a window and an alert tier are labelled:

- **sloth**: exactly what Sloth writes, so that a Sloth user's Alertmanager routes, inhibitions,
  silences, Grafana dashboards and notification templates keep working: `sloth_id`,
  `sloth_service`, `sloth_slo`, `sloth_window` on the SLI ratios, `sloth_slo_info`, one alert
  named `alerting.name` for both tiers told apart by `sloth_severity: page|ticket`, and the
  user's alert labels as given (no `severity` added). Default for Sloth input.
- **mapguard**: `mapguard_slo_id`, `mapguard_service`, `mapguard_slo`, `mapguard_slo_info`, and one
  alerting rule per burn window named `<alerting.name>Page` / `<alerting.name>Ticket` with
  `mapguard_tier`, `mapguard_window_pair` and a default `severity` (critical/warning), so that
  routing and silences can tell pages from tickets by name. Default for mapguard/v1 and OpenSLO.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Recording rules (both conventions).
SLI_ERROR_RATIO = "slo:sli_error:ratio_rate"  # + window, e.g. slo:sli_error:ratio_rate5m
ERROR_EVENTS = "slo:sli_error_events:rate5m"
TOTAL_EVENTS = "slo:sli_total_events:rate5m"
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
PERIOD_DAYS = "slo:time_period:days"
CURRENT_BURN = "slo:current_burn_rate:ratio"
PERIOD_BURN = "slo:period_burn_rate:ratio"
BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"
PERIOD_SLI = "slo:period_sli:ratio"


def error_ratio_name(window: str) -> str:
    return f"{SLI_ERROR_RATIO}{window}"


class Convention(StrEnum):
    SLOTH = "sloth"
    MAPGUARD = "mapguard"


@dataclass(frozen=True, slots=True)
class Naming:
    """The label and metric names of one convention."""

    convention: Convention
    id_label: str
    service_label: str
    slo_label: str
    window_label: str | None  # on each SLI ratio series (Sloth only)
    tier_label: str  # page / ticket on every SLO alert
    info_metric: str
    group_prefixes: tuple[str, str, str]  # SLI, metadata, alerts

    def identity(self, service: str, name: str, slo_id: str) -> dict[str, str]:
        return {self.id_label: slo_id, self.service_label: service, self.slo_label: name}

    def group_names(self, slo_id: str) -> tuple[str, str, str]:
        sli, meta, alerts = self.group_prefixes
        return sli + slo_id, meta + slo_id, alerts + slo_id


SLOTH = Naming(
    convention=Convention.SLOTH,
    id_label="sloth_id",
    service_label="sloth_service",
    slo_label="sloth_slo",
    window_label="sloth_window",
    tier_label="sloth_severity",
    info_metric="sloth_slo_info",
    group_prefixes=(
        "sloth-slo-sli-recordings-", "sloth-slo-meta-recordings-", "sloth-slo-alerts-",
    ),
)

MAPGUARD = Naming(
    convention=Convention.MAPGUARD,
    id_label="mapguard_slo_id",
    service_label="mapguard_service",
    slo_label="mapguard_slo",
    window_label=None,
    tier_label="mapguard_tier",
    info_metric="mapguard_slo_info",
    group_prefixes=("mapguard-slo-sli-", "mapguard-slo-meta-", "mapguard-slo-alerts-"),
)

NAMINGS = {Convention.SLOTH: SLOTH, Convention.MAPGUARD: MAPGUARD}


def naming(convention: Convention) -> Naming:
    return NAMINGS[convention]
