"""Go build information from a binary's `.go.buildinfo` blob and from `go version -m`; and how
profile frames are matched with a source's declarations. (Real binaries:
tests/evidence/test_revision_attribution.py.)"""

from __future__ import annotations

import pytest

from mapguard.errors import InputError
from mapguard.evidence.sourcematch import SourceMatch, check_frame, declaration_key, declarations
from mapguard.formats.buildinfo import (
    BUILDINFO_MAGIC,
    parse_buildinfo_blob,
    parse_go_version_m,
    parse_modinfo,
)
from mapguard.formats.pprof import Frame
from mapguard.source.parser import parse_go

MODINFO = (
    "path\texample.com/svc/cmd/server\n"
    "mod\texample.com/svc\t(devel)\t\n"
    "dep\tgolang.org/x/sync\tv0.7.0\th1:abc=\n"
    "build\t-buildmode=exe\n"
    'build\t-ldflags="-s -w"\n'
    "build\tvcs=git\n"
    "build\tvcs.revision=0123456789abcdef0123456789abcdef01234567\n"
    "build\tvcs.modified=true\n"
)


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


def _blob(modinfo: str, flags: int = 2) -> bytes:
    framed = ("x" * 16 + modinfo + "y" * 16).encode()
    header = BUILDINFO_MAGIC + bytes([8, flags]) + bytes(32 - len(BUILDINFO_MAGIC) - 2)
    return header + _uvarint(8) + b"go1.27.3" + _uvarint(len(framed)) + framed


def test_blob_and_text_agree() -> None:
    from_blob = parse_buildinfo_blob(_blob(MODINFO), "bin")
    assert from_blob is not None
    from_text = parse_go_version_m("server: go1.27.3\n" + "".join(
        f"\t{line}\n" for line in MODINFO.splitlines()), "bin")
    assert from_blob == from_text
    assert from_blob.go_version == "go1.27.3" and from_blob.main_module == "example.com/svc"
    assert from_blob.vcs_revision == "0123456789abcdef0123456789abcdef01234567"
    assert from_blob.vcs_modified
    assert from_blob.setting("-ldflags") == "-s -w"  # quoted as Go quotes it


def test_old_layout_and_bad_blobs() -> None:
    assert parse_buildinfo_blob(_blob(MODINFO, flags=0), "bin") is None  # pointers: ask go
    with pytest.raises(InputError, match="not a Go binary"):
        parse_buildinfo_blob(b"\x7fELF" + bytes(60), "bin")
    with pytest.raises(InputError, match="truncated"):
        parse_buildinfo_blob(_blob(MODINFO)[:60], "bin")
    with pytest.raises(InputError, match="unknown build information line"):
        parse_modinfo("something\tstrange\n", "go1.22", "bin")
    with pytest.raises(InputError, match="go version -m"):
        parse_go_version_m("not the output\n", "bin")
    unmodified = parse_modinfo("mod\texample.com/a\t(devel)\t\n", "go1.22", "bin")
    assert unmodified.vcs_revision is None and not unmodified.vcs_modified


@pytest.mark.parametrize(("function", "key"), [
    ("main.main", ("main", ())),
    ("example.com/svc/api.(*Server).handle", ("(*Server).handle", ())),
    ("example.com/svc/api.(*Server).handle.func1.2", ("(*Server).handle", ("func1", "2"))),
    ("example.com/svc/api.Set[go.shape.int].Add", ("Set.Add", ())),
    ("example.com/svc/api.(*Set[...]).Add-fm", ("(*Set).Add", ())),
    ("example.com/svc/api.worker.gowrap1", ("worker", ("gowrap1",))),
    ("io.init.func1", ("init", ("func1",))),
])
def test_declaration_keys(function: str, key: tuple[str, tuple[str, ...]]) -> None:
    assert declaration_key(function) == key


SOURCE = b"""package api

//go:linkname fastHash example.com/svc/hash.Sum
func fastHash(b []byte) uint64 { return 0 }

var pool = sync.Pool{New: func() any {
	return new(int)
}}

func (s *Server) handle(w int) {
	go worker(w)
	f := func() {
		_ = w
	}
	f()
}

func worker(w int) {}
"""


@pytest.mark.parametrize(("frame", "match"), [
    (Frame("example.com/svc/api.(*Server).handle", "a.go", 15, 0, 10), SourceMatch.EXACT),
    (Frame("example.com/svc/api.(*Server).handle", "a.go", 15, 0, 9), SourceMatch.MOVED),
    (Frame("example.com/svc/api.(*Server).handle", "a.go", 15), SourceMatch.ENCLOSED),
    (Frame("example.com/svc/api.(*Server).handle", "a.go", 19), SourceMatch.MOVED),
    (Frame("example.com/svc/api.(*Server).handle.func1", "a.go", 13, 0, 12), SourceMatch.EXACT),
    (Frame("example.com/svc/api.(*Server).handle.func1", "a.go", 13, 0, 11), SourceMatch.MOVED),
    (Frame("example.com/svc/api.(*Server).handle.gowrap1", "a.go", 11, 0, 11),
     SourceMatch.EXACT),
    (Frame("example.com/svc/api.init.func1", "a.go", 7, 0, 6), SourceMatch.EXACT),
    (Frame("example.com/svc/hash.Sum", "a.go", 4, 0, 4), SourceMatch.EXACT),
    (Frame("example.com/svc/api.(*Server).serve", "a.go", 15, 0, 10), SourceMatch.MISSING),
])
def test_frames_against_declarations(frame: Frame, match: SourceMatch) -> None:
    assert check_frame(frame, declarations(parse_go(SOURCE), SOURCE)) is match


def test_a_missing_file_matches_nothing() -> None:
    assert check_frame(Frame("main.main", "m.go", 3, 0, 1), None) is SourceMatch.MISSING
    assert not SourceMatch.MOVED.trusted and SourceMatch.ENCLOSED.trusted
