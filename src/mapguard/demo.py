"""`mapguard demo`: every stage of mapguard on riskd, the Go service shipped in the package.

riskd (`data/demo/`) comes twice: `before/` holds one instance of each pattern of the rule
catalogue, `after/` is its fixed twin. The demo lints both and shows what changed; later stages
(escape analysis, profiles, GC) add their evidence to the same run.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import click

from mapguard.clikit import emit_json, format_option
from mapguard.gotool import find_go
from mapguard.goversion import GoVersion
from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.output import render_json, render_text, summary_line
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


@click.command("demo")
@format_option()
def demo_command(output_format: str) -> int:
    """Run mapguard on riskd, the Go service shipped inside mapguard, before and after its fixes."""
    root = demo_root()
    toolchain = find_go()
    stage = run_lint_stage(root, toolchain.version if toolchain else None)
    if output_format == "json":
        emit_json({
            "service": str(root),
            "lint": {
                "before": render_json(stage.before, root),
                "after": render_json(stage.after, root),
                "by_rule": [{"rule": code, "name": name, "before": before, "after": after}
                            for code, name, before, after in stage.counts()],
            },
        })
        return 0 if stage.as_expected else 1
    click.echo(f"mapguard demo: riskd, a risk-decision HTTP service in Go ({root})\n")
    click.echo("== Stage 1, code: mapguard lint before/ ==\n")
    click.echo(render_text(stage.before, root, color=sys.stdout.isatty()))
    click.echo("\n== mapguard lint after/ (the fixed twin) ==\n")
    click.echo(summary_line(stage.after))
    click.echo("\n== Findings by rule ==\n")
    click.echo(f"{'rule':6} {'name':28} {'before':>6} {'after':>6}")
    for code, name, before, after in stage.counts():
        click.echo(f"{code:6} {name:28} {before:>6} {after:>6}")
    if not stage.as_expected:
        click.echo("\nthe demo did not come out as expected: every rule should fire on before/ "
                   "and none on after/", err=True)
        return 1
    return 0
