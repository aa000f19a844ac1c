"""Proof by the race detector for the concurrency rules MG004, MG005, MG008, MG013 and MG014.

Every corpus package that carries an annotation of one of them is a *positive* package: it must
have a driver in tests/race/drivers/, its `TestRace*` functions must be reported racy by `go test
-race` (or die with `fatal error: concurrent map ...`), and every annotated line must be named by
the race detector — the write itself for MG004/MG008/MG013, a line of the `if` statement for MG005
(MG014: as MG004 or MG005, whose finding it holds), the owner's write for a getter MG014 reports
(HANDED_OUT). Drivers of packages without those annotations are the matching *negatives*: their
`TestClean*` functions exercise the same shapes done right (locks, waits, Once, copy-on-write)
and must run clean. The list of
positives comes from the annotations, so a new positive fixture cannot escape the proof.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from mapguard.gotool import GoToolchain

from .harness import RaceRun, RaceTarget, Verdict, run_race

CORPUS = Path(__file__).parents[1] / "fixtures" / "corpus"
DRIVERS = Path(__file__).parent / "drivers"
RACE_RULES = ("MG004", "MG005", "MG008", "MG013", "MG014", "MG015", "MG016", "MG017")
# The race detector never reports a race that is not there, but it can miss one: it names one
# race per memory location and then stops watching it, and a run that dies on the runtime's fatal
# map error stops early. So a package is run again (at most this often) while some TestRace*
# function was not yet reported racy or some annotated line not yet named; evidence is the union.
RERUNS = 3

# ThreadSanitizer keeps only a goroutine's first access of a kind to a memory location between
# two synchronisation points, so a second unsynchronised write to the same map header in the
# same straight-line code is recorded only by luck (element stores are separate locations and
# can be named; `delete` and `clear` cannot). Such a line counts as named when the write it hides
# behind, listed here and itself annotated, is named.
HIDDEN_BEHIND = {
    # Rename: `delete(*p, from)` right after `(*p)[to] = (*p)[from]`.
    ("mg008_atomic_pointer", "router.go", 58): 57,
}

# MG014 reports a getter's `return` of a guarded map (MG013's getter shape before round 9); the
# race is between the caller's use of that map and the owner's write under the lock, which the
# detector names. Such a line counts as named when the owner's write it hands the map out to,
# listed here, is named.
HANDED_OUT = {
    ("mg013_locked_getter", "series.go", 41): 27,  # Labels() / SetLabel
    ("mg013_locked_getter", "series.go", 52): 33,  # Points() / Add
    ("mg013_locked_getter", "series.go", 80): 67,  # Terms() / Observe
    ("mg013_locked_getter", "series.go", 99): 92,  # Handlers() / Register
    ("mg013_locked_getter", "series.go", 115): 27,  # Stats().Labels / SetLabel
    ("mg013_locked_getter", "series.go", 123): 33,  # Lookup() / Add
    ("mg013_init_registry", "registry.go", 63): 49,  # Plugins() / Enable
    ("mg013_init_registry", "registry.go", 86): 79,  # Hooks() / AddHook
}

WANT_TRAILING = re.compile(r"//\s*want((?:\s+MG\d{3})+)\s*$")
WANT_NEXT = re.compile(r"^\s*//\s*want-next((?:\s+MG\d{3})+)\s*$")
RACE_PACKAGE = re.compile(r"^// race-package: (\S+)$", re.MULTILINE)

pytestmark = pytest.mark.slow


def race_annotations(package: Path) -> dict[Path, list[tuple[int, str]]]:
    """{file: [(line, code)]} of the annotations of `RACE_RULES` in one package."""
    found: dict[Path, list[tuple[int, str]]] = defaultdict(list)
    for path in sorted(package.rglob("*.go")):  # a module-wide fixture has packages below
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if match := WANT_NEXT.match(line):
                number += 1
            elif not (match := WANT_TRAILING.search(line)):
                continue
            for code in match.group(1).split():
                if code in RACE_RULES:
                    found[path.resolve()].append((number, code))
    return dict(found)


def statement_span(lines: list[str], first: int) -> range:
    """1-based lines of the statement starting at `first`: up to its closing brace."""
    start = lines[first - 1]
    indent = start[: len(start) - len(start.lstrip())]
    for number in range(first + 1, len(lines) + 1):
        if lines[number - 1].startswith(indent + "}"):
            return range(first, number + 1)
    return range(first, first + 1)


def _packages() -> tuple[list[str], list[str]]:
    positives = sorted(d.name for d in CORPUS.iterdir() if d.is_dir() and race_annotations(d))
    with_driver = sorted(p.name.removesuffix("_test.go") for p in DRIVERS.glob("*_test.go"))
    negatives = [name for name in with_driver if name not in positives]
    return positives, negatives


POSITIVES, NEGATIVES = _packages()


def _driver(package: str) -> Path:
    return DRIVERS / f"{package}_test.go"


def _target(package: str) -> RaceTarget:
    """The fixture and its driver. A fixture of several packages (module-wide findings: a
    server calling a store) names the package its driver joins: `// race-package: cmd/server`;
    the race detector's reports count anywhere in the fixture."""
    driver = _driver(package)
    joined = RACE_PACKAGE.search(driver.read_text(encoding="utf-8"))
    if joined is None:
        return RaceTarget(CORPUS / package, driver)
    return RaceTarget(CORPUS / package / joined.group(1), driver, fixture=CORPUS / package)


def _run(package: str, toolchain: GoToolchain) -> list[RaceRun]:
    target = _target(package)
    return run_race([target], toolchain=toolchain)[target.package.resolve()]


def _uncovered(package: Path, runs: list[RaceRun]) -> list[str]:
    named = set().union(*(run.locations for run in runs if run.test.startswith("TestRace")))
    missing = []
    for path, wanted in race_annotations(package).items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for line, code in wanted:
            # MG005 reports the `if`; the racing access is its nil check or the assignment.
            # (MG014 reports MG005's `if` or MG004's write.)
            lazy = code == "MG005" or (code == "MG014" and lines[line - 1].lstrip().startswith(
                "if "))
            span = statement_span(lines, line) if lazy else range(line, line + 1)
            hidden_behind = HIDDEN_BEHIND.get((package.name, path.name, line),
                                              HANDED_OUT.get((package.name, path.name, line)))
            if hidden_behind is not None:
                span = range(hidden_behind, hidden_behind + 1)
            if not any((path, n) in named for n in span):
                missing.append(f"{path.name}:{line} {code}: {lines[line - 1].strip()}")
    return missing


def test_hidden_lines_are_annotated_writes_behind_annotated_writes() -> None:
    for (package, file, line), earlier in HIDDEN_BEHIND.items():
        annotated = race_annotations(CORPUS / package).get((CORPUS / package / file).resolve(), [])
        lines = {number for number, _ in annotated}
        assert {line, earlier} <= lines, f"{package}/{file}: {line} or {earlier} not annotated"
        assert earlier < line, f"{package}/{file}:{line} must come after {earlier}"


def test_handed_out_lines_are_mg014_returns_and_owner_writes() -> None:
    for (package, file, line), write in HANDED_OUT.items():
        path = CORPUS / package / file
        annotated = dict(race_annotations(CORPUS / package).get(path.resolve(), []))
        lines = path.read_text(encoding="utf-8").splitlines()
        assert annotated.get(line) == "MG014", f"{package}/{file}:{line} is not an MG014 line"
        handed_out = lines[line - 1].strip()
        assert handed_out.startswith("return ") or handed_out.endswith(
            "// want MG014"), f"{package}/{file}:{line}"
        assert write not in annotated, f"{package}/{file}:{write} is the owner's write"


def test_every_positive_package_has_a_driver() -> None:
    missing = [p for p in POSITIVES if not _driver(p).is_file()]
    assert not missing, f"positive fixtures without a race driver in {DRIVERS}: {missing}"


def test_every_driver_exercises_a_corpus_package() -> None:
    orphans = [n for n in NEGATIVES if not (CORPUS / n).is_dir()]
    assert not orphans, f"drivers without a corpus package: {orphans}"


# MG014 holds what MG004 and MG005 report without proof, and MG013's getter shape: its positives
# sit in their packages (found by its annotations), and their negative drivers are its negatives.
FAMILY = {"MG014": ("mg004_", "mg005_", "mg013_", "mg014_")}


def test_each_race_rule_has_positives_and_clean_negatives() -> None:
    for rule in RACE_RULES:
        prefixes = FAMILY.get(rule, (rule.lower() + "_",))
        assert any(p.startswith(prefixes) and any(
            code == rule for found in race_annotations(CORPUS / p).values() for _, code in found)
            for p in POSITIVES), f"no {rule} positive package"
        assert any(n.startswith(prefixes) for n in NEGATIVES), f"no {rule} negative driver"


def _never_racy(runs: list[RaceRun]) -> list[str]:
    tests = {r.test for r in runs if r.test.startswith("TestRace")}
    return sorted(tests - {r.test for r in runs if r.verdict.racy})


@pytest.mark.parametrize("package", POSITIVES)
def test_positive_fixture_is_racy(package: str, go_toolchain: GoToolchain) -> None:
    if not _driver(package).is_file():
        pytest.fail(f"{package} has no driver (see test_every_positive_package_has_a_driver)")
    fixture = (CORPUS / package).resolve()
    runs = _run(package, go_toolchain)
    assert runs, f"{_driver(package).name} defines no Test functions"
    assert any(r.test.startswith("TestRace") for r in runs), "the driver has no TestRace* test"
    for _ in range(RERUNS):
        if not _never_racy(runs) and not _uncovered(fixture, runs):
            break
        runs += _run(package, go_toolchain)

    failed = [r for r in runs if r.verdict in (Verdict.BUILD_FAILED, Verdict.FAILED)]
    assert not failed, "\n\n".join(r.describe() for r in failed)
    dirty = [r.describe() for r in runs if r.test.startswith("TestClean") and r.verdict.racy]
    assert not dirty, dirty
    never = _never_racy(runs)
    assert not never, f"the race detector found nothing in {1 + RERUNS} runs of {never}"
    missing = _uncovered(fixture, runs)
    assert not missing, "annotated lines the race detector never named:\n" + "\n".join(missing)


@pytest.mark.parametrize("package", NEGATIVES)
def test_negative_fixture_runs_clean(package: str, go_toolchain: GoToolchain) -> None:
    runs = _run(package, go_toolchain)
    assert runs, f"{_driver(package).name} defines no Test functions"
    misnamed = [r.test for r in runs if r.verdict is not Verdict.BUILD_FAILED]
    misnamed = [t for t in misnamed if not t.startswith("TestClean")]
    assert not misnamed, f"a negative package's driver has only TestClean* functions: {misnamed}"
    not_clean = [r.describe() for r in runs if r.verdict is not Verdict.CLEAN]
    assert not not_clean, "\n\n".join(not_clean)
