"""Load the package a single Go file belongs to, for callers that start from a file name
(profile attribution, escape facts) and want the package-wide type model, not just the file."""

from __future__ import annotations

import functools
from pathlib import Path

from mapguard.source.discover import PackageDir, SourceFile
from mapguard.source.loader import load_compiled_packages, module_or_newest
from mapguard.source.package import GoFile, Package, is_generated
from mapguard.source.typeinfo import TypeInfo


@functools.cache
def _packages_of(directory: Path) -> tuple[tuple[Package, TypeInfo], ...]:
    files: list[SourceFile] = []
    for path in sorted(directory.glob("*.go")):
        try:
            content = path.read_bytes()
        except OSError:
            continue
        files.append(SourceFile(path, content, context_only=is_generated(content)))
    if not files:
        return ()
    packages, _errors = load_compiled_packages(PackageDir(directory, tuple(files)),
                                               module_or_newest)
    return tuple((package, TypeInfo(package)) for package in packages)


def typed_file(path: Path) -> tuple[GoFile, TypeInfo] | None:
    """The parsed file with its package's TypeInfo, or None if it cannot be loaded."""
    resolved = path.resolve()
    for package, info in _packages_of(resolved.parent):
        for go_file in package.files:
            if go_file.path == resolved:
                return go_file, info
    return None
