"""## What it does
Finds lazy initialisation — `if x == nil { x = ... }` — of a package-level variable or of a field
of a shared value, where goroutines can run the check at the same time: in an HTTP handler or a
goroutine (error), in a method of a struct type that carries a `sync.Mutex`/`sync.RWMutex`
(the type says its values are shared; warning), or of a package-level variable in an exported
function of a library package (library code is callable from any goroutine; warning).

## Why is this bad?
The check and the assignment are two steps. Two goroutines can both see `nil`, both build a
value and both assign it: one of them keeps using a value the other has replaced — for a map,
entries written to the lost map vanish — and the unsynchronised read and write are a data race
(`go test -race` reports `WARNING: DATA RACE`; a map written concurrently can kill the process
with `fatal error: concurrent map writes`).

## Example
```go
var countries map[string]string

func Country(code string) string {
    if countries == nil {
        countries = loadCountries()
    }
    return countries[code]
}
```

## Use instead
```go
var countries = sync.OnceValue(loadCountries) // Go 1.21

func Country(code string) string {
    return countries()[code]
}
```
Or `sync.Once`, initialising eagerly (in `init` or at the declaration), or taking the lock
before the check.

## When it is a false alarm
When every caller is known to run on one goroutine (a type documented as not safe for concurrent
use that happens to embed a mutex for another purpose), or when initialisation is ordered before
any concurrency by code the rule does not see. Suppress with `//mapguard:ignore MG005 <reason>`.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from mapguard.goversion import GO_1_21
from mapguard.lint.rule import Pass, Rule, Severity, Trigger
from mapguard.source.calls import runs_under_once
from mapguard.source.concurrency import Concurrency
from mapguard.source.locks import Mode, lock_mode_at
from mapguard.source.package import FuncDecl, GoFile, TypeDecl, VarDecl, receiver_type_name
from mapguard.source.typeinfo import (
    LocalDecl,
    TypeInfo,
    enclosing_declaration,
    unparen,
    walk,
)
from mapguard.source.types import MUTEX_TYPES, Named, StructOf, deref, type_from_node

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
        line_start = source.rfind(b"\n", 0, at) + 1
        if not source[line_start:at].strip() and _ASSIGNMENT_TAIL.match(source, at + len(name)):
            return True
        position = at + len(name)
    return False


_ASSIGNMENT_TAIL = re.compile(rb"(?:\s*,\s*[\w.]+)*\s*=[^=]")


# `if x == nil {` (or `nil == x`), the brace ending the line, x assigned below: the shape of
# lazy initialisation.
_NIL_CHECKS = (
    Trigger(re.compile(rb"(?P<at>== ?nil)[^\n]*\{[ \t]*(?://[^\n]*)?$", re.M), _assigns_soon),
    Trigger(re.compile(rb"(?P<at>nil ==)[^\n]*\{[ \t]*(?://[^\n]*)?$", re.M), _assigns_soon),
)


def run(pass_: Pass) -> None:
    if pass_.package.is_main:
        return
    seen: set[tuple[int, int]] = set()
    for match in pass_.candidates():
        found = _lazy_init(match.node, match.file)
        if found is None:
            continue
        statement, checked = found
        key = (id(match.file), statement.start_byte)
        if key in seen:
            continue
        seen.add(key)
        verdict = _judge(pass_, match.file, statement, checked)
        if verdict is not None:
            severity, where = verdict
            pass_.report(match.file, statement, _message(pass_, match.file, checked, where),
                         severity=severity)


def _lazy_init(node: Node, go_file: GoFile) -> tuple[Node, Node] | None:
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
    initialise."""
    if block is None:
        return False
    name = "".join(go_file.text(checked).split())
    for node in walk(block):
        if node.type != "assignment_statement":
            continue
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        targets = left.named_children if left is not None else []
        values = right.named_children if right is not None else []
        for index, target in enumerate(targets):
            if "".join(go_file.text(target).split()) != name:
                continue
            value = values[index] if len(values) == len(targets) else (
                values[0] if values else None)
            if value is not None and unparen(value).type in _BUILT:
                return True
    return False


_BUILT = frozenset({"call_expression", "composite_literal", "unary_expression", "func_literal",
                    "type_conversion_expression"})


def _judge(pass_: Pass, go_file: GoFile, statement: Node, checked: Node
           ) -> tuple[Severity, str] | None:
    verdict = _context_verdict(pass_, go_file, statement, checked)
    # The protections that cost a search of the package come last, for verdicts only.
    if verdict is None or lock_mode_at(statement, go_file, pass_.info) is not Mode.NONE:
        return None
    if _inside_once(statement, go_file) or _function_run_by_once(pass_, statement, go_file):
        return None
    return verdict


def _context_verdict(pass_: Pass, go_file: GoFile, statement: Node, checked: Node
                     ) -> tuple[Severity, str] | None:
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
    context = model.context_of(statement, go_file)
    if context is not None and model.sharing(checked, go_file, context) is not None:
        return Severity.ERROR, context.describe()
    function = enclosing_declaration(statement)
    if function is None:
        return None
    if (isinstance(symbol, LocalDecl) and symbol.kind == "receiver"
            and checked.type == "selector_expression" and _type_has_mutex(pass_, symbol, go_file)):
        return Severity.WARNING, "a method of a type that holds a mutex (its values are shared)"
    name_node = function.child_by_field_name("name")
    exported = name_node is not None and go_file.text(name_node)[:1].isupper()
    if is_package_var and exported:
        return Severity.WARNING, "an exported function, which callers may run on any goroutine"
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
    struct = type_from_node(decl.type_node, decl.file.imports)
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


def _function_run_by_once(pass_: Pass, statement: Node, go_file: GoFile) -> bool:
    """The enclosing named function is handed to `once.Do(f)` / `once.Do(x.f)` somewhere."""
    function = enclosing_declaration(statement)
    declaration = _declaration_of(pass_, function, go_file) if function is not None else None
    return declaration is not None and runs_under_once(pass_.package, pass_.info, declaration)


def _declaration_of(pass_: Pass, function: Node, go_file: GoFile) -> FuncDecl | None:
    name_node = function.child_by_field_name("name")
    if name_node is None:
        return None
    name = go_file.text(name_node)
    if function.type == "function_declaration":
        return pass_.package.funcs.get(name)
    receiver = receiver_type_name(function, go_file)
    return pass_.package.method(receiver, name) if receiver is not None else None


def _message(pass_: Pass, go_file: GoFile, checked: Node, where: str) -> str:
    name = "".join(go_file.text(checked).split())
    once = "sync.OnceValue or sync.Once" if pass_.allows(GO_1_21) else "sync.Once"
    lost = ("writes to the lost map vanish; " if pass_.info.is_map_expr(checked, go_file)
            else "")
    return (
        f"lazy initialisation of `{name}` without a lock in {where}: two goroutines can both "
        f"see nil and both assign, and one keeps using the value the other replaced ({lost}go "
        f"test -race reports a DATA RACE). Use {once}, initialise it eagerly, or take the "
        f"lock before the check"
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
    anchors=_NIL_CHECKS,
    bodies=_NIL_CHECKS,
)
