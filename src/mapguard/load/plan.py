"""What a load run is asked to do: target, request bodies, rate steps, bounds.

Pure: command-line text in, a `LoadPlan` out, or `UsageError` / `InputError` naming the problem.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mapguard.errors import InputError, UsageError

# Every run is bounded: an hour of sending, ten million requests, a million per second.
MAX_SECONDS = 3600.0
MAX_REQUESTS = 10_000_000
MAX_RATE = 1_000_000.0
MAX_STEPS = 1000
DEFAULT_WARMUP_S = 1.0
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_CONNECTIONS = 512
INTERVAL_S = 1.0

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_S = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True, slots=True)
class Step:
    rate: float  # intended requests per second
    seconds: float
    warmup: bool = False  # measured, but left out of every figure

    @property
    def requests(self) -> int:
        return round(self.rate * self.seconds)


@dataclass(frozen=True, slots=True)
class LoadPlan:
    url: str
    method: str
    steps: tuple[Step, ...]  # the warm-up first, when there is one
    bodies: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    max_connections: int = DEFAULT_CONNECTIONS
    timeout_s: float = DEFAULT_TIMEOUT_S
    interval_s: float = INTERVAL_S

    @property
    def measured_steps(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if not step.warmup)

    @property
    def seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    def engine_plan(self) -> dict[str, object]:
        """The JSON the Go engine reads on stdin."""
        return {
            "url": self.url, "method": self.method, "headers": dict(self.headers),
            "bodies": list(self.bodies),
            "steps": [{"rate": s.rate, "duration": s.seconds, "warmup": s.warmup}
                      for s in self.steps],
            "max_connections": self.max_connections, "timeout": self.timeout_s,
            "interval": self.interval_s,
        }


def parse_seconds(text: str, option: str) -> float:
    """`60s`, `1.5s`, `500ms`, `2m`, `1h`, `1m30s` -> seconds."""
    cleaned = text.strip()
    parts = _DURATION.findall(cleaned)
    if not parts or "".join(number + unit for number, unit in parts) != cleaned:
        raise UsageError(f"{option} {text!r}: not a duration (expected e.g. 500ms, 20s, 2m, 1h)")
    return math.fsum(float(number) * _UNIT_S[unit] for number, unit in parts)


def parse_rates(text: str) -> tuple[float, ...]:
    """`2000` (constant), `500:4000:500` (from:to:by, both ends included) or `1000,2000,4000`."""
    try:
        if ":" in text:
            start, stop, by = (float(part) for part in text.split(":"))
            if by <= 0 or stop < start:
                raise ValueError
            count = math.floor((stop - start) / by + 1e-9) + 1
            rates = tuple(start + index * by for index in range(min(count, MAX_STEPS + 1)))
        else:
            rates = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--rate {text!r}: expected N, FROM:TO:BY or N,N,... requests per "
                         "second") from None
    if not rates or any(not 0 < rate <= MAX_RATE for rate in rates):
        raise UsageError(f"--rate {text!r}: every rate must be above 0 and at most "
                         f"{MAX_RATE:,.0f} per second")
    if len(rates) > MAX_STEPS:
        raise UsageError(f"--rate {text!r}: more than {MAX_STEPS} steps")
    return rates


def build_steps(rates: Sequence[float], *, step_s: float | None, duration_s: float | None,
                warmup_s: float) -> tuple[Step, ...]:
    """One step per rate. A single rate runs for `duration_s`; several need `step_s` (or a
    duration they share equally)."""
    if step_s is None:
        if duration_s is None:
            raise UsageError("--duration or --step is needed: every run is bounded in time")
        step_s = duration_s / len(rates)
    elif duration_s is not None and not math.isclose(step_s * len(rates), duration_s):
        raise UsageError(f"--duration {duration_s:g}s does not match {len(rates)} steps of "
                         f"{step_s:g}s; give one of them")
    if step_s < INTERVAL_S:
        raise UsageError(f"a step must last at least {INTERVAL_S:g}s")
    steps = tuple(Step(rate, step_s) for rate in rates)
    if warmup_s > 0:
        steps = (Step(rates[0], warmup_s, warmup=True), *steps)
    total_s = sum(step.seconds for step in steps)
    total_requests = sum(step.requests for step in steps)
    if total_s > MAX_SECONDS:
        raise UsageError(f"the run would last {total_s:,.0f}s; at most {MAX_SECONDS:,.0f}s")
    if total_requests > MAX_REQUESTS:
        raise UsageError(f"the run would send {total_requests:,} requests; at most "
                         f"{MAX_REQUESTS:,}")
    return steps


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{url!r}: expected an http:// or https:// URL")
    return url


def read_body(text: str) -> str:
    """`--body TEXT` or `--body @FILE`."""
    if not text.startswith("@"):
        return text
    return _read_text(Path(text[1:]), "--body")


def read_bodies(path: Path) -> tuple[str, ...]:
    """`--bodies FILE`: one request body per line (JSON lines), sent in turn."""
    bodies = tuple(line for line in _read_text(path, "--bodies").splitlines() if line.strip())
    if not bodies:
        raise InputError(path, "no request bodies (expected one body per line)")
    return bodies


def parse_header(text: str) -> tuple[str, str]:
    name, colon, value = text.partition(":")
    if not colon or not name.strip() or any(c in text for c in "\r\n"):
        raise UsageError(f"--header {text!r}: expected 'Name: value' on one line")
    return name.strip(), value.strip()


def default_headers(headers: Sequence[tuple[str, str]], bodies: Sequence[str]
                    ) -> tuple[tuple[str, str], ...]:
    """Adds a Content-Type for bodies (JSON when the first body is JSON) unless one is given."""
    names = {name.lower() for name, _ in headers}
    found = list(headers)
    if bodies and "content-type" not in names:
        found.append(("Content-Type", "application/json" if _is_json(bodies[0])
                      else "application/octet-stream"))
    if "user-agent" not in names:
        found.append(("User-Agent", "mapguard-load"))
    return tuple(found)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _read_text(path: Path, option: str) -> str:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(path, f"{option}: is a directory, expected a file") from None
    except OSError as exc:
        raise InputError(path, f"{option}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"{option}: not UTF-8 text", where=f"offset {exc.start}") \
            from None
