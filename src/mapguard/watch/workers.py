"""Where profiles are parsed and attributed: worker processes, so the agent uses every core it
is given (one Python process holds one), or a thread of the agent's own for small fleets.

A worker that dies (killed, out of memory) breaks a process pool for good; the pool is then
replaced and the work tried once more, and the agent goes on.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

log = logging.getLogger("mapguard.watch")

T = TypeVar("T")
MAX_AUTO_WORKERS = 4
# debug=1 texts held by the agent at once, fleet-wide. They are its largest bodies (14 MB for a
# 45,000-sample profile, 25 times the proto one), and a fleet learns its call sites at about
# the same time: unbounded, they set the agent's peak memory. A target that finds no free slot
# learns at a later interval rather than wait (its pulls stay on time).
LEARNING_PULLS = 4


def auto_workers() -> int:
    """One worker process per CPU this process may run on, up to MAX_AUTO_WORKERS."""
    return min(MAX_AUTO_WORKERS, len(os.sched_getaffinity(0)))


def _ignore_interrupts() -> None:
    # Ctrl-C goes to the whole process group: the agent stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Workers:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.executor = self._start()
        self.learning = asyncio.Semaphore(LEARNING_PULLS)

    def _start(self) -> Executor:
        if self.processes == 0:
            return ThreadPoolExecutor(1, thread_name_prefix="mapguard-analysis")
        # spawn, not fork: the agent has threads (the exporter) that a fork would copy mid-air.
        return ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context(
            "spawn"), initializer=_ignore_interrupts)

    async def run(self, function: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        executor = self.executor
        try:
            return await loop.run_in_executor(executor, function, *args)
        except BrokenProcessPool:
            if self.executor is executor:  # the first to notice replaces it
                log.warning("a worker process died; starting new workers")
                executor.shutdown(wait=False, cancel_futures=True)
                self.executor = self._start()
            return await loop.run_in_executor(self.executor, function, *args)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
