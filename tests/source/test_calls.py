"""The cheap look before the search for a function handed to a sync.Once changes no answer."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.source.calls import _ONCE_CALL_BEFORE, _ONCE_CALL_LAST

PIECES = st.sampled_from(["once.Do(", "sync.OnceFunc(", "sync.OnceValue[int](", "OnceValues(",
                          "x.", "s.cfg.", "(", ".", " ", "\t", "\n", "\r", "\v", "\f", "a",
                          "_", "9", "Do", ")", "[", "]", "é"])


@given(st.lists(PIECES, max_size=8))
@settings(max_examples=400, deadline=None)
def test_the_byte_before_the_name_rules_out_only_what_the_search_would(pieces: list[str]
                                                                      ) -> None:
    before = "".join(pieces).encode()
    if before[-1:] not in _ONCE_CALL_LAST:
        assert _ONCE_CALL_BEFORE.search(before, max(0, len(before) - 120), len(before)) is None
