"""`mapguard ebpf`: uprobes on a running Go program's map growth, timed per call site."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import BinaryIO

import click
from rich.console import Console
from rich.live import Live

from mapguard.bundle.options import bundle_options, open_bundle_writer
from mapguard.bundle.writer import BundleWriter
from mapguard.clikit import emit_json, format_option
from mapguard.ebpf.binary import GoBinary, read_open_binary
from mapguard.ebpf.cost import Budget
from mapguard.ebpf.disasm import disassemble
from mapguard.ebpf.plan import plan_for
from mapguard.ebpf.session import Session, Settings
from mapguard.errors import InputError, ToolError, UsageError
from mapguard.gotool import require_go
from mapguard.slo.durations import Duration


class Stopped(BaseException):
    """A signal asked the session to end; every probe is detached on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass(frozen=True, slots=True)
class Target:
    binary: GoBinary
    stream: BinaryIO  # the open binary: probes are defined on this very file
    probe_path: str
    pid: int | None


def _check_privileges() -> None:
    if os.geteuid() != 0:
        raise ToolError("mapguard ebpf needs root: uprobes are defined in tracefs and attached "
                        "with perf_event_open (run it with sudo)")


def _open_target(pid: int | None, binary: Path | None) -> Target:
    if pid is not None:
        if not Path(f"/proc/{pid}").is_dir():
            raise InputError(f"--pid {pid}", "no such process (gone, or never started)")
        exe = Path(f"/proc/{pid}/exe")
        try:
            name = exe.readlink()
            stream = exe.open("rb")
        except FileNotFoundError:
            raise InputError(f"--pid {pid}", "no such process (gone)") from None
        except OSError as exc:
            raise InputError(f"--pid {pid}", f"cannot open its executable: {exc.strerror}"
                             ) from None
    else:
        assert binary is not None
        name = binary
        try:
            stream = binary.open("rb")
        except FileNotFoundError:
            raise InputError(binary, "no such file") from None
        except IsADirectoryError:
            raise InputError(binary, "is a directory, not a binary") from None
        except OSError as exc:
            raise InputError(binary, f"cannot be read: {exc.strerror}") from None
    try:
        go_binary = read_open_binary(stream, name)
    except BaseException:
        stream.close()
        raise
    # Probes name the file through mapguard's own descriptor: the very inode that was read,
    # even when the path has been replaced since, or holds characters uprobe_events refuses.
    return Target(go_binary, stream, f"/proc/{os.getpid()}/fd/{stream.fileno()}", pid)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _raise_stopped(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def _signals_handled(handler: Callable[[int, FrameType | None], None] | signal.Handlers
                     ) -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP go to `handler` inside the block: `_raise_stopped` while
    probing; SIG_IGN while the probes are detached, so a second Ctrl-C cannot cut the cleanup
    short."""
    previous = {sig: signal.signal(sig, handler) for sig in _STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, earlier in previous.items():
            signal.signal(sig, earlier)


def _parse_listen(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--export {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9465")
    return host.strip("[]"), int(port)


def _seconds(text: str | None, option: str) -> float | None:
    if text is None:
        return None
    try:
        return float(Duration.parse(text).seconds)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


@click.command("ebpf")
@click.option("--pid", type=int, help="Trace this running Go process.")
@click.option("--binary", "binary_path", type=click.Path(path_type=Path),
              help="Trace every process that runs this Go binary (now or later).")
@click.option("--duration", help="Stop after this long (30s, 5m, 1h); default: until Ctrl-C "
              "or the target exits.")
@format_option()
@click.option("--export", "export", metavar="HOST:PORT",
              help="Serve the counts as Prometheus metrics on HOST:PORT (/metrics).")
@click.option("--ops", is_flag=True, help="Also count assign/delete/sync.Map-store calls "
              "(every call traps; one in 64 is sampled for its site).")
@click.option("--budget", type=click.FloatRange(0.01, 10_000.0), default=2.0,
              show_default=True, help="CPU the probes and mapguard may use, in % of one core "
              "(above 100: more than one core).")
@click.option("--top-sites", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="Sites shown and exported by name; the rest are `other`.")
@bundle_options
def ebpf(pid: int | None, binary_path: Path | None, duration: str | None, output_format: str,
         export: str | None, ops: bool, budget: float, top_sites: int, bundle_dir: Path | None,
         bundle_label: str) -> int:
    """Map growth in a running Go program, timed per call site, with uprobes.

    Probes the Go runtime's map-growth functions (at entry and at every RET instruction,
    never with return probes), times each growth per goroutine, and charges it to the first
    user frame above the runtime: file:line, the same site lint and profile findings use.

    \b
    mapguard ebpf --pid 1234                          live table, per second
    mapguard ebpf --binary ./server --duration 30s --format json
    mapguard ebpf --pid 1234 --export 127.0.0.1:9465  Prometheus metrics
    mapguard ebpf --pid 1234 --ops                    also count map ops (sampled)
    """
    if (pid is None) == (binary_path is None):
        raise UsageError("give exactly one of --pid PID or --binary PATH")
    limit = _seconds(duration, "--duration")
    listen = _parse_listen(export) if export else None
    bundle = open_bundle_writer(bundle_dir, bundle_label, "mapguard ebpf")
    _check_privileges()
    target = _open_target(pid, binary_path)
    try:
        plan = plan_for(target.binary)
        toolchain = require_go()
        functions = [spec.function for spec in (*plan.timed, *(plan.ops if ops else ()))]
        placements = disassemble(Path(target.probe_path), functions, toolchain)
        missing = [name for name in functions if name not in placements]
        if missing:
            raise ToolError(f"go tool objdump found no code for {', '.join(missing)}")
        settings = Settings(ops=ops, budget=Budget(budget / 100), top_sites=top_sites)
        return _trace(target, Session(target.binary, target.stream, target.probe_path, plan,
                                      placements, pid, settings, _say),
                      limit, listen, output_format, bundle, bundle_label)
    finally:
        target.stream.close()


def _say(message: str) -> None:
    click.echo(f"mapguard ebpf: {message}", err=True)


def _trace(target: Target, session: Session, limit: float | None,
           listen: tuple[str, int] | None, output_format: str,
           bundle: BundleWriter | None = None, label: str = "") -> int:
    lock = threading.Lock()
    server = None
    live = output_format == "text" and sys.stdout.isatty()
    started = time.monotonic()
    ended_by = "duration"
    pidfd = _pidfd(target.pid)
    try:
        with _signals_handled(_raise_stopped):
            session.start()
            _announce(session)
            if listen is not None:
                from mapguard.ebpf.exporter import serve

                server = serve(*listen, session, lock)
                _say(f"metrics on http://{listen[0] or '0.0.0.0'}:{server.server_port}/metrics")
            ended_by = _loop(session, lock, started, limit, pidfd, live)
    except Stopped as stop:
        ended_by = signal.Signals(stop.signum).name
    finally:
        with _signals_handled(signal.SIG_IGN):
            with lock:
                session.stop()
            if server is not None:
                server.shutdown()
                server.server_close()
            if pidfd is not None:
                os.close(pidfd)
    seconds = time.monotonic() - started
    if ended_by == "target exited":
        _say(f"process {target.pid} exited; probes detached")
    _report(session, seconds, ended_by, output_format)
    if bundle is not None:  # growth stalls by site, for mapguard diagnose
        from mapguard.ebpf.render import document

        bundle.add_json("ebpf", label, {"version": 1, **document(session, seconds, ended_by)})
    return 0


def _pidfd(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        raise InputError(f"--pid {pid}", "no such process (gone)") from None


def _announce(session: Session) -> None:
    cost = session.health.hit_cost
    timed = len(session.timed)
    message = (f"{len(session.plan.timed)} functions timed at {timed} probe points "
               f"({session.target}, Go {session.plan.version})")
    if cost is not None:
        message += (f"; a hit costs {cost.emulated_trap * 1e6:.1f} µs on an emulated "
                    f"instruction, {cost.stepped_trap * 1e6:.1f} µs on a single-stepped one "
                    f"(RET), +{cost.chain_sample * 1e6:.1f} µs with a call chain")
    _say(message)
    if session.settings.ops:
        _say(f"--ops: {len(session.ops)} op functions; every call traps "
             f"(~{(cost.emulated_trap if cost else 0) * 1e6:.1f} µs), so hot maps exceed the "
             "budget quickly and the op probes are then dropped")


def _loop(session: Session, lock: threading.Lock, started: float, limit: float | None,
          pidfd: int | None, live: bool) -> str:
    interval = session.settings.interval_s
    console = Console()
    from mapguard.ebpf.render import live_view

    view = Live(console=console, auto_refresh=False) if live else None
    with view or contextlib.nullcontext():
        next_tick = time.monotonic() + interval
        while True:
            now = time.monotonic()
            if limit is not None and now - started >= limit:
                return "duration"
            wait = max(0.0, min(next_tick, started + limit if limit else next_tick) - now)
            watched = [*session.ring_fds(), *([pidfd] if pidfd is not None else [])]
            ready = select.select(watched, [], [], wait)[0]
            if pidfd is not None and pidfd in ready:
                return "target exited"
            if ready:
                with lock:
                    session.drain()
            if time.monotonic() >= next_tick:
                next_tick += interval
                with lock:
                    session.tick()
                if view is not None:
                    view.update(live_view(session, time.monotonic() - started,
                                          session.settings.top_sites), refresh=True)


def _report(session: Session, seconds: float, ended_by: str, output_format: str) -> None:
    from mapguard.ebpf.render import document, live_view

    if output_format == "json":
        emit_json(document(session, seconds, ended_by))
        return
    Console().print(live_view(session, seconds, session.settings.top_sites))
