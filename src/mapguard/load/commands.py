"""`mapguard load`: open-loop HTTP load at a constant or stepped rate, latency per step, and
an SLO verdict per step."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import click

from mapguard.bundle.options import bundle_options, open_bundle_writer
from mapguard.clikit import emit_json, format_option
from mapguard.errors import UsageError
from mapguard.load import plan as plans
from mapguard.load.engine import RECORD_ENV, engine_binary, run_engine, termination_as_interrupt
from mapguard.load.intervals import Interval
from mapguard.load.results import PERCENTILES, Latency, LoadResult, StepResult, step_results
from mapguard.load.slo_verdict import Objective, Skipped, StepVerdict, judge_all, objectives


def _seconds_option(value: str | None, option: str) -> float | None:
    return None if value is None else plans.parse_seconds(value, option)


@click.command("load")
@click.argument("url")
@click.option("--rate", required=True,
              help="Requests per second: N, a ramp FROM:TO:BY, or a list N,N,...")
@click.option("--duration", help="How long to send (a ramp shares it equally), e.g. 60s.")
@click.option("--step", "step", help="How long each rate of a ramp lasts, e.g. 20s.")
@click.option("--warmup", default="1s", show_default=True,
              help="Sent at the first rate before measuring, then left out (0s: none).")
@click.option("--method", help="HTTP method (default: POST with a body, else GET).")
@click.option("--body", help="Request body: TEXT or @FILE.")
@click.option("--bodies", type=click.Path(path_type=Path),
              help="A file with one request body per line, sent in turn.")
@click.option("--header", "headers", multiple=True, help="'Name: value' (repeatable).")
@click.option("--connections", type=click.IntRange(1, 20_000),
              default=plans.DEFAULT_CONNECTIONS, show_default=True,
              help="At most this many connections (opened as the rate needs them).")
@click.option("--timeout", default="10s", show_default=True, help="Per-request timeout.")
@click.option("--slo", "slo_specs", multiple=True, type=click.Path(path_type=Path),
              help="SLO spec (mapguard/v1, Sloth, OpenSLO): a verdict per step (repeatable).")
@format_option()
@bundle_options
def load_command(url: str, rate: str, duration: str | None, step: str | None, warmup: str,
                 method: str | None, body: str | None, bodies: Path | None,
                 headers: Sequence[str], connections: int, timeout: str,
                 slo_specs: Sequence[Path], output_format: str, bundle_dir: Path | None,
                 bundle_label: str) -> int:
    """Send requests to URL at an intended rate, whatever the answers' speed (open loop).

    Latency is measured from each request's intended send time, so stalls are not hidden
    (no coordinated omission). Per step: p50/p90/p99/p99.9/max, errors by kind, and whether
    the rate was held. Exit status 1 when a step breaks an SLO of --slo or the generator could
    not hold the rate; 2 on usage or input errors.
    """
    load_plan = _plan(url, rate, duration, step, warmup, method, body, bodies, headers,
                      connections, timeout)
    bundle = open_bundle_writer(bundle_dir, bundle_label, "mapguard load")
    found: tuple[Objective, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    if slo_specs:
        from mapguard.slo.spec import load_specs

        found, skipped = objectives(load_specs(slo_specs))
    text = output_format == "text"
    if text:
        click.echo(_headline(load_plan))
    progress = _progress if text and sys.stderr.isatty() else None
    # Opened before the engine is built: `mapguard chaos` waits for it to appear.
    with _record_file() as record, termination_as_interrupt():
        run = run_engine(load_plan, binary=engine_binary(), on_interval=progress,
                         copy_to=record)
    result = step_results(load_plan, run)
    verdicts = judge_all(found, result.steps)
    if text:
        print_result(result)
        print_verdicts(verdicts, skipped)
    else:
        emit_json(result_json(result, verdicts, skipped))
    if bundle is not None:  # an interrupted run too: what was measured is kept
        bundle.add_json("load", bundle_label,
                        {"version": 1, **result_json(result, verdicts, skipped)})
    if result.interrupted:
        return 130
    broken = any(v.held is False for v in verdicts)
    return 1 if broken or result.generator_bound else 0


def _plan(url: str, rate: str, duration: str | None, step: str | None, warmup: str,
          method: str | None, body: str | None, bodies: Path | None, headers: Sequence[str],
          connections: int, timeout: str) -> plans.LoadPlan:
    if body is not None and bodies is not None:
        raise UsageError("--body and --bodies exclude each other")
    texts: tuple[str, ...] = (plans.read_body(body),) if body is not None else ()
    if bodies is not None:
        texts = plans.read_bodies(bodies)
    steps = plans.build_steps(
        plans.parse_rates(rate), step_s=_seconds_option(step, "--step"),
        duration_s=_seconds_option(duration, "--duration"),
        warmup_s=plans.parse_seconds(warmup, "--warmup") if warmup not in ("0", "0s") else 0.0)
    chosen = (method or ("POST" if texts else "GET")).upper()
    if not chosen.isalpha():
        raise UsageError(f"--method {method!r}: not an HTTP method")
    return plans.LoadPlan(
        url=plans.check_url(url), method=chosen, steps=steps, bodies=texts,
        headers=plans.default_headers([plans.parse_header(h) for h in headers], texts),
        max_connections=connections, timeout_s=plans.parse_seconds(timeout, "--timeout"),
    )


def _record_file() -> IO[bytes] | contextlib.nullcontext[None]:
    path = os.environ.get(RECORD_ENV)
    if not path:
        return contextlib.nullcontext()
    try:
        return Path(path).open("ab")
    except OSError as exc:
        raise UsageError(f"{RECORD_ENV}={path}: cannot write: {exc.strerror or exc}") from None


def _progress(interval: Interval) -> None:
    click.echo(f"mapguard load: step {interval.step} interval {interval.index}: "
               f"{interval.sent} sent, {interval.answered} answered", err=True)


# --- output -------------------------------------------------------------------------------


def _headline(plan: plans.LoadPlan) -> str:
    measured = plan.measured_steps
    warmup = sum(s.seconds for s in plan.steps if s.warmup)
    rates = ", ".join(f"{s.rate:g}" for s in measured)
    head = (f"mapguard load: {plan.method} {plan.url}, {len(measured)} step"
            f"{'s' if len(measured) != 1 else ''} of {measured[0].seconds:g}s at {rates}/s")
    return head + (f" after {warmup:g}s of warm-up" if warmup else "")


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def print_result(result: LoadResult) -> None:
    labels = [f"p{p:g}" for p in PERCENTILES]
    click.echo(f"\n{'step':>4} {'rate/s':>8} {'sent/s':>8} "
               + " ".join(f"{label + ' ms':>9}" for label in labels)
               + f" {'max ms':>9} {'failed':>7}  rate")
    for step in result.steps:
        latency = step.latency
        cells = [_ms(latency.at(p) if latency else None) for p in PERCENTILES]
        cells.append(_ms(latency.max_ms if latency else None))
        click.echo(f"{step.number:>4} {step.step.rate:>8,.0f} {step.achieved_rate:>8,.1f} "
                   + " ".join(f"{c:>9}" for c in cells)
                   + f" {step.failed:>7}  {step.rate_verdict}")
    for step in result.steps:
        if step.errors:
            kinds = ", ".join(f"{kind}: {count}" for kind, count in step.errors.most_common())
            click.echo(f"step {step.number} errors: {kinds}")
        if step.generator_bound:
            click.echo(f"step {step.number}: the generator itself could not send at the rate; "
                       "its latencies would describe the generator and are not reported")
        elif step.generator_late:
            click.echo(f"step {step.number}: the generator's timers were late by up to "
                       f"{_ms(step.lag_p99_ms)} ms (p99; a busy machine?): its latencies "
                       "include that delay")
        if not step.complete:
            click.echo(f"step {step.number}: cut short, figures cover what was measured")
    click.echo("latency is measured from each request's intended send time (open loop); the "
               "warm-up is left out")
    if result.interrupted:
        click.echo("interrupted: the figures cover what was measured until then")


def print_verdicts(verdicts: Sequence[StepVerdict], skipped: Sequence[Skipped]) -> None:
    seen: list[Objective] = []
    for verdict in verdicts:
        if verdict.objective not in seen:
            seen.append(verdict.objective)
            objective = verdict.objective
            click.echo(f"\nSLO {objective.slo.id} ({objective.kind}, "
                       f"{objective.describe()}):")
        click.echo("  " + _verdict_text(verdict))
    for skip in skipped:
        click.echo(f"\nSLO {skip.slo.id}: not judged: {skip.reason}")


def _verdict_text(verdict: StepVerdict) -> str:
    if verdict.good_ratio is None or verdict.burn_rate is None:
        return f"step {verdict.step}: not measured (the generator was the limit, or no requests)"
    state = "held" if verdict.held else "BROKEN"
    alerts = f"; would fire {', '.join(verdict.alerts)}" if verdict.alerts else ""
    return (f"step {verdict.step}: {100 * verdict.good_ratio:.3f}% good of {verdict.total:,}, "
            f"{state}, burn rate {verdict.burn_rate:.2f}{alerts}")


def step_json(step: StepResult) -> dict[str, Any]:
    latency = step.latency
    return {
        "step": step.number, "rate": step.step.rate, "seconds": round(step.seconds, 3),
        "start_unix_ns": step.start_ns, "end_unix_ns": step.end_ns,
        "scheduled": step.scheduled, "sent": step.sent, "answered": step.answered,
        "failed": step.failed, "errors": dict(step.errors.most_common()),
        "achieved_rate": round(step.achieved_rate, 2), "behind": round(step.behind, 5),
        "held": step.held, "rate_verdict": step.rate_verdict,
        "queued_for_connection": step.queued, "max_in_flight": step.max_in_flight,
        "generator_lag_p99_ms": step.lag_p99_ms, "generator_bound": step.generator_bound,
        "generator_late": step.generator_late,
        "complete": step.complete,
        "service_time_ms": _percentiles_json(step.service),
        "latency_ms": None if latency is None else {
            **{f"p{p:g}": latency.at(p) for p in PERCENTILES},
            "max": latency.max_ms, "count": latency.count,
        },
    }


def _percentiles_json(summary: Latency | None) -> dict[str, float] | None:
    if summary is None:
        return None
    return {**{f"p{p:g}": summary.at(p) for p in PERCENTILES}, "max": summary.max_ms}


def verdict_json(verdict: StepVerdict) -> dict[str, Any]:
    objective = verdict.objective
    return {
        "slo": objective.slo.id, "kind": objective.kind,
        "objective_percent": float(objective.slo.objective),
        "threshold_seconds": objective.threshold_s, "step": verdict.step,
        "requests": verdict.total, "bad": verdict.bad, "good_ratio": verdict.good_ratio,
        "held": verdict.held, "burn_rate": verdict.burn_rate, "would_fire": list(verdict.alerts),
    }


def result_json(result: LoadResult, verdicts: Sequence[StepVerdict],
                skipped: Sequence[Skipped]) -> dict[str, Any]:
    plan = result.plan
    return {
        "target": plan.url, "method": plan.method,
        "warmup_seconds": sum(s.seconds for s in plan.steps if s.warmup),
        "max_connections": plan.max_connections, "timeout_seconds": plan.timeout_s,
        "engine_gomaxprocs": result.gomaxprocs,
        "latency_from": "intended send time",
        "steps": [step_json(step) for step in result.steps],
        "slo": [verdict_json(v) for v in verdicts],
        "slo_not_judged": [{"slo": s.slo.id, "reason": s.reason} for s in skipped],
        "interrupted": result.interrupted,
        "generator_bound": result.generator_bound,
        "ok": not result.generator_bound and not any(v.held is False for v in verdicts),
    }
