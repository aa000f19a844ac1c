"""`slo status` reads the generated series over the Prometheus HTTP API (here a fake transport)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mapguard.errors import ToolError
from mapguard.slo.status import PrometheusAPI, fetch_status, render_text, report_json

IDENTITY = {"mapguard_slo_id": "api-availability", "mapguard_service": "api",
            "mapguard_slo": "availability"}


def vector(*samples: tuple[dict[str, str], str]) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": labels, "value": [1700000000, value]} for labels, value in samples
    ]}}


ANSWERS = {
    "mapguard_slo_info": vector(({**IDENTITY, "__name__": "mapguard_slo_info",
                                  "mapguard_objective": "99.9", "mapguard_period": "30d"}, "1")),
    "sloth_slo_info": vector(),
    "slo:time_period:days": vector((IDENTITY, "30")),
    "slo:error_budget:ratio": vector((IDENTITY, "0.001")),
    "slo:period_error_budget_remaining:ratio": vector((IDENTITY, "0.25")),
    "ratios": vector(
        ({**IDENTITY, "__name__": "slo:sli_error:ratio_rate1h", "route": "/a"}, "0.02"),
        ({**IDENTITY, "__name__": "slo:sli_error:ratio_rate1h", "route": "/b"}, "0.03"),
        ({**IDENTITY, "__name__": "slo:sli_error:ratio_rate5m"}, "0.05"),
        ({**IDENTITY, "__name__": "slo:sli_error:ratio_rate30d"}, "NaN"),
    ),
    "ALERTS": vector(
        ({**IDENTITY, "alertname": "ApiAvailabilityPage", "mapguard_tier": "page",
          "mapguard_window_pair": "1h/5m"}, "1"),
        ({"alertname": "MapguardGCPauseHigh", "mapguard_tier": "ticket", "target": "api",
          "instance": "a:1"}, "1"),
    ),
}


def fake_prometheus(request: httpx.Request, answers: dict[str, Any] = ANSWERS) -> httpx.Response:
    query = request.url.params["query"]
    key = "ratios" if "__name__" in query else query.split("{")[0]
    return httpx.Response(200, json=answers[key])


SLOTH_IDENTITY = {"sloth_id": "api-availability", "sloth_service": "api",
                  "sloth_slo": "availability"}
# What the rules Sloth itself generates record (no mapguard_* label anywhere).
SLOTH_ANSWERS = {
    "mapguard_slo_info": vector(),
    "sloth_slo_info": vector(({**SLOTH_IDENTITY, "__name__": "sloth_slo_info",
                               "sloth_objective": "99.9", "sloth_mode": "cli-gen-prom",
                               "sloth_spec": "prometheus/v1", "sloth_version": "v0.11.0"}, "1")),
    "slo:time_period:days": vector((SLOTH_IDENTITY, "28")),
    "slo:error_budget:ratio": vector((SLOTH_IDENTITY, "0.0010000000000000009")),
    "slo:period_error_budget_remaining:ratio": vector((SLOTH_IDENTITY, "0.5")),
    "ratios": vector(
        ({**SLOTH_IDENTITY, "__name__": "slo:sli_error:ratio_rate1h", "sloth_window": "1h"},
         "0.02"),
        ({**SLOTH_IDENTITY, "__name__": "slo:sli_error:ratio_rate5m", "sloth_window": "5m"},
         "0.05"),
    ),
    "ALERTS": vector(
        ({**SLOTH_IDENTITY, "alertname": "ApiHighErrorRate", "sloth_severity": "page"}, "1"),
    ),
}


def api(handler: Any = fake_prometheus) -> PrometheusAPI:
    return PrometheusAPI("http://prom:9090/", client=httpx.Client(
        transport=httpx.MockTransport(handler)))


def test_status_per_window_burn_budget_and_alerts() -> None:
    report = fetch_status(api())
    (slo,) = report.slos
    assert (slo.objective, slo.period, slo.budget_remaining) == ("99.9", "30d", 0.25)
    windows = {w.window: w for w in slo.windows}
    assert list(windows) == ["5m", "1h", "30d"]  # sorted by length
    assert windows["1h"].error_ratio == 0.03  # the worst route
    assert windows["5m"].burn_rate(slo.error_budget) == pytest.approx(50)
    assert windows["30d"].sli() is None  # no traffic: not 100 %
    assert [a.name for a in slo.alerts] == ["ApiAvailabilityPage"]
    assert [a.name for a in report.guard_alerts] == ["MapguardGCPauseHigh"]
    assert report.firing
    text = render_text(report)
    assert "api availability: objective 99.9 % over 30d, error budget left 25.00 %" in text
    assert "FIRING ApiAvailabilityPage (page, 1h/5m)" in text
    assert "50.00×" in text
    document = report_json(report)
    json.dumps(document)  # plain JSON
    assert document["slos"][0]["windows"][0]["burn_rate"] == pytest.approx(50)


def test_status_reads_the_rules_sloth_generated() -> None:
    report = fetch_status(api(lambda r: fake_prometheus(r, SLOTH_ANSWERS)))
    (slo,) = report.slos
    assert (slo.slo_id, slo.service, slo.name) == ("api-availability", "api", "availability")
    assert (slo.objective, slo.period, slo.budget_remaining) == ("99.9", "28d", 0.5)
    assert [w.window for w in slo.windows] == ["5m", "1h"]
    assert [(a.name, a.tier) for a in slo.alerts] == [("ApiHighErrorRate", "page")]
    assert report.guard_alerts == ()
    assert "api availability: objective 99.9 % over 28d" in render_text(report)


def test_only_selected_slos() -> None:
    assert fetch_status(api(), only=["nothing"]).slos == ()
    assert len(fetch_status(api(), only=["availability"]).slos) == 1


def test_unreachable_or_wrong_server_is_a_tool_error() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ToolError, match="cannot reach Prometheus"):
        fetch_status(api(refused))
    with pytest.raises(ToolError, match="without JSON"):
        fetch_status(api(lambda r: httpx.Response(404, text="not found")))
    with pytest.raises(ToolError, match="rejected"):
        fetch_status(api(lambda r: httpx.Response(
            400, json={"status": "error", "error": "parse error"})))


def test_no_rules_loaded_is_said_plainly() -> None:
    with pytest.raises(ToolError, match="no SLO rules are loaded"):
        fetch_status(api(lambda r: httpx.Response(200, json=vector())))
