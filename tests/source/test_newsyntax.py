"""Go syntax newer than tree-sitter-go 0.25 parses, in place, and is analysed; real syntax
errors are still reported; what the grammar cannot read at all, gofmt decides."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.gotool import GoToolchain, gofmt_accepts
from mapguard.source.newsyntax import (
    builtin_calls,
    calls_around,
    enclosing_calls,
    method_type_parameters,
)
from mapguard.source.parser import first_syntax_error, parse_go, parse_go_range
from tests.realparts import missing_real_part


def go(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


NEW_EXPR = go("""
    package p

    type T struct{ m map[string]int; n *int }

    func f(n int) *T {
    	v := new(42)
    	w := new(uint64(n))
    	x := new(new(5))
    	y := new(T{m: map[string]int{}, n: new(n + 1)})
    	z := new("text" /* comment */)
    	t := new(T)
    	_, _, _, _, _ = v, w, x, y, z
    	return t
    }
""")

GENERIC_METHOD = go("""
    package p

    type Rand struct{ seen map[int]bool }

    func (r *Rand) N[Int ~int | ~int64](n Int) Int {
    	r.seen[int(n)] = true
    	return n
    }

    func (r *Rand) Plain() {}
""")


def calls_of(source: bytes, name: bytes) -> list[str]:
    """The argument lists of the calls whose function reads `name` in the source."""
    tree = parse_go(source)
    found: list[str] = []
    pending = [tree.root_node]
    while pending:
        node = pending.pop()
        pending.extend(node.children)
        function = node.child_by_field_name("function")
        if node.type == "call_expression" and function is not None and (
            source[function.start_byte:function.end_byte] == name
        ):
            arguments = node.child_by_field_name("arguments")
            assert arguments is not None
            found.append(arguments.named_children[0].type)
    return sorted(found)


def test_new_with_an_expression_parses_with_every_byte_in_place() -> None:
    tree = parse_go(NEW_EXPR)
    assert first_syntax_error(tree) is None
    assert tree.root_node.end_byte == len(NEW_EXPR)
    # Each operand is read as what it is; new(T) keeps its type operand.
    assert calls_of(NEW_EXPR, b"new") == sorted([
        "int_literal", "call_expression", "call_expression", "composite_literal",
        "binary_expression", "int_literal", "interpreted_string_literal", "type_identifier"])


def test_a_generic_method_parses_as_a_method_with_its_name_and_body() -> None:
    tree = parse_go(GENERIC_METHOD)
    assert first_syntax_error(tree) is None
    methods = [n for n in tree.root_node.named_children if n.type == "method_declaration"]
    names = [GENERIC_METHOD[m.child_by_field_name("name").start_byte:  # type: ignore[union-attr]
                            m.child_by_field_name("name").end_byte]  # type: ignore[union-attr]
             for m in methods]
    assert names == [b"N", b"Plain"]
    body = methods[0].child_by_field_name("body")
    assert body is not None and body.start_point.row == 4
    assert method_type_parameters(GENERIC_METHOD) == [
        (GENERIC_METHOD.index(b"[Int"), GENERIC_METHOD.index(b"](n") + 1)]


def test_a_body_parsed_on_demand_gets_the_same_rewrites() -> None:
    start = NEW_EXPR.index(b"func f")
    tree = parse_go_range(NEW_EXPR, start, len(NEW_EXPR))
    assert not tree.root_node.has_error


def test_a_make_of_the_programs_own_parses() -> None:
    source = go("""
        package p

        func f() []int {
        	make := func(n int) []int { return nil }
        	return make(3 - 1)
        }
    """)
    assert first_syntax_error(parse_go(source)) is None
    assert [name for name, _, _ in builtin_calls(source)] == [b"make"]


def test_the_calls_around_an_offset_are_found_along_the_nesting_as_by_a_full_scan() -> None:
    source = NEW_EXPR + go("""
        func g() {
        	a := new(make(map[int]int), new(new(1)), make([]int, new(2)))
        	b := make(chan int) + new(3)
        }
    """)
    calls = builtin_calls(source)
    starts = [start for _, start, _ in calls]
    outer = enclosing_calls(calls)
    assert outer is not None and any(index >= 0 for index in outer)  # nested calls are there
    for offset in range(len(source) + 1):
        assert calls_around(calls, starts, offset, outer) == calls_around(calls, starts, offset)


def test_calls_that_overlap_without_nesting_fall_back_to_the_full_scan() -> None:
    assert enclosing_calls([(b"new", 0, 10), (b"new", 5, 12)]) is None


LEADING_EMPTY_STATEMENTS = go("""
    package p

    import "sync"

    func f(wg *sync.WaitGroup, cleanup func(), m map[string]int) {
    	wg.Go(func() { ; cleanup() })
    	for { ; ; break }
    	s := "{ ; }"
    	for k := range m { ;
    		delete(m, k)
    	}
    	_ = s
    }
""")


@pytest.mark.usefixtures("newest_gofmt")
def test_an_empty_statement_opening_a_block_parses_in_place() -> None:
    """gofmt accepts `{ ; f() }` (dd-trace-go has one); the grammar reads it once the `;` is
    blanked, and nothing else moves (the string's `{ ; }` is text, left alone)."""
    assert gofmt_accepts(LEADING_EMPTY_STATEMENTS) is True
    tree = parse_go(LEADING_EMPTY_STATEMENTS)
    assert first_syntax_error(tree) is None
    assert tree.root_node.end_byte == len(LEADING_EMPTY_STATEMENTS)
    text = LEADING_EMPTY_STATEMENTS.decode()
    loop = text.index("for k := range m")
    assert tree.root_node.descendant_for_byte_range(loop, loop + 3).type in {"for", "for_statement"}


COMMENTS_ENDING_LINES = go("""
    package p

    type T struct {
    	A string `json:"a"` /* the first field,
    	 */B string `json:"b"`
    	C int /* one line */
    }

    func f(m map[string]int) int {
    	x := 1 /* a break
    	*/y := 2 /* none */ + x
    	for k := range m {
    		delete(m, k)
    	}
    	return y
    }
""")


@pytest.mark.usefixtures("newest_gofmt")
def test_a_general_comment_holding_a_line_break_ends_the_line() -> None:
    """The Go spec: a general comment holding a line break acts like a line break, so the
    field or statement before it ends there (generated SDK code in terraform-provider-ctyun
    puts the next field right after the `*/`); the grammar reads it once the comment is a line
    comment, and every byte stays in place."""
    assert gofmt_accepts(COMMENTS_ENDING_LINES) is True
    tree = parse_go(COMMENTS_ENDING_LINES)
    assert first_syntax_error(tree) is None
    assert tree.root_node.end_byte == len(COMMENTS_ENDING_LINES)
    text = COMMENTS_ENDING_LINES.decode()
    fields = tree.root_node.descendant_for_byte_range(text.index("A string"),
                                                      text.index("C int") + 5)
    assert fields is not None and fields.type == "field_declaration_list"
    assert [text[f.start_byte:f.end_byte].split()[0] for f in fields.named_children
            if f.type == "field_declaration"] == ["A", "B", "C"]
    second = tree.root_node.descendant_for_byte_range(text.index("y :="), text.index("y :=") + 1)
    while second is not None and second.type != "short_var_declaration":
        second = second.parent
    assert second is not None and text[second.start_byte:second.end_byte].startswith("y := 2")


@pytest.mark.parametrize("broken", [
    "package p\n\nfunc f() { x := new(42 }\n",
    "package p\n\nfunc (r *R) N[T any(n T) {}\n",
    "package p\n\nfunc f() { x := new( }\n",
    "package p\n\nfunc f( {\n",
    "package p\n\nfunc f() { x := 1 /* one line */ y := 2 }\n",
])
def test_real_syntax_errors_stay_errors(broken: str) -> None:
    assert first_syntax_error(parse_go(broken.encode())) is not None


def lint_json(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    status = main(["lint", "--no-cache", "--format", "json", f"{root}/..."])
    return status, json.loads(capsys.readouterr().out)


def test_newer_syntax_is_analysed_not_reported(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "go.mod").write_text("module example.com/m\n\ngo 1.27\n")
    (tmp_path / "a.go").write_bytes(GENERIC_METHOD + go("""

        func (r *Rand) Reset[K comparable](k K) {
        	p := new(len(r.seen))
        	_ = p
        	for key := range r.seen {
        		delete(r.seen, key)
        	}
        }
    """))
    status, document = lint_json(tmp_path, capsys)
    assert document["errors"] == []
    assert [(f["rule"], f["line"]) for f in document["findings"]  # type: ignore[index]
            if f["rule"] == "MG003"] == [("MG003", 14)]
    assert status == 1


@pytest.fixture
def newest_gofmt(newest_go: GoToolchain) -> None:
    if gofmt_accepts(b"package p\n") is None:
        missing_real_part(f"the gofmt of {newest_go.goroot} does not run")


@pytest.mark.usefixtures("newest_gofmt")
def test_what_gofmt_accepts_is_analysed_in_part_and_said_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `const x int` is syntax (the type checker, not the parser, wants a value) that the
    # grammar does not know.
    (tmp_path / "go.mod").write_text("module example.com/m\n\ngo 1.22\n")
    (tmp_path / "a.go").write_bytes(go("""
        package p

        const x int

        func reset(m map[string]int) {
        	for k := range m {
        		delete(m, k)
        	}
        }
    """))
    status, document = lint_json(tmp_path, capsys)
    assert document["errors"] == []
    assert [f["rule"] for f in document["findings"]] == ["MG003"]  # type: ignore[index]
    warnings = document["warnings"]
    assert isinstance(warnings, list) and len(warnings) == 1
    assert "analysed in part" in warnings[0]["message"] and "gofmt accepts" in warnings[0][
        "message"]
    assert status == 1


@pytest.mark.usefixtures("newest_gofmt")
def test_what_gofmt_rejects_is_reported_as_before(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "go.mod").write_text("module example.com/m\n\ngo 1.22\n")
    # (A body no rule looks into is not parsed, so the error sits beside a map update.)
    (tmp_path / "a.go").write_bytes(
        b"package p\n\nfunc f(m map[int]int) {\n\tdelete(m, 1)\n\tx := new(42\n}\n")
    (tmp_path / "b.go").write_bytes(b"package p\n\nfunc g() {}\n")
    status, document = lint_json(tmp_path, capsys)
    errors = document["errors"]
    assert status == 2 and isinstance(errors, list) and len(errors) == 1
    assert errors[0]["path"].endswith("a.go")
    assert errors[0]["message"].startswith("syntax error at 5:")
    assert document["files"] == 2


def test_a_function_returning_a_map_is_not_a_generic_method() -> None:
    # Seen in netdata and rudder-go-kit: `func f(s string) map[string]string` beside a method
    # and a `new(expr)`. The `(` after `func f` opens parameters, not a receiver, so the
    # result's `[string]` must not be blanked as type parameters.
    source = go("""
        package r

        type T struct{}

        func (T) Names() map[string]int { return nil }

        func f(s string) map[string]string { return map[string]string{s: s} }

        var x = new(1)
    """)
    assert method_type_parameters(source) == []
    tree = parse_go(source)
    assert first_syntax_error(tree) is None
    functions = [n for n in tree.root_node.named_children if n.type == "function_declaration"]
    result = functions[0].child_by_field_name("result")
    assert result is not None and result.type == "map_type"
