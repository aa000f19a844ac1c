"""The incident library: confirmed incidents with the fingerprint of their evidence, in SQLite.

A fingerprint is a set of tokens (`cause:missing-size-hint`, `rule:MG002`,
`function:(*Server).handleDecide`, `file:server.go`). A new diagnosis is compared with every
confirmed incident by weighted Jaccard similarity — causes and rules weigh most, then the
function, then the file — and incidents at or above `SIMILAR` are named with what fixed them.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mapguard.errors import InputError, UsageError

SCHEMA_VERSION = 1
SIMILAR = 0.3
_WEIGHTS = {"cause": 3.0, "rule": 2.0, "function": 1.5, "file": 1.0, "hot": 1.0}
_CONFIRMED = re.compile(r"^(?P<cause>[A-Za-z0-9_-]+)@(?P<file>[^:@]+):(?P<line>[0-9]+)$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    title TEXT NOT NULL,
    confirmed_cause TEXT NOT NULL,
    fix TEXT,
    label TEXT,
    fingerprint TEXT NOT NULL,
    diagnosis TEXT NOT NULL
);
"""


def default_path() -> Path:
    """`$MAPGUARD_INCIDENTS`, else `$XDG_DATA_HOME/mapguard/incidents.sqlite`."""
    explicit = os.environ.get("MAPGUARD_INCIDENTS")
    if explicit:
        return Path(explicit)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "mapguard" / "incidents.sqlite"


@dataclass(frozen=True, slots=True)
class Incident:
    id: int
    created: str
    title: str
    confirmed_cause: str
    fix: str | None
    label: str | None
    fingerprint: tuple[str, ...]
    diagnosis: dict[str, Any]

    def summary_json(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created, "title": self.title,
                "confirmed_cause": self.confirmed_cause, "fix": self.fix, "label": self.label}


@dataclass(frozen=True, slots=True)
class Match:
    incident: Incident
    similarity: float
    shared: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {**self.incident.summary_json(), "similarity": round(self.similarity, 3),
                "shared": list(self.shared)}


class IncidentLibrary:
    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.path = path

    @classmethod
    def open(cls, path: Path, *, create: bool) -> IncidentLibrary:
        """Open the library at `path`; with `create`, make it when there is none (a missing or
        empty file). An existing file is written to only once it has proved to be a library:
        a mistyped path to another program's SQLite database must not gain our tables, and
        `list` or `show` never write at all."""
        if path.is_dir():
            raise UsageError(f"incident library {path}: is a directory (expected a file)")
        fresh = not path.exists() or path.stat().st_size == 0
        if fresh and not create:
            state = "an empty file" if path.exists() else "no such file"
            raise UsageError(f"incident library {path}: {state} (mapguard incidents add "
                             "creates it)")
        if fresh:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"incident library {path}: cannot create "
                                 f"{path.parent}: {exc.strerror}") from None
        try:
            connection = (sqlite3.connect(path, isolation_level=None) if create else
                          sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                          isolation_level=None))
            if fresh:
                connection.executescript(_SCHEMA)
                connection.execute("INSERT INTO meta VALUES ('schema', ?)",
                                   (str(SCHEMA_VERSION),))
            else:
                tables = {name for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'")}
                if not {"meta", "incidents"} <= tables:
                    raise InputError(path, "not an incident library: a SQLite database "
                                           "without mapguard's incidents table")
                version = connection.execute(
                    "SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if version is None or version[0] != str(SCHEMA_VERSION):
                    found = "no schema version" if version is None else \
                        f"incident library schema {version[0]}"
                    raise InputError(path, found, expected=f"schema {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise InputError(path, f"not an incident library: {exc}") from None
        return cls(connection, path)

    def close(self) -> None:
        self.connection.close()

    def add(self, *, title: str, confirmed_cause: str, fix: str | None, label: str | None,
            fingerprint: Iterable[str], diagnosis: dict[str, Any]) -> int:
        with closing(self.connection.cursor()) as cursor:
            cursor.execute(
                "INSERT INTO incidents (created, title, confirmed_cause, fix, label, fingerprint,"
                " diagnosis) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime()), title, confirmed_cause,
                 fix, label, json.dumps(sorted(set(fingerprint))), json.dumps(diagnosis)))
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def all(self) -> list[Incident]:
        rows = self.connection.execute(
            "SELECT id, created, title, confirmed_cause, fix, label, fingerprint, diagnosis "
            "FROM incidents ORDER BY id").fetchall()
        return [_incident(self.path, row) for row in rows]

    def get(self, incident_id: int) -> Incident:
        row = self.connection.execute(
            "SELECT id, created, title, confirmed_cause, fix, label, fingerprint, diagnosis "
            "FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        if row is None:
            raise UsageError(f"incident {incident_id}: not in {self.path}")
        return _incident(self.path, row)

    def similar(self, fingerprint: Sequence[str], *, at_least: float = SIMILAR,
                top: int = 3) -> list[Match]:
        found = []
        for incident in self.all():
            score, shared = similarity(fingerprint, incident.fingerprint)
            if score >= at_least:
                found.append(Match(incident, score, shared))
        found.sort(key=lambda m: (-m.similarity, -m.incident.id))
        return found[:top]


def _incident(path: Path, row: tuple[Any, ...]) -> Incident:
    try:
        fingerprint = tuple(json.loads(row[6]))
        diagnosis = json.loads(row[7])
    except (TypeError, ValueError):
        raise InputError(path, f"incident {row[0]}: damaged fingerprint or diagnosis") from None
    return Incident(row[0], row[1], row[2], row[3], row[4], row[5], fingerprint, diagnosis)


def _weight(token: str) -> float:
    return _WEIGHTS.get(token.split(":", 1)[0], 1.0)


def similarity(a: Iterable[str], b: Iterable[str]) -> tuple[float, tuple[str, ...]]:
    """Weighted Jaccard similarity of two fingerprints, and the tokens they share."""
    first, second = set(a), set(b)
    union = first | second
    if not union:
        return 0.0, ()
    shared = first & second
    return (sum(map(_weight, shared)) / sum(map(_weight, union)), tuple(sorted(shared)))


@dataclass(frozen=True, slots=True)
class ConfirmedCause:
    cause: str  # a rule code or a cause id
    file: str
    line: int

    @classmethod
    def parse(cls, text: str) -> ConfirmedCause:
        found = _CONFIRMED.match(text.strip())
        if found is None:
            raise UsageError(f"--confirmed-cause {text!r}: expected RULE_OR_CAUSE@FILE:LINE, "
                             "e.g. MG001@server.go:94 or map-grown-per-call@cache.go:40")
        return cls(found["cause"], found["file"], int(found["line"]))

    def tokens(self) -> Iterator[str]:
        kind = "rule" if re.fullmatch(r"MG\d{3}", self.cause) else "cause"
        yield f"{kind}:{self.cause}"
        yield f"file:{self.file.rsplit('/', 1)[-1]}"

    def matches(self, entry: dict[str, Any]) -> bool:
        """Does a cause of a diagnosis JSON name this one?"""
        site = entry.get("site") or {}
        file = str(site.get("file") or "")
        same_file = file == self.file or file.endswith("/" + self.file) or self.file.endswith(
            "/" + file)
        measured_lines = {s.get("line") for s in entry.get("measured_sites") or ()}
        return (self.cause in (entry.get("rule"), entry.get("cause")) and same_file
                and (site.get("line") == self.line or self.line in measured_lines))
