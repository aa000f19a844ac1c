"""## What it does
Finds the loop `for k := range m { delete(m, k) }` — a loop whose only statement deletes every
key of the map it ranges over — and suggests `clear(m)`.

## Why is this bad?
It is not slow: the compiler recognises exactly this loop and already compiles it to a single
`runtime.mapclear` call, the same thing `clear(m)` does. The gain is clarity: `clear(m)` says what
the code means in one call, and it stays fast where the optimisation does not apply — builds with
`-race` or `-N` (debuggers) run the loop key by key. For float or interface keys the loop cannot
delete NaN keys (`NaN != NaN`), and the compiler does not optimise it; `clear` removes them too.
Like the loop, `clear` keeps the map's capacity: neither makes the map smaller.

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
Never wrong, only a matter of taste; `mapguard lint --fix` applies the rewrite. Needs Go 1.21
(`clear`): the rule is silent for modules whose `go` directive is older.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from mapguard.goversion import GO_1_21
from mapguard.lint.rule import Fix, Pass, Rule, Severity, edit
from mapguard.lint.syntax import delete_all_loop, normalized
from mapguard.source.package import GoFile
from mapguard.source.typeinfo import TypeInfo, walk
from mapguard.source.types import ArrayOf, GoType, InterfaceOf, Named, StructOf

_DELETE = re.compile(rb"delete\(")

_FLOATING = frozenset({"float32", "float64", "complex64", "complex128", "any"})


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
        message = (
            f"this loop deletes every key of `{name}`: write clear({name}). The compiler already "
            f"turns this exact loop into runtime.mapclear, so the gain is clarity (and builds with "
            f"-race or -N, which run the loop key by key)"
        )
        if _key_may_be_nan(go_file, info, map_expr):
            message = (
                f"this loop tries to delete every key of `{name}`, but with float or interface "
                f"keys it cannot delete NaN keys and the compiler does not optimise it: "
                f"clear({name}) removes every entry in one call"
            )
        fix = None
        if not any(child.type == "comment" for child in walk(loop)):
            fix = Fix(f"replace the loop with clear({name})",
                      (edit(go_file, loop, loop, f"clear({go_file.text(map_expr)})"),))
        pass_.report(go_file, loop, message, fix=fix)


def _key_may_be_nan(go_file: GoFile, info: TypeInfo, map_expr: Node) -> bool:
    """Whether the key type is not reflexive (floats, interfaces, or arrays and structs holding
    them): the compiler only turns the loop into runtime.mapclear for reflexive keys."""
    map_type = info.map_type(info.type_of(map_expr, go_file))
    return map_type is not None and not _reflexive(info, map_type.key, depth=0)


def _reflexive(info: TypeInfo, key: GoType, depth: int) -> bool:
    key = info.underlying(key)
    if depth > 6 or isinstance(key, InterfaceOf):
        return False
    if isinstance(key, Named):
        return key.name not in _FLOATING
    if isinstance(key, ArrayOf):
        return _reflexive(info, key.elem, depth + 1)
    if isinstance(key, StructOf):
        return all(_reflexive(info, f.type, depth + 1) for f in key.fields)
    return True


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
)
