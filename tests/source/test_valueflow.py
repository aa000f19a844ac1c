"""mapguard.source.valueflow: what it proves, and the look-alikes it must not."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapguard.goversion import GO_1_21
from mapguard.source.discover import Selection, expand, read_target
from mapguard.source.loader import VersionChoice, load_packages
from mapguard.source.package import Package
from mapguard.source.typeinfo import TypeInfo, word_hits
from mapguard.source.valueflow import constructors_set, rebound_to_copy


def _package(directory: Path, source: str) -> Package:
    (directory / "go.mod").write_text("module example.com/p\n\ngo 1.22\n", encoding="utf-8")
    (directory / "p.go").write_text(source, encoding="utf-8")
    found = read_target(expand([str(directory)], directory, Selection()).targets[0],
                        Selection())[0]
    assert found is not None
    packages, errors = load_packages(found, lambda _module: VersionChoice(GO_1_21, "flag"))
    assert not errors
    return next(p for p in packages if not p.name.endswith("_test"))


def _written(package: Package) -> bool:
    """rebound_to_copy at the write marked `// w`."""
    go_file = package.files[0]
    at = go_file.source.index(b"// w")
    line_start = go_file.source.rfind(b"\n", 0, at) + 1
    start = next(s for s, _ in word_hits(go_file.source, "m", line_start, at))
    node = go_file.node_at(start, start + 1)
    assert node is not None and node.type == "identifier"
    return rebound_to_copy(node, go_file, TypeInfo(package))


REBOUND = {
    "same block": ("m = maps.Clone(m)\n\tm[k] = 1 // w", True),
    "enclosing block": ("m = make(map[string]int)\n\tif k != \"\" {\n\t\tm[k] = 1 // w\n\t}",
                        True),
    "map literal": ("m = map[string]int{}\n\tm[k] = 1 // w", True),
    "inside an if the write is not in": (
        "if k == \"\" {\n\t\tm = maps.Clone(m)\n\t}\n\tm[k] = 1 // w", False),
    "after the write": ("m[k] = 1 // w\n\tm = maps.Clone(m)", False),
    "assigned again between": ("m = maps.Clone(m)\n\tm = other\n\tm[k] = 1 // w", False),
    "assigned again in a branch between": (
        "m = maps.Clone(m)\n\tif k == \"\" {\n\t\tm = other\n\t}\n\tm[k] = 1 // w", False),
    "address taken": ("m = maps.Clone(m)\n\tkeep(&m)\n\tm[k] = 1 // w", False),
    "a goto in the function": (
        "goto write\n\tm = maps.Clone(m)\nwrite:\n\tm[k] = 1 // w", False),
    "not a fresh map": ("m = other\n\tm[k] = 1 // w", False),
    "values that do not pair": ("m, _ = pick(m)\n\tm[k] = 1 // w", False),
}


@pytest.mark.parametrize("case", sorted(REBOUND))
def test_rebound_to_copy(tmp_path: Path, case: str) -> None:
    body, expected = REBOUND[case]
    package = _package(tmp_path, f"""package p

import "maps"

var other = map[string]int{{}}

func keep(*map[string]int) {{}}

func pick(m map[string]int) (map[string]int, bool) {{ return m, true }}

func f(m map[string]int, k string) {{
\t{body}
}}
""")
    assert _written(package) is expected


CONSTRUCTED = {
    "the constructor sets it": ("func New() *T {\n\tt := &T{}\n\tt.f = newF()\n\treturn t\n}",
                                True),
    "keyed in the literal": ("func New() *T { return &T{f: newF()} }", True),
    "a setter in the caller of the maker": (
        "func make1() *T { return &T{} }\n"
        "func (t *T) Set(f *F) { t.f = f }\n"
        "func New(f *F) *T {\n\tt := make1()\n\tt.Set(f)\n\treturn t\n}", True),
    "a setter given nil": (
        "func make1() *T { return &T{} }\n"
        "func (t *T) Set(f *F) { t.f = f }\n"
        "func New() *T {\n\tt := make1()\n\tt.Set(nil)\n\treturn t\n}", False),
    "no literal at all": ("func use(t *T) {}", False),
    "a zero value": ("func New() *T { return &T{f: newF()} }\nvar zero T", False),
    "new(T)": ("func New() *T { return &T{f: newF()} }\nfunc Other() *T { return new(T) }",
               False),
    "set back to nil": ("func New() *T { return &T{f: newF()} }\n"
                        "func (t *T) Close() { t.f = nil }", False),
    "another literal without it": ("func New() *T { return &T{f: newF()} }\n"
                                   "func (t *T) Copy() *T { return &T{} }", False),
    "a goroutine before the field is set": (
        "func New() *T {\n\tt := &T{}\n\tgo t.run()\n\tt.f = newF()\n\treturn t\n}\n"
        "func (t *T) run() {}", False),
    "a maker used as a value": (
        "func make1() *T { return &T{} }\n"
        "var factory = make1\n"
        "func New() *T {\n\tt := make1()\n\tt.f = newF()\n\treturn t\n}", False),
}


@pytest.mark.parametrize("case", sorted(CONSTRUCTED))
def test_constructors_set(tmp_path: Path, case: str) -> None:
    declarations, expected = CONSTRUCTED[case]
    package = _package(tmp_path, f"""package p

type F struct{{}}

func newF() *F {{ return &F{{}} }}

type T struct {{
\tf *F
}}

{declarations}
""")
    assert constructors_set(package, TypeInfo(package), "T", "f") is expected


def test_a_documented_zero_value_is_left_to_the_lazy_initialisation(tmp_path: Path) -> None:
    package = _package(tmp_path, """package p

type F struct{}

func newF() *F { return &F{} }

// T counts things. The zero value is ready to use.
type T struct {
\tf *F
}

func New() *T { return &T{f: newF()} }
""")
    assert constructors_set(package, TypeInfo(package), "T", "f") is False
