"""Reading an evidence bundle: which files it holds, of which kind and label.

The manifest, when there is one, adds what a file cannot say about itself (the source tree of a
label, a profile's start snapshot, the requests a run served); files put into the kind
directories by hand are found without it. Files of unknown kinds are listed as problems, never
guessed at.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapguard.bundle.layout import (
    BUNDLE_VERSION,
    KIND_BY_DIRECTORY,
    MANIFEST,
    label_of,
    matching_suffix,
)
from mapguard.errors import InputError, UsageError

START_SUFFIX = ".start"  # profiles/LABEL.KIND.start.pb.gz: the snapshot the evidence starts at
_SHARED_KINDS = ("demo", "bench", "prometheus")


@dataclass(frozen=True, slots=True)
class Entry:
    kind: str
    label: str
    path: Path
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The path inside the bundle, as messages name it."""
        return f"{self.path.parent.name}/{self.path.name}"


@dataclass(frozen=True, slots=True)
class Bundle:
    root: Path
    entries: tuple[Entry, ...]
    sources: Mapping[str, str]  # label -> the Go source tree of that label
    problems: tuple[str, ...] = ()  # files the bundle holds that no reader takes

    def labels(self) -> list[str]:
        """Labels in the order they were first written (manifest), then by name."""
        return list(dict.fromkeys(entry.label for entry in self.entries))

    def evidence_labels(self) -> list[str]:
        """Labels with evidence of a program (not only a demo summary, benchmark verdicts or
        saved series, which are about several labels)."""
        return list(dict.fromkeys(entry.label for entry in self.entries
                                  if entry.kind not in _SHARED_KINDS))

    def of(self, kind: str, label: str | None = None) -> list[Entry]:
        return [e for e in self.entries if e.kind == kind and (label is None or e.label == label)]

    def source(self, label: str) -> Path | None:
        found = self.sources.get(label)
        return Path(found) if found else None


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest's content, or None when it is not a mapguard bundle manifest."""
    data = read_json_file(path)
    if not isinstance(data, dict) or "mapguard_bundle" not in data:
        return None
    version = data.get("mapguard_bundle")
    if version != BUNDLE_VERSION:
        raise InputError(path, f"bundle layout version {version!r}",
                         expected=f"version {BUNDLE_VERSION} (this mapguard's layout)")
    if not isinstance(data.get("entries", []), list) or not isinstance(
            data.get("sources", {}), dict):
        raise InputError(path, "entries must be a list and sources an object")
    data.setdefault("entries", [])
    data.setdefault("sources", {})
    return data


def read_json_file(path: Path) -> Any:
    """JSON from a file, every failure one InputError naming it."""
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise InputError(path, "is a directory", expected="a JSON file") from None
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(path, "not UTF-8 text", where=f"line {line}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON: {exc.msg}", where=f"line {exc.lineno}") from None


def open_bundle(root: Path) -> Bundle:
    """The files of a bundle directory. A missing directory is a usage error; a bad manifest
    an input error; stray files are listed in `problems`."""
    try:
        return _open_bundle(root)
    except PermissionError as exc:
        raise UsageError(f"--bundle {root}: cannot read {exc.filename or root}: "
                         f"{exc.strerror}") from None


def _open_bundle(root: Path) -> Bundle:
    if not root.exists():
        raise UsageError(f"--bundle {root}: no such directory")
    if not root.is_dir():
        raise UsageError(f"--bundle {root}: not a directory")
    manifest_path = root / MANIFEST
    manifest = read_manifest(manifest_path) if manifest_path.exists() else None
    listed: dict[Path, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    if manifest is not None:
        for item in manifest["entries"]:
            if isinstance(item, dict) and isinstance(item.get("path"), str):
                listed[(root / item["path"]).resolve()] = item
        sources = {str(k): str(v) for k, v in manifest["sources"].items()}
    entries: list[Entry] = []
    problems: list[str] = []
    for directory in sorted(p for p in root.iterdir() if p.is_dir()):
        kind = KIND_BY_DIRECTORY.get(directory.name)
        for path in sorted(p for p in directory.iterdir() if not p.name.startswith(".")):
            if kind is None:
                problems.append(f"{directory.name}/{path.name}: not a kind of evidence this "
                                f"mapguard reads (directories: {_directories()})")
                continue
            suffix = matching_suffix(kind, path.name)
            if suffix is None or not path.is_file():
                problems.append(f"{directory.name}/{path.name}: expected {kind.what} "
                                f"(file names ending {', '.join(kind.suffixes)})")
                continue
            if kind.name == "profile" and START_SUFFIX + "." in path.name:
                continue  # a start snapshot: read with the profile it starts
            item = listed.get(path.resolve(), {})
            meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
            label = str(item.get("label") or label_of(path.name))
            entries.append(Entry(kind.name, label, path, meta or {}))
    order = {path: index for index, path in enumerate(listed)}
    entries.sort(key=lambda e: (order.get(e.path.resolve(), len(order)), e.kind, e.path.name))
    return Bundle(root, tuple(entries), sources, tuple(problems))


def start_snapshot(entry: Entry) -> Path | None:
    """`profiles/LABEL.KIND.start.pb.gz` beside `profiles/LABEL.KIND.pb.gz`, if there is one."""
    name = entry.path.name
    for suffix in (".pb.gz", ".pb"):
        if name.endswith(suffix):
            candidate = entry.path.with_name(name[: -len(suffix)] + START_SUFFIX + suffix)
            return candidate if candidate.is_file() else None
    return None


def _directories() -> str:
    return ", ".join(sorted(KIND_BY_DIRECTORY))
