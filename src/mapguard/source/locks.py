"""Which locks are held at a statement (docs/lint.md, "Locks").

A lock is held when `x.Lock()` (for writes; `x.RLock()` is enough only for reads) was called
earlier in the same block or an enclosing block of the same function with no `x.Unlock()` in
between, or `defer x.Unlock()` follows `x.Lock()`; a wrapper's `g := x.Lock(...)` holds it until
`g.Unlock()` (or to the end with `defer g.Unlock()`); unexported wrappers
`x.lock()`/`x.unlock()` (and `rlock`/`runlock`) pair like `Lock`/`Unlock`. A lock that every
branch of an if/else chain takes (a branch that returns does not count) is held after the chain;
one taken under a flag (`if s.useMutex { s.mu.Lock() }`: a bool name or field, not a computed
condition) is held as if taken, and released by the matching `if s.useMutex { s.mu.Unlock() }`.
`TryLock` holds the lock where it succeeded: inside `if x.TryLock() { ... }`, and after a guard
`if !x.TryLock() { return }`; also when the `if` tests a variable the statement before it set to
the try (`ok := x.TryLock()`, with no other mention of `ok` in between). A compare-and-swap of a
flag between two distinct constants is a try-lock of the same kind, named after the flag:
`atomic.CompareAndSwapUint32(&busy, 0, 1)` (Int32/Int64/Uint32/Uint64, under whatever name the
file imports sync/atomic as) and the method `busy.CompareAndSwap(false, true)` (atomic.Bool,
atomic.Int32, ...: not told from other types' methods here, hence the constants) hold `busy`
where TryLock would, when that code stores the value swapped from back (`atomic.StoreUint32(&busy,
0)`, `busy.Store(false)`, or `Swap`; not in a goroutine or callback), until the first store
(deferred, or in a deferred closure: to the end). One of computed values
(`CompareAndSwapInt64(&n, old, old+1)`, a counter's retry loop) lets every caller through in
turn and is no lock; nor is one of named constants, nor one never set back there (a switch that
other code turns off, `CompareAndSwapUint32(&running, 1, 0)`, can run beside it).
A channel of capacity 1 used as a lock — `sem <- true` takes it, `<-sem` (or `defer func() {
<-sem }()`) gives it back — pairs the same way, when every `make` of that name in the package
(the file, without the package's types) has capacity 1: with a larger capacity it is a
semaphore that lets several goroutines in at once.
A function named `...Locked`/`..._locked`, or whose doc comment says the caller must hold a lock
("Lock should be held", "Read lock held on entry", ...), runs as if that lock were held; so does
an unexported function whose every call in the package's non-test code is made with a write lock
held; so does a handler function the package only ever hands to a wrapper that calls it with a
package-level mutex write-locked (directly, or through a route table ranged over to wrap each
entry). Code in a closure that is not started with `go` runs under the locks of the point where it
is written; a goroutine holds a lock its starter took before the `go` and the goroutine itself
unlocks, until that `Unlock`.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass

from tree_sitter import Node

from mapguard.source.branches import LEAVES
from mapguard.source.calls import call_sites
from mapguard.source.handler_uses import module_sources
from mapguard.source.package import FuncDecl, GoFile, VarDecl, receiver_type_name
from mapguard.source.typeinfo import (
    WORD_BYTES,
    TypeInfo,
    call_with_argument,
    enclosing_function,
    same_node,
    walk,
    word_hits,
)
from mapguard.source.types import Named, type_from_node

# How doc comments say that a function runs with a lock held. Real wordings vary a lot ("Lock
# should be held.", "Lock held on entry", "Write lock should be held", "callers must hold mu",
# "must be called with s.mu held", "Assumes lock is held", "REQUIRES s.mu is held", "This
# assumes that the mutex has been locked already"), so a clause counts when it names a lock
# and says it is held or locked — and does not negate it ("Lock should not be held", "No lock
# held on entry") or make it conditional ("No-op if the lock is not held").
_CLAUSE_END = re.compile(r"(?<=[.;:!?,])\s+")
# "lock", "mutex", "mu", and names ending in them: `s.mu`, `clMu`, `loggerMu`, `RLock`.
_LOCK_NOUN = re.compile(r"(?i)\b\w*(?:lock|locks|mutex|mutexes|mu)\b")
_HELD = re.compile(
    r"(?i)\b(?:held|locked)\b|\bcallers?\s+(?:must|should|is\s+expected\s+to|are\s+expected\s+to)"
    r"\s+(?:hold|own|lock)\b|\bmust\s+hold\b")
_NEGATED = re.compile(r"(?i)\b(?:not|never|no|without|nor)\b|n't\b")
_CONDITIONAL = re.compile(r"(?i)\b(?:if|unless|whether|when\s+not)\b")
_READ_ONLY = re.compile(r"(?i)\bread\s*(?:-\s*)?lock|\brlock\b|\bshared\s+lock")
_WRITE = re.compile(r"(?i)\bwrite\s*(?:-\s*)?lock|\bexclusive\b")


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
    semaphores = binary_semaphores(go_file, info)
    while True:
        function = enclosing_function(current)
        held = _held_in_function(current, function, go_file, semaphores)
        if held is not Mode.WRITE and info is not None and function is not None and (
            function.type != "func_literal"
        ) and (_all_callers_hold_lock(function, go_file, info, depth)
               or runs_under_wrapper_lock(function, go_file, info)):
            held = Mode.WRITE
        best = max(best, held)
        if best is Mode.WRITE or function is None:
            return best
        if function.type == "func_literal" and _started_with_go(function):
            return max(best, _handed_to_goroutine(current, function, go_file))
        if function.type != "func_literal":
            return best
        current = function  # a synchronous closure runs under its writer's locks


def locks_held(node: Node, go_file: GoFile, info: TypeInfo | None = None) -> dict[str, Mode]:
    """The locks the statements of the function around `node` hold where it runs, by lock
    (`"s.mu"`, `"s"` for an embedded mutex, `"s.store"` for a wrapper's `lock()`); not those
    its callers hold (`lock_mode_at` counts those too, without naming them)."""
    return _held_states(node, enclosing_function(node), go_file, binary_semaphores(go_file, info))


def _handed_to_goroutine(node: Node, literal: Node, go_file: GoFile) -> Mode:
    """A lock the starter holds at `go func() {...}()` and the goroutine releases itself
    (`mu.Lock(); go func() { ...; m[k] = v; mu.Unlock() }()`): a sync.Mutex belongs to no
    goroutine, so the goroutine holds it until its own `Unlock` (to its end when deferred)."""
    body = literal.child_by_field_name("body")
    statement = literal.parent
    while statement is not None and statement.type != "go_statement":
        statement = statement.parent
    if body is None or statement is None:
        return Mode.NONE
    taken: set[str] = set()
    released: dict[str, int] = {}  # lock -> where the goroutine unlocks it (-1: deferred)
    for inner in walk(body):
        if inner.type != "call_expression":
            continue
        lock, method = _lock_call(inner, go_file)
        if lock is None:
            continue
        if method in {"Lock", "RLock"}:
            taken.add(lock)
        elif method == "Unlock" and lock not in released:
            deferred = inner.parent is not None and inner.parent.type == "defer_statement"
            released[lock] = -1 if deferred else inner.start_byte
    if not released:
        return Mode.NONE
    starter = enclosing_function(statement)
    held = _held_states(statement, starter, go_file)
    for lock, until in released.items():
        if lock not in taken and held.get(lock) is Mode.WRITE and (
            until < 0 or node.start_byte < until
        ):
            return Mode.WRITE
    return Mode.NONE


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
                   else package.func_named(name))
    if declaration is None or not same_node(declaration.node, function):
        return False
    key = ("callers-hold-lock", id(declaration))
    if key in package.memo:
        return bool(package.memo[key])
    package.memo[key] = False  # recursion guard
    # A test that calls the helper directly (or takes it as a value) runs it on the test's
    # one goroutine: only the calls of non-test code say how the helper is meant to be used.
    sites = call_sites(package, info, declaration, in_tests=go_file.is_test) or []
    holds = bool(sites) and all(
        lock_mode_at(site.call, site.file, info, depth + 1) is Mode.WRITE for site in sites)
    package.memo[key] = holds
    return holds


def runs_under_wrapper_lock(function: Node, go_file: GoFile, info: TypeInfo) -> bool:
    """A handler function the package only ever hands to a wrapper that calls it with a
    package-level mutex write-locked (`func Middleware(inner http.Handler) http.Handler {
    return http.HandlerFunc(func(w, r) { mu.Lock(); inner.ServeHTTP(w, r); mu.Unlock() }) }`),
    directly or through a package-level table of routes ranged over to wrap each entry: every
    run of it holds that lock, whichever route it serves."""
    name_node = function.child_by_field_name("name")
    if function.type != "function_declaration" or name_node is None:
        return False
    package = info.package
    name = go_file.text(name_node)
    declaration = package.func_named(name)
    if declaration is None or not same_node(declaration.node, function):
        return False
    wrappers = _locking_wrappers(info)
    if not wrappers:
        return False
    key = ("wrapper-locked", id(declaration))
    if key not in package.memo:
        package.memo[key] = _only_handed_to_wrappers(info, declaration, wrappers)
    return bool(package.memo[key])


_HANDLER_TYPES = frozenset({("net/http", "Handler"), ("net/http", "HandlerFunc")})


def _locking_wrappers(info: TypeInfo) -> frozenset[str]:
    """The package's functions that take a handler and call it with a package-level mutex
    write-locked (memoised per package)."""
    package = info.package
    key = ("locking-wrappers",)
    if key in package.memo:
        return package.memo[key]  # type: ignore[return-value]
    found: set[str] = set()
    for declaration in package.funcs_outside_tests():
        body = declaration.body
        if body is None or b"ock" not in declaration.file.source[
            body.start_byte:body.end_byte
        ]:
            continue
        go_file = declaration.file
        handlers = _handler_parameters(declaration.node, go_file)
        if not handlers:
            continue
        for call in walk(go_file.complete(declaration.node).child_by_field_name("body")
                         or body):
            if call.type != "call_expression":
                continue
            called = call.child_by_field_name("function")
            target = called.child_by_field_name("operand") if called is not None and (
                called.type == "selector_expression"
                and go_file.text(called.child_by_field_name("field") or called) == "ServeHTTP"
            ) else called
            if target is None or target.type != "identifier" or go_file.text(
                target
            ) not in handlers:
                continue
            function = enclosing_function(call)
            locks = _held_states(call, function, go_file)
            if any(mode is Mode.WRITE and package.has_var(lock) for lock, mode in locks.items()):
                found.add(declaration.name)
    package.memo[key] = frozenset(found)
    return package.memo[key]  # type: ignore[return-value]


def _handler_parameters(function: Node, go_file: GoFile) -> set[str]:
    names: set[str] = set()
    parameters = function.child_by_field_name("parameters")
    for parameter in parameters.named_children if parameters is not None else ():
        declared = type_from_node(parameter.child_by_field_name("type"), go_file.imports)
        if isinstance(declared, Named) and (declared.pkg, declared.name) in _HANDLER_TYPES:
            names.update(go_file.text(n) for n in parameter.children_by_field_name("name"))
    return names


def _only_handed_to_wrappers(info: TypeInfo, declaration: FuncDecl,
                             wrappers: frozenset[str]) -> bool:
    """Every use of the function `name` in the package is an argument of a locking wrapper,
    or an entry of a package-level table whose every use wraps its entries; no other package
    of the module names it (`pkg.Name` could call it bare)."""
    package = info.package
    name = declaration.name
    tables: set[str] = set()
    uses = 0
    for go_file in package.files:
        for start, end in word_hits(go_file.source, name):
            node = go_file.node_at(start, end)
            if node is None or node.type != "identifier" or go_file.is_test:
                continue  # (a test calling the handler runs it on the test's goroutine)
            holder = node.parent
            if holder is not None and holder.type == "function_declaration":
                continue  # the declaration itself
            if info.resolve(node, go_file) is not declaration:
                continue  # a local of the same name
            uses += 1
            if _wrapped_argument(node, go_file, wrappers):
                continue
            table = _package_table(node, go_file)
            if table is None:
                return False
            tables.add(table)
    if not uses or not all(_table_entries_wrapped(info, table, wrappers) for table in tables):
        return False
    root = package.module.root if package.module is not None else None
    selector = re.compile(rb"\." + re.escape(name.encode()) + rb"\b")
    return root is None or not any(selector.search(s) for s in module_sources(root))


def _wrapped_argument(node: Node, go_file: GoFile, wrappers: frozenset[str]) -> bool:
    """`W(f)`, or `W(http.HandlerFunc(f))`, with W a locking wrapper."""
    call = call_with_argument(node)
    called = call.child_by_field_name("function") if call is not None else None
    if call is not None and called is not None and go_file.text(called) == "http.HandlerFunc":
        call = call_with_argument(call)
        called = call.child_by_field_name("function") if call is not None else None
    return called is not None and go_file.text(called) in wrappers


def _package_table(node: Node, go_file: GoFile) -> str | None:
    """The package-level variable whose composite literal holds `node` as a value."""
    current = node.parent
    if current is None or current.type not in {"literal_element", "keyed_element"}:
        return None
    while current is not None and current.type not in {"var_spec", "function_declaration",
                                                       "method_declaration", "func_literal"}:
        current = current.parent
    if current is None or current.type != "var_spec" or current.parent is None or (
        current.parent.type not in {"var_declaration", "var_spec_list"}
    ):
        return None
    if enclosing_function(current) is not None:
        return None
    names = current.children_by_field_name("name")
    return go_file.text(names[0]) if len(names) == 1 else None


def _table_entries_wrapped(info: TypeInfo, table: str, wrappers: frozenset[str]) -> bool:
    """Every use of the table is `for _, e := range table { ... W(e.X, ...) ... }`."""
    uses = 0
    for go_file in info.package.files:
        for start, end in word_hits(go_file.source, table):
            node = go_file.node_at(start, end)
            if node is None or node.type != "identifier" or go_file.is_test or (
                node.parent is not None and node.parent.type == "var_spec"
            ):
                continue
            symbol = info.resolve(node, go_file)
            if not isinstance(symbol, VarDecl) or symbol.name != table:
                continue  # a local of the same name
            uses += 1
            clause = node.parent
            left = clause.child_by_field_name("left") if clause is not None and (
                clause.type == "range_clause"
                and same_node(clause.child_by_field_name("right") or clause, node)
            ) else None
            entry = left.named_children[-1] if left is not None and left.named_children \
                else None
            loop = clause.parent if clause is not None else None
            body = loop.child_by_field_name("body") if loop is not None else None
            if entry is None or body is None or not any(
                inner.type == "call_expression"
                and go_file.text(inner.child_by_field_name("function") or inner) in wrappers
                and any(go_file.text(a).split(".")[0] == go_file.text(entry)
                        for a in (inner.child_by_field_name("arguments")
                                  or inner).named_children)
                for inner in walk(body)
            ):
                return False
    return uses > 0


def _held_in_function(node: Node, function: Node | None, go_file: GoFile,
                      semaphores: frozenset[str] = frozenset()) -> Mode:
    documented = (documented_lock(function, go_file)
                  if function is not None and function.type != "func_literal" else Mode.NONE)
    if documented is Mode.WRITE:
        return Mode.WRITE
    return max([documented, *_held_states(node, function, go_file, semaphores).values()])


def _held_states(node: Node, function: Node | None, go_file: GoFile,
                 semaphores: frozenset[str] = frozenset()) -> dict[str, Mode]:
    """The locks `function`'s own statements hold where `node` runs, by lock (`semaphores`:
    the names of the channels of capacity 1 that serve as locks, see `binary_semaphores`)."""
    states: dict[str, Mode] = {}
    deferred_unlock: set[str] = set()
    # Every lock call names a method with "ock" in it (`Lock`, `RUnlock`, `lock`), every
    # try-lock flag is taken with a `CompareAndSwap...`, every semaphore with `<-`: without one
    # in the text from the function's start to `node`, no statement before it takes a lock.
    if function is not None and not _may_lock(go_file.source, function.start_byte,
                                              node.start_byte, semaphores):
        return states
    # Walk the enclosing blocks from the outside in; in each, the statements before ours.
    chain: list[tuple[Node, Node]] = []
    child = node
    parent = node.parent
    while parent is not None and parent != function:
        if parent.type == "statement_list" or (
                parent.type == "if_statement"
                and same_node(child, parent.child_by_field_name("consequence"))):
            chain.append((parent, child))
        child = parent
        parent = parent.parent
    for block, ours in reversed(chain):
        if block.type == "if_statement":
            # `if mu.TryLock() { defer mu.Unlock(); ... }`: the body runs with the lock.
            condition = block.child_by_field_name("condition")
            lock, mode, negated = _try_lock(condition, go_file, block)
            if lock is not None and not negated:
                states[lock] = max(states.get(lock, Mode.NONE), mode)
            continue
        for statement in block.named_children:
            if statement.start_byte >= ours.start_byte:
                break
            _apply(statement, go_file, states, deferred_unlock, semaphores)
    return states


def _may_lock(source: bytes, start: int, end: int, semaphores: frozenset[str]) -> bool:
    return source.find(b"ock", start, end) >= 0 or (bool(semaphores) and (
        source.find(b"<-", start, end) >= 0)) or source.find(b"CompareAndSwap", start, end) >= 0


def _may_change_locks(statement: Node, go_file: GoFile, states: dict[str, Mode],
                      semaphores: frozenset[str]) -> bool:
    """Whether `statement` can take or release a lock: it names a lock method or a
    compare-and-swap (`_may_lock`); it stores to a try-lock flag while one may be held
    (`atomic.StoreUint32(&busy, 0)`, `running.Store(false)`, which name no "ock"); or it is an
    `if` after a try-lock whose result was kept in a variable (`ok := mu.TryLock()` ... `if !ok
    { return }`). Most statements are none of these, and are not walked into."""
    source, start, end = go_file.source, statement.start_byte, statement.end_byte
    if _may_lock(source, start, end, semaphores):
        return True
    if states and (source.find(b"Store", start, end) >= 0
                   or source.find(b"Swap", start, end) >= 0):
        return True
    if statement.type != "if_statement":
        return False
    # Only an `if` on a bare name (`if ok`, `if !(ok)`) can test a kept result: that is looked
    # at before the block's earlier text is searched for a try.
    condition = statement.child_by_field_name("condition")
    block = statement.parent
    return condition is not None and block is not None and _BARE_NAME.fullmatch(
        source, condition.start_byte, condition.end_byte) is not None and any(
        source.find(word, block.start_byte, start) >= 0 for word in _TRY_WORDS)


_BARE_NAME = re.compile(rb"[!(\s]*[A-Za-z_\x80-\xff][\w\x80-\xff]*[)\s]*")


def _apply(statement: Node, go_file: GoFile, states: dict[str, Mode], deferred: set[str],
           semaphores: frozenset[str] = frozenset()) -> None:
    if not _may_change_locks(statement, go_file, states, semaphores):
        return  # no lock named in it (see _held_states): nothing to walk into
    while statement.type == "labeled_statement" and statement.named_child_count > 1:
        statement = statement.named_children[-1]  # `done: mu.Lock()`
    kind = statement.type
    if kind == "if_statement":
        # `if s.useMutex { s.Lock(); defer s.Unlock() }`, or `if lock { b.Lock() }` ... `if lock
        # { b.Unlock() }`: locking switched by a flag (a bool parameter, variable or field) is
        # the code saying when it needs the lock — callers that pass false hold it already, a
        # value built without it is not shared. A condition on anything else (request data, a
        # call, a comparison) goes through the branches, where an optional lock is not held.
        condition = statement.child_by_field_name("condition")
        consequence = statement.child_by_field_name("consequence")
        body = [c for c in (consequence.named_children if consequence else [])
                if c.type != "comment"]
        if body and body[0].type == "statement_list":
            body = [c for c in body[0].named_children if c.type != "comment"]
        lock, mode, negated = _try_lock(condition, go_file, statement)
        if lock is not None and negated and body and statement.child_by_field_name(
                "alternative") is None and body[-1].type in LEAVES:
            # `if !mu.TryLock() { return }`: the code after the guard holds the lock.
            states[lock] = max(states.get(lock, Mode.NONE), mode)
            return
        if condition is not None and _is_flag(condition, go_file) and body and (
            statement.child_by_field_name("alternative") is None
        ) and all(_is_lock_statement(inner, go_file) for inner in body):
            for inner in body:
                _apply(inner, go_file, states, deferred, semaphores)
            return
        _apply_branches(statement, go_file, states, deferred, semaphores)
        return
    if semaphores and kind in ("send_statement", "expression_statement", "defer_statement"):
        taken, released = _semaphore_use(statement, go_file, semaphores)
        if taken is not None:
            states[taken] = Mode.WRITE
            return
        if released is not None:
            if kind == "defer_statement":
                deferred.add(released)
            elif released not in deferred:
                states.pop(released, None)
            return
    if kind == "defer_statement":
        call = statement.named_children[0] if statement.named_child_count else None
        lock, method = _lock_call(call, go_file)
        if lock is not None and method in {"Unlock", "RUnlock"}:
            deferred.add(lock)  # released at return: held for the rest of the function
        for flag in _deferred_flag_releases(call, go_file) if states else ():
            if flag in states:
                deferred.add(flag)  # `defer running.Store(false)`: the same
        return
    if kind == "short_var_declaration":
        # `guard := s.mu.Lock("why")`: a lock wrapper hands back what releases it
        # (`defer guard.Unlock()`): the guard's name stands for the lock from here on.
        left, right = (statement.child_by_field_name(f) for f in ("left", "right"))
        names = left.named_children if left is not None else []
        values = right.named_children if right is not None else []
        if len(names) == 1 and len(values) == 1 and names[0].type == "identifier":
            lock, method = _lock_call(values[0], go_file)
            if lock is not None and method in {"Lock", "RLock"}:
                states[go_file.text(names[0])] = Mode.WRITE if method == "Lock" else Mode.READ
        return
    if kind != "expression_statement" or not statement.named_child_count:
        return
    lock, method = _lock_call(statement.named_children[0], go_file)
    if lock is None:
        given_back = _flag_release(statement.named_children[0], go_file)
        if given_back is not None and given_back[0] not in deferred:
            # `atomic.StoreUint32(&busy, 0)`: the try-lock is given back, as by `Unlock`.
            states.pop(given_back[0], None)
        return
    if method == "Lock":
        states[lock] = Mode.WRITE
    elif method == "RLock":
        states[lock] = max(states.get(lock, Mode.NONE), Mode.READ)
    elif method in {"Unlock", "RUnlock"} and lock not in deferred:
        states.pop(lock, None)


def _apply_branches(statement: Node, go_file: GoFile, states: dict[str, Mode],
                    deferred: set[str], semaphores: frozenset[str] = frozenset()) -> None:
    """A lock that every branch of an if/else chain takes (`if x { mu.Lock(); defer
    mu.Unlock(); ... } else { mu.Lock(); defer mu.Unlock() }`) is held after it. Branches that
    return do not reach the code after the chain; without a final else, one path takes none."""
    blocks: list[Node] = []
    current: Node | None = statement
    while current is not None and current.type == "if_statement":
        consequence = current.child_by_field_name("consequence")
        if consequence is None:
            return
        blocks.append(consequence)
        current = current.child_by_field_name("alternative")
    if current is None:
        return
    blocks.append(current)
    outcomes: list[dict[str, Mode]] = []
    for block in blocks:
        body = [c for c in block.named_children if c.type != "comment"]
        if body and body[0].type == "statement_list":
            body = [c for c in body[0].named_children if c.type != "comment"]
        if body and body[-1].type in {"return_statement", "goto_statement"}:
            continue
        branch_states = dict(states)
        for inner in body:
            _apply(inner, go_file, branch_states, deferred, semaphores)
        outcomes.append(branch_states)
    if not outcomes:
        return
    # Only ever adds: what a branch releases is left as the code before the chain had it.
    for lock in set.intersection(*(set(outcome) for outcome in outcomes)):
        states[lock] = max(states.get(lock, Mode.NONE), min(outcome[lock] for outcome in outcomes))


# The try-lock methods, with the mode a successful try holds.
_TRY_METHODS = {"TryLock": Mode.WRITE, "TryRLock": Mode.READ}
# What a statement that tries a lock names: an `if` on a variable that holds a try's result is
# read only after one of these.
_TRY_WORDS = (b"TryLock", b"TryRLock", b"CompareAndSwap")


def _try_lock(condition: Node | None, go_file: GoFile, statement: Node | None = None
              ) -> tuple[str | None, Mode, bool]:
    """("s.mu", WRITE, negated) for an if condition `s.mu.TryLock()` or `!s.mu.TryLock()`
    (`TryRLock` for READ); ("busy", WRITE, negated) for a compare-and-swap of a flag used as a
    try-lock (`atomic.CompareAndSwapUint32(&busy, 0, 1)`, see `_cas_flag`); the same for a
    variable that the statement before the `if` (`statement`) set to such a call (`ok :=
    mu.TryLock()` ... `if ok`); (None, NONE, False) for any other condition."""
    negated = False
    while condition is not None and condition.type in {"parenthesized_expression",
                                                       "unary_expression"}:
        if condition.type == "unary_expression":
            if not go_file.text(condition).startswith("!"):
                break
            negated = not negated
            condition = condition.child_by_field_name("operand")
        else:
            condition = condition.named_children[0] if condition.named_child_count == 1 else None
    if condition is not None and condition.type == "identifier" and statement is not None:
        tried = _kept_try_result(go_file.text(condition), statement, go_file)
    else:
        tried = _tried_lock(condition, go_file)
    if tried is None or (tried.unlocked is not None and (statement is None or not any(
        _gives_back(node, tried, go_file) for node in _held_scope(statement, negated)
    ))):
        return None, Mode.NONE, False
    return tried.lock, tried.mode, negated


@dataclass(frozen=True, slots=True)
class _Try:
    """A try-lock call: the lock it names and takes; for a compare-and-swap of a flag, the
    value it swaps from, which the holder stores back to let the next one in."""

    lock: str
    mode: Mode
    unlocked: int | str | None = None


def _tried_lock(call: Node | None, go_file: GoFile) -> _Try | None:
    """`s.mu` (WRITE) for `s.mu.TryLock()` (READ for `TryRLock`), `busy` (WRITE, unlocked 0)
    for a try-lock compare-and-swap `atomic.CompareAndSwapUint32(&busy, 0, 1)`; None for
    anything else."""
    selected = _method_call(call, go_file) if call is not None and (
        call.type == "call_expression") else None
    if selected is None:
        return None
    method, operand, values = selected
    mode = _TRY_METHODS.get(method)
    if mode is None:
        return _cas_flag(method, operand, values, go_file)
    return _Try("".join(go_file.text(operand).split()), mode)


def _held_scope(statement: Node, negated: bool) -> list[Node]:
    """Where the `if` trying a lock holds it: its body, or for a guard (`if !try { return }`)
    the statements after it in its block."""
    if not negated:
        body = statement.child_by_field_name("consequence")
        return [body] if body is not None else []
    block = statement.parent
    return [s for s in block.named_children if s.start_byte >= statement.end_byte
            ] if block is not None else []


def _gives_back(node: Node, tried: _Try, go_file: GoFile) -> bool:
    """Whether `node` stores the flag of a CAS try-lock back to the value it swapped from, in
    the function's own code or in a deferred closure (a CAS 0→1 that nothing sets back to 0
    here is a switch other code turns off — `CompareAndSwapUint32(&running, 1, 0)` in a `Stop`
    — or a once-only gate, and the code after it may run beside that other code)."""
    pending = [node]
    while pending:
        current = pending.pop()
        if current.type == "func_literal" and not _deferred_closure(current):
            continue  # a goroutine or callback: it may give the flag back at any time
        if current.type == "call_expression":
            released = _flag_release(current, go_file)
            if released is not None and released[0] == tried.lock and (
                released[1] == tried.unlocked
            ):
                return True
        pending.extend(current.named_children)
    return False


def _deferred_closure(literal: Node) -> bool:
    """`defer func() { ... }()`."""
    call = literal.parent
    return call is not None and call.type == "call_expression" and (
        call.parent is not None and call.parent.type == "defer_statement")


def _kept_try_result(name: str, statement: Node, go_file: GoFile) -> _Try | None:
    """The lock tried by `name := <try>` when that is the last statement before `statement`
    (an `if`) in its block to mention `name` (neuvector's `doPing :=
    atomic.CompareAndSwapUint32(&_fedPingOngoing, 0, 1)` ... `if doPing {`): one that assigns
    or takes the address of the variable in between could change what it says."""
    block = statement.parent
    if block is None or block.type != "statement_list" or not any(
        go_file.source.find(word, block.start_byte, statement.start_byte) >= 0
        for word in _TRY_WORDS
    ):
        return None
    earlier = [s for s in block.named_children if s.end_byte <= statement.start_byte]
    for previous in reversed(earlier):
        if next(word_hits(go_file.source, name, previous.start_byte, previous.end_byte),
                None) is None:
            continue
        if previous.type != "short_var_declaration":
            return None
        left, right = (previous.child_by_field_name(f) for f in ("left", "right"))
        names = left.named_children if left is not None else []
        values = right.named_children if right is not None else []
        if len(names) != 1 or len(values) != 1 or go_file.text(names[0]) != name:
            return None
        return _tried_lock(values[0], go_file)
    return None


# sync/atomic's compare-and-swap and store functions for the integer types a flag is kept in
# (`CompareAndSwapPointer` and `CompareAndSwapUintptr` swap addresses, not flags).
_ATOMIC_INTEGERS = ("Int32", "Int64", "Uint32", "Uint64")
_CAS_FUNCTIONS = frozenset(f"CompareAndSwap{t}" for t in _ATOMIC_INTEGERS)
_FLAG_RELEASES = frozenset(f"{op}{t}" for op in ("Store", "Swap") for t in _ATOMIC_INTEGERS)
# The operands a try-lock flag goes between: fixed values, not computed ones.
_CONSTANTS = frozenset({"int_literal", "true", "false"})


def _cas_flag(method: str, operand: Node, values: list[Node], go_file: GoFile
              ) -> _Try | None:
    """`busy`, unlocked 0, for `atomic.CompareAndSwapUint32(&busy, 0, 1)` (the package under
    the name the file imports sync/atomic as) and `busy`, unlocked false, for
    `busy.CompareAndSwap(false, true)` (the method of atomic.Bool, atomic.Int32, ...): a flag
    swapped between two distinct constants succeeds for one caller until the flag is stored
    back, a try-lock. A CAS of computed values (`CompareAndSwapInt64(&n, old, old+1)` in a retry
    loop) is a counter update, none; nor is one whose values are named constants (not told
    apart from variables here). The call is given as `_method_call` reads it."""
    flag: str | None
    if method in _CAS_FUNCTIONS and _is_atomic_package(operand, go_file) and len(values) == 3:
        flag = _address_of(values[0], go_file)
        values = values[1:]
    elif method == "CompareAndSwap" and len(values) == 2:
        flag = "".join(go_file.text(operand).split())
    else:
        return None
    old, new = values
    unlocked = _constant_value(go_file.text(old))
    if flag is None or old.type not in _CONSTANTS or new.type not in _CONSTANTS or (
        unlocked == _constant_value(go_file.text(new))
    ):
        return None
    return _Try(flag, Mode.WRITE, unlocked)


def _flag_release(call: Node | None, go_file: GoFile) -> tuple[str, int | str | None] | None:
    """("busy", 0) for `atomic.StoreUint32(&busy, 0)` or `busy.Store(0)` (also the `Swap`
    forms; None for a value that is no literal constant): what the flag of a try-lock CAS is
    given back with. A CAS holds its flag only where a store of the value it swapped from
    follows (`_gives_back`); once held, any store gives it back: a lock given back too early
    only keeps findings."""
    selected = _method_call(call, go_file) if call is not None and (
        call.type == "call_expression") else None
    if selected is None:
        return None
    method, operand, values = selected
    if method in _FLAG_RELEASES and len(values) == 2 and _is_atomic_package(operand, go_file):
        flag = _address_of(values[0], go_file)
    elif method in {"Store", "Swap"} and len(values) == 1:
        flag = "".join(go_file.text(operand).split())
    else:
        return None
    value = values[-1]
    return (flag, _constant_value(go_file.text(value)) if value.type in _CONSTANTS else None
            ) if flag is not None else None


def _method_call(call: Node, go_file: GoFile) -> tuple[str, Node, list[Node]] | None:
    """("CompareAndSwapUint32", `atomic`, [&busy, 0, 1]) for a call of a selector
    (`atomic.CompareAndSwapUint32(&busy, 0, 1)`, `busy.Store(false)`): the name called, what
    it is selected from and the arguments; None for any other call."""
    function = call.child_by_field_name("function")
    arguments = call.child_by_field_name("arguments")
    if function is None or arguments is None or function.type != "selector_expression":
        return None
    field, operand = (function.child_by_field_name("field"),
                      function.child_by_field_name("operand"))
    if field is None or operand is None:
        return None
    return (go_file.text(field), operand,
            [a for a in arguments.named_children if a.type != "comment"])


def _deferred_flag_releases(call: Node | None, go_file: GoFile) -> list[str]:
    """The flags a deferred call gives back: `defer running.Store(false)`, or a store in the
    deferred closure (`defer func() { atomic.StoreUint32(&busy, 0) }()`)."""
    if call is None or call.type != "call_expression":
        return []
    literal = call.child_by_field_name("function")
    if literal is None or literal.type != "func_literal":
        released = _flag_release(call, go_file)
        return [released[0]] if released is not None else []
    stores = (_flag_release(inner, go_file) for inner in walk(literal)
              if inner.type == "call_expression")
    return [store[0] for store in stores if store is not None]


def _is_atomic_package(operand: Node, go_file: GoFile) -> bool:
    return operand.type == "identifier" and go_file.imports.get(
        go_file.text(operand)) == "sync/atomic"


def _address_of(argument: Node, go_file: GoFile) -> str | None:
    """"s.busy" for `&s.busy`; None for anything but an address."""
    while argument.type == "parenthesized_expression" and argument.named_child_count == 1:
        argument = argument.named_children[0]
    operand = argument.child_by_field_name("operand")
    if argument.type != "unary_expression" or operand is None or not go_file.text(
            argument).startswith("&"):
        return None
    return "".join(go_file.text(operand).split())


def _constant_value(text: str) -> int | str:
    """A literal's value, so that `0` and `0x0` are one."""
    try:
        return int(text, 0)
    except ValueError:
        return text


def _is_flag(condition: Node, go_file: GoFile) -> bool:
    """A plain name or field chain (`locking`, `s.cfg.useMutex`), maybe negated: a switch (a
    bool parameter, variable or field), not a computation."""
    while condition.type == "parenthesized_expression" and condition.named_child_count == 1:
        condition = condition.named_children[0]
    if condition.type == "unary_expression" and go_file.text(condition).startswith("!"):
        operand = condition.child_by_field_name("operand")
        return operand is not None and _is_flag(operand, go_file)
    while condition.type == "selector_expression":
        operand = condition.child_by_field_name("operand")
        if operand is None:
            return False
        condition = operand
    return condition.type == "identifier"


# `name = make(`, `name := make(`, `var name = make(`, and a field's `name: make(`: what
# stands before a `make(` found by `_MAKE_CALL`, read backwards from it (a pattern led by a
# name would be tried at every word of the file, the slowest part of a lint of nats-server).
# Only a channel's make counts: its first argument starts with `chan`.
_MAKE_CALL = re.compile(rb"make\((?=\s*chan)")
_BLANKS = b" \t\n\r\f\v"  # what `\s` matches in a bytes pattern


def binary_semaphores(go_file: GoFile, info: TypeInfo | None = None) -> frozenset[str]:
    """Names (variables or fields) of channels every `make` of which has capacity 1: used as
    `sem <- v` ... `<-sem`, such a channel admits one goroutine at a time, as a mutex does. Read
    over the package's non-test files (memoised), or the file alone without the package."""
    if info is None:
        return channel_locks_in((go_file.source,))
    key = ("binary-semaphores",)
    memo = info.package.memo
    if key not in memo:
        memo[key] = channel_locks_in(tuple(f.source for f in info.package.files
                                         if not f.is_test))
    return memo[key]  # type: ignore[return-value]


# Memoised: the lock model asks once per statement it judges, of the same file or package
# (a tuple of the same bytes objects hashes and compares by identity after the first time).
@functools.lru_cache(maxsize=64)
def channel_locks_in(sources: tuple[bytes, ...]) -> frozenset[str]:
    """The names every `make` of which in `sources` is a channel of capacity 1."""
    single: set[str] = set()
    other: set[str] = set()
    for source in sources:
        if b"make(chan" not in source and b"make( chan" not in source:
            continue
        for match in _MAKE_CALL.finditer(source):
            name = _assigned_name(source, match.start())
            if name is None:
                continue
            arguments = _top_level_arguments(source, match.end())
            if arguments and arguments[0].startswith(b"chan"):
                capacity = arguments[1] if len(arguments) > 1 else b""
                (single if capacity == b"1" else other).add(name)
    return frozenset(single - other)


def _assigned_name(source: bytes, make: int) -> str | None:
    """The name assigned the `make(` at `make`: what `\\b([A-Za-z_]\\w*)\\s*(?::=|=|:)\\s*`
    matches just before it, read backwards."""
    end = len(source[:make].rstrip(_BLANKS))
    if end >= 2 and source[end - 2:end] == b":=":
        end -= 2
    elif end >= 1 and source[end - 1:end] in (b"=", b":"):
        end -= 1
    else:
        return None
    end = len(source[:end].rstrip(_BLANKS))
    begin = end
    while begin > 0 and source[begin - 1] in WORD_BYTES:
        begin -= 1
    if begin == end or source[begin] in _DIGITS:
        return None
    return source[begin:end].decode()


_DIGITS = frozenset(b"0123456789")


def _top_level_arguments(source: bytes, start: int) -> list[bytes]:
    """The comma-separated arguments of the call whose `(` ends just before `start`."""
    arguments: list[bytes] = []
    depth = 0
    begin = start
    for offset in range(start, min(len(source), start + 400)):
        byte = source[offset]
        if byte in b"([{":
            depth += 1
        elif byte in b")]}":
            if depth == 0:
                arguments.append(source[begin:offset].strip())
                return arguments
            depth -= 1
        elif byte == ord(",") and depth == 0:
            arguments.append(source[begin:offset].strip())
            begin = offset + 1
    return []


def _semaphore_use(statement: Node, go_file: GoFile, semaphores: frozenset[str]
                   ) -> tuple[str | None, str | None]:
    """(lock taken, lock released) by a statement: `sem <- v` takes `sem`; `<-sem` and
    `defer func() { <-sem }()` give it back."""
    if statement.type == "send_statement":
        channel = statement.child_by_field_name("channel")
        return (_semaphore_key(channel, go_file, semaphores), None)
    if statement.type == "defer_statement":
        call = statement.named_children[0] if statement.named_child_count else None
        literal = call.child_by_field_name("function") if call is not None and (
            call.type == "call_expression") else None
        body = literal.child_by_field_name("body") if literal is not None and (
            literal.type == "func_literal") else None
        inner = [c for c in body.named_children if c.type != "comment"] if body else []
        if len(inner) == 1 and inner[0].type == "statement_list":
            inner = [c for c in inner[0].named_children if c.type != "comment"]
        if len(inner) != 1:
            return None, None
        statement = inner[0]
    if statement.type != "expression_statement" or not statement.named_child_count:
        return None, None
    expression = statement.named_children[0]
    operator = expression.child_by_field_name("operator")
    if expression.type != "unary_expression" or operator is None or go_file.text(
            operator) != "<-":
        return None, None
    return None, _semaphore_key(expression.child_by_field_name("operand"), go_file, semaphores)


def _semaphore_key(channel: Node | None, go_file: GoFile, semaphores: frozenset[str]
                   ) -> str | None:
    """`sem` or `s.sem` when its last name is a binary semaphore's."""
    if channel is None:
        return None
    name = channel
    if name.type == "selector_expression":
        name = name.child_by_field_name("field") or name
    if name.type not in ("identifier", "field_identifier") or go_file.text(
            name) not in semaphores:
        return None
    return "".join(go_file.text(channel).split())


def _is_lock_statement(statement: Node, go_file: GoFile) -> bool:
    """`mu.Lock()`, `mu.Unlock()`, `defer mu.Unlock()` and their read and wrapper forms."""
    if statement.type not in {"expression_statement", "defer_statement"} or (
        not statement.named_child_count
    ):
        return False
    return _lock_call(statement.named_children[0], go_file)[0] is not None


# A store or cache that hides its mutex behind an interface takes it through unexported
# wrappers (`s.store.lock()` ... `defer s.store.unlock()`, every implementation wrapping a
# sync.RWMutex): the same pairing, in lower case.
_LOCK_METHODS = {"Lock": "Lock", "RLock": "RLock", "Unlock": "Unlock", "RUnlock": "RUnlock",
                 "lock": "Lock", "rlock": "RLock", "unlock": "Unlock", "runlock": "RUnlock"}


def _lock_call(call: Node | None, go_file: GoFile) -> tuple[str | None, str]:
    """("s.mu", "Lock") for `s.mu.Lock()`; ("s", "Lock") for an embedded mutex's `s.Lock()`;
    ("s.store", "Lock") for a wrapper's `s.store.lock()`."""
    if call is None or call.type != "call_expression":
        return None, ""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None, ""
    field = function.child_by_field_name("field")
    operand = function.child_by_field_name("operand")
    if field is None or operand is None:
        return None, ""
    method = _LOCK_METHODS.get(go_file.text(field))
    if method is None:
        return None, ""
    return "".join(go_file.text(operand).split()), method


def documented_lock(function: Node, go_file: GoFile) -> Mode:
    """The lock the function's name or doc comment says its caller holds: WRITE for
    `fooLocked` and "Lock should be held", READ for "Read lock should be held"."""
    name_node = function.child_by_field_name("name")
    name = go_file.text(name_node) if name_node is not None else ""
    if name.endswith(("Locked", "_locked")):
        return Mode.WRITE
    return lock_held_by_doc(doc_comment(function, go_file))


def lock_held_by_doc(doc: str) -> Mode:
    """What a doc comment says about the lock its function's caller holds."""
    held = Mode.NONE
    for clause in _CLAUSE_END.split(doc):
        if not (_LOCK_NOUN.search(clause) and _HELD.search(clause)):
            continue
        if _NEGATED.search(clause) or _CONDITIONAL.search(clause):
            continue
        read_only = _READ_ONLY.search(clause) and not _WRITE.search(clause)
        held = max(held, Mode.READ if read_only else Mode.WRITE)
    return held


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
