"""Whether a getter runs while the program registers its routes (mapguard.source.startup)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapguard.source.gomod import find_module
from mapguard.source.startup import called_while_registering

GETTER = """package store

var s *int

func Get() *int {
	if s == nil {
		s = new(int)
	}
	return s
}
"""


def _module(tmp_path: Path, files: dict[str, str]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "go.mod").write_text("module example.com/m\n\ngo 1.22\n")
    for name, text in {"store/store.go": GETTER, **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def _registering(root: Path) -> bool:
    module = find_module(root / "store")
    assert module is not None
    return called_while_registering(module, root / "store", "store", "Get")


@pytest.mark.parametrize(("setup", "expected"), [
    # A route registration in the same function as the call.
    ('func Routes(mux *http.ServeMux) { st := store.Get(); mux.HandleFunc("/a", h(st)) }', True),
    # Through a constructor the route setup calls: one step further.
    ('func newAuth() *auth { return &auth{st: store.Get()} }\n'
     'func Routes(r *gin.Engine) { a := newAuth(); r.GET("/login", a.login) }', True),
    # Only a handler's function literal calls it: that runs per request.
    ('func Routes(mux *http.ServeMux) { mux.HandleFunc("/a", func(w http.ResponseWriter, '
     'r *http.Request) { store.Get() }) }', False),
    # Under a condition, the setup may not call it.
    ('func Routes(mux *http.ServeMux, on bool) { if on { store.Get() }; '
     'mux.HandleFunc("/a", nil) }', False),
    # A client's Get(url) is no route: its first argument is not a pattern.
    ('func Fetch(c *http.Client, url string) { store.Get(); c.Get(url) }', False),
    # A goroutine started first may call it at the same time.
    ('func Routes(mux *http.ServeMux) { go warm(); store.Get(); mux.HandleFunc("/a", nil) }',
     False),
    # Registered in a goroutine: not before serving.
    ('func Routes(mux *http.ServeMux) { go func() { store.Get() }(); mux.HandleFunc("/a", nil) }',
     False),
])
def test_a_call_counts_only_when_the_route_setup_always_makes_it(
        tmp_path: Path, setup: str, expected: bool) -> None:
    root = _module(tmp_path, {"app/app.go": 'package app\n\nimport (\n\t"net/http"\n\n'
                                            '\t"example.com/m/store"\n)\n\n' + setup + "\n"})
    assert _registering(root) is expected


def test_an_aliased_import_and_the_packages_own_calls_are_found(tmp_path: Path) -> None:
    aliased = _module(tmp_path / "a", {"app/app.go": (
        'package app\n\nimport st "example.com/m/store"\n\n'
        'func Routes(mux *http.ServeMux) { st.Get(); mux.Handle("/x", nil) }\n')})
    assert _registering(aliased)
    own = _module(tmp_path / "b", {"store/routes.go": (
        'package store\n\nfunc Routes(mux *http.ServeMux) { Get(); mux.Handle("/x", nil) }\n')})
    assert _registering(own)
    # Another package's function of the same name is not the getter.
    other = _module(tmp_path / "c", {"app/app.go": (
        'package app\n\nfunc Get() {}\n\n'
        'func Routes(mux *http.ServeMux) { Get(); mux.Handle("/x", nil) }\n')})
    assert not _registering(other)
