"""Profile attribution asks the package-wide type model whether an indexed value is a map."""

from __future__ import annotations

from pathlib import Path

from mapguard.evidence.mapsyntax import UNKNOWN_INSERT, GoSource
from mapguard.evidence.sourcetree import SourceFiles

TYPES = "package p\n\ntype registry map[string]int\n"
FILL = "package p\n\nfunc fill(r registry) {\n\tr[\"a\"] = 1\n}\n"


def test_named_map_type_from_another_file_makes_the_insert_a_map_growth(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/p\n\ngo 1.22\n")
    (tmp_path / "types.go").write_text(TYPES)
    fill = tmp_path / "fill.go"
    fill.write_text(FILL)
    typed = SourceFiles(tmp_path).get("/build/elsewhere/p/fill.go")
    assert typed is not None and typed.map_oracle is not None
    assert typed.facts(4).map_ops == frozenset({"grow"})
    # The file alone cannot tell that `registry` is a map: the insert stays unknown.
    assert GoSource(fill.read_bytes()).facts(4).map_ops == frozenset({UNKNOWN_INSERT})


def test_package_map_types_without_a_type_model(tmp_path: Path) -> None:
    (tmp_path / "types.go").write_text(TYPES)
    fill = GoSource(FILL.encode(), package_map_types=frozenset({"registry"}))
    assert fill.facts(4).map_ops == frozenset({"grow"})
