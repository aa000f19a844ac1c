"""Writing into an evidence bundle: each file lands in its kind's directory, then the manifest
records it. The manifest is replaced atomically under a lock, so commands writing into one
bundle at the same time (a load beside a profile) keep each other's entries, and an interrupted
command leaves every file it finished listed."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mapguard import __version__
from mapguard.bundle.layout import (
    BUNDLE_VERSION,
    KIND_BY_NAME,
    MANIFEST,
    check_label,
)
from mapguard.errors import InputError, UsageError

_LOCK = ".bundle.lock"
FILE_MODE = 0o644


class BundleWriter:
    """A bundle directory opened for writing (created when missing; its parent must exist)."""

    def __init__(self, root: Path, *, producer: str) -> None:
        self.root = root
        self.producer = producer
        if root.exists() and not root.is_dir():
            raise UsageError(f"--bundle {root}: not a directory")
        if not root.exists():
            if not root.parent.is_dir():
                raise UsageError(f"--bundle {root}: directory {root.parent} does not exist")
            try:
                root.mkdir()
            except FileExistsError:
                pass  # another command created it meanwhile
            except OSError as exc:
                raise UsageError(f"--bundle {root}: cannot create: {exc.strerror}") from None
        with self._locked():
            self._read_manifest()  # refuse a foreign or newer bundle before writing into it

    def add_json(self, kind: str, label: str, document: Mapping[str, Any], *,
                 meta: Mapping[str, Any] | None = None) -> Path:
        text = json.dumps(document, indent=2, sort_keys=False) + "\n"
        return self.add_bytes(kind, label, text.encode("utf-8"), ".json", meta=meta)

    def add_text(self, kind: str, label: str, text: str, suffix: str, *,
                 meta: Mapping[str, Any] | None = None) -> Path:
        return self.add_bytes(kind, label, text.encode("utf-8"), suffix, meta=meta)

    def add_bytes(self, kind: str, label: str, data: bytes, suffix: str, *,
                  meta: Mapping[str, Any] | None = None) -> Path:
        """Write `data` as KIND's directory/LABEL+suffix (suffix like `.allocs.pb.gz`),
        replacing an earlier file of that name, and list it in the manifest."""
        found = KIND_BY_NAME[kind]
        check_label(label)
        directory = self.root / found.directory
        path = directory / f"{label}{suffix}"
        try:
            directory.mkdir(exist_ok=True)
            _atomic_write(path, data)
        except OSError as exc:
            raise UsageError(f"--bundle {self.root}: cannot write {path.name}: "
                             f"{exc.strerror or exc}") from None
        relative = path.relative_to(self.root).as_posix()
        entry = {"kind": kind, "label": label, "path": relative, "by": self.producer,
                 "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "meta": dict(meta or {})}
        with self._locked():
            manifest = self._read_manifest()
            entries = [e for e in manifest["entries"] if e.get("path") != relative]
            manifest["entries"] = [*entries, entry]
            self._write_manifest(manifest)
        return path

    def set_source(self, label: str, source: Path) -> None:
        """Where the Go source of `label` lives: profiles are read against it, code frames
        taken from it."""
        check_label(label)
        with self._locked():
            manifest = self._read_manifest()
            manifest["sources"][label] = str(source.resolve())
            self._write_manifest(manifest)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            handle = (self.root / _LOCK).open("a")
        except OSError as exc:
            raise UsageError(f"--bundle {self.root}: cannot write: {exc.strerror}") from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def _read_manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST
        if not path.exists():
            return {"mapguard_bundle": BUNDLE_VERSION, "created_by": f"mapguard {__version__}",
                    "sources": {}, "entries": []}
        from mapguard.bundle.reader import read_manifest

        manifest = read_manifest(path)
        if manifest is None:
            raise InputError(path, "not a mapguard bundle manifest",
                             expected=f'{{"mapguard_bundle": {BUNDLE_VERSION}, ...}}')
        return manifest

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        data = (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
        try:
            _atomic_write(self.root / MANIFEST, data)
        except OSError as exc:
            raise UsageError(f"--bundle {self.root}: cannot write {MANIFEST}: "
                             f"{exc.strerror or exc}") from None


def _atomic_write(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(descriptor, FILE_MODE)  # mkstemp's 0600 would hide evidence from its team
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
