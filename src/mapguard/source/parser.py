"""The tree-sitter-go parser, one per process (parsers are not shareable across threads)."""

from __future__ import annotations

import threading

import tree_sitter_go
from tree_sitter import Language, Node, Parser, Tree

GO_LANGUAGE = Language(tree_sitter_go.language())

_local = threading.local()


def parse_go(source: bytes) -> Tree:
    """Parse Go source; syntax errors become ERROR/MISSING nodes, never exceptions."""
    parser: Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = Parser(GO_LANGUAGE)
    return parser.parse(source)


def first_syntax_error(tree: Tree) -> Node | None:
    """The innermost first ERROR or MISSING node, or None for a clean parse.

    Error recovery can wrap a whole file in one ERROR node around the real problem; the
    innermost error inside it is what a person needs to look at."""
    node = _first_error(tree)
    while node is not None:
        inner = next((c for c in node.children if c.is_error or c.is_missing or c.has_error),
                     None)
        if inner is None:
            return node
        node = inner if inner.is_error or inner.is_missing else _first_error_in(inner)
    return node


def _first_error_in(node: Node) -> Node | None:
    for child in node.children:
        if child.is_error or child.is_missing:
            return child
        if child.has_error:
            return _first_error_in(child)
    return node


def _first_error(tree: Tree) -> Node | None:
    root = tree.root_node
    if not root.has_error:
        return None
    cursor = root.walk()
    while True:
        node = cursor.node
        assert node is not None
        if node.is_error or node.is_missing:
            return node
        # Descend only into subtrees that contain the error.
        if node.has_error and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return None
