"""MG004-MG009: what the messages promise, severities, version gating, the concurrency model."""

from __future__ import annotations

from mapguard.goversion import GoVersion
from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.registry import rule_for
from mapguard.lint.rule import Severity
from mapguard.source.concurrency import Concurrency
from mapguard.source.discover import Selection, expand, read_target
from mapguard.source.loader import VersionChoice, load_packages
from mapguard.source.typeinfo import TypeInfo

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
    """
    root = write_module({"jobs.go": source})
    (target,) = expand([str(root)], root, Selection()).targets
    package_dir, _unreadable = read_target(target, Selection())
    assert package_dir is not None
    (package,), _errors = load_packages(
        package_dir, lambda _module: VersionChoice(GoVersion(1, 22), "flag"))
    model = Concurrency(package, TypeInfo(package))
    kinds = sorted((c.kind, c.repeatable) for c in model.contexts)
    assert kinds == [("go-func", True), ("goroutine", False)]


def test_mg005_severity_depends_on_the_context(write_module: WriteModule) -> None:
    source = """
    package lib

    import (
    	"net/http"
    	"sync"
    )

    var table map[string]int

    func Table() map[string]int {
    	if table == nil {
    		table = map[string]int{}
    	}
    	return table
    }

    type Cache struct {
    	mu sync.Mutex
    	m  map[string]int
    }

    func (c *Cache) get(k string) int {
    	if c.m == nil {
    		c.m = map[string]int{}
    	}
    	return c.m[k]
    }

    func handle(w http.ResponseWriter, r *http.Request) {
    	if table == nil {
    		table = map[string]int{}
    	}
    }
    """
    result = lint_dir(write_module({"lib.go": source}))
    severities = [(f.line, f.severity) for f in result.findings if f.rule == "MG005"]
    assert severities == [(11, Severity.WARNING), (23, Severity.WARNING), (30, Severity.ERROR)]
    assert all("sync.OnceValue" in f.message for f in result.findings if f.rule == "MG005")


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
    assert [f.rule for f in old.findings] == []


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
    """
    result = lint_dir(write_module({"fast.go": source}))
    linkable, refused = (f for f in result.findings if f.rule == "MG009")
    assert (linkable.line, refused.line) == (5, 8)
    assert "go.dev/issue/67401" in linkable.message and "maphash" in linkable.message
    assert "refuses this pull" in refused.message and "reflect" in refused.message
    assert "Swiss tables" in refused.message


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
    assert findings_by_rule(result, "MG004") == [("words.go", 10, 4)]


def test_helper_whose_every_caller_holds_the_lock_counts_as_locked(
    write_module: WriteModule,
) -> None:
    source = """
    package cache

    import "sync"

    type Cache struct {
    	mu sync.Mutex
    	m  map[string]int
    }

    func (c *Cache) Get(k string) int {
    	c.mu.Lock()
    	defer c.mu.Unlock()
    	return c.lookup(k)
    }

    func (c *Cache) lookup(k string) int {
    	if c.m == nil {
    		c.m = map[string]int{}
    	}
    	return c.m[k]
    }
    """
    assert lint_dir(write_module({"cache.go": source}, name="locked")).findings == ()
    unlocked = source + """
    func (c *Cache) Peek(k string) int { return c.lookup(k) }
    """
    result = lint_dir(write_module({"cache.go": unlocked}, name="unlocked"))
    assert findings_by_rule(result, "MG005") == [("cache.go", 17, 2)]
