"""What the target binary is: its Go version and build info, its functions, its load segments.

Everything is read from the ELF file itself (pyelftools), so a production host needs no Go
toolchain for this step: the version and module list come from the `.go.buildinfo` section
(what `go version -m` prints), the functions from `.symtab`.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from mapguard.errors import InputError
from mapguard.formats.buildinfo import BuildInfo, parse_buildinfo_blob
from mapguard.goversion import GoVersion


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    address: int
    size: int


@dataclass(frozen=True, slots=True)
class Segment:
    address: int
    size: int
    offset: int  # in the file


@dataclass(frozen=True, slots=True)
class GoBinary:
    path: Path
    build: BuildInfo
    version: GoVersion
    functions: tuple[Function, ...]  # sorted by address
    segments: tuple[Segment, ...]  # executable PT_LOAD segments
    has_dwarf_lines: bool
    _starts: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _by_name: Mapping[str, Function] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_starts", tuple(f.address for f in self.functions))
        object.__setattr__(self, "_by_name", {f.name: f for f in self.functions})

    def function(self, name: str) -> Function | None:
        return self._by_name.get(name)

    def function_at(self, address: int) -> Function | None:
        index = bisect.bisect_right(self._starts, address) - 1
        if index < 0:
            return None
        candidate = self.functions[index]
        return candidate if address < candidate.address + max(candidate.size, 1) else None

    def file_offset(self, address: int) -> int:
        """Where the instruction at `address` lies in the file: uprobes are placed by offset."""
        for segment in self.segments:
            if segment.address <= address < segment.address + segment.size:
                return address - segment.address + segment.offset
        raise InputError(self.path, f"address 0x{address:x} is in no executable segment")


def read_binary(path: Path) -> GoBinary:
    """Read `path`; raise InputError (one line naming the file) for anything mapguard cannot
    probe: not an ELF file, not amd64, no Go build info, no symbol table."""
    try:
        with path.open("rb") as stream:
            return read_open_binary(stream, path)
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a binary") from None
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except PermissionError:
        raise InputError(path, "cannot be read (permission denied)") from None


def read_open_binary(stream: BinaryIO, path: Path) -> GoBinary:
    """Read the binary open as `stream` (`path` names it in messages)."""
    try:
        return _read(path, stream)
    except (ELFError, ValueError, EOFError, struct.error) as exc:
        raise InputError(path, f"not a readable ELF executable ({exc})") from None


def _read(path: Path, stream: BinaryIO) -> GoBinary:
    if stream.read(4) != b"\x7fELF":
        raise InputError(path, "not an ELF executable")
    stream.seek(0)
    elf = ELFFile(stream)
    if elf["e_machine"] != "EM_X86_64":
        raise InputError(path, f"is a {elf['e_machine']} binary; mapguard ebpf probes "
                         "linux/amd64 Go binaries")
    build = _build_info(path, elf)
    try:
        version = GoVersion.parse(build.go_version.split()[0].split("-")[0].split("X:")[0])
    except ValueError:
        raise InputError(path, f"unknown Go version {build.go_version!r}") from None
    symtab = elf.get_section_by_name(".symtab")
    if not isinstance(symtab, SymbolTableSection) or symtab.num_symbols() == 0:
        raise InputError(path, "is stripped (no symbol table): mapguard ebpf needs the "
                         "function symbols; rebuild without -ldflags=-s")
    functions = tuple(sorted(_functions(symtab), key=lambda f: f.address))
    segments = tuple(
        Segment(seg["p_vaddr"], seg["p_memsz"], seg["p_offset"])
        for seg in elf.iter_segments()
        if seg["p_type"] == "PT_LOAD" and seg["p_flags"] & 0x1)  # PF_X
    has_lines = elf.get_section_by_name(".debug_line") is not None or \
        elf.get_section_by_name(".zdebug_line") is not None
    return GoBinary(path, build, version, functions, segments, has_lines)


def _functions(symtab: SymbolTableSection) -> Iterator[Function]:
    for symbol in symtab.iter_symbols():
        if symbol["st_info"]["type"] == "STT_FUNC" and symbol["st_value"]:
            yield Function(symbol.name, symbol["st_value"], symbol["st_size"])


def _build_info(path: Path, elf: ELFFile) -> BuildInfo:
    section = elf.get_section_by_name(".go.buildinfo")
    if section is None:
        raise InputError(path, "has no Go build info (.go.buildinfo): not a Go binary, or "
                         "one built before Go 1.13")
    data = section.data()
    return parse_build_info(data, str(path))


def parse_build_info(data: bytes, source: str) -> BuildInfo:
    """The `.go.buildinfo` section's build info; Go 1.17 and older keep only pointers there."""
    info = parse_buildinfo_blob(data, source)
    if info is None:
        raise InputError(source, "was built by Go 1.17 or older; mapguard ebpf needs Go 1.18+")
    return info
