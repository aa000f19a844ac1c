"""Real tools, servers and kernel features the tests drive: skip locally, fail under CI.

The project's tests run real parts (the Go toolchain, promtool, Prometheus, bpftrace, cgroups,
Chromium). `dev.py test` installs them; when one is still missing a test is skipped with the
reason, except under CI (`CI=true`), where the set-up was supposed to provide it and its
absence is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"true", "1", "yes"}


def missing_real_part(reason: str) -> None:
    """Skip with `reason` locally; fail with it under CI."""
    if under_ci():
        pytest.fail(f"CI=true and a real part is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def require_executable(name: str, install_hint: str) -> str:
    """The path of `name` on PATH (or an existing absolute path), else skip/fail as above."""
    candidate = Path(name)
    found = shutil.which(name) or (name if candidate.is_absolute() and candidate.exists() else None)
    if found is None:
        missing_real_part(f"{name} not installed: {install_hint}")
    assert found is not None
    return found
