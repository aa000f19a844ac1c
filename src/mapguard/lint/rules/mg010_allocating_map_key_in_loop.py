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
When the map's keys must be those strings (they are printed, serialised or come from elsewhere in
that form), or the loop is not hot. Not reported: `m[string(b)]` with `b []byte` (the compiler
looks it up without copying), a lone `strconv` or `string(...)` conversion, and indexing outside
loops.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from mapguard.lint.rule import Pass, Rule, Severity, Trigger
from mapguard.lint.syntax import enclosing_loops, occurrences, qualified_call
from mapguard.source.mapwrites import write_statement
from mapguard.source.package import GoFile, VarDecl
from mapguard.source.typeinfo import STRING, LocalDecl, TypeInfo, unparen


def _not_a_number(source: bytes, hit: re.Match[bytes]) -> bool:
    """`s[i+1]` adds a number: arithmetic on an index, never a string key."""
    rest = source[hit.end():hit.end() + 8].lstrip()
    return not rest[:1].isdigit()


# A `+` with a `]` after it on the same line (`m[a+b]`, `m[x[i]+b]`), not `+1`; or a
# fmt.Sprint* call as the whole key (a Sprint joined to other strings has its own `+`).
_ANCHORS = (Trigger(re.compile(rb"\+(?=[^\n\]]*\])"), _not_a_number),
            re.compile(rb"\[fmt\.(?P<at>Sprint)"))

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
        if _takes_whole_string_keys(pass_, go_file, index):
            continue  # the same map is also indexed by whole strings: a struct key cannot serve
        shown = " ".join(go_file.text(key).split())
        pass_.report(
            go_file, index,
            f"map key `{shown}` is built by {how} on every pass of the loop: "
            f"the string is made again only to be hashed ({_cost(how, index)}). Key the map by a "
            f"comparable struct of the parts (map[struct{{a, b string}}]V): no string to build",
        )


def _takes_whole_string_keys(pass_: Pass, go_file: GoFile, index: Node) -> bool:
    """Whether the map is also indexed with keys that are not built from parts (a literal
    name, input text), or starts out with string keys in its literal: then the strings are the
    data, and no struct key could serve every access."""
    info = pass_.info
    operand = unparen(index.child_by_field_name("operand") or index)
    if operand.type == "identifier":
        symbol = info.resolve(operand, go_file)
        if isinstance(symbol, LocalDecl):
            regions = [(go_file, _function_of(symbol))]
            initial = symbol.value
        elif isinstance(symbol, VarDecl):
            regions = [(f, f.root) for f in pass_.package.files]
            initial = symbol.value
        else:
            return True
    elif operand.type == "selector_expression":
        regions = [(f, f.root) for f in pass_.package.files]
        initial = None
    else:
        return True
    if initial is not None and _literal_with_entries(unparen(initial)):
        return True
    name = "".join(go_file.text(operand).split())
    for region_file, region in regions:
        if region is None:
            return True
        for use in occurrences(region, region_file, name):
            other = use.parent
            if other is None or other.type != "index_expression" or (
                other.child_by_field_name("operand") != use
            ):
                continue
            other_key = other.child_by_field_name("index")
            if other_key is None or _allocating_key(info, region_file, other, other_key) is None:
                return True
    return False


def _literal_with_entries(value: Node) -> bool:
    if value.type != "composite_literal":
        return False
    body = value.child_by_field_name("body")
    return body is not None and any(c.type != "comment" for c in body.named_children)


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
)
