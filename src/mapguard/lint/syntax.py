"""Syntax questions several rules ask: enclosing loops and functions, calls, how a value is used."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator

from tree_sitter import Node

from mapguard.lint.rule import Pass
from mapguard.source.package import GoFile
from mapguard.source.typeinfo import (
    FUNCTION_NODES,
    LocalDecl,
    TypeInfo,
    walk,
    word_hits,
)

_SPACE = re.compile(r"\s+")
BUILTINS_THAT_ONLY_READ = frozenset({"len", "cap", "delete", "clear", "print", "println"})


def enclosing_loops(node: Node) -> list[Node]:
    """The `for` statements whose body holds `node`, innermost first, within its function."""
    loops: list[Node] = []
    child = node
    current = node.parent
    while current is not None and current.type not in FUNCTION_NODES:
        if current.type == "for_statement" and child == current.child_by_field_name("body"):
            loops.append(current)
        child = current
        current = current.parent
    return loops


def is_inside(node: Node, ancestor: Node) -> bool:
    return ancestor.start_byte <= node.start_byte and node.end_byte <= ancestor.end_byte


def statements(block: Node | None) -> list[Node]:
    """The statements of a block (or of a case body), comments left out."""
    if block is None:
        return []
    if block.type == "block":
        for child in block.named_children:
            if child.type == "statement_list":
                block = child
                break
        else:
            return []
    return [child for child in block.named_children if child.type != "comment"]


def normalized(go_file: GoFile, node: Node) -> str:
    """Source text without whitespace and redundant parentheses, for comparing expressions."""
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    return _SPACE.sub("", go_file.text(node))


def call_arguments(call: Node) -> list[Node]:
    arguments = call.child_by_field_name("arguments")
    if arguments is None:
        return []
    return [a for a in arguments.named_children if a.type != "comment"]


def builtin_call_name(call: Node, go_file: GoFile, info: TypeInfo) -> str | None:
    """`make`, `len`, `delete`... when `call` calls that builtin (not a shadowing declaration)."""
    return info.builtin_name(call, go_file)


def qualified_call(call: Node, go_file: GoFile) -> tuple[str, str] | None:
    """(import path, function) for `pkg.F(...)` where `pkg` is an import of the file."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None
    operand = function.child_by_field_name("operand")
    field = function.child_by_field_name("field")
    if operand is None or field is None or operand.type != "identifier":
        return None
    path = go_file.imports.get(go_file.text(operand))
    return (path, go_file.text(field)) if path is not None else None


def is_map_creation(node: Node, go_file: GoFile, info: TypeInfo) -> bool:
    """`make(M...)` or a composite literal of a map type `M{...}`."""
    node = _unparen(node)
    if node.type == "call_expression":
        if builtin_call_name(node, go_file, info) != "make":
            return False
        args = call_arguments(node)
        return bool(args) and info.is_map(info.type_node(args[0], go_file))
    if node.type == "composite_literal":
        return info.is_map(info.type_node(node.child_by_field_name("type"), go_file))
    return False


def _unparen(node: Node) -> Node:
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def assignment_pairs(statement: Node) -> Iterator[tuple[Node, Node | None]]:
    """(target, value) pairs of `a, b = x, y` (value None when the sides do not pair up)."""
    left = statement.child_by_field_name("left")
    right = statement.child_by_field_name("right")
    targets = [n for n in left.named_children if n.type != "comment"] if left else []
    values = [n for n in right.named_children if n.type != "comment"] if right else []
    for index, target in enumerate(targets):
        yield target, values[index] if len(values) == len(targets) else None


def assignment_operator(statement: Node) -> str:
    for child in statement.children:
        if not child.is_named:
            return child.type
    return ""


class Use(enum.Enum):
    ACCESS = "access"  # m[k], m[k] = v, len(m), range m, delete(m, k), m == nil
    ASSIGNED = "assigned"  # m = ... (the variable gets a new value)
    ESCAPES = "escapes"  # anything that lets the map value be kept elsewhere


def classify_use(use: Node, go_file: GoFile, info: TypeInfo) -> Use:
    """How an occurrence of a map-valued expression uses the map."""
    parent = use.parent
    while parent is not None and parent.type == "parenthesized_expression":
        use, parent = parent, parent.parent
    if parent is None:
        return Use.ESCAPES
    kind = parent.type
    if kind in {"var_spec", "const_spec", "parameter_declaration"} and any(
        name == use for name in parent.children_by_field_name("name")
    ):
        return Use.ASSIGNED  # the declaration itself
    if kind == "expression_list" and parent.parent is not None and (
        parent.parent.type == "range_clause"
        and parent.parent.child_by_field_name("left") == parent
    ):
        return Use.ASSIGNED
    if kind in {"index_expression", "selector_expression"} and (
        parent.child_by_field_name("operand") == use
    ):
        return Use.ACCESS  # an element, a field or a method of it
    if kind == "range_clause" and parent.child_by_field_name("right") == use:
        return Use.ACCESS
    if kind == "binary_expression":
        other = parent.child_by_field_name("right" if parent.child_by_field_name("left") == use
                                           else "left")
        if other is not None and other.type == "nil":
            return Use.ACCESS
    if kind == "argument_list" and parent.parent is not None:
        call = parent.parent
        if builtin_call_name(call, go_file, info) in BUILTINS_THAT_ONLY_READ:
            arguments = call_arguments(call)
            if arguments and arguments[0] == use:
                return Use.ACCESS
    if kind == "expression_list" and parent.parent is not None:
        statement = parent.parent
        if statement.type in {"assignment_statement", "short_var_declaration"} and (
            statement.child_by_field_name("left") == parent
        ):
            return Use.ASSIGNED
    return Use.ESCAPES


def occurrences(region: Node, go_file: GoFile, target: str) -> Iterator[Node]:
    """Nodes in `region` whose normalized text is `target` (an identifier or selector chain).

    Found by searching the source text for the last name of `target` and asking the tree for
    the node at each hit: far cheaper than walking every node of a large function."""
    last = target.rsplit(".", 1)[-1]
    dotted = "." in target
    for start, end in word_hits(go_file.source, last, region.start_byte, region.end_byte):
        node = go_file.node_at(start, end, named=False)
        if node is None:
            continue
        if dotted:
            parent = node.parent
            if (node.type == "field_identifier" and parent is not None
                    and parent.type == "selector_expression"
                    and normalized(go_file, parent) == target):
                yield parent
        elif node.type == "identifier" and _is_value_position(node):
            yield node


def _is_value_position(identifier: Node) -> bool:
    """False for identifiers that are names of something else (`x.f`'s f is a field_identifier)."""
    parent = identifier.parent
    if parent is None:
        return False
    if parent.type == "keyed_element":
        # In `T{name: value}` the key names a field, unless T is a map; treat it as a use.
        return True
    return parent.type not in {"labeled_statement", "parameter_declaration"}


def func_literal_between(node: Node, outer: Node) -> Node | None:
    """The outermost func literal strictly between `outer` and `node`, if any."""
    found: Node | None = None
    current = node.parent
    while current is not None and current != outer:
        if current.type == "func_literal":
            found = current
        current = current.parent
    return found


def is_immediately_called(func_literal: Node) -> bool:
    parent = func_literal.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    if parent is None or parent.type != "call_expression":
        return False
    grand = parent.parent
    # `go func(){...}()` and `defer func(){...}()` run later: not an immediate call.
    return grand is None or grand.type not in {"go_statement", "defer_statement"}


# Function bodies that can create a map (for Rule.bodies of the rules built on creation sites).
MAP_CREATION_BODIES = (re.compile(rb"make\("), re.compile(rb"map\["))

# `make(`, and `map[...]{` on one line (a literal, not a map type in a signature).
_MAKE_OR_MAP = (re.compile(rb"make\("), re.compile(rb"map\[[^\n{]*\{"))
_STDLIB_MAP_LITERAL = re.compile(rb"(?:Header|Values|MIMEHeader|FuncMap)\{")


def map_creation_sites(pass_: Pass) -> Iterator[tuple[GoFile, Node]]:
    """Every `make(...)` call and map-typed composite literal of the package (of the pass's
    shard of it), once each.

    Found from the text (`make(`, `map[`, `T{` for the package's named map types) rather than by
    visiting every node; each candidate is then confirmed on the tree."""
    package = pass_.package
    memo_key = ("map_creation_sites", pass_.shard)  # rules that own the same files share it
    if memo_key not in package.memo:
        package.memo[memo_key] = list(_find_map_creations(pass_))
    sites: list[tuple[GoFile, Node]] = package.memo[memo_key]  # type: ignore[assignment]
    yield from sites


def _find_map_creations(pass_: Pass) -> Iterator[tuple[GoFile, Node]]:
    package = pass_.package
    info = pass_.info
    named = [name for name, decl in package.types.items()
             if decl.type_node is not None and decl.type_node.type == "map_type"]
    patterns = [*_MAKE_OR_MAP, _STDLIB_MAP_LITERAL]
    if named:
        alternatives = b"|".join(re.escape(name.encode()) for name in sorted(named))
        patterns.append(re.compile(rb"(?:" + alternatives + rb")\{"))
    seen: set[tuple[int, int]] = set()
    files = [f for f in package.files if pass_.owns(f)]
    for pattern in patterns:
        for match in pass_.find(pattern, files):
            creation = _creation_at(match.node)
            if creation is None:
                continue
            key = (id(match.file), creation.start_byte)
            if key in seen:
                continue
            seen.add(key)
            if is_map_creation(creation, match.file, info):
                yield match.file, creation


def _creation_at(node: Node) -> Node | None:
    """The make call or composite literal that an anchor hit landed in."""
    current: Node | None = node
    for _ in range(3):
        if current is None:
            return None
        if current.type == "composite_literal" or (
            current.type == "call_expression"
            and (function := current.child_by_field_name("function")) is not None
            and function.type == "identifier" and function.text == b"make"
        ):
            return current
        current = current.parent
    return None


def delete_all_loop(call: Node, go_file: GoFile, info: TypeInfo) -> tuple[Node, Node] | None:
    """(loop, map) when `call` is the `delete` of exactly `for k := range m { delete(m, k) }`."""
    loop = _sole_statement_loop(call)
    if loop is None:
        return None
    clause = next((c for c in loop.named_children if c.type == "range_clause"), None)
    if clause is None:
        return None
    target = _delete_all_target(go_file, info, clause, call, loop)
    return (loop, target) if target is not None else None


def _sole_statement_loop(call: Node) -> Node | None:
    """The `for` statement whose body is exactly this call's statement."""
    if call.type != "call_expression":
        return None
    statement = call.parent
    if statement is None or statement.type != "expression_statement":
        return None
    body = statement.parent
    if body is not None and body.type == "statement_list":
        body = body.parent
    loop = body.parent if body is not None else None
    if loop is None or loop.type != "for_statement" or loop.child_by_field_name("body") != body:
        return None
    return loop


def _delete_all_target(
    go_file: GoFile, info: TypeInfo, clause: Node, call: Node, loop: Node
) -> Node | None:
    """The ranged map when the loop is exactly `for k := range m { delete(m, k) }`."""
    if info.resolve(call.child_by_field_name("function") or call, go_file) is not None:
        return None  # `delete` is shadowed: not the builtin
    left = clause.child_by_field_name("left")
    ranged = clause.child_by_field_name("right")
    if left is None or ranged is None:
        return None
    names = [n for n in left.named_children if n.type != "comment"]
    if not names or names[0].type != "identifier" or any(
        go_file.text(extra) != "_" for extra in names[1:]
    ):
        return None
    args = call_arguments(call)
    if len(args) != 2 or args[1].type != "identifier":
        return None
    if normalized(go_file, args[0]) != normalized(go_file, ranged):
        return None
    # `delete` accepts only maps, so the call itself says `ranged` is one.
    if _has_call(ranged):
        return None
    # Only `for k := range m`: with `for k = range m` the outer k keeps the last key (clear
    # would not), and the compiler does not turn that form into runtime.mapclear.
    key_symbol = info.resolve(args[1], go_file)
    if not any(child.type == ":=" for child in clause.children):
        return None
    if not isinstance(key_symbol, LocalDecl) or key_symbol.ident != names[0]:
        return None
    if len(statements(loop.child_by_field_name("body"))) != 1:
        return None
    return ranged


def _has_call(node: Node) -> bool:
    return any(child.type == "call_expression" for child in walk(node))
