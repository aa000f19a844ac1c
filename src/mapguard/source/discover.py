"""Which Go files a command line means: `./...`, `dir/...`, directories and files, like `go`.

`dir` is the package in that directory; `dir/...` is it and every directory below, skipping
`vendor`, `testdata` and directories starting with `.` or `_` (the go command's own rule), plus
the user's exclude globs. A directory or file named explicitly is always taken, testdata or not.
Generated files (`// Code generated ... DO NOT EDIT.`) are not linted unless asked for or named,
but they still come along as *context*: the declarations they hold (types, functions) are part
of the package the hand-written files use.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mapguard.errors import UsageError
from mapguard.source.package import is_generated

SKIPPED_DIRS = frozenset({"vendor", "testdata"})


@dataclass(frozen=True, slots=True)
class Selection:
    """Which files of the targets to lint."""

    exclude: tuple[str, ...] = ()  # globs, matched against paths relative to `base`
    base: Path = Path()
    include_generated: bool = False
    include_tests: bool = True


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A Go file's path and bytes, as read."""

    path: Path  # absolute
    content: bytes
    context_only: bool = False  # read for its declarations, never reported on


@dataclass(frozen=True, slots=True)
class PackageDir:
    """The Go files of one directory that the command line selected (one or more packages)."""

    directory: Path
    files: tuple[SourceFile, ...]

    @property
    def size(self) -> int:
        return sum(len(f.content) for f in self.files if not f.context_only)

    @property
    def linted(self) -> int:
        return sum(1 for f in self.files if not f.context_only)


@dataclass(frozen=True, slots=True)
class DirTarget:
    """The selected files of one directory, before anything is read."""

    directory: Path
    files: tuple[tuple[Path, bool], ...]  # (path, named explicitly)
    size: int  # bytes on disk, to schedule the biggest first


@dataclass(frozen=True, slots=True)
class Expansion:
    """What the command line's targets expand to."""

    targets: tuple[DirTarget, ...]
    # The trees the command line names (a directory, or the directory of a named file),
    # resolved: fixes are written inside them only.
    roots: tuple[Path, ...] = ()
    # `dir/...` patterns that matched no Go file, and why (others did: a warning).
    unmatched: tuple[str, ...] = ()


def expand(targets: Iterable[str], cwd: Path, selection: Selection) -> Expansion:
    """The directories and files a command line means; nothing is read yet.

    As for `go vet`, a directory without Go files is an error, and so is a command line that
    matches no Go file at all; a `dir/...` pattern that matches none while others do is only
    listed in `unmatched`."""
    by_dir: dict[Path, dict[Path, bool]] = {}  # directory -> file -> named explicitly
    roots: list[Path] = []
    unmatched: list[str] = []
    targets = list(targets)
    sizes: dict[Path, int] = {}
    for target in targets:
        groups = list(_groups_for(target, cwd, selection))
        if not groups:
            why = f"{target}: {_why_empty(target, cwd, selection)}"
            if not target.endswith("...") or len(targets) == 1:
                raise UsageError(why)
            unmatched.append(why)
            continue
        roots.append(_root(target, cwd))
        for directory, found_here in groups:
            in_dir = by_dir.setdefault(directory, {})
            for path, explicit, size in found_here:
                in_dir[path] = in_dir.get(path, False) or explicit
                sizes[path] = size
    found: list[DirTarget] = []
    for directory in sorted(by_dir):
        # One directory's files: their names order them as their paths would, faster.
        files = tuple(sorted(by_dir[directory].items(), key=lambda item: item[0].name))
        found.append(DirTarget(directory, files, sum(sizes[path] for path, _ in files)))
    if not found:
        raise UsageError("no Go files to lint: " + "; ".join(unmatched))
    return Expansion(tuple(found), tuple(dict.fromkeys(roots)), tuple(unmatched))


def _why_empty(target: str, cwd: Path, selection: Selection) -> str:
    everything = Selection(base=selection.base, include_generated=True)
    if selection != everything and any(True for _ in _groups_for(target, cwd, everything)):
        return "every Go file it matches is excluded (--exclude, include-tests or the config)"
    return "matched no Go files"


def _root(target: str, cwd: Path) -> Path:
    recursive = target == "..." or target.endswith("/...")
    root_text = target[: -len("...")].rstrip("/") if recursive else target
    given = cwd / (root_text or ".")
    return _resolve(given if given.is_dir() else given.parent, target)


def _resolve(path: Path, target: str) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symbolic link loop (Python 3.11)
        raise UsageError(f"{target}: cannot resolve: {exc}") from None


def read_target(target: DirTarget, selection: Selection
                ) -> tuple[PackageDir | None, list[tuple[Path, str]]]:
    """Read a directory's files: the package to lint (None when every file is generated
    context), and the files that could not be read, with the reason."""
    files: list[SourceFile] = []
    unreadable: list[tuple[Path, str]] = []
    for path, explicit in target.files:
        try:
            content = _read_whole(path)
        except OSError as exc:
            unreadable.append((path, exc.strerror or str(exc)))
            continue
        context_only = not explicit and not selection.include_generated and is_generated(content)
        files.append(SourceFile(path, content, context_only))
    if not any(not f.context_only for f in files):
        return None, unreadable
    return PackageDir(target.directory, tuple(files)), unreadable


def _read_whole(path: Path) -> bytes:
    """A file's bytes, read through the file descriptor: `Path.read_bytes` wraps it in two
    file objects first, and for the many small files of a Go tree that took twice as long
    (etcd's 1,100 files: 12-16 ms against 10 ms, as docs/lint.md says)."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        # Reads of the size the file has, until the end (it may have grown since).
        wanted = max(os.fstat(descriptor).st_size + 1, 1 << 16)
        chunks = []
        while chunk := os.read(descriptor, wanted):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def _entry_size(entry: os.DirEntry[str]) -> int:
    try:
        return entry.stat().st_size
    except OSError:
        return 0


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# A directory and the Go files found in it: (path, named explicitly, bytes on disk).
Found = tuple[Path, list[tuple[Path, bool, int]]]


def _groups_for(target: str, cwd: Path, selection: Selection) -> Iterator[Found]:
    """The Go files a command-line target means, by directory (none without files)."""
    recursive = target == "..." or target.endswith("/...")
    root_text = target[: -len("...")].rstrip("/") if recursive else target
    root = _resolve(cwd / (root_text or "."), target)
    if recursive:
        if not root.is_dir():
            raise UsageError(f"{target}: no such directory")
        yield from _walk(root, selection, sized=True)
    elif root.is_dir():
        files = _go_files(root, _listing(root, explicit_dir=True), selection,
                          sized=True)
        if files:
            yield root, files
    elif root.is_file():
        # The file as named (a symbolic link stays one: fixes must not follow it out).
        named = _resolve((cwd / root_text).parent, target) / (cwd / root_text).name
        if named.suffix != ".go":
            raise UsageError(f"{target}: not a .go file")
        yield named.parent, [(named, True, file_size(named))]
    else:
        raise UsageError(f"{target}: no such file or directory")


def go_files_under(root: Path, selection: Selection) -> Iterable[Path]:
    """The Go files under `root` the go command would see, filtered by `selection`."""
    return (path for _directory, files in _walk(root, selection, sized=False)
            for path, _, _ in files)


def _walk(root: Path, selection: Selection, *, sized: bool) -> Iterator[Found]:
    """The Go files of `root` and of the directories under it, by directory, top-down, each
    directory before its subdirectories, in name order. One listing of each directory gives
    both its files and its subdirectories, and the files' sizes come from the listing's own
    look-ups: this expansion runs before any worker starts (etcd's, 1,100 files: 22 ms with
    os.walk, which lists each directory twice, then a path and a look-up per file; 14 ms with
    one listing; 10 ms by directory). As os.walk: a directory that cannot be listed is passed
    over, and a symbolic link to a directory is not followed. Sizes only when `sized` (else
    0): they cost a look-up per file."""
    entries = _listing(root, explicit_dir=False)
    files = _go_files(root, entries, selection, sized=sized)
    if files:
        yield root, files
    for entry in entries:
        if _walked_into(entry, root, selection):
            yield from _walk(root / entry.name, selection, sized=sized)


def _listing(directory: Path, *, explicit_dir: bool) -> list[os.DirEntry[str]]:
    """A directory's entries in name order; one that cannot be listed has none, unless the
    command line names it."""
    try:
        with os.scandir(directory) as listing:
            return sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        if explicit_dir:
            raise UsageError(f"{directory}: {exc.strerror}") from None
        return []


def _walked_into(entry: os.DirEntry[str], parent: Path, selection: Selection) -> bool:
    """Whether the walk goes into this entry of `parent`: a directory, not a symbolic link,
    neither vendor, testdata nor hidden, and not excluded."""
    name = entry.name
    try:
        if not entry.is_dir() or entry.is_symlink():
            return False
    except OSError:
        return False
    return name not in SKIPPED_DIRS and not name.startswith((".", "_")) and not (
        selection.exclude and is_excluded(parent / name, selection, is_dir=True))


def _go_files(directory: Path, entries: list[os.DirEntry[str]], selection: Selection, *,
              sized: bool) -> list[tuple[Path, bool, int]]:
    """The Go files among a directory's entries that the selection takes, with their sizes
    if `sized`."""
    found: list[tuple[Path, bool, int]] = []
    for entry in entries:
        name = entry.name
        if not name.endswith(".go") or name.startswith((".", "_")):
            continue
        if not selection.include_tests and name.endswith("_test.go"):
            continue
        try:
            if not entry.is_file():
                continue
        except OSError:
            continue
        path = directory / name
        if not is_excluded(path, selection, is_dir=False):
            found.append((path, False, _entry_size(entry) if sized else 0))
    return found


def selects_file(path: Path, selection: Selection) -> bool:
    """Whether a Go file found under a directory passes the selection's tests and excludes."""
    if not selection.include_tests and path.name.endswith("_test.go"):
        return False
    return not is_excluded(path, selection, is_dir=False) and not any(
        is_excluded(parent, selection, is_dir=True)
        for parent in path.parents if parent != selection.base and parent.is_relative_to(
            selection.base))


def is_excluded(path: Path, selection: Selection, *, is_dir: bool) -> bool:
    if not selection.exclude:
        return False
    try:
        relative = path.relative_to(selection.base).as_posix()
    except ValueError:
        relative = path.as_posix()
    candidates = [relative, f"{relative}/"] if is_dir else [relative]
    return any(
        fnmatch.fnmatchcase(candidate, pattern) or fnmatch.fnmatchcase(path.name, pattern)
        for candidate in candidates
        for pattern in selection.exclude
    )
