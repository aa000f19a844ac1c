"""Runtime frames for a `debug=1` allocation profile, from the target's own symbol table.

The text profile names only the user frames of each stack (`#` lines); the PCs before the first
of them are the runtime's (mallocgc, growToTable, mapassign...), and they say what the
allocation was. The target symbolises them itself over `/debug/pprof/symbol`, as `go tool
pprof` asks it to; the answers are kept per process, so a steady target is asked only once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from mapguard.formats.pprof import Frame, Location, Profile

MAX_KNOWN = 50_000  # addresses remembered per process; a Go binary's map paths need far fewer
MAX_PER_REQUEST = 4096


class SymbolTable:
    """Address -> function name (None: the process does not know it), for one process."""

    def __init__(self, names: Mapping[int, str | None] | None = None) -> None:
        self.names: dict[int, str | None] = dict(names or {})

    def clear(self) -> None:
        self.names.clear()

    def unknown(self, profile: Profile) -> list[int]:
        """Addresses of the leading runtime frames of `profile` not asked about yet."""
        addresses = {profile.locations[index].address for index in leading_bare(profile)}
        missing = sorted(address for address in addresses if address not in self.names)
        return missing[:MAX_PER_REQUEST]

    def learn(self, asked: list[int], answer: dict[int, str]) -> None:
        if len(self.names) + len(asked) > MAX_KNOWN:
            self.names.clear()  # a process this large in map paths is not steady: start over
        for address in asked:
            self.names[address] = answer.get(address)

    def apply(self, profile: Profile) -> Profile:
        """`profile` with a frame for each bare location whose name is known."""
        locations = list(profile.locations)
        changed = False
        for index, location in enumerate(locations):
            if location.frames:
                continue
            name = self.names.get(location.address)
            if name:
                locations[index] = Location(location.id, location.address, location.mapping_id,
                                            (Frame(name, "", 0),))
                changed = True
        return dataclasses.replace(profile, locations=tuple(locations)) if changed else profile


def leading_bare(profile: Profile) -> list[int]:
    """Indices of locations that come before a stack's first symbolised frame."""
    table = profile.samples
    if not len(table.stacks):
        return []
    bare = np.array([not location.frames for location in profile.locations], dtype=bool)
    stack_bare = bare[table.stacks]
    # Framed locations seen so far within each sample: 0 while still in the leading run.
    framed = np.cumsum(~stack_bare)
    starts = table.offsets[:-1]
    before = np.where(starts > 0, framed[np.maximum(starts - 1, 0)], 0)
    lengths = np.diff(table.offsets)
    seen = framed - np.repeat(before, lengths)
    return [int(index) for index in np.unique(table.stacks[stack_bare & (seen == 0)])]
