"""Whether a function of a package runs while the program registers its HTTP routes, that is,
before any of those routes is served.

A lazy getter (`func Sessions() *Store { if store == nil { store = newStore() }; return store }`)
that handlers call is a race only if two handlers can be the first to call it. When the code that
registers the routes calls it first (`a := &auth{store: session.Sessions()}`, then
`mux.HandleFunc("/login", a.login)`), the variable is set before the server serves anything, and
the nil branch the handlers reach is dead (round 27, fluxsce/gateway's
`GetGlobalSessionManager`, called by a controller's constructor that the module's route setup
calls). Routes are registered before a server serves them; nothing here follows `main`.

A function registers routes when its body (outside function literals) calls a router's method
(`HandleFunc`, `Handle`, `GET`, `Post`, ...) with a route pattern: a string literal holding `/`
as the first of at least two arguments (`mux.HandleFunc("/", h)`, `r.GET("/x", h)`; not
`client.Get(url)`). The getter counts as called there when the call sits in that body, or in the
body of a function that body calls, outside function literals and outside any `if`, loop,
`switch`, `select`, `go` or `defer` (code that always runs when the function runs), and after no
`go` statement of that body (what it starts could call the getter first). Callers are
found by name in the module's files outside tests: the getter's own package calls it by its
name, another package through the name it imports the package as.
"""

from __future__ import annotations

from pathlib import Path

from tree_sitter import Node

from mapguard.source.gomod import GoModule
from mapguard.source.handler_uses import module_files
from mapguard.source.outside import forget_at_run_start, searched_module
from mapguard.source.parser import parse_go
from mapguard.source.typeinfo import calls_in, under, walk

# A router's methods that take a route pattern and a handler (net/http, gorilla/mux, chi, gin,
# echo, fiber, httprouter); the pattern argument tells them from a client's `Get(url)`.
ROUTE_METHODS = frozenset({
    "Handle", "HandleFunc", "HandlerFunc", "Handler", "Method", "MethodFunc",
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "Any", "Match",
    "Get", "Post", "Put", "Delete", "Patch", "Head", "Options", "All", "Add", "Route", "Mount",
})
# Statements under which a call may not run when its function runs.
_CONDITIONAL = frozenset({
    "if_statement", "for_statement", "expression_switch_statement", "type_switch_statement",
    "select_statement", "go_statement", "defer_statement", "func_literal",
})
_FUNCTIONS = frozenset({"function_declaration", "method_declaration"})

# (module root, package directory, function name) -> the answer, once per run.
_ANSWERS: dict[tuple[Path, Path, str], bool] = {}
forget_at_run_start(_ANSWERS.clear)


def called_while_registering(module: GoModule, directory: Path, package_name: str,
                             function: str) -> bool:
    """Whether `function` (a function, not a method, of the package `package_name` in
    `directory`) always runs when some function that registers routes runs (see the module)."""
    searched_module(module.root)  # also when the memo answers: see mapguard.source.outside
    key = (module.root, directory, function)
    if key not in _ANSWERS:
        _ANSWERS[key] = _called_while_registering(module, directory, package_name, function)
    return _ANSWERS[key]


def _called_while_registering(module: GoModule, directory: Path, package_name: str,
                              function: str) -> bool:
    parsed: dict[Path, tuple[bytes, Node]] = {}
    callers = _callers(module, directory, package_name, function, parsed)
    if any(_registers(body, source) for body, source, _name, _path in callers):
        return True
    # One step further: the getter runs in a constructor the route setup calls.
    for _body, _source, name, path in callers:
        if name is None:
            continue
        for body, source, _n, _p in _callers(module, path.parent, _package_name_of(parsed, path),
                                             name, parsed):
            if _registers(body, source):
                return True
    return False


def _package_name_of(parsed: dict[Path, tuple[bytes, Node]], path: Path) -> str:
    """The package clause's name of a file already parsed."""
    source, root = parsed[path]
    for node in root.named_children:
        if node.type == "package_clause":
            for child in node.named_children:
                if child.type == "package_identifier":
                    return source[child.start_byte:child.end_byte].decode()
    return ""


def _callers(module: GoModule, directory: Path, package_name: str, function: str,
             parsed: dict[Path, tuple[bytes, Node]]
             ) -> list[tuple[Node, bytes, str | None, Path]]:
    """The bodies of the functions that always call `function` when they run: (body, source,
    the caller's name when it is a function, not a method, its file)."""
    import_path = _import_path(module, directory)
    found: list[tuple[Node, bytes, str | None, Path]] = []
    needle = function.encode() + b"("
    for path, source in module_files(module.root):
        if needle not in source:
            continue
        same_package = path.parent == directory
        if not same_package and (import_path is None or f'"{import_path}"'.encode() not in source):
            continue
        if path not in parsed:
            parsed[path] = (source, parse_go(source).root_node)
        root = parsed[path][1]
        qualifier = None if same_package else _imported_as(root, source, import_path or "",
                                                            package_name)
        if not same_package and qualifier is None:
            continue
        for call in _calls_of(root, source, function, qualifier):
            caller = _unconditional_caller(call)
            if caller is None:
                continue
            body = caller.child_by_field_name("body")
            if body is None:
                continue
            name_node = caller.child_by_field_name("name")
            name = (source[name_node.start_byte:name_node.end_byte].decode()
                    if caller.type == "function_declaration" and name_node is not None else None)
            found.append((body, source, name, path))
    return found


def _import_path(module: GoModule, directory: Path) -> str | None:
    try:
        relative = directory.relative_to(module.root).as_posix()
    except ValueError:
        return None
    return module.path if relative == "." else f"{module.path}/{relative}"


def _imported_as(root: Node, source: bytes, import_path: str, package_name: str) -> str | None:
    """The name a file imports the package by (its own name without an alias), or None."""
    wanted = f'"{import_path}"'.encode()
    for declaration in root.named_children:
        if declaration.type != "import_declaration":
            continue
        for spec in (node for node in walk(declaration) if node.type == "import_spec"):
            path_node = spec.child_by_field_name("path")
            if path_node is None or source[path_node.start_byte:path_node.end_byte] != wanted:
                continue
            alias = spec.child_by_field_name("name")
            if alias is None:
                return package_name
            text = source[alias.start_byte:alias.end_byte].decode()
            return None if text in {"_", "."} else text
    return None


def _calls_of(root: Node, source: bytes, function: str, qualifier: str | None) -> list[Node]:
    """The calls `function(...)` (`qualifier.function(...)` from another package)."""
    calls = []
    for call in calls_in(root, source):
        callee = call.child_by_field_name("function")
        if callee is None:
            continue
        if qualifier is None and callee.type == "identifier":
            if source[callee.start_byte:callee.end_byte].decode() == function:
                calls.append(call)
        elif qualifier is not None and callee.type == "selector_expression":
            operand = callee.child_by_field_name("operand")
            field = callee.child_by_field_name("field")
            if (operand is not None and field is not None and operand.type == "identifier"
                    and source[operand.start_byte:operand.end_byte].decode() == qualifier
                    and source[field.start_byte:field.end_byte].decode() == function):
                calls.append(call)
    return calls


def _unconditional_caller(call: Node) -> Node | None:
    """The function declaration whose every run makes `call` before it starts any goroutine,
    or None (the call is under a condition, a loop, a `go`, a `defer` or in a function literal,
    or a `go` statement comes first: what it starts may call the getter too)."""
    node = call.parent
    while node is not None:
        if node.type in _CONDITIONAL:
            return None
        if node.type in _FUNCTIONS:
            body = node.child_by_field_name("body")
            if body is None or any(
                    statement.type == "go_statement" and statement.start_byte < call.start_byte
                    for statement in walk(body)):
                return None
            return node
        node = node.parent
    return None


def _registers(body: Node, source: bytes) -> bool:
    """The body registers a route (outside function literals): `x.Method("/pattern", h...)`."""
    for call in calls_in(body, source):
        if under(call, "func_literal", body):
            continue
        callee = call.child_by_field_name("function")
        arguments = call.child_by_field_name("arguments")
        if callee is None or arguments is None or callee.type != "selector_expression":
            continue
        field = callee.child_by_field_name("field")
        if field is None or source[field.start_byte:field.end_byte].decode() not in ROUTE_METHODS:
            continue
        values = arguments.named_children
        if len(values) >= 2 and values[0].type in {
                "interpreted_string_literal", "raw_string_literal"} and b"/" in source[
                values[0].start_byte:values[0].end_byte]:
            return True
    return False

