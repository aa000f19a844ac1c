"""Targets on loopback for the watch tests: each serves pprof and metrics the way a Go service
does (server-side deltas, cumulative and debug=1 profiles, the symbol endpoint, Go collector
metrics), or misbehaves on purpose (dead, slow, garbage, a gzip bomb, no `seconds`)."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.pprof_samples import HEAP_TYPES, Stack, build

GO_SOURCE = """\
package main

func fill(m map[int]int, n int) {
	for i := 0; i < n; i++ {
		m[i] = i
	}
}

func payload() []byte {
	return make([]byte, 4096)
}
"""
FILL_LINE, PAYLOAD_LINE = 5, 10  # in GO_SOURCE
MAP_BYTES = 1_000_000  # per interval (or per pull, cumulated), at fill's insert line
OTHER_BYTES = 3_000_000  # per interval, at payload's make line


def delta_profile(source_file: str, map_bytes: int = MAP_BYTES,
                  other_bytes: int = OTHER_BYTES) -> bytes:
    """An allocs profile whose map share is known: map_bytes at fill's insert line."""
    main = ("main.main", source_file, 20, 0x500)
    return build(HEAP_TYPES, [
        Stack([("main.fill", source_file, FILL_LINE, 0x100), main],
              [map_bytes // 1000, map_bytes, 0, 0], size=1000),
        Stack([("main.payload", source_file, PAYLOAD_LINE, 0x200), main],
              [other_bytes // 4096, other_bytes, 0, 0], size=4096),
    ], default="alloc_space")


def hidden_profile(pulls: int, *, unseen: bool = False) -> bytes:
    """What Go's proto writer makes of text_profile(pulls): the runtime frames dropped, the
    call site 0x2fff (fill's call into the runtime) as the leaf. `unseen` adds a call site
    (0x5fff) that the text never shows."""
    objects = 1000 * pulls
    stacks = [Stack([("main.fill", "/build/main.go", 5, 0x2FFF),
                     ("main.main", "/build/main.go", 20, 0x3FFF)],
                    [objects, objects * 1000, 0, 0], size=1000)]
    if unseen:
        stacks.append(Stack([("main.late", "/build/main.go", 30, 0x5FFF),
                             ("main.main", "/build/main.go", 21, 0x3FF0)],
                            [objects, objects * 64, 0, 0], size=64))
    return build(HEAP_TYPES, stacks, default="alloc_space")


def text_profile(pulls: int) -> bytes:
    """A debug=1 allocs profile after `pulls` intervals of MAP_BYTES of map growth (its
    runtime PCs 0x1000 and 0x2000 are named only by the symbol endpoint)."""
    objects = 1000 * pulls
    return (f"heap profile: 0: 0 [{objects}: {objects * 1000}] @ heap/2\n"
            f"0: 0 [{objects}: {objects * 1000}] @ 0x1000 0x2000 0x3000 0x4000\n"
            "#\t0x2fff\tmain.fill+0x10\t/build/main.go:5\n"
            "#\t0x3fff\tmain.main+0x20\t/build/main.go:20\n").encode()


SYMBOLS = {0x1000: "runtime.mallocgc", 0x1FFF: "internal/runtime/maps.(*Map).growToTable"}

METRICS = """\
# TYPE go_goroutines gauge
go_goroutines 7
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{{quantile="1"}} 0.002
go_gc_duration_seconds_sum {pause_sum}
go_gc_duration_seconds_count {cycles}
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1700000000
"""


def gzip_bomb(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [packer.compress(block) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


@dataclass
class Behaviour:
    """What a fake target does; `kind` is one of: go (cumulative and `seconds` deltas, as
    net/http/pprof), cumulative (refuses `seconds`),
    symbolized (proto without runtime frames, debug=1 with them, and the symbol endpoint),
    slow, garbage, bomb, or document (serves
    `profile` as it is at every path: an http_sd endpoint)."""

    kind: str
    profile: bytes = b""
    delay: float = 0.0  # slow: extra seconds before answering; symbolized: an unseen site
    requests: list[str] = field(default_factory=list)
    pulls: int = 0


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        behaviour = self.server.behaviour
        behaviour.requests.append(self.path)
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if behaviour.kind == "document":
            return self._send(behaviour.profile)
        if url.path == "/metrics":
            cycles = 10 * (len(behaviour.requests) + 1)
            return self._send(METRICS.format(pause_sum=cycles * 0.001, cycles=cycles).encode())
        if url.path == "/debug/pprof/symbol":
            asked = [int(word, 16) for word in url.query.split("+") if word]
            lines = [f"{a:#x} {SYMBOLS[a]}" for a in asked if a in SYMBOLS]
            return self._send(("num_symbols: 1\n" + "\n".join(lines) + "\n").encode())
        if url.path != "/debug/pprof/allocs":
            return self._send(b"404 page not found\n", 404)
        if behaviour.kind == "slow":
            time.sleep(behaviour.delay)
        if behaviour.kind == "garbage":
            return self._send(b"\x08\x96\x01 this is not a profile" * 50)
        if behaviour.kind == "bomb":
            return self._send(behaviour.profile)
        seconds = query.get("seconds")
        if seconds and behaviour.kind in ("cumulative", "symbolized"):
            return self._send(b'"seconds" parameter is not supported\n', 400)
        if seconds:
            time.sleep(float(seconds[0]))
            return self._send(behaviour.profile)
        if behaviour.kind == "symbolized" and query.get("debug") == ["1"]:
            return self._send(text_profile(max(behaviour.pulls, 1)))
        behaviour.pulls += 1
        if behaviour.kind == "symbolized":
            return self._send(hidden_profile(behaviour.pulls, unseen=behaviour.delay > 0))
        # Cumulative: every pull adds one interval's allocation.
        return self._send(cumulative(behaviour.profile, behaviour.pulls))

    def _send(self, body: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


def cumulative(profile: bytes, pulls: int) -> bytes:
    """`profile`'s values times `pulls`: what a cumulative profile says after that many."""
    from mapguard.formats import profile_pb2

    message = profile_pb2.Profile()
    message.ParseFromString(gzip.decompress(profile))
    for sample in message.sample:
        sample.value[:] = [value * pulls for value in sample.value]
    return gzip.compress(message.SerializeToString(), mtime=0)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Behaviour


@dataclass
class FakeTarget:
    url: str
    behaviour: Behaviour


@contextmanager
def fake_targets(behaviours: dict[str, Behaviour]) -> Iterator[dict[str, FakeTarget]]:
    servers: list[_Server] = []
    started: dict[str, FakeTarget] = {}
    try:
        for name, behaviour in behaviours.items():
            server = _Server(("127.0.0.1", 0), _Handler)
            server.behaviour = behaviour
            servers.append(server)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            started[name] = FakeTarget(f"http://127.0.0.1:{server.server_address[1]}", behaviour)
        yield started
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def write_source(directory: Path) -> Path:
    """The Go file the fake profiles point at; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "main.go"
    path.write_text(GO_SOURCE)
    return path
