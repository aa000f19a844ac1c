"""## What it does
Finds a map that is thrown away and re-created with `make` (or a map literal) where `clear`
would reuse it: a variable or field re-created on every pass of a loop, and a `Reset`-style
method that re-creates a receiver's map field on every call.

## Why is this bad?
A new map starts empty and small: refilling it allocates a new table and grows it again, step
by step, on every pass or call, and each old table becomes garbage for the GC to find. That
garbage is what drives GC frequency, and GC pauses, in request paths. `clear(m)` (Go 1.21) empties
the map in place and **keeps its capacity**, so refilling it to the same size allocates nothing.
The map itself is just a pointer to its table: every holder of that pointer sees the clear, which
is why the rule only reports maps that nothing else keeps.

Maps never shrink (golang/go#20135): if one pass or call can make the map much bigger than the
others, `clear` keeps that memory. Re-creating the map only when it grew too large
(`if len(m) > limit { m = make(...) }`) is the idiom for releasing it, and this rule leaves it
alone.

## Example
```go
var seen map[string]bool
for _, batch := range batches {
    seen = make(map[string]bool)
    for _, id := range batch.IDs {
        if !seen[id] {
            seen[id] = true
            process(id)
        }
    }
}

func (r *Resolver) Reset() {
    r.cache = make(map[string]*Entry)
}
```

## Use instead
```go
seen := make(map[string]bool)
for _, batch := range batches {
    clear(seen)
    ...
}

func (r *Resolver) Reset() {
    clear(r.cache)
}
```

## When it is a false alarm
When code the rule cannot see keeps the old map: another package holding an exported field's map,
or a reference taken through reflection or unsafe. Then re-creating is right; suppress the finding
with `//mapguard:ignore MG001 <reason>`. Needs Go 1.21 (`clear`); the rule is silent for modules
whose `go` directive is older.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from mapguard.goversion import GO_1_21
from mapguard.lint.rule import Pass, Rule, Severity
from mapguard.lint.syntax import (
    MAP_CREATION_BODIES,
    Use,
    assignment_operator,
    assignment_pairs,
    classify_use,
    enclosing_loops,
    func_literal_between,
    is_immediately_called,
    is_inside,
    is_map_creation,
    map_creation_sites,
    normalized,
    occurrences,
    statements,
)
from mapguard.source.calls import call_sites, runs_under_once
from mapguard.source.package import GoFile, VarDecl, receiver_type_name
from mapguard.source.typeinfo import LocalDecl, TypeInfo, enclosing_function, walk, word_hits
from mapguard.source.types import UNKNOWN, GoType, Named, PointerTo, StructOf, Unknown, deref

# Methods that set a value up rather than reset it: re-creating a map there is initialisation.
_INIT_PREFIXES = ("init", "Init", "initialize", "Initialize", "setup", "Setup", "new", "New")


def run(pass_: Pass) -> None:
    if not pass_.allows(GO_1_21):
        return
    for go_file, creation in map_creation_sites(pass_):
        assignment = _assignment_of(creation)
        if assignment is not None:
            _check(pass_, go_file, assignment, creation)


def _assignment_of(value: Node) -> tuple[Node, Node] | None:
    """(statement, target) when `value` is the whole right side of `target = value`."""
    holder = value.parent
    statement = holder.parent if holder is not None else None
    if holder is None or statement is None or statement.type != "assignment_statement":
        return None
    if statement.child_by_field_name("right") != holder or assignment_operator(statement) != "=":
        return None
    pairs = list(assignment_pairs(statement))
    if len(pairs) != 1 or pairs[0][1] != value:
        return None
    target = pairs[0][0]
    return (statement, target) if target.type in {"identifier", "selector_expression"} else None


def _check(pass_: Pass, go_file: GoFile, assignment: tuple[Node, Node], value: Node) -> None:
    info = pass_.info
    assign, target = assignment
    if not info.is_map_expr(target, go_file):
        return
    name = normalized(go_file, target)
    function = enclosing_function(assign)
    if function is None or _is_conditional_on_itself(assign, function, go_file, name):
        return
    loops = enclosing_loops(assign)
    if loops:
        message = _loop_form(pass_, go_file, assign, target, name, loops[0], function)
    else:
        message = _reset_form(pass_, go_file, assign, target, name, function)
    if message is not None:
        pass_.report(go_file, assign, message)


def _loop_form(
    pass_: Pass, go_file: GoFile, assign: Node, target: Node, name: str, loop: Node,
    function: Node,
) -> str | None:
    info = pass_.info
    if not _runs_on_every_pass(assign, loop):
        return None  # one-shot: not a per-pass rebuild
    if _varies_per_pass(target):
        return None  # `arr[i].f = make(...)`: each pass gives a different element its map
    if target.type == "identifier":
        decl = info.resolve(target, go_file)
        if isinstance(decl, LocalDecl):
            if is_inside(decl.ident, loop):
                return None  # a fresh variable per pass (declared in the loop)
        elif not isinstance(decl, VarDecl):
            return None
    elif not _field_stays_inside_type(pass_, go_file, target, assign):
        return None
    # The old map must not be kept by anyone: look at every use before the loop ends.
    region_end = loop.end_byte
    for use in occurrences(function, go_file, name):
        if use.start_byte >= region_end or use == target:
            continue
        if _escapes(use, loop, go_file, info):
            return None
    return (
        f"`{name}` is re-created on every pass of the loop: each pass allocates a new table "
        f"and grows it again, and the old one is garbage for the GC. Create it once before the "
        f"loop and call clear({name}) at the start of each pass: clear keeps the capacity, so "
        f"refilling allocates nothing (if one pass can make the map much larger than the others, "
        f"that memory stays with it)"
    )


def _reset_form(
    pass_: Pass, go_file: GoFile, assign: Node, target: Node, name: str, function: Node
) -> str | None:
    info = pass_.info
    if function.type != "method_declaration" or target.type != "selector_expression":
        return None
    method_name = go_file.text(function.child_by_field_name("name") or function)
    if method_name.startswith(_INIT_PREFIXES):
        return None
    receiver = _pointer_receiver_name(function, go_file)
    if receiver is None or _chain_root(target, go_file) != receiver:
        return None
    field = go_file.text(target.child_by_field_name("field") or target)
    initialised_elsewhere = _field_facts(pass_, go_file, target, assign)
    if initialised_elsewhere is None:
        return None
    if not initialised_elsewhere and _only_initialises(pass_, function, go_file):
        return None
    # The method must not hand the old map out before replacing it.
    for use in occurrences(function, go_file, name):
        if use.start_byte < assign.start_byte and _escapes(use, function, go_file, info):
            return None
    how = f"Use clear({name})" if initialised_elsewhere else (
        f"Give `{field}` its map once (in the constructor, or under an `if {name} == nil` "
        f"check) and clear({name}) here")
    message = (
        f"{method_name} re-creates `{name}` on every call: each call allocates a new table and "
        f"grows it again while the old one becomes garbage. {how}: clear empties the map in "
        f"place and keeps its capacity (so a map that once grew large keeps that memory)"
    )
    if field[:1].isupper():
        message += (
            f"; `{field}` is exported, so if code in other packages keeps references to the old "
            f"map, re-creating it is right"
        )
    return message


def _only_initialises(pass_: Pass, function: Node, go_file: GoFile) -> bool:
    """A method that runs once per value: under `sync.Once`, or called only from
    constructors (functions named new.../New... or init)."""
    package, info = pass_.package, pass_.info
    receiver = receiver_type_name(function, go_file)
    name_node = function.child_by_field_name("name")
    method = package.method(receiver, go_file.text(name_node)) if (
        receiver is not None and name_node is not None) else None
    if method is None:
        return False
    if runs_under_once(package, info, method):
        return True
    sites = call_sites(package, info, method)
    return bool(sites) and all(
        site.caller is not None and site.caller.name.startswith(("new", "New", "init"))
        for site in sites or ())


def _varies_per_pass(target: Node) -> bool:
    """The assigned location is reached through an index or a call: not one place."""
    node: Node | None = target
    while node is not None and node.type in {"selector_expression", "parenthesized_expression"}:
        node = node.child_by_field_name("operand") if node.type == "selector_expression" else (
            node.named_children[0] if node.named_child_count else None)
    return node is None or node.type != "identifier"


def _runs_on_every_pass(assign: Node, loop: Node) -> bool:
    """Whether the re-creation can run pass after pass: not when its block leaves the loop
    right after it (`m = make(...); break`), which makes it a one-shot initialisation."""
    block = assign.parent
    if block is None or block.type != "statement_list":
        return False
    later = [s for s in block.named_children if s.start_byte > assign.start_byte]
    return not any(s.type in {"break_statement", "return_statement", "goto_statement"}
                   for s in later)


def _escapes(use: Node, region: Node, go_file: GoFile, info: TypeInfo) -> bool:
    literal = func_literal_between(use, region)
    if literal is not None and not is_immediately_called(literal):
        return True  # captured by a closure that may outlive the pass
    return classify_use(use, go_file, info) is Use.ESCAPES


def _is_conditional_on_itself(assign: Node, function: Node, go_file: GoFile, name: str) -> bool:
    """Under `if m == nil` (initialisation) or `if len(m) ...` (the shrink idiom), or after an
    `if m != nil { return }` guard (initialisation written the other way round)."""
    current = assign.parent
    while current is not None and current != function:
        if current.type == "if_statement":
            condition = current.child_by_field_name("condition")
            if condition is not None and _mentions_nil_or_len(condition, go_file, name):
                return True
        if current.type == "statement_list":
            for earlier in current.named_children:
                if earlier.start_byte >= assign.start_byte:
                    break
                condition = earlier.child_by_field_name("condition")
                if (earlier.type == "if_statement" and condition is not None
                        and _mentions_nil_or_len(condition, go_file, name)
                        and _always_leaves(earlier.child_by_field_name("consequence"))):
                    return True
        current = current.parent
    return False


def _always_leaves(block: Node | None) -> bool:
    body = statements(block)
    return bool(body) and body[-1].type in {"return_statement", "continue_statement",
                                             "break_statement", "goto_statement"}


def _mentions_nil_or_len(condition: Node, go_file: GoFile, name: str) -> bool:
    """A nil check of this map or of a sibling field created with it (`r.ll == nil` guarding
    `r.m = make(...)`), or `len(m)` of this map."""
    owner = name.rsplit(".", 1)[0] + "." if "." in name else None
    for node in walk(condition):
        if node.type == "binary_expression":
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            sides = {left.type if left else "", right.type if right else ""}
            operator = next((c.type for c in node.children if not c.is_named), "")
            if "nil" in sides and operator == "==" and node.parent is not None and (
                node.parent.type == "if_statement"
            ):
                return True  # `if x == nil { ...; m = make(...) }`: lazy initialisation
            if "nil" in sides and any(
                side is not None and side.type != "nil" and (
                    (checked := normalized(go_file, side)) == name
                    or (owner is not None and checked.startswith(owner)))
                for side in (left, right)
            ):
                return True
        elif node.type == "call_expression":
            function = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            if (function is not None and go_file.text(function) in {"len", "cap"}
                    and arguments is not None and arguments.named_child_count == 1
                    and normalized(go_file, arguments.named_children[0]) == name):
                return True
    return False


def _pointer_receiver_name(method: Node, go_file: GoFile) -> str | None:
    receiver = method.child_by_field_name("receiver")
    if receiver is None:
        return None
    for declaration in receiver.named_children:
        type_node = declaration.child_by_field_name("type")
        name = declaration.child_by_field_name("name")
        if type_node is not None and type_node.type == "pointer_type" and name is not None:
            return go_file.text(name)
    return None


def _chain_root(selector: Node, go_file: GoFile) -> str | None:
    node: Node | None = selector
    while node is not None and node.type == "selector_expression":
        node = node.child_by_field_name("operand")
    return go_file.text(node) if node is not None and node.type == "identifier" else None


def _field_stays_inside_type(pass_: Pass, go_file: GoFile, target: Node, assign: Node
                             ) -> bool:
    return _field_facts(pass_, go_file, target, assign) is not None


def _field_facts(pass_: Pass, go_file: GoFile, target: Node, assign: Node) -> bool | None:
    """Condition (4): None when code of the package hands the field's map out (or the struct
    values that hold it: a struct copy copies the map reference) or puts a map from outside
    into it; otherwise whether some other code also gives the field a map."""
    link: Node | None = target
    first = True
    elsewhere = False
    while link is not None and link.type == "selector_expression":
        operand = link.child_by_field_name("operand")
        field_node = link.child_by_field_name("field")
        if operand is None or field_node is None:
            return False
        owner = deref(pass_.info.type_of(operand, go_file))
        # A named type of this package, or an anonymous struct (compared structurally).
        if not (isinstance(owner, Named) and owner.pkg == "") and not isinstance(owner, StructOf):
            return None if first else elsewhere  # the chain's root: nothing more to check
        field = go_file.text(field_node)
        key = ("mg001-field", owner, field)
        memo = pass_.package.memo
        if key not in memo:
            memo[key] = _scan_field_uses(pass_, owner, field)
        uses: FieldUses = memo[key]  # type: ignore[assignment]
        if uses.leaks:
            return None
        if first:
            elsewhere = any(_is_other_initialiser(site, assign) for site in uses.initialisers)
        first = False
        link = operand
    return elsewhere


@dataclass(frozen=True, slots=True)
class FieldUses:
    leaks: bool
    initialisers: tuple[Node, ...]  # assignments and keyed literals giving the field a new map


def _is_other_initialiser(site: Node, assign: Node) -> bool:
    if site == assign:
        return False
    here = enclosing_function(assign)
    return here is None or not (here.start_byte <= site.start_byte < here.end_byte)


def _scan_field_uses(pass_: Pass, owner: GoType, field: str) -> FieldUses:
    info = pass_.info
    owner_types = {owner, PointerTo(owner)}
    initialisers: list[Node] = []
    for go_file in pass_.package.files:
        for start, end in word_hits(go_file.source, field):
            node = go_file.node_at(start, end, named=False)
            parent = node.parent if node is not None else None
            if node is None or parent is None:
                continue
            if node.type == "field_identifier" and parent.type == "selector_expression":
                operand = parent.child_by_field_name("operand")
                operand_type = info.type_of(operand, go_file) if operand else UNKNOWN
                if operand_type not in owner_types and not isinstance(operand_type, Unknown):
                    continue
                verdict = _field_use(parent, go_file, info)
                if verdict == "leaks":
                    return FieldUses(True, ())
                if verdict == "initialises":
                    statement = parent.parent.parent if parent.parent is not None else None
                    if statement is not None:
                        initialisers.append(statement)
            elif node.type == "identifier" and parent.type == "literal_element":
                element = parent.parent
                if element is None or element.type != "keyed_element":
                    continue
                verdict = _keyed_field(element, go_file, info, owner, field)
                if verdict == "leaks":
                    return FieldUses(True, ())
                if verdict == "initialises":
                    initialisers.append(element)
    return FieldUses(False, tuple(initialisers))


def _field_use(use: Node, go_file: GoFile, info: TypeInfo) -> str:
    """"leaks", "initialises" (`x.f = make(...)`), or "ok" (reads, element writes)."""
    kind = classify_use(use, go_file, info)
    if kind is Use.ESCAPES:
        return "leaks"
    if kind is not Use.ASSIGNED:
        return "ok"
    # `x.f = m` where m is not a fresh map: the field now shares a map with someone else.
    holder = use.parent
    statement = holder.parent if holder is not None else None
    if holder is None or statement is None:
        return "leaks"
    right = statement.child_by_field_name("right")
    values = [v for v in right.named_children if v.type != "comment"] if right else []
    targets = [t for t in holder.named_children if t.type != "comment"]
    if len(values) != len(targets) or use not in targets:
        return "leaks"
    value = values[targets.index(use)]
    if value.type == "nil":
        return "ok"
    return "initialises" if is_map_creation(value, go_file, info) else "leaks"


def _keyed_field(element: Node, go_file: GoFile, info: TypeInfo, owner: GoType, field: str
                 ) -> str:
    """`T{field: make(...)}` initialises; `T{field: m}` with m from outside leaks."""
    key = element.named_children[0] if element.named_child_count else None
    value = element.named_children[-1] if element.named_child_count > 1 else None
    if key is None or value is None or go_file.text(key) != field:
        return "ok"
    literal = element.parent.parent if element.parent is not None else None
    if literal is None or literal.type != "composite_literal":
        return "ok"
    if deref(info.type_node(literal.child_by_field_name("type"), go_file)) != owner:
        return "ok"
    inner = value
    if value.type == "literal_element" and value.named_child_count:
        inner = value.named_children[0]
    if inner.type == "nil":
        return "ok"
    return "initialises" if is_map_creation(inner, go_file, info) else "leaks"


RULE = Rule(
    code="MG001",
    name="rebuild-instead-of-clear",
    severity=Severity.WARNING,
    summary="a map re-created per loop pass or per Reset call where clear(m) would reuse it",
    reports_at="the assignment that re-creates the map",
    doc=__doc__ or "",
    run=run,
    markers=(b"make(", b"{}", b"map["),  # map_creation_sites() finds the candidates
    bodies=MAP_CREATION_BODIES,
    needs=GO_1_21,
)
