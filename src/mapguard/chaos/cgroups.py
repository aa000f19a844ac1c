"""CPU quota through real cgroups: v1 (`cpu` controller, `cpu.cfs_quota_us`) or v2 (`cpu.max`).

A chaos run creates one uniquely named cgroup below the target's own (so limits above it still
apply), moves the target's process tree in, steps its quota, and on the way out moves every
process back where it came from and removes the cgroup. `restore()` is safe to call more than
once and on every path (normal end, Ctrl-C, SIGTERM, a dead target).

Parsers of /proc/mounts and /proc/PID/cgroup are pure; everything touching the files is here.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mapguard.errors import ToolError

NAME_PREFIX = "mapguard-chaos-"
V1_UNLIMITED = -1
V1_THREAD_SHARES, V1_MAX_SHARES = 1024, 262_144
V2_THREAD_WEIGHT, V2_MAX_WEIGHT = 100, 10_000
RMDIR_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Hierarchy:
    version: int  # 1 or 2
    mount: Path


@dataclass(frozen=True, slots=True)
class ThrottleStats:
    periods: int
    throttled: int
    throttled_us: float

    def since(self, earlier: ThrottleStats) -> ThrottleStats:
        return ThrottleStats(self.periods - earlier.periods, self.throttled - earlier.throttled,
                             self.throttled_us - earlier.throttled_us)


def cpu_hierarchies(mounts: str) -> list[Hierarchy]:
    """Mounted hierarchies that may carry the cpu controller: v1 mounts with the `cpu` option,
    then cgroup2 mounts (whether cpu is enabled there is read from the mount itself)."""
    v1, v2 = [], []
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mount, kind, options = Path(fields[1].replace("\\040", " ")), fields[2], fields[3]
        if kind == "cgroup" and "cpu" in options.split(","):
            v1.append(Hierarchy(1, mount))
        elif kind == "cgroup2":
            v2.append(Hierarchy(2, mount))
    return v1 + v2


def process_cgroup(text: str, version: int) -> str | None:
    """The path (below the hierarchy's mount) of a process in /proc/PID/cgroup's text."""
    for line in text.splitlines():
        hierarchy_id, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if version == 2 and hierarchy_id == "0" and controllers == "":
            return path
        if version == 1 and "cpu" in controllers.split(","):
            return path
    return None


def parse_cpu_stat(text: str) -> ThrottleStats:
    values = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            values[key] = int(value)
    # v1 writes throttled_time in ns, v2 throttled_usec.
    throttled_us = (values["throttled_usec"] if "throttled_usec" in values
                    else values.get("throttled_time", 0) / 1000)
    return ThrottleStats(values.get("nr_periods", 0), values.get("nr_throttled", 0),
                         throttled_us)


def usable_hierarchy(mounts: str | None = None) -> tuple[Hierarchy | None, str]:
    """The hierarchy where the cpu controller lives and can be written, or why there is none."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8")
        except OSError as exc:
            return None, f"cannot read /proc/mounts: {exc.strerror}"
    reasons = []
    for hierarchy in cpu_hierarchies(mounts):
        problem = _unusable(hierarchy)
        if problem is None:
            return hierarchy, ""
        reasons.append(f"cgroup v{hierarchy.version} at {hierarchy.mount}: {problem}")
    if not reasons:
        return None, "no cgroup hierarchy with the cpu controller is mounted"
    return None, "; ".join(reasons)


def _unusable(hierarchy: Hierarchy) -> str | None:
    if hierarchy.version == 2:
        controllers = _read(hierarchy.mount / "cgroup.controllers")
        if controllers is None or "cpu" not in controllers.split():
            return "the cpu controller is not available there (it is bound to cgroup v1)"
    elif not (hierarchy.mount / "cpu.cfs_quota_us").exists():
        return "no cpu.cfs_quota_us"
    if not os.access(hierarchy.mount, os.W_OK):
        return "not writable (mapguard chaos needs root or a delegated cgroup)"
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def process_tree(root: int, proc: Path = Path("/proc")) -> list[int]:
    """`root` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        stat = _read(entry / "stat")
        if stat is None:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = stat.rpartition(")")[2].split()
        if len(fields) >= 2 and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie that was not reaped yet counts as gone)."""
    stat = _read(Path(f"/proc/{pid}/stat"))
    return stat is not None and stat.rpartition(")")[2].split()[:1] != ["Z"]


class QuotaCgroup:
    """One chaos cgroup. Create with `create`, always end with `restore`."""

    def __init__(self, hierarchy: Hierarchy, path: Path, origins: dict[int, Path],
                 home: Path, enabled_cpu_in: Path | None) -> None:
        self.hierarchy = hierarchy
        self.path = path  # the cgroup's directory
        self.origins = origins  # pid -> the cgroup directory it was in
        self.home = home  # where processes without a known origin go back to
        self.enabled_cpu_in = enabled_cpu_in  # v2: whose subtree_control we added +cpu to
        self.restored = False
        self.period_us = 100_000

    @classmethod
    def create(cls, hierarchy: Hierarchy, target: int) -> QuotaCgroup:
        text = _read(Path(f"/proc/{target}/cgroup"))
        relative = None if text is None else process_cgroup(text, hierarchy.version)
        if relative is None:
            raise ToolError(f"process {target} not found, or not in a cgroup v"
                            f"{hierarchy.version} hierarchy")
        home = hierarchy.mount / relative.lstrip("/")
        parent, enabled = home, None
        if hierarchy.version == 2:
            parent, enabled = _v2_parent(hierarchy, home)
        path = parent / f"{NAME_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except OSError as exc:
            if enabled is not None:
                _write(enabled / "cgroup.subtree_control", "-cpu")
            raise ToolError(f"cannot create cgroup {path}: {exc.strerror}") from None
        cgroup = cls(hierarchy, path, {}, home, enabled)
        try:
            cgroup.period_us = cgroup._period()
            cgroup._weigh_like_loose_threads()
            cgroup.move_in(process_tree(target))
        except BaseException:
            cgroup.restore()
            raise
        if not cgroup.origins:
            cgroup.restore()
            raise ToolError(f"process {target} exited before it could be moved")
        return cgroup

    def move_in(self, pids: Iterable[int]) -> None:
        for pid in pids:
            text = _read(Path(f"/proc/{pid}/cgroup"))
            relative = None if text is None else process_cgroup(text, self.hierarchy.version)
            if relative is None:
                continue  # exited meanwhile
            origin = self.hierarchy.mount / relative.lstrip("/")
            if origin == self.path:
                continue
            try:
                _write(self.path / "cgroup.procs", str(pid))
            except OSError as exc:
                if exc.errno == errno.ESRCH:
                    continue
                raise ToolError(f"cannot move process {pid} into {self.path}: "
                                f"{exc.strerror}") from None
            self.origins[pid] = origin

    def set_quota(self, cpus: float | None) -> None:
        """Limit to `cpus` CPUs' worth of time per period (None: no limit)."""
        if self.hierarchy.version == 1:
            value = V1_UNLIMITED if cpus is None else max(1000, round(cpus * self.period_us))
            _write(self.path / "cpu.cfs_quota_us", str(value))
        else:
            quota = "max" if cpus is None else str(max(1000, round(cpus * self.period_us)))
            _write(self.path / "cpu.max", f"{quota} {self.period_us}")

    def quota_text(self) -> str:
        """The quota file as the kernel shows it now."""
        name = "cpu.cfs_quota_us" if self.hierarchy.version == 1 else "cpu.max"
        return (_read(self.path / name) or "").strip()

    def stats(self) -> ThrottleStats:
        return parse_cpu_stat(_read(self.path / "cpu.stat") or "")

    def members(self) -> list[int]:
        text = _read(self.path / "cgroup.procs") or ""
        return [int(line) for line in text.split() if line.isdigit()]

    def restore(self) -> list[str]:
        """Every process back to its cgroup, the chaos cgroup removed; returns what could not
        be undone (empty when everything was)."""
        if self.restored:
            return []
        problems = []
        for attempt in range(3):  # a process may fork while we move its family out
            for pid in self.members():
                origin = self.origins.get(pid, self.home)
                destination = origin if origin.is_dir() else self.home
                try:
                    _write(destination / "cgroup.procs", str(pid))
                except OSError as exc:
                    if exc.errno != errno.ESRCH and attempt == 2:
                        problems.append(f"process {pid} stays in {self.path}: {exc.strerror}")
        deadline = time.monotonic() + RMDIR_TIMEOUT_S
        while True:
            try:
                self.path.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError as exc:
                # EBUSY while exiting tasks are still being released.
                if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                    problems.append(f"cannot remove {self.path}: {exc.strerror}")
                    break
                time.sleep(0.05)
        if self.enabled_cpu_in is not None:
            # Fails when other cgroups below it use the controller now: then it stays on.
            with contextlib.suppress(OSError):
                _write(self.enabled_cpu_in / "cgroup.subtree_control", "-cpu")
        self.restored = True
        return problems

    def _weigh_like_loose_threads(self) -> None:
        """A cgroup competes for CPU as one entity of weight `cpu.shares` (1024, one busy
        thread's) or `cpu.weight` (100). Outside it, every thread of the target competed on its
        own: the cgroup weighs as much as one busy thread per CPU, so that moving the target in
        does not by itself shrink its share of a contended machine."""
        cpus = len(os.sched_getaffinity(0))
        if self.hierarchy.version == 1:
            _write(self.path / "cpu.shares", str(min(V1_MAX_SHARES, V1_THREAD_SHARES * cpus)))
        else:
            _write(self.path / "cpu.weight", str(min(V2_MAX_WEIGHT, V2_THREAD_WEIGHT * cpus)))

    def _period(self) -> int:
        if self.hierarchy.version == 1:
            text = _read(self.path / "cpu.cfs_period_us")
            return int(text) if text and text.strip().isdigit() else 100_000
        fields = (_read(self.path / "cpu.max") or "max 100000").split()
        return int(fields[1]) if len(fields) == 2 and fields[1].isdigit() else 100_000


def _v2_parent(hierarchy: Hierarchy, home: Path) -> tuple[Path, Path | None]:
    """Where a v2 chaos cgroup can get the cpu controller: below the target's cgroup when cpu
    is delegated to its children, else below the nearest ancestor that delegates it (the
    "no internal processes" rule forbids enabling it in a cgroup that has processes), else
    below the root, enabling cpu there for the run."""
    for candidate in (home, *home.parents):
        if not candidate.is_relative_to(hierarchy.mount):
            break
        if "cpu" in (_read(candidate / "cgroup.subtree_control") or "").split():
            return candidate, None
    try:
        _write(hierarchy.mount / "cgroup.subtree_control", "+cpu")
    except OSError as exc:
        raise ToolError(f"cannot enable the cpu controller in {hierarchy.mount}: "
                        f"{exc.strerror}") from None
    return hierarchy.mount, hierarchy.mount


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)


def leftovers(hierarchy: Hierarchy, roots: Sequence[Path]) -> list[Path]:
    """Chaos cgroups whose mapguard process is gone (it was killed without a chance to clean
    up), directly below `roots`."""
    found = []
    for root in roots:
        try:
            entries = list(root.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir() and entry.name.startswith(NAME_PREFIX):
                owner = entry.name[len(NAME_PREFIX):].split("-")[0]
                if owner.isdigit() and not alive(int(owner)):
                    found.append(entry)
    return found


def remove_leftover(path: Path) -> None:
    """Move a dead run's processes to the parent cgroup and remove it."""
    for pid in (_read(path / "cgroup.procs") or "").split():
        try:
            _write(path.parent / "cgroup.procs", pid)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                raise ToolError(f"cannot move process {pid} out of {path}: {exc.strerror}") \
                    from None
    try:
        path.rmdir()
    except OSError as exc:
        raise ToolError(f"cannot remove {path}: {exc.strerror}") from None
