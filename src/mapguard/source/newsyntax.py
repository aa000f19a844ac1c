"""Go syntax newer than the tree-sitter-go grammar, rewritten so that the grammar parses it.

tree-sitter-go 0.25 predates two changes to Go's syntax, and no newer release of it exists:

- Go 1.26: `new(expr)` — the operand of `new` may be an expression (`new(42)`,
  `new(uint64(n))`), where the grammar only accepts a type (it also insists on a type after
  `make`, even where a program declares a `make` of its own);
- Go 1.27: generic methods — a method may declare type parameters of its own
  (`func (r *Rand) N[Int intType](n Int) Int`).

It also never accepted an empty statement at the start of a block (`func() { ; f() }`), which
gofmt does (dd-trace-go has one); that `;` is blanked to a space. Nor does it know that a
general comment holding a line break acts like a line break (the Go spec, "Comments"): a struct
field, statement or declaration that ends in such a comment with code on the comment's last
line (`A string /* one,⏎ two */B string`, generated SDK code in terraform-provider-ctyun) runs
on into that code. The comment becomes a line comment (`//` over its `/*`) and the rest of it
spaces, line breaks kept: what the spec says it is.

Every rewrite here keeps each byte at its offset and each line break where it was, so positions
in the rewritten text are positions in the file: findings, fixes and code frames need no
mapping. A `new` whose operand the grammar cannot read becomes a same-length identifier, so
the grammar reads an ordinary call with an expression argument, which is what `new(expr)` is
(the analysis reads names from the original text, where it still says `new`). A method's own
type parameter list is blanked to spaces, so the grammar reads a plain method (its type
parameters are then unknown named types, which the analysis treats as unknown). What cannot
be rewritten is left to the caller (`mapguard.source.loader`: gofmt decides).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

from tree_sitter import Node, Tree

# Stand-ins for `new` and `make` where their operand is an expression: identifiers of the same
# length. (`make` gets there only when a program declares its own `make`, as tests do.)
STAND_INS = {b"new": b"nEW", b"make": b"mAKE"}

# Only what the rewrites look at: comments and literals (to step over them), brackets, dots and
# the three words; other identifiers are read from the text between tokens when needed.
_TOKEN = re.compile(
    rb"//[^\n]*"  # line comment
    rb"|/\*.*?\*/"  # block comment
    rb"|\"(?:[^\"\\\n]|\\.)*\""  # interpreted string
    rb"|`[^`]*`"  # raw string
    rb"|'(?:[^'\\\n]|\\.)*'"  # rune
    rb"|\b(?:func|new|make)\b"
    rb"|[()\[\]{}.]",
    re.S,
)
# A line that may declare a generic method (`func (r *T) Name[`): files without one skip the
# tokenizing (the pattern also catches other lines; the tokens then decide).
_METHOD_HINT = re.compile(
    rb"(?m)^func[ \t]*\([^\n]*\)[ \t]*[A-Za-z_\x80-\xff][\w\x80-\xff]*[ \t]*\[")
_IDENTIFIER = re.compile(rb"[A-Za-z_\x80-\xff][\w\x80-\xff]*")
_ROUNDS = 8
_OPEN = {b"(": b")", b"[": b"]", b"{": b"}"}


Tokens = list[tuple[bytes, int, int]]


def _tokens(source: bytes) -> Tokens:
    """(text, start, end) of literals, brackets, dots and `func`/`new`/`make`; comments
    left out."""
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(source)
            if not m.group().startswith((b"//", b"/*"))]


def _closing(tokens: Tokens, index: int) -> int | None:
    """The index of the bracket closing the one at `index`."""
    opener = tokens[index][0]
    closer = _OPEN[opener]
    depth = 0
    for position in range(index, len(tokens)):
        text = tokens[position][0]
        if text == opener:
            depth += 1
        elif text == closer:
            depth -= 1
            if depth == 0:
                return position
    return None


def _blank(buffer: bytearray, start: int, end: int) -> None:
    """Spaces over [start, end), line breaks kept."""
    for offset in range(start, end):
        if buffer[offset] not in b"\n\r":
            buffer[offset] = 0x20


def method_type_parameters(source: bytes, tokens: Tokens | None = None
                           ) -> list[tuple[int, int]]:
    """The [start, end) spans of the type parameter lists of generic methods (Go 1.27):
    `func (receiver) Name[...]` at the top level."""
    if _METHOD_HINT.search(source) is None:
        return []
    tokens = _tokens(source) if tokens is None else tokens
    spans: list[tuple[int, int]] = []
    depth = 0
    index = 0
    while index < len(tokens):
        text = tokens[index][0]
        if text in _OPEN:
            depth += 1
        elif text in {b")", b"]", b"}"}:
            depth -= 1
        elif text == b"func" and depth == 0 and index + 1 < len(tokens) \
                and tokens[index + 1][0] == b"(" \
                and not source[tokens[index][2]:tokens[index + 1][1]].strip():
            # `func (` opens a receiver; in `func f(` the name is not a token, and the
            # `(` that follows it opens the parameters (whose result may be `map[K]V`).
            receiver_end = _closing(tokens, index + 1)
            opening = _name_then_bracket(source, tokens, receiver_end)
            params_end = _closing(tokens, opening) if opening is not None else None
            if opening is not None and params_end is not None:
                spans.append((tokens[opening][1], tokens[params_end][2]))
                index = params_end + 1
                continue
        index += 1
    return spans


def _name_then_bracket(source: bytes, tokens: Tokens, receiver_end: int | None) -> int | None:
    """The index of the `[` when a method name and `[` follow the receiver's `)`."""
    if receiver_end is None:
        return None
    for index in (receiver_end + 1, receiver_end + 2):  # the name may be a token (`new`)
        if index < len(tokens) and tokens[index][0] == b"[":
            between = source[tokens[receiver_end][2]:tokens[index][1]].strip()
            return index if _IDENTIFIER.fullmatch(between) else None
    return None


def builtin_calls(source: bytes, tokens: Tokens | None = None
                  ) -> list[tuple[bytes, int, int]]:
    """(name, offset of the name, end of the closing parenthesis) of each call of `new` or
    `make`."""
    tokens = _tokens(source) if tokens is None else tokens
    calls: list[tuple[bytes, int, int]] = []
    for index, (text, start, _end) in enumerate(tokens[:-1]):
        if text not in STAND_INS or tokens[index + 1][0] != b"(":
            continue
        if index > 0 and tokens[index - 1][0] in {b".", b"func"} \
                and not source[tokens[index - 1][2]:start].strip():
            continue  # a method or function that happens to be called new
        closing = _closing(tokens, index + 1)
        if closing is not None:
            calls.append((text, start, tokens[closing][2]))
    return calls


def error_offsets(tree: Tree) -> list[int]:
    """Where a tree's syntax errors are: the starts of its MISSING nodes, and of its ERROR
    nodes and their children (recovery can start an ERROR node at the statement, before the
    call whose operand it could not read)."""
    offsets: list[int] = []
    pending: list[Node] = [tree.root_node]
    while pending:
        node = pending.pop()
        if node.is_missing:
            offsets.append(node.start_byte)
        elif node.is_error:
            offsets.append(node.start_byte)
            offsets.extend(child.start_byte for child in node.children)
        pending.extend(child for child in node.children if child.has_error or child.is_missing)
    return offsets


_AFTER_OPENING = re.compile(rb"(?:[ \t\r\n]*;)+")


def leading_empty_statements(source: bytes, tokens: Tokens | None = None) -> list[int]:
    """Offsets of the `;` of empty statements that open a block (`func() { ; f() }`): gofmt
    accepts them, the grammar does not. Blanked, they leave the same block."""
    found: list[int] = []
    for text, _start, end in tokens if tokens is not None else _tokens(source):
        if text != b"{":
            continue
        run = _AFTER_OPENING.match(source, end)
        if run is not None:
            found.extend(end + i for i, byte in enumerate(run.group()) if byte == ord(";"))
    return found


def comments_ending_lines(source: bytes) -> list[tuple[int, int]]:
    """The [start, end) spans of general comments (`/* */`) that hold a line break and have
    code after them on their last line: each acts like a line break there."""
    found: list[tuple[int, int]] = []
    if b"*/" not in source:
        return found
    for match in _TOKEN.finditer(source):
        text = match.group()
        if not text.startswith(b"/*") or b"\n" not in text:
            continue
        line_end = source.find(b"\n", match.end())
        after = source[match.end():line_end if line_end >= 0 else len(source)].strip()
        if after and not after.startswith(b"/"):
            found.append((match.start(), match.end()))
    return found


def reparse_newer_syntax(source: bytes, tree: Tree, parse: Callable[[bytes], Tree]) -> Tree:
    """The tree of the best rewrite of `source`, given its failed parse `tree` (`tree` itself
    when nothing here applies).

    Generic methods are blanked at once. Then, round by round, the innermost `new`/`make`
    call around each error that has no stand-in yet gets one (for `new(new(5))` the inner call
    first, then the outer); when every call around an error already has its stand-in, the
    innermost gives it back for good (the error was another one, and the grammar had read
    that operand as a type). Each call changes at most twice."""
    tokens = _tokens(source)
    blanked = bytearray(source)
    for start, end in method_type_parameters(source, tokens):
        _blank(blanked, start, end)
    for offset in leading_empty_statements(source, tokens):
        blanked[offset] = ord(" ")
    for start, end in comments_ending_lines(source):
        first_break = source.index(b"\n", start)
        blanked[start + 1] = ord("/")  # `/*` -> `//`, to the comment's first line break
        _blank(blanked, first_break, end)
    if blanked != source:
        tree = parse(bytes(blanked))
    calls = builtin_calls(source, tokens)
    starts = [start for _, start, _ in calls]
    outer = enclosing_calls(calls)
    replaced: set[int] = set()  # indexes into calls
    refused: set[int] = set()
    for _ in range(_ROUNDS):
        if not tree.root_node.has_error:
            break
        wanted = set(replaced)
        for offset in error_offsets(tree):
            holders = calls_around(calls, starts, offset, outer)
            fresh = [index for index in holders if index not in replaced | refused]
            if fresh:
                wanted.add(fresh[0])
            elif holders and holders[0] in replaced:
                wanted.discard(holders[0])
                refused.add(holders[0])
        if wanted == replaced:
            break
        replaced = wanted
        text = bytearray(blanked)
        for index in replaced:
            name, start, _end = calls[index]
            text[start:start + len(name)] = STAND_INS[name]
        tree = parse(bytes(text))
    return tree


def calls_around(calls: list[tuple[bytes, int, int]], starts: list[int], offset: int,
                 outer: list[int] | None = None) -> list[int]:
    """The calls around an error offset, innermost first. A call holds the offsets in
    (start, end]: error recovery can put the ERROR node just past the closing parenthesis.

    With `outer` (`enclosing_calls`), only the chain of calls around the last call that
    starts before the offset is looked at: every holder is on it. (A file can hold thousands
    of calls and its errors thousands of offsets.)"""
    last = bisect.bisect_left(starts, offset) - 1
    if outer is None:
        return [index for index in range(last, -1, -1)
                if calls[index][1] < offset <= calls[index][2]]
    holders: list[int] = []
    index = last
    while index >= 0:
        if offset <= calls[index][2]:
            holders.append(index)
        index = outer[index]
    return holders


def enclosing_calls(calls: list[tuple[bytes, int, int]]) -> list[int] | None:
    """For each call (sorted by start), the innermost call that contains it, -1 for none; None
    when two calls overlap without one containing the other (brackets that do not match up),
    where only a scan of every earlier call finds the holders."""
    outer: list[int] = []
    open_calls: list[int] = []
    for index, (_name, start, end) in enumerate(calls):
        while open_calls and calls[open_calls[-1]][2] <= start:
            open_calls.pop()
        if open_calls and end > calls[open_calls[-1]][2]:
            return None
        outer.append(open_calls[-1] if open_calls else -1)
        open_calls.append(index)
    return outer
