"""Check out git revisions side by side, in temporary worktrees, to build each one's benchmarks.

`git worktree add --detach` gives each revision its own directory sharing the repository's
objects: nothing in the user's working tree changes, and every worktree is removed again on the
way out, whatever happens in between.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from mapguard.errors import ToolError, UsageError

GIT_TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class Checkout:
    revision: str  # as the user named it
    commit: str
    package_dir: Path  # the package's directory inside the worktree


def _git(args: Sequence[str], cwd: Path) -> str:
    git = shutil.which("git")
    if git is None:
        raise ToolError("git not found: --rev needs git on PATH")
    try:
        proc = subprocess.run([git, *args], cwd=cwd, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"`git {' '.join(args)}` did not finish within {GIT_TIMEOUT_S:.0f} s"
                        ) from exc
    if proc.returncode != 0:
        raise _GitFailed(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip()
                         else f"exit status {proc.returncode}")
    return proc.stdout.strip()


class _GitFailed(ToolError):
    pass


@contextmanager
def checkouts(package: Path, revisions: Sequence[str]) -> Iterator[list[Checkout]]:
    """One worktree per revision, each with `package`'s directory located inside it."""
    if not package.is_dir():
        raise UsageError(f"{package}: not a directory (expected the Go package to benchmark)")
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], package.resolve()))
    except _GitFailed:
        raise UsageError(f"{package}: not inside a git repository (--rev needs one)") from None
    relative = package.resolve().relative_to(top.resolve())
    commits = []
    for revision in revisions:
        try:
            commits.append(_git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
                                top))
        except _GitFailed:
            raise UsageError(f"--rev {revision}: not a commit in {top}") from None
    scratch = Path(tempfile.mkdtemp(prefix="mapguard-bench-"))
    added: list[Path] = []
    try:
        found = []
        for index, (revision, commit) in enumerate(zip(revisions, commits, strict=True)):
            worktree = scratch / f"rev{index}"
            _git(["worktree", "add", "--detach", "--quiet", str(worktree), commit], top)
            added.append(worktree)
            found.append(Checkout(revision, commit, worktree / relative))
        yield found
    finally:
        for worktree in added:
            # What cannot be removed goes with the scratch directory; prune forgets it.
            with suppress(ToolError):
                _git(["worktree", "remove", "--force", str(worktree)], top)
        shutil.rmtree(scratch, ignore_errors=True)
        with suppress(ToolError):
            _git(["worktree", "prune"], top)
