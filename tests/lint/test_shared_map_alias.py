"""MG013: what its messages say (the owner, where the map was handed out, the advice for the
module's Go version), that it offers no automatic fix, and where it looks across files (also for
the getter shape it gave to MG014).
Positions and the tricky negatives are in the corpus (tests/fixtures/corpus/mg013_*)."""

from __future__ import annotations

from .conftest import WriteModule, findings_by_rule, lint_dir

DEFAULTS = """
package p

var defaults = map[string]string{"User-Agent": "x"}

type Request struct{ Header map[string]string }

func build(id string) *Request {
	req := &Request{Header: defaults}
	req.Header["X-Id"] = id
	return req
}
"""

GUARDED = """
package p

import "sync"

type Series struct {
	mu     sync.Mutex
	labels map[string]string
}

func (s *Series) Labels() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.labels
}
"""

WRITER = """
package p

func (s *Series) Set(k, v string) {
	s.mu.Lock()
	s.labels[k] = v
	s.mu.Unlock()
}
"""


def test_a_hand_out_names_the_owner_the_line_and_maps_clone(write_module: WriteModule) -> None:
    result = lint_dir(write_module({"p.go": DEFAULTS}))
    assert findings_by_rule(result, "MG013") == [("p.go", 9, 2)]
    finding = next(f for f in result.findings if f.rule == "MG013")
    assert "the package variable `defaults`" in finding.message
    assert "(line 8)" in finding.message and "maps.Clone(defaults)" in finding.message
    assert finding.fix is None  # advice only: a copy changes what the other holders see


def test_before_go_1_21_the_advice_is_a_copy_loop(write_module: WriteModule) -> None:
    result = lint_dir(write_module({"p.go": DEFAULTS}, go="1.20"))
    message = next(f.message for f in result.findings if f.rule == "MG013")
    assert "(a copy of `defaults` made by a loop)" in message and "maps.Clone" not in message


def test_a_getter_is_judged_by_the_owners_writes_in_other_files(
    write_module: WriteModule,
) -> None:
    # The getter shape is MG014's (MG013's before round 9), with the message MG013 gave.
    alone = lint_dir(write_module({"series.go": GUARDED}, name="alone"))
    assert findings_by_rule(alone, "MG014") == []  # nothing writes the map in place
    both = lint_dir(write_module({"series.go": GUARDED, "writer.go": WRITER}, name="both"))
    assert findings_by_rule(both, "MG014") == [("series.go", 13, 9)]
    assert findings_by_rule(both, "MG013") == []
    message = next(f.message for f in both.findings if f.rule == "MG014")
    assert "writer.go:5" in message and "the lock it takes here" in message


def test_test_files_are_not_reported(write_module: WriteModule) -> None:
    result = lint_dir(write_module({"p_test.go": DEFAULTS}))
    assert findings_by_rule(result, "MG013") == []


CALLER = """
package p

import "sync"

type Tags struct {
	mu   sync.RWMutex
	tags map[string]string
}

func (t *Tags) Get() map[string]string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.tags
}

func label(t *Tags, host string) {
	labels := t.Get()
	labels["host"] = host
}

func labelLocked(t *Tags, host string) {
	other.Lock()
	defer other.Unlock()
	labels := t.Get()
	labels["host"] = host
}

var other sync.Mutex
"""


def test_a_callers_write_to_a_locking_getters_map_names_the_getter(
    write_module: WriteModule,
) -> None:
    result = lint_dir(write_module({"p.go": CALLER}))
    # A write made with a lock held is not reported: which lock it is cannot be told.
    assert findings_by_rule(result, "MG013") == [("p.go", 18, 2)]
    message = next(f.message for f in result.findings if f.rule == "MG013")
    assert "the map `Get` returns" in message and "p.go:13" in message


TREE = """
package fields

type node struct{ children map[string]node }

type Plugin struct{ root node }

func (p *Plugin) Reset() { p.root = node{children: map[string]node{}} }

func (p *Plugin) Add(k string) {
	cur := p.root
	cur.children[k] = node{}
}

func (p *Plugin) Rebuild(k string) {
	p.root = node{children: map[string]node{}}
	cur := p.root
	cur.children[k] = node{}
}
"""


def test_a_copy_of_the_struct_the_call_just_stored_fills_its_own_map(
    write_module: WriteModule,
) -> None:
    """Rebuild made p.root itself before copying it (file.d's tree cursor); Add writes
    through a copy of a root made elsewhere, which every holder shares."""
    result = lint_dir(write_module({"t.go": TREE}))
    assert findings_by_rule(result, "MG013") == [("t.go", 11, 2)]



EMBEDDED = """
package jet

type scope struct{ variables map[string]int }

type Runtime struct {
	*scope
}

type Snapshot struct {
	scope
}

func (st *Runtime) set(name string, v int) {
	sc := st.scope
	sc.variables[name] = v
}

func (s *Snapshot) set(name string, v int) {
	sc := s.scope
	sc.variables[name] = v
}
"""


def test_an_embedded_pointer_is_copied_as_a_pointer(write_module: WriteModule) -> None:
    """jet's Runtime embeds *scope: `sc := st.scope` is the scope itself (round 12, S1). A
    scope embedded by value is copied, and its map with it."""
    result = lint_dir(write_module({"jet.go": EMBEDDED}))
    assert findings_by_rule(result, "MG013") == [("jet.go", 20, 2)]
