"""Content-hash cache of per-directory lint results, so an unchanged tree re-lints at once.

The key covers everything a result depends on: the file paths and contents of the directory,
the go.mod that decides the Go version, the selected rules and options, and mapguard's own
analysis code (a new version, or an edited rule, never sees stale results). Results live in one
SQLite file; only the parent process writes it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from mapguard import __version__
from mapguard.lint.reach import CallOut
from mapguard.lint.results import DirResult, FileNote, VersionNote
from mapguard.lint.rule import Finding
from mapguard.source.discover import PackageDir
from mapguard.source.gomod import find_module
from mapguard.source.loader import FileError

SCHEMA = "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mapguard"


@functools.cache
def _code_fingerprint() -> str:
    """A hash of mapguard's analysis code: editing a rule invalidates the cache."""
    digest = hashlib.blake2b(__version__.encode(), digest_size=16)
    package_root = Path(__file__).resolve().parent.parent
    for sub in ("lint", "source"):
        for path in sorted((package_root / sub).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(package_dir: PackageDir, options_fingerprint: str) -> str:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(_code_fingerprint().encode())
    digest.update(options_fingerprint.encode())
    module = find_module(package_dir.directory)
    if module is not None:
        digest.update(f"{module.root}|{module.path}|{module.go_version}".encode())
    for source_file in package_dir.files:
        digest.update(str(source_file.path).encode() + b"\0")
        digest.update(hashlib.blake2b(source_file.content, digest_size=20).digest())
    return digest.hexdigest()


class LintCache:
    def __init__(self, directory: Path) -> None:
        self._connection: sqlite3.Connection | None = None
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(directory / "lint-v1.sqlite", timeout=5)
            self._connection.execute(SCHEMA)
        except (OSError, sqlite3.Error):
            self._connection = None  # an unusable cache only costs speed

    def get(self, key: str) -> DirResult | None:
        if self._connection is None:
            return None
        try:
            row = self._connection.execute(
                "SELECT value FROM results WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        return _decode(row[0]) if row else None

    def put_many(self, items: Iterable[tuple[str, DirResult]]) -> None:
        if self._connection is None:
            return
        try:
            with self._connection:
                self._connection.executemany(
                    "INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)",
                    ((key, _encode(result)) for key, result in items))
        except sqlite3.Error:
            pass  # a cache that cannot be written (locked, full disk) only costs the next run

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()


def _encode(result: DirResult) -> str:
    return json.dumps({
        "findings": [f.to_json() for f in result.findings],
        "errors": [[str(e.path), e.message] for e in result.errors],
        "files": result.files,
        "versions": [[v.where, v.version, v.source, list(v.silenced)] for v in result.versions],
        "notes": [[str(n.path), n.message, n.line] for n in result.notes],
        "digests": [[str(path), digest] for path, digest in result.digests],
        "calls": [call.to_json() for call in result.calls],
    })


def _decode(text: str) -> DirResult:
    data = json.loads(text)
    return DirResult(
        tuple(Finding.from_json(f) for f in data["findings"]),
        tuple(FileError(Path(p), m) for p, m in data["errors"]),
        data["files"],
        tuple(VersionNote(where, version, source, tuple(silenced))
              for where, version, source, silenced in data["versions"]),
        tuple(FileNote(Path(p), m, line) for p, m, line in data["notes"]),
        tuple((Path(p), digest) for p, digest in data["digests"]),
        tuple(CallOut.from_json(call) for call in data.get("calls", ())),
    )
