"""pprof profiles: gzip or raw `profile.proto`, and the `debug=1` text heap profile.

Pure: bytes in, a `Profile` out; bad input raises `InputError` and nothing else. Samples are kept
in columns (numpy arrays) because real profiles hold millions of them: per-sample Python objects
would make parsing slower than `go tool pprof`. `Profile.sample(i)` gives one typed `Sample`.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError

from mapguard.errors import InputError
from mapguard.formats import profile_pb2

# A profile larger than this once decompressed is refused: a gzip bomb must not exhaust memory.
DEFAULT_MAX_SIZE = 1 << 30
# Go writes profiles compressed 2-4x (gzip -9 of one: about 6x); a bomb of zeros, 1000x. Past
# the floor, output over this many times the input is refused as it inflates.
MAX_EXPANSION = 32
EXPANSION_FLOOR = 64 << 20
_INFLATE_CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
HEAP_TEXT_PREFIX = b"heap profile:"

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ValueType:
    type: str
    unit: str


@dataclass(frozen=True, slots=True)
class Frame:
    """One function at one line; a location holds several when calls were inlined."""

    function: str
    file: str
    line: int
    column: int = 0
    # The line of the function's declaration (`func` keyword) in the profiled build, 0 when the
    # profile does not say (debug=1 text, Go < 1.20). What source is checked against.
    start_line: int = 0


@dataclass(frozen=True, slots=True)
class Location:
    """A program counter and its frames, innermost (leaf) first, as in `profile.proto`."""

    id: int
    address: int
    mapping_id: int
    frames: tuple[Frame, ...]


@dataclass(frozen=True, slots=True)
class Mapping:
    id: int
    start: int
    limit: int
    offset: int
    filename: str
    build_id: str


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample: location indices (into `Profile.locations`) leaf first, and its values."""

    locations: tuple[int, ...]
    values: tuple[int, ...]
    labels: tuple[tuple[str, str], ...] = ()
    num_labels: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True, eq=False)
class SampleTable:
    """All samples in columns. Sample i has values `values[i]` and the location indices
    `stacks[offsets[i]:offsets[i + 1]]` (leaf first); `object_size[i]` is its numeric `bytes`
    label (the allocation size in heap profiles) or -1."""

    values: IntArray  # shape (n, len(sample_types))
    offsets: IntArray  # shape (n + 1,)
    stacks: IntArray  # location indices, not ids
    object_size: IntArray  # shape (n,)
    # Sparse: only samples that carry labels other than `bytes`.
    labels: dict[int, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    num_labels: dict[int, tuple[tuple[str, int], ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def leaves(self) -> IntArray:
        """Leaf location index of every sample (-1 for a sample without locations)."""
        result = np.full(len(self), -1, dtype=np.int64)
        has_stack = self.offsets[1:] > self.offsets[:-1]
        result[has_stack] = self.stacks[self.offsets[:-1][has_stack]]
        return result


@dataclass(frozen=True, slots=True, eq=False)
class Profile:
    kind: str  # allocs, heap, cpu, mutex, block, contention, goroutine, threadcreate, other
    sample_types: tuple[ValueType, ...]
    default_sample_type: str | None
    period_type: ValueType | None
    period: int
    time_nanos: int
    duration_nanos: int
    comments: tuple[str, ...]
    mappings: tuple[Mapping, ...]
    locations: tuple[Location, ...]
    samples: SampleTable
    text_format: bool = False  # parsed from the debug=1 text format (locations are bare PCs)
    # Allocation stacks keep their runtime frames (a debug=1 profile symbolised against its
    # binary): map work then always shows as a map runtime frame.
    runtime_frames: bool = False

    def sample_index(self, name: str | None = None) -> int:
        """Index of the sample type `name`, or of the default one as `go tool pprof` picks it."""
        names = [t.type for t in self.sample_types]
        if name is None:
            name = self.default_sample_type or names[-1]
        if name.isdigit() and int(name) < len(names):
            return int(name)
        if name not in names:
            raise InputError("--sample-index", f"no sample type {name!r}",
                             expected=" or ".join(names))
        return names.index(name)

    def total(self, index: int) -> int:
        """Sum of absolute values of one sample type: what `go tool pprof -top` calls total."""
        return int(np.abs(self.samples.values[:, index]).sum()) if len(self.samples) else 0

    def sample(self, i: int) -> Sample:
        table = self.samples
        stack = table.stacks[table.offsets[i]:table.offsets[i + 1]]
        size = int(table.object_size[i])
        nums = table.num_labels.get(i, ())
        if size >= 0:
            nums = (("bytes", size), *nums)
        return Sample(tuple(int(x) for x in stack), tuple(int(v) for v in table.values[i]),
                      table.labels.get(i, ()), nums)

    def iter_samples(self) -> Iterator[Sample]:
        for i in range(len(self.samples)):
            yield self.sample(i)


def parse_profile(data: bytes, source: str, *, max_size: int = DEFAULT_MAX_SIZE) -> Profile:
    """Parse a profile as Go writes it: gzip'd or raw protobuf, or the debug=1 heap text."""
    if not data:
        raise InputError(source, "empty file", expected="a pprof profile")
    if data.startswith(GZIP_MAGIC):
        data = gunzip(data, source, max_size=max_size)
    elif len(data) > max_size:
        raise InputError(source, f"profile larger than the {max_size} byte cap")
    if data.lstrip().startswith(HEAP_TEXT_PREFIX):
        return parse_heap_text(data, source)
    return _parse_proto(data, source)


def gunzip(data: bytes, source: str, *, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
    """Decompress all gzip members, refusing output over `max_size` bytes, or over
    `MAX_EXPANSION` times the input once past `EXPANSION_FLOOR` (no profile compresses that
    well; a gzip bomb does). The caps are checked chunk by chunk as the data inflates, so a
    bomb is refused holding little more than the cap, never its full size."""
    limit = min(max_size, max(EXPANSION_FLOOR, MAX_EXPANSION * len(data)))
    out: list[bytes] = []
    produced = 0
    rest = data
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = rest
        while not inflater.eof:
            try:
                chunk = inflater.decompress(pending, _INFLATE_CHUNK)
            except zlib.error as exc:
                raise InputError(source, f"corrupt gzip data ({exc})") from None
            produced += len(chunk)
            if produced > limit:
                raise InputError(source, _too_big(limit, max_size))
            out.append(chunk)
            pending = inflater.unconsumed_tail
            if not chunk and not pending:
                break  # the input ended before the stream did
        if not inflater.eof:
            raise InputError(source, "truncated gzip data", where=f"offset {len(data)}")
        rest = inflater.unused_data
        if rest and not rest.startswith(GZIP_MAGIC):
            break  # trailing garbage after the last member, as gzip(1) tolerates
    return b"".join(out)


def _too_big(limit: int, max_size: int) -> str:
    if limit == max_size:
        return f"decompresses to more than the {max_size} byte cap (a gzip bomb or a " \
            "profile too large)"
    return (f"decompresses to more than {limit} bytes, over {MAX_EXPANSION} times its "
            "compressed size: a gzip bomb, not a profile")


# --- protobuf ------------------------------------------------------------------------------


def _parse_proto(data: bytes, source: str) -> Profile:
    message = profile_pb2.Profile()
    try:
        message.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise InputError(source, f"not a pprof profile ({exc})",
                         expected="gzip'd profile.proto or a debug=1 heap profile") from None
    strings = list(message.string_table)
    if not message.sample_type or not strings or strings[0] != "":
        raise InputError(source, "not a pprof profile (no sample types or string table)",
                         expected="gzip'd profile.proto or a debug=1 heap profile")

    def text(index: int, what: str) -> str:
        if not 0 <= index < len(strings):
            raise InputError(source, f"{what} refers to string {index}, past the string table "
                             f"of {len(strings)}")
        return strings[index]

    sample_types = tuple(ValueType(text(v.type, "sample type"), text(v.unit, "sample unit"))
                         for v in message.sample_type)
    functions = {f.id: (text(f.name, "function name"), text(f.filename, "function file"),
                        f.start_line) for f in message.function}
    locations: list[Location] = []
    location_index: dict[int, int] = {}
    for loc in message.location:
        frames = []
        for line in loc.line:
            if line.function_id not in functions:
                raise InputError(source, f"location {loc.id} refers to missing function "
                                 f"{line.function_id}")
            name, filename, start_line = functions[line.function_id]
            frames.append(Frame(name, filename, line.line, line.column, start_line))
        location_index[loc.id] = len(locations)
        locations.append(Location(loc.id, loc.address, loc.mapping_id, tuple(frames)))
    mappings = tuple(Mapping(m.id, m.memory_start, m.memory_limit, m.file_offset,
                             text(m.filename, "mapping file"), text(m.build_id, "build id"))
                     for m in message.mapping)
    samples = _sample_table(message, strings, location_index, len(sample_types), source)
    period_type = (ValueType(text(message.period_type.type, "period type"),
                             text(message.period_type.unit, "period unit"))
                   if message.HasField("period_type") else None)
    default = text(message.default_sample_type, "default sample type") or None
    comments = tuple(text(c, "comment") for c in message.comment)
    locations_t = tuple(locations)
    return Profile(
        kind=_kind(sample_types, default, samples, locations_t),
        sample_types=sample_types,
        default_sample_type=default,
        period_type=period_type,
        period=message.period,
        time_nanos=message.time_nanos,
        duration_nanos=message.duration_nanos,
        comments=comments,
        mappings=mappings,
        locations=locations_t,
        samples=samples,
    )


def _sample_table(message: profile_pb2.Profile, strings: list[str],
                  location_index: dict[int, int], width: int, source: str) -> SampleTable:
    n = len(message.sample)
    values: list[int] = []
    ids: list[int] = []
    lengths: list[int] = []
    sizes = [-1] * n
    labels: dict[int, tuple[tuple[str, str], ...]] = {}
    num_labels: dict[int, tuple[tuple[str, int], ...]] = {}
    bytes_key = strings.index("bytes") if "bytes" in strings else -1
    # The loop touches each sample once with as few attribute look-ups as possible: this is
    # where a 50 MB profile spends its time.
    extend_values = values.extend
    extend_ids = ids.extend
    add_length = lengths.append
    for i, sample in enumerate(message.sample):
        value = sample.value
        if len(value) != width:
            raise InputError(source, f"sample {i} has {len(value)} values for {width} sample "
                             "types")
        extend_values(value)
        stack = sample.location_id
        add_length(len(stack))
        extend_ids(stack)
        sample_labels = sample.label
        if not sample_labels:
            continue
        if len(sample_labels) == 1:  # heap profiles: the object size alone, the common case
            only = sample_labels[0]
            if only.key == bytes_key and not only.str:
                sizes[i] = only.num
                continue
        strs: list[tuple[str, str]] = []
        nums: list[tuple[str, int]] = []
        for label in sample_labels:
            if label.key == bytes_key and not label.str:
                sizes[i] = label.num
            elif not 0 <= label.key < len(strings) or not 0 <= label.str < len(strings):
                raise InputError(source, f"sample {i} has a label past the string table")
            elif label.str:
                strs.append((strings[label.key], strings[label.str]))
            else:
                nums.append((strings[label.key], label.num))
        if strs:
            labels[i] = tuple(strs)
        if nums:
            num_labels[i] = tuple(nums)
    object_size = np.array(sizes, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.array(lengths, dtype=np.int64), out=offsets[1:])
    stacks = _location_indices(np.array(ids, dtype=np.uint64), location_index, source)
    value_array = np.array(values, dtype=np.int64).reshape(n, width)
    return SampleTable(value_array, offsets, stacks, object_size, labels, num_labels)


def _location_indices(ids: npt.NDArray[np.uint64], location_index: dict[int, int],
                      source: str) -> IntArray:
    """Map location ids to indices, vectorised: Go numbers locations 1..n in order."""
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    count = len(location_index)
    keys = np.fromiter(location_index.keys(), dtype=np.uint64, count=count)
    positions_ = np.fromiter(location_index.values(), dtype=np.int64, count=count)
    if np.array_equal(keys, np.arange(1, count + 1, dtype=np.uint64)) and np.array_equal(
            positions_, np.arange(count, dtype=np.int64)):
        # Go numbers its locations 1..n in order: the index is the id - 1.
        indices = ids.astype(np.int64) - 1
        if not len(indices) or (indices.min() >= 0 and indices.max() < count):
            return indices
    known = np.array(sorted(location_index), dtype=np.uint64)
    positions = np.searchsorted(known, ids)
    positions[positions >= len(known)] = 0
    if len(known) == 0 or not np.array_equal(known[positions], ids):
        missing = ids[known[positions] != ids][0] if len(known) else ids[0]
        raise InputError(source, f"a sample refers to missing location {int(missing)}")
    order = np.array([location_index[int(k)] for k in known], dtype=np.int64)
    return order[positions]


def _kind(types: tuple[ValueType, ...], default: str | None, samples: SampleTable,
          locations: tuple[Location, ...]) -> str:
    names = [t.type for t in types]
    if names[:2] == ["alloc_objects", "alloc_space"] or "inuse_space" in names:
        return "allocs" if default == "alloc_space" else "heap"
    if names == ["samples", "cpu"]:
        return "cpu"
    if names == ["contentions", "delay"]:
        return _contention_kind(samples, locations)
    if names == ["goroutine"]:
        return "goroutine"
    if names == ["threadcreate"]:
        return "threadcreate"
    return "other"


def _contention_kind(samples: SampleTable, locations: tuple[Location, ...]) -> str:
    """Go writes mutex and block profiles with the same sample types; their leaves differ:
    a mutex profile charges the unlocker (`sync.(*Mutex).Unlock`, `runtime.unlock`)."""
    leaves = samples.leaves()
    seen: set[int] = set()
    for leaf in leaves[leaves >= 0]:
        if int(leaf) in seen:
            continue
        seen.add(int(leaf))
        frames = locations[int(leaf)].frames
        if frames and frames[0].function.endswith(("Unlock", "runtime.unlock")):
            return "mutex"
    return "block" if len(leaves) else "contention"


# --- debug=1 heap text ---------------------------------------------------------------------

_HEAP_HEADER = re.compile(
    rb"^\s*heap profile:\s*(\d+):\s*(\d+)\s*\[\s*(\d+):\s*(\d+)\s*\]\s*@\s*([a-z_]+)/?(\d*)")
_HEAP_SAMPLE = re.compile(
    rb"^\s*(\d+):\s*(\d+)\s*\[\s*(\d+):\s*(\d+)\s*\]\s*@((?:\s+0x[0-9a-fA-F]+)*)\s*$")
# "#	0x4dede7	main.f+0xa7	/src/main.go:61" (the text after the PC is Go's symbolisation).
_HEAP_FRAME = re.compile(rb"^#\s+0x([0-9a-fA-F]+)\s+(\S+?)\+0x[0-9a-fA-F]+\s+(.+):(\d+)\s*$")


def scale_heap_sample(count: int, size: int, rate: int) -> tuple[int, int]:
    """Undo heap sampling as Go and pprof do: divide by the probability 1-exp(-avg/rate)."""
    if count == 0 or size == 0:
        return 0, 0
    if rate <= 1:
        return count, size
    scale = 1 / (1 - math.exp(-(size / count) / rate))
    return int(count * scale), int(size * scale)


@dataclass(frozen=True, slots=True)
class _TextRecord:
    values: tuple[int, ...]
    object_size: int
    pcs: tuple[int, ...]
    frames: dict[int, list[Frame]]  # keyed by PC - 1, as Go prints them


def parse_heap_text(data: bytes, source: str) -> Profile:
    """The `debug=1` heap/allocs text: a header, then `inuse: bytes [allocs: bytes] @ PCs`
    records, each followed by `#` lines that symbolise its user frames (runtime frames are
    only in the PC list)."""
    lines = data.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip()), 0)
    header = _HEAP_HEADER.match(lines[start])
    if header is None:
        raise InputError(source, "malformed heap profile header", where=f"line {start + 1}",
                         expected="heap profile: N: N [N: N] @ heap/RATE")
    h_inuse = header.group(1, 2)
    h_alloc = header.group(3, 4)
    has_alloc = any(a != i and a != b"0" for a, i in zip(h_alloc, h_inuse, strict=True))
    kind_name = header.group(5).decode()
    period = int(header.group(6) or 0)
    rate, scaled = {"heap": (period // 2, True), "heap_v2": (period, True),
                    "heapz_v2": (period, True), "heapprofile": (1, False)}.get(
                        kind_name, (-1, False))
    if rate < 0:
        raise InputError(source, f"unknown heap profile type {kind_name!r}",
                         where=f"line {start + 1}", expected="heap/RATE")
    records: list[_TextRecord] = []
    current: _TextRecord | None = None
    # Callers repeat across records (and stacks across sizes): read each distinct line once.
    frame_lines: dict[bytes, tuple[int, Frame] | None] = {}
    pc_lists: dict[bytes, tuple[int, ...]] = {}
    for number, raw in enumerate(lines[start + 1:], start + 2):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(b"#"):
            if line not in frame_lines:
                frame = _HEAP_FRAME.match(line)
                frame_lines[line] = None if frame is None else (int(frame.group(1), 16), Frame(
                    frame.group(2).decode(errors="replace"),
                    frame.group(3).decode(errors="replace"), int(frame.group(4))))
            known = frame_lines[line]
            if known is not None and current is not None:
                # Inlined calls print several `#` lines with the same PC, innermost first.
                current.frames.setdefault(known[0], []).append(known[1])
            elif known is None and line.startswith(b"# runtime.MemStats"):
                break
            continue
        if b"--- Memory map:" in line or b"MAPPED_LIBRARIES:" in line:
            break
        match = _HEAP_SAMPLE.match(line)
        if match is None:
            raise InputError(source, "malformed heap profile record", where=f"line {number}",
                             expected="N: N [N: N] @ 0x... PCs")
        inuse_n, inuse_b, alloc_n, alloc_b = (int(g) for g in match.group(1, 2, 3, 4))
        values: list[int] = []
        object_size = 0
        pairs = [(alloc_n, alloc_b), (inuse_n, inuse_b)] if has_alloc else [(inuse_n, inuse_b)]
        for count, size in pairs:
            if count == 0 and size != 0:
                raise InputError(source, "count is 0 but bytes are not",
                                 where=f"line {number}")
            if count:
                object_size = size // count
                if scaled:
                    count, size = scale_heap_sample(count, size, rate)
            values += [count, size]
        pc_text = match.group(5)
        pcs = pc_lists.get(pc_text)
        if pcs is None:
            pcs = pc_lists[pc_text] = tuple(int(pc, 16) for pc in pc_text.split())
        current = _TextRecord(tuple(values), object_size, pcs, {})
        records.append(current)
    return _text_profile(records, has_alloc, period)


def _text_profile(records: list[_TextRecord], has_alloc: bool, period: int) -> Profile:
    if has_alloc:
        types = tuple(ValueType(t, u) for t, u in (
            ("alloc_objects", "count"), ("alloc_space", "bytes"),
            ("inuse_objects", "count"), ("inuse_space", "bytes")))
    else:
        types = (ValueType("objects", "count"), ValueType("space", "bytes"))
    # As pprof does: every PC but the leaf is a return address; step back into the call.
    index: dict[int, int] = {}
    locations: list[Location] = []
    stacks: list[int] = []
    lengths: list[int] = []
    for record in records:
        for position, pc in enumerate(record.pcs):
            address = pc - 1 if position else pc
            frames = tuple(record.frames.get(pc - 1, ()))
            if address not in index:
                index[address] = len(locations)
                locations.append(Location(len(locations) + 1, address, 0, frames))
            elif frames and not locations[index[address]].frames:
                old = locations[index[address]]
                locations[index[address]] = Location(old.id, old.address, 0, frames)
            stacks.append(index[address])
        lengths.append(len(record.pcs))
    n = len(records)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.array(lengths, dtype=np.int64), out=offsets[1:])
    values = np.array([r.values for r in records], dtype=np.int64).reshape(n, len(types))
    table = SampleTable(values, offsets, np.array(stacks, dtype=np.int64),
                        np.array([r.object_size for r in records], dtype=np.int64))
    return Profile(
        kind="heap", sample_types=types, default_sample_type=None,
        period_type=ValueType("space", "bytes"), period=period // 2 if period else 0,
        time_nanos=0, duration_nanos=0, comments=(), mappings=(),
        locations=tuple(locations), samples=table, text_format=True,
    )
