"""One pull of a target, analysed where the agent's workers run: bytes in, costs out.

Pure and stateless, so any worker process can take any target's pull: what the agent keeps of
the target (its last counts, its symbols) comes in as arguments and goes back in the result,
and a parse error comes back as text rather than as an exception to carry across processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mapguard.errors import InputError
from mapguard.formats.pprof import parse_heap_text, parse_profile
from mapguard.watch.attribute import profile_costs
from mapguard.watch.costs import Costs
from mapguard.watch.failures import ScrapeError
from mapguard.watch.inflate import inflate
from mapguard.watch.samples import SampleCounts, proto_growth, text_growth
from mapguard.watch.symbols import SymbolTable


@dataclass(frozen=True, slots=True)
class Analysis:
    costs: Costs | None = None  # the interval's; None after a first pull (a baseline)
    counts: SampleCounts | None = None  # what to keep for the next pull
    restarted: bool = False  # the totals went down: a new process
    unknown: tuple[int, ...] = ()  # addresses to ask the target about, then analyse again
    error: str | None = None
    reason: str = "profile"  # of the error, for scrape_errors_total


@dataclass(frozen=True, slots=True)
class Pull:
    """What one analysis needs besides the body."""

    url: str
    max_size: int
    root: Path | None  # the target's source tree: a proto pull; None: a debug=1 pull
    previous: SampleCounts | None  # None: a first pull, or a restart (all is new)
    first: bool
    symbols: Mapping[int, str | None]  # names the target gave for its runtime frames


def analyse_pull(body: bytes, pull: Pull) -> Analysis:
    """A cumulative pull: what grew since the previous one, attributed. A gzip'd body is
    inflated here, in the worker, with the same cap as on the wire."""
    try:
        body = inflate(body, pull.max_size, pull.url)
        if pull.root is not None:
            profile = parse_profile(body, pull.url, max_size=pull.max_size)
            grown, counts, restarted = proto_growth(profile, pull.previous, pull.url)
        else:
            text, counts, restarted = text_growth(body, pull.previous, pull.url)
            if pull.first:
                return Analysis(counts=counts)
            if text.count(b"\n") <= 1:  # the header alone: nothing grew
                return Analysis(Costs(0, 0), counts, restarted)
            table = SymbolTable(pull.symbols)
            grown = parse_heap_text(text, pull.url)
            unknown = table.unknown(grown)
            if unknown:
                return Analysis(unknown=tuple(unknown))
            grown = table.apply(grown)
        if pull.first:
            return Analysis(counts=counts)
        return Analysis(profile_costs(grown, pull.url, pull.root), counts, restarted)
    except InputError as exc:
        return Analysis(error=str(exc))
    except ScrapeError as exc:
        return Analysis(error=str(exc), reason=exc.reason)


def analyse_delta(body: bytes, url: str, max_size: int, root: Path) -> Analysis:
    """A server-side delta (`?seconds=N`): the profile is the interval already."""
    try:
        profile = parse_profile(inflate(body, max_size, url), url, max_size=max_size)
        return Analysis(profile_costs(profile, url, root))
    except InputError as exc:
        return Analysis(error=str(exc))
    except ScrapeError as exc:
        return Analysis(error=str(exc), reason=exc.reason)
