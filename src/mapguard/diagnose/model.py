"""What a diagnosis says: causes with their cost, evidence and confidence; what stays
unexplained; what to collect next."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mapguard.bundle.evidence import SiteValue
from mapguard.diagnose.knowledge import CauseEntry
from mapguard.evidence.site import Site

# Confidence, strongest first. `high`: measured, and the code or the compiler says why;
# `medium`: measured, and the source read links the measurement to the code a fix changes;
# `low`: measured at a line whose source could not be read; `static`: seen in the code only.
CONFIDENCE = ("high", "medium", "low", "static")


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: str  # lint | profile | watch | cpu | ebpf | escape | source | gc | correlation | slo
    origin: str  # the bundle file (or the Prometheus query) it comes from
    statement: str


@dataclass(frozen=True, slots=True)
class Cost:
    resource: str  # "allocated bytes" | "CPU time" | "growth stall time"
    value: float  # in the resource's unit: bytes, nanoseconds, seconds
    share: float | None  # of the resource over the evidence (None: no total known)
    per_request: float | None = None  # bytes per request, when the run's requests are known
    gc_cpu_percent: float | None = None  # estimated share of CPU spent collecting it
    stall_p99_s: float | None = None

    @property
    def impact(self) -> float:
        """What the ranking sorts by: estimated CPU share when GC CPU was measured, else the
        share of the resource."""
        if self.gc_cpu_percent is not None:
            return self.gc_cpu_percent / 100
        return self.share or 0.0


@dataclass(frozen=True, slots=True)
class Diagnosed:
    """One cause found at one place."""

    cause: CauseEntry
    anchor: Site  # where the fix goes: the map's creation, or the line a rule reports
    display: str  # `internal/risk/server.go:102`
    confidence: str
    evidence: tuple[Evidence, ...]
    sites: tuple[SiteValue, ...] = ()  # the measured sites that make up the cost
    cost: Cost | None = None
    statement: str = ""  # the one-sentence answer
    incidents: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Unexplained:
    """Measured map cost no cause of the library matches."""

    display: str
    function: str | None
    op: str
    value: int
    share: float | None
    why: str


@dataclass(frozen=True, slots=True)
class Diagnosis:
    label: str
    threshold: float
    ranked_by: str
    causes: tuple[Diagnosed, ...]  # cost causes at or above the threshold, ranked
    below: tuple[Diagnosed, ...]  # measured, below the threshold
    unmeasured: tuple[Diagnosed, ...]  # cost causes seen in the code, not measured
    risks: tuple[Diagnosed, ...]  # correctness causes, by severity
    unexplained: tuple[Unexplained, ...]
    context: tuple[Evidence, ...]
    next_steps: tuple[str, ...]
    sources: tuple[str, ...]  # the evidence files read
    notes: tuple[str, ...] = ()
    correlations: tuple[dict[str, Any], ...] = field(default=())

    def fingerprint(self) -> list[str]:
        """Tokens that say what this incident looked like, for finding similar ones."""
        tokens = []
        for found in (*self.causes, *self.risks):
            tokens.append(f"cause:{found.cause.id}")
            if found.cause.rule:
                tokens.append(f"rule:{found.cause.rule}")
            function = found.anchor.function
            if function:
                tokens.append(f"function:{function.rsplit('/', 1)[-1]}")
            tokens.append(f"file:{found.display.rsplit(':', 1)[0].rsplit('/', 1)[-1]}")
        for item in self.unexplained:
            if item.function:
                tokens.append(f"hot:{item.function.rsplit('/', 1)[-1]}")
        return sorted(set(tokens))
