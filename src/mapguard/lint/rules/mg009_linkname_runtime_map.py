"""## What it does
Finds `//go:linkname local target` directives that pull a runtime map internal: map creation,
insert, access, delete, growth, clear and iteration functions of `runtime.` or
`internal/runtime/maps.`, their `reflect.` push names (`reflect.mapassign`, `reflect.mapaccess`,
`reflect.mapiterinit`, ...), and the map hash functions (`runtime.memhash`, `runtime.strhash`,
`runtime.nilinterhash`, ...).

## Why is this bad?
Since Go 1.23 the linker refuses a pull linkname to a runtime symbol unless the runtime marks the
symbol as open to it; a few map entry points stay open only because widely used packages pull
them (the "hall of shame", go.dev/issue/67401). Which ones is a moving target: built one pull at a
time, Go 1.23 still links `runtime.mapaccess1`, `mapdelete_faststr` and `mapclear`, Go 1.24
refuses them, and Go 1.27 also refuses `runtime.memhash32`/`memhash64`; the growth functions of
the old maps (`hashGrow`, `evacuate`, ...) are gone since Go 1.24. A refused pull builds only with
`-ldflags=-checklinkname=0`. And since Go 1.24 maps are Swiss tables: the map functions take an
`*abi.SwissMapType` (Go 1.24-1.25) or `*abi.MapType` (Go 1.26+) and a `*maps.Map`, so code that
passes a hand-written `hmap`/`maptype` layout still links where the name is open, and is silently
wrong. Each message says what the checked releases (Go 1.19, 1.22-1.27) do with that name.

## Example
```go
//go:linkname strhash runtime.strhash
func strhash(p unsafe.Pointer, h uintptr) uintptr
```

## Use instead
`hash/maphash` (`maphash.String` and `maphash.Bytes` since Go 1.19, `maphash.Comparable` since
Go 1.24) for hashing; `reflect` (`Value.MapIndex`, `SetMapIndex`, `MapRange`) for generic map
access; the `maps` package for copying and iteration.

## When it is a false alarm
Never for code that must keep building on new Go releases. Code pinned to one toolchain and
tested against it can suppress the finding with `//mapguard:ignore MG009 <reason>` on the line
above the directive.
"""

from __future__ import annotations

import re

from mapguard.lint.gofacts import (
    API_SINCE,
    ITERATOR_SHIMS,
    MAP_FUNCTION_TYPES,
    NEWEST_CHECKED,
    SWISS_TABLES_SINCE,
    LinkStatus,
    link_history,
    link_status,
)
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

_HASHES = re.compile(r"(?:mem|str|type|nilinter|inter|aes|f32|f64|c64|c128)hash|memHash")


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
            if node is None or node.type != "comment" or node.start_byte != start:
                continue  # a line inside a /* */ comment is no directive: Go ignores it
            pass_.report(go_file, node, _message(target))


def _is_push(pass_: Pass, local: str) -> bool:
    """A directive naming a function that has a body *provides* the symbol (a push, as the
    runtime does for reflect): only a body-less declaration pulls someone else's code."""
    declaration = pass_.package.func_named(local)
    if declaration is not None:
        return declaration.body is not None
    variable = pass_.package.var_named(local)
    return variable is not None and variable.value is not None  # an initialised variable


def _message(target: str) -> str:
    _package, _, name = target.rpartition(".")
    hashing = _HASHES.search(name) is not None
    status = _link_status(target)
    links = link_history(target) is None or link_status(target, NEWEST_CHECKED) is (
        LinkStatus.LINKS)
    layout = "" if hashing or not links else (
        f"; since Go {SWISS_TABLES_SINCE} maps are Swiss tables, and this iterator entry point "
        f"is kept as a shim for old pulls: it takes the old iterator struct (hiter) and keeps "
        f"only its key, elem and type fields current, so code that reads its other fields is "
        f"wrong") if target in ITERATOR_SHIMS else (
        f"; and since Go {SWISS_TABLES_SINCE} maps are Swiss tables: the map functions take "
        f"{_map_types()}, so a pull written for the hmap layout of older releases is silently "
        f"wrong wherever it still links")
    comparable = API_SINCE["hash/maphash.Comparable"]
    strings = API_SINCE["hash/maphash.String"]
    replacement = (f"hash/maphash (maphash.String and maphash.Bytes since Go {strings}, "
                   f"maphash.Comparable since Go {comparable})" if hashing else
                   "reflect (MapIndex, SetMapIndex, MapRange) or the maps package")
    return (f"//go:linkname pulls the runtime map internal {target}: {status}{layout}. Use "
            f"{replacement} instead")


def _link_status(target: str) -> str:
    """What the checked Go releases do with this pull (gofacts.LINKNAME_PULLS)."""
    history = link_history(target)
    newest = f"Go {NEWEST_CHECKED}"
    if history is None:
        return (f"mapguard has not checked whether {newest} links it (since Go 1.23 the linker "
                f"refuses pulls of runtime internals that the runtime does not mark)")
    status, since, before, before_status = history
    earlier = "" if before is None else {
        LinkStatus.LINKS: f"; Go {before} still linked it",
        LinkStatus.REFUSED: f"; Go {before} refused it",
        LinkStatus.UNDEFINED: f"; Go {before} had no such symbol",
    }[before_status or LinkStatus.UNDEFINED]
    also = "" if since == NEWEST_CHECKED else f", as does every release checked from Go {since} on"
    if status is LinkStatus.LINKS:
        return (f"{newest}'s linker still accepts this pull only because widely used packages "
                f"pull it (go.dev/issue/67401), and a later release may refuse it{earlier}")
    if status is LinkStatus.REFUSED:
        return (f"{newest}'s linker refuses this pull (\"invalid reference to {target}\"; it "
                f"builds only with -ldflags=-checklinkname=0){also}{earlier}")
    return (f"{newest} has no such symbol, so the build fails (\"relocation target {target} not "
            f"defined\"){also}{earlier}")


def _map_types() -> str:
    """"*abi.MapType and *maps.Map (Go 1.26+; ...)" from gofacts.MAP_FUNCTION_TYPES."""
    releases = sorted(MAP_FUNCTION_TYPES)
    newest = releases[-1]
    current = " and ".join(MAP_FUNCTION_TYPES[newest])
    swiss = [r for r in releases[:-1] if r >= SWISS_TABLES_SINCE]
    earlier = "".join(
        f"; {' and '.join(MAP_FUNCTION_TYPES[r])} in Go {r}"
        f"-1.{releases[releases.index(r) + 1].minor - 1}" for r in swiss)
    return f"{current} (Go {newest}+{earlier})"


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
