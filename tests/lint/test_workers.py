"""The lint's forked worker pool: every task answered once, errors raised in the parent, a
worker that dies named, and no worker left behind, whichever way the parent leaves."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from mapguard.lint.workers import ForkPool, WorkerFailed

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")


def _square(n: int) -> int:
    return n * n


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _fails(n: int) -> int:
    if n == 3:
        raise ValueError(f"task {n} failed")
    return n


class _Unpicklable(Exception):
    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("cannot pickle this")


def _raises_unpicklable(_n: int) -> int:
    raise _Unpicklable("carries a lock")


def _dies(n: int) -> int:
    if n == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    return n


def _big(n: int) -> bytes:
    return bytes([n]) * 3_000_000  # larger than a pipe's buffer, many times over


def _children() -> set[int]:
    """This process's live children (zombies are not waited-for children: they count)."""
    me = os.getpid()
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me:
                found.add(int(entry.name))
    return found


def test_every_task_is_answered_once_across_the_workers() -> None:
    with ForkPool(2) as pool:
        squares = sorted(pool.imap_unordered(_square, range(50)))
        pids = set(pool.imap_unordered(_pid_after, [0.05] * 4))
    assert squares == sorted(n * n for n in range(50))
    assert len(pids) == 2 and os.getpid() not in pids


def test_the_pool_serves_several_rounds_and_answers_larger_than_a_pipe() -> None:
    with ForkPool(2) as pool:
        assert sorted(pool.imap_unordered(_square, [1, 2])) == [1, 4]
        assert sorted(len(b) for b in pool.imap_unordered(_big, [1, 2, 3])) == [3_000_000] * 3
        assert list(pool.imap_unordered(_square, [])) == []


def test_a_task_that_raises_raises_in_the_parent_and_no_worker_is_left() -> None:
    before = _children()
    with pytest.raises(ValueError, match="task 3 failed"), ForkPool(2) as pool:
        list(pool.imap_unordered(_fails, range(6)))
    assert _children() == before


def test_an_exception_that_cannot_be_pickled_crosses_as_its_text() -> None:
    with pytest.raises(RuntimeError, match="_Unpicklable: carries a lock"), ForkPool(1) as pool:
        list(pool.imap_unordered(_raises_unpicklable, [1]))


def test_a_worker_that_dies_is_named_instead_of_waited_for_forever() -> None:
    before = _children()
    with pytest.raises(WorkerFailed, match="ended without an answer"), ForkPool(2) as pool:
        list(pool.imap_unordered(_dies, range(5)))
    assert _children() == before


def test_leaving_early_stops_the_workers() -> None:
    """The second worker inherits nothing of the first's pipes: closing the first's task pipe
    ends it (else the parent would wait on it forever)."""
    before = _children()
    with ForkPool(3) as pool:
        answers = pool.imap_unordered(_square, range(10))
        assert next(answers) in {n * n for n in range(10)}
        assert len(_children() - before) == 3
        with pytest.raises(RuntimeError, match="unfinished"):
            next(pool.imap_unordered(_square, [1]))
    assert _children() == before
