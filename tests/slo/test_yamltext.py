"""The fast YAML emitter writes what `yaml.safe_load` reads back, whatever the text."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.slo.yamltext import dump, fast_dump

TRICKY = ["yes", "A:", "a:b", "No", "on", "null", "~", "1e3", "0x10", "12", "1.5", "-", "- a",
          "a: b", "#x", "x #y", "'q'", '"d"', "a\nb", " lead\nx", "tail \nx", "end\n", "", "  ",
          "1h/5m",
          "{{ $labels.site }}", "[a]", "*ref", "&a", "!tag", "%x", "@x", "`x`", "a\tb", "\u2028",
          "≈0.2333×", "a\r\nb", "\x07"]

text = st.one_of(st.sampled_from(TRICKY), st.text(max_size=30))
scalars = st.one_of(text, st.integers(), st.booleans(), st.none())
documents: Any = st.recursive(
    st.dictionaries(text, scalars, max_size=4),
    lambda inner: st.dictionaries(
        text, st.one_of(scalars, inner, st.lists(st.one_of(scalars, inner), max_size=3)),
        max_size=4,
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_round_trip(document: dict[str, Any]) -> None:
    assert yaml.safe_load(fast_dump(document)) == (document or None)


def test_tricky_strings_round_trip() -> None:
    document = {value or "empty": {"v": value, "l": [value, {"k": value}]} for value in TRICKY}
    assert yaml.safe_load(fast_dump(document)) == document


def test_decimals_are_exact_and_multi_line_text_is_a_block() -> None:
    text = fast_dump({"objective": Decimal("99.950"), "expr": "a\n/\nb"}, header="made here")
    assert text == "# made here\nobjective: 99.95\nexpr: |-\n  a\n  /\n  b\n"
    assert yaml.safe_load(dump({"x": Decimal("0.001")})) == {"x": 0.001}
