"""MG004/MG005 keep the races proven by a package-level map in a handler or a goroutine that runs
several times at once (and MG005, in that code, its check-then-lock); MG014 (off by default) reports
the rest, with the same message — also a write to a map the package locks elsewhere, which the
message names."""

from __future__ import annotations

from mapguard.lint.registry import OFF_BY_DEFAULT, rule_for, select_rules

from .conftest import WriteModule, findings_by_rule, lint_dir

COUNTER = """
package web

import (
	"net/http"
	"sync"
)

type Server struct {
	mu   sync.Mutex
	hits map[string]int
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits[r.URL.Path]++
}
"""

LOCKED_READ = """
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}
"""


def test_a_receiver_field_is_mg014_also_when_the_package_locks_it_elsewhere(
    write_module: WriteModule,
) -> None:
    alone = lint_dir(write_module({"web.go": COUNTER}, name="alone"))
    assert findings_by_rule(alone, "MG004") == []
    assert findings_by_rule(alone, "MG014") == [("web.go", 14, 2)]
    moved = next(f for f in alone.findings if f.rule == "MG014")
    assert "is a field reached through the receiver: two goroutines" in moved.message
    assert moved.severity == "warning"

    # A locked use elsewhere is named, but is no proof: on real trees the write was mostly
    # under a lock the rule does not see (a registering wrapper's, one taken under a flag).
    guarded = lint_dir(write_module({"web.go": COUNTER + LOCKED_READ}, name="guarded"))
    assert findings_by_rule(guarded, "MG004") == []
    assert findings_by_rule(guarded, "MG014") == [("web.go", 14, 2)]
    named = next(f for f in guarded.findings if f.rule == "MG014")
    assert "and elsewhere it is accessed with a lock held (web.go:20)" in named.message


def test_a_lock_in_a_test_file_is_not_named(write_module: WriteModule) -> None:
    test_file = 'package web\n\nimport "testing"\n\nfunc TestCount(t *testing.T) {\n' \
        '\ts := &Server{hits: map[string]int{}}\n\ts.mu.Lock()\n\t_ = s.hits["/"]\n' \
        '\ts.mu.Unlock()\n}\n'
    result = lint_dir(write_module({"web.go": COUNTER, "web_test.go": test_file}))
    assert findings_by_rule(result, "MG004") == []
    assert findings_by_rule(result, "MG014") == [("web.go", 14, 2)]
    assert "elsewhere" not in next(f for f in result.findings if f.rule == "MG014").message


GLOBAL = """
package jobs

import "net/http"

var seen = map[string]bool{}

func handle(w http.ResponseWriter, r *http.Request) {
	seen[r.URL.Path] = true
}

func Start(done chan struct{}) {
	go func() {
		seen["start"] = true
		close(done)
	}()
	seen["started"] = false
}
"""


def test_a_package_map_proves_sharing_in_a_handler_not_in_a_goroutine_started_once(
    write_module: WriteModule,
) -> None:
    result = lint_dir(write_module({"jobs.go": GLOBAL}))
    # The handler's write: one map per process, every request on its own goroutine.
    assert findings_by_rule(result, "MG004") == [("jobs.go", 8, 2)]
    # The goroutine runs once; only the starter's later use makes it shared: reachability.
    assert findings_by_rule(result, "MG014") == [("jobs.go", 13, 3)]


LAZY = """
package cfg

import (
	"net/http"
	"sync"
)

type Store struct {
	mu     sync.Mutex
	byName map[string]int
	hits   map[string]int
}

func (s *Store) Run(names []string) {
	for _, n := range names {
		go func(n string) {
			if s.byName == nil {
				s.byName = map[string]int{}
			}
			_ = n
		}(n)
	}
}

func (s *Store) Get(n string) int {
	if s.byName == nil {
		s.byName = map[string]int{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byName[n]
}

func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.hits == nil {
		s.hits = map[string]int{}
	}
	s.mu.Lock()
	s.hits[r.URL.Path]++
	s.mu.Unlock()
}
"""


def test_mg005_keeps_check_then_lock_in_a_handler_and_leaves_the_rest_to_mg014(
    write_module: WriteModule,
) -> None:
    result = lint_dir(write_module({"cfg.go": LAZY}))
    # Every request runs ServeHTTP on its own goroutine, and it writes s.hits under s.mu.
    assert findings_by_rule(result, "MG005") == [("cfg.go", 35, 2)]
    # A captured receiver (reachability), and check-then-lock where nothing shows two
    # goroutines run the check (Get may well be called by one).
    assert findings_by_rule(result, "MG014") == [("cfg.go", 17, 4), ("cfg.go", 26, 2)]


def test_mg014_is_off_by_default_and_a_profile_does_not_turn_it_on() -> None:
    mg014 = rule_for("unproven-shared-map-race")
    assert mg014 in OFF_BY_DEFAULT
    assert mg014 not in select_rules(None, [])
    assert mg014 not in select_rules(None, [], profile=True)
    assert rule_for("MG001") in select_rules(None, [], profile=True)
    assert mg014 in select_rules(None, [], extend=["MG014"])


# No `go`, no handler, no `nil`: only the getter's Lock lets MG014 run here.
GETTER = """
package labels

import "sync"

type Series struct {
	mu     sync.RWMutex
	labels map[string]string
}

func (s *Series) Set(k, v string) {
	s.mu.Lock()
	s.labels[k] = v
	s.mu.Unlock()
}

func (s *Series) Labels() map[string]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.labels%s
}
"""


def test_a_map_returned_past_its_lock_is_mg014_not_mg013(write_module: WriteModule) -> None:
    result = lint_dir(write_module({"series.go": GETTER % ""}, name="getter"))
    assert findings_by_rule(result, "MG013") == []
    assert findings_by_rule(result, "MG014") == [("series.go", 19, 9)]
    moved = next(f for f in result.findings if f.rule == "MG014")
    assert moved.message.startswith("returns `s.labels` itself, which is written in place")
    alone = lint_dir(write_module({"series.go": GETTER % ""}, name="alone"),
                     rules=(rule_for("MG013"),))
    assert not alone.findings


def test_an_mg013_ignore_comment_still_silences_the_getter(write_module: WriteModule) -> None:
    ignored = GETTER % " //mapguard:ignore MG013 filled before any caller reads"
    result = lint_dir(write_module({"series.go": ignored}))
    assert findings_by_rule(result, "MG014") == []
    assert findings_by_rule(result, "MG013") == []
