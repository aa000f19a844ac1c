"""Content-hash cache of per-directory lint results, so an unchanged tree re-lints at once.

The key covers what a result depends on inside the directory: the file paths and contents, the
go.mod that decides the Go version, the selected rules and options, and mapguard's own analysis
code (a new version, or an edited rule, never sees stale results). What the analysis read
outside the directory (other packages' declarations, searches of the whole module:
`mapguard.source.outside`) is stored with the result, each with a digest, and a result is
reused only while every one is the same. Keying by the imported packages' declarations up
front cost each cold run (nothing to reuse) a read of all of them, 40 ms per worker on etcd,
and still missed the module-wide searches. Results live in one SQLite file; only the parent
process writes it.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from mapguard import __version__
from mapguard.digests import blake2b
from mapguard.lint.reach import CallOut
from mapguard.lint.results import DirResult, FileNote, ReadOutside, VersionNote
from mapguard.lint.rule import Finding
from mapguard.source.discover import PackageDir
from mapguard.source.gomod import find_module
from mapguard.source.handler_uses import module_digest
from mapguard.source.loader import FileError
from mapguard.source.outside import OutsideReads
from mapguard.source.xpkg import declarations_digest

if TYPE_CHECKING:
    import sqlite3

SCHEMA = "CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mapguard"


@functools.cache
def _code_fingerprint() -> str:
    """A hash of mapguard's analysis code: editing a rule invalidates the cache."""
    digest = blake2b(__version__.encode(), digest_size=16)
    package_root = Path(__file__).resolve().parent.parent
    for sub in ("lint", "source"):
        for path in sorted((package_root / sub).rglob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def cache_key(package_dir: PackageDir, options_fingerprint: str) -> str:
    digest = blake2b(digest_size=20)
    digest.update(_code_fingerprint().encode())
    digest.update(options_fingerprint.encode())
    module = find_module(package_dir.directory)
    if module is not None:
        digest.update(f"{module.root}|{module.path}|{module.go_version}".encode())
    for source_file in package_dir.files:
        digest.update(str(source_file.path).encode() + b"\0")
        digest.update(blake2b(source_file.content, digest_size=20).digest())
    return digest.hexdigest()


CACHE_FILE = "lint-v2.sqlite"


def cache_exists(directory: Path) -> bool:
    """Whether a cache was made in `directory` (by an earlier run)."""
    return (directory / CACHE_FILE).is_file()


class LintCache:
    def __init__(self, directory: Path, *, reading_only: bool = False) -> None:
        """The cache in `directory`, made if missing; `reading_only` (a worker's: only the
        parent writes): a missing cache has nothing to read, and is left for the parent to
        make (two workers making it at once waited on each other's lock: 3-10 ms each on a
        cold run)."""
        self._connection: sqlite3.Connection | None = None
        path = directory / CACHE_FILE
        if reading_only and not cache_exists(directory):
            return
        # Imported here: a run without a cache has no use for it (1.6 ms of lint's start).
        import sqlite3

        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(path, timeout=5)
            self._connection.execute(SCHEMA)
        except (OSError, sqlite3.Error):
            self._connection = None  # an unusable cache only costs speed

    @property
    def readable(self) -> bool:
        return self._connection is not None

    def get(self, key: str) -> DirResult | None:
        if self._connection is None:
            return None
        import sqlite3

        try:
            row = self._connection.execute(
                "SELECT value FROM results WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        if not row:
            return None
        result = _decode(row[0])
        return result if unchanged(result.outside) else None

    def put_many(self, items: Iterable[tuple[str, DirResult]]) -> None:
        if self._connection is None:
            return
        rows = [(key, _encode(result)) for key, result in items]
        if not rows:
            return  # no transaction, no commit to wait for
        import sqlite3

        try:
            with self._connection:
                self._connection.executemany(
                    "INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)", rows)
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
        "outside": {"declarations": [[str(p), d] for p, d in result.outside.declarations],
                    "modules": [[str(p), d] for p, d in result.outside.modules]},
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
        ReadOutside(tuple((Path(p), d) for p, d in data["outside"]["declarations"]),
                    tuple((Path(p), d) for p, d in data["outside"]["modules"])),
    )


def digested(reads: OutsideReads) -> ReadOutside:
    """What an analysis read outside its package, each with a digest of what it is now."""
    return ReadOutside(tuple((d, declarations_digest(d)) for d in sorted(reads.declarations)),
                       tuple((r, module_digest(r)) for r in sorted(reads.modules)))


def unchanged(read: ReadOutside) -> bool:
    """Whether everything a cached result read outside its package is as it was."""
    return all(declarations_digest(d) == digest for d, digest in read.declarations) and all(
        module_digest(r) == digest for r, digest in read.modules)
