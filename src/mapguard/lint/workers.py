"""The lint's worker pool: multiprocessing's, less a wake-up per result.

`multiprocessing.pool.Pool` wakes the thread that keeps its workers alive whenever the result
pipe is readable, and that thread does not read it: until the result thread has taken the
message, it loops (maintain the pool, wait, return at once). On lint's two cores, where
every cycle of the parent is taken from a worker, that was 0.03 s of etcd's 0.38 s of
per-directory work (the parent's pool threads, timed per thread). The thread still wakes
when a worker exits (its sentinel) and when the pool closes, is terminated or runs out of
tasks (the change notifier), which is all a pool without `maxtasksperchild` needs; the
standard library's ThreadPool drops the result pipe from the same list.

Imported only by a run that starts workers.
"""

from __future__ import annotations

from multiprocessing.pool import Pool
from typing import Any


class LintPool(Pool):
    """A pool whose maintenance thread is not woken by results (see the module)."""

    def _get_sentinels(self) -> list[Any]:
        return [self._change_notifier._reader]  # type: ignore[attr-defined]
