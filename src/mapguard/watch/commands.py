"""`mapguard watch`: export per-site map allocation metrics for a fleet of Go services."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from mapguard.clikit import emit_json, format_option
from mapguard.errors import UsageError
from mapguard.evidence.quantities import human
from mapguard.sitecap import OTHER
from mapguard.watch.agent import OnceResult, run_agent, run_once
from mapguard.watch.config import (
    Listen,
    Overrides,
    Shard,
    WatchConfig,
    apply_overrides,
    load_config,
    parse_seconds,
)
from mapguard.watch.costs import SiteKey


def _parsed(parse: object, what: str) -> object:
    def convert(_ctx: click.Context, _param: click.Parameter, value: object) -> object:
        if value is None:
            return None
        try:
            return parse(value)  # type: ignore[operator]
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    convert.__doc__ = what
    return convert


def _interval(text: str) -> int:
    seconds = parse_seconds(text)
    if seconds != int(seconds):
        raise ValueError(f"{text!r}: whole seconds only")
    return int(seconds)


@click.command("watch")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False,
                                                           path_type=Path),
              help="YAML configuration (targets, discovery, limits, credentials files).")
@click.option("--target", "targets", multiple=True, metavar="URL",
              help="A Go service's base URL (its /debug/pprof and /metrics). Repeatable.")
@click.option("--source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The targets' Go source tree: sites become file:line (else functions).")
@click.option("--file-sd", "file_sd", multiple=True, type=click.Path(path_type=Path),
              help="Prometheus file_sd file (JSON or YAML), re-read when it changes.")
@click.option("--http-sd", "http_sd", multiple=True, metavar="URL",
              help="Prometheus http_sd endpoint, polled every 60 s.")
@click.option("--shard", callback=_parsed(Shard.parse, "I/N"), metavar="I/N",
              help="Watch only shard I of N (hash of the target address, as hashmod).")
@click.option("--interval", callback=_parsed(_interval, "seconds"), metavar="DURATION",
              help="Profile interval, whole seconds (default 15s).")
@click.option("--timeout", callback=_parsed(parse_seconds, "seconds"), metavar="DURATION",
              help="Per-request timeout (default 10s; a server-side delta waits the "
              "interval on top).")
@click.option("--listen", callback=_parsed(Listen.parse, "HOST:PORT"), metavar="HOST:PORT",
              help="Where to serve /metrics (default 127.0.0.1:9464).")
@click.option("--top-sites", type=click.IntRange(1, 1000),
              help="Sites per target exported by name; the rest are `other` (default 20).")
@click.option("--delta", type=click.Choice(["cumulative", "server"]),
              help="cumulative: difference two pulls here (default); server: Go's "
              "?seconds=N delta, which undercounts (see docs/watch.md).")
@click.option("--once", is_flag=True, help="Measure one interval per target, print, exit.")
@format_option()
def watch(config_path: Path | None, targets: tuple[str, ...], source: Path | None,
          file_sd: tuple[Path, ...], http_sd: tuple[str, ...], shard: Shard | None,
          interval: int | None, timeout: float | None, listen: Listen | None,
          top_sites: int | None, delta: str | None, once: bool, output_format: str) -> int:
    """Turn Go services' pprof endpoints into per-site map allocation metrics.

    \b
    mapguard watch --config watch.yaml              serve 127.0.0.1:9464/metrics
    mapguard watch --target URL --source DIR        one service, sites as file:line
    mapguard watch --file-sd targets.json --shard 2/4
    mapguard watch --once --target URL --format json
    """
    config = load_config(config_path) if config_path is not None else WatchConfig()
    config = apply_overrides(config, Overrides(
        targets=targets, source=source, file_sd=file_sd, http_sd=http_sd, shard=shard,
        interval_seconds=interval, timeout_seconds=timeout, listen=listen,
        top_sites=top_sites, server_delta=None if delta is None else delta == "server"))
    if not config.has_targets():
        raise UsageError("no targets: give --target, --file-sd, --http-sd or --config")
    _log_to_stderr()
    if once:
        results = asyncio.run(run_once(config))
        if output_format == "json":
            emit_json({"interval_seconds": config.interval_seconds,
                       "targets": [_once_json(r, config.top_sites) for r in results]})
        else:
            _render_once(results, config.top_sites)
        failed = [r for r in results if r.error is not None]
        for result in failed:
            click.echo(f"mapguard: error: {result.error}", err=True)
        return 2 if failed else 0
    if output_format != "text":
        raise UsageError("--format json goes with --once; the agent serves /metrics")
    asyncio.run(run_agent(config, on_listening=lambda url: logging.getLogger(
        "mapguard.watch").info("serving %s", url)))
    return 0


def _log_to_stderr() -> None:
    logger = logging.getLogger("mapguard.watch")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("mapguard watch: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _top(result: OnceResult, top: int) -> list[tuple[SiteKey, tuple[int, int]]]:
    """The `top` largest sites, and the rest summed as `other`, as the agent would export."""
    assert result.interval is not None
    ranked = result.interval.costs.ranked()
    names: list[str] = []
    for (site, _op), _ in ranked:
        if site not in names and len(names) < top:
            names.append(site)
    shown: dict[SiteKey, tuple[int, int]] = {}
    for (site, op), (nbytes, objects) in ranked:
        key = (site, op) if site in names else (OTHER, op)
        old = shown.get(key, (0, 0))
        shown[key] = (old[0] + nbytes, old[1] + objects)
    return sorted(shown.items(), key=lambda item: (-item[1][0], item[0]))


def _once_json(result: OnceResult, top: int) -> dict[str, object]:
    document: dict[str, object] = {"target": result.target.name,
                                   "url": result.target.base_url, "error": result.error}
    interval = result.interval
    if interval is None:
        return document
    costs = interval.costs
    runtime = interval.runtime
    document.update({
        "mode": str(interval.mode), "seconds": round(interval.seconds, 3),
        "total_bytes": costs.total_bytes, "total_objects": costs.total_objects,
        "map_bytes": costs.map_bytes,
        "share": round(costs.map_bytes / costs.total_bytes, 4) if costs.total_bytes else None,
        "goroutines": runtime.goroutines if runtime is not None else None,
        "sites": [{"site": site, "op": op, "bytes": nbytes, "objects": objects,
                   "bytes_per_second": round(nbytes / interval.seconds, 1)}
                  for (site, op), (nbytes, objects) in _top(result, top)],
    })
    if result.target.source is not None:
        # Functions whose source is not the running build's: in no site (see docs/watch.md).
        document["unmatched"] = [{"function": cost.function, "match": cost.match,
                                  "bytes": cost.bytes} for cost in costs.unmatched]
    return document


def _render_once(results: list[OnceResult], top: int) -> None:
    console = Console(highlight=False)
    for result in results:
        interval = result.interval
        if interval is None:
            console.print(f"[bold]{result.target.name}[/]: failed")
            continue
        costs = interval.costs
        share = f" ({100 * costs.map_bytes / costs.total_bytes:.1f}%)" \
            if costs.total_bytes else ""
        console.print(f"[bold]{result.target.name}[/] ({interval.mode}, "
                      f"{interval.seconds:.1f} s): {human(costs.total_bytes, 'bytes')} "
                      f"allocated, {human(costs.map_bytes, 'bytes')} in maps{share}")
        rows = _top(result, top)
        if not rows:
            console.print("no map allocation in this interval")
            continue
        table = Table()
        for column, justify in (("bytes/s", "right"), ("bytes", "right"),
                                ("objects", "right"), ("op", "left"), ("site", "left")):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for (site, op), (nbytes, objects) in rows:
            table.add_row(human(round(nbytes / interval.seconds), "bytes"),
                          human(nbytes, "bytes"), f"{objects:,}", op, site)
        console.print(table)
