"""Test servers for the load and chaos tests: the Go stall server (tests/fixtures/stallserver),
built once per session, started on a free loopback port and always stopped."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mapguard.gotool import GoToolchain, run_go

STALL_SERVER = Path(__file__).parent.parent / "fixtures" / "stallserver"
_LISTENING = re.compile(r"listening on (\S+)")


def build_stall_server(toolchain: GoToolchain, directory: Path) -> Path:
    binary = directory / "stallserver"
    proc = run_go(["build", "-o", str(binary), "."], cwd=STALL_SERVER, toolchain=toolchain,
                  env={"GOTOOLCHAIN": "local"}, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return binary


@contextmanager
def serving(binary: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The server running; yields (process, base URL); killed on the way out."""
    process = subprocess.Popen([str(binary), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        found = _LISTENING.search(process.stdout.readline())
        assert found, "the test server did not start"
        yield process, f"http://{found.group(1)}"
    finally:
        process.kill()
        process.wait(timeout=30)


def interruptible() -> None:
    """Popen's preexec_fn for a child the test will Ctrl-C: a shell starts background jobs with
    SIGINT ignored, and an ignored signal stays ignored across exec; this gives the child the
    default back, so that Python turns SIGINT into KeyboardInterrupt as at a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
