"""From a sampled call chain to the `Site` the user owns: the first user frame above the runtime.

PCs are resolved against the binary itself: the function from `.symtab`, the file:line from
the DWARF line table, and inlined calls from DWARF's inlined-subroutine entries, so a map
insert inlined into its caller (or `maps.Copy` inlined into user code) still names the user's
own line. Only the compilation units that hold user frames are decoded, each once; runtime
frames are recognised by their names alone.

A frame is *user* code as `mapguard profile` decides it (goframes.frame_kind), with one
refinement the binary allows: a package whose import path has no dot is the user's when it
lies in a module the binary's build info lists, not in the standard library.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from elftools.dwarf.compileunit import CompileUnit
from elftools.dwarf.die import DIE
from elftools.dwarf.dwarfinfo import DWARFInfo
from elftools.dwarf.ranges import BaseAddressEntry, RangeEntry
from elftools.elf.elffile import ELFFile

from mapguard.ebpf.binary import GoBinary
from mapguard.evidence.goframes import FrameKind, frame_kind, package_of
from mapguard.evidence.site import Site


@dataclass(frozen=True, slots=True)
class Frame:
    function: str
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class _Inline:
    ranges: tuple[tuple[int, int], ...]
    function: str  # the inlined callee
    call_file: str
    call_line: int
    children: tuple[_Inline, ...]


@dataclass(frozen=True, slots=True)
class _Unit:
    rows: tuple[int, ...]  # line-table addresses, sorted
    positions: tuple[tuple[str, int], ...]  # (file, line) for each row; ("", 0) ends a sequence
    inlines: dict[int, tuple[_Inline, ...]]  # subprogram low_pc -> its inlined calls


class Symbolizer:
    """Resolves PCs of one binary. `stream` is the open binary, kept open while this lives."""

    def __init__(self, binary: GoBinary, stream: BinaryIO) -> None:
        self.binary = binary
        self.modules = tuple(m for m in binary.build.modules if m)
        elf = ELFFile(stream)
        self.dwarf: DWARFInfo | None = elf.get_dwarf_info() if elf.has_dwarf_info() else None
        self._index: list[tuple[int, int, int]] | None = None  # (low, high, cu offset)
        self._units: dict[int, _Unit | None] = {}
        self._sites: dict[tuple[int, ...], Site | None] = {}

    def site(self, stack: tuple[int, ...]) -> Site | None:
        """The first user frame of an innermost-first call chain, reached from the probed map
        function through map code and the standard library only. None when there is none, or
        when other runtime code comes first: then the map is the runtime's own (the GC's
        sweeper grows one in Go 1.19), not one the user's code was inserting into."""
        cached = self._sites.get(stack, self)
        if cached is not self:
            return cached  # type: ignore[return-value]
        found = self._first_user(stack)
        self._sites[stack] = found
        return found

    def _first_user(self, stack: tuple[int, ...]) -> Site | None:
        for index, pc in enumerate(stack):
            # Every PC but the first is a return address: the call is the byte before it.
            lookup = pc if index == 0 else pc - 1
            function = self.binary.function_at(lookup)
            if function is None:
                return None
            kind = _runtime_kind(function.name)
            if kind == "map":
                continue
            if kind == "runtime":
                return None
            for frame in self.frames(lookup):
                if self._is_user(frame):
                    return Site(frame.file, frame.line, 0, frame.function)
        return None

    def _is_user(self, frame: Frame) -> bool:
        package = package_of(frame.function)
        if any(package == m or package.startswith(m + "/") for m in self.modules):
            return True
        return frame_kind(frame.function, frame.file) is FrameKind.USER

    def frames(self, pc: int) -> list[Frame]:
        """The logical frames at `pc`, innermost first (inlined calls expanded)."""
        function = self.binary.function_at(pc)
        name = function.name if function else "?"
        unit = self._unit_at(pc)
        if unit is None:
            return [Frame(name, "", 0)]
        index = bisect.bisect_right(unit.rows, pc) - 1
        file, line = unit.positions[index] if index >= 0 else ("", 0)
        chain = list(_inline_chain(unit.inlines.get(function.address if function else -1, ()),
                                   pc))
        frames = []
        for inline in reversed(chain):
            frames.append(Frame(inline.function, file, line))
            file, line = inline.call_file, inline.call_line
        frames.append(Frame(name, file, line))
        return frames

    def _unit_at(self, pc: int) -> _Unit | None:
        if self.dwarf is None:
            return None
        if self._index is None:
            self._index = sorted(self._cu_ranges(self.dwarf))
        for low, high, offset in self._index:
            if low <= pc < high:
                if offset not in self._units:
                    self._units[offset] = self._decode(self.dwarf, offset)
                return self._units[offset]
        return None

    def _cu_ranges(self, dwarf: DWARFInfo) -> Iterator[tuple[int, int, int]]:
        for cu in dwarf.iter_CUs():
            top = cu.get_top_DIE()
            for low, high in _die_ranges(dwarf, cu, top):
                yield low, high, cu.cu_offset

    def _decode(self, dwarf: DWARFInfo, offset: int) -> _Unit | None:
        cu = dwarf.get_CU_at(offset)
        program = dwarf.line_program_for_CU(cu)
        if program is None:
            return None
        files = _file_names(program, cu["version"] >= 5 or program.header.version >= 5)
        rows: list[tuple[int, str, int]] = []
        for entry in program.get_entries():
            state = entry.state
            if state is None:
                continue
            position = ("", 0) if state.end_sequence else (files.get(state.file, ""), state.line)
            rows.append((state.address, *position))
        rows.sort(key=lambda row: row[0])
        inlines = {}
        for die in cu.get_top_DIE().iter_children():
            if die.tag == "DW_TAG_subprogram" and "DW_AT_low_pc" in die.attributes:
                calls = tuple(_inlines(dwarf, cu, die, files))
                if calls:
                    inlines[die.attributes["DW_AT_low_pc"].value] = calls
        return _Unit(tuple(r[0] for r in rows), tuple((r[1], r[2]) for r in rows), inlines)


def _runtime_kind(function: str) -> str | None:
    """"map" for the map implementation's own frames, "runtime" for the rest of the runtime,
    None for code outside it."""
    kind = frame_kind(function, "")
    if kind in (FrameKind.MAP, FrameKind.SYNCMAP) or function.startswith(_MAP_PACKAGES):
        return "map"
    return "runtime" if kind is FrameKind.RUNTIME else None


_MAP_PACKAGES = ("internal/runtime/maps.", "runtime.map", "runtime.(*hmap).", "runtime.bucket",
                 "runtime.evacuate", "runtime.growWork", "runtime.hashGrow")


def _inline_chain(calls: tuple[_Inline, ...], pc: int) -> Iterator[_Inline]:
    """Outermost first: the inlined calls whose code covers `pc`."""
    level = calls
    while True:
        inner = next((c for c in level if any(lo <= pc < hi for lo, hi in c.ranges)), None)
        if inner is None:
            return
        yield inner
        level = inner.children


def _inlines(dwarf: DWARFInfo, cu: CompileUnit, parent: DIE, files: dict[int, str]
             ) -> Iterator[_Inline]:
    for die in parent.iter_children():
        if die.tag != "DW_TAG_inlined_subroutine":
            if die.tag == "DW_TAG_lexical_block":
                yield from _inlines(dwarf, cu, die, files)
            continue
        origin = die.get_DIE_from_attribute("DW_AT_abstract_origin") \
            if "DW_AT_abstract_origin" in die.attributes else die
        name_attr = origin.attributes.get("DW_AT_name")
        name = name_attr.value.decode("utf-8", "replace") if name_attr else "?"
        call_file = die.attributes.get("DW_AT_call_file")
        call_line = die.attributes.get("DW_AT_call_line")
        yield _Inline(tuple(_die_ranges(dwarf, cu, die)), name,
                      files.get(call_file.value, "") if call_file else "",
                      call_line.value if call_line else 0,
                      tuple(_inlines(dwarf, cu, die, files)))


def _die_ranges(dwarf: DWARFInfo, cu: CompileUnit, die: DIE) -> Iterator[tuple[int, int]]:
    attributes = die.attributes
    if "DW_AT_ranges" in attributes:
        base = cu.get_top_DIE().attributes.get("DW_AT_low_pc")
        base_address = base.value if base else 0
        ranges = dwarf.range_lists()
        if ranges is None:
            return
        for entry in ranges.get_range_list_at_offset(attributes["DW_AT_ranges"].value, cu=cu):
            if isinstance(entry, BaseAddressEntry):
                base_address = entry.base_address
            elif isinstance(entry, RangeEntry):
                offset = 0 if entry.is_absolute else base_address
                yield entry.begin_offset + offset, entry.end_offset + offset
    elif "DW_AT_low_pc" in attributes and "DW_AT_high_pc" in attributes:
        low = attributes["DW_AT_low_pc"].value
        high = attributes["DW_AT_high_pc"]
        # DWARF 4+: a high_pc of a constant form is the length.
        end = high.value if high.form == "DW_FORM_addr" else low + high.value
        yield low, end


def _file_names(program: object, zero_based: bool) -> dict[int, str]:
    header = program.header  # type: ignore[attr-defined]
    directories = [d.decode("utf-8", "replace") for d in header["include_directory"]]
    names = {}
    for index, entry in enumerate(header["file_entry"]):
        name = entry.name.decode("utf-8", "replace")
        directory = entry.dir_index if zero_based else entry.dir_index - 1
        if not name.startswith("/") and 0 <= directory < len(directories):
            name = str(PurePosixPath(directories[directory], name))
        names[index if zero_based else index + 1] = name
    return names
