"""Where the map a profile line grows was made: the link from a measured site to the code a fix
changes.

Heap profiles charge a map's growth to the line that inserted (`counts[k]++`); the fix goes
where the map was made (`make(map[string]int)` without a size, or made anew on every pass of a
loop). For an insert into a local variable, the creation is the last `make`/literal assigned to
it in the same function before the insert — or the one inside the innermost loop that holds
both, which runs again on every pass. A parameter or a field is made elsewhere: the origin
says so and no creation line is claimed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node

from mapguard.source.parser import parse_go
from mapguard.source.typeinfo import walk

_FUNCTIONS = ("function_declaration", "method_declaration", "func_literal")
_STATEMENTS = ("assignment_statement", "inc_statement", "dec_statement")


@dataclass(frozen=True, slots=True)
class MapOrigin:
    """What made the map a line inserts into."""

    variable: str  # `counts`, `s.cache` for a field
    how: str  # local | parameter | field | outside (a package variable or a captured one)
    line: int | None = None  # the creation's line, for a local made in the function
    text: str = ""  # the creating expression
    sized: bool = False  # make(..., n), or a literal with entries
    loop_line: int | None = None  # made anew on every pass of the loop starting here
    function: str | None = None  # the enclosing function's name

    @property
    def per_call(self) -> bool:
        """Made in the function on every call (and dropped at its end, as far as the function
        shows)."""
        return self.how == "local" and self.line is not None


@dataclass(frozen=True, slots=True)
class _Parsed:
    source: bytes
    root: Node


class OriginReader:
    """Reads the Go files of one diagnosis, each parsed once."""

    def __init__(self) -> None:
        self._files: dict[str, _Parsed | None] = {}

    def parsed(self, path: str) -> _Parsed | None:
        if path not in self._files:
            try:
                source = Path(path).read_bytes()
            except OSError:
                self._files[path] = None
            else:
                self._files[path] = _Parsed(source, parse_go(source).root_node)
        return self._files[path]

    def origins_on_line(self, path: str, line: int) -> tuple[MapOrigin, ...]:
        """The maps the statements starting on `line` insert into (1-based), with their
        origins."""
        parsed = self.parsed(path)
        return () if parsed is None else _origins_on_line(parsed, line)

    def creation_at(self, path: str, line: int) -> MapOrigin | None:
        """The map creation on `line` itself (`x := make(map...)`), as an origin: for a
        profile site that creates, and for a lint finding that reports a creation."""
        parsed = self.parsed(path)
        return None if parsed is None else _creation_at(parsed, line)


def _text(parsed: _Parsed, node: Node | None) -> str:
    if node is None:
        return ""
    return parsed.source[node.start_byte:node.end_byte].decode("utf-8", "replace")


def _origins_on_line(parsed: _Parsed, line: int) -> tuple[MapOrigin, ...]:
    found = []
    for node in _statements_on(parsed.root, line - 1):
        function = _enclosing(node, _FUNCTIONS)
        for target in _insert_targets(node):
            operand = target.child_by_field_name("operand")
            if operand is None:
                continue
            found.append(_origin(parsed, operand, function, node))
    return tuple(found)


def _creation_at(parsed: _Parsed, line: int) -> MapOrigin | None:
    for node in walk(parsed.root):
        if node.start_point[0] == line - 1 and _is_creation(parsed, node):
            function = _enclosing(node, _FUNCTIONS)
            name = _assigned_name(parsed, node)
            loop = _enclosing_loop(node, function)
            return MapOrigin(name or "", "local" if function is not None else "outside",
                             line, _text(parsed, node), _sized(parsed, node),
                             loop.start_point[0] + 1 if loop is not None else None,
                             _function_name(parsed, function))
        if node.start_point[0] > line - 1:
            break
    return None


def _statements_on(root: Node, row: int) -> list[Node]:
    found = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.start_point[0] > row or node.end_point[0] < row:
            continue
        if node.type in _STATEMENTS and node.start_point[0] == row:
            found.append(node)
            continue
        stack.extend(node.named_children)
    return found


def _insert_targets(statement: Node) -> list[Node]:
    if statement.type == "assignment_statement":
        left = statement.child_by_field_name("left")
        children = left.named_children if left is not None else []
    else:
        children = statement.named_children[:1]
    return [child for child in children if child.type == "index_expression"]


def _enclosing(node: Node, kinds: tuple[str, ...]) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type not in kinds:
        parent = parent.parent
    return parent


def _enclosing_loop(node: Node, function: Node | None) -> Node | None:
    parent = node.parent
    while parent is not None and parent != function:
        if parent.type == "for_statement":
            return parent
        parent = parent.parent
    return None


def _function_name(parsed: _Parsed, function: Node | None) -> str | None:
    while function is not None and function.type == "func_literal":
        function = _enclosing(function, _FUNCTIONS)
    if function is None:
        return None
    name = _text(parsed, function.child_by_field_name("name"))
    receiver = function.child_by_field_name("receiver")
    if receiver is not None:
        types = [n for n in walk(receiver) if n.type == "type_identifier"]
        if types:
            pointer = any(n.type == "pointer_type" for n in walk(receiver))
            owner = _text(parsed, types[0])
            return f"({'*' if pointer else ''}{owner}).{name}"
    return name or None


def _origin(parsed: _Parsed, operand: Node, function: Node | None, use: Node) -> MapOrigin:
    name = _text(parsed, operand)
    owner = _function_name(parsed, function)
    if operand.type == "selector_expression":
        return MapOrigin(name, "field", function=owner)
    if operand.type != "identifier" or function is None:
        return MapOrigin(name, "outside", function=owner)
    if _is_parameter(parsed, function, name):
        return MapOrigin(name, "parameter", function=owner)
    creations = [node for node in walk(function)
                 if _is_creation(parsed, node) and _assigned_name(parsed, node) == name]
    if not creations:
        declared = _declares(parsed, function, name)
        return MapOrigin(name, "local" if declared else "outside", function=owner)
    chosen = _in_shared_loop(creations, use, function) or _last_before(creations, use)
    loop = _shared_loop(chosen, use, function)
    return MapOrigin(name, "local", chosen.start_point[0] + 1, _text(parsed, chosen),
                     _sized(parsed, chosen), loop.start_point[0] + 1 if loop else None, owner)


def _in_shared_loop(creations: list[Node], use: Node, function: Node) -> Node | None:
    """The creation inside the innermost loop that also holds the use: it runs every pass."""
    best: tuple[int, Node] | None = None
    for creation in creations:
        loop = _shared_loop(creation, use, function)
        if loop is not None and (best is None or loop.start_byte > best[0]):
            best = (loop.start_byte, creation)
    return best[1] if best else None


def _shared_loop(creation: Node, use: Node, function: Node | None) -> Node | None:
    parent = creation.parent
    while parent is not None and parent != function:
        if parent.type == "for_statement" and parent.start_byte <= use.start_byte < \
                parent.end_byte:
            return parent
        parent = parent.parent
    return None


def _last_before(creations: list[Node], use: Node) -> Node:
    earlier = [node for node in creations if node.start_byte < use.start_byte]
    return (earlier or creations)[-1]


def _is_creation(parsed: _Parsed, node: Node) -> bool:
    if node.type == "composite_literal":
        literal_type = node.child_by_field_name("type")
        return literal_type is not None and literal_type.type == "map_type"
    if node.type == "call_expression" and _text(parsed, node.child_by_field_name(
            "function")) == "make":
        arguments = node.child_by_field_name("arguments")
        return arguments is not None and bool(arguments.named_children) and \
            arguments.named_children[0].type == "map_type"
    return False


def _sized(parsed: _Parsed, node: Node) -> bool:
    if node.type == "composite_literal":
        body = node.child_by_field_name("body")
        return body is not None and bool(body.named_children)
    arguments = node.child_by_field_name("arguments")
    return arguments is not None and len(arguments.named_children) >= 2


def _assigned_name(parsed: _Parsed, value: Node) -> str | None:
    """`name` in `name := V`, `name = V`, `var name = V` where V is `value`."""
    holder = value.parent
    if holder is None or holder.type != "expression_list":
        return None
    statement = holder.parent
    if statement is None:
        return None
    index = holder.named_children.index(value) if value in holder.named_children else -1
    if statement.type in ("short_var_declaration", "assignment_statement"):
        left = statement.child_by_field_name("left")
        names = left.named_children if left is not None else []
    elif statement.type == "var_spec":
        names = statement.children_by_field_name("name")
    else:
        return None
    if 0 <= index < len(names) and names[index].type == "identifier":
        return _text(parsed, names[index])
    return None


def _is_parameter(parsed: _Parsed, function: Node, name: str) -> bool:
    parameters = function.child_by_field_name("parameters")
    if parameters is None:
        return False
    return any(_text(parsed, n) == name for declaration in parameters.named_children
               for n in declaration.children_by_field_name("name"))


def _declares(parsed: _Parsed, function: Node, name: str) -> bool:
    for node in walk(function):
        if node.type == "short_var_declaration":
            left = node.child_by_field_name("left")
            if left is not None and any(_text(parsed, n) == name for n in left.named_children):
                return True
        elif node.type == "var_spec" and any(
                _text(parsed, n) == name for n in node.children_by_field_name("name")):
            return True
    return False
