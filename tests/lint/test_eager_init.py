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


STORES = """
package stores

import "net/http"

type Store struct{ items map[string]string }

func newStore() *Store { return &Store{items: map[string]string{}} }

var (
	routes *Store
	quotas map[string]int
	users  *Store
	caches *Store
)

func init() {
	routes = newStore()
	quotas = make(map[string]int)
}

func init() {
	if len(quotas) == 0 {
		caches = newStore()
	}
	users = newStore()
}

// Routes: set by an init function, never set nil: the nil branch is dead.
func Routes() *Store {
	if routes == nil {
		routes = newStore()
	}
	return routes
}

// Quotas: the same, set with make.
func Quotas() map[string]int {
	if quotas == nil {
		quotas = map[string]int{}
	}
	return quotas
}

// Users: set by init, but Reset sets it nil again: the check can see nil.
func Users() *Store {
	if users == nil {
		users = newStore()
	}
	return users
}

func Reset() { users = nil }

// Caches: set by init only under a condition.
func Caches() *Store {
	if caches == nil {
		caches = newStore()
	}
	return caches
}

func handle(w http.ResponseWriter, r *http.Request) {
	_, _, _, _ = Routes(), Quotas(), Users(), Caches()
}

func Serve() { http.HandleFunc("/", handle) }
"""


def test_a_variable_an_init_function_sets_is_never_nil_to_a_handler(
        write_module: WriteModule) -> None:
    """Every init function runs before main and before any handler: a package-level variable
    one of them sets, at its top level, to a value that cannot be nil (a literal, make, or a
    constructor of the package that returns only `&T{...}`) is never nil to a handler's check,
    unless something sets it nil again. A value set under a condition may still be nil."""
    result = lint_dir(write_module({"stores.go": STORES}))
    lines = STORES.lstrip("\n").splitlines()
    checks = {line.strip(): n for n, line in enumerate(lines, start=1) if "== nil {" in line}
    assert sorted(line for _file, line, _column in findings_by_rule(result, "MG005")) == sorted(
        [checks["if users == nil {"], checks["if caches == nil {"]])


DOUBLE_CHECKED = """
package dash

import (
	"net/http"
	"sync"
)

type Dashboard struct{ stats map[string]int }

var (
	dash *Dashboard
	lock sync.Mutex
	tabs map[string]int
)

// Get: double-checked locking; only one goroutine assigns.
func Get() *Dashboard {
	if dash == nil {
		lock.Lock()
		defer lock.Unlock()
		if dash == nil {
			dash = &Dashboard{}
		}
	}
	return dash
}

// Tabs: checked and set without the lock.
func Tabs() map[string]int {
	if tabs == nil {
		tabs = map[string]int{}
	}
	return tabs
}

func handle(w http.ResponseWriter, r *http.Request) {
	_, _ = Get(), Tabs()
}

func Serve() { http.HandleFunc("/", handle) }
"""


def test_double_checked_locking_in_a_function_a_handler_calls_is_not_reported(
        write_module: WriteModule) -> None:
    """What MG005 leaves alone in a handler it leaves alone in the functions a handler calls
    (portworx/torpedo's dashboard `Get`, reached from a gin handler): the assignment of
    double-checked locking runs under the lock."""
    result = lint_dir(write_module({"dash.go": DOUBLE_CHECKED}))
    lines = DOUBLE_CHECKED.lstrip("\n").splitlines()
    tabs_check = next(n for n, line in enumerate(lines, start=1) if "if tabs == nil {" in line)
    assert [line for _file, line, _column in findings_by_rule(result, "MG005")] == [tabs_check]


RELOADED = """
package stores

import "net/http"

type Store struct{ items map[string]string }

func newStore() *Store { return &Store{items: map[string]string{}} }

func load() (*Store, error) { return nil, nil }

var routes *Store

func init() { routes = newStore() }

// Reload may set it to what load returns, which may be nil.
func Reload() (err error) {
	routes, err = load()
	return err
}

func Routes() *Store {
	if routes == nil {
		routes = newStore()
	}
	return routes
}

func handle(w http.ResponseWriter, r *http.Request) { _ = Routes() }

func Serve() { http.HandleFunc("/", handle) }
"""


def test_a_variable_set_again_to_what_may_be_nil_keeps_its_finding(
        write_module: WriteModule) -> None:
    result = lint_dir(write_module({"stores.go": RELOADED}))
    lines = RELOADED.lstrip("\n").splitlines()
    check = next(n for n, line in enumerate(lines, start=1) if "if routes == nil {" in line)
    assert [line for _file, line, _column in findings_by_rule(result, "MG005")] == [check]
