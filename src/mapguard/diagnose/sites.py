"""Joining evidence on sites: the files different evidence names for one source file.

A profile names the files of the machine that built the binary, lint the files it read, the
compiler what it compiled. With the label's source tree known, every name is resolved to a
file under it — as given, or by the longest path suffix that exists there — and shown relative
to it; without one, a name is kept as given.
"""

from __future__ import annotations

import os
from pathlib import Path


class SiteFiles:
    def __init__(self, root: Path | None) -> None:
        self.root = root.resolve() if root is not None else None
        self._resolved: dict[str, str | None] = {}

    def resolve(self, file: str) -> str | None:
        """The readable file `file` names, or None."""
        if not file:
            return None
        if file not in self._resolved:
            self._resolved[file] = self._find(file)
        return self._resolved[file]

    def _find(self, file: str) -> str | None:
        path = Path(file)
        if self.root is not None:
            if path.is_absolute() and path.is_file() and path.resolve().is_relative_to(
                    self.root):
                return str(path.resolve())
            parts = path.parts[1:] if path.is_absolute() else path.parts
            for start in range(len(parts)):
                candidate = self.root.joinpath(*parts[start:])
                if candidate.is_file():
                    return str(candidate)
            return None
        return str(path.resolve()) if path.is_file() else None

    def display(self, file: str) -> str:
        """Relative to the source tree (or the working directory) when under it."""
        path = Path(file)
        for base in (self.root, Path.cwd()):
            if base is not None and path.is_absolute() and path.is_relative_to(base):
                return path.relative_to(base).as_posix()
        if path.is_absolute():
            relative = os.path.relpath(path)
            if not relative.startswith(".."):
                return relative
        return file
