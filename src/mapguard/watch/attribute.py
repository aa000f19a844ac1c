"""The one door from the agent to the profile × source join (`mapguard.evidence.attribution`).

The agent attributes exactly as `mapguard profile` does (`attribute_profile`): map work done
inside the standard library or a dependency (an `http.Header` growing in textproto) is charged
to the first caller of the user's own code, and a function whose source does not match the
profiled build (the tree moved on since the service was built) is never labelled from a line
of that source: its allocation is left out of the map sites and reported as unmatched.

With a source tree, a site is `path/in/tree.go:LINE`. Without one, the profile must carry the
runtime frames itself (see `prefixes`) and a site is the Go function that made the map call:
lines move between builds, names rarely do. No user file is then read, not even at the paths
the profile names (they are the build machine's); the standard library and dependencies are
still read from this machine's Go installation, under the same match check.
"""

from __future__ import annotations

from pathlib import Path

from mapguard.errors import InputError
from mapguard.evidence.attribution import Attribution, attribute_profile
from mapguard.evidence.site import Site
from mapguard.evidence.sourcetree import SourceFiles
from mapguard.formats.pprof import Profile
from mapguard.watch.costs import Costs, SiteKey, Unmatched

BYTES, OBJECTS = "alloc_space", "alloc_objects"
MAX_LABELS = 100_000  # remembered site labels per tree (a whole fleet's functions, without one)


class _NoSourceTree(SourceFiles):
    """No user file is read: map costs come from the runtime frames only."""

    def __init__(self) -> None:
        super().__init__(None)

    def resolve(self, file: str) -> Path | None:
        return None


_trees: dict[Path | None, SourceFiles] = {}


def _sources(root: Path | None) -> SourceFiles:
    """Parsed Go files are kept per tree for the worker's life: parsing is the costly part,
    and `attribute_profile` takes one `SourceFiles` for many profiles of one build."""
    if root not in _trees:
        _trees[root] = SourceFiles(root) if root is not None else _NoSourceTree()
    return _trees[root]


def profile_costs(profile: Profile, source_url: str, root: Path | None) -> Costs:
    """Bytes and objects per (site, op) of an allocation profile, and its totals."""
    names = [value_type.type for value_type in profile.sample_types]
    if BYTES not in names or OBJECTS not in names:
        raise InputError(source_url, "not an allocation profile",
                         expected="alloc_objects and alloc_space samples")
    sources = _sources(root)
    by_bytes = attribute_profile(profile, sources, sample_index=BYTES)
    by_objects = attribute_profile(profile, sources, sample_index=OBJECTS)
    sites: dict[SiteKey, tuple[int, int]] = {}
    for key, nbytes in _by_label(by_bytes, sources, root).items():
        sites[key] = (nbytes, 0)
    for key, objects in _by_label(by_objects, sources, root).items():
        nbytes, _ = sites.get(key, (0, 0))
        sites[key] = (nbytes, objects)
    unmatched = tuple(Unmatched(cost.function, str(cost.match), cost.value)
                      for cost in by_bytes.unmatched)
    return Costs(by_bytes.total, by_objects.total, sites, unmatched)


def _by_label(result: Attribution, sources: SourceFiles, root: Path | None
              ) -> dict[SiteKey, int]:
    totals: dict[SiteKey, int] = {}
    labels = _labels.setdefault(root, {})
    if len(labels) > MAX_LABELS:
        labels.clear()
    for cost in result.sites:
        label = labels.get(cost.site)
        if label is None:
            label = labels[cost.site] = site_label(cost.site, sources, root)
        key = (label, cost.op)
        totals[key] = totals.get(key, 0) + cost.value
    return totals


_labels: dict[Path | None, dict[Site, str]] = {}  # the same sites come back at every pull


def site_label(site: Site, sources: SourceFiles, root: Path | None) -> str:
    """`internal/risk/cache.go:42` under a source tree, else the function."""
    if root is not None:
        local = sources.resolve(site.file)
        if local is not None and site.line > 0:
            try:
                return f"{local.relative_to(sources.root or root).as_posix()}:{site.line}"
            except ValueError:
                pass
    return site.function or f"{Path(site.file).name}:{site.line}"
