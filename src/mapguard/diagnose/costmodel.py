"""From a site's share of allocation to the CPU the garbage collector spends on it.

The model of the Go GC guide (https://go.dev/doc/gc-guide, "Understanding costs"): a cycle
starts when the heap has grown by GOGC percent of the live heap, so cycles come at
allocation rate / (live heap x GOGC/100) per second; a cycle costs a fixed part plus marking,
which is proportional to the live heap. The product is GC CPU that grows linearly with the
allocation rate, shrinks in inverse proportion to GOGC, and hardly depends on the live heap.

So, with the live heap unchanged, removing a site's allocation removes its share of the bytes
from the GC's CPU: a site with 12 % of the allocated bytes costs 12 % of the measured GC CPU,
and doubling GOGC would halve that (for up to twice the heap headroom). The model does not hold
when a memory limit (GOMEMLIMIT) rather than GOGC starts the cycles; then the cost depends on
how close the live heap is to the limit, and the estimate is a lower bound.
"""

from __future__ import annotations

from mapguard.bundle.evidence import GcEvidence

DEFAULT_GOGC = 100


def gc_cpu_percent(allocation_share: float, gc: GcEvidence | None) -> float | None:
    """Percent of CPU the GC spends on this share of the allocation (None without a measured
    GC CPU share)."""
    if gc is None or gc.gc_cpu_percent is None:
        return None
    return allocation_share * gc.gc_cpu_percent


def at_gogc(percent: float, measured_gogc: int, other_gogc: int) -> float:
    """The same GC CPU under another GOGC."""
    return percent * measured_gogc / other_gogc


def describe(gc: GcEvidence) -> str:
    """One sentence of context: what the GC cost overall, and under which GOGC."""
    gogc = gc.gogc if gc.gogc is not None else DEFAULT_GOGC
    said = "" if gc.gogc is not None else " (not recorded: Go's default assumed)"
    cpu = "not measured" if gc.gc_cpu_percent is None else (
        f"{gc.gc_cpu_percent:.2f}% of CPU "
        f"({'over the logged cycles' if gc.gc_cpu_source == 'window' else 'since start'})")
    pauses = ("" if gc.pause_p99_ms is None
              else f", stop-the-world pauses p99 {gc.pause_p99_ms:.2f} ms")
    return f"GC: {gc.cycles} cycles, {cpu}{pauses}; GOGC={gogc}{said}"
