"""`mapguard respond` (the receiver) and `mapguard respond audit` (what it decided)."""

from __future__ import annotations

import asyncio
import shlex
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import click

from mapguard.clikit import counted, emit_json, format_option
from mapguard.errors import UsageError
from mapguard.respond.audit import AuditLog, Entry
from mapguard.respond.config import audit_path, default_audit_path, load_config
from mapguard.respond.receiver import printable, say, serve
from mapguard.slo.durations import Duration

CONFIG_OPTION = click.option(
    "--config", "config_path", type=click.Path(path_type=Path),
    help="The respond.yaml: actions, matchers, guard rails, audit database.")


@click.group(invoke_without_command=True)
@CONFIG_OPTION
@click.option("--listen", help="HOST:PORT to listen on (default: the configuration's, "
                               "127.0.0.1:9466); port 0 picks a free one.")
@click.option("--dry-run", is_flag=True,
              help="Decide and audit, run nothing, whatever the configuration's mode says.")
@click.pass_context
def respond(ctx: click.Context, config_path: Path | None, listen: str | None,
            dry_run: bool) -> int | None:
    """Receive Alertmanager webhooks and run the configured, audited mitigations.

    Dry run (decide, log, audit, run nothing) unless the configuration says `mode: act`.
    SIGUSR1 engages the kill switch, SIGUSR2 releases it.
    """
    if ctx.invoked_subcommand is not None:
        ctx.obj = config_path
        return None
    if config_path is None:
        raise UsageError("mapguard respond needs --config respond.yaml")
    config = load_config(config_path, listen=listen, dry_run=dry_run)
    for warning in config.warnings:
        say(f"warning: {warning}")
    audit = AuditLog.open(config.audit_path)
    try:
        asyncio.run(serve(config, audit))
    finally:
        audit.close()
    return 0


@respond.command(name="audit")
@CONFIG_OPTION
@click.option("--db", "db_path", type=click.Path(path_type=Path),
              help="The audit database (default: the configuration's, else "
                   "$XDG_STATE_HOME/mapguard/respond.sqlite).")
@click.option("--since", default="24h", show_default=True,
              help="How far back, e.g. 30m, 24h, 7d.")
@format_option()
@click.pass_context
def audit_command(ctx: click.Context, config_path: Path | None, db_path: Path | None,
                  since: str, output_format: str) -> int:
    """What mapguard respond decided and ran, for which alert, with what result."""
    try:
        window = Duration.parse(since)
    except ValueError as exc:
        raise UsageError(f"--since: {exc}") from None
    config_path = config_path or ctx.obj
    if db_path is None:
        db_path = audit_path(config_path) if config_path is not None else default_audit_path()
    start = time.time() - window.seconds
    log = AuditLog.open_for_reading(db_path)
    try:
        entries = list(log.entries(since=start))
    finally:
        log.close()
    if output_format == "json":
        emit_json({"database": str(db_path), "since": _time(start),
                   "decisions": [entry.as_json() for entry in entries]})
        return 0
    for entry in entries:
        click.echo(render_entry(entry))
    click.echo(summary(entries, since))
    return 0


def _time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def render_entry(entry: Entry) -> str:
    """One line: when, decision, action (step), alert, and what happened or why not."""
    what = f"{entry.action} ({entry.step})" if entry.action else "-"
    alert = entry.alertname or "-"
    if entry.firing:
        alert += f" {entry.firing.split('@')[0]}"
    if entry.decision == "ran":
        result = entry.outcome or "?"
        if entry.exit_status is not None:
            result += f", status {entry.exit_status}"
        if entry.finished_at is not None:
            result += f", {entry.finished_at - entry.at:.2f} s"
        detail = f"{result}: {_request(entry)}"
    elif entry.decision == "dry-run":
        detail = f"would run {_request(entry)}"
    else:
        detail = entry.reason + (f" (from {entry.remote})" if entry.remote and not entry.action
                                 else "")
    return printable(f"{_time(entry.at)}  {entry.decision:<12} {what:<24} {alert:<40} "
                     f"{detail}")


def _request(entry: Entry) -> str:
    request = entry.request or {}
    if "argv" in request:
        return shlex.join(request["argv"])
    return f"{request.get('method', '?')} {request.get('url', '?')}"


def summary(entries: Sequence[Entry], since: str) -> str:
    counts = Counter(entry.decision for entry in entries)
    parts = ", ".join(f"{count} {decision}" for decision, count in counts.most_common())
    return f"{counted(len(entries), 'decision')} in the last {since}" + \
        (f": {parts}" if parts else "")
