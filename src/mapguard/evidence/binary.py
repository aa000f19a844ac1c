"""What a Go binary says about its build: build IDs and the build information (module, Go
version, VCS revision), read with pyelftools; `go version -m` for what ELF reading cannot do
(other object formats, the pre-Go 1.18 build-info layout).

A profile names the binary it was taken from by the build ID of its mapping (the GNU build ID
on Linux): `matches_profile` tells whether a binary is the one that was profiled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from mapguard.errors import InputError, ToolError
from mapguard.formats.buildinfo import BuildInfo, parse_buildinfo_blob, parse_go_version_m
from mapguard.formats.pprof import Profile
from mapguard.gotool import run_go

_NOTE_HEADER = 12


@dataclass(frozen=True, slots=True)
class BinaryInfo:
    path: Path
    gnu_build_id: str | None  # hex, as pprof mappings carry it
    go_build_id: str | None
    build: BuildInfo | None  # None: no build information (not built by the go command)


def read_binary(path: Path) -> BinaryInfo:
    """Build IDs and build information of a Go binary. Raises `InputError` for a file that
    cannot be read or is not an executable Go knows."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
            if magic == b"\x7fELF":
                return _read_elf(path, ELFFile(handle))
    except ELFError as exc:
        raise InputError(path, f"corrupt ELF file ({exc})") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a binary") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    build = _go_version_m(path)
    if build is None:
        raise InputError(path, "not an executable the Go toolchain can read",
                         expected="the profiled program's binary")
    return BinaryInfo(path, None, None, build)


def _read_elf(path: Path, elf: ELFFile) -> BinaryInfo:
    gnu: str | None = None
    go: str | None = None
    build: BuildInfo | None = None
    for section in elf.iter_sections():
        if section.name == ".note.gnu.build-id":
            gnu = next((str(note["n_desc"]) for note in section.iter_notes()  # type: ignore[attr-defined]
                        if note["n_type"] == "NT_GNU_BUILD_ID"), None)
        elif section.name == ".note.go.buildid":
            go = _go_note(section.data())
        elif section.name == ".go.buildinfo":
            build = parse_buildinfo_blob(section.data(), str(path))
            if build is None:  # the pre-1.18 layout: pointers the go command resolves
                build = _go_version_m(path)
    return BinaryInfo(path, gnu, go, build)


def _go_note(data: bytes) -> str | None:
    """The Go build ID note: name "Go", type 4, the ID as text."""
    if len(data) < _NOTE_HEADER:
        return None
    name_size = int.from_bytes(data[0:4], "little")
    desc_size = int.from_bytes(data[4:8], "little")
    start = _NOTE_HEADER + (name_size + 3) // 4 * 4
    return data[start : start + desc_size].decode("ascii", "replace") or None


def _go_version_m(path: Path) -> BuildInfo | None:
    try:
        proc = run_go(["version", "-m", str(path)], timeout=60)
    except ToolError:
        return None
    if proc.returncode != 0:
        return None  # "not a Go executable" and the like: nothing to say about its build
    return parse_go_version_m(proc.stdout, str(path))


def profile_build_ids(profile: Profile) -> tuple[str, ...]:
    """The build IDs of the profile's main mapping(s): the program's own executable first."""
    return tuple(dict.fromkeys(m.build_id for m in profile.mappings if m.build_id))


def matches_profile(binary: BinaryInfo, profile: Profile) -> bool | None:
    """True when the profile's main mapping has the binary's build ID, False when it names
    another one (or the binary has none), None when the profile says nothing (text profiles
    carry no mappings)."""
    ids = profile_build_ids(profile)
    if not ids:
        return None
    return ids[0] == binary.gnu_build_id
