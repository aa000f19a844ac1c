"""A Go package as mapguard sees it: its parsed files and a symbol table spanning all of them."""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tree_sitter import Node, Tree

from mapguard.goversion import GoVersion
from mapguard.source.gomod import GoModule
from mapguard.source.parser import FunctionSpan, line_starts, parse_go_range, point_at
from mapguard.source.types import FuncOf
from mapguard.source.types import parameter_types as read_parameter_types
from mapguard.source.types import result_types as read_result_types

# Go's convention (https://go.dev/s/generatedcode), anywhere before the package clause.
GENERATED = re.compile(rb"^// Code generated .* DO NOT EDIT\.$", re.M)


def is_generated(source: bytes) -> bool:
    package_clause = re.search(rb"^package\s", source, re.M)
    head = source[: package_clause.start()] if package_clause else source
    return b"DO NOT EDIT" in head and GENERATED.search(head) is not None


@dataclass(slots=True, eq=False)
class GoFile:
    path: Path  # absolute
    source: bytes
    tree: Tree
    package_name: str
    imports: dict[str, str]  # the name a file uses for a package -> its import path
    # Functions whose bodies the tree leaves out (sorted); parsed on demand by `node_at`.
    skipped: tuple[FunctionSpan, ...] = ()
    _bodies: dict[int, Tree] = field(default_factory=dict)
    _skipped_starts: list[int] | None = None
    _line_starts: list[int] | None = None

    @property
    def root(self) -> Node:
        return self.tree.root_node

    @property
    def is_test(self) -> bool:
        return self.path.name.endswith("_test.go")

    def node_at(self, start: int, end: int, *, named: bool = True) -> Node | None:
        """The smallest (named) node covering [start, end), parsing a left-out body if the
        place is inside one. Every search from source text to syntax goes through here."""
        root = self._root_for(start, end)
        if named:
            return root.named_descendant_for_byte_range(start, end)
        return root.descendant_for_byte_range(start, end)

    def complete(self, node: Node) -> Node:
        """`node` itself, or, for a function whose body was left out, the fully parsed one."""
        if self.skipped and node.type in {"function_declaration", "method_declaration"}:
            span = self._span_containing(node.start_byte + 1, node.start_byte + 1)
            if span is not None and span.start == node.start_byte:
                found = self._body_tree(span).root_node.named_descendant_for_byte_range(
                    span.start, span.end)
                while found is not None and found.type not in {"function_declaration",
                                                               "method_declaration"}:
                    found = found.parent
                if found is not None:
                    return found
        return node

    def _root_for(self, start: int, end: int) -> Node:
        if self.skipped:
            span = self._span_containing(start, end)
            if span is not None and span.body_start <= start and end <= span.body_end:
                return self._body_tree(span).root_node
        return self.tree.root_node

    def _span_containing(self, start: int, end: int) -> FunctionSpan | None:
        index = bisect.bisect_right(self._starts(), start) - 1
        if index < 0:
            return None
        span = self.skipped[index]
        return span if span.start <= start and end <= span.end else None

    def _starts(self) -> list[int]:
        if self._skipped_starts is None:
            self._skipped_starts = [span.start for span in self.skipped]
        return self._skipped_starts

    def _body_tree(self, span: FunctionSpan) -> Tree:
        tree = self._bodies.get(span.start)
        if tree is None:
            starts = self._line_index()
            points = (point_at(starts, span.start), point_at(starts, span.end))
            tree = self._bodies[span.start] = parse_go_range(self.source, span.start, span.end,
                                                             points)
        return tree

    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def _line_index(self) -> list[int]:
        if self._line_starts is None:
            self._line_starts = line_starts(self.source)
        return self._line_starts

    def line_span(self, line: int) -> tuple[int, int] | None:
        """The byte offsets of the 1-based line's start and end (before its newline); None for
        a line past the end of the file."""
        starts = self._line_index()
        if not 0 < line <= len(starts):
            return None
        end = self.source.find(b"\n", starts[line - 1])
        return starts[line - 1], len(self.source) if end < 0 else end

    def line_text(self, line: int) -> str:
        """The 1-based source line, without its newline."""
        span = self.line_span(line)
        return self.source[span[0]:span[1]].decode("utf-8", "replace") if span else ""


@dataclass(frozen=True, slots=True, eq=False)
class TypeDecl:
    name: str
    node: Node  # the type_spec (or type_alias) node
    type_node: Node | None
    file: GoFile


@dataclass(frozen=True, slots=True, eq=False)
class VarDecl:
    name: str
    node: Node  # the identifier
    type_node: Node | None
    value: Node | None
    value_index: int  # position of this name in `var a, b = f()`
    value_count: int
    file: GoFile
    constant: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class FuncDecl:
    name: str
    node: Node  # function_declaration or method_declaration
    receiver_type: str | None  # "T" for func (t *T) ...
    file: GoFile

    @property
    def body(self) -> Node | None:
        return self.node.child_by_field_name("body")

    @property
    def is_method(self) -> bool:
        return self.receiver_type is not None

    def signature(self) -> FuncOf:
        imports = self.file.imports
        return FuncOf(
            tuple(read_parameter_types(self.node.child_by_field_name("parameters"), imports)),
            tuple(read_result_types(self.node.child_by_field_name("result"), imports)),
        )

    def receiver_name(self) -> str | None:
        receiver = self.node.child_by_field_name("receiver")
        if receiver is None:
            return None
        for declaration in receiver.named_children:
            name = declaration.child_by_field_name("name")
            if name is not None:
                return self.file.text(name)
        return None


class LazyVars(Mapping[str, VarDecl]):
    """Package-level variables and constants by name. Generated tables can declare thousands
    of them; the full record of one is built only when someone looks it up."""

    def __init__(self) -> None:
        self._specs: dict[str, tuple[Node, GoFile, bool]] = {}
        self._built: dict[str, VarDecl] = {}

    def add_spec(self, spec: Node, go_file: GoFile, *, constant: bool) -> None:
        source = go_file.source
        for name in spec.children_by_field_name("name"):
            text = source[name.start_byte:name.end_byte].decode("utf-8", "replace")
            self._specs.setdefault(text, (spec, go_file, constant))

    def __getitem__(self, name: str) -> VarDecl:
        built = self._built.get(name)
        if built is None:
            spec, go_file, constant = self._specs[name]
            for decl in var_spec_decls(spec, go_file, constant=constant):
                if self._specs[decl.name][0] == spec:  # the first declaration wins
                    self._built.setdefault(decl.name, decl)
            built = self._built[name]
        return built

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


@dataclass(slots=True, eq=False)
class Package:
    directory: Path
    name: str
    files: list[GoFile]
    module: GoModule | None
    go_version: GoVersion
    go_version_source: str  # "go.mod", "toolchain", "flag" or "default"
    # The symbol table is built on first use: many packages never need one.
    _types: dict[str, TypeDecl] = field(default_factory=dict)
    _vars: LazyVars = field(default_factory=lambda: LazyVars())
    _funcs: dict[str, FuncDecl] = field(default_factory=dict)
    _methods: dict[str, dict[str, FuncDecl]] = field(default_factory=dict)
    _indexed: bool = False
    _type_variants: dict[str, list[TypeDecl]] = field(default_factory=dict)
    # Memo for analyses that several rules share (keyed by the analysis' own key).
    memo: dict[object, object] = field(default_factory=dict)
    # Generated files of the directory: parsed only when a name is not found elsewhere.
    deferred: list[tuple[Path, bytes]] = field(default_factory=list)

    def load_deferred(self, name: str) -> bool:
        """Parse the generated files that mention `name` and add their declarations; False
        if none did. (A package can carry a generated file per platform: only the ones that
        can declare the missing name are worth parsing.)"""
        needle = name.encode()
        pending = [entry for entry in self.deferred if _mentions_word(entry[1], needle)]
        if not pending:
            return False
        from mapguard.source.parser import first_syntax_error, parse_go

        self.deferred = [entry for entry in self.deferred if entry not in pending]
        self._index()
        for path, original in pending:
            # Only the declarations matter here: parse the file with its function bodies cut
            # out (generated code can be megabytes of bodies), or whole if that fails.
            content = declarations_only(original)
            tree = parse_go(content)
            if first_syntax_error(tree) is not None:
                content = original
                tree = parse_go(content)
            if first_syntax_error(tree) is not None:
                continue
            if package_clause_name(tree.root_node, content) != self.name:
                continue
            self.index_file(GoFile(path, content, tree, self.name,
                                   read_imports(tree.root_node, content)))
        return True

    def _index(self) -> None:
        if not self._indexed:
            self._indexed = True
            for go_file in self.files:
                self.index_file(go_file)

    @property
    def types(self) -> dict[str, TypeDecl]:
        self._index()
        return self._types

    @property
    def vars(self) -> LazyVars:
        self._index()
        return self._vars

    @property
    def funcs(self) -> dict[str, FuncDecl]:
        self._index()
        return self._funcs

    @property
    def methods(self) -> dict[str, dict[str, FuncDecl]]:
        self._index()
        return self._methods

    def type_variants(self, name: str) -> list[TypeDecl]:
        """Every declaration of a type name: one per build-tag variant of the package."""
        self._index()
        return self._type_variants.get(name, [])

    @property
    def is_main(self) -> bool:
        return self.name == "main"

    def all_functions(self) -> list[FuncDecl]:
        declared = list(self.funcs.values())
        for by_name in self.methods.values():
            declared.extend(by_name.values())
        return declared

    def method(self, receiver_type: str, name: str) -> FuncDecl | None:
        return self.methods.get(receiver_type, {}).get(name)

    def index_file(self, go_file: GoFile) -> None:
        """Add a file's top-level declarations to the package symbol table."""
        for node in go_file.root.named_children:
            kind = node.type
            if kind == "function_declaration":
                name = go_file.text(node.child_by_field_name("name") or node)
                self._funcs.setdefault(name, FuncDecl(name, node, None, go_file))
            elif kind == "method_declaration":
                receiver = receiver_type_name(node, go_file)
                name = go_file.text(node.child_by_field_name("name") or node)
                if receiver is not None:
                    by_name = self._methods.setdefault(receiver, {})
                    by_name.setdefault(name, FuncDecl(name, node, receiver, go_file))
            elif kind == "type_declaration":
                for spec in node.named_children:
                    if spec.type in {"type_spec", "type_alias"}:
                        name_node = spec.child_by_field_name("name")
                        if name_node is not None:
                            name = go_file.text(name_node)
                            type_node = spec.child_by_field_name("type")
                            type_decl = TypeDecl(name, spec, type_node, go_file)
                            self._types.setdefault(name, type_decl)
                            self._type_variants.setdefault(name, []).append(type_decl)
            elif kind == "var_declaration":
                for spec in _specs(node, "var_spec"):
                    self._vars.add_spec(spec, go_file, constant=False)
            elif kind == "const_declaration":
                for spec in _specs(node, "const_spec"):
                    self._vars.add_spec(spec, go_file, constant=True)


# Top-level functions, and package variables initialised by a composite literal (generated
# tables): only their signature or type matters to the symbol table.
_FUNC_LINE = re.compile(rb"^(?:func |var \w+ (?:[^=\n]*)= ).*$", re.M)
_CLOSING_LINE = re.compile(rb"^}[ \t]*$", re.M)


def declarations_only(source: bytes) -> bytes:
    """The source with top-level function bodies and table literals emptied (`{...}` -> `{}`).

    Relies on gofmt layout: a top-level function starts at column 0 and its body ends with a
    `}` alone at column 0. A file laid out otherwise may come out unparsable; callers then
    parse the original."""
    out: list[bytes] = []
    position = 0
    for match in _FUNC_LINE.finditer(source):
        if match.start() < position:
            continue
        line_end = match.end()
        header = source[match.start():line_end].rstrip()
        if not header.endswith(b"{") or header.endswith(b"{}"):
            continue  # a body-less declaration, a one-line body, or a multi-line signature
        closing = _CLOSING_LINE.search(source, line_end)
        if closing is None:
            break
        out.append(source[position:line_end])
        out.append(b"\n")
        position = closing.start()
    out.append(source[position:])
    return b"".join(out)


_WORD = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _mentions_word(source: bytes, word: bytes) -> bool:
    position = 0
    while (at := source.find(word, position)) >= 0:
        end = at + len(word)
        if (at == 0 or source[at - 1] not in _WORD) and (
            end >= len(source) or source[end] not in _WORD
        ):
            return True
        position = end
    return False


def _specs(declaration: Node, spec_type: str) -> list[Node]:
    specs: list[Node] = []
    for child in declaration.named_children:
        if child.type == spec_type:
            specs.append(child)
        elif child.type == f"{spec_type}_list":
            specs.extend(c for c in child.named_children if c.type == spec_type)
    return specs


def var_spec_decls(spec: Node, go_file: GoFile, *, constant: bool = False) -> list[VarDecl]:
    names = spec.children_by_field_name("name")
    type_node = spec.child_by_field_name("type")
    value_list = spec.child_by_field_name("value")
    values = value_list.named_children if value_list is not None else []
    return [
        VarDecl(go_file.text(name_node), name_node, type_node, value, value_index, count,
                go_file, constant)
        for name_node, (value, value_index, count) in zip(names, paired_values(names, values),
                                                          strict=True)
    ]


def paired_values(names: list[Node], values: list[Node]
                  ) -> list[tuple[Node | None, int, int]]:
    """For each name of `a, b = x, y` or `a, b = f()`: (value, index in its results, how
    many results it has)."""
    if len(values) == len(names):
        return [(value, 0, 1) for value in values]
    if len(values) == 1:
        return [(values[0], index, len(names)) for index in range(len(names))]
    return [(None, 0, 0)] * len(names)


def receiver_type_name(method: Node, go_file: GoFile) -> str | None:
    """`T` for `func (t *T)`, `func (T)`, `func (t *T[K])`."""
    receiver = method.child_by_field_name("receiver")
    if receiver is None:
        return None
    for declaration in receiver.named_children:
        type_node = declaration.child_by_field_name("type")
        while type_node is not None and type_node.type in {"pointer_type", "parenthesized_type"}:
            type_node = next((c for c in type_node.named_children if c.type != "comment"), None)
        if type_node is not None and type_node.type == "generic_type":
            type_node = type_node.child_by_field_name("type")
        if type_node is not None and type_node.type == "type_identifier":
            return go_file.text(type_node)
    return None


def read_imports(root: Node, source: bytes) -> dict[str, str]:
    imports: dict[str, str] = {}
    for node in root.named_children:
        if node.type != "import_declaration":
            continue
        for spec in _specs(node, "import_spec"):
            path_node = spec.child_by_field_name("path")
            if path_node is None:
                continue
            quoted = source[path_node.start_byte : path_node.end_byte]
            path = quoted[1:-1].decode("utf-8", "replace")
            name_node = spec.child_by_field_name("name")
            if name_node is not None:
                name = source[name_node.start_byte : name_node.end_byte].decode()
                if name in {"_", "."}:
                    continue
            else:
                name = default_import_name(path)
            imports[name] = path
    return imports


@functools.lru_cache(maxsize=4096)  # the same paths are imported file after file
def default_import_name(path: str) -> str:
    """The package name Go assumes for an import path without an explicit name."""
    last = path.rsplit("/", 1)[-1]
    # gopkg.in/yaml.v3 -> yaml; example.com/foo/v2 -> foo
    if re.fullmatch(r"v\d+", last) and "/" in path:
        last = path.rsplit("/", 2)[-2]
    last = re.sub(r"\.v\d+$", "", last)
    return last.removeprefix("go-").removesuffix("-go").replace("-", "_").replace(".", "_")


def package_clause_name(root: Node, source: bytes) -> str | None:
    for node in root.named_children:
        if node.type == "package_clause":
            for child in node.named_children:
                if child.type == "package_identifier":
                    return source[child.start_byte : child.end_byte].decode("utf-8", "replace")
    return None

