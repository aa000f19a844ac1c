"""The `mapguard` command: a thin composition of the library's pieces.

Subcommands are imported when they run: `mapguard lint` does not pay for importing the
profile, SLO and GC code (numpy, pydantic, httpx...), which would cost a second per call.

Exit status everywhere: 0 nothing found, 1 findings or a failed gate, 2 usage or input error.
"""

from __future__ import annotations

import gc

# The cyclic collector's pace for a command's run. A run keeps most of what it allocates until
# it ends (parse trees, tables, findings), and reference counting frees the rest: at the
# default pace (a pass over the young objects every 700 allocations, four full passes while
# `lint`'s modules import) the collector found little and took 3 % of a cold lint's CPU
# (etcd, hugo: 0.67 s against 0.65 s). Cycles are still collected, 70 times less often.
# The pace is set here, before the imports below, not only in `main`: importing `lint`'s
# modules makes 31,000 objects, and the passes over them cost 5-9 ms of the ~90 ms those
# imports take.
COLLECTOR_THRESHOLDS = (50_000, 20, 10)
gc.set_threshold(*COLLECTOR_THRESHOLDS)

import importlib
import os
import sys
from typing import NoReturn

import click

from mapguard import __version__
from mapguard.clikit import teardown_skippable
from mapguard.errors import MapguardError

# name -> (module:attribute, one-line help shown by `mapguard --help` without importing it)
COMMANDS: dict[str, tuple[str, str]] = {
    "lint": ("mapguard.lint.commands:lint_command", "Find risky map updates in Go packages."),
    "explain": ("mapguard.lint.commands:explain", "What a rule finds, why, and what instead."),
    "rules": ("mapguard.lint.commands:rules", "The rule catalogue."),
    "escape": ("mapguard.evidence.escape_commands:escape",
               "Which map allocations escape to the heap, and why."),
    "profile": ("mapguard.evidence.profile_commands:profile",
                "Map cost in pprof profiles, by site and operation."),
    "gc": ("mapguard.evidence.gc_commands:gc", "GC cycles and pauses from GODEBUG=gctrace=1."),
    "trace": ("mapguard.evidence.trace_commands:trace",
              "GC cycles, STW pauses and timelines from an execution trace."),
    "bench": ("mapguard.bench.commands:bench",
              "Run and compare Go benchmarks (benchstat-grade), gate CI on the verdict."),
    "lab": ("mapguard.lab.commands:lab",
            "Measure map-update strategies on this Go and machine; check common claims."),
    "slo": ("mapguard.slo.commands:slo", "SLOs as code: Prometheus rules, alerts, tests."),
    "watch": ("mapguard.watch.commands:watch",
              "Export per-site map allocation metrics from Go services' pprof endpoints."),
    "respond": ("mapguard.respond.commands:respond",
                "Run audited mitigations when a guard or SLO alert fires."),
    "ebpf": ("mapguard.ebpf.commands:ebpf",
             "Map growth in a running Go program, timed per site (uprobes)."),
    "doctor": ("mapguard.doctor:doctor_command",
               "Is a Go toolchain there, which version, and which optional tools?"),
    "load": ("mapguard.load.commands:load_command",
             "Open-loop HTTP load: latency per step from the intended send time, SLO verdicts."),
    "chaos": ("mapguard.chaos.commands:chaos",
              "CPU chaos: quota steps (cgroup v1/v2) or stress-ng, Chaos Mesh manifests."),
    "diagnose": ("mapguard.diagnose.commands:diagnose_command",
                 "Rank the causes of map cost by measured impact, with evidence."),
    "incidents": ("mapguard.diagnose.commands:incidents",
                  "The incident library: confirmed incidents and what fixed them."),
    "report": ("mapguard.report.commands:report_command",
               "One self-contained HTML report from an evidence bundle."),
    "gate": ("mapguard.gate.commands:gate",
             "One CI step: new lint findings, new heap maps, bench and profile budgets."),
    "demo": ("mapguard.demo.command:demo_command",
             "Run mapguard on riskd, the Go service shipped inside mapguard."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attribute = target[0].split(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_target, short) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mapguard")
def cli() -> None:
    """Find, measure, watch and explain the map updates that hurt Go services."""



def main(argv: list[str] | None = None) -> int:
    gc.set_threshold(*COLLECTOR_THRESHOLDS)
    try:
        result = cli.main(args=argv, prog_name="mapguard", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # a bare group (`mapguard`, `mapguard slo`): its help is the answer
        return 2
    except click.UsageError as exc:
        # One line in a CI log, like every other bad input: what is wrong, and where help is.
        where = exc.ctx.command_path if exc.ctx is not None else "mapguard"
        message = " ".join(exc.format_message().split())  # click lists choices on lines
        click.echo(f"mapguard: error: {message} (see `{where} --help`)", err=True)
        return 2
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
    except Exception as exc:
        # A bug of ours: one line saying so, not a traceback in a user's CI log; the
        # traceback is one variable away for whoever reports or fixes it.
        if os.environ.get("MAPGUARD_DEBUG"):
            raise
        click.echo(f"mapguard: internal error: {type(exc).__name__}: {exc} (a bug in mapguard; "
                   "MAPGUARD_DEBUG=1 shows where)", err=True)
        return 3
    return result if isinstance(result, int) else 0


def run() -> NoReturn:
    """The installed `mapguard` command: `main`, then the exit. A command that leaves nothing
    to do at exit but free memory (`clikit.nothing_to_tear_down`) exits without the
    interpreter's teardown, which frees every object one by one: 8-10 ms of etcd's 0.4 s cold
    lint, most of it the parent's tables and results (mypy ends the same way)."""
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    if teardown_skippable():
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":
    run()
