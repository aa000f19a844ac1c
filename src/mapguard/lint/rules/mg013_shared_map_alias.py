"""## What it does
Finds a map that belongs to a long-lived owner — a package variable, or a field of the method's
receiver — handed out by reference and then written where its owner does not expect it. Three
shapes, each narrow on purpose:

1. **Stored into another value, then written through it.** `req.Header = defaultHeaders` (or
   `&Request{Header: defaultHeaders}`, `opts.Labels = c.labels`), followed in the same function
   by a write through the new holder: `req.Header["X-Id"] = id`, `req.Header.Set(...)`,
   `delete(opts.Labels, k)`, `clear(...)`. The value may also come from a function of the
   package that builds it that way (`call := c.newCall(); call.Header.Set(...)`). Reported at
   the write.
2. **A struct copied, then its map written.** `o := DefaultOptions`, `o := *c.opts`,
   `cp := *c`, or a `Clone` that does only `cp := *o; return &cp`, then `o.Params[k] = v`:
   copying a struct copies its maps by reference, so the write lands in the original. Reported
   at the write.
3. **A locking getter's result written by its caller.** A function of the package takes a lock
   and returns the owner's map itself (`t.mu.RLock(); defer t.mu.RUnlock(); return t.tags`):
   the owner guards that map. A caller in the package that writes what it got — `l := t.Get();
   l[k] = v`, `delete(t.Get(), k)`, `t.Get()[k] = v` — without a lock held writes the guarded
   map unguarded. Reported at the write.

A getter that only *returns* the owner's guarded map (`return s.labels` under `s.mu.RLock()`,
while the owner writes it in place with the lock held) is not MG013's: it is MG014's (off by
default), whose proof is of the same kind — a caller *might* read the map while the owner
writes it, which the getter's text cannot show.

## Why is this bad?
Assigning a map copies a reference, never the entries. In the first two shapes every call writes
into the one shared map: the defaults collect every request's entries, and two requests at once
write the same map concurrently (`fatal error: concurrent map writes`; `go test -race` reports a
DATA RACE). In the third, the lock covers the getter's `return`, not what the caller then
does: the caller writes the map unguarded while the owner (or another caller) uses it.

## Example
```go
var defaultHeaders = map[string]string{"User-Agent": "ingest/1.0"}

func newRequest(id string) *Request {
    req := &Request{Header: defaultHeaders}
    req.Header["X-Request-Id"] = id // writes defaultHeaders, for every request
    return req
}

func (s *Series) Labels() map[string]string {
    s.mu.RLock()
    defer s.mu.RUnlock()
    return s.labels
}

func tag(s *Series, host string) {
    s.Labels()["host"] = host // writes the guarded map without s.mu
}
```

## Use instead
Give the new holder its own copy, and let the owner write its guarded maps:
```go
req := &Request{Header: maps.Clone(defaultHeaders)} // Go 1.21; or a copy loop
...
s.SetLabel("host", host) // takes s.mu
```
Or let the owner publish copy-on-write (replace the whole map under the lock, never write it in
place), so a handed-out map is never written again. There is no automatic fix: a copy changes
what every other holder of the map sees — which is the point, but whether some code relied on
the shared writes is not visible from the hand-out.

## What is not reported
- A map built per call (`req.Header = newHeaders()`, a literal, `maps.Clone`, `Header.Clone`, a
  copy loop); a holder given another map between the hand-out and the write; a `Clone` that
  gives the copy its own maps.
- A write made with a lock held: the rule cannot tell which lock, and one that covers both
  holders is the correct design.
- A hand-out that may not reach the write: in another branch of the same if/else chain (an
  empty field given the shared default, a set one merged into), in a branch ending in `return`,
  `break`, `continue` or `goto`, in a loop or `switch` case apart from the write, or inside a
  closure.
- A map aliased into a plain local variable (`m := registry; m[k] = v` writes the registry on
  purpose), a receiver's field copied into another field of the same receiver, a pointer copied
  rather than the struct (`o := &c.opts` is the owner itself), and a struct the call made
  (also one it stored in the receiver's field before copying it: `p.root = newNode(); cur :=
  p.root; cur.children[k] = child` builds the new tree through the copy on purpose).
- The maps of a builder: a type with a method returning its own receiver
  (`func (b *B) With(...) *B`) is made for one construction, not shared.
- A getter that returns the owner's guarded map itself, with nothing written through it: that
  is MG014's (off by default; `mapguard explain MG014`).
- A caller's write to a getter's result when the getter takes no lock (`ResponseWriter.Header()`
  hands its map out to be written), when the getter has more than one `return`, when the
  variable was given another map first, or when the write holds a lock; callers in other
  packages (not followed).
- Test files, files that import "testing", and test-support packages (`testutil`, `mocks`...).

## When it is a false alarm
When the shared write is intended (a registry reached through a struct field, filled on purpose
through every holder; the owner writing its own map through a helper value it built from it, `c :=
w.converter(); c.inFlight[k] = ...`, one recursion guard for both — the shape that keeps the rule
off by default, docs/review/fresh-sample-round2.md, "MG013"), or when the write happens while no
other goroutine can use the map (a setup phase before the program starts its goroutines, before any
other caller of the getter). Suppress with `//mapguard:ignore MG013 <reason>`. An ignore comment
naming MG013 at a getter's `return` (MG013's before MG014 took that shape) still silences MG014's
finding there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from mapguard.lint.gofacts import API_SINCE
from mapguard.lint.rule import Pass, Rule, Severity, is_support_code
from mapguard.source.calls import every_call_site
from mapguard.source.handler_uses import module_sources
from mapguard.source.locks import Mode, documented_lock, lock_mode_at
from mapguard.source.mapwrites import map_writes, write_statement
from mapguard.source.package import FuncDecl, GoFile, VarDecl, receiver_type_name
from mapguard.source.typeinfo import (
    LocalDecl,
    TypeInfo,
    enclosing_declaration,
    enclosing_function,
    same_node,
    same_symbol,
    unparen,
    walk,
)
from mapguard.source.types import MUTEX_TYPES, STDLIB_MAPS, Named, PointerTo, deref

# Writes are found literal first — the `]` of an index write and its operator, `.Set(`,
# `delete(` — and the holder `x.f` is then read from the text next to it: a pattern that starts
# with a name would be tried at every byte of every file.
_INDEX_CLOSE = re.compile(rb"\][ \t]*(?:=(?!=)|[-+*/%&|^]=|<<=|>>=|&\^=|\+\+|--)")
_METHOD_WRITE = re.compile(rb"\.(?:Set|Add|Del)\(")
_BUILTIN_WRITE = re.compile(rb"\b(?:delete|clear)\(")
_HOLDER_BEFORE = re.compile(rb"\b[A-Za-z_]\w*\.[A-Za-z_]\w*\Z")
_HOLDER_AT = re.compile(rb"[A-Za-z_]\w*\.[A-Za-z_]\w*(?=[,)])")
_NAME_BEFORE = re.compile(rb"\w+\Z")
_NAME_AT = re.compile(rb"(?:\w+\.)*(\w+)(?=[,)])")
_LOOK_BACK = 80  # bytes: how far before a `[` or `.Set(` its holder is looked for
_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _opening_bracket(source: bytes, close: int) -> int:
    """The `[` matching the `]` at `close`, on the same line; -1 when there is none."""
    line_start = source.rfind(b"\n", 0, close) + 1
    opening = source.rfind(b"[", line_start, close)
    if opening >= 0 and source.find(b"]", opening, close) < 0:
        return opening  # the usual case: no brackets nested in the index
    depth = 0
    for position in range(close, line_start - 1, -1):
        byte = source[position]
        if byte == 0x5D:  # ]
            depth += 1
        elif byte == 0x5B:  # [
            depth -= 1
            if depth == 0:
                return position
    return -1


def _write_holders(source: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each `x.f` the text writes through: `x.f[k] = v` (op=, ++, --),
    `x.f.Set(`/`Add(`/`Del(` (the standard library's map types), `delete(x.f, k)`, `clear(x.f)`."""
    for hit in _INDEX_CLOSE.finditer(source):
        bracket = _opening_bracket(source, hit.start())
        # `x.f[`: a name right before the bracket and a dot not far before it.
        if bracket > 0 and source[bracket - 1] in _WORD and source.rfind(
                b".", max(0, bracket - _LOOK_BACK), bracket) >= 0:
            found = _HOLDER_BEFORE.search(source, max(0, bracket - _LOOK_BACK), bracket)
            if found is not None:
                yield found.span()
    for hit in _METHOD_WRITE.finditer(source):
        found = _HOLDER_BEFORE.search(source, max(0, hit.start() - _LOOK_BACK), hit.start())
        if found is not None:
            yield found.span()
    for hit in _BUILTIN_WRITE.finditer(source):
        found = _HOLDER_AT.match(source, hit.end())
        if found is not None:
            yield found.span()


def _written_names(source: bytes) -> Iterator[bytes]:
    """The last name of each map the text writes in place (`labels` of `s.labels[k] = v`)."""
    for hit in _INDEX_CLOSE.finditer(source):
        bracket = _opening_bracket(source, hit.start())
        if bracket > 0:
            found = _NAME_BEFORE.search(source, max(0, bracket - _LOOK_BACK), bracket)
            if found is not None:
                yield found.group()
    for hit in _BUILTIN_WRITE.finditer(source):
        found = _NAME_AT.match(source, hit.end())
        if found is not None:
            yield found.group(1)


# `return x.f` / `return v` with nothing else returned.
_RETURN = re.compile(
    rb"return[ \t]+(?P<at>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)[ \t]*(?:\n|//|;|}|,)")
# `return T{...}` / `return &T{...}`: a struct built around the owner's maps.
_RETURN_STRUCT = re.compile(rb"return[ \t]+&?(?P<at>[A-Za-z_][\w.]*)\{")
_LOCK_CALL = re.compile(rb"\.R?Lock\(\)")
_STDLIB_MAP_TYPES = frozenset(Named(pkg, name) for pkg, name in STDLIB_MAPS)


def run(pass_: Pass) -> None:
    package = pass_.package
    files = _own_files(pass_)
    for go_file in files:
        for start, end in _write_holders(go_file.source):
            if _may_be_handed(go_file.source, start, end):
                node = go_file.node_at(start, end)
                if node is not None:
                    _check_write(pass_, go_file, node)
    # A locking getter matters only when the package takes a lock somewhere.
    if not any(_LOCK_CALL.search(f.source) for f in package.files):
        return
    getters = _locking_getters(pass_)
    if getters:
        for go_file in files:
            _check_caller_writes(pass_, go_file, getters)


def _own_files(pass_: Pass) -> list[GoFile]:
    package = pass_.package
    return [f for f in package.files if pass_.owns(f) and not is_support_code(f, package)]


# ---- the getter shape: MG014's (a map returned past its lock) ---------------------------------


def check_getters(pass_: Pass) -> None:
    """A getter that returns the owner's map itself — as a result or a field of the struct it
    returns — while the owner writes that map in place with a lock held. Reported under the
    calling rule's code: MG014 runs it (its only proof is that callers *might* read while the
    owner writes, which the getter's text cannot show)."""
    package = pass_.package
    # A getter matters only when the owner guards the map with a lock: without a Lock call in
    # the package, or for a name never written in place, no return is parsed.
    if not any(_LOCK_CALL.search(f.source) for f in package.files):
        return
    written = _written_in_place(pass_)
    for go_file in _own_files(pass_):
        for hit in _RETURN.finditer(go_file.source):
            returned = hit.group("at")
            name = returned.rsplit(b".", 1)[-1]
            if name not in written or (b"." not in returned and (
                    not package.has_var(name.decode()))):
                continue  # not written in place, or a plain name that is no package variable
            node = go_file.node_at(*hit.span("at"))
            if node is not None:
                _check_return(pass_, go_file, node)
        for hit in _RETURN_STRUCT.finditer(go_file.source):
            ahead = go_file.source[hit.end():hit.end() + _STRUCT_TEXT]
            if written.isdisjoint(_SELECTED.findall(ahead)):
                continue
            node = go_file.node_at(*hit.span("at"))
            literal = node.parent if node is not None else None
            if literal is not None and literal.type == "composite_literal":
                for value in _struct_values(literal):
                    _check_return(pass_, go_file, value)


# ---- shape 4: a locking getter's result written by its caller --------------------------------


def _locking_getters(pass_: Pass) -> dict[str, FuncDecl]:
    """The package's functions that take a lock and return, as their one result, a map owned
    by the receiver or the package (`s.mu.RLock(); defer s.mu.RUnlock(); return s.labels`):
    the owner guards that map with the lock, so a caller must not write what it got."""
    package = pass_.package
    key = ("mg013-locking-getters",)
    cached = package.memo.get(key)
    if isinstance(cached, dict):
        return cached
    info = pass_.info
    found: dict[str, FuncDecl] = {}
    for function in package.all_functions():
        if function.file.is_test or not _LOCK_CALL.search(_text_of(function)):
            continue
        results = info.signature(function).results
        if len(results) != 1 or not info.is_map(results[0]):
            continue
        node = function.file.complete(function.node)
        body = node.child_by_field_name("body")
        returns = [n for n in walk(body) if n.type == "return_statement"] if body else []
        if len(returns) != 1 or not same_node(enclosing_function(returns[0]), node):
            continue
        values = returns[0].named_children[0].named_children if returns[0].named_child_count \
            else []
        if len(values) != 1 or documented_lock(node, function.file) is not Mode.NONE:
            continue
        returned = unparen(values[0])
        if returned.type not in {"identifier", "selector_expression"} or _guarded_owner(
            returned, node, function.file, info
        ) is None:
            continue
        if _locks_before(node, returns[0], function.file) and lock_mode_at(
            returns[0], function.file) is not Mode.NONE:
            found[_getter_key(function)] = function
    package.memo[key] = found
    return found


def _getter_key(function: FuncDecl) -> str:
    return f"{function.receiver_type or ''}.{function.name}"


def _check_caller_writes(pass_: Pass, go_file: GoFile, getters: dict[str, FuncDecl]) -> None:
    """`l := s.Labels(); l[k] = v` and `s.Labels()[k] = v` outside any lock."""
    source = go_file.source
    calls = tuple({getter.name.encode() + b"(" for getter in getters.values()})
    for hit in _INDEX_CLOSE.finditer(source):
        bracket = _opening_bracket(source, hit.start())
        if bracket <= 0:
            continue
        start = max(source.rfind(b"\nfunc ", 0, bracket), 0)
        if not any(call in source[start:bracket] for call in calls):
            continue  # no getter is called in this function before the write
        operand = go_file.node_at(bracket - 1, bracket)
        while operand is not None and operand.parent is not None and (
            operand.parent.end_byte == bracket
            and operand.parent.type in {"call_expression", "selector_expression"}
        ):
            operand = operand.parent
        index = operand.parent if operand is not None else None
        if operand is None or index is None or index.type != "index_expression":
            continue
        statement = write_statement(index)
        if statement is not None:
            _check_caller_write(pass_, go_file, operand, statement, getters)
    for hit in _BUILTIN_WRITE.finditer(source):
        start = max(source.rfind(b"\nfunc ", 0, hit.start()), 0)
        line_end = source.find(b"\n", hit.end())
        if not any(call in source[start:line_end] for call in calls):
            continue
        call = go_file.node_at(hit.start(), hit.end())
        arguments = call.child_by_field_name("arguments") if call is not None else None
        first = next((a for a in arguments.named_children if a.type != "comment"), None) if (
            arguments is not None) else None
        if call is not None and first is not None and _deletes_or_clears(pass_, call, go_file):
            _check_caller_write(pass_, go_file, first, call, getters)


def _deletes_or_clears(pass_: Pass, call: Node, go_file: GoFile) -> bool:
    return call.type == "call_expression" and pass_.info.builtin_name(call, go_file) in {
        "delete", "clear"}


def _check_caller_write(pass_: Pass, go_file: GoFile, target: Node, statement: Node,
                        getters: dict[str, FuncDecl]) -> None:
    info = pass_.info
    target = unparen(target)
    call = target
    if target.type == "identifier":
        local = info.resolve(target, go_file)
        if not isinstance(local, LocalDecl) or local.kind != "var" or local.value is None or (
            local.value_count != 1
        ):
            return
        call = unparen(local.value)
        function = enclosing_function(statement)
        if function is None or any(
            go_file.text(t) == local.name
            for a in _assignments(function, statement.start_byte)
            for t in (a.child_by_field_name("left") or a).named_children
        ):
            return  # given another map before the write
    if call.type != "call_expression":
        return
    called = call.child_by_field_name("function")
    getter = info.called_function(called, go_file) if called is not None else None
    if getter is None or getters.get(_getter_key(getter)) is not getter:
        return
    if lock_mode_at(statement, go_file, info) is not Mode.NONE:
        return
    getter_node = getter.file.complete(getter.node)
    body = getter_node.child_by_field_name("body")
    returned = next((n for n in walk(body) if n.type == "return_statement"), None) if body else None
    where = (f"{getter.file.path.name}:{returned.start_point.row + 1}" if returned is not None
             else getter.file.path.name)
    written = "".join(go_file.text(target).split())
    copy = "maps.Clone" if pass_.allows(API_SINCE["maps.Clone"]) else "a copy loop"
    pass_.report(
        go_file, statement,
        f"`{written}` is the map `{getter.name}` returns, the owner's own map, which it guards "
        f"with the lock it takes ({where}); this write holds no lock, so it races with the "
        f"owner and with every other caller (fatal error: concurrent map writes). Write "
        f"through a method that takes the lock, or copy the map first ({copy})",
    )


_COPY_OR_CALL = re.compile(rb"\*?[A-Za-z_][\w.]*(?:\(|[ \t]*(?://[^\n]*)?$)", re.M)


def _may_be_handed(source: bytes, start: int, end: int) -> bool:
    """Whether the text of the function before a write through `x.f` can hold a hand-out:
    `x.f = ...`, a keyed `f:`, or `x` declared there (`x :=`, `x, y :=`, `var x`), as gofmt
    writes them. Most writes go through a receiver or a parameter that never is: they are
    dropped before anything is parsed."""
    holder, field = source[start:end].split(b".", 1)
    before = source[max(source.rfind(b"\nfunc ", 0, start), 0):start]
    if any(text in before for text in (
            holder + b"." + field + b" =", field + b": ", b"var " + holder + b" ")):
        return True
    declared = before.find(holder + b" := ")
    while declared >= 0:  # `x := name`, `x := *a.b` (a struct copy) or `x := f(...)`
        if _COPY_OR_CALL.match(before, declared + len(holder) + 4):
            return True
        declared = before.find(holder + b" := ", declared + 1)
    position = before.find(b"\t" + holder + b", ")  # `x, err := ...` on a line of its own
    while position >= 0:
        line_end = before.find(b"\n", position)
        if b":=" in before[position:line_end if line_end >= 0 else len(before)]:
            return True
        position = before.find(b"\t" + holder + b", ", position + 1)
    return False


_SELECTED = re.compile(rb"\.(\w+)")
_STRUCT_TEXT = 2000  # how far a returned struct literal's fields are looked for, in bytes
def _written_in_place(pass_: Pass) -> frozenset[bytes]:
    """The names (variables or fields) the package's text writes in place: `x.f[k] = v`,
    `m[k]++`, `delete(x.f, k)`... A cheap filter before any function is parsed."""
    return frozenset(name for go_file in pass_.package.files if not go_file.is_test
                     for name in _written_names(go_file.source))


# ---- shape 1: stored into another value, then written through it -----------------------------


def _check_write(pass_: Pass, go_file: GoFile, holder: Node) -> None:
    info = pass_.info
    if holder.type != "selector_expression":
        return
    statement = _write_of(holder, go_file, info)
    if statement is None or not info.is_map_expr(holder, go_file):
        return
    function = enclosing_function(statement)
    operand = holder.child_by_field_name("operand")
    if function is None or operand is None or operand.type != "identifier":
        return
    base = info.resolve(operand, go_file)
    if not isinstance(base, LocalDecl) or base.kind not in {"var", "param", "receiver"}:
        return
    field = go_file.text(holder.child_by_field_name("field") or holder)
    handed = _last_hand_out(field, base, statement, function, go_file, info)
    if handed is None:
        return
    owner = (_copied_owner(handed.value, base, handed.file, info) if handed.shallow
             else _owner(handed.value, base, handed.file, info))
    if owner is None or lock_mode_at(statement, go_file, info) is not Mode.NONE:
        return
    copy_source = _shallow_copy_of(handed.value) if handed.shallow else None
    if copy_source is not None and handed.callee is None and _renewed_before(
        function, handed.statement, copy_source, go_file
    ):
        return  # `p.root = newNode(); cur := p.root; cur.children[k] = ...`: the call's own
    written = "".join(go_file.text(holder).split())
    shared = "".join(handed.file.text(handed.value).split())
    hand_out = (f"maps.Clone({shared})" if pass_.allows(API_SINCE["maps.Clone"])
                else f"a copy of `{shared}` made by a loop")
    line = handed.statement.start_point.row + 1
    where = (f"line {line}" if handed.callee is None else
             f"set by `{handed.callee}`, {handed.file.path.name}:{line}")
    copy = "maps.Clone" if pass_.allows(API_SINCE["maps.Clone"]) else "a copy loop"
    if handed.shallow:
        copied = (f"`{base.name}` is a copy of it (line {line})" if handed.callee is None else
                  f"`{handed.callee}` copied it ({handed.file.path.name}:{line})")
        message = (
            f"`{written}` is the map of {owner} `{shared}`: {copied}, and copying a struct "
            f"copies its maps by reference, so this write changes the original's map — every "
            f"other holder sees it, and two calls at once write the same map (fatal error: "
            f"concurrent map writes). Give the copy its own "
            f"map ({copy}) before writing it")
    else:
        message = (
            f"`{written}` holds {owner} `{shared}` by reference ({where}), so this write "
            f"changes the shared map: every other holder sees it, and two calls at once write "
            f"the same map (fatal error: concurrent map writes). Hand out a copy "
            f"({hand_out}) or build the map per call")
    pass_.report(go_file, statement, message)


@dataclass(frozen=True, slots=True)
class _HandOut:
    """Where a long-lived value's map field was set to a map that is handed out."""

    statement: Node  # where the holder's field was set
    value: Node  # the map it was set to
    file: GoFile  # the file of both (another one when a called function set it)
    callee: str | None = None  # the function whose result came with the field set
    shallow: bool = False  # `value` is a struct the holder is a copy of (`x := *c.opts`)


def _write_of(holder: Node, go_file: GoFile, info: TypeInfo) -> Node | None:
    """The statement writing the map `holder` names, or None when `holder` is only read."""
    parent = holder.parent
    if parent is None:
        return None
    if parent.type == "index_expression" and same_node(parent.child_by_field_name("operand"),
                                                       holder):
        return write_statement(parent)
    if parent.type == "selector_expression" and parent.parent is not None and (
        parent.parent.type == "call_expression"
    ):
        method = go_file.text(parent.child_by_field_name("field") or parent)
        if method in {"Set", "Add", "Del"} and deref(info.type_of(holder, go_file)) in (
            _STDLIB_MAP_TYPES
        ):
            return parent.parent
        return None
    if parent.type == "argument_list" and parent.parent is not None:
        call = parent.parent
        arguments = [a for a in parent.named_children if a.type != "comment"]
        if arguments and same_node(arguments[0], holder) and info.builtin_name(
            call, go_file
        ) in {"delete", "clear"}:
            return call
    return None


def _last_hand_out(field: str, base: LocalDecl, write: Node, function: Node,
                   go_file: GoFile, info: TypeInfo, *, follow: bool = True) -> _HandOut | None:
    """Where `x.f` was last set before `write`, and to what, when that runs on the way to
    it; None when nothing sets it, or the last setting is something else or may not run.
    With `follow`, `x := g()` looks at what g (a function of the package) returns."""
    last: _HandOut | None = None
    if base.kind == "var" and base.value is not None:
        value = _keyed_value(base.value, field)
        if value is not None:
            last = _HandOut(_statement_of(base.ident), value, go_file)
        elif _shallow_copy_of(base.value) is not None and base.value_count <= 1:
            last = _HandOut(_statement_of(base.ident), base.value, go_file, shallow=True)
        elif follow and unparen(base.value).type == "call_expression":
            last = _returned_hand_out(unparen(base.value), base.value_index, field, go_file,
                                      info)
    replaced = False  # the last setting was not a hand-out
    for node in walk(function):
        if node.start_byte >= write.start_byte:
            break
        if node.type != "assignment_statement":
            continue
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        targets = [t for t in (left.named_children if left else []) if t.type != "comment"]
        values = [v for v in (right.named_children if right else []) if v.type != "comment"]
        for index, target in enumerate(targets):
            target = unparen(target)
            if target.type == "identifier" and same_symbol(info.resolve(target, go_file), base):
                last, replaced = None, True  # the holder itself is replaced
            elif _names_field(target, field, base, go_file, info):
                value = values[index] if len(values) == len(targets) else None
                inside = enclosing_function(node)
                if value is None or inside is None or not same_node(inside, function):
                    last, replaced = None, True  # set in a closure: when it runs is unknown
                else:
                    last, replaced = _HandOut(node, value, go_file), False
    if last is None or replaced:
        return None
    if last.callee is None and last.file is go_file and not _reaches(last.statement, write):
        return None
    return last


def _returned_hand_out(call: Node, index: int, field: str, go_file: GoFile, info: TypeInfo
                       ) -> _HandOut | None:
    """`x := c.newRequest()` where the called function of the package returns a value built
    with `f: <map>` (directly or through one local variable it does not change afterwards)."""
    called = call.child_by_field_name("function")
    callee = info.called_function(called, go_file) if called is not None else None
    if callee is None or callee.file.is_test:
        return None
    node = callee.file.complete(callee.node)
    body = node.child_by_field_name("body")
    if body is None:
        return None
    returns = [n for n in walk(body) if n.type == "return_statement"]
    if len(returns) != 1 or not same_node(enclosing_function(returns[0]), node):
        return None
    results = [r for r in returns[0].named_children[0].named_children
               if r.type != "comment"] if returns[0].named_child_count else []
    if index >= len(results):
        return None
    result = unparen(results[index])
    value = _keyed_value(result, field)
    if value is not None:
        return _HandOut(returns[0], value, callee.file, callee.name)
    if result.type == "unary_expression" and _operator(result) == "&":
        operand = result.child_by_field_name("operand")
        result = unparen(operand) if operand is not None else result  # `return &cp`
    local = info.resolve(result, callee.file) if result.type == "identifier" else None
    if not isinstance(local, LocalDecl) or local.kind != "var":
        return None
    handed = _last_hand_out(field, local, returns[0], node, callee.file, info, follow=False)
    if handed is None:
        return None
    return _HandOut(handed.statement, handed.value, callee.file, callee.name, handed.shallow)


def _names_field(target: Node, field: str, base: LocalDecl, go_file: GoFile,
                 info: TypeInfo) -> bool:
    if target.type != "selector_expression":
        return False
    operand = target.child_by_field_name("operand")
    name = target.child_by_field_name("field")
    return (operand is not None and name is not None and operand.type == "identifier"
            and go_file.text(name) == field
            and same_symbol(info.resolve(operand, go_file), base))


def _keyed_value(value: Node, field: str) -> Node | None:
    """`f: v` in `T{...}` or `&T{...}`."""
    value = unparen(value)
    if value.type == "unary_expression":
        operand = value.child_by_field_name("operand")
        value = unparen(operand) if operand is not None else value
    if value.type != "composite_literal":
        return None
    body = value.child_by_field_name("body")
    for element in body.named_children if body is not None else []:
        if element.type != "keyed_element":
            continue
        parts = [c for c in element.named_children if c.type != "comment"]
        if len(parts) != 2:
            continue
        key = parts[0].named_children[0] if parts[0].named_child_count else parts[0]
        if key.type in {"identifier", "field_identifier"} and key.text == field.encode():
            return parts[1].named_children[0] if parts[1].named_child_count else parts[1]
    return None


def _statement_of(node: Node) -> Node:
    while node.parent is not None and node.parent.type != "statement_list":
        node = node.parent
    return node


_ENDS_BRANCH = frozenset({"return_statement", "break_statement", "continue_statement",
                          "goto_statement"})


def _reaches(statement: Node, write: Node) -> bool:
    """The hand-out runs on the way to the write: it sits in a block that holds the write, or
    in an `if` branch (not ending in return, break, continue or goto) of such a block — not in
    a branch of an if/else chain whose other branch holds the write."""
    block = statement.parent
    while block is not None and not (block.start_byte <= write.start_byte < block.end_byte):
        if block.type == "statement_list":
            block = block.parent
            continue
        if block.type != "block" or block.parent is None or block.parent.type != "if_statement":
            return False
        statements = [c for c in (block.named_children[0].named_children
                                  if block.named_child_count and
                                  block.named_children[0].type == "statement_list"
                                  else block.named_children) if c.type != "comment"]
        if statements and statements[-1].type in _ENDS_BRANCH:
            return False
        branch_of = block.parent
        while True:
            if branch_of.start_byte <= write.start_byte < branch_of.end_byte:
                return False  # the write is in another branch of the same if/else chain
            if branch_of.parent is None or branch_of.parent.type != "if_statement":
                break
            branch_of = branch_of.parent  # `else if`: the chain goes on outwards
        block = branch_of.parent  # the statement list around the `if`
    return block is not None


def _owner(source: Node, base: LocalDecl, go_file: GoFile, info: TypeInfo) -> str | None:
    """What long-lived owner the handed-out map belongs to, in words, or None."""
    source = unparen(source)
    if not info.is_map_expr(source, go_file):
        return None
    if source.type == "identifier":
        symbol = info.resolve(source, go_file)
        if isinstance(symbol, VarDecl) and not symbol.constant and not symbol.file.is_test:
            return "the package variable"
        return None
    root = _chain_root(source)
    if root is None or base.kind == "receiver":
        return None  # a receiver's field copied into another of its own fields
    symbol = info.resolve(root, go_file)
    if not isinstance(symbol, LocalDecl) or symbol.kind != "receiver":
        return None
    method = enclosing_declaration(source)
    receiver = receiver_type_name(method, go_file) if method is not None else None
    if receiver is None or _is_builder(receiver, info):
        return None
    return "the receiver's map"


def _is_builder(type_name: str, info: TypeInfo) -> bool:
    """A type with a method that returns its own receiver (`func (b *B) With(...) *B`): a
    builder, made for one construction rather than shared."""
    package = info.package
    key = ("mg013-builder", type_name)
    cached = package.memo.get(key)
    if isinstance(cached, bool):
        return cached
    found = False
    for method in package.methods.get(type_name, {}).values():
        name = method.receiver_name()
        if name and re.search(rb"\breturn[ \t]+" + re.escape(name.encode()) + rb"[ \t]*(?:\n|//|})",
                              _text_of(method)):
            found = True
            break
    package.memo[key] = found
    return found


def _shallow_copy_of(value: Node) -> Node | None:
    """`*p`, `*r.opts`, or a plain name or field chain: what a struct copy may copy."""
    value = unparen(value)
    if value.type == "unary_expression" and _operator(value) == "*":
        operand = value.child_by_field_name("operand")
        value = unparen(operand) if operand is not None else value
    return value if value.type in {"identifier", "selector_expression"} and _chain_root(
        value) is not None else None


def _copied_owner(source: Node, base: LocalDecl, go_file: GoFile, info: TypeInfo
                  ) -> str | None:
    """The long-lived struct `x := <source>` copies (a package variable or the receiver's,
    by value or through a pointer), in words; None for anything else."""
    copied = _shallow_copy_of(source)
    if copied is None or base.kind != "var":
        return None
    if info.struct_of(info.type_of(unparen(source), go_file)) is None or isinstance(
        info.type_of(unparen(source), go_file), PointerTo
    ):
        return None  # a pointer copy is the same value, not a copy of it
    root = _chain_root(copied)
    symbol = info.resolve(root, go_file) if root is not None else None
    if isinstance(symbol, VarDecl) and not symbol.constant and not symbol.file.is_test:
        return "the package variable"
    if isinstance(symbol, LocalDecl) and symbol.kind == "receiver":
        method = enclosing_declaration(source)
        receiver = receiver_type_name(method, go_file) if method is not None else None
        if receiver is not None and not _is_builder(receiver, info):
            return "the receiver's value"
    return None


def _operator(node: Node) -> str:
    return next((c.type for c in node.children if not c.is_named), "")


def _chain_root(expr: Node) -> Node | None:
    """`r` of `r.a.b`; None for anything but a chain of field selections on a name."""
    while expr.type == "selector_expression":
        operand = expr.child_by_field_name("operand")
        if operand is None:
            return None
        expr = unparen(operand)
    return expr if expr.type == "identifier" else None


# ---- the getter shape, continued: returned past its lock (MG014's) ----------------------------


def _struct_values(literal: Node) -> Iterator[Node]:
    """The values of `T{f: v, ...}` that are plain names or field selections."""
    body = literal.child_by_field_name("body")
    for element in body.named_children if body is not None else []:
        parts = [c for c in element.named_children if c.type != "comment"]
        if element.type == "keyed_element" and len(parts) == 2:
            value = parts[1].named_children[0] if parts[1].named_child_count else parts[1]
            if value.type in {"identifier", "selector_expression"}:
                yield value


def _return_of(returned: Node) -> Node | None:
    """The return statement that hands out `returned`: as one of its results, or as a field
    of the struct literal (or its address) it returns."""
    node: Node | None = returned
    if returned.parent is not None and returned.parent.type == "literal_element":
        element = returned.parent.parent  # keyed_element
        values = element.parent if element is not None else None  # literal_value
        node = values.parent if values is not None else None  # the composite literal
        if node is None or node.type != "composite_literal":
            return None
        if node.parent is not None and node.parent.type == "unary_expression":
            node = node.parent
    results = node.parent if node is not None else None
    if results is None or results.type != "expression_list":
        return None
    statement = results.parent
    return statement if statement is not None and statement.type == "return_statement" else None


def _shares_lock(returned: Node, go_file: GoFile, info: TypeInfo) -> bool:
    """The struct literal holding `returned` also hands out a mutex (`mu: d.mu`)."""
    values = returned.parent.parent.parent if (
        returned.parent is not None and returned.parent.parent is not None) else None
    literal = values.parent if values is not None else None
    if literal is None or literal.type != "composite_literal":
        return False
    for element in values.named_children if values is not None else []:
        parts = [c for c in element.named_children if c.type != "comment"]
        if element.type != "keyed_element" or len(parts) != 2:
            continue
        value = parts[1].named_children[0] if parts[1].named_child_count else parts[1]
        if deref(info.type_of(value, go_file)) in MUTEX_TYPES:
            return True
    return False


def _in_struct(returned: Node) -> bool:
    return returned.parent is not None and returned.parent.type == "literal_element"


def _check_return(pass_: Pass, go_file: GoFile, returned: Node) -> None:
    info = pass_.info
    statement = _return_of(returned)
    if statement is None:
        return
    function = enclosing_function(statement)
    if function is None or function.type == "func_literal":
        return
    if documented_lock(function, go_file) is not Mode.NONE:
        return  # the caller holds the lock: it covers what the caller does with the map
    if not info.is_map_expr(returned, go_file):
        return
    owner = _guarded_owner(returned, function, go_file, info)
    if owner is None:
        return
    locked_here = _locks_before(function, statement, go_file) and lock_mode_at(
        statement, go_file) is not Mode.NONE
    if not locked_here and not _exported_getter(function, owner, go_file, info):
        return
    if _records_hand_out(function, statement, owner, go_file, info):
        return
    writes = _locked_in_place_writes(pass_, owner)
    if not writes:
        return
    if _in_struct(returned) and _shares_lock(returned, go_file, info):
        return  # the new value takes the owner's mutex along: that lock covers both
    write_file, write = writes[0]
    line = write.start_point.row + 1
    where = f"line {line}" if write_file is go_file else f"{write_file.path.name}:{line}"
    name = "".join(go_file.text(returned).split())
    copy = "maps.Clone" if pass_.allows(API_SINCE["maps.Clone"]) else "a copy loop"
    lock = "the lock it takes here" if locked_here else "its lock"
    how, inside = ("hands out", " in the struct it returns") if _in_struct(returned) else (
        "returns", "")
    pass_.report(
        go_file, returned,
        f"{how} `{name}` itself{inside}, which is written in place with a lock held "
        f"({where}): {lock} does not cover what callers do with the map, so their reads "
        f"race with that write (fatal error: concurrent map read and map write). Return "
        f"a copy ({copy}) or replace the map on change instead of writing it in place",
    )


# An owner: ("field", receiver type, field name) or ("var", name, "").
_Owner = tuple[str, str, str]


def _guarded_owner(returned: Node, function: Node, go_file: GoFile, info: TypeInfo
                   ) -> _Owner | None:
    if returned.type == "identifier":
        symbol = info.resolve(returned, go_file)
        if isinstance(symbol, VarDecl) and not symbol.constant:
            return ("var", symbol.name, "")
        return None
    operand = returned.child_by_field_name("operand")
    field = returned.child_by_field_name("field")
    if operand is None or field is None or operand.type != "identifier":
        return None
    symbol = info.resolve(operand, go_file)
    if not isinstance(symbol, LocalDecl) or symbol.kind != "receiver":
        return None
    receiver = receiver_type_name(function, go_file)
    return ("field", receiver, go_file.text(field)) if receiver else None


def _locks_before(function: Node, statement: Node, go_file: GoFile) -> bool:
    """The getter itself calls Lock or RLock before returning."""
    body = function.child_by_field_name("body")
    return body is not None and _LOCK_CALL.search(
        go_file.source, body.start_byte, statement.start_byte) is not None


def _records_hand_out(function: Node, statement: Node, owner: _Owner, go_file: GoFile,
                      info: TypeInfo) -> bool:
    """The getter sets another field of the receiver before returning (`b.writing = true`):
    a check-out the owner's writers can wait on, which this rule cannot follow."""
    if owner[0] != "field":
        return False
    for assignment in _assignments(function, statement.start_byte):
        left = assignment.child_by_field_name("left")
        for target in left.named_children if left is not None else []:
            target = unparen(target)
            operand = target.child_by_field_name("operand") if (
                target.type == "selector_expression") else None
            if operand is None or operand.type != "identifier":
                continue
            symbol = info.resolve(operand, go_file)
            if isinstance(symbol, LocalDecl) and symbol.kind == "receiver":
                return True
    return False


def _exported_getter(function: Node, owner: _Owner, go_file: GoFile, info: TypeInfo) -> bool:
    """Callers outside the package can reach the map and cannot take the owner's lock."""
    name = function.child_by_field_name("name")
    if name is None or not go_file.text(name)[:1].isupper():
        return False
    if owner[0] != "field":
        return False  # a package lock's name is not known here: only a locking getter counts
    if not owner[1][:1].isupper():
        return False
    struct = info.struct_of(Named("", owner[1]))
    if struct is None:
        return False
    return not any(
        deref(f.type) in MUTEX_TYPES and (f.embedded or f.name[:1].isupper())
        for f in struct.fields)


def _locked_in_place_writes(pass_: Pass, owner: _Owner) -> list[tuple[GoFile, Node]]:
    """The owner's in-place writes of the map made with a write lock held (not in tests, not
    right after the function gave the owner a new map), memoized per package."""
    package = pass_.package
    key = ("mg013-locked-writes", owner)
    cached = package.memo.get(key)
    if isinstance(cached, list):
        return cached
    info = pass_.info
    kind, name, _field = owner
    functions: list[FuncDecl]
    if kind == "field":
        functions = list(package.methods.get(name, {}).values())
    else:
        functions = [f for f in package.all_functions()
                     if f.name != "init" and name.encode() in _text_of(f)
                     and not _runs_only_at_init(pass_, f)]
    regions = [(f.file, f.file.complete(f.node)) for f in functions if not f.file.is_test]
    found: list[tuple[GoFile, Node]] = []
    for write in map_writes(package, info, regions):
        target = unparen(write.target)
        if not _is_owner(target, owner, write.file, info):
            continue
        function = enclosing_function(write.statement)
        if function is None or _renewed_before(function, write.statement, target, write.file):
            continue
        if lock_mode_at(write.statement, write.file) is Mode.WRITE:
            found.append((write.file, write.statement))
    found.sort(key=lambda item: (str(item[0].path), item[1].start_byte))
    package.memo[key] = found
    return found


def _runs_only_at_init(pass_: Pass, function: FuncDecl, depth: int = 0) -> bool:
    """A function called only from the package's `init` functions (or from functions that
    are), never used as a value, and — when exported — named by no other package of the
    module: it runs before `main`, so no getter can have handed the map out yet
    (`func init() { Register("mirror", m) }`)."""
    if function.is_method or depth > 2:
        return False
    if function.name[:1].isupper() and _named_elsewhere(pass_, function.name):
        return False
    return every_call_site(pass_.package, pass_.info, function, lambda site: (
        site.caller is not None and not site.caller.file.is_test and (
            site.caller.name == "init" or _runs_only_at_init(pass_, site.caller, depth + 1))))


def _named_elsewhere(pass_: Pass, name: str) -> bool:
    """Whether a file of the module that imports this package names `x.name` (a call or a
    use as a value); without a go.mod the package's import path is unknown: assume so."""
    package = pass_.package
    module = package.module
    if module is None:
        return True
    relative = package.directory.relative_to(module.root).as_posix() if (
        package.directory.is_relative_to(module.root)) else None
    if relative is None:
        return True
    path = module.path if relative == "." else f"{module.path}/{relative}"
    imported = b'"' + path.encode() + b'"'
    qualified = re.compile(rb"\." + re.escape(name.encode()) + rb"\b")
    return any(imported in source and qualified.search(source)
               for source in module_sources(module.root))


def _text_of(function: FuncDecl) -> bytes:
    return function.file.source[function.node.start_byte:function.node.end_byte]


def _is_owner(target: Node, owner: _Owner, go_file: GoFile, info: TypeInfo) -> bool:
    kind, name, field = owner
    if kind == "var":
        symbol = info.resolve(target, go_file) if target.type == "identifier" else None
        return isinstance(symbol, VarDecl) and symbol.name == name
    if target.type != "selector_expression":
        return False
    operand = target.child_by_field_name("operand")
    selected = target.child_by_field_name("field")
    if operand is None or selected is None or go_file.text(selected) != field:
        return False
    symbol = info.resolve(operand, go_file) if operand.type == "identifier" else None
    return isinstance(symbol, LocalDecl) and symbol.kind == "receiver"


def _renewed_before(function: Node, write: Node, target: Node, go_file: GoFile) -> bool:
    """`s.f = ...` earlier in the same function: the write fills a map nobody was handed."""
    wanted = "".join(go_file.text(target).split())
    for node in _assignments(function, write.start_byte):
        left = node.child_by_field_name("left")
        if left is not None and any("".join(go_file.text(t).split()) == wanted
                                    for t in left.named_children):
            return True
    return False


def _assignments(function: Node, before: int) -> Iterator[Node]:
    for node in walk(function):
        if node.start_byte >= before:
            return
        if node.type == "assignment_statement":
            yield node


RULE = Rule(
    code="MG013",
    name="shared-map-alias",
    severity=Severity.WARNING,
    summary="a package's or receiver's map handed out by reference, then written on one side",
    reports_at="the write through the new holder, or the returned map expression",
    doc=__doc__ or "",
    run=run,
    # Bodies are parsed on demand, once a write or a return has passed the text filters (few
    # do): parsing every body that writes a field's map up front would cost more than the rule.
    bodies=(),
    # Off by default since rounds 11-12 of the review: on trees nobody had read, 1 of its 8
    # findings was worth telling and 4 were false (a struct the call had just made, an embedded
    # pointer, the owner writing its own map through a helper value it built):
    # docs/review/fresh-sample-round2.md, "MG013".
    on_by_default=False,
)
