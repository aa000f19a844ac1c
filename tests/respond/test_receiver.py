"""The receiver in process (aiohttp's test server on loopback): request checks, guard rails,
and what the actions really do — commands, HTTP calls and `kubectl scale`."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from mapguard.respond import receiver
from mapguard.respond.audit import AuditLog, Entry
from mapguard.respond.config import RespondConfig, load_config
from mapguard.respond.receiver import REJECTIONS_AUDITED_PER_MINUTE, Responder, make_app

from .conftest import TOKEN, Trace, alert, notification

Write = Callable[..., Path]


class Harness:
    """A Responder behind aiohttp's test server, with its audit log."""

    def __init__(self, config: RespondConfig, clock: Callable[[], float] | None = None) -> None:
        self.config = config
        self.audit = AuditLog.open(config.audit_path)
        self.lines: list[str] = []
        self.responder = Responder(config, self.audit, log=self.lines.append)
        if clock is not None:
            self.responder.clock = clock
        self._client: TestClient[web.Request, web.Application] | None = None

    @property
    def client(self) -> TestClient[web.Request, web.Application]:
        assert self._client is not None, "start() first"
        return self._client

    async def start(self) -> None:
        # aiohttp's test client wants a running event loop.
        self._client = TestClient(TestServer(make_app(self.responder)))
        await self._client.start_server()

    async def post(self, document: Any = None, *, raw: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else json.dumps(document).encode()
        response = await self.client.post(
            self.config.path, data=data,
            headers={"Content-Type": "application/json", **(headers or {})})
        return response.status, await response.json()

    async def settle(self) -> None:
        """Wait for every run started so far."""
        while self.responder.tasks:
            await asyncio.gather(*self.responder.tasks)

    def entries(self) -> list[Entry]:
        log = AuditLog.open_for_reading(self.config.audit_path)
        try:
            return list(log.entries())
        finally:
            log.close()


def run(config: RespondConfig, scenario: Callable[[Harness], Awaitable[Any]],
        clock: Callable[[], float] | None = None) -> Harness:
    harness = Harness(config, clock)

    async def main() -> None:
        await harness.start()
        try:
            await scenario(harness)
            await harness.settle()
        finally:
            await harness.client.close()

    asyncio.run(main())
    harness.audit.close()
    return harness


def make_config(write_config: Write, actions: str, *, head: str = "mode: act\n",
                **kwargs: Any) -> RespondConfig:
    text = head + "audit: audit.sqlite\n" + "actions:\n" + actions
    return load_config(write_config(text), **kwargs)


def shed(recorder: Path, extra: str = "") -> str:
    return (f"  - name: shed\n    matchers: ['alertname=\"MapguardMapAllocSpike\"']\n"
            f'    command: ["{recorder}", fire, "--site={{{{ labels.site }}}}"]\n'
            f'    on_resolve: {{command: ["{recorder}", resolve,'
            f' "--site={{{{ labels.site }}}}"]}}\n'
            + extra)


def decisions(harness: Harness) -> list[tuple[str | None, str | None, str]]:
    return [(e.action, e.step, e.decision) for e in harness.entries()]


# --- the guard rails, end to end in the receiver ----------------------------------------------

def test_dry_run_is_the_default_and_runs_nothing(write_config: Write, recorder: Path,
                                                 trace: Trace) -> None:
    config = make_config(write_config, shed(recorder), head="")

    async def scenario(h: Harness) -> None:
        status, answer = await h.post(notification(alert(site="a")))
        assert status == 200
        assert answer["decisions"] == [{"action": "shed", "alert": "MapguardMapAllocSpike",
                                        "step": "fire", "decision": "dry-run"}]
        await h.post(notification(alert(site="a")))

    harness = run(config, scenario)
    assert trace.runs() == []
    first, second = harness.entries()
    assert (first.mode, first.decision) == ("dry-run", "dry-run")
    assert first.request == {"argv": [str(recorder), "fire", "--site=a"], "timeout": 30.0}
    assert second.decision == "duplicate"  # a dry run, too, is once per firing


def test_one_run_per_firing_across_repeats_and_restarts(write_config: Write, recorder: Path,
                                                        trace: Trace) -> None:
    config = make_config(write_config, shed(recorder, "    cooldown: 0s\n"))
    firing = notification(alert(site="a"))

    async def scenario(h: Harness) -> None:
        for _ in range(3):
            await h.post(firing)
            await h.settle()

    run(config, scenario)
    again = run(config, scenario)  # a restarted receiver remembers
    assert trace.argvs() == [["fire", "--site=a"]]
    assert [d[2] for d in decisions(again)] == ["ran"] + ["duplicate"] * 5
    ran = again.entries()[0]
    assert (ran.outcome, ran.exit_status, ran.output) == ("ok", 0, "recorded 2 arguments\n")

    async def refire(h: Harness) -> None:
        # Resolved, then firing again: a new firing (a later startsAt), a new run.
        await h.post(notification(alert("resolved", site="a")))
        await h.settle()
        await h.post(notification(alert(site="a", starts_at="2030-01-01T11:00:00Z")))

    run(config, refire)
    assert trace.argvs() == [["fire", "--site=a"], ["resolve", "--site=a"],
                             ["fire", "--site=a"]]


def test_cooldown_and_max_runs_per_action(write_config: Write, recorder: Path,
                                          trace: Trace) -> None:
    now = [1_000_000.0]
    config = make_config(write_config, shed(
        recorder, "    cooldown: 1m\n    max_runs: {count: 2, per: 1h}\n"))

    async def scenario(h: Harness) -> None:
        for index, advance in enumerate((0, 30, 31, 61, 61)):
            now[0] += advance
            await h.post(notification(alert(site=f"s{index}", fingerprint=f"{index:016x}")))
            await h.settle()

    harness = run(config, scenario, clock=lambda: now[0])
    assert [d[2] for d in decisions(harness)] == [
        "ran", "cooldown", "ran", "rate-limited", "rate-limited"]
    assert trace.argvs() == [["fire", "--site=s0"], ["fire", "--site=s2"]]
    reasons = [e.reason for e in harness.entries()]
    assert reasons[1] == "cooldown 1m: last run 30 s ago, 30 s left"
    assert reasons[3] == "2 runs within 1h (max_runs 2)"


def test_resolve_undoes_only_what_ran(write_config: Write, recorder: Path,
                                      trace: Trace) -> None:
    config = make_config(write_config, shed(recorder))

    async def scenario(h: Harness) -> None:
        await h.post(notification(alert(site="a"), alert(site="b", fingerprint="1" * 16)))
        await h.settle()
        await h.post(notification(alert("resolved", site="a"),
                                  alert("resolved", site="b", fingerprint="1" * 16)))
        await h.settle()
        await h.post(notification(alert("resolved", site="a")))  # repeated: once only

    harness = run(config, scenario)
    assert decisions(harness) == [
        ("shed", "fire", "ran"), ("shed", "fire", "cooldown"),
        ("shed", "resolve", "ran"), ("shed", "resolve", "not-fired"),
        ("shed", "resolve", "duplicate"),
    ]
    assert trace.argvs() == [["fire", "--site=a"], ["resolve", "--site=a"]]


def test_kill_switch_file_and_signal(write_config: Write, recorder: Path, trace: Trace,
                                     tmp_path: Path) -> None:
    switch = tmp_path / "respond.off"
    config = make_config(write_config, shed(recorder), head="mode: act\nkill_switch_file: "
                         "respond.off\n")

    async def scenario(h: Harness) -> None:
        switch.touch()
        await h.post(notification(alert(site="a")))
        switch.unlink()
        h.responder.engage(True)
        await h.post(notification(alert(site="a")))
        h.responder.engage(False)
        await h.post(notification(alert(site="a")))  # Alertmanager's repeat: now it runs

    harness = run(config, scenario)
    assert [(e.decision, e.reason) for e in harness.entries()] == [
        ("kill-switch", f"kill switch engaged ({switch} exists)"),
        ("kill-switch", "kill switch engaged (SIGUSR1)"),
        ("ran", "started"),
    ]
    assert trace.argvs() == [["fire", "--site=a"]]


def test_concurrency_queue_and_busy(write_config: Write, tmp_path: Path) -> None:
    slow = f'    command: ["{sys.executable}", -c, "import time; time.sleep(1)"]\n'
    actions = "".join(f"  - name: slow{i}\n    matchers: ['alertname=~\".+\"']\n" + slow
                      for i in range(4))
    config = make_config(write_config, actions,
                         head="mode: act\nmax_concurrent: 1\nmax_queued: 2\n")

    async def scenario(h: Harness) -> None:
        await h.post(notification(alert()))

    harness = run(config, scenario)
    assert [(e.action, e.decision, e.reason, e.outcome) for e in harness.entries()] == [
        ("slow0", "ran", "started", "ok"),
        ("slow1", "ran", "queued for a free slot", "ok"),
        ("slow2", "ran", "queued for a free slot", "ok"),
        ("slow3", "busy", "3 actions running or queued (max_concurrent 1, max_queued 2)",
         None),
    ]
    runs = [e for e in harness.entries() if e.decision == "ran"]
    # One at a time: each finished before the next could start.
    finished = [e.finished_at for e in runs]
    assert all(a is not None for a in finished) and finished == sorted(finished)  # type: ignore[type-var]
    assert finished[2] - finished[0] >= 1.5  # type: ignore[operator]


def test_an_alert_nothing_matches_is_audited_once_per_firing(write_config: Write,
                                                             recorder: Path) -> None:
    config = make_config(write_config, shed(recorder))
    other = alert(site="a")
    other["labels"]["alertname"] = "Unrelated"

    async def scenario(h: Harness) -> None:
        await h.post(notification(other))
        await h.post(notification(other))

    harness = run(config, scenario)
    assert decisions(harness) == [(None, None, "no-action")]


def test_an_alert_missing_a_label_the_action_needs_is_refused(write_config: Write,
                                                              recorder: Path,
                                                              trace: Trace) -> None:
    config = make_config(write_config, shed(recorder))

    async def scenario(h: Harness) -> None:
        await h.post(notification(alert()))  # no `site` label
        await h.post(notification(alert()))  # refused again: nothing was handled

    harness = run(config, scenario)
    assert trace.runs() == []
    assert [(e.decision, e.reason) for e in harness.entries()] == [
        ("refused", "'--site={{ labels.site }}': 'dict object' has no attribute 'site'")] * 2


# --- what the actions do ----------------------------------------------------------------------

def test_a_command_gets_a_filtered_environment(write_config: Write, recorder: Path,
                                               trace: Trace,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    monkeypatch.setenv("KUBECONFIG", "/do/not/leak")
    monkeypatch.setenv("WANTED", "yes")
    config = make_config(write_config, shed(recorder),
                         head="mode: act\nenvironment: {pass: [WANTED], set: {EXTRA: '1'}}\n")
    run(config, lambda h: h.post(notification(alert(site="a"))))
    (only,) = trace.runs()
    assert set(only["env"]) <= {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "WANTED", "EXTRA",
                                "MAPGUARD_RESPOND_ACTION", "MAPGUARD_RESPOND_STEP",
                                "MAPGUARD_RESPOND_FINGERPRINT", "LC_CTYPE"}
    assert {"WANTED", "EXTRA", "MAPGUARD_RESPOND_FINGERPRINT"} <= set(only["env"])


def test_timeout_stops_the_command_and_what_it_started(write_config: Write,
                                                       tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    code = ("import subprocess, time; "
            "p = subprocess.Popen(['sleep', '60']); "
            f"open({str(pid_file)!r}, 'w').write(str(p.pid)); "
            "print('started', flush=True); time.sleep(60)")
    config = make_config(write_config, f"  - name: hang\n    matchers: ['alertname=~\".+\"']\n"
                         f'    command: ["{sys.executable}", -c, "{code}"]\n    timeout: 2s\n')
    harness = run(config, lambda h: h.post(notification(alert())))
    (entry,) = harness.entries()
    assert entry.outcome == "timeout"
    assert entry.output is not None and entry.output.startswith("started\n")
    assert "stopped after the 2 s timeout" in entry.output
    grandchild = int(pid_file.read_text())
    status = Path(f"/proc/{grandchild}/status")
    assert not status.exists() or "zombie" in status.read_text()


def test_output_is_captured_and_capped(write_config: Write) -> None:
    code = "import sys; sys.stdout.write('x' * 1000000); sys.stderr.write('err'); sys.exit(3)"
    config = make_config(write_config, f"  - name: loud\n    matchers: ['alertname=~\".+\"']\n"
                         f'    command: ["{sys.executable}", -c, "{code}"]\n',
                         head="mode: act\nmax_output_bytes: 1000\n")
    harness = run(config, lambda h: h.post(notification(alert())))
    (entry,) = harness.entries()
    assert (entry.outcome, entry.exit_status, entry.output_truncated) == ("failed", 3, True)
    assert entry.output == "x" * 1000


def test_http_action_sends_escaped_json(write_config: Write, tmp_path: Path) -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    token = tmp_path / "hook.token"
    token.write_text("hook-token-0123456789")
    token.chmod(0o600)

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(text="accepted", status=202)

    hostile = "$(touch /tmp/x); `id`\n\"quoted\" \\ end"

    async def main() -> Harness:
        app = web.Application()
        app.router.add_post("/hook", hook)
        server = TestServer(app)
        await server.start_server()
        try:
            config = make_config(write_config, (
                "  - name: notify\n    matchers: ['alertname=~\".+\"']\n"
                f"    http: {{url: 'http://127.0.0.1:{server.port}/hook', "
                "json: {site: '{{ labels.site }}', n: 2}, bearer_token_file: hook.token}\n"))
            harness = Harness(config)
            await harness.start()
            try:
                await harness.post(notification(alert(site=hostile)))
                await harness.settle()
            finally:
                await harness.client.close()
                harness.audit.close()
            return harness
        finally:
            await server.close()

    harness = asyncio.run(main())
    ((headers, body),) = received
    assert json.loads(body) == {"site": hostile, "n": 2}
    assert headers["Authorization"] == "Bearer hook-token-0123456789"
    assert headers["Content-Type"] == "application/json"
    (entry,) = harness.entries()
    assert (entry.outcome, entry.exit_status, entry.output) == ("ok", 202, "accepted")
    assert entry.request["headers"] == {"Authorization": "<redacted>"}
    assert "hook-token" not in json.dumps(entry.as_json())


def test_scale_runs_kubectl_with_the_configured_kubeconfig(write_config: Write,
                                                           fake_kubectl: Path, trace: Trace,
                                                           tmp_path: Path) -> None:
    config = make_config(
        write_config,
        "  - name: scale\n    matchers: ['alertname=~\".+\"']\n"
        "    scale: {name: '{{ labels.target }}', namespace: '{{ labels.namespace }}', "
        "replicas: 5}\n    cooldown: 0s\n",
        head=f"mode: act\nkubeconfig: kubeconfig\nkubectl: {fake_kubectl}\n")

    async def scenario(h: Harness) -> None:
        await h.post(notification(alert(target="riskd", namespace="prod")))
        await h.post(notification(alert(target="riskd; rm -rf /", namespace="prod",
                                        fingerprint="1" * 16)))

    harness = run(config, scenario)
    assert trace.argvs() == [[f"--kubeconfig={tmp_path / 'kubeconfig'}", "--namespace=prod",
                              "scale", "deployment/riskd", "--replicas=5"]]
    refused = harness.entries()[1]
    assert refused.decision == "refused"
    assert "is not a Kubernetes object name" in refused.reason


# --- the request checks -----------------------------------------------------------------------

def test_requests_that_are_refused_before_anything_is_decided(
    write_config: Write, recorder: Path, trace: Trace, token_file: Path,
) -> None:
    config = make_config(write_config, shed(recorder),
                         head="mode: act\ntoken_file: respond.token\nmax_request_bytes: 4096\n")
    good = notification(alert(site="a"))
    auth = {"Authorization": f"Bearer {TOKEN}"}

    async def scenario(h: Harness) -> None:
        assert (await h.post(good))[0] == 401
        assert (await h.post(good, headers={"Authorization": f"Bearer {TOKEN}x"}))[0] == 401
        assert (await h.post(good, headers={"Authorization": TOKEN}))[0] == 401
        assert (await h.post(good, headers={**auth, "Content-Type": "text/plain"}))[0] == 415
        big = notification(alert(site="a" * 5000))
        assert (await h.post(big, headers=auth))[0] == 413

        async def chunks() -> Any:
            for _ in range(10):
                yield b" " * 1000

        response = await h.client.post(config.path, data=chunks(),
                                       headers={**auth, "Content-Type": "application/json"})
        assert response.status == 413
        assert (await h.post(raw=b"{not json", headers=auth))[0] == 400
        status, answer = await h.post({**good, "version": "3"}, headers=auth)
        assert status == 400 and "Alertmanager webhook version" in answer["reason"]
        assert (await h.client.get(config.path)).status == 405
        assert (await h.post(good, headers=auth))[0] == 200

    harness = run(config, scenario)
    assert trace.argvs() == [["fire", "--site=a"]]
    rejected = [e for e in harness.entries() if e.decision == "rejected"]
    assert [e.reason.split(":")[0] for e in rejected] == [
        "401", "401", "401", "415", "413", "413", "400", "400"]
    assert all(e.remote == "127.0.0.1" for e in rejected)


def test_without_a_token_the_host_must_be_loopback(write_config: Write,
                                                   recorder: Path) -> None:
    config = make_config(write_config, shed(recorder))

    async def scenario(h: Harness) -> None:
        # What a browser sends after DNS rebinding: the attacker's name in Host.
        status, answer = await h.post(notification(), headers={"Host": "evil.example:9466"})
        assert status == 403 and "not a loopback address" in answer["reason"]
        healthy = await h.client.get("/-/healthy")
        assert await healthy.json() == {"status": "ok", "mode": "act", "kill_switch": None}

    run(config, scenario)


def test_a_flood_of_bad_requests_is_audited_with_a_cap(write_config: Write,
                                                       recorder: Path) -> None:
    now = [600.0]
    config = make_config(write_config, shed(recorder))

    async def scenario(h: Harness) -> None:
        for _ in range(REJECTIONS_AUDITED_PER_MINUTE + 5):
            await h.post(raw=b"junk")
        now[0] += 60
        await h.post(raw=b"junk")

    harness = run(config, scenario, clock=lambda: now[0])
    rejected = harness.entries()
    assert len(rejected) == REJECTIONS_AUDITED_PER_MINUTE + 2
    assert rejected[-2].reason == ("5 more rejected requests in the minute before were not "
                                   "audited one by one")


def test_a_body_that_trickles_in_is_refused(write_config: Write, recorder: Path, trace: Trace,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receiver, "BODY_TIMEOUT_SECONDS", 0.5)
    config = make_config(write_config, shed(recorder))
    body = json.dumps(notification(alert(site="a"))).encode()

    async def scenario(h: Harness) -> None:
        async def slowly() -> Any:
            yield body[:10]
            await asyncio.sleep(3)
            yield body[10:]

        response = await h.client.post(config.path, data=slowly(),
                                       headers={"Content-Type": "application/json"})
        assert response.status == 408

    harness = run(config, scenario)
    assert trace.runs() == []
    assert [e.reason for e in harness.entries()] == [
        "408: the body did not arrive within 0.5 s"]


def test_a_refusal_quoting_the_request_is_kept_short(write_config: Write,
                                                     recorder: Path) -> None:
    config = make_config(write_config, shed(recorder))
    document = notification(alert(site="a"))
    document["alerts"][0]["labels"]["x" * 10_000] = 1  # a label name the reason quotes

    async def scenario(h: Harness) -> None:
        assert (await h.post(document))[0] == 400

    (entry,) = run(config, scenario).entries()
    assert entry.reason.startswith("400: request from 127.0.0.1: alerts[0].labels.xxx")
    assert len(entry.reason) == len("400: ") + receiver.MAX_REASON
    assert entry.reason.endswith("...")
