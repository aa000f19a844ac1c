"""Build constraints that leave a file out of every default build (`mapguard.source.buildtags`),
checked against the go command's own verdict, and lint's handling of such files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mapguard.gotool import GoToolchain, go_environment
from mapguard.goversion import GoVersion
from mapguard.lint.engine import LintOptions, lint
from mapguard.source.buildtags import (
    KNOWN_ARCH,
    KNOWN_OS,
    in_linux_amd64_build,
    left_out_by_release,
    left_out_everywhere,
)

GO_1_24 = GoVersion(1, 24)
NOT_GO = "\npackage gaia\n\nThis file is not Go: it stops an old toolchain with a readable error.\n"


@pytest.mark.parametrize(("header", "left_out"), [
    ("//go:build !go1.17\n", True),
    ("// +build !go1.17\n", True),
    ("//+build !go1.17\n", True),
    ("//go:build ignore\n", True),
    ("//go:build integration\n", True),  # a tag nobody sets without -tags
    ("//go:build linux && !linux\n", True),
    ("//go:build go1.30\n", False),  # a newer toolchain sets it
    ("//go:build go1.999 && !go1.998\n", True),  # no toolchain sets one without the other
    ("//go:build linux\n", False),
    ("//go:build !windows && (amd64 || arm64)\n", False),
    ("//go:build cgo || ignore\n", False),
    ("//go:build goexperiment.swissmap\n", False),
    ("// +build linux,ignore darwin\n", False),  # darwin builds it
    ("// +build linux,ignore\n", True),
    ("// +build linux\n// +build ignore\n", True),  # lines are ANDed
    ("//go:build linux\n// +build ignore\n", False),  # //go:build wins
    ("// Package gaia is a comment, not a constraint.\n", False),
    ("", False),
])
def test_constraints_judged_for_every_default_build(header: str, left_out: bool) -> None:
    source = (header + NOT_GO).encode()
    assert (left_out_everywhere(source, GO_1_24) is not None) is left_out


def test_a_constraint_after_the_package_clause_is_no_constraint() -> None:
    assert left_out_everywhere(b"package gaia\n\n//go:build ignore\n", GO_1_24) is None


def test_known_platforms_cover_the_toolchains(go_toolchain: GoToolchain) -> None:
    listed = subprocess.run([str(go_toolchain.go), "tool", "dist", "list"], check=True,
                            capture_output=True, text=True,
                            env=go_environment(go_toolchain)).stdout.split()
    assert {p.split("/")[0] for p in listed} <= KNOWN_OS
    assert {p.split("/")[1] for p in listed} <= KNOWN_ARCH


@pytest.mark.parametrize("header", ["//go:build !go1.17\n", "// +build !go1.17\n",
                                    "//go:build ignore\n", "//go:build linux\n", ""])
def test_the_go_command_agrees(go_toolchain: GoToolchain, tmp_path: Path, header: str) -> None:
    """`go list` ignores the file exactly when mapguard says no build reads it (the module
    says go 1.24; the toolchain is newer, which only adds release tags)."""
    (tmp_path / "go.mod").write_text("module example.com/gaia\n\ngo 1.24\n")
    (tmp_path / "ok.go").write_text("package gaia\n")
    (tmp_path / "version_check.go").write_text(header + NOT_GO)
    listed = subprocess.run([str(go_toolchain.go), "list", "-e", "-json", "."], cwd=tmp_path,
                            capture_output=True, text=True,
                            env=go_environment(go_toolchain, {"GOOS": "linux"}))
    ignored = "version_check.go" in json.loads(listed.stdout).get("IgnoredGoFiles", [])
    said = left_out_everywhere((header + NOT_GO).encode(), GO_1_24) is not None
    if said:
        assert ignored  # never a file the go command reads
    if header in {"//go:build linux\n", ""}:
        assert not said and not ignored


def test_lint_skips_such_a_file_with_a_note_and_reports_a_broken_built_one(
        tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/gaia\n\ngo 1.24\n")
    (tmp_path / "ok.go").write_text("package gaia\n\nfunc F() {}\n")
    (tmp_path / "version_check.go").write_text("//go:build !go1.17\n" + NOT_GO)
    result = lint([f"{tmp_path}/..."], LintOptions(jobs=1))
    assert result.errors == ()
    notes = [n.message for n in result.notes if n.path.name == "version_check.go"]
    # Left out for its release tag before it is even parsed, as the go command leaves it out.
    assert len(notes) == 1 and notes[0].startswith("not analysed: its build constraint")
    assert "(//go:build !go1.17) leaves it out of every build with Go 1.24 or newer" in notes[0]

    (tmp_path / "version_check.go").write_text("//go:build ignore\n" + NOT_GO)
    ignored = lint([f"{tmp_path}/..."], LintOptions(jobs=1))
    assert ignored.errors == ()
    notes = [n.message for n in ignored.notes if n.path.name == "version_check.go"]
    assert len(notes) == 1 and notes[0].startswith("not analysed: syntax error")
    assert "(//go:build ignore) leaves it out of every build with Go 1.24" in notes[0]

    (tmp_path / "version_check.go").write_text("//go:build linux\n" + NOT_GO)
    broken = lint([f"{tmp_path}/..."], LintOptions(jobs=1))
    assert [e.path.name for e in broken.errors] == ["version_check.go"]


@pytest.mark.parametrize(("header", "dead"), [
    ("//go:build !go1.13\n", True),  # goccy/go-json's map112.go in a go 1.19 module
    ("// +build !go1.13\n", True),
    ("//go:build go1.13\n", False),
    ("//go:build !go1.30\n", False),  # the toolchains up to Go 1.29 read it
    ("//go:build linux && !go1.17\n", True),
    ("//go:build ignore || !go1.17\n", False),  # tags other than releases are free
    ("//go:build ignore\n", False),  # `go run gen.go` files: not a release question
    ("//go:build linux\n", False),
    ("", False),
])
def test_files_no_toolchain_able_to_build_the_module_reads(header: str, dead: bool) -> None:
    source = (header + "\npackage gaia\n").encode()
    assert (left_out_by_release(source, GoVersion(1, 19)) is not None) is dead


def test_lint_leaves_out_a_file_for_old_toolchains(tmp_path: Path) -> None:
    """Twins split by release tags declare the same names: only the one a toolchain able to
    build the module reads is analysed (MG009 on the other would warn about code no linker
    sees)."""
    (tmp_path / "go.mod").write_text("module example.com/gaia\n\ngo 1.19\n")
    (tmp_path / "empty.s").write_text("")
    pull = ('package gaia\n\nimport "unsafe"\n\n//go:linkname mapiterinit '
            'runtime.mapiterinit\nfunc mapiterinit(t, m, it unsafe.Pointer)\n')
    (tmp_path / "map112.go").write_text("//go:build !go1.13\n\n" + pull)
    (tmp_path / "map113.go").write_text("//go:build go1.13\n\n" + pull)
    result = lint([f"{tmp_path}/..."], LintOptions(jobs=1))
    assert result.errors == ()
    assert [(f.path.name, f.rule) for f in result.findings] == [("map113.go", "MG009")]
    assert [n.path.name for n in result.notes] == ["map112.go"]


LINUX_AMD64_CASES = {
    # file name: the constraint line before its package clause
    "plain.go": "",
    "linux.go": "",  # a name that is only a GOOS is no suffix
    "x_linux.go": "",
    "x_windows.go": "",
    "x_js.go": "",
    "x_amd64.go": "",
    "x_arm64.go": "",
    "x_linux_amd64.go": "",
    "x_linux_arm64.go": "",
    "x_windows_amd64.go": "",
    "x_386_amd64.go": "",  # only the last element is an architecture
    "x_linux_test.go": "",
    "x_darwin_test.go": "",
    "tagged_notjs.go": "//go:build !js\n",
    "tagged_unix.go": "//go:build unix && cgo\n",
    "tagged_bsd.go": "//go:build freebsd || openbsd\n",
    "tagged_old.go": "// +build !go1.17\n",
    "tagged_gccgo.go": "//go:build gccgo\n",
    "tagged_plus.go": "// +build linux,amd64 darwin\n",
}


def test_linux_amd64_build_agrees_with_go_list(go_toolchain: GoToolchain, tmp_path: Path) -> None:
    """`in_linux_amd64_build` names exactly the files `go list` puts in the linux/amd64 build
    (cgo on)."""
    (tmp_path / "go.mod").write_text("module example.com/gaia\n\ngo 1.24\n")
    for name, constraint in LINUX_AMD64_CASES.items():
        (tmp_path / name).write_text(constraint + "\npackage gaia\n")
    listed = subprocess.run(
        [str(go_toolchain.go), "list", "-e", "-json", "."], cwd=tmp_path, capture_output=True,
        text=True, check=True,
        env=go_environment(go_toolchain, {"GOOS": "linux", "GOARCH": "amd64",
                                          "CGO_ENABLED": "1"}))
    package = json.loads(listed.stdout)
    built = {*package.get("GoFiles", []), *package.get("CgoFiles", []),
             *package.get("TestGoFiles", [])}
    said = {name for name, constraint in LINUX_AMD64_CASES.items()
            if in_linux_amd64_build(name, (constraint + "\npackage gaia\n").encode(), GO_1_24)}
    assert said == built
    assert {"plain.go", "x_linux_amd64.go", "tagged_notjs.go"} <= said  # not a vacuous match
