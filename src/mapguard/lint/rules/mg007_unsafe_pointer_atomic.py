"""## What it does
Finds `atomic.LoadPointer`, `StorePointer`, `SwapPointer` and `CompareAndSwapPointer` used on an
`unsafe.Pointer` (a variable, a field, a `*unsafe.Pointer` parameter, or a typed pointer field or
variable reinterpreted in place, `(*unsafe.Pointer)(unsafe.Pointer(&x.f))`, also through a local
that holds that cast; a field reached through a local made by a conversion counts too, `next :=
(*node)(atomic.LoadPointer(&tail.next))` then `&next.next`) when every conversion of what goes
in and comes out, anywhere in the package, is to or from one pointer type `*T` — for maps, the
hand-rolled "lock-free map switch" of a `*map[K]V`. For a typed `*T` field, its declared type
says what it holds. Its plain reads count as long as what they become stays in sight: a read
converted back for an atomic's old or new value (`first := q.head` in a CAS loop) does; one
handed to a helper as a raw `unsafe.Pointer` does not.

## Why is this bad?
Since Go 1.19, `atomic.Pointer[T]` does the same thing with the same cost, type-checked: no
`unsafe` import, no conversion that can silently go to the wrong type, no `go vet` exceptions.
A map value is already a pointer to its table, so `atomic.Pointer[map[K]V]` stores `&m`, exactly
like the `unsafe.Pointer(&m)` it replaces.

## Example
```go
var routes unsafe.Pointer // *map[string]Route

func lookup(p string) Route {
    return (*(*map[string]Route)(atomic.LoadPointer(&routes)))[p]
}

func install(m map[string]Route) {
    atomic.StorePointer(&routes, unsafe.Pointer(&m))
}
```

## Use instead
```go
var routes atomic.Pointer[map[string]Route]

func lookup(p string) Route { return (*routes.Load())[p] }

func install(m map[string]Route) { routes.Store(&m) }
```

## When it is a false alarm
When several types share the pointer (also a marker of another type that a function of the
package returns, `atomic.SwapPointer(&s.val, tombstone())` with `tombstone()` returning
`unsafe.Pointer(&tombstoneObj)`), when it takes part in pointer arithmetic (`unsafe.Add`,
`uintptr`, or a helper that is handed the raw value), when a field reinterpreted in place is not
a pointer (`uintptr` addresses), or when no conversion and no declared type show what it holds,
`atomic.Pointer[T]` cannot express it and the rule stays silent. Needs Go 1.19
(`atomic.Pointer`): silent for older modules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from mapguard.lint.gofacts import API_SINCE
from mapguard.lint.rule import Pass, Rule, Severity
from mapguard.lint.syntax import call_arguments, qualified_call
from mapguard.source.package import GoFile, VarDecl, default_import_name
from mapguard.source.typeinfo import (
    LocalDecl,
    TypeInfo,
    call_with_argument,
    enclosing_function,
    unparen,
    walk,
    word_hits,
)
from mapguard.source.types import (
    UNSAFE_POINTER,
    ArrayOf,
    ChanOf,
    GoType,
    MapOf,
    Named,
    PointerTo,
    SliceOf,
    Unknown,
    deref,
)

_ATOMIC_POINTERS = tuple(re.compile(re.escape(f"{op}Pointer(".encode()))
                         for op in ("Load", "Store", "Swap", "CompareAndSwap"))
_OPERATIONS = frozenset({"LoadPointer", "StorePointer", "SwapPointer", "CompareAndSwapPointer"})
# Arguments that carry a value into the pointer: index -> position in the call.
_STORED = {"StorePointer": (1,), "SwapPointer": (1,), "CompareAndSwapPointer": (1, 2)}
_RETURNS_POINTER = frozenset({"LoadPointer", "SwapPointer"})

Identity = tuple[object, ...]
ATOMIC_POINTER_SINCE = API_SINCE["sync/atomic.Pointer"]


@dataclass(slots=True)
class Slot:
    """Everything the package does with one unsafe.Pointer location."""

    calls: list[tuple[GoFile, Node]] = field(default_factory=list)
    types: set[GoType] = field(default_factory=set)
    disqualified: bool = False
    typed_field: bool = False  # a `*T` field reinterpreted in place as an unsafe.Pointer
    unseen_store: bool = False  # a value stored whose type the package does not show


def run(pass_: Pass) -> None:
    if not pass_.allows(ATOMIC_POINTER_SINCE):
        return
    info = pass_.info
    slots: dict[Identity, Slot] = {}
    seen: set[tuple[int, int]] = set()
    for match in pass_.candidates():
        go_file, call = match.file, match.node
        operation = _operation(call, go_file)
        # "SwapPointer(" also matches inside "CompareAndSwapPointer(": one call, one visit.
        if operation is None or (id(go_file), call.start_byte) in seen:
            continue
        seen.add((id(go_file), call.start_byte))
        arguments = call_arguments(call)
        identity, typed_field = _identity(arguments[0], go_file, info) if arguments else (None,
                                                                                           None)
        if identity is None:
            continue
        slot = slots.setdefault(identity, Slot())
        slot.calls.append((go_file, call))
        if typed_field is not None:
            slot.types.add(typed_field)
            slot.typed_field = True
        for index in _STORED.get(operation, ()):
            if index < len(arguments):
                _record_conversion(slot, arguments[index], go_file, info)
        if operation in _RETURNS_POINTER:
            _record_result(slot, call, go_file, info)
    for identity, slot in slots.items():
        # A typed field can only hold its own type (storing another one through unsafe would be
        # a bug of its own); an untyped unsafe.Pointer must show every type that goes in.
        if slot.disqualified or len(slot.types) != 1 or (
            slot.unseen_store and not slot.typed_field
        ):
            continue
        if identity[0] == "field" and _read_plainly_into_helpers(pass_, identity, slot):
            continue
        (pointer,) = slot.types
        if not isinstance(pointer, PointerTo):
            continue
        if identity[0] == "field" and _declared_elsewhere(identity[1]) and _names_own_type(
            pointer.elem
        ):
            # The field's package would have to name a type of this package, which imports
            # it: `atomic.Pointer[T]` there is an import cycle — why it is an unsafe.Pointer.
            continue
        # Named as the file that uses it names the package (`apm` for go.elastic.co/apm/v2).
        first_file = slot.calls[0][0]
        qualifiers = {path: alias for alias, path in first_file.imports.items()
                      if alias not in {"_", "."}}
        element = _type_text(pointer.elem, qualifiers)
        if element is None:
            continue
        message = _message(element, info.is_map(pointer.elem), typed=slot.typed_field,
                           kind=str(identity[0]))
        for go_file, call in slot.calls:
            if not go_file.is_test:  # benchmarks and tests of the primitive itself
                pass_.report(go_file, call, message)


def _read_plainly_into_helpers(pass_: Pass, identity: Identity, slot: Slot) -> bool:
    """A non-atomic read of the field (`l := p.local`) handed to a helper or to arithmetic
    as a raw unsafe.Pointer: what it is used as there is out of sight."""
    _kind, owner, name = identity
    info = pass_.info
    probe = Slot()
    for go_file in pass_.package.files:
        for start, end in word_hits(go_file.source, str(name)):
            node = go_file.node_at(start, end, named=False)
            selector = node.parent if node is not None else None
            if node is None or selector is None or node.type != "field_identifier" or (
                selector.type != "selector_expression"
            ):
                continue
            operand = selector.child_by_field_name("operand")
            if operand is None or deref(info.type_of(operand, go_file)) != owner:
                continue
            if _is_address_taken(selector):
                continue  # &p.local: the atomic calls themselves
            _record_result(probe, selector, go_file, info)
            if probe.disqualified:
                return True
    return False


def _is_address_taken(node: Node) -> bool:
    parent = node.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    return parent is not None and parent.type == "unary_expression" and _operator(parent) == "&"


def _operation(call: Node, go_file: GoFile) -> str | None:
    if call.type != "call_expression":
        return None
    called = qualified_call(call, go_file)
    if called is None or called[0] != "sync/atomic" or called[1] not in _OPERATIONS:
        return None
    return called[1]


def _declared_elsewhere(owner: object) -> bool:
    """A field of a type of another package (`bridgev2.User`, not this package's `User`)."""
    return isinstance(owner, Named) and owner.pkg not in {"", "builtin"}


def _names_own_type(go_type: GoType, depth: int = 0) -> bool:
    """`T`, `map[string]*T`, ... with T declared in this package."""
    if depth > 6:
        return False
    if isinstance(go_type, Named):
        return go_type.pkg == "" or any(_names_own_type(a, depth + 1) for a in go_type.args)
    if isinstance(go_type, MapOf):
        return _names_own_type(go_type.key, depth + 1) or _names_own_type(go_type.value,
                                                                           depth + 1)
    if isinstance(go_type, PointerTo | SliceOf | ArrayOf | ChanOf):
        return _names_own_type(go_type.elem, depth + 1)
    return False


def _identity(address: Node, go_file: GoFile, info: TypeInfo
              ) -> tuple[Identity | None, GoType | None]:
    """Who the pointer is: a variable, a field of a type, or a *unsafe.Pointer parameter; and
    for a typed field reinterpreted in place, the field's own pointer type."""
    address = unparen(address)
    typed: GoType | None = None
    if address.type == "call_expression":  # (*unsafe.Pointer)(unsafe.Pointer(&w.cfg))
        inner = call_arguments(address)
        conversion = unparen(inner[0]) if len(inner) == 1 else None
        if conversion is None or conversion.type != "call_expression":
            return None, None
        inner_args = call_arguments(conversion)
        if len(inner_args) != 1:
            return None, None
        address = unparen(inner_args[0])
        typed = _addressed_type(address, go_file, info)
        if not isinstance(typed, PointerTo):
            return None, None
    if address.type == "unary_expression" and _operator(address) == "&":
        operand = address.child_by_field_name("operand")
        if operand is None:
            return None, None
        return _location(unparen(operand), go_file, info), typed
    if address.type == "identifier" and typed is None:
        symbol = info.resolve(address, go_file)
        if isinstance(symbol, LocalDecl) and symbol.kind == "param" and info.type_of(
            address, go_file
        ) == PointerTo(UNSAFE_POINTER):
            return ("param", id(go_file), symbol.ident.start_byte), None
        # `p := (*unsafe.Pointer)(unsafe.Pointer(&h.c)); atomic.StorePointer(p, ...)`
        if isinstance(symbol, LocalDecl) and symbol.kind == "var" and (
            symbol.value is not None and symbol.value_count <= 1
            and unparen(symbol.value).type == "call_expression"
        ):
            return _identity(symbol.value, go_file, info)
    return None, None


def _addressed_type(address: Node, go_file: GoFile, info: TypeInfo) -> GoType | None:
    if address.type == "unary_expression" and _operator(address) == "&":
        operand = address.child_by_field_name("operand")
        return info.type_of(operand, go_file) if operand is not None else None
    return None


def _location(operand: Node, go_file: GoFile, info: TypeInfo) -> Identity | None:
    if operand.type == "identifier":
        symbol = info.resolve(operand, go_file)
        if isinstance(symbol, VarDecl):
            return ("var", symbol.name)
        if isinstance(symbol, LocalDecl):
            return ("local", id(go_file), symbol.ident.start_byte)
        return None
    if operand.type == "selector_expression":
        owner = operand.child_by_field_name("operand")
        name = operand.child_by_field_name("field")
        if owner is None or name is None:
            return None
        owner_type = deref(info.type_of(owner, go_file))
        if isinstance(owner_type, Unknown):
            return None
        return ("field", owner_type, go_file.text(name))
    return None


def _record_conversion(slot: Slot, value: Node, go_file: GoFile, info: TypeInfo,
                       depth: int = 0) -> None:
    """A value stored into the slot: `unsafe.Pointer(x)` shows x's type; so does a function
    of the package that returns such conversions (`tombstone()` returning
    `unsafe.Pointer(&tombstoneObj)`, a sentinel of another type)."""
    value = unparen(value)
    if value.type == "nil":
        return
    if value.type == "identifier":
        symbol = info.resolve(value, go_file)
        initial = symbol.value if isinstance(symbol, VarDecl | LocalDecl) else None
        if initial is not None and unparen(initial).type == "call_expression":
            value = unparen(initial)  # `var deleted = unsafe.Pointer(new(int))`
        else:
            return
    if value.type != "call_expression":
        return
    function = value.child_by_field_name("function") or value
    if "".join(go_file.text(function).split()).strip("()") != "unsafe.Pointer":
        _record_returned(slot, function, go_file, info, depth)
        return
    arguments = call_arguments(value)
    if len(arguments) != 1:
        return
    if _is_arithmetic(arguments[0], go_file):
        slot.disqualified = True
        return
    stored = info.type_of(arguments[0], go_file)
    if isinstance(stored, Unknown):
        slot.unseen_store = True  # silent unless the location's own type shows it
    elif stored != UNSAFE_POINTER:
        slot.types.add(stored)


def _record_returned(slot: Slot, function: Node, go_file: GoFile, info: TypeInfo,
                     depth: int) -> None:
    """What a call of a function of the package stored into the slot can return: the
    conversions it returns. Other calls (an atomic load of the same slot, another package's
    function) tell nothing, as before."""
    callee = info.called_function(function, go_file)
    if callee is None:
        return
    if depth >= 2:
        slot.unseen_store = True
        return
    declaration = callee.file.complete(callee.node)
    for node in walk(declaration):
        if node.type == "return_statement" and node.named_child_count:
            for returned in node.named_children[0].named_children:
                _record_conversion(slot, returned, callee.file, info, depth + 1)


def _record_result(slot: Slot, call: Node, go_file: GoFile, info: TypeInfo) -> None:
    """What a loaded value becomes: `(*T)(atomic.LoadPointer(...))`, or a variable converted
    later in the function, or arithmetic (which disqualifies the slot)."""
    parent = call.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    if parent is not None and parent.type == "argument_list":
        conversion = parent.parent
        if conversion is not None:
            _record_result_use(slot, conversion, go_file, info)
        return
    if parent is not None and parent.type == "type_conversion_expression":
        _record_result_use(slot, parent, go_file, info)  # `(*node[T])(atomic.LoadPointer(…))`
        return
    if _returned(call):
        slot.disqualified = True  # handed out untyped: its use is out of sight
        return
    variable = _assigned_variable(call)
    if variable is None:
        return
    function = enclosing_function(call)
    if function is None:
        return
    name = go_file.text(variable)
    for node in walk(function):
        if node.type == "identifier" and go_file.text(node) == name and node != variable and (
            node.start_byte > call.start_byte
        ):
            use = node.parent
            while use is not None and use.type == "parenthesized_expression":
                use = use.parent
            if use is not None and use.type == "argument_list" and use.parent is not None:
                _record_result_use(slot, use.parent, go_file, info)
            elif use is not None and use.type == "type_conversion_expression":
                _record_result_use(slot, use, go_file, info)
            elif _returned(node):
                slot.disqualified = True


def _record_result_use(slot: Slot, call: Node, go_file: GoFile, info: TypeInfo) -> None:
    function = unparen(call.child_by_field_name("function") or call) if (
        call.type == "call_expression") else call
    text = go_file.text(function)
    if text in {"unsafe.Add", "uintptr", "unsafe.Slice", "unsafe.String"}:
        slot.disqualified = True
        return
    converted = _conversion_type(call, go_file, info)
    if converted is None:
        if text == "unsafe.Pointer" and _handed_to_atomic(call, go_file):
            return  # a typed read converted for an atomic's old or new value (a CAS loop)
        if not text.startswith("atomic."):
            # Handed to a helper as a raw unsafe.Pointer (indexing arithmetic, other types):
            # what it becomes there is out of sight.
            slot.disqualified = True
        return  # passed back to an atomic (the old value of CompareAndSwapPointer)
    if isinstance(converted, PointerTo) and not isinstance(converted.elem, Unknown):
        slot.types.add(converted)
    else:
        slot.disqualified = True


def _handed_to_atomic(node: Node, go_file: GoFile) -> bool:
    """`node` is an argument of a sync/atomic *Pointer call, which the rule sees."""
    call = call_with_argument(node)
    return call is not None and _operation(call, go_file) is not None


def _conversion_type(call: Node, go_file: GoFile, info: TypeInfo) -> GoType | None:
    """T for a conversion `(*T)(x)`; None when `call` is not a pointer conversion."""
    if call.type == "type_conversion_expression":  # `(*node[T])(x)`, `*(*M)(x)`
        converted, _dereferenced = info.conversion(call, go_file)
        return converted if isinstance(converted, PointerTo) else None
    if call.type != "call_expression":
        return None
    function = call.child_by_field_name("function")
    if function is None:
        return None
    if function.type == "parenthesized_type":
        return info.type_node(function, go_file)
    if function.type != "parenthesized_expression" or not function.named_child_count:
        return None
    inner = function.named_children[0]
    if inner.type == "pointer_type":
        return info.type_node(inner, go_file)
    if inner.type != "unary_expression" or _operator(inner) != "*":
        return None
    operand = inner.child_by_field_name("operand")
    if operand is None:
        return None
    if operand.type == "identifier":
        name = go_file.text(operand)
        return PointerTo(info.type_node_named(name))
    if operand.type == "selector_expression":
        package = operand.child_by_field_name("operand")
        name_node = operand.child_by_field_name("field")
        if package is not None and name_node is not None:
            path = go_file.imports.get(go_file.text(package))
            if path is not None:
                return PointerTo(Named(path, go_file.text(name_node)))
    return None


def _returned(node: Node) -> bool:
    parent = node.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    return (parent is not None and parent.type == "expression_list" and parent.parent is not None
            and parent.parent.type == "return_statement")


def _assigned_variable(call: Node) -> Node | None:
    holder = call.parent
    statement = holder.parent if holder is not None else None
    if holder is None or statement is None or holder.type != "expression_list":
        return None
    if statement.type not in {"short_var_declaration", "assignment_statement"}:
        return None
    left = statement.child_by_field_name("left")
    right = statement.child_by_field_name("right")
    if left is None or right is None or right.named_child_count != left.named_child_count:
        return None
    index = next((i for i, v in enumerate(right.named_children) if v == call), None)
    if index is None:
        return None
    target = left.named_children[index]
    return target if target.type == "identifier" else None


def _is_arithmetic(node: Node, go_file: GoFile) -> bool:
    return any(child.type == "call_expression" and go_file.text(
        child.child_by_field_name("function") or child) in {"uintptr", "unsafe.Add"}
        for child in walk(node))


def _operator(node: Node) -> str:
    return next((c.type for c in node.children if not c.is_named), "")


def _message(element: str, is_map: bool, *, typed: bool, kind: str) -> str:
    what = "variable" if kind == "var" else "field"
    subject = (f"this *{element} {what}, reinterpreted as an unsafe.Pointer for the atomic, "
               f"only ever holds a *{element}" if typed else
               f"this unsafe.Pointer only ever holds a *{element}")
    text = (f"{subject}: use atomic.Pointer[{element}] (Go {ATOMIC_POINTER_SINCE}+) — the same "
            f"atomic operations, type-checked, without unsafe")
    if is_map:
        text += (f"; the map is already a pointer to its table, so "
                 f"atomic.Pointer[{element}] stores &m just as unsafe.Pointer(&m) did")
    return text


def _type_text(go_type: GoType, qualifiers: dict[str, str]) -> str | None:
    """Go syntax for a type, None when part of it is unknown; `qualifiers` names imported
    packages by path (the package name Go assumes otherwise)."""
    if isinstance(go_type, Named):
        prefix = "" if go_type.pkg in {"", "builtin"} else (
            f"{qualifiers.get(go_type.pkg) or default_import_name(go_type.pkg)}.")
        args = [_type_text(arg, qualifiers) for arg in go_type.args]
        if None in args:
            return None
        return prefix + go_type.name + (f"[{', '.join(a for a in args if a)}]" if args else "")
    parts: list[GoType]
    if isinstance(go_type, MapOf):
        parts, template = [go_type.key, go_type.value], "map[{}]{}"
    elif isinstance(go_type, PointerTo):
        parts, template = [go_type.elem], "*{}"
    elif isinstance(go_type, SliceOf):
        parts, template = [go_type.elem], "[]{}"
    else:
        return None  # arrays (their length is not kept), structs, funcs, unknowns
    texts = [_type_text(part, qualifiers) for part in parts]
    return None if None in texts else template.format(*texts)


RULE = Rule(
    code="MG007",
    name="unsafe-pointer-atomic",
    severity=Severity.WARNING,
    summary="unsafe.Pointer atomics holding one pointer type: atomic.Pointer[T] says it safely",
    reports_at="each `atomic.*Pointer` call on that pointer",
    doc=__doc__ or "",
    run=run,
    # "SwapPointer(" also covers CompareAndSwapPointer: a package without atomics was
    # searched for it once more, in vain.
    markers=(b"LoadPointer(", b"StorePointer(", b"SwapPointer("),
    anchors=_ATOMIC_POINTERS,
    bodies=_ATOMIC_POINTERS,
    needs=ATOMIC_POINTER_SINCE,
)
