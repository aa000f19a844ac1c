"""Who calls a function: its call sites in the package, and whether it only ever runs inside a
`sync.Once` — questions the lint rules and the lock model share."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from tree_sitter import Node

from mapguard.source.package import FuncDecl, GoFile, Package, receiver_type_name
from mapguard.source.typeinfo import TypeInfo, after_a_dot, enclosing_declaration, word_hits
from mapguard.source.types import Named, Unknown, deref


@dataclass(frozen=True, slots=True)
class CallSite:
    """A call of a package function, and where it is made."""

    file: GoFile
    call: Node
    caller: FuncDecl | None  # the named function it is in (None: a package-level initialiser)
    under_once: bool  # inside a func literal handed to `x.Do(...)`


def call_sites(package: Package, info: TypeInfo, callee: FuncDecl, *, in_tests: bool = True
               ) -> list[CallSite] | None:
    """Where the package calls `callee` — a method only through a value of its receiver type;
    None when it is also used as a value (`go f`, `once.Do(x.f)`, `h := f`), so that who
    runs it is not visible. `in_tests=False`: only where code outside the _test.go files
    calls or uses it — how it is meant to be used, for a question about that code (a test
    runs it on the test's own goroutine, and `go test -race` judges that); those files are
    then not searched (on nats-server two thirds of the package's text)."""
    if not in_tests:
        every = package.memo.get(_sites_key(callee, True))
        if isinstance(every, list):  # every file's, searched already
            return [site for site in every if not site.file.is_test]
    key = _sites_key(callee, in_tests)
    if key not in package.memo:
        found = list(_scan_call_sites(package, info, callee, in_tests))
        package.memo[key] = None if found and found[-1] is None else found
    return package.memo[key]  # type: ignore[return-value]


def _sites_key(callee: FuncDecl, in_tests: bool) -> tuple[str, int]:
    return ("call-sites" if in_tests else "call-sites outside tests", id(callee))


def _known(package: Package, callee: FuncDecl, in_tests: bool) -> bool:
    """Whether `call_sites` answers without searching the package."""
    return _sites_key(callee, in_tests) in package.memo or (
        not in_tests and isinstance(package.memo.get(_sites_key(callee, True)), list))


def _scan_call_sites(package: Package, info: TypeInfo, callee: FuncDecl, in_tests: bool = True
                     ) -> Iterator[CallSite | None]:
    """The call sites of `call_sites`, one by one as the files are searched, ending with None
    at the first use as a value (a caller that has seen enough can stop early)."""
    method = callee.is_method
    for go_file in package.files:
        if go_file.is_test and not in_tests:
            continue
        for start, end in word_hits(go_file.source, callee.name):
            # A method is named after a dot (`x.m`), a function never: the other hits need
            # no parse (when a comment may stand before the name, it is looked at).
            if after_a_dot(go_file.source, start) is (not method):
                continue
            node = go_file.node_at(start, end)
            if node is None or node.type not in {"identifier", "field_identifier"}:
                continue
            holder = node.parent
            if holder is not None and holder.child_by_field_name("name") == node and (
                holder.type in {"function_declaration", "method_declaration"}
            ):
                continue  # a declaration (this one, or a build-tag variant)
            expression = holder if holder is not None and holder.type == "selector_expression" \
                else node
            if expression is None or not _refers_to(info, go_file, expression, callee):
                continue
            call = expression.parent
            if call is None or call.type != "call_expression" or (
                call.child_by_field_name("function") != expression
            ):
                yield None  # used as a value
                return
            yield CallSite(go_file, call, _caller(package, go_file, call),
                           _inside_once_literal(go_file, call))


def _refers_to(info: TypeInfo, go_file: GoFile, expression: Node, callee: FuncDecl) -> bool:
    if expression.type == "identifier":
        return not callee.is_method and info.resolve(expression, go_file) is callee
    operand = expression.child_by_field_name("operand")
    if operand is None or not callee.is_method:
        return False
    owner = deref(info.type_of(operand, go_file))
    # An unknown receiver could be this type: count it, so that no protection is assumed.
    # A generic receiver type matches whatever it is instantiated with (`w *Work[T]`).
    return isinstance(owner, Unknown) or (
        isinstance(owner, Named) and owner.pkg == "" and owner.name == callee.receiver_type)


def _caller(package: Package, go_file: GoFile, call: Node) -> FuncDecl | None:
    function = enclosing_declaration(call)
    name = function.child_by_field_name("name") if function is not None else None
    if function is None or name is None:
        return None
    text = go_file.text(name)
    if function.type == "function_declaration":
        return package.func_named(text)
    receiver = receiver_type_name(function, go_file)
    return package.method(receiver, text) if receiver is not None else None


def _inside_once_literal(go_file: GoFile, call: Node) -> bool:
    current = call.parent
    while current is not None and current.type not in {"function_declaration",
                                                       "method_declaration"}:
        if current.type == "func_literal":
            holder = current.parent
            outer = holder.parent if holder is not None else None
            if outer is not None and outer.type == "call_expression" and go_file.text(
                outer.child_by_field_name("function") or outer
            ).endswith(".Do"):
                return True
        current = current.parent
    return False


def runs_under_once(package: Package, info: TypeInfo, function: FuncDecl, depth: int = 0, *,
                    in_tests: bool = True) -> bool:
    """Handed to `once.Do`, or called only from Once bodies and functions that are
    (`in_tests`: as for `call_sites`)."""
    if run_by_once(package, function.name):
        return True
    if depth >= 3:
        return False
    return every_call_site(package, info, function, lambda site: site.under_once or (
        site.caller is not None and runs_under_once(package, info, site.caller, depth + 1,
                                                    in_tests=in_tests)), in_tests=in_tests)


def every_call_site(package: Package, info: TypeInfo, callee: FuncDecl,
                    judge: Callable[[CallSite], bool], *, in_tests: bool = True) -> bool:
    """Whether `callee` has call sites (`call_sites`, with `in_tests`: a list, not None) and
    `judge` holds for each. Without the call sites known yet, they are judged as the search
    finds them: the first that fails settles it (a use as a value would too), and the rest
    of the package (often its tests' bodies) is then never parsed for them."""
    known = _known(package, callee, in_tests)
    sites: Iterable[CallSite | None]
    if known:
        found = call_sites(package, info, callee, in_tests=in_tests)
        sites = [None] if found is None else found  # None: used as a value
    else:
        sites = _scan_call_sites(package, info, callee, in_tests)
    seen: list[CallSite] = []
    for site in sites:
        if site is None or not judge(site):
            return False
        seen.append(site)
    if not known:  # the search went through: every call site is known
        package.memo[_sites_key(callee, in_tests)] = seen
    return bool(seen)


# What precedes a function handed to a Once: `once.Do(`, `sync.OnceFunc(`, `sync.OnceValue[T](`,
# then an optional receiver chain (`x.`, `s.cfg.`), right before the function's name.
# A selector may break its line after a dot (`once.Do(s.\n\tinit)`), never before one.
_ONCE_CALL_BEFORE = re.compile(
    rb"(?:\.Do|\bOnceFunc|\bOnceValues?(?:\[[^\]\n]*\])?)\(\s*(?:(?:\w+[ \t]*\.\s*)+)?\Z")
_CLOSING = re.compile(rb"\s*\)")
# The byte right before the name when _ONCE_CALL_BEFORE can match: its last character, or a
# newline (`$` also matches before one). A cheap look that spares most hits the search.
_ONCE_CALL_LAST = frozenset({b"(", b".", b" ", b"\t", b"\n", b"\r", b"\f", b"\v"})


def run_by_once(package: Package, function_name: str) -> bool:
    """Whether a named function or method is handed to `once.Do(f)` / `once.Do(x.f)`, or
    wrapped by `sync.OnceFunc(x.f)` / `sync.OnceValue(s)(x.f)`."""
    return _calls_do(package) and function_name in _handed_to_once(package)


# A function handed to a Once, read from the call's side: the name before the closing `)`.
_ONCE_HANDED = re.compile(
    rb"(?:\.Do|\bOnceFunc|\bOnceValues?(?:\[[^\]\n]*\])?)\(\s*(?:(?:\w+[ \t]*\.\s*)+)?"
    rb"(?P<name>\w+)\s*\)")
_ONCE_LITERALS = (b".Do(", b"OnceFunc(", b"OnceValue")


def _handed_to_once(package: Package) -> frozenset[str]:
    """The names handed to a Once anywhere in the package, found once for all names: from
    each `.Do(` / `OnceFunc(` / `OnceValue` (plain substring searches, then a match there),
    instead of a search of the whole package for each name asked about (on nats-server's
    12 MB package that was 4 % of the lint). A name counts where, seen from the name, the
    call reads as `_ONCE_CALL_BEFORE` name `_CLOSING`."""
    key = ("handed-to-once",)
    if key not in package.memo:
        names: set[str] = set()
        for go_file in package.files:
            source = go_file.source
            for literal in _ONCE_LITERALS:
                position = 0
                while (at := source.find(literal, position)) >= 0:
                    position = at + 1
                    call = _ONCE_HANDED.match(source, at)
                    if call is None:
                        continue
                    start, end = call.span("name")
                    if source[start - 1:start] in _ONCE_CALL_LAST and _ONCE_CALL_BEFORE.search(
                        source, max(0, start - 120), start
                    ) is not None and _CLOSING.match(source, end) is not None:
                        names.add(call.group("name").decode())
        package.memo[key] = frozenset(names)
    return package.memo[key]  # type: ignore[return-value]


def _calls_do(package: Package) -> bool:
    key = ("calls-do",)
    if key not in package.memo:
        package.memo[key] = any(b".Do(" in f.source for f in package.files)
    return bool(package.memo[key])
