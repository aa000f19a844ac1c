"""The evidence of one label of a bundle, read; a file that cannot be read is a problem named
in one line, and the rest is still used."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from mapguard.bundle import evidence as loaders
from mapguard.bundle.reader import Bundle, Entry
from mapguard.diagnose.engine import LabelEvidence
from mapguard.errors import MapguardError

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


def _without_origin(exc: MapguardError, entry: Entry) -> str:
    """The error's text without a leading repetition of the file's bundle name."""
    text = str(exc)
    prefix = f"{entry.name}: "
    return text[len(prefix):] if text.startswith(prefix) else text
