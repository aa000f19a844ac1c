"""Watching one target: pull its allocation profile every interval, attribute it, keep counters.

An interval's costs are the difference of two cumulative proto pulls (see `samples`), with a
restart of the target read as a counter reset. With a source tree the join reads the Go source
and sites are lines. Without one, the runtime frames Go hides from heap profiles are put back
(see `prefixes`): they are learnt per call site from a `debug=1` pull, named by the target's
symbol endpoint, only when a call site is new (at most every LEARN_EVERY intervals), and sites
are functions.

Go's server-side delta (`/debug/pprof/allocs?seconds=N`) is there on request
(`server_delta`), not by default: chained windows lose allocations at every boundary, because
a heap profile shows an allocation only two GC cycles later and the handler's own garbage
brings cycles on between one window's end and the next one's start (measured: 84 % of the
cumulative difference at 15 s windows, 66 % at 1 s). A target that refuses `seconds` (HTTP
400) or ignores it is then watched by cumulative pulls.
Parsing and attribution run in worker processes (see `workers`), so no profile blocks the
other targets' I/O and the agent uses every core it is given.
"""

from __future__ import annotations

import asyncio
import logging
import random
import zlib
from dataclasses import dataclass
from enum import StrEnum

from mapguard.errors import InputError
from mapguard.formats.pprofsym import parse_symbols, symbol_query
from mapguard.formats.promtext import parse_samples
from mapguard.watch.analysis import (
    Analysis,
    Pull,
    analyse_delta,
    analyse_pull,
    learn_call_sites,
)
from mapguard.watch.config import Limits
from mapguard.watch.costs import Costs
from mapguard.watch.failures import ScrapeError
from mapguard.watch.fetch import Clients, Deadline
from mapguard.watch.goruntime import FAMILIES, GoRuntime, read_go_runtime
from mapguard.watch.samples import SampleCounts
from mapguard.watch.series import PauseSeries, PauseSnapshot, SiteCounters, SiteTotal
from mapguard.watch.symbols import SymbolTable
from mapguard.watch.targets import Target
from mapguard.watch.workers import Workers

log = logging.getLogger("mapguard.watch")

IDLE_SITE_SECONDS = 3600.0  # an exported site idle this long gives its place up
LEARN_EVERY = 10  # intervals at least between two debug=1 pulls of one target
MAX_CALL_SITES = 50_000  # call sites remembered per process
SYMBOL_ROUNDS = 4  # symbol requests per learning pull (each asks up to 2048 addresses)


class Mode(StrEnum):
    SERVER_DELTA = "server-delta"
    CUMULATIVE = "cumulative"
    SYMBOLIZED = "symbolized"


@dataclass(frozen=True, slots=True)
class Settings:
    interval: int
    timeout: float
    max_backoff: float
    top_sites: int
    limits: Limits
    server_delta: bool = False


@dataclass(frozen=True, slots=True)
class Interval:
    """One interval of one target, as `--once` prints it."""

    costs: Costs
    seconds: float
    mode: Mode
    runtime: GoRuntime | None


@dataclass(frozen=True, slots=True)
class TargetSnapshot:
    """Everything exported for one target, immutable: the exporter reads it from its thread."""

    target: str
    up: bool | None = None  # None until the first attempt ends
    scrape_seconds: float | None = None
    errors: tuple[tuple[str, int], ...] = ()
    sites: tuple[SiteTotal, ...] = ()
    share: float | None = None
    goroutines: float | None = None
    pauses: PauseSnapshot | None = None


class _ModeChanged(Exception):
    """The target does not serve server-side deltas: go on with cumulative pulls."""


class Watcher:
    def __init__(self, target: Target, settings: Settings, clients: Clients,
                 workers: Workers) -> None:
        self.target = target
        self.settings = settings
        self.clients = clients
        self.workers = workers
        self.mode = Mode.SYMBOLIZED if target.source is None else (
            Mode.SERVER_DELTA if settings.server_delta else Mode.CUMULATIVE)
        self.counts: SampleCounts | None = None  # the last pull's, per sample
        self.symbols = SymbolTable()
        self.prefixes: dict[int, tuple[tuple[int, str], ...]] = {}  # call site -> hidden frames
        self.learnt_at: float | None = None  # when the last debug=1 pull was
        self.misses: dict[int, int] = {}  # call sites a debug=1 pull did not show
        self.sites = SiteCounters(settings.top_sites,
                                  max(2, round(IDLE_SITE_SECONDS / settings.interval)))
        self.pauses = PauseSeries()
        self.errors: dict[str, int] = {}
        self.start_time: float | None = None
        self.stale_warned = False  # said that the source tree is not the running build's
        self.snapshot = TargetSnapshot(target.name)

    # --- scheduling --------------------------------------------------------------------------

    def offset(self) -> float:
        """Where in the interval this target starts: spread by a hash of its URL, as
        Prometheus spreads its targets, and the same on every run."""
        return (zlib.crc32(self.target.base_url.encode()) % 1000) / 1000 * self.settings.interval

    def backoff(self, failures: int) -> float:
        delay = min(self.settings.max_backoff, self.settings.interval * 2.0 ** (failures - 1))
        return delay * random.uniform(0.9, 1.1)

    async def run(self) -> None:
        """Watch until cancelled."""
        await asyncio.sleep(self.offset())
        if self.mode is Mode.SERVER_DELTA:
            await self._server_deltas()  # returns if the target refuses them
        await self._cumulative_pulls()

    async def _cumulative_pulls(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        next_tick = loop.time()
        while True:
            began = loop.time()
            try:
                since, runtime = await self._cumulative_pull()
                self._record(since, runtime, loop.time() - began)
                failures = 0
            except ScrapeError as exc:
                failures += 1
                await self._pause(exc, failures)
                next_tick = loop.time()
                continue
            next_tick += self.settings.interval
            now = loop.time()
            if next_tick < now:  # overran: skip the ticks that passed
                next_tick += ((now - next_tick) // self.settings.interval + 1) * \
                    self.settings.interval
            await asyncio.sleep(next_tick - now)

    async def _server_deltas(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        pending: asyncio.Task[tuple[bytes, float]] | None = None
        try:
            while True:
                try:
                    pending = pending or asyncio.create_task(self._delta_pull())
                    body, overhead = await pending
                    arrived = loop.time()
                    # The next window opens now, while this one is analysed.
                    pending = asyncio.create_task(self._delta_pull())
                    delta = await self._delta_costs(body)
                    self._record(delta, await self._runtime(), overhead + loop.time() - arrived)
                    failures = 0
                except ScrapeError as exc:
                    if pending is not None:
                        pending.cancel()
                        pending = None
                    failures += 1
                    await self._pause(exc, failures)
        except _ModeChanged:
            return
        finally:
            if pending is not None:
                pending.cancel()

    async def _pause(self, exc: ScrapeError, failures: int) -> None:
        delay = self.backoff(failures)
        self._failed(exc, delay)
        await asyncio.sleep(delay)

    async def once(self) -> Interval:
        """One interval: two cumulative pulls an interval apart, or a server-side delta."""
        loop = asyncio.get_running_loop()
        if self.mode is Mode.SERVER_DELTA:
            began = loop.time()
            try:
                body, _ = await self._delta_pull()
                costs = await self._delta_costs(body)
                return Interval(costs, loop.time() - began, self.mode, await self._runtime())
            except _ModeChanged:
                pass
        first, _ = await self._cumulative_pull()
        assert first is None
        began = loop.time()
        await asyncio.sleep(self.settings.interval)
        since, runtime = await self._cumulative_pull(wait_to_learn=True)
        return Interval(since or Costs(0, 0), loop.time() - began, self.mode, runtime)

    # --- one pull ----------------------------------------------------------------------------

    def _deadline(self, wait: float = 0.0) -> Deadline:
        return Deadline(self.settings.timeout, wait + self.settings.timeout)

    async def _delta_pull(self) -> tuple[bytes, float]:
        """(the body, the seconds it took beyond the window the target was asked to wait)."""
        loop = asyncio.get_running_loop()
        interval = self.settings.interval
        began = loop.time()
        try:
            body = await self.clients.request(self.target.allocs_url, self.target.client,
                                              self._deadline(interval),
                                              params={"seconds": str(interval)},
                                              inflate_payload=False)
        except ScrapeError as exc:
            if exc.status == 400:
                self._to_cumulative("it refuses ?seconds= (HTTP 400)")
            raise
        took = loop.time() - began
        if took < interval / 2:
            self._to_cumulative("it answered ?seconds= at once, ignoring it")
        return body, max(0.0, took - interval)

    def _to_cumulative(self, why: str) -> None:
        log.info("%s: no server-side delta (%s); differencing cumulative pulls",
                 self.target.name, why)
        self.mode = Mode.CUMULATIVE
        raise _ModeChanged

    async def _delta_costs(self, body: bytes) -> Costs:
        assert self.target.source is not None
        analysis = await self.workers.run(analyse_delta, body, self.target.allocs_url,
                                          self.settings.limits.max_profile_bytes,
                                          self.target.source)
        if analysis.error is not None or analysis.costs is None:
            raise ScrapeError(analysis.reason, analysis.error or "no costs")
        return analysis.costs

    async def _cumulative_pull(self, *, wait_to_learn: bool = False
                               ) -> tuple[Costs | None, GoRuntime | None]:
        """(the costs since the previous pull, None for the first; the Go metrics). The agent
        learns new call sites when a learning slot is free, else at a later interval; `--once`
        has no later interval, so it waits for one (`wait_to_learn`)."""
        runtime_task = asyncio.create_task(self._runtime())
        try:
            body = await self.clients.request(self.target.allocs_url, self.target.client,
                                              self._deadline(), inflate_payload=False)
        finally:
            runtime = await runtime_task
        start_time = runtime.start_time if runtime is not None else None
        restarted = start_time is not None and self.start_time is not None \
            and start_time != self.start_time
        if start_time is not None:  # a failed metrics read does not forget the process
            self.start_time = start_time
        if restarted:
            self._forget_process()
        analysis = await self._analysed(body, restarted)
        if analysis.restarted and not restarted and self.mode is Mode.SYMBOLIZED:
            # Noticed only now, from the totals: learn this process's call sites afresh.
            self._forget_process()
            analysis = await self._analysed(body, True)
        if analysis.unknown and self._may_learn() and (
                wait_to_learn or not self.workers.learning.locked()):
            await self._learn_call_sites(set(analysis.unknown))
            analysis = await self._analysed(body, restarted or analysis.restarted)
        self.counts = analysis.counts
        return analysis.costs, runtime

    def _forget_process(self) -> None:
        """Another process: its addresses may mean other functions."""
        self.symbols.clear()
        self.prefixes.clear()
        self.misses.clear()
        self.learnt_at = None
        self.stale_warned = False

    def _may_learn(self) -> bool:
        now = asyncio.get_running_loop().time()
        return self.learnt_at is None or now - self.learnt_at >= \
            LEARN_EVERY * self.settings.interval

    async def _analysed(self, body: bytes, restarted: bool) -> Analysis:
        pull = Pull(self.target.allocs_url, self.settings.limits.max_profile_bytes,
                    self.target.source if self.mode is not Mode.SYMBOLIZED else None,
                    None if restarted else self.counts, self.counts is None, self.prefixes)
        analysis = await self.workers.run(analyse_pull, body, pull)
        if analysis.error is not None:
            raise ScrapeError(analysis.reason, analysis.error)
        return analysis

    async def _learn_call_sites(self, wanted: set[int]) -> None:
        """One debug=1 pull: the runtime frames hidden behind `wanted`, named by the target."""
        self.learnt_at = asyncio.get_running_loop().time()
        url = self.target.allocs_url
        async with self.workers.learning:  # from the request until the text is read
            body = await self.clients.request(url, self.target.client, self._deadline(),
                                              params={"debug": "1"}, inflate_payload=False)
            learnt = await self.workers.run(learn_call_sites, body, url,
                                            self.settings.limits.max_profile_bytes, wanted)
            del body
        if learnt.error is not None:
            raise ScrapeError("profile", learnt.error)
        pcs = {pc for frames in learnt.frames.values() for pc in frames}
        for _ in range(SYMBOL_ROUNDS):
            unknown = self.symbols.unknown(pcs)
            if not unknown:
                break
            await self._learn_symbols(unknown)
        if len(self.prefixes) + len(wanted) > MAX_CALL_SITES:
            self.prefixes.clear()
            self.misses.clear()
        for site in wanted:
            if site in learnt.frames:
                self.prefixes[site] = tuple((pc, name) for pc in learnt.frames[site]
                                            if (name := self.symbols.names.get(pc)))
                continue
            # Not in this text (it appeared between the pulls, or it is no call site of the
            # program's own): held back for one more learning pull, then taken as it is.
            self.misses[site] = self.misses.get(site, 0) + 1
            if self.misses[site] >= 2:
                self.prefixes[site] = ()
                del self.misses[site]

    async def _learn_symbols(self, addresses: list[int]) -> None:
        url = self.target.symbol_url
        body = await self.clients.request(f"{url}?{symbol_query(addresses)}",
                                          self.target.client, self._deadline())
        try:
            self.symbols.learn(addresses, parse_symbols(body, url))
        except InputError as exc:
            raise ScrapeError("symbols", str(exc)) from None

    async def _runtime(self) -> GoRuntime | None:
        """The target's Go metrics; a failure here is counted but does not fail the scrape."""
        url = self.target.metrics_url
        if url is None:
            return None
        try:
            body = await self.clients.request(url, self.target.client, self._deadline(),
                                              accept_gzip=True)
            return read_go_runtime(parse_samples(body, url, FAMILIES))
        except ScrapeError as exc:
            self._count("metrics", f"{exc}")
        except InputError as exc:
            self._count("metrics", f"{exc}")
        return None

    # --- state -------------------------------------------------------------------------------

    def _record(self, delta: Costs | None, runtime: GoRuntime | None, seconds: float) -> None:
        if delta is not None:
            self.sites.add(delta)
            self._warn_stale(delta)
        if runtime is not None:
            self.pauses.update(runtime)
        was_up = self.snapshot.up
        share = self.snapshot.share
        if delta is not None:
            share = delta.map_bytes / delta.total_bytes if delta.total_bytes > 0 else None
        self.snapshot = TargetSnapshot(
            self.target.name, True, max(0.0, seconds), tuple(sorted(self.errors.items())),
            self.sites.snapshot(), share,
            runtime.goroutines if runtime is not None else None, self.pauses.snapshot())
        if was_up is not True:
            log.info("%s: up (%s)", self.target.name, self.mode)

    def _warn_stale(self, delta: Costs) -> None:
        """Once per process of the target: its source tree is not the build it runs."""
        if self.mode is Mode.SYMBOLIZED or self.stale_warned or not delta.unmatched:
            return
        self.stale_warned = True
        names = ", ".join(f"{cost.function} ({cost.match})" for cost in delta.unmatched[:3])
        more = f" and {len(delta.unmatched) - 3} more" if len(delta.unmatched) > 3 else ""
        log.warning("%s: %s does not match the running build for %s%s: their allocation is in "
                    "no site; watch it with the tree at the revision it was built from",
                    self.target.name, self.target.source, names, more)

    def _count(self, reason: str, message: str) -> None:
        self.errors[reason] = self.errors.get(reason, 0) + 1
        if self.errors[reason] == 1:
            log.warning("%s: %s", self.target.name, message)

    def _failed(self, exc: ScrapeError, retry_in: float) -> None:
        was_up = self.snapshot.up
        self.errors[exc.reason] = self.errors.get(exc.reason, 0) + 1
        self.snapshot = TargetSnapshot(
            self.target.name, False, self.snapshot.scrape_seconds,
            tuple(sorted(self.errors.items())), self.snapshot.sites, self.snapshot.share,
            None, self.snapshot.pauses)
        if was_up is not False:
            log.warning("%s: down: %s (retrying in %.0f s)", self.target.name, exc, retry_in)

