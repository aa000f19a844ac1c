"""Records the engine produces: per directory, and for a whole run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mapguard.lint.reach import CallOut
from mapguard.lint.rule import Finding
from mapguard.source.loader import FileError

if TYPE_CHECKING:
    from mapguard.lint.measured import ProfileEvidence


@dataclass(frozen=True, slots=True)
class VersionNote:
    """Which Go version the advice assumed for a module, and why."""

    where: str  # module path, or the directory when there is no go.mod
    version: str
    source: str  # "flag", "go.mod", "go.mod without go line", "toolchain" or "default"
    silenced: tuple[str, ...] = ()  # selected rules that need a newer Go: they report nothing


@dataclass(frozen=True, slots=True)
class FileNote:
    """Something the user should know about a file that is not an error (exit status 0/1)."""

    path: Path
    message: str
    line: int = 0  # 0: the whole file


@dataclass(frozen=True, slots=True)
class ReadOutside:
    """What an analysis read outside its package (`mapguard.source.outside`), each with a digest
    of what it was: the cache reuses the result only while every digest is the same."""

    declarations: tuple[tuple[Path, str], ...] = ()  # package directory, its declarations
    modules: tuple[tuple[Path, str], ...] = ()  # module root, its non-test files

    def joined(self, other: ReadOutside) -> ReadOutside:
        return ReadOutside(tuple(dict.fromkeys((*self.declarations, *other.declarations))),
                           tuple(dict.fromkeys((*self.modules, *other.modules))))


@dataclass(frozen=True, slots=True)
class DirResult:
    """What linting one directory gave."""

    findings: tuple[Finding, ...]
    errors: tuple[FileError, ...]
    files: int
    versions: tuple[VersionNote, ...]
    notes: tuple[FileNote, ...] = ()
    digests: tuple[tuple[Path, str], ...] = ()  # content digests of the files with fixes
    # Calls from this package's concurrent code into other packages of the module, with what
    # they hand over (`mapguard.lint.modulewide` follows them).
    calls: tuple[CallOut, ...] = ()
    # Kept only when the run has a cache (the result is stored with it).
    outside: ReadOutside = ReadOutside()


@dataclass(frozen=True, slots=True)
class LintResult:
    """What a whole lint run gave."""

    findings: tuple[Finding, ...]
    files: int
    errors: tuple[FileError, ...]
    versions: tuple[VersionNote, ...]
    cached_packages: int = 0
    notes: tuple[FileNote, ...] = ()
    digests: dict[Path, str] = field(default_factory=dict)  # files with fixes, as linted
    evidence: ProfileEvidence | None = None  # the profile the findings were measured with
    off_by_default: tuple[str, ...] = ()  # rules off by default that this run did not use

    @property
    def failing(self) -> tuple[Finding, ...]:
        """The findings that make the run fail: all but speed advice the profile demoted."""
        return tuple(f for f in self.findings if f.measured is None or not f.measured.demoted)
