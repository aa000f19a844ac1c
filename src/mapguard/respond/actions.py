"""Running an action's step: a command, an HTTP call, or `kubectl scale`.

`prepare` renders the step for one alert (pure; raises TemplateRefused), `execute` runs it:

- commands get an argument list (no shell), a filtered environment, stdin from /dev/null,
  their own process group (a timeout stops the program and everything it started), and a
  timeout; stdout and stderr are captured together and kept up to a cap;
- HTTP calls send the JSON body built from the alert (escaped by `json.dumps`), follow no
  redirects, and keep the response up to the same cap; a 2xx status is success;
- `scale` is `kubectl --kubeconfig=... scale KIND/NAME --replicas=N`, a command like any other,
  with the object's name and namespace checked as Kubernetes names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from mapguard.respond.config import KUBE_NAME, Command, HttpCall, Scale, Step
from mapguard.respond.payload import Alert
from mapguard.respond.templates import context, render_argument, render_json, render_name

STOP_GRACE_SECONDS = 5.0  # between SIGTERM and SIGKILL when a command overruns
_READ_CHUNK = 64 << 10


@dataclass(frozen=True, slots=True)
class Prepared:
    """A step rendered for one alert: what runs, exactly."""

    argv: tuple[str, ...] | None
    http: HttpCall | None
    body: bytes | None
    timeout: float

    def describe(self) -> dict[str, Any]:
        """For the audit log (authorization headers left out)."""
        if self.argv is not None:
            return {"argv": list(self.argv), "timeout": self.timeout}
        assert self.http is not None
        return {
            "method": self.http.method, "url": self.http.url,
            "headers": {k: ("<redacted>" if k.lower() == "authorization" else v)
                        for k, v in self.http.headers.items()},
            "json": json.loads(self.body) if self.body is not None else None,
            "timeout": self.timeout,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: str  # ok, failed, timeout, error
    exit_status: int | None
    output: str
    truncated: bool
    seconds: float


def prepare(step: Step, alert: Alert) -> Prepared:
    values = context(alert)
    timeout = float(step.timeout.seconds)
    what = step.what
    if isinstance(what, Command):
        argv = (what.program, *(render_argument(arg, values) for arg in what.arguments))
        return Prepared(argv, None, None, timeout)
    if isinstance(what, Scale):
        return Prepared(_scale_argv(what, values), None, None, timeout)
    body = None if what.body is None else json.dumps(render_json(what.body, values)).encode()
    return Prepared(None, what, body, timeout)


def _scale_argv(scale: Scale, values: Mapping[str, Any]) -> tuple[str, ...]:
    name = render_name(scale.name, values, pattern=KUBE_NAME, what="a Kubernetes object name")
    argv = [scale.kubectl, f"--kubeconfig={scale.kubeconfig}"]
    if scale.context is not None:
        argv.append(f"--context={scale.context}")
    if scale.namespace is not None:
        namespace = render_name(scale.namespace, values, pattern=KUBE_NAME,
                                what="a Kubernetes namespace")
        argv.append(f"--namespace={namespace}")
    return (*argv, "scale", f"{scale.kind}/{name}", f"--replicas={scale.replicas}")


async def execute(prepared: Prepared, *, environment: Mapping[str, str], cwd: str,
                  max_output: int) -> Outcome:
    started = time.monotonic()
    if prepared.argv is not None:
        outcome, status, output, truncated = await _run_command(
            prepared.argv, environment, cwd, prepared.timeout, max_output)
    else:
        outcome, status, output, truncated = await _call(prepared, max_output)
    text = output.decode("utf-8", errors="replace")
    return Outcome(outcome, status, text, truncated, time.monotonic() - started)


class _Capture:
    """Keeps the first `limit` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kept = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit - len(self.kept)
        if room > 0:
            self.kept += chunk[:room]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.kept)


async def _run_command(argv: tuple[str, ...], environment: Mapping[str, str], cwd: str,
                       timeout: float, max_output: int) -> tuple[str, int | None, bytes, bool]:
    capture = _Capture(max_output)
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env=dict(environment), cwd=cwd,
            start_new_session=True,
        )
    except OSError as exc:
        return "error", None, f"cannot start {argv[0]}: {exc.strerror}".encode(), False
    assert process.stdout is not None
    stdout = process.stdout

    async def drain() -> None:
        while chunk := await stdout.read(_READ_CHUNK):
            capture.add(chunk)

    try:
        await asyncio.wait_for(asyncio.gather(drain(), process.wait()), timeout)
    except TimeoutError:
        await _stop(process)
        note = f"\n[mapguard respond: stopped after the {timeout:.0f} s timeout]".encode()
        return "timeout", process.returncode, bytes(capture.kept) + note, capture.truncated
    except asyncio.CancelledError:
        await asyncio.shield(_stop(process))
        raise
    status = process.returncode
    return ("ok" if status == 0 else "failed"), status, bytes(capture.kept), capture.truncated


async def _stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM to the command's process group, SIGKILL after a grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
            return
        except TimeoutError:
            continue


async def _call(prepared: Prepared, max_output: int) -> tuple[str, int | None, bytes, bool]:
    http = prepared.http
    assert http is not None
    capture = _Capture(max_output)
    headers = dict(http.headers)
    if prepared.body is not None:
        headers.setdefault("Content-Type", "application/json")

    async def call() -> int:
        async with httpx.AsyncClient(timeout=prepared.timeout, follow_redirects=False,
                                     trust_env=False) as client, \
                client.stream(http.method, http.url, headers=headers,
                              content=prepared.body) as response:
            async for chunk in response.aiter_bytes():
                capture.add(chunk)
                if capture.truncated:
                    break
            return response.status_code

    try:
        status = await asyncio.wait_for(call(), prepared.timeout)
    except TimeoutError:
        return "timeout", None, f"no answer within {prepared.timeout:.0f} s".encode(), False
    except httpx.HTTPError as exc:
        return "error", None, f"{type(exc).__name__}: {exc}".encode(), False
    outcome = "ok" if 200 <= status < 300 else "failed"
    return outcome, status, bytes(capture.kept), capture.truncated
