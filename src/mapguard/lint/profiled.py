"""`lint --profile`: read a pprof profile (file or URL) and turn it into `ProfileEvidence`
about the lines of the linted tree.

The profile is attributed against the tree being linted, read as it is on disk: each
function of the profile is matched with its declaration here (name and first line,
`mapguard.evidence.sourcematch`), so a profile of an older build still joins for every
function that did not change, and the ones that did are listed, not guessed at.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from mapguard.errors import UsageError
from mapguard.evidence.attribution import (
    ALLOCATION_KINDS,
    Attribution,
    SiteTotal,
    attribute_profile,
    site_totals,
)
from mapguard.evidence.profile_commands import load
from mapguard.evidence.sourcematch import SourceMatch
from mapguard.evidence.sourcetree import SourceFiles
from mapguard.formats.pprof import Profile
from mapguard.lint.measured import ChangedFunction, LineEvidence, ProfileEvidence, human
from mapguard.source.gomod import find_module

PROFILE_KINDS = (*ALLOCATION_KINDS, "cpu")


def load_evidence(target: str, root: Path, hot_share: float) -> ProfileEvidence:
    """The evidence of the profile at `target` (a file, or an http(s) URL of a
    /debug/pprof endpoint) about the Go tree at `root` (a module, or a directory of them)."""
    profile = load(target)
    if profile.kind not in PROFILE_KINDS:
        raise UsageError(f"--profile {target}: a {profile.kind} profile says nothing about map "
                         "cost; give an allocs, heap or CPU profile")
    sample_index = _sample_index(profile)
    sources = SourceFiles(root)
    attribution = attribute_profile(profile, sources, sample_index=sample_index)
    totals = site_totals(profile, sources, sample_index=sample_index)
    return _evidence(target, profile, attribution, totals, sources, hot_share)


def tree_root(roots: tuple[Path, ...], cwd: Path) -> Path:
    """The directory a profile's files are looked for under: the module around the trees
    the command line names (their common directory when they span several modules)."""
    common = Path(os.path.commonpath([str(r) for r in roots])) if roots else cwd
    module = find_module(common)
    return module.root if module is not None else common


def _sample_index(profile: Profile) -> str | None:
    """Allocated bytes for allocs and heap profiles (a heap profile's default is the bytes
    still in use, which says nothing about garbage), the default for CPU."""
    if profile.kind in ALLOCATION_KINDS:
        names = [t.type for t in profile.sample_types]
        return "alloc_space" if "alloc_space" in names else None
    return None


def _evidence(target: str, profile: Profile, attribution: Attribution,
              totals: tuple[SiteTotal, ...], sources: SourceFiles, hot_share: float
              ) -> ProfileEvidence:
    allocation = attribution.kind in ALLOCATION_KINDS
    values: dict[Path, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    everything: dict[Path, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    ops: dict[Path, dict[int, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int)))
    growth: dict[Path, dict[int, dict[int, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int)))
    measured_dirs: set[Path] = set()
    changed: dict[tuple[str, Path | None], tuple[int, str]] = {}
    for total in totals:
        path = _local(sources, total.site.file)
        if total.match.trusted and path is not None:
            measured_dirs.add(path.parent)
            everything[path][total.site.line] += total.value
            if allocation:
                values[path][total.site.line] += total.value
        elif total.match in (SourceMatch.MOVED, SourceMatch.MISSING) and (
            path is not None or sources.is_user(total.site.function or "", total.site.file)
        ):
            key = (total.site.function or "?", path)
            before, _ = changed.get(key, (0, ""))
            changed[key] = (before + total.value, str(total.match))
    for cost in attribution.sites:
        path = _local(sources, cost.site.file)
        if path is None or not cost.match.trusted:
            continue
        ops[path][cost.site.line][cost.op] += cost.value
        if not allocation:
            values[path][cost.site.line] += cost.value
        if cost.op == "grow":
            for size, value in cost.sizes:
                growth[path][cost.site.line][size] += value
    lines = {
        path: {line: LineEvidence(
            values[path].get(line, 0),
            tuple(sorted(ops[path][line].items())),
            tuple(sorted(growth[path][line].items(), reverse=True)),
            total)
            for line, total in by_line.items()}
        for path, by_line in everything.items()}
    changed_functions = tuple(sorted(
        (ChangedFunction(function, path, value, why)
         for (function, path), (value, why) in changed.items()),
        key=lambda c: (-c.value, c.function)))
    index = profile.sample_index(_sample_index(profile))
    value_type = profile.sample_types[index]
    total_value = profile.total(index)
    # Which source was read and how it matched; the attribution's notes about splitting lines
    # between map and other allocations concern `mapguard profile`, not the findings.
    notes = [*sources.version.notes]
    if changed_functions:
        value = sum(c.value for c in changed_functions)
        share = 100 * value / total_value if total_value else 0.0
        names = ", ".join(c.function for c in changed_functions[:3])
        more = f" and {len(changed_functions) - 3} more" if len(changed_functions) > 3 else ""
        notes.append(
            f"{len(changed_functions)} function(s) of the profile do not match the source "
            f"here ({names}{more}; {human(value, value_type.unit)}, {share:.1f}% of "
            f"{value_type.type}): changed since the profiled build, so findings in them are "
            "not judged by the profile")
    return ProfileEvidence(
        source=target, kind=attribution.kind, sample_type=value_type.type,
        unit=value_type.unit, total=total_value, duration_ns=profile.duration_nanos,
        hot_share=hot_share, lines=lines, changed=changed_functions,
        measured_dirs=frozenset(measured_dirs), notes=tuple(notes))


def _local(sources: SourceFiles, file: str) -> Path | None:
    found = sources.resolve(file)
    return found.resolve() if found is not None else None
