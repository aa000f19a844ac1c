"""The audit log: every decision `mapguard respond` takes, and what each run did, in SQLite.

One row per decision (ran, dry-run, duplicate, cooldown, refused...) with the alert, the action,
what was or would have been run, and — for runs — the outcome, exit status and captured output,
filled in when the run ends. The same rows are the receiver's memory across restarts: whether a
firing was handled, when an action last ran, how often within its window. WAL journaling lets
`mapguard respond audit` read while the receiver writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from mapguard.errors import InputError
from mapguard.respond.config import Mode
from mapguard.respond.guardrails import Decision, History, StepKind

SCHEMA_VERSION = 1
MAX_LABEL_VALUE = 1024  # characters of each label value kept in the log

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,             -- Unix time of the decision
    mode TEXT NOT NULL,           -- act or dry-run
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    action TEXT,
    step TEXT,                    -- fire or resolve
    alertname TEXT,
    firing TEXT,                  -- fingerprint@startsAt: one firing of one alert
    alert_status TEXT,
    labels TEXT,                  -- JSON
    remote TEXT,                  -- the address the request came from
    request TEXT,                 -- JSON: the argument list, or the HTTP call
    outcome TEXT,                 -- queued, running, ok, failed, timeout, error, cancelled
    exit_status INTEGER,          -- a command's exit status, an HTTP status code
    output TEXT,
    output_truncated INTEGER,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS decisions_by_firing ON decisions (firing, action, mode, step);
CREATE INDEX IF NOT EXISTS decisions_by_action ON decisions (action, mode, step, decision, at);
CREATE INDEX IF NOT EXISTS decisions_by_time ON decisions (at);
"""

_RUNS = (str(Decision.RAN), str(Decision.DRY_RUN))


@dataclass(frozen=True, slots=True)
class Entry:
    """One decision; for runs, the outcome fields are filled in as the run goes."""

    at: float
    mode: str
    decision: str
    reason: str
    action: str | None = None
    step: str | None = None
    alertname: str | None = None
    firing: str | None = None
    alert_status: str | None = None
    labels: Mapping[str, str] | None = None
    remote: str | None = None
    request: Any = None
    outcome: str | None = None
    exit_status: int | None = None
    output: str | None = None
    output_truncated: bool | None = None
    finished_at: float | None = None
    id: int | None = None

    def as_json(self) -> dict[str, Any]:
        document = asdict(self)
        document["labels"] = dict(self.labels) if self.labels is not None else None
        return document


_COLUMNS = [f.name for f in fields(Entry) if f.name != "id"]


def _capped(labels: Mapping[str, str]) -> dict[str, str]:
    return {name[:MAX_LABEL_VALUE]: value[:MAX_LABEL_VALUE] for name, value in labels.items()}


class AuditLog:
    """The database, opened for the receiver (read-write) or for reading."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, path: Path) -> AuditLog:
        """Open or create the database for writing."""
        if path.is_dir():
            raise InputError(str(path), "a directory, not an audit database")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, isolation_level=None)
            connection.execute("PRAGMA busy_timeout=5000")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise InputError(str(path), f"audit schema version {version}",
                                 expected=f"version {SCHEMA_VERSION}")
            # Version 0 is a new database, or another program's (a mistyped path): that one
            # must not gain our table.
            tables = connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if version == 0 and tables:
                raise InputError(str(path), "a SQLite database of something else (it has "
                                 "tables but not mapguard respond's)")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise InputError(str(path), f"not a usable audit database: {exc}") from None
        except OSError as exc:
            raise InputError(str(path), f"cannot create the audit database: {exc.strerror}") \
                from None
        return cls(connection, path)

    @classmethod
    def open_for_reading(cls, path: Path) -> AuditLog:
        if not path.exists():
            raise InputError(str(path), "no audit database here (has mapguard respond run "
                             "with this configuration?)")
        if path.is_dir():
            raise InputError(str(path), "a directory, not an audit database")
        try:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            connection.execute("PRAGMA busy_timeout=5000")
            connection.execute("SELECT count(*) FROM decisions").fetchone()
        except sqlite3.DatabaseError as exc:
            raise InputError(str(path), f"not a mapguard respond audit database: {exc}") \
                from None
        return cls(connection, path)

    def close(self) -> None:
        self._db.close()

    # --- writing ---

    def record(self, entry: Entry) -> int:
        values = asdict(entry)
        values["labels"] = json.dumps(_capped(entry.labels)) if entry.labels is not None \
            else None
        values["request"] = json.dumps(entry.request) if entry.request is not None else None
        cursor = self._db.execute(
            f"INSERT INTO decisions ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _COLUMNS)})",
            [values[name] for name in _COLUMNS],
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def set_outcome(self, entry_id: int, outcome: str, *, exit_status: int | None = None,
                    output: str | None = None, truncated: bool | None = None,
                    finished_at: float | None = None) -> None:
        self._db.execute(
            "UPDATE decisions SET outcome=?, exit_status=?, output=?, output_truncated=?, "
            "finished_at=? WHERE id=?",
            (outcome, exit_status, output, truncated, finished_at, entry_id),
        )

    # --- what the guard rails need ---

    def history(self, action: str, step: StepKind, firing: str, mode: Mode, *,
                now: float, window_seconds: int) -> History:
        def runs_of(kind: StepKind) -> bool:
            row = self._db.execute(
                "SELECT 1 FROM decisions WHERE firing=? AND action=? AND mode=? AND step=? "
                "AND decision IN (?, ?) LIMIT 1", (firing, action, str(mode), str(kind), *_RUNS),
            ).fetchone()
            return row is not None

        last, count = self._db.execute(
            "SELECT max(at), sum(at > ?) FROM decisions "
            "WHERE action=? AND mode=? AND step=? AND decision IN (?, ?)",
            (now - window_seconds, action, str(mode), str(StepKind.FIRE), *_RUNS),
        ).fetchone()
        return History(handled=runs_of(step), fired=runs_of(StepKind.FIRE),
                       last_run_at=last, runs_in_window=count or 0)

    def seen(self, firing: str, alert_status: str, decision: Decision, mode: Mode) -> bool:
        """Whether this decision was recorded for this firing already (no-action rows are
        written once per firing, not once per repeated notification)."""
        row = self._db.execute(
            "SELECT 1 FROM decisions WHERE firing=? AND alert_status=? AND decision=? "
            "AND mode=? LIMIT 1", (firing, alert_status, str(decision), str(mode)),
        ).fetchone()
        return row is not None

    def abandon_unfinished(self, now: float) -> int:
        """Runs still queued or running from an earlier receiver that stopped without
        finishing them: say so rather than leave them running forever."""
        cursor = self._db.execute(
            "UPDATE decisions SET outcome='abandoned', finished_at=? "
            "WHERE decision=? AND outcome IN ('queued', 'running')", (now, str(Decision.RAN)))
        return cursor.rowcount

    # --- reading ---

    def entries(self, *, since: float | None = None) -> Iterator[Entry]:
        query = f"SELECT id, {', '.join(_COLUMNS)} FROM decisions"
        arguments: tuple[Any, ...] = ()
        if since is not None:
            query += " WHERE at >= ?"
            arguments = (since,)
        try:
            rows = self._db.execute(query + " ORDER BY id", arguments).fetchall()
        except sqlite3.DatabaseError as exc:
            raise InputError(str(self.path), f"cannot read the audit log: {exc}") from None
        for row in rows:
            values = dict(zip(["id", *_COLUMNS], row, strict=True))
            values["labels"] = json.loads(values["labels"]) if values["labels"] else None
            values["request"] = json.loads(values["request"]) if values["request"] else None
            values["output_truncated"] = None if values["output_truncated"] is None \
                else bool(values["output_truncated"])
            yield Entry(**values)
