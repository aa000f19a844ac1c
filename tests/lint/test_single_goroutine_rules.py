"""MG001, MG002, MG003, MG010: positions, messages that tell the truth, version gating, fixes."""

from __future__ import annotations

from pathlib import Path

from mapguard.goversion import GoVersion
from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.registry import rule_for, select_rules

from .conftest import WriteModule, findings_by_rule, lint_dir, made_cache

LOOP_RESET = """
package p

func dedupe(batches [][]string) int {
	n := 0
	var seen map[string]bool
	for _, batch := range batches {
		seen = make(map[string]bool)
		for _, id := range batch {
			if !seen[id] {
				seen[id] = true
				n++
			}
		}
	}
	return n
}
"""

DELETE_LOOP = """
package p

func reset(m map[string]int) {
	for k := range m {
		delete(m, k)
	}
}
"""


def test_mg001_reports_the_assignment_and_says_clear_keeps_capacity(
    write_module: WriteModule,
) -> None:
    result = lint_dir(write_module({"p.go": LOOP_RESET}))
    assert findings_by_rule(result, "MG001") == [("p.go", 7, 3)]
    message = next(f.message for f in result.findings if f.rule == "MG001")
    assert "clear(seen)" in message and "capacity" in message


def test_mg001_and_mg003_stay_silent_before_go_1_21(write_module: WriteModule) -> None:
    root = write_module({"p.go": LOOP_RESET, "q.go": DELETE_LOOP}, go="1.20")
    result = lint_dir(root)
    assert findings_by_rule(result, "MG001") == []
    assert findings_by_rule(result, "MG003") == []
    assert result.versions[0].version == "1.20" and result.versions[0].source == "go.mod"


def test_go_version_flag_overrides_go_mod(write_module: WriteModule) -> None:
    root = write_module({"q.go": DELETE_LOOP}, go="1.20")
    result = lint_dir(root, go_version=GoVersion(1, 21))
    assert findings_by_rule(result, "MG003") == [("q.go", 4, 2)]
    assert result.versions[0].source == "flag"


def test_without_go_mod_the_installed_toolchain_decides(write_module: WriteModule) -> None:
    root = write_module({"q.go": DELETE_LOOP}, go=None)
    old = lint_dir(root, toolchain_version=GoVersion(1, 19))
    new = lint_dir(root, toolchain_version=GoVersion(1, 22))
    assert findings_by_rule(old, "MG003") == []
    assert findings_by_rule(new, "MG003") == [("q.go", 4, 2)]
    assert new.versions[0].source == "toolchain"


def test_mg003_says_the_compiler_already_optimises_the_loop(write_module: WriteModule) -> None:
    result = lint_dir(write_module({"q.go": DELETE_LOOP}))
    (finding,) = [f for f in result.findings if f.rule == "MG003"]
    assert "runtime.mapclear" in finding.message and "clarity" in finding.message
    assert finding.fix is not None
    assert [e.text for e in finding.fix.edits] == ["clear(m)"]


def test_mg003_float_keys_are_not_called_optimised(write_module: WriteModule) -> None:
    source = DELETE_LOOP.replace("map[string]int", "map[float64]int")
    (finding,) = lint_dir(write_module({"q.go": source})).findings
    assert "NaN" in finding.message and "already turns" not in finding.message


def test_mg002_size_hint_fix_and_clone_advice(write_module: WriteModule) -> None:
    source = """
    package p

    func index(users []string, src map[string]int) (map[string]bool, int) {
    	byName := make(map[string]bool)
    	for _, u := range users {
    		byName[u] = true
    	}
    	dst := map[string]int{}
    	for k, v := range src {
    		dst[k] = v
    	}
    	return byName, len(dst)
    }
    """
    result = lint_dir(write_module({"p.go": source}))
    hint, clone = [f for f in result.findings if f.rule == "MG002"]
    assert (hint.line, hint.column) == (4, 12)
    assert hint.fix is not None and hint.fix.edits[0].text == "make(map[string]bool, len(users))"
    assert "maps.Clone(src)" in clone.message and "capacity" in clone.message
    assert clone.fix is not None and "maps.Clone(src)" in clone.fix.description


def test_mg002_no_clone_advice_before_go_1_21(write_module: WriteModule) -> None:
    source = """
    package p

    func cp(src map[string]int) map[string]int {
    	dst := make(map[string]int)
    	for k, v := range src {
    		dst[k] = v
    	}
    	return dst
    }
    """
    (finding,) = lint_dir(write_module({"p.go": source}, go="1.20")).findings
    assert "maps.Clone" not in finding.message and "len(src)" in finding.message


def test_mg002_leaves_counters_conditionals_and_channels_alone(write_module: WriteModule) -> None:
    source = """
    package p

    func f(words []string, ch chan string) (map[string]int, map[string]bool, map[string]bool) {
    	counts := make(map[string]int)
    	for _, w := range words {
    		counts[w]++
    	}
    	some := make(map[string]bool)
    	for _, w := range words {
    		if w != "" {
    			some[w] = true
    		}
    	}
    	fromChan := make(map[string]bool)
    	for w := range ch {
    		fromChan[w] = true
    	}
    	return counts, some, fromChan
    }
    """
    assert lint_dir(write_module({"p.go": source})).findings == ()


def test_mg010_reports_the_index_expression_inside_loops_only(write_module: WriteModule) -> None:
    source = """
    package p

    import "fmt"

    func f(raw map[string]int, users []string, b []byte) int {
    	m := map[string]int{}
    	n := m["a"+users[0]]
    	for _, u := range users {
    		n += m[u+"/x"]
    		n += m[fmt.Sprintf("%s!", u)]
    		n += raw[string(b)]
    	}
    	return n
    }
    """
    result = lint_dir(write_module({"p.go": source}))
    assert findings_by_rule(result, "MG010") == [("p.go", 9, 8), ("p.go", 10, 8)]
    messages = [f.message for f in result.findings]
    assert "32 bytes" in messages[0] and "fmt.Sprintf allocates" in messages[1]


def test_every_rule_explains_itself_in_the_ruff_shape() -> None:
    for code in ("MG001", "MG002", "MG003", "MG010"):
        doc = rule_for(code).doc
        for heading in ("## What it does", "## Why is this bad?", "## Example",
                        "## Use instead", "## When it is a false alarm"):
            assert heading in doc, (code, heading)


def test_mg003_gives_no_fix_where_clear_would_change_behaviour(write_module: WriteModule
                                                               ) -> None:
    source = """
    package p

    import "net/http"

    func floats(m map[float64]int) {
    	for k := range m {
    		delete(m, k)
    	}
    }

    func states(m map[http.ConnState]int) {
    	for k := range m {
    		delete(m, k)
    	}
    }

    func names(m map[string]int) {
    	for k := range m { // keep this note
    		delete(m, k)
    	}
    }
    """
    floats, states, names = lint_dir(write_module({"q.go": source})).findings
    assert floats.fix is None and "change of behaviour" in floats.message
    # A standard-library type mapguard has no word on (not in STDLIB_REFLEXIVE_KEYS).
    assert states.fix is None and (
        "The key type `http.ConnState` is declared outside this module" in states.message)
    assert names.fix is not None and names.fix.safe
    assert [e.text for e in names.fix.edits] == ["clear(m) // keep this note"]


def test_speed_and_style_advice_is_off_in_test_code_unless_asked(write_module: WriteModule
                                                                 ) -> None:
    helper = 'package p\n\nimport "testing"\n\nvar _ = testing.Short\n' + DELETE_LOOP.split(
        "package p\n", 1)[1]
    root = write_module({"q_test.go": DELETE_LOOP, "helper.go": helper})
    assert lint_dir(root).findings == ()
    asked = lint_dir(root, advice_everywhere=True).findings
    assert sorted(f.path.name for f in asked) == ["helper.go", "q_test.go"]
    assert all(f.fix is None for f in asked)  # a test may be about that very loop


def test_mg002_hints_are_plain_sizes_and_safe_only_for_distinct_keys(write_module: WriteModule
                                                                     ) -> None:
    names = ", ".join(f'"h{i}"' for i in range(12))
    source = f"""
    package p

    func f(n int, users []string, src map[string]int) (map[int]int, map[string]bool,
    	map[string]int, map[string]bool) {{
    	counted := make(map[int]int)
    	for i := 0; i < n; i++ {{
    		counted[i] = i
    	}}
    	byUser := make(map[string]bool)
    	for _, u := range users {{
    		byUser[u] = len(u) > 3
    	}}
    	copied := make(map[string]int)
    	for k, v := range src {{
    		copied[k] = v + 1
    	}}
    	listed := make(map[string]bool)
    	for _, h := range []string{{{names}}} {{
    		listed[h] = len(h) > 2
    	}}
    	return counted, byUser, copied, listed
    }}
    """
    findings = lint_dir(write_module({"p.go": source})).findings
    hints = {f.fix.edits[0].text: f.fix.safe for f in findings if f.fix is not None}
    assert hints == {
        "make(map[int]int, n)": True,  # the counter: one distinct key per pass
        "make(map[string]bool, len(users))": False,  # users may repeat: may over-allocate
        "make(map[string]int, len(src))": True,  # a map's keys are distinct
        "make(map[string]bool, 12)": False,  # the literal's count, never the literal
    }


def test_mg002_suggests_maps_clone_only_for_the_same_map_type(write_module: WriteModule
                                                              ) -> None:
    source = """
    package p

    type Params map[string]any

    func widen(in map[string]string) Params {
    	p := make(Params)
    	for k, v := range in {
    		p[k] = v
    	}
    	return p
    }

    func same(in map[string]string) int {
    	out := make(map[string]string)
    	for k, v := range in {
    		out[k] = v
    	}
    	return len(out)
    }
    """
    widen, same = lint_dir(write_module({"p.go": source})).findings
    assert "maps.Clone" not in widen.message and widen.fix is not None
    assert widen.fix.edits[0].text == "make(Params, len(in))"
    assert "out := maps.Clone(in)" in same.message
    assert same.fix is not None and "maps.Clone(in)" in same.fix.description


def test_mg002_no_clone_advice_when_keys_are_added_after_the_copy(write_module: WriteModule
                                                                  ) -> None:
    """`maps.Clone(nil)` is nil: with inserts after the copy loop the advice is the size."""
    source = """
    package p

    func marshal(extra map[string]string, version string) map[string]string {
    	out := map[string]string{}
    	for k, v := range extra {
    		out[k] = v
    	}
    	out["version"] = version
    	return out
    }
    """
    (finding,) = lint_dir(write_module({"p.go": source})).findings
    assert "maps.Clone" not in finding.message
    assert "len(extra)+1" in finding.message
    assert finding.fix is not None
    assert finding.fix.edits[0].text == "make(map[string]string, len(extra)+1)"


def test_one_finding_per_problem(write_module: WriteModule) -> None:
    """MG001 and MG002 on one statement are one finding; a fix on a line another rule reports
    with other advice is withdrawn."""
    source = """
    package p

    import "net/http"

    var sessions = map[string]int{}

    func batches(all [][]string) int {
    	var seen map[string]bool
    	n := 0
    	for _, batch := range all {
    		seen = make(map[string]bool)
    		for _, id := range batch {
    			seen[id] = true
    		}
    		n += len(seen)
    	}
    	return n
    }

    func logout(w http.ResponseWriter, r *http.Request) {
    	for k := range sessions {
    		delete(sessions, k)
    	}
    }
    """
    root = write_module({"p.go": source})
    alone = lint_dir(root, rules=select_rules(["MG002"], []))
    assert [(f.line, f.rule) for f in alone.findings] == [(11, "MG002")]
    result = lint_dir(root)
    rules_by_line = sorted((f.line, f.rule) for f in result.findings)
    assert (11, "MG001") in rules_by_line and (11, "MG002") not in rules_by_line
    loop = next(f for f in result.findings if f.rule == "MG003")
    assert any(f.rule == "MG004" and loop.line <= f.line <= loop.end_line
               for f in result.findings)
    assert loop.fix is None


def test_mg001_says_when_a_branch_re_creates(write_module: WriteModule) -> None:
    source = """
    package p

    func windows(ticks []int) int {
    	best := 0
    	window := make(map[int]bool)
    	for _, t := range ticks {
    		if t < 0 {
    			best = max(best, len(window))
    			window = make(map[int]bool)
    			continue
    		}
    		window[t] = true
    	}
    	return best
    }
    """
    (finding,) = lint_dir(write_module({"p.go": source})).findings
    assert finding.rule == "MG001" and "each time this branch runs" in finding.message
    assert "every pass" not in finding.message


def test_mg006_leaves_tests_alone_unless_asked(write_module: WriteModule) -> None:
    """A test that puts a pooled map back leaks only into other tests (round 12: a smoke test
    that checked the pooled map was empty)."""
    source = """
    package p

    import (
    	"sync"
    	"testing"
    )

    var pool = sync.Pool{New: func() any { return map[string]int{} }}

    func TestPooled(t *testing.T) {
    	m := pool.Get().(map[string]int)
    	m["seen"] = 1
    	pool.Put(m)
    }
    """
    root = write_module({"p_test.go": source})
    assert [f for f in lint_dir(root).findings if f.rule == "MG006"] == []
    asked = lint_dir(root, advice_everywhere=True).findings
    assert [(f.rule, f.line) for f in asked if f.rule == "MG006"] == [("MG006", 13)]


def test_mg003_reads_key_types_declared_in_another_package_of_the_module(
    write_module: WriteModule,
) -> None:
    """go-pdfium keys its maps by `references.FPDF_DOCUMENT`, a string type of another package
    of the module: the fix is exact there; a float type of that package keeps the NaN advice,
    and a type the package does not declare stays "not visible"."""
    keys = """
    package keys

    type (
    	Name  string
    	Score float64
    )

    type Pair struct{ A, B Name }
    """
    # One delete-all loop per key type, each `for` at line 6, 12, 18, 24.
    source = 'package p\n\nimport "example.com/mod/keys"\n' + "".join(
        f"\nfunc by{kind}(m map[keys.{kind}]int) {{\n\tfor k := range m {{\n"
        "\t\tdelete(m, k)\n\t}\n}\n" for kind in ("Name", "Score", "Pair", "Missing"))
    root = write_module({"keys/keys.go": keys, "p/p.go": source})
    found = {f.line: f for f in lint_dir(root).findings if f.rule == "MG003"}
    assert sorted(found) == [6, 12, 18, 24]
    assert found[6].fix is not None and found[18].fix is not None
    assert found[12].fix is None and "NaN" in found[12].message
    assert found[24].fix is None and "not visible" in found[24].message


def test_mg003_reads_a_map_field_of_a_struct_declared_in_another_package(
    write_module: WriteModule,
) -> None:
    """Round 16 (bk-bscp): `job.DownloadingTargets`, a `map[string]...` field of a struct of
    another package of the module, was "not visible here" and got no fix; a field of a float
    key type keeps the NaN advice, and a field the struct does not declare stays unseen."""
    types = """
    package types

    type Job struct {
    	Downloading map[string]int
    	Weights     map[float64]bool
    	Result
    }

    type Result struct{ Promoted map[string]int }
    """
    source = 'package p\n\nimport "example.com/mod/types"\n' + "".join(
        f"\nfunc {field.lower()}(job *types.Job) {{\n\tfor k := range job.{field} {{\n"
        f"\t\tdelete(job.{field}, k)\n\t}}\n}}\n" for field in ("Downloading", "Weights",
                                                                "Promoted"))
    root = write_module({"types/types.go": types, "p/p.go": source})
    found = {f.line: f for f in lint_dir(root).findings if f.rule == "MG003"}
    assert sorted(found) == [6, 12, 18]
    assert found[6].fix is not None and "runtime.mapclear" in found[6].message
    assert found[12].fix is None and "NaN" in found[12].message
    assert found[18].fix is None and "not visible" in found[18].message


def test_mg003_knows_the_standard_library_key_types_that_equal_themselves(
    write_module: WriteModule,
) -> None:
    """Round 24 (segmentio/stats `struct.go:152`): a `map[reflect.Type]...` cache emptied by
    the loop got the hedge of a key type declared outside the module and no fix, though no
    reflect.Type value can be NaN (only reflect's own pointer type implements it). The
    standard library's common key types that equal themselves get the fix; an `error` key, or
    a struct that pairs such a type with a float, keeps the NaN advice."""
    keys = ["reflect.Type", "time.Time", "time.Duration", "netip.Addr", "error",
            "struct {\n\t\tt reflect.Type\n\t\tf float64\n\t}"]
    source = ('package p\n\nimport (\n\t"net/netip"\n\t"reflect"\n\t"time"\n)\n' + "".join(
        f"\nfunc f{index}(m map[{key}]int) {{\n\tfor k := range m {{\n\t\tdelete(m, k)\n\t}}\n}}\n"
        for index, key in enumerate(keys)))
    root = write_module({"p/p.go": source})
    found = [f for f in lint_dir(root).findings if f.rule == "MG003"]
    assert len(found) == len(keys)
    assert [f.fix is not None for f in found] == [True, True, True, True, False, False]
    assert all("runtime.mapclear" in f.message for f in found[:4])
    assert all("NaN" in f.message and "outside" not in f.message for f in found[4:])


def test_mg003_reads_a_map_field_through_a_chain_of_fields_of_another_package(
    write_module: WriteModule,
) -> None:
    """Round 24 (Havoc `dispatch.go`): `pk.Body.Info`, a `map[string]any` field of a struct
    that is itself a field of a struct of another package of the module, was "not visible
    here" and got no fix, while `pk.Info` got one. A float key found the same way keeps the
    NaN advice; a chain into a package the file does not import (whose changes the result
    cache would not see) and a promoted field stay unseen."""
    packager = """
    package packager

    import "example.com/mod/deep"

    type Body struct {
    	Info    map[string]any
    	Weights map[float64]bool
    	Inner   deep.Inner
    }

    type Package struct {
    	Body  Body
    	Ptr   *Body
    	Event struct{ Body }
    }
    """
    deep = "package deep\n\ntype Inner struct{ Names map[string]int }\n"
    loops = ["pk.Body.Info", "pk.Ptr.Info", "pk.Body.Weights", "pk.Body.Inner.Names",
             "pk.Event.Info"]
    source = ('package p\n\nimport "example.com/mod/packager"\n' + "".join(
        f"\nfunc f{index}(pk packager.Package) {{\n\tfor k := range {name} {{\n"
        f"\t\tdelete({name}, k)\n\t}}\n}}\n" for index, name in enumerate(loops)))
    root = write_module({"packager/packager.go": packager, "deep/deep.go": deep,
                         "p/p.go": source})
    found = [f for f in lint_dir(root).findings if f.rule == "MG003"]
    assert len(found) == len(loops)
    assert [f.fix is not None for f in found] == [True, True, False, False, False]
    assert "runtime.mapclear" in found[0].message and "NaN" in found[2].message
    assert "not visible" in found[3].message and "not visible" in found[4].message


def test_mg003_reads_a_map_type_named_in_another_package_or_the_standard_library(
    write_module: WriteModule,
) -> None:
    """Round 20 (forklift `flashsystem.go:847`, splunk split-synchronizer `events.go:227`): a
    map typed by a named map type of another package of the module (`inner.MappingContext`),
    also as a field of a struct there, and a map field of a standard-library struct
    (`r.Header`) were "not visible here" and got no fix. A float-keyed named map keeps the
    NaN advice; a named type of a named map type, not followed, stays unseen."""
    inner = """
    package inner

    type MappingContext map[string]any

    type Weights map[float64]bool

    type Alias MappingContext

    type Holder struct{ Ctx MappingContext }
    """
    loops = [("c inner.MappingContext", "c"), ("w inner.Weights", "w"), ("a inner.Alias", "a"),
             ("h *inner.Holder", "h.Ctx"), ("r *http.Request", "r.Header"),
             ("r *http.Request", "r.Form"), ("resp *http.Response", "resp.Trailer"),
             ("c *tls.Config", "c.NameToCertificate")]
    source = ('package p\n\nimport (\n\t"crypto/tls"\n\t"net/http"\n\n'
              '\t"example.com/mod/inner"\n)\n' + "".join(
                  f"\nfunc f{index}({parameter}) {{\n\tfor k := range {name} {{\n"
                  f"\t\tdelete({name}, k)\n\t}}\n}}\n"
                  for index, (parameter, name) in enumerate(loops)))
    root = write_module({"inner/inner.go": inner, "p/p.go": source})
    found = [f for f in lint_dir(root).findings if f.rule == "MG003"]
    assert len(found) == len(loops)
    fixed = [f.fix is not None for f in found]
    assert fixed == [True, False, False, True, True, True, True, False]
    assert "NaN" in found[1].message and "not visible" in found[2].message
    assert "not visible" in found[7].message


def test_mg003_cache_sees_a_key_type_changed_in_the_other_package(
    write_module: WriteModule, tmp_path: Path,
) -> None:
    source = """
    package p

    import "example.com/mod/keys"

    func reset(m map[keys.Name]int) {
    	for k := range m {
    		delete(m, k)
    	}
    }
    """
    root = write_module({"keys/keys.go": "package keys\n\ntype Name string\n", "p/p.go": source})
    options = LintOptions(jobs=1, cache_dir=made_cache(tmp_path / "cache"))
    (first,) = lint([f"{root}/..."], options).findings
    assert first.fix is not None
    # p's files are unchanged, but its key type now holds NaN: the cached fix must not stay.
    (root / "keys" / "keys.go").write_text("package keys\n\ntype Name float64\n")
    (second,) = lint([f"{root}/..."], options).findings
    assert second.fix is None and "NaN" in second.message
    # The same through a struct's field, on its own line of the declaration.
    (root / "keys" / "keys.go").write_text("package keys\n\ntype Name struct {\n\tID string\n}\n")
    (third,) = lint([f"{root}/..."], options).findings
    assert third.fix is not None
    (root / "keys" / "keys.go").write_text("package keys\n\ntype Name struct {\n\tID any\n}\n")
    (fourth,) = lint([f"{root}/..."], options).findings
    assert fourth.fix is None and "NaN" in fourth.message


def test_mg003_names_a_type_parameter_key(write_module: WriteModule) -> None:
    """Round 14 (jitsu bulker): `Set[K cmp.Ordered]` said "the key type is not visible here";
    it is the type parameter, whose type set admits floats."""
    source = """
    package sets

    import "cmp"

    type Set[K cmp.Ordered] map[K]struct{}

    func (s Set[K]) Clear() {
    	for k := range s {
    		delete(s, k)
    	}
    }
    """
    (found,) = lint_dir(write_module({"s.go": source})).findings
    assert found.fix is None
    assert "The key type is the type parameter `K`: if it can hold NaN" in found.message


def test_mg003_reads_the_key_of_a_map_constraint(write_module: WriteModule) -> None:
    """Round 17 (kercylan98/minotaur): `ClearMap[M ~map[K]V, K comparable, V any](m M)` said
    "the key type is not visible here"; the key is read from M's constraint: the type
    parameter `K` (no fix), or `string` (the exact fix)."""
    source = """
    package maps

    func ClearMap[M ~map[K]V, K comparable, V any](m M) {
    	for k := range m {
    		delete(m, k)
    	}
    }

    func ClearNames[M map[string]V, V any](m M) {
    	for k := range m {
    		delete(m, k)
    	}
    }
    """
    any_key, names = lint_dir(write_module({"m.go": source})).findings
    assert any_key.fix is None
    assert "The key type is the type parameter `K`: if it can hold NaN" in any_key.message
    assert names.fix is not None and "write clear(m)" in names.message


def test_mg003_unsafe_pointer_keys_are_exact_and_struct_keys_say_which_field(
        write_module: WriteModule) -> None:
    """Round 15: imagor's `map[unsafe.Pointer]...` got no fix (a pointer equals itself), and a
    struct key with a field of another module's type was "not visible here"."""
    source = """
    package p

    import (
    	"net/url"
    	"unsafe"
    )

    type key struct {
    	u  url.URL
    	id int
    }

    func byKey(m map[key]int) {
    	for k := range m {
    		delete(m, k)
    	}
    }

    func byPointer(m map[unsafe.Pointer]int) {
    	for k := range m {
    		delete(m, k)
    	}
    }
    """
    structs, pointers = lint_dir(write_module({"p.go": source})).findings
    assert structs.fix is None
    assert "The key type `key` has a field of a type declared outside this module" in (
        structs.message)
    assert pointers.fix is not None and pointers.fix.safe


def test_mg003_reads_the_result_of_a_method_declared_in_an_interface(
    write_module: WriteModule,
) -> None:
    """Round 22 (orbiton): `wm := e.debugger.WatchMap()` on a field of an interface type whose
    declaration lists `WatchMap() map[string]string` was "not visible here"; a float-keyed
    method keeps the NaN advice."""
    source = """
package p

import "io"

type Debugger interface {
	io.Closer
	WatchMap() map[string]string
	Weights() map[float64]int
}

type Editor struct{ debugger Debugger }

func (e *Editor) clearWatches() {
	wm := e.debugger.WatchMap()
	for k := range wm {
		delete(wm, k)
	}
	ws := e.debugger.Weights()
	for k := range ws {
		delete(ws, k)
	}
}
"""
    found = {f.line: f for f in lint_dir(write_module({"p.go": source})).findings
             if f.rule == "MG003"}
    assert sorted(found) == [15, 19]
    assert found[15].fix is not None and "runtime.mapclear" in found[15].message
    assert found[19].fix is None and "NaN" in found[19].message
