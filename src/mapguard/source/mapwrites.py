"""Every statement of a package that writes a map: `m[k] = v`, `m[k] op= v`, `m[k]++`,
`delete(m, k)` and `clear(m)` — found from the text, confirmed on the tree, typed with TypeInfo."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from tree_sitter import Node

from mapguard.source.package import GoFile, Package
from mapguard.source.typeinfo import TypeInfo, walk

WriteKind = Literal["assign", "update", "delete", "clear"]

# `]` followed by an assignment operator, `++`/`--`, or the comma of `a[i], b[j] = ...`.
_INDEX_WRITE = re.compile(rb"\][ \t]*(?:=(?!=)|[-+*/%&|^]=|<<=|>>=|&\^=|\+\+|--|,)")
_BUILTIN_WRITE = re.compile(rb"(?:delete|clear)\(")


@dataclass(frozen=True, slots=True, eq=False)
class MapWrite:
    """A statement that writes into a map (assignment, `delete`, `clear`)."""

    file: GoFile
    statement: Node  # what the finding points at: the assignment, or the delete/clear call
    target: Node  # the map expression written to
    kind: WriteKind


Region = tuple[GoFile, Node]  # a function (or any node) whose writes are wanted


def map_writes(package: Package, info: TypeInfo, regions: Iterable[Region] | None = None
               ) -> list[MapWrite]:
    """The map writes of the package, or only those inside the given regions (typing every
    index write is the costly part, so callers narrow it to code that can matter)."""
    spans = ([(f, 0, len(f.source)) for f in package.files] if regions is None
             else _merged(regions))
    found: list[MapWrite] = []
    for go_file, start, end in spans:
        found.extend(_find(go_file, info, start, end))
    return found


def _merged(regions: Iterable[Region]) -> list[tuple[GoFile, int, int]]:
    """Byte ranges per file with nested and repeated regions folded together."""
    by_file: dict[int, tuple[GoFile, list[tuple[int, int]]]] = {}
    for go_file, node in regions:
        by_file.setdefault(id(go_file), (go_file, []))[1].append((node.start_byte, node.end_byte))
    spans: list[tuple[GoFile, int, int]] = []
    for go_file, ranges in by_file.values():
        last_end = -1
        for start, end in sorted(ranges):
            if start >= last_end:
                spans.append((go_file, start, end))
                last_end = end
            elif end > last_end:
                spans[-1] = (go_file, spans[-1][1], end)
                last_end = end
    return spans


def _find(go_file: GoFile, info: TypeInfo, start: int, end: int) -> Iterator[MapWrite]:
    seen: set[int] = set()
    for hit in _INDEX_WRITE.finditer(go_file.source, start, end):
        node = go_file.node_at(hit.start(), hit.start() + 1)
        statement = write_statement(node)
        if statement is None or statement.start_byte in seen:
            continue
        seen.add(statement.start_byte)
        yield from _index_writes(go_file, info, statement)
    for hit in _BUILTIN_WRITE.finditer(go_file.source, start, end):
        node = go_file.node_at(hit.start(), hit.end())
        write = _builtin_write(go_file, info, node)
        if write is not None:
            yield write


def untyped_writes(region: Node, go_file: GoFile) -> Iterator[tuple[Node, Node]]:
    """(statement, written expression) for each write syntax shows in `region`, types unread:
    every indexed target of an assignment or `++`/`--` (`m[k] = v`: `m`), and the first
    argument of `delete`/`clear`. For maps known to be maps without their types (another
    module's field, a map a context carried); `map_writes` types what it finds instead."""
    for node in walk(region):
        if node.type in {"assignment_statement", "inc_statement", "dec_statement"}:
            left = node.child_by_field_name("left") if node.type == "assignment_statement" \
                else node
            for target in left.named_children if left is not None else []:
                operand = target.child_by_field_name("operand") if (
                    target.type == "index_expression") else None
                if operand is not None:
                    yield node, operand
        elif node.type == "call_expression":
            callee = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            if callee is not None and callee.type == "identifier" and go_file.text(callee) in {
                    "delete", "clear"} and arguments is not None and arguments.named_children:
                yield node, arguments.named_children[0]


def write_statement(node: Node | None) -> Node | None:
    """The statement that stores into index expression `node` (`m[k] = v`, `m[k] op= v`,
    `m[k]++`), or None when `node` is only read."""
    if node is None or node.type != "index_expression":
        return None
    parent = node.parent
    if parent is not None and parent.type in {"inc_statement", "dec_statement"}:
        return parent
    statement = parent.parent if parent is not None else None
    if (parent is not None and parent.type == "expression_list" and statement is not None
            and statement.type == "assignment_statement"
            and statement.child_by_field_name("left") == parent):
        return statement
    return None


def _index_writes(go_file: GoFile, info: TypeInfo, statement: Node) -> Iterator[MapWrite]:
    if statement.type in {"inc_statement", "dec_statement"}:
        targets = [statement.named_children[0]] if statement.named_child_count else []
        kind: WriteKind = "update"
    else:
        left = statement.child_by_field_name("left")
        targets = [t for t in (left.named_children if left else []) if t.type != "comment"]
        operator = next((c.type for c in statement.children if not c.is_named), "=")
        kind = "assign" if operator == "=" else "update"
    for target in targets:
        if target.type != "index_expression":
            continue
        operand = target.child_by_field_name("operand")
        if operand is not None and info.is_map_expr(operand, go_file):
            yield MapWrite(go_file, statement, operand, kind)


def _builtin_write(go_file: GoFile, info: TypeInfo, call: Node | None) -> MapWrite | None:
    if call is None or call.type != "call_expression":
        return None
    arguments = call.child_by_field_name("arguments")
    name = info.builtin_name(call, go_file)
    if arguments is None or name not in {"delete", "clear"}:
        return None
    args = [a for a in arguments.named_children if a.type != "comment"]
    if not args:
        return None
    # delete takes only maps; clear also takes slices, so its argument must be a known map.
    if name == "clear" and not info.is_map_expr(args[0], go_file):
        return None
    return MapWrite(go_file, call, args[0], "delete" if name == "delete" else "clear")
