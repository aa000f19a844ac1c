"""Alertmanager routing and inhibition for the generated alerts.

A complete, valid configuration (so `amtool check-config` can prove it) meant to be merged into
yours: pages and tickets get their own receivers and timings, and a firing page inhibits the
tickets of the same SLO (`equal: [mapguard_slo_id]`, or `[sloth_id]` in Sloth's convention) —
the slow-burn ticket adds nothing while the same budget is already paging someone. Receivers are
placeholders without integrations. Routes and inhibitions are written for each label convention
the specs use.

With a `mapguard respond` webhook, map guard alerts (`mapguard_guard`) and pages
(`mapguard_tier="page"`, or `sloth_severity="page"` in Sloth's convention, whose page and ticket
alerts share one name) also go to it, first and with `continue: true`, so people are still told.
Each alert is its own group there (`group_by: [...]`): the receiver acts per alert, and one
alert's action never waits for another's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mapguard.slo import conventions as c
from mapguard.slo.model import SpecSet
from mapguard.slo.yamltext import dump

PAGE_RECEIVER = "mapguard-page"
TICKET_RECEIVER = "mapguard-ticket"
DEFAULT_RECEIVER = "mapguard-default"
RESPOND_RECEIVER = "mapguard-respond"
GUARD_LABEL = "mapguard_guard"  # on every map guard alert (see guards.py)


@dataclass(frozen=True, slots=True)
class RespondWebhook:
    """Where `mapguard respond` listens, and the file of the bearer token it wants."""

    url: str
    token_file: str | None = None
    ca_file: str | None = None  # the CA that signed its certificate, when not a public one


def _respond_routes(namings: list[c.Naming], guards: bool) -> list[dict[str, Any]]:
    matchers = ([f'{GUARD_LABEL}=~".+"'] if guards else []) + \
        [f'{naming.tier_label}="page"' for naming in namings]
    return [
        {
            "receiver": RESPOND_RECEIVER,
            "matchers": [matcher],
            "group_by": ["..."],
            # Act fast; repeats are harmless (the receiver runs once per firing) and retry
            # what its guard rails turned away (kill switch, cooldown, a full queue).
            "group_wait": "10s",
            "group_interval": "1m",
            "repeat_interval": "5m",
            "continue": True,
        }
        for matcher in matchers
    ]


def _respond_receiver(webhook: RespondWebhook) -> dict[str, Any]:
    http_config: dict[str, Any] = {"follow_redirects": False}
    if webhook.token_file is not None:
        http_config["authorization"] = {"type": "Bearer",
                                        "credentials_file": webhook.token_file}
    if webhook.ca_file is not None:
        http_config["tls_config"] = {"ca_file": webhook.ca_file}
    return {"name": RESPOND_RECEIVER, "webhook_configs": [
        {"url": webhook.url, "send_resolved": True, "max_alerts": 0,
         "http_config": http_config},
    ]}


def _routes(naming: c.Naming, page_receiver: str, ticket_receiver: str) -> list[dict[str, Any]]:
    slo = [naming.service_label, naming.slo_label]
    return [
        {
            "receiver": page_receiver,
            "matchers": [f'{naming.tier_label}="page"'],
            "group_by": ["alertname", *slo],
            # Pages: tell someone fast, remind while the budget still burns.
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "1h",
        },
        {
            "receiver": ticket_receiver,
            "matchers": [f'{naming.tier_label}="ticket"'],
            "group_by": ["alertname", *slo, "target"],
            # Tickets: batch them; once a day is enough of a reminder.
            "group_wait": "5m",
            "group_interval": "1h",
            "repeat_interval": "1d",
        },
    ]


def alertmanager_config(
    conventions: tuple[c.Convention, ...] = (c.Convention.MAPGUARD,),
    *,
    page_receiver: str = PAGE_RECEIVER,
    ticket_receiver: str = TICKET_RECEIVER,
    respond: RespondWebhook | None = None,
    guards: bool = False,
) -> dict[str, Any]:
    receivers: list[dict[str, Any]] = [
        {"name": name}
        for name in dict.fromkeys([DEFAULT_RECEIVER, page_receiver, ticket_receiver])
    ]
    namings = [c.naming(convention) for convention in dict.fromkeys(conventions)]
    routes = [route for naming in namings
              for route in _routes(naming, page_receiver, ticket_receiver)]
    if respond is not None:
        routes = _respond_routes(namings, guards) + routes
        receivers.append(_respond_receiver(respond))
    return {
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": ["alertname", namings[0].service_label],
            "routes": routes,
        },
        "inhibit_rules": [
            {
                "source_matchers": [f'{naming.tier_label}="page"'],
                "target_matchers": [f'{naming.tier_label}="ticket"'],
                "equal": [naming.id_label],
            }
            for naming in namings
        ],
        "receivers": receivers,
    }


def render_alertmanager(specs: SpecSet, respond: RespondWebhook | None = None,
                        **receivers: str) -> str:
    services = ", ".join(sorted({slo.service for slo in specs.slos})) or "map guards only"
    header = (
        f"Alertmanager routes and inhibition for mapguard SLO alerts ({services}).\n"
        "Generated by `mapguard slo generate --alertmanager`; merge `route.routes`,\n"
        "`inhibit_rules` and the receivers into your configuration. Check: amtool check-config"
    )
    # Map guards alert in mapguard's convention (mapguard_tier) whatever the SLOs use.
    conventions = tuple(slo.convention for slo in specs.slos)
    if specs.guards or not conventions:
        conventions += (c.Convention.MAPGUARD,)
    if respond is not None:
        header += f"\nGuard alerts and pages also go to mapguard respond at {respond.url}."
    return dump(alertmanager_config(conventions, respond=respond, guards=bool(specs.guards),
                                    **receivers), header=header)
