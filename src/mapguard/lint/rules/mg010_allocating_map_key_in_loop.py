"""## What it does
Finds maps indexed inside a loop with a key built on the spot by string concatenation
(`m[a+"/"+b]`, `m[prefix+strconv.Itoa(id)]`) or by `fmt.Sprint`, `fmt.Sprintf`, `fmt.Sprintln`.

## Why is this bad?
The key string is built again on every pass, only to be hashed and thrown away. `fmt.Sprint*`
always allocates it on the heap. A concatenated key is allocated whenever it is stored (a map
write keeps the key) and for lookups whose key is longer than 32 bytes; shorter lookup keys use a
stack buffer but are still copied byte by byte every time. A struct key of the parts
(`map[struct{a, b string}]V`) is compared field by field and costs no allocation at all, and it
cannot collide the way `"a/b"+"c"` and `"a"+"/b/c"` do.

## Example
```go
counts := make(map[string]int)
for _, e := range events {
    counts[e.Tenant+"/"+e.Kind]++
}
```

## Use instead
```go
type tenantKind struct{ tenant, kind string }

counts := make(map[tenantKind]int)
for _, e := range events {
    counts[tenantKind{e.Tenant, e.Kind}]++
}
```

## When it is a false alarm
When the strings are the data: the map is returned or handed on, its keys are ranged over,
printed or compared, or it is also indexed with whole strings (a name, input text). The rule
only reports maps whose key format is the package's own: a local variable that starts empty
or comes from an unexported helper of the package, or an unexported field of a type of the
package, only indexed with keys built the same way, passed to `len`/`clear`, ranged over for
its values, or given a fresh empty map. Maps in exported fields, package variables, parameters
and results of exported or other packages' functions are left alone: other code fills or reads
their keys.
Not reported either: `m[string(b)]` with `b []byte` (the compiler looks it up without copying),
a lone `strconv` or `string(...)` conversion, indexing outside loops, and test and tool code
unless asked (`--advice-everywhere`). A loop that is not hot makes the finding cheap to ignore.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from mapguard.lint.rule import Pass, Rule, Severity, Trigger
from mapguard.lint.syntax import (
    Use,
    assignment_pairs,
    classify_use,
    enclosing_loops,
    is_map_creation,
    occurrences,
    qualified_call,
)
from mapguard.source.mapwrites import write_statement
from mapguard.source.package import GoFile
from mapguard.source.typeinfo import (
    STRING,
    LocalDecl,
    TypeInfo,
    same_symbol,
    unparen,
    word_hits,
)
from mapguard.source.types import UNKNOWN, GoType, Named, Unknown, deref


def _not_a_number(source: bytes, hit: re.Match[bytes]) -> bool:
    """`s[i+1]` adds a number: arithmetic on an index, never a string key."""
    rest = source[hit.end():hit.end() + 8].lstrip()
    return not rest[:1].isdigit()


class _BracketBeforeLineEnd:
    """Whether the first `]` or newline after a `+` is a `]`, for a `+` followed by a long run
    of neither. One search per run: every `+` of the run shares its answer (a 2 MB line of
    base64 in a Go string has 58,769 of them, and a search to the line's end from each took
    minutes). The run last searched is remembered (its text is kept alive with it, so `is`
    cannot mistake another text for it)."""

    def __init__(self) -> None:
        self._source: bytes | None = None
        self._run = (0, -1)  # [first `+` searched from, the `]` or newline ending the run]
        self._found = False

    def __call__(self, source: bytes, position: int) -> bool:
        first, end = self._run
        if source is not self._source or not first <= position <= end:
            delimiter = _DELIMITER.search(source, position)
            self._source = source
            self._run = (position, delimiter.start() if delimiter else len(source))
            self._found = delimiter is not None and delimiter.group() == b"]"
        return self._found


_DELIMITER = re.compile(rb"[\]\n]")
_LONG_RUN = _BracketBeforeLineEnd()


def _key_plus(source: bytes, hit: re.Match[bytes]) -> bool:
    """A `+` with a `]` after it on the same line that adds no number (see _PLUS)."""
    return _not_a_number(source, hit) and (
        hit.group("long") is None or _LONG_RUN(source, hit.end()))


# A `+` with a `]` after it on the same line (`m[a+b]`, `m[x[i]+b]`), not `+1`; or a
# fmt.Sprint* call as the whole key (a Sprint joined to other strings has its own `+`).
# A `]` near the `+` is seen by the pattern itself; after a run of more than 64 bytes of
# neither `]` nor newline (group "long"), by one search per run (_BracketBeforeLineEnd).
_PLUS = re.compile(rb"\+(?=[^\n\]]{0,64}\]|(?P<long>)[^\n\]]{65})")
_ANCHORS = (Trigger(_PLUS, _key_plus), re.compile(rb"\[fmt\.(?P<at>Sprint)"))

_SPRINT = frozenset({"Sprint", "Sprintf", "Sprintln"})


def run(pass_: Pass) -> None:
    info = pass_.info
    reported: set[tuple[int, int]] = set()
    for match in pass_.candidates():
        go_file = match.file
        found = _index_with_key(match.node)
        if found is None or (id(go_file), found[0].start_byte) in reported:
            continue
        index, key = found
        reported.add((id(go_file), index.start_byte))
        how = _allocating_key(info, go_file, index, key)
        if how is None or not enclosing_loops(index):
            continue
        if not _keys_only_hashed(pass_, go_file, index):
            continue  # the strings are the data: a struct key could not serve every use
        shown = " ".join(go_file.text(key).split())
        pass_.report(
            go_file, index,
            f"map key `{shown}` is built by {how} on every pass of the loop: "
            f"the string is made again only to be hashed ({_cost(how, index)}). Key the map by a "
            f"comparable struct of the parts (map[struct{{a, b string}}]V): no string to build",
        )


def _keys_only_hashed(pass_: Pass, go_file: GoFile, index: Node) -> bool:
    """Whether the built strings exist only to be hashed: the map starts empty, every access
    to it uses a key built the same way, and neither the map nor its keys are ever read out as
    strings (not returned, passed, stored or ranged over for its keys). The map must be a
    local variable, or an unexported field of a type of this package, so that every use is in
    view. Anything else means the strings are the data: another function, another package or
    the output sees those keys, and no struct key could serve them."""
    info = pass_.info
    operand = unparen(index.child_by_field_name("operand") or index)
    if operand.type == "selector_expression":
        return _field_only_hashed(pass_, go_file, operand)
    if operand.type != "identifier":
        return False
    symbol = info.resolve(operand, go_file)
    if not isinstance(symbol, LocalDecl) or symbol.kind != "var":
        return False  # a parameter, a package variable: filled or read elsewhere
    if symbol.value is not None and not _empty_creation(info, go_file, symbol.value) and (
        not _from_package_helper(info, go_file, symbol.value)
    ):
        return False
    function = _function_of(symbol)
    if function is None:
        return False
    for use in occurrences(function, go_file, symbol.name):
        if not same_symbol(info.resolve(use, go_file), symbol) or use == symbol.ident:
            continue
        if not _hashing_use(info, go_file, use):
            return False
    return True


def _field_only_hashed(pass_: Pass, go_file: GoFile, selector: Node) -> bool:
    """The same for `x.f`: every use of field f of x's type, in every file of the package."""
    info = pass_.info
    operand = selector.child_by_field_name("operand")
    field = selector.child_by_field_name("field")
    if operand is None or field is None:
        return False
    name = go_file.text(field)
    owner = deref(info.type_of(operand, go_file))
    if name[:1].isupper() or not isinstance(owner, Named) or owner.pkg != "":
        return False  # exported, or a field of another package's type: used elsewhere
    key = ("mg010-field", owner, name)
    memo = pass_.package.memo
    if key not in memo:
        memo[key] = all(_field_use_hashes(pass_, use_file, use, owner)
                        for use_file, use in _field_uses(pass_, name))
    return bool(memo[key])


def _field_uses(pass_: Pass, name: str) -> Iterator[tuple[GoFile, Node]]:
    for go_file in pass_.package.files:
        for start, end in word_hits(go_file.source, name):
            node = go_file.node_at(start, end, named=False)
            if node is not None and node.type in {"field_identifier", "identifier"}:
                yield go_file, node


def _field_use_hashes(pass_: Pass, go_file: GoFile, node: Node, owner: GoType) -> bool:
    """For one occurrence of the field's name: not this field, a hashing use, or a fresh empty
    map given to it (`T{f: make(...)}`, `x.f = map[K]V{}`)."""
    info = pass_.info
    parent = node.parent
    if parent is None:
        return True
    if parent.type == "selector_expression" and parent.child_by_field_name("field") == node:
        operand = parent.child_by_field_name("operand")
        operand_type = deref(info.type_of(operand, go_file)) if operand else UNKNOWN
        if operand_type != owner and not isinstance(operand_type, Unknown):
            return True  # a field of another type
        return _hashing_use(info, go_file, parent)
    if parent.type == "literal_element" and parent.parent is not None and (
        parent.parent.type == "keyed_element"
    ):
        element = parent.parent
        if element.named_children[0] != parent:
            return True  # the name is a value here, not the key
        literal = element.parent.parent if element.parent is not None else None
        if literal is None or literal.type != "composite_literal" or deref(
            info.type_node(literal.child_by_field_name("type"), go_file)) != owner:
            return True  # a field of another type's literal
        value = element.named_children[-1]
        inner = value.named_children[0] if value.named_child_count else value
        return _empty_creation(info, go_file, inner)
    return True


def _from_package_helper(info: TypeInfo, go_file: GoFile, value: Node) -> bool:
    """`m := c.table()` with table an unexported function or method of this package: the
    map's key format is the package's own, which a struct key can replace everywhere (an
    exported one, or another package's, hands out keys that callers see)."""
    value = unparen(value)
    if value.type != "call_expression":
        return False
    function = value.child_by_field_name("function")
    declaration = info.called_function(function, go_file) if function is not None else None
    return declaration is not None and declaration.name[:1].islower()


def _hashing_use(info: TypeInfo, go_file: GoFile, use: Node) -> bool:
    """An access that hashes a built key, `len`, `clear`, a range over the values only, or a
    fresh empty map assigned."""
    parent = use.parent
    if parent is None:
        return False
    if parent.type == "index_expression" and parent.child_by_field_name("operand") == use:
        key = parent.child_by_field_name("index")
        return key is not None and _allocating_key(info, go_file, parent, key) is not None
    if parent.type == "range_clause" and parent.child_by_field_name("right") == use:
        left = parent.child_by_field_name("left")
        names = [n for n in left.named_children if n.type != "comment"] if left else []
        return not names or go_file.text(names[0]) == "_"
    kind = classify_use(use, go_file, info)
    if kind is Use.ACCESS:  # len(m), clear(m), m == nil; delete is checked for its key
        call = parent.parent if parent.type == "argument_list" else None
        if call is not None and info.builtin_name(call, go_file) == "delete":
            arguments = [a for a in parent.named_children if a.type != "comment"]
            return len(arguments) == 2 and _allocating_key(
                info, go_file, arguments[1], arguments[1]) is not None
        return True
    if kind is Use.ASSIGNED:
        statement = parent.parent
        pairs = dict(assignment_pairs(statement)) if statement is not None and (
            statement.type == "assignment_statement") else {}
        value = pairs.get(use)
        return value is not None and _empty_creation(info, go_file, value)
    return False


def _empty_creation(info: TypeInfo, go_file: GoFile, value: Node) -> bool:
    value = unparen(value)
    if not is_map_creation(value, go_file, info):
        return False
    if value.type == "composite_literal":
        body = value.child_by_field_name("body")
        return body is None or all(c.type == "comment" for c in body.named_children)
    return True


def _function_of(symbol: LocalDecl) -> Node | None:
    scope: Node | None = symbol.scope
    while scope is not None and scope.type not in {"function_declaration",
                                                   "method_declaration", "func_literal"}:
        scope = scope.parent
    return scope


def _index_with_key(node: Node) -> tuple[Node, Node] | None:
    """(index expression, key) when an anchor hit is part of a map key expression."""
    if node.type == "field_identifier" and node.parent is not None:
        node = node.parent.parent or node  # fmt.Sprintf -> its call
    elif node.type != "binary_expression":
        return None
    while node.parent is not None and node.parent.type in {"binary_expression",
                                                           "parenthesized_expression"}:
        node = node.parent
    index = node.parent
    if index is None or index.type != "index_expression":
        return None
    key = index.child_by_field_name("index")
    return (index, key) if key == node and key.type in {"binary_expression",
                                                         "call_expression"} else None


def _allocating_key(info: TypeInfo, go_file: GoFile, index: Node, key: Node) -> str | None:
    if key.type == "call_expression":
        called = qualified_call(key, go_file)
        if called is not None and called[0] == "fmt" and called[1] in _SPRINT:
            return f"fmt.{called[1]}"
        return None
    if info.is_constant(key, go_file) or not _is_string_concatenation(info, go_file, key, index):
        return None  # a constant key is folded at compile time
    return "string concatenation"


def _is_string_concatenation(info: TypeInfo, go_file: GoFile, key: Node, index: Node) -> bool:
    operator = next((c.type for c in key.children if not c.is_named), "")
    if operator != "+":
        return False
    operand = index.child_by_field_name("operand")
    if operand is not None:
        map_type = info.map_type(info.type_of(operand, go_file))
        if map_type is not None and info.underlying(map_type.key) == STRING:
            return True
        if map_type is not None:
            return False  # a map with non-string keys: `+` is arithmetic
    return _has_string_side(info, go_file, key)


def _has_string_side(info: TypeInfo, go_file: GoFile, expr: Node) -> bool:
    if expr.type in {"interpreted_string_literal", "raw_string_literal"}:
        return True
    if expr.type == "binary_expression":
        left = expr.child_by_field_name("left")
        right = expr.child_by_field_name("right")
        return any(side is not None and _has_string_side(info, go_file, side)
                   for side in (left, right))
    return info.underlying(info.type_of(expr, go_file)) == STRING


def _cost(how: str, index: Node) -> str:
    if how.startswith("fmt."):
        return f"{how} allocates it every time"
    if write_statement(index) is not None:
        return "a write stores the key, so every pass allocates it"
    return "a lookup allocates it when it is longer than 32 bytes, and copies it every time"


RULE = Rule(
    code="MG010",
    name="allocating-map-key-in-loop",
    severity=Severity.WARNING,
    summary="a map key built by concatenation or fmt.Sprint* on every loop pass",
    reports_at="the index expression that builds the key",
    doc=__doc__ or "",
    run=run,
    markers=(b"+", b"[fmt.Sprint"),
    anchors=_ANCHORS,
    bodies=_ANCHORS,
    in_support_code=False,
    # 5 of 29 findings worth telling on trees no rule was tuned on: a key built per pass pays
    # only in loops that run often (docs/review/fresh-sample-round2.md, "MG010 off by default").
    on_by_default=False,
)
