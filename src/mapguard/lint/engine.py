"""The lint engine: expand targets, analyse each package with the selected rules, in parallel,
with a content-hash cache, and return findings sorted by position.

Per package the engine parses every file, builds the package's symbol table, runs each rule
whose anchor text occurs in the package, and drops suppressed findings
(`//mapguard:ignore MG001 reason` on the line or the line above).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mapguard.errors import ToolError
from mapguard.gotool import find_go
from mapguard.goversion import NEWEST_KNOWN, GoVersion
from mapguard.lint.cache import LintCache, cache_key
from mapguard.lint.overlaps import one_finding_per_problem
from mapguard.lint.registry import ALL_RULES
from mapguard.lint.results import DirResult, LintResult, VersionNote
from mapguard.lint.rule import Finding, Pass, Rule, TextPattern, is_support_code
from mapguard.source.discover import (
    DirTarget,
    Expansion,
    PackageDir,
    Selection,
    expand,
    read_target,
)
from mapguard.source.gomod import GoModule, find_module
from mapguard.source.loader import FileError, VersionChoice, load_packages
from mapguard.source.package import GoFile, Package
from mapguard.source.typeinfo import TypeInfo

# Below this much source, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD_BYTES = 4_000_000

_IGNORE = re.compile(r"//\s*mapguard:ignore\s+([A-Za-z0-9_,\s-]+?)(?:\s+[^A-Za-z0-9,].*|\s*$)")


@dataclass(frozen=True, slots=True)
class LintOptions:
    rules: tuple[Rule, ...] = ALL_RULES
    selection: Selection = field(default_factory=Selection)
    go_version: GoVersion | None = None  # --go-version: overrides go.mod
    toolchain_version: GoVersion | None = None  # the installed Go, for code without go.mod
    detect_toolchain: bool = False  # ask the installed Go for its version, when code needs it
    jobs: int = 0  # 0: one per core
    cache_dir: Path | None = None  # None: no cache
    # Also report the rules with `in_support_code=False` in test and tool code.
    advice_everywhere: bool = False


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
class _Outcome:
    result: DirResult
    new_key: str | None  # a fresh result to store in the cache under this key
    cached: bool


def lint_expansion(
    expansion: Expansion, options: LintOptions, *, progress: ProgressCallback | None = None
) -> LintResult:
    outcomes = _run_all(list(expansion.targets), options, progress)
    if options.cache_dir is not None:
        cache = LintCache(options.cache_dir)
        cache.put_many((o.new_key, o.result) for o in outcomes if o.new_key is not None)
        cache.close()
    results = [o.result for o in outcomes]
    return LintResult(
        findings=tuple(sorted((f for r in results for f in r.findings), key=lambda f: f.sort_key)),
        files=sum(r.files for r in results),
        errors=tuple(sorted((e for r in results for e in r.errors), key=lambda e: str(e.path))),
        versions=tuple(sorted({v for r in results for v in r.versions},
                              key=lambda v: (v.where, v.version))),
        cached_packages=sum(1 for o in outcomes if o.cached),
    )


def _options_fingerprint(options: LintOptions) -> str:
    return "|".join([
        ",".join(rule.code for rule in options.rules),
        str(options.go_version), str(options.toolchain_version), str(options.detect_toolchain),
        str(options.selection.include_generated), str(options.advice_everywhere),
    ])


def _run_all(targets: list[DirTarget], options: LintOptions,
             progress: ProgressCallback | None) -> list[_Outcome]:
    """Read, look up and analyse every directory: in this process for small jobs, else in
    worker processes (reading and hashing the files is part of the parallel work)."""
    total = len(targets)
    if progress is not None:
        progress(0, total)
    jobs = options.jobs or os.cpu_count() or 1
    size = sum(t.size for t in targets)
    if jobs == 1 or total < 2 or size < PARALLEL_THRESHOLD_BYTES:
        outcomes = []
        for done, target in enumerate(targets, start=1):
            outcomes.append(_job(target, options))
            if progress is not None:
                progress(done, total)
        return outcomes
    # Biggest directories first, so that no worker is left alone with a giant at the end.
    order = sorted(range(total), key=lambda i: targets[i].size, reverse=True)
    by_index: dict[int, _Outcome] = {}
    fork = "fork" in multiprocessing.get_all_start_methods()
    global _SHARED_WORK
    # Forked workers inherit the job list: only indexes cross the pipe.
    _SHARED_WORK = (targets, options)
    context = multiprocessing.get_context("fork" if fork else "spawn")
    try:
        with context.Pool(processes=min(jobs, total)) as pool:
            work: list[Any] = order if fork else [(targets[i], options, i) for i in order]
            for done, (index, outcome) in enumerate(
                pool.imap_unordered(_indexed_job, work, chunksize=1), start=1
            ):
                by_index[index] = outcome
                if progress is not None:
                    progress(done, total)
    finally:
        _SHARED_WORK = None
    return [by_index[i] for i in range(total)]


_SHARED_WORK: tuple[list[DirTarget], LintOptions] | None = None
_WORKER_CACHES: dict[Path, LintCache] = {}


def _indexed_job(job: int | tuple[DirTarget, LintOptions, int]) -> tuple[int, _Outcome]:
    if isinstance(job, int):
        assert _SHARED_WORK is not None
        targets, options = _SHARED_WORK
        return job, _job(targets[job], options)
    target, options, index = job
    return index, _job(target, options)


def _job(target: DirTarget, options: LintOptions) -> _Outcome:
    package_dir, unreadable = read_target(target, options.selection)
    errors = tuple(FileError(path, f"cannot read: {reason}") for path, reason in unreadable)
    if package_dir is None:
        return _Outcome(DirResult((), errors, 0, ()), None, cached=False)
    key: str | None = None
    if options.cache_dir is not None:
        cache = _WORKER_CACHES.get(options.cache_dir)
        if cache is None:
            cache = _WORKER_CACHES[options.cache_dir] = LintCache(options.cache_dir)
        # The installed Go decides for code without a go directive: part of the key there.
        module = find_module(package_dir.directory)
        version = choose_version(module, options)
        key = cache_key(package_dir, f"{_options_fingerprint(options)}|{version.version}")
        hit = cache.get(key)
        if hit is not None:
            return _Outcome(_with_errors(hit, errors), None, cached=True)
    result = analyse_dir(package_dir, options)
    return _Outcome(_with_errors(result, errors), key, cached=False)


def _with_errors(result: DirResult, errors: tuple[FileError, ...]) -> DirResult:
    return replace(result, errors=result.errors + errors) if errors else result


def analyse_dir(package_dir: PackageDir, options: LintOptions) -> DirResult:
    """Analyse every package of one directory (normally one, plus its external test package)."""
    notes: set[VersionNote] = set()

    def choose(module: GoModule | None) -> VersionChoice:
        choice = choose_version(module, options)
        where = module.path if module is not None else str(package_dir.directory)
        notes.add(VersionNote(where, str(choice.version), choice.source))
        return choice

    # One joined text: each marker is then a single substring search per package.
    text = b"\0".join(f.content for f in package_dir.files if not f.context_only)
    rules = tuple(rule for rule in options.rules if rule.applies_to(text))
    packages, errors = load_packages(package_dir, choose, _body_triggers(rules))
    findings: list[Finding] = []
    for package in packages:
        findings.extend(run_rules(package, rules, advice_everywhere=options.advice_everywhere))
    return DirResult(tuple(findings), tuple(errors), package_dir.linted, tuple(notes))


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
    if module is not None and module.go_version is not None:
        return VersionChoice(module.go_version, "go.mod")
    if options.toolchain_version is not None:
        return VersionChoice(options.toolchain_version, "toolchain")
    if options.detect_toolchain and (installed := _installed_go_version()) is not None:
        return VersionChoice(installed, "toolchain")
    return VersionChoice(NEWEST_KNOWN, "default")


@functools.cache
def _installed_go_version() -> GoVersion | None:
    """Run `go env` once per process, and only for code that has no go directive."""
    try:
        toolchain = find_go()
    except ToolError:
        return None
    return toolchain.version if toolchain is not None else None


def run_rules(package: Package, rules: Sequence[Rule], *, advice_everywhere: bool = False
              ) -> list[Finding]:
    """Run the rules (already narrowed to those whose markers the package holds), keep one
    finding per problem, and drop the suppressed ones."""
    info = TypeInfo(package)
    support = {go_file.path for go_file in package.files if is_support_code(go_file, package)}
    only_support = len(support) == len(package.files)
    findings: list[Finding] = []
    for rule in rules:
        skip_support = not rule.in_support_code and not advice_everywhere
        if skip_support and only_support:
            continue
        pass_ = Pass(rule, package, info)
        rule.run(pass_)
        findings.extend(f for f in pass_.findings if not (skip_support and f.path in support))
    return list(_unsuppressed(package, one_finding_per_problem(findings, rules)))


def _unsuppressed(package: Package, findings: list[Finding]) -> Iterator[Finding]:
    lines_by_path: dict[Path, list[bytes]] = {}
    files = {go_file.path: go_file for go_file in package.files}
    for finding in findings:
        go_file: GoFile | None = files.get(finding.path)
        if go_file is None:
            yield finding
            continue
        lines = lines_by_path.setdefault(finding.path, go_file.source.split(b"\n"))
        if not _suppressed(finding, lines):
            yield finding


def _suppressed(finding: Finding, lines: list[bytes]) -> bool:
    for number in (finding.line, finding.line - 1):
        if not 0 < number <= len(lines):
            continue
        text = lines[number - 1].decode("utf-8", "replace")
        if number == finding.line - 1 and not text.lstrip().startswith("//"):
            continue
        match = _IGNORE.search(text)
        if match and finding.rule in re.split(r"[\s,]+", match.group(1).upper()):
            return True
    return False
