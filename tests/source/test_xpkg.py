"""Result types of calls into other packages of the same module (mapguard.source.xpkg)."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

from mapguard.source.gomod import find_module
from mapguard.source.outside import start_run
from mapguard.source.types import FuncOf, MapOf, Named, PointerTo, SliceOf
from mapguard.source.xpkg import (
    declarations_digest,
    function_signature,
    hands_out_context_map,
    method_signature,
)

STORE = """
package store

import "net/http"

type Store struct{ m map[string]int }

func New() *Store { return &Store{m: map[string]int{}} }

func Open(name string) (*Store, error) {
	return New(), nil
}

func Headers() map[string]http.Header { return nil }

func NewSet[K comparable]() *Set[K] { return nil }

type Set[K comparable] struct{ items map[K]struct{} }

func unexported() *Store { return nil }
"""


def _module(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "mod"
    for relative, source in {"go.mod": "module example.com/mod\n\ngo 1.22\n", **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source).lstrip("\n"))
    return root


def _signature(root: Path, package: str, name: str) -> FuncOf | None:
    module = find_module(root)
    assert module is not None
    return function_signature(module, package, name)


def test_results_carry_the_declaring_package(tmp_path: Path) -> None:
    root = _module(tmp_path, {"internal/store/store.go": STORE})
    store = "example.com/mod/internal/store"
    new = _signature(root, store, "New")
    assert new is not None and new.results == (PointerTo(Named(store, "Store")),)
    opened = _signature(root, store, "Open")
    assert opened is not None
    assert opened.results == (PointerTo(Named(store, "Store")), Named("builtin", "error"))
    headers = _signature(root, store, "Headers")
    assert headers is not None
    assert headers.results == (MapOf(Named("builtin", "string"), Named("net/http", "Header")),)


def test_generic_unexported_and_missing_functions_are_not_answered(tmp_path: Path) -> None:
    root = _module(tmp_path, {"internal/store/store.go": STORE})
    store = "example.com/mod/internal/store"
    assert _signature(root, store, "NewSet") is None  # results name a type parameter
    assert _signature(root, store, "unexported") is None  # not callable from outside
    assert _signature(root, store, "Missing") is None
    assert _signature(root, "example.com/mod/internal/none", "New") is None
    assert _signature(root, "example.com/other/store", "New") is None  # another module


def test_a_nested_module_and_test_files_are_not_read(tmp_path: Path) -> None:
    root = _module(tmp_path, {
        "tools/go.mod": "module example.com/tools\n",
        "tools/gen.go": "package tools\n\nfunc New() []string { return nil }\n",
        "lib/lib_test.go": "package lib\n\nfunc New() []string { return nil }\n",
    })
    assert _signature(root, "example.com/mod/tools", "New") is None
    assert _signature(root, "example.com/mod/lib", "New") is None


def test_an_edited_package_is_read_again_by_the_next_run(tmp_path: Path) -> None:
    root = _module(tmp_path, {
        "lib/lib.go": "package lib\n\nfunc Names() []string { return nil }\n"})
    start_run()
    first = _signature(root, "example.com/mod/lib", "Names")
    assert first is not None and first.results == (SliceOf(Named("builtin", "string")),)
    path = root / "lib" / "lib.go"
    path.write_text("package lib\n\nfunc Names() map[string]int { return nil }\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    # A run looks at a directory's files once: within it, the answer stays the one it began with.
    same_run = _signature(root, "example.com/mod/lib", "Names")
    assert same_run is not None and same_run.results == first.results
    start_run()
    second = _signature(root, "example.com/mod/lib", "Names")
    assert second is not None
    assert second.results == (MapOf(Named("builtin", "string"), Named("builtin", "int")),)


def test_methods_of_the_other_packages_types(tmp_path: Path) -> None:
    root = _module(tmp_path, {"internal/store/store.go": STORE + """
func (s *Store) Child(name string) *Store { return s }

func (s *Set[K]) Items() map[K]struct{} { return s.items }
"""})
    module = find_module(root)
    assert module is not None
    store = "example.com/mod/internal/store"
    child = method_signature(module, store, "Store", "Child")
    assert child is not None and child.results == (PointerTo(Named(store, "Store")),)
    assert method_signature(module, store, "Set", "Items") is None  # a generic type's
    assert method_signature(module, store, "Store", "Missing") is None
    assert method_signature(module, store, "Other", "Child") is None


METADATA = """
package md

import "context"

type key struct{}

// Metadata is what a request carries.
type Metadata map[string]string

func FromContext(ctx context.Context) (Metadata, bool) {
	md, ok := ctx.Value(key{}).(Metadata)
	return md, ok
}

func Copy(ctx context.Context) Metadata {
	md, _ := ctx.Value(key{}).(Metadata)
	out := make(Metadata, len(md))
	for k, v := range md {
		out[k] = v
	}
	return out
}

func Names() []string { return nil }

func fromContext(ctx context.Context) Metadata {
	md, _ := ctx.Value(key{}).(Metadata)
	return md
}
"""


def test_a_getter_that_returns_the_context_map_itself(tmp_path: Path) -> None:
    root = _module(tmp_path, {"md/md.go": METADATA})
    module = find_module(root)
    assert module is not None
    start_run()
    assert hands_out_context_map(module, "example.com/mod/md", "FromContext")
    assert not hands_out_context_map(module, "example.com/mod/md", "Copy")  # a range loop
    assert not hands_out_context_map(module, "example.com/mod/md", "Names")  # no context
    assert not hands_out_context_map(module, "example.com/mod/md", "fromContext")  # unexported
    assert not hands_out_context_map(module, "example.com/mod/md", "Missing")
    assert not hands_out_context_map(module, "example.com/other/md", "FromContext")


def test_the_digest_covers_the_bodies_that_take_a_context_value(tmp_path: Path) -> None:
    root = _module(tmp_path, {"md/md.go": METADATA})
    path = root / "md" / "md.go"

    def digest_after(edit: tuple[str, str]) -> str:
        path.write_text(path.read_text().replace(*edit))
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        start_run()
        return declarations_digest(path.parent)

    start_run()
    first = declarations_digest(path.parent)
    # Another body (no context value in it) is not what answers depend on...
    assert digest_after(("func Names() []string { return nil }",
                         "func Names() []string { return []string{} }")) == first
    # ...the getter's is: a copy added to it changes what its callers may do with the map.
    copied = digest_after(("\treturn md, ok\n", "\treturn maps.Clone(md), ok\n"))
    assert copied != first
    module = find_module(root)
    assert module is not None
    assert not hands_out_context_map(module, "example.com/mod/md", "FromContext")
