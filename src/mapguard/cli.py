"""The `mapguard` command: a thin composition of the library's pieces.

Exit status everywhere: 0 nothing found, 1 findings or a failed gate, 2 usage or input error.
"""

from __future__ import annotations

import sys

import click

from mapguard import __version__
from mapguard.clikit import emit_json, format_option
from mapguard.doctor import run_checks
from mapguard.errors import MapguardError
from mapguard.evidence.profile_commands import profile
from mapguard.lint.commands import explain, lint_command, rules


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
