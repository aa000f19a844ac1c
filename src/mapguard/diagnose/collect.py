"""The evidence of one label of a bundle, read; a file that cannot be read is a problem named
in one line, and the rest is still used."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mapguard.bundle import evidence as loaders
from mapguard.bundle.reader import Bundle, Entry, read_json_file
from mapguard.bundle.shape import Doc
from mapguard.diagnose.engine import LabelEvidence
from mapguard.errors import InputError, MapguardError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Collected:
    evidence: LabelEvidence
    problems: tuple[str, ...]  # files not used, each with why


def label_evidence(bundle: Bundle, label: str, *, source: Path | None = None) -> Collected:
    """`source` (the Go tree) overrides the bundle's for this label."""
    problems: list[str] = []
    notes: list[str] = []
    tree = source or bundle.source(label)

    def each(kind: str, load: Callable[[Entry], T]) -> list[T]:
        found = []
        for entry in bundle.of(kind, label):
            try:
                found.append(load(entry))
            except MapguardError as exc:
                problems.append(f"{bundle.root / entry.name}: {_without_origin(exc, entry)}")
        return found

    costs = each("profile", lambda e: loaders.load_costs(e, tree)) + each(
        "watch", lambda e: loaders.load_costs(e, tree))
    allocations = [c for c in costs if c.is_allocation]
    cpus = [c for c in costs if not c.is_allocation]
    for extra, what in ((allocations[1:], "allocation"), (cpus[1:], "CPU")):
        for item in extra:
            notes.append(f"{item.origin}: a second {what} profile of {label}, not used "
                         f"({allocations[0].origin if what == 'allocation' else cpus[0].origin}"
                         " is): profiles of different runs are not added up")
    gcs = each("gc", loaders.load_gc)
    ebpfs = each("ebpf", loaders.load_ebpf)
    evidence = LabelEvidence(
        label=label, source=tree,
        lint=tuple(each("lint", loaders.load_lint)),
        escape=tuple(each("escape", loaders.load_escape)),
        allocation=allocations[0] if allocations else None,
        cpu=cpus[0] if cpus else None,
        gc=gcs[0] if gcs else None,
        ebpf=ebpfs[0] if ebpfs else None,
        loads=tuple(each("load", loaders.load_load) + each("chaos", loaders.load_load)),
        slo=tuple(each("slo", loaders.load_slo)),
        notes=tuple(notes),
    )
    return Collected(evidence, tuple(problems))


@dataclass(frozen=True, slots=True)
class SavedSeries:
    """What `diagnose --prometheus --bundle` saved of a target: rates over time and the
    correlations found in them."""

    origin: str
    sites: dict[str, list[tuple[float, float]]]  # site -> (unix seconds, map bytes/s)
    pauses: list[tuple[float, float]]  # (unix seconds, GC pause seconds per second)
    correlations: list[dict[str, Any]]


def saved_series(bundle: Bundle, label: str) -> tuple[SavedSeries | None, list[str]]:
    for entry in bundle.of("prometheus", label):
        try:
            doc = Doc(read_json_file(entry.path), entry.name)
            sites = {name: _points(doc, f"sites.{name}", values)
                     for name, values in doc.child("sites").data.items()}
            pauses = _points(doc, "gc_pause_seconds_per_second",
                             doc.data.get("gc_pause_seconds_per_second"))
            correlations = [c.data for c in doc.objects("correlations", optional=True)
                            if isinstance(c.data.get("statement"), str)
                            and isinstance(c.data.get("site"), str)]
        except MapguardError as exc:
            return None, [f"{bundle.root / entry.name}: {_without_origin(exc, entry)}"]
        return SavedSeries(entry.name, sites, pauses, correlations), []
    return None, []


def _points(doc: Doc, where: str, values: Any) -> list[tuple[float, float]]:
    if not isinstance(values, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p)
            for p in values):
        raise InputError(doc.origin, "expected a list of [time, value] pairs", where=where)
    return [(float(t), float(v)) for t, v in values]


def _without_origin(exc: MapguardError, entry: Entry) -> str:
    """The error's text without a leading repetition of the file's bundle name."""
    text = str(exc)
    prefix = f"{entry.name}: "
    return text[len(prefix):] if text.startswith(prefix) else text
