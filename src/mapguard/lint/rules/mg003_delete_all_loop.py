"""## What it does
Finds the loop `for k := range m { delete(m, k) }` — a loop whose only statement deletes every
key of the map it ranges over — and suggests `clear(m)`.

## Why is this bad?
It is not slow: the compiler recognises exactly this loop and already compiles it to a single
`runtime.mapclear` call, the same thing `clear(m)` does — but only this form: `for k, _ := range m`
(a value variable, even the blank one) runs key by key, and there `clear` is faster. The gain is
clarity: `clear(m)` says what the code means in one call, and it stays fast where the optimisation
does not apply — builds with `-race` or `-N` (debuggers) run the loop key by key. For float or
interface keys the loop cannot delete NaN keys (`NaN != NaN`), and the compiler does not optimise
it; `clear` removes them too. Like the loop, `clear` keeps the map's capacity: neither makes the map
smaller.

## Example
```go
for k := range sessions {
    delete(sessions, k)
}
```

## Use instead
```go
clear(sessions)
```

## When it is a false alarm
When the loop is itself the subject, as in a test of the compiler's `mapclear` lowering: the
rule is silent in test and tool code unless asked (`--advice-everywhere`), and gives no fix
there. Otherwise it is a matter of taste. `mapguard lint --fix` applies the rewrite only where
it cannot change behaviour: keys whose type the module shows to be reflexive (no floats, no
interfaces; also a key type, a named map type or a map field's struct declared in another
package of the module, through a chain of such fields too (`pk.Body.Info`), the standard
library's named maps and their fields, `r.Header` of an `*http.Request` among them, and its
common key types that never hold a NaN: `reflect.Type`, `time.Time`, `netip.Addr`...), and no
comment inside the loop but on its first line (kept after the call). For float
or interface keys, or a key type from another module, the finding says what `clear` would
change and offers no fix. Needs Go 1.21 (`clear`): the rule is silent for modules whose
`go` directive is older.
"""

from __future__ import annotations

import enum
import re

from tree_sitter import Node

from mapguard.goversion import GO_1_21
from mapguard.lint.rule import Fix, Pass, Rule, Severity, edit, is_support_code
from mapguard.lint.syntax import delete_all_loop, normalized
from mapguard.source.package import GoFile
from mapguard.source.typeinfo import TypeInfo, enclosing_declaration, walk
from mapguard.source.types import (
    STDLIB_MAP_FIELDS,
    STDLIB_MAPS,
    STDLIB_REFLEXIVE_KEYS,
    UNKNOWN,
    ArrayOf,
    ChanOf,
    GoType,
    InterfaceOf,
    MapOf,
    Named,
    PointerTo,
    StructOf,
    deref,
    type_from_node,
)
from mapguard.source.xpkg import declared_type

_DELETE = re.compile(rb"delete\(")

# Builtin key types for which k == k can be false: NaN floats, and interfaces holding one.
_NOT_REFLEXIVE = frozenset({"float32", "float64", "complex64", "complex128", "any", "error"})


def run(pass_: Pass) -> None:
    if not pass_.allows(GO_1_21):
        return
    info = pass_.info
    for match in pass_.candidates():
        go_file = match.file
        found = delete_all_loop(match.node, go_file, info)
        if found is None:
            continue
        loop, map_expr = found
        name = normalized(go_file, map_expr)
        map_type = info.map_type(info.type_of(map_expr, go_file))
        key = map_type.key if map_type is not None else (
            _declared_map_key(info, info.type_of(map_expr, go_file))
            or _field_key(info, map_expr, go_file)
            or _constraint_key(info, map_expr, go_file))
        keys = _Keys.UNKNOWN if key is None else _reflexive(info, key, depth=0)
        if keys is _Keys.REFLEXIVE and _ranges_a_value(loop):
            message = (
                f"this loop deletes every key of `{name}` one by one: write clear({name}), "
                f"which empties it in one call. The compiler turns only `for k := range "
                f"{name}` into runtime.mapclear; with a value variable, even `_`, the loop "
                f"runs key by key")
        elif keys is _Keys.REFLEXIVE:
            message = (
                f"this loop deletes every key of `{name}`: write clear({name}). The compiler "
                f"already turns this exact loop into runtime.mapclear, so the gain is clarity "
                f"(and builds with -race or -N, which run the loop key by key)")
        elif keys is _Keys.MAY_BE_NAN:
            message = (
                f"this loop tries to delete every key of `{name}`, but its keys can hold NaN "
                f"(floats or interfaces), which the loop cannot delete and the compiler does "
                f"not turn into runtime.mapclear. clear({name}) removes every entry, NaN keys "
                f"too: a change of behaviour if NaN keys can be there, so there is no "
                f"automatic fix")
        else:
            message = (
                f"this loop deletes every key of `{name}`: clear({name}) says it in one call. "
                f"{_unseen_key(info, key)}: if it can hold NaN (floats, "
                f"interfaces), clear also removes the NaN keys the loop leaves behind, so "
                f"there is no automatic fix")
        fix = None
        # A test may hold the loop because the loop is what it tests (the runtime's tests of
        # the mapclear lowering): findings there, when asked for, come without a fix.
        kept = _kept_comments(go_file, loop)
        if keys is _Keys.REFLEXIVE and not is_support_code(go_file, pass_.package) and (
            kept is not None
        ):
            replacement = f"clear({go_file.text(map_expr)}){kept}"
            fix = Fix(f"replace the loop with clear({name})",
                      (edit(go_file, loop, loop, replacement),))
        pass_.report(go_file, loop, message, fix=fix)


def _ranges_a_value(loop: Node) -> bool:
    """`for k, _ := range m`: the compiler's mapclear lowering wants the key alone."""
    clause = next((c for c in loop.named_children if c.type == "range_clause"), None)
    left = clause.child_by_field_name("left") if clause is not None else None
    return left is not None and len([n for n in left.named_children if n.type != "comment"]) > 1


def _kept_comments(go_file: GoFile, loop: Node) -> str | None:
    """The comments the rewrite keeps: those on the loop's first line (`for k := range m {
    // why`) follow the clear call; a comment anywhere else would be lost, so no fix (None)."""
    comments = [c for c in walk(loop) if c.type == "comment"]
    if any(c.start_point.row != loop.start_point.row for c in comments):
        return None
    return "".join(f" {go_file.text(c)}" for c in comments)


def _field_key(info: TypeInfo, map_expr: Node, go_file: GoFile) -> GoType | None:
    """The key type of `x.f` when `x`'s struct type is declared in another package of the
    module (`job.DownloadingTargets` of a `*types.AsyncDownloadJob`) or is a standard-library
    struct with a map field (`r.Header` of an `*http.Request`): read from that declaration,
    so that the rule can tell the key's kind instead of hedging."""
    if map_expr.type != "selector_expression":
        return None
    found = _foreign_field_type(info, map_expr, go_file)
    if found is None:
        return None
    if isinstance(found, Named) and found.pkg not in {"", "builtin"}:
        return _declared_map_key(info, found)
    map_type = info.map_type(found)
    return map_type.key if map_type is not None else None


def _foreign_field_type(info: TypeInfo, selector: Node, go_file: GoFile, depth: int = 0
                        ) -> GoType | None:
    """The type of the field `x.f` when `x`'s struct type is declared in another package of the
    module or is a standard-library struct with a map field; through a chain of such fields
    too (`pk.Body.Info`, `Body` a struct field of `packager.Package`: Havoc in round 24), as
    long as each struct is declared in a package this file imports (what the result cache's
    key covers). Read from the declarations there; None when not found."""
    if selector.type != "selector_expression" or depth > 4:
        return None
    operand, field = (selector.child_by_field_name("operand"),
                      selector.child_by_field_name("field"))
    if operand is None or field is None:
        return None
    owner = deref(info.type_of(operand, go_file))
    chained = owner is UNKNOWN and operand.type == "selector_expression"
    if chained:
        owner = deref(_foreign_field_type(info, operand, go_file, depth + 1) or UNKNOWN)
    if not isinstance(owner, Named) or owner.pkg in {"", "builtin"}:
        return None
    name = go_file.text(field)
    stdlib = STDLIB_MAP_FIELDS.get((owner.pkg, owner.name, name))
    if stdlib is not None:
        return stdlib
    module = info.package.module
    if module is None or (chained and owner.pkg not in go_file.imports.values()):
        return None
    declared = declared_type(module, owner.pkg, owner.name)
    found = declared.field(name) if isinstance(declared, StructOf) else None
    return found.type if found is not None else None


def _declared_map_key(info: TypeInfo, go_type: GoType) -> GoType | None:
    """The key type of a map type named in another package of the module (`type
    MappingContext map[string]any` in `inner`, used as `inner.MappingContext`) or in the
    standard library (`http.Header`), read from its declaration."""
    if not isinstance(go_type, Named) or go_type.pkg in {"", "builtin"}:
        return None
    stdlib = STDLIB_MAPS.get((go_type.pkg, go_type.name))
    if stdlib is not None:
        return stdlib.key
    module = info.package.module
    declared = declared_type(module, go_type.pkg, go_type.name) if module is not None else None
    return declared.key if isinstance(declared, MapOf) else None


def _constraint_key(info: TypeInfo, map_expr: Node, go_file: GoFile) -> GoType | None:
    """The key type of a map typed by a type parameter of the enclosing function whose
    constraint is a map type (`func Clear[M ~map[K]V, K comparable, V any](m M)`: `K`)."""
    declared = info.type_of(map_expr, go_file)
    function = enclosing_declaration(map_expr)
    parameters = function.child_by_field_name("type_parameters") if function else None
    if not isinstance(declared, Named) or declared.pkg != "" or parameters is None:
        return None
    for declaration in parameters.named_children:
        names = [go_file.text(n) for n in declaration.children_by_field_name("name")]
        constraint = declaration.child_by_field_name("type")
        if declared.name not in names or constraint is None:
            continue
        inner = constraint.named_children[0] if constraint.named_child_count == 1 else None
        if inner is not None and inner.type == "negated_type":  # ~map[K]V
            inner = inner.named_children[0] if inner.named_child_count == 1 else None
        if inner is None or inner.type != "map_type":
            return None
        return type_from_node(inner.child_by_field_name("key"), go_file.imports)
    return None


class _Keys(enum.Enum):
    REFLEXIVE = "reflexive"  # every key equals itself: clear(m) is exactly the loop
    MAY_BE_NAN = "nan"  # floats or interfaces somewhere in the key type
    UNKNOWN = "unknown"  # a type from another package, a type parameter: cannot tell


def _unseen_key(info: TypeInfo, key: GoType | None) -> str:
    """Why the key type's kind is unknown, in words: a type parameter (its type set may
    admit floats), a type of another module, or a type not seen at all."""
    if isinstance(key, Named) and key.pkg == "" and info.package.type_named(key.name) is None:
        return f"The key type is the type parameter `{key.name}`"
    module = info.package.module
    if isinstance(key, Named) and key.pkg not in {"", "builtin"} and module is not None and not (
        key.pkg == module.path or key.pkg.startswith(module.path + "/")
    ):
        return (f"The key type `{key.pkg.rsplit('/', 1)[-1]}.{key.name}` is declared outside "
                f"this module")
    if isinstance(key, Named) and isinstance(info.underlying(key), StructOf):
        return f"The key type `{key.name}` has a field of a type declared outside this module"
    return "The key type is not visible here"


def _reflexive(info: TypeInfo, key: GoType, depth: int) -> _Keys:
    """Whether the key type is reflexive (k == k for every key): the compiler turns the loop
    into runtime.mapclear only then, and only then does clear(m) do exactly what it does."""
    key = info.underlying(key)
    if depth > 6:
        return _Keys.UNKNOWN
    if isinstance(key, InterfaceOf):
        return _Keys.MAY_BE_NAN
    if isinstance(key, Named):
        module = info.package.module
        if key.pkg not in {"", "builtin"} and module is not None and (
            declared := declared_type(module, key.pkg, key.name)
        ) is not None:
            return _reflexive(info, declared, depth + 1)  # `type Key string` in the module
        if (key.pkg, key.name) == ("unsafe", "Pointer"):
            return _Keys.REFLEXIVE  # a pointer: equal to itself
        if (key.pkg, key.name) in STDLIB_REFLEXIVE_KEYS:
            return _Keys.REFLEXIVE  # `map[reflect.Type]...` caches, `time.Time` sets
        if key.pkg != "builtin":
            return _Keys.UNKNOWN  # another module's type (or a type parameter)
        return _Keys.MAY_BE_NAN if key.name in _NOT_REFLEXIVE else _Keys.REFLEXIVE
    if isinstance(key, PointerTo | ChanOf):
        return _Keys.REFLEXIVE
    if isinstance(key, ArrayOf):
        return _reflexive(info, key.elem, depth + 1)
    if isinstance(key, StructOf):
        kinds = {_reflexive(info, f.type, depth + 1) for f in key.fields}
        for kind in (_Keys.MAY_BE_NAN, _Keys.UNKNOWN):
            if kind in kinds:
                return kind
        return _Keys.REFLEXIVE
    return _Keys.UNKNOWN


RULE = Rule(
    code="MG003",
    name="delete-all-loop",
    severity=Severity.INFO,
    summary="a loop deleting every key of a map: clear(m) says it in one call",
    reports_at="the `for` statement",
    doc=__doc__ or "",
    run=run,
    markers=(b"delete(",),
    anchors=(_DELETE,),
    bodies=(_DELETE,),
    needs=GO_1_21,
    in_support_code=False,
)
