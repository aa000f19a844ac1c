"""Load spec files of any supported format into one `SpecSet`.

Formats are recognised by their header: ``version: prometheus/v1`` (Sloth, also its Kubernetes
``kind: PrometheusServiceLevel``), ``version: mapguard/v1``, ``apiVersion: openslo/v1``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mapguard.errors import InputError
from mapguard.slo.durations import Duration
from mapguard.slo.loading import Document, read_documents
from mapguard.slo.model import SpecSet
from mapguard.slo.spec_mapguard import MAPGUARD_VERSION, read_mapguard
from mapguard.slo.spec_openslo import OPENSLO_VERSION, read_openslo
from mapguard.slo.spec_sloth import DEFAULT_PERIOD, SLOTH_VERSION, read_sloth

FORMATS = (SLOTH_VERSION, MAPGUARD_VERSION, OPENSLO_VERSION)
_EXPECTED = "version: prometheus/v1 (Sloth), version: mapguard/v1 or apiVersion: openslo/v1"


def detect_format(document: Document) -> str:
    data: Any = document.data
    head = data[0] if isinstance(data, list) and data else data
    if not isinstance(head, dict):
        raise document.error((), "not a mapping", expected=_EXPECTED)
    if head.get("kind") == "PrometheusServiceLevel":
        return SLOTH_VERSION
    version = head.get("version")
    if version in (SLOTH_VERSION, MAPGUARD_VERSION):
        return str(version)
    api_version = head.get("apiVersion")
    if api_version == OPENSLO_VERSION:
        return OPENSLO_VERSION
    found = version or api_version
    field = "version" if version else "apiVersion" if api_version else ()
    raise document.error(
        (field,) if field else (),
        f"unsupported spec version {found!r}" if found else "no version or apiVersion",
        expected=_EXPECTED,
    )


def load_spec(
    path: Path | str, *, default_period: Duration = DEFAULT_PERIOD, text: str | None = None
) -> SpecSet:
    """Read one file (which may hold several YAML documents)."""
    documents = read_documents(path, text)
    result = SpecSet()
    openslo = [d for d in documents if detect_format(d) == OPENSLO_VERSION]
    for document in documents:
        kind = detect_format(document)
        if kind == SLOTH_VERSION:
            result = result.merged(read_sloth(document, default_period=default_period))
        elif kind == MAPGUARD_VERSION:
            result = result.merged(read_mapguard(document))
    if openslo:
        result = result.merged(read_openslo(openslo, default_period=default_period))
    return result


def load_specs(
    paths: Iterable[Path | str], *, default_period: Duration = DEFAULT_PERIOD
) -> SpecSet:
    """Read several files; SLO ids and guard targets must be unique across all of them."""
    result = SpecSet()
    for path in paths:
        result = result.merged(load_spec(path, default_period=default_period))
    _check_unique(result)
    return SpecSet(result.slos, result.guards, result.warnings + _name_clashes(result),
                   result.formats)


def _check_unique(specs: SpecSet) -> None:
    seen: dict[str, tuple[str, str]] = {}
    for slo in specs.slos:
        if slo.id in seen:
            source, path = seen[slo.id]
            raise InputError(
                slo.source, f"SLO id {slo.id!r} is already defined by {source} {path}",
                where=slo.path, expected="unique service and SLO names",
            )
        seen[slo.id] = (slo.source, slo.path)
    targets: dict[str, tuple[str, str]] = {}
    for guard in specs.guards:
        if guard.target in targets:
            source, path = targets[guard.target]
            raise InputError(
                guard.source, f"target {guard.target!r} is already guarded by {source} {path}",
                where=guard.path, expected="one map guard per target",
            )
        targets[guard.target] = (guard.source, guard.path)


def _name_clashes(specs: SpecSet) -> tuple[str, ...]:
    owners: dict[str, str] = {}
    found = []
    for slo in specs.slos:
        name = slo.alerting.name
        if name in owners:
            found.append(
                f"{slo.source}: {slo.path}: alert name {name!r} is also used by SLO "
                f"{owners[name]!r}; distinct names keep routing, silences and tests apart"
            )
        owners.setdefault(name, slo.id)
    return tuple(found)
