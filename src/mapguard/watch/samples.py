"""What the agent keeps of a target between two cumulative pulls, and the interval it yields.

A cumulative allocation profile only grows: each sample (a stack and an object size) counts
what it allocated since the process started. The agent keeps, per sample, a 64-bit key and the
two counts (`SampleCounts`: three arrays, about 24 bytes a sample, never the profile), and the
next pull minus them is the interval. Only the samples that grew are attributed: in a running
service most stacks allocate nothing new in 15 s (at Go's 512 KiB sampling rate a stack needs
about that much new allocation to show), so the join works on a few per cent of the profile.

For the `debug=1` text the same holds before parsing: a record whose counts did not change is
skipped without reading its frames, and the changed ones become a small profile of their own.
Pure: bytes and arrays in, arrays and profiles out; bad input raises `InputError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mapguard.errors import InputError
from mapguard.formats.pprof import IntArray, Profile, SampleTable

KeyArray = npt.NDArray[np.uint64]
BYTES, OBJECTS = "alloc_space", "alloc_objects"
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplying by it permutes 64-bit keys
_TEXT_HEADER = re.compile(rb"^\s*heap profile:.*$", re.MULTILINE)
# "inuse_n: inuse_b [alloc_n: alloc_b] @ 0xPC 0xPC ..." at the start of a line.
_TEXT_RECORD = re.compile(rb"^\s*(\d+): (\d+) \[\s*(\d+): (\d+)\s*\] @((?:\s+0x[0-9a-fA-F]+)*)"
                          rb"\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True, eq=False)
class SampleCounts:
    keys: KeyArray  # sorted, unique
    objects: IntArray
    bytes: IntArray

    @property
    def total_bytes(self) -> int:
        return int(self.bytes.sum())


def _growth(keys: KeyArray, objects: IntArray, nbytes: IntArray,
            previous: SampleCounts | None) -> tuple[SampleCounts, IntArray, IntArray, bool]:
    """Aggregate by key; (the counts to keep, growth in objects and bytes per unique key in
    key order, whether the target restarted: its total went down)."""
    unique, inverse = np.unique(keys, return_inverse=True)
    summed_objects = np.zeros(len(unique), dtype=np.int64)
    summed_bytes = np.zeros(len(unique), dtype=np.int64)
    np.add.at(summed_objects, inverse, objects)
    np.add.at(summed_bytes, inverse, nbytes)
    counts = SampleCounts(unique, summed_objects, summed_bytes)
    if previous is None or counts.total_bytes < previous.total_bytes:
        return counts, summed_objects, summed_bytes, previous is not None
    position = np.searchsorted(previous.keys, unique)
    position[position >= len(previous.keys)] = 0
    known = (len(previous.keys) > 0) & (previous.keys[position] == unique)
    old_objects = np.where(known, previous.objects[position], 0)
    old_bytes = np.where(known, previous.bytes[position], 0)
    return (counts, np.maximum(summed_objects - old_objects, 0),
            np.maximum(summed_bytes - old_bytes, 0), False)


# --- proto -------------------------------------------------------------------------------------


def _location_keys(profile: Profile) -> KeyArray:
    addresses = [location.address for location in profile.locations]
    if all(addresses) and len(set(addresses)) == len(addresses):
        return np.array(addresses, dtype=np.uint64)
    # No usable addresses (not written by Go): a location is what its frames say.
    return np.array([_digest(repr((location.address, location.frames)).encode())
                     for location in profile.locations], dtype=np.uint64)


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def sample_keys(profile: Profile) -> KeyArray:
    """A 64-bit key per sample from its stack (location addresses, in order) and its object
    size; the same sample gets the same key in every pull of the same process."""
    table = profile.samples
    n = len(table)
    lengths = np.diff(table.offsets)
    keys = np.zeros(n, dtype=np.uint64)
    if len(table.stacks):
        location_keys = _location_keys(profile)
        starts = table.offsets[:-1]
        position = np.arange(len(table.stacks), dtype=np.uint64) - np.repeat(
            starts, lengths).astype(np.uint64)
        with np.errstate(over="ignore"):
            weights = (position + np.uint64(1)) * _MIX
            mixed = location_keys[table.stacks] * weights + position
            nonempty = lengths > 0
            keys[nonempty] = np.add.reduceat(mixed, starts[nonempty])
    with np.errstate(over="ignore"):
        return (keys * _MIX) ^ table.object_size.astype(np.uint64) ^ lengths.astype(np.uint64)


def proto_growth(profile: Profile, previous: SampleCounts | None, source: str
                 ) -> tuple[Profile, SampleCounts, bool]:
    """(the samples that grew since `previous`, with only their growth; the counts to keep;
    whether the target restarted). With no `previous`, every sample is growth."""
    names = [value_type.type for value_type in profile.sample_types]
    if BYTES not in names or OBJECTS not in names:
        raise InputError(source, "not an allocation profile",
                         expected="alloc_objects and alloc_space samples")
    objects_at, bytes_at = names.index(OBJECTS), names.index(BYTES)
    keys = sample_keys(profile)
    values = profile.samples.values
    counts, grown_objects, grown_bytes, restarted = _growth(
        keys, values[:, objects_at], values[:, bytes_at], previous)
    # One sample stands for each key (duplicates share stack and size).
    order = np.argsort(keys, kind="stable")
    first = order[np.searchsorted(keys[order], counts.keys)]
    changed = (grown_objects > 0) | (grown_bytes > 0)
    grown = np.zeros((int(changed.sum()), len(names)), dtype=np.int64)
    grown[:, objects_at] = grown_objects[changed]
    grown[:, bytes_at] = grown_bytes[changed]
    return subprofile(profile, first[changed], grown), counts, restarted


def subprofile(profile: Profile, indices: IntArray, values: IntArray) -> Profile:
    """The samples at `indices` with `values`, and only the locations they use."""
    table = profile.samples
    starts = table.offsets[indices]
    lengths = table.offsets[indices + 1] - starts
    offsets = np.zeros(len(indices) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    positions = np.arange(int(offsets[-1]), dtype=np.int64) - np.repeat(
        offsets[:-1] - starts, lengths)
    stacks = table.stacks[positions]
    used = np.unique(stacks)
    remap = np.full(len(profile.locations), -1, dtype=np.int64)
    remap[used] = np.arange(len(used), dtype=np.int64)
    samples = SampleTable(values, offsets, remap[stacks], table.object_size[indices])
    locations = tuple(profile.locations[int(i)] for i in used)
    return dataclasses.replace(profile, samples=samples, locations=locations)


# --- debug=1 text ------------------------------------------------------------------------------


def text_growth(data: bytes, previous: SampleCounts | None, source: str
                ) -> tuple[bytes, SampleCounts, bool]:
    """(a debug=1 text of the records that grew, with only their growth; the counts to keep;
    whether the target restarted). Unchanged records are never parsed beyond their counts."""
    header = _TEXT_HEADER.search(data, 0, 4096)
    if header is None or data[:header.start()].strip():
        raise InputError(source, "malformed heap profile header", where="line 1",
                         expected="heap profile: N: N [N: N] @ heap/RATE")
    records = list(_TEXT_RECORD.finditer(data, header.end()))
    objects = np.fromiter((int(m.group(3)) for m in records), dtype=np.int64,
                          count=len(records))
    nbytes = np.fromiter((int(m.group(4)) for m in records), dtype=np.int64, count=len(records))
    sizes = np.where(objects > 0, nbytes // np.maximum(objects, 1), 0)
    keys = np.fromiter((_digest(m.group(5) + b"/%d" % size)
                        for m, size in zip(records, sizes.tolist(), strict=True)),
                       dtype=np.uint64, count=len(records))
    counts, grown_objects, grown_bytes, restarted = _growth(keys, objects, nbytes, previous)
    position = np.searchsorted(counts.keys, keys)
    grew = (grown_objects > 0) | (grown_bytes > 0)
    # Duplicates (same stack and size) are summed in the counts: write each key once.
    _, first = np.unique(position, return_index=True)
    chosen = np.zeros(len(records), dtype=bool)
    chosen[first] = True
    chosen &= grew[position]
    out = [b""]
    for index in np.flatnonzero(chosen).tolist():
        record, at = records[index], int(position[index])
        end = records[index + 1].start() if index + 1 < len(records) else len(data)
        out.append(b"0: 0 [%d: %d] @%s%s" % (grown_objects[at], grown_bytes[at],
                                              record.group(5), data[record.end():end]))
    head = header.group(0).split(b"@", 1)
    out[0] = b"heap profile: 0: 0 [%d: %d] @%s\n" % (
        int(grown_objects.sum()), int(grown_bytes.sum()), head[1] if len(head) > 1 else b"")
    return b"".join(out), counts, restarted
