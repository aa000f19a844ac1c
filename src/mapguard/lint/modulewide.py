"""The module-wide part of MG004, MG005, MG014 and MG008: calls followed across the packages of a
module, built on the per-package results and cached like them.

Each package's analysis (`engine.analyse_dir`) follows the calls its concurrent code and its
publishers make inside the package (`mapguard.lint.reach`) and reports what it finds there;
the calls that leave for another package of the same module are kept in its result
(`DirResult.calls`), cached with it. Then, round after round, the calls into each package
are grouped and that package is visited with them: its findings join the run's, and the
calls it makes in turn go to the next round. A package's visit is cached under its files and
the calls it was asked about, so an unchanged module costs a cache look-up per package.

Only packages the command line selected are visited (`./...` from the module root is all of
them): a finding always lands in a linted file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mapguard.digests import blake2b
from mapguard.lint.cache import LintCache, cache_key, digested
from mapguard.lint.reach import PUBLISHING, CallOut, Effect, Follower
from mapguard.lint.registry import rule_for
from mapguard.lint.results import DirResult, ReadOutside
from mapguard.lint.rule import Finding
from mapguard.lint.rules.mg004_unsynchronized_map_write import CONTEXT_BODIES
from mapguard.source import outside as read_outside
from mapguard.source.concurrency import CONTEXT_MARKERS, Concurrency
from mapguard.source.discover import DirTarget, PackageDir, Selection, read_target
from mapguard.source.gomod import find_module
from mapguard.source.loader import VersionChoice, load_compiled_packages
from mapguard.source.package import Package
from mapguard.source.typeinfo import TypeInfo

FOLLOWING_RULES = frozenset({"MG004", "MG005", "MG008", "MG014"})
MAX_ROUNDS = 8


def following_here(codes: Iterable[str], text: bytes, holds: Callable[[bytes], bool],
                   anywhere: Callable[[bytes], bool]) -> frozenset[str]:
    """The rules among `codes` worth following calls for in a package: MG004, MG005 and
    MG014 where concurrency starts, in `text` (its files outside tests, joined: the
    goroutines and handlers tests start are never followed), MG008 where a map is published,
    in any of its files. `holds` and `anywhere` say whether those texts hold a marker
    (memoised: the rules' own look-ups have asked most of them already).
    (The following rules' own markers say nothing here: a handler that only calls a store
    holds none.)"""
    wanted = FOLLOWING_RULES & set(codes)
    # Each search only for the rules it decides (MG008 is off by default). Every context
    # pattern holds one of MG004's markers, which most packages lack: then no pattern is run.
    starts = bool(wanted - {"MG008"}) and any(holds(marker) for marker in CONTEXT_MARKERS) and (
        any(pattern.search(text) for pattern in CONTEXT_BODIES))
    publishes = "MG008" in wanted and any(anywhere(marker) for marker in PUBLISHING)
    return frozenset(code for code in wanted if (publishes if code == "MG008" else starts))


def effect_codes(codes: frozenset[str]) -> frozenset[str]:
    """The effects worth keeping for the selected `codes`: with MG014, MG004's and MG005's too,
    since a proof found by following decides that a write is not MG014's even when the rule
    that owns it is not selected (`engine._merged` drops what is not selected)."""
    return codes | ({"MG004", "MG005"} if "MG014" in codes else frozenset())


def follow_in_package(package: Package, codes: frozenset[str],
                      owns: Callable[[Path], bool]) -> tuple[list[Finding], tuple[CallOut, ...]]:
    """The findings in `package` reached by following calls from its own concurrent code
    and publishers, and the calls that leave for other packages of the module."""
    model = package.memo.get("concurrency")
    info = model.info if isinstance(model, Concurrency) else TypeInfo(package)
    follower = Follower(package, info)
    if codes & {"MG004", "MG005", "MG014"}:
        follower.from_contexts(model if isinstance(model, Concurrency)
                               else Concurrency.of(package, info), owns)
    if "MG008" in codes:
        follower.from_publishers(owns)
    kept = effect_codes(codes)
    findings = [_finding(e) for e in follower.reach.effects if e.rule in kept]
    return findings, tuple(dict.fromkeys(follower.reach.calls))


def _finding(effect: Effect) -> Finding:
    rule = rule_for(effect.rule)
    node = effect.node
    return Finding(rule.code, rule.name, rule.severity, effect.file.path,
                   node.start_point.row + 1, node.start_point.column + 1,
                   node.end_point.row + 1, node.end_point.column + 1, effect.message)


@dataclass(frozen=True, slots=True)
class Unit:
    """One package to visit in a round: its directory, options and the calls into it."""

    target: DirTarget
    calls: tuple[CallOut, ...]


# Visits the units of one round (they are independent of each other): their results, in order.
Visit = Callable[[list[Unit]], list[DirResult]]


def follow_module(results: dict[Path, DirResult], targets: Sequence[DirTarget],
                  visit: Visit) -> dict[Path, list[Finding]]:
    """Rounds of visits until no call leads anywhere new: the findings per directory."""
    by_path = _import_paths(targets)
    asked: dict[Path, set[tuple[str, tuple[object, ...]]]] = defaultdict(set)
    found: dict[Path, list[Finding]] = defaultdict(list)
    pending = [call for result in results.values() for call in result.calls]
    for _round in range(MAX_ROUNDS):
        grouped: dict[str, list[CallOut]] = defaultdict(list)
        for call in pending:
            target = by_path.get(call.package)
            if target is None:
                continue  # outside the module, or a package not linted
            key = (call.function, call.shared.pattern)
            if key in asked[target.directory]:
                continue
            asked[target.directory].add(key)
            grouped[call.package].append(call)
        if not grouped:
            break
        pending = []
        units = [Unit(by_path[package], tuple(sorted(grouped[package],
                                                     key=lambda c: json.dumps(c.to_json()))))
                 for package in sorted(grouped)]
        for unit, result in zip(units, visit(units), strict=True):
            found[unit.target.directory].extend(result.findings)
            pending.extend(result.calls)
    return found


def _import_paths(targets: Sequence[DirTarget]) -> dict[str, DirTarget]:
    found: dict[str, DirTarget] = {}
    for target in targets:
        module = find_module(target.directory)
        if module is None:
            continue
        try:
            relative = target.directory.relative_to(module.root).as_posix()
        except ValueError:
            continue
        found[module.path if relative == "." else f"{module.path}/{relative}"] = target
    return found


def visit_unit(unit: Unit, codes: frozenset[str], selection: Selection,
               choose: Callable[[Path], VersionChoice], fingerprint: str,
               cache: LintCache | None,
               suppress: Callable[[Package, list[Finding]], list[Finding]], *,
               keyed: bool = False) -> tuple[str | None, DirResult, bool]:
    """Visit one package with the calls into it: (its cache key, the result, whether `cache`
    had it). With a cache (`cache`, or `keyed`: a worker whose cache is not there to read),
    the key covers the package's files and the calls, and a new result keeps what the visit
    read outside them; storing it is the caller's (only the parent process writes the cache).
    The files are read once, for the key and the visit."""
    package_dir = _visited_files(unit, selection)
    if package_dir is None:
        return None, DirResult((), (), 0, ()), False
    keyed = keyed or cache is not None
    key = _visit_key(unit, package_dir, fingerprint) if keyed else None
    if key is not None and cache is not None and (hit := cache.get(key)) is not None:
        return key, hit, True
    read_outside.begin()
    choice = choose(package_dir.directory)
    # As in the package's own analysis: files only too-old toolchains read are not compiled.
    # A visit asks about a few names: a file is parsed when one of them is in its text
    # (`Package._unread`); parsing every file was most of a visit's time (loki: 0.2 s of 0.4).
    packages, _errors = load_compiled_packages(package_dir, lambda module: choice, (),
                                               lazily=_read_by_name)
    findings: list[Finding] = []
    calls: list[CallOut] = []
    kept = effect_codes(codes)
    for package in packages:
        if package.name.endswith("_test"):
            continue
        follower = Follower(package, TypeInfo(package))
        follower.from_requests(list(unit.calls))
        findings.extend(suppress(package, [_finding(e) for e in follower.reach.effects
                                           if e.rule in kept]))
        calls.extend(follower.reach.calls)
    for package in packages:
        package.release()
    result = DirResult(tuple(dict.fromkeys(findings)), (), 0, (),
                       calls=tuple(dict.fromkeys(calls)),
                       outside=digested(read_outside.taken()) if keyed else ReadOutside())
    return key, result, False


def _read_by_name(_path: Path, _source: bytes) -> bool:
    return True


def visit_key(unit: Unit, selection: Selection, fingerprint: str) -> str | None:
    """The cache key `visit_unit` gives a visit (None: the directory cannot be read, nothing
    to visit)."""
    package_dir = _visited_files(unit, selection)
    return _visit_key(unit, package_dir, fingerprint) if package_dir is not None else None


def _visited_files(unit: Unit, selection: Selection) -> PackageDir | None:
    """The package's non-test files. The calls come from another package's code, and the
    program that makes them is built without this package's `_test.go` files: their callers
    must not void a lock or once verdict there (and parsing them was 40-55 % of a visit)."""
    package_dir, _unreadable = read_target(unit.target, selection)
    if package_dir is None:
        return None
    return PackageDir(package_dir.directory, tuple(
        f for f in package_dir.files if not f.path.name.endswith("_test.go")))


def _visit_key(unit: Unit, package_dir: PackageDir, fingerprint: str) -> str:
    request = json.dumps([c.to_json() for c in unit.calls], sort_keys=True)
    digest = blake2b(request.encode(), digest_size=16).hexdigest()
    return cache_key(package_dir, f"{fingerprint}|reach|{digest}")
