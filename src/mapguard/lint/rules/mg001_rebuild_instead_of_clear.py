"""## What it does
Finds a map that is thrown away and re-created with `make` (or an empty map literal) where
`clear` would reuse it: a variable or field re-created and refilled pass after pass of a loop
(on every pass, or each time a window, batch or section starts afresh), and a method that
re-creates a receiver's map field each time it runs, where something shows that it runs again
and again on one value: it is named `Reset`, `Clear`, `Flush` or `Next`, it resets other state
in place (`r.buf = r.buf[:0]`, `clear(r.seen)`), it re-creates only when a generation check
fires (`if c.gen != gen { ...; c.gen = gen }`), or the package calls it in a loop.

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
with `//mapguard:ignore MG001 <reason>`. When the method runs rarely (a reload, a purge) the
advice is right but worth little, and re-creating also gives the memory back.

The rule stays silent where the review of real trees found it wrong or idle: a map re-created
from a literal with entries; a field of a value declared in the loop (each pass gives another
value its map); a field that is set to nil elsewhere, or whose struct is overwritten whole
without it (`*c = T{...}`): `clear` on the nil map would be followed by a panicking write; a
map handed out anywhere in the package, also through an embedding type; a loop that never
refills the map (an hourly cleanup re-creates it to let the memory go); a method that sets up
or tears down (`Init`, `New`, `Setup`, `Stop`, `Close`, `Shutdown`, `Recover`, `Restore`,
`Discard`, `Release`, `Disable`...), or that nothing shows running twice on one value (its
callers are in other packages, or only tests call it in a loop), or that the package only calls
from constructors, under `sync.Once`, or (unexported) once on a value the caller has just built
(`e := &Emitter{}; ...; e.emitEntryPoint()`: the field was nil until then, round 28); a re-creation
sized for new content (`make(map[K]V, len(items))`) outside a loop; a method's re-creation in
one case of a `switch` (a configuration key that comes once; in a loop's body a `switch` case
still counts as repeated); and test and tool code unless asked (`--advice-everywhere`). Needs
Go 1.21 (`clear`); the rule is silent for modules whose `go` directive is older.

## Off by default
Whether reusing the map pays depends on how often the reset runs, which the source does not
say: on the trees of the last two review rounds 13 of 30 findings were worth telling, the rest
resets that run on rare events (a reload, a purge, a drop of a cache, a resize)
(docs/review/fresh-sample-round2.md); on round 28's fresh trees, 2 of 24 (teardown, code nothing
calls in production; docs/review/fresh-sample-round28.md). So the rule runs only when asked:
`--extend-select MG001` (or `extend-select = ["MG001"]`, `--select`), or with a profile, `--profile
allocs.pb.gz`, where its findings count only at sites the profile shows hot (the growth of
the re-created map included) and the rest is demoted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from tree_sitter import Node

from mapguard.goversion import GO_1_21
from mapguard.lint.rule import Pass, Rule, Severity, is_support_code
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
from mapguard.source.mapwrites import write_statement
from mapguard.source.package import FuncDecl, GoFile, VarDecl, receiver_type_name
from mapguard.source.typeinfo import (
    LocalDecl,
    TypeInfo,
    enclosing_function,
    field_hits,
    under,
    walk,
)
from mapguard.source.types import UNKNOWN, GoType, Named, StructOf, Unknown, deref

# Methods that set a value up or tear it down run once per value: re-creating a map there is
# initialisation, or lets a stopped value's memory go. Matched on the name's first word.
_ONCE_PER_VALUE = frozenset({
    "init", "initialize", "setup", "new", "recover", "restore", "stop", "close", "shutdown",
    "discard", "destroy", "release", "dispose", "disable", "teardown",
})
# Methods whose contract is to be called again and again on one value (whole names).
_REPEATED = frozenset({"reset", "clear", "flush", "next"})


def run(pass_: Pass) -> None:
    if not pass_.allows(GO_1_21):
        return
    for go_file, creation in map_creation_sites(pass_):
        if _has_entries(creation):
            continue  # `m = map[K]V{"a": 1}`: clear cannot stand in for the entries
        assignment = _assignment_of(creation)
        if assignment is not None:
            _check(pass_, go_file, assignment, creation)


def _has_entries(creation: Node) -> bool:
    if creation.type != "composite_literal":
        return False
    body = creation.child_by_field_name("body")
    return body is not None and any(c.type != "comment" for c in body.named_children)


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


def _check(pass_: Pass, go_file: GoFile, assignment: tuple[Node, Node], creation: Node
           ) -> None:
    info = pass_.info
    assign, target = assignment
    if not info.is_map_expr(target, go_file):
        return
    name = normalized(go_file, target)
    function = enclosing_function(assign)
    if function is None or _is_conditional_on_itself(assign, function, go_file, name):
        return
    size = _size_argument(creation)
    if size is not None and not info.is_constant(size, go_file) and not enclosing_loops(assign):
        return  # sized for the new content: clear could not do that, and nothing grows again
    cost = "allocates a new table" if size is not None else \
        "allocates a new table and grows it again"
    loops = enclosing_loops(assign)
    if loops:
        message = _loop_form(pass_, go_file, assign, target, name, loops[0], function, cost)
    else:
        message = _reset_form(pass_, go_file, assign, target, name, function, cost)
    if message is not None:
        pass_.report(go_file, assign, message)


def _size_argument(creation: Node) -> Node | None:
    if creation.type != "call_expression":
        return None
    arguments = creation.child_by_field_name("arguments")
    values = [a for a in arguments.named_children if a.type != "comment"] if arguments else []
    return values[1] if len(values) > 1 else None


def _loop_form(
    pass_: Pass, go_file: GoFile, assign: Node, target: Node, name: str, loop: Node,
    function: Node, cost: str,
) -> str | None:
    info = pass_.info
    shape = _pass_shape(assign, loop)
    if shape is None:
        return None  # one-shot: `m = make(...); break`
    if not _refilled_in_loop(pass_, assign, loop, go_file, name, shape):
        return None  # the loop does not fill it again: a periodic drop, not a rebuild
    if _varies_per_pass(target, loop, go_file, info):
        return None  # each pass gives a different value (an element, a fresh owner) its map
    if target.type == "identifier":
        decl = info.resolve(target, go_file)
        if isinstance(decl, LocalDecl):
            if is_inside(decl.ident, loop):
                return None  # a fresh variable per pass (declared in the loop)
        elif not isinstance(decl, VarDecl):
            return None
    else:
        facts = _field_facts(pass_, go_file, target, assign)
        if facts is None or facts.may_be_nil:
            return None
    # The old map must not be kept by anyone: look at every use before the loop ends.
    region_end = loop.end_byte
    for use in occurrences(function, go_file, name):
        if use.start_byte >= region_end or use == target:
            continue
        if _escapes(use, loop, go_file, info):
            return None
    when = "on every pass of the loop" if shape == "every" else (
        "inside the loop each time this branch runs, and the loop fills it again")
    where = "at the start of each pass" if shape == "every" else "here"
    return (
        f"`{name}` is re-created {when}: each re-creation {cost}, and the old one is "
        f"garbage for the GC. Create it once before the loop and "
        f"call clear({name}) {where}: clear keeps the capacity, so refilling allocates nothing "
        f"(if one round can make the map much larger than the others, that memory stays with "
        f"it)"
    )


def _refilled_in_loop(pass_: Pass, assign: Node, loop: Node, go_file: GoFile, name: str,
                      shape: str) -> bool:
    """Whether the loop inserts into the map: a per-pass rebuild re-creates and refills it.
    A loop that only drops a map other code fills (an hourly cleanup) re-creates it to let
    the memory go, which clear would keep. A re-creation in a branch must be refilled outside
    that branch: a window, batch or section started afresh now and then."""
    info = pass_.info
    body = loop.child_by_field_name("body")
    branch = assign.parent if shape == "branch" else None
    if body is None:
        return False
    if _writes_into(body, go_file, name, info, skip=branch):
        return True
    # `s.memo = make(...)` then `s.fill(...)`: a method of the owner may do the refilling.
    root, _, rest = name.partition(".")
    if not rest:
        return False
    for call in (n for n in walk(body) if n.type == "call_expression"):
        if branch is not None and is_inside(call, branch):
            continue
        method = _method_of_root(pass_, go_file, call, root)
        receiver = method.receiver_name() if method is not None else None
        if method is not None and receiver is not None and _writes_into(
            method.file.complete(method.node), method.file, f"{receiver}.{rest}", info, skip=None
        ):
            return True
    return False


def _writes_into(region: Node, go_file: GoFile, name: str, info: TypeInfo, skip: Node | None
                 ) -> bool:
    for use in occurrences(region, go_file, name):
        if skip is not None and is_inside(use, skip):
            continue
        index = use.parent
        if index is not None and index.type == "index_expression" and (
            index.child_by_field_name("operand") == use
        ) and classify_use(use, go_file, info) is Use.ACCESS and write_statement(index):
            return True
    return False


def _method_of_root(pass_: Pass, go_file: GoFile, call: Node, root: str) -> FuncDecl | None:
    """The package's method called as `root.m(...)`, if that is what the call is."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None
    operand = function.child_by_field_name("operand")
    field = function.child_by_field_name("field")
    if operand is None or field is None or go_file.text(operand) != root:
        return None
    owner = deref(pass_.info.type_of(operand, go_file))
    if not isinstance(owner, Named) or owner.pkg != "":
        return None
    return pass_.package.method(owner.name, go_file.text(field))


def _reset_form(
    pass_: Pass, go_file: GoFile, assign: Node, target: Node, name: str, function: Node,
    cost: str,
) -> str | None:
    info = pass_.info
    if function.type != "method_declaration" or target.type != "selector_expression":
        return None
    method_name = go_file.text(function.child_by_field_name("name") or function)
    if _first_word(method_name) in _ONCE_PER_VALUE:
        return None
    receiver = _pointer_receiver_name(function, go_file)
    if receiver is None or _chain_root(target, go_file) != receiver:
        return None
    field = go_file.text(target.child_by_field_name("field") or target)
    facts = _field_facts(pass_, go_file, target, assign)
    if facts is None or facts.may_be_nil:
        return None  # handed out, or nil at times: clear would keep a nil map or share it
    if not _runs_again(pass_, function, go_file, assign, facts.initialised_elsewhere):
        # Nothing shows the method running twice on one value: it may be the initialiser,
        # or a rare reset (a purge, a reload) where re-creating also lets the memory go.
        return None
    if _only_initialises(pass_, function, go_file):
        return None
    # The method must not hand the old map out before replacing it.
    for use in occurrences(function, go_file, name):
        if use.start_byte < assign.start_byte and _escapes(use, function, go_file, info):
            return None
    how = f"Use clear({name})" if facts.initialised_elsewhere else (
        f"Give `{field}` its map once (in the constructor, or under an `if {name} == nil` "
        f"check) and clear({name}) here")
    when = "each time its condition holds" if under(assign, "if_statement", function) else (
        "on every call")
    message = (
        f"{method_name} re-creates `{name}` {when}: each re-creation {cost} while the old "
        f"one becomes garbage. {how}: clear empties the map in "
        f"place and keeps its capacity (so a map that once grew large keeps that memory)"
    )
    if field[:1].isupper():
        message += (
            f"; `{field}` is exported, so if code in other packages keeps references to the old "
            f"map, re-creating it is right"
        )
    return message


def _first_word(name: str) -> str:
    """`resetState` -> "reset", `Stop` -> "stop", `close_all` -> "close"."""
    word = name[:1]
    for char in name[1:]:
        if char.isupper() or char == "_":
            break
        word += char
    return word.lower()


def _runs_again(pass_: Pass, function: Node, go_file: GoFile, assign: Node,
                initialised_elsewhere: bool) -> bool:
    """Evidence that the method runs many times on one value: it is named Reset, Clear, Flush
    or Next (or, when the map is made elsewhere too, starts with one of those words: a
    `ResetQuery`), it resets other state of the receiver in place (`r.buf = r.buf[:0]`,
    `clear(r.seen)`, `r.b.Reset()`), the re-creation waits for a condition (a generation
    check: the method runs more often than it re-creates), or the package calls it in a loop
    on a value that outlives the pass. A re-creation in one case of a `switch` is none of
    these: the method dispatches, and that case may run once (a configuration key)."""
    method_name = go_file.text(function.child_by_field_name("name") or function)
    if method_name.lower() in _REPEATED or (
        initialised_elsewhere and _first_word(method_name) in _REPEATED
    ):
        return True
    receiver = _pointer_receiver_name(function, go_file)
    if receiver is not None and _resets_in_place(go_file.text(function), receiver):
        return True
    generation_check = False
    current = assign.parent
    while current is not None and current != function:
        if current.type in {"expression_case", "type_case", "communication_case",
                            "default_case"}:
            return False
        if current.type == "if_statement" and receiver is not None:
            generation_check = generation_check or _updates_its_condition(
                current, go_file, receiver)
        current = current.parent
    if generation_check:
        return True
    method = _method_decl(pass_, function, go_file)
    sites = call_sites(pass_.package, pass_.info, method) if method is not None else None
    in_test = is_support_code(go_file, pass_.package)
    return bool(sites) and any(
        _called_again(pass_.info, site.file, site.call)
        and (in_test or not is_support_code(site.file, pass_.package))
        for site in sites or ())


def _updates_its_condition(statement: Node, go_file: GoFile, receiver: str) -> bool:
    """`if c.gen != gen { ...; c.gen = gen }`: the branch updates receiver state that its
    condition reads, so the method runs again and again and re-creates only when that state
    moved on. (`if len(h.Include) > 0 { h.m = ... }` reads configuration: no such sign.)"""
    condition = statement.child_by_field_name("condition")
    consequence = statement.child_by_field_name("consequence")
    if condition is None or consequence is None:
        return False
    read = {normalized(go_file, node) for node in walk(condition)
            if node.type == "selector_expression" and _chain_root(node, go_file) == receiver}
    for node in walk(consequence):
        if node.type == "assignment_statement":
            for target, _value in assignment_pairs(node):
                if normalized(go_file, target) in read:
                    return True
    return False


def _called_again(info: TypeInfo, go_file: GoFile, call: Node) -> bool:
    """A call inside a loop on a value that lives across the passes (not `a := T{};
    a.m()` in the loop body, which calls each fresh value once)."""
    loops = enclosing_loops(call)
    if not loops:
        return False
    function = call.child_by_field_name("function")
    root = function.child_by_field_name("operand") if function is not None and (
        function.type == "selector_expression") else None
    while root is not None and root.type == "selector_expression":
        root = root.child_by_field_name("operand")
    if root is None or root.type != "identifier":
        return False
    decl = info.resolve(root, go_file)
    return not (isinstance(decl, LocalDecl) and is_inside(decl.ident, loops[-1]))


def _resets_in_place(text: str, receiver: str) -> bool:
    name = re.escape(receiver)
    return bool(
        re.search(rf"(?<![\w.]){name}\.[\w.]+\.Reset\(\)", text)
        or re.search(rf"\bclear\(\s*{name}\.", text)
        or re.search(rf"(?<![\w.])({name}\.[\w.]+)\s*=\s*\1\[:0\]", text))


def _method_decl(pass_: Pass, function: Node, go_file: GoFile) -> FuncDecl | None:
    receiver = receiver_type_name(function, go_file)
    name_node = function.child_by_field_name("name")
    if receiver is None or name_node is None:
        return None
    return pass_.package.method(receiver, go_file.text(name_node))


def _only_initialises(pass_: Pass, function: Node, go_file: GoFile) -> bool:
    """A method that runs once per value: under `sync.Once`, or called only from
    constructors (functions named new.../New... or init), or, unexported (so that every call
    is in the package), each call made once on a value its caller has just built (`e :=
    &Emitter{}; e.helpers(); e.entry()`: round 28, gogpu/naga, where the field was nil until
    then, and nil meant "not tracking"). An exported method's calls in other packages may
    repeat it (httper's `Store.ClearLocal`, which its tests call once per fresh store and the
    command once per request)."""
    method = _method_decl(pass_, function, go_file)
    if method is None:
        return False
    package, info = pass_.package, pass_.info
    if runs_under_once(package, info, method):
        return True
    sites = call_sites(package, info, method)
    if not sites:
        return False
    exported = method.name[:1].isupper()
    fresh = [None if exported else _fresh_receiver(info, site.file, site.call) for site in sites]
    calls_per_value = Counter(id(decl.ident) for decl in fresh if decl is not None)
    return all(
        (site.caller is not None and site.caller.name.startswith(("new", "New", "init")))
        or (decl is not None and calls_per_value[id(decl.ident)] == 1)
        for site, decl in zip(sites, fresh, strict=True))


def _fresh_receiver(info: TypeInfo, go_file: GoFile, call: Node) -> LocalDecl | None:
    """The local variable a method call is made on, when the calling function has just built
    its value there (`x := &T{...}`, `T{...}`, `new(T)`, `newT(...)`/`NewT(...)`) and no loop
    around the call repeats it on that value (a loop that declares the variable builds a new
    one each pass); None otherwise."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None
    operand = function.child_by_field_name("operand")
    if operand is None or operand.type != "identifier":
        return None
    decl = info.resolve(operand, go_file)
    if not isinstance(decl, LocalDecl) or decl.kind != "var" or decl.value is None or (
        decl.value_count != 1 or not _builds_a_value(info, decl.value, go_file)
    ):
        return None
    if not all(is_inside(decl.ident, loop) for loop in enclosing_loops(call)):
        return None
    return decl


def _builds_a_value(info: TypeInfo, value: Node, go_file: GoFile) -> bool:
    if value.type == "unary_expression" and go_file.text(value).startswith("&"):
        inner = value.child_by_field_name("operand")
        return inner is not None and inner.type == "composite_literal"
    if value.type == "composite_literal":
        return True
    callee = value.child_by_field_name("function") if value.type == "call_expression" else None
    name = info.called_name(callee, go_file) if callee is not None else None
    return name is not None and name.startswith(("new", "New"))


def _varies_per_pass(target: Node, loop: Node, go_file: GoFile, info: TypeInfo) -> bool:
    """The assigned location differs from pass to pass: reached through an index or a call
    (`arr[i].f`), or through a variable declared in the loop (`for _, n := range nodes {
    n.f = ... }`, `x := get(); x.f = ...`), so that each pass gives another value its map."""
    node: Node | None = target
    while node is not None and node.type in {"selector_expression", "parenthesized_expression"}:
        node = node.child_by_field_name("operand") if node.type == "selector_expression" else (
            node.named_children[0] if node.named_child_count else None)
    if node is None or node.type != "identifier":
        return True
    if node == target:
        return False  # a plain variable: checked by the caller
    decl = info.resolve(node, go_file)
    return isinstance(decl, LocalDecl) and is_inside(decl.ident, loop)


def _pass_shape(assign: Node, loop: Node) -> str | None:
    """"every" when the re-creation is a statement of the loop body itself (or of plain blocks
    in it), "branch" when it sits under an `if`, a `switch` or a `select` case, None when its
    block leaves the loop right after it (`m = make(...); break` is a one-shot)."""
    block = assign.parent
    if block is None or block.type != "statement_list":
        return None
    later = [s for s in block.named_children if s.start_byte > assign.start_byte]
    if any(s.type in {"break_statement", "return_statement", "goto_statement"} for s in later):
        return None
    body = loop.child_by_field_name("body")
    current: Node | None = block
    while current is not None and current != body:
        if current.type not in {"statement_list", "block", "labeled_statement"}:
            return "branch"
        current = current.parent
    return "every"


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




@dataclass(frozen=True, slots=True)
class FieldFacts:
    """What the package does with a field's map, beyond the statement under review."""

    initialised_elsewhere: bool  # other code (not tests) gives the field a fresh map
    may_be_nil: bool  # something sets it to nil, or overwrites the whole value without it


def _field_facts(pass_: Pass, go_file: GoFile, target: Node, assign: Node) -> FieldFacts | None:
    """Condition (4): None when code of the package hands the field's map out (or the struct
    values that hold it: a struct copy copies the map reference) or puts a map from outside
    into it; otherwise what else gives the field a map, and whether it can be nil."""
    link: Node | None = target
    first = True
    elsewhere = False
    nil_at_times = False
    while link is not None and link.type == "selector_expression":
        operand = link.child_by_field_name("operand")
        field_node = link.child_by_field_name("field")
        if operand is None or field_node is None:
            return None
        owner = deref(pass_.info.type_of(operand, go_file))
        # A named type of this package, or an anonymous struct (compared structurally).
        if not (isinstance(owner, Named) and owner.pkg == "") and not isinstance(owner, StructOf):
            if first:
                return None
            break  # the chain's root: nothing more to check
        field = go_file.text(field_node)
        key = ("mg001-field", owner, field)
        memo = pass_.package.memo
        if key not in memo:
            memo[key] = _scan_field_uses(pass_, owner, field)
        uses: FieldUses = memo[key]  # type: ignore[assignment]
        if uses.leaks:
            return None
        nil_at_times = nil_at_times or uses.reset_to_nil
        if first:
            elsewhere = any(_is_other_initialiser(site_file, site, go_file, assign)
                            for site_file, site in uses.initialisers)
        first = False
        link = operand
    return FieldFacts(elsewhere, nil_at_times)


@dataclass(frozen=True, slots=True)
class FieldUses:
    """How a field's map is used besides the re-creation."""

    leaks: bool
    # Assignments and literals giving the field a new map (or, for an outer link of the
    # chain, a fresh struct value).
    initialisers: tuple[tuple[GoFile, Node], ...]
    reset_to_nil: bool  # `x.f = nil`, or a whole-value assignment without the field


def _is_other_initialiser(site_file: GoFile, site: Node, go_file: GoFile, assign: Node
                          ) -> bool:
    """A site outside the reviewed function; in a test file only if the review is of one
    (a test's own setup says nothing about the values production code makes)."""
    if is_support_code(site_file) and not is_support_code(go_file):
        return False
    if site_file is not go_file:
        return True
    here = enclosing_function(assign)
    return here is None or not (here.start_byte <= site.start_byte < here.end_byte)


def _scan_field_uses(pass_: Pass, owner: GoType, field: str) -> FieldUses:
    info = pass_.info
    initialisers: list[tuple[GoFile, Node]] = []
    reset_to_nil = False
    for go_file in pass_.package.files:
        for start, end in field_hits(go_file.source, field):
            node = go_file.node_at(start, end, named=False)
            parent = node.parent if node is not None else None
            if node is None or parent is None:
                continue
            if node.type == "field_identifier" and parent.type == "selector_expression":
                operand = parent.child_by_field_name("operand")
                operand_type = info.type_of(operand, go_file) if operand else UNKNOWN
                known = _holds_field(info, operand_type, owner)
                if not known and not isinstance(operand_type, Unknown):
                    continue
                verdict = _field_use(parent, go_file, info)
                if verdict == "leaks":
                    return FieldUses(True, (), False)
                if verdict == "nil":
                    reset_to_nil = True
                if verdict == "initialises" and known:
                    statement = parent.parent.parent if parent.parent is not None else None
                    if statement is not None:
                        initialisers.append((go_file, statement))
            elif node.type == "identifier" and parent.type == "literal_element":
                element = parent.parent
                if element is None or element.type != "keyed_element":
                    continue
                verdict = _keyed_field(element, go_file, info, owner, field)
                if verdict == "leaks":
                    return FieldUses(True, (), False)
                if verdict == "initialises":
                    initialisers.append((go_file, element))
    positional, without_field = _literals_of(pass_, owner, field)
    initialisers.extend(positional)
    return FieldUses(False, tuple(initialisers), reset_to_nil or without_field)


def _holds_field(info: TypeInfo, operand_type: GoType, owner: GoType) -> bool:
    """Whether `x.field` on a value of `operand_type` reaches `owner`'s field: x is an owner
    (or a pointer to one), or embeds one (a promoted field), up to three levels deep."""
    frontier = [deref(operand_type)]
    for _depth in range(4):
        if owner in frontier:
            return True
        embedded: list[GoType] = []
        for candidate in frontier:
            struct = info.struct_of(candidate)
            if struct is not None:
                embedded.extend(deref(f.type) for f in struct.fields if f.embedded)
        if not embedded:
            return False
        frontier = embedded
    return False


def _literals_of(pass_: Pass, owner: GoType, field: str
                 ) -> tuple[list[tuple[GoFile, Node]], bool]:
    """Composite literals of the owner type: those that give the field a fresh map by
    position (`T{n, map[K]V{}, ...}`), and whether an assignment overwrites a whole value with
    a literal that leaves the field out (`*c = T{a: x}`: the field is nil afterwards)."""
    if not isinstance(owner, Named):
        return [], False
    info = pass_.info
    struct = info.struct_of(owner)
    if struct is None:
        return [], False
    position = next((i for i, f in enumerate(struct.fields) if f.name == field), None)
    initialisers: list[tuple[GoFile, Node]] = []
    overwritten = False
    for go_file, literal, elements in _owner_literals(pass_, owner):
        keyed = any(e.type == "keyed_element" for e in elements)
        if elements and not keyed and position is not None and position < len(elements):
            value = elements[position]
            inner = value.named_children[0] if value.named_child_count else value
            if is_map_creation(inner, go_file, info) or inner.type == "composite_literal":
                initialisers.append((go_file, literal))
            continue
        names_field = keyed and any(
            e.named_child_count and go_file.text(e.named_children[0]) == field
            for e in elements if e.type == "keyed_element")
        if not names_field and _overwrites_a_value(literal):
            overwritten = True
    return initialisers, overwritten


def _owner_literals(pass_: Pass, owner: Named) -> list[tuple[GoFile, Node, list[Node]]]:
    """Every `T{...}` literal of the owner type in the package, with its elements (found by
    searching the text for `T{`, once per type)."""
    key = ("mg001-literals", owner)
    memo = pass_.package.memo
    if key in memo:
        return memo[key]  # type: ignore[return-value]
    found: list[tuple[GoFile, Node, list[Node]]] = []
    needle = f"{owner.name}{{".encode()
    for go_file in pass_.package.files:
        source = go_file.source
        start = source.find(needle)
        while start >= 0:
            if start == 0 or not (chr(source[start - 1]).isalnum() or source[start - 1] in b"_."):
                node = go_file.node_at(start, start + len(owner.name))
                literal = node.parent if node is not None else None
                if literal is not None and literal.type == "composite_literal" and (
                    literal.child_by_field_name("type") == node
                ):
                    body = literal.child_by_field_name("body")
                    found.append((go_file, literal, [
                        e for e in (body.named_children if body else []) if e.type != "comment"]))
            start = source.find(needle, start + len(needle))
    memo[key] = found
    return found


def _overwrites_a_value(literal: Node) -> bool:
    """`*p = T{...}` or `x.f = T{...}`: an existing value is replaced (a `:=`, a return or
    `&T{}` makes a new one instead)."""
    holder = literal.parent
    statement = holder.parent if holder is not None else None
    if holder is None or statement is None or statement.type != "assignment_statement":
        return False
    if assignment_operator(statement) != "=" or statement.child_by_field_name("right") != holder:
        return False
    return any(value == literal and target.type in {"unary_expression", "selector_expression",
                                                    "index_expression"}
               for target, value in assignment_pairs(statement))


def _field_use(use: Node, go_file: GoFile, info: TypeInfo) -> str:
    """"leaks", "initialises" (`x.f = make(...)`, or a fresh struct for an outer link),
    "nil" (`x.f = nil`), or "ok" (reads, element writes)."""
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
        return "nil"
    return "initialises" if _is_fresh(value, go_file, info) else "leaks"


def _is_fresh(value: Node, go_file: GoFile, info: TypeInfo) -> bool:
    """A new map, or a new struct value (`inner{...}`, `&inner{}`) for an outer link."""
    if value.type == "unary_expression" and value.named_child_count:
        value = value.named_children[-1]
    return is_map_creation(value, go_file, info) or value.type == "composite_literal"


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
    return "initialises" if _is_fresh(inner, go_file, info) else "leaks"


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
    in_support_code=False,
    on_by_default=False,  # worth it only where the code runs often: docs/review/
    supersedes=("MG002",),
)
