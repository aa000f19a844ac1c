"""`mapguard ebpf` on real Go programs, with real uprobes, against what the programs caused.

The fixture (tests/fixtures/ebpf/growth) fills MAPS maps of N int64 keys each, one map per
fresh goroutine at a changing recursion depth, so the goroutine stack grows inside the
runtime's growth functions for some of them. How many growths a map of N entries goes through
follows from the map implementation (docs/ebpf.md); bpftrace, counting entries of the same
functions independently, checks that rule on every run.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from mapguard.ebpf.binary import read_binary
from mapguard.ebpf.plan import GROWTH, plan_for
from tests.ebpf.conftest import FIXTURE

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("uprobes")]

INSERT_LINE = next(number for number, line in enumerate(
    (FIXTURE / "main.go").read_text().splitlines(), 1) if "// INSERT" in line)
INSERT_SITE = f"{FIXTURE / 'main.go'}:{INSERT_LINE}"
CLEAR_LINE = next(number for number, line in enumerate(
    (FIXTURE / "main.go").read_text().splitlines(), 1) if "// CLEAR" in line)
MAPS, ENTRIES = 1250, 896
STARTUP_S = 120.0


def swiss_growths(entries: int) -> int:
    """Growths of a Swiss-table map (Go 1.24+) filled with `entries` distinct keys, no hint:
    the first insert allocates an 8-slot group, the 9th a 16-slot table, and a table doubles
    when an insert finds it 7/8 full, up to 1024 slots (split, not counted here, beyond)."""
    assert entries <= 896, "past 896 entries tables split, as the hash seed decides"
    if entries == 0:
        return 0
    if entries <= 8:
        return 1
    growths, capacity = 2, 16
    while entries > capacity * 7 // 8:
        capacity *= 2
        growths += 1
    return growths


def hmap_growths(entries: int) -> int:
    """hashGrow calls of a Go <= 1.23 map filled with `entries` keys, no hint: an insert grows
    it when the count after it exceeds 8 and 6.5 per bucket (overLoadFactor)."""
    growths, log2_buckets = 0, 0
    for count in range(1, entries + 1):
        if count > 8 and count > 13 * ((1 << log2_buckets) // 2):
            log2_buckets += 1
            growths += 1
    return growths


def test_growth_rules_by_hand() -> None:
    assert [swiss_growths(n) for n in (1, 8, 9, 14, 15, 28, 29, 896)] == [1, 1, 2, 2, 3, 3,
                                                                            4, 8]
    assert [hmap_growths(n) for n in (8, 9, 13, 14, 26, 27, 896)] == [0, 1, 1, 2, 2, 3, 8]


# --- running the program, mapguard and bpftrace together -----------------------------------


@dataclass
class Child:
    """A process whose stdout and stderr are collected by threads, line by line."""

    proc: subprocess.Popen[str]
    out_lines: list[str] = field(default_factory=list)
    err_lines: list[str] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)

    @classmethod
    def start(cls, command: list[str], **kwargs: Any) -> Child:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, **kwargs)
        child = cls(proc)
        for stream, lines in ((proc.stdout, child.out_lines), (proc.stderr, child.err_lines)):
            reader = threading.Thread(target=_collect, args=(stream, lines), daemon=True)
            reader.start()
            child.readers.append(reader)
        return child

    def wait_for(self, pattern: str, timeout: float = STARTUP_S) -> str:
        """The first line of stdout or stderr that matches `pattern`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in [*self.err_lines, *self.out_lines]:
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None:
                time.sleep(0.2)
                break
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the output: {''.join(self.out_lines)}"
                             f"{''.join(self.err_lines)}")

    def finish(self, timeout: float = 120) -> str:
        """Wait for the process to end; its whole stdout."""
        self.proc.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=30)
        return "".join(self.out_lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)


def _collect(stream: Any, lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


@contextmanager
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    try:
        yield started
    finally:
        for child in reversed(started):
            child.stop()


def program(binary: Path, *args: str) -> Child:
    """The fixture, initialised (its own maps made) and waiting on stdin for the go-ahead."""
    child = Child.start([str(binary), *args], stdin=subprocess.PIPE)
    child.wait_for("^ready$")
    return child


def mapguard(*args: str) -> Child:
    return Child.start([sys.executable, "-m", "mapguard.cli", "ebpf", *args])


def go_ahead(target: Child) -> None:
    assert target.proc.stdin is not None
    target.proc.stdin.write("go\n")
    target.proc.stdin.flush()


def growth_functions(binary: Path) -> list[str]:
    return [spec.function for spec in plan_for(read_binary(binary)).timed
            if spec.role == GROWTH]


def reference(bpftrace: str, binary: Path, pid: int, type_register: str) -> Child:
    """bpftrace's own count of entries to the growth functions, by map type (the register
    holding the *maptype argument), and at each stack growth (runtime.morestack) the stack
    and the return address into the function whose prologue asked for more stack: the
    independent check of the growth rule and of the stack growth.

    bpftrace probes a function's first instruction, which runs twice when the prologue finds
    the stack too small (morestack, then the function again from its start); those re-entries
    are counted from morestack's return addresses and taken off."""
    probes = ",\n".join(f'uprobe:{binary}:"{name}"' for name in growth_functions(binary))
    script = (f'{probes} /pid == {pid}/ {{ @growths[reg("{type_register}")] = count(); }}\n'
              f"uprobe:{binary}:runtime.morestack.abi0 /pid == {pid}/ "
              '{ @stacks[ustack(12)] = count(); @reentry[*uptr((uint64 *)reg("sp"))] = '
              "count(); }")
    return Child.start([bpftrace, "-e", script])


def interrupt(checker: Child, timeout: float = 120) -> str:
    """Stop bpftrace with SIGINT; its whole stdout (the maps).

    The signal is repeated until bpftrace exits: bpftrace 0.17 acts on an exit signal only when
    it interrupts its epoll_wait, and one that arrives between two waits (bpftrace runnable but
    not running, on a busy machine) is noted and never looked at again: it then polls on for
    ever (4 times in about 50 runs under load)."""
    deadline = time.monotonic() + timeout
    while checker.proc.poll() is None and time.monotonic() < deadline:
        checker.proc.send_signal(signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            checker.proc.wait(timeout=1)
    return checker.finish(timeout=max(1.0, deadline - time.monotonic()))


def reentries(output: str, binary: Path) -> int:
    """Stack growths asked for by a growth function's own prologue."""
    go_binary = read_binary(binary)
    ranges = [(f.address, f.address + f.size) for name in growth_functions(binary)
              if (f := go_binary.function(name)) is not None]
    return sum(int(count) for address, count in re.findall(r"^@reentry\[(\d+)\]: (\d+)$",
                                                           output, re.M)
               if any(lo <= int(address) < hi for lo, hi in ranges))


def stacks_through(output: str, table: str, binary: Path, functions: list[str]) -> int:
    """The count of bpftrace's `@table[ustack]` entries whose stack passes through one of
    `functions` (bpftrace prints Go frames as addresses, or as names when it can)."""
    go_binary = read_binary(binary)
    ranges = [(f.address, f.address + f.size) for name in functions
              if (f := go_binary.function(name)) is not None]
    count = 0
    for block, hits in re.findall(rf"@{table}\[(.*?)\]: (\d+)", output, re.S):
        frames = block.split()
        addresses = [int(f, 16) for f in frames if re.fullmatch(r"0x[0-9a-f]+", f)]
        if any(lo <= a < hi for a in addresses for lo, hi in ranges) or \
                any(f.startswith(tuple(functions)) for f in frames):
            count += int(hits)
    return count


# --- the bars ------------------------------------------------------------------------------


@pytest.mark.parametrize(("toolchain", "rule", "type_register"),
                         [("growth_127", swiss_growths, "bx"), ("growth_119", hmap_growths, "ax")])
def test_growths_counted_equal_what_the_program_caused(
        toolchain: str, rule: Any, type_register: str, request: pytest.FixtureRequest,
        bpftrace: str) -> None:
    binary: Path = request.getfixturevalue(toolchain)
    expected = MAPS * rule(ENTRIES)
    assert expected == 10_000
    with children() as started:
        target = program(binary, "-maps", str(MAPS), "-n", str(ENTRIES), "-pause", "1ms")
        started.append(target)
        checker = reference(bpftrace, binary, target.proc.pid, type_register)
        started.append(checker)
        checker.wait_for(r"Attaching \d+ probes")
        traced = mapguard("--pid", str(target.proc.pid), "--format", "json", "--budget", "1000")
        started.append(traced)
        traced.wait_for("functions timed")
        go_ahead(target)
        program_out = target.finish()
        document = json.loads(traced.finish())
        bpftrace_out = interrupt(checker)

    # The program ran to its end, correctly, under probing.
    assert target.proc.returncode == 0, "".join(target.err_lines)
    assert program_out.split() == ["done", str(MAPS), str(MAPS * ENTRIES)]
    assert not re.search(r"unknown caller pc|fatal error|SIGILL|SIGSEGV",
                         "".join(target.err_lines))
    # The rule, checked by bpftrace's own count of entries for the program's map type (the
    # runtime may grow a map of its own meanwhile: the GC's sweeper does in Go 1.19).
    by_type = [int(n) for n in re.findall(r"^@growths\[\d+\]: (\d+)$", bpftrace_out, re.M)]
    assert max(by_type) - reentries(bpftrace_out, binary) == expected, bpftrace_out[:3000]
    # mapguard: every growth, timed, at the program's insert line; nothing lost.
    assert document["ended_by"] == "target exited"
    cost = document["cost"]
    assert (cost["lost_samples"], cost["unmatched_hits"]) == (0, 0)
    top = document["growth"][0]
    assert top["site"] == INSERT_SITE
    assert top["function"] == "main.fill"
    assert top["count"] == expected
    assert sum(site["count"] for site in document["growth"]) == expected
    assert 0 < top["seconds"]["p50"] <= top["seconds"]["p99"] <= top["seconds"]["max"]
    # Stack growth did happen inside the probed functions (where uretprobes crash Go).
    if toolchain == "growth_127":
        assert stacks_through(bpftrace_out, "stacks", binary, growth_functions(binary)) > 0, \
            bpftrace_out[:3000]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_detaches_every_probe_and_reports(growth_127: Path, signum: int) -> None:
    with children() as started:
        target = program(growth_127, "-maps", "100000000", "-n", "200", "-pause", "2ms")
        started.append(target)
        go_ahead(target)
        traced = mapguard("--pid", str(target.proc.pid), "--format", "json")
        started.append(traced)
        traced.wait_for("functions timed")
        time.sleep(2.5)
        traced.proc.send_signal(signum)
        document = json.loads(traced.finish(timeout=60))
        events = Path("/sys/kernel/tracing/uprobe_events")
        left = [line for line in events.read_text().splitlines()
                if f"mapguard_{traced.proc.pid}_" in line]
        time.sleep(0.5)
        assert target.proc.poll() is None, "the target must outlive the tracer"
    assert traced.proc.returncode == 0, "".join(traced.err_lines)
    assert document["ended_by"] == signal.Signals(signum).name
    assert left == []
    assert document["growth"][0]["site"] == INSERT_SITE
    assert document["growth"][0]["count"] > 0


def test_binary_traces_processes_started_later_for_a_duration(growth_127: Path,
                                                             tmp_path: Path) -> None:
    # A copy of its own: --binary traces every process of that file, other tests' too.
    binary = tmp_path / "growth"
    shutil.copy2(growth_127, binary)
    with children() as started:
        traced = mapguard("--binary", str(binary), "--duration", "6s", "--format", "json",
                          "--budget", "1000")
        started.append(traced)
        traced.wait_for("functions timed")
        runs = []
        for maps in (30, 20):
            target = program(binary, "-maps", str(maps), "-n", "100")
            started.append(target)
            go_ahead(target)
            target.finish()
            runs.append(target.proc.pid)
        document = json.loads(traced.finish())
    assert document["ended_by"] == "duration"
    assert 6 <= document["seconds"] < 60
    assert set(runs) <= set(document["target"]["processes"])
    top = document["growth"][0]
    assert (top["site"], top["count"]) == (INSERT_SITE, 50 * swiss_growths(100))


def test_export_serves_growth_per_site(growth_127: Path) -> None:
    with children() as started:
        target = program(growth_127, "-maps", "100000000", "-n", "100", "-pause", "5ms")
        started.append(target)
        go_ahead(target)
        traced = mapguard("--pid", str(target.proc.pid), "--export", "127.0.0.1:0",
                          "--top-sites", "1")
        started.append(traced)
        port = re.search(r":(\d+)/metrics", traced.wait_for(r"metrics on http"))
        assert port is not None
        url = f"http://127.0.0.1:{port.group(1)}/metrics"
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline:
            text = httpx.get(url, timeout=10).text
            if f'site="{INSERT_SITE}"' in text:
                break
            time.sleep(0.5)
        traced.proc.send_signal(signal.SIGTERM)
        traced.finish()
    counts = dict(re.findall(r'^mapguard_map_growth_total\{site="([^"]+)",target="[^"]+"\} '
                             r"(\S+)$", text, re.M))
    assert float(counts[INSERT_SITE]) > 0
    # --top-sites 1: every other site (the runtime's own maps, flag parsing) is `other`.
    assert set(counts) <= {INSERT_SITE, "other"}
    assert re.search(r'^mapguard_map_growth_seconds_bucket\{le="\+Inf",site="'
                     + re.escape(INSERT_SITE), text, re.M)
    assert re.search(r"^mapguard_ebpf_overhead_ratio\{", text, re.M)


def test_ops_are_counted_then_dropped_over_the_budget(growth_127: Path) -> None:
    with children() as started:
        target = program(growth_127, "-maps", "1500", "-n", "896", "-pause", "2ms")
        started.append(target)
        # A budget no probe fits in: the op probes go first, then growth is sampled.
        traced = mapguard("--pid", str(target.proc.pid), "--format", "json", "--ops",
                          "--budget", "0.01")
        started.append(traced)
        traced.wait_for("functions timed")
        go_ahead(target)
        target.finish()
        document = json.loads(traced.finish())
    assert target.proc.returncode == 0
    ops = document["ops"]
    assert ops["totals"]["assign"] >= 1  # counted until dropped
    assert document["cost"]["ops_dropped"] is True
    assert any("op probes detached" in note for note in document["notes"])
    assert document["cost"]["growth_sampled_fraction"] < 1
    stderr = "".join(traced.err_lines)
    assert "op probes detached" in stderr
    assert "growth probes cost" in stderr and "counts are of those intervals" in stderr


def test_ops_count_every_assign_within_budget_and_clears_are_timed(growth_127: Path) -> None:
    maps = 100
    with children() as started:
        target = program(growth_127, "-maps", str(maps), "-n", "896", "-pause", "2ms",
                         "-clear")
        started.append(target)
        traced = mapguard("--pid", str(target.proc.pid), "--format", "json", "--ops",
                          "--budget", "1000")
        started.append(traced)
        traced.wait_for("functions timed")
        go_ahead(target)
        target.finish()
        document = json.loads(traced.finish())
    ops = document["ops"]
    assert document["cost"]["ops_dropped"] is False
    assert ops["totals"]["assign"] >= maps * 896  # every insert, plus the runtime's own
    top = ops["sites"][0]
    assert (top["site"], top["op"]) == (INSERT_SITE, "assign")
    # The delete loop compiles to one runtime clear per map, timed at its line.
    clears = document["clear"]
    assert [(c["line"], c["count"], c["kinds"]) for c in clears] == [
        (CLEAR_LINE, maps, {"clear": maps})]
    assert clears[0]["seconds"]["max"] > 0


# --- errors: one line, exit 2 ------------------------------------------------------------


def run_mapguard(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mapguard.cli", "ebpf", *args],
                          capture_output=True, text=True, timeout=120, **kwargs)


def one_line_error(proc: subprocess.CompletedProcess[str], pattern: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(pattern, lines[0]), proc.stderr
    assert "Traceback" not in proc.stderr


def test_errors_for_pids_and_binaries(tmp_path: Path, stripped_127: Path,
                                      growth_127: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    one_line_error(run_mapguard("--pid", str(gone.pid)), rf"--pid {gone.pid}: no such process")
    with children() as started:
        not_go = Child.start([sys.executable, "-c", "import time; time.sleep(60)"])
        started.append(not_go)
        one_line_error(run_mapguard("--pid", str(not_go.proc.pid)), "no Go build info")
    one_line_error(run_mapguard("--binary", str(stripped_127)), "is stripped")
    one_line_error(run_mapguard("--binary", str(tmp_path)), "is a directory")
    one_line_error(run_mapguard("--binary", str(tmp_path / "no" / "server")), "no such file")
    junk = tmp_path / "junk"
    junk.write_bytes(b"\xff\xfe\x80 not utf-8, not ELF")
    one_line_error(run_mapguard("--binary", str(junk)), "not an ELF executable")
    # Build info of Go 1.17 and older has another layout: mapguard says so.
    old = tmp_path / "old"
    data = bytearray(growth_127.read_bytes())
    magic = data.index(b"\xff Go buildinf:")
    data[magic + 15] &= ~0x2
    old.write_bytes(bytes(data))
    one_line_error(run_mapguard("--binary", str(old)), "Go 1.17 or older")


def test_an_unprivileged_user_is_told_it_needs_root(growth_127: Path, nobody: int) -> None:
    one_line_error(run_mapguard("--binary", str(growth_127), user=nobody, group=nobody),
                   "needs root")


def test_growth_stalls_saved_in_a_bundle_are_diagnosed(growth_127: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """`--bundle` keeps the stalls by site; `mapguard diagnose` follows them to the `make`."""
    from mapguard.cli import main

    bundle = tmp_path / "bundle"
    with children() as started:
        target = program(growth_127, "-maps", "100000000", "-n", "896", "-pause", "1ms")
        started.append(target)
        go_ahead(target)
        traced = mapguard("--pid", str(target.proc.pid), "--format", "json", "--duration",
                          "4s", "--budget", "1000", "--bundle", str(bundle), "--label", "growth")
        started.append(traced)
        traced.finish(timeout=120)
    assert traced.proc.returncode == 0, "".join(traced.err_lines)
    assert (bundle / "ebpf" / "growth.json").is_file()
    assert main(["diagnose", "--bundle", str(bundle), "--source", str(FIXTURE), "--format",
                 "json", "--threshold", "0.1%"]) == 1
    (diagnosis,) = json.loads(capsys.readouterr().out)["diagnoses"]
    first = diagnosis["causes"][0]
    make_line = next(number for number, line in enumerate(
        (FIXTURE / "main.go").read_text().splitlines(), 1)
        if line.strip() == "m = make(map[int64]int)")
    assert first["cause"] == "map-growth-stalls"
    assert first["site"]["line"] == make_line  # where a size hint would go
    assert first["cost"]["resource"] == "growth stall time" and first["cost"]["value"] > 0
    assert any(e["kind"] == "ebpf" for e in first["evidence"])
