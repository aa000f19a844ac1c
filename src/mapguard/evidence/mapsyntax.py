"""What the Go source of one line allocates: map creation, map inserts, sync.Map stores, and
the other allocating expressions that can share the line.

The question "is this expression a map?" is answered by `map_verdict` alone (yes, no, or
cannot tell): by the package-wide type model of `mapguard.source` when the file's package could
be loaded (a `MapOracle`), and otherwise — or when that model does not know — by a local,
syntactic look-up (declarations in the same function and file).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tree_sitter import Node, Query, QueryCursor, Tree

from mapguard.source.parser import GO_LANGUAGE, parse_go
from mapguard.source.typeinfo import walk
from mapguard.source.types import STDLIB_MAPS

# Go's malloc size classes (bytes); larger objects are rounded up to whole 8 KiB pages.
SIZE_CLASSES = (
    8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320,
    352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
    2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472,
    9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264,
    28672, 32768)
_BASIC_SIZES = {
    "bool": 1, "byte": 1, "uint8": 1, "int8": 1, "int16": 2, "uint16": 2, "int32": 4,
    "uint32": 4, "rune": 4, "float32": 4, "int": 8, "uint": 8, "int64": 8, "uint64": 8,
    "uintptr": 8, "float64": 8, "complex64": 8, "complex128": 16, "string": 16, "any": 16,
}
_SYNCMAP_WRITES = {"Store", "LoadOrStore", "Swap", "CompareAndSwap"}
UNKNOWN_INSERT = "insert?"
MAP_HEADER_BYTES = 48
# `type Index map[…]`, `type Set[K comparable] map[K]struct{}`, `type A = map[…]`.
_MAP_TYPE_DECLARATIONS = Query(GO_LANGUAGE, """[
    (type_spec name: (type_identifier) @name type: (map_type))
    (type_alias name: (type_identifier) @name type: (map_type))]""")


# Text form of a map type declaration: `type Index map[…]`, `Set[K comparable] map[K]…` inside a
# `type ( … )` block, `type A = map[…]`. For whole packages, where parsing every file would cost
# more than the answer is worth.
_MAP_TYPE_TEXT = re.compile(
    rb"^[ \t]*(?:type[ \t]+)?(\w+)(?:\[[^\]\n]*\])?[ \t]*=?[ \t]*map\[", re.M)


def declared_map_types(contents: Iterable[bytes]) -> frozenset[str]:
    """Names the files declare as map types (a package's files: its named map types)."""
    return frozenset(name.decode() for content in contents if b"map[" in content
                     for name in _MAP_TYPE_TEXT.findall(content))


def size_class(size: int) -> int:
    for cls in SIZE_CLASSES:
        if size <= cls:
            return cls
    return -(-size // 8192) * 8192


@dataclass(frozen=True, slots=True)
class LineAllocation:
    """One allocating expression: `op` is create, grow, syncmap, other (not a map), or
    `UNKNOWN_INSERT`: `x[k] = v` where the source does not tell whether `x` is a map (a field
    declared in another file, a generic call's result). Its bytes may be a table's growth or
    not: the profile's reader keeps them unattributed rather than guess."""

    op: str
    what: str  # "make(map)", "map literal", "insert", "sync.Map.Store", "make", "append", ...
    column: int  # 1-based
    size: int | None = None  # object size in bytes, when the syntax tells it


@dataclass(frozen=True, slots=True)
class LineFacts:
    allocations: tuple[LineAllocation, ...]

    @property
    def map_ops(self) -> frozenset[str]:
        return frozenset(a.op for a in self.allocations if a.op != "other")

    @property
    def others(self) -> tuple[LineAllocation, ...]:
        return tuple(a for a in self.allocations if a.op == "other")


# Whether an expression is a map according to a package-wide type model: None if it cannot tell.
MapOracle = Callable[[Node], bool | None]


class GoSource:
    """One parsed Go file, answering `facts(line)`."""

    def __init__(self, source: bytes, tree: Tree | None = None,
                 map_oracle: MapOracle | None = None, *,
                 package_map_types: frozenset[str] = frozenset()) -> None:
        self.source = source
        self.tree = tree if tree is not None else parse_go(source)
        self.map_oracle = map_oracle
        # Map types the package declares in its other files (`make(MIMEHeader, n)`).
        self.package_map_types = package_map_types
        self._by_line: dict[int, list[Node]] = {}
        self._map_types: set[str] | None = None
        self._scope_index: dict[int, dict[str, list[Node]]] = {}
        self._makers: dict[str, bool] = {}
        self._functions: dict[str, Node] | None = None
        self._fields: dict[str, Node] | None = None
        self._top: list[Node] = []
        self._top_rows: list[int] | None = None
        self._line_facts: dict[int, LineFacts] = {}

    def text(self, node: Node | None) -> str:
        return "" if node is None else self.source[node.start_byte:node.end_byte].decode(
            errors="replace")

    def nodes_on(self, line: int) -> list[Node]:
        """The named nodes that start on a line, in document order. Found by descending only
        into nodes that span the line (the top-level one by bisection): a profile asks about
        a few lines of big files."""
        if line not in self._by_line:
            row = line - 1
            if self._top_rows is None:
                self._top = self.tree.root_node.children
                self._top_rows = [node.start_point[0] for node in self._top]
            found: list[Node] = []
            last = bisect.bisect_right(self._top_rows, row)
            # Top-level nodes do not nest: the one starting last at or before the row, and
            # any that start on it.
            first = last - 1
            while first > 0 and self._top_rows[first - 1] == self._top_rows[last - 1]:
                first -= 1
            pending = list(reversed(self._top[max(first, 0):last]))
            while pending:
                node = pending.pop()
                if node.start_point[0] > row or node.end_point[0] < row:
                    continue
                if node.start_point[0] == row and node.is_named:
                    found.append(node)
                pending.extend(reversed(node.children))
            self._by_line[line] = found
        return self._by_line[line]

    def facts(self, line: int) -> LineFacts:
        found: list[tuple[int, LineAllocation]] = []
        for node in self.nodes_on(line):
            for order, allocation in self._allocations(node):
                found.append((order, allocation))
        found.sort(key=lambda item: item[0])
        return LineFacts(tuple(a for _, a in found))

    def insert_operands(self, line: int) -> list[Node]:
        """The maps a line inserts into: `m` of `m[k] = v`, `s.index` of `s.index[k]++`."""
        operands = (target.child_by_field_name("operand") for target in self._insert_targets(line))
        return [operand for operand in operands if operand is not None]

    def _insert_targets(self, line: int) -> Iterator[Node]:
        for node in self.nodes_on(line):
            yield from self._map_index_targets(node)

    def _map_index_targets(self, node: Node) -> Iterator[Node]:
        """`m[k]` of an assignment, `++`/`--` statement when `m` is a map."""
        return (target for target, verdict in self._index_targets(node) if verdict is True)

    def _index_targets(self, node: Node) -> Iterator[tuple[Node, bool | None]]:
        """Each `x[k]` an assignment, `++` or `--` statement writes, with whether `x` is a
        map (`map_verdict`: None when the source does not tell)."""
        if node.type not in ("assignment_statement", "inc_statement", "dec_statement"):
            return
        left = node.child_by_field_name("left")
        targets = left.named_children if left is not None and \
            node.type == "assignment_statement" else node.named_children[:1]
        for target in targets:
            if target.type == "index_expression":
                yield target, map_verdict(target.child_by_field_name("operand"), self)

    def is_map_type(self, node: Node | None) -> bool:
        """A map type: `map[K]V`, a named map type of the package, `http.Header`..."""
        return self._is_map_type(node)

    # --- classification of one node ----------------------------------------------------------

    def _allocations(self, node: Node) -> Iterator[tuple[int, LineAllocation]]:
        column = node.start_point[1] + 1
        kind = node.type
        if kind in ("assignment_statement", "inc_statement", "dec_statement"):
            # mapassign runs after the right-hand side is evaluated. A plain assignment into
            # what the source cannot tell is a map is marked unknown.
            targets = list(self._index_targets(node))
            for target, verdict in targets:
                if verdict is True:
                    yield node.end_byte + 1, LineAllocation("grow", "insert",
                                                            target.start_point[1] + 1)
            for target, verdict in targets:
                if verdict is None and kind == "assignment_statement":
                    yield node.end_byte + 1, LineAllocation(UNKNOWN_INSERT, "index assignment",
                                                            target.start_point[1] + 1)
        elif kind == "call_expression":
            yield from self._call(node, column)
        elif kind == "composite_literal":
            literal_type = node.child_by_field_name("type")
            if self._is_map_type(literal_type):
                yield node.end_byte, LineAllocation("create", "map literal", column)
            elif (literal_type is not None and literal_type.type == "slice_type") or (
                    node.parent is not None and node.parent.type == "unary_expression"
                    and self.text(node.parent.child_by_field_name("operator")) == "&"):
                # A struct or array value allocates only when its address is taken (or it is
                # boxed, which the call site does and the syntax does not show).
                yield node.end_byte, LineAllocation("other", "composite literal", column,
                                                    self._slice_literal_size(literal_type, node))
        elif kind == "func_literal":
            yield node.end_byte, LineAllocation("other", "closure", column)
        elif kind == "binary_expression" and _is_concatenation(node, self):
            # runtime.concatstrings is dropped from heap profiles like the map functions: its
            # bytes land on this line (`m[a+":"+b]++` allocates the key, not a table).
            yield node.end_byte, LineAllocation("other", "string concatenation", column)

    def _call(self, node: Node, column: int) -> Iterator[tuple[int, LineAllocation]]:
        function = node.child_by_field_name("function")
        arguments = node.child_by_field_name("arguments")
        args = arguments.named_children if arguments is not None else []
        name = self.text(function)
        if function is not None and function.type == "identifier":
            if name == "make" and args:
                if self._is_map_type(args[0]):
                    yield node.end_byte, LineAllocation("create", "make(map)", column)
                else:
                    yield node.end_byte, LineAllocation("other", "make", column,
                                                        self._make_size(args))
            elif name == "new" and args:
                size = _BASIC_SIZES.get(self.text(args[0]))
                yield node.end_byte, LineAllocation("other", "new", column, size)
            elif name == "append":
                yield node.end_byte, LineAllocation("other", "append", column)
            elif name in ("string", "[]byte", "[]rune"):
                yield node.end_byte, LineAllocation("other", "conversion", column)
        elif function is not None and function.type in ("slice_type", "parenthesized_type"):
            yield node.end_byte, LineAllocation("other", "conversion", column)
        elif function is not None and function.type == "selector_expression":
            method = self.text(function.child_by_field_name("field"))
            if method in _SYNCMAP_WRITES and is_syncmap_expression(
                    function.child_by_field_name("operand"), self):
                # Boxing key and value into `any` is the price of sync.Map's API.
                yield node.end_byte, LineAllocation("syncmap", f"sync.Map.{method}", column)

    def _slice_literal_size(self, literal_type: Node | None, literal: Node) -> int | None:
        """`[]string{v}`: the backing array of a slice literal of a basic element type."""
        if literal_type is None or literal_type.type != "slice_type":
            return None
        element = _BASIC_SIZES.get(self.text(literal_type.child_by_field_name("element")))
        body = literal.child_by_field_name("body")
        if element is None or body is None:
            return None
        elements = sum(1 for child in body.named_children if child.type != "comment")
        return element * elements or None

    def _make_size(self, args: list[Node]) -> int | None:
        if args[0].type != "slice_type" or len(args) < 2:
            return None
        element = _BASIC_SIZES.get(self.text(args[0].child_by_field_name("element")))
        length = args[-1]
        if element is None or length.type != "int_literal":
            return None
        try:
            return element * int(self.text(length).replace("_", ""), 0)
        except ValueError:
            return None

    def _is_map_type(self, node: Node | None) -> bool:
        if node is None:
            return False
        if node.type == "map_type":
            return True
        if node.type == "qualified_type":  # http.Header, url.Values... (by the usual names)
            package = self.text(node.child_by_field_name("package"))
            name = self.text(node.child_by_field_name("name"))
            return any(path.rsplit("/", 1)[-1] == package and declared == name
                       for path, declared in STDLIB_MAPS)
        if node.type == "generic_type":
            node = node.child_by_field_name("type")
        if node is None or node.type not in ("type_identifier", "identifier"):
            return False
        name = self.text(node)
        return name in self.package_map_types or name in self.map_type_names()

    def facts_with_inlining(self, line: int) -> LineFacts:
        """`facts(line)`, plus: a call to a function of this file whose body creates a map.
        When the compiler inlines it, the new map's header (48 bytes on 64-bit, `hmap` and
        Swiss `Map` alike) can be charged to the calling line. Memoised: a profile asks about
        the same lines over and over (the watch agent, at every pull)."""
        known = self._line_facts.get(line)
        if known is None:
            known = self._line_facts[line] = self._facts_with_inlining(line)
        return known

    def _facts_with_inlining(self, line: int) -> LineFacts:
        facts = self.facts(line)
        if facts.map_ops - {UNKNOWN_INSERT}:
            return facts
        calls = [(node, self.text(node.child_by_field_name("function")))
                 for node in self.nodes_on(line) if node.type == "call_expression"]
        extra = [LineAllocation("create", f"inlined {name}()", node.start_point[1] + 1,
                                MAP_HEADER_BYTES) for node, name in calls
                 if self._makes_a_map(name)]
        return LineFacts(facts.allocations + tuple(extra)) if extra else facts

    def _makes_a_map(self, name: str) -> bool:
        """Does the function of this file called `name` create a map in its body?"""
        if name not in self._makers:
            if self._functions is None:
                self._functions = {
                    self.text(node.child_by_field_name("name")): node
                    for node in self.tree.root_node.named_children
                    if node.type == "function_declaration"}
            body = self._functions[name].child_by_field_name("body") \
                if name in self._functions else None
            self._makers[name] = body is not None and any(
                a.op == "create" for inner in walk(body) for _, a in self._allocations(inner))
        return self._makers[name]

    def field_type(self, name: str) -> Node | None:
        """The declared type of a struct field of this name, in any struct of the file."""
        if self._fields is None:
            self._fields = {}
            for node in walk(self.tree.root_node):
                if node.type == "field_declaration":
                    declared = node.child_by_field_name("type")
                    for field_name in node.children_by_field_name("name"):
                        if declared is not None:
                            self._fields.setdefault(self.text(field_name), declared)
        return self._fields.get(name)

    def map_type_names(self) -> set[str]:
        """Named types this file declares with a map underlying type."""
        if self._map_types is None:
            found = QueryCursor(_MAP_TYPE_DECLARATIONS).captures(self.tree.root_node)
            self._map_types = {self.text(node) for node in found.get("name", ())}
        return self._map_types


FUNCTION_NODES = ("function_declaration", "method_declaration", "func_literal")


def assigned_values(source: GoSource, node: Node) -> Iterator[tuple[str, Node]]:
    """(name, value) of `a := v`, `a = v`, `var a = v`."""
    if node.type in ("short_var_declaration", "assignment_statement", "var_spec"):
        left = node.child_by_field_name("left") if node.type != "var_spec" else None
        names = ([source.text(n) for n in left.named_children] if left is not None else
                 [source.text(n) for n in node.children_by_field_name("name")])
        right = node.child_by_field_name("right" if node.type != "var_spec" else "value")
        values = right.named_children if right is not None else []
        if len(names) == len(values):
            yield from zip(names, values, strict=True)


def enclosing(node: Node, kinds: tuple[str, ...]) -> Node | None:
    current = node.parent
    while current is not None and current.type not in kinds:
        current = current.parent
    return current


def map_verdict(expr: Node | None, source: GoSource) -> bool | None:
    """Is `expr` (the operand of an index expression) a map: True, False, or None when the
    source does not tell. The package-wide type model when there is one, else a local
    syntactic look-up: the declaration of the identifier in the enclosing functions or the
    file (a map type, a named map type, `make(map...)` or a map literal), struct fields of a
    map type, `(*p)` for a `*map`, and `m[a]` when m's values are maps."""
    if expr is not None and source.map_oracle is not None:
        verdict = source.map_oracle(expr)
        if verdict is not None:
            return verdict
    declared = _declared_type(expr, source)
    if declared is None:
        return None
    return source._is_map_type(declared) or (
        None if declared.type in ("type_identifier", "qualified_type", "generic_type")
        else False)


def is_syncmap_expression(expr: Node | None, source: GoSource) -> bool:
    declared = _declared_type(expr, source)
    while declared is not None and declared.type == "pointer_type":
        declared = declared.named_children[0] if declared.named_children else None
    return declared is not None and source.text(declared) == "sync.Map"


def _declared_type(expr: Node | None, source: GoSource) -> Node | None:
    """A type node (or an expression that is evidently of a map type) for `expr`, or None."""
    if expr is None:
        return None
    kind = expr.type
    if kind == "parenthesized_expression" and expr.named_children:
        return _declared_type(expr.named_children[0], source)
    if kind == "unary_expression" and source.text(expr.child_by_field_name("operator")) in (
            "*", ""):
        pointer = _declared_type(expr.child_by_field_name("operand"), source)
        if pointer is not None and pointer.type == "pointer_type" and pointer.named_children:
            return pointer.named_children[0]
        return None
    if kind == "index_expression":
        container = _declared_type(expr.child_by_field_name("operand"), source)
        if container is not None and container.type == "map_type":
            return container.child_by_field_name("value")
        if container is not None and container.type in ("slice_type", "array_type"):
            return container.child_by_field_name("element")
        return None
    if kind == "selector_expression":
        return source.field_type(source.text(expr.child_by_field_name("field")))
    if kind == "identifier":
        return _identifier_type(expr, source.text(expr), source)
    return None


def _identifier_type(use: Node, name: str, source: GoSource) -> Node | None:
    """Walk outwards from `use` through enclosing blocks and functions to the file."""
    scope: Node | None = use.parent
    while scope is not None:
        if scope.type in ("block", "statement_list", "function_declaration",
                          "method_declaration", "func_literal", "source_file",
                          "for_statement", "if_statement"):
            found = _declaration_in(scope, name, source, use.start_byte)
            if found is not None:
                return found
        scope = scope.parent
    return None


def _declaration_in(scope: Node, name: str, source: GoSource, before: int) -> Node | None:
    """The last declaration of `name` in `scope` before `before` (anywhere at file level).
    Each scope's declarations are indexed once: long functions are common in profiles."""
    index = source._scope_index.get(scope.id)
    if index is None:
        index = source._scope_index[scope.id] = {}
        for child in scope.named_children:
            for declared in _declared_names(child, source):
                index.setdefault(declared, []).append(child)
    found: Node | None = None
    for child in index.get(name, ()):
        if child.start_byte > before and scope.type != "source_file":
            break
        found = _declares(child, name, source) or found
    return found


def _declared_names(node: Node, source: GoSource) -> Iterator[str]:
    kind = node.type
    if kind in ("parameter_list", "var_declaration", "const_declaration", "var_spec_list"):
        for child in node.named_children:
            yield from _declared_names(child, source)
    elif kind in ("parameter_declaration", "var_spec"):
        yield from (source.text(n) for n in node.children_by_field_name("name"))
    elif kind == "short_var_declaration":
        left = node.child_by_field_name("left")
        if left is not None:
            yield from (source.text(n) for n in left.named_children)
    elif kind in ("function_declaration", "method_declaration", "func_literal"):
        for field in ("receiver", "parameters"):
            params = node.child_by_field_name(field)
            if params is not None:
                yield from _declared_names(params, source)


def _declares(node: Node, name: str, source: GoSource) -> Node | None:
    kind = node.type
    if kind in ("parameter_list", "var_declaration", "const_declaration", "var_spec_list"):
        for child in node.named_children:
            found = _declares(child, name, source)
            if found is not None:
                return found
    elif kind in ("parameter_declaration", "var_spec"):
        names = [source.text(n) for n in node.children_by_field_name("name")]
        if name in names:
            declared = node.child_by_field_name("type")
            if declared is not None:
                return declared
            values = node.child_by_field_name("value")
            if values is not None and len(values.named_children) == len(names):
                return _value_type(values.named_children[names.index(name)], source)
    elif kind == "short_var_declaration":
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        names = [source.text(n) for n in left.named_children] if left is not None else []
        if name in names and right is not None and len(right.named_children) == len(names):
            return _value_type(right.named_children[names.index(name)], source)
    elif kind in ("function_declaration", "method_declaration", "func_literal"):
        for field in ("receiver", "parameters"):
            params = node.child_by_field_name(field)
            if params is not None:
                found = _declares(params, name, source)
                if found is not None:
                    return found
    return None


def _value_type(value: Node, source: GoSource) -> Node | None:
    """The type node an initial value evidently has: `make(T, ...)`, `T{...}`, `&T{...}`."""
    if value.type == "composite_literal":
        return value.child_by_field_name("type")
    if value.type == "call_expression" and source.text(
            value.child_by_field_name("function")) == "make":
        arguments = value.child_by_field_name("arguments")
        if arguments is not None and arguments.named_children:
            return arguments.named_children[0]
    if value.type == "unary_expression" and source.text(
            value.child_by_field_name("operator")) == "&":
        operand = value.child_by_field_name("operand")
        if operand is not None and operand.type == "composite_literal":
            # `&sync.Map{}`: report the pointee; callers deref pointers anyway.
            return operand.child_by_field_name("type")
    return None


_STRING_LITERALS = ("interpreted_string_literal", "raw_string_literal")


def _is_concatenation(node: Node, source: GoSource) -> bool:
    """The outermost `+` of a chain that joins a string literal to something that is not
    constant: a string built at run time (`a + ":" + b`)."""
    parent = node.parent
    if parent is not None and parent.type == "binary_expression" and _plus(parent, source):
        return False  # the outer `+` of the chain speaks for it
    operands: list[Node] = []
    pending = [node]
    while pending:
        current = pending.pop()
        if current.type == "binary_expression" and _plus(current, source):
            pending.extend(c for c in (current.child_by_field_name("left"),
                                       current.child_by_field_name("right")) if c is not None)
        else:
            operands.append(current)
    return any(o.type in _STRING_LITERALS for o in operands) and not all(
        o.type in _STRING_LITERALS for o in operands)


def _plus(node: Node, source: GoSource) -> bool:
    return source.text(node.child_by_field_name("operator")) == "+"
