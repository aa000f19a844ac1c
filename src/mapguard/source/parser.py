"""The tree-sitter-go parser, one per thread (parsers are not shareable across threads).

Parsing is most of what linting costs, so a file can be parsed with the bodies of some
top-level functions left out (`parse_go_skipping`): tree-sitter then sees `func f(...) {}` for
them, and a body is parsed on its own, with its real byte offsets, only if something asks
about a place inside it (`parse_go_range`).

Go syntax newer than the grammar (`new(expr)`, generic methods) is rewritten in place before a
second parse (`mapguard.source.newsyntax`): a tree may therefore come from a same-length
rewrite of the source, so read names from the source, not from `Node.text`.
"""

from __future__ import annotations

import bisect
import importlib.machinery
import importlib.util
import itertools
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tree_sitter import Language, Node, Parser, Point, Range, Tree

from mapguard.source.newsyntax import reparse_newer_syntax


def _go_grammar() -> Any:
    """tree-sitter-go's language pointer, from its compiled binding. The package's own
    `__init__` imports `importlib.resources` (for highlighting queries mapguard never reads),
    which brings tempfile, shutil, random, bz2 and lzma along: a few milliseconds of every
    lint's start (by -X importtime, this module's import fell from 7 ms to 2 ms), spent before
    any worker can begin. So the binding is loaded by itself, under the name the
    package gives it; if the package's layout is not the one expected, it is imported as
    documented."""
    name = "tree_sitter_go._binding"
    binding = sys.modules.get(name)
    if binding is None:
        package = importlib.util.find_spec("tree_sitter_go")
        places = package.submodule_search_locations if package is not None else None
        paths = [Path(place) / f"_binding{suffix}" for place in places or ()
                 for suffix in importlib.machinery.EXTENSION_SUFFIXES]
        path = next((path for path in paths if path.is_file()), None)
        if path is None:
            import tree_sitter_go

            return tree_sitter_go.language()
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        binding = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(binding)
    return binding.language()


GO_LANGUAGE = Language(_go_grammar())

_local = threading.local()
_WHOLE = [Range(Point(0, 0), Point(0xFFFFFFFF, 0xFFFFFFFF), 0, 0xFFFFFFFF)]


@dataclass(frozen=True, slots=True)
class FunctionSpan:
    """A top-level function: [start, end) overall; its body's inside is [body_start, body_end)."""

    start: int
    body_start: int
    body_end: int
    end: int


def _parser() -> Parser:
    parser: Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = Parser(GO_LANGUAGE)
    return parser


def parse_go(source: bytes) -> Tree:
    """Parse Go source, newer syntax included; syntax errors become ERROR/MISSING nodes,
    never exceptions."""
    tree = _parse_whole(source)
    return reparse_newer_syntax(source, tree, _parse_whole) if tree.root_node.has_error else tree


def _parse_whole(source: bytes) -> Tree:
    parser = _parser()
    parser.included_ranges = _WHOLE
    return parser.parse(source)


def function_spans(source: bytes) -> list[FunctionSpan]:
    """The top-level functions of gofmt-formatted source (others are simply not listed).

    Plain substring searches (`\\nfunc `, `\\n}\\n`): regular expressions anchored at line
    starts would cost more than they save. Raw strings (test fixtures, templates) can hold
    such lines: a `func` line after an odd number of backquotes starts no function, and a `}`
    line does not end a body whose backquotes do not pair up."""
    spans: list[FunctionSpan] = []
    position = 0
    counted, backquotes = 0, 0  # backquotes in source[:counted]
    while (found := source.find(b"\nfunc ", position)) >= 0:
        start = found + 1
        backquotes += source.count(b"`", counted, start)
        counted = start
        if backquotes % 2:
            position = start  # inside a raw string
            continue
        closing = source.find(b"\n}\n", start)
        if closing < 0:
            break
        closing = _past_raw_strings(source, start, closing)
        # The body opens at the first `{` ending a line once the signature's parentheses
        # are all closed (signatures can span lines; a `{` inside them cannot end the body).
        body_start = _body_open(source, start, closing)
        # A body holding a top-level declaration is not one: `} // comment` ended the real
        # body, or `func` started a line of a raw string. Left out, it would hide that
        # declaration (a function not listed is simply parsed).
        if body_start is not None and _TOP_LEVEL.search(source, body_start, closing) is None:
            spans.append(FunctionSpan(start, body_start, closing + 1, closing + 2))
            position = closing + 2
        else:
            position = start
    return spans


# A top-level declaration at the start of a line.
_TOP_LEVEL = re.compile(rb"\n(?:func|type|var|const|import)[ (]")


def _past_raw_strings(source: bytes, start: int, closing: int) -> int:
    """`closing`, or, when a raw string is open there (an odd number of backquotes since the
    function's start), the first `}` line after the backquotes pair up."""
    candidate = closing
    while source.count(b"`", start, candidate) % 2:
        candidate = source.find(b"\n}\n", candidate + 2)
        if candidate < 0:
            return closing
    return candidate


def _body_open(source: bytes, start: int, limit: int) -> int | None:
    """Where the body of the function starting at `start` opens, or None when its header is
    not laid out as gofmt does (a one-line function, say): a signature's continuation lines
    are indented or start with `)`, and it ends with `{` once every parenthesis is closed."""
    position = start
    while (brace := source.find(b"{\n", position, limit + 1)) >= 0:
        header = source[start:brace]
        if any(line[:1] not in {b"\t", b")"} for line in header.split(b"\n")[1:]):
            return None
        if header.count(b"(") == header.count(b")"):
            return brace + 1
        position = brace + 2
    return None


def parse_go_skipping(source: bytes, skipped: Sequence[FunctionSpan]) -> Tree:
    """Parse with the bodies of `skipped` functions left out (newer syntax included: only the
    parts parsed are rewritten)."""
    if not skipped:
        return parse_go(source)
    bounds = [0]
    for span in skipped:
        bounds.extend((span.body_start, span.body_end))
    bounds.append(len(source))
    points = _points(source, bounds)
    ranges = [Range(points[i], points[i + 1], bounds[i], bounds[i + 1])
              for i in range(0, len(bounds), 2)]

    def parse(text: bytes) -> Tree:
        parser = _parser()
        parser.included_ranges = ranges
        try:
            return parser.parse(text)
        finally:
            parser.included_ranges = _WHOLE

    tree = parse(source)
    return reparse_newer_syntax(source, tree, parse) if tree.root_node.has_error else tree


def parse_go_range(source: bytes, start: int, end: int,
                   points: tuple[Point, Point] | None = None) -> Tree:
    """Parse only source[start:end] (one function), keeping the file's byte offsets.
    `points`: the row/column points of `start` and `end`, when the caller knows them."""
    where = Range(*points, start, end) if points is not None else _range(source, start, end)

    def parse(text: bytes) -> Tree:
        parser = _parser()
        parser.included_ranges = [where]
        try:
            return parser.parse(text)
        finally:
            parser.included_ranges = _WHOLE

    tree = parse(source)
    return reparse_newer_syntax(source, tree, parse) if tree.root_node.has_error else tree


def _points(source: bytes, offsets: list[int]) -> list[Point]:
    """Row/column points of ascending byte offsets, counting newlines once over the file."""
    points: list[Point] = []
    row, previous = 0, 0
    for offset in offsets:
        row += source.count(b"\n", previous, offset)
        # rfind scans back from `offset`: it costs the length of one line, not of the file.
        points.append(Point(row, offset - (source.rfind(b"\n", 0, offset) + 1)))
        previous = offset
    return points


def _range(source: bytes, start: int, end: int) -> Range:
    return Range(_point(source, start), _point(source, end), start, end)


def _point(source: bytes, offset: int) -> Point:
    line_start = source.rfind(b"\n", 0, offset) + 1
    return Point(source.count(b"\n", 0, offset), offset - line_start)


def line_starts(source: bytes) -> list[int]:
    """The offset of every line's first byte (for `point_at`): summed line lengths, which
    C-level splitting gives faster than a search loop."""
    return list(itertools.accumulate((len(line) + 1 for line in source.split(b"\n")[:-1]),
                                     initial=0))


def point_at(starts: list[int], offset: int) -> Point:
    """The row/column point of a byte offset, given the file's `line_starts`."""
    row = bisect.bisect_right(starts, offset) - 1
    return Point(row, offset - starts[row])


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
