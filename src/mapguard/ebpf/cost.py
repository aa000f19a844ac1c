"""What a probe hit costs on this machine, measured at start, and the budget that limits it.

A uprobe hit is a breakpoint trap into the kernel, the probe handler and the sample written to
the ring buffer; the probed thread pays it. mapguard measures it on probes of its own: a
private file holding two tiny functions (`push rbp; mov rbp, rsp; pop rbp; ret`) is mapped
executable into mapguard's process, probed exactly like a Go function (entry with a call
chain and fetched arguments, exit on the RET, counting-only entry), and called through ctypes
with and without the probes. Nothing outside mapguard's process maps that file, so no other
process is touched.

The budget is CPU time as a share of one core: the target's probe hits times their measured
cost, plus mapguard's own CPU time (reading and symbolising samples).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mapguard.ebpf.perf import PerfSession
from mapguard.ebpf.tracefs import UprobeEvents
from mapguard.errors import ToolError

# Two functions, 8 bytes apart: push rbp; mov rbp, rsp; pop rbp; ret (then int3 padding).
# The push is emulated by the kernel when probed, the RET single-stepped: the two kinds of
# instruction mapguard's probes sit on.
_CODE = bytes.fromhex("554889e55dc3cccc" "554889e55dc3cccc")
_PUSH, _RET, _OTHER_PUSH = 0, 5, 8
# Few enough calls a round that every sample fits in the ring buffer (a full buffer drops
# samples, and a dropped sample costs less than a written one), drained between rounds.
_CALLS = 1_000
_ROUNDS = 7
_PROT_READ, _PROT_EXEC, _MAP_PRIVATE = 0x1, 0x4, 0x02
_COUNT_ONLY = 1 << 62  # a sample period never reached: the probe only counts


@dataclass(frozen=True, slots=True)
class HitCost:
    """Seconds per probe hit: the trap (emulated or single-stepped instruction) and the sample
    written on top of it (with a call chain and arguments, or with one argument)."""

    emulated_trap: float
    stepped_trap: float
    chain_sample: float
    plain_sample: float

    def trap(self, emulated: bool) -> float:
        return self.emulated_trap if emulated else self.stepped_trap

    def to_json(self) -> dict[str, float]:
        return {name: round(getattr(self, name) * 1e6, 3)
                for name in ("emulated_trap", "stepped_trap", "chain_sample", "plain_sample")}


def _exec_dirs() -> Iterator[Path]:
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), tempfile.gettempdir(), "/dev/shm",
                      "/var/tmp", str(Path.home() / ".cache")):
        if candidate and Path(candidate).is_dir():
            yield Path(candidate)


@contextlib.contextmanager
def _mapped_code() -> Iterator[tuple[Path, int]]:
    """A private file with `_CODE`, mapped executable: (its path, its address)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long)
    libc.munmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
    for directory in _exec_dirs():
        try:
            fd, name = tempfile.mkstemp(prefix="mapguard-calibrate-", dir=directory)
        except OSError:
            continue
        path = Path(name)
        try:
            os.write(fd, _CODE)
            address = libc.mmap(None, len(_CODE), _PROT_READ | _PROT_EXEC, _MAP_PRIVATE, fd, 0)
            if address in (None, ctypes.c_void_p(-1).value):
                continue  # a noexec mount: try the next directory
            try:
                yield path, address
                return
            finally:
                libc.munmap(address, len(_CODE))
        finally:
            os.close(fd)
            path.unlink(missing_ok=True)
    raise ToolError("cannot measure the probe cost: no writable directory allows executable "
                    "mappings (all mounted noexec?)")


def measure_hit_cost(root: Path) -> HitCost:
    """The per-hit costs of the probes mapguard uses, in seconds (best of 7 rounds each).
    Its probes are defined in their own group and removed before it returns."""
    events = UprobeEvents(root)
    try:
        return _measure(events)
    finally:
        events.remove_all()


def _measure(events: UprobeEvents) -> HitCost:
    from mapguard.ebpf.timing import EXIT_FETCH, GOROUTINE, RETURN_ADDRESS

    with _mapped_code() as (path, address):
        function = ctypes.CFUNCTYPE(None)(address + _PUSH)
        other = ctypes.CFUNCTYPE(None)(address + _OTHER_PUSH)
        entry_fetch = f"{GOROUTINE} {RETURN_ADDRESS} map=%di:x64 len=+0(%sp):u64"
        # (event, offset, fetch, call chain, sample period, function called)
        probes = (("calibrate_push", _OTHER_PUSH, RETURN_ADDRESS, False, _COUNT_ONLY, other),
                  ("calibrate_ret", _RET, EXIT_FETCH, False, _COUNT_ONLY, function),
                  ("calibrate_entry", _PUSH, entry_fetch, True, 1, function),
                  ("calibrate_exit", _RET, EXIT_FETCH, False, 1, function))
        base = {id(f): _seconds_per_call(f, None) for f in (function, other)}
        costs = []
        for name, offset, fetch, chain, period, called in probes:
            events.define(name, str(path), offset, fetch)
            session = PerfSession()
            try:
                session.open(name, events.event_id(name), callchain=chain, period=period)
                costs.append(max(0.0, _seconds_per_call(called, session) - base[id(called)]))
            finally:
                session.close_all()
        push, ret, entry, exit_ = costs
        return HitCost(push, ret, max(0.0, entry - push), max(0.0, exit_ - ret))


def _seconds_per_call(function: Callable[[], None], session: PerfSession | None) -> float:
    best = float("inf")
    for _ in range(_ROUNDS):
        start = time.perf_counter()
        for _ in range(_CALLS):
            function()
        best = min(best, (time.perf_counter() - start) / _CALLS)
        if session is not None:
            for _ in session.samples():
                pass
    return best


@dataclass(frozen=True, slots=True)
class Budget:
    """CPU share of one core (0.02 = 2 %) the probes and mapguard may use."""

    share: float

    def over(self, cpu_seconds: float, wall_seconds: float) -> bool:
        return wall_seconds > 0 and cpu_seconds / wall_seconds > self.share
