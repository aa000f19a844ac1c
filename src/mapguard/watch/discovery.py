"""Where the targets come from: static ones, Prometheus `file_sd` files (re-read when they
change) and `http_sd` endpoints (polled), filtered to this agent's shard.

Both SD formats are Prometheus' own: a JSON (or, for files, YAML) list of groups
`{"targets": ["HOST:PORT", ...], "labels": {...}}`. A file or endpoint that turns bad keeps its
last good targets and the problem is logged: one broken file never empties the fleet.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mapguard.errors import InputError
from mapguard.watch.config import FileSD, HttpSD, Shard, WatchConfig
from mapguard.watch.failures import ScrapeError
from mapguard.watch.fetch import Clients, Deadline
from mapguard.watch.sharding import in_shard
from mapguard.watch.targets import Client, Target, discovered_target

log = logging.getLogger("mapguard.watch")

FILE_POLL_SECONDS = 5.0
MAX_SD_BYTES = 8 << 20
_YAML_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True, slots=True)
class Group:
    targets: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)


def parse_groups(data: bytes, source: str, *, yaml_text: bool = False) -> tuple[Group, ...]:
    """A file_sd/http_sd document: a list of {targets: [...], labels: {...}}."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(source, "not UTF-8 text", where=f"offset {exc.start}",
                         expected="a JSON list of target groups") from None
    try:
        document: Any = yaml.safe_load(text) if yaml_text else json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"invalid JSON: {exc.msg}",
                         where=f"line {exc.lineno}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(source, "invalid YAML",
                         where=f"line {mark.line + 1}" if mark is not None else None) from None
    if document is None:
        return ()
    if not isinstance(document, list):
        raise InputError(source, "not a list of target groups",
                         expected='[{"targets": ["HOST:PORT"], "labels": {...}}]')
    groups = []
    for index, item in enumerate(document):
        where = f"group {index}"
        if not isinstance(item, dict) or set(item) - {"targets", "labels"}:
            raise InputError(source, "a group has only `targets` and `labels`", where=where)
        targets = item.get("targets")
        labels = item.get("labels") or {}
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise InputError(source, "`targets` is not a list of HOST:PORT strings",
                             where=where)
        if not isinstance(labels, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise InputError(source, "`labels` is not a map of strings to strings",
                             where=where)
        groups.append(Group(tuple(targets), dict(labels)))
    return tuple(groups)


def read_groups_file(path: Path) -> tuple[Group, ...]:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_SD_BYTES + 1)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None
    if len(data) > MAX_SD_BYTES:
        raise InputError(path, f"larger than {MAX_SD_BYTES} bytes")
    return parse_groups(data, str(path), yaml_text=path.suffix in _YAML_SUFFIXES)


def _has_magic(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def matches(pattern: str) -> list[Path]:
    """Files matching a file_sd pattern; as in Prometheus, only the last path segment may
    hold wildcards."""
    path = Path(pattern)
    if not _has_magic(path.name):
        return [path] if path.is_file() else []
    return sorted(found for found in path.parent.glob(path.name) if found.is_file())


@dataclass(frozen=True, slots=True)
class _Found:
    """Groups from one file or endpoint, and what their targets share."""

    groups: tuple[Group, ...]
    source: Path | None
    client: Client
    origin: str


def select(static: tuple[Target, ...], found: list[_Found], shard: Shard
           ) -> tuple[dict[str, Target], list[str]]:
    """This shard's targets by name, and the problems met (bad addresses, duplicate names)."""
    chosen: dict[str, Target] = {}
    problems: list[str] = []
    candidates: list[tuple[str, Target]] = [("the command line or configuration", t)
                                            for t in static]
    for item in found:
        for group in item.groups:
            for address in group.targets:
                try:
                    candidates.append((item.origin, discovered_target(
                        address, group.labels, source=item.source, client=item.client)))
                except ValueError as exc:
                    problems.append(f"{item.origin}: {exc}")
    for origin, target in candidates:
        if not in_shard(target.address, shard):
            continue
        if target.name in chosen:
            if chosen[target.name] != target:
                problems.append(f"{origin}: target name {target.name!r} is taken by "
                                f"{chosen[target.name].base_url}; {target.base_url} skipped")
            continue
        chosen[target.name] = target
    return chosen, problems


class Discovery:
    """Keeps the target set current and hands each new set to `publish`."""

    def __init__(self, config: WatchConfig, clients: Clients) -> None:
        self.config = config
        self.clients = clients
        self.files: dict[str, tuple[tuple[int, int], _Found]] = {}  # path -> (stat, groups)
        self.http: dict[str, _Found] = {}
        self.reported: set[str] = set()

    def check_files(self) -> None:
        """Read every file now; a named (non-glob) file that is missing or bad is an error."""
        for sd in self.config.file_sd:
            for pattern in sd.patterns:
                if not _has_magic(pattern):
                    path = Path(pattern)
                    self._store(path, read_groups_file(path), sd)
        self._reload_files()

    async def fetch_http(self, *, strict: bool) -> None:
        for sd in self.config.http_sd:
            try:
                await self._fetch(sd)
            except (ScrapeError, InputError) as exc:
                if strict:
                    raise InputError(sd.url, str(exc)) from None
                self._report(f"http_sd {exc}")

    def targets(self) -> dict[str, Target]:
        found = [item for _, item in self.files.values()] + list(self.http.values())
        chosen, problems = select(self.config.targets, found, self.config.shard)
        for problem in problems:
            self._report(problem)
        return chosen

    async def run(self, publish: Callable[[dict[str, Target]], None]) -> None:
        """Poll files every few seconds and endpoints at their refresh interval."""
        loop = asyncio.get_running_loop()
        due = {sd.url: loop.time() + sd.refresh_seconds for sd in self.config.http_sd}
        current = self.targets()
        while True:
            await asyncio.sleep(FILE_POLL_SECONDS)
            self._reload_files()
            for sd in self.config.http_sd:
                if loop.time() >= due[sd.url]:
                    due[sd.url] = loop.time() + sd.refresh_seconds
                    try:
                        await self._fetch(sd)
                    except (ScrapeError, InputError) as exc:
                        self._report(f"http_sd {exc}")
            latest = self.targets()
            if latest != current:
                current = latest
                publish(latest)

    def _reload_files(self) -> None:
        for sd in self.config.file_sd:
            for pattern in sd.patterns:
                for path in matches(pattern):
                    name = str(path)
                    try:
                        stat = path.stat()
                    except OSError:
                        continue  # gone between glob and stat: the next poll will see
                    known = self.files.get(name)
                    if known is not None and known[0] == (stat.st_mtime_ns, stat.st_size):
                        continue
                    try:
                        self._store(path, read_groups_file(path), sd)
                    except InputError as exc:
                        self._report(f"file_sd {exc} (keeping its previous targets)")
        present = {str(path) for sd in self.config.file_sd for pattern in sd.patterns
                   for path in matches(pattern)}
        for gone in set(self.files) - present:
            del self.files[gone]

    def _store(self, path: Path, groups: tuple[Group, ...], sd: FileSD) -> None:
        stat = path.stat()
        self.files[str(path)] = ((stat.st_mtime_ns, stat.st_size),
                                 _Found(groups, sd.source, sd.client, str(path)))

    async def _fetch(self, sd: HttpSD) -> None:
        body = await self.clients.request(sd.url, sd.client,
                                          Deadline(self.config.timeout_seconds,
                                                   self.config.timeout_seconds))
        self.http[sd.url] = _Found(parse_groups(body, sd.url), sd.source, sd.client, sd.url)

    def _report(self, problem: str) -> None:
        if problem not in self.reported:  # once per distinct problem, not once per poll
            self.reported.add(problem)
            log.warning("%s", problem)
