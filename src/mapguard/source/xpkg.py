"""Signatures of the functions other packages of the same module declare.

The per-package type model (`mapguard.source.typeinfo`) sees one package's files; a call
into another package of the module (`store.New()`) had no type, so a value it returns
(`var hits = store.New(); hits.Add(k)`) could not be followed. This reads just enough of
the other package to answer: the files that declare the function, with every top-level
function body cut out before parsing (`declarations_only`), and the declared result types
qualified with that package's import path (`Store` -> `example.com/app/internal/store.Store`).

Read once per directory per process and kept while its files' sizes and modification times
stay the same; a run (`outside.start_run`) looks at them once. Generic functions are not answered
(their results name type parameters whose arguments the call site would have to infer). An
analysis that asks about a directory notes it (`mapguard.source.outside`): its cached result is
reused only while that directory's declarations are the same (`declarations_digest`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from mapguard.digests import blake2b
from mapguard.goversion import NEWEST_KNOWN
from mapguard.source.gomod import GoModule, find_module
from mapguard.source.outside import forget_at_run_start, read_declarations
from mapguard.source.package import (
    FuncDecl,
    GoFile,
    Package,
    TypeDecl,
    declarations_only,
    package_clause_name,
    read_imports,
)
from mapguard.source.parser import first_syntax_error, parse_go
from mapguard.source.types import (
    ArrayOf,
    ChanOf,
    Field,
    FuncOf,
    GoType,
    MapOf,
    Named,
    PointerTo,
    SliceOf,
    StructOf,
    Tuple,
    type_from_node,
)


def function_signature(module: GoModule, import_path: str, name: str) -> FuncOf | None:
    """The signature of the exported, non-generic function `name` of the module's package
    `import_path`, its types qualified; None when it is not declared there (or not visible)."""
    declarations = _exported_from(module, import_path, name)
    return (declarations.signature(name, None, import_path) if declarations is not None
            else None)


def method_signature(module: GoModule, import_path: str, receiver: str, name: str
                     ) -> FuncOf | None:
    """The signature of the exported method `name` of type `receiver` declared in the
    module's package `import_path` (not of a generic type, not promoted), types qualified."""
    declarations = _exported_from(module, import_path, name)
    return (declarations.signature(name, receiver, import_path) if declarations is not None
            else None)


def declared_type(module: GoModule, import_path: str, name: str) -> GoType | None:
    """What the exported, non-generic `type name T` of the module's package `import_path`
    declares (T, its types qualified: `type Key string` gives `string`); None when it is not
    declared there (or not visible)."""
    declarations = _exported_from(module, import_path, name)
    return (declarations.declared_type(name, import_path) if declarations is not None
            else None)


def hands_out_context_map(module: GoModule, import_path: str, name: str) -> bool:
    """Whether the exported function `name` of the module's package `import_path` takes a
    value out of a context with a type assertion (`ctx.Value(key).(Metadata)`) and makes no
    copy on the way (copying a map takes a `range` loop, `copy`, or a `Clone` or `Copy`:
    none is in its body): what it returns is the map the context holds (MG015). Judged on
    the text of its body, which the package's declarations digest covers for that reason."""
    return name in context_getters(module, import_path)


def context_getters(module: GoModule, import_path: str) -> frozenset[str]:
    """The exported functions of the module's package `import_path` that
    `hands_out_context_map` answers yes for (one search of the package's files per run; most
    packages take no value out of a context, and answer at once)."""
    if not _inside(module, import_path):
        return frozenset()
    known = _GETTERS.get((module.root, import_path))
    if known is None:  # once per package per run: every file of every package asks
        directory = module.root / import_path[len(module.path):].lstrip("/")
        declarations = _declarations(directory, module)
        known = (directory, declarations.context_getters() if declarations is not None
                 else frozenset())
        _GETTERS[(module.root, import_path)] = known
    read_declarations(known[0])
    return known[1]


_GETTERS: dict[tuple[Path, str], tuple[Path, frozenset[str]]] = {}
forget_at_run_start(_GETTERS.clear)


def function_body(source: bytes, name: str) -> bytes | None:
    """The text of the top-level function `name` of a gofmt-formatted file, from `func` to the
    `}` that closes it at the start of a line; None when the file declares no such function."""
    header = re.search(rb"^func[ \t]+" + re.escape(name.encode()) + rb"[ \t]*[\[(]", source,
                       re.M)
    if header is None:
        return None
    line_end = source.find(b"\n", header.end())
    line_end = len(source) if line_end < 0 else line_end
    if source[header.start():line_end].rstrip().endswith(b"}"):
        return source[header.start():line_end]  # `func F() T { return x }` on one line
    end = source.find(b"\n}", header.end())
    return source[header.start():end + 2 if end >= 0 else len(source)]


# `ctx.Value(key).(T)`, `ctx.Value(key{}).(T)`: a context value taken out with an assertion.
_CONTEXT_ASSERTION = re.compile(rb"\.Value\((?:[^()]|\([^()]*\))*\)\.\(")
# `func Name(` or `func Name[`: a top-level exported function's header (not a method's).
_EXPORTED_FUNCTION = re.compile(rb"func[ \t]+([A-Z]\w*)[ \t]*[\[(]")
# What copying a map takes: any of these in the body and the function may return a copy.
_MAY_COPY = re.compile(rb"\brange\b|\bcopy\(|Clone|Copy")


def hands_out_as_written(function: bytes) -> bool:
    """The text of a function takes a value out of a context with a type assertion and holds
    nothing that copying a map takes (`range`, `copy(`, `Clone`, `Copy`) after its header."""
    return _CONTEXT_ASSERTION.search(function) is not None and (
        _MAY_COPY.search(function, max(function.find(b"{\n"), 0)) is None)


def _next_run() -> None:
    """A new run begins: each directory's files are looked at again, once, when next asked
    about (what was read is kept while they are the same)."""
    global _run
    _run += 1


forget_at_run_start(_next_run)


def _exported_from(module: GoModule, import_path: str, name: str) -> _Declarations | None:
    """The declarations of the module's package `import_path`, when `name` is exported and
    the package is the module's own; None otherwise."""
    if not name[:1].isupper() or not _inside(module, import_path):
        return None
    directory = module.root / import_path[len(module.path):].lstrip("/")
    read_declarations(directory)
    return _declarations(directory, module)


def declarations_digest(directory: Path) -> str:
    """A digest of what the declarations of the package in `directory` answer from (see
    `_Declarations.digest`); "" when there are none (no such directory, no Go files, another
    module's). A cached result that asked about them is reused while this stays the same."""
    module = find_module(directory)
    declarations = _declarations(directory, module) if module is not None else None
    return declarations.digest().hex() if declarations is not None else ""


def _inside(module: GoModule, import_path: str) -> bool:
    return import_path == module.path or import_path.startswith(module.path + "/")


# An exported function's or method's header, up to the `{` that opens its body (`{}` of
# `interface{}` and `struct{}` passes; a signature spanning lines too); a whole type
# declaration (a struct's fields too) or `type (...)` group; the imports; the package clause.
_ANSWERED_FROM = re.compile(
    rb"^(?:func (?:\([^)]*\) ?)?[A-Z][^{]*(?:\{\}[^{]*)*"
    rb"|type \(\n(?:[^\n]*\n)*?\)|type [^\n]*\{\n(?:[^\n]*\n)*?\}|type [^\n]*"
    rb"|import (?:\([^)]*\)|[^\n]*)|package \w+)", re.M)


class _Declarations:
    """One directory's function declarations, parsed per file as names are asked for."""

    def __init__(self, directory: Path, files: list[tuple[Path, bytes]]) -> None:
        self.directory = directory
        self._files = files
        self._package: Package | None = None
        self._answers: dict[tuple[str, str], FuncOf | None] = {}
        self._types: dict[str, GoType | None] = {}
        self._parsed: set[Path] = set()
        self._digest: bytes | None = None
        self._context_getters: frozenset[str] | None = None

    def digest(self) -> bytes:
        """What answers depend on: the exported functions' headers and the import lines
        (which name the packages their types come from), and the bodies of the functions that
        take a value out of a context (`hands_out_context_map`); not other bodies."""
        if self._digest is None:
            digest = blake2b(digest_size=16)
            for path, source in self._files:
                digest.update(path.name.encode() + b"\0")
                for match in _ANSWERED_FROM.finditer(source):
                    digest.update(match.group() + b"\0")
                for match in _CONTEXT_ASSERTION.finditer(source):
                    start = source.rfind(b"\nfunc ", 0, match.start())
                    end = source.find(b"\n}", match.end())
                    digest.update(source[start + 1:end] + b"\0")
            self._digest = digest.digest()
        return self._digest

    def context_getters(self) -> frozenset[str]:
        if self._context_getters is None:
            names: set[str] = set()
            for _path, source in self._files:
                for match in _CONTEXT_ASSERTION.finditer(source):
                    header = _EXPORTED_FUNCTION.search(
                        source, source.rfind(b"\nfunc ", 0, match.start()) + 1)
                    if header is None or header.start() > match.start():
                        continue
                    name = header.group(1).decode()
                    body = function_body(source, name)
                    if body is not None and hands_out_as_written(body):
                        names.add(name)
            self._context_getters = frozenset(names)
        return self._context_getters

    def signature(self, name: str, receiver: str | None, import_path: str) -> FuncOf | None:
        key = (receiver or "", name)
        if key in self._answers:
            return self._answers[key]
        declaration = self._function(name, receiver)
        answer: FuncOf | None = None
        if declaration is not None and not _is_generic(declaration):
            signature = declaration.signature()
            answer = FuncOf(tuple(qualify(t, import_path) for t in signature.params),
                            tuple(qualify(t, import_path) for t in signature.results),
                            signature.variadic)
        self._answers[key] = answer
        return answer

    def declared_type(self, name: str, import_path: str) -> GoType | None:
        if name in self._types:
            return self._types[name]
        self._parse_until(
            lambda: re.compile(rb"^(?:type[ \t]+|\t)" + re.escape(name.encode()) + rb"[ \t]",
                               re.M),
            name.encode(), lambda: self._type(name))
        found = self._type(name)
        answer: GoType | None = None
        if found is not None and found.node.child_by_field_name("type_parameters") is None:
            answer = qualify(type_from_node(found.type_node, found.file.imports), import_path)
        self._types[name] = answer
        return answer

    def _type(self, name: str) -> TypeDecl | None:
        return self._package.type_named(name) if self._package is not None else None

    def _function(self, name: str, receiver: str | None) -> FuncDecl | None:
        word = re.escape(name.encode())

        def header() -> re.Pattern[bytes]:
            if receiver is None:
                return re.compile(rb"^func[ \t]+" + word + rb"[ \t]*[\[(]", re.M)
            return re.compile(rb"^func[ \t]*\([^)]*\b" + re.escape(receiver.encode())
                              + rb"\b[^)]*\)[ \t]*" + word + rb"[ \t]*\(", re.M)

        self._parse_until(header, name.encode(), lambda: self._find(name, receiver))
        return self._find(name, receiver)

    def _parse_until(self, make_pattern: Callable[[], re.Pattern[bytes]], name: bytes,
                     found: Callable[[], object]) -> None:
        """Parse, once each, the files whose text matches the pattern `make_pattern` makes
        (which spells `name`) into the package, until `found()` answers. The pattern is
        compiled only for a file that holds the name: most names asked about are in no file
        not parsed yet, and compiling one pattern per name was 1 % of etcd's lint."""
        pattern: re.Pattern[bytes] | None = None
        for path, source in self._files:
            # The plain search first: a line-anchored pattern tries every line of a file that
            # does not even hold the name.
            if path in self._parsed or name not in source:
                continue
            if pattern is None:
                pattern = make_pattern()
            if pattern.search(source) is None:
                continue
            self._parsed.add(path)
            go_file = _parse_declarations(path, source)
            if go_file is None:
                continue
            if self._package is None:
                self._package = Package(self.directory, go_file.package_name, [], None,
                                        NEWEST_KNOWN, "default")
            if go_file.package_name != self._package.name:
                continue
            self._package.index_file(go_file)
            if found() is not None:
                return

    def _find(self, name: str, receiver: str | None) -> FuncDecl | None:
        if self._package is None:
            return None
        if receiver is None:
            return self._package.func_named(name)
        return self._package.method(receiver, name)


def _is_generic(declaration: FuncDecl) -> bool:
    """A generic function, or a method of a generic type (`func (s *Set[K]) Put(k K)`)."""
    if declaration.node.child_by_field_name("type_parameters") is not None:
        return True
    receiver = declaration.node.child_by_field_name("receiver")
    return receiver is not None and b"[" in declaration.file.source[
        receiver.start_byte:receiver.end_byte]


def _parse_declarations(path: Path, source: bytes) -> GoFile | None:
    content = declarations_only(source)
    tree = parse_go(content)
    if first_syntax_error(tree) is not None:
        return None  # laid out otherwise than gofmt does: not worth a whole parse here
    name = package_clause_name(tree.root_node, content)
    if name is None or name.endswith("_test"):
        return None
    return GoFile(path, content, tree, name, read_imports(tree.root_node, content))


# Directory -> (its files' stat signature, what was read from them, the run that last
# looked at the files). A run looks once: every package importing a directory asks about it
# (etcd: 392 asks about 107 directories, each a listing and a look-up per file).
_READ: dict[Path, tuple[tuple[tuple[str, int, int], ...], _Declarations, int]] = {}
_run = 0


def _declarations(directory: Path, module: GoModule) -> _Declarations | None:
    if find_module(directory) != module:
        return None  # a nested module, or no such directory
    cached = _READ.get(directory)
    if cached is not None and cached[2] == _run:
        return cached[1]
    try:
        entries = sorted((entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
                         for entry in os.scandir(directory)
                         if entry.name.endswith(".go") and not entry.name.endswith("_test.go")
                         and entry.is_file())
    except OSError:
        return None
    signature = tuple(entries)
    if cached is not None and cached[0] == signature:
        _READ[directory] = (signature, cached[1], _run)
        return cached[1]
    files: list[tuple[Path, bytes]] = []
    for name, _size, _mtime in entries:
        try:
            files.append((directory / name, (directory / name).read_bytes()))
        except OSError:
            continue
    declarations = _Declarations(directory, files)
    _READ[directory] = (signature, declarations, _run)
    return declarations


def qualify(go_type: GoType, import_path: str) -> GoType:
    """`go_type` as read in package `import_path`, seen from another package: its own named
    types (`pkg == ""`) carry the import path."""
    if isinstance(go_type, Named):
        args = tuple(qualify(a, import_path) for a in go_type.args)
        return Named(import_path if go_type.pkg == "" else go_type.pkg, go_type.name, args)
    if isinstance(go_type, MapOf):
        return MapOf(qualify(go_type.key, import_path), qualify(go_type.value, import_path))
    if isinstance(go_type, PointerTo | SliceOf | ArrayOf | ChanOf):
        return replace(go_type, elem=qualify(go_type.elem, import_path))
    if isinstance(go_type, FuncOf):
        return FuncOf(tuple(qualify(t, import_path) for t in go_type.params),
                      tuple(qualify(t, import_path) for t in go_type.results),
                      go_type.variadic)
    if isinstance(go_type, StructOf):
        return StructOf(tuple(Field(f.name, qualify(f.type, import_path), f.embedded)
                              for f in go_type.fields))
    if isinstance(go_type, Tuple):
        return Tuple(tuple(qualify(t, import_path) for t in go_type.items))
    return go_type
