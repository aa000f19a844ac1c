"""Alertmanager's webhook payload, version 4, validated: bytes in, a `Notification` out.

Alertmanager posts one JSON document per notification of an alert group: the group's status
and labels, and each alert with its own status (`firing` or `resolved`), labels, annotations,
`startsAt` and a fingerprint of its label set. Everything that is not such a document is
refused whole — one bad alert and nothing in the request runs. Keys Alertmanager may add
within version 4 are ignored; a missing or mistyped known key is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from mapguard.errors import InputError

# Alertmanager writes a fingerprint as 16 lowercase hex digits (a 64-bit hash of the labels).
Fingerprint = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]


class Status(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class _Strict(BaseModel):
    # Strict: no 1 -> "1" coercions; a label is text or the payload is not Alertmanager's.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class _AlertModel(_Strict):
    status: Status
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: datetime  # Alertmanager's spellings
    endsAt: datetime
    generatorURL: str
    fingerprint: Fingerprint


class _NotificationModel(_Strict):
    version: Literal["4"]
    groupKey: str
    truncatedAlerts: int = Field(default=0, ge=0)
    status: Status
    receiver: str
    groupLabels: dict[str, str]
    commonLabels: dict[str, str]
    commonAnnotations: dict[str, str]
    externalURL: str
    alerts: list[_AlertModel] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Alert:
    status: Status
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime  # UTC
    fingerprint: str
    generator_url: str

    @property
    def name(self) -> str:
        return self.labels["alertname"]

    @property
    def firing_id(self) -> str:
        """One firing of one alert: Alertmanager repeats it with the same fingerprint and
        start; a new firing after a resolve starts later."""
        return f"{self.fingerprint}@{self.starts_at.isoformat()}"


@dataclass(frozen=True, slots=True)
class Notification:
    receiver: str
    status: Status
    group_key: str
    alerts: tuple[Alert, ...]
    truncated_alerts: int


def parse_notification(body: bytes, source: str) -> Notification:
    """The notification in `body`, or an InputError naming `source` and the first problem."""
    try:
        model = _NotificationModel.model_validate_json(body)
    except pydantic.ValidationError as exc:
        raise _input_error(source, exc.errors(include_url=False)[0]) from None
    alerts = tuple(_alert(source, index, alert) for index, alert in enumerate(model.alerts))
    return Notification(model.receiver, model.status, model.groupKey, alerts,
                        model.truncatedAlerts)


def _alert(source: str, index: int, model: _AlertModel) -> Alert:
    if not model.labels.get("alertname"):
        raise InputError(source, "missing", where=f"alerts[{index}].labels.alertname",
                         expected="the alert's name")
    if model.startsAt.tzinfo is None:
        raise InputError(source, "no time zone", where=f"alerts[{index}].startsAt",
                         expected="an RFC 3339 time")
    return Alert(model.status, dict(model.labels), dict(model.annotations),
                 model.startsAt.astimezone(UTC), model.fingerprint, model.generatorURL)


def _input_error(source: str, error: Any) -> InputError:
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                    for part in error["loc"]).lstrip(".") or None
    kind = error["type"]
    if kind == "json_invalid":
        return InputError(source, "not JSON", expected="an Alertmanager webhook payload")
    if kind == "missing":
        return InputError(source, "missing", where=where)
    if kind == "literal_error" and where == "version":
        return InputError(source, f"version {_short(error.get('input'))}",
                          where=where, expected='Alertmanager webhook version "4"')
    return InputError(source, f"{error['msg'][0].lower()}{error['msg'][1:]}", where=where)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
