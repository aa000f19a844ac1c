"""MG004 through calls: a bool argument known at the call rules out the callee's branches it
does not take (`mapguard.source.branches`), and nothing else does."""

from __future__ import annotations

from .conftest import WriteModule, findings_by_rule, lint_dir

HELPER = """
package p

import "sync"

var (
	mu     sync.Mutex
	counts = map[string]int{}
)

func add(name string, parallel bool) {
	if parallel {
		mu.Lock()
		counts[name]++
		mu.Unlock()
	} else {
		counts[name]++
	}
}
"""


def _unlocked_write_reported(write_module: WriteModule, starter: str) -> bool:
    result = lint_dir(write_module({"helper.go": HELPER, "start.go": "package p\n\n" + starter}))
    return ("helper.go", 16, 3) in findings_by_rule(result, "MG004")


def test_a_flag_the_caller_tested_rules_out_the_unlocked_branch(
        write_module: WriteModule) -> None:
    assert not _unlocked_write_reported(write_module, """
func Run(names []string, parallel bool) {
	if !parallel {
		return
	}
	for _, n := range names {
		go func(n string) { add(n, parallel) }(n)
	}
}
""")
    assert not _unlocked_write_reported(write_module, """
func Run(names []string, parallel, verbose bool) {
	if parallel && !verbose {
		for _, n := range names {
			go add(n, parallel)
		}
	}
}
""")


def test_a_flag_that_is_not_known_keeps_the_finding(write_module: WriteModule) -> None:
    # Reassigned after the test: its value at the call is not the tested one.
    assert _unlocked_write_reported(write_module, """
func Run(names []string, parallel bool) {
	if parallel {
		for _, n := range names {
			go func(n string) { add(n, parallel) }(n)
		}
		parallel = false
	}
}
""")
    # The else of `a && b` says nothing of `a` alone.
    assert _unlocked_write_reported(write_module, """
func Run(names []string, parallel, verbose bool) {
	if !parallel && verbose {
		return
	} else {
		for _, n := range names {
			go add(n, parallel)
		}
	}
}
""")
    # A flag from the goroutine's own data.
    assert _unlocked_write_reported(write_module, """
func Run(names []string) {
	for _, n := range names {
		go add(n, len(n) > 3)
	}
}
""")
    # Another variable of the same name tested around the call.
    assert _unlocked_write_reported(write_module, """
func Run(names []string, parallel bool) {
	for _, n := range names {
		if parallel := len(n) > 0; parallel {
			_ = parallel
		}
		go add(n, parallel)
	}
}
""")


def test_a_known_flag_is_handed_on_through_a_second_call(write_module: WriteModule) -> None:
    assert not _unlocked_write_reported(write_module, """
func Run(names []string) {
	for _, n := range names {
		go step(n, true)
	}
}

func step(name string, parallel bool) {
	add(name, parallel)
}
""")
    assert _unlocked_write_reported(write_module, """
func Run(names []string) {
	for _, n := range names {
		go step(n, false)
	}
}

func step(name string, parallel bool) {
	add(name, parallel)
}
""")


def test_a_name_declared_again_in_the_callee_is_not_the_known_flag(
        write_module: WriteModule) -> None:
    # The inner `locked` is another variable: `true` for the parameter says nothing of it.
    result = lint_dir(write_module({"p.go": """
package p

var counts = map[string]int{}

func put(name string, locked bool) {
	if locked {
		var locked = len(name) > 3
		if !locked {
			counts[name]++
		}
	}
}

func Run(names []string) {
	for _, n := range names {
		go put(n, true)
	}
}
"""}))
    assert ("p.go", 9, 4) in findings_by_rule(result, "MG004")
