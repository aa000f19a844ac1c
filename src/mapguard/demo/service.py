"""riskd, the demo service: built from the package's sources, run on a free loopback port,
always stopped.

Both measuring stages use it: the evidence stage runs riskd profiled (`memprofilerate=1`), the
latency stage unprofiled; each says which GODEBUG settings it adds to the GC trace.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mapguard.errors import ToolError
from mapguard.evidence.gcrun import godebug_with_gctrace
from mapguard.gotool import GoToolchain, run_go

VERSIONS = ("before", "after")
BUILD_TIMEOUT_S = 300.0
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
_LISTENING = re.compile(r"riskd listening on (\S+)")


def build(module: Path, workdir: Path, toolchain: GoToolchain) -> tuple[Path, Path]:
    """riskd and its load generator, built into `workdir` (the module directory is only read)."""
    binaries = workdir / "bin"
    binaries.mkdir()
    proc = run_go(["build", "-o", str(binaries) + os.sep, ".", "./cmd/load"], cwd=module,
                  env={"GOTOOLCHAIN": "local"}, timeout=BUILD_TIMEOUT_S, toolchain=toolchain)
    if proc.returncode != 0:
        detail = "; ".join(proc.stderr.strip().splitlines()[:3])
        raise ToolError(f"go build in {module} failed: {detail}")
    return binaries / "riskd", binaries / "load"


class Service:
    """A running riskd: its base URL, and how it ended once stopped."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, stderr: Path) -> None:
        self.process = process
        self.url = url
        self.stderr = stderr  # the GC trace, and a crash's last words
        self.exit_status = 0

    def check_alive(self) -> None:
        status = self.process.poll()
        if status is not None:
            raise ToolError(f"riskd exited with status {status}: {self.last_words()}")

    def last_words(self) -> str:
        """The first line of a crash (`fatal error: …`, `panic: …`), else the last line."""
        lines = [line for line in read_text(self.stderr).splitlines()
                 if line and not line.startswith("gc ")]
        fatal = [line for line in lines if line.startswith(("fatal error", "panic"))]
        return (fatal or lines or ["no output"])[0 if fatal else -1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        self.exit_status = self.process.returncode


@contextmanager
def running_service(binary: Path, workdir: Path, *, godebug_extra: str = "",
                    args: Sequence[str] = ()) -> Iterator[Service]:
    """riskd on a free loopback port with GODEBUG=gctrace=1 (plus `godebug_extra`), stderr
    (the GC trace) to `workdir/riskd.stderr`; stopped with SIGTERM on the way out, whatever
    happened."""
    env = dict(os.environ)
    godebug = godebug_with_gctrace(env.get("GODEBUG"))
    env["GODEBUG"] = f"{godebug},{godebug_extra}" if godebug_extra else godebug
    stdout_path, stderr_path = workdir / "riskd.stdout", workdir / "riskd.stderr"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        try:
            process = subprocess.Popen([str(binary), "-addr", "127.0.0.1:0", *args],
                                       stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL,
                                       env=env)
        except OSError as exc:
            raise ToolError(f"cannot run {binary}: {exc.strerror or exc}") from exc
    service = Service(process, "", stderr_path)
    try:
        service.url = "http://" + _wait_listening(service, stdout_path)
        yield service
    finally:
        service.stop()


def _wait_listening(service: Service, stdout: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = _LISTENING.search(read_text(stdout))
        if found:
            return found.group(1)
        service.check_alive()
        time.sleep(0.02)
    raise ToolError(f"riskd did not print its address within {START_TIMEOUT_S:.0f} s")


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
