"""The answer of /debug/pprof/symbol."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.errors import InputError
from mapguard.formats.pprofsym import parse_symbols, symbol_query


def test_query_and_answer() -> None:
    assert symbol_query([0x1000, 0x4DEDE7]) == "0x1000+0x4dede7"
    answer = b"num_symbols: 1\n0x1000 runtime.mallocgc\n0x4dede7 main.(*T[go.shape.int]).f\n"
    assert parse_symbols(answer, "s") == {0x1000: "runtime.mallocgc",
                                          0x4DEDE7: "main.(*T[go.shape.int]).f"}


def test_unknown_addresses_are_left_out() -> None:
    assert parse_symbols(b"num_symbols: 1\n", "s") == {}


@pytest.mark.parametrize(("data", "problem"), [
    (b"<html>404</html>", "not a pprof symbol answer"),
    (b"num_symbols: 0\n", "no symbol information"),
    (b"num_symbols: 1\nzz main.f\n", "bad address"),
    (b"num_symbols: 1\n0x10\n", "missing or overlong"),
    (b"num_symbols: 1\n0x10 \xff\n", "not UTF-8"),
])
def test_bad_answers(data: bytes, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_symbols(data, "http://x/debug/pprof/symbol")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_raises_only_input_error(data: bytes) -> None:
    with contextlib.suppress(InputError):
        parse_symbols(b"num_symbols: 1\n" + data, "s")
