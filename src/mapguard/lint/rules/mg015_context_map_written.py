"""## What it does
Finds a write into a map that a context carries as a value, made in place by code that then
hands the map to a context it derives — the code treats contexts as values to derive from,
yet changes the one it was given. Two shapes:

1. **Taken out of the context, written, attached again.** A function takes the map out of the
   context (`h, ok := ctx.Value(headersKey{}).(http.Header)`), writes it (`h.Set(k, v)`,
   `h[k] = v`, `delete(h, k)`), and passes it (or something made from it) to a call that
   derives a context: `context.WithValue(ctx, headersKey{}, h)`, a `NewContext(ctx, h)`, a
   `ContextWithBaggage(ctx, b)` — a callee whose name ends in `Context` or `WithValue`, or
   starts with `ContextWith`. The "inject a header into the context" helper: when the
   context already holds the map, the write lands in the map the parent context and every
   context derived from it share. Reported at the write.
2. **Got from a getter that returns the context's own map.** A function of the module returns
   the map the context holds (`md, ok := ctx.Value(mdKey{}).(Metadata); return md, ok`, with
   no copy in its body), and a caller — in the same package or another package of the module
   — writes the result and derives a context with it (`md, _ := metadata.FromContext(ctx);
   md["trace"] = id; ctx = metadata.NewContext(ctx, md)`). Reported at the caller's write.

A write method of the map's type counts as a write: `Set`, `Add`, `Del`, `Delete`, `Append`,
`Merge`, `Put`, `Remove`, `Clear`, `Store` (`http.Header`, `url.Values`, metadata maps).

## Why is this bad?
Every context derived from a context holds the same values, and the `context` package
promises that "the same Context may be passed to functions running in different goroutines;
Contexts are safe for simultaneous use by multiple goroutines". A map inside one is not: two
goroutines that add a header to contexts derived from one parent (parallel sub-requests, a
fan-out) write one map at once, and the runtime kills the process with `fatal error:
concurrent map writes` (go test -race reports a DATA RACE). Even on one goroutine the entry
leaks to the parent: the caller's context, and every other request derived from it, now carry
it.

## Example
```go
func InjectHeader(ctx context.Context, key, value string) context.Context {
    headers, ok := ctx.Value(headerKey{}).(http.Header)
    if !ok {
        headers = make(http.Header)
        ctx = context.WithValue(ctx, headerKey{}, headers)
    }
    headers.Set(key, value) // writes the parent's map when ctx already had one
    return ctx
}
```

## Use instead
Copy, write the copy, derive a context that holds it:
```go
func InjectHeader(ctx context.Context, key, value string) context.Context {
    headers, _ := ctx.Value(headerKey{}).(http.Header)
    headers = headers.Clone() // maps.Clone for other maps (Go 1.21); nil stays nil
    if headers == nil {
        headers = make(http.Header)
    }
    headers.Set(key, value)
    return context.WithValue(ctx, headerKey{}, headers)
}
```
Or let the getter return a copy (`maps.Clone(md)`), as grpc-go's `metadata.FromIncomingContext`
does. There is no automatic fix: whether some caller relies on seeing the added entries in the
parent context is not visible here.

## When it is a false alarm
When the map is a bag the request owns and fills on its own goroutine by design. The rule
leaves such bags alone when the code that writes one never derives a context with it (a
server's per-request variables map, written by its handlers in turn, as caddy's `vars`), and
it does not report a function that gives the variable another map on every path before the
write (`h = h.Clone()`, or an if/else whose every branch makes or copies one). A getter is
recognised only when its body is in the module, laid out as gofmt lays it out, and holds no
`range`, `copy(`, `Clone` or `Copy`; a getter of another module (grpc-go's
`metadata.FromIncomingContext`, which copies) is never one. For speed, a package is looked at
only when it takes a value out of a context itself (`.Value(`), or when mapguard reads it
anyway: it deletes from a map, starts goroutines or serves requests (MG003's and MG004's
markers). A getter's caller in a package that does none of these is not seen. Suppress with
`//mapguard:ignore MG015 <reason>`.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from mapguard.lint.rule import Pass, Rule, Severity, is_support_code
from mapguard.source.calls import call_sites
from mapguard.source.concurrency import CONTEXT_MARKERS
from mapguard.source.gomod import GoModule
from mapguard.source.mapwrites import untyped_writes
from mapguard.source.package import GoFile
from mapguard.source.typeinfo import ImportRef, LocalDecl, enclosing_function, unparen, walk
from mapguard.source.xpkg import context_getters, hands_out_as_written

# `.Value(key).(` — a value taken out with a type assertion (`reflect.Value`'s and the
# like's calls, not asserted, are left before any parse).
_VALUE_CALL = re.compile(rb"\.Value\((?:[^()\n]|\([^()\n]*\))*\)\)?\.\(")
WRITER_METHODS = frozenset({"Set", "Add", "Del", "Delete", "Append", "Merge", "Put", "Remove",
                            "Clear", "Store"})


def run(pass_: Pass) -> None:
    module = pass_.package.module
    for go_file in pass_.package.files:
        if go_file.is_test or not pass_.owns(go_file):
            continue
        # What the text holds decides first: telling support code asks for the file's parse.
        values = b".Value(" in go_file.source and _VALUE_CALL.search(go_file.source) is not None
        calls = _getter_calls(go_file.source, module) if module is not None else []
        if not (values or calls) or is_support_code(go_file, pass_.package):
            continue
        if values:
            _context_values(pass_, go_file)
        for start, end in calls:
            _imported_call(pass_, go_file, start, end)


def _context_values(pass_: Pass, go_file: GoFile) -> None:
    for hit in _VALUE_CALL.finditer(go_file.source):
        call = go_file.node_at(hit.start() + 1, hit.start() + 6)  # `Value`
        while call is not None and call.type != "call_expression":
            call = call.parent
        assertion = _context_map(pass_, go_file, call) if call is not None else None
        function = enclosing_function(assertion) if assertion is not None else None
        if call is None or assertion is None or function is None:
            continue
        variable = _bound(pass_, go_file, assertion)
        if _returns(pass_, go_file, function, assertion, variable):
            _in_package_callers(pass_, go_file, function, assertion)
        arguments = call.child_by_field_name("arguments")
        key = go_file.text(arguments.named_children[0]) if arguments is not None else ""
        if variable is None or not _attaches(pass_, go_file, function, variable):
            continue  # a bag the request fills on its own goroutine (see the doc)
        _report_writes(pass_, go_file, function, variable, assertion.end_byte,
                       f"the map the context holds under `{key}` (line "
                       f"{assertion.start_point.row + 1})")


def _context_map(pass_: Pass, go_file: GoFile, call: Node) -> Node | None:
    """The type assertion `ctx.Value(k).(M)` around `call`, M a map type, the call's operand
    a context (by type, or by its name where the type is not known)."""
    function = call.child_by_field_name("function")
    arguments = call.child_by_field_name("arguments")
    if function is None or function.type != "selector_expression" or arguments is None or (
            arguments.named_child_count != 1):
        return None
    operand = function.child_by_field_name("operand")
    if operand is None:
        return None
    context_type = str(pass_.info.type_of(operand, go_file))
    if not ("Context" in context_type or go_file.text(operand).endswith(
            ("ctx", "Ctx", "Context()"))):
        return None
    holder = call.parent
    while holder is not None and holder.type == "parenthesized_expression":
        holder = holder.parent
    if holder is None or holder.type != "type_assertion_expression":
        return None
    type_node = holder.child_by_field_name("type")
    if type_node is None or not pass_.info.is_map(pass_.info.type_node(type_node, go_file)):
        return None
    return holder


def _bound(pass_: Pass, go_file: GoFile, expression: Node) -> LocalDecl | None:
    """The local variable `v` of `v := expression`, `v, ok := expression`, `v = ...`."""
    holder = expression.parent
    if holder is None or holder.type != "expression_list":
        return None
    statement = holder.parent
    if statement is None or statement.type not in {"short_var_declaration",
                                                    "assignment_statement"}:
        return None
    left = statement.child_by_field_name("left")
    if left is None or not left.named_children or left.named_children[0].type != "identifier":
        return None
    found = pass_.info.resolve(left.named_children[0], go_file)
    return found if isinstance(found, LocalDecl) else None


def _same(pass_: Pass, go_file: GoFile, node: Node, variable: LocalDecl) -> bool:
    node = unparen(node)
    return node.type == "identifier" and go_file.text(node) == variable.name and (
        pass_.info.resolve(node, go_file) is variable)


def _returns(pass_: Pass, go_file: GoFile, function: Node, assertion: Node,
             variable: LocalDecl | None) -> bool:
    """The function returns the context's map as its first result: the assertion itself, or
    the variable bound to it."""
    if function.type == "func_literal" or not hands_out_as_written(
            go_file.source[function.start_byte:function.end_byte]):
        return False  # a closure, or a getter that may copy (the test MG015 makes of others')
    for node in walk(function):
        if node.type != "return_statement" or not node.named_children:
            continue
        results = node.named_children[0]
        first = unparen(results.named_children[0] if results.type == "expression_list"
                        else results)
        if first == assertion or (variable is not None and _same(pass_, go_file, first,
                                                                 variable)):
            return True
    return False


def _attaches(pass_: Pass, go_file: GoFile, function: Node, variable: LocalDecl) -> bool:
    """The function hands the map (or something made from it) to a call that derives a
    context: `context.WithValue(ctx, k, md)`, `metadata.NewContext(ctx, md)`,
    `NewOutgoingContext(ctx, md.Copy())`, `ContextWithBaggage(ctx, b)` — a callee whose name
    ends in `Context` or `WithValue`, or starts with `ContextWith` (the rule's markers)."""
    for node in walk(function):
        if node.type != "call_expression":
            continue
        callee = node.child_by_field_name("function")
        arguments = node.child_by_field_name("arguments")
        if callee is None or arguments is None:
            continue
        name = go_file.text(callee).rsplit(".", 1)[-1]
        if not (name.endswith(("Context", "WithValue")) or name.startswith("ContextWith")):
            continue
        for argument in arguments.named_children:
            if any(_same(pass_, go_file, inner, variable) for inner in walk(argument)
                   if inner.type == "identifier"):
                return True
    return False


def _in_package_callers(pass_: Pass, go_file: GoFile, function: Node,
                        assertion: Node) -> None:
    name_node = function.child_by_field_name("name")
    if name_node is None or function.type != "function_declaration":
        return
    declaration = pass_.package.func_named(go_file.text(name_node))
    if declaration is None:
        return
    for site in call_sites(pass_.package, pass_.info, declaration, in_tests=False) or []:
        if is_support_code(site.file, pass_.package) or not pass_.owns(site.file):
            continue
        variable = _bound(pass_, site.file, site.call)
        caller = enclosing_function(site.call)
        if variable is not None and caller is not None and _attaches(
                pass_, site.file, caller, variable):
            _report_writes(pass_, site.file, caller, variable, site.call.end_byte,
                           f"the map the context holds, which {declaration.name} returns "
                           f"itself ({go_file.path.name}:{assertion.start_point.row + 1})")


def _getter_calls(source: bytes, module: GoModule) -> list[tuple[int, int]]:
    """(start, end) of `pkg.Name` in each call whose result the file binds to a variable and
    writes later, where `pkg` is a package of the module and `Name` one of its getters of the
    context's map. Told from the text, the calls first and the getters only for those: most
    calls' results are not written, and asking about every imported package read it."""
    found: list[tuple[int, int]] = []
    for alias, path in _module_imports(source).items():
        if not (path == module.path or path.startswith(module.path + "/")):
            continue
        prefix = alias.encode() + b"."
        at = source.find(prefix)
        while at >= 0:
            start, at = at, source.find(prefix, at + len(prefix))
            before = source[start - 1:start]
            name = _EXPORTED_CALL.match(source, start + len(prefix))
            if name is None or before.isalnum() or before in {b"_", b"."}:
                continue
            end = name.end() - 1  # before the `(`
            line_start = source.rfind(b"\n", 0, start) + 1
            bound = _BINDING.search(source, line_start, start)
            if bound is None or not _written_later(source, bound.group(1), end):
                continue
            if name.group(1).decode() in context_getters(module, path):
                found.append((start, end))
    return found


# `Name(` right after `pkg.`: a call of an exported function.
_EXPORTED_CALL = re.compile(rb"([A-Z]\w*)\(")


def _imported_call(pass_: Pass, go_file: GoFile, start: int, end: int) -> None:
    """A call `_getter_calls` found: the write and the derived context, on the tree."""
    selector = go_file.node_at(start, end)
    if selector is None or selector.type != "selector_expression":
        return
    operand = selector.child_by_field_name("operand")
    call = selector.parent
    if operand is None or call is None or call.type != "call_expression" or not (
            isinstance(pass_.info.resolve(operand, go_file), ImportRef)):
        return  # a local variable of the same name as the import
    variable = _bound(pass_, go_file, call)
    function = enclosing_function(call)
    if variable is None or function is None or not _attaches(pass_, go_file, function,
                                                             variable):
        return  # a bag the request fills on its own goroutine (see the doc)
    _report_writes(pass_, go_file, function, variable, call.end_byte,
                   f"the map the context holds, which {go_file.text(selector)} returns "
                   "itself (it takes it out of the context and copies nothing)")


# `md, ok := ` / `md = ` right before a call, on its line.
_BINDING = re.compile(rb"([A-Za-z_]\w*)(?:[ \t]*,[ \t]*[A-Za-z_]\w*)?[ \t]*:?=[ \t]*$")


def _written_later(source: bytes, name: bytes, start: int) -> bool:
    """The text after `start`, up to the next top-level function, holds what a write of the
    map `name` looks like: `name[`, `delete(name`, `clear(name`, `name.Set(` and the like
    (plain searches: this runs for every call into the module's packages)."""
    end = source.find(b"\nfunc ", start)
    end = len(source) if end < 0 else end
    needles = (name + b"[", b"delete(" + name, b"clear(" + name,
               *(name + b"." + method.encode() + b"(" for method in WRITER_METHODS))
    return any(source.find(needle, start, end) >= 0 for needle in needles)


# An import spec in the file's import declarations: `alias "path"` or `"path"`.
_IMPORT_SPEC = re.compile(rb'^[ \t]*(?:import[ \t]+)?(?:([A-Za-z_]\w*)[ \t]+)?"([^"\n]+)"',
                          re.M)


def _module_imports(source: bytes) -> dict[str, str]:
    """The file's imports by the name it uses for them, read from the text before its first
    declaration: the named alias, or the path's last element (a package named otherwise is
    missed here, and its getters' callers with it; `.` and `_` imports are left out)."""
    end = len(source)
    for start in (b"\nfunc ", b"\ntype ", b"\nvar ", b"\nconst "):
        at = source.find(start)
        if at >= 0:
            end = min(end, at)
    found: dict[str, str] = {}
    for spec in _IMPORT_SPEC.finditer(source, 0, end):
        path = spec.group(2).decode(errors="replace")
        alias = spec.group(1).decode() if spec.group(1) else path.rsplit("/", 1)[-1]
        if alias not in {"_", "."} and alias.isidentifier():
            found[alias] = path
    return found


def _report_writes(pass_: Pass, go_file: GoFile, function: Node, variable: LocalDecl,
                   after: int, origin: str) -> None:
    for write in _writes(pass_, go_file, function, variable, after):
        if _given_another_map(pass_, go_file, variable, after, write.start_byte):
            continue
        pass_.report(
            go_file, write,
            f"`{variable.name}` is {origin}, this writes it in place, and the function hands "
            "it to a context it derives: every context derived from the one that holds it "
            "shares that map, and contexts are used by "
            "several goroutines at once, so two of them can write it together (`fatal "
            "error: concurrent map writes`; go test -race reports a DATA RACE), and the entry "
            "leaks to the parent context. Write a copy (maps.Clone, Header.Clone) and derive "
            "a context that holds it with context.WithValue")


def _writes(pass_: Pass, go_file: GoFile, function: Node, variable: LocalDecl,
            after: int) -> list[Node]:
    """The statements after `after` that write the map `variable` holds: `v[k] = x`, `v[k]++`,
    `delete(v, k)`, `clear(v)`, `v.Set(...)`. Told by syntax: the variable is known to hold a
    map (the assertion, or the getter's, said so), also where its type is another package's."""
    found: dict[int, Node] = {}
    for statement, target in untyped_writes(function, go_file):
        if statement.start_byte > after and _same(pass_, go_file, target, variable):
            found.setdefault(statement.start_byte, statement)
    for node in walk(function):
        if node.type != "call_expression" or node.start_byte <= after:
            continue
        callee = node.child_by_field_name("function")
        if callee is None or callee.type != "selector_expression":
            continue
        field = callee.child_by_field_name("field")
        operand = callee.child_by_field_name("operand")
        if field is not None and operand is not None and go_file.text(field) in (
                WRITER_METHODS) and _same(pass_, go_file, operand, variable):
            found.setdefault(node.start_byte, node)
    return [found[start] for start in sorted(found)]


def _given_another_map(pass_: Pass, go_file: GoFile, variable: LocalDecl, after: int,
                       before: int) -> bool:
    """Between the binding and the write, at the binding's level, the variable is given
    another map on every path: `v = v.Clone()`, or an if/else chain every branch of which
    (a final `else` included) assigns it."""
    binding = variable.ident
    while binding.parent is not None and binding.parent.type != "statement_list":
        binding = binding.parent
    block = binding.parent
    if block is None:
        return False
    return any(after < statement.start_byte < before
               and _reassigns(pass_, go_file, statement, variable)
               for statement in block.named_children)


def _reassigns(pass_: Pass, go_file: GoFile, statement: Node, variable: LocalDecl) -> bool:
    if statement.type == "assignment_statement":
        left = statement.child_by_field_name("left")
        return left is not None and bool(left.named_children) and _same(
            pass_, go_file, left.named_children[0], variable)
    if statement.type != "if_statement":
        return False
    consequence = statement.child_by_field_name("consequence")
    alternative = statement.child_by_field_name("alternative")
    if consequence is None or alternative is None:
        return False
    return _block_reassigns(pass_, go_file, consequence, variable) and (
        _reassigns(pass_, go_file, alternative, variable) if alternative.type == "if_statement"
        else _block_reassigns(pass_, go_file, alternative, variable))


def _block_reassigns(pass_: Pass, go_file: GoFile, block: Node, variable: LocalDecl) -> bool:
    statements = block.named_children
    if len(statements) == 1 and statements[0].type == "statement_list":
        statements = statements[0].named_children
    return any(_reassigns(pass_, go_file, statement, variable) for statement in statements)


RULE = Rule(
    code="MG015",
    name="context-map-written",
    severity=Severity.WARNING,
    summary="a map a context carries as a value, written in place instead of on a copy",
    reports_at="the write (an index assignment, `delete`, `clear`, or a write method such as "
               "`Set`)",
    doc=__doc__ or "",
    run=run,
    # Every finding hands the map to a call that derives a context (`_attaches`); a getter's
    # caller names no `.Value(`. The bodies that take a context value are parsed up front; a
    # getter's callers when the text shows one.
    # A package that takes a value out of a context, or one mapguard reads anyway for MG003 and
    # MG004 (a `delete(`, a goroutine, a handler): a marker of its own for the getters' callers
    # (`Context(ctx, `) made etcd's lint read 10 packages more, 6 % of its time.
    markers=(b".Value(", b"delete(", *CONTEXT_MARKERS),
    bodies=(_VALUE_CALL,),
    in_tests=False,
)
