"""perf_event_open on uprobe events: per-CPU ring buffers of samples, read from Python.

Each probe is opened once per online CPU (the events then fire in every process that runs the
binary; `--pid` keeps the target's samples). All probes of one CPU write into that CPU's ring
buffer (PERF_EVENT_IOC_SET_OUTPUT). A sample carries the event id, pid/tid, a CLOCK_MONOTONIC
time in nanoseconds, the user call chain (entry probes only; frame pointers, which Go keeps on
amd64) and the raw event with the fetched arguments. A probe with a sample period N > 1 counts
every hit in the kernel and samples one in N.

Closing the file descriptors (and unmapping the buffers) removes the breakpoints; the kernel
does it when the process dies, however it dies.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mapguard.errors import ToolError

_SYS_PERF_EVENT_OPEN = 298  # x86-64
_PERF_TYPE_SOFTWARE = 1
_PERF_TYPE_TRACEPOINT = 2
_PERF_COUNT_SW_DUMMY = 9
_PERF_FLAG_FD_CLOEXEC = 8
_CLOCK_MONOTONIC = 1

_SAMPLE_TID = 1 << 1
_SAMPLE_TIME = 1 << 2
_SAMPLE_CALLCHAIN = 1 << 5
_SAMPLE_RAW = 1 << 10
_SAMPLE_IDENTIFIER = 1 << 16

_FLAG_DISABLED = 1 << 0
_FLAG_WATERMARK = 1 << 14
_FLAG_EXCLUDE_CALLCHAIN_KERNEL = 1 << 21
_FLAG_USE_CLOCKID = 1 << 25

_IOC_ENABLE = 0x2400
_IOC_SET_OUTPUT = 0x2405
_IOC_ID = 0x80082407

_RECORD_LOST = 2
_RECORD_SAMPLE = 9
_CONTEXT_USER = 0xFFFFFFFFFFFFFE00
_CONTEXT_MAX = 0xFFFFFFFFFFFFF001  # PERF_CONTEXT_* markers are at and above this

_PAGE = mmap.PAGESIZE
# Ring buffers share 8 MiB over the CPUs, 256 KiB to 2 MiB each (a power of two in pages).
# An entry sample takes about 200 bytes, so a burst of 10,000 growths fits on two CPUs.
_RING_TOTAL = 8 << 20
_RING_MIN, _RING_MAX = 256 << 10, 2 << 20
MAX_STACK = 24  # enough to pass the runtime's frames and reach user code

_libc = ctypes.CDLL(None, use_errno=True)


class _Attr(ctypes.Structure):
    _fields_ = (  # struct perf_event_attr, PERF_ATTR_SIZE_VER7 (Linux 5.13+ accept it)
        ("type", ctypes.c_uint32), ("size", ctypes.c_uint32), ("config", ctypes.c_uint64),
        ("sample_period", ctypes.c_uint64), ("sample_type", ctypes.c_uint64),
        ("read_format", ctypes.c_uint64), ("flags", ctypes.c_uint64),
        ("wakeup_events", ctypes.c_uint32), ("bp_type", ctypes.c_uint32),
        ("config1", ctypes.c_uint64), ("config2", ctypes.c_uint64),
        ("branch_sample_type", ctypes.c_uint64), ("sample_regs_user", ctypes.c_uint64),
        ("sample_stack_user", ctypes.c_uint32), ("clockid", ctypes.c_int32),
        ("sample_regs_intr", ctypes.c_uint64), ("aux_watermark", ctypes.c_uint32),
        ("sample_max_stack", ctypes.c_uint16), ("reserved_2", ctypes.c_uint16),
    )


@dataclass(frozen=True, slots=True)
class Sample:
    event: int  # the perf event id: which probe, on which CPU
    pid: int
    tid: int
    time_ns: int  # CLOCK_MONOTONIC
    stack: tuple[int, ...]  # user PCs, innermost first (empty for probes without a chain)
    raw: bytes  # the trace event record: common fields, probe address, fetched arguments


def online_cpus() -> list[int]:
    text = Path("/sys/devices/system/cpu/online").read_text().strip()
    cpus: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def _perf_event_open(attr: _Attr, pid: int, cpu: int) -> int:
    fd = int(_libc.syscall(_SYS_PERF_EVENT_OPEN, ctypes.byref(attr), pid, cpu, -1,
                           _PERF_FLAG_FD_CLOEXEC))
    if fd < 0:
        code = ctypes.get_errno()
        if code in (errno.EACCES, errno.EPERM):
            raise ToolError("perf_event_open was refused: mapguard ebpf needs root "
                            "(or CAP_PERFMON and CAP_SYS_ADMIN)")
        raise OSError(code, os.strerror(code))
    return fd


def _ioctl(fd: int, request: int, argument: int | ctypes.c_uint64 = 0) -> None:
    arg = ctypes.byref(argument) if isinstance(argument, ctypes.c_uint64) else argument
    if _libc.ioctl(fd, request, arg) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def tracepoint_attr(tracepoint: int, *, callchain: bool, period: int) -> _Attr:
    attr = _Attr()
    attr.type = _PERF_TYPE_TRACEPOINT
    attr.size = ctypes.sizeof(_Attr)
    attr.config = tracepoint
    attr.sample_period = period
    attr.sample_type = (_SAMPLE_IDENTIFIER | _SAMPLE_TID | _SAMPLE_TIME | _SAMPLE_RAW
                        | (_SAMPLE_CALLCHAIN if callchain else 0))
    attr.flags = _FLAG_DISABLED | _FLAG_EXCLUDE_CALLCHAIN_KERNEL | _FLAG_USE_CLOCKID
    attr.clockid = _CLOCK_MONOTONIC
    attr.sample_max_stack = MAX_STACK
    return attr


def _dummy_attr(ring_bytes: int) -> _Attr:
    attr = _Attr()
    attr.type = _PERF_TYPE_SOFTWARE
    attr.size = ctypes.sizeof(_Attr)
    attr.config = _PERF_COUNT_SW_DUMMY
    attr.flags = _FLAG_USE_CLOCKID | _FLAG_WATERMARK
    attr.wakeup_events = ring_bytes // 4  # the watermark: poll() wakes at a quarter full
    attr.clockid = _CLOCK_MONOTONIC
    return attr


def ring_pages(cpus: int) -> int:
    size = min(_RING_MAX, max(_RING_MIN, _RING_TOTAL // max(cpus, 1)))
    return 1 << (size // _PAGE).bit_length() - 1


class _Ring:
    """One CPU's ring buffer. It belongs to a dummy event that counts nothing, so that any
    probe can be closed, and its breakpoint removed, while the buffer stays."""

    def __init__(self, cpu: int, pages: int) -> None:
        self.fd = _perf_event_open(_dummy_attr(pages * _PAGE), -1, cpu)
        self.map = mmap.mmap(self.fd, (1 + pages) * _PAGE, mmap.MAP_SHARED,
                             mmap.PROT_READ | mmap.PROT_WRITE)
        self.data_offset, self.data_size = struct.unpack_from("QQ", self.map, 1040)
        if not self.data_size:  # kernels before 4.1 leave these 0
            self.data_offset, self.data_size = _PAGE, pages * _PAGE

    def records(self) -> Iterator[tuple[int, bytes]]:
        """(type, record) of everything written since the last call. The whole new region is
        copied out first and the space given back at once, so a busy target refills the
        buffer while Python parses the copy."""
        head = struct.unpack_from("Q", self.map, 1024)[0]
        tail = struct.unpack_from("Q", self.map, 1032)[0]
        if head <= tail:
            return
        size, base = self.data_size, self.data_offset
        start, length = tail % size, head - tail
        if start + length <= size:
            chunk = self.map[base + start:base + start + length]
        else:
            chunk = self.map[base + start:base + size] + \
                self.map[base:base + start + length - size]
        struct.pack_into("Q", self.map, 1032, head)
        offset = 0
        while offset + 8 <= len(chunk):
            kind, _misc, record_size = struct.unpack_from("IHH", chunk, offset)
            if record_size < 8:
                return
            yield kind, chunk[offset:offset + record_size]
            offset += record_size

    def close(self) -> None:
        self.map.close()


@dataclass(slots=True)
class _Probe:
    tracepoint: int
    callchain: bool
    period: int
    fds: list[int]


class PerfSession:
    """Opens probes on every online CPU, reads their samples and counts, closes them."""

    def __init__(self) -> None:
        self.cpus = online_cpus()
        self.pages = ring_pages(len(self.cpus))
        self.rings: dict[int, _Ring] = {}
        self.probes: dict[str, _Probe] = {}
        self.ids: dict[int, tuple[str, bool]] = {}  # perf id -> (probe name, has callchain)
        # Hits of closed probes, so that counts survive a probe being dropped and re-opened.
        self.closed_counts: dict[str, int] = {}
        self.lost = 0

    def open(self, name: str, tracepoint: int, *, callchain: bool, period: int = 1) -> None:
        if name in self.probes:
            return
        attr = tracepoint_attr(tracepoint, callchain=callchain, period=period)
        probe = _Probe(tracepoint, callchain, period, [])
        self.probes[name] = probe
        try:
            for cpu in self.cpus:
                fd = _perf_event_open(attr, -1, cpu)
                probe.fds.append(fd)
                ident = ctypes.c_uint64()
                _ioctl(fd, _IOC_ID, ident)
                self.ids[ident.value] = (name, callchain)
                ring = self.rings.get(cpu)
                if ring is None:
                    ring = self.rings[cpu] = _Ring(cpu, self.pages)
                _ioctl(fd, _IOC_SET_OUTPUT, ring.fd)
                _ioctl(fd, _IOC_ENABLE)
        except OSError as exc:
            self.close(name)
            raise ToolError(f"cannot attach probe {name}: {exc.strerror}") from None

    def ring_fds(self) -> list[int]:
        """File descriptors that poll readable when a ring buffer is a quarter full."""
        return [ring.fd for ring in self.rings.values()]

    def count(self, name: str) -> int:
        """Hits of probe `name` since it was opened, over all CPUs."""
        probe = self.probes.get(name)
        live = 0 if probe is None else sum(struct.unpack("Q", os.read(fd, 8))[0]
                                           for fd in probe.fds)
        return self.closed_counts.get(name, 0) + live

    def samples(self) -> Iterator[tuple[str, Sample]]:
        for ring in list(self.rings.values()):
            for kind, record in ring.records():
                if kind == _RECORD_SAMPLE:
                    decoded = self._sample(record)
                    if decoded is not None:
                        yield decoded
                elif kind == _RECORD_LOST:
                    self.lost += struct.unpack_from("Q", record, 16)[0]

    def _sample(self, record: bytes) -> tuple[str, Sample] | None:
        ident, pid, tid, time_ns = struct.unpack_from("QIIQ", record, 8)
        known = self.ids.get(ident)
        if known is None:
            return None  # a probe closed since the sample was written
        name, callchain = known
        offset = 32
        stack: tuple[int, ...] = ()
        if callchain:
            (count,) = struct.unpack_from("Q", record, offset)
            chain = struct.unpack_from(f"{count}Q", record, offset + 8)
            stack = tuple(pc for pc in chain if pc < _CONTEXT_MAX)
            offset += 8 + 8 * count
        (size,) = struct.unpack_from("I", record, offset)
        raw = record[offset + 4:offset + 4 + size]
        return name, Sample(ident, pid, tid, time_ns, stack, raw)

    def close(self, name: str) -> None:
        """Detach one probe (its samples already in the buffers are still read)."""
        probe = self.probes.get(name)
        if probe is None:
            return
        self.closed_counts[name] = self.count(name)
        del self.probes[name]
        for fd in probe.fds:
            os.close(fd)
        # Its ids stay known: samples it wrote before are still in the buffers.

    def close_all(self) -> None:
        for name in list(self.probes):
            self.close(name)
        for ring in self.rings.values():
            ring.close()
            os.close(ring.fd)
        self.rings.clear()
