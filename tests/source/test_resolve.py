"""Name resolution of declaring identifiers: `x` on the left of `x, err := f()` is the new local,
not an outer `x` it shadows; a name a later `:=` of the same scope redeclares stays the first."""

from __future__ import annotations

import re
from pathlib import Path

from mapguard.source.lookup import typed_file
from mapguard.source.package import VarDecl
from mapguard.source.typeinfo import LocalDecl

SOURCE = """package p

var routes = map[string]int{}

func load() (map[string]int, error) { return nil, nil }

func count() int {
	routes, err := load()
	if err != nil {
		return 0
	}
	extra, err := load()
	_ = extra
	return len(routes)
}
"""


def test_a_declaring_name_is_its_own_declaration(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/p\n\ngo 1.22\n")
    path = tmp_path / "p.go"
    path.write_text(SOURCE)
    found = typed_file(path)
    assert found is not None
    go_file, info = found

    def symbol(needle: str, nth: int = 0) -> object:
        offset = -1
        for _ in range(nth + 1):
            offset = SOURCE.index(needle, offset + 1)
        name = re.match(r"\w+", needle)
        assert name is not None
        node = go_file.node_at(offset, offset + len(name.group()))
        assert node is not None and node.type == "identifier", node
        return info.resolve(node, go_file)

    declared = symbol("routes, err :=")
    assert isinstance(declared, LocalDecl) and declared.kind != "param"
    assert symbol("routes)") is declared  # the use after it: the same local
    assert isinstance(symbol("routes ="), VarDecl)  # the package-level variable itself
    first_err = symbol("err :=")
    assert isinstance(first_err, LocalDecl)
    assert symbol("err :=", 1) is first_err  # redeclared by the second `:=`: one variable


def test_a_file_only_old_toolchains_read_is_not_part_of_the_package(tmp_path: Path) -> None:
    """Profiles and escape facts come from builds, which never compile a shim for toolchains
    too old for the module: its twin declaration (sorted first here) must not stand in for
    the live one, and the shim itself is no file of the package."""
    (tmp_path / "go.mod").write_text("module example.com/p\n\ngo 1.19\n")
    shim = tmp_path / "a_old.go"
    shim.write_text("//go:build !go1.13\n\npackage p\n\nvar table = map[string]string{}\n")
    live = tmp_path / "live.go"
    source = ("//go:build go1.13\n\npackage p\n\nvar table = map[string]int{}\n\n"
              "func bump(k string) { table[k]++ }\n")
    live.write_text(source)
    assert typed_file(shim) is None
    found = typed_file(live)
    assert found is not None
    go_file, info = found
    use = source.index("table[k]")
    node = go_file.node_at(use, use + len("table"))
    assert node is not None
    declaration = info.resolve(node, go_file)
    assert isinstance(declaration, VarDecl) and declaration.file.path == live
