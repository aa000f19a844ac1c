"""go.mod: the module path and the `go` directive, which decides the advice mapguard may give."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from mapguard.errors import InputError
from mapguard.goversion import GoVersion

_MODULE = re.compile(r"^\s*module\s+(\S+)", re.M)
_GO = re.compile(r"^\s*go\s+(\S+)\s*(?://.*)?$", re.M)


@dataclass(frozen=True, slots=True)
class GoModule:
    """A Go module: its root directory, module path and `go` directive."""

    root: Path
    path: str
    go_version: GoVersion | None


def parse_go_mod(text: str, source: Path) -> GoModule:
    """Parse a go.mod text; only `module` and `go` matter to mapguard."""
    module = _MODULE.search(text)
    if module is None:
        raise InputError(source, "no `module` directive", expected="a go.mod file")
    version: GoVersion | None = None
    if directive := _GO.search(text):
        try:
            version = GoVersion.parse(directive.group(1))
        except ValueError:
            line = text.count("\n", 0, directive.start(1)) + 1
            raise InputError(
                source, f"bad go directive {directive.group(1)!r}", where=f"line {line}",
                expected="go 1.N or go 1.N.P",
            ) from None
    return GoModule(source.parent, module.group(1).strip('"'), version)


@functools.cache
def find_module(directory: Path) -> GoModule | None:
    """The module whose go.mod is in `directory` or the nearest parent."""
    candidate = directory / "go.mod"
    if candidate.is_file():
        try:
            text = candidate.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise InputError(candidate, f"cannot read: {exc.strerror}") from None
        return parse_go_mod(text, candidate)
    parent = directory.parent
    return None if parent == directory else find_module(parent)
