"""`mapguard demo`: every stage of mapguard on riskd, the Go service shipped in the package.

riskd (`data/demo/`) comes twice: `before/` holds one instance of each pattern of the rule
catalogue, `after/` is its fixed twin. The demo lints both and shows what changed; later stages
(escape analysis, profiles, GC) add their evidence to the same run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mapguard.goversion import GoVersion
from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.registry import ALL_RULES
from mapguard.lint.results import LintResult


def demo_root() -> Path:
    """The directory holding `before/` and `after/` of the demo service."""
    return Path(str(resources.files("mapguard") / "data" / "demo"))


@dataclass(frozen=True, slots=True)
class LintStage:
    before: LintResult
    after: LintResult

    def counts(self) -> list[tuple[str, str, int, int]]:
        before = Counter(f.rule for f in self.before.findings)
        after = Counter(f.rule for f in self.after.findings)
        return [(r.code, r.name, before[r.code], after[r.code]) for r in ALL_RULES]

    @property
    def as_expected(self) -> bool:
        """Every rule fires on `before/`, nothing on `after/`, and every file parsed."""
        return (not self.after.findings and not self.before.errors and not self.after.errors
                and all(before > 0 for _, _, before, _ in self.counts()))


def run_lint_stage(root: Path, toolchain_version: GoVersion | None) -> LintStage:
    options = LintOptions(jobs=1, toolchain_version=toolchain_version)
    return LintStage(lint([str(root / "before") + "/..."], options),
                     lint([str(root / "after") + "/..."], options))
