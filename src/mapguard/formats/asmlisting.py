"""Read the compiler's assembly listing (`go build -gcflags=-S`): which functions call what.

Each function starts with a header line naming its symbol, then one line per instruction::

    mapguard.lab/maplab.ClearByDeleteLoop STEXT size=52 args=0x8 locals=0x18 funcid=0x0 align=0x0
        0x0018 00024 (/tmp/lab/maplab/strategies.go:56)	CALL	runtime.mapclear(SB)

Only what a question like "does this loop compile to runtime.mapclear?" needs is kept: for
each function (by its name without the package path), the symbols it calls, in order.
Relocation lines, data symbols and `# package` headers are skipped. Pure: text in, records out.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^(\S+) STEXT\b")
_CALL = re.compile(r"\sCALL\s+(\S+)\(SB\)")


def short_name(symbol: str) -> str:
    """"mapguard.lab/maplab.(*T).Reset" -> "(*T).Reset"; "runtime.mapclear" stays."""
    last_slash = symbol.rfind("/")
    package_end = symbol.find(".", last_slash + 1)
    return symbol[package_end + 1:] if package_end >= 0 else symbol


def calls_by_function(listing: str) -> dict[str, tuple[str, ...]]:
    """Function short name -> the symbols it calls, for every function in the listing."""
    calls: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in listing.splitlines():
        header = _HEADER.match(line)
        if header:
            current = calls.setdefault(short_name(header.group(1)), [])
            continue
        if current is not None and not line[:1].isspace() and line.strip():
            current = None  # a data symbol or another package's header ends the function
            continue
        call = _CALL.search(line)
        if call and current is not None:
            current.append(call.group(1))
    return {name: tuple(symbols) for name, symbols in calls.items()}
