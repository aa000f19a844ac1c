"""Is this source the source a profile was taken from? Checked function by function.

A profile frame names its function and, since Go 1.20, the line of that function's `func`
keyword in the profiled build (`Function.start_line`). The source read for it matches when it
declares a function of that name starting at that line (for a closure, `F.func1`, a function
literal starting at that line inside F) and the frame's line lies inside it. Without a start
line (debug=1 text profiles) the weaker check is that the line lies inside a function of that
name. A frame whose function does not match is attributed by function only: its line numbers
belong to another version of the file, and reading them in this one would mislabel.

What this cannot see: a body edited without moving its first line. Reading the source at the
binary's own revision (see `sourcetree`) leaves nothing to guess.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from tree_sitter import Node, Query, QueryCursor, Tree

from mapguard.evidence.goframes import package_of, strip_type_args
from mapguard.source.parser import GO_LANGUAGE

if TYPE_CHECKING:
    # Only a type here: the profile reader (numpy, protobuf) is not imported by lint runs
    # without a profile.
    from mapguard.formats.pprof import Frame


class SourceMatch(StrEnum):
    EXACT = "exact"  # name and start line match the source read
    ENCLOSED = "enclosed"  # the profile has no start line; the line lies inside that function
    MOVED = "moved"  # the function is declared elsewhere in the file: attributed by function only
    MISSING = "missing"  # the file or the function is not in the source: by function only
    NO_SOURCE = "no-source"  # no source was read for this frame

    @property
    def trusted(self) -> bool:
        """Can the frame's line be read in this source?"""
        return self in (SourceMatch.EXACT, SourceMatch.ENCLOSED)


@dataclass(frozen=True, slots=True)
class Declaration:
    start: int  # 1-based line of `func`
    end: int
    literals: frozenset[int]  # start lines of the function literals inside


Declarations = dict[str, list[Declaration]]

_CLOSURE_PART = re.compile(r"^(?:func\d+|gowrap\d+|deferwrap\d+|\d+)$")
_WRAPPER_PART = re.compile(r"^(?:gowrap|deferwrap)\d+$")
_PACKAGE_INIT = "init"
_FUNC_LITERALS = Query(GO_LANGUAGE, "(func_literal) @literal")
_LINKNAME = re.compile(rb"^//go:linkname\s+(\w+)\s+(\S+)", re.M)


def declaration_key(function: str) -> tuple[str, tuple[str, ...]]:
    """(`F`, `(*T).M` or `T.M`, as declared; the closure path below it) for a profile name:
    `example.com/p.(*Set[...]).Add.func1` -> ("(*Set).Add", ("func1",))."""
    name = strip_type_args(function).removesuffix("-fm")
    package = package_of(name)
    rest = name[len(package) + 1 :] if name.startswith(package + ".") else name
    if rest.startswith("("):
        close = rest.find(")")
        method, *tail = rest[close + 2 :].split(".")
        return f"{rest[: close + 1]}.{method}", tuple(tail)
    head, *tail = rest.split(".")
    if tail and not _CLOSURE_PART.match(tail[0]):  # a value-receiver method: T.M
        head, tail = f"{head}.{tail[0]}", tail[1:]
    return head, tuple(tail)


def declarations(tree: Tree, source: bytes) -> Declarations:
    """Every top-level function and method of a file, by `declaration_key` name. Function
    literals in package-level declarations (`var pool = sync.Pool{New: func() any {…}}`)
    belong to the package's initialisation: Go names them `init.funcN`."""
    found: Declarations = {}
    starts = sorted(node.start_point[0] + 1 for node in QueryCursor(_FUNC_LITERALS).captures(
        tree.root_node).get("literal", ()))
    for node in tree.root_node.named_children:
        key = _key_of(node, source)
        first, last = node.start_point[0] + 1, node.end_point[0] + 1
        literals = frozenset(starts[bisect.bisect_left(starts, first):
                                    bisect.bisect_right(starts, last)])
        if key is None and literals:
            key = _PACKAGE_INIT
        if key is not None:
            found.setdefault(key, []).append(Declaration(first, last, literals))
    # `//go:linkname godebug_registerMetric internal/godebug.registerMetric`: profiles name
    # the function by the second, the file declares the first.
    for local, target in _LINKNAME.findall(source):
        if local.decode() in found:
            pushed, _ = declaration_key(target.decode())
            found.setdefault(pushed, []).extend(found[local.decode()])
    return found


def _key_of(node: Node, source: bytes) -> str | None:
    def text(part: Node | None) -> str:
        return "" if part is None else source[part.start_byte : part.end_byte].decode(
            "utf-8", "replace")

    name = text(node.child_by_field_name("name"))
    if node.type == "function_declaration":
        return name
    if node.type != "method_declaration":
        return None
    receiver = node.child_by_field_name("receiver")
    declared = receiver.named_children[0] if receiver and receiver.named_children else None
    kind = declared.child_by_field_name("type") if declared is not None else None
    pointer = kind is not None and kind.type == "pointer_type"
    if pointer and kind is not None:
        kind = kind.named_children[0] if kind.named_children else None
    if kind is not None and kind.type == "generic_type":
        kind = kind.child_by_field_name("type")
    type_name = text(kind)
    return f"(*{type_name}).{name}" if pointer else f"{type_name}.{name}"


def check_frame(frame: Frame, found: Declarations | None) -> SourceMatch:
    """How `frame` matches a file's declarations (None: the file was not found)."""
    if found is None:
        return SourceMatch.MISSING
    key, closure = declaration_key(frame.function)
    candidates = found.get(key)
    if not candidates:
        return SourceMatch.MISSING
    inside = [d for d in candidates if d.start <= frame.line <= d.end]
    if not frame.start_line:
        return SourceMatch.ENCLOSED if inside else SourceMatch.MOVED
    for declaration in inside:
        if not closure and declaration.start == frame.start_line:
            return SourceMatch.EXACT
        if closure and (frame.start_line in declaration.literals or (
                # a go/defer wrapper starts at its statement, inside the function
                _WRAPPER_PART.match(closure[-1])
                and declaration.start <= frame.start_line <= declaration.end)):
            return SourceMatch.EXACT
    return SourceMatch.MOVED
