"""The agent's door to the profile × source join: the same attribution as `mapguard profile`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mapguard.formats.pprof import parse_profile
from mapguard.watch.attribute import profile_costs
from tests.pprof_samples import HEAP_TYPES, Stack, build

from .fakes import FILL_LINE, GO_SOURCE, MAP_BYTES, OTHER_BYTES, delta_profile, write_source

GROW = ("internal/runtime/maps.(*Map).growToTable", "", 0, 0x1000)
MALLOC = ("runtime.mallocgc", "", 0, 0x1100)


def test_map_work_inside_the_standard_library_is_the_first_user_callers() -> None:
    """Without a source tree the runtime frames decide; a map that net/textproto grows on
    behalf of the service is charged to the service's function that called it."""
    header_add = ("net/textproto.MIMEHeader.Add", "/usr/local/go/src/net/textproto/header.go",
                  15, 0x2000)
    handle = ("main.handle", "/build/main.go", 30, 0x3000)
    data = build(HEAP_TYPES, [
        Stack([MALLOC, GROW, header_add, handle], [10, 10_000, 0, 0], size=1000),
        Stack([MALLOC, ("main.payload", "/build/main.go", 40, 0x4000), handle],
              [1, 4096, 0, 0], size=4096),
    ], default="alloc_space")
    profile = dataclasses.replace(parse_profile(data, "allocs"), runtime_frames=True)
    costs = profile_costs(profile, "allocs", None)
    assert costs.sites == {("main.handle", "grow"): (10_000, 10)}
    assert (costs.total_bytes, costs.total_objects) == (14_096, 11)


def test_a_source_tree_that_moved_on_labels_no_line_and_says_so(tmp_path: Path) -> None:
    """The tree is not the build's: `fill` no longer holds the profiled line. Its bytes go to
    no site (reading line 5 of this file would mislabel them) and are reported as unmatched."""
    built = write_source(tmp_path / "built")
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "main.go").write_text(GO_SOURCE.replace("package main\n", "package main\n" + "\n"
                                                     * 10))
    profile = parse_profile(delta_profile(str(built)), "allocs")
    assert profile_costs(profile, "allocs", built.parent).sites == {
        (f"main.go:{FILL_LINE}", "grow"): (MAP_BYTES, MAP_BYTES // 1000)}
    stale = profile_costs(profile, "allocs", moved)
    assert stale.sites == {}
    assert {(c.function, c.bytes) for c in stale.unmatched} == {
        ("main.fill", MAP_BYTES), ("main.payload", OTHER_BYTES)}
    assert {c.match for c in stale.unmatched} <= {"moved", "missing"}
