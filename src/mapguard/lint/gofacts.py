"""What Go releases do, as the concurrency and publication rules (MG004-MG009) state it.

Every entry was derived from a real toolchain, and tests/lint/test_gofacts.py checks it again:

- `API_SINCE`: the Go release that added an API a message recommends. The test reads the API
  manifest of the bundled toolchain's own vet (`cmd/vendor/.../internal/stdlib/manifest.go`) and,
  where the toolchain enforces it (Go 1.21 and later), builds the use under the release before
  and the release itself.
- `LINKNAME_PULLS`: what the linker does with `//go:linkname local <name>` for each runtime map
  name MG009 knows: it links, it refuses the pull (`invalid reference to <name>`; only
  `-ldflags=-checklinkname=0` builds it), or the symbol does not exist (`relocation target <name>
  not defined`). Each name was built as a pull, one program per name, with go1.19.8, go1.22.0,
  go1.23.0, go1.24.0, go1.25.0, go1.26.8 and go1.27.3, in a program that links reflect (as every
  program importing fmt does: without it, reflect's own names are "not defined" whatever the
  release says about them). The test rebuilds the bundled toolchain's
  column on every run, and any other column when `MAPGUARD_FACT_TOOLCHAINS` names that
  toolchain's `go` binary.
- `MAP_FUNCTION_TYPES`: what the runtime's map functions take, by release (read from each
  toolchain's runtime source; the test reads the bundled one, and go1.19's when installed).
"""

from __future__ import annotations

import enum
from types import MappingProxyType

from mapguard.goversion import GoVersion


class LinkStatus(enum.StrEnum):
    LINKS = "L"
    REFUSED = "R"  # "invalid reference": the Go 1.23+ linkname check
    UNDEFINED = "U"  # "relocation target ... not defined": no such symbol in that release


# The releases of the LINKNAME_PULLS columns, oldest first; the last is the bundled toolchain.
LINKNAME_RELEASES = tuple(GoVersion(1, minor) for minor in (19, 22, 23, 24, 25, 26, 27))
NEWEST_CHECKED = LINKNAME_RELEASES[-1]

# name -> one LinkStatus letter per LINKNAME_RELEASES column.
LINKNAME_PULLS = MappingProxyType({
    "runtime.makemap": "LLLLLLL",
    "runtime.makemap64": "LLLRRRR",
    "runtime.makemap_small": "LLLLLLL",
    "runtime.mapaccess1": "LLLRRRR",
    "runtime.mapaccess1_fast32": "LLLRRRR",
    "runtime.mapaccess1_fast64": "LLLRRRR",
    "runtime.mapaccess1_faststr": "LLLRRRR",
    "runtime.mapaccess1_fat": "LLLRRRR",
    "runtime.mapaccess2": "LLLLLLL",
    "runtime.mapaccess2_fast32": "LLLLLLL",
    "runtime.mapaccess2_fast64": "LLLLLLL",
    "runtime.mapaccess2_faststr": "LLLLLLL",
    "runtime.mapaccess2_fat": "LLLRRRR",
    "runtime.mapassign": "LLLLLLL",
    "runtime.mapassign_fast32": "LLLLLLL",
    "runtime.mapassign_fast32ptr": "LLLLLLL",
    "runtime.mapassign_fast64": "LLLLLLL",
    "runtime.mapassign_fast64ptr": "LLLLLLL",
    "runtime.mapassign_faststr": "LLLLLLL",
    "runtime.mapdelete": "LLLLLLL",
    "runtime.mapdelete_fast32": "LLLRRRR",
    "runtime.mapdelete_fast64": "LLLRRRR",
    "runtime.mapdelete_faststr": "LLLRRRR",
    "runtime.mapclear": "LLLRRRR",
    "runtime.mapclone": "UUUUUUU",  # the runtime's mapclone is pushed as maps.clone
    "runtime.maplen": "UUUUUUU",
    "runtime.mapiterinit": "LLLLLLL",
    "runtime.mapiternext": "LLLLLLL",
    "runtime.mapIterStart": "UUURRRR",
    "runtime.mapIterNext": "UUURRRR",
    "runtime.hashGrow": "LLRUUUU",
    "runtime.growWork": "LLRUUUU",
    "runtime.growWork_fast32": "LLRUUUU",
    "runtime.growWork_fast64": "LLRUUUU",
    "runtime.growWork_faststr": "LLRUUUU",
    "runtime.evacuate": "LLRUUUU",
    "runtime.evacuate_fast32": "LLRUUUU",
    "runtime.evacuate_fast64": "LLRUUUU",
    "runtime.evacuate_faststr": "LLRUUUU",
    "runtime.makeBucketArray": "LLRUUUU",
    "runtime.memhash": "LLLLLLL",
    "runtime.memhash0": "LLLRRRR",
    "runtime.memhash8": "LLLRRRR",
    "runtime.memhash16": "LLLRRRR",
    "runtime.memhash32": "LLLLLLR",
    "runtime.memhash64": "LLLLLLR",
    "runtime.memhash128": "LLLRRRR",
    "runtime.memhash_varlen": "LLRRRRR",
    "runtime.strhash": "LLLLLLL",
    "runtime.typehash": "LLLLLLL",
    "runtime.nilinterhash": "LLLLLLL",
    "runtime.interhash": "LLLRRRR",
    "runtime.aeshashbody": "UUUUUUU",  # an assembly routine without a linkable Go symbol
    "runtime.f32hash": "LLLRRRR",
    "runtime.f64hash": "LLLRRRR",
    "runtime.c64hash": "LLLRRRR",
    "runtime.c128hash": "LLLRRRR",
    "internal/runtime/maps.NewMap": "UUURRRR",
    "internal/runtime/maps.NewEmptyMap": "UUURRRR",
    "internal/runtime/maps.newTable": "UUURRRR",
    "internal/runtime/maps.newarray": "UUURRRR",
    "internal/runtime/maps.newGroups": "UUURRRR",
    "internal/runtime/maps.memHashAES": "UUUUUUR",
    "reflect.makemap": "LLLLLLL",
    "reflect.mapaccess": "LLLLLLL",
    "reflect.mapaccess_faststr": "LLLLLLL",
    # Since Go 1.22 a Go wrapper around mapassign0; go1.23+ keep it pullable (goccy/go-json).
    "reflect.mapassign": "LLLLLLL",
    "reflect.mapassign0": "ULLLLLL",
    "reflect.mapassign_faststr": "LLRRRRR",  # a wrapper too, but not pushed for pulls
    "reflect.mapassign_faststr0": "ULLLLLL",
    "reflect.mapdelete": "LLLLLLL",
    "reflect.mapdelete_faststr": "LLLLLLL",
    "reflect.mapclear": "ULLLLLL",
    "reflect.mapiterinit": "LLLLLLL",
    "reflect.mapiterkey": "LLLLLLL",
    "reflect.mapiterelem": "LLLLLLL",
    "reflect.mapiternext": "LLLLLLL",
    "reflect.maplen": "LLLLLLL",
})


def link_status(name: str, release: GoVersion) -> LinkStatus | None:
    """What the linker of `release` (one of LINKNAME_RELEASES) does with a pull of `name`."""
    row = LINKNAME_PULLS.get(name)
    if row is None or release not in LINKNAME_RELEASES:
        return None
    return LinkStatus(row[LINKNAME_RELEASES.index(release)])


def link_history(name: str) -> tuple[LinkStatus, GoVersion, GoVersion | None, LinkStatus | None
                                     ] | None:
    """(status in the newest release, first checked release since which it holds, the checked
    release before that and its status) for a name in LINKNAME_PULLS."""
    row = LINKNAME_PULLS.get(name)
    if row is None:
        return None
    newest = LinkStatus(row[-1])
    start = len(row) - 1
    while start > 0 and row[start - 1] == row[-1]:
        start -= 1
    if start == 0:
        return newest, LINKNAME_RELEASES[0], None, None
    return newest, LINKNAME_RELEASES[start], LINKNAME_RELEASES[start - 1], LinkStatus(
        row[start - 1])


# API -> the Go release that added it ("package.Name", "package.(*Type).Method", or a builtin).
API_SINCE = MappingProxyType({
    "sync/atomic.Pointer": GoVersion(1, 19),
    "sync.OnceValue": GoVersion(1, 21),
    "maps.Clone": GoVersion(1, 21),
    "clear": GoVersion(1, 21),
    "hash/maphash.String": GoVersion(1, 19),
    "hash/maphash.Bytes": GoVersion(1, 19),
    "hash/maphash.Comparable": GoVersion(1, 24),
    "sync.(*WaitGroup).Go": GoVersion(1, 25),
})

# The types the runtime's map functions (mapassign, mapaccess1, ...) take for the map type and
# the map, from the release given on: Swiss tables since Go 1.24 (Go 1.24 and 1.25 still carried
# the old implementation behind GOEXPERIMENT=noswissmap), and the hmap layout before.
MAP_FUNCTION_TYPES = MappingProxyType({
    GoVersion(1, 0): ("*maptype", "*hmap"),
    GoVersion(1, 24): ("*abi.SwissMapType", "*maps.Map"),
    GoVersion(1, 26): ("*abi.MapType", "*maps.Map"),
})
SWISS_TABLES_SINCE = GoVersion(1, 24)

# The iterator entry points the runtime keeps for old pulls since the Swiss tables: they take
# the iterator struct of Go 1.23 and before (runtime.hiter) and keep its key, elem and type
# fields current (the runtime's linkname_shim.go), so code that iterates through them with the
# old struct still works. Checked by tests/lint/test_gofacts.py with a program that does.
ITERATOR_SHIMS = frozenset({
    "runtime.mapiterinit", "runtime.mapiternext", "reflect.mapiterinit", "reflect.mapiternext",
    "reflect.mapiterkey", "reflect.mapiterelem",
})
