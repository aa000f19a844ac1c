"""What a Go stack frame is, by its function name: map runtime (and which op), sync.Map,
the `maps` package, other runtime, standard library or user code.

The name tables are the runtime's own names (docs/go-facts.md, "Map values"), for both map
implementations (Go <= 1.23 `hmap` and Go >= 1.24 Swiss tables); the names they share are listed
once.
"""

from __future__ import annotations

import functools
import re
from enum import Enum

# Ops a frame can be charged to. Allocation reports fold `insert` into `grow` (an insert only
# allocates when the map grows).
OPS = ("hash", "access", "insert", "grow", "create", "clear", "iterate", "delete", "syncmap")


class FrameKind(Enum):
    MAP = "map"  # a map runtime function: see `map_op`
    SYNCMAP = "syncmap"  # sync.Map and its internals
    RUNTIME = "runtime"  # other runtime frames (mallocgc, memmove...): look further up
    STDLIB = "stdlib"  # the standard library outside the runtime: not a map cost
    USER = "user"  # the program's own code


# (name or prefix ending in "*", op). Longest match wins, so order does not matter.
_TABLE: tuple[tuple[str, str], ...] = (
    # create
    ("runtime.makemap*", "create"),
    ("runtime.makeBucketArray", "create"),
    ("runtime.mapclone*", "create"),
    ("runtime.maps_clone", "create"),
    ("internal/runtime/maps.NewMap", "create"),
    ("internal/runtime/maps.NewEmptyMap", "create"),
    ("internal/runtime/maps.newTable", "create"),
    ("internal/runtime/maps.newarray", "create"),
    ("internal/runtime/maps.newGroups", "create"),
    ("reflect.makemap*", "create"),
    # insert
    ("runtime.mapassign*", "insert"),
    ("reflect.mapassign*", "insert"),
    # grow
    ("internal/runtime/maps.(*Map).growToSmall", "grow"),
    ("internal/runtime/maps.(*Map).growToTable", "grow"),
    ("internal/runtime/maps.(*table).rehash", "grow"),
    ("internal/runtime/maps.(*table).grow", "grow"),
    ("internal/runtime/maps.(*table).split", "grow"),
    ("internal/runtime/maps.(*Map).installTableSplit", "grow"),
    ("runtime.hashGrow", "grow"),
    ("runtime.growWork*", "grow"),
    ("runtime.evacuate*", "grow"),
    ("runtime.(*hmap).newoverflow", "grow"),
    # access
    ("runtime.mapaccess*", "access"),
    ("reflect.mapaccess*", "access"),
    # delete
    ("runtime.mapdelete*", "delete"),
    ("reflect.mapdelete*", "delete"),
    # hash
    ("runtime.memhash*", "hash"),
    ("runtime.strhash*", "hash"),
    ("runtime.nilinterhash", "hash"),
    ("runtime.interhash", "hash"),
    ("runtime.f32hash", "hash"),
    ("runtime.f64hash", "hash"),
    ("runtime.c64hash", "hash"),
    ("runtime.c128hash", "hash"),
    ("runtime.typehash", "hash"),
    ("runtime.aeshashbody", "hash"),
    ("internal/runtime/maps.memHash*", "hash"),
    # clear
    ("runtime.mapclear", "clear"),
    ("internal/runtime/maps.(*Map).Clear", "clear"),
    ("internal/runtime/maps.(*table).Clear", "clear"),
    ("reflect.mapclear", "clear"),
    # iterate
    ("runtime.mapIter*", "iterate"),
    ("runtime.mapiter*", "iterate"),
    ("reflect.mapiter*", "iterate"),
    ("internal/runtime/maps.(*Iter).*", "iterate"),
)
_EXACT = {name: op for name, op in _TABLE if not name.endswith("*")}
_PREFIXES = sorted(((name[:-1], op) for name, op in _TABLE if name.endswith("*")),
                   key=lambda item: -len(item[0]))


# Functions of the `maps` package (Go 1.21+) whose own frames stay in allocation profiles.
MAPS_PACKAGE_OPS = {"maps.Clone": "create", "maps.Collect": "create", "maps.Copy": "grow",
                    "maps.Insert": "grow"}

_GENERIC_ARGS = re.compile(r"\[[^\[\]]*\]")


def strip_type_args(function: str) -> str:
    """`pkg.F[go.shape.int]` -> `pkg.F`: instantiations share the generic function's name."""
    while "[" in function:
        stripped = _GENERIC_ARGS.sub("", function)
        if stripped == function:
            break
        function = stripped
    return function


def package_of(function: str) -> str:
    """Import path of a Go function symbol: `a.b/c.(*T).M` -> `a.b/c`, `main.f` -> `main`."""
    name = strip_type_args(function)
    slash = name.rfind("/")
    dot = name.find(".", slash + 1)
    return name[:dot] if dot >= 0 else name


@functools.lru_cache(maxsize=65536)
def map_op(function: str) -> str | None:
    """The map op a runtime function performs, or None for a function that is not one."""
    name = strip_type_args(function)
    if name.endswith(".abi0"):
        name = name[: -len(".abi0")]
    if name in MAPS_PACKAGE_OPS:
        return MAPS_PACKAGE_OPS[name]
    if name in _EXACT:
        return _EXACT[name]
    for prefix, op in _PREFIXES:
        if name.startswith(prefix):
            return op
    # Other Swiss-table helpers (getWithKey, uncheckedPutSlot, reset...) are runtime
    # machinery: the entry point above them says what the program asked for.
    return None


def is_syncmap(function: str) -> bool:
    name = strip_type_args(function)
    return name.startswith(("sync.(*Map).", "internal/sync.", "sync.newEntry", "sync.Map."))


def is_stdlib(function: str, file: str) -> bool:
    """Standard library (runtime included)? Its import path has no dot in the first element
    and is not `main`; a dot-less module path of the user's own is told apart by its files,
    which do not lie in a GOROOT's `src/<path>/`."""
    package = package_of(function)
    if package == "main" or "." in package.split("/", 1)[0]:
        return False
    if package in ("runtime", "reflect", "sync") or package.startswith(
            ("runtime/", "internal/", "sync/")):
        return True
    return not file or f"/src/{package}/" in file or file.startswith(("$GOROOT", package + "/"))


# Allocation helpers shared by creation and growth: the caller tells which it was.
_SHARED_HELPERS = frozenset({
    "runtime.makeBucketArray", "internal/runtime/maps.newTable",
    "internal/runtime/maps.newarray", "internal/runtime/maps.newGroups"})


@functools.lru_cache(maxsize=65536)
def frame_kind(function: str, file: str) -> FrameKind:
    if strip_type_args(function) in _SHARED_HELPERS:
        return FrameKind.RUNTIME
    if map_op(function) is not None:
        return FrameKind.MAP
    if is_syncmap(function):
        return FrameKind.SYNCMAP
    name = strip_type_args(function)
    if name.startswith(("runtime.", "internal/runtime/", "runtime/internal/")):
        return FrameKind.RUNTIME
    if is_stdlib(function, file):
        return FrameKind.STDLIB
    return FrameKind.USER
