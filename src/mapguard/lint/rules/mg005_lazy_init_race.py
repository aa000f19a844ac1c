"""## What it does
Finds lazy initialisation — `if x == nil { x = ... }` — of a package-level variable or of a field
of a shared value, where goroutines can run the check at the same time:
- in an HTTP handler, a gRPC service method (as MG004 defines them) or a goroutine, on a
  variable or field other goroutines reach (error);
- elsewhere, when the function itself shows that the value is shared: it checks a package-level
  variable, or a field of a struct type that carries a `sync.Mutex`/`sync.RWMutex`, without the
  lock, and then uses the same value with a lock held (check-then-lock; warning; reported by
  MG014, see below);
- in a function an HTTP handler or a goroutine that runs several times at once calls, up to two
  calls deep and across the packages of the module, on the receiver it was handed or on
  package-level state (error; not in `main` packages, which set up once at start).

It keeps the findings with one of two proofs that the value is shared, both in an HTTP handler
or in a goroutine that runs several times at once (directly, or in a function such code calls):
a package-level variable, or a value the function itself also uses with a lock held
(check-then-lock). The others — a field reached through the receiver of a handler or goroutine
with no such use, a captured value, a goroutine started once, a receiver handed on by a call,
and check-then-lock outside concurrent code (a method of a type that holds a mutex, a function
of the package) — are MG014's (off by default, same message): on fresh trees those were false
36–75 % of the time (check-then-lock outside concurrent code: 5 false, 1 noise in 6 in rounds 10
and 11; the function was run by one goroutine, or on a value not yet shared).

## Why is this bad?
The check and the assignment are two steps. Two goroutines can both see `nil`, both build a
value and both assign it: one of them keeps using a value the other has replaced — for a map,
entries written to the lost map vanish — and the unsynchronised read and write race with the
writes made under the lock (`go test -race` reports `WARNING: DATA RACE`; a map written
concurrently can kill the process with `fatal error: concurrent map writes`).

## Example
```go
type Registry struct {
    mu       sync.Mutex
    counters map[string]*Counter
}

func (r *Registry) Counter(name string) *Counter {
    if r.counters == nil {
        r.counters = make(map[string]*Counter)
    }
    r.mu.Lock()
    defer r.mu.Unlock()
    c := r.counters[name]
    if c == nil {
        c = &Counter{}
        r.counters[name] = c
    }
    return c
}
```

## Use instead
Take the lock before the check (or create the map in the constructor):
```go
func (r *Registry) Counter(name string) *Counter {
    r.mu.Lock()
    defer r.mu.Unlock()
    if r.counters == nil {
        r.counters = make(map[string]*Counter)
    }
    ...
}
```
For a package-level value built once, `sync.OnceValue` (Go 1.21) or `sync.Once`, or initialising
it eagerly at the declaration.

## When it is a false alarm
A function runs under its caller's lock when its name ends in `Locked`, when its doc comment says so
("Lock should be held.", "Lock held on entry", "callers must hold mu", "must be called with the lock
held", ...), when every call of it in the package's non-test code holds the lock, or when it takes
the lock itself under a flag (`if locking { mu.Lock(); defer mu.Unlock() }`); a check inside a
try-lock's critical section is under a lock too (`if mu.TryLock() { ... }`, or a flag swapped
between two constants by an atomic compare-and-swap until it is stored back: `if
atomic.CompareAndSwapUint32(&busy, 0, 1) { ...; atomic.StoreUint32(&busy, 0) }`); the function given
to `once.Do` (also as a method value, `once.Do(x.init)`) or `sync.OnceFunc`, and what only it calls,
runs once; so does the assignment of double-checked locking (`if x == nil { mu.Lock(); if x == nil {
x = ... }; mu.Unlock() }`), whose unlocked first read `go test -race` judges. All of these are
recognised. A method with a handler's parameters is a handler only when it is `ServeHTTP`, handed on
as a value somewhere in the module, or not called there at all (a pooled per-request value's
`Reset(rw, r)`, which its router calls, is not). In concurrent code, a field that every path sets
before the goroutines start is not reported: set (to a call, a literal or an address, or by a setter
method given a non-nil argument) before the `go` on every path of the function that starts them, or,
for an unexported starter method, before every call of it (`start()` sets `s.limits`, then calls
`run()`, which starts the goroutines); or set by every way the module builds the type — each
composite literal of it names the field, or the function that builds it sets it (directly or through
a setter such as `SetLogger`) before it returns the value or starts a goroutine, or every caller of
that function does so right after the call — when the type's values are made nowhere else (no
`new(T)`, `var v T`, `T` by value or embedded, no use of the type other than `*pkg.T` in other
packages), its doc does not say its zero value is ready to use, and no code of the module sets the
field to nil. Values built outside the module (a library's users) are not seen. The check-then-lock
form (the function itself uses the field under a lock) stays reported either way: there the function
treats the field as shared state. A mutex made lazily and then locked (`if v.mu == nil { v.mu =
&sync.Mutex{} }; v.mu.Lock()`) is not check-then-lock: its own `Lock` is no lock held over it. A
pointer set lazily to a struct with no fields (`if h == nil { h = &Handler{} }` with `type Handler
struct{}`, or `new(Handler)`) is not reported: such a value holds no state, so whichever pointer
a goroutine keeps works as the other one would (the race detector still reports the write).
A check right after `once.Do(func() {...})` in the same block, on a `sync.Once`, whose function
sets the value to a literal, an address, `make` or `new` before every `return` and at its end, is
not reported: `Do` returns to every caller after that write, so the check never sees nil (only a
panic in the function would leave it nil). A function that can return first, holds a `goto`, or
sets the value to what a call returns (which may be nil), keeps the finding. Likewise a
package-level variable that a `func init()` of the package sets, in its top-level statements
before any `return`, to a literal, an address, `make`, `new`, or a call of a function of the
package that returns only such values (`routes = newStore()`), and that every other assignment
outside tests also sets to such a value (an exported one: that no other package assigns), is never
nil to a check: every init function runs before `main` and before any handler or goroutine of the
program. So is one set lazily at the top of a getter (a function, not a method) that the route
setup always calls: a function that registers HTTP routes (`mux.HandleFunc("/login", ...)`,
`r.GET("/x", ...)`: a router method with a route pattern) calls it, or calls a constructor that
does (`a := NewAuth()`, where `NewAuth` builds `&Auth{sessions: session.Get()}`), outside any
condition, loop, `go`, `defer` or function literal and before any goroutine it starts, in any
package of the module, and every
assignment to it sets a value that cannot be nil, as above: routes are registered before they are
served, so the handlers that call the getter find it set (review round 27, fluxsce/gateway's
`GetGlobalSessionManager`). Not recognised: other start-up code that calls the getter before
anything is served (a `main` that calls it, then starts a server whose routes another function
registers); such a finding is false; suppress it with
`//mapguard:ignore MG005 set at start-up, before serving`, or set the variable in an `init`.
Outside concurrent code MG005 reports nothing, and MG014 (off by default) only check-then-lock
inside one function, so both leave alone: fields the mutex does not guard (state one goroutine owns,
settings filled in before the goroutines start), package-level values set up once, values that only
other functions lock (their callers may be ordered in ways the rule cannot see), `x = a; if x == nil
{ x = b }` defaults, unexported functions nothing calls, a value a goroutine was handed and that its
starter replaced (or set to nil) right after the `go`, and code in `_test.go` files and the
goroutines they start (`go test -race` judges tests). When something the rule cannot see still
keeps two goroutines apart (a lock taken through a helper such as `lockSession`, data
partitioned between goroutines), suppress with
`//mapguard:ignore MG005 <reason>`.

In concurrent code, the lazy set-up of a goroutine that has ended before its starter's caller
returns (the caller's `sync.WaitGroup` handed down to the function that starts it, as MG004
describes) and that of a closure started once per pass of a range loop over pointers in a Go
1.22 module (each goroutine captures its own element) are not reported; a goroutine started
beside it that touches the same value, or a loop around that loop, keeps the finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from mapguard.lint.gofacts import API_SINCE
from mapguard.lint.rule import Pass, Rule, Severity, Trigger
from mapguard.lint.syntax import builtin_call_name, statements
from mapguard.source.calls import call_sites, runs_under_once
from mapguard.source.concurrency import CONTEXT_MARKERS, Concurrency, Tier
from mapguard.source.handler_uses import module_sources
from mapguard.source.lockevidence import same_target
from mapguard.source.locks import Mode, lock_mode_at
from mapguard.source.mapwrites import write_statement
from mapguard.source.package import (
    FuncDecl,
    GoFile,
    Package,
    TypeDecl,
    VarDecl,
    receiver_type_name,
)
from mapguard.source.startup import called_while_registering
from mapguard.source.typeinfo import (
    LocalDecl,
    TypeInfo,
    enclosing_declaration,
    enclosing_function,
    same_node,
    unparen,
    walk,
    word_hits,
)
from mapguard.source.types import MUTEX_TYPES, Named, StructOf, deref
from mapguard.source.valueflow import (
    built_with_field,
    checked_field,
    never_set_nil,
    set_before_start,
)

_BEFORE = re.compile(rb"([\w.]+)\s*$")
_AFTER = re.compile(rb"^\s*([\w.]+)")
_WINDOW = 2000  # bytes of the if body searched for the assignment


def _assigns_soon(source: bytes, hit: re.Match[bytes]) -> bool:
    """The checked name is assigned a little further down (`x = ...`, `x, err = ...`): a
    necessary condition of lazy initialisation, checked on the text before any parsing."""
    line_start = source.rfind(b"\n", 0, hit.start()) + 1
    if hit.group("at").startswith(b"nil"):
        found = _AFTER.search(source, hit.end("at"), hit.end("at") + 200)
    else:
        found = _BEFORE.search(source[line_start:hit.start()])
    if found is None:
        return False
    name = found.group(1)
    position, limit = hit.end(), hit.end() + _WINDOW
    while (at := source.find(name, position, limit)) >= 0:
        position = at + len(name)
        # The name must start its line (blanks before it): any other byte right before it
        # settles that without a look back to the line's start (most hits of a short name
        # are inside other lines: 16 per trigger hit on nats-server).
        if at and source[at - 1] not in _BLANK:
            continue
        line_start = source.rfind(b"\n", 0, at) + 1
        if not source[line_start:at].strip() and _ASSIGNMENT_TAIL.match(source, at + len(name)):
            return True
    return False


_BLANK = frozenset(b" \t\n\r\x0b\x0c")  # what bytes.strip() strips


_ASSIGNMENT_TAIL = re.compile(rb"(?:\s*,\s*[\w.]+)*\s*=[^=]")


# `if x == nil {` (or `nil == x`), the brace ending the line, x assigned below: the shape of
# lazy initialisation.
_NIL_CHECKS = (
    Trigger(re.compile(rb"(?P<at>== ?nil)[^\n]*\{[ \t]*(?://[^\n]*)?$", re.M), _assigns_soon),
    Trigger(re.compile(rb"(?P<at>nil ==)[^\n]*\{[ \t]*(?://[^\n]*)?$", re.M), _assigns_soon),
)


def run(pass_: Pass) -> None:
    analyse(pass_, "proven")


def analyse(pass_: Pass, tier: Tier) -> None:
    """Report the lazy initialisations whose proof of sharing is of `tier`: "proven" (a
    package-level variable in a handler or a goroutine that runs several times at once, or
    the function's own use of the value under a lock: MG005) or "unproven" (reachability
    alone: MG014, with MG005's message)."""
    if pass_.package.is_main:
        return
    seen: set[tuple[int, int]] = set()
    for match in pass_.candidates():
        found = lazy_init(match.node, match.file)
        if found is None:
            continue
        statement, checked = found
        key = (id(match.file), statement.start_byte)
        if key in seen:
            continue
        seen.add(key)
        verdict = _judge(pass_, match.file, statement, checked)
        if verdict is None or (verdict.proven != (tier == "proven")):
            continue
        # A search of the module: last, for what would be reported.
        if set_while_registering(pass_.package, pass_.info, match.file, statement, checked):
            continue
        pass_.report(match.file, statement,
                     _message(pass_, match.file, checked, verdict.where, verdict.severity),
                     severity=verdict.severity if tier == "proven" else None)


def lazy_init(node: Node, go_file: GoFile) -> tuple[Node, Node] | None:
    """(if statement, checked expression) for `if x == nil { x = ... }`."""
    comparison = node
    if comparison.type != "binary_expression":
        return None
    left = comparison.child_by_field_name("left")
    right = comparison.child_by_field_name("right")
    if left is None or right is None:
        return None
    checked = left if right.type == "nil" else right if left.type == "nil" else None
    if checked is None or next((c.type for c in comparison.children if not c.is_named), "") != "==":
        return None
    checked = unparen(checked)
    if checked.type not in {"identifier", "selector_expression"}:
        return None
    condition = comparison
    while condition.parent is not None and condition.parent.type in {
        "binary_expression", "parenthesized_expression"
    }:
        condition = condition.parent
    statement = condition.parent
    if statement is None or statement.type != "if_statement" or (
        statement.child_by_field_name("condition") != condition
    ):
        return None
    if not _assigns(statement.child_by_field_name("consequence"), go_file, checked):
        return None
    return statement, checked


def _assigns(block: Node | None, go_file: GoFile, checked: Node) -> bool:
    """The block assigns the checked variable a value it builds (a call, a literal, `&x`):
    assigning an existing value (`if e.err == nil { e.err = err }`) records, it does not
    initialise, and an assignment in the function `once.Do` runs happens once, whatever the
    check in front of it saw (its unlocked read is double-checked locking's, left to -race)."""
    for assignment, value, _paired in _assignments_to(block, go_file, checked):
        if _inside_once(assignment, go_file):
            continue  # `if x == nil { once.Do(func() { x = ... }) }` assigns once
        if value is not None and unparen(value).type in _BUILT:
            return True
    return False


def _assignments_to(block: Node | None, go_file: GoFile, checked: Node
                    ) -> Iterator[tuple[Node, Node | None, bool]]:
    """(assignment, value, paired) for each assignment in `block` to the checked expression:
    the value is the target's own when the sides pair up (paired), else the one value on the
    right (`x, err = f()`), or None."""
    if block is None:
        return
    name = "".join(go_file.text(checked).split())
    for node in walk(block):
        if node.type != "assignment_statement":
            continue
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        targets = left.named_children if left is not None else []
        values = right.named_children if right is not None else []
        paired = len(values) == len(targets)
        for index, target in enumerate(targets):
            if "".join(go_file.text(target).split()) == name:
                yield node, values[index] if paired else (values[0] if values else None), paired


_BUILT = frozenset({"call_expression", "composite_literal", "unary_expression", "func_literal",
                    "type_conversion_expression"})


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why a lazy initialisation races, for its finding."""

    severity: Severity
    where: str  # the context, or why the value is shared, for the message
    # The proof is one of the two kinds never found false on real trees (docs/rules.md,
    # MG014), both in a handler or a goroutine that runs several times at once: a package-level
    # variable, or the function's own use of the value with a lock held (check-then-lock).
    proven: bool


def _judge(pass_: Pass, go_file: GoFile, statement: Node, checked: Node) -> Verdict | None:
    if initialises_nothing(pass_.info, statement, go_file, checked):
        return None
    if set_by_init(pass_.package, pass_.info, go_file, checked):
        return None
    verdict = _context_verdict(pass_, go_file, statement, checked)
    if verdict is None:
        return None
    severity, where, package_level, repeatable = verdict
    # Outside a concurrency context (below) only a locked use of the value in the same
    # function makes a finding: looked for first, since it reads that function alone and most
    # such checks have none, while the protections next search the package for callers.
    evidence = locked_use(pass_.info, go_file, checked) if (
        severity is not Severity.ERROR) else None
    if severity is not Severity.ERROR and evidence is None:
        return None
    # The protections that cost a search of the package come last, for verdicts only.
    if lock_mode_at(statement, go_file, pass_.info) is not Mode.NONE:
        return None
    if zero_size_singleton(pass_.info, go_file, statement, checked):
        return None
    if rechecked_under_lock(pass_.info, go_file, statement):
        return None
    if _inside_once(statement, go_file) or _function_run_by_once(pass_, statement, go_file):
        return None
    if severity is Severity.ERROR:
        # A field every path sets before the goroutines start: the nil branch is dead. (The
        # check-then-lock form below stays: the function itself treats the field as shared.)
        evidence = locked_use(pass_.info, go_file, checked)
        if evidence is None and _set_before_goroutines(pass_, go_file, statement, checked):
            return None
        return Verdict(severity, where, package_level or (evidence is not None and repeatable))
    if _never_called(pass_, statement, go_file):
        return None  # an unexported function nothing in the package calls cannot race
    # Outside a concurrency context, the function itself must say the value is shared: it takes
    # a lock to write it, but not to check it (check-then-lock). Fields the mutex does not guard
    # (state one goroutine owns, settings written before any goroutine starts), package values
    # set up once, and values locked only by other functions (which may well be ordered by
    # what the rule cannot see) are left alone. Even so the lock shows only that the author
    # expected sharing somewhere, not that this function runs on two goroutines: MG014's.
    # (`evidence`, that locked use, was found first.)
    return Verdict(severity, f"{where}, and {evidence}", False)


def set_by_init(package: Package, info: TypeInfo, go_file: GoFile, checked: Node) -> bool:
    """The checked expression is a package-level variable that a `func init()` of the package
    sets, in its top-level statements before any `return`, to a value that cannot be nil (a
    literal, `&T{...}`, `make`, `new`, or a call of a function of the package that returns
    only such values), and that every other assignment in the package's code outside tests
    also sets to such a value (an exported one: that no other package assigns at all). Every
    init function runs before `main` and before any goroutine or handler of the program: the
    nil branch is dead, a defensive check (wso2/apk's `GetRouteMetadataDataStore`, reached
    from gin handlers)."""
    if checked.type != "identifier" or not isinstance(info.resolve(checked, go_file), VarDecl):
        return False
    if not any(_init_sets(package, init_file, init, checked)
               for init_file, init in _init_functions(package)):
        return False
    return _only_set_non_nil(package, checked, go_file)


def set_while_registering(package: Package, info: TypeInfo, go_file: GoFile, statement: Node,
                          checked: Node) -> bool:
    """The checked expression is a package-level variable set lazily at the top of a function
    (not a method) that the program's route setup always calls (`mapguard.source.startup`:
    a function registering HTTP routes calls it, or calls a constructor that does), and every
    assignment to it sets a value that cannot be nil (as for `set_by_init`). Routes are
    registered before they are served: the handlers that call the getter find the variable
    set, and its nil branch is dead (round 27: fluxsce/gateway's `GetGlobalSessionManager`)."""
    if (checked.type != "identifier" or package.module is None
            or not isinstance(info.resolve(checked, go_file), VarDecl)):
        return False
    function = _getter_of(statement)
    name_node = function.child_by_field_name("name") if function is not None else None
    if function is None or name_node is None:
        return False
    if not called_while_registering(package.module, package.directory, package.name,
                                    go_file.text(name_node)):
        return False
    return _only_set_non_nil(package, checked, go_file)


def _getter_of(statement: Node) -> Node | None:
    """The function declaration (not a method) whose body holds `statement` among its top
    statements, none before it returning: each call runs the check."""
    block = statement.parent
    if block is not None and block.type == "statement_list":
        block = block.parent
    function = block.parent if block is not None and block.type == "block" else None
    if block is None or function is None or function.type != "function_declaration":
        return None
    for earlier in statements(block):
        if earlier.start_byte >= statement.start_byte:
            return function
        if earlier.type == "return_statement" or any(
                node.type == "return_statement" for node in _walk_outside_literals(earlier)):
            return None
    return None


def _only_set_non_nil(package: Package, checked: Node, go_file: GoFile) -> bool:
    """Every assignment to the package-level variable `checked` in the package's code outside
    tests sets a value that cannot be nil (an exported one: no other package assigns it)."""
    name = go_file.text(checked)
    # `name = v`, or `name, err = f()`: the statement decides.
    assignment = re.compile(rb"(?<![\w.])" + re.escape(name.encode()) + rb"\s*(?:=(?!=)|,)")
    for source_file in package.files:
        if source_file.is_test or name.encode() not in source_file.source:
            continue
        for match in assignment.finditer(source_file.source):
            node = source_file.node_at(match.start(), match.start() + len(name))
            statement = node.parent if node is not None else None
            while statement is not None and statement.type in {"expression_list"}:
                statement = statement.parent
            if statement is None or statement.type != "assignment_statement":
                continue  # `name == x` was ruled out; a comment or a string holds no write
            if not (_sets_non_nil(statement, checked, source_file)
                    or _sets_constructed(package, statement, checked, source_file)):
                return False
    if name[:1].isupper() and package.module is not None:
        # Another package of the module may assign it (`pkg.Name = x`): any such write counts.
        elsewhere = re.compile(rb"\." + re.escape(name.encode()) + rb"\s*=(?!=)")
        if any(elsewhere.search(source) for source in module_sources(package.module.root)):
            return False
    return True


def _init_functions(package: Package) -> list[tuple[GoFile, Node]]:
    """Every `func init()` of the package outside tests (a package may have one per file, and
    the index by name keeps one)."""
    key = ("init-functions",)
    if key not in package.memo:
        package.memo[key] = [
            (go_file, node) for go_file in package.files
            if not go_file.is_test and b"func init()" in go_file.source
            for node in go_file.root.named_children
            if node.type == "function_declaration"
            and go_file.text(node.child_by_field_name("name") or node) == "init"]
    found = package.memo[key]
    assert isinstance(found, list)
    return found


def _init_sets(package: Package, go_file: GoFile, init: Node, checked: Node) -> bool:
    body = go_file.complete(init).child_by_field_name("body")
    for statement in statements(body) if body is not None else ():
        if _sets_non_nil(statement, checked, go_file) or _sets_constructed(
                package, statement, checked, go_file):
            return True
        if statement.type == "return_statement" or _holds_return(statement):
            return False
    return False


def _sets_constructed(package: Package, statement: Node, checked: Node, go_file: GoFile
                      ) -> bool:
    """`x = newX()` where newX, a function of the package, returns only values that cannot be
    nil (`return &X{...}`)."""
    if statement.type != "assignment_statement":
        return False
    for _assignment, value, paired in _assignments_to(statement, go_file, checked):
        callee = unparen(value).child_by_field_name("function") if value is not None and (
            paired and unparen(value).type == "call_expression") else None
        if callee is None or callee.type != "identifier":
            continue
        found = [d for d in package.functions_named(go_file.text(callee)) or ()
                 if not d.is_method]
        if len(found) == 1 and _returns_only_built(found[0]):
            return True
    return False


def _returns_only_built(declaration: FuncDecl) -> bool:
    body = declaration.file.complete(declaration.node).child_by_field_name("body")
    returns = [node for node in _walk_outside_literals(body)
               if node.type == "return_statement"] if body is not None else []
    if not returns:
        return False
    for statement in returns:
        values = list(statement.named_children)
        values = values[0].named_children if len(values) == 1 and (
            values[0].type == "expression_list") else values
        if len(values) != 1 or not _never_nil(unparen(values[0]), declaration.file):
            return False
    return True


def zero_size_singleton(info: TypeInfo, go_file: GoFile, statement: Node, checked: Node) -> bool:
    """Every value the nil branch assigns is `&T{}` or `new(T)` of a struct type with no fields
    (rainbond's `if h == nil { h = &ClusterHandler{} }`, `type ClusterHandler struct{}`): such
    a value holds no state, so whichever pointer a goroutine keeps behaves as the other one and
    nothing set up is lost. The race detector still reports the unlocked write; the rule's claim
    that one goroutine's value is lost is not so."""
    values = [value for _, value, paired in _assignments_to(
        statement.child_by_field_name("consequence"), go_file, checked)
        if paired and value is not None]
    return bool(values) and all(_new_empty_struct(info, go_file, unparen(v)) for v in values)


def _new_empty_struct(info: TypeInfo, go_file: GoFile, value: Node) -> bool:
    type_node: Node | None = None
    if value.type == "unary_expression" and go_file.text(value).startswith("&"):
        literal = unparen(value.child_by_field_name("operand") or value)
        body = literal.child_by_field_name("body") if literal.type == "composite_literal" else None
        if body is not None and not body.named_children:
            type_node = literal.child_by_field_name("type")
    elif value.type == "call_expression" and builtin_call_name(value, go_file, info) == "new":
        arguments = value.child_by_field_name("arguments")
        type_node = arguments.named_children[0] if arguments is not None and (
            len(arguments.named_children) == 1) else None
    if type_node is None:
        return False
    underlying = info.underlying(info.type_node(type_node, go_file))
    return isinstance(underlying, StructOf) and not underlying.fields


def rechecked_under_lock(info: TypeInfo, go_file: GoFile, statement: Node) -> bool:
    """Double-checked locking: the body takes a lock and checks again before assigning
    (`if x == nil { mu.Lock(); if x == nil { x = ... }; mu.Unlock() }`). Only one goroutine
    assigns; what is left is the unlocked first read, not the lost value this rule reports."""
    condition = statement.child_by_field_name("condition")
    body = statement.child_by_field_name("consequence")
    if condition is None or body is None:
        return False
    wanted = "".join(go_file.text(condition).split())
    return any(
        inner.type == "if_statement"
        and (inner_condition := inner.child_by_field_name("condition")) is not None
        and "".join(go_file.text(inner_condition).split()) == wanted
        and lock_mode_at(inner, go_file, info) is not Mode.NONE
        for inner in walk(body))


def _context_verdict(pass_: Pass, go_file: GoFile, statement: Node, checked: Node
                     ) -> tuple[Severity, str, bool, bool] | None:
    """(severity, where, whether the value is a package-level variable checked in a handler
    or in a goroutine that runs several times at once, whether the check runs in such code)."""
    if go_file.is_test:
        return None  # tests run under `go test -race`, which judges them better
    info = pass_.info
    root = checked
    while root.type == "selector_expression":
        operand = root.child_by_field_name("operand")
        if operand is None:
            return None
        root = unparen(operand)
    if root.type != "identifier":
        return None
    symbol = info.resolve(root, go_file)
    if checked.type == "identifier" and not isinstance(symbol, VarDecl):
        return None  # a local (even one copied from a field) is not shared
    is_package_var = isinstance(symbol, VarDecl) and not symbol.constant
    model = Concurrency.of(pass_.package, info)
    context = model.context_of(statement, go_file, branches=True)
    sharing = model.sharing(checked, go_file, context) if context is not None else None
    if context is not None and sharing is not None:
        repeatable = context.kind == "handler" or context.repeatable
        return (Severity.ERROR, model.describe_at(statement, go_file, context),
                sharing.package_level and repeatable, repeatable)
    if (isinstance(symbol, LocalDecl) and symbol.kind == "receiver"
            and checked.type == "selector_expression" and _type_has_mutex(pass_, symbol, go_file)):
        return Severity.WARNING, "a method of a type that holds a mutex", False, False
    if is_package_var and checked.type == "identifier":
        return Severity.WARNING, "a function of the package", False, False
    return None


def _set_before_goroutines(pass_: Pass, go_file: GoFile, statement: Node, checked: Node
                           ) -> bool:
    """`x.f` is set before the goroutine that runs the check starts (by its starter, or by
    every call of it), or by every constructor of x's type; and nothing sets it back to nil
    (`mapguard.source.valueflow`)."""
    parts = checked_field(checked, go_file)
    if parts is None:
        return False
    operand, name = parts
    context = Concurrency.of(pass_.package, pass_.info).context_of(
        statement, go_file, branches=True)
    if context is not None and name in set_before_start(pass_.package, pass_.info, context,
                                                        operand):
        return never_set_nil(pass_.package, name, exported=name[:1].isupper())
    return built_with_field(pass_.package, pass_.info, operand, go_file, name)


def initialises_nothing(info: TypeInfo, statement: Node, go_file: GoFile, checked: Node
                        ) -> bool:
    """The nil check gives a default (`x = a; if x == nil { x = b }`) or is dead
    (`once.Do(func() { x = a }); if x == nil {...}`): no lazy initialisation either way."""
    return set_just_before(statement, go_file, checked) or set_by_once_before(
        info, statement, go_file, checked)


def set_just_before(statement: Node, go_file: GoFile, checked: Node) -> bool:
    """An earlier statement of the same block assigns the checked expression."""
    name = "".join(go_file.text(checked).split())
    previous = statement.prev_named_sibling
    while previous is not None:
        if previous.type in {"assignment_statement", "short_var_declaration"}:
            left = previous.child_by_field_name("left")
            targets = left.named_children if left is not None else []
            if any("".join(go_file.text(t).split()) == name for t in targets):
                return True
        previous = previous.prev_named_sibling
    return False


def set_by_once_before(info: TypeInfo, statement: Node, go_file: GoFile, checked: Node
                       ) -> bool:
    """An earlier statement of the same block is `once.Do(func() {...})` (a sync.Once) whose
    function gives the checked expression a non-nil value on every path that returns: `Do`
    returns to every caller after that write (it happens before), so the check never sees nil
    and the branch is dead — a defensive check, not a lazy initialisation (round 17, anubis).
    (Only a panicking function would leave it nil: `Do` then counts it as done.)"""
    previous = statement.prev_named_sibling
    while previous is not None:
        call = previous.named_children[0] if (
            previous.type == "expression_statement" and previous.named_child_count == 1
        ) else None
        function = call.child_by_field_name("function") if call is not None and (
            call.type == "call_expression") else None
        arguments = call.child_by_field_name("arguments") if call is not None else None
        if function is not None and function.type == "selector_expression" and (
            go_file.text(function.child_by_field_name("field") or function) == "Do"
        ) and arguments is not None and arguments.named_child_count == 1 and (
            (literal := arguments.named_children[0]).type == "func_literal"
        ) and _is_sync_once(info, function.child_by_field_name("operand"), go_file) and (
            body := literal.child_by_field_name("body")
        ) is not None and not any(  # a `goto` could jump past the assignment
            node.type == "goto_statement" for node in _walk_outside_literals(body)
        ) and _set_on_every_return(statements(body), checked, go_file, at_end=True):
            return True
        previous = previous.prev_named_sibling
    return False


def _is_sync_once(info: TypeInfo, operand: Node | None, go_file: GoFile) -> bool:
    found = deref(info.type_of(operand, go_file)) if operand is not None else None
    return isinstance(found, Named) and (found.pkg, found.name) == ("sync", "Once")


def _set_on_every_return(run: list[Node], checked: Node, go_file: GoFile, *,
                         at_end: bool) -> bool:
    """Every `return` among the statements `run` (and, with `at_end`, the fall off their end)
    comes after a statement that sets the checked expression to a value that cannot be nil."""
    for statement in run:
        if _sets_non_nil(statement, checked, go_file):
            return True
        if statement.type == "return_statement":
            return False
        if _holds_return(statement) and not all(
            _set_on_every_return(inner.named_children, checked, go_file, at_end=False)
            for inner in _nested_statement_lists(statement)
        ):
            return False
    return not at_end


def _sets_non_nil(statement: Node, checked: Node, go_file: GoFile) -> bool:
    if statement.type != "assignment_statement" or go_file.text(
        statement.child_by_field_name("operator") or statement
    ) != "=":
        return False
    for _assignment, value, paired in _assignments_to(statement, go_file, checked):
        if value is not None and paired and _never_nil(unparen(value), go_file):
            return True
    return False


def _never_nil(value: Node, go_file: GoFile) -> bool:
    """A literal, an address, `make` or `new`: a value that cannot be nil."""
    if value.type in {"composite_literal", "func_literal"}:
        return True
    if value.type == "unary_expression" and go_file.text(value).startswith("&"):
        return True
    return value.type == "call_expression" and go_file.text(
        value.child_by_field_name("function") or value) in {"make", "new"}


def _holds_return(statement: Node) -> bool:
    return any(node.type == "return_statement" for node in _walk_outside_literals(statement))


def _walk_outside_literals(node: Node) -> Iterator[Node]:
    for child in node.named_children:
        if child.type == "func_literal":
            continue
        yield child
        yield from _walk_outside_literals(child)


def _nested_statement_lists(statement: Node) -> Iterator[Node]:
    """The statement lists directly inside a compound statement (branches, cases, bodies),
    not those of func literals or of the lists themselves."""
    for child in statement.named_children:
        if child.type == "func_literal":
            continue
        if child.type == "statement_list":
            yield child
        else:
            yield from _nested_statement_lists(child)


def locked_use(info: TypeInfo, go_file: GoFile, checked: Node) -> str | None:
    """"it writes `x` with a lock held at line N" when the function that holds the nil check
    also reads or writes the checked field (of a value of the same type) or package variable
    under a lock: the check belongs inside that critical section."""
    function = enclosing_declaration(checked)
    if function is None:
        return None
    if checked.type == "selector_expression":
        operand = checked.child_by_field_name("operand")
        field = checked.child_by_field_name("field")
        if operand is None or field is None:
            return None
        owner = deref(info.type_of(operand, go_file))
        if not isinstance(owner, Named):
            return None
        name = go_file.text(field)
    else:
        owner, name = None, go_file.text(checked)
    symbol = info.resolve(checked, go_file) if owner is None else None
    text = "".join(go_file.text(checked).split())
    for start, end in word_hits(go_file.source, name, function.start_byte, function.end_byte):
        node = go_file.node_at(start, end, named=False)
        if node is None or not same_target(info, go_file, node, owner, symbol):
            continue
        if _in_own_callback(node, checked) or checked.start_byte <= node.start_byte < (
            checked.end_byte
        ) or _locks_it(node):
            continue
        if lock_mode_at(node, go_file, info) is not Mode.NONE:
            target = node.parent if owner is not None and node.parent is not None else node
            uses = "writes" if _written_by(target, go_file, info) is not None else "reads"
            return (f"it {uses} `{text}` with a lock held at line {node.start_point.row + 1}:"
                    f" the check belongs under that lock")
    return None


def _locks_it(node: Node) -> bool:
    """`v.mu.Lock()`, `defer v.mu.Unlock()`: a lazily made mutex used as the lock itself. No
    lock can guard its own creation, so that use says nothing about a lock held over it."""
    target = node
    if node.parent is not None and node.parent.type == "selector_expression" and same_node(
        node.parent.child_by_field_name("field"), node
    ):
        target = node.parent  # the field `v.mu`, not just its name
    method = target.parent
    if method is None or method.type != "selector_expression" or method.parent is None or (
        method.parent.type != "call_expression"
    ) or not same_node(method.child_by_field_name("operand"), target):
        return False
    field = method.child_by_field_name("field")
    return field is not None and field.text in {b"Lock", b"Unlock", b"RLock", b"RUnlock",
                                                b"TryLock", b"TryRLock"}


def _in_own_callback(node: Node, checked: Node) -> bool:
    """The use is in a func literal of the function that holds the nil check: a callback it
    hands out, whose lock guards the callbacks' own calls, not the check made before them."""
    function = enclosing_function(node)
    declaration = enclosing_declaration(checked)
    return (function is not None and declaration is not None
            and function.type == "func_literal"
            and declaration.start_byte <= function.start_byte < declaration.end_byte)


def _written_by(target: Node, go_file: GoFile, info: TypeInfo) -> Node | None:
    """The statement that assigns `target` (`x = v`, `x, err = f()`, `x++`) or writes into the
    map or slice it holds (`x[k] = v`, `delete(x, k)`, `clear(x)`); None for a read."""
    parent = target.parent
    if parent is None:
        return None
    if parent.type in {"inc_statement", "dec_statement"}:
        return parent
    if parent.type == "expression_list" and parent.parent is not None and (
        parent.parent.type == "assignment_statement"
        and parent.parent.child_by_field_name("left") == parent
    ):
        return parent.parent
    if parent.type == "index_expression" and parent.child_by_field_name("operand") == target:
        return write_statement(parent)
    call = parent.parent
    if parent.type == "argument_list" and call is not None and (
        parent.named_children[:1] == [target]
        and info.builtin_name(call, go_file) in {"delete", "clear"}
    ):
        return call
    return None


def _type_has_mutex(pass_: Pass, receiver: LocalDecl, go_file: GoFile) -> bool:
    """Every declaration of the receiver's type holds a mutex (types declared once per build
    tag, like `FD` for unix and plan9, must all agree)."""
    info = pass_.info
    named = deref(info.type_node(receiver.type_node, go_file))
    if not isinstance(named, Named) or named.pkg != "":
        return False
    variants = pass_.package.type_variants(named.name)
    return bool(variants) and all(_declares_mutex(info, decl) for decl in variants)


def _declares_mutex(info: TypeInfo, decl: TypeDecl) -> bool:
    # Read through the TypeInfo's cache: a server's struct (hundreds of fields) is asked about
    # for every lazy initialisation in its methods.
    struct = info.type_node(decl.type_node, decl.file)
    struct = info.underlying(struct) if not isinstance(struct, StructOf) else struct
    return isinstance(struct, StructOf) and any(
        deref(f.type) in MUTEX_TYPES for f in struct.fields)


def _inside_once(statement: Node, go_file: GoFile) -> bool:
    """Inside the func literal given to `once.Do(...)` (or sync.OnceFunc and friends)."""
    current = statement.parent
    while current is not None:
        if current.type == "func_literal":
            call = current.parent.parent if current.parent is not None else None
            if call is not None and call.type == "call_expression":
                function = go_file.text(call.child_by_field_name("function") or call)
                if function.endswith(".Do") or function.startswith("sync.Once"):
                    return True
        current = current.parent
    return False


def _never_called(pass_: Pass, statement: Node, go_file: GoFile) -> bool:
    function = enclosing_declaration(statement)
    declaration = _declaration_of(pass_, function, go_file) if function is not None else None
    if declaration is None or declaration.name[:1].isupper():
        return False
    # Called by tests alone, it never runs outside them (`go test -race` judges those).
    return call_sites(pass_.package, pass_.info, declaration, in_tests=False) == []


def _function_run_by_once(pass_: Pass, statement: Node, go_file: GoFile) -> bool:
    """The enclosing named function is handed to `once.Do(f)` / `once.Do(x.f)` somewhere."""
    function = enclosing_declaration(statement)
    declaration = _declaration_of(pass_, function, go_file) if function is not None else None
    return declaration is not None and runs_under_once(pass_.package, pass_.info, declaration,
                                                       in_tests=False)


def _declaration_of(pass_: Pass, function: Node, go_file: GoFile) -> FuncDecl | None:
    name_node = function.child_by_field_name("name")
    if name_node is None:
        return None
    name = go_file.text(name_node)
    if function.type == "function_declaration":
        return pass_.package.func_named(name)
    receiver = receiver_type_name(function, go_file)
    return pass_.package.method(receiver, name) if receiver is not None else None


def _message(pass_: Pass, go_file: GoFile, checked: Node, where: str, severity: Severity
             ) -> str:
    name = "".join(go_file.text(checked).split())
    once = ("sync.OnceValue or sync.Once" if pass_.allows(API_SINCE["sync.OnceValue"])
            else "sync.Once")
    lost = ("writes to the lost map vanish; " if pass_.info.is_map_expr(checked, go_file)
            else "")
    advice = (f"Use {once}, initialise it eagerly, or take the lock before the check"
              if severity is Severity.ERROR else
              f"Take the lock before the check, initialise it eagerly, or use {once}")
    return (
        f"lazy initialisation of `{name}` without a lock in {where}: two goroutines can both "
        f"see nil and both assign, and one keeps using the value the other replaced ({lost}go "
        f"test -race reports a DATA RACE). {advice}"
    )


RULE = Rule(
    code="MG005",
    name="lazy-init-race",
    severity=Severity.ERROR,
    summary="`if x == nil { x = ... }` on shared state without a lock or sync.Once",
    reports_at="the `if` statement that holds the nil check",
    doc=__doc__ or "",
    run=run,
    markers=(b"nil",),
    # Its proof needs a handler or a goroutine of the package (`_context_verdict`; outside one
    # the proof is MG014's): a package without any is skipped, its nil checks neither parsed
    # nor typed (most packages of hugo and etcd start no goroutine).
    requires_any=CONTEXT_MARKERS,
    anchors=_NIL_CHECKS,
    bodies=_NIL_CHECKS,
    in_tests=False,  # `_context_verdict`: tests run under `go test -race`
    # Its verdicts ask the package's concurrency model, but each nil check is judged on its
    # own: in a split package every shard judges the checks in its files, on the model built
    # once before the shards fork (`engine._forked_shards`). Run whole in one shard, it was
    # the long pole of nats-server's `server/` (0.23 s, against 0.06 s for MG004).
)
