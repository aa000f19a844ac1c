"""Reading specs: Sloth prometheus/v1 unchanged, mapguard/v1, OpenSLO v1, and their errors."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from mapguard.errors import InputError
from mapguard.slo.durations import Duration
from mapguard.slo.model import EventsSLI, LatencySLI, RawSLI, Tier
from mapguard.slo.spec import load_spec, load_specs

from .conftest import MAPGUARD_SPEC, OPENSLO_SPEC, SLOTH_SPEC

Write = Callable[[str, str], Path]

SLOTH_MINIMAL = """\
version: prometheus/v1
service: api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: ApiAvailability
"""


def error_of(write: Write, text: str, name: str = "spec.yaml") -> str:
    path = write(name, textwrap.dedent(text))
    with pytest.raises(InputError) as caught:
        load_specs([path])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    return message.removeprefix(str(path))


def test_sloth_readme_example_is_read_unchanged() -> None:
    specs = load_spec(SLOTH_SPEC)
    availability, latency = specs.slos
    assert availability.id == "k8s-apiserver-requests-availability"
    assert availability.objective == Decimal("99.9")
    assert availability.period == Duration.parse("30d")
    assert availability.labels == {"cluster": "valhalla", "component": "kubernetes"}
    assert availability.alerting.name == "K8sApiserverAvailabilityAlert"
    assert availability.alerting.page.labels == {"severity": "critical"}
    assert availability.alerting.annotations["runbook"].startswith("https://")
    assert isinstance(latency.sli, EventsSLI) and "le=\"0.4\"" in latency.sli.error_query
    # Sloth's README puts `disable: true` under labels: that is a label, as Sloth reads it.
    assert latency.alerting.ticket.enabled and latency.alerting.ticket.labels == {
        "disable": "true"
    }
    assert specs.warnings == ()


def test_sloth_kubernetes_form_raw_sli_disable_and_intervals(write: Write) -> None:
    path = write("k8s.yaml", textwrap.dedent("""\
        apiVersion: sloth.slok.dev/v1
        kind: PrometheusServiceLevel
        metadata: {name: api}
        spec:
          service: api
          slos:
            - name: ratio
              objective: 99.5
              sli:
                raw:
                  errorRatioQuery: sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))
              alerting:
                name: ApiRatio
                ticketAlert: {disable: true}
                page_alert: {labels: {ignored: "as Sloth ignores it"}}
              interval: {all: 30s, alert: 1m}
    """))
    specs = load_spec(path)
    slo = specs.slos[0]
    assert isinstance(slo.sli, RawSLI)
    assert not slo.alerting.ticket.enabled and slo.alerting.page.labels == {}
    assert (str(slo.intervals.sli), str(slo.intervals.alerts)) == ("30s", "1m")
    assert slo.resource is not None and slo.resource.name == "api"
    (warning,) = specs.warnings
    assert ":15: spec.slos[0].alerting.page_alert: unknown field 'page_alert' ignored" in warning
    assert "spells it pageAlert" in warning


def test_sloth_unknown_keys_are_warnings_not_errors(write: Write) -> None:
    path = write("s.yaml", SLOTH_MINIMAL + "      pageAlert: {labels: {a: b}}\n"
                 + "    bogus: {chain: []}\n")
    specs = load_specs([path])
    assert len(specs.slos) == 1 and specs.slos[0].alerting.page.labels == {}
    camel, bogus = sorted(specs.warnings)
    assert ":13: slos[0].bogus: unknown field 'bogus' ignored" in bogus
    assert "alerting.pageAlert: unknown field 'pageAlert' ignored (prometheus/v1 spells it " \
        "page_alert; Sloth ignores pageAlert too)" in camel


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        (("99.9", "100.5"), ":5: slos[0].objective:", "outside (0, 100]"),
        (("99.9", "\"high\""), ":5: slos[0].objective:", "percentage in (0, 100)"),
        (("[{{.window}}]))\n        total", "[5m]))\n        total"),
         ":8: slos[0].sli.events.error_query:", "{{.window}}"),
        (("      name: ApiAvailability\n", "      labels: {a: b}\n"),
         ":11: slos[0].alerting.name: missing", "alert name"),
        (("events:", "plugin:\n        id: x\n      x:"), "slos[0].sli.plugin.id", "Go code"),
        (("version: prometheus/v1", "version: prometheus/v2"), ":1: version:", "openslo/v1"),
        (("service: api", "service: api\nlabels: {__x: y}"), ":3: labels.__x", "reserved"),
        (("service: api", "service: api\nlabels: {mapguard_slo: y}"), "labels.mapguard_slo",
         "reserved"),
    ],
)
def test_sloth_errors_name_file_line_field_and_expectation(
    write: Write, change: tuple[str, str], where: str, words: str
) -> None:
    message = error_of(write, SLOTH_MINIMAL.replace(*change))
    assert where in message
    assert words in message


def test_yaml_errors_have_a_line(write: Write) -> None:
    assert error_of(write, "version: prometheus/v1\nslos: [\n").startswith(":3: invalid YAML")


def test_duplicate_slo_ids_across_files(write: Write) -> None:
    first, second = write("a.yaml", SLOTH_MINIMAL), write("b.yaml", SLOTH_MINIMAL)
    with pytest.raises(InputError, match=r"already defined by .*a\.yaml"):
        load_specs([first, second])


def test_mapguard_spec_superset() -> None:
    specs = load_spec(MAPGUARD_SPEC)
    availability, latency = specs.slos
    assert availability.period == Duration.parse("28d")
    assert latency.period == Duration.parse("7d")
    assert availability.alerting.name == "CheckoutAvailability"
    assert availability.alerting.runbook_url == "https://runbooks.example.com/checkout/availability"
    assert isinstance(latency.sli, LatencySLI)
    assert latency.sli.error_query == (
        'sum(rate(http_request_duration_seconds_count{job="checkout"}[{{.window}}])) - '
        'sum(rate(http_request_duration_seconds_bucket{job="checkout",le="0.1"}[{{.window}}]))'
    )
    (guard,) = specs.guards
    assert guard.go_selector == 'job="checkout"'
    assert guard.alloc_increase_percent == 300
    assert guard.gc_pause_max_seconds == Decimal("0.05")


def test_mapguard_custom_windows(write: Write) -> None:
    path = write("w.yaml", textwrap.dedent("""\
        version: mapguard/v1
        service: s
        slos:
          - name: a
            objective: 99.5
            period: 14d
            sli: {latency: {histogram: h, le: "0.5"}}
            alerting:
              windows:
                - {tier: page, long: 2h, short: 10m, budget_percent: 4, for: 2m}
                - {tier: ticket, long: 1d, short: 2h, burn_rate: 1.5}
    """))
    page, ticket = load_spec(path).slos[0].alerting.windows
    assert (page.tier, page.pair, page.factor, str(page.for_)) == (
        Tier.PAGE, "2h/10m", Fraction(4, 100) * 14 * 12, "2m"
    )
    assert ticket.factor == Fraction(3, 2) and ticket.budget_share is None


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("period: 1M", "period", "days"),
        ("bogus: 1", "bogus", "unknown field"),
    ],
)
def test_mapguard_errors(write: Write, text: str, where: str, words: str) -> None:
    spec = f"""\
        version: mapguard/v1
        service: s
        {text}
        slos:
          - name: a
            objective: 99
            sli: {{latency: {{histogram: h, le: "0.1"}}}}
    """
    message = error_of(write, spec)
    assert f": {where}" in message and words in message


def test_mapguard_window_needs_one_kind_of_threshold(write: Write) -> None:
    message = error_of(write, """\
        version: mapguard/v1
        service: s
        slos:
          - name: a
            objective: 99
            sli: {latency: {histogram: h, le: "0.1"}}
            alerting:
              windows: [{tier: page, long: 1h, short: 5m}]
    """)
    assert "slos[0].alerting.windows[0]" in message and "budget_percent, burn_rate" in message


def test_alerts_that_cannot_fire_are_warned_about(write: Write) -> None:
    path = write("low.yaml", SLOTH_MINIMAL.replace("99.9", "90"))
    warnings = load_specs([path]).warnings
    assert any("page alert over 1h/5m" in w and "never fire" in w for w in warnings)


def test_openslo_references_inline_conditions_and_annotations() -> None:
    (slo,) = load_spec(OPENSLO_SPEC).slos
    assert slo.id == "search-availability"
    assert slo.objective == Decimal("99.9")
    assert slo.labels == {"tier": "frontend"}
    assert isinstance(slo.sli, EventsSLI) and "code=~\"5..\"" in slo.sli.error_query
    page, ticket = slo.alerting.windows
    assert (page.tier, page.pair, page.factor) == (Tier.PAGE, "1h/5m", Fraction(144, 10))
    # No short-window annotation: the SRE workbook's long ÷ 12.
    assert (ticket.tier, ticket.pair, ticket.factor) == (Tier.TICKET, "3d/6h", 1)
    assert slo.alerting.page.labels == {"severity": "critical"}
    assert slo.alerting.name == "SearchAvailability"


def test_openslo_good_total_and_default_alerts(write: Write) -> None:
    path = write("o.yaml", textwrap.dedent("""\
        - apiVersion: openslo/v1
          kind: SLO
          metadata: {name: web}
          spec:
            service: web
            indicator:
              metadata: {name: web-good}
              spec:
                ratioMetric:
                  counter: true
                  good: {metricSource: {type: Prometheus, spec: {query: 'http_total{code="200"}'}}}
                  total: {metricSource: {type: Prometheus, spec: {query: http_total}}}
            budgetingMethod: Occurrences
            objectives: [{targetPercent: 99.5}]
    """))
    (slo,) = load_spec(path).slos
    assert isinstance(slo.sli, EventsSLI)
    # An absent good series (a total outage) counts as no good events, never as no errors.
    assert slo.sli.error_query == (
        "(sum(rate(http_total[{{.window}}])))\n-\n"
        "((sum(rate(http_total{code=\"200\"}[{{.window}}]))) or 0 * "
        "(sum(rate(http_total[{{.window}}]))))"
    )
    assert len(slo.alerting.windows) == 4 and slo.period == Duration.parse("30d")


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("budgetingMethod: Occurrences", "budgetingMethod: Timeslices"),
        ("isRolling: true", "isRolling: false"),
        ("indicatorRef: search-errors", "indicatorRef: nope"),
        ("- conditionRef: search-fast-burn", "- conditionRef: nope"),
        ("query: sum(rate(search_requests_total{code",
         "query: sum:trace.http.request.hits{code"),
        ("duration: 30d", "duration: 1Q"),
        ("apiVersion: openslo/v1\nkind: Service", "apiVersion: openslo/v1\nkind: Gizmo"),
    ],
)
def test_openslo_unsupported_features_are_errors(write: Write, change: str, words: str) -> None:
    text = OPENSLO_SPEC.read_text()
    assert change in text
    message = error_of(write, text.replace(change, words), "openslo.yaml")
    assert message.startswith(":")


def test_three_formats_in_one_run() -> None:
    specs = load_specs([SLOTH_SPEC, MAPGUARD_SPEC, OPENSLO_SPEC])
    assert sorted(specs.formats) == ["mapguard/v1", "openslo/v1", "prometheus/v1"]
    assert len(specs.slos) == 5
