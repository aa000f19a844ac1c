"""User-facing errors.

Anything a user can cause (a bad file, a missing tool, an unreachable target) is raised as a
`MapguardError` subclass whose `str()` is one line naming the thing and the problem. The CLI
prints it and exits with status 2; it never shows a traceback for these.
"""

from __future__ import annotations

from os import PathLike


class MapguardError(Exception):
    """Base class: the message is complete and meant for the user."""


class UsageError(MapguardError):
    """The command line or configuration asks for something impossible."""


class InputError(MapguardError):
    """Input that does not have the expected shape.

    `where` locates the problem inside the input (``"line 3"``, ``"offset 120"``,
    ``"spec.objectives[0].target"``); `expected` says what would have been valid.
    """

    def __init__(
        self,
        source: str | PathLike[str],
        problem: str,
        *,
        where: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.source = str(source)
        self.problem = problem
        self.where = where
        self.expected = expected
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.source}: {self.where}: " if self.where else f"{self.source}: "
        tail = f" (expected {self.expected})" if self.expected else ""
        return f"{head}{self.problem}{tail}"


class ToolError(MapguardError):
    """An external tool (go, promtool, bpftrace, ...) is missing or failed."""
