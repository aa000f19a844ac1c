"""The webhook receiver: from an HTTP request to audited decisions and runs.

A request is checked in this order, and the first failure refuses it whole (nothing is
decided, nothing runs; the refusal is audited):

1. the bearer token, when one is configured (401) — before the body is read;
   without a token (loopback only) the Host header must name a loopback address (403), so a
   web page cannot reach the receiver through DNS rebinding;
2. `Content-Type: application/json` (415): a browser cannot send that cross-origin without a
   preflight the receiver never grants, so a web page cannot post alerts to it either;
3. the size cap (413), from Content-Length and again while reading, and a time limit for the
   body to arrive (408);
4. Alertmanager's webhook payload version 4 (400).

Then `Responder.handle` takes the decisions for every alert × matching action (synchronously:
no other request interleaves between a check and its record) and starts the runs, which go on
after the response. SIGUSR1 engages the kill switch and SIGUSR2 releases it; SIGTERM and SIGINT
stop the receiver, giving running actions a grace period before they are stopped.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mapguard.clikit import counted
from mapguard.errors import InputError, UsageError
from mapguard.respond.actions import Prepared, execute, prepare
from mapguard.respond.audit import AuditLog, Entry
from mapguard.respond.config import Action, Mode, RespondConfig, is_loopback
from mapguard.respond.guardrails import Decision, Receiver, StepKind, Verdict, decide
from mapguard.respond.payload import Alert, Notification, Status, parse_notification
from mapguard.respond.templates import TemplateRefused

SHUTDOWN_GRACE_SECONDS = 10.0
BODY_TIMEOUT_SECONDS = 10.0  # a client that trickles its body holds a connection, not more
REJECTIONS_AUDITED_PER_MINUTE = 60  # a flood of bad requests must not fill the disk
MAX_REASON = 300  # characters of a refused request's reason kept


def printable(text: str) -> str:
    """Text from the network, safe to print on one log line."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def describe(alert: Alert) -> str:
    shown = [f'{k}="{v}"' for k, v in alert.labels.items()
             if k in {"target", "site", "severity", "mapguard_guard", "mapguard_tier",
                      "sloth_severity", "mapguard_slo_id", "sloth_id"}]
    return printable(f"{alert.name}{{{', '.join(shown)}}} {alert.fingerprint}")


def say(message: str) -> None:
    print(f"mapguard respond: {message}", file=sys.stderr, flush=True)


@dataclass
class _RejectionBudget:
    """How many refused requests may still be audited this minute."""

    minute: int = -1
    used: int = 0
    dropped: int = 0

    def take(self, now: float) -> tuple[bool, int]:
        """(audit this one?, how many went unaudited in the minute before)."""
        minute = int(now // 60)
        dropped_before = 0
        if minute != self.minute:
            dropped_before, self.minute, self.used, self.dropped = self.dropped, minute, 0, 0
        if self.used >= REJECTIONS_AUDITED_PER_MINUTE:
            self.dropped += 1
            return False, dropped_before
        self.used += 1
        return True, dropped_before


@dataclass
class Responder:
    """Decisions, runs and the kill switch; knows nothing about HTTP."""

    config: RespondConfig
    audit: AuditLog
    clock: Callable[[], float] = time.time
    log: Callable[[str], None] = say
    signalled: bool = False
    pending: int = 0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    rejections: _RejectionBudget = field(default_factory=_RejectionBudget)
    _slots: asyncio.Semaphore | None = None

    @property
    def mode(self) -> Mode:
        return self.config.mode

    def kill_switch(self) -> str | None:
        if self.signalled:
            return "SIGUSR1"
        switch = self.config.kill_switch_file
        if switch is not None and switch.exists():
            return f"{switch} exists"
        return None

    def engage(self, engaged: bool) -> None:
        self.signalled = engaged
        self.log("kill switch engaged by SIGUSR1: no action starts until SIGUSR2" if engaged
                 else "kill switch released by SIGUSR2"
                 + (f" (still engaged: {self.kill_switch()})" if self.kill_switch() else ""))

    def reject(self, remote: str, status: int, reason: str) -> None:
        # The reason may quote the request (a label name in a field path): keep it short.
        reason = reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 3] + "..."
        now = self.clock()
        audited, dropped = self.rejections.take(now)
        if dropped:
            self.audit.record(Entry(now, str(self.mode), str(Decision.REJECTED),
                                    f"{dropped} more rejected requests in the minute before "
                                    "were not audited one by one"))
        if audited:
            self.audit.record(Entry(now, str(self.mode), str(Decision.REJECTED),
                                    f"{status}: {reason}", remote=remote))
            self.log(f"rejected a request from {remote}: {status} {printable(reason)}")

    def handle(self, notification: Notification, remote: str) -> list[Entry]:
        now = self.clock()
        kill = self.kill_switch()
        entries = []
        for alert in notification.alerts:
            matched = [a for a in self.config.actions if a.matches(alert.labels)]
            if not matched:
                entries += self._unmatched(alert, remote, now)
            for action in matched:
                entry = self._decide(action, alert, remote, now, kill)
                if entry is not None:
                    entries.append(entry)
        return entries

    def _unmatched(self, alert: Alert, remote: str, now: float) -> list[Entry]:
        if self.audit.seen(alert.firing_id, str(alert.status), Decision.NO_ACTION, self.mode):
            return []
        entry = Entry(now, str(self.mode), str(Decision.NO_ACTION), "no action matches",
                      alertname=alert.name, firing=alert.firing_id,
                      alert_status=str(alert.status), labels=alert.labels, remote=remote)
        self.audit.record(entry)
        self.log(f"no action matches {describe(alert)} ({alert.status})")
        return [entry]

    def _decide(self, action: Action, alert: Alert, remote: str, now: float,
                kill: str | None) -> Entry | None:
        kind = StepKind.FIRE if alert.status is Status.FIRING else StepKind.RESOLVE
        step = action.fire if kind is StepKind.FIRE else action.on_resolve
        if step is None:
            return None  # resolved, and the action undoes nothing
        history = self.audit.history(action.name, kind, alert.firing_id, self.mode, now=now,
                                     window_seconds=action.max_runs_window.seconds)
        receiver = Receiver(self.mode, kill, self.pending, self.config.max_concurrent,
                            self.config.max_queued)
        verdict = decide(action, kind, history, receiver, now)
        prepared = None
        if verdict.runs:
            try:
                prepared = prepare(step, alert)
            except TemplateRefused as exc:
                verdict = Verdict(Decision.REFUSED, str(exc))
        entry = Entry(
            now, str(self.mode), str(verdict.decision), verdict.reason, action=action.name,
            step=str(kind), alertname=alert.name, firing=alert.firing_id,
            alert_status=str(alert.status), labels=alert.labels, remote=remote,
            request=prepared.describe() if prepared is not None else None,
            outcome="queued" if verdict.decision is Decision.RAN else None,
        )
        entry_id = self.audit.record(entry)
        self.log(f"{verdict.decision}: {action.name} ({kind}) for {describe(alert)}: "
                 f"{printable(verdict.reason)}")
        if verdict.decision is Decision.RAN and prepared is not None:
            self._start(entry_id, action, kind, alert, prepared)
        return entry

    def _start(self, entry_id: int, action: Action, kind: StepKind, alert: Alert,
               prepared: Prepared) -> None:
        self.pending += 1
        task = asyncio.get_running_loop().create_task(
            self._run(entry_id, action, kind, alert, prepared))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, entry_id: int, action: Action, kind: StepKind, alert: Alert,
                   prepared: Prepared) -> None:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.config.max_concurrent)
        name = f"{action.name} ({kind}) for {describe(alert)}"
        try:
            async with self._slots:
                kill = self.kill_switch()
                if kill is not None:
                    self.audit.set_outcome(entry_id, "cancelled", finished_at=self.clock(),
                                           output=f"kill switch engaged before it started "
                                                  f"({kill})")
                    self.log(f"cancelled {name}: kill switch engaged ({kill})")
                    return
                self.audit.set_outcome(entry_id, "running")
                environment = {**self.config.environment,
                               "MAPGUARD_RESPOND_ACTION": action.name,
                               "MAPGUARD_RESPOND_STEP": str(kind),
                               "MAPGUARD_RESPOND_FINGERPRINT": alert.fingerprint}
                outcome = await execute(prepared, environment=environment,
                                        cwd=self.config.workdir,
                                        max_output=self.config.max_output_bytes)
        except asyncio.CancelledError:
            self.audit.set_outcome(entry_id, "cancelled", finished_at=self.clock(),
                                   output="mapguard respond stopped while it ran")
            raise
        finally:
            self.pending -= 1
        self.audit.set_outcome(entry_id, outcome.outcome, exit_status=outcome.exit_status,
                               output=outcome.output, truncated=outcome.truncated,
                               finished_at=self.clock())
        status = "" if outcome.exit_status is None else f" (status {outcome.exit_status})"
        self.log(f"{outcome.outcome}{status}: {name} in {outcome.seconds:.2f} s")

    async def finish(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Wait for running actions up to `grace` seconds, then stop them."""
        if not self.tasks:
            return
        self.log(f"waiting up to {grace:.0f} s for {len(self.tasks)} running actions")
        _done, running = await asyncio.wait(set(self.tasks), timeout=grace)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running)


def _loopback_host(host: str | None) -> bool:
    """Whether a Host header (`name`, `name:port`, `[v6]:port`) names a loopback address."""
    if not host:
        return False
    bracketed = host.startswith("[")  # [::1]:9466
    return is_loopback(host[1:].partition("]")[0] if bracketed else host.partition(":")[0])


def make_app(responder: Responder) -> web.Application:
    config = responder.config
    expected = f"Bearer {config.token}".encode() if config.token is not None else None

    async def webhook(request: web.Request) -> web.Response:
        remote = request.remote or "unknown"

        def refuse(status: int, reason: str, **headers: str) -> web.Response:
            responder.reject(remote, status, reason)
            return web.json_response({"status": "refused", "reason": reason}, status=status,
                                     headers=headers)

        if expected is not None:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return refuse(401, "missing or wrong bearer token",
                              **{"WWW-Authenticate": "Bearer"})
        elif not _loopback_host(request.headers.get("Host")):
            return refuse(403, f"Host {request.headers.get('Host')!r} is not a loopback "
                          "address (configure token_file to accept other names)")
        if request.content_type != "application/json":
            return refuse(415, f"Content-Type {request.content_type!r}, expected "
                          "application/json")
        length = request.content_length
        if length is not None and length > config.max_request_bytes:
            return refuse(413, f"{length} bytes, more than max_request_bytes "
                          f"{config.max_request_bytes}")
        try:
            body = await asyncio.wait_for(request.read(), BODY_TIMEOUT_SECONDS)
        except web.HTTPRequestEntityTooLarge:
            return refuse(413, f"more than max_request_bytes {config.max_request_bytes}")
        except TimeoutError:
            return refuse(408, f"the body did not arrive within {BODY_TIMEOUT_SECONDS:g} s")
        try:
            notification = parse_notification(body, f"request from {remote}")
        except InputError as exc:
            return refuse(400, str(exc))
        entries = responder.handle(notification, remote)
        return web.json_response({"status": "ok", "decisions": [
            {"action": e.action, "alert": e.alertname, "step": e.step,
             "decision": e.decision} for e in entries]})

    async def healthy(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "mode": str(config.mode),
                                  "kill_switch": responder.kill_switch()})

    app = web.Application(client_max_size=config.max_request_bytes)
    app.router.add_post(config.path, webhook)
    app.router.add_get("/-/healthy", healthy)
    return app


async def serve(config: RespondConfig, audit: AuditLog,
                ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT."""
    responder = Responder(config, audit)
    abandoned = audit.abandon_unfinished(time.time())
    if abandoned:
        say(f"{abandoned} runs of an earlier receiver never finished: marked abandoned")
    runner = web.AppRunner(make_app(responder), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, config.listen.host, config.listen.port, ssl_context=config.tls)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        # aiohttp rewords the error; the errno says it plainly.
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise UsageError(f"cannot listen on {config.listen}: {reason}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, responder.engage, True)
    loop.add_signal_handler(signal.SIGUSR2, responder.engage, False)
    url = _url("https" if config.tls else "http", runner.addresses[0], config.path)
    say(f"listening on {url} ({config.mode}; {counted(len(config.actions), 'action')}; "
        f"audit {config.audit_path}"
        + (f"; kill switch file {config.kill_switch_file}" if config.kill_switch_file else "")
        + ")")
    if ready is not None:
        ready(url)
    try:
        await stop.wait()
    finally:
        say("stopping")
        await runner.cleanup()
        await responder.finish()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2):
            loop.remove_signal_handler(sig)


def _url(scheme: str, address: Any, path: str) -> str:
    host, port = address[0], address[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}{path}"
