"""MG010's `+` anchor finds exactly the `+` whose first `]` or newline after it is a `]`, in
time linear in the text: a long line of `+` (base64 in a Go string) is not searched to its end
once per `+`."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.lint.rules.mg010_allocating_map_key_in_loop import _ANCHORS, _not_a_number

# The definition, as one lookahead per `+` (quadratic on a long run without `]`).
DEFINITION = re.compile(rb"\+(?=[^\n\]]*\])")
PLUS = _ANCHORS[0]
PIECES = st.sampled_from([b"+", b"]", b"\n", b"a", b"1", b" ", b"x" * 100, b"y" * 300])


def _defined(text: bytes, position: int = 0) -> list[int]:
    return [hit.start() for hit in DEFINITION.finditer(text, position)
            if _not_a_number(text, hit)]


@given(st.lists(PIECES, max_size=40), st.integers(min_value=0, max_value=4000))
@settings(max_examples=400, deadline=None)
def test_the_anchor_finds_what_the_definition_does(pieces: list[bytes], start: int) -> None:
    text = b"".join(pieces)
    assert [hit.start() for hit in PLUS.finditer(text)] == _defined(text)
    position = min(start, len(text))
    found = PLUS.search(text, position)
    assert (found.start() if found else None) == next(iter(_defined(text, position)), None)


def test_a_long_line_of_plus_signs_is_searched_once() -> None:
    # 100,000 `+` on one 300 KB line: a lookahead to the line's end from each would take
    # some 1.5e10 steps (about a minute); the run's answer is found once.
    line = b"\tdata = \"" + b"ab+" * 100_000 + b"\"\n"
    assert list(PLUS.finditer(line + b"x := m[a+b]\n")) != []
    assert [hit.start() for hit in PLUS.finditer(line)] == []
