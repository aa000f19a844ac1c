"""Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: fd 3
carries commands to the browser, fd 4 its answers, NUL-separated JSON), so no websocket
library and no port are needed. Records what a page logs, throws and requests."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.realparts import require_executable

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--mute-audio", "--remote-debugging-pipe")
TIMEOUT_S = 60.0


@dataclass
class PageVisit:
    load_seconds: float
    console: list[dict[str, Any]] = field(default_factory=list)  # console API calls
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)  # browser log (CSP violations...)
    requests: list[str] = field(default_factory=list)  # URLs the page asked for

    @property
    def errors(self) -> list[str]:
        found = [json.dumps(entry) for entry in self.exceptions]
        found += [json.dumps(entry) for entry in self.console if entry.get("type") == "error"]
        found += [json.dumps(entry) for entry in self.log if entry.get("level") == "error"]
        return found


class Chromium:
    def __init__(self) -> None:
        binary = require_executable("chromium", "apt-get install chromium (dev.py installs it)")
        self.profile = tempfile.mkdtemp(prefix="mapguard-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        command = " ".join([binary, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"])
        # The shell puts the pipe ends on fds 3 and 4, where Chromium expects them.
        self.process = subprocess.Popen(
            ["bash", "-c", f"exec {command} 3<&{to_browser_r} 4>&{from_browser_w}"],
            pass_fds=(to_browser_r, from_browser_w), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)
        for fd in (self._to_browser, self._from_browser):
            os.close(fd)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- the protocol ---------------------------------------------------------------------

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        number = self._next_id
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == number:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer.get("result", {})
                return result
            self._events.append(answer)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT_S
        for index, event in enumerate(self._events):
            if event.get("method") == method and event.get("sessionId") == session:
                return self._events.pop(index)
        while True:
            event = self._read_message(deadline)
            if event.get("method") == method and event.get("sessionId") == session:
                return event
            self._events.append(event)

    # --- one page -------------------------------------------------------------------------

    def visit(self, path: Path, screenshot: Path | None = None,
              evaluate: dict[str, str] | None = None) -> tuple[PageVisit, dict[str, Any]]:
        """Open the file, wait for its load event, and return what it did; `evaluate` maps
        names to expressions evaluated in the loaded page."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session)
        self._events.clear()
        started = time.monotonic()
        self.call("Page.navigate", session, url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired", session)
        visit = PageVisit(time.monotonic() - started)
        self.call("Runtime.evaluate", session, expression="1")  # flush pending events
        for event in self._events:
            if event.get("sessionId") != session:
                continue
            params = event.get("params", {})
            method = event.get("method")
            if method == "Runtime.consoleAPICalled":
                visit.console.append(params)
            elif method == "Runtime.exceptionThrown":
                visit.exceptions.append(params)
            elif method == "Log.entryAdded":
                visit.log.append(params.get("entry", {}))
            elif method == "Network.requestWillBeSent":
                visit.requests.append(params.get("request", {}).get("url", ""))
        values = {}
        for name, expression in (evaluate or {}).items():
            result = self.call("Runtime.evaluate", session, expression=expression,
                               returnByValue=True)
            values[name] = result.get("result", {}).get("value")
        if screenshot is not None:
            data = self.call("Page.captureScreenshot", session, format="png",
                             captureBeyondViewport=True)["data"]
            screenshot.write_bytes(base64.b64decode(data))
        self.call("Target.closeTarget", targetId=target)
        return visit, values
