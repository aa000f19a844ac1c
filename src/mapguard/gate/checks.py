"""The gate's checks, each a verdict on the change from a base to the working tree:

- lint: findings that are new against a baseline file, or against the base revision (matched as
  `mapguard lint --baseline` matches them: rule, file and the text of the line, not its number);
- escape: map allocation sites the compiler puts on the heap that the base revision did not
  (matched by file, function and expression);
- bench: benchmark verdicts of `mapguard bench compare` (Holm-adjusted, beyond noise) broken
  against `--fail-on` rules, or any regression without rules;
- profile: budgets on what a profile shows (`gate.budgets`).

A check that cannot run (the base does not build, a file is bad) is an error: it neither
passes nor fails the change, and the others still run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mapguard.bundle.evidence import CostEvidence
from mapguard.errors import MapguardError
from mapguard.gate.budgets import Budget, measure_all
from mapguard.gotool import GoToolchain

PASS, FAIL, ERROR = "pass", "fail", "error"


@dataclass(frozen=True, slots=True)
class Violation:
    check: str
    rule: str  # MG001..., new-heap-map, bench-regression, profile-budget
    message: str
    file: str | None = None  # relative to the gated directory
    line: int | None = None
    column: int | None = None
    level: str = "error"  # SARIF level


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: str
    summary: str
    violations: tuple[Violation, ...] = ()


def _relative(path: Path | str, root: Path) -> str:
    candidate = Path(path)
    try:
        return candidate.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return candidate.as_posix()


# --- lint -----------------------------------------------------------------------------------


def lint_check(root: Path, base_tree: Path | None, baseline: Path | None,
               base_name: str | None) -> CheckResult:
    from mapguard.lint import baseline as baselines
    from mapguard.lint.config import find_config, load_config
    from mapguard.lint.engine import lint
    from mapguard.lint.modules import CommandLine, options_from
    from mapguard.lint.output import SourceLines

    try:
        # The rules and files `mapguard lint` would use here (the project's configuration,
        # the rules on by default): a gate that fails on findings lint does not show is
        # switched off.
        options = options_from(load_config(find_config(root)),
                               CommandLine(jobs=1, no_cache=True))
        current = lint([str(root) + "/..."], options, cwd=root)
        if baseline is not None:
            new, matched = baselines.filter_new(baseline, current.findings)
            against = f"the baseline {baseline} ({matched} known)"
        elif base_tree is not None:
            previous = lint([str(base_tree) + "/..."], options, cwd=base_tree)
            lines = SourceLines()
            known = Counter(baselines.fingerprint(f, base_tree, lines)
                            for f in previous.findings)
            new = []
            for finding in current.findings:
                key = baselines.fingerprint(finding, root, lines)
                if known[key] > 0:
                    known[key] -= 1
                else:
                    new.append(finding)
            against = f"{base_name} ({len(previous.findings)} findings there)"
        else:
            return CheckResult("lint", ERROR, "nothing to compare with: give --baseline FILE "
                                              "or --base REV")
    except MapguardError as exc:
        return CheckResult("lint", ERROR, str(exc))
    violations = tuple(Violation("lint", f.rule, f"{f.rule} {f.name}: {f.message}",
                                 _relative(f.path, root), f.line, f.column,
                                 {"error": "error", "warning": "warning"}.get(
                                     str(f.severity), "note"))
                       for f in new)
    summary = (f"{len(violations)} new finding(s) against {against}" if violations
               else f"no new finding against {against}")
    if current.errors:
        summary += f"; {len(current.errors)} file(s) not analysed"
    return CheckResult("lint", FAIL if violations else PASS, summary, violations)


# --- escape ---------------------------------------------------------------------------------


def _heap_sites(module: Path, toolchain: GoToolchain | None
                ) -> Counter[tuple[str, str, str]]:
    from mapguard.evidence.escape_run import run_escape_build
    from mapguard.formats.escape import Verdict

    report = run_escape_build(["./..."], module, toolchain=toolchain)
    return Counter((_relative(f.position.file, module), f.function or "", f.expr)
                   for f in report.map_sites()
                   if f.inlined_from is None and f.verdict in (Verdict.HEAP, Verdict.MOVED))


def escape_check(root: Path, base_tree: Path | None, base_name: str | None,
                 toolchain: GoToolchain | None) -> CheckResult:
    from mapguard.evidence.escape_run import run_escape_build
    from mapguard.formats.escape import Verdict

    if base_tree is None:
        return CheckResult("escape", ERROR, "new heap-escaping map sites need --base REV")
    try:
        before = _heap_sites(base_tree, toolchain)
        report = run_escape_build(["./..."], root, toolchain=toolchain)
    except MapguardError as exc:
        return CheckResult("escape", ERROR, str(exc))
    violations = []
    for fact in report.map_sites():
        if fact.inlined_from is not None or fact.verdict not in (Verdict.HEAP, Verdict.MOVED):
            continue
        key = (_relative(fact.position.file, root), fact.function or "", fact.expr)
        if before[key] > 0:
            before[key] -= 1
            continue
        # The compiler's flow names positions by absolute path: the runner's checkout, noise
        # in a CI summary.
        why = f": {fact.why.replace(f'{root.resolve()}/', '')}" if fact.why else ""
        violations.append(Violation(
            "escape", "new-heap-map",
            f"{fact.expr} in {fact.function or '?'} is {fact.verdict.value}, new since "
            f"{base_name}{why}", key[0], fact.position.line, fact.position.column, "warning"))
    summary = (f"{len(violations)} new heap-escaping map site(s) since {base_name}"
               if violations else f"no new heap-escaping map site since {base_name}")
    return CheckResult("escape", FAIL if violations else PASS, summary, tuple(violations))


# --- bench ----------------------------------------------------------------------------------


def bench_check(old: Path, new: Path, rules_text: Sequence[str]) -> CheckResult:
    from mapguard.bench.gate import FailRule, violations
    from mapguard.bench.inputs import read_bench_file, require_results
    from mapguard.bench.tables import build_tables
    from mapguard.bench.verdicts import Verdict, decide

    try:
        rules = [FailRule.parse(text) for text in rules_text]
        files = [read_bench_file(f"old={old}"), read_bench_file(f"new={new}")]
        for file in files:
            require_results(file.parsed)
    except MapguardError as exc:
        return CheckResult("bench", ERROR, str(exc))
    verdicts = decide(build_tables(files))
    if rules:
        broken = [(v.rule.text, v.row) for v in violations(rules, verdicts)]
    else:
        broken = [("any regression", row) for row in verdicts if row.verdict is Verdict.REGRESSION]
    found = tuple(Violation(
        "bench", "bench-regression",
        f"{row.benchmark} {row.unit}: {row.old:.4g} -> {row.new:.4g} ({row.verdict.value}, "
        f"p={row.p_holm:.3g} after Holm) breaks {rule}") for rule, row in broken)
    changes = sum(row.verdict.is_change for row in verdicts)
    summary = (f"{len(found)} benchmark rule(s) broken" if found else
               f"no benchmark rule broken ({len(verdicts)} comparisons, {changes} changes)")
    return CheckResult("bench", FAIL if found else PASS, summary, found)


# --- profile --------------------------------------------------------------------------------


def profile_check(profiles: Sequence[CostEvidence], budgets: Sequence[Budget],
                  ops: int | None, problems: Sequence[str]) -> CheckResult:
    if problems:
        return CheckResult("profile", ERROR, "; ".join(problems))
    allocation = next((p for p in profiles if p.is_allocation), None)
    cpu = next((p for p in profiles if not p.is_allocation), None)
    measured = measure_all(budgets, allocation, cpu, ops)
    unmeasured = [m for m in measured if m.value is None]
    if unmeasured:
        return CheckResult("profile", ERROR, "; ".join(m.text() for m in unmeasured))
    over = tuple(Violation("profile", "profile-budget", m.text(),
                           m.where[0] if m.where else None, m.where[1] if m.where else None)
                 for m in measured if not m.ok)
    summary = "; ".join(m.text() for m in measured)
    return CheckResult("profile", FAIL if over else PASS, summary, over)
