"""Build and run the open-loop engine (Go, standard library, shipped as source in the package).

Python cannot hold tens of thousands of requests per second on a small machine, so the sending
is done by `data/loadengine/main.go`, built once per source and toolchain into mapguard's cache
directory. It reads the plan as JSON on stdin and streams one JSON line per interval on stdout;
closing its stdin stops it (so it never outlives mapguard).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from importlib import resources
from pathlib import Path
from typing import IO

from mapguard.errors import MapguardError, ToolError
from mapguard.gotool import GoToolchain, require_go, run_go
from mapguard.load.intervals import EngineRun, Interval, parse_line
from mapguard.load.plan import LoadPlan

BUILD_TIMEOUT_S = 300.0
DRAIN_GRACE_S = 30.0  # beyond the plan and the request timeout, before the engine is killed
ENGINE_FILES = ("go.mod", "main.go")
# `mapguard chaos` names a file here for `mapguard load` to copy the engine's lines to.
RECORD_ENV = "MAPGUARD_LOAD_RECORD"
ENGINE_NICE = -10


def engine_source() -> Path:
    return Path(str(resources.files("mapguard") / "data" / "loadengine"))


def cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mapguard" / "loadengine"


def engine_binary(toolchain: GoToolchain | None = None) -> Path:
    """The built engine, built now if this source and toolchain have not been built before."""
    chosen = toolchain or require_go()
    source = engine_source()
    digest = hashlib.sha256(chosen.full_version.encode())
    for name in ENGINE_FILES:
        digest.update((source / name).read_bytes())
    target = cache_dir() / digest.hexdigest()[:16] / "loadengine"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Built beside the target and renamed into place: concurrent builds never see half a file.
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        built = Path(tmp) / "loadengine"
        proc = run_go(["build", "-trimpath", "-o", str(built), "."], cwd=source,
                      env={"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod", "GOPROXY": "off"},
                      timeout=BUILD_TIMEOUT_S, toolchain=chosen)
        if proc.returncode != 0:
            detail = "; ".join(proc.stderr.strip().splitlines()[:3])
            raise ToolError(f"building the load engine failed: {detail}")
        built.replace(target)
    return target


@contextmanager
def termination_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt while inside, like Ctrl-C: one path cleans
    up after all three."""
    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = {number: signal.signal(number, interrupt)
                    for number in (signal.SIGTERM, signal.SIGHUP)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_engine(plan: LoadPlan, *, binary: Path,
               on_interval: Callable[[Interval], None] | None = None,
               copy_to: IO[bytes] | None = None) -> EngineRun:
    """Run the plan; Ctrl-C or SIGTERM stop it early and keep what was measured. Every line
    the engine writes is also copied to `copy_to`."""
    with tempfile.TemporaryFile() as stderr:
        try:
            process = subprocess.Popen([str(binary)], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, stderr=stderr,
                                       preexec_fn=_raise_priority)
        except OSError as exc:
            raise ToolError(f"cannot run the load engine {binary}: {exc.strerror or exc}") \
                from None
        assert process.stdin is not None and process.stdout is not None
        run = EngineRun()
        deadline = time.monotonic() + plan.seconds + plan.timeout_s + DRAIN_GRACE_S
        try:
            process.stdin.write(json.dumps(plan.engine_plan()).encode() + b"\n")
            process.stdin.flush()
            _read_lines(process, run, on_interval, copy_to, deadline)
        except KeyboardInterrupt:
            run.interrupted = True
            _stop(process)
            _read_lines(process, run, on_interval, copy_to,
                        time.monotonic() + plan.timeout_s + 5)
        finally:
            _stop(process)
            try:
                process.wait(timeout=plan.timeout_s + 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if run.start is None or process.returncode not in (0, -signal.SIGINT):
            stderr.seek(0)
            said = stderr.read().decode("utf-8", "replace").strip().splitlines()
            detail = said[-1] if said else f"exit status {process.returncode}"
            if run.start is None or not run.ended:
                raise ToolError(f"the load engine failed: {detail}")
        return run


def _raise_priority() -> None:
    """In the engine's process before it starts: a higher scheduling priority when allowed
    (root), so that on a busy machine the service is what waits for a CPU, not the generator's
    timers. Without the privilege the engine runs at the normal priority."""
    with contextlib.suppress(OSError):
        os.nice(ENGINE_NICE)


def _read_lines(process: subprocess.Popen[bytes], run: EngineRun,
                on_interval: Callable[[Interval], None] | None, copy_to: IO[bytes] | None,
                deadline: float) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        if copy_to is not None:
            copy_to.write(raw)
            copy_to.flush()
        try:
            record = parse_line(raw)
        except MapguardError as exc:
            raise ToolError(f"the load engine wrote something unexpected: {exc}") from None
        run.add(record)
        if isinstance(record, Interval) and on_interval is not None:
            on_interval(record)
        if time.monotonic() > deadline:
            process.kill()
            raise ToolError("the load engine ran past its plan; it was stopped")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Closing stdin asks the engine to stop sending and report what it has."""
    if process.stdin is not None and not process.stdin.closed:
        with suppress(OSError):
            process.stdin.close()
