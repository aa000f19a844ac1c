"""Leaving function bodies out of the parse must not change what the package declares."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapguard.source.package import GoFile, package_clause_name, read_imports
from mapguard.source.parser import (
    function_spans,
    line_starts,
    parse_go,
    parse_go_skipping,
    point_at,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEMO = Path(__file__).resolve().parent.parent.parent / "src" / "mapguard" / "data" / "demo"

TRICKY = b"""package p

func f(x int) int {
\treturn x
}

func g() error { return nil }

type T struct {
\ta int
}

func h(
\ta int,
) (int,
\terror) {
\treturn 0, nil
}

func (t *T) k(s struct{ b int }) {
\tt.a = s.b
}
"""


def test_spans_follow_gofmt_layout_and_leave_other_declarations_alone() -> None:
    spans = function_spans(TRICKY)
    headers = [TRICKY[s.start:s.body_start].split(b"(")[0] for s in spans]
    assert headers == [b"func f", b"func h", b"func "]
    for span in spans:
        assert TRICKY[span.body_start - 1:span.body_start] == b"{"
        assert TRICKY[span.body_end:span.end] == b"}"
        assert b"type T" not in TRICKY[span.body_start:span.body_end]


RAW_STRINGS = b"""package p

func fixture() string {
\treturn `
-- a.json --
{
  "k": 1
}
`
}

func after() {}

func commented() {
\treturn
} // a comment after the brace: not the `}` line a body ends with
func hidden() int {
\treturn 1
}

const tmpl = `
func inString() {
}
`
"""


def test_a_raw_string_does_not_end_a_body_and_no_span_hides_a_declaration() -> None:
    spans = function_spans(RAW_STRINGS)
    headers = [RAW_STRINGS[s.start:s.body_start].split(b"(")[0] for s in spans]
    assert headers == [b"func fixture", b"func hidden"]
    full, partial = parse_go(RAW_STRINGS), parse_go_skipping(RAW_STRINGS, spans)
    assert not partial.root_node.has_error
    assert [n.type for n in partial.root_node.named_children] == [
        n.type for n in full.root_node.named_children]


@pytest.mark.parametrize("source", [b"", b"x", b"\n", b"\n\n", b"a\nbc", b"a\nbc\n", TRICKY])
def test_points_from_the_line_index_are_those_tree_sitter_gives(source: bytes) -> None:
    starts = line_starts(source)
    assert starts == [0, *(i + 1 for i, byte in enumerate(source) if byte == ord("\n"))]
    tree = parse_go(source)
    for node in (tree.root_node, *tree.root_node.named_children):
        assert point_at(starts, node.start_byte) == node.start_point
        assert point_at(starts, node.end_byte) == node.end_point


def _declarations(go_file: GoFile) -> list[tuple[str, str]]:
    return [(node.type, go_file.text(node).split("{")[0])
            for node in go_file.root.named_children if node.type != "comment"]


@pytest.mark.parametrize("path", sorted(
    [*FIXTURES.glob("corpus*/**/*.go"), *DEMO.glob("**/*.go")]), ids=lambda p: p.name)
def test_skipping_every_body_keeps_every_declaration(path: Path) -> None:
    source = path.read_bytes()
    full = parse_go(source)
    spans = function_spans(source)
    partial = parse_go_skipping(source, spans)
    assert partial.root_node.has_error == full.root_node.has_error
    name = package_clause_name(full.root_node, source) or ""
    files = [GoFile(path, source, tree, name, read_imports(tree.root_node, source), skipped)
             for tree, skipped in ((full, ()), (partial, tuple(spans)))]
    assert _declarations(files[0]) == _declarations(files[1])


def test_a_place_inside_a_left_out_body_is_parsed_on_demand() -> None:
    spans = function_spans(TRICKY)
    tree = parse_go_skipping(TRICKY, spans)
    go_file = GoFile(Path("t.go"), TRICKY, tree, "p", {}, tuple(spans))
    offset = TRICKY.index(b"t.a = s.b")
    node = go_file.node_at(offset, offset + 1)
    assert node is not None and node.type == "identifier" and go_file.text(node) == "t"
    assert node.start_byte == offset  # real offsets, not relative to the body
    statement = node.parent.parent.parent  # selector -> expression_list -> assignment
    assert statement.type == "assignment_statement"


@pytest.mark.parametrize("path", sorted(
    [*FIXTURES.glob("corpus*/**/*.go"), *DEMO.glob("**/*.go")]), ids=lambda p: p.name)
def test_a_left_out_body_is_parsed_at_the_points_the_line_index_gives(path: Path) -> None:
    # A left-out function's points are read from its declaration in the file's tree instead
    # of a line index of the file: the same points, so the same parse of the body.
    source = path.read_bytes()
    spans = function_spans(source)
    partial = parse_go_skipping(source, spans)
    go_file = GoFile(path, source, partial, "p", {}, tuple(spans))
    starts = line_starts(source)
    for span in spans:
        assert go_file._span_points(span) == (point_at(starts, span.start),
                                              point_at(starts, span.end))
