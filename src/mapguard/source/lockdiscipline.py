"""Maps a type guards with its own mutex, written by one of its methods without that mutex.

A type's methods that write its map field `s.m` while holding the type's own mutex
exclusively (`s.mu.Lock()`, or an embedded mutex's `s.Lock()`), in at least two functions, show
the type's rule for that map: it is written under the lock. A method of the type that writes
`s.m` through its receiver with no lock, or with only the read lock (`s.mu.RLock()`), breaks
that rule. With only the read lock it is a race by the lock's own meaning: an RLock admits any
number of holders at once, and each of them may be reading or writing the map (MG004). With
no lock at all it is a race only if the method runs while the value is shared, which the text
does not show (MG014): a set-up phase, a method called with the lock held by a caller in
another package, or a lock held across calls (taken by one method and released by another)
all look the same.

What is left out, because the write runs before the value is shared or under a lock the
rule can see: a function that makes the value (a composite literal of the type in its body);
`init`; an unexported method whose every call in the package holds a write lock, is made in a
function that makes the value, on a value just made (`v := NewT(); v.load()`, `&T{...}`), or in
another such method; an unexported method the package uses as a value (who calls it, under
which lock, is not seen; an exported one may be called from anywhere, as any exported method);
a method that releases the receiver's lock without taking it (it runs with the lock held); a
method documented or named as running with the lock held (see `locks`).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from tree_sitter import Node

from mapguard.source.calls import call_sites
from mapguard.source.locks import Mode, lock_mode_at, locks_held
from mapguard.source.mapwrites import MapWrite, map_writes
from mapguard.source.package import GoFile, Package, receiver_type_name
from mapguard.source.typeinfo import (
    TypeInfo,
    enclosing_declaration,
    field_hits,
    unparen,
    walk,
)
from mapguard.source.types import Named, deref

# Fewer distinct functions than this writing the map under the exclusive lock is no rule: one
# locked write is as often a lock taken for another field (round of 2026-12-07).
MIN_LOCKED_WRITERS = 2
# How far up the callers of an unexported method are followed to learn whether it runs on a
# value not yet shared, or with the lock held.
MAX_CALLER_DEPTH = 3


@dataclass(frozen=True, slots=True)
class UnguardedWrite:
    """A method's write to its receiver's map field that the type elsewhere guards."""

    write: MapWrite
    mode: Mode  # NONE, or READ: only the receiver's read lock is held
    method: str  # `(*Store).Reset`
    evidence: tuple[str, ...]  # file:line of the locked writes in other functions


def unguarded_writes(package: Package, info: TypeInfo, mode: Mode) -> list[UnguardedWrite]:
    """The package's writes of that kind in non-test code: `mode` READ (MG004) or NONE (MG014).
    Memoised per mode: a run with both rules judges each write once per rule that asks."""
    key = ("unguarded-writes", mode)
    found = package.memo.get(key)
    if not isinstance(found, list):
        found = package.memo[key] = list(_find(package, info, mode))
    return found


# A method that writes with only the read lock names it (`RLock()`, a wrapper's `rlock()`); one
# that writes with none belongs to a type whose methods lock (`Lock()`, a wrapper's `lock()`).
_READ_LOCKING = (b"RLock()", b"rlock()")
_LOCKING = (b"Lock()", b"lock()")


def _find(package: Package, info: TypeInfo, mode: Mode) -> list[UnguardedWrite]:
    """Only the methods that can hold such a write are searched, found from the text, and
    only their writes are typed: typing every index write of a package, and parsing every
    body for it, tripled the lint's time on etcd."""
    if mode is Mode.READ:
        regions = _methods_at(package, _READ_LOCKING)
    else:
        locking = {receiver_type_name(node, go_file) for go_file, node in
                   _methods_at(package, _LOCKING)}
        regions = [(go_file, node) for go_file, node in _all_methods(package)
                   if receiver_type_name(node, go_file) in locking]
    found: list[UnguardedWrite] = []
    for write in map_writes(package, info, regions):
        judged = _judge(package, info, write, mode)
        if judged is not None:
            found.append(judged)
    return found


def _methods_at(package: Package, words: tuple[bytes, ...]) -> list[tuple[GoFile, Node]]:
    """The methods of the package's non-test files whose text holds one of `words` (plain
    searches: a pattern without a literal to look for first scanned each file slowly)."""
    found: dict[tuple[int, int], tuple[GoFile, Node]] = {}
    for go_file in package.files:
        if go_file.is_test:
            continue
        source = go_file.source
        for word in words:
            at = source.find(word)
            while at >= 0:
                # A method whose text writes no map through its receiver needs no parse (most
                # do not): `s.m[k] = v`, `delete(s.m, k)` for a receiver `s`.
                start = source.rfind(b"\nfunc ", 0, at) + 1
                end = source.find(b"\nfunc ", at)
                end = len(source) if end < 0 else end
                if not _writes_through_receiver(source, start, end):
                    at = source.find(word, end)
                    continue
                node = go_file.node_at(at, at + len(word))
                method = enclosing_declaration(node) if node is not None else None
                if method is not None and method.type == "method_declaration":
                    found.setdefault((id(go_file), method.start_byte), (go_file, method))
                    at = source.find(word, method.end_byte)  # the rest of it adds nothing
                else:
                    at = source.find(word, at + len(word))
    return list(found.values())


# `func (s *Store) ` at the start of a line: a method's header.
_METHOD_HEADER = re.compile(rb"^func \(", re.M)


# `func (s *Store) `: the receiver's name.
_RECEIVER = re.compile(rb"func \(([A-Za-z_]\w*) ")


def _writes_through_receiver(source: bytes, start: int, end: int) -> bool:
    """Whether the method's text at [start, end) holds what a write of one of its receiver's
    map fields looks like (told from the text: the parse comes after, for the few that do)."""
    receiver = _RECEIVER.match(source, start)
    if receiver is None:
        return False
    name = receiver.group(1)
    return (_receiver_index_write(name).search(source, start, end) is not None
            or source.find(b"delete(" + name + b".", start, end) >= 0
            or source.find(b"clear(" + name + b".", start, end) >= 0)


@functools.lru_cache(maxsize=64)
def _receiver_index_write(name: bytes) -> re.Pattern[bytes]:
    """`s.m[k] = v` and the like; starting with the name, so a search skips ahead to it (a
    `xs.m[k] = v` passes too: only a filter before the parse)."""
    return re.compile(re.escape(name) + rb"\.\w+\[[^\n]*\][ \t]*(?:=[^=]|\+\+|--|[-+*/%&|^]=)")


def _all_methods(package: Package) -> list[tuple[GoFile, Node]]:
    found: list[tuple[GoFile, Node]] = []
    for go_file in package.files:
        if go_file.is_test:
            continue
        for hit in _METHOD_HEADER.finditer(go_file.source):
            node = go_file.node_at(hit.start(), hit.end())
            while node is not None and node.type != "method_declaration":
                node = node.parent
            if node is not None:
                found.append((go_file, node))
    return found


def _judge(package: Package, info: TypeInfo, write: MapWrite, wanted: Mode
           ) -> UnguardedWrite | None:
    """The write, when it is one of `wanted` kind; the checks run cheapest first."""
    go_file = write.file
    target = unparen(write.target)
    if target.type != "selector_expression":
        return None
    operand = target.child_by_field_name("operand")
    field = target.child_by_field_name("field")
    method = enclosing_declaration(write.statement)
    if operand is None or field is None or method is None or (
            method.type != "method_declaration"):
        return None
    receiver = _receiver_name(method, go_file)
    if receiver is None or operand.type != "identifier" or go_file.text(operand) != receiver:
        return None
    held = _on(locks_held(write.statement, go_file, info), receiver)
    if held is Mode.WRITE or (held is Mode.READ) != (wanted is Mode.READ):
        return None
    owner = deref(info.type_of(operand, go_file))
    if not isinstance(owner, Named) or _makes(method, go_file, owner):
        return None
    writers = {writer for _where, writer in _locked_writes(package, info, owner,
                                                           go_file.text(field))
               if writer != (id(go_file), method.start_byte)}
    if len(writers) < MIN_LOCKED_WRITERS or _releases_without_taking(method, go_file,
                                                                     receiver):
        return None
    if lock_mode_at(write.statement, go_file, info) is Mode.WRITE:
        return None  # a lock its callers hold, its name or its doc says it holds
    if _before_sharing(package, info, method, go_file, owner, 0):
        return None
    evidence = [where for where, writer in _locked_writes(package, info, owner,
                                                          go_file.text(field))
                if writer != (id(go_file), method.start_byte)]
    name = _receiver_type_text(method, go_file)
    method_name = go_file.text(method.child_by_field_name("name") or method)
    return UnguardedWrite(write, wanted, f"({name}).{method_name}", tuple(evidence))


def _receiver_name(method: Node, go_file: GoFile) -> str | None:
    receiver = method.child_by_field_name("receiver")
    for declaration in receiver.named_children if receiver is not None else []:
        name = declaration.child_by_field_name("name")
        if name is not None:
            return go_file.text(name)
    return None


def _receiver_type_text(method: Node, go_file: GoFile) -> str:
    receiver = method.child_by_field_name("receiver")
    for declaration in receiver.named_children if receiver is not None else []:
        type_node = declaration.child_by_field_name("type")
        if type_node is not None:
            return "".join(go_file.text(type_node).split())
    return "?"


def _on(held: dict[str, Mode], operand: str) -> Mode:
    """The strongest of the held locks that belong to `operand` (`s.mu`, or `s` itself)."""
    best = Mode.NONE
    for lock, mode in held.items():
        if lock == operand or lock.startswith(operand + "."):
            best = max(best, mode)
    return best


def _locked_writes(package: Package, info: TypeInfo, owner: Named, name: str
                   ) -> list[tuple[str, tuple[int, int]]]:
    """(file:line, writing function) of the writes of field `name` of values of `owner`'s
    type made with that value's own lock held exclusively (memoised per field)."""
    key = ("locked-field-writes", owner.pkg, owner.name, name)
    cached = package.memo.get(key)
    if isinstance(cached, list):
        return cached
    found: list[tuple[str, tuple[int, int]]] = []
    for go_file in package.files:
        if go_file.is_test:
            continue
        for start, end in field_hits(go_file.source, name):
            node = go_file.node_at(start, end, named=False)
            selector = node.parent if node is not None else None
            if node is None or node.type != "field_identifier" or selector is None or (
                    selector.type != "selector_expression") or not _written(selector):
                continue
            operand = selector.child_by_field_name("operand")
            other = deref(info.type_of(operand, go_file)) if operand is not None else None
            if operand is None or not isinstance(other, Named) or (
                    other.pkg, other.name) != (owner.pkg, owner.name):
                continue
            text = "".join(go_file.text(operand).split())
            if _on(locks_held(node, go_file, info), text) is not Mode.WRITE:
                continue
            writer = enclosing_declaration(node)
            if writer is not None:
                found.append((f"{go_file.path.name}:{node.start_point.row + 1}",
                              (id(go_file), writer.start_byte)))
    package.memo[key] = found
    return found


def _written(selector: Node) -> bool:
    """`x.f[k] = v`, `x.f[k]++`, `x.f[k] op= v`, `delete(x.f, k)`, `clear(x.f)`."""
    parent = selector.parent
    if parent is None:
        return False
    if parent.type == "index_expression":
        holder = parent.parent
        if holder is not None and holder.type == "expression_list":
            holder = holder.parent
        if holder is None or holder.type not in {"assignment_statement", "inc_statement",
                                                 "dec_statement"}:
            return False
        left = holder.child_by_field_name("left")
        return left is None or left.start_byte <= parent.start_byte < left.end_byte
    if parent.type == "argument_list" and parent.named_children and (
            parent.named_children[0] == selector):
        call = parent.parent
        function = call.child_by_field_name("function") if call is not None else None
        return function is not None and function.type == "identifier" and (
            function.text in {b"delete", b"clear"})
    return False


def _makes(function: Node, go_file: GoFile, owner: Named) -> bool:
    """The function builds a value of the type: `&T{...}`, `T{...}`, `new(T)`."""
    body = function.child_by_field_name("body")
    for node in walk(body) if body is not None else ():
        if node.type == "composite_literal":
            type_node = node.child_by_field_name("type")
            if type_node is not None and _names(go_file.text(type_node), owner):
                return True
        elif node.type == "call_expression":
            callee = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            if callee is not None and go_file.text(callee) == "new" and arguments is not None \
                    and arguments.named_children and _names(
                        go_file.text(arguments.named_children[0]), owner):
                return True
    return False


def _names(text: str, owner: Named) -> bool:
    base = text.split("[", 1)[0]
    return base.rsplit(".", 1)[-1] == owner.name


def _releases_without_taking(method: Node, go_file: GoFile, receiver: str) -> bool:
    """The method unlocks a lock of its receiver that it never locks: it runs with the lock
    held, taken by the method before it (`StartCollection` locks, `Finish` unlocks)."""
    taken: set[str] = set()
    released: set[str] = set()
    for node in walk(method):
        if node.type != "call_expression":
            continue
        callee = node.child_by_field_name("function")
        if callee is None or callee.type != "selector_expression":
            continue
        field = callee.child_by_field_name("field")
        operand = callee.child_by_field_name("operand")
        if field is None or operand is None:
            continue
        lock = "".join(go_file.text(operand).split())
        if not (lock == receiver or lock.startswith(receiver + ".")):
            continue
        verb = go_file.text(field)
        if verb in {"Lock", "RLock", "TryLock", "TryRLock", "lock", "rlock"}:
            taken.add(lock)
        elif verb in {"Unlock", "RUnlock", "unlock", "runlock"}:
            released.add(lock)
    return bool(released - taken)


def _before_sharing(package: Package, info: TypeInfo, function: Node, go_file: GoFile,
                    owner: Named, depth: int) -> bool:
    """An unexported function each of whose calls in the package's non-test code holds a
    write lock, is made in a function that builds the value, on a value just built, or in
    another such function; or one used as a value."""
    name_node = function.child_by_field_name("name")
    if name_node is None:
        return True
    name = go_file.text(name_node)
    if name[:1].isupper() or depth > MAX_CALLER_DEPTH:
        return False
    receiver = receiver_type_name(function, go_file) if function.type == (
        "method_declaration") else None
    declaration = (package.method(receiver, name) if receiver is not None
                   else package.func_named(name))
    if declaration is None:
        return False
    sites = call_sites(package, info, declaration, in_tests=False)
    if sites is None:
        return True  # used as a value: who runs it, under which lock, is not seen
    if not sites:
        return False
    for site in sites:
        if lock_mode_at(site.call, site.file, info) is Mode.WRITE:
            continue
        caller = enclosing_declaration(site.call)
        if caller is None:
            return False
        if _makes(caller, site.file, owner) or _on_new_value(site.call, site.file, info, owner):
            continue
        if caller == function:
            continue  # recursion: judged by its other callers
        if not _before_sharing(package, info, caller, site.file, owner, depth + 1):
            return False
    return True


def _on_new_value(call: Node, go_file: GoFile, info: TypeInfo, owner: Named) -> bool:
    """`v.load()` where `v` was given `&T{...}`, or the result of the type's constructor by
    its name: `NewT(...)`, `newT...(...)`, or a package's plain `New(...)`."""
    callee = call.child_by_field_name("function")
    operand = callee.child_by_field_name("operand") if (
        callee is not None and callee.type == "selector_expression") else None
    if operand is None or operand.type != "identifier":
        return False
    found = info.resolve(operand, go_file)
    value = getattr(found, "value", None)
    if not isinstance(value, Node):
        return False
    value = unparen(value)
    if value.type == "unary_expression":
        value = value.child_by_field_name("operand") or value
    if value.type == "composite_literal":
        return True
    if value.type == "call_expression":
        function = value.child_by_field_name("function")
        name = (go_file.text(function) if function is not None else "").rsplit(".", 1)[-1]
        return name.lower() == "new" or name.lower().startswith("new" + owner.name.lower())
    return False
