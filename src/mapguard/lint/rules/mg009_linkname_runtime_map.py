"""## What it does
Finds `//go:linkname local target` directives that pull a runtime map internal: map creation,
insert, access, delete, growth, clear and iteration functions of `runtime.` or
`internal/runtime/maps.`, their `reflect.` push names (`reflect.mapassign`, `reflect.mapaccess`,
`reflect.mapiterinit`, ...), and the map hash functions (`runtime.memhash`, `runtime.strhash`,
`runtime.nilinterhash`, ...).

## Why is this bad?
Since Go 1.23 the linker refuses a pull linkname to a runtime symbol unless the runtime marks the
symbol as allowed; only a few map entry points stay allowed, because widely used packages pull
them (the "hall of shame", go.dev/issue/67401). Any other map internal does not link at all
(unless the whole check is turned off with `-ldflags=-checklinkname=0`). And since Go 1.24 maps
are Swiss tables: the map functions take an `*abi.MapType` and a `*maps.Map`, so code that passes
a hand-written `hmap`/`maptype` layout still links but is silently wrong. Hash functions change
signature and seed handling between releases too.

## Example
```go
//go:linkname strhash runtime.strhash
func strhash(p unsafe.Pointer, h uintptr) uintptr
```

## Use instead
`hash/maphash` (`maphash.String`, `maphash.Bytes`, and `maphash.Comparable` since Go 1.24) for
hashing; `reflect` (`Value.MapIndex`, `SetMapIndex`, `MapRange`) for generic map access; the
`maps` package for copying and iteration.

## When it is a false alarm
Never for code that must keep building on new Go releases. Code pinned to one toolchain and
tested against it can suppress the finding with `//mapguard:ignore MG009 <reason>` on the line
above the directive.
"""

from __future__ import annotations

import re

from mapguard.lint.rule import Pass, Rule, Severity

_DIRECTIVE = re.compile(rb"//go:linkname[ \t]+(\S+)[ \t]+(\S+)[ \t]*$", re.M)

_RUNTIME_MAP = re.compile(
    r"^runtime\.(?:makemap\w*|mapassign\w*|mapaccess\w*|mapdelete\w*|mapclear|mapiter\w+|"
    r"mapIter\w+|maplen|mapclone|hashGrow|growWork\w*|evacuate\w*|makeBucketArray|"
    r"memhash\w*|strhash|typehash|nilinterhash|interhash|aeshash\w*|f32hash|f64hash|c64hash|"
    r"c128hash)$"
    r"|^internal/runtime/maps\.(?:NewMap|NewEmptyMap|newTable|newarray|newGroups|memHashAES|"
    r"\(\*Map\)\.\w+|\(\*table\)\.\w+|\(\*Iter\)\.\w+|runtime_map\w+)$"
    r"|^reflect\.(?:makemap|map\w+)$"
)

# Pulls that Go 1.23-1.27 still allow because the runtime marks them (checked against the
# runtime and internal/runtime/maps sources of Go 1.27). Everything else fails to link.
STILL_LINKABLE = frozenset({
    "makemap", "makemap_small", "mapaccess1", "mapaccess1_fast32", "mapaccess1_fast64",
    "mapaccess1_faststr", "mapaccess2", "mapaccess2_fast32", "mapaccess2_fast64",
    "mapaccess2_faststr", "mapassign", "mapassign_fast32", "mapassign_fast32ptr",
    "mapassign_fast64", "mapassign_fast64ptr", "mapassign_faststr", "mapdelete",
    "mapdelete_fast32", "mapdelete_fast64", "mapdelete_faststr", "mapiterinit", "mapiternext",
    "memhash", "strhash", "nilinterhash", "typehash",
})
_HASHES = re.compile(r"hash")


def run(pass_: Pass) -> None:
    module = pass_.package.module
    if module is not None and module.path in {"std", "cmd"}:
        return  # the standard library may link its own internals: the restriction is for others
    for go_file in pass_.package.files:
        for hit in _DIRECTIVE.finditer(go_file.source):
            target = hit.group(2).decode("utf-8", "replace")
            if not _RUNTIME_MAP.match(target) or _is_push(pass_, hit.group(1).decode()):
                continue
            start = hit.start()
            line_start = go_file.source.rfind(b"\n", 0, start) + 1
            if go_file.source[line_start:start].strip():
                continue  # not at the start of a line: not a directive
            node = go_file.node_at(start, start + 2)
            if node is None or node.type != "comment":
                continue
            pass_.report(go_file, node, _message(target))


def _is_push(pass_: Pass, local: str) -> bool:
    """A directive naming a function that has a body *provides* the symbol (a push, as the
    runtime does for reflect): only a body-less declaration pulls someone else's code."""
    declaration = pass_.package.funcs.get(local)
    if declaration is not None:
        return declaration.body is not None
    variable = pass_.package.vars.get(local)
    return variable is not None and variable.value is not None  # an initialised variable


def _message(target: str) -> str:
    package, _, name = target.rpartition(".")
    if package == "runtime" and name in STILL_LINKABLE:
        status = (f"Go 1.23+ still lets it link only because popular packages pull {name} "
                  f"(go.dev/issue/67401), and may stop")
    else:
        status = ("the Go 1.23+ linker refuses this pull (it builds only with "
                  "-ldflags=-checklinkname=0)")
    replacement = ("hash/maphash (maphash.String, maphash.Bytes; maphash.Comparable in Go 1.24)"
                   if _HASHES.search(name) else
                   "reflect (MapIndex, SetMapIndex, MapRange) or the maps package")
    return (
        f"//go:linkname pulls the runtime map internal {target}: {status}; since Go 1.24 maps "
        f"are Swiss tables whose functions take *abi.MapType and *maps.Map, so hand-written "
        f"hmap/maptype layouts are silently wrong. Use {replacement} instead"
    )


RULE = Rule(
    code="MG009",
    name="linkname-runtime-map",
    severity=Severity.ERROR,
    summary="a //go:linkname pull of a runtime map internal or map hash function",
    reports_at="the `//go:linkname` directive",
    doc=__doc__ or "",
    run=run,
    markers=(b"go:linkname",),
    bodies=(),  # directives sit outside function bodies
)
