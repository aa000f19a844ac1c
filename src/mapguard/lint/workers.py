"""The lint's worker processes: forked from the parent, fed one task at a time through pipes.

Where `os.fork` exists, the workers are plain forks of the parent (`ForkPool`): they inherit
the imported code and the job list, take a task (a pickled function and argument, by
reference) from their own pipe, and answer through another. `multiprocessing.pool.Pool`
did the same with more machinery, all of it paid before the first package is read, while the
second core idles: importing it (subprocess, tempfile, shutil, bz2, lzma, random, traceback)
took 6-10 ms, starting it (three threads, queues, locks) 5-7 ms, and its threads then woke
for every result. etcd's whole cold lint is 0.4 s.

Without `fork` (Windows), the standard pool starts its workers by spawning (`spawn_pool`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import signal
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from multiprocessing.pool import Pool

Task = TypeVar("Task")
Result = TypeVar("Result")

_HEADER = 8  # bytes of a message's length, before the pickle


class Workers(Protocol):
    """What the engine asks of its worker processes."""

    def imap_unordered(self, function: Callable[[Any], Any], tasks: Iterable[Any],
                       chunksize: int = 1) -> Iterator[Any]: ...


class WorkerFailed(RuntimeError):
    """A worker process ended without answering its task (killed, or out of memory)."""


class ForkPool:
    """`processes` forked workers; `imap_unordered` hands each idle worker the next task and
    yields results as they come. A task that raises re-raises in the parent. Used as a
    context manager: on leaving, the workers are told to stop (their task pipe closes) and
    waited for; on an error, they are killed."""

    def __init__(self, processes: int) -> None:
        self._workers: list[_Worker] = []
        # An iteration left before its end leaves answers in the pipes that the next one
        # would take for its own: the pool then only stops.
        self._unfinished = False
        try:
            for _ in range(processes):
                self._workers.append(_Worker.fork(self._workers))
        except BaseException:
            self._stop(kill=True)
            raise

    def __enter__(self) -> ForkPool:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._stop(kill=error is not None)

    def imap_unordered(self, function: Callable[[Task], Result], tasks: Iterable[Task],
                       chunksize: int = 1) -> Iterator[Result]:
        del chunksize  # one task per message, always
        if self._unfinished:
            raise RuntimeError("the workers still hold an unfinished iteration's tasks")
        self._unfinished = True
        pending = iter(tasks)
        with selectors.DefaultSelector() as selector:
            for worker in self._workers:
                if not worker.give(function, pending):
                    break
                selector.register(worker.results, selectors.EVENT_READ, worker)
            while selector.get_map():
                for key, _events in selector.select():
                    worker = key.data
                    yield worker.answer()
                    if not worker.give(function, pending):
                        selector.unregister(worker.results)
        self._unfinished = False

    def _stop(self, *, kill: bool) -> None:
        for worker in self._workers:
            worker.stop(kill=kill)
        self._workers = []


class _Worker:
    """One forked worker: its pid, the pipe it reads tasks from and the one it answers on."""

    def __init__(self, pid: int, tasks: int, results: int) -> None:
        self.pid, self.tasks, self.results = pid, tasks, results

    @classmethod
    def fork(cls, siblings: list[_Worker]) -> _Worker:
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: serve, then out, never back into the parent's code
            status = 1
            try:
                os.close(task_write)
                os.close(result_read)
                # The parent's ends of the workers forked before this one: held open here,
                # a sibling would never read the end of its tasks.
                for sibling in siblings:
                    os.close(sibling.tasks)
                    os.close(sibling.results)
                _serve(task_read, result_write)
                status = 0
            finally:
                os._exit(status)
        os.close(task_read)
        os.close(result_write)
        return cls(pid, task_write, result_read)

    def give(self, function: Callable[[Any], Any], pending: Iterator[Any]) -> bool:
        """Send the next task, if there is one."""
        for task in pending:
            _write(self.tasks, pickle.dumps((function, task), pickle.HIGHEST_PROTOCOL))
            return True
        return False

    def answer(self) -> Any:
        data = _read(self.results)
        if data is None:
            raise WorkerFailed(f"a lint worker (pid {self.pid}) ended without an answer")
        succeeded, value = pickle.loads(data)
        if not succeeded:
            raise value
        return value

    def stop(self, *, kill: bool) -> None:
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        for descriptor in (self.tasks, self.results):
            os.close(descriptor)  # the worker reads the end of its tasks and leaves
        os.waitpid(self.pid, 0)


def _serve(tasks: int, results: int) -> None:
    """A worker's loop: run each task it is sent until its task pipe closes."""
    while (data := _read(tasks)) is not None:
        function, task = pickle.loads(data)
        try:
            answer = pickle.dumps((True, function(task)), pickle.HIGHEST_PROTOCOL)
        except BaseException as error:  # the parent raises it (interrupted too)
            answer = _pickled_error(error)
        _write(results, answer)


def _pickled_error(error: BaseException) -> bytes:
    try:
        return pickle.dumps((False, error), pickle.HIGHEST_PROTOCOL)
    except Exception:  # an exception that cannot cross the pipe: its text does
        return pickle.dumps((False, RuntimeError(f"{type(error).__name__}: {error}")))


def _write(descriptor: int, data: bytes) -> None:
    view = memoryview(len(data).to_bytes(_HEADER, "little") + data)
    while view:
        view = view[os.write(descriptor, view):]


def _read(descriptor: int) -> bytes | None:
    """One message, or None at the pipe's end (also when it ends inside a message)."""
    header = _read_exactly(descriptor, _HEADER)
    if header is None:
        return None
    return _read_exactly(descriptor, int.from_bytes(header, "little"))


def _read_exactly(descriptor: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = os.read(descriptor, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def spawn_pool(processes: int) -> Pool:
    """The standard pool, its workers spawned (no `fork` here), for `imap_unordered`."""
    import multiprocessing

    return multiprocessing.get_context("spawn").Pool(processes)
