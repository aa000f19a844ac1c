"""What the agent keeps of a target between two cumulative pulls, and the interval it yields.

A cumulative allocation profile only grows: each sample (a stack and an object size) counts
what it allocated since the process started. The agent keeps, per sample, a 64-bit key and the
two counts (`SampleCounts`: three arrays, about 24 bytes a sample, never the profile), and the
next pull minus them is the interval. Only the samples that grew are attributed: in a running
service most stacks allocate nothing new in 15 s (at Go's 512 KiB sampling rate a stack needs
about that much new allocation to show), so the join works on a few per cent of the profile.

Pure: profiles and arrays in, arrays and profiles out; bad input raises `InputError`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mapguard.errors import InputError
from mapguard.formats.pprof import IntArray, Profile, SampleTable

KeyArray = npt.NDArray[np.uint64]
BYTES, OBJECTS = "alloc_space", "alloc_objects"
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplying by it permutes 64-bit keys


@dataclass(frozen=True, slots=True, eq=False)
class SampleCounts:
    keys: KeyArray  # sorted, unique
    objects: IntArray
    bytes: IntArray

    @property
    def total_bytes(self) -> int:
        return int(self.bytes.sum())

    def holding(self, keys: KeyArray, previous: SampleCounts | None) -> SampleCounts:
        """These counts with `keys` put back as `previous` had them (or left out): their
        growth stays pending and comes again with the next pull."""
        held = np.isin(self.keys, keys)
        objects, nbytes = self.objects.copy(), self.bytes.copy()
        keep = ~held
        if previous is not None and len(previous.keys):
            position = np.minimum(np.searchsorted(previous.keys, self.keys),
                                  len(previous.keys) - 1)
            known = held & (previous.keys[position] == self.keys)
            objects[known] = previous.objects[position[known]]
            nbytes[known] = previous.bytes[position[known]]
            keep |= known
        return SampleCounts(self.keys[keep], objects[keep], nbytes[keep])


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


@dataclass(frozen=True, slots=True, eq=False)
class Growth:
    profile: Profile  # the samples that grew, with only their growth
    keys: KeyArray  # of those samples, in order
    counts: SampleCounts  # to keep for the next pull
    restarted: bool  # the totals went down: a new process, and all of it is growth


def proto_growth(profile: Profile, previous: SampleCounts | None, source: str) -> Growth:
    """What grew since `previous`; with no `previous`, every sample is growth."""
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
    return Growth(subprofile(profile, first[changed], grown), counts.keys[changed], counts,
                  restarted)


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
