"""MG015 context-map-written across the packages of a module, and the cache that keeps its
results: a getter in one package, its callers in another (the corpus holds the rest)."""

from __future__ import annotations

from pathlib import Path

from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.registry import rule_for

from .conftest import WriteModule, made_cache

GETTER = """
package md

import "context"

type key struct{}

// Metadata travels with a request.
type Metadata map[string]string

// FromContext returns the request's metadata.
func FromContext(ctx context.Context) (Metadata, bool) {
	md, ok := ctx.Value(key{}).(Metadata)
	return md, ok
}

// NewContext derives a context that carries md.
func NewContext(ctx context.Context, md Metadata) context.Context {
	return context.WithValue(ctx, key{}, md)
}
"""

CALLER = """
package client

import (
	"context"
	"net/http"

	"example.com/mod/md"
)

// Traced adds the trace id to the request's metadata.
func Traced(ctx context.Context, id string) context.Context {
	meta, ok := md.FromContext(ctx)
	if !ok {
		meta = md.Metadata{}
	}
	meta["trace-id"] = id
	return md.NewContext(ctx, meta)
}

// Logged only reads.
func Logged(ctx context.Context) string {
	meta, _ := md.FromContext(ctx)
	return meta["trace-id"]
}

// Serve traces every request (a handler: MG015 reads a package that serves requests).
func Serve(w http.ResponseWriter, r *http.Request) {
	_ = Traced(r.Context(), r.Header.Get("X-Trace-Id"))
}
"""

MG015 = (rule_for("MG015"),)


def _lines(root: Path, options: LintOptions) -> set[tuple[str, int]]:
    result = lint([f"{root}/..."], options)
    assert not result.errors, result.errors
    return {(f.path.name, f.line) for f in result.findings if f.rule == "MG015"}


def test_a_caller_in_another_package_writing_the_getters_map(write_module: WriteModule
                                                              ) -> None:
    root = write_module({"md/md.go": GETTER, "client/client.go": CALLER})
    assert _lines(root, LintOptions(jobs=1, rules=MG015)) == {("client.go", 16)}


def test_the_cache_sees_the_getter_start_copying(write_module: WriteModule,
                                                  tmp_path: Path) -> None:
    root = write_module({"md/md.go": GETTER, "client/client.go": CALLER})
    options = LintOptions(jobs=1, rules=MG015, cache_dir=made_cache(tmp_path / "cache"))
    assert _lines(root, options) == {("client.go", 16)}
    getter = root / "md" / "md.go"
    getter.write_text(getter.read_text().replace("\treturn md, ok\n",
                                                 "\treturn maps.Clone(md), ok\n"))
    # The caller's package did not change; what it calls did.
    assert _lines(root, options) == set()


def test_a_caller_in_a_package_mapguard_does_not_read_is_not_seen(write_module: WriteModule
                                                                 ) -> None:
    # No `.Value(`, goroutine, handler or `delete(` in it: the package is skipped for speed
    # (the rule's doc says so).
    caller = CALLER[:CALLER.index("// Serve")].replace('\t"net/http"\n', "")
    root = write_module({"md/md.go": GETTER, "client/client.go": caller})
    assert _lines(root, LintOptions(jobs=1, rules=MG015)) == set()


def test_a_getter_of_another_module_is_not_one(write_module: WriteModule) -> None:
    # grpc-go's metadata.FromIncomingContext copies; no other module's body is read at all.
    root = write_module({"client/client.go": CALLER.replace(
        '"example.com/mod/md"', 'md "example.com/other/md"')})
    assert _lines(root, LintOptions(jobs=1, rules=MG015)) == set()
