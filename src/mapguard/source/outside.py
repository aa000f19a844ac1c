"""What an analysis of one package read outside that package's files.

A package's findings depend on more than its own files: the declarations of the packages of
the module it calls into (`mapguard.source.xpkg`), and searches of the whole module's files
(whether another package registers a method as an HTTP handler, whether the route set-up calls
a lazy getter: `mapguard.source.handler_uses`, `startup`, `grpc_services`, `locks`,
`valueflow`). The result cache (`mapguard.lint.cache`) keys a package's result by its own
files and keeps, with the result, what else was read and a digest of it: the result is reused
only while those are the same. Keyed by the package's files alone, a cached result missed a
finding once another package registered one of its methods as a handler.

Every answer drawn from files outside the package notes here what it read, also when the
answer comes from a memo filled for another package: the note is per analysis (`begin`,
`taken`), the memo per run. A run (`start_run`) forgets what the runs before it memoised of
those files: they may have changed since (a `--fix`, a test or a watch loop in one process).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class OutsideReads:
    """What one analysis read outside its package."""

    declarations: frozenset[Path] = frozenset()  # package directories whose declarations
    modules: frozenset[Path] = frozenset()  # module roots whose files were searched


_declarations: set[Path] = set()
_modules: set[Path] = set()


def begin() -> None:
    """An analysis starts: nothing read outside it yet."""
    _declarations.clear()
    _modules.clear()


def read_declarations(directory: Path) -> None:
    _declarations.add(directory)


def searched_module(root: Path) -> None:
    _modules.add(root)


def taken() -> OutsideReads:
    """What the analysis begun last has read outside its package so far."""
    return OutsideReads(frozenset(_declarations), frozenset(_modules))


_AT_RUN_START: list[Callable[[], None]] = []


def forget_at_run_start(forget: Callable[[], None]) -> None:
    """Register a memo of files outside a package to forget when a run starts."""
    _AT_RUN_START.append(forget)


def start_run() -> None:
    """A run starts: the files outside each package are read again when asked about."""
    for forget in _AT_RUN_START:
        forget()
