"""## What it does
Finds writes to a map after it was published to other goroutines: a map obtained from
`atomic.Pointer[...].Load()`, `atomic.Value.Load().(map…)` or a `sync.Map` `Load`, or a map the
same function already handed to `Store(&m)` / `Store(m)`, then written in place (`m[k] = v`,
`delete`, `clear`, ...). Each write is reported, also in a function of the module (another
package included) that the published map is handed to and that writes its parameter in place.

## Why is this bad?
Publishing through an atomic or a `sync.Map` is how readers get the map *without locks*. A write
to the published map therefore races with every reader: the runtime may kill the process with
`fatal error: concurrent map read and map write`, and `go test -race` reports a DATA RACE. The
atomic only makes the pointer swap safe, not the map behind it.

## Example
```go
var routes atomic.Pointer[map[string]string]

func addRoute(host, backend string) {
    m := *routes.Load()
    m[host] = backend // readers are using this very map
}
```

## Use instead
Copy-on-write: copy, modify the copy, then publish the copy.
```go
func addRoute(host, backend string) {
    next := maps.Clone(*routes.Load()) // Go 1.21; or copy in a loop
    next[host] = backend
    routes.Store(&next)
}
```
Concurrent writers also need a mutex (or a CompareAndSwap loop) around the copy-and-store.

## When it is a false alarm
When the map is published only after this function returns through a path the rule cannot see,
or when readers are stopped by other means while it is written. Suppress with
`//mapguard:ignore MG008 <reason>`.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from mapguard.lint.gofacts import API_SINCE
from mapguard.lint.rule import Pass, Rule, Severity
from mapguard.source.mapwrites import MapWrite, map_writes
from mapguard.source.package import GoFile
from mapguard.source.typeinfo import (
    LocalDecl,
    TypeInfo,
    enclosing_function,
    same_node,
    unparen,
    walk,
)
from mapguard.source.types import ATOMIC_VALUE, SYNC_MAP, GoType, deref, is_atomic_pointer

_ANCHORS = tuple(re.compile(re.escape(f".{m}(".encode()))
                 for m in ("Load", "Store", "Swap", "LoadOrStore"))
_LOADS = frozenset({"Load", "LoadOrStore", "Swap", "LoadAndDelete"})
_STORES = {"Store": None, "Swap": None, "LoadOrStore": 1, "CompareAndSwap": 2}


def run(pass_: Pass) -> None:
    info = pass_.info
    # Writes can only touch a published map in functions that load or store one.
    regions = []
    for match in pass_.candidates():
        function = enclosing_function(match.node)
        if function is not None and _publishes(match.node, match.file, info):
            regions.append((match.file, function))
    if not regions:
        return  # no map goes through an atomic or a sync.Map in this package
    for write in map_writes(pass_.package, info, regions):
        if write.file.is_test:
            continue  # tests run under `go test -race`, which judges them better
        how = _published(write.target, write, info, depth=0)
        if how is None:
            continue
        target = "".join(write.file.text(write.target).split())
        copy = "maps.Clone" if pass_.allows(API_SINCE["maps.Clone"]) else "a copy loop"
        pass_.report(
            write.file, write.statement,
            f"`{target}` {how} and is written here in place: readers use it without locks, so "
            f"this write races with them (the runtime can die with `fatal error: concurrent map "
            f"read and map write`; go test -race reports a DATA RACE). Copy-on-write instead: "
            f"copy it ({copy}), change the copy, then Store the copy",
        )


def _publishes(node: Node, go_file: GoFile, info: TypeInfo) -> bool:
    call = node if node.type == "call_expression" else node.parent
    if call is None or call.type != "call_expression":
        return False
    receiver, _method = _method_call(call, go_file, info)
    return receiver is not None and (
        is_atomic_pointer(receiver) or receiver in {ATOMIC_VALUE, SYNC_MAP})


def _published(expr: Node, write: MapWrite, info: TypeInfo, depth: int) -> str | None:
    if depth > 4:
        return None
    go_file = write.file
    expr = unparen(expr)
    if expr.type == "unary_expression" and _operator(expr) == "*":
        operand = expr.child_by_field_name("operand")
        return _points_to_published(operand, write, info, depth) if operand else None
    if expr.type == "type_assertion_expression":
        operand = expr.child_by_field_name("operand")
        return _boxed_published(operand, write, info, depth) if operand else None
    if expr.type == "call_expression":
        return None
    if expr.type != "identifier":
        return None
    symbol = info.resolve(expr, go_file)
    if not isinstance(symbol, LocalDecl):
        return None
    if symbol.value is not None and symbol.kind == "var":
        value = unparen(symbol.value)
        found = (_boxed_published(value.child_by_field_name("operand"), write, info, depth + 1)
                 if value.type == "type_assertion_expression" and symbol.value_index == 0
                 else _published(value, write, info, depth + 1) if symbol.value_count <= 1
                 else None)
        if found is not None and not _rebound_before(symbol, write.statement, go_file):
            return found
    return _stored_before(symbol, write, info)


def _points_to_published(pointer: Node, write: MapWrite, info: TypeInfo, depth: int
                         ) -> str | None:
    """`*p` where p came from atomic.Pointer's Load (directly or through a variable)."""
    pointer = unparen(pointer)
    if pointer.type == "call_expression":
        return "was loaded from an atomic.Pointer" if _load_of(pointer, write.file, info) == (
            "pointer") else None
    if pointer.type == "identifier":
        symbol = info.resolve(pointer, write.file)
        if isinstance(symbol, LocalDecl) and symbol.value is not None and symbol.value_count <= 1:
            return _points_to_published(symbol.value, write, info, depth + 1)
    return None


def _boxed_published(boxed: Node | None, write: MapWrite, info: TypeInfo, depth: int
                     ) -> str | None:
    """`v.(map...)` where v came from atomic.Value's Load or a sync.Map Load."""
    if boxed is None or depth > 4:
        return None
    boxed = unparen(boxed)
    if boxed.type == "call_expression":
        kind = _load_of(boxed, write.file, info)
        if kind == "value":
            return "was loaded from an atomic.Value"
        if kind == "syncmap":
            return "was loaded from a sync.Map"
        return None
    if boxed.type == "identifier":
        symbol = info.resolve(boxed, write.file)
        if isinstance(symbol, LocalDecl) and symbol.value is not None and (
            symbol.value_index == 0
        ):
            return _boxed_published(symbol.value, write, info, depth + 1)
    return None


def _load_of(call: Node, go_file: GoFile, info: TypeInfo) -> str | None:
    receiver, method = _method_call(call, go_file, info)
    if receiver is None or method not in _LOADS:
        return None
    if is_atomic_pointer(receiver):
        return "pointer"
    if receiver == ATOMIC_VALUE:
        return "value"
    if receiver == SYNC_MAP:
        return "syncmap"
    return None


def _method_call(call: Node, go_file: GoFile, info: TypeInfo) -> tuple[GoType | None, str]:
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None, ""
    operand = function.child_by_field_name("operand")
    field = function.child_by_field_name("field")
    if operand is None or field is None:
        return None, ""
    return deref(info.type_of(operand, go_file)), go_file.text(field)


def _stored_before(symbol: LocalDecl, write: MapWrite, info: TypeInfo) -> str | None:
    """`x.Store(&m)` / `x.Store(m)` / `sm.Store(k, m)` earlier in the same function."""
    go_file = write.file
    function = enclosing_function(write.statement)
    if function is None:
        return None
    name = symbol.name
    published: str | None = None
    for node in walk(function):
        if node.start_byte >= write.statement.start_byte:
            break
        if node.type == "assignment_statement" and published is not None and _rebinds(
            node, go_file, name
        ):
            published = None  # `m = make(...)` after the Store: a map nobody has seen yet
            continue
        if node.type != "call_expression":
            continue
        receiver, method = _method_call(node, go_file, info)
        if receiver is None or method not in _STORES:
            continue
        if not (is_atomic_pointer(receiver) or receiver in {ATOMIC_VALUE, SYNC_MAP}):
            continue
        arguments = node.child_by_field_name("arguments")
        values = [a for a in (arguments.named_children if arguments else [])
                  if a.type != "comment"]
        index = _STORES[method]
        if index is None:
            index = 1 if receiver == SYNC_MAP else 0
        if index >= len(values):
            continue
        stored = unparen(values[index])
        if stored.type == "unary_expression" and _operator(stored) == "&":
            stored = unparen(stored.child_by_field_name("operand") or stored)
        if stored.type == "identifier" and go_file.text(stored) == name and (
            info.resolve(stored, go_file) is symbol
            or _same_local(info.resolve(stored, go_file), symbol)
        ) and not _returns_before(node, write.statement, go_file):
            kind = ("an atomic.Pointer" if is_atomic_pointer(receiver) else
                    "an atomic.Value" if receiver == ATOMIC_VALUE else "a sync.Map")
            published = f"was published through {kind} on line {node.start_point.row + 1}"
    return published


def _rebound_before(symbol: LocalDecl, write: Node, go_file: GoFile) -> bool:
    """The variable is assigned again on every path to the write (`v = make(...)` in a block
    that holds the write): what is written is no longer the loaded map."""
    child, block = write, write.parent
    while block is not None and block.type not in {"function_declaration", "method_declaration",
                                                     "func_literal"}:
        if block.type == "statement_list":
            for earlier in block.named_children:
                if earlier.start_byte >= child.start_byte:
                    break
                if earlier.start_byte > symbol.ident.start_byte and (
                    earlier.type == "assignment_statement"
                    and _rebinds(earlier, go_file, symbol.name)
                ):
                    return True
        child, block = block, block.parent
    return False


def _returns_before(store: Node, write: Node, go_file: GoFile) -> bool:
    """The Store sits in a branch that ends in `return` (or `panic`) without reaching the
    write: `if same { m.Store(k, v); return }` does not publish the map written below."""
    block = store.parent
    while block is not None and not (block.start_byte <= write.start_byte < block.end_byte):
        if block.type == "block":
            statements = [c for c in block.named_children if c.type != "comment"]
            if statements and statements[-1].type == "statement_list":
                statements = [c for c in statements[-1].named_children if c.type != "comment"]
            last = statements[-1] if statements else None
            if last is not None and (last.type == "return_statement" or (
                last.type == "expression_statement" and go_file.text(last).startswith("panic("))):
                return True
        block = block.parent
    return False


def _rebinds(assignment: Node, go_file: GoFile, name: str) -> bool:
    left = assignment.child_by_field_name("left")
    operator = next((c.type for c in assignment.children if not c.is_named), "")
    return operator == "=" and left is not None and any(
        target.type == "identifier" and go_file.text(target) == name
        for target in left.named_children
    )


def _same_local(a: object, b: LocalDecl) -> bool:
    return isinstance(a, LocalDecl) and same_node(a.ident, b.ident)


def _operator(node: Node) -> str:
    return next((c.type for c in node.children if not c.is_named), "")


def published(expr: Node, go_file: GoFile, at: Node, info: TypeInfo) -> str | None:
    """How the map `expr`, used at `at` (a call handing it on), was published, or None."""
    return _published(expr, MapWrite(go_file, at, expr, "assign"), info, depth=0)


RULE = Rule(
    code="MG008",
    name="published-map-mutated",
    severity=Severity.ERROR,
    summary="a map published through an atomic or sync.Map, written in place afterwards",
    reports_at="the write to the published map",
    doc=__doc__ or "",
    run=run,
    # The publishing types must be declared in the package for their Loads to be typed.
    markers=(b"atomic.Pointer[", b"atomic.Value", b"sync.Map"),
    anchors=_ANCHORS,
    bodies=_ANCHORS,
    # Off by default: 2 of 16 findings worth telling and 7 false on trees no rule was tuned on,
    # the writes ordered before any reader by what the code does not show (a fill at start-up,
    # a value not yet returned): docs/review/fresh-sample-round2.md, "MG008".
    on_by_default=False,
)
