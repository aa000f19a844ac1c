"""Frame names, Go line classification, line splitting, and attribution on built profiles."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.pprof_samples import HEAP_TYPES, Stack, build

from mapguard.cli import main
from mapguard.evidence.attribution import attribute_profile, classify_call_sites
from mapguard.evidence.goframes import FrameKind, frame_kind, is_stdlib, map_op
from mapguard.evidence.mapsyntax import (
    UNKNOWN_INSERT,
    GoSource,
    LineAllocation,
    LineFacts,
    size_class,
)
from mapguard.formats.pprof import parse_profile


@pytest.mark.parametrize(("name", "op"), [
    # Go >= 1.24 (Swiss tables)
    ("internal/runtime/maps.(*Map).growToTable", "grow"),
    ("internal/runtime/maps.(*table).rehash", "grow"),
    ("internal/runtime/maps.memHashAES", "hash"),
    ("internal/runtime/maps.(*Map).Clear", "clear"),
    ("runtime.mapIterNext", "iterate"),
    # Go <= 1.23 (hmap)
    ("runtime.hashGrow", "grow"),
    ("runtime.growWork_faststr", "grow"),
    ("runtime.evacuate_fast64", "grow"),
    ("runtime.(*hmap).newoverflow", "grow"),
    ("runtime.aeshashbody", "hash"),
    ("runtime.mapiternext", "iterate"),
    # both
    ("runtime.mapassign_faststr", "insert"),
    ("runtime.mapaccess2_fast64", "access"),
    ("runtime.mapaccess1_fat", "access"),
    ("runtime.mapdelete_fast32", "delete"),
    ("runtime.makemap_small", "create"),
    ("runtime.mapclear", "clear"),
    ("runtime.memhash64", "hash"),
    ("reflect.mapassign_faststr0", "insert"),
    ("maps.Clone[go.shape.map[string]int,go.shape.string,go.shape.int]", "create"),
    ("runtime.mallocgc", None),
    ("main.main", None),
])
def test_map_op_names(name: str, op: str | None) -> None:
    assert map_op(name) == op


def test_frame_kinds() -> None:
    assert frame_kind("runtime.mapassign", "") is FrameKind.MAP
    # Helpers shared by creation and growth defer to their caller.
    assert frame_kind("internal/runtime/maps.newarray", "") is FrameKind.RUNTIME
    assert frame_kind("runtime.makeBucketArray", "") is FrameKind.RUNTIME
    assert frame_kind("sync.(*Map).Store", "/go/src/sync/map.go") is FrameKind.SYNCMAP
    assert frame_kind("internal/sync.(*HashTrieMap[go.shape.interface {},go.shape.int]).Swap",
                      "") is FrameKind.SYNCMAP
    assert frame_kind("strconv.Itoa", "/go/src/strconv/itoa.go") is FrameKind.STDLIB
    assert frame_kind("example.com/app/db.(*T).Put", "/app/db/t.go") is FrameKind.USER
    assert frame_kind("main.handler", "/app/main.go") is FrameKind.USER
    # A dot-less module path is the user's own when its files are not in a GOROOT.
    assert not is_stdlib("mytool/internal/x.F", "/home/me/mytool/internal/x/f.go")
    assert is_stdlib("encoding/json.Unmarshal", "/usr/lib/go/src/encoding/json/decode.go")


GO = b"""package p

import "sync"

type Index map[string][]int
type holder struct{ byID map[int]string }

func f(h *holder, p *map[int]int, sm *sync.Map, keys []string) {
	m := make(map[int]int, 10)
	var ix Index
	seen := map[string]bool{}
	m[1]++
	m[2] += 3
	ix["a"] = append(ix["a"], 1)
	h.byID[3] = "x"
	(*p)[1] = 2
	seen["k"] = true
	keys[0] = "not a map"
	m[4] = len(make([]byte, 100))
	sm.Store("k", 1)
	nested := map[string]map[string]int{}
	nested["a"]["b"] = 1
	x := &holder{}
	_ = x
	h.declaredElsewhere[5] = "y"
	cloned := maps.Clone(m)
	cloned[1] = 2
}
"""


@pytest.mark.parametrize(("line", "expected"), [
    (9, [("create", "make(map)")]),
    (11, [("create", "map literal")]),
    (12, [("grow", "insert")]),
    (13, [("grow", "insert")]),
    (14, [("other", "append"), ("grow", "insert")]),
    (15, [("grow", "insert")]),
    (16, [("grow", "insert")]),
    (17, [("grow", "insert")]),
    (18, []),
    (19, [("other", "make"), ("grow", "insert")]),
    (20, [("syncmap", "sync.Map.Store")]),
    (22, [("grow", "insert")]),
    (23, [("other", "composite literal")]),
    # Whether these are maps is not in this file: neither growth nor "not a map".
    (25, [(UNKNOWN_INSERT, "index assignment")]),
    (27, [(UNKNOWN_INSERT, "index assignment")]),
])
def test_line_facts(line: int, expected: list[tuple[str, str]]) -> None:
    facts = GoSource(GO).facts(line)
    assert [(a.op, a.what) for a in facts.allocations] == expected


def test_make_size_is_predicted() -> None:
    (make,) = GoSource(GO).facts(19).others
    assert make.size == 100 and size_class(100) == 112


MIXED = LineFacts((LineAllocation("other", "make", 10, 100), LineAllocation("grow", "insert", 2)))


def test_split_mixed_line_by_object_size() -> None:
    # One PC allocates 112-byte slices, the other the doubling group arrays of the map.
    calls = [(0x10, {112: 112_000}), (0x20, {144: 144, 1152: 1152, 2304: 4608, 18432: 36864})]
    assert classify_call_sites(MIXED, calls) == ["other", "grow"]


def test_split_tolerates_runtime_noise_on_a_pc() -> None:
    # A GC started inside mallocgc charged a 256-byte runtime object to the make's PC.
    calls = [(0x10, {112: 112_000, 256: 256}), (0x20, {144: 144, 1152: 1152, 2304: 4608})]
    assert classify_call_sites(MIXED, calls) == ["other", "grow"]


def test_split_leaves_the_undecidable_ambiguous() -> None:
    facts = LineFacts((LineAllocation("other", "append", 10), LineAllocation("grow", "insert", 2)))
    calls = [(0x10, {64: 640}), (0x20, {48: 480})]
    assert classify_call_sites(facts, calls) == [None, None]


def test_an_index_assignment_of_unknown_type_stays_ambiguous() -> None:
    # `s.field[k] = v` with the field declared in another file: a map's growth or a boxed
    # value stored in a slice. Never guessed either way.
    alone = LineFacts((LineAllocation(UNKNOWN_INSERT, "index assignment", 2),))
    assert classify_call_sites(alone, [(1, {288: 288})]) == [None]
    beside = LineFacts((LineAllocation("other", "make", 10, 100),
                        LineAllocation(UNKNOWN_INSERT, "index assignment", 2)))
    assert classify_call_sites(beside, [(1, {112: 1120}), (2, {288: 288})]) == ["other", None]


def test_split_single_kind_line_takes_everything() -> None:
    facts = LineFacts((LineAllocation("grow", "insert", 2),))
    assert classify_call_sites(facts, [(1, {144: 10}), (2, {48: 5})]) == ["grow", "grow"]
    assert classify_call_sites(LineFacts(()), [(1, {8: 3})]) == ["other"]


def _profile(tmp_path: Path) -> tuple[bytes, Path]:
    source = tmp_path / "main.go"
    source.write_bytes(GO)
    file = "/build/machine/app/main.go"  # not this machine's path: found by suffix
    data = build(HEAP_TYPES, [
        Stack([("p.f", file, 12, 0x100), ("main.main", file, 30, 0x900)], [2, 2304, 0, 0], 1152),
        Stack([("p.f", file, 9, 0x200)], [1, 48, 1, 48], 48),
        Stack([("sync.(*Map).Store", "/go/src/sync/map.go", 150, 0x300),
               ("p.f", file, 20, 0x310)], [1, 64, 1, 64], 64),
        Stack([("strconv.Itoa", "/go/src/strconv/itoa.go", 40, 0x400),
               ("p.f", file, 18, 0x410)], [1, 16, 0, 0], 16),
        Stack([("p.f", file, 19, 0x500)], [1000, 112_000, 0, 0], 112),
        Stack([("p.f", file, 19, 0x510)], [3, 3456, 0, 0], 1152),
        Stack([("p.f", file, 19, 0x510)], [1, 2304, 0, 0], 2304),
    ], default="alloc_space")
    return data, tmp_path


def test_attribution_on_a_built_profile(tmp_path: Path) -> None:
    data, root = _profile(tmp_path)
    result = attribute_profile(parse_profile(data, "p"), root)
    assert result.total == 2304 + 48 + 64 + 16 + 112_000 + 3456 + 2304
    assert dict(result.by_op) == {"create": 48, "grow": 2304 + 3456 + 2304, "syncmap": 64}
    assert result.map_total == sum(result.by_op.values())
    assert [(c.site.line, c.op) for c in result.sites] == [(19, "grow"), (12, "grow"),
                                                          (20, "syncmap"), (9, "create")]
    assert result.sites[0].site.file == "/build/machine/app/main.go"
    # Without the source, user lines are reported as not classified, never guessed.
    (tmp_path / "elsewhere").mkdir()
    blind = attribute_profile(parse_profile(data, "p"), tmp_path / "elsewhere")
    assert dict(blind.by_op) == {"create": 0, "grow": 0, "syncmap": 64}
    assert any("not found" in note for note in blind.notes)


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        if self.path.startswith("/debug/pprof/allocs"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.body)))
            self.end_headers()
            self.wfile.write(self.body)
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    data, _ = _profile(tmp_path)
    _Handler.body = data
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_cli_fetches_a_url(server: str, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", f"{server}/debug/pprof/allocs", "--source", str(tmp_path),
                 "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["total"] == 120192 and document["map"]["by_op"]["syncmap"] == 64
    assert main(["profile", f"{server}/debug/pprof/nothing"]) == 2
    assert "HTTP 404" in capsys.readouterr().err


def test_cli_unreachable_and_bad_files(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", f"http://127.0.0.1:{closed_port()}/debug/pprof/allocs"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mapguard: error: http://127.0.0.1:") and "\n" not in err
    bad = tmp_path / "bad.pb.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00broken")
    assert main(["profile", str(bad)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def closed_port() -> int:
    """A loopback port that nothing listens on (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


LONG_FUNCTION = ("example.com/an/unusually/long/module/path/internal/handlers."
                 "(*RequestDecisionEngineWithManyWords).EvaluateEveryRuleForTheIncomingRequest")


def test_text_into_a_pipe_is_never_cut(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    source = tmp_path / "a_source_file_with_a_rather_long_name_for_its_package.go"
    source.write_text("package handlers\n\nfunc (e *RequestDecisionEngineWithManyWords) "
                      "EvaluateEveryRuleForTheIncomingRequest(m map[int]int) {\n\tm[1] = 2\n}"
                      "\n\ntype RequestDecisionEngineWithManyWords struct{}\n")
    profile = tmp_path / "p.pb.gz"
    profile.write_bytes(build(HEAP_TYPES, [Stack([(LONG_FUNCTION, f"/b/{source.name}", 4, 0x10)],
                                                 [1, 4608, 0, 0], 4608)],
                              default="alloc_space"))
    assert main(["profile", str(profile), "--source", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert LONG_FUNCTION in out and f"{source.name}:4" in out
    assert max(len(line) for line in out.splitlines()) > 60


@pytest.mark.parametrize("option", [["--binary"], ["diff", "--base-binary"]])
def test_binary_options_refuse_bad_paths(tmp_path: Path, option: list[str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = _profile(tmp_path)
    profile = tmp_path / "p.pb.gz"
    profile.write_bytes(data)
    not_a_binary = tmp_path / "latin1.bin"
    not_a_binary.write_bytes("caf\xe9 \xff\xfe not a program".encode("latin-1"))
    for bad in (tmp_path / "missing" / "server", tmp_path, not_a_binary):
        args = ["profile", *option[:-1], str(profile), *([str(profile)] if option[0] == "diff"
                                                         else []), option[-1], str(bad)]
        assert main(args) == 2, args
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(e.startswith("mapguard: error: ") for e in errors), errors
    assert "not an executable" in errors[-1]


def test_source_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = _profile(tmp_path)
    profile = tmp_path / "p.pb.gz"
    profile.write_bytes(data)
    for bad in (tmp_path / "missing", profile):
        assert main(["profile", str(profile), "--source", str(bad)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert [e.split(": ")[-1] for e in errors] == [
        "no such directory (expected the directory of the Go sources (--source))",
        "not a directory (expected the directory of the Go sources (--source))"]


def test_revision_needs_a_checkout_that_has_it(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data, root = _profile(tmp_path)
    profile = tmp_path / "p.pb.gz"
    profile.write_bytes(data)
    assert main(["profile", str(profile), "--source", str(root), "--revision", "v1"]) == 2
    assert main(["profile", str(profile), "--revision", "v1"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "not a git checkout" in errors[0] and "--source" in errors[1]
