"""Whether a method with a handler's parameters is used as a handler, judged by the module
(an unexported function: by its package).

`func (c *Context) Reset(w http.ResponseWriter, r *http.Request)` has the parameters of an
HTTP handler, but a router that takes each request's `Context` from a pool and calls
`ctx.Reset(rw, r)` on it makes it a per-request setter, not a handler: nothing hands it to a
mux. A method is taken as a handler unless the module's own code shows it is not one: some
non-test file calls it with two plain arguments (`x.Name(w, r)`: a caller passes its request
on) and no non-test file takes it as a value (`mux.HandleFunc("/", s.Name)`,
`http.HandlerFunc(s.Name)`, a route table). `ServeHTTP` always is one (it makes its type an
`http.Handler`). A method neither called nor taken in the module — a library's exported
handler, registered by its users — stays a handler.

A web framework's handler (gin's `func(*gin.Context)`, echo's, fiber's, fasthttp's) takes one
parameter, so there a call that forwards one plain argument (`h.list(c)`) is what passes the
request on.

The scan is textual (a selector `.Name` followed by a call of two identifiers, or by anything
but a call; not after `//` on its line) over the module's Go files outside tests, vendor and
testdata, read once per module in a run and searched once per package for the names of
its handler-shaped methods. A package whose analysis searched the module notes it
(`mapguard.source.outside`): its cached result is reused only while the module's files are
the same, so a registration added in another package shows on the next run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from mapguard.digests import blake2b
from mapguard.source.discover import Selection, go_files_under
from mapguard.source.outside import forget_at_run_start, searched_module

_ALWAYS_HANDLERS = frozenset({"ServeHTTP"})
# (module root, method name, parameters forwarded) -> (forwarded a request in a call, taken
# as a value)
_USES: dict[tuple[Path, str, int], tuple[bool, bool]] = {}


# module root -> its non-test Go files and their text, read once per process: a module with
# many packages that declare handler-shaped methods would otherwise be listed and read once per
# package.
_FILES: dict[Path, tuple[tuple[Path, bytes], ...]] = {}


def module_files(root: Path) -> tuple[tuple[Path, bytes], ...]:
    """The module's Go files outside tests, vendor and testdata, with their text."""
    searched_module(root)
    return _module_files(root)


def module_digest(root: Path) -> str:
    """A digest of `module_files(root)`, paths and text: a cached result that searched them is
    reused while this stays the same."""
    if root not in _DIGESTS:
        digest = blake2b(digest_size=16)
        for path, source in _module_files(root):
            digest.update(str(path).encode() + b"\0")
            digest.update(blake2b(source, digest_size=16).digest())
        _DIGESTS[root] = digest.hexdigest()
    return _DIGESTS[root]


_DIGESTS: dict[Path, str] = {}
for _memo in (_USES, _FILES, _DIGESTS):
    forget_at_run_start(_memo.clear)


def _module_files(root: Path) -> tuple[tuple[Path, bytes], ...]:
    if root not in _FILES:
        files = []
        for path in go_files_under(root, Selection(include_tests=False)):
            try:
                files.append((path, path.read_bytes()))
            except OSError:
                continue  # unreadable here: the lint of that file reports it
        _FILES[root] = tuple(files)
    return _FILES[root]


def module_sources(root: Path) -> tuple[bytes, ...]:
    return tuple(source for _path, source in module_files(root))


def used_as_handler(root: Path, name: str, arity: int = 2) -> bool:
    """Whether the method `name`, declared in the module rooted at `root`, is a handler
    (`arity`: the handler's parameters, which a call passing the request on forwards)."""
    if name in _ALWAYS_HANDLERS:
        return True
    called, taken = uses(root, [name], arity)[name]
    return taken or not called


def function_used_as_handler(sources: Iterable[bytes], name: str, arity: int = 2) -> bool:
    """The same judgement for an unexported function, over its package's non-test sources:
    not a handler when some file calls it with two plain arguments (`setup(w, r)`) and none
    takes it as a value (`http.HandleFunc("/", name)`, a route table). The call's caller is
    then what runs per request, and the analysis follows the call from there."""
    pattern = re.compile(rb"(?<![\w.])(" + re.escape(name.encode()) + rb")\b"
                         + _use_after(arity))
    found = _uses_in(sources, pattern, [name])[name]
    return found[1] or not found[0]


def _use_after(arity: int) -> bytes:
    """After a name: a call with `arity` plain arguments (a request passed on: net/http's
    `(w, r)`, a web framework's `(c)`), another call, or neither (the name taken as a value)."""
    arguments = rb"\s*,\s*".join([rb"[A-Za-z_]\w*"] * arity)
    return rb"(\s*\(\s*" + arguments + rb"\s*\)|\s*\()?"


def _uses_in(sources: Iterable[bytes], pattern: re.Pattern[bytes], names: list[str]
             ) -> dict[str, list[bool]]:
    """[called passing the request on, taken as a value] per name that `pattern` (groups:
    the name, then `_use_after`) finds, outside comments and `func` declarations."""
    found = {name: [False, False] for name in names}
    for source in sources:
        for match in pattern.finditer(source):
            line_start = source.rfind(b"\n", 0, match.start()) + 1
            before = source[line_start:match.start()]
            if b"//" in before or before.rstrip().endswith(b"func"):
                continue  # a comment naming it uses it neither way; nor does its declaration
            seen = found[match.group(1).decode()]
            call = match.group(2)
            if call is None:
                seen[1] = True
            elif call.rstrip().endswith(b")"):
                seen[0] = True
    return found


def uses(root: Path, names: Iterable[str], arity: int = 2) -> dict[str, tuple[bool, bool]]:
    """(called with `arity` plain arguments, taken as a value) per method name, in one pass
    over the module's files for the names not yet known."""
    searched_module(root)  # also when the memo answers: see mapguard.source.outside
    wanted = sorted(set(names))
    missing = [name for name in wanted if (root, name, arity) not in _USES]
    if missing:
        pattern = re.compile(rb"\.(" + b"|".join(re.escape(n.encode()) for n in missing)
                             + rb")\b" + _use_after(arity))
        found = _uses_in(module_sources(root), pattern, missing)
        for name, (called, taken) in found.items():
            _USES[root, name, arity] = (called, taken)
    return {name: _USES[root, name, arity] for name in wanted}
