"""`mapguard respond` as a real process, attacked: unauthenticated, oversized, malformed and
shell-metacharacter payloads never run anything; label values reach the command verbatim, as
single arguments, never through a shell. Signals: the kill switch, and a clean stop."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from mapguard.respond.audit import AuditLog, Entry

from .conftest import TOKEN, Trace, alert, notification, start_respond, wait_for


def hostile_labels(tmp_path: Path) -> dict[str, str]:
    """Label values that would each create a file if any shell ever read them."""
    return {
        "site": f"$(touch {tmp_path / 'canary-dollar'})",
        "zone": f"x; touch {tmp_path / 'canary-semicolon'}",
        "team": f"`touch {tmp_path / 'canary-backtick'}`",
        "note": f"a\ntouch {tmp_path / 'canary-newline'}\n",
        "target": f"riskd && touch {tmp_path / 'canary-and'}\n| cat > {tmp_path / 'canary-pipe'}",
    }


def canaries(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.glob("canary-*"))


def read_audit(path: Path) -> list[Entry]:
    log = AuditLog.open_for_reading(path)
    try:
        return list(log.entries())
    finally:
        log.close()


@pytest.fixture
def config(tmp_path: Path, recorder: Path, token_file: Path) -> Path:
    path = tmp_path / "respond.yaml"
    path.write_text(f"""\
mode: act
token_file: {token_file.name}
max_request_bytes: 65536
audit: audit.sqlite
defaults: {{cooldown: 0s}}
actions:
  - name: everything
    matchers: ['alertname=~".+"']
    command: ["{recorder}", "{{{{ labels.site }}}}", "--zone={{{{ labels.zone }}}}",
              "{{{{ labels.team }}}}", "{{{{ labels.note }}}}", "{{{{ labels.target }}}}"]
""")
    return path


@pytest.mark.slow
def test_hostile_requests_never_run_anything(
    config: Path, tmp_path: Path, trace: Trace, processes: list[subprocess.Popen[bytes]],
) -> None:
    url, _process = start_respond(config, processes, tmp_path / "respond.log")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    hostile = notification(alert(**hostile_labels(tmp_path)))
    body = json.dumps(hostile).encode()
    json_type = {"Content-Type": "application/json"}

    def post(content: bytes | object, headers: dict[str, str]) -> int:
        return httpx.post(url, content=content, headers={**json_type, **headers},  # type: ignore[arg-type]
                          timeout=30).status_code

    def chunked() -> object:
        for _ in range(100):
            yield body[:1000] * 2

    refused = [
        (post(body, {}), 401),  # no token
        (post(body, {"Authorization": "Bearer wrong-token-0123456789"}), 401),
        (post(body, {"Authorization": f"Basic {TOKEN}"}), 401),
        (post(body, {**auth, "Content-Type": "text/plain"}), 415),
        (post(body + b" " * 70_000, auth), 413),  # over the cap, with Content-Length
        (post(chunked(), auth), 413),  # over the cap, chunked
        (post(body[:-1], auth), 400),  # truncated JSON
        (post(json.dumps({**hostile, "version": "3"}).encode(), auth), 400),
        (post(json.dumps([hostile]).encode(), auth), 400),
        (post(body.replace(b'"fingerprint": "0123456789abcdef"',
                           b'"fingerprint": "$(touch /tmp/x)"'), auth), 400),
        (post(body.replace(b'"site": "', b'"site": 1, "x": "'), auth), 400),
    ]
    assert [got for got, _ in refused] == [want for _, want in refused]
    assert trace.runs() == [] and canaries(tmp_path) == []
    rejected = read_audit(tmp_path / "audit.sqlite")
    assert len(rejected) == len(refused)
    assert {e.decision for e in rejected} == {"rejected"} and all(e.action is None
                                                                   for e in rejected)

    # Authenticated and well-formed: the command runs once, every value one argument as sent.
    assert post(body, auth) == 200
    assert post(body, auth) == 200  # Alertmanager's repeat
    wait_for(lambda: [e for e in read_audit(tmp_path / "audit.sqlite") if e.outcome == "ok"],
             "the run to finish")
    labels = hostile_labels(tmp_path)
    assert trace.argvs() == [[labels["site"], f"--zone={labels['zone']}", labels["team"],
                              labels["note"], labels["target"]]]
    assert canaries(tmp_path) == []
    # Newlines in labels do not forge log lines.
    log = (tmp_path / "respond.log").read_text()
    assert "canary-and\\n| cat" in log
    assert all(line.startswith("mapguard respond: ") for line in log.splitlines())


@pytest.mark.slow
def test_signals_engage_and_release_the_kill_switch_and_stop_cleanly(
    config: Path, tmp_path: Path, trace: Trace, processes: list[subprocess.Popen[bytes]],
) -> None:
    url, process = start_respond(config, processes, tmp_path / "respond.log")
    log = tmp_path / "respond.log"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    firing = notification(alert(site="a", zone="z", team="t", note="n", target="riskd"))

    def post() -> None:
        assert httpx.post(url, json=firing, headers=auth, timeout=30).status_code == 200

    process.send_signal(signal.SIGUSR1)
    wait_for(lambda: "kill switch engaged by SIGUSR1" in log.read_text(), "SIGUSR1 handled")
    post()
    assert trace.runs() == []
    process.send_signal(signal.SIGUSR2)
    wait_for(lambda: "kill switch released by SIGUSR2" in log.read_text(), "SIGUSR2 handled")
    post()
    wait_for(trace.runs, "the run after the release")
    decisions = [(e.decision, e.reason) for e in read_audit(tmp_path / "audit.sqlite")]
    assert decisions == [("kill-switch", "kill switch engaged (SIGUSR1)"), ("ran", "started")]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert log.read_text().rstrip().endswith("mapguard respond: stopping")


@pytest.mark.slow
def test_dry_run_on_the_command_line_runs_nothing(
    config: Path, tmp_path: Path, trace: Trace, processes: list[subprocess.Popen[bytes]],
) -> None:
    url, _ = start_respond(config, processes, tmp_path / "respond.log", "--dry-run")
    assert "(dry-run; 1 action;" in (tmp_path / "respond.log").read_text()
    firing = notification(alert(site="a", zone="z", team="t", note="n", target="riskd"))
    answer = httpx.post(url, json=firing, headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=30)
    assert [d["decision"] for d in answer.json()["decisions"]] == ["dry-run"]
    (entry,) = read_audit(tmp_path / "audit.sqlite")
    assert entry.mode == "dry-run" and entry.request["argv"][1:3] == ["a", "--zone=z"]
    assert trace.runs() == []
