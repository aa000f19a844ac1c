"""## What it does
Finds a map (or pointer to a map) taken from a `sync.Pool` with `Get` and put back with `Put` in
the same function without being cleared — neither right after the `Get` nor before the `Put`
(a `Put` in a deferred func counts the whole function).

## Why is this bad?
`sync.Pool` hands the same object to the next `Get`, possibly on another goroutine serving
another request or tenant. A map put back uncleared carries the previous user's entries into the
next one — wrong results, data leaking between requests, and a map that only ever grows.
Clearing it with `clear(m)` (Go 1.21) empties it and keeps its capacity, which is why maps are
pooled in the first place. (The pool may also drop objects at any GC: pooled maps are only an
optimisation, never storage.)

## Example
```go
var countPool = sync.Pool{New: func() any { return map[string]int{} }}

func wordCounts(words []string) int {
    counts := countPool.Get().(map[string]int)
    for _, w := range words {
        counts[w]++
    }
    n := len(counts)
    countPool.Put(counts)
    return n
}
```

## Use instead
```go
    n := len(counts)
    clear(counts)
    countPool.Put(counts)
```

## When it is a false alarm
When every user overwrites exactly the same keys, or clears the map right after its own `Get`
in another function. The rule only looks at maps obtained in the function that puts them back;
a `Put` of a map that arrived as a parameter is judged where the map was obtained. Needs Go 1.21
(`clear`): silent for older modules.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from mapguard.goversion import GO_1_21
from mapguard.lint.rule import Pass, Rule, Severity
from mapguard.lint.syntax import builtin_call_name, call_arguments, delete_all_loop, normalized
from mapguard.source.package import GoFile
from mapguard.source.typeinfo import FUNCTION_NODES, LocalDecl, TypeInfo, unparen, walk
from mapguard.source.types import SYNC_POOL, PointerTo, deref

_PUT = re.compile(rb"\.Put\(")



def run(pass_: Pass) -> None:
    if not pass_.allows(GO_1_21):
        return
    info = pass_.info
    for match in pass_.candidates():
        go_file, call = match.file, match.node
        pooled = _pooled_map(call, go_file, info)
        if pooled is None:
            continue
        function = _outermost_function(call)
        if function is None or _cleared(function, call, pooled, go_file, info):
            continue
        name = go_file.text(pooled.ident)
        cleared = f"clear(*{name})" if _is_pointer(pooled, go_file, info) else f"clear({name})"
        pass_.report(
            go_file, call,
            f"`{name}` came from a sync.Pool and goes back uncleared: the next Get returns it "
            f"with this user's entries still in it (data leaks into the next request, and the "
            f"map only grows). Call {cleared} before Put; it keeps the capacity, which is what "
            f"pooling the map is for",
        )


def _pooled_map(call: Node, go_file: GoFile, info: TypeInfo) -> LocalDecl | None:
    """The variable Put back, when it holds a map (or *map) obtained from a pool's Get."""
    if call.type != "call_expression":
        return None
    function = call.child_by_field_name("function")
    operand = function.child_by_field_name("operand") if function is not None else None
    arguments = call_arguments(call)
    if operand is None or len(arguments) != 1 or deref(info.type_of(operand, go_file)) != (
        SYNC_POOL
    ):
        return None
    argument = unparen(arguments[0])
    if argument.type != "identifier":
        return None
    symbol = info.resolve(argument, go_file)
    if not isinstance(symbol, LocalDecl) or symbol.kind != "var" or symbol.value is None:
        return None
    value = unparen(symbol.value)
    if value.type != "type_assertion_expression" or not _is_pool_get(value, go_file, info):
        return None
    asserted = info.type_node(value.child_by_field_name("type"), go_file)
    return symbol if info.is_map(deref(asserted)) else None


def _is_pool_get(assertion: Node, go_file: GoFile, info: TypeInfo) -> bool:
    call = unparen(assertion.child_by_field_name("operand") or assertion)
    if call.type == "identifier":
        # The two-step form: `v := pool.Get(); m := v.(map[K]V)`.
        held = info.resolve(call, go_file)
        if not isinstance(held, LocalDecl) or held.kind != "var" or held.value is None:
            return False
        call = unparen(held.value)
    if call.type != "call_expression":
        return False
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return False
    field = function.child_by_field_name("field")
    operand = function.child_by_field_name("operand")
    return (field is not None and go_file.text(field) == "Get" and operand is not None
            and deref(info.type_of(operand, go_file)) == SYNC_POOL)


def _is_pointer(pooled: LocalDecl, go_file: GoFile, info: TypeInfo) -> bool:
    value = unparen(pooled.value) if pooled.value is not None else None
    if value is None:
        return False
    return isinstance(info.type_node(value.child_by_field_name("type"), go_file), PointerTo)


def _cleared(function: Node, put: Node, pooled: LocalDecl, go_file: GoFile,
             info: TypeInfo) -> bool:
    """A clear (or the exact delete-all loop) of the pooled map that runs before the Put."""
    name = go_file.text(pooled.ident)
    targets = {name, f"*{name}", f"(*{name})"}
    deferred = _is_deferred(put, function)
    for node in walk(function):
        if node.type != "call_expression":
            continue
        if not deferred and node.start_byte >= put.start_byte:
            break
        builtin = builtin_call_name(node, go_file, info)
        arguments = call_arguments(node)
        if builtin == "clear" and arguments and normalized(go_file, arguments[0]) in targets:
            return True
        if builtin == "delete":
            loop = delete_all_loop(node, go_file, info)
            if loop is not None and normalized(go_file, loop[1]) in targets:
                return True
    return False


def _is_deferred(put: Node, function: Node) -> bool:
    current = put.parent
    while current is not None and current != function:
        if current.type == "defer_statement":
            return True
        current = current.parent
    return False


def _outermost_function(node: Node) -> Node | None:
    found: Node | None = None
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_NODES:
            found = current
            if current.type != "func_literal":
                break
        current = current.parent
    return found


RULE = Rule(
    code="MG006",
    name="pooled-map-not-cleared",
    severity=Severity.WARNING,
    summary="a map taken from a sync.Pool is put back without being cleared",
    reports_at="the `Put` call",
    doc=__doc__ or "",
    run=run,
    markers=(b"sync.Pool",),  # a pool of this package (another package's pool is not typed)
    anchors=(_PUT,),
    bodies=(_PUT,),
    needs=GO_1_21,
)
