"""Records the engine produces: per directory, and for a whole run."""

from __future__ import annotations

from dataclasses import dataclass

from mapguard.lint.rule import Finding
from mapguard.source.loader import FileError


@dataclass(frozen=True, slots=True)
class VersionNote:
    """Which Go version the advice assumed for a module, and why."""

    where: str  # module path, or the directory when there is no go.mod
    version: str
    source: str  # "flag", "go.mod", "toolchain" or "default"


@dataclass(frozen=True, slots=True)
class DirResult:
    findings: tuple[Finding, ...]
    errors: tuple[FileError, ...]
    files: int
    versions: tuple[VersionNote, ...]


@dataclass(frozen=True, slots=True)
class LintResult:
    findings: tuple[Finding, ...]
    files: int
    errors: tuple[FileError, ...]
    versions: tuple[VersionNote, ...]
    cached_packages: int = 0
