"""Which locks are held at a statement (docs/lint.md, "Locks").

A lock is held when `x.Lock()` (for writes; `x.RLock()` is enough only for reads) was called
earlier in the same block or an enclosing block of the same function with no `x.Unlock()` in
between, or `defer x.Unlock()` follows `x.Lock()`. A function named `...Locked`/`..._locked`, or
whose doc comment says the caller must hold a lock, runs as if a write lock were held; so does
an unexported function whose every call in the package is made with a write lock held. Code in
a closure that is not started with `go` runs under the locks of the point where it is written.
"""

from __future__ import annotations

import enum
import re

from tree_sitter import Node

from mapguard.source.calls import call_sites
from mapguard.source.package import GoFile, receiver_type_name
from mapguard.source.typeinfo import TypeInfo, enclosing_function, same_node

_CALLER_HOLDS = re.compile(
    r"(?i)\b(?:the\s+)?callers?\s+(?:must|should|is\s+expected\s+to)\s+"
    r"(?:hold|have\s+locked|lock|own)\b"
    r"|\b(?:must\s+be\s+)?called\s+with\s+[\w.]+(?:\s+\w+)?\s+(?:held|locked)\b"
    r"|\b[\w.]+\s+must\s+be\s+(?:held|locked)\b"
    r"|\brequires?\s+(?:that\s+)?[\w.]+(?:\s+\w+)?\s+(?:is\s+|be\s+|to\s+be\s+)?"
    r"(?:held|locked)\b"
    r"|\bassumes?\s+[\w.]+(?:\s+\w+)?\s+is\s+(?:held|locked)\b"
    r"|\b(?:is|are)\s+(?:held|locked)\s+by\s+the\s+caller\b"
)


class Mode(enum.IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2


def lock_mode_at(node: Node, go_file: GoFile, info: TypeInfo | None = None,
                 depth: int = 0) -> Mode:
    """The strongest lock held where `node` runs (NONE, READ or WRITE). With the package's
    TypeInfo, an unexported function whose every caller holds a write lock counts as locked."""
    best = Mode.NONE
    current = node
    while True:
        function = enclosing_function(current)
        held = _held_in_function(current, function, go_file)
        if held is not Mode.WRITE and info is not None and function is not None and (
            function.type != "func_literal"
        ) and _all_callers_hold_lock(function, go_file, info, depth):
            held = Mode.WRITE
        best = max(best, held)
        if best is Mode.WRITE or function is None:
            return best
        if function.type != "func_literal" or _started_with_go(function):
            return best
        current = function  # a synchronous closure runs under its writer's locks


def _all_callers_hold_lock(function: Node, go_file: GoFile, info: TypeInfo, depth: int
                           ) -> bool:
    package = info.package
    name_node = function.child_by_field_name("name")
    if name_node is None or depth >= 2:
        return False
    name = go_file.text(name_node)
    if name[:1].isupper():
        return False  # exported: callers outside the package are out of sight
    receiver = receiver_type_name(function, go_file) if function.type == (
        "method_declaration") else None
    declaration = (package.method(receiver, name) if receiver is not None
                   else package.funcs.get(name))
    if declaration is None or not same_node(declaration.node, function):
        return False
    key = ("callers-hold-lock", id(declaration))
    if key in package.memo:
        return bool(package.memo[key])
    package.memo[key] = False  # recursion guard
    sites = call_sites(package, info, declaration)
    holds = bool(sites) and all(
        lock_mode_at(site.call, site.file, info, depth + 1) is Mode.WRITE for site in sites or ())
    package.memo[key] = holds
    return holds


def _held_in_function(node: Node, function: Node | None, go_file: GoFile) -> Mode:
    if function is not None and function.type != "func_literal" and caller_holds_lock(
        function, go_file
    ):
        return Mode.WRITE
    states: dict[str, Mode] = {}
    deferred_unlock: set[str] = set()
    # Walk the enclosing blocks from the outside in; in each, the statements before ours.
    chain: list[tuple[Node, Node]] = []
    child = node
    parent = node.parent
    while parent is not None and parent != function:
        if parent.type == "statement_list":
            chain.append((parent, child))
        child = parent
        parent = parent.parent
    for block, ours in reversed(chain):
        for statement in block.named_children:
            if statement.start_byte >= ours.start_byte:
                break
            _apply(statement, go_file, states, deferred_unlock)
    return max(states.values(), default=Mode.NONE)


def _apply(statement: Node, go_file: GoFile, states: dict[str, Mode], deferred: set[str]) -> None:
    kind = statement.type
    if kind == "defer_statement":
        call = statement.named_children[0] if statement.named_child_count else None
        lock, method = _lock_call(call, go_file)
        if lock is not None and method in {"Unlock", "RUnlock"}:
            deferred.add(lock)  # released at return: held for the rest of the function
        return
    if kind != "expression_statement" or not statement.named_child_count:
        return
    lock, method = _lock_call(statement.named_children[0], go_file)
    if lock is None:
        return
    if method == "Lock":
        states[lock] = Mode.WRITE
    elif method == "RLock":
        states[lock] = max(states.get(lock, Mode.NONE), Mode.READ)
    elif method in {"Unlock", "RUnlock"} and lock not in deferred:
        states.pop(lock, None)


def _lock_call(call: Node | None, go_file: GoFile) -> tuple[str | None, str]:
    """("s.mu", "Lock") for `s.mu.Lock()`; ("s", "Lock") for an embedded mutex's `s.Lock()`."""
    if call is None or call.type != "call_expression":
        return None, ""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None, ""
    field = function.child_by_field_name("field")
    operand = function.child_by_field_name("operand")
    if field is None or operand is None:
        return None, ""
    method = go_file.text(field)
    if method not in {"Lock", "RLock", "Unlock", "RUnlock"}:
        return None, ""
    return "".join(go_file.text(operand).split()), method


def caller_holds_lock(function: Node, go_file: GoFile) -> bool:
    """`fooLocked`, `foo_locked`, or a doc comment saying the caller holds the lock."""
    name_node = function.child_by_field_name("name")
    name = go_file.text(name_node) if name_node is not None else ""
    if name.endswith(("Locked", "_locked")):
        return True
    return _CALLER_HOLDS.search(doc_comment(function, go_file)) is not None


def doc_comment(declaration: Node, go_file: GoFile) -> str:
    """The `//` comment lines directly above a declaration (read from the text, so that it
    works for a function parsed on its own as well)."""
    lines: list[str] = []
    end = go_file.source.rfind(b"\n", 0, declaration.start_byte)
    while end > 0:
        start = go_file.source.rfind(b"\n", 0, end) + 1
        line = go_file.source[start:end].strip()
        if not line.startswith(b"//"):
            break
        lines.append(line.decode("utf-8", "replace").lstrip("/ "))
        end = start - 1
    return " ".join(reversed(lines))


def _started_with_go(literal: Node) -> bool:
    parent = literal.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    return (parent is not None and parent.type == "call_expression"
            and parent.parent is not None and parent.parent.type == "go_statement")
