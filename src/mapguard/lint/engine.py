"""The lint engine: expand targets, analyse each package with the selected rules, in parallel,
with a content-hash cache, and return findings sorted by position.

Per package the engine parses every file, builds the package's symbol table, runs each rule
whose anchor text occurs in the package, and drops suppressed findings
(`//mapguard:ignore MG001 reason` on the line or the line above).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import pickle
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mapguard.digests import blake2b
from mapguard.errors import ToolError
from mapguard.goversion import NEWEST_KNOWN, GoVersion
from mapguard.lint.cache import LintCache, cache_exists, cache_key, digested
from mapguard.lint.modulewide import (
    FOLLOWING_RULES,
    Unit,
    follow_in_package,
    follow_module,
    following_here,
    visit_unit,
)
from mapguard.lint.overlaps import one_finding_per_problem
from mapguard.lint.reach import PUBLISHING, CallOut
from mapguard.lint.registry import ALL_RULES
from mapguard.lint.results import DirResult, FileNote, LintResult, ReadOutside, VersionNote
from mapguard.lint.rule import (
    Finding,
    Pass,
    Rule,
    TextPattern,
    is_support_code,
    is_support_directory,
    looks_like_support_file,
)
from mapguard.lint.rules.mg004_unsynchronized_map_write import CONTEXT_BODIES
from mapguard.source import outside as read_outside
from mapguard.source.buildtags import left_out_everywhere
from mapguard.source.concurrency import Concurrency
from mapguard.source.discover import (
    DirTarget,
    Expansion,
    PackageDir,
    Selection,
    SourceFile,
    expand,
    file_size,
    read_target,
)
from mapguard.source.gomod import GoModule, find_module
from mapguard.source.loader import (
    FileError,
    SyntaxVerdict,
    VersionChoice,
    load_packages,
    module_version,
    without_old_release_files,
)
from mapguard.source.package import GoFile, Package
from mapguard.source.typeinfo import TypeInfo

if TYPE_CHECKING:
    from mapguard.lint.measured import ProfileEvidence
    from mapguard.lint.workers import Workers  # imported by a run that starts workers

# Below this much source, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD_BYTES = 4_000_000
# A package is split across workers only if each part keeps this much source and this many
# files: every part parses the declarations of the whole package again.
SHARD_MIN_BYTES = 400_000
SHARD_MIN_FILES = 8
# Shards are balanced by expected cost: a byte of a _test.go file costs about this much of
# one of other code, and each whole-package rule a shard runs about this share of the rest
# (measured on large packages; only the balance, never a result, depends on them). The
# whole-package rules are dealt out over the shards, each run whole in one of them (split by
# file, every shard would scan the package for the same fields and callers): with two
# workers the lead runs MG004 and follows calls, the other MG014 when it is selected.
TEST_FILE_WEIGHT = 0.25
WHOLE_PACKAGE_SHARE = 0.5
# Units go to the workers in batches of at most 1/(this x workers) of the expected cost not yet
# handed out: a message per unit cost the parent's pool threads more than a tenth of etcd's
# whole lint CPU (184 small packages), while the shrinking last batches keep the loads even.
BATCHES_PER_WORKER = 4

_IGNORE = re.compile(r"//\s*mapguard:ignore\b(.*)$")
_CODE_LIKE = re.compile(r"[A-Za-z]{2,3}\d{2,4}")
_KNOWN = {rule.code: rule.code for rule in ALL_RULES} | {rule.name: rule.code for rule in ALL_RULES}


@dataclass(frozen=True, slots=True)
class LintOptions:
    """How to lint: the rules, the files, the Go version, workers and cache."""

    rules: tuple[Rule, ...] = ALL_RULES
    selection: Selection = field(default_factory=Selection)
    go_version: GoVersion | None = None  # --go-version: overrides go.mod
    toolchain_version: GoVersion | None = None  # the installed Go, for code without go.mod
    detect_toolchain: bool = False  # ask the installed Go for its version, when code needs it
    jobs: int = 0  # 0: one per core
    cache_dir: Path | None = None  # None: no cache
    # Split a package across workers above this much source (None: the run's fair share per
    # worker); the results are the same either way, only the speed differs.
    shard_bytes: int | None = None
    # Also report the rules with `in_support_code=False` in test and tool code.
    advice_everywhere: bool = False
    # What a profile measured (`lint --profile`): the evidence-only rules run on it.
    evidence: ProfileEvidence | None = None


ProgressCallback = Callable[[int, int], None]  # (packages done, packages in all)


def lint(
    targets: Sequence[str],
    options: LintOptions,
    *,
    cwd: Path | None = None,
    progress: ProgressCallback | None = None,
) -> LintResult:
    expansion = expand(targets, cwd or Path.cwd(), options.selection)
    return lint_expansion(expansion, options, progress=progress)


@dataclass(frozen=True, slots=True)
class Work:
    """One unit for a worker: a directory, the options that apply to it (its module's
    configuration), and, for a large package split across workers, the files whose
    candidates this unit checks (None: all)."""

    target: DirTarget
    options: LintOptions
    shard: frozenset[Path] | None = None
    # The one shard of a split package that follows calls across packages.
    lead: bool = True
    # The rules analysing the package as a whole (`Rule.whole_package`) this shard of a split
    # package runs, for all its files: each such rule runs in exactly one shard. None: every
    # one in the lead, none in the others.
    whole: frozenset[str] | None = None

    def whole_codes(self) -> frozenset[str]:
        """The whole-package rules this unit runs (for every file)."""
        if self.whole is not None:
            return self.whole
        return _whole_package_codes(self.options) if self.lead else frozenset()


def _whole_package_codes(options: LintOptions) -> frozenset[str]:
    """The rules of `options` that analyse a package as a whole (`Rule.whole_package`)."""
    return frozenset(rule.code for rule in options.rules if rule.whole_package)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a unit of work gave a worker."""

    result: DirResult
    key: str | None  # the cache key of the directory's result
    cached: bool
    # A shard's findings before one_finding_per_problem, each with whether an ignore comment
    # suppresses it: the merge of the shards settles overlaps across them as the whole package
    # would (its `result` then holds no findings).
    raw: tuple[tuple[Finding, bool], ...] = ()
    # What the shard's following of calls found (the lead's), likewise: it is merged with
    # the findings of every shard, as the whole package merges it with its own.
    reached: tuple[tuple[Finding, bool], ...] = ()


def lint_expansion(
    expansion: Expansion, options: LintOptions, *, progress: ProgressCallback | None = None,
    options_for: Callable[[DirTarget], LintOptions] | None = None,
) -> LintResult:
    """Lint every directory of `expansion`; `options_for` gives a directory's own options
    (its module's configuration), else `options` apply everywhere. `options.jobs` and
    `options.cache_dir` are the run's."""
    targets = list(expansion.targets)
    read_outside.start_run()
    per_dir = [options_for(t) if options_for is not None else options for t in targets]
    # No cache yet (mapguard's first run on this machine or in this container): this run
    # only makes it, empty, and the next fills it. A CI job in a fresh container throws its
    # cache away; hashing every file and storing every result cost it 25-30 ms of etcd's 0.4 s.
    make_cache = options.cache_dir if options.cache_dir is not None and not cache_exists(
        options.cache_dir) else None
    if make_cache is not None:
        options, per_dir = _without_cache(options, per_dir)
    work = split_work(targets, per_dir, options.jobs or os.cpu_count() or 1,
                      options.shard_bytes)
    # The same workers then follow calls across packages, round by round.
    with _worker_pool(work, options.jobs) as pool:
        outcomes = _run_all(work, pool, progress, options.jobs or os.cpu_count() or 1)
        merged = _merge_shards(work, outcomes)
        cache = LintCache(options.cache_dir) if options.cache_dir is not None else None
        if cache is not None:
            cache.put_many((key, result) for key, result, cached in merged
                           if key is not None and not cached)
        results = [result for _, result, _ in merged]
        results = _followed_across_packages(targets, per_dir, results, cache, pool,
                                            _shared_indexes(work) if _FORK else None)
        if cache is not None:
            cache.close()
    if make_cache is not None:
        LintCache(make_cache).close()
    return LintResult(
        findings=tuple(sorted((f for r in results for f in r.findings), key=lambda f: f.sort_key)),
        files=sum(r.files for r in results),
        errors=tuple(sorted((e for r in results for e in r.errors), key=lambda e: str(e.path))),
        versions=tuple(sorted({v for r in results for v in r.versions},
                              key=lambda v: (v.where, v.version))),
        cached_packages=sum(1 for _, _, cached in merged if cached),
        notes=tuple(sorted((n for r in results for n in r.notes),
                           key=lambda n: (str(n.path), n.line))),
        digests={path: digest for r in results for path, digest in r.digests},
    )


def _without_cache(options: LintOptions, per_dir: list[LintOptions]
                   ) -> tuple[LintOptions, list[LintOptions]]:
    """The run's and each directory's options without the cache (one copy per distinct
    options: directories of one configuration share theirs)."""
    copies: dict[int, LintOptions] = {}

    def without(o: LintOptions) -> LintOptions:
        if id(o) not in copies:
            copies[id(o)] = replace(o, cache_dir=None)
        return copies[id(o)]
    return without(options), [without(o) for o in per_dir]


def _followed_across_packages(targets: list[DirTarget], per_dir: list[LintOptions],
                              results: list[DirResult], cache: LintCache | None,
                              pool: Workers | None = None, shared: dict[Path, int] | None = None
                              ) -> list[DirResult]:
    """The results with what following calls across the module's packages found (MG004,
    MG005, MG008; `mapguard.lint.modulewide`). The visits of a round are independent: with
    `pool`, its workers make them, biggest first (the cache is read and written here, as for
    packages). With `shared` (a directory's index in the job list forked workers inherit), a
    visit's options cross the pipe as that index: pickled, a run's options (the rules with
    their documentation) are 59 kB."""
    by_dir = {target.directory: result for target, result in zip(targets, results, strict=True)}
    if not any(result.calls for result in results):
        return results
    options_of = {target.directory: options for target, options in zip(targets, per_dir,
                                                                      strict=True)}

    def visit(units: list[Unit]) -> list[DirResult]:
        if pool is None or len(units) < 2:
            visits = [_visit(unit, options_of[unit.target.directory], cache) for unit in units]
            if cache is not None:
                cache.put_many((key, result) for key, result, cached in visits
                               if key is not None and not cached)
            return [result for _key, result, _cached in visits]
        found: list[DirResult | None] = [None] * len(units)
        for index, unit in enumerate(units):
            if not _following_codes(options_of[unit.target.directory]):
                found[index] = DirResult((), (), 0, ())
        # Biggest first: a round lasts as long as its slowest worker. The workers also read
        # the visited files, hash them for the key and look it up (5-6 ms of etcd's first run
        # when this process did it, with the workers waiting).
        missing = sorted((index for index, result in enumerate(found) if result is None),
                         key=lambda index: units[index].target.size, reverse=True)
        tasks = [(index, units[index], _visit_options(
            options_of[units[index].target.directory], shared, units[index].target.directory))
            for index in missing]
        computed: list[tuple[str, DirResult]] = []
        for index, result, key, cached in pool.imap_unordered(_visit_job, tasks, chunksize=1):
            found[index] = result
            if key is not None and not cached:
                computed.append((key, result))
        if cache is not None:
            # One write per round: each is a transaction, and a commit waits for the disk.
            cache.put_many(computed)
        return [result if result is not None else DirResult((), (), 0, ()) for result in found]

    found = follow_module(by_dir, targets, visit)
    return [replace(result, findings=tuple(_merged(
        result.findings, found.get(target.directory, ()), _codes(options_of[target.directory]))))
        if target.directory in found
        else result for target, result in zip(targets, results, strict=True)]


def _codes(options: LintOptions) -> frozenset[str]:
    return frozenset(rule.code for rule in options.rules)


def _following_codes(options: LintOptions) -> frozenset[str]:
    return _codes(options) & FOLLOWING_RULES


def _visit(unit: Unit, options: LintOptions, cache: LintCache | None
           ) -> tuple[str | None, DirResult, bool]:
    """A visit (`visit_unit`): its cache key when the run has a cache, the result, and
    whether `cache` had it."""
    codes = _following_codes(options)
    if not codes:
        return None, DirResult((), (), 0, ()), False
    return visit_unit(
        unit, codes, options.selection,
        lambda directory: choose_version(find_module(directory), options),
        _options_fingerprint(options, unit.target.directory), cache, _suppressed_in,
        keyed=options.cache_dir is not None)


def _visit_options(options: LintOptions, shared: dict[Path, int] | None, directory: Path
                   ) -> LintOptions | int:
    """What tells a worker a visit's options: the index of a unit of the directory in the
    inherited job list, else the options (without evidence: `lint --profile` plays no part
    in following calls)."""
    if shared is not None and directory in shared:
        return shared[directory]
    return replace(options, evidence=None)


def _shared_indexes(work: list[Work]) -> dict[Path, int]:
    """Each directory's first unit in the job list."""
    indexes: dict[Path, int] = {}
    for index, unit in enumerate(work):
        indexes.setdefault(unit.target.directory, index)
    return indexes


def _visit_job(task: tuple[int, Unit, LintOptions | int]
               ) -> tuple[int, DirResult, str | None, bool]:
    """A visit in a worker process: the index of its unit in the round, the result, its cache
    key (None without a cache) and whether it came from the cache (the parent writes it)."""
    index, unit, options = task
    if isinstance(options, int):
        assert _SHARED_WORK is not None
        options = replace(_SHARED_WORK[options].options, evidence=None)
    cache = _reading_cache(options.cache_dir) if options.cache_dir is not None else None
    key, result, cached = _visit(unit, options, cache)
    return index, result, key, cached


def _suppressed_in(package: Package, findings: list[Finding]) -> list[Finding]:
    return list(_unsuppressed(package, findings))


def split_work(targets: list[DirTarget], options: list[LintOptions], jobs: int,
               shard_bytes: int | None = None) -> list[Work]:
    """One unit per directory, except that a package bigger than its workers' fair share
    (`shard_bytes`, by default the total over the workers) is split into shards of about
    that size, up to one per worker: one large package would otherwise keep one core busy
    while the others idle."""
    total = sum(t.size for t in targets)
    share = shard_bytes if shard_bytes is not None else max(SHARD_MIN_BYTES, total // jobs)
    work: list[Work] = []
    for target, target_options in zip(targets, options, strict=True):
        count = min(jobs, len(target.files) // SHARD_MIN_FILES, -(-target.size // share))
        if jobs == 1 or count < 2:
            work.append(Work(target, target_options))
            continue
        wholes = _whole_groups(target_options, count)
        head_starts = [_head_start(whole) for whole in wholes]
        # A shard with neither files nor rules of its own has nothing to do (the lead
        # always stays: it follows calls).
        work.extend(Work(target, target_options, shard, lead=index == 0, whole=wholes[index])
                    for index, shard in enumerate(_shards(target, count, head_starts))
                    if shard or wholes[index] or index == 0)
    return work


def _whole_groups(options: LintOptions, count: int) -> list[frozenset[str]]:
    """The whole-package rules of `options` dealt out over `count` shards, one each in turn
    from the lead (which also follows calls across packages): MG004 and MG014 then run side by
    side instead of one after the other in the lead. (MG005, which asks the same model of the
    package's goroutines, judges each nil check on its own: every shard judges those of its
    own files.)"""
    groups: list[set[str]] = [set() for _ in range(count)]
    whole = [rule.code for rule in options.rules if rule.whole_package]
    for index, code in enumerate(whole):
        groups[index % count].add(code)
    return [frozenset(group) for group in groups]


def _head_start(whole: frozenset[str]) -> float:
    """A shard's expected cost besides its own files (its whole-package rules), as a share
    of the package's."""
    return WHOLE_PACKAGE_SHARE * len(whole)


def _shards(target: DirTarget, count: int, head_starts: Sequence[float] = ()
            ) -> list[frozenset[Path]]:
    """The files of a directory in `count` groups of about equal cost (largest first, each
    to the cheapest group). A group starts with its `head_starts` entry (a share of the
    whole cost), for the whole-package rules it runs; with head start enough it may be left
    no file of its own."""
    weighed = sorted(((_file_weight(p), p) for p, _ in target.files), reverse=True)
    total = sum(weight for weight, _ in weighed)
    starts = [*head_starts, *[0.0] * count][:count]
    groups: list[tuple[float, list[Path]]] = [(start * total, []) for start in starts]
    for weight, path in weighed:
        lightest = min(range(count), key=lambda i: groups[i][0])
        groups[lightest] = (groups[lightest][0] + weight, [*groups[lightest][1], path])
    return [frozenset(paths) for _, paths in groups]


def _file_weight(path: Path) -> float:
    """The expected cost of checking a file's candidates: its size, less for a test file
    (the rules about speed do not look at its candidates or parse its bodies)."""
    return file_size(path) * (TEST_FILE_WEIGHT if path.name.endswith("_test.go") else 1.0)


def _merge_shards(work: list[Work], outcomes: list[_Outcome]
                  ) -> list[tuple[str | None, DirResult, bool]]:
    """(cache key, result, from the cache) per directory: the shards of a split package
    joined into the result the whole package gives (each shard checked its own candidates;
    what every shard sees, such as a syntax error, counts once; overlapping findings of
    different shards are settled here, before ignore comments apply, as in a whole run)."""
    by_dir: dict[Path, list[_Outcome]] = {}
    for unit, outcome in zip(work, outcomes, strict=True):
        by_dir.setdefault(unit.target.directory, []).append(outcome)
    merged: list[tuple[str | None, DirResult, bool]] = []
    for directory, parts in by_dir.items():
        if len(parts) == 1 or any(part.cached for part in parts):
            first = next((part for part in parts if part.cached), parts[0])
            merged.append((first.key, first.result, first.cached))
            continue
        results = [part.result for part in parts]
        rules = next(u.options.rules for u in work if u.target.directory == directory)
        # What following calls reached joins the findings of every shard, as in a whole run
        # it joins the package's (the rules it is merged with may have run in another shard).
        raw = _merged(dict.fromkeys(f for part in parts for f, _ in part.raw),
                      [f for part in parts for f, _ in part.reached],
                      frozenset(rule.code for rule in rules))
        # An ignore comment names a rule on a line: what it suppresses is known by those.
        suppressed = {(f.path, f.line, f.rule) for part in parts
                      for f, hit in (*part.raw, *part.reached) if hit}
        findings = tuple(f for f in one_finding_per_problem(raw, rules)
                         if (f.path, f.line, f.rule) not in suppressed)
        fixable = {f.path for f in findings if f.fix is not None}
        merged.append((parts[0].key, DirResult(
            findings,
            tuple(dict.fromkeys(e for r in results for e in r.errors)),
            sum(r.files for r in results),
            tuple(dict.fromkeys(v for r in results for v in r.versions)),
            tuple(dict.fromkeys(n for r in results for n in r.notes)),
            tuple(dict.fromkeys(d for r in results for d in r.digests if d[0] in fixable)),
            tuple(dict.fromkeys(c for r in results for c in r.calls)),
            functools.reduce(ReadOutside.joined, (r.outside for r in results), ReadOutside()),
        ), False))
    return merged


def _options_fingerprint(options: LintOptions, directory: Path) -> str:
    return "|".join([
        ",".join(rule.code for rule in options.rules),
        str(options.go_version), str(options.toolchain_version), str(options.detect_toolchain),
        str(options.selection.include_generated), str(options.advice_everywhere),
        _evidence_digest(options, directory),
    ])


def _evidence_digest(options: LintOptions, directory: Path) -> str:
    """What the evidence-only rules can see of a directory ("" when they see nothing: the
    result is then the one without a profile)."""
    if options.evidence is None or not any(rule.evidence_only for rule in options.rules):
        return ""
    return options.evidence.digest(directory.resolve())


@contextlib.contextmanager
def _worker_pool(work: list[Work], jobs: int) -> Iterator[Workers | None]:
    """Worker processes for the run, or None for small jobs (analysed in this process)."""
    jobs = jobs or os.cpu_count() or 1
    size = sum(unit.target.size for unit in work)
    if jobs == 1 or len(work) < 2 or size < PARALLEL_THRESHOLD_BYTES:
        yield None
        return
    global _SHARED_WORK
    # Forked workers inherit the job list: only indexes cross the pipe.
    _SHARED_WORK = work
    # What is alive now (the imported code, the job list) lives as long as the run: frozen,
    # the collector leaves it alone, in the workers (their collections then touch only their
    # own objects, not the pages they share with this process) and here, at the exit's
    # collection, 15-20 ms of hugo's lint. It stays frozen: reference counting still frees
    # what of it dies, only a cycle among it waits for the process's end.
    gc.freeze()
    from mapguard.lint.workers import ForkPool, spawn_pool

    processes = min(jobs, len(work))
    try:
        with ForkPool(processes) if _FORK else spawn_pool(processes) as pool:
            yield pool
    finally:
        _SHARED_WORK = None


def _run_all(work: list[Work], pool: Workers | None, progress: ProgressCallback | None,
             jobs: int = 1) -> list[_Outcome]:
    """Read, look up and analyse every unit: in this process without `pool`, else in its
    `jobs` worker processes (reading and hashing the files is part of the parallel work)."""
    total = len(work)
    if progress is not None:
        progress(0, total)
    if pool is None:
        outcomes = []
        for done, unit in enumerate(work, start=1):
            outcomes.append(_job(unit))
            if progress is not None:
                progress(done, total)
        return outcomes
    # The shards of a split package go to one worker together, which parses the package
    # once and forks a process per other shard (`_forked_shards`); they go first, being the
    # biggest.
    groups = _shard_groups(work) if _FORK else []
    grouped = {index for group in groups for index in group}
    # Biggest units first, so that no worker is left alone with a giant at the end.
    order = sorted((i for i in range(total) if i not in grouped),
                   key=lambda i: _unit_size(work[i]), reverse=True)
    batches = _batches(order, [_unit_size(unit) for unit in work],
                       BATCHES_PER_WORKER * min(jobs, total))
    by_index: dict[int, _Outcome] = {}
    tasks: list[Any] = [*groups, *batches] if _FORK else [[(work[i], i) for i in batch]
                                                         for batch in batches]
    for batch_outcomes in pool.imap_unordered(_indexed_jobs, tasks, chunksize=1):
        by_index.update(batch_outcomes)
        if progress is not None:
            progress(len(by_index), total)
    return [by_index[i] for i in range(total)]


def _shard_groups(work: list[Work]) -> list[tuple[int, ...]]:
    """The indexes of each split package's shards, its lead first."""
    by_dir: dict[Path, list[int]] = {}
    for index, unit in enumerate(work):
        if unit.shard is not None:
            by_dir.setdefault(unit.target.directory, []).append(index)
    return [tuple(sorted(indexes, key=lambda i: not work[i].lead))
            for indexes in by_dir.values() if len(indexes) > 1]


def _batches(order: list[int], sizes: list[float], count: int) -> list[list[int]]:
    """`order` cut into consecutive batches, each of at most 1/`count` of the size still to
    be handed out (a unit bigger than that alone): the batches shrink towards the end, where
    an uneven last one would leave a worker idle, down to 1/(8 x `count`) of the whole."""
    remaining = total = sum(sizes)
    batches: list[list[int]] = []
    limit, filled = 0.0, 0.0
    for index in order:
        if batches and filled + sizes[index] <= limit:
            batches[-1].append(index)
            filled += sizes[index]
            continue
        remaining -= filled
        limit = max(remaining, total / 8) / max(1, count)
        batches.append([index])
        filled = sizes[index]
    return batches


def _unit_size(unit: Work) -> float:
    """The expected cost of a unit, for scheduling the costly ones first."""
    if unit.shard is None:
        return unit.target.size
    share = len(unit.shard) / max(1, len(unit.target.files))
    return unit.target.size * (share + _head_start(unit.whole_codes()))


_FORK = hasattr(os, "fork")
_SHARED_WORK: list[Work] | None = None
_WORKER_CACHES: dict[Path, LintCache] = {}


def _indexed_jobs(task: list[int] | list[tuple[Work, int]] | tuple[int, ...]
                  ) -> list[tuple[int, _Outcome]]:
    """A batch of units in a worker: by index into the inherited job list (fork), or sent;
    a tuple of indexes is the shards of one split package (`_forked_shards`)."""
    if isinstance(task, tuple):
        return _forked_shards(task)
    results: list[tuple[int, _Outcome]] = []
    for item in task:
        if isinstance(item, int):
            assert _SHARED_WORK is not None
            results.append((item, _job(_SHARED_WORK[item])))
        else:
            unit, index = item
            results.append((index, _job(unit)))
    return results


def _job(unit: Work) -> _Outcome:
    options = unit.options
    package_dir, unreadable = read_target(unit.target, options.selection)
    return _job_read(unit, package_dir, unreadable)


def _job_read(unit: Work, package_dir: PackageDir | None, unreadable: Sequence[tuple[Path, str]]
              ) -> _Outcome:
    """`_job` with the directory read."""
    errors = _unreadable_errors(unreadable)
    if package_dir is None:
        return _Outcome(DirResult((), errors, 0, ()), None, cached=False)
    key, hit = _cached(unit.options, package_dir)
    if hit is not None:
        return _Outcome(_with_errors(hit, errors), key, cached=True)
    read_outside.begin()
    return _analysed(unit, package_dir, errors, key)


def _unreadable_errors(unreadable: Sequence[tuple[Path, str]]) -> tuple[FileError, ...]:
    return tuple(FileError(path, f"cannot read: {reason}") for path, reason in unreadable)


def _reading_cache(cache_dir: Path) -> LintCache | None:
    """A worker's connection to the cache, to read it (None while there is none: the parent
    makes it when it stores a run's results; looked for again next time)."""
    cache = _WORKER_CACHES.get(cache_dir)
    if cache is None:
        cache = LintCache(cache_dir, reading_only=True)
        if not cache.readable:
            return None
        _WORKER_CACHES[cache_dir] = cache
    return cache


def _cached(options: LintOptions, package_dir: PackageDir) -> tuple[str | None, DirResult | None]:
    """The directory's cache key and cached result (None, None without a cache)."""
    if options.cache_dir is None:
        return None, None
    cache = _reading_cache(options.cache_dir)
    # The installed Go decides for code without a go directive: part of the key there.
    # What the analysis reads outside the directory is checked by `cache.get` (`unchanged`).
    module = find_module(package_dir.directory)
    version = choose_version(module, options)
    fingerprint = _options_fingerprint(options, package_dir.directory)
    key = cache_key(package_dir, f"{fingerprint}|{version.version}")
    return key, cache.get(key) if cache is not None else None


def _analysed(unit: Work, package_dir: PackageDir, errors: tuple[FileError, ...],
              key: str | None, loaded: _Loaded | None = None) -> _Outcome:
    """A unit's outcome, not in the cache: `loaded` as for `_analyse`. With a cache (`key`),
    the result keeps what the analysis read outside the directory since `read_outside.begin()`."""
    options = unit.options
    if unit.shard is None:
        result = analyse_dir(package_dir, options)
        return _Outcome(_with_errors(_with_reads(result, key), errors), key, cached=False)
    result, raw, reached = analyse_shard(package_dir, options, unit.shard, lead=unit.lead,
                                         whole=unit.whole_codes(), loaded=loaded)
    return _Outcome(_with_errors(_with_reads(result, key), errors), key, cached=False, raw=raw,
                    reached=reached)


def _with_reads(result: DirResult, key: str | None) -> DirResult:
    return replace(result, outside=digested(read_outside.taken())) if key is not None else result


def _forked_shards(indexes: Sequence[int]) -> list[tuple[int, _Outcome]]:
    """The shards of one split package (indexes into the inherited job list, the lead
    first), in a forked worker: the package is read and parsed once (its declarations and
    the bodies of its goroutines and handlers) and the model of its goroutines built once,
    then this process forks one child per other shard; each process checks its own shard on
    its copy of the parsed package, untouched by the others' analyses, and the children send
    their outcomes back pickled through a pipe. Read and parsed by each shard, nats-server's
    `server/` (148 files, 12 MB) cost 0.35-0.4 s of CPU per shard, its model 0.1-0.2 s. A
    child that fails leaves its shard to be checked here from scratch."""
    assert _SHARED_WORK is not None
    units = [(index, _SHARED_WORK[index]) for index in indexes]
    first = units[0][1]
    package_dir, unreadable = read_target(first.target, first.options.selection)
    if package_dir is None:
        return [(index, _job_read(unit, package_dir, unreadable)) for index, unit in units]
    errors = _unreadable_errors(unreadable)
    # The shards share the directory, its files and their options: one key, one look-up.
    key, hit = _cached(first.options, package_dir)
    if hit is not None:
        return [(index, _Outcome(_with_errors(hit, errors), key, cached=True))
                for index, _unit in units]
    # What loading reads outside the directory counts for every shard, forked after it.
    read_outside.begin()
    # Parsed here, before the fork: the declarations, and the bodies every shard's model of
    # the package's goroutines needs (those starting goroutines or handling requests). A
    # body only one shard's rules look into is parsed there, when asked about.
    loaded = _load(package_dir, first.options, frozenset(), lead=True, whole=frozenset())
    if loaded.following & {"MG004", "MG005", "MG014"}:
        # The lead follows calls from the package's goroutines and handlers, so it builds
        # their model anyway: built here, every shard has it (each judges its own files' nil
        # checks, MG005, on it; the MG014 shard asks it too).
        for package in loaded.packages:
            Concurrency.of(package, TypeInfo(package))
    children: list[tuple[int, Work, int, int]] = []
    for index, unit in units[1:]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: one shard, then out, never back into the pool's loop
            try:
                os.close(read_end)
                try:
                    data = pickle.dumps(_analysed(unit, package_dir, errors, key, loaded))
                except BaseException:  # no outcome: the parent checks the shard itself
                    data = b""
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(data)
            finally:
                os._exit(0)
        os.close(write_end)
        children.append((index, unit, pid, read_end))
    lead_index, lead = units[0]
    try:
        outcomes = [(lead_index, _analysed(lead, package_dir, errors, key, loaded))]
    finally:
        # Every child is waited for, even when the lead's check failed.
        received = [(index, unit, _child_output(pid, read_end))
                    for index, unit, pid, read_end in children]
    for index, unit, data in received:
        outcomes.append((index, pickle.loads(data) if data else _job(unit)))
    return outcomes


def _child_output(pid: int, read_end: int) -> bytes:
    """What a forked shard wrote to its pipe (b"" if it failed), once it has exited."""
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return data


def _with_errors(result: DirResult, errors: tuple[FileError, ...]) -> DirResult:
    return replace(result, errors=result.errors + errors) if errors else result


def analyse_dir(package_dir: PackageDir, options: LintOptions) -> DirResult:
    """Analyse every package of one directory (normally one, plus its external test
    package)."""
    return _analyse(package_dir, options, None, lead=True,
                    whole=_whole_package_codes(options))[0]


Raw = tuple[tuple[Finding, bool], ...]


def analyse_shard(package_dir: PackageDir, options: LintOptions, shard: frozenset[Path], *,
                  lead: bool, whole: frozenset[str], loaded: _Loaded | None = None
                  ) -> tuple[DirResult, Raw, Raw]:
    """Check the candidates in the files of `shard` (the rest of the package is read for its
    declarations, and for what the rules look up), and run the `whole` rules (those that
    analyse the package as a whole) for all its files; the `lead` shard also follows calls.
    The findings come back raw, each with whether an ignore comment suppresses it, for the
    merge of the shards (the DirResult holds none): the rules' own, then what the following
    of calls reached. `loaded`: see `_analyse`."""
    return _analyse(package_dir, options, shard, lead=lead, whole=whole, loaded=loaded)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """A directory read and parsed for analysis (`_load`): its live files, the version and
    file notes the reading gave, the selected rules its text holds markers of, its packages."""

    package_dir: PackageDir
    rules: tuple[Rule, ...]
    packages: list[Package]
    errors: list[FileError]
    versions: set[VersionNote]
    notes: list[FileNote]
    following: frozenset[str]  # what a lead unit follows calls for (`_following`)


def _load(package_dir: PackageDir, options: LintOptions, shard: frozenset[Path] | None, *,
          lead: bool, whole: frozenset[str]) -> _Loaded:
    """Read a directory's packages, parsing up front the bodies the rules of the unit (`shard`,
    `lead`, `whole`, as for `_analyse`) look into; any other body is parsed when asked about."""
    versions: set[VersionNote] = set()
    notes: list[FileNote] = []

    def choose(module: GoModule | None) -> VersionChoice:
        choice = choose_version(module, options)
        where = module.path if module is not None else str(package_dir.directory)
        silenced = tuple(rule.code for rule in options.rules
                         if rule.needs is not None and choice.version < rule.needs)
        versions.add(VersionNote(where, str(choice.version), choice.source, silenced))
        return choice

    def judge(path: Path, content: bytes, error: str) -> SyntaxVerdict:
        version = choose(find_module(package_dir.directory)).version
        if (constraint := left_out_everywhere(content, version)) is not None:
            notes.append(FileNote(path, f"not analysed: {error}, and its build constraint "
                                        f"({constraint.splitlines()[0]}) leaves it out of every "
                                        f"build with Go {version}, as the go command does"))
            return "skip"
        # Imported here, as below: the Go tool's module brings subprocess and shutil, 3 ms of
        # every lint's start that only a file with a syntax error, or code without a go
        # directive, needs.
        from mapguard.gotool import gofmt_accepts

        if not gofmt_accepts(content):
            return "error"
        notes.append(FileNote(path, f"analysed in part: {error} is syntax mapguard's Go grammar "
                                    "does not know, but gofmt accepts the file"))
        return "analyse"

    # Files only toolchains too old for the module read are never compiled: left out, as
    # the go command leaves them out.
    version = choose(find_module(package_dir.directory)).version
    package_dir, left_out = without_old_release_files(package_dir, version)
    notes.extend(FileNote(source_file.path, f"not analysed: its build constraint "
                          f"({constraint.splitlines()[0]}) leaves it out of every build with "
                          f"Go {version} or newer, as the go command does")
                 for source_file, constraint in left_out if not source_file.context_only)
    outside, outside_tests, anywhere = _marker_searches(
        [f for f in package_dir.files if not f.context_only])
    with_evidence = bool(_evidence_digest(options, package_dir.directory))
    rules = tuple(rule for rule in options.rules
                  if rule.applies_if(anywhere if _reports_in_tests(rule, options)
                                     else outside_tests)
                  and (with_evidence or not rule.evidence_only))
    following = _following(options, outside, outside_tests, anywhere, lead)
    triggers = _triggers_by_file(package_dir, rules, options, shard, whole=whole)
    if "MG008" in following and shard is not None:
        triggers = _whole_in_publishers(triggers, _triggers_by_file(
            package_dir, rules, options, None, whole=whole))
    if following & {"MG004", "MG005", "MG014"}:
        triggers = _with_context_bodies(triggers)
    # A package no selected rule applies to and no call is followed from has nothing to
    # analyse: its files are read lazily, every one (parsed only if something asks, which
    # nothing will), as the test files no rule reports in are. Two thirds of etcd's packages
    # are such (116 of 175: 240 of its 713 parses, 2-3 % of its lint's CPU). As for a body or
    # a test file nothing needed, a syntax error in them is not reported.
    lazily = _read_lazily(rules, options) if rules or following else _every_file
    packages, errors = load_packages(package_dir, choose, None, judge, shard, triggers, lazily)
    return _Loaded(package_dir, rules, packages, errors, versions, notes, following)


def _every_file(_path: Path, _source: bytes) -> bool:
    return True


Holds = Callable[[bytes], bool]


def _marker_searches(files: Sequence[SourceFile]) -> tuple[bytes, Holds, Holds]:
    """The text of the files outside tests (joined), whether it holds a marker, and whether
    any of the files does. The markers are searched where the rules look: a rule that reports
    nothing in _test.go files (the race rules: `go test -race` judges tests; the speed advice,
    unless asked) can find nothing whose marker only a test file holds, since code outside
    tests cannot name what a test file declares and the goroutines and handlers tests start
    are never followed; so its markers are searched in the other files only. A marker is one
    substring search per text, memoised (several rules share markers). Searched in the whole
    text, markers and contexts took 42 ms of hugo's 0.57 s of CPU."""
    outside = b"\0".join(f.content for f in files if not f.path.name.endswith("_test.go"))
    outside_tests = _memoised_search(outside)
    in_tests = _memoised_search(
        b"\0".join(f.content for f in files if f.path.name.endswith("_test.go")))

    def anywhere(marker: bytes) -> bool:
        return outside_tests(marker) or in_tests(marker)
    return outside, outside_tests, anywhere


def _reports_in_tests(rule: Rule, options: LintOptions) -> bool:
    """Whether the rule reports findings in _test.go files with these options."""
    return rule.in_tests and (rule.in_support_code or options.advice_everywhere)


def _read_lazily(rules: Sequence[Rule], options: LintOptions) -> Callable[[Path, bytes], bool]:
    """Which files to parse only when an analysis asks about them: the _test.go files none of
    `rules` reports in (the rules that report in tests look for markers, which such a file
    lacks). A test file's declarations serve only test code, and most rules stay out of test
    code: on nats-server, etcd and hugo, parsing test files that nothing then read was 7-13 %
    of the lint's CPU. A file read lazily is parsed as it would have been the moment anything
    needs its syntax, so what the rules find is the same (see `Package._pending`)."""
    readers = [rule for rule in rules if _reports_in_tests(rule, options)]
    if any(not rule.markers for rule in readers):
        return lambda _path, _source: False
    markers = tuple(dict.fromkeys(marker for rule in readers for marker in rule.markers))
    return lambda path, source: path.name.endswith("_test.go") and not any(
        marker in source for marker in markers)


def _memoised_search(text: bytes) -> Callable[[bytes], bool]:
    """Whether `text` holds a marker, each marker searched once: MG004's markers are MG005's
    `requires_any` too, and a marker a package lacks costs a search of all its text."""
    found: dict[bytes, bool] = {}

    def holds(marker: bytes) -> bool:
        answer = found.get(marker)
        if answer is None:
            answer = found[marker] = marker in text
        return answer
    return holds


def _following(options: LintOptions, text: bytes, holds: Holds, anywhere: Holds,
               lead: bool) -> frozenset[str]:
    """The rules to follow calls for (`modulewide.following_here`; `text`, `holds`: the
    package's files outside tests; `anywhere`: all of them). Following calls across packages
    (`modulewide`) spans the package, like MG004: a split package does it once, in its lead
    shard."""
    return following_here((rule.code for rule in options.rules), text, holds, anywhere) if (
        lead) else frozenset()


def _analyse(package_dir: PackageDir, options: LintOptions, shard: frozenset[Path] | None, *,
             lead: bool, whole: frozenset[str], loaded: _Loaded | None = None
             ) -> tuple[DirResult, Raw, Raw]:
    """`loaded`: the directory already read and parsed (by `_load`, with whichever bodies
    up front: the others are parsed when asked about), and not analysed yet."""
    # A package read here is released once analysed (`Package.release`): its memory then serves
    # the next package of the process. One read for split shards (`loaded`, the largest
    # packages) is not: freeing it would cost more than the little that comes after it reuses.
    release = loaded is None
    if loaded is None:
        loaded = _load(package_dir, options, shard, lead=lead, whole=whole)
    package_dir, rules, packages, errors = (
        loaded.package_dir, loaded.rules, loaded.packages, loaded.errors)
    following = loaded.following if lead else frozenset()
    findings: list[Finding] = []
    raw: list[tuple[Finding, bool]] = []
    raw_reached: list[tuple[Finding, bool]] = []
    calls: list[CallOut] = []
    for package in packages:
        found = rule_findings(package, rules, shard, whole=whole,
                              advice_everywhere=options.advice_everywhere,
                              evidence=options.evidence)
        reached: list[Finding] = []
        if following:
            reached, leaving = follow_in_package(package, following, lambda _path: True)
            calls.extend(leaving)
        if shard is None:
            kept = list(_unsuppressed(package, one_finding_per_problem(found, rules)))
            findings.extend(_merged(kept, _unsuppressed(package, reached), _codes(options)))
        else:
            # The following of calls and the rules it is merged with may run in different
            # shards: the merge of the shards merges them.
            suppressed = _suppression(package)
            raw.extend((finding, suppressed(finding)) for finding in found)
            raw_reached.extend((finding, suppressed(finding)) for finding in reached)
        if release:
            package.release()
    # Read after the analysis: a file read lazily and parsed during it may have added a
    # syntax error (to `errors`), a note and the version it was judged at.
    versions, notes = set(loaded.versions), list(loaded.notes)
    mine = [f for f in package_dir.files
            if not f.context_only and (shard is None or f.path in shard)]
    for source_file in mine:
        if b"mapguard:ignore" in source_file.content:
            notes.extend(ignore_warnings(source_file))
    # What --fix needs to tell whether a file changed on disk since it was read.
    fixable = {f.path for f in findings if f.fix is not None} | {
        f.path for f, _ in (*raw, *raw_reached) if f.fix is not None}
    digests = tuple((f.path, content_digest(f.content)) for f in package_dir.files
                    if f.path in fixable)
    return DirResult(tuple(findings), tuple(errors), len(mine), tuple(versions),
                     tuple(notes), digests, tuple(dict.fromkeys(calls))), tuple(raw), tuple(
        raw_reached)


def _with_context_bodies(triggers: Callable[[Path, bytes], tuple[TextPattern, ...] | None]
                         ) -> Callable[[Path, bytes], tuple[TextPattern, ...] | None]:
    """The triggers, and the bodies where following calls starts (goroutines, handlers:
    never in a _test.go file, see `Concurrency._find_go_statements`)."""
    def with_contexts(path: Path, source: bytes) -> tuple[TextPattern, ...] | None:
        own = triggers(path, source)
        if own is None or path.name.endswith("_test.go"):
            return own
        return (*own, *CONTEXT_BODIES)
    return with_contexts


def _whole_in_publishers(triggers: Callable[[Path, bytes], tuple[TextPattern, ...] | None],
                         whole: Callable[[Path, bytes], tuple[TextPattern, ...] | None]
                         ) -> Callable[[Path, bytes], tuple[TextPattern, ...] | None]:
    """The triggers, but those of the whole package (`whole`) in a file that may publish a
    map: following calls from publishers (MG008) looks at the calls in every body of such
    a file that is parsed, and a whole run parses the bodies of every rule there. (Without
    this, a split package lost the MG008 findings of publishers outside the lead's files.)"""
    def in_publishers(path: Path, source: bytes) -> tuple[TextPattern, ...] | None:
        if any(marker in source for marker in PUBLISHING):
            return whole(path, source)
        return triggers(path, source)
    return in_publishers


def _triggers_by_file(package_dir: PackageDir, rules: Sequence[Rule], options: LintOptions,
                      shard: frozenset[Path] | None, *, whole: frozenset[str]
                      ) -> Callable[[Path, bytes], tuple[TextPattern, ...] | None]:
    """The body triggers of a file: those of the rules that look at candidates in it. In a
    split package, in the shard's own files the rules the shard runs, in the other files only
    its `whole` (whole-package) rules; in test and tool code only the rules that report there
    (rule_findings does not look at the others' candidates in such files)."""
    if shard is None:
        return _triggers_outside_support(package_dir, rules, options)
    own = _triggers_outside_support(
        package_dir, [rule for rule in rules if not rule.whole_package or rule.code in whole],
        options)
    others = _triggers_outside_support(
        package_dir, [rule for rule in rules if rule.whole_package and rule.code in whole],
        options)
    return lambda path, source: own(path, source) if path in shard else others(path, source)


def _triggers_outside_support(package_dir: PackageDir, rules: Sequence[Rule],
                              options: LintOptions
                              ) -> Callable[[Path, bytes], tuple[TextPattern, ...] | None]:
    chosen = _triggers_by_support(package_dir, rules, options)
    if all(rule.in_tests for rule in rules):
        return chosen
    # A _test.go file is support code: of the rules that report there, those that look into
    # tests at all.
    in_tests = _body_triggers([rule for rule in rules if rule.in_tests and (
        rule.in_support_code or options.advice_everywhere)])
    return lambda path, source: in_tests if path.name.endswith("_test.go") \
        else chosen(path, source)


def _triggers_by_support(package_dir: PackageDir, rules: Sequence[Rule], options: LintOptions
                         ) -> Callable[[Path, bytes], tuple[TextPattern, ...] | None]:
    everywhere = _body_triggers(rules)
    if options.advice_everywhere or all(rule.in_support_code for rule in rules):
        return lambda _path, _source: everywhere
    in_support = _body_triggers([rule for rule in rules if rule.in_support_code])
    if is_support_directory(package_dir.directory, find_module(package_dir.directory)):
        return lambda _path, _source: in_support
    return lambda path, source: in_support if looks_like_support_file(path, source) \
        else everywhere


def _merged(known: Iterable[Finding], found: Iterable[Finding], selected: frozenset[str]
            ) -> list[Finding]:
    """`known`, with the findings of `found` (of the `selected` rules) at places no finding of
    the same problem holds.
    MG014 holds the findings MG004 and MG005 leave for want of proof: the package's own
    analysis and the calls followed into it can weigh the proof of one write differently, and
    it is still one finding — the proven one (a helper that a handler calls, checked on its own
    as "a function of the package", is MG005's once the handler's call is followed)."""
    merged = list(known)
    for finding in found:
        rules = _SAME_PROBLEM.get(finding.rule, (finding.rule,))
        same = [index for index, held in enumerate(merged) if held.line == finding.line
                and held.rule in rules and held.path == finding.path]
        if same and (finding.rule == "MG014" or any(merged[i].rule != "MG014" for i in same)):
            continue
        for index in reversed(same):
            del merged[index]  # an MG014 finding the followed proof makes MG004's or MG005's
        if finding.rule in selected:
            merged.append(finding)
    return merged


_SAME_PROBLEM = {"MG004": ("MG004", "MG014"), "MG005": ("MG005", "MG014"),
                 "MG014": ("MG004", "MG005", "MG014")}


def _body_triggers(rules: Sequence[Rule]) -> tuple[TextPattern, ...] | None:
    """What makes a function body worth parsing for these rules; None: every body."""
    triggers: list[TextPattern] = []
    for rule in rules:
        if rule.bodies is None:
            return None
        triggers.extend(rule.bodies)
    return tuple(triggers)


def choose_version(module: GoModule | None, options: LintOptions) -> VersionChoice:
    if options.go_version is not None:
        return VersionChoice(options.go_version, "flag")
    if (from_module := module_version(module)) is not None:
        return from_module
    if options.toolchain_version is not None:
        return VersionChoice(options.toolchain_version, "toolchain")
    if options.detect_toolchain and (installed := _installed_go_version()) is not None:
        return VersionChoice(installed, "toolchain")
    return VersionChoice(NEWEST_KNOWN, "default")


@functools.cache
def _installed_go_version() -> GoVersion | None:
    """Run `go env` once per process, and only for code that has no go directive."""
    from mapguard.gotool import find_go

    try:
        toolchain = find_go()
    except ToolError:
        return None
    return toolchain.version if toolchain is not None else None


def content_digest(content: bytes) -> str:
    return blake2b(content, digest_size=16).hexdigest()


def rule_findings(package: Package, rules: Sequence[Rule],
                  shard: frozenset[Path] | None = None, *, whole: frozenset[str] | None = None,
                  advice_everywhere: bool = False,
                  evidence: ProfileEvidence | None = None) -> list[Finding]:
    """What the rules report, before overlaps and ignore comments are settled: with `shard`,
    in its files only, except that the whole-package rules of `whole` (None: all) run for
    every file (and the others not at all)."""
    # A model of the package's goroutines built before the shards forked (`_forked_shards`)
    # comes with the TypeInfo it resolved names with: the rules use that one, so that the
    # declarations they and the model find are the same objects, as in a single process.
    if not rules:
        return []  # and no file is parsed to tell support code (those read lazily stay unread)
    model = package.memo.get("concurrency")
    info = model.info if isinstance(model, Concurrency) else TypeInfo(package)
    support = {go_file.path for go_file in package.files if is_support_code(go_file, package)}
    only_support = len(support) == len(package.files)
    findings: list[Finding] = []
    for rule in rules:
        owned = shard
        if rule.whole_package and shard is not None:
            if whole is not None and rule.code not in whole:
                continue
            owned = None
        skip_support = not rule.in_support_code and not advice_everywhere
        if skip_support and only_support:
            continue
        # A rule that stays out of test and tool code does not look at candidates there: its
        # findings there would be dropped.
        if skip_support and support:
            owned = frozenset(go_file.path for go_file in package.files
                              if go_file.path not in support
                              and (owned is None or go_file.path in owned))
        pass_ = Pass(rule, package, info, shard=owned, evidence=evidence)
        rule.run(pass_)
        findings.extend(f for f in pass_.findings if not (skip_support and f.path in support))
    return findings


def _unsuppressed(package: Package, findings: list[Finding]) -> Iterator[Finding]:
    suppressed = _suppression(package)
    return (finding for finding in findings if not suppressed(finding))


def _suppression(package: Package) -> Callable[[Finding], bool]:
    """Whether an ignore comment suppresses a finding in one of the package's files."""
    lines_by_path: dict[Path, list[bytes]] = {}
    files = {go_file.path: go_file for go_file in package.files}

    def suppressed(finding: Finding) -> bool:
        go_file: GoFile | None = files.get(finding.path)
        if go_file is None:
            return False
        lines = lines_by_path.setdefault(finding.path, go_file.source.split(b"\n"))
        return _suppressed(finding, lines)

    return suppressed


@dataclass(frozen=True, slots=True)
class IgnoreComment:
    """`//mapguard:ignore MG001,MG003 reason`: the rules it names, and the words it names
    in rule position that are no rule (misspelt codes: reported, never silently ignored)."""

    codes: frozenset[str]
    unknown: tuple[str, ...]


def parse_ignore(text: str) -> IgnoreComment | None:
    """The ignore comment of a source line, or None. The rules come first — codes (`MG001`,
    any case) or names (`rebuild-instead-of-clear`), separated by commas or spaces — then the
    reason."""
    match = _IGNORE.search(text)
    if match is None:
        return None
    codes: set[str] = set()
    unknown: list[str] = []
    for word in re.split(r"[\s,]+", match.group(1).strip()):
        rule = _KNOWN.get(word.upper()) or _KNOWN.get(word.lower())
        if rule is not None:
            codes.add(rule)
        elif _CODE_LIKE.fullmatch(word):
            unknown.append(word)
        else:
            break  # the reason starts
    return IgnoreComment(frozenset(codes), tuple(unknown))


def ignore_warnings(source_file: SourceFile) -> Iterator[FileNote]:
    """Ignore comments that name no rule, or a rule that does not exist."""
    content = source_file.content
    position = 0
    while (at := content.find(b"mapguard:ignore", position)) >= 0:
        position = at + 1
        start = content.rfind(b"\n", 0, at) + 1
        end = content.find(b"\n", at)
        line = content[start:end if end >= 0 else len(content)].decode("utf-8", "replace")
        parsed = parse_ignore(line)
        if parsed is None:
            continue
        number = content.count(b"\n", 0, at) + 1
        if parsed.unknown:
            yield FileNote(source_file.path, f"ignore comment names unknown rule "
                           f"{', '.join(parsed.unknown)}: it suppresses nothing", number)
        elif not parsed.codes:
            yield FileNote(source_file.path, "ignore comment names no rule: it suppresses "
                           "nothing (write //mapguard:ignore MG001 reason)", number)


def _suppressed(finding: Finding, lines: list[bytes]) -> bool:
    for number in (finding.line, finding.line - 1):
        if not 0 < number <= len(lines):
            continue
        text = lines[number - 1].decode("utf-8", "replace")
        if number == finding.line - 1 and not text.lstrip().startswith("//"):
            continue
        parsed = parse_ignore(text)
        if parsed is not None and (finding.rule in parsed.codes or (
            finding.rule == "MG014" and parsed.codes & {"MG004", "MG005", "MG013"}
        )):
            # MG014 reports what MG004, MG005 and MG013's getter shape did: their comments
            # still hold.
            return True
    return False
