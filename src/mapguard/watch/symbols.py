"""Names of a target's runtime frames, from its own symbol table.

The target names its PCs itself over `/debug/pprof/symbol`, as `go tool pprof` asks it to; the
answers are kept per process (a restarted target may be another binary), so a steady target is
asked once per address.
"""

from __future__ import annotations

MAX_KNOWN = 50_000  # addresses remembered per process; a Go binary's map paths need far fewer
MAX_PER_REQUEST = 2048  # a GET's query stays well under Go's 1 MB header limit


class SymbolTable:
    """Address -> function name (None: the process does not know it), for one process."""

    def __init__(self) -> None:
        self.names: dict[int, str | None] = {}

    def clear(self) -> None:
        self.names.clear()

    def unknown(self, addresses: set[int]) -> list[int]:
        """Up to MAX_PER_REQUEST of `addresses` not asked about yet."""
        return sorted(a for a in addresses if a not in self.names)[:MAX_PER_REQUEST]

    def learn(self, asked: list[int], answer: dict[int, str]) -> None:
        if len(self.names) + len(asked) > MAX_KNOWN:
            self.names.clear()  # a process this large in map paths is not steady: start over
        for address in asked:
            self.names[address] = answer.get(address)
