"""The load engine's output: JSON lines (`start`, one `interval` per second, `end`).

Pure: `parse_line` turns one line into a record or raises `InputError`. An interval covers a
window of *intended* send time; its histograms are sparse `[value, count]` pairs in microseconds
(HdrHistogram's bucket layout, 3 significant digits).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mapguard.errors import InputError

SOURCE = "load engine output"
Buckets = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Start:
    unix_ns: int
    tickets: int
    gomaxprocs: int
    num_cpu: int
    max_connections: int
    interval_ns: int
    measure_from_ns: int  # Unix time when the warm-up ends


@dataclass(frozen=True, slots=True)
class Interval:
    index: int
    step: int  # index into the plan's steps (the warm-up is step 0 when there is one)
    warmup: bool
    start_ns: int  # intended send time window, Unix nanoseconds
    end_ns: int
    scheduled: int  # requests whose intended send time falls in the window
    sent: int  # of those, sent before their step ended (the rate held)
    answered: int  # got an HTTP response (any status)
    queued: int  # waited for a free connection (all were busy at their time)
    errors: Mapping[str, int]  # kind -> count ("status 503", "timeout", "not sent", ...)
    max_in_flight: int
    latency_us: Buckets  # intended send time -> response read, answered requests
    service_us: Buckets  # actual send time -> response read (what closed-loop tools report)
    lag_us: Buckets  # how late the engine's timer sent the requests it was waiting for

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9


@dataclass(frozen=True, slots=True)
class End:
    unix_ns: int
    interrupted: bool
    connections: int


@dataclass(slots=True)
class EngineRun:
    """What one run of the engine reported, as it arrives."""

    start: Start | None = None
    intervals: list[Interval] = field(default_factory=list)
    end: End | None = None
    interrupted: bool = False

    @property
    def ended(self) -> bool:
        return self.end is not None

    def add(self, record: Start | Interval | End) -> None:
        if isinstance(record, Start):
            self.start = record
        elif isinstance(record, Interval):
            self.intervals.append(record)
        else:
            self.end = record
            self.interrupted = self.interrupted or record.interrupted


def parse_line(raw: bytes | str) -> Start | Interval | End:
    try:
        data = json.loads(raw)
    except ValueError:
        raise InputError(SOURCE, "not a JSON line", expected="one JSON object per line") \
            from None
    if not isinstance(data, dict):
        raise InputError(SOURCE, "not a JSON object")
    kind = data.get("type")
    try:
        if kind == "start":
            return Start(_int(data, "unix_ns"), _int(data, "tickets"), _int(data, "gomaxprocs"),
                         _int(data, "num_cpu"), _int(data, "max_connections"),
                         _int(data, "interval_ns"), _int(data, "measure_from_unix_ns"))
        if kind == "end":
            return End(_int(data, "unix_ns"), bool(data.get("interrupted")),
                       _int(data, "max_connections_used"))
        if kind == "interval":
            return _interval(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(SOURCE, f"a {kind} record without a valid {exc}") from None
    raise InputError(SOURCE, f"unknown record type {kind!r}",
                     expected="start, interval or end")


def _interval(data: dict[str, Any]) -> Interval:
    errors = data["errors"]
    if not isinstance(errors, dict):
        raise TypeError("errors")
    return Interval(
        index=_int(data, "index"), step=_int(data, "step"), warmup=bool(data["warmup"]),
        start_ns=_int(data, "start_ns"), end_ns=_int(data, "end_ns"),
        scheduled=_int(data, "scheduled"), sent=_int(data, "sent"),
        answered=_int(data, "answered"), queued=_int(data, "queued"),
        errors={str(kind): int(count) for kind, count in errors.items()},
        max_in_flight=_int(data, "max_in_flight"),
        latency_us=_buckets(data, "latency_us"), service_us=_buckets(data, "service_us"),
        lag_us=_buckets(data, "lag_us"),
    )


def _int(data: dict[str, Any], key: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(key)
    return value


def _buckets(data: dict[str, Any], key: str) -> Buckets:
    pairs = data[key]
    if not isinstance(pairs, list):
        raise ValueError(key)
    found = []
    for pair in pairs:
        if (not isinstance(pair, list) or len(pair) != 2
                or not all(isinstance(v, int) and v >= 0 for v in pair)):
            raise ValueError(key)
        found.append((pair[0], pair[1]))
    return tuple(found)

