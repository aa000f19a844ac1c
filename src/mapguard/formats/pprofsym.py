"""The answer of net/http/pprof's `/debug/pprof/symbol` endpoint (the protocol `go tool pprof`
uses to symbolise a remote profile): a `num_symbols: N` header, then one `0xPC name` line per
address the process knows. Addresses it does not know are left out.

Pure: bytes in, {address: function name} out; bad input raises `InputError`.
"""

from __future__ import annotations

from mapguard.errors import InputError

MAX_NAME = 4096  # a Go symbol, generics and all, is far shorter; longer is not a symbol answer


def symbol_query(addresses: list[int]) -> str:
    """The query that asks for `addresses`: hex numbers joined by `+` (a GET: since Go 1.22
    net/http/pprof registers its handlers for GET only)."""
    return "+".join(f"{address:#x}" for address in addresses)


def parse_symbols(data: bytes, source: str) -> dict[int, str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(source, "not UTF-8 text", where=f"offset {exc.start}",
                         expected="num_symbols: N, then `0xPC name` lines") from None
    lines = text.splitlines()
    if not lines or not lines[0].startswith("num_symbols:"):
        raise InputError(source, "not a pprof symbol answer", where="line 1",
                         expected="num_symbols: N")
    if lines[0].partition(":")[2].strip() == "0":
        raise InputError(source, "the process has no symbol information")
    symbols: dict[int, str] = {}
    for number, line in enumerate(lines[1:], 2):
        address, _, name = line.strip().partition(" ")
        if not line.strip():
            continue
        try:
            pc = int(address, 16)
        except ValueError:
            raise InputError(source, f"bad address {address[:40]!r}", where=f"line {number}",
                             expected="0xPC name") from None
        if not name or len(name) > MAX_NAME:
            raise InputError(source, "missing or overlong symbol name", where=f"line {number}",
                             expected="0xPC name")
        symbols[pc] = name
    return symbols
