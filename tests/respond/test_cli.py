"""The `mapguard respond` command line: `audit` output, and bad paths (one line, exit 2)."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.respond.audit import AuditLog, Entry

from .conftest import TOKEN


def _config(tmp_path: Path, recorder: Path, extra: str = "") -> Path:
    path = tmp_path / "respond.yaml"
    path.write_text(f"audit: audit.sqlite\n{extra}actions:\n  - name: shed\n"
                    f"    matchers: ['alertname=\"X\"']\n    command: [\"{recorder}\"]\n")
    return path


@pytest.fixture
def audited(tmp_path: Path, recorder: Path) -> Path:
    """A configuration whose audit log holds a day and a half of decisions, ending now (taken
    here, not at import: under xdist a test may run minutes after its module was imported)."""
    now = time.time()
    config = _config(tmp_path, recorder)
    log = AuditLog.open(tmp_path / "audit.sqlite")
    common = {"action": "shed", "alertname": "X", "firing": "0123456789abcdef@2030-01-01",
              "alert_status": "firing", "labels": {"alertname": "X", "site": "a\nb"}}
    log.record(Entry(now - 30 * 3600, "act", "ran", "started", step="fire", **common,
                     request={"argv": [str(recorder), "--site=old"]}, outcome="ok"))
    ran = log.record(Entry(now - 600, "act", "ran", "started", step="fire", **common,
                           request={"argv": [str(recorder), "two words", "--x=$(id)"]},
                           outcome="queued"))
    log.set_outcome(ran, "ok", exit_status=0, output="done", truncated=False,
                    finished_at=now - 599.5)
    log.record(Entry(now - 300, "act", "duplicate", "this firing was handled already",
                     step="fire", **common))
    log.record(Entry(now - 200, "dry-run", "dry-run", "dry run: would run", step="resolve",
                     **common, request={"method": "POST", "url": "http://x/hook"}))
    log.record(Entry(now - 100, "act", "rejected", "401: missing or wrong bearer token",
                     remote="10.0.0.9"))
    log.close()
    return config


def test_audit_text(audited: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["respond", "audit", "--config", str(audited)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5  # four decisions of the last 24 h and a summary
    assert "ran          shed (fire)" in lines[0]
    assert lines[0].endswith("X 0123456789abcdef                       ok, status 0, 0.50 s: "
                             f"{Path(audited).parent / 'bin' / 'record'} 'two words' '--x=$(id)'")
    assert "duplicate    shed (fire)" in lines[1]
    assert lines[2].endswith("would run POST http://x/hook")
    assert lines[3].endswith("401: missing or wrong bearer token (from 10.0.0.9)")
    assert lines[4] == "4 decisions in the last 24h: 1 ran, 1 duplicate, 1 dry-run, 1 rejected"
    # The group's --config works for the subcommand too, and --since widens the window.
    assert main(["respond", "--config", str(audited), "audit", "--since", "2d"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("5 decisions in the last 2d")


def test_audit_json(audited: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = audited.parent / "audit.sqlite"
    assert main(["respond", "audit", "--db", str(db), "--since", "15m",
                 "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["version"] == 1 and document["database"] == str(db)
    ran, duplicate, dry, rejected = document["decisions"]
    assert (ran["decision"], ran["outcome"], ran["exit_status"], ran["output"],
            ran["output_truncated"]) == ("ran", "ok", 0, "done", False)
    assert ran["labels"] == {"alertname": "X", "site": "a\nb"}
    assert ran["request"]["argv"][1:] == ["two words", "--x=$(id)"]
    assert duplicate["decision"] == "duplicate" and dry["mode"] == "dry-run"
    assert rejected["remote"] == "10.0.0.9" and rejected["action"] is None


def test_audit_defaults_to_the_state_directory(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert main(["respond", "audit"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"mapguard: error: {tmp_path / 'state' / 'mapguard' / 'respond.sqlite'}: no audit "
        "database here (has mapguard respond run with this configuration?)")
    AuditLog.open(tmp_path / "state" / "mapguard" / "respond.sqlite").close()
    assert main(["respond", "audit"]) == 0
    assert capsys.readouterr().out == "0 decisions in the last 24h\n"


def _bad_paths(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "a-directory").mkdir()
    (tmp_path / "latin1").write_bytes(b"caf\xe9: \xff\xfe\n")
    return {"missing": tmp_path / "no" / "such" / "file", "directory": tmp_path / "a-directory",
            "not UTF-8": tmp_path / "latin1"}


def _one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2, argv
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mapguard: error: "), captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("command", [["respond", "--config"], ["respond", "audit", "--config"],
                                     ["respond", "audit", "--db"]])
def test_bad_paths_are_one_line_and_exit_2(command: list[str], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    for kind, path in _bad_paths(tmp_path).items():
        line = _one_line_error([*command, str(path)], capsys)
        assert str(path) in line, (kind, line)


def test_bad_token_and_audit_paths_in_the_configuration(tmp_path: Path, recorder: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    for kind, path in _bad_paths(tmp_path).items():
        config = _config(tmp_path, recorder, f"token_file: {path}\n")
        assert "token_file" in _one_line_error(["respond", "--config", str(config)], capsys), \
            kind
    # The audit database where the configuration says: a directory, not a database, or
    # another program's database (which must come out unchanged).
    other = tmp_path / "app.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE users (name TEXT)")
    before = other.read_bytes()
    for path, problem in ((tmp_path / "a-directory", "a directory, not an audit database"),
                          (tmp_path / "latin1", "not a usable audit database: file is not a "
                           "database"),
                          (other, "a SQLite database of something else (it has tables but "
                           "not mapguard respond's)")):
        config = tmp_path / "respond.yaml"
        config.write_text(f"audit: {path}\nactions: [{{name: a, matchers: ['a=\"b\"'], "
                          f"command: [{recorder}]}}]\n")
        line = _one_line_error(["respond", "--config", str(config)], capsys)
        assert line == f"mapguard: error: {path}: {problem}"
    assert other.read_bytes() == before


def test_serving_needs_a_config_and_a_free_port(tmp_path: Path, recorder: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _one_line_error(["respond"], capsys) == \
        "mapguard: error: mapguard respond needs --config respond.yaml"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = _one_line_error(["respond", "--config", str(_config(tmp_path, recorder)),
                                "--listen", f"127.0.0.1:{port}"], capsys)
    assert line == f"mapguard: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert _one_line_error(["respond", "audit", "--since", "yesterday"], capsys) == (
        "mapguard: error: --since: 'yesterday' is not a duration; expected a duration such as "
        "5m, 1h, 30d (units s, m, h, d, w)")


def test_a_token_is_required_off_loopback(tmp_path: Path, recorder: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, recorder)
    line = _one_line_error(["respond", "--config", str(config), "--listen", "0.0.0.0:0"],
                           capsys)
    assert "0.0.0.0:0 is not a loopback address and no token_file is set" in line
    assert TOKEN not in line
