"""Every reader of source (lint and the evidence joins) gives a module the Go version the go
command builds it at."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapguard.goversion import GO_LINE_MISSING, NEWEST_KNOWN, GoVersion
from mapguard.source.lookup import typed_file


def _module(root: Path, go_line: str) -> Path:
    root.mkdir()
    (root / "go.mod").write_text(f"module example.com/m\n{go_line}")
    source = root / "m.go"
    source.write_text("package m\n\nvar seen = map[string]int{}\n")
    return source


@pytest.mark.parametrize(("go_line", "expected", "source"), [
    ("go 1.21\n", GoVersion(1, 21), "go.mod"),
    ("", GO_LINE_MISSING, "go.mod without go line"),
])
def test_evidence_lookup_reads_the_module_at_its_build_version(
        tmp_path: Path, go_line: str, expected: GoVersion, source: str) -> None:
    found = typed_file(_module(tmp_path / "module", go_line))
    assert found is not None
    package = found[1].package
    assert (package.go_version, package.go_version_source) == (expected, source)


def test_code_outside_any_module_is_read_as_the_newest_go(tmp_path: Path) -> None:
    source = tmp_path / "loose" / "m.go"
    source.parent.mkdir()
    source.write_text("package m\n\nvar seen = map[string]int{}\n")
    found = typed_file(source)
    assert found is not None
    assert found[1].package.go_version == NEWEST_KNOWN
