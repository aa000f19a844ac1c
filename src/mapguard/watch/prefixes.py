"""The runtime frames Go hides from a heap profile, learnt per call site and put back.

`runtime/pprof` drops a heap sample's leading runtime frames (mallocgc, growToTable,
mapassign...) when it writes the proto profile, and those frames are what tells a map
allocation from another one when there is no source to read. The `debug=1` text still lists
their PCs. One call instruction calls one runtime function, so the hidden frames are a property
of the call site, the sample's leaf location: they are learnt once from a `debug=1` pull (and
named by the target's symbol endpoint) and prepended to the proto samples of every later pull.
A leaf's address is the same in both formats (the PC of the call, as `runtime.CallersFrames`
reports it).

Pure: profiles and tables in, profiles and tables out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping

import numpy as np

from mapguard.formats.pprof import Frame, IntArray, Location, Profile, SampleTable

# Call site address -> the hidden frames above it, leaf first, as (address, function name).
Prefixes = Mapping[int, tuple[tuple[int, str], ...]]


def leaf_addresses(profile: Profile) -> IntArray:
    """The address of each sample's leaf location (0 for a sample without a stack)."""
    table = profile.samples
    addresses = np.array([location.address for location in profile.locations] or [0],
                         dtype=np.int64)
    leaves = table.leaves()
    return np.where(leaves >= 0, addresses[np.maximum(leaves, 0)], 0)


def hidden_frames(text: Profile, wanted: Collection[int]) -> dict[int, tuple[int, ...]]:
    """For each wanted call site seen in a debug=1 profile, the PCs of the runtime frames before
    it (leaf first). A call site the profile does not show is absent."""
    table = text.samples
    found: dict[int, tuple[int, ...]] = {}
    for i in range(len(table)):
        stack = table.stacks[table.offsets[i]:table.offsets[i + 1]].tolist()
        for position, index in enumerate(stack):
            location = text.locations[index]
            if location.frames:
                if location.address in wanted and location.address not in found:
                    found[location.address] = tuple(
                        text.locations[bare].address for bare in stack[:position])
                break
    return found


def restore(profile: Profile, prefixes: Prefixes) -> Profile:
    """`profile` with each sample's hidden runtime frames put back before its leaf."""
    table = profile.samples
    locations = list(profile.locations)
    added: dict[int, int] = {}  # hidden frame address -> its new location index
    stacks: list[int] = []
    lengths: list[int] = []
    for i in range(len(table)):
        stack = table.stacks[table.offsets[i]:table.offsets[i + 1]].tolist()
        hidden = prefixes.get(profile.locations[stack[0]].address, ()) if stack else ()
        for address, name in hidden:
            if address not in added:
                added[address] = len(locations)
                locations.append(Location(len(locations) + 1, address, 0,
                                          (Frame(name, "", 0),)))
            stacks.append(added[address])
        stacks.extend(stack)
        lengths.append(len(hidden) + len(stack))
    offsets = np.zeros(len(table) + 1, dtype=np.int64)
    np.cumsum(np.array(lengths, dtype=np.int64), out=offsets[1:])
    samples = SampleTable(table.values, offsets, np.array(stacks, dtype=np.int64),
                          table.object_size, table.labels, table.num_labels)
    return dataclasses.replace(profile, samples=samples, locations=tuple(locations))
