"""MG004-MG009: what the messages promise, severities, version gating, the concurrency model."""

from __future__ import annotations

from pathlib import Path

from mapguard.goversion import GoVersion
from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.registry import rule_for
from mapguard.lint.rule import Severity
from mapguard.source.calls import call_sites, runs_under_once
from mapguard.source.concurrency import Concurrency
from mapguard.source.discover import Selection, expand, read_target
from mapguard.source.loader import VersionChoice, load_packages
from mapguard.source.locks import Mode, channel_locks_in, lock_held_by_doc, lock_mode_at
from mapguard.source.package import Package
from mapguard.source.typeinfo import TypeInfo
from mapguard.source.valueflow import set_before_starter_calls

from .conftest import WriteModule, findings_by_rule, lint_dir

HANDLER = """
package web

import (
	"net/http"
	"sync"
)

var (
	mu   sync.RWMutex
	hits = map[string]int{}
)

func count(w http.ResponseWriter, r *http.Request) {
	hits[r.URL.Path]++
}

func countRead(w http.ResponseWriter, r *http.Request) {
	mu.RLock()
	hits[r.URL.Path]++
	mu.RUnlock()
}

func countLocked(w http.ResponseWriter, r *http.Request) {
	mu.Lock()
	defer mu.Unlock()
	hits[r.URL.Path]++
}

func local(w http.ResponseWriter, r *http.Request) {
	seen := map[string]int{}
	seen[r.URL.Path]++
}
"""


def test_mg004_handler_write_names_the_fatal_error_and_the_fix(write_module: WriteModule) -> None:
    result = lint_dir(write_module({"web.go": HANDLER}))
    assert findings_by_rule(result, "MG004") == [("web.go", 14, 2), ("web.go", 19, 2)]
    plain, read_locked = (f for f in result.findings if f.rule == "MG004")
    assert plain.severity is Severity.ERROR
    assert "fatal error: concurrent map writes" in plain.message
    assert "HTTP handler" in plain.message and "sync.Mutex" in plain.message
    assert "RLock only allows reads" in read_locked.message


def test_concurrency_model_knows_contexts_and_repeatability(write_module: WriteModule) -> None:
    source = """
    package jobs

    func once(m map[string]int) {
    	go func() { m["a"] = 1 }()
    }

    func many(ids []string, m map[string]int) {
    	for _, id := range ids {
    		go work(id, m)
    	}
    }

    func work(id string, m map[string]int) { m[id] = 1 }

    func first(ids []string, m map[string]int) error {
    	for _, id := range ids {
    		go watch(id, m)
    		return nil
    	}
    	return nil
    }

    func watch(id string, m map[string]int) { m[id] = 2 }

    func sequential(ids []string) {
    	for _, id := range ids {
    		done := make(chan struct{})
    		go finish(id, done)
    		<-done
    	}
    }

    func finish(id string, done chan struct{}) { close(done) }
    """
    root = write_module({"jobs.go": source})
    (target,) = expand([str(root)], root, Selection()).targets
    package_dir, _unreadable = read_target(target, Selection())
    assert package_dir is not None
    (package,), _errors = load_packages(
        package_dir, lambda _module: VersionChoice(GoVersion(1, 22), "flag"))
    model = Concurrency(package, TypeInfo(package))
    kinds = {(_name(c.function), c.kind, c.repeatable) for c in model.contexts}
    assert kinds == {("work", "go-func", True), ("", "goroutine", False),
                     ("watch", "go-func", False),  # the loop returns after its first `go`
                     ("finish", "go-func", False)}  # each pass waits for its goroutine


def _name(function: object) -> str:
    name = function.child_by_field_name("name")  # type: ignore[attr-defined]
    return name.text.decode() if name is not None else ""


def test_mg005_after_once_a_goto_can_skip_the_assignment(write_module: WriteModule) -> None:
    """The check after `once.Do` is dead only when every path of the Once function sets the
    value: a `goto` past the assignment leaves it nil, and the check is a real lazy set-up."""
    source = """
    package lib

    import (
    	"net/http"
    	"sync"
    )

    type S struct{ m map[string]int }

    var (
    	svc  *S
    	once sync.Once
    )

    func Get(skip bool) *S {
    	once.Do(func() {
    		if skip {
    			goto done
    		}
    		svc = &S{m: map[string]int{}}
    	done:
    	})
    	if svc == nil {
    		svc = &S{m: map[string]int{}}
    	}
    	return svc
    }

    func Serve(w http.ResponseWriter, r *http.Request) { Get(r.URL.Query().Has("skip")) }
    """
    root = write_module({"lib.go": source})
    found = [f for f in lint([f"{root}/..."], LintOptions(jobs=1)).findings if f.rule == "MG005"]
    assert [f.line for f in found] == [source.count("\n", 0, source.index("if svc == nil"))]


def test_mg005_severity_depends_on_the_context(write_module: WriteModule) -> None:
    source = """
    package lib

    import (
    	"net/http"
    	"sync"
    )

    var (
    	mu    sync.Mutex
    	table map[string]int
    )

    func Table() int {
    	if table == nil {
    		table = map[string]int{}
    	}
    	mu.Lock()
    	defer mu.Unlock()
    	return len(table)
    }

    type Cache struct {
    	mu sync.Mutex
    	m  map[string]int
    }

    func (c *Cache) get(k string) int {
    	if c.m == nil {
    		c.m = map[string]int{}
    	}
    	c.mu.Lock()
    	defer c.mu.Unlock()
    	return c.m[k]
    }

    func handle(w http.ResponseWriter, r *http.Request) {
    	if table == nil {
    		table = map[string]int{}
    	}
    }

    func Set(k string) {
    	mu.Lock()
    	defer mu.Unlock()
    	table[k] = 1
    }

    func (c *Cache) put(k string) {
    	c.mu.Lock()
    	c.m[k] = 1
    	c.mu.Unlock()
    }

    func (c *Cache) Get(k string) int { return c.get(k) }
    """
    result = lint_dir(write_module({"lib.go": source}))
    # The handler's check is MG005's, an error; check-then-lock outside concurrent code is
    # MG014's (off by default), a warning with the lock it found in its message.
    severities = [(f.line, f.severity) for f in result.findings if f.rule == "MG005"]
    assert severities == [(37, Severity.ERROR)]
    unproven = [(f.line, f.severity) for f in result.findings if f.rule == "MG014"]
    assert unproven == [(14, Severity.WARNING), (28, Severity.WARNING)]
    assert all("sync.OnceValue" in f.message for f in result.findings)
    by_line = {f.line: f.message for f in result.findings}
    assert "it reads `table` with a lock held at line 19" in by_line[14]
    assert "it reads `c.m` with a lock held at line 33" in by_line[28]


def test_mg014_takes_check_then_lock_outside_concurrent_code_only_from_its_own_function(
    write_module: WriteModule,
) -> None:
    """Without a goroutine or handler in sight, MG005 reports nothing, and MG014 a nil check
    only when the same function uses the value with a lock held (check-then-lock): a mutex in
    the type, an exported function, or a lock that another function takes does not show that
    the check can run concurrently with anything."""
    source = """
    package lib

    import "sync"

    var defaults map[string]int

    func Defaults() map[string]int {
    	if defaults == nil {
    		defaults = map[string]int{"a": 1}
    	}
    	return defaults
    }

    type Server struct {
    	mu      sync.Mutex
    	clients map[string]int
    	opts    map[string]string
    }

    func (s *Server) options() map[string]string {
    	if s.opts == nil {
    		s.opts = map[string]string{}
    	}
    	return s.opts
    }

    func (s *Server) Add(name string) {
    	if s.clients == nil {
    		s.clients = map[string]int{}
    	}
    	s.mu.Lock()
    	s.clients[name]++
    	s.mu.Unlock()
    }

    // Count locks s.opts only in options' callers: not this function's check.
    func (s *Server) Count() int {
    	s.mu.Lock()
    	defer s.mu.Unlock()
    	return len(s.options())
    }

    // reset is called by nothing: it cannot race.
    func (s *Server) reset() {
    	if s.clients == nil {
    		s.clients = map[string]int{}
    	}
    	s.mu.Lock()
    	s.clients["reset"]++
    	s.mu.Unlock()
    }
    """
    result = lint_dir(write_module({"lib.go": source}))
    assert [(f.rule, f.line) for f in result.findings] == [("MG014", 28)]  # Add only


def test_mg006_and_mg007_respect_the_go_version(write_module: WriteModule) -> None:
    source = """
    package p

    import (
    	"sync"
    	"sync/atomic"
    	"unsafe"
    )

    var pool = sync.Pool{New: func() any { p := map[string]int{}; return &p }}
    var current unsafe.Pointer

    func use() {
    	p := pool.Get().(*map[string]int)
    	(*p)["x"]++
    	pool.Put(p)
    }

    func set(m map[string]int) { atomic.StorePointer(&current, unsafe.Pointer(&m)) }

    func get() map[string]int { return *(*map[string]int)(atomic.LoadPointer(&current)) }
    """
    new = lint_dir(write_module({"p.go": source}, name="new"))
    (pooled,) = (f for f in new.findings if f.rule == "MG006")
    assert "clear(*p)" in pooled.message
    swaps = [f for f in new.findings if f.rule == "MG007"]
    assert len(swaps) == 2 and "atomic.Pointer[map[string]int]" in swaps[0].message
    assert "stores &m" in swaps[0].message
    old = lint_dir(write_module({"p.go": source}, go="1.18", name="old"))
    (pooled_old,) = old.findings  # no MG007: atomic.Pointer is Go 1.19
    assert pooled_old.rule == "MG006" and "clear(" not in pooled_old.message
    assert "for k := range *p { delete(*p, k) }" in pooled_old.message


def test_mg007_names_an_imported_type_as_the_code_names_its_package(
        write_module: WriteModule) -> None:
    """A versioned import path (`example.com/mod/apm/v2`, package apm) is named as the code
    names it, not by the path's last element (`atomic.Pointer[v2.Span]` does not compile)."""
    root = write_module({
        "apm/v2/span.go": """
        package apm

        // Span is one traced operation.
        type Span struct{ Name string }
        """,
        "trace/trace.go": """
        package trace

        import (
        	"sync/atomic"
        	"unsafe"

        	"example.com/mod/apm/v2"
        )

        var current unsafe.Pointer

        // Current returns the span in progress.
        func Current() *apm.Span { return (*apm.Span)(atomic.LoadPointer(&current)) }

        // Start records s as the span in progress.
        func Start(s *apm.Span) { atomic.StorePointer(&current, unsafe.Pointer(s)) }
        """,
    })
    messages = [f.message for f in lint_dir(root).findings if f.rule == "MG007"]
    assert len(messages) == 2
    assert all("atomic.Pointer[apm.Span]" in m and "v2." not in m for m in messages)


def test_mg009_tells_linkable_pulls_from_refused_ones(write_module: WriteModule) -> None:
    source = """
    package fast

    import _ "unsafe"

    //go:linkname strhash runtime.strhash
    func strhash(p uintptr, h uintptr) uintptr

    //go:linkname mapclear runtime.mapclear
    func mapclear(t, m uintptr)

    //go:linkname nanotime runtime.nanotime
    func nanotime() int64

    //go:linkname assign runtime.mapassign_faststr
    func assign(t, m uintptr, k string) uintptr

    //go:linkname grow runtime.hashGrow
    func grow(t, m uintptr)
    """
    result = lint_dir(write_module({"fast.go": source}))
    linkable, refused, assign, gone = (f for f in result.findings if f.rule == "MG009")
    assert (linkable.line, refused.line, assign.line, gone.line) == (5, 8, 14, 17)
    assert "still accepts this pull" in linkable.message and "maphash" in linkable.message
    assert "go.dev/issue/67401" in linkable.message
    assert "Go 1.27's linker refuses this pull" in refused.message
    assert "every release checked from Go 1.24 on; Go 1.23 still linked it" in refused.message
    assert "reflect" in refused.message
    assert "Swiss tables" in assign.message and "*abi.MapType and *maps.Map" in assign.message
    assert "Go 1.27 has no such symbol" in gone.message and "Go 1.23 refused it" in gone.message


def test_mg009_ignores_pushes(write_module: WriteModule) -> None:
    source = """
    package rt

    import _ "unsafe"

    //go:linkname reflect_makemap reflect.makemap
    func reflect_makemap() int { return 0 }
    """
    assert lint_dir(write_module({"rt.go": source})).findings == ()


def test_mg008_reports_writes_after_publication_only(write_module: WriteModule) -> None:
    source = """
    package cfg

    import (
    	"maps"
    	"sync/atomic"
    )

    var current atomic.Pointer[map[string]string]

    func Set(k, v string) {
    	m := *current.Load()
    	m[k] = v
    }

    func SetCOW(k, v string) {
    	next := maps.Clone(*current.Load())
    	next[k] = v
    	current.Store(&next)
    }
    """
    result = lint_dir(write_module({"cfg.go": source}))
    (finding,) = result.findings
    assert (finding.rule, finding.line) == ("MG008", 12)
    assert "atomic.Pointer" in finding.message and "maps.Clone" in finding.message


def test_concurrency_rules_explain_themselves() -> None:
    for code in ("MG004", "MG005", "MG006", "MG007", "MG008", "MG009"):
        doc = rule_for(code).doc
        for heading in ("## What it does", "## Why is this bad?", "## Example",
                        "## Use instead", "## When it is a false alarm"):
            assert heading in doc, (code, heading)


def test_lint_runs_every_rule_by_default(write_module: WriteModule) -> None:
    result = lint([str(write_module({"web.go": HANDLER}))], LintOptions(jobs=1))
    assert {f.rule for f in result.findings} == {"MG004"}


def test_waitgroup_go_starts_a_goroutine(write_module: WriteModule) -> None:
    source = """
    package words

    import "sync"

    func count(words []string) map[string]int {
    	counts := map[string]int{}
    	var wg sync.WaitGroup
    	for _, w := range words {
    		wg.Go(func() {
    			counts[w]++
    		})
    	}
    	wg.Wait()
    	return counts
    }
    """
    result = lint_dir(write_module({"words.go": source}, go="1.25"))
    # A local of the starter, declared before the loop, captured by every pass's goroutine:
    # they write one map at once, which proves it shared (MG004, not MG014).
    assert findings_by_rule(result, "MG004") == [("words.go", 10, 4)]
    assert findings_by_rule(result, "MG014") == []


LOOP_CAPTURES = """
package words

import (
	"sync"

	"golang.org/x/sync/errgroup"
)

// Each pass has its own map: no two goroutines share one.
func perPass(batches [][]string) {
	var wg sync.WaitGroup
	for _, batch := range batches {
		seen := map[string]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, w := range batch {
				seen[w] = true
			}
		}()
	}
	wg.Wait()
}

// Every pass waits for its goroutine before the next starts.
func oneAtATime(words []string) map[string]int {
	counts := map[string]int{}
	for _, w := range words {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[w]++
		}()
		wg.Wait()
	}
	return counts
}

// A group limited to one goroutine runs them one after another.
func limited(words []string) map[string]int {
	counts := map[string]int{}
	var g errgroup.Group
	g.SetLimit(1)
	for _, w := range words {
		g.Go(func() error {
			counts[w]++
			return nil
		})
	}
	_ = g.Wait()
	return counts
}

// The write is under the goroutines' common lock.
func locked(words []string) map[string]int {
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for _, w := range words {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			counts[w]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return counts
}

// One goroutine, started once: the starter owns the map with it.
func once(words []string) map[string]int {
	counts := map[string]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, w := range words {
			counts[w]++
		}
	}()
	<-done
	return counts
}

// Several goroutines, one map: the race the proof is for.
func shared(words []string, workers int) map[string]int {
	counts := map[string]int{}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, w := range words[i:] {
				counts[w]++
			}
		}()
	}
	wg.Wait()
	return counts
}
"""


def test_a_map_every_goroutine_of_a_loop_captures_is_mg004_and_only_that(
        write_module: WriteModule) -> None:
    """The proof `Sharing.loop_shared` gives: the starter's own variable, declared before the
    loop whose passes start goroutines without waiting for them. A map made per pass, a loop
    that waits each pass, an errgroup limited to one, a lock, a goroutine started once: none."""
    result = lint_dir(write_module({"words.go": LOOP_CAPTURES}, go="1.25"))
    lines = LOOP_CAPTURES.lstrip("\n").splitlines()
    start = lines.index("func shared(words []string, workers int) map[string]int {")
    shared_write = next(number for number, line in enumerate(lines, start=1)
                        if number > start and "counts[w]++" in line)
    assert findings_by_rule(result, "MG004") == [("words.go", shared_write, 5)]
    assert findings_by_rule(result, "MG014") == []


def _load(root: Path) -> Package:
    (target,) = expand([str(root)], root, Selection()).targets
    package_dir, _unreadable = read_target(target, Selection())
    assert package_dir is not None
    (package,), _errors = load_packages(
        package_dir, lambda _module: VersionChoice(GoVersion(1, 22), "flag"))
    return package


def _mode_at(package: Package, file_name: str, text: str) -> Mode:
    """The lock mode at the first statement of `file_name` that starts with `text`."""
    info = TypeInfo(package)
    go_file = next(f for f in package.files if f.path.name == file_name)
    start = go_file.source.index(text.encode())
    node = go_file.node_at(start, start + len(text))
    assert node is not None
    return lock_mode_at(node, go_file, info)


def test_helper_whose_every_caller_holds_the_lock_counts_as_locked(
    write_module: WriteModule,
) -> None:
    source = """
    package cache

    import "sync"

    type Cache[V any] struct {
    	mu sync.Mutex
    	m  map[string]V
    }

    func (c *Cache[V]) Get(k string) V {
    	c.mu.Lock()
    	defer c.mu.Unlock()
    	return c.lookup(k)
    }

    func (c *Cache[V]) lookup(k string) V {
    	c.m[k] = c.m[k]
    	return c.m[k]
    }
    """
    test = """
    package cache

    import "testing"

    func TestLookupEmpty(t *testing.T) { _ = (&Cache[int]{m: map[string]int{}}).lookup("k") }
    """
    # Generic receiver; the direct call from a test does not count against the helper.
    locked = _load(write_module({"cache.go": source, "cache_test.go": test}, name="locked"))
    assert _mode_at(locked, "cache.go", "c.m[k] = c.m[k]") is Mode.WRITE
    unlocked = source + """
    func (c *Cache[V]) Peek(k string) V { return c.lookup(k) }
    """
    peeked = _load(write_module({"cache.go": unlocked}, name="unlocked"))
    assert _mode_at(peeked, "cache.go", "c.m[k] = c.m[k]") is Mode.NONE


def test_a_lock_wrapper_that_returns_its_guard_counts_as_held(
    write_module: WriteModule,
) -> None:
    source = """
    package sched

    type Guard struct{ release func() }

    func (g Guard) Unlock() { g.release() }

    type NamedMutex struct{ ch chan struct{} }

    func (m *NamedMutex) Lock(why string) Guard {
    	m.ch <- struct{}{}
    	return Guard{func() { <-m.ch }}
    }

    type Scheduler struct {
    	mu      NamedMutex
    	workers map[string]int
    }

    func (s *Scheduler) remove(w string) {
    	guard := s.mu.Lock("remove")
    	defer guard.Unlock()
    	delete(s.workers, w)
    }

    func (s *Scheduler) add(w string) {
    	guard := s.mu.Lock("add")
    	s.workers[w]++
    	guard.Unlock()
    	s.workers[w]--
    }
    """
    package = _load(write_module({"sched.go": source}, name="guard"))
    assert _mode_at(package, "sched.go", "delete(s.workers, w)") is Mode.WRITE
    assert _mode_at(package, "sched.go", "s.workers[w]++") is Mode.WRITE
    assert _mode_at(package, "sched.go", "s.workers[w]--") is Mode.NONE


def test_lock_held_doc_comments_in_their_real_wordings() -> None:
    held = ["Lock should be held.", "Lock held on entry", "Write lock should be held.",
            "Server lock is held on entry.", "must be called with the lock held",
            "callers must hold mu", "Caller must hold c.mu.", "assumes lock is held",
            "Lock must be held.", "REQUIRES s.mu is held.", "Must be called with l.mu held.",
            "This assumes that the mutex has been locked already.", "l.mu is held.",
            "It must be called with mu locked.", "(Write) Lock held on entry.",
            "Assume the lock is held upon entry.", "mset.clMu lock must be held."]
    read = ["Read lock should be held.", "At least a read lock must be held."]
    not_held = ["No lock held on entry.", "Lock should not be held.",
                "Lock MUST NOT be held upon entry.", "Assumes lock is NOT held",
                "Lock not held on entry, but session is in the locked map.",
                "Lock does NOT need to be held, we set the client on setup.",
                "Release releases the lock. No-op if the lock is not held.",
                "mu protects the map.", "Lock locks the mutex.",
                "Returns the internal client, will create one if not present."]
    assert [w for w in held if lock_held_by_doc(w) is not Mode.WRITE] == []
    assert [w for w in read if lock_held_by_doc(w) is not Mode.READ] == []
    assert [w for w in not_held if lock_held_by_doc(w) is not Mode.NONE] == []


ACTOR = """
package links

import "github.com/Arceliar/phony"

type links struct {
	phony.Inbox
	_links map[string]int // only the links actor touches it
}

func (l *links) start(addrs []string) {
	for _, addr := range addrs {
		go func(addr string) {
			phony.Block(l, func() {
				l._links[addr]++
			})
			defer l.Act(nil, func() {
				delete(l._links, addr)
			})
		}(addr)
	}
}

func (l *links) racy(addrs []string) {
	for _, addr := range addrs {
		go func(addr string) {
			l._links[addr] = 0
		}(addr)
	}
}
"""


def test_mg004_leaves_an_actors_state_to_its_inbox(write_module: WriteModule) -> None:
    """yggdrasil's links actor (github.com/Arceliar/phony): functions handed to `phony.Block`
    or `Act` run in the actor's inbox one at a time; a write outside the inbox still races."""
    root = write_module({"links.go": ACTOR})
    racy = ACTOR.lstrip().splitlines().index("\t\t\tl._links[addr] = 0") + 1
    assert findings_by_rule(lint_dir(root), "MG014") == [("links.go", racy, 4)]
    # Without the actor package, Block and Act are ordinary calls: the writes race.
    plain = write_module({"links.go": ACTOR.replace('"github.com/Arceliar/phony"',
                                                    'phony "example.com/actors"')}, name="plain")
    assert len(findings_by_rule(lint_dir(plain), "MG014")) == 3


def test_a_lock_taken_in_every_branch_is_held_after_the_if(write_module: WriteModule) -> None:
    source = """
    package store

    import "sync"

    type Store struct {
    	mu sync.RWMutex
    	m  map[string]int
    }

    func (s *Store) Both(k string, fast bool) {
    	if fast {
    		s.mu.Lock()
    		defer s.mu.Unlock()
    	} else if k == "" {
    		return
    	} else {
    		s.mu.Lock()
    		defer s.mu.Unlock()
    	}
    	s.m["both"] = 1
    }

    func (s *Store) ReadInOne(k string, fast bool) {
    	if fast {
    		s.mu.Lock()
    		defer s.mu.Unlock()
    	} else {
    		s.mu.RLock()
    		defer s.mu.RUnlock()
    	}
    	s.m["read-in-one"] = 1
    }

    func (s *Store) NoElse(k string) {
    	if k != "" {
    		s.mu.Lock()
    		defer s.mu.Unlock()
    	}
    	s.m["no-else"] = 1
    }
    """
    package = _load(write_module({"store.go": source}, name="branches"))
    assert _mode_at(package, "store.go", 's.m["both"] = 1') is Mode.WRITE
    assert _mode_at(package, "store.go", 's.m["read-in-one"] = 1') is Mode.READ
    assert _mode_at(package, "store.go", 's.m["no-else"] = 1') is Mode.NONE


def test_a_followed_goroutine_is_not_said_to_run_several_times_at_once_twice(
    write_module: WriteModule,
) -> None:
    source = """
    package workers

    var seen = map[string]bool{}

    func record(name string) { seen[name] = true }

    func Start(names []string) {
    	for _, n := range names {
    		go func(n string) { record(n) }(n)
    	}
    }
    """
    result = lint_dir(write_module({"w.go": source}))
    message = next(f.message for f in result.findings if f.rule == "MG004")
    # The goroutine's description already says it (marketstore's message said it twice), and
    # each clause has its verb (round 14, murex: "..., which runs several times at once
    # reaches" and "and the goroutine started at ..., which runs several times at once:").
    assert ("in record, which the goroutine started at w.go:9, which runs several times at "
            "once, reaches through the call at w.go:9: `seen` is a package-level map, and the "
            "goroutine started at w.go:9 runs several times at once: two goroutines") in message
    assert "at once runs several times" not in message


def test_a_package_level_value_that_is_no_map_is_called_a_variable(
        write_module: WriteModule) -> None:
    # Round 14 read "`linkService` is a package-level map" for a lazily built *Service.
    root = write_module({"web.go": """
        package web

        import "net/http"

        type Cache struct{ hits map[string]int }

        var (
        	shared = &Cache{hits: map[string]int{}}
        	svc    *Cache
        	counts = map[string]int{}
        )

        func (c *Cache) touch(k string) { c.hits[k]++ }

        func service() *Cache {
        	if svc == nil {
        		svc = &Cache{}
        	}
        	return svc
        }

        func handle(w http.ResponseWriter, r *http.Request) {
        	shared.touch(r.URL.Path)
        	service()
        	counts[r.URL.Path]++
        }
        """})
    messages = {f.rule: f.message for f in lint_dir(root).findings}
    assert "`shared` is a package-level variable:" in messages["MG014"]
    assert "`svc` is a package-level variable, and" in messages["MG005"]
    assert "`counts` is a package-level map" in messages["MG004"]


def test_a_goroutine_is_placed_by_its_path_in_the_module(write_module: WriteModule) -> None:
    # Round 14 (vsphere-csi-driver): "started at nodemapper.go:106" for tests/e2e/nodemapper.go.
    source = """
    package workers

    var seen = map[string]bool{}

    func Start(names []string) {
    	for _, n := range names {
    		go func(n string) { seen[n] = true }(n)
    	}
    }
    """
    result = lint_dir(write_module({"tests/e2e/w.go": source}))
    message = next(f.message for f in result.findings if f.rule == "MG004")
    assert "in the goroutine started at tests/e2e/w.go:7, which runs several times at" in message


def test_mg004_names_the_goroutine_of_the_linux_amd64_build(write_module: WriteModule) -> None:
    # The same pipeline started from two build variants of one file (murex's interpreter_js.go
    # and interpreter_pc.go): the message names the one `go build` on linux/amd64 reads,
    # whichever sorts first: for a write in the goroutine and for one in what it calls.
    starter = """{constraint}package pipe

func Run(steps []string) {{
	for _, step := range steps {{
		go execute(step)
	}}
}}
"""
    module = write_module({
        "run_js.go": starter.format(constraint=""),
        "run_other.go": starter.format(constraint="//go:build !js\n\n"),
        "exec.go": """package pipe

var modes = map[string]int{}

func execute(step string) {
	modes[step]++
	compile(step)
}

func compile(step string) {
	modes[step+"!"] = 1
}
""",
    })
    messages = [f.message for f in lint_dir(module).findings if f.rule == "MG004"]
    assert len(messages) == 2  # in the goroutine, and in the function it calls
    for message in messages:
        assert "started at run_other.go:7" in message, message


def test_mg004_and_mg005_say_when_the_write_is_in_a_time_afterfunc_callback(
        write_module: WriteModule) -> None:
    # skia's autoroll-fe: a handler schedules `delete(edits, id)` an hour later. The write
    # runs on the timer's goroutine, not in the handler; every request schedules one.
    module = write_module({"web.go": """package web

import (
	"net/http"
	"time"
)

var (
	edits  = map[string]bool{}
	limits map[string]int
)

func edit(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	edits[id] = true
	time.AfterFunc(time.Hour, func() {
		delete(edits, id)
		if limits == nil {
			limits = map[string]int{}
		}
	})
}
"""})
    findings = {(f.rule, f.line): f.message for f in lint_dir(module).findings}
    assert "in an HTTP handler (net/http" in findings[("MG004", 15)]
    assert "in a callback that time.AfterFunc runs on its own goroutine, scheduled in an HTTP " \
        "handler" in findings[("MG004", 17)], findings[("MG004", 17)]
    assert "a callback that time.AfterFunc runs on its own goroutine" in findings[("MG005", 18)]


def test_trylock_holds_the_lock_where_it_succeeded(write_module: WriteModule) -> None:
    # sonic-gnmi's gNOI handler: `if !sem.TryLock() { return }; defer sem.Unlock()` (round 16).
    source = """package web

import (
	"net/http"
	"sync"
)

var (
	sem     sync.Mutex
	rw      sync.RWMutex
	running = map[string]bool{}
)

func guarded(w http.ResponseWriter, r *http.Request) {
	if !sem.TryLock() {
		http.Error(w, "busy", http.StatusConflict)
		return
	}
	defer sem.Unlock()
	running[r.URL.Path] = true
}

func inside(w http.ResponseWriter, r *http.Request) {
	if sem.TryLock() {
		defer sem.Unlock()
		running[r.URL.Path] = true
	}
}

func failed(w http.ResponseWriter, r *http.Request) {
	if !sem.TryLock() {
		running[r.URL.Path] = false
		return
	}
	defer sem.Unlock()
}

func readOnly(w http.ResponseWriter, r *http.Request) {
	if !rw.TryRLock() {
		return
	}
	defer rw.RUnlock()
	running[r.URL.Path] = true
}

func noLeave(w http.ResponseWriter, r *http.Request) {
	if !sem.TryLock() {
		http.Error(w, "busy", http.StatusConflict)
	}
	running[r.URL.Path] = true
}
"""
    found = findings_by_rule(lint_dir(write_module({"web.go": source})), "MG004")
    # failed: the write runs where TryLock failed; readOnly: a read lock; noLeave: the guard
    # does not leave, so the write also runs without the lock.
    assert [line for _, line, _ in found] == [32, 43, 50]


CAS_TRY_LOCKS = """package web

import (
	"net/http"
	at "sync/atomic"
)

type server struct {
	busy    int32
	running at.Bool
	seen    map[string]int
}

var (
	flag    uint32
	n       int64
	ready   at.Uint32
	srv     = &server{seen: map[string]int{}}
	pinged  = map[string]int{}
)

func inside(w http.ResponseWriter, r *http.Request) {
	if at.CompareAndSwapUint32(&flag, 0, 1) {
		pinged[r.URL.Path]++
		at.StoreUint32(&flag, 0)
		pinged[r.URL.Path]++
	}
}

func guarded(w http.ResponseWriter, r *http.Request) {
	if !at.CompareAndSwapInt32(&srv.busy, 0, 1) {
		return
	}
	defer at.StoreInt32(&srv.busy, 0)
	srv.seen[r.URL.Path]++
}

func method(w http.ResponseWriter, r *http.Request) {
	if !srv.running.CompareAndSwap(false, true) {
		return
	}
	defer func() { srv.running.Store(false) }()
	srv.seen[r.URL.Path]++
}

func kept(w http.ResponseWriter, r *http.Request) {
	doPing := ready.CompareAndSwap(0, 1)
	if doPing {
		pinged[r.URL.Path]++
		ready.Store(0)
	}
}

func counter(w http.ResponseWriter, r *http.Request) {
	for {
		old := at.LoadInt64(&n)
		if at.CompareAndSwapInt64(&n, old, old+1) {
			pinged[r.URL.Path]++
			return
		}
	}
}

func same(w http.ResponseWriter, r *http.Request) {
	if at.CompareAndSwapUint32(&flag, 1, 1) {
		pinged[r.URL.Path]++
	}
}

func unguarded(w http.ResponseWriter, r *http.Request) {
	srv.seen[r.URL.Path]++
}

func failed(w http.ResponseWriter, r *http.Request) {
	if !at.CompareAndSwapUint32(&flag, 0, 1) {
		pinged[r.URL.Path]++
		return
	}
	defer at.StoreUint32(&flag, 0)
}

func changed(w http.ResponseWriter, r *http.Request) {
	ok := ready.CompareAndSwap(0, 1)
	ok = r.URL.Path == "/"
	if ok {
		pinged[r.URL.Path]++
	}
}

func keptGuard(w http.ResponseWriter, r *http.Request) {
	won := at.CompareAndSwapUint32(&flag, 0, 1)
	if !won {
		return
	}
	pinged[r.URL.Path]++
	at.StoreUint32(&flag, 0)
}

func stop(w http.ResponseWriter, r *http.Request) {
	if at.CompareAndSwapUint32(&flag, 1, 0) {
		pinged[r.URL.Path]++
	}
}

func handedOn(w http.ResponseWriter, r *http.Request) {
	if !at.CompareAndSwapUint32(&flag, 0, 1) {
		return
	}
	go func() {
		defer at.StoreUint32(&flag, 0)
	}()
	pinged[r.URL.Path]++
}
"""


def test_a_compare_and_swap_of_a_flag_is_a_try_lock(write_module: WriteModule) -> None:
    # neuvector's pingJointClusters: `doPing := atomic.CompareAndSwapUint32(&_fedPingOngoing,
    # 0, 1); if doPing { ...; atomic.StoreUint32(&_fedPingOngoing, 0) }` (round 20).
    found = findings_by_rule(lint_dir(write_module({"web.go": CAS_TRY_LOCKS})), "MG004")
    # inside: the write after the Store(0) that gives the flag back; counter: a CAS of
    # computed values; same: nothing changes, every caller passes; unguarded: the same map
    # without the flag; failed: where the CAS failed; changed: the kept result is overwritten.
    # (kept, keptGuard: the CAS's result kept in a variable the `if` tests.) stop: a CAS that
    # turns a switch off, never set back to 1 here, is no lock (a `start` can run beside it);
    # handedOn: the flag is given back by a goroutine, maybe before the write.
    assert [line for _, line, _ in found] == [26, 58, 66, 71, 76, 86, 101, 112]


def test_only_channels_made_with_one_slot_everywhere_are_locks() -> None:
    source = b"""package p
var jobsLock = make(chan bool, 1)
var slots = make(chan struct{}, 4)
var done = make(chan error)
var onClose = make(chan func() error, 1)
var gate = make(chan int, 1)
type S struct{ lock chan struct{} }
func New() *S { return &S{lock: make(chan struct{}, 1)} }
func widen(n int) { gate = make(chan int, len(os.Args)); _ = n }
"""
    assert channel_locks_in((source,)) == {"jobsLock", "onClose", "lock"}


STARTED_LOOP = """
package work

var seen = map[int]bool{}

func record(n int) {
	seen[n] = true
}
"""


def test_goroutines_a_test_starts_are_left_to_go_test_race(write_module: WriteModule) -> None:
    """`go record(i)` in a loop races on `seen`. Started by package code, MG004 reports the
    write; started only by a test, the race is the test's, which `go test -race` judges: no
    context, no finding (and the test's body is not parsed for the model)."""
    starter = "\nfunc StartAll() {\n\tfor i := 0; i < 4; i++ {\n\t\tgo record(i)\n\t}\n}\n"
    in_code = lint_dir(write_module({"work.go": STARTED_LOOP + starter}))
    assert findings_by_rule(in_code, "MG004") == [("work.go", 6, 2)]
    test = ('package work\n\nimport "testing"\n\nfunc TestRecord(t *testing.T) {\n'
            '\tfor i := 0; i < 4; i++ {\n\t\tgo record(i)\n\t}\n}\n')
    directory = write_module({"work.go": STARTED_LOOP, "work_test.go": test})
    assert findings_by_rule(lint_dir(directory), "MG004") == []
    package_dir, _ = read_target(expand(["./..."], directory, Selection()).targets[0],
                                 Selection())
    assert package_dir is not None
    packages, _ = load_packages(package_dir, lambda _module: VersionChoice(
        GoVersion(1, 24), "default"))
    package = next(p for p in packages if p.name == "work")
    assert Concurrency(package, TypeInfo(package)).contexts == []



def test_what_only_tests_do_does_not_undo_a_proof_about_package_code(
        write_module: WriteModule) -> None:
    """Package code runs `load` only under `once.Do` (through `setup`) and calls `lookup`
    only with the lock held. A test calling `load` directly, or taking `lookup` as a value,
    runs them on the test's own goroutine (`go test -race` judges that): the proofs about
    package code stand, and the tests' bodies need not be searched for them."""
    source = """
    package cache

    import "sync"

    var (
    	once  sync.Once
    	mu    sync.Mutex
    	names map[string]int
    )

    func load() { names = map[string]int{} }

    func setup() { load() }

    func Start() { once.Do(func() { setup() }) }

    func Get(k string) int {
    	mu.Lock()
    	defer mu.Unlock()
    	return lookup(k)
    }

    func lookup(k string) int {
    	names[k]++
    	return names[k]
    }
    """
    test = """
    package cache

    import "testing"

    func TestDirect(t *testing.T) {
    	load()
    	f := lookup
    	_ = f("k")
    }
    """
    package = _load(write_module({"cache.go": source, "cache_test.go": test}))
    info = TypeInfo(package)
    load = package.funcs["load"]
    assert runs_under_once(package, info, load, in_tests=False)
    assert not runs_under_once(package, info, load)  # counting the test's direct call
    assert [site.file.path.name for site in call_sites(package, info, load, in_tests=False)
            or ()] == ["cache.go"]
    assert call_sites(package, info, package.funcs["lookup"]) is None  # the test's value
    assert _mode_at(package, "cache.go", "names[k]++") is Mode.WRITE


def test_a_map_field_of_a_package_level_value_is_not_called_a_package_level_map(
        write_module: WriteModule) -> None:
    """Round 19 (kubeedge/mappers-go): `ms.stopFunctions` on a package-level `ms` is one map
    per process, but a field: the message says it is reached through the variable."""
    source = """
    package svc

    type service struct{ stops map[string]func() }

    var ms = &service{stops: map[string]func(){}}

    func Start(names []string) {
    	for _, name := range names {
    		go func(n string) { ms.stops[n] = func() {} }(name)
    	}
    }

    var counts = map[string]int{}

    func Count(names []string) {
    	for _, name := range names {
    		go func(n string) { counts[n]++ }(name)
    	}
    }
    """
    result = lint_dir(write_module({"svc.go": source}))
    messages = {f.line: f.message for f in result.findings if f.rule == "MG004"}
    assert "`ms.stops` is reached through the package-level variable `ms`" in messages[9]
    assert "package-level map" not in messages[9]
    assert "`counts` is a package-level map" in messages[17]


def test_fields_set_before_a_starter_are_read_from_package_callers_only(
        write_module: WriteModule) -> None:
    """Every call of `start` in package code sets `s.limits` first, so its goroutine never
    sees it nil. A test that calls `start` on a bare value runs it on the test's goroutine,
    which `go test -race` judges: it does not undo what the package's callers show."""
    source = """
    package srv

    type Server struct{ limits map[string]int }

    func newLimits() map[string]int { return map[string]int{} }

    func (s *Server) start() {
    	go func() { s.limits["requests"]++ }()
    }

    func Open() *Server {
    	s := &Server{}
    	s.limits = newLimits()
    	s.start()
    	return s
    }
    """
    test = """
    package srv

    import "testing"

    func TestStart(t *testing.T) {
    	s := &Server{}
    	s.start()
    }
    """
    package = _load(write_module({"srv.go": source, "srv_test.go": test}))
    info = TypeInfo(package)
    start = package.methods["Server"]["start"]
    assert set_before_starter_calls(package, info, start) == frozenset({"limits"})
    # Counting the test's call, no field would be set before every call.
    assert len(call_sites(package, info, start) or ()) == 2


FRAMEWORK_HANDLERS = """
package fw

import (
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
	"github.com/gin-gonic/gin"
)

var hits = map[string]int{}

type API struct{}

func Register(r *gin.Engine, app *fiber.App, a *API) {
	r.GET("/list", a.list)
	app.Get("/tag", func(c *fiber.Ctx) error {
		hits[c.Params("k")]++
		return nil
	})
}

func (a *API) list(c *gin.Context) {
	a.helper(c)
}

// Called with the request's context forwarded: the handler that calls it runs per request.
func (a *API) helper(c *gin.Context) {
	hits["helper"]++
}

func Serve(ctx *fasthttp.RequestCtx) {
	hits[string(ctx.Path())]++
}

// A function of a handler's parameter that returns a value is none: no router takes it.
func build(c *gin.Context) string {
	hits["build"]++
	return ""
}

var _ = build
"""


def test_web_framework_handlers_run_per_request(write_module: WriteModule) -> None:
    """fiber's `func(*fiber.Ctx) error` and fasthttp's `func(*fasthttp.RequestCtx)` are
    handlers as gin's and echo's are (tests/race/test_framework_handlers.py proves those two
    under the race detector): each names its server in the message. A gin-shaped method called
    with the context forwarded is followed from its caller; a gin-shaped function that returns
    a value is no handler."""
    result = lint_dir(write_module({"fw.go": FRAMEWORK_HANDLERS}))
    lines = FRAMEWORK_HANDLERS.lstrip("\n").splitlines()

    def line_of(text: str) -> int:
        return next(n for n, line in enumerate(lines, start=1) if line.strip() == text)

    found = {f.line: f.message for f in result.findings if f.rule == "MG004"}
    assert sorted(found) == sorted([line_of('hits[c.Params("k")]++'),
                                    line_of('hits["helper"]++'),
                                    line_of("hits[string(ctx.Path())]++")])
    assert "a fiber handler (fiber serves through fasthttp" in found[
        line_of('hits[c.Params("k")]++')]
    assert "which the gin handler API.list" in found[line_of('hits["helper"]++')]
    assert "a fasthttp handler" in found[line_of("hits[string(ctx.Path())]++")]


ECHO_V5 = """
package v5

import "github.com/labstack/echo/v5"

var seen = map[string]bool{}

func Register(e *echo.Echo) { e.GET("/seen/:id", mark) }

// echo v5's handler takes a *echo.Context (a struct; v4's was an interface).
func mark(c *echo.Context) error {
	seen[c.Param("id")] = true
	return nil
}
"""


def test_echo_v5_handlers_take_a_context_pointer(write_module: WriteModule) -> None:
    result = lint_dir(write_module({"v5.go": ECHO_V5}))
    lines = ECHO_V5.lstrip("\n").splitlines()
    write = next(n for n, line in enumerate(lines, start=1) if "seen[c.Param" in line)
    assert findings_by_rule(result, "MG004") == [("v5.go", write, 2)]
    assert "an echo handler (echo serves through net/http" in result.findings[0].message
