"""`mapguard chaos`: CPU quota steps or stress-ng beside a process while a load runs, and
Chaos Mesh manifests for the same on Kubernetes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from mapguard.bundle.options import bundle_options, open_bundle_writer
from mapguard.chaos import manifest as manifests
from mapguard.chaos.run import ChaosOptions, ChaosRun, StepRecord, run_chaos
from mapguard.chaos.steps import build_steps, parse_quotas, parse_stress, quota_text
from mapguard.clikit import emit_json, format_option
from mapguard.errors import UsageError
from mapguard.load.plan import parse_seconds
from mapguard.load.results import PERCENTILES, StepResult, window_step
from mapguard.load.slo_verdict import Objective, Skipped, StepVerdict, judge_all, objectives


@click.group("chaos")
def chaos() -> None:
    """CPU chaos: quota steps through cgroups (v1 or v2) or stress-ng, per-step figures."""


@chaos.command("cpu")
@click.option("--pid", "target", type=int, required=True,
              help="The process whose tree gets the quota (moved into its own cgroup).")
@click.option("--quota", help="Quota per step, as a share of one CPU: 50%,25%,10% (none: no "
                              "quota).")
@click.option("--stress", help="stress-ng CPU workers per step beside the target: 2 or 0,1,2.")
@click.option("--step", "step", default="30s", show_default=True, help="Length of each step.")
@click.option("--gctrace", type=click.Path(path_type=Path),
              help="The target's GC trace file (its stderr with GODEBUG=gctrace=1).")
@click.option("--metrics", "metrics_url", help="The target's Prometheus /metrics URL.")
@click.option("--slo", "slo_specs", multiple=True, type=click.Path(path_type=Path),
              help="SLO spec: a verdict per step from the load's figures (repeatable).")
@format_option()
@bundle_options
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def cpu(target: int, quota: str | None, stress: str | None, step: str, gctrace: Path | None,
        metrics_url: str | None, slo_specs: Sequence[Path], output_format: str,
        bundle_dir: Path | None, bundle_label: str, command: Sequence[str]) -> int:
    """Step the CPU quota of process PID's tree (or run stress-ng beside it) while COMMAND runs.

    Put the load command after `--`, e.g. `-- mapguard load URL --rate 1000 --duration 90s`:
    its latency is then reported per step. The original cgroup membership is restored and the
    chaos cgroup removed on every way out (end, Ctrl-C, SIGTERM, the target or the load
    command dying). Exit status 1 when the run ended early, a step broke an SLO or something
    could not be restored.
    """
    steps = build_steps(parse_quotas(quota) if quota else (),
                        parse_stress(stress) if stress else (), parse_seconds(step, "--step"))
    if gctrace is not None and not gctrace.is_file():
        raise UsageError(f"--gctrace {gctrace}: not a file")
    bundle = open_bundle_writer(bundle_dir, bundle_label, "mapguard chaos cpu")
    found: tuple[Objective, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    if slo_specs:
        from mapguard.slo.spec import load_specs

        found, skipped = objectives(load_specs(slo_specs))
    text = output_format == "text"
    run = run_chaos(ChaosOptions(target, steps, tuple(command), gctrace, metrics_url),
                    say=(lambda m: click.echo(f"mapguard chaos: {m}", err=True)) if text
                    else (lambda _m: None))
    loads = load_per_step(run)
    verdicts = judge_all(found, [result for result in loads if result is not None])
    if text:
        print_run(run, loads, verdicts, skipped)
    else:
        emit_json(run_json(run, loads, verdicts, skipped))
    if bundle is not None:  # an interrupted run too: what was measured is kept
        bundle.add_json("chaos", bundle_label,
                        {"version": 1, **run_json(run, loads, verdicts, skipped)})
    if run.interrupted:
        return 130
    failed = (not run.completed or not run.restored or any(v.held is False for v in verdicts)
              or (run.load_exit not in (None, 0)))
    return 1 if failed else 0


def load_per_step(run: ChaosRun) -> list[StepResult | None]:
    """The load's figures inside each step's window (None: no `mapguard load` ran then)."""
    if run.load_run is None or run.load_run.start is None:
        return [None] * len(run.records)
    connections = run.load_run.start.max_connections
    return [window_step(record.step.number, run.load_intervals, record.start_ns, record.end_ns,
                        connections) for record in run.records]


# --- output -------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}" if value < 10 else f"{value:,.1f}"


def _throttled(record: StepRecord) -> str:
    t = record.throttle
    if t is None:
        return "-"
    share = f" ({100 * t.throttled / t.periods:.0f}%)" if t.periods else ""
    return f"{t.throttled}/{t.periods}{share}, {t.throttled_us / 1000:,.0f} ms"


def _gomaxprocs(run: ChaosRun, record: StepRecord) -> str:
    expected = run.regime.expected_gomaxprocs(record.step.quota_cpus, run.cpus)
    seen = record.runtime.gomaxprocs if record.runtime else ()
    observed = "/".join(str(v) for v in seen) or "?"
    return f"{observed} (expected {expected})" if expected is not None else observed


def print_run(run: ChaosRun, loads: Sequence[StepResult | None],
              verdicts: Sequence[StepVerdict], skipped: Sequence[Skipped]) -> None:
    where = (f"cgroup v{run.hierarchy.version} {run.cgroup}" if run.hierarchy and run.cgroup
             else "no cgroup (stress only)")
    click.echo(f"mapguard chaos cpu: pid {run.target}, {where}")
    click.echo(f"GOMAXPROCS regime: {run.regime.reason}; {run.cpus} CPUs available")
    for path in run.cleaned_leftovers:
        click.echo(f"removed {path}, left by an earlier run that was killed")
    click.echo(f"\n{'step':>4}  {'chaos':<28} {'throttled periods, time':<26} "
               f"{'GOMAXPROCS':<16} {'GC':>4} {'rate/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
               f"{'failed':>7}")
    for record, load in zip(run.records, loads, strict=True):
        gc = record.runtime.gc_cycles if record.runtime else None
        latency = load.latency if load else None
        click.echo(
            f"{record.step.number:>4}  {record.step.describe():<28} {_throttled(record):<26} "
            f"{_gomaxprocs(run, record):<16} {'-' if gc is None else gc:>4} "
            f"{'-' if load is None else f'{load.achieved_rate:,.0f}':>8} "
            f"{_ms(latency.at(50.0) if latency else None):>8} "
            f"{_ms(latency.at(99.0) if latency else None):>8} "
            f"{'-' if load is None else load.failed:>7}"
            + ("  (cut short)" if record.cut_short else ""))
    if any(load is None for load in loads) and run.load_command:
        click.echo("a step without load figures: the command is not `mapguard load`, or no "
                   "whole second of its load fell inside the step")
    from mapguard.load.commands import print_verdicts

    print_verdicts(verdicts, skipped)
    click.echo(f"\nended: {run.ended}")
    if run.load_command:
        click.echo(f"load command: {' '.join(run.load_command)} -> exit {run.load_exit}")
    click.echo("restored: quota, membership and cgroup" if run.restored
               else f"NOT restored: {'; '.join(run.restore_problems)}")


def run_json(run: ChaosRun, loads: Sequence[StepResult | None],
             verdicts: Sequence[StepVerdict], skipped: Sequence[Skipped]) -> dict[str, Any]:
    from mapguard.load.commands import step_json, verdict_json

    steps = []
    for record, load in zip(run.records, loads, strict=True):
        throttle = record.throttle
        figures = record.runtime
        steps.append({
            "step": record.step.number, "seconds": round((record.end_ns - record.start_ns) / 1e9,
                                                         3),
            "quota_cpus": record.step.quota_cpus,
            "quota": None if record.step.quota_cpus is None else quota_text(
                record.step.quota_cpus),
            "quota_file": record.quota_file, "stress_workers": record.step.stress_workers,
            "start_unix_ns": record.start_ns, "end_unix_ns": record.end_ns,
            "cut_short": record.cut_short,
            "throttle": None if throttle is None else {
                "periods": throttle.periods, "throttled": throttle.throttled,
                "throttled_ms": round(throttle.throttled_us / 1000, 3)},
            "gomaxprocs_expected": run.regime.expected_gomaxprocs(record.step.quota_cpus,
                                                                  run.cpus),
            "runtime": None if figures is None else {
                "source": figures.source, "gomaxprocs": list(figures.gomaxprocs),
                "gc_cycles": figures.gc_cycles, "gc_pause_max_ms": figures.gc_pause_max_ms},
            "load": None if load is None else step_json(load),
        })
    return {
        "target": run.target,
        "cgroup": None if run.hierarchy is None else {"version": run.hierarchy.version,
                                                      "path": run.cgroup},
        "regime": {"go": run.regime.go_version, "follows_cpu_limit": run.regime.follows_limit,
                   "reason": run.regime.reason, "cpus": run.cpus},
        "steps": steps,
        "latency_percentiles": [f"p{p:g}" for p in PERCENTILES],
        "slo": [verdict_json(v) for v in verdicts],
        "slo_not_judged": [{"slo": s.slo.id, "reason": s.reason} for s in skipped],
        "ended": run.ended, "completed": run.completed, "interrupted": run.interrupted,
        "load_command": list(run.load_command), "load_exit": run.load_exit,
        "restored": run.restored, "restore_problems": run.restore_problems,
        "removed_leftovers": run.cleaned_leftovers,
    }


@chaos.command("manifest")
@click.option("--quota", help="A share of one CPU to leave the service, e.g. 25%.")
@click.option("--stress", "workers", type=click.IntRange(1, 8192),
              help="stress-ng CPU workers at full load (instead of --quota).")
@click.option("--cpus", type=click.IntRange(1, 8192), default=1, show_default=True,
              help="With --quota: how many CPUs the service may use (one worker each).")
@click.option("--selector", required=True, help="Pod labels: app=riskd[,tier=api].")
@click.option("--namespace", default="default", show_default=True)
@click.option("--name", help="The object's name (default: mapguard-cpu-...).")
@click.option("--container", "containers", multiple=True, help="Container names (repeatable).")
@click.option("--duration", help="How long the chaos lasts, e.g. 30s (default: until deleted).")
@click.option("--schedule", "cron", help="Repeat it: a Schedule with this cron, e.g. '@every 1h'.")
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file.")
def manifest(quota: str | None, workers: int | None, cpus: int, selector: str, namespace: str,
             name: str | None, containers: Sequence[str], duration: str | None,
             cron: str | None, output: Path | None) -> int:
    """Write a Chaos Mesh StressChaos (or a Schedule of it), checked against the CRD schema."""
    if (quota is None) == (workers is None):
        raise UsageError("give one of --quota and --stress")
    if quota is not None:
        quotas = parse_quotas(quota)
        if len(quotas) != 1 or quotas[0] is None:
            raise UsageError(f"--quota {quota!r}: one quota (Chaos Mesh runs one StressChaos "
                             "at a time; make one manifest per step)")
        percent = 100 * quotas[0]
        if percent >= 100:
            raise UsageError(f"--quota {quota}: at least 100% leaves nothing to take away")
        spec_workers, load, quota_percent = cpus, round(100 - percent), percent
    else:
        assert workers is not None
        spec_workers, load, quota_percent = workers, 100, None
    if duration is not None:
        parse_seconds(duration, "--duration")
    default_name = (f"mapguard-cpu-{quota_percent:g}".replace(".", "-") if quota_percent
                    is not None else f"mapguard-stress-{spec_workers}")
    spec = manifests.StressSpec(
        name=manifests.check_name(name or default_name, "--name"),
        namespace=manifests.check_name(namespace, "--namespace"),
        labels=manifests.parse_selector(selector), workers=spec_workers, load_percent=load,
        duration=duration, containers=tuple(containers), quota_percent=quota_percent)
    document = manifests.schedule(spec, cron) if cron else manifests.stress_chaos(spec)
    problems = manifests.validation_errors(document)
    if problems:
        raise UsageError("the manifest does not pass the CRD schema: " + "; ".join(problems))
    manifests.write(manifests.render(document, spec), output)
    if output is not None:
        click.echo(f"wrote {output} ({document['kind']}, checked against the CRD schema)",
                   err=not sys.stdout.isatty())
    return 0
