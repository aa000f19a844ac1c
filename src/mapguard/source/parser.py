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
    """The first ERROR or MISSING node in document order, or None for a clean parse."""
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
