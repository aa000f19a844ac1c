"""Go language versions: parse them, compare them, and know which one advice may assume."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"^(?:go)?(\d+)\.(\d+)(?:\.(\d+))?(?:(?:rc|beta)\d+)?$")


@dataclass(frozen=True, slots=True, order=True)
class GoVersion:
    """A Go release as `major.minor`; the patch level never changes what the language allows."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> GoVersion:
        """Parse ``1.21``, ``1.21.3``, ``go1.22rc1`` or ``go1.27.3``; raise ValueError otherwise."""
        match = _VERSION.match(text.strip())
        if match is None:
            raise ValueError(f"not a Go version: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"

    def at_least(self, other: GoVersion) -> bool:
        return self >= other


GO_1_19 = GoVersion(1, 19)
GO_1_21 = GoVersion(1, 21)
GO_1_22 = GoVersion(1, 22)  # loop variables are per iteration (a closure captures its pass's)
GO_1_23 = GoVersion(1, 23)
GO_1_24 = GoVersion(1, 24)
# The language version the go command gives a module whose go.mod has no `go` line (Go 1.17
# and later assume go 1.16 there; tests/lint/test_gofacts.py builds one to check).
GO_LINE_MISSING = GoVersion(1, 16)

# The newest Go release whose map facts (docs/go-facts.md) mapguard was checked against; assumed
# when neither go.mod nor an installed toolchain says otherwise.
NEWEST_KNOWN = GoVersion(1, 27)
