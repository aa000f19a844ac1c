"""Chaos Mesh manifests for the same CPU chaos on Kubernetes: a `StressChaos`, or a `Schedule`
that repeats it.

Chaos Mesh has no CPU-quota chaos: it competes for CPU with stress-ng workers injected into the
target's container. A quota of Q% of one CPU is therefore written as `workers` stress-ng CPU
workers each loading its CPU (100 - Q)%, which leaves the service about Q% of each of those
CPUs — contention, not CFS throttling; the YAML says so in a comment. Every manifest is checked
against the CRD's own schema (data/chaosmesh, with its source and licence) before it is written,
with unknown fields rejected as `kubectl --validate=strict` would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mapguard.errors import UsageError

API_VERSION = "chaos-mesh.org/v1alpha1"
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_./]*)=([-A-Za-z0-9_.]*)")


@dataclass(frozen=True, slots=True)
class StressSpec:
    name: str
    namespace: str
    labels: Mapping[str, str]
    workers: int
    load_percent: int  # each worker's share of its CPU
    duration: str | None  # a Go duration, e.g. 30s; None: until the object is deleted
    containers: tuple[str, ...] = ()
    quota_percent: float | None = None  # what the stress stands in for, for the comment


def parse_selector(text: str) -> dict[str, str]:
    found = {}
    for item in text.split(","):
        match = _LABEL.fullmatch(item.strip())
        if match is None:
            raise UsageError(f"--selector {text!r}: expected label=value[,label=value...]")
        found[match.group(1)] = match.group(2)
    return found


def check_name(name: str, option: str) -> str:
    if len(name) > 63 or not _NAME.fullmatch(name):
        raise UsageError(f"{option} {name!r}: expected a Kubernetes name (lower-case letters, "
                         "digits and '-', at most 63)")
    return name


def stress_chaos(spec: StressSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "mode": "all",
        "selector": {"namespaces": [spec.namespace], "labelSelectors": dict(spec.labels)},
        "stressors": {"cpu": {"workers": spec.workers, "load": spec.load_percent}},
    }
    if spec.containers:
        body["containerNames"] = list(spec.containers)
    if spec.duration:
        body["duration"] = spec.duration
    return {"apiVersion": API_VERSION, "kind": "StressChaos",
            "metadata": {"name": spec.name, "namespace": spec.namespace}, "spec": body}


def schedule(spec: StressSpec, cron: str) -> dict[str, Any]:
    """The StressChaos repeated on a cron schedule (`@every 1h`, `*/30 * * * *`)."""
    chaos = stress_chaos(spec)["spec"]
    return {"apiVersion": API_VERSION, "kind": "Schedule",
            "metadata": {"name": spec.name, "namespace": spec.namespace},
            "spec": {"schedule": cron, "type": "StressChaos", "historyLimit": 5,
                     "concurrencyPolicy": "Forbid", "stressChaos": chaos}}


@cache
def _schema(kind: str) -> dict[str, Any]:
    name = {"StressChaos": "stresschaos", "Schedule": "schedule"}[kind]
    path = resources.files("mapguard") / "data" / "chaosmesh" / f"{name}.schema.json"
    loaded: dict[str, Any] = _closed(json.loads(path.read_text(encoding="utf-8")))
    return loaded


def _closed(node: Any) -> Any:
    """Objects that list their properties accept no others (strict field validation)."""
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    found = {key: _closed(value) for key, value in node.items()}
    if ("properties" in found and "additionalProperties" not in found
            and not found.get("x-kubernetes-preserve-unknown-fields")):
        found["additionalProperties"] = False
    return found


def validation_errors(document: Mapping[str, Any]) -> list[str]:
    """What the CRD's schema rejects in `document` (empty: valid)."""
    import jsonschema

    kind = document.get("kind")
    if kind not in ("StressChaos", "Schedule"):
        return [f"kind {kind!r}: expected StressChaos or Schedule"]
    validator = jsonschema.Draft7Validator(_schema(str(kind)))
    problems = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(part) for part in error.absolute_path) or "(top)"
        problems.append(f"{where}: {error.message}")
    if not _NAME.fullmatch(str(document.get("metadata", {}).get("name", ""))):
        problems.append("metadata.name: not a Kubernetes name")
    return problems


def render(document: Mapping[str, Any], spec: StressSpec) -> str:
    lines = [f"# Written by mapguard chaos manifest; checked against Chaos Mesh's "
             f"{document['kind']} CRD schema."]
    if spec.quota_percent is not None:
        lines += [
            f"# Chaos Mesh cannot set a CPU quota: {spec.workers} stress-ng CPU worker(s), each "
            f"loading its CPU {spec.load_percent}%,",
            f"# leave the service about {spec.quota_percent:g}% of each of those CPUs "
            "(contention, not CFS throttling;",
            "# `mapguard chaos cpu --quota` throttles for real).",
        ]
    return "\n".join(lines) + "\n" + yaml.safe_dump(dict(document), sort_keys=False)


def write(text: str, output: Path | None) -> None:
    if output is None:
        print(text, end="")
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{output}: cannot write: {exc.strerror or exc}") from None
