"""The agent: one watcher task per target, the discovery loop, the exporter, a clean stop.

Every target runs in its own asyncio task, so a slow, dead or garbage-serving target only ever
delays itself; profiles are parsed and attributed by worker processes. SIGTERM and SIGINT stop
the tasks, the workers, the connections and the HTTP server, and `run_agent` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass

from mapguard.errors import InputError
from mapguard.watch.config import Listen, WatchConfig
from mapguard.watch.discovery import Discovery
from mapguard.watch.exporter import serve
from mapguard.watch.failures import ScrapeError
from mapguard.watch.fetch import Clients
from mapguard.watch.scrape import Interval, Settings, TargetSnapshot, Watcher
from mapguard.watch.targets import Target
from mapguard.watch.workers import Workers, auto_workers

log = logging.getLogger("mapguard.watch")


def settings_of(config: WatchConfig) -> Settings:
    return Settings(config.interval_seconds, config.timeout_seconds,
                    config.max_backoff_seconds, config.top_sites, config.limits,
                    config.server_delta)


class Fleet:
    """The running watchers, by target name."""

    def __init__(self, settings: Settings, clients: Clients, workers: Workers) -> None:
        self.settings = settings
        self.clients = clients
        self.workers = workers
        self.watchers: dict[str, tuple[Watcher, asyncio.Task[None]]] = {}
        self._forgetting: set[asyncio.Task[None]] = set()  # closing pools of removed targets

    def snapshots(self) -> list[TargetSnapshot]:
        # Called from the exporter's thread: copy the dict, read immutable snapshots.
        return [watcher.snapshot for watcher, _ in list(self.watchers.values())]

    def update(self, targets: dict[str, Target]) -> None:
        for name in list(self.watchers):
            watcher, task = self.watchers[name]
            if targets.get(name) != watcher.target:
                task.cancel()
                del self.watchers[name]
                forgetting = asyncio.create_task(self.clients.forget(watcher.target.base_url))
                self._forgetting.add(forgetting)
                forgetting.add_done_callback(self._forgetting.discard)
                log.info("%s: no longer watched", name)
        for name, target in targets.items():
            if name not in self.watchers:
                watcher = Watcher(target, self.settings, self.clients, self.workers)
                task = asyncio.create_task(watcher.run(), name=f"watch {name}")
                self.watchers[name] = (watcher, task)
        log.info("watching %d target(s)", len(self.watchers))

    async def stop(self) -> None:
        tasks = [task for _, task in self.watchers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, *self._forgetting, return_exceptions=True)


async def run_agent(config: WatchConfig, *, on_listening: Callable[[str], None]) -> None:
    """Watch until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    clients = Clients(config.limits)
    discovery = Discovery(config, clients)
    discovery.check_files()
    workers = Workers(auto_workers() if config.workers is None else config.workers)
    fleet = Fleet(settings_of(config), clients, workers)
    server = None
    try:
        server = serve(config.listen, fleet.snapshots)
        bound = Listen(config.listen.host or "0.0.0.0", int(server.server_address[1]))
        on_listening(f"http://{bound}/metrics")
        await discovery.fetch_http(strict=False)
        fleet.update(discovery.targets())
        discovering = asyncio.create_task(discovery.run(fleet.update))
        await stop.wait()
        log.info("stopping")
        discovering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await discovering
        await fleet.stop()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        workers.close()
        await clients.aclose()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


@dataclass(frozen=True, slots=True)
class OnceResult:
    target: Target
    interval: Interval | None
    error: str | None


async def run_once(config: WatchConfig) -> list[OnceResult]:
    """One interval of every target, side by side."""
    clients = Clients(config.limits)
    discovery = Discovery(config, clients)
    try:
        discovery.check_files()
        await discovery.fetch_http(strict=True)
        targets = discovery.targets()
        if not targets:
            raise InputError("--shard", f"no target falls in shard {config.shard}")
        workers = Workers(0)  # one interval per target: not worth starting processes
        try:
            settings = settings_of(config)
            return list(await asyncio.gather(*(
                _once(Watcher(target, settings, clients, workers))
                for target in targets.values())))
        finally:
            workers.close()
    finally:
        await clients.aclose()


async def _once(watcher: Watcher) -> OnceResult:
    try:
        return OnceResult(watcher.target, await watcher.once(), None)
    except ScrapeError as exc:
        return OnceResult(watcher.target, None, str(exc))
