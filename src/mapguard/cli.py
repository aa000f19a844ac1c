"""The `mapguard` command: a thin composition of the library's pieces.

Exit status everywhere: 0 nothing found, 1 findings or a failed gate, 2 usage or input error.
"""

from __future__ import annotations

import sys

import click

from mapguard import __version__
from mapguard.clikit import emit_json, format_option
from mapguard.demo import demo_root, run_lint_stage
from mapguard.doctor import run_checks
from mapguard.errors import MapguardError
from mapguard.evidence.escape_commands import escape
from mapguard.evidence.gc_commands import gc
from mapguard.evidence.profile_commands import profile
from mapguard.evidence.trace_commands import trace
from mapguard.gotool import find_go
from mapguard.lint.commands import explain, lint_command, rules
from mapguard.lint.output import render_json, render_text, summary_line
from mapguard.slo.commands import slo


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mapguard")
def cli() -> None:
    """Find, measure, watch and explain the map updates that hurt Go services."""


cli.add_command(lint_command, name="lint")
cli.add_command(explain)
cli.add_command(rules)

@cli.command()
@format_option()
def doctor(output_format: str) -> int:
    """Is a Go toolchain there, which version, and which optional tools?"""
    checks = run_checks()
    if output_format == "json":
        emit_json({"checks": [
            {"name": c.name, "ok": c.ok, "detail": c.detail, "required": c.required}
            for c in checks
        ]})
    else:
        for check in checks:
            mark = "ok " if check.ok else ("MISSING" if check.required else "-  ")
            click.echo(f"{mark:8} {check.name:15} {check.detail}")
    return 0 if all(c.ok for c in checks if c.required) else 1


cli.add_command(profile)
cli.add_command(slo)
cli.add_command(escape)
cli.add_command(gc)
cli.add_command(trace)


@cli.command()
@format_option()
def demo(output_format: str) -> int:
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


def main(argv: list[str] | None = None) -> int:
    try:
        result = cli.main(args=argv, prog_name="mapguard", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        click.echo("mapguard: interrupted", err=True)
        return 130
    except MapguardError as exc:
        click.echo(f"mapguard: error: {exc}", err=True)
        return 2
    except BrokenPipeError:
        # `mapguard lint | head` closed our stdout: not an error of ours.
        sys.stderr.close()
        return 0
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
