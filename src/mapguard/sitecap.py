"""The cap on exported site labels, shared by every exporter of per-site series (`watch`,
`ebpf`): label sets stay bounded however many sites a program has.

The first `top` sites offered (callers offer an interval's sites largest first) keep their
name and their series; a site idle for `idle_intervals` gives its place up (its series is
forgotten); everything else goes to `site="other"`. Series are counters that only grow, so
Prometheus' rate() over them stays right whichever sites come and go.
"""

from __future__ import annotations

from collections.abc import Callable

OTHER = "other"


class SiteCap:
    def __init__(self, top: int, idle_intervals: int, forget: Callable[[str], object]) -> None:
        self.top = top
        self.idle_intervals = idle_intervals
        self.forget = forget  # drops the series of a site that gave its place up
        self.last_seen: dict[str, int] = {}  # named site -> interval it was last offered
        self.interval = 0

    def next_interval(self) -> None:
        self.interval += 1

    def admit(self, site: str) -> str:
        """The label `site`'s value of this interval goes to: its own, or OTHER."""
        if site == OTHER:
            return OTHER
        if site not in self.last_seen and len(self.last_seen) >= self.top:
            for gone in [s for s, last in self.last_seen.items()
                         if self.interval - last >= self.idle_intervals]:
                del self.last_seen[gone]
                self.forget(gone)
            if len(self.last_seen) >= self.top:
                return OTHER
        self.last_seen[site] = self.interval
        return site
