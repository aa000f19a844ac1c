"""The runtime frames Go hides from a heap profile, learnt per call site and put back.

`runtime/pprof` drops a heap sample's leading runtime frames (mallocgc, growToTable,
mapassign...) when it writes the proto profile, and those frames are what tells a map
allocation from another one when there is no source to read. The `debug=1` text still lists
their PCs. One call instruction calls one runtime function, so the hidden frames are a property
of the call site, the sample's leaf location: they are learnt once from a `debug=1` pull (and
named by the target's symbol endpoint) and prepended to the proto samples of every later pull.
A leaf's address is the same in both formats (the PC of the call, as `runtime.CallersFrames`
reports it).

Pure: profiles, text and tables in, profiles and tables out; a text that is no debug=1
profile raises `InputError`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping

import numpy as np

from mapguard.errors import InputError
from mapguard.formats.pprof import Frame, IntArray, Location, Profile, SampleTable

# Call site address -> the hidden frames above it, leaf first, as (address, function name).
Prefixes = Mapping[int, tuple[tuple[int, str], ...]]
# "inuse_n: inuse_b [alloc_n: alloc_b] @ 0xPC 0xPC ..." and, on the next line, the first frame
# `runtime/pprof` prints: the first one that is not the runtime's.
_RECORD = re.compile(rb"^\s*\d+: \d+ \[\s*\d+: \d+\s*\] @((?:\s+0x[0-9a-fA-F]+)*)\s*$",
                     re.MULTILINE)
_FIRST_FRAME = re.compile(rb"\r?\n#\s+0x([0-9a-fA-F]+)\s")


def leaf_addresses(profile: Profile) -> IntArray:
    """The address of each sample's leaf location (0 for a sample without a stack)."""
    table = profile.samples
    addresses = np.array([location.address for location in profile.locations] or [0],
                         dtype=np.int64)
    leaves = table.leaves()
    return np.where(leaves >= 0, addresses[np.maximum(leaves, 0)], 0)


def hidden_frames(data: bytes, wanted: Collection[int], source: str
                  ) -> dict[int, tuple[int, ...]]:
    """For each wanted call site a debug=1 allocation profile shows, the PCs of the runtime
    frames before it, leaf first, in the address convention of `parse_heap_text` (the leaf's
    own PC, then return addresses less one). Reads each record's PC list and its first frame
    line only: learning costs one scan of the text, not a parse of every frame."""
    if not data.lstrip().startswith(b"heap profile:"):
        raise InputError(source, "malformed heap profile header", where="line 1",
                         expected="heap profile: N: N [N: N] @ heap/RATE")
    found: dict[int, tuple[int, ...]] = {}
    for record in _RECORD.finditer(data):
        first = _FIRST_FRAME.match(data, record.end())
        if first is None:
            continue  # no frame of the program's own: nothing to key it by
        site = int(first.group(1), 16)
        if site not in wanted or site in found:
            continue
        pcs = [int(pc, 16) for pc in record.group(1).split()]
        # The frame lines show a return address less one; the leaf is shown as it is.
        addresses = [pc if position == 0 else pc - 1 for position, pc in enumerate(pcs)]
        if site in addresses:
            found[site] = tuple(addresses[:addresses.index(site)])
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
    return dataclasses.replace(profile, samples=samples, locations=tuple(locations),
                               runtime_frames=True)
