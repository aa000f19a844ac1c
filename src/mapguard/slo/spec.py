"""Load spec files of any supported format into one `SpecSet`.

Formats are recognised by their header: ``version: prometheus/v1`` (Sloth), ``kind:
PrometheusServiceLevel`` (Sloth's Kubernetes form), ``version: mapguard/v1``, ``apiVersion:
openslo/v1`` and Sloth's ``apiVersion: openslo/v1alpha``. A file may hold several YAML
documents; a directory is read recursively (``*.yaml``, ``*.yml``), as Sloth reads one.

`check_specs` reads everything it can and returns every problem it found (one InputError per
problem, each one line); `load_specs` raises the first (for library callers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mapguard.errors import InputError
from mapguard.slo.alert_windows import is_catalog
from mapguard.slo.conventions import Convention
from mapguard.slo.durations import Duration
from mapguard.slo.loading import Document, problems_of, read_documents
from mapguard.slo.model import BurnWindow, SpecSet
from mapguard.slo.spec_mapguard import MAPGUARD_VERSION, read_mapguard
from mapguard.slo.spec_openslo import OPENSLO_VERSION, read_openslo
from mapguard.slo.spec_openslo_alpha import OPENSLO_ALPHA, read_openslo_alpha
from mapguard.slo.spec_sloth import DEFAULT_PERIOD, K8S_KIND, K8S_VERSION, SLOTH_VERSION, read_sloth

FORMATS = (SLOTH_VERSION, K8S_VERSION, MAPGUARD_VERSION, OPENSLO_VERSION, OPENSLO_ALPHA)
_EXPECTED = (
    "version: prometheus/v1 or kind: PrometheusServiceLevel (Sloth), version: mapguard/v1, "
    "apiVersion: openslo/v1 or openslo/v1alpha"
)
Catalog = Mapping[Duration, tuple[BurnWindow, ...]]


@dataclass(frozen=True, slots=True)
class Discovery:
    """Which files of a directory to read (Sloth's --fs-include / --fs-exclude)."""

    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None

    def wanted(self, path: Path) -> bool:
        text = str(path)
        if self.exclude is not None and self.exclude.search(text):
            return False
        return self.include is None or self.include.search(text) is not None


def detect_format(document: Document) -> str:
    data: Any = document.data
    head = data[0] if isinstance(data, list) and data else data
    if not isinstance(head, dict):
        raise document.error((), "not a mapping", expected=_EXPECTED)
    if head.get("kind") == K8S_KIND:
        return K8S_VERSION
    if is_catalog(document):
        raise document.error(("kind",), "an AlertWindows catalog, not an SLO spec",
                             expected="its directory passed with --windows")
    version = head.get("version")
    if version in (SLOTH_VERSION, MAPGUARD_VERSION):
        return str(version)
    api_version = head.get("apiVersion")
    if api_version in (OPENSLO_VERSION, OPENSLO_ALPHA):
        return str(api_version)
    found = version or api_version
    field = "version" if version else "apiVersion" if api_version else ()
    raise document.error(
        (field,) if field else (),
        f"unsupported spec version {found!r}" if found else "no version or apiVersion",
        expected=_EXPECTED,
    )


def expand_paths(paths: Iterable[Path | str], discovery: Discovery = Discovery()
                 ) -> tuple[list[Path], list[InputError], list[str]]:
    """Files to read: each file as given, each directory's YAML files (recursively, sorted).

    AlertWindows catalogs found in a directory are left out with a note (they are read with
    --windows); a directory with no spec is a problem.
    """
    files: list[Path] = []
    problems: list[InputError] = []
    notes: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in {".yaml", ".yml"}
                           and p.is_file() and discovery.wanted(p))
            specs = [p for p in found if not _is_catalog_file(p)]
            notes += [f"{p}: an AlertWindows catalog, not read as a spec (pass its directory "
                      "with --windows)" for p in found if p not in specs]
            if not specs:
                problems.append(InputError(path, "no SLO spec (*.yaml, *.yml) in this "
                                           "directory"))
            files += specs
        elif not path.exists():
            problems.append(InputError(path, "no such file or directory"))
        else:
            files.append(path)
    return files, problems, notes


def _is_catalog_file(path: Path) -> bool:
    try:
        documents = read_documents(path)
    except InputError:
        return False  # reported when it is read as a spec
    return all(is_catalog(d) for d in documents)


def read_file(
    path: Path | str, *, default_period: Duration = DEFAULT_PERIOD,
    catalog: Catalog | None = None, text: str | None = None,
) -> tuple[SpecSet, list[InputError]]:
    """Every document of one file; a bad document does not stop the others."""
    try:
        documents = read_documents(path, text)
    except InputError as exc:
        return SpecSet(), [exc]
    result = SpecSet()
    problems: list[InputError] = []
    openslo = []
    for document in documents:
        try:
            kind = detect_format(document)
            if kind in (SLOTH_VERSION, K8S_VERSION):
                result = result.merged(read_sloth(document, default_period=default_period,
                                                  catalog=catalog))
            elif kind == MAPGUARD_VERSION:
                result = result.merged(read_mapguard(document))
            elif kind == OPENSLO_ALPHA:
                result = result.merged(read_openslo_alpha(document, default_period=default_period))
            else:
                openslo.append(document)
        except InputError as exc:
            problems += problems_of(exc)
    if openslo:  # OpenSLO objects refer to each other by name within a file
        try:
            result = result.merged(read_openslo(openslo, default_period=default_period))
        except InputError as exc:
            problems += problems_of(exc)
    return result, problems


def check_specs(
    paths: Iterable[Path | str], *, default_period: Duration = DEFAULT_PERIOD,
    catalog: Catalog | None = None, discovery: Discovery = Discovery(),
    allow_duplicates: bool = False,
) -> tuple[SpecSet, tuple[InputError, ...]]:
    """Read every spec and return what loaded with every problem found, in file order."""
    files, problems, notes = expand_paths(paths, discovery)
    result = SpecSet(warnings=tuple(notes))
    for path in files:
        found, file_problems = read_file(path, default_period=default_period, catalog=catalog)
        result = result.merged(found)
        problems += file_problems
    if not allow_duplicates:
        problems += _duplicates(result)
    return SpecSet(result.slos, result.guards, result.warnings + _name_clashes(result),
                   result.formats), tuple(problems)


def load_spec(
    path: Path | str, *, default_period: Duration = DEFAULT_PERIOD, text: str | None = None,
    catalog: Catalog | None = None,
) -> SpecSet:
    """Read one file (which may hold several YAML documents); raise its first problem."""
    result, problems = read_file(path, default_period=default_period, catalog=catalog,
                                 text=text)
    if problems:
        raise problems[0]
    return result


def load_specs(
    paths: Iterable[Path | str], *, default_period: Duration = DEFAULT_PERIOD,
    catalog: Catalog | None = None,
) -> SpecSet:
    """Read several files or directories; SLO ids and guard targets must be unique across all
    of them. Raise the first problem found."""
    result, problems = check_specs(paths, default_period=default_period, catalog=catalog)
    if problems:
        raise problems[0]
    return result


def _duplicates(specs: SpecSet) -> list[InputError]:
    found: list[InputError] = []
    seen: dict[str, tuple[str, str]] = {}
    for slo in specs.slos:
        if slo.id in seen:
            source, path = seen[slo.id]
            found.append(InputError(
                slo.source, f"SLO id {slo.id!r} is already defined by {source} {path}",
                where=slo.path, expected="unique service and SLO names, or --ignore-slo-duplicates "
                "(as Sloth) and generate -o DIR/",
            ))
        seen.setdefault(slo.id, (slo.source, slo.path))
    targets: dict[str, tuple[str, str]] = {}
    for guard in specs.guards:
        if guard.target in targets:
            source, path = targets[guard.target]
            found.append(InputError(
                guard.source, f"target {guard.target!r} is already guarded by {source} {path}",
                where=guard.path, expected="one map guard per target",
            ))
        targets.setdefault(guard.target, (guard.source, guard.path))
    return found


def _name_clashes(specs: SpecSet) -> tuple[str, ...]:
    # Sloth's convention shares one alert name between tiers and often between SLOs, by design.
    owners: dict[str, str] = {}
    found = []
    for slo in specs.slos:
        name = slo.alerting.name
        if slo.convention is not Convention.MAPGUARD or not name:
            continue
        if name in owners:
            found.append(
                f"{slo.source}: {slo.path}: alert name {name!r} is also used by SLO "
                f"{owners[name]!r}; distinct names keep routing, silences and tests apart"
            )
        owners.setdefault(name, slo.id)
    return tuple(found)
