"""Every file of the newest Go's standard library parses: zero syntax errors, nothing
analysed only in part. (Go 1.26 `new(expr)` and Go 1.27 generic methods are in it.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.gotool import GoToolchain
from mapguard.source.parser import first_syntax_error, parse_go

# Files of Go 1.27 that tree-sitter-go 0.25 alone cannot parse.
NEWER_SYNTAX = ("math/rand/v2/rand.go", "net/http/internal/http2/server.go",
                "runtime/traceback_test.go", "encoding/json/v2/arshal_test.go",
                "go/types/trie_test.go")


@pytest.fixture(scope="module")
def goroot_src(newest_go: GoToolchain) -> Path:
    return newest_go.goroot / "src"


def test_the_files_with_newer_syntax_parse(goroot_src: Path) -> None:
    for relative in NEWER_SYNTAX:
        assert first_syntax_error(parse_go((goroot_src / relative).read_bytes())) is None, relative


@pytest.mark.slow
def test_the_whole_standard_library_lints_without_a_parse_error(
        goroot_src: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["lint", "--no-cache", "--include-generated", "--format", "json",
                   f"{goroot_src}/..."])
    document = json.loads(capsys.readouterr().out)
    assert document["errors"] == []
    assert [w for w in document["warnings"] if "analysed in part" in w["message"]] == []
    assert document["files"] > 5000
    assert status in {0, 1}


@pytest.mark.slow
def test_every_file_of_the_standard_library_parses_whole(goroot_src: Path) -> None:
    """The lint parses only what its rules need (no body nothing asks about, no file of a
    package no rule applies to): this parses every file the go command may read, whole."""
    from mapguard.goversion import GoVersion
    from mapguard.source.buildtags import left_out_everywhere
    from mapguard.source.discover import Selection, go_files_under

    version = GoVersion.parse("1.27")
    failing = []
    count = 0
    for path in go_files_under(goroot_src, Selection(include_tests=True)):
        source = path.read_bytes()
        count += 1
        if first_syntax_error(parse_go(source)) is not None and left_out_everywhere(
                source, version) is None:
            failing.append(str(path.relative_to(goroot_src)))
    assert count > 5000
    assert failing == []
