"""The cheap looks around a name before its place is parsed rule out only what the syntax
tree would: `field_hits` keeps every place where it can be a field (what MG001 and the
concurrency model ask about: a selector's field, a composite literal's key, or the value of a
key of that name); `after_a_dot` tells a method's name from a function's (call_sites)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tree_sitter import Node

from mapguard.source.parser import first_syntax_error, parse_go
from mapguard.source.typeinfo import after_a_dot, field_hits, word_hits

NAME = "f"
# Statements using `f` in every role, laid out in several ways (all valid Go).
STATEMENTS = st.sampled_from([
    "_ = x.f", "_ = x. f", "_ = x.\n\t\tf", "_ = x./* c */f", "x.f = nil", "x.f.g = 1",
    "_ = T{f: 1}", "_ = T{f : 1}", "_ = T{f /* c */: 1}", "_ = T{a: f}", "_ = T{f: f}",
    "_ = T{\n\t\tf: 1,\n\t}", "_ = T{f}", "_ = []T{{f: 1}}", "_ = map[string]T{\"k\": {f: 2}}",
    "f := 1\n\t_ = f", "f(1)", "var f int\n\t_ = f", "// f", "_ = \"f\"", "_ = `f`", "_ = f.g",
    "f:\n\tgoto f", "switch {\n\tcase f > 0:\n\t}", "_ = (f)", "_ = [f]int{}", "_ = g(f, f)",
    "_ = x.f(f)", "_ = T{f: x.f}", "_ = &T{f: map[int]int{}}", "_ = *x.f", "_ = x.f[f]",
    "_ = x. // why\n\t\tf", "_ = x.\n\n\t\tf", "_ = T{f:\n\t\tf}", "_ = T{a:\n\t\tf}",
    "_ = T{\n\t\tf /* c */ : 1}", "_ = x.\n\t\t// why\n\t\tf", "_ = x /* c */ . f",
])


def _is_field_place(node: Node | None, source: bytes) -> bool:
    """What the field scans act on (see `field_hits`)."""
    if node is None or node.parent is None:
        return False
    parent = node.parent
    if node.type == "field_identifier" and parent.type == "selector_expression":
        return True
    if node.type == "identifier" and parent.type == "literal_element":
        element = parent.parent
        if element is not None and element.type == "keyed_element":
            key = element.named_children[0]
            return source[key.start_byte:key.end_byte] == NAME.encode()
    return False


@given(st.lists(STATEMENTS, min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
def test_a_place_left_out_is_no_field(statements: list[str]) -> None:
    body = "\n\t".join(statements)
    source = f"package p\n\nfunc _() {{\n\t{body}\n}}\n".encode()
    tree = parse_go(source)
    assert first_syntax_error(tree) is None, source
    kept = set(field_hits(source, NAME))
    for start, end in word_hits(source, NAME):
        node = tree.root_node.descendant_for_byte_range(start, end)
        if (start, end) not in kept:
            assert not _is_field_place(node, source), (source, start)


def test_the_look_leaves_out_what_it_should() -> None:
    # Not only safe: it does leave out the plain uses of a local, a call and a declaration.
    source = b"package p\n\nfunc _() {\n\tf := 1\n\tf(1)\n\t_ = x.f\n\t_ = T{f: f}\n}\n"
    kept = [source[start - 1:end + 1] for start, end in field_hits(source, NAME)]
    assert kept == [b".f\n", b"{f:", b" f}"]


CALL_STATEMENTS = st.sampled_from([
    "foo()", "x.foo()", "x. foo()", "x.\n\t\tfoo()", "x. // c\n\t\tfoo()", "x./* c */foo()",
    "_ = foo", "_ = x.foo", "// foo.\n\tfoo()", "/* x. */ foo()", "go foo()", "defer x.foo()",
    "_ = T{foo: 1}", "_ = \"x.foo\"", "f(a...)\n\tfoo()", "_ = (*T).foo", "_ = x.\n\n\t\tfoo",
    "_ = y.\n\t\t// c\n\t\tfoo", "_ = x /* c */ .foo()", "foo := 1\n\t_ = foo",
    "_ = [1]int{}[0:foo]", "_ = 1.5 + foo()", "_ = a.b.foo.c",
])


@given(st.lists(CALL_STATEMENTS, min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
def test_a_name_ruled_out_by_the_dot_is_neither_method_nor_function(statements: list[str]
                                                                    ) -> None:
    # call_sites leaves out a method's hits not after a dot, and a function's after one.
    body = "\n\t".join(statements)
    source = f"package p\n\nfunc _() {{\n\t{body}\n}}\n".encode()
    tree = parse_go(source)
    assert first_syntax_error(tree) is None, source
    for start, end in word_hits(source, "foo"):
        node = tree.root_node.descendant_for_byte_range(start, end)
        assert node is not None
        dot = after_a_dot(source, start)
        if dot is False:  # left out for a method: not a selector's name
            assert not (node.type == "field_identifier" and node.parent is not None
                        and node.parent.type == "selector_expression"), (source, start)
        if dot is True:  # left out for a function: not a plain name
            assert node.type != "identifier", (source, start)
