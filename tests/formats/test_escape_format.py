"""Escape-analysis output: -m, -m=2 text and -json=0 documents (excerpts of go1.27.3 output)."""
# ruff: noqa: E501  (compiler output and its JSON are quoted as the compiler writes them)

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.errors import InputError
from mapguard.formats.escape import (
    AllocKind,
    EscapeFact,
    Position,
    Verdict,
    classify,
    parse_escape_json,
    parse_escape_text,
)

# `go build -gcflags=-m=2` of a package whose returned() is inlined into main (go1.27.3).
M2 = """\
# example.com/esc
./main.go:5:6: can inline local with cost 14 as: func() int { m := make(map[string]int); m["a"] = 1; return len(m) }
./main.go:11:6: can inline returned with cost 13 as: func() map[string]int { m := make(map[string]int, 8); m["b"] = 2; return m }
./main.go:17:6: can inline addressTaken with cost 11 as: func() *map[string]int { m := map[string]int{...}; return &m }
./main.go:22:6: cannot inline captured: unhandled op GO
./main.go:24:5: can inline captured.func1 with cost 7 as: func() { m[1] = 2; close(done) }
./main.go:41:6: cannot inline main: function too complex: cost 224 exceeds budget 80
./main.go:47:19: inlining call to local
./main.go:47:31: inlining call to returned
./main.go:6:11: make(map[string]int) does not escape
./main.go:12:11: make(map[string]int, 8) escapes to heap in returned:
./main.go:12:11:   flow: m ← &{storage for make(map[string]int, 8)}:
./main.go:12:11:     from make(map[string]int, 8) (spill) at ./main.go:12:11
./main.go:12:11:     from m := make(map[string]int, 8) (assign) at ./main.go:12:4
./main.go:12:11:   flow: ~r0 ← m:
./main.go:12:11:     from return m (return) at ./main.go:14:2
./main.go:12:11: make(map[string]int, 8) escapes to heap
./main.go:18:2: m escapes to heap in addressTaken:
./main.go:18:2:   flow: ~r0 ← &m:
./main.go:18:2:     from &m (address-of) at ./main.go:19:9
./main.go:18:2:     from return &m (return) at ./main.go:19:2
./main.go:18:2: moved to heap: m
./main.go:18:21: map[string]int{...} escapes to heap
./main.go:23:2: captured capturing by value: m (addr=false assign=false width=8)
./main.go:22:15: parameter done leaks to {storage for func literal} for captured with derefs=0:
./main.go:22:15:   flow: {storage for func literal} ← done:
./main.go:22:15:     from done (captured by a closure) at ./main.go:26:9
./main.go:23:11: make(map[int]int) escapes to heap in captured:
./main.go:23:11:   flow: m ← &{storage for make(map[int]int)}:
./main.go:23:11:     from make(map[int]int) (spill) at ./main.go:23:11
./main.go:23:11:   flow: {storage for func literal} ← m:
./main.go:23:11:     from m (captured by a closure) at ./main.go:25:3
./main.go:22:15: leaking param: done
./main.go:23:11: make(map[int]int) escapes to heap
./main.go:24:5: func literal escapes to heap
./main.go:39:11: leaking param: m to result ~r0 level=0
./main.go:47:19: make(map[string]int) does not escape
./main.go:47:31: make(map[string]int, 8) escapes to heap
"""


def _site(facts: tuple[EscapeFact, ...], line: int, column: int) -> EscapeFact:
    (fact,) = [f for f in facts if (f.position.line, f.position.column) == (line, column)]
    return fact


def test_m2_verdicts_kinds_and_functions() -> None:
    report = parse_escape_text(M2)
    sites = report.map_sites()
    stack = _site(sites, 6, 11)
    assert (stack.verdict, stack.kind, stack.function) == (Verdict.STACK, AllocKind.MAKE_MAP, "local")
    returned = _site(sites, 12, 11)
    assert (returned.verdict, returned.function) == (Verdict.HEAP, "returned")
    assert [flow.to for flow in returned.flows] == ["m", "~r0"]
    assert returned.flows[1].steps[0].why == "return"
    assert returned.flows[1].steps[0].at == Position("./main.go", 14, 2)
    assert returned.why == "~r0 ← m: return m (return) at ./main.go:14:2"
    moved = _site(sites, 18, 2)
    assert (moved.verdict, moved.kind, moved.expr) == (Verdict.MOVED, AllocKind.MAP_VARIABLE, "m")
    closure = _site(sites, 23, 11)
    assert closure.flows[-1].steps[0].why == "captured by a closure"
    assert report.packages == ("example.com/esc",)
    assert report.unrecognized == ()


def test_inlined_copies_fold_into_their_origin() -> None:
    report = parse_escape_text(M2)
    local = _site(report.facts, 6, 11)
    assert [(c.position.line, c.position.column, c.verdict) for c in local.inlined_copies] == [
        (47, 19, Verdict.STACK)
    ]
    returned = _site(report.facts, 12, 11)
    assert [(c.position.line, c.verdict) for c in returned.inlined_copies] == [(47, Verdict.HEAP)]
    assert not [f for f in report.facts if f.position.line == 47]


def test_leaks_and_non_map_facts() -> None:
    report = parse_escape_text(M2)
    assert [(leak.param, leak.detail) for leak in report.leaks] == [
        ("done", ""), ("m", "to result ~r0 level=0")
    ]
    func_literal = _site(report.facts, 24, 5)
    assert func_literal.kind is AllocKind.OTHER
    assert func_literal not in report.map_sites()


def test_m1_has_verdicts_without_flows() -> None:
    m1 = "\n".join(
        line for line in M2.splitlines()
        if ":   " not in line and " in " not in line.split(": ", 1)[-1][-40:]
        and not line.endswith(":")
    )  # fmt: skip
    report = parse_escape_text(m1)
    assert _site(report.facts, 12, 11).flows == ()
    assert _site(report.facts, 12, 11).verdict is Verdict.HEAP
    # Without flows, a map allocated on the moved variable's own line makes it a map variable.
    assert _site(report.facts, 18, 2).kind is AllocKind.MAP_VARIABLE


@pytest.mark.parametrize(("expr", "kind"), [
    ("make(map[string]int)", AllocKind.MAKE_MAP),
    ("make(map[int]int, n)", AllocKind.MAKE_MAP),
    ("make(go.shape.map[string]int)", AllocKind.MAKE_MAP),
    ("map[string]int{...}", AllocKind.MAP_LITERAL),
    ("map[string]int{}", AllocKind.MAP_LITERAL),
    ("make([]int, 4)", AllocKind.OTHER),
    ("&T{...}", AllocKind.OTHER),
    ("func literal", AllocKind.OTHER),
])
def test_classify(expr: str, kind: AllocKind) -> None:
    assert classify(expr) is kind


@pytest.mark.parametrize("text", ["", "hello\n", "# example.com/x\n", "\x00\x01binary"])
def test_no_diagnostics_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="no compiler diagnostics"):
        parse_escape_text(text, "build.log")


def _json_doc(entries: list[dict[str, object]]) -> str:
    header = {"version": 0, "package": "main", "goos": "linux", "goarch": "amd64",
              "gc_version": "go1.27.3", "file": "/src/main.go"}
    return "\n".join(json.dumps(item) for item in [header, *entries])


def _at(line: int, column: int) -> dict[str, object]:
    return {"start": {"line": line, "character": column}, "end": {"line": line, "character": column}}


def _related(line: int, column: int, message: str) -> dict[str, object]:
    return {"location": {"uri": "file:///src/main.go", "range": _at(line, column)},
            "message": message}


def test_json_heap_moved_and_inlined() -> None:
    document = _json_doc([
        {"range": _at(5, 6), "severity": 3, "code": "canInlineFunction", "message": "cost: 14"},
        {"range": _at(12, 11), "code": "escape", "message": "make(map[string]int, 8) escapes to heap",
         "relatedInformation": [
             _related(12, 11, "escflow:    flow: m ← &{storage for make(map[string]int, 8)}:"),
             _related(12, 11, "escflow:      from make(map[string]int, 8) (spill)"),
             _related(14, 2, "escflow:    flow: ~r0 ← m:"),
             _related(14, 2, "escflow:      from return m (return)"),
         ]},
        {"range": _at(12, 11), "code": "escape", "message": ""},
        {"range": _at(18, 2), "code": "escape", "message": "m escapes to heap", "relatedInformation": [
            _related(19, 9, "escflow:    flow: ~r0 ← &m:"),
            _related(19, 9, "escflow:      from &m (address-of)"),
        ]},
        {"range": _at(47, 31), "code": "escape", "message": "make(map[string]int, 8) escapes to heap",
         "relatedInformation": [_related(12, 11, "inlineLoc"),
                                _related(47, 31, "escflow:    flow: m ← &{storage for x}:")]},
        {"range": _at(47, 31), "code": "escape", "message": "",
         "relatedInformation": [_related(12, 11, "inlineLoc")]},
        {"range": _at(39, 11), "code": "leak", "message": "parameter m leaks to ~r0 with derefs=0"},
    ])
    report = parse_escape_json([("main.json", document)])
    heap = _site(report.facts, 12, 11)
    assert (heap.verdict, heap.position.file) == (Verdict.HEAP, "/src/main.go")
    assert heap.why == "~r0 ← m: return m (return) at /src/main.go:14:2"
    assert [(c.position.line, c.verdict) for c in heap.inlined_copies] == [(47, Verdict.HEAP)]
    moved = _site(report.facts, 18, 2)
    assert (moved.verdict, moved.kind) == (Verdict.MOVED, AllocKind.VARIABLE)
    assert [leak.param for leak in report.leaks] == ["m"]
    assert report.packages == ("main",)


@pytest.mark.parametrize("text", ["not json", '{"no": "header"}', '[1, 2]'])
def test_json_that_is_not_compiler_output(text: str) -> None:
    with pytest.raises(InputError):
        parse_escape_json([("x.json", text)])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(
    st.sampled_from(M2.splitlines()),
    st.text(max_size=80),
    st.builds(lambda a, b, c, m: f"{a}:{b}:{c}: {m}", st.text(max_size=10),
              st.integers(0, 99), st.integers(0, 99), st.text(max_size=40)),
), max_size=40))
def test_any_text_parses_or_is_an_input_error(lines: list[str]) -> None:
    try:
        report = parse_escape_text("\n".join(lines))
    except InputError:
        return
    assert all(fact.position.line >= 0 for fact in report.facts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=120), max_size=6))
def test_any_json_parses_or_is_an_input_error(lines: list[str]) -> None:
    header = '{"version":0,"package":"p","file":"/a.go"}'
    with contextlib.suppress(InputError):
        parse_escape_json([("a.json", "\n".join([header, *lines]))])


# Nested inlining reports every callee at the outer call's position (go1.27.3, trimmed).
NESTED = """\
# example.com/corpus/cfg
cfg/config.go:19:6: can inline (*Config).buildRecipes with cost 70 as: method(c *Config) func() { c.recipes = map[int64]string{}; if strings.HasPrefix(c.arch, "arm") { c.recipes[1] = "neon" } }
cfg/config.go:12:6: cannot inline NewConfig: function too complex: cost 99 exceeds budget 80
cfg/config.go:14:16: inlining call to (*Config).buildRecipes
cfg/config.go:14:16: inlining call to strings.HasPrefix
cfg/config.go:14:16: inlining call to stringslite.HasPrefix
cfg/config.go:21:30: map[int64]string{} escapes to heap
cfg/config.go:14:16: map[int64]string{} escapes to heap
<autogenerated>:1: parameter ~p0 leaks to {heap} for Fetcher.Links with derefs=0:
<autogenerated>:1:   flow: {heap} ← ~p0:
cfg/config.go:30:9: (*Config).Reset ignoring self-assignment in c.list = c.list[:0]
"""


def test_nested_inlining_finds_the_outermost_origin() -> None:
    report = parse_escape_text(NESTED)
    (literal,) = report.map_sites()
    assert (literal.position.line, literal.position.column) == (21, 30)
    assert literal.function == "(*Config).buildRecipes"
    assert [(c.position.line, c.position.column) for c in literal.inlined_copies] == [(14, 16)]
    assert report.unrecognized == ()


# pair() allocates make(Index) twice and is inlined into outer() and, through outer, into
# main(): the call sites carry two identical lines each (go1.26.8 -m=2, trimmed).
TWICE = """\
# example.com/esc2
./main.go:9:6: can inline pair with cost 21 as: func() (int, Index) { a := make(Index); b := make(Index); a["x"] = 1; return len(a), b }
./main.go:16:6: can inline outer with cost 26 as: func() Index { _, b := pair(); return b }
./main.go:21:6: can inline later with cost 3 as: func() Index { return make(Index) }
./main.go:25:6: cannot inline main: function too complex: cost 207 exceeds budget 80
./main.go:17:14: inlining call to pair
./main.go:26:14: inlining call to pair
./main.go:27:14: inlining call to outer
./main.go:27:14: inlining call to pair
./main.go:10:11: make(Index) does not escape
./main.go:11:11: make(Index) escapes to heap
./main.go:17:14: make(Index) does not escape
./main.go:17:14: make(Index) escapes to heap
./main.go:22:13: make(Index) escapes to heap
./main.go:26:14: make(Index) does not escape
./main.go:26:14: make(Index) does not escape
./main.go:27:14: make(Index) does not escape
./main.go:27:14: make(Index) escapes to heap
"""


def test_identical_copies_at_one_call_site_go_to_their_own_origins() -> None:
    report = parse_escape_text(TWICE)
    facts = {fact.position.line: fact for fact in report.facts}
    assert sorted(facts) == [10, 11, 22]
    first = [(c.position.line, c.verdict) for c in facts[10].inlined_copies]
    second = [(c.position.line, c.verdict) for c in facts[11].inlined_copies]
    assert first == [(17, Verdict.STACK), (26, Verdict.STACK), (27, Verdict.STACK)]
    assert second == [(17, Verdict.HEAP), (26, Verdict.STACK), (27, Verdict.HEAP)]
    assert facts[22].inlined_copies == ()  # outer's body ends before later() begins
