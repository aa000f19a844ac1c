"""## What it does
Fires only on evidence, with `mapguard lint --profile allocs.pb.gz` (an allocs or heap
profile): a map created on every call of a function, or on every pass of a loop, at a line
that holds at least the hot share of the profile's allocated bytes (1 % by default,
`--hot-share`). The finding gives the measured bytes and the reuse that fits the code:

- a map literal of constants that the function only reads: build it once, as a
  package-level variable;
- a map made inside a loop that does not outlive the pass: make it once before the loop and
  `clear` it at the start of each pass;
- a map made per call that never leaves the function: keep one between calls — in a field
  of the receiver, cleared per call (a method of a type with no mutex that no concurrent
  code in the package runs), otherwise in a `sync.Pool`, cleared before `Put`.

## Why is this bad?
A map literal or `make` allocates a table every time it runs; with more than eight entries
(or a size hint above eight) the table always lives on the heap. Per call, that is garbage at
the rate of the calls, and the GC runs more often for it. Which creations matter is a
question of how often they run, which the code does not say and the profile does: the rule
reports only the ones the profile shows hot.

## Example
```go
func isReserved(name string) bool {
    reserved := map[string]bool{"root": true, "admin": true, /* ...ten more */}
    return reserved[name]
}
```
With a profile in which this line allocates 4 % of all bytes.

## Use instead
```go
var reserved = map[string]bool{"root": true, "admin": true, /* ... */}

func isReserved(name string) bool {
    return reserved[name]
}
```
A scratch map per call: a field cleared at the start of the call, or
```go
var scratch = sync.Pool{New: func() any { return make(map[string]int) }}

m := scratch.Get().(map[string]int)
defer func() { clear(m); scratch.Put(m) }()
```

## When it is a false alarm
When the profile is not representative (a benchmark of one path, a start-up burst), or the
bytes are the price of a result the caller keeps. The rule stays silent where no reuse fits:
a map that is returned, stored, sent, captured by a closure or passed to a function (which
may keep it), and a literal whose function writes to it. A map that another rule reports on
the same line (MG001's re-creation) carries the measured bytes there instead.
"""

from __future__ import annotations

from tree_sitter import Node

from mapguard.lint.gofacts import API_SINCE
from mapguard.lint.rule import Pass, Rule, Severity
from mapguard.lint.syntax import (
    Use,
    classify_use,
    enclosing_loops,
    is_map_creation,
    normalized,
    occurrences,
)
from mapguard.source.concurrency import Concurrency
from mapguard.source.mapwrites import write_statement
from mapguard.source.package import GoFile
from mapguard.source.typeinfo import (
    LocalDecl,
    enclosing_declaration,
    enclosing_function,
    same_node,
)
from mapguard.source.types import MUTEX_TYPES, PointerTo, deref

_CONSTANT_LEAVES = frozenset({"interpreted_string_literal", "raw_string_literal", "int_literal",
                              "float_literal", "rune_literal", "true", "false", "nil"})


def run(pass_: Pass) -> None:
    evidence = pass_.evidence
    if evidence is None or not evidence.allocation:
        return
    for go_file in pass_.package.files:
        if not pass_.owns(go_file):
            continue
        for line, measured in (evidence.lines.get(go_file.path.resolve()) or {}).items():
            created = measured.op("create")
            if not evidence.hot(created):
                continue
            for creation in _creations_on(pass_, go_file, line)[:1]:
                advice = _reuse(pass_, go_file, creation)
                if advice is None:
                    continue
                what = normalized(go_file, creation)
                if len(what) > 40:
                    what = what[:37] + "..."
                pass_.report(go_file, creation, (
                    f"`{what}` is created {_how_often(go_file, creation)}: "
                    f"{evidence.amount(created)} allocated here in the profile "
                    f"{_profile_name(evidence.source)}. {advice}"))


def _profile_name(source: str) -> str:
    return source.rsplit("/", 1)[-1] if not source.startswith("http") else source


def _creations_on(pass_: Pass, go_file: GoFile, line: int) -> list[Node]:
    """The map creations (`make(map...)`, map literals) that start on a line."""
    span = go_file.line_span(line)
    if span is None:
        return []
    source, (start, end) = go_file.source, span
    found: list[Node] = []
    for needle in (b"make(", b"{"):
        position = start
        while (at := source.find(needle, position, end)) >= 0:
            position = at + 1
            node = go_file.node_at(at, at + len(needle) - (1 if needle == b"{" else 0))
            while node is not None and node.type not in {"call_expression",
                                                          "composite_literal"}:
                node = node.parent if node.type in {"identifier", "literal_value"} else None
            if node is not None and node.start_point.row == line - 1 and is_map_creation(
                node, go_file, pass_.info
            ) and all(node != other for other in found):
                found.append(node)
    return sorted(found, key=lambda n: n.start_byte)


def _how_often(go_file: GoFile, creation: Node) -> str:
    loops = enclosing_loops(creation)
    if loops:
        return f"on every pass of the loop at line {loops[0].start_point.row + 1}"
    function = enclosing_declaration(creation)
    name = function.child_by_field_name("name") if function is not None else None
    return f"on every call of {go_file.text(name)}" if name is not None else "per call"


def _reuse(pass_: Pass, go_file: GoFile, creation: Node) -> str | None:
    """The reuse that fits, in words, or None when the map outlives its creator."""
    holder = _holder(pass_, go_file, creation)
    function = enclosing_function(creation)
    if function is None:
        return None  # a package-level initialiser runs once
    if holder is None:
        if _indexed_directly(creation) and _constant_literal(pass_, go_file, creation):
            return _hoist_text()
        return None
    uses = [u for u in occurrences(function, go_file, go_file.text(holder))
            if not same_node(u, holder) and _declared_by(pass_, go_file, u, holder)]
    if any(_escapes(pass_, go_file, use, function) for use in uses):
        return None
    written = any(_writes(pass_, go_file, use) for use in uses)
    if not written and _constant_literal(pass_, go_file, creation):
        return _hoist_text()
    clear = ("clear it" if pass_.allows(API_SINCE["clear"])
             else "empty it with a delete loop")
    loops = enclosing_loops(creation)
    if loops:
        loop = loops[0]
        if any(not (loop.start_byte <= u.start_byte < loop.end_byte) for u in uses):
            return None  # used after the loop: the last pass's map outlives it
        return (f"Make it once before the loop and {clear} at the start of each pass: the "
                "table is kept, and later passes allocate nothing")
    receiver = _reusable_receiver(pass_, go_file, function)
    if receiver is not None:
        return (f"Keep one in a field of {receiver} and {clear} at the start of each call "
                "(one value's calls must then not overlap): the table is kept between calls")
    return ("Keep such maps in a sync.Pool: Get one, use it, then "
            f"{clear} before Put (MG006 checks the clear): the tables are reused")


def _hoist_text() -> str:
    return ("It holds only constants and is only read: build it once, as a package-level "
            "variable, and every call shares it")


def _declared_by(pass_: Pass, go_file: GoFile, use: Node, name: Node) -> bool:
    symbol = pass_.info.resolve(use, go_file)
    return isinstance(symbol, LocalDecl) and same_node(symbol.ident, name)


def _holder(pass_: Pass, go_file: GoFile, creation: Node) -> Node | None:
    """The name of the local variable the creation initialises: `m := make(...)`,
    `var m = ...`."""
    parent = creation.parent
    if parent is None or parent.type != "expression_list":
        return None
    statement = parent.parent
    if statement is None:
        return None
    if statement.type == "short_var_declaration":
        left = statement.child_by_field_name("left")
        names = left.named_children if left is not None else []
    elif statement.type == "var_spec":
        names = statement.children_by_field_name("name")
    else:
        return None
    values = [v for v in parent.named_children if v.type != "comment"]
    if len(names) != len(values):
        return None
    name = names[values.index(creation)]
    return name if name.type == "identifier" and go_file.text(name) != "_" else None


def _indexed_directly(creation: Node) -> bool:
    """`map[string]bool{...}[name]`: read once, right where it is built."""
    parent = creation.parent
    return parent is not None and parent.type == "index_expression" and (
        parent.child_by_field_name("operand") == creation) and write_statement(parent) is None


def _constant_literal(pass_: Pass, go_file: GoFile, creation: Node) -> bool:
    """A map literal with entries, whose keys and values are all constants (or literals of
    constants, `{"a", "b"}`)."""
    if creation.type != "composite_literal":
        return False
    body = creation.child_by_field_name("body")
    return body is not None and body.named_child_count > 0 and _constant(pass_, go_file, body)


def _constant(pass_: Pass, go_file: GoFile, node: Node) -> bool:
    if node.type in _CONSTANT_LEAVES:
        return True
    if node.type in {"literal_value", "keyed_element", "literal_element"}:
        return all(_constant(pass_, go_file, child) for child in node.named_children
                   if child.type != "comment")
    return node.type in {"identifier", "binary_expression", "unary_expression",
                         "parenthesized_expression"} and pass_.info.is_constant(node, go_file)


def _writes(pass_: Pass, go_file: GoFile, use: Node) -> bool:
    parent = use.parent
    if parent is not None and parent.type == "index_expression" and (
        parent.child_by_field_name("operand") == use
    ):
        return write_statement(parent) is not None
    if parent is not None and parent.type == "argument_list" and parent.parent is not None:
        return pass_.info.builtin_name(parent.parent, go_file) in {"delete", "clear"}
    return False


def _escapes(pass_: Pass, go_file: GoFile, use: Node, function: Node) -> bool:
    """The map can outlive the call here: stored, returned, sent, passed to a function,
    re-bound, or used from a closure."""
    inner = enclosing_function(use)
    if inner is not None and inner != function:
        return True  # a closure may outlive the call
    kind = classify_use(use, go_file, pass_.info)
    if kind is Use.ESCAPES:
        return True
    if kind is Use.ASSIGNED:
        return True  # re-bound: another map, which the advice would not cover
    parent = use.parent
    # A method of a named map type may keep it.
    return parent is not None and parent.type == "selector_expression"


def _reusable_receiver(pass_: Pass, go_file: GoFile, function: Node) -> str | None:
    """`*T` when `function` is a method with a pointer receiver of a struct type with no
    mutex, in a package where no code runs concurrently (no goroutine, no HTTP handler): a
    field of the value can hold the map without two calls sharing it at once."""
    if function.type != "method_declaration":
        return None
    receiver = function.child_by_field_name("receiver")
    declaration = receiver.named_children[0] if receiver and receiver.named_children else None
    type_node = declaration.child_by_field_name("type") if declaration is not None else None
    receiver_type = pass_.info.type_node(type_node, go_file)
    if not isinstance(receiver_type, PointerTo):
        return None
    struct = pass_.info.struct_of(receiver_type)
    if struct is None or any(deref(f.type) in MUTEX_TYPES for f in struct.fields):
        return None
    if Concurrency.of(pass_.package, pass_.info).contexts:
        return None
    return go_file.text(type_node) if type_node is not None else None

RULE = Rule(
    code="MG011",
    name="hot-map-creation",
    severity=Severity.WARNING,
    summary="with --profile: a map created per call at a site the profile shows hot",
    reports_at="the `make(...)` call or map literal",
    doc=__doc__ or "",
    run=run,
    in_support_code=False,
    evidence_only=True,
    bodies=(),  # the bodies at hot lines are parsed when asked about
)
