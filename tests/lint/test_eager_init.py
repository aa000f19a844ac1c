"""MG005 and fields set before the goroutines start: the check-then-lock form stays."""

from __future__ import annotations

from .conftest import WriteModule, findings_by_rule, lint_dir

REGISTRY = """
package reg

import "sync"

type Registry struct {
	mu       sync.Mutex
	counters map[string]int
}

func New() *Registry { return &Registry{counters: map[string]int{}} }

// Count checks outside the lock it then takes for the same field.
func (r *Registry) Count(name string) {
	if r.counters == nil {
		r.counters = map[string]int{}
	}
	r.mu.Lock()
	r.counters[name]++
	r.mu.Unlock()
}

func (r *Registry) Run(names []string) {
	for _, n := range names {
		go r.Count(n)
	}
}

type Stats struct {
	seen map[string]int
}

func NewStats() *Stats { return &Stats{seen: map[string]int{}} }

// Peek only reads after its check: every Stats the module builds has seen set.
func (s *Stats) Peek(name string) int {
	if s.seen == nil {
		s.seen = map[string]int{}
	}
	return s.seen[name]
}

func (s *Stats) Run(names []string) {
	for _, n := range names {
		go s.Peek(n)
	}
}
"""


def test_check_then_lock_is_reported_even_when_the_constructor_sets_the_field(
    write_module: WriteModule,
) -> None:
    result = lint_dir(write_module({"reg.go": REGISTRY}))
    # Count's check is outside the lock it takes for the same field: a value built elsewhere
    # (by a library's user, as a zero value) races there, and the rule keeps saying so. Peek's
    # field is set by the only constructor and nothing uses it under a lock: not reported.
    assert findings_by_rule(result, "MG005") == [("reg.go", 14, 2)]
