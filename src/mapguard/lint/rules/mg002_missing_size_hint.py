"""## What it does
Finds a map created without a size (`make(map[K]V)` or an empty literal) and then filled by a
loop that inserts exactly one entry per element of a slice, array, map or string whose length is
known before the loop — and suggests `make(map[K]V, len(x))`. When the loop only copies another
map (`dst[k] = v` over `range src`), it suggests `maps.Clone(src)` (Go 1.21).

## Why is this bad?
A map created without a hint starts with room for 8 entries. As the loop inserts, the map grows
again and again: each growth allocates a bigger table and moves every entry into it (Swiss tables
in Go 1.24+ double their tables and split them past 1024 slots; older maps grew incrementally).
With `make(map[K]V, n)` the table is allocated once at the right size: fewer allocations, less
copying, less garbage. The hint is only a hint — more inserts still work.

`maps.Clone(src)` copies a map in one call, and copies the source's capacity too, so a source
that once held many more entries gives a large clone. `maps.Clone(nil)` returns nil, where the
loop leaves an empty map.

## Example
```go
byID := make(map[string]*User)
for _, u := range users {
    byID[u.ID] = u
}
```

## Use instead
```go
byID := make(map[string]*User, len(users))
for _, u := range users {
    byID[u.ID] = u
}
```

## When it is a false alarm
When many elements share a key, the hint over-allocates: a map sized for `len(users)` when only a
handful of distinct keys exist. The rule only reports loops that insert on every pass, not
`m[k]++` counters or conditional inserts, to keep that case rare.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from mapguard.goversion import GO_1_21
from mapguard.lint.fixes import add_import_edit
from mapguard.lint.rule import Edit, Fix, Pass, Rule, Severity, edit
from mapguard.lint.syntax import (
    MAP_CREATION_BODIES,
    Use,
    assignment_operator,
    assignment_pairs,
    builtin_call_name,
    call_arguments,
    classify_use,
    map_creation_sites,
    normalized,
    occurrences,
    statements,
)
from mapguard.source.mapwrites import write_statement
from mapguard.source.package import GoFile, VarDecl
from mapguard.source.typeinfo import STRING, LocalDecl, TypeInfo, walk
from mapguard.source.types import ArrayOf, ChanOf, MapOf, PointerTo, SliceOf

# A return before the insert does not matter: the map is abandoned on that path. What makes
# the insert conditional is skipping to the next pass (or out of the loop).
_BRANCHES = frozenset({"continue_statement", "break_statement", "goto_statement"})


@dataclass(frozen=True, slots=True)
class Filling:
    loop: Node
    length_of: Node  # the x of len(x)
    insert: Node  # the `m[k] = v` statement
    copy_source: Node | None  # src when the loop is exactly `for k, v := range src { m[k] = v }`


def run(pass_: Pass) -> None:
    for go_file, creation in map_creation_sites(pass_):
        _check(pass_, go_file, creation)


def _check(pass_: Pass, go_file: GoFile, create: Node) -> None:
    info = pass_.info
    if create.type == "composite_literal":
        body = create.child_by_field_name("body")
        if body is None or any(c.type != "comment" for c in body.named_children):
            return
        map_type_node = create.child_by_field_name("type")
    else:
        arguments = call_arguments(create)
        if builtin_call_name(create, go_file, info) != "make" or len(arguments) != 1:
            return
        map_type_node = arguments[0]
    if map_type_node is None or not info.is_map(info.type_node(map_type_node, go_file)):
        return
    statement, target = _creating_statement(create, go_file)
    if statement is None or target is None:
        return
    filling = _filling_loop(info, go_file, statement, target)
    if filling is None or not _available_at(info, go_file, filling.length_of, create):
        return  # the length is not known where the map is made (a call, a later variable)
    if next(occurrences(filling.length_of, go_file, normalized(go_file, target)), None):
        return  # ranging over the map being built
    name = normalized(go_file, target)
    type_text = go_file.text(map_type_node)
    length_text = go_file.text(filling.length_of)
    if filling.copy_source is not None and pass_.allows(GO_1_21):
        source = go_file.text(filling.copy_source)
        assign = {"short_var_declaration": ":=", "var_declaration": "="}.get(
            statement.type, "=")
        spelled = f"var {name} = " if statement.type == "var_declaration" else f"{name} {assign} "
        message = (
            f"`{name}` is filled by a loop that only copies `{source}`: write "
            f"{spelled}maps.Clone({source}), which allocates the table once (it copies "
            f"`{source}`'s capacity too, and returns nil when `{source}` is nil)"
        )
        fix = _clone_fix(info, go_file, statement, create, target, filling) or _hint_fix(
            info, go_file, create, type_text, filling)
    else:
        message = (
            f"`{name}` grows one insert at a time while the loop below adds exactly one entry "
            f"per element of `{length_text}`: size it up front with "
            f"make({type_text}, len({length_text})) so the table is allocated once instead of "
            f"growing and rehashing as it fills"
        )
        fix = _hint_fix(info, go_file, create, type_text, filling)
    pass_.report(go_file, create, message, fix=fix)


def _creating_statement(create: Node, go_file: GoFile) -> tuple[Node | None, Node | None]:
    """The statement that stores the new map in a variable or field, and that target."""
    holder = create.parent
    if holder is None or holder.type != "expression_list":
        return None, None
    statement = holder.parent
    if statement is None:
        return None, None
    if statement.type == "var_spec":
        names = statement.children_by_field_name("name")
        declaration = statement.parent
        while declaration is not None and declaration.type != "var_declaration":
            declaration = declaration.parent
        if len(names) == 1 and declaration is not None:
            return declaration, names[0]
        return None, None
    if statement.type == "short_var_declaration" or (
        statement.type == "assignment_statement" and assignment_operator(statement) == "="
    ):
        pairs = list(assignment_pairs(statement))
        if len(pairs) == 1 and pairs[0][1] == create:
            target = pairs[0][0]
            if target.type in {"identifier", "selector_expression"}:
                return statement, target
    return None, None


def _filling_loop(info: TypeInfo, go_file: GoFile, statement: Node, target: Node
                  ) -> Filling | None:
    block = statement.parent
    if block is None or block.type != "statement_list":
        return None
    name = normalized(go_file, target)
    following = [s for s in block.named_children
                 if s.start_byte > statement.start_byte and s.type != "comment"]
    for later in following:
        if later.type == "for_statement":
            filling = _loop_fills(info, go_file, later, name)
            if filling is not None:
                return filling
        if next(occurrences(later, go_file, name), None) is not None:
            return None  # used (filled, passed, replaced) before the loop: the hint would lie
    return None


def _loop_fills(info: TypeInfo, go_file: GoFile, loop: Node, name: str) -> Filling | None:
    length_of = _known_length_source(info, go_file, loop)
    body = loop.child_by_field_name("body")
    if length_of is None or body is None:
        return None
    inserts = [use for use in occurrences(body, go_file, name) if _is_insert(use, go_file, info)]
    if len(inserts) != 1:
        return None
    insert_statement = _statement_of(inserts[0])
    direct = statements(body)
    if insert_statement is None or insert_statement not in direct or (
        assignment_operator(insert_statement) != "="
    ):
        return None
    if len(list(assignment_pairs(insert_statement))) != 1:
        return None
    if _branches_before(body, insert_statement, loop):
        return None
    if _reads_map(insert_statement, go_file, name) or _read_modify_write(
        body, insert_statement, go_file, name
    ):
        return None  # `m[k] = append(m[k], v)`: grouping, one entry per distinct key
    copy_source = _pure_copy_source(go_file, loop, direct, insert_statement)
    return Filling(loop, length_of, insert_statement, copy_source)


def _read_modify_write(body: Node, insert: Node, go_file: GoFile, name: str) -> bool:
    """`g := m[k]; ...; m[k] = g`: the inserted value is built from the entry already there."""
    target, value = next(iter(assignment_pairs(insert)))
    key = target.child_by_field_name("index") if target.type == "index_expression" else None
    if key is None or value is None:
        return False
    key_text = normalized(go_file, key)
    for use in occurrences(body, go_file, name):
        index = use.parent
        if index is None or index.type != "index_expression" or index == target:
            continue
        read_key = index.child_by_field_name("index")
        if read_key is None or normalized(go_file, read_key) != key_text:
            continue
        holder = index.parent
        statement = holder.parent if holder is not None else None
        if statement is None or statement.type not in {"short_var_declaration",
                                                       "assignment_statement"}:
            continue
        left = statement.child_by_field_name("left")
        for variable in (left.named_children if left is not None else []):
            if variable.type == "identifier" and next(
                occurrences(value, go_file, go_file.text(variable)), None
            ) is not None:
                return True
    return False


def _reads_map(insert: Node, go_file: GoFile, name: str) -> bool:
    right = insert.child_by_field_name("right")
    return right is not None and next(occurrences(right, go_file, name), None) is not None


def _statement_of(node: Node) -> Node | None:
    current: Node | None = node
    while current is not None and not current.type.endswith("_statement"):
        current = current.parent
    return current


def _is_insert(use: Node, go_file: GoFile, info: TypeInfo) -> bool:
    """`m[k] = v`, `m[k] op= v` or `m[k]++`: any statement that may add a key."""
    return (classify_use(use, go_file, info) is Use.ACCESS
            and write_statement(use.parent) is not None)


def _known_length_source(info: TypeInfo, go_file: GoFile, loop: Node) -> Node | None:
    """x when the loop runs exactly len(x) times over a slice, array, map or string x."""
    for clause in loop.named_children:
        if clause.type == "range_clause":
            ranged = clause.child_by_field_name("right")
            if ranged is not None and _has_length(info, go_file, ranged):
                return ranged
            if ranged is not None and ranged.type == "call_expression" and (
                builtin_call_name(ranged, go_file, info) == "len"
            ):  # `for i := range len(x)` (Go 1.22) counts up to len(x)
                arguments = call_arguments(ranged)
                if len(arguments) == 1 and _has_length(info, go_file, arguments[0]):
                    return arguments[0]
            return None
        if clause.type == "for_clause":
            return _counted_length(info, go_file, clause)
    return None


def _has_length(info: TypeInfo, go_file: GoFile, expr: Node) -> bool:
    go_type = info.underlying(info.type_of(expr, go_file))
    if isinstance(go_type, PointerTo):
        go_type = info.underlying(go_type.elem)
        return isinstance(go_type, ArrayOf)
    if isinstance(go_type, ChanOf):
        return False
    return isinstance(go_type, SliceOf | ArrayOf | MapOf) or go_type == STRING


def _counted_length(info: TypeInfo, go_file: GoFile, clause: Node) -> Node | None:
    """`for i := 0; i < len(x); i++` gives x."""
    initializer = clause.child_by_field_name("initializer")
    condition = clause.child_by_field_name("condition")
    update = clause.child_by_field_name("update")
    if initializer is None or condition is None or update is None:
        return None
    if initializer.type != "short_var_declaration" or update.type != "inc_statement":
        return None
    counter = go_file.text(initializer.child_by_field_name("left") or initializer)
    start = go_file.text(initializer.child_by_field_name("right") or initializer)
    if start != "0" or normalized(go_file, update).removesuffix("++") != counter:
        return None
    if condition.type != "binary_expression":
        return None
    left = condition.child_by_field_name("left")
    right = condition.child_by_field_name("right")
    operator = next((c.type for c in condition.children if not c.is_named), "")
    if left is None or right is None or operator != "<" or go_file.text(left) != counter:
        return None
    if right.type != "call_expression" or builtin_call_name(right, go_file, info) != "len":
        return None
    arguments = call_arguments(right)
    if len(arguments) == 1 and _has_length(info, go_file, arguments[0]):
        return arguments[0]
    return None


def _branches_before(body: Node, insert: Node, loop: Node) -> bool:
    """A continue/break/return/goto before the insert makes the insert conditional."""
    for node in walk(body):
        if node.start_byte >= insert.start_byte:
            break
        if node.type in _BRANCHES and _leaves_iteration(node, loop):
            return True
    return False


def _leaves_iteration(branch: Node, loop: Node) -> bool:
    """Whether a branch statement can skip the rest of `loop`'s current pass."""
    if branch.type == "goto_statement":
        return not _inside_func_literal(branch, loop)
    labelled = branch.named_child_count > 0
    current = branch.parent
    while current is not None and current != loop:
        if current.type == "func_literal":
            return False
        if not labelled and current.type == "for_statement":
            return False  # continue/break of an inner loop
        if not labelled and branch.type == "break_statement" and current.type in {
            "expression_switch_statement", "type_switch_statement", "select_statement"
        }:
            return False
        current = current.parent
    return True


def _inside_func_literal(node: Node, loop: Node) -> bool:
    current = node.parent
    while current is not None and current != loop:
        if current.type == "func_literal":
            return True
        current = current.parent
    return False


def _pure_copy_source(go_file: GoFile, loop: Node, direct: list[Node], insert: Node
                      ) -> Node | None:
    """src when the loop is exactly `for k, v := range src { dst[k] = v }`."""
    if len(direct) != 1:
        return None
    clause = next((c for c in loop.named_children if c.type == "range_clause"), None)
    if clause is None or not any(c.type == ":=" for c in clause.children):
        return None
    left = clause.child_by_field_name("left")
    names = [go_file.text(n) for n in left.named_children] if left is not None else []
    if len(names) != 2 or "_" in names:
        return None
    target, value = next(iter(assignment_pairs(insert)))
    if value is None or target.type != "index_expression":
        return None
    key = target.child_by_field_name("index")
    if key is None or go_file.text(key) != names[0] or go_file.text(value) != names[1]:
        return None
    return clause.child_by_field_name("right")


def _hint_fix(info: TypeInfo, go_file: GoFile, create: Node, type_text: str, filling: Filling
              ) -> Fix | None:
    if not _available_at(info, go_file, filling.length_of, create):
        return None
    length = f"len({go_file.text(filling.length_of)})"
    replacement = f"make({type_text}, {length})"
    return Fix(f"size the map: {replacement}", (edit(go_file, create, create, replacement),))


def _available_at(info: TypeInfo, go_file: GoFile, expr: Node, point: Node) -> bool:
    """Whether `expr` can be evaluated at `point` with the same value: no calls, no channel
    receives, and every name in it declared before `point`."""
    for node in walk(expr):
        if node.type in {"call_expression", "unary_expression", "func_literal"}:
            return False
        parent = node.parent
        if node.type == "identifier" and (parent is None or parent.type != "selector_expression"
                                          or parent.child_by_field_name("operand") == node):
            symbol = info.resolve(node, go_file)
            if isinstance(symbol, LocalDecl):
                if symbol.ident.start_byte > point.start_byte:
                    return False
            elif not isinstance(symbol, VarDecl):
                return False
    return True


def _clone_fix(info: TypeInfo, go_file: GoFile, statement: Node, create: Node, target: Node,
               filling: Filling) -> Fix | None:
    """maps.Clone only where it behaves exactly like the loop: the copy is then only read here,
    so a nil result (from a nil source) cannot be written to or handed out."""
    source = filling.copy_source
    if source is None or target.type != "identifier" or statement.type != "short_var_declaration":
        return None
    if info.type_of(source, go_file) != info.type_of(create, go_file):
        return None
    if not _available_at(info, go_file, source, create):
        return None
    block = statement.parent
    if block is None or _next_statement(block, statement) != filling.loop:
        return None
    function_end = _function_end(statement)
    name = go_file.text(target)
    for use in occurrences(block, go_file, name):
        if use.start_byte <= filling.loop.end_byte or use.start_byte > function_end:
            continue
        if classify_use(use, go_file, info) is not Use.ACCESS or _is_insert(use, go_file, info):
            return None
    import_edit = add_import_edit(go_file, "maps")
    if import_edit is False:
        return None
    edits: list[Edit] = [edit(go_file, create, create, f"maps.Clone({go_file.text(source)})")]
    loop_start = go_file.source.rfind(b"\n", 0, filling.loop.start_byte)
    edits.append(edit(go_file, loop_start, filling.loop.end_byte, ""))
    if import_edit is not None:
        edits.append(import_edit)
    return Fix(f"copy with maps.Clone({go_file.text(source)})", tuple(edits))


def _next_statement(block: Node, statement: Node) -> Node | None:
    later = [s for s in block.named_children
             if s.start_byte > statement.start_byte and s.type != "comment"]
    return later[0] if later else None


def _function_end(node: Node) -> int:
    current = node.parent
    while current is not None and current.type not in {
        "function_declaration", "method_declaration", "func_literal"
    }:
        current = current.parent
    return current.end_byte if current is not None else node.end_byte


RULE = Rule(
    code="MG002",
    name="missing-size-hint",
    severity=Severity.INFO,
    summary="a map filled by a loop of known length but created without a size hint",
    reports_at="the `make(...)` call or the map literal",
    doc=__doc__ or "",
    run=run,
    markers=(b"make(", b"{}"),  # map_creation_sites() finds the candidates
    bodies=MAP_CREATION_BODIES,
)
