"""Types-lite: just enough of Go's type system to know what an expression is.

mapguard does not type-check Go. It reads type expressions from the syntax tree and follows
named types declared in the package, which answers the questions the rules ask — is this a map,
a `sync.Pool`, a `sync.Map`, an `atomic.Pointer[...]`, a mutex? — whenever the package's own
files show the answer. Anything else is `UNKNOWN`, and rules stay silent on unknowns.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node


class GoType:
    """Base of the type records; instances are immutable and compare by value."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Unknown(GoType):
    """A type the model cannot name (an expression it does not follow, a missing import)."""


UNKNOWN = Unknown()


@dataclass(frozen=True, slots=True)
class Named(GoType):
    """A named type: `pkg` is the import path ("" for this package, "builtin" for `int`...)."""

    pkg: str
    name: str
    args: tuple[GoType, ...] = ()


@dataclass(frozen=True, slots=True)
class MapOf(GoType):
    """`map[K]V`."""

    key: GoType
    value: GoType


@dataclass(frozen=True, slots=True)
class PointerTo(GoType):
    """`*T`."""

    elem: GoType


@dataclass(frozen=True, slots=True)
class SliceOf(GoType):
    """`[]T`."""

    elem: GoType


@dataclass(frozen=True, slots=True)
class ArrayOf(GoType):
    """`[N]T` (the length is not tracked)."""

    elem: GoType


@dataclass(frozen=True, slots=True)
class ChanOf(GoType):
    """`chan T`, in either direction."""

    elem: GoType


@dataclass(frozen=True, slots=True)
class Field:
    """A field of a struct type."""

    name: str  # for an embedded field, the type's name
    type: GoType
    embedded: bool


@dataclass(frozen=True, slots=True)
class StructOf(GoType):
    """A struct type literal, its fields in order."""

    fields: tuple[Field, ...]

    def field(self, name: str) -> Field | None:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        return None


@dataclass(frozen=True, slots=True)
class FuncOf(GoType):
    """A function type: what it takes and returns."""

    params: tuple[GoType, ...]
    results: tuple[GoType, ...]
    variadic: bool = False


@dataclass(frozen=True, slots=True)
class InterfaceOf(GoType):
    """Any interface type: the model does not track method sets."""


@dataclass(frozen=True, slots=True)
class Tuple(GoType):
    """The results of a call with several return values."""

    items: tuple[GoType, ...]


BUILTIN_TYPES = frozenset({
    "bool", "byte", "complex64", "complex128", "error", "float32", "float64", "int", "int8",
    "int16", "int32", "int64", "rune", "string", "uint", "uint8", "uint16", "uint32", "uint64",
    "uintptr", "any", "comparable",
})

_STRINGS = SliceOf(Named("builtin", "string"))
_STRING = Named("builtin", "string")
# Standard-library named types whose underlying type is a map (docs/lint.md, "Map types").
STDLIB_MAPS: dict[tuple[str, str], MapOf] = {
    ("net/http", "Header"): MapOf(_STRING, _STRINGS),
    ("net/url", "Values"): MapOf(_STRING, _STRINGS),
    ("net/textproto", "MIMEHeader"): MapOf(_STRING, _STRINGS),
    ("text/template", "FuncMap"): MapOf(_STRING, Named("builtin", "any")),
    ("html/template", "FuncMap"): MapOf(_STRING, Named("builtin", "any")),
}

# Fields of standard-library structs whose type is one of those maps: (package, struct,
# field) -> the field's type (checked by a build: tests/lint/test_gofacts.py).
STDLIB_MAP_FIELDS: dict[tuple[str, str, str], Named] = {
    ("net/http", "Request", "Header"): Named("net/http", "Header"),
    ("net/http", "Request", "Trailer"): Named("net/http", "Header"),
    ("net/http", "Request", "Form"): Named("net/url", "Values"),
    ("net/http", "Request", "PostForm"): Named("net/url", "Values"),
    ("net/http", "Response", "Header"): Named("net/http", "Header"),
    ("net/http", "Response", "Trailer"): Named("net/http", "Header"),
}

# Standard-library types often used as map keys whose every value equals itself, so that
# clear(m) removes exactly what a delete-all loop does: no float, complex or interface inside,
# or (reflect.Type) an interface with unexported methods, which only package reflect's own
# pointer type implements. Checked against the bundled toolchain: tests/lint/test_gofacts.py.
STDLIB_REFLEXIVE_KEYS = frozenset({
    ("reflect", "Type"), ("reflect", "Kind"), ("time", "Time"), ("time", "Duration"),
    ("time", "Month"), ("time", "Weekday"), ("net/netip", "Addr"), ("net/netip", "AddrPort"),
    ("net/netip", "Prefix"),
})

SYNC_POOL = Named("sync", "Pool")
SYNC_MAP = Named("sync", "Map")
SYNC_ONCE = Named("sync", "Once")
MUTEX_TYPES = frozenset({Named("sync", "Mutex"), Named("sync", "RWMutex")})
UNSAFE_POINTER = Named("unsafe", "Pointer")
ATOMIC_VALUE = Named("sync/atomic", "Value")


def is_atomic_pointer(t: GoType) -> bool:
    return isinstance(t, Named) and t.pkg == "sync/atomic" and t.name == "Pointer"


def deref(t: GoType) -> GoType:
    return t.elem if isinstance(t, PointerTo) else t


def type_from_node(node: Node | None, imports: dict[str, str]) -> GoType:
    """Read a tree-sitter type expression; `imports` maps a file's import names to paths."""
    if node is None:
        return UNKNOWN
    kind = node.type
    if kind == "type_identifier":
        name = _text(node)
        return Named("builtin" if name in BUILTIN_TYPES else "", name)
    if kind == "qualified_type":
        package = _text(node.child_by_field_name("package"))
        name = _text(node.child_by_field_name("name"))
        return Named(imports.get(package, package), name)
    if kind == "map_type":
        return MapOf(
            type_from_node(node.child_by_field_name("key"), imports),
            type_from_node(node.child_by_field_name("value"), imports),
        )
    if kind == "pointer_type":
        return PointerTo(type_from_node(_first_named(node), imports))
    if kind in {"slice_type", "implicit_length_array_type"}:
        return SliceOf(type_from_node(node.child_by_field_name("element"), imports))
    if kind == "array_type":
        return ArrayOf(type_from_node(node.child_by_field_name("element"), imports))
    if kind == "channel_type":
        return ChanOf(type_from_node(node.child_by_field_name("value"), imports))
    if kind == "generic_type":
        base = type_from_node(node.child_by_field_name("type"), imports)
        arguments = node.child_by_field_name("type_arguments")
        args = tuple(
            type_from_node(_first_named(elem) if elem.type == "type_elem" else elem, imports)
            for elem in (arguments.named_children if arguments else [])
        )
        return Named(base.pkg, base.name, args) if isinstance(base, Named) else UNKNOWN
    if kind == "struct_type":
        return StructOf(tuple(struct_fields(node, imports)))
    if kind == "interface_type":
        return InterfaceOf()
    if kind == "function_type":
        return FuncOf(
            tuple(parameter_types(node.child_by_field_name("parameters"), imports)),
            tuple(result_types(node.child_by_field_name("result"), imports)),
        )
    if kind in {"parenthesized_type", "type_elem"}:
        return type_from_node(_first_named(node), imports)
    return UNKNOWN


def struct_fields(struct_node: Node, imports: dict[str, str]) -> list[Field]:
    fields: list[Field] = []
    body = _first_named(struct_node)
    if body is None:
        return fields
    for declaration in body.named_children:
        if declaration.type != "field_declaration":
            continue
        type_node = declaration.child_by_field_name("type")
        field_type = type_from_node(type_node, imports)
        names = declaration.children_by_field_name("name")
        if names:
            fields.extend(Field(_text(name), field_type, False) for name in names)
        else:
            # tree-sitter-go keeps an embedded field's `*` outside its `type` (`*scope` is the
            # token `*` and the type `scope`): without it, a promoted pointer reads as a value.
            if any(child.type == "*" for child in declaration.children):
                field_type = PointerTo(field_type)
            embedded = deref(field_type)
            name = embedded.name if isinstance(embedded, Named) else ""
            fields.append(Field(name, field_type, True))
    return fields


def parameter_types(parameters: Node | None, imports: dict[str, str]) -> list[GoType]:
    """One entry per parameter (`a, b int` gives two)."""
    types: list[GoType] = []
    if parameters is None:
        return types
    for declaration in parameters.named_children:
        if declaration.type not in {"parameter_declaration", "variadic_parameter_declaration"}:
            continue
        declared = type_from_node(declaration.child_by_field_name("type"), imports)
        if declaration.type == "variadic_parameter_declaration":
            declared = SliceOf(declared)
        count = max(1, len(declaration.children_by_field_name("name")))
        types.extend([declared] * count)
    return types


def result_types(result: Node | None, imports: dict[str, str]) -> list[GoType]:
    if result is None:
        return []
    if result.type == "parameter_list":
        return parameter_types(result, imports)
    return [type_from_node(result, imports)]


def _first_named(node: Node) -> Node | None:
    for child in node.named_children:
        if child.type != "comment":
            return child
    return None


def _text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", "replace")
