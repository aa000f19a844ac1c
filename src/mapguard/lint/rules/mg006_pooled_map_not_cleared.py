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
Before Go 1.21 (no `clear`), empty it with `for w := range counts { delete(counts, w) }`: the
compiler turns exactly that loop into one `runtime.mapclear` call, which keeps the capacity.

## When it is a false alarm
When the pool is a cache whose entries stay valid for every user (an intern table, a memo keyed
by content): the rule recognises a function that looks a key up with `v, ok := m[key]` and returns
the entry it finds, and stays silent. Also when every user overwrites exactly the same keys, or
clears the map right after its own `Get` in another function. The rule only looks at maps
obtained in the function that puts them back; a `Put` of a map that arrived as a parameter is
judged where the map was obtained. A call before the `Put` to a function of the package that
empties the map it is handed (`clearSet(set)`, or `set.Reset()` on a map type whose method
clears its receiver) counts as clearing it. A `Put` that nothing on the way from the `Get` wrote
(a `default:` case that gives the map back untouched; reading an entry or `len` is no write) is
left to the pool's other `Put`s. A pool whose `New` returns a map literal with entries hands out a
template its users read and refill in place (a CEL environment `{"request": &request{}}`):
clearing it would break the next `Get`, so it is left alone. Test
and tool code is left alone unless asked (`--advice-everywhere`): a test that puts a map back
leaks entries only into other tests (round 12 of the review: a smoke test that only checked a
pooled map was empty).
"""

from __future__ import annotations

import re

from tree_sitter import Node

from mapguard.lint.gofacts import API_SINCE
from mapguard.lint.rule import Pass, Rule, Severity
from mapguard.lint.syntax import builtin_call_name, call_arguments, delete_all_loop, normalized
from mapguard.source.package import GoFile, VarDecl
from mapguard.source.typeinfo import (
    FUNCTION_NODES,
    LocalDecl,
    TypeInfo,
    under,
    unparen,
    walk,
)
from mapguard.source.types import (
    SYNC_POOL,
    ArrayOf,
    ChanOf,
    GoType,
    InterfaceOf,
    Named,
    PointerTo,
    StructOf,
    deref,
)

_PUT = re.compile(rb"\.Put\(")



def run(pass_: Pass) -> None:
    info = pass_.info
    for match in pass_.candidates():
        go_file, call = match.file, match.node
        pooled = _pooled_map(call, go_file, info)
        if pooled is None:
            continue
        function = _outermost_function(call)
        if function is None or _cleared(function, call, pooled, go_file, info):
            continue
        if _untouched_before(call, pooled, go_file, info):
            continue  # goes back as it came: every other Put of the pool decides
        if _template_pool(call, go_file, info):
            continue  # New fills the map: clearing it would empty it for the next Get
        if _serves_hits(function, pooled, go_file):
            continue  # a cache: the entries left in the map are what the next Get is for
        name = go_file.text(pooled.ident)
        the_map = f"*{name}" if _is_pointer(pooled, go_file, info) else name
        if pass_.allows(API_SINCE["clear"]):
            advice = (f"Call clear({the_map}) before Put; it keeps the capacity, which is what "
                      f"pooling the map is for")
        else:
            advice = _delete_loop_advice(the_map, _key_reflexive(pooled, go_file, info))
        pass_.report(
            go_file, call,
            f"`{name}` came from a sync.Pool and goes back uncleared: the next Get returns it "
            f"with this user's entries still in it (data leaks into the next request, and the "
            f"map only grows). {advice}",
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


def _delete_loop_advice(the_map: str, reflexive: bool | None) -> str:
    """Advice for modules older than Go 1.21, which have no `clear` (gofacts.API_SINCE); the
    loop compiles to runtime.mapclear for keys that equal themselves (test_gofacts.py)."""
    loop = f"`for k := range {the_map} {{ delete({the_map}, k) }}`"
    if reflexive:
        how = ("the compiler turns exactly this loop into one runtime.mapclear call, except "
               "in -race builds")
    elif reflexive is None:
        how = "a map never shrinks, so the loop keeps the capacity"
    else:
        how = ("a map never shrinks, so the loop keeps the capacity; a NaN key cannot be "
               "deleted, so a map that may hold one is better dropped than pooled")
    return f"Empty it before Put with {loop} (clear needs Go {API_SINCE['clear']}; {how})"


def _key_reflexive(pooled: LocalDecl, go_file: GoFile, info: TypeInfo) -> bool | None:
    """Whether every key of the pooled map equals itself (no float or interface part, which
    may hold a NaN); None when the key type is not known."""
    value = unparen(pooled.value) if pooled.value is not None else None
    asserted = info.type_node(value.child_by_field_name("type"), go_file) if (
        value is not None) else None
    map_type = info.map_type(deref(asserted)) if asserted is not None else None
    return _reflexive(map_type.key, info, 0) if map_type is not None else None


_REFLEXIVE_BUILTINS = frozenset({
    "bool", "string", "byte", "rune", "int", "int8", "int16", "int32", "int64", "uint", "uint8",
    "uint16", "uint32", "uint64", "uintptr",
})


def _reflexive(go_type: GoType, info: TypeInfo, depth: int) -> bool | None:
    go_type = info.underlying(go_type)
    if isinstance(go_type, Named) and go_type.pkg == "builtin":
        if go_type.name in _REFLEXIVE_BUILTINS:
            return True
        return False if go_type.name.startswith(("float", "complex")) or (
            go_type.name in {"any", "error"}) else None
    if isinstance(go_type, PointerTo | ChanOf):
        return True
    if isinstance(go_type, InterfaceOf):
        return False
    if depth > 8:
        return None
    parts: list[GoType] = ([f.type for f in go_type.fields] if isinstance(go_type, StructOf)
                           else [go_type.elem] if isinstance(go_type, ArrayOf) else [])
    if not parts and not isinstance(go_type, StructOf):
        return None
    verdicts = [_reflexive(part, info, depth + 1) for part in parts]
    if False in verdicts:
        return False
    return None if None in verdicts else True


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
    deferred = under(put, "defer_statement", function)
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
        if builtin is None and _cleared_by_call(node, targets, go_file, info):
            return True
    return False


def _cleared_by_call(call: Node, targets: set[str], go_file: GoFile, info: TypeInfo) -> bool:
    """A call of a function of the package that empties the pooled map it is handed:
    `clearSet(set)` whose body clears that parameter, or `set.Reset()` whose method clears
    its receiver — unconditionally, before any return (spire's `clearStringSet(set)` right
    before `stringSetPool.Put(set)`)."""
    function = call.child_by_field_name("function")
    callee = info.called_function(function, go_file) if function is not None else None
    if function is None or callee is None:
        return False
    declaration = callee.file.complete(callee.node)
    if function.type == "selector_expression":
        operand = function.child_by_field_name("operand")
        if operand is None or normalized(go_file, operand) not in targets:
            return False
        emptied = callee.receiver_name()
    else:
        arguments = call_arguments(call)
        index = next((i for i, argument in enumerate(arguments)
                      if normalized(go_file, argument) in targets), None)
        parameters = declaration.child_by_field_name("parameters")
        names = [callee.file.text(name) for group in (
            parameters.named_children if parameters is not None else [])
            for name in group.children_by_field_name("name")]
        emptied = names[index] if index is not None and index < len(names) else None
    return emptied is not None and _empties(declaration, emptied, callee.file, info)


def _empties(declaration: Node, name: str, go_file: GoFile, info: TypeInfo) -> bool:
    """The function's own statement list clears `name` (`clear(name)` or the delete-all
    loop) with no return before it."""
    body = declaration.child_by_field_name("body")
    statements = next((c for c in body.named_children if c.type == "statement_list"), None) if (
        body is not None) else None
    targets = {name, f"*{name}", f"(*{name})"}
    for statement in statements.named_children if statements is not None else []:
        if any(node.type == "return_statement" for node in walk(statement)):
            return False
        if statement.type == "expression_statement":
            call = statement.named_children[0] if statement.named_children else None
            arguments = call_arguments(call) if call is not None and (
                call.type == "call_expression") else []
            if (call is not None and builtin_call_name(call, go_file, info) == "clear"
                    and arguments and normalized(go_file, arguments[0]) in targets):
                return True
        if statement.type == "for_statement":
            deletes = [node for node in walk(statement) if node.type == "call_expression"
                       and builtin_call_name(node, go_file, info) == "delete"]
            loop = delete_all_loop(deletes[0], go_file, info) if len(deletes) == 1 else None
            if loop is not None and loop[0] == statement and (
                    normalized(go_file, loop[1]) in targets):
                return True
    return False


_STATEMENT_LISTS = frozenset({"block", "statement_list", "expression_case",
                              "default_case", "type_case", "communication_case"})


def _untouched_before(put: Node, pooled: LocalDecl, go_file: GoFile, info: TypeInfo) -> bool:
    """No statement on the way from the `Get` to this `Put` names the map: the statements
    before the Put in its block and in each enclosing block up to the Get's, skipping the other
    cases of a switch and the other branch of an if (dd-trace-go puts a tag map back untouched
    in a `default:` case). Not inside a loop, where a later pass reaches the Put again, nor
    in a deferred call, which runs after the rest of the function."""
    name = go_file.text(pooled.ident)
    declared = _statement_of(pooled.ident)
    current = put
    while current.parent is not None:
        holder = current.parent
        if holder.type in {"for_statement", "func_literal", "defer_statement"}:
            return False  # run again by a later pass, or after the rest of the function
        if holder.type in _STATEMENT_LISTS:
            earlier = [c for c in holder.named_children if c.start_byte < current.start_byte]
            for sibling in reversed(earlier):  # back from the Put towards the Get
                if declared is not None and sibling == declared:
                    return True  # reached the Get itself: nothing between names the map
                if sibling.type not in {"expression_case", "default_case", "type_case",
                                        "communication_case"} and _touches(
                                            sibling, name, go_file, info):
                    return False
        elif holder.type in {"if_statement", "expression_switch_statement",
                             "type_switch_statement", "select_statement"}:
            header = [c for c in holder.named_children if c.type not in _STATEMENT_LISTS
                      and c.type != "if_statement" and c.start_byte < current.start_byte]
            if any(_touches(part, name, go_file, info) for part in header):
                return False
        current = holder
    return False


def _template_pool(put: Node, go_file: GoFile, info: TypeInfo) -> bool:
    """The pool (a package-level variable) has a `New` that returns a map literal with
    entries: a template every user reads and refills in place (mosn/htnn lends such a CEL
    environment, `{"request": &request{}, "source": &source{}}`, to each evaluation). Those
    entries are what the next Get needs, so `clear` before Put, the rule's advice, would break
    it; and what a user may add besides is not the leak this rule can name."""
    function = put.child_by_field_name("function")
    operand = function.child_by_field_name("operand") if function is not None else None
    if operand is None or operand.type != "identifier":
        return False
    pool = info.resolve(operand, go_file)
    if not isinstance(pool, VarDecl) or pool.value is None:
        return False
    value = unparen(pool.value)
    if value.type == "unary_expression" and value.child_by_field_name("operand") is not None:
        value = unparen(value.child_by_field_name("operand") or value)  # &sync.Pool{...}
    body = value.child_by_field_name("body") if value.type == "composite_literal" else None
    for element in body.named_children if body is not None else []:
        parts = element.named_children if element.type == "keyed_element" else []
        if len(parts) != 2 or pool.file.text(parts[0]) != "New":
            continue
        new = parts[1].named_children[0] if parts[1].named_children else None
        if new is None or new.type != "func_literal":
            return False
        returned = [r for r in walk(new) if r.type == "return_statement"]
        return bool(returned) and all(_filled_literal(r) for r in returned)
    return False


def _filled_literal(statement: Node) -> bool:
    values = statement.named_children[0].named_children if statement.named_children else []
    literal = unparen(values[0]) if len(values) == 1 else None
    body = literal.child_by_field_name("body") if (
        literal is not None and literal.type == "composite_literal") else None
    return body is not None and any(c.type == "keyed_element" for c in body.named_children)


def _statement_of(node: Node) -> Node | None:
    current: Node | None = node
    while current is not None and current.parent is not None and (
            current.parent.type not in _STATEMENT_LISTS):
        current = current.parent
    return current


def _touches(node: Node, name: str, go_file: GoFile, info: TypeInfo) -> bool:
    """Whether `node` uses the map named `name` in a way that may add entries: any use but a
    read of one entry (`m[k]`, `v, ok := m[k]`) or `len(m)`, which leave it as it was."""
    return any(n.type == "identifier" and go_file.text(n) == name
               and not _reads(n, go_file, info) for n in walk(node))


def _reads(ident: Node, go_file: GoFile, info: TypeInfo) -> bool:
    parent = ident.parent
    if parent is None:
        return False
    if parent.type == "index_expression" and parent.child_by_field_name("operand") == ident:
        holder = parent.parent
        if holder is not None and holder.type in {"inc_statement", "dec_statement"}:
            return False  # m[k]++
        assigned = holder.parent if holder is not None and (
            holder.type == "expression_list") else None
        return not (assigned is not None and assigned.type == "assignment_statement"
                    and assigned.child_by_field_name("left") == holder)  # m[k] = v, m[k] += v
    call = parent.parent if parent.type == "argument_list" else None
    return call is not None and builtin_call_name(call, go_file, info) == "len"


def _serves_hits(function: Node, pooled: LocalDecl, go_file: GoFile) -> bool:
    """`v, ok := m[key]` whose `v` the function returns: the pooled map is a cache (an intern
    table, a per-P memo) whose leftover entries are meant to be found again."""
    name = go_file.text(pooled.ident)
    # A bare `return` has no expression list.
    returned = {go_file.text(value) for node in walk(function)
                if node.type == "return_statement" and node.named_child_count
                for value in node.named_children[0].named_children
                if value.type == "identifier"}
    for node in walk(function):
        if node.type not in {"short_var_declaration", "assignment_statement"}:
            continue
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        targets = left.named_children if left is not None else []
        values = right.named_children if right is not None else []
        if len(targets) != 2 or len(values) != 1 or values[0].type != "index_expression":
            continue
        operand = values[0].child_by_field_name("operand")
        if operand is not None and normalized(go_file, operand) == name and (
            go_file.text(targets[0]) in returned
        ):
            return True
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
    in_support_code=False,
)
