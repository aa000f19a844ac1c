"""What this machine offers mapguard: the Go toolchain and the optional tools commands drive."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata

import click

from mapguard.clikit import emit_json, format_option
from mapguard.errors import ToolError
from mapguard.gotool import INSTALL_HINT, find_go


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool  # a missing required piece makes `doctor` exit 1


# Optional tools: the command that needs each, and the binary name to look for.
OPTIONAL_TOOLS: tuple[tuple[str, str, str], ...] = (
    ("promtool", "promtool", "slo generate --tests, rule checks"),
    ("prometheus", "prometheus", "slo integration tests"),
    ("amtool", "amtool", "slo generate --alertmanager checks"),
    ("bpftrace", "bpftrace", "ebpf tests (the reference counts)"),
    ("chromium", "chromium", "report tests"),
)


def _first_line(command: list[str]) -> str:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "installed (version unknown)"
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[0] if text else "installed"


def go_check() -> Check:
    try:
        toolchain = find_go()
    except ToolError as exc:
        return Check("go", False, str(exc), required=True)
    if toolchain is None:
        return Check("go", False, f"not found: {INSTALL_HINT}", required=True)
    detail = f"{toolchain.full_version} at {toolchain.go} (found via {toolchain.found_via})"
    return Check("go", True, detail, required=True)


def run_checks() -> list[Check]:
    checks = [
        # Which build runs mapguard matters to its speed: a CPython without PGO/LTO, on a
        # shared libpython, linted 3-15 % slower (docs/lint.md, "Speed"; dev.py chooses).
        Check("python", True, f"{platform.python_implementation()} {platform.python_version()}"
              f" at {os.path.realpath(sys.executable)}", required=True),
        Check("mapguard", True, metadata.version("mapguard"), required=True),
        Check("tree-sitter-go", True, metadata.version("tree-sitter-go"), required=True),
        go_check(),
    ]
    for name, binary, used_by in OPTIONAL_TOOLS:
        path = shutil.which(binary)
        if path is None:
            checks.append(Check(name, False, f"not found (needed by: {used_by})", required=False))
        else:
            version = _first_line([path, "--version"])
            checks.append(Check(name, True, f"{version} at {path}", required=False))
    return checks


@click.command("doctor")
@format_option()
def doctor_command(output_format: str) -> int:
    """Is a Go toolchain there, which version, and which optional tools?"""
    checks = run_checks()
    if output_format == "json":
        emit_json({"checks": [
            {"name": c.name, "ok": c.ok, "detail": c.detail, "required": c.required}
            for c in checks
        ]})
    else:
        for check in checks:
            mark = "ok " if check.ok else ("MISSING" if check.required else "-  ")
            click.echo(f"{mark:8} {check.name:15} {check.detail}")
    return 0 if all(c.ok for c in checks if c.required) else 1
