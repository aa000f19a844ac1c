"""Run the compiler's escape analysis, read saved output, and key the facts by `Site`.

`go build -gcflags=-m=2 -o /dev/null PATTERNS` in the module directory compiles each package
once (the build cache replays a package's diagnostics when nothing changed) and discards the
binaries. The facts' relative paths are resolved against that directory, and variables moved to
the heap are checked against their declaration in the source to tell map variables apart.

`escape_facts_for(paths)` is the one call `mapguard lint --escape` needs.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from tree_sitter import Node

from mapguard.errors import InputError, ToolError
from mapguard.evidence.mapsyntax import (
    FUNCTION_NODES,
    GoSource,
    assigned_values,
    declared_map_types,
    enclosing,
)
from mapguard.evidence.site import Site
from mapguard.formats.escape import (
    AllocKind,
    EscapeFact,
    EscapeReport,
    Position,
    Verdict,
    parse_escape_json,
    parse_escape_text,
)
from mapguard.gotool import GoToolchain, run_go
from mapguard.source.typeinfo import walk

BUILD_FLAGS = ("build", "-gcflags=-m=2", "-o", os.devnull)
_JSON_HEADER = re.compile(r'^\s*\{"version":')


class EscapeBuildError(ToolError):
    """The build failed; `partial` holds what the compiler said about the packages it did
    compile, if anything."""

    def __init__(self, message: str, partial: EscapeReport | None) -> None:
        super().__init__(message)
        self.partial = partial


def find_module_root(start: Path) -> Path:
    """The nearest directory at or above `start` with a go.mod; `start` itself if none."""
    here = start if start.is_dir() else start.parent
    for candidate in (here, *here.parents):
        if (candidate / "go.mod").is_file():
            return candidate
    return here


def run_escape_build(
    patterns: Sequence[str], module_dir: Path, *, toolchain: GoToolchain | None = None
) -> EscapeReport:
    """Build `patterns` in `module_dir` with -m=2 and parse what the compiler said."""
    proc = run_go([*BUILD_FLAGS, *(patterns or ["./..."])], cwd=module_dir, toolchain=toolchain)
    output = proc.stderr + proc.stdout
    try:
        report = parse_escape_text(output, "go build")
    except InputError:
        report = None
    if proc.returncode != 0:
        lines = report.unrecognized if report else tuple(output.splitlines())
        detail = "; ".join(line.strip() for line in lines[:3]) or f"exit status {proc.returncode}"
        message = f"`go build -gcflags=-m=2 {' '.join(patterns)}` failed: {detail}"
        partial = resolve_report(report, module_dir) if report and report.facts else None
        raise EscapeBuildError(message, partial)
    if report is None:  # it built, and the compiler had nothing to say (no functions)
        return EscapeReport((), (), (), ())
    return resolve_report(report, module_dir)


def read_escape_log(path: Path, base: Path) -> EscapeReport:
    """Saved compiler output: a -m/-m=2 log, one -json=0 file, or a -json=0 directory."""
    if path.is_dir():
        files = sorted(path.rglob("*.json"))
        return resolve_report(parse_escape_json(_read(file) for file in files), base)
    name, text = _read(path)
    if _JSON_HEADER.match(text):
        return resolve_report(parse_escape_json([(name, text)]), base)
    return resolve_report(parse_escape_text(text, name), base)


def _read(path: Path) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    if b"\x00" in data[:4096]:
        raise InputError(path, "binary data, not compiler output",
                         expected="text from go build -gcflags=-m or -json=0")
    return str(path), data.decode("utf-8", "replace")


def resolve_report(report: EscapeReport, base: Path) -> EscapeReport:
    """Absolute file paths, and map sites recognised from the source: variables declared as maps
    and allocations of named map types (``make(Index)``, ``Index{…}``)."""
    facts = []
    for fact in report.facts:
        fact = _absolute_fact(fact, base)
        file = fact.position.file
        if fact.kind is AllocKind.VARIABLE and _declares_map(file, fact):
            fact = replace(fact, kind=AllocKind.MAP_VARIABLE)
        elif fact.kind is AllocKind.OTHER:
            named = _NAMED_ALLOCATION.match(fact.expr)
            if named and named.group(2) in _map_types(str(Path(file).parent)):
                kind = AllocKind.MAKE_MAP if named.group(1) else AllocKind.MAP_LITERAL
                fact = replace(fact, kind=kind)
        if fact.kind in (AllocKind.MAKE_MAP, AllocKind.MAP_LITERAL) and (
                fact.verdict is Verdict.STACK or any(
                    copy.verdict is Verdict.STACK for copy in fact.inlined_copies)):
            fact = replace(fact, grows_on_heap=_grows_on_heap(fact.position))
        facts.append(fact)
    leaks = tuple(replace(leak, position=_absolute(leak.position, base)) for leak in report.leaks)
    return replace(report, facts=tuple(facts), leaks=leaks)


def _absolute_fact(fact: EscapeFact, base: Path) -> EscapeFact:
    flows = tuple(
        replace(flow, steps=tuple(
            replace(step, at=_absolute(step.at, base) if step.at else None) for step in flow.steps
        ))
        for flow in fact.flows
    )  # fmt: skip
    copies = tuple(
        replace(copy, position=_absolute(copy.position, base)) for copy in fact.inlined_copies
    )
    return replace(
        fact, position=_absolute(fact.position, base), flows=flows, inlined_copies=copies
    )


def _absolute(position: Position, base: Path) -> Position:
    path = Path(position.file)
    return replace(position, file=str(path if path.is_absolute() else (base / path).resolve()))


# `make(Index)`, `make(Set[go.shape.int], n)`, `Index{...}`, `Set[string]{...}`.
_NAMED_ALLOCATION = re.compile(r"^(make\()?(\w+)(?:\[.*\])?(?:\)|, .*\)|\{.*\})$")


@functools.lru_cache(maxsize=64)
def _map_types(directory: str) -> frozenset[str]:
    """Names declared in a package directory as map types (`type Index map[string]int`,
    `type Set[K comparable] map[K]struct{}`); types from other packages stay unknown."""
    contents: list[bytes] = []
    for file in Path(directory).glob("*.go"):
        try:
            contents.append(file.read_bytes())
        except OSError:
            continue
    return declared_map_types(contents)


@functools.lru_cache(maxsize=256)
def _source_lines(file: str) -> tuple[str, ...]:
    try:
        return tuple(Path(file).read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError:
        return ()


def _declares_map(file: str, fact: EscapeFact) -> bool:
    """Is the variable declared at the fact's position declared with a map type or value?

    ``var m map[K]V``, ``m map[K]V`` (a parameter), ``m := make(map…)``, ``m = map[K]V{…}``.
    """
    lines = _source_lines(file)
    if not 0 < fact.position.line <= len(lines):
        return False
    text = lines[fact.position.line - 1].encode()[fact.position.column - 1 :].decode(
        "utf-8", "replace"
    )
    name = re.escape(fact.expr)
    typed = rf"^{name}(?:\s*,\s*\w+)*\s+map\["
    assigned = rf"^{name}(?:\s*,\s*\w+)*\s*:?=\s*(?:make\(\s*)?map\["
    return re.match(typed, text) is not None or re.match(assigned, text) is not None


@functools.lru_cache(maxsize=64)
def _parsed(file: str) -> GoSource | None:
    try:
        return GoSource(Path(file).read_bytes())
    except OSError:
        return None


# Calls that read a map without growing it.
_READING_CALLS = frozenset({"len", "delete", "clear", "print", "println"})
_STACK_SLOTS = 8  # one group of a Swiss map (a bucket of an old one) fits on the stack


def _grows_on_heap(position: Position) -> bool:
    """Can the map made at `position` outgrow what the stack holds? A size hint or a literal
    above 8 entries, an insert into the variable it is assigned to, or the variable passed to a
    function (which may insert) say it can."""
    source = _parsed(position.file)
    if source is None:
        return False
    point = (position.line - 1, position.column - 1)
    node = source.tree.root_node.named_descendant_for_point_range(point, point)
    while node is not None and node.type not in ("call_expression", "composite_literal"):
        node = node.parent
    if node is None:
        return False
    arguments = node.child_by_field_name("arguments")
    if arguments is not None and len(arguments.named_children) >= 2:
        hint = arguments.named_children[1]
        if hint.type != "int_literal" or _int(source.text(hint)) > _STACK_SLOTS:
            return True
    body = node.child_by_field_name("body")
    if body is not None and len(body.named_children) > _STACK_SLOTS:
        return True
    holder = node.parent.parent if node.parent is not None else None
    names = [name for name, value in assigned_values(source, holder) if value == node] \
        if holder is not None else []
    function = enclosing(node, FUNCTION_NODES)
    if not names or function is None:
        return False
    return any(_may_insert(source, use) for use in walk(function)
               if use.type == "identifier" and source.text(use) == names[0])


def _may_insert(source: GoSource, use: Node) -> bool:
    parent = use.parent
    if parent is None:
        return False
    if parent.type == "index_expression" and parent.child_by_field_name("operand") == use:
        statement = parent.parent.parent if parent.parent is not None else None
        return (statement is not None and statement.type in (
            "assignment_statement", "inc_statement", "dec_statement")) or (
            parent.parent is not None and parent.parent.type in ("inc_statement", "dec_statement"))
    if parent.type == "argument_list" and parent.parent is not None:
        callee = source.text(parent.parent.child_by_field_name("function"))
        return callee not in _READING_CALLS
    return False


def _int(text: str) -> int:
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        return _STACK_SLOTS + 1


def site_of(fact: EscapeFact) -> Site:
    """The join key of a fact (function left out: the compiler and pprof name them apart)."""
    return Site(fact.position.file, fact.position.line, fact.position.column)


def escape_facts_for(
    paths: Iterable[str | Path], *, toolchain: GoToolchain | None = None
) -> dict[Site, EscapeFact]:
    """Escape facts of every map allocation site in the Go packages under `paths`.

    `paths` are Go files, directories (taken recursively, like ``./...``) or ``DIR/...``
    patterns. Each module they belong to is built once with ``-gcflags=-m=2``. Keys are
    ``Site(absolute file, line, column)`` with ``function=None``; look a finding up with
    `lookup_escape`, which also matches a map literal by its line (the compiler places a literal
    at its ``{``, a syntax tree at ``map``). Raises `ToolError` when a package does not build.
    """
    by_module: dict[Path, list[str]] = {}
    for raw in paths:
        text = str(raw)
        recursive = text.endswith("/...") or text == "..."
        path = Path(text.removesuffix("...").removesuffix("/") or ".").resolve()
        directory = path if path.is_dir() else path.parent
        module = find_module_root(directory)
        relative = directory.relative_to(module).as_posix()
        pattern = "./" if relative == "." else f"./{relative}"
        if recursive or path.is_dir():
            pattern = pattern.rstrip("/") + "/..."
        by_module.setdefault(module, []).append(pattern)
    facts: dict[Site, EscapeFact] = {}
    for module, patterns in by_module.items():
        report = run_escape_build(sorted(set(patterns)), module, toolchain=toolchain)
        for fact in report.map_sites():
            if fact.inlined_from is None:
                facts.setdefault(site_of(fact), fact)
    return facts


def lookup_escape(facts: dict[Site, EscapeFact], site: Site) -> EscapeFact | None:
    """The fact for a finding's site: the same position; else, on the same line, the nearest
    allocation at or after the column (a syntax tree starts a literal at ``map``, the compiler at
    its ``{``; a 0-based column lands before the 1-based one); else the line's only fact."""
    exact = facts.get(Site(site.file, site.line, site.column))
    if exact is not None:
        return exact
    on_line = sorted(
        ((key.column, fact) for key, fact in facts.items()
         if (key.file, key.line) == (site.file, site.line)),
        key=lambda pair: pair[0],
    )  # fmt: skip
    after = [
        fact for column, fact in on_line
        if column >= site.column and fact.kind is not AllocKind.MAP_VARIABLE
    ]  # fmt: skip
    if after:
        return after[0]
    return on_line[0][1] if len(on_line) == 1 else None
