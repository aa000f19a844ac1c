"""## What it does
Finds a map that a function hands to another goroutine and then writes itself, with nothing
in between that waits for that goroutine:
- sent on a channel — the map itself (`ch <- m`), or as a field of a sent struct (`ch <-
  Event{Labels: m}`, `&Batch{m}`);
- passed to a function started with `go` (`go flush(m)`);
- used inside a func literal started with `go` (`go func() { for k := range m { ... } }()`).

Reported at the first write of the map after the hand-off (`m[k] = v`, `m[k]++`, `delete(m,
k)`, `clear(m)`) in the same function, outside the goroutine.

## Why is this bad?
A send or a `go` statement is where a value starts to belong to another goroutine: the
receiver reads the map whenever it gets to it, while the sender goes on writing the same map
(sending a map copies a reference, never the entries). The runtime kills the process with
`fatal error: concurrent map read and map write` (or `concurrent map writes`); go test -race
reports a DATA RACE. In a loop the next pass's writes land in the map the receiver is still
reading.

## Example
```go
batch := map[string]int{}
for ev := range events {
    batch[ev.Key]++
    if len(batch) == 100 {
        out <- batch
        clear(batch) // the consumer is still reading it
    }
}
```

## Use instead
Hand over the map and start a new one:
```go
if len(batch) == 100 {
    out <- batch
    batch = map[string]int{}
}
```
Or send a copy (`out <- maps.Clone(batch)`, Go 1.21), or wait for the receiver to be done
with it before writing again.

A package is looked at only when it starts a goroutine itself (a `go` statement): a map sent
on a channel in a package that starts none, to a goroutine another package runs, is not seen.

## When it is a false alarm
When the receiver is done with the map before the write by a synchronisation the rule does
not see between the two. It looks only at the code of the function between the hand-off and the
write: with a receive (`<-done`), a `select`, a `Wait()`, `Done()`, `Lock()` or `RLock()` call
there, a write lock held at the write, or the variable given another value there (`m =
map[string]int{}`, `m, n = nil, 0`), it stays silent. Only the first write of each map after a
hand-off is reported: one is enough to fix, and the fix covers the rest. Suppress with
`//mapguard:ignore MG017 <reason>`.
"""

from __future__ import annotations

import bisect
import functools
import re

from tree_sitter import Node

from mapguard.lint.rule import Pass, Rule, Severity, is_support_code
from mapguard.source.locks import Mode, lock_mode_at
from mapguard.source.mapwrites import map_writes
from mapguard.source.package import GoFile
from mapguard.source.typeinfo import LocalDecl, enclosing_function, unparen, walk

# A send or receive arrow; a `go` statement as gofmt writes it (the offset of `go` in the word).
_HANDOFF_WORDS = ((b"<-", 0), (b"\tgo ", 1), (b"{ go ", 2))
# What a map write looks like in the text: `m[k] = v`, `m[k]++`, `m[k] += v`, `delete(`,
# `clear(` (a slice element's write passes too; the tree tells them apart).
_WRITE_TEXT = re.compile(rb"\][ \t]*(?:=[^=]|\+\+|--|[-+*/%&|^]=)|delete\(|clear\(")


@functools.lru_cache(maxsize=64)
def _handoffs_before_writes(source: bytes) -> tuple[tuple[int, int], ...]:
    """(start, end) of each `<-` or `go ` in the text that a map write follows before the next
    top-level function: the only hand-offs worth parsing. Told by plain searches, and by one
    search for writes per function that holds a hand-off (this runs on every file with a
    channel operation)."""
    hits = sorted((at + offset, at + len(word)) for word, offset in _HANDOFF_WORDS
                  for at in _positions(source, word))
    if not hits:
        return ()
    functions = _positions(source, b"\nfunc ")
    found: list[tuple[int, int]] = []
    index = 0
    while index < len(hits):
        following = bisect.bisect_right(functions, hits[index][0])
        limit = functions[following] if following < len(functions) else len(source)
        group = []
        while index < len(hits) and hits[index][0] < limit:
            group.append(hits[index])
            index += 1
        # Where the function writes a map, and which names it writes (`name[` before the
        # `]`, or the first argument of delete/clear).
        written: list[tuple[int, bytes]] = []
        for match in _WRITE_TEXT.finditer(source, group[0][1], limit):
            target = _written_name(source, match)
            if target:
                written.append((match.start(), target))
        for hit in group:
            names = {name for at, name in written if at > hit[1]}
            if names and _mentions(source, hit, names):
                found.append(hit)
    return tuple(found)


def _written_name(source: bytes, match: re.Match[bytes]) -> bytes:
    """The variable a write the text shows writes: `name` of `name[k] = v` (only a plain
    name indexed once) or of `delete(name, k)`; b"" when it is something else."""
    if match.group().startswith((b"delete(", b"clear(")):
        name = _NAME.match(source, match.end())
        return name.group() if name else b""
    depth, opening = 0, match.start()  # the `]` the match starts with; find its `[`
    while opening > 0:
        char = source[opening:opening + 1]
        depth += 1 if char == b"]" else -1 if char == b"[" else 0
        if depth == 0 or char == b"\n":
            break
        opening -= 1
    if source[opening:opening + 1] != b"[":
        return b""
    name_end = opening
    name_start = name_end
    while name_start > 0 and (source[name_start - 1:name_start].isalnum()
                              or source[name_start - 1:name_start] == b"_"):
        name_start -= 1
    return source[name_start:name_end] if name_start < name_end else b""


_NAME = re.compile(rb"[A-Za-z_]\w*")


def _mentions(source: bytes, hit: tuple[int, int], names: set[bytes]) -> bool:
    """Whether the hand-off's text names one of `names`: the rest of the line of a send or a
    `go` statement, and for `go func() {` the literal's body, up to the line that closes it at
    the statement's indentation."""
    line_end = source.find(b"\n", hit[1])
    line_end = len(source) if line_end < 0 else line_end
    end = line_end
    if source[:line_end].rstrip().endswith(b"{"):
        line_start = source.rfind(b"\n", 0, hit[0]) + 1
        indent = source[line_start:hit[0]]
        indent = indent[:len(indent) - len(indent.lstrip(b" \t"))]
        closing = source.find(b"\n" + indent + b"}", line_end)
        end = len(source) if closing < 0 else source.find(b"\n", closing + 1)
        end = len(source) if end < 0 else end  # with the closing line: `}(seen)`
    text = source[hit[1]:end]
    return any(re.search(rb"\b" + re.escape(name) + rb"\b", text) for name in names)


def _positions(source: bytes, word: bytes) -> list[int]:
    found = []
    at = source.find(word)
    while at >= 0:
        found.append(at)
        at = source.find(word, at + len(word))
    return found


def run(pass_: Pass) -> None:
    info = pass_.info
    for go_file in pass_.package.files:
        if go_file.is_test or not pass_.owns(go_file) or not _handoffs_before_writes(
                go_file.source) or is_support_code(go_file, pass_.package):
            continue
        seen: set[int] = set()
        written: set[int] = set()
        for start, end in _handoffs_before_writes(go_file.source):
            node = go_file.node_at(start, end, named=False)
            while node is not None and node.type not in {"send_statement", "go_statement"}:
                node = node.parent
                if node is not None and node.type in {"function_declaration",
                                                      "method_declaration", "source_file"}:
                    node = None
            if node is None or node.start_byte in seen:
                continue
            seen.add(node.start_byte)
            function = enclosing_function(node)
            if function is None:
                continue
            handed = _handed(pass_, go_file, node)
            if not handed:
                continue
            first: set[int] = set()  # the variables whose first write is reported
            writes = sorted(map_writes(pass_.package, info, [(go_file, function)]),
                            key=lambda w: w.statement.start_byte)
            for write in writes:
                target = unparen(write.target)
                if write.statement.start_byte <= node.end_byte or target.type != (
                        "identifier") or enclosing_function(write.statement) != function:
                    continue
                decl = info.resolve(target, go_file)
                if not isinstance(decl, LocalDecl) or decl not in handed or (
                        id(decl.ident) in first):
                    continue
                first.add(id(decl.ident))
                if _waits_or_rebinds(pass_, go_file, function, decl, node.end_byte,
                                     write.statement.start_byte):
                    continue
                if lock_mode_at(write.statement, go_file, info) is Mode.WRITE:
                    continue
                if write.statement.start_byte in written:
                    continue
                written.add(write.statement.start_byte)
                how = ("sent on a channel" if node.type == "send_statement"
                       else "handed to a goroutine started")
                pass_.report(
                    go_file, write.statement,
                    f"`{decl.name}` is {how} at line {node.start_point.row + 1}, and this "
                    "writes it afterwards with nothing in between that waits for the "
                    "goroutine that got it: a send copies a reference to the map, not its "
                    "entries, so the two goroutines use one map at once (`fatal error: "
                    "concurrent map read and map write`; go test -race reports a DATA RACE). "
                    "Give the variable a new map after handing it over, or hand over a copy "
                    "(maps.Clone)")


_WAIT_METHODS = frozenset({"Wait", "Done", "Lock", "RLock"})


def _waits_or_rebinds(pass_: Pass, go_file: GoFile, function: Node, decl: LocalDecl,
                      start: int, end: int) -> bool:
    """Between the hand-off and the write (by position in the function): a receive (`<-ch`,
    also in a `select`), a `Wait()`, `Done()`, `Lock()` or `RLock()` call, or an assignment
    that gives the variable another value (`m = map[string]int{}`, `m, n = ..., 0`)."""
    for node in walk(function):
        if not start <= node.start_byte < end:
            continue
        kind = node.type
        if kind == "select_statement":
            return True
        if kind == "unary_expression" and go_file.text(node).startswith("<-"):
            return True
        if kind == "call_expression":
            callee = node.child_by_field_name("function")
            field = callee.child_by_field_name("field") if (
                callee is not None and callee.type == "selector_expression") else None
            if field is not None and go_file.text(field) in _WAIT_METHODS:
                return True
        if kind in {"assignment_statement", "short_var_declaration"}:
            left = node.child_by_field_name("left")
            for name in left.named_children if left is not None else []:
                if name.type == "identifier" and pass_.info.resolve(name, go_file) is decl:
                    return True
    return False


def _handed(pass_: Pass, go_file: GoFile, statement: Node) -> list[LocalDecl]:
    """The map variables a send or a `go` statement hands to another goroutine: the value
    sent, a map given as a field of a sent composite literal; the arguments of the call `go`
    starts; every map a started func literal's body uses."""
    roots: list[Node] = []
    if statement.type == "send_statement":
        value = statement.child_by_field_name("value")
        if value is not None:
            roots.append(value)
    else:
        call = statement.named_children[0] if statement.named_children else None
        function = call.child_by_field_name("function") if call is not None else None
        arguments = call.child_by_field_name("arguments") if call is not None else None
        if function is not None and function.type == "func_literal":
            body = function.child_by_field_name("body")
            if body is not None:
                roots.extend(n for n in walk(body) if n.type == "identifier")
        roots.extend(arguments.named_children if arguments is not None else [])
    found: list[LocalDecl] = []
    for root in roots:
        for node in _direct(unparen(root)):
            decl = pass_.info.resolve(node, go_file)
            if isinstance(decl, LocalDecl) and decl not in found and pass_.info.is_map(
                    pass_.info.type_of(node, go_file)):
                found.append(decl)
    return found


def _direct(node: Node) -> list[Node]:
    """`m`, or the maps a composite literal holds as element values (`Event{Labels: m}`,
    `&Event{m}`): not one passed through a call (`maps.Clone(m)` is a copy)."""
    if node.type == "identifier":
        return [node]
    if node.type == "unary_expression":
        operand = node.child_by_field_name("operand")
        return _direct(unparen(operand)) if operand is not None else []
    if node.type == "composite_literal":
        body = node.child_by_field_name("body")
        found: list[Node] = []
        for element in body.named_children if body is not None else []:
            value = element.named_children[-1] if element.type == "keyed_element" and (
                element.named_children) else element
            while value.type == "literal_element" and value.named_children:
                value = value.named_children[0]
            found.extend(_direct(unparen(value)))
        return found
    return []


RULE = Rule(
    code="MG017",
    name="map-written-after-handoff",
    severity=Severity.WARNING,
    summary="a map sent on a channel or handed to a goroutine, then written by the sender",
    reports_at="the first write after the hand-off (`m[k] = v`, `m[k]++`, `delete`, `clear`)",
    doc=__doc__ or "",
    run=run,
    # A `go` statement as gofmt indents it: the markers MG004 searches for already, so this
    # rule adds no search of its own (a `<-` marker cost a search of every package, and a
    # load of every package with a channel, for a rule that found nothing on 78 real trees).
    markers=(b"\tgo ", b"{ go "),
    bodies=(),  # a hand-off's function is parsed when the text shows one
    in_tests=False,
)
