"""One pull of a target, analysed where the agent's workers run: bytes in, costs out.

Pure and stateless, so any worker process can take any target's pull: what the agent keeps of
the target (its last counts, the runtime frames of its call sites) comes in as arguments and
goes back in the result, and a parse error comes back as text rather than as an exception to
carry across processes.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mapguard.errors import InputError
from mapguard.formats.pprof import Profile, parse_profile
from mapguard.watch.attribute import profile_costs
from mapguard.watch.costs import Costs
from mapguard.watch.failures import ScrapeError
from mapguard.watch.inflate import inflate
from mapguard.watch.prefixes import Prefixes, hidden_frames, leaf_addresses, restore
from mapguard.watch.samples import SampleCounts, proto_growth, subprofile


@dataclass(frozen=True, slots=True)
class Analysis:
    costs: Costs | None = None  # the interval's; None after a first pull (a baseline)
    counts: SampleCounts | None = None  # what to keep for the next pull
    restarted: bool = False  # the totals went down: a new process
    unknown: tuple[int, ...] = ()  # call sites whose hidden runtime frames are not known yet
    error: str | None = None
    reason: str = "profile"  # of the error, for scrape_errors_total


@dataclass(frozen=True, slots=True)
class Pull:
    """What one analysis needs besides the body."""

    url: str
    max_size: int
    root: Path | None  # the target's source tree; None: restore hidden frames instead
    previous: SampleCounts | None  # None: a first pull, or a restart (all is new)
    first: bool
    prefixes: Prefixes = field(default_factory=dict)


def analyse_pull(body: bytes, pull: Pull) -> Analysis:
    """A cumulative proto pull: what grew since the previous one, attributed. Without a source
    tree, the growth of call sites whose hidden frames are unknown is held back (left out of
    the counts, so it comes again) and the call sites are reported."""
    try:
        profile = parse_profile(inflate(body, pull.max_size, pull.url), pull.url,
                                max_size=pull.max_size)
        growth = proto_growth(profile, pull.previous, pull.url)
        if pull.first:
            return Analysis(counts=growth.counts)
        grown, counts = growth.profile, growth.counts
        unknown: tuple[int, ...] = ()
        if pull.root is None:
            leaves = leaf_addresses(grown)
            missing = np.array([leaf not in pull.prefixes for leaf in leaves.tolist()],
                               dtype=bool)
            if missing.any():
                unknown = tuple(sorted(set(leaves[missing].tolist())))
                counts = counts.holding(growth.keys[missing], pull.previous)
                grown = _without(grown, missing)
            grown = restore(grown, pull.prefixes)
        return Analysis(profile_costs(grown, pull.url, pull.root), counts, growth.restarted,
                        unknown)
    except InputError as exc:
        return Analysis(error=str(exc))
    except ScrapeError as exc:
        return Analysis(error=str(exc), reason=exc.reason)


def _without(profile: Profile, missing: npt.NDArray[np.bool_]) -> Profile:
    keep = np.flatnonzero(~missing)
    return subprofile(profile, keep, profile.samples.values[keep])


@dataclass(frozen=True, slots=True)
class Learnt:
    frames: dict[int, tuple[int, ...]] = field(default_factory=dict)  # call site -> PCs
    error: str | None = None


def learn_call_sites(body: bytes, url: str, max_size: int, wanted: Collection[int]) -> Learnt:
    """From a debug=1 pull, the PCs of the runtime frames hidden behind each wanted call site
    (those it does not show are left out)."""
    try:
        return Learnt(hidden_frames(inflate(body, max_size, url), set(wanted), url))
    except (InputError, ScrapeError) as exc:
        return Learnt(error=str(exc))


def analyse_delta(body: bytes, url: str, max_size: int, root: Path) -> Analysis:
    """A server-side delta (`?seconds=N`): the profile is the interval already."""
    try:
        profile = parse_profile(inflate(body, max_size, url), url, max_size=max_size)
        return Analysis(profile_costs(profile, url, root))
    except InputError as exc:
        return Analysis(error=str(exc))
    except ScrapeError as exc:
        return Analysis(error=str(exc), reason=exc.reason)
