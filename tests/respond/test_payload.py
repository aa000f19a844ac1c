"""Alertmanager's webhook payload v4: what is accepted, and that anything else is one clear
InputError (never another exception), whatever the bytes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.errors import InputError
from mapguard.respond.payload import Status, parse_notification

from .conftest import alert, notification


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


def test_a_notification_with_firing_and_resolved_alerts() -> None:
    parsed = parse_notification(body(notification(
        alert(site="a"),
        alert("resolved", fingerprint="fedcba9876543210", starts_at="2030-01-01T11:00:00+02:00",
              site="b"),
    )), "test")
    assert parsed.receiver == "mapguard-respond"
    assert [a.status for a in parsed.alerts] == [Status.FIRING, Status.RESOLVED]
    first, second = parsed.alerts
    assert first.name == "MapguardMapAllocSpike" and first.labels["site"] == "a"
    assert first.firing_id == "0123456789abcdef@2030-01-01T10:00:00+00:00"
    # Times are kept in UTC: one firing has one id, however Alertmanager wrote its zone.
    assert second.starts_at == datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def test_keys_added_within_version_4_are_ignored() -> None:
    document = notification()
    document["somethingNew"] = {"x": 1}
    document["alerts"][0]["alsoNew"] = True
    del document["truncatedAlerts"]  # older Alertmanagers do not send it
    assert parse_notification(body(document), "test").truncated_alerts == 0


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    parts: list[Any] = [int(p) if p.isdigit() else p for p in path.split(".")]
    *parents, last = parts
    target: Any = changed
    for part in parents:
        target = target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return changed


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "where", "problem"),
    [
        ("version", "3", "version", "version '3'"),
        ("version", 4, "version", "version 4"),
        ("status", "pending", "status", "input should be 'firing' or 'resolved'"),
        ("alerts", [], "alerts", "list should have at least 1 item"),
        ("alerts", _DELETE, "alerts", "missing"),
        ("groupLabels", {"a": 1}, "groupLabels.a", "input should be a valid string"),
        ("alerts.0.labels", {"alertname": "X", "site": 5}, "alerts[0].labels.site",
         "input should be a valid string"),
        ("alerts.0.labels", {"site": "a"}, "alerts[0].labels.alertname", "missing"),
        ("alerts.0.labels", {"alertname": ""}, "alerts[0].labels.alertname", "missing"),
        ("alerts.0.fingerprint", "0123456789ABCDEF", "alerts[0].fingerprint",
         "string should match pattern"),
        ("alerts.0.fingerprint", "$(id)", "alerts[0].fingerprint",
         "string should match pattern"),
        ("alerts.0.startsAt", "yesterday", "alerts[0].startsAt", "input should be a valid"),
        ("alerts.0.startsAt", "2030-01-01T10:00:00", "alerts[0].startsAt", "no time zone"),
        ("alerts.0.status", None, "alerts[0].status", "input should be"),
        ("alerts.0", "x", "alerts[0]", "input should be"),
    ],
)
def test_what_is_not_a_v4_payload(path: str, value: Any, where: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_notification(body(_set(notification(), path, value)), "request from 127.0.0.1")
    assert caught.value.source == "request from 127.0.0.1"
    assert caught.value.where == where
    assert caught.value.problem.startswith(problem), caught.value.problem


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b"null", b'"4"', b"\xff\xfe{}",
                                 b"[" * 100_000, b'{"version": "4"}'])
def test_not_json_or_not_an_object(raw: bytes) -> None:
    with pytest.raises(InputError):
        parse_notification(raw, "test")


def test_one_bad_alert_refuses_the_whole_notification() -> None:
    good, bad = alert(site="a"), alert(site="b")
    bad["fingerprint"] = "nope"
    with pytest.raises(InputError) as caught:
        parse_notification(body(notification(good, bad)), "test")
    assert caught.value.where == "alerts[1].fingerprint"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_input_errors(raw: bytes) -> None:
    try:
        parsed = parse_notification(raw, "fuzz")
    except InputError as exc:
        assert str(exc).startswith("fuzz")
    else:
        assert parsed.alerts


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["version", "status", "alerts", "receiver", "groupKey",
                                        "groupLabels", "commonLabels", "commonAnnotations",
                                        "externalURL", "truncatedAlerts"]), _json))
def test_arbitrary_json_raises_only_input_errors(changes: dict[str, Any]) -> None:
    try:
        parsed = parse_notification(body({**notification(), **changes}), "fuzz")
    except InputError as exc:
        assert str(exc).startswith("fuzz")
    else:
        assert parsed.alerts
