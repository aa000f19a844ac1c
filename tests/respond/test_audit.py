"""The audit log as the receiver's memory: history per action and mode, capped labels,
runs an earlier receiver left unfinished, and databases it must not touch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mapguard.errors import InputError
from mapguard.respond.audit import MAX_LABEL_VALUE, AuditLog, Entry
from mapguard.respond.config import Mode
from mapguard.respond.guardrails import History, StepKind

NOW = 2_000_000.0
FIRING = "0123456789abcdef@2030-01-01T00:00:00+00:00"


def _run(log: AuditLog, at: float, *, mode: str = "act", decision: str = "ran",
         step: str = "fire", firing: str = FIRING, action: str = "shed") -> int:
    return log.record(Entry(at, mode, decision, "r", action=action, step=step,
                            alertname="X", firing=firing, alert_status="firing",
                            labels={"alertname": "X"}, outcome="queued"))


def test_history_counts_runs_of_this_action_in_this_mode(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.sqlite")
    _run(log, NOW - 7200)  # outside the window
    _run(log, NOW - 600, firing="other@x")
    _run(log, NOW - 60)
    _run(log, NOW - 30, decision="duplicate")
    _run(log, NOW - 20, mode="dry-run", firing="dry@x")
    _run(log, NOW - 10, action="another", firing="another@x")
    _run(log, NOW - 5, decision="cooldown", firing="cooled@x")

    def history(firing: str, step: StepKind = StepKind.FIRE,
                mode: Mode = Mode.ACT) -> History:
        return log.history("shed", step, firing, mode, now=NOW, window_seconds=3600)

    assert history(FIRING) == History(handled=True, fired=True, last_run_at=NOW - 60,
                                      runs_in_window=2)
    assert history("cooled@x") == History(handled=False, fired=False,
                                          last_run_at=NOW - 60, runs_in_window=2)
    assert history(FIRING, StepKind.RESOLVE).handled is False
    # Dry runs are their own history: switching to act starts clean.
    assert history("dry@x", mode=Mode.DRY_RUN) == History(
        handled=True, fired=True, last_run_at=NOW - 20, runs_in_window=1)
    assert history("dry@x").handled is False
    log.close()


def test_outcomes_labels_and_unfinished_runs(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.sqlite")
    long_value = "v" * (MAX_LABEL_VALUE + 10)
    done = log.record(Entry(NOW, "act", "ran", "started", labels={"site": long_value}))
    left = _run(log, NOW)
    log.set_outcome(done, "ok", exit_status=0, output="out", truncated=False,
                    finished_at=NOW + 1)
    log.close()
    # A new receiver on the same database: the unfinished run is marked, not left running.
    log = AuditLog.open(tmp_path / "audit.sqlite")
    assert log.abandon_unfinished(NOW + 5) == 1
    entries = {entry.id: entry for entry in log.entries()}
    assert entries[done].labels == {"site": "v" * MAX_LABEL_VALUE}
    assert (entries[done].outcome, entries[done].output, entries[done].finished_at) == (
        "ok", "out", NOW + 1)
    assert (entries[left].outcome, entries[left].finished_at) == ("abandoned", NOW + 5)
    assert [e.id for e in log.entries(since=NOW + 1)] == []
    log.close()


def test_databases_it_will_not_use(tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("PRAGMA user_version=7")
    with pytest.raises(InputError, match="audit schema version 7"):
        AuditLog.open(other)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE t (x)")
    with pytest.raises(InputError, match="not a mapguard respond audit database"):
        AuditLog.open_for_reading(foreign)
