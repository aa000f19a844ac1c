"""Which code of a package runs concurrently, and which maps other goroutines can reach.

Concurrency contexts (docs/rules.md, MG004):
- HTTP handlers: functions, methods and func literals with the `(http.ResponseWriter,
  *http.Request)` signature — net/http runs each request on its own goroutine (not in test
  files, where handlers are fakes serving the test's requests). A method the module only
  calls with two arguments and never hands on as a value is no handler
  (`mapguard.source.handler_uses`); the same for the handlers of web frameworks that serve
  each request on a goroutine of its own (`_FRAMEWORKS`: gin, echo, fiber, fasthttp), whose one
  parameter is the framework's request context; and a middleware's `ServeHTTP(w, r, next)`
  (negroni's, Caddy's), which the server calls for every request as it calls a handler;
- gRPC service methods, which are handlers too: grpc-go runs each call on its own goroutine
  (`mapguard.source.grpc_services`);
- the body of a func literal started with `go`, or with `sync.WaitGroup.Go` (Go 1.25) or
  errgroup's `Group.Go`, which start one too;
- same-package functions and methods started with `go f(...)` / `go x.m(...)`.
Code in a closure that is not itself started with `go` runs in the context it is written in.

A context is *repeatable* when several instances can run at once: its `go` sits in a loop whose
passes do not first wait for it, or in a repeatable context. A map reached from a context is
*shared* when another goroutine can touch it at the same time: package-level maps, fields
reached through the receiver or a captured variable, and captured locals — for a context that
runs once, only if something else uses the map concurrently: the starter after its `go`
statement without waiting, a goroutine started beside it or a function called while it runs,
or, when the goroutine is joined neither by its starter nor by the callers that hand the
starter their `sync.WaitGroup`, other functions of the package. A range variable captured by a
goroutine started once per pass is each goroutine's own from Go 1.22 on. The model is computed
once per package and answers questions from several rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tree_sitter import Node

from mapguard.goversion import GO_1_22
from mapguard.source.branches import argument_values, known_parameters, ruled_out
from mapguard.source.buildtags import in_linux_amd64_build
from mapguard.source.calls import CallSite, call_sites, every_call_site
from mapguard.source.grpc_services import (
    interceptor_shaped,
    registered_auth_functions,
    service_methods,
)
from mapguard.source.handler_uses import function_used_as_handler, used_as_handler, uses
from mapguard.source.package import FuncDecl, GoFile, Package, VarDecl, receiver_type_name
from mapguard.source.typeinfo import (
    LocalDecl,
    Symbol,
    TypeInfo,
    call_with_argument,
    enclosing_declaration,
    enclosing_function,
    field_hits,
    innermost,
    same_node,
    unparen,
    walk,
    word_hits,
)
from mapguard.source.types import (
    GoType,
    Named,
    PointerTo,
    Unknown,
    deref,
    parameter_types,
    result_types,
)

FUNCTIONS = frozenset({"function_declaration", "method_declaration", "func_literal"})
# A package without one of these has no context at all: a `go` statement (gofmt indents it,
# or it follows a `{` on its line), `wg.Go(`, an HTTP handler, a gRPC service, interceptor or
# auth function (`_find_handlers`; test files aside).
_HANDLER_PARAMS = (Named("net/http", "ResponseWriter"), PointerTo(Named("net/http", "Request")))
_ERROR = Named("builtin", "error")


@dataclass(frozen=True, slots=True)
class _Framework:
    """A web framework whose server runs each request's handler on a goroutine of its own, as
    net/http does: gin and echo serve through net/http, fiber through fasthttp, whose server
    starts (or takes from its pool) a goroutine per connection."""

    import_path: str
    type_name: str  # the handler's one parameter: this type of the package, or a pointer to it
    pointer: bool
    returns_error: bool
    protocol: Protocol  # also the name its package is imported by

    @property
    def marker(self) -> bytes:
        """How a file names the handler's parameter type: `gin.Context`."""
        return f"{self.protocol}.{self.type_name}".encode()


_FRAMEWORKS = (
    _Framework("github.com/gin-gonic/gin", "Context", True, False, "gin"),
    _Framework("github.com/labstack/echo/v5", "Context", True, True, "echo"),  # a struct now
    _Framework("github.com/labstack/echo/v4", "Context", False, True, "echo"),
    _Framework("github.com/labstack/echo", "Context", False, True, "echo"),
    _Framework("github.com/gofiber/fiber/v2", "Ctx", True, True, "fiber"),
    _Framework("github.com/gofiber/fiber/v3", "Ctx", False, True, "fiber"),
    _Framework("github.com/valyala/fasthttp", "RequestCtx", True, False, "fasthttp"),
)
FRAMEWORK_MARKERS = tuple(dict.fromkeys(framework.marker for framework in _FRAMEWORKS))
CONTEXT_MARKERS = (b"\tgo ", b"{ go ", b".Go(", b"ResponseWriter", b"Unimplemented",
                   b"ServerInfo", b") (context.Context, error)", *FRAMEWORK_MARKERS)
_LOOPS = frozenset({"for_statement"})
_GROUP_TYPES = frozenset({Named("sync", "WaitGroup"),
                          Named("golang.org/x/sync/errgroup", "Group")})
_WAIT_METHODS = frozenset({"Wait"})

ContextKind = Literal["handler", "goroutine", "go-func"]
# What serves a handler: net/http, a web framework on it or on fasthttp, or grpc-go.
Protocol = Literal["http", "gin", "echo", "fiber", "fasthttp", "grpc", "grpc-interceptor"]
_SERVED_BY = {
    "http": "an HTTP handler (net/http runs each request on its own goroutine)",
    "gin": "a gin handler (gin serves through net/http, which runs each request on its own "
           "goroutine)",
    "echo": "an echo handler (echo serves through net/http, which runs each request on its own "
            "goroutine)",
    "fiber": "a fiber handler (fiber serves through fasthttp, which serves each connection on "
             "a goroutine of its own)",
    "fasthttp": "a fasthttp handler (fasthttp serves each connection on a goroutine of its own)",
}
# A handler's kind in a message that names it: "the gin handler API.list (api.go:30)".
_HANDLER_NAMES = {"http": "HTTP handler", "grpc": "gRPC method",
                  "grpc-interceptor": "gRPC server interceptor",
                  **{framework.protocol: f"{framework.protocol} handler"
                     for framework in _FRAMEWORKS}}


@dataclass(frozen=True, slots=True, eq=False)
class Context:
    """A function body that runs on its own goroutine."""

    function: Node
    file: GoFile
    kind: ContextKind
    repeatable: bool  # several instances can run at the same time
    go_statement: Node | None = None  # for goroutines: the `go` that starts it
    starter: Node | None = None  # the function holding that `go` statement
    starter_file: GoFile | None = None  # the file of that function, when it is another one
    protocol: Protocol = "http"  # for handlers: net/http's or a gRPC service's

    @property
    def starting_file(self) -> GoFile:
        """The file that holds the `go` statement (and the starter)."""
        return self.starter_file if self.starter_file is not None else self.file

    def in_linux_amd64_build(self, package: Package) -> bool:
        """Whether the linux/amd64 build has the file that starts this context."""
        go_file = self.starting_file
        return in_linux_amd64_build(go_file.path.name, go_file.source, package.go_version)

    @property
    def handler_name(self) -> str:
        return _HANDLER_NAMES[self.protocol]

    def describe(self, package: Package | None = None) -> str:
        """The context in words; a goroutine's `go` is placed by its path in the module of
        `package` when given (as the finding's own path is), else by its file name."""
        if self.kind == "handler" and self.protocol == "grpc":
            return "a gRPC method (grpc-go runs each call on its own goroutine)"
        if self.kind == "handler" and self.protocol == "grpc-interceptor":
            return ("a gRPC server interceptor (grpc-go runs it for every call, on the call's "
                    "own goroutine)")
        if self.kind == "handler":
            return _SERVED_BY[self.protocol]
        line = self.go_statement.start_point.row + 1 if self.go_statement is not None else 0
        path = self.starting_file.path
        module = package.module if package is not None else None
        shown = (path.relative_to(module.root).as_posix()
                 if module is not None and path.is_relative_to(module.root) else path.name)
        where = f"the goroutine started at {shown}:{line}"
        if self.repeatable:
            return f"{where}, which runs several times at once"
        return where


@dataclass(frozen=True, slots=True)
class Window:
    """A span of a function's code, by byte offsets in `file`."""

    file: GoFile
    start: int
    end: int

    def holds(self, node: Node, go_file: GoFile) -> bool:
        return go_file is self.file and self.start <= node.start_byte and (
            node.end_byte <= self.end)


# How a map is reachable from other goroutines: a package-level variable (one map per
# process), a field reached through the receiver or a captured value, a captured local, a
# parameter a `go` statement hands a map in, or a local bound to one of these (`m := shared`).
SharingKind = Literal["package", "field", "captured", "handed", "bound"]


# Which findings a concurrency rule's run reports: those whose proof of sharing held on real
# trees — a package-level variable in a handler or a goroutine that runs several times at once,
# or MG005's check-then-lock — (MG004, MG005: "proven"), or the rest (MG014: "unproven").
Tier = Literal["proven", "unproven"]


@dataclass(frozen=True, slots=True)
class Sharing:
    """Why a map is reachable from other goroutines: `reason` for the message, `kind` for the
    rules that weigh the proof (MG004 and MG005 keep a package-level map; the rest is MG014's);
    for a local bound to a shared map, the kind of that map."""

    reason: str
    kind: SharingKind
    bound_to: SharingKind | None = None
    # A variable of the starting function, declared before the loop that starts the goroutine
    # and captured by it: every pass's goroutine has the same one (`_shared_by_loop`).
    loop_shared: bool = False

    @property
    def package_level(self) -> bool:
        """The map is a package-level variable, directly or through a local bound to it."""
        return self.kind == "package" or self.bound_to == "package"


class Concurrency:
    """The concurrency model of one package."""

    def __init__(self, package: Package, info: TypeInfo) -> None:
        self.package = package
        self.info = info
        self._by_function: dict[tuple[int, int], list[Context]] = {}
        self._wait_cache: dict[tuple[int, int, int], list[Node]] = {}
        self._jump_cache: dict[Node, tuple[list[tuple[str, int]], list[tuple[str, int]]]] = {}
        self._join_cache: dict[tuple[str, int, int, int], list[Window] | None] = {}
        self._start_flags: dict[tuple[int, int, int], dict[str, bool]] = {}
        self._find_handlers()
        self._find_go_statements()

    @classmethod
    def of(cls, package: Package, info: TypeInfo) -> Concurrency:
        model = package.memo.get("concurrency")
        if not isinstance(model, Concurrency):
            model = package.memo["concurrency"] = cls(package, info)
        return model

    # ---- contexts ---------------------------------------------------------------------------

    @property
    def contexts(self) -> list[Context]:
        return [c for found in self._by_function.values() for c in found]

    def context_of(self, node: Node, go_file: GoFile, *, branches: bool = False
                   ) -> Context | None:
        """The context `node` runs in; closures not started with `go` belong to their writer,
        except those handed to a task queue (`q.Queue(func() {...})`), which run wherever the
        queue runs them. With `branches`, a goroutine whose `go` passes a bool that rules out
        the branch `node` sits in (`go add(n, true)` and `if !parallel { ... }` in add) is no
        context of it (`known_at_start`)."""
        function = enclosing_function(node)
        while function is not None:
            found = self._by_function.get((id(go_file), function.start_byte))
            if found and branches:
                found = [c for c in found if not ruled_out(node, c.function, go_file,
                                                           self.known_at_start(c))]
                if not found:
                    return None
            if found:
                return _strongest(found, self.package)
            if function.type != "func_literal" or _queued(function, go_file):
                return None
            function = enclosing_function(function)
        return None

    def known_at_start(self, context: Context) -> dict[str, bool]:
        """The bool parameters of a goroutine started as `go f(..., true)` (or with a flag its
        starter tested) whose value its `go` statement tells and `f` never reassigns; {} for
        other contexts."""
        statement = context.go_statement
        if context.kind != "go-func" or statement is None or statement.type != "go_statement":
            return {}
        key = (id(context.file), context.function.start_byte, statement.start_byte)
        known = self._start_flags.get(key)
        if known is None:
            values = argument_values(statement.named_children[0], context.starting_file,
                                     self.info, {})
            known = self._start_flags[key] = known_parameters(
                context.file.complete(context.function), context.file, values) if values else {}
        return known

    def describe_at(self, node: Node, go_file: GoFile, context: Context) -> str:
        """`context` in words, as seen from `node` inside it: a closure handed to
        `time.AfterFunc` on the way runs on a goroutine of its own, so the message says so
        (skia's handler schedules `delete(m, id)` an hour later) rather than placing the
        node in the handler itself. The proof is the same: every run of the context
        schedules one."""
        where = context.describe(self.package)
        function = enclosing_function(node)
        while function is not None and function.type == "func_literal" and not (
                function.start_byte == context.function.start_byte and go_file is context.file):
            if _timer_callback(function, go_file):
                return (f"a callback that time.AfterFunc runs on its own goroutine, "
                        f"scheduled in {where}")
            function = enclosing_function(function)
        return where

    def _add(self, context: Context) -> None:
        key = (id(context.file), context.function.start_byte)
        self._by_function.setdefault(key, []).append(context)

    def _find_handlers(self) -> None:
        shaped: list[tuple[GoFile, Node, Protocol]] = []
        for go_file in self.package.files:
            # Handlers in test files are fakes behind httptest servers: they serve the requests
            # the test sends, normally one at a time, and the test's own -race run judges them.
            if go_file.is_test:
                continue
            if b"ResponseWriter" in go_file.source:
                for start, end in word_hits(go_file.source, "ResponseWriter"):
                    node = go_file.node_at(start, end)
                    function = _function_of_parameter(node)
                    if function is not None and (_has_handler_parameters(function, go_file)
                                                 or _is_middleware(function, go_file)):
                        shaped.append((go_file, function, "http"))
            shaped.extend((go_file, function, protocol)
                          for function, protocol in _framework_handlers(go_file))
        # A method is a handler when something makes it one, not for its parameters alone:
        # a pooled per-request value's `Reset(w, r)`, called by the router, is none. The
        # module is searched once for all of the package's handler-shaped methods.
        module = self.package.module
        root = module.root if module is not None else self.package.directory
        for arity in (1, 2):
            method_names = {go_file.text(name) for go_file, function, protocol in shaped
                            if _arity(protocol) == arity
                            and function.type == "method_declaration"
                            and (name := function.child_by_field_name("name")) is not None}
            if method_names:
                uses(root, method_names, arity)
        package_sources: tuple[bytes, ...] | None = None
        for go_file, function, protocol in shaped:
            arity = _arity(protocol)
            name = function.child_by_field_name("name")
            if function.type == "method_declaration" and name is not None and (
                not used_as_handler(root, go_file.text(name), arity)
            ):
                continue
            if function.type == "function_declaration" and name is not None and \
                    not go_file.text(name)[:1].isupper():
                # An unexported function only the package can name: judged by its uses there.
                if package_sources is None:
                    package_sources = tuple(f.source for f in self.package.files
                                            if not f.is_test)
                if not function_used_as_handler(package_sources, go_file.text(name), arity):
                    continue
            key = (id(go_file), function.start_byte)
            if key not in self._by_function:
                self._add(Context(function, go_file, "handler", True, protocol=protocol))
        for method in service_methods(self.package):
            if (id(method.file), method.node.start_byte) not in self._by_function:
                self._add(Context(method.node, method.file, "handler", True, protocol="grpc"))
        # gRPC server interceptors, declared or func literals (`return func(ctx, req, info,
        # handler) {...}`), and the auth functions go-grpc-middleware calls for every call.
        intercepting: list[tuple[GoFile, Node]] = []
        for go_file in self.package.files:
            if go_file.is_test or b"ServerInfo" not in go_file.source:
                continue
            for word in ("UnaryServerInfo", "StreamServerInfo"):
                for start, end in word_hits(go_file.source, word):
                    function = _function_of_parameter(go_file.node_at(start, end))
                    if function is not None and interceptor_shaped(function, go_file.imports):
                        intercepting.append((go_file, function))
        intercepting.extend((d.file, d.node) for d in registered_auth_functions(self.package))
        for go_file, function in intercepting:
            if (id(go_file), function.start_byte) not in self._by_function:
                self._add(Context(function, go_file, "handler", True,
                                  protocol="grpc-interceptor"))

    def _find_go_statements(self) -> None:
        statements: list[tuple[GoFile, Node]] = []
        for go_file in self.package.files:
            if go_file.is_test:
                # A goroutine a test starts (`go s.readLoop()` in a test) races, if at all, in
                # that test, which `go test -race` judges: no rule reports from it (MG004 and
                # MG005 leave tests to -race, following calls starts from shipped code only).
                # Left out, tests' bodies need not be parsed for it (most of nats-server's
                # text is tests).
                continue
            for start, _end in word_hits(go_file.source, "go"):
                line_start = go_file.source.rfind(b"\n", 0, start) + 1
                before = go_file.source[line_start:start].rstrip(b" \t")
                if before and not before.endswith((b"{", b";")):
                    continue  # not at the start of a statement (a comment, a word in a string)
                node = go_file.node_at(start, start + 2, named=False)
                statement = node.parent if node is not None else None
                if statement is not None and statement.type == "go_statement" and (
                    statement.start_byte == start
                ):
                    statements.append((go_file, statement))
            # `.Go(`: a whole word between a dot and a parenthesis, found as it is.
            position = 0
            while (dot := go_file.source.find(b".Go(", position)) >= 0:
                position = start = dot + 1
                starter_call = self._group_go_call(go_file, start)
                if starter_call is not None:
                    statements.append((go_file, starter_call))
        # A `go` inside a context that runs several times is repeatable too, and contexts can
        # nest: recompute until nothing changes (a few rounds at most).
        handlers = dict(self._by_function)
        signature: frozenset[tuple[object, ...]] = frozenset()
        # What a round does not change is worked out once: the goroutine each statement
        # starts and whether its own starter repeats it; a round only asks again whether
        # the context around the `go` is repeatable (nats-server: a third of the model).
        started = [(go_file, found) for go_file, statement in statements
                   if (found := self._goroutine(go_file, statement)) is not None]
        for _round in range(5):
            goroutines = [self._repeatable(context, go_file, repeats)
                          for go_file, (context, repeats) in started]
            self._by_function = {key: list(found) for key, found in handlers.items()}
            for context in goroutines:
                self._add(context)
            current = frozenset((id(c.file), c.function.start_byte, c.kind, c.repeatable)
                                for c in self.contexts)
            if current == signature:
                break
            signature = current

    def _group_go_call(self, go_file: GoFile, start: int) -> Node | None:
        """`wg.Go(func() {...})` on a sync.WaitGroup or an errgroup.Group: the call."""
        node = go_file.node_at(start, start + 2)
        selector = node.parent if node is not None else None
        call = selector.parent if selector is not None else None
        if call is None or call.type != "call_expression" or selector is None:
            return None
        operand = selector.child_by_field_name("operand")
        arguments = call.child_by_field_name("arguments")
        if operand is None or arguments is None or arguments.named_child_count != 1:
            return None
        if unparen(arguments.named_children[0]).type != "func_literal":
            return None
        receiver = deref(self.info.type_of(operand, go_file))
        return call if receiver in _GROUP_TYPES else None

    def _goroutine(self, go_file: GoFile, statement: Node) -> tuple[Context, bool] | None:
        """The goroutine a `go` statement (or `wg.Go(...)` call) starts, not yet marked
        repeatable, and whether its starter can start it again while it runs."""
        if statement.type == "call_expression":  # wg.Go(func() {...})
            arguments = statement.child_by_field_name("arguments")
            if arguments is None or not arguments.named_child_count:
                return None
            literal = unparen(arguments.named_children[0])
            return self._started(
                Context(literal, go_file, "goroutine", False, statement,
                        enclosing_function(statement)))
        call = statement.named_children[0] if statement.named_child_count else None
        if call is None or call.type != "call_expression":
            return None
        starter = enclosing_function(statement)
        callee = unparen(call.child_by_field_name("function") or call)
        if callee.type == "func_literal":
            return self._started(
                Context(callee, go_file, "goroutine", False, statement, starter))
        declaration = self.info.called_function(callee, go_file)
        if declaration is None:
            return None
        return self._started(
            Context(declaration.node, declaration.file, "go-func", False, statement, starter,
                    go_file if go_file is not declaration.file else None))

    def _started(self, context: Context) -> tuple[Context, bool]:
        return context, self._repeats_in_starter(context)

    def _repeatable(self, context: Context, go_file: GoFile, repeats: bool) -> Context:
        """The context, marked repeatable when several instances can run at once: its `go` is
        in a loop whose every pass does not first wait for it (`for range ch` over a channel it
        closes, `wg.Wait()`: `repeats`, from `_repeats_in_starter`), or in a context that is
        itself repeatable."""
        statement = context.go_statement
        assert statement is not None
        repeatable = repeats
        if not repeatable and context.starter is not None:
            outer = self.context_of(statement, go_file)
            repeatable = outer is not None and outer.repeatable
        return Context(context.function, context.file, context.kind, repeatable, statement,
                       context.starter, context.starter_file)

    def _repeats_in_starter(self, context: Context) -> bool:
        """One run of the starter can start the goroutine again while it runs: its `go` is in
        a loop whose passes do not first wait for it, or a backward `goto` re-runs it without
        a wait between (`wg.Wait(); goto retry` restarts it one at a time)."""
        statement = context.go_statement
        if statement is None:
            return False
        if self._one_at_a_time(statement, context.starter, context.starting_file):
            return False
        waits = self._waits(context)
        loop = _loop_of(statement, context.starter)
        if loop is not None:
            return not _waited_before(statement, loop, waits) and not _leaves_after(
                statement, loop)
        if context.starter is None:
            return False
        source = context.starting_file
        if b"goto" not in source.source[context.starter.start_byte:context.starter.end_byte]:
            return False  # no jump can re-run it (a text test spares two walks of the starter)
        labelled, jumps = self._labels_and_gotos(context.starter, source)
        labels = {name for name, start in labelled if start <= statement.start_byte}
        return any(
            name in labels and start >= statement.end_byte
            and not any(statement.end_byte <= w.start_byte and w.end_byte <= start
                        for w in waits)
            for name, start in jumps)

    def _one_at_a_time(self, statement: Node, starter: Node | None, source: GoFile) -> bool:
        """`g.Go(...)` on an errgroup the starter limits to one goroutine (`g.SetLimit(1)`):
        the group runs them one after another."""
        if statement.type != "call_expression" or starter is None:
            return False
        selector = unparen(statement.child_by_field_name("function") or statement)
        operand = selector.child_by_field_name("operand") if (
            selector.type == "selector_expression") else None
        if operand is None:
            return False
        limit = source.text(operand).encode() + b".SetLimit(1)"
        return limit in source.source[starter.start_byte:starter.end_byte]

    def _labels_and_gotos(self, starter: Node, source: GoFile
                          ) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """(label, where) of the starter's labelled statements and (target, where) of its
        `goto`s: one walk per starter, not two per `go` statement in it."""
        found = self._jump_cache.get(starter)
        if found is None:
            labels: list[tuple[str, int]] = []
            jumps: list[tuple[str, int]] = []
            for node in walk(starter):
                if node.type == "labeled_statement" and node.named_child_count:
                    labels.append((source.text(node.named_children[0]), node.start_byte))
                elif node.type == "goto_statement" and node.named_child_count:
                    jumps.append((source.text(node.named_children[0]), node.start_byte))
            found = self._jump_cache[starter] = (labels, jumps)
        return found

    # ---- shared maps ------------------------------------------------------------------------

    def sharing(self, map_expr: Node, go_file: GoFile, context: Context) -> Sharing | None:
        """Why `map_expr`, used in `context`, can be touched by another goroutine; or None."""
        map_expr = unparen(map_expr)
        if map_expr.type == "unary_expression":  # (*p)[k]: the map behind the pointer
            operand = map_expr.child_by_field_name("operand")
            if operand is None:
                return None
            map_expr = unparen(operand)
        if map_expr.type not in {"identifier", "selector_expression"}:
            return None  # an element map read out of another map: out of scope
        root = _chain_root(map_expr)
        if root is None:
            return None
        symbol = self.info.resolve(root, go_file)
        if symbol is None:
            return None
        return self._sharing_of(symbol, map_expr, root, go_file, context)

    def _sharing_of(self, symbol: Symbol, map_expr: Node, root: Node, go_file: GoFile,
                    context: Context) -> Sharing | None:
        text = "".join(go_file.text(map_expr).split())
        if isinstance(symbol, VarDecl):
            if symbol.constant:
                return None
            if not context.repeatable and not self._used_elsewhere_var(symbol, context, go_file):
                return None  # one goroutine owns it, or its starter waits for it
            # What a call hands on (`c.touch()` on a package-level `*Cache`) is no map itself.
            what = "map" if self.info.is_map_expr(map_expr, go_file) else "variable"
            root_text = go_file.text(root)
            if root_text != text:
                # `ms.stopFunctions` on a package-level `ms`: one map per process all the same,
                # but a field, not a package-level map itself.
                return Sharing(f"`{text}` is reached through the package-level variable "
                               f"`{root_text}`", "package")
            return Sharing(f"`{text}` is a package-level {what}", "package")
        if not isinstance(symbol, LocalDecl):
            return None
        inside = _is_inside(symbol.ident, context.function)
        if symbol.kind == "receiver" and same_node(symbol.scope, context.function):
            if map_expr.type != "selector_expression":
                return None  # the receiver itself is not a map field
            # `c := newConn(); go c.serve()`: every goroutine gets a receiver of its own, and
            # the other methods that touch it are, as far as the code shows, its own calls.
            if self.fresh_receiver(context):
                return None
            if context.repeatable or self._field_used_elsewhere(map_expr, go_file, context):
                return Sharing(f"`{text}` is a field reached through the receiver", "field")
            return None
        if inside:
            if symbol.kind == "param" and context.go_statement is not None:
                return self._argument_sharing(symbol, context, go_file)
            return self._rebound_sharing(symbol, map_expr, go_file, context)
        # Declared outside the context: captured by the closure. A map the starter makes
        # for itself is one per run of the starter: its goroutines share it only when one run
        # starts several of them.
        if context.repeatable and not self._starter_owns(symbol, context) and not (
            self.per_pass_capture(symbol, context) or self._declared_per_pass(symbol, context)
        ):
            return Sharing(f"`{text}` is captured from the function that starts it",
                           "captured", loop_shared=self._shared_by_loop(symbol, context))
        if self._starter_uses_after(symbol, map_expr, context, go_file):
            return Sharing(f"`{text}` is captured by the goroutine and still used by the "
                           f"function that started it, without waiting for the goroutine",
                           "captured")
        if map_expr.type == "selector_expression" and self._field_used_elsewhere(
            map_expr, go_file, context
        ):
            return Sharing(f"`{text}` is a field of a captured value, also used elsewhere",
                           "field")
        return None

    def _declared_per_pass(self, symbol: LocalDecl, context: Context) -> bool:
        """`for ... { seen := map[K]V{}; go func() { seen[k] = v }() }`: a variable declared in
        the body of the loop that starts the goroutine, once per pass: each pass's goroutine
        has its own (whether the pass then uses it too is `_starter_uses_after`'s)."""
        statement, starter = context.go_statement, context.starter
        if statement is None or starter is None or symbol.kind != "var":
            return False
        loop = _loop_of(statement, starter)
        body = loop.child_by_field_name("body") if loop is not None else None
        return body is not None and _is_inside(symbol.ident, body)

    def _shared_by_loop(self, symbol: LocalDecl, context: Context) -> bool:
        """The goroutine is a func literal started in a loop of the function that declares
        `symbol` (a variable or parameter of it, declared outside that loop), and the loop's
        passes do not wait for it (`_repeats_in_starter`): every pass's goroutine captures the
        one variable, so they write one map at the same time. Nothing else has to be reached or
        assumed; the textbook `for ... { go func() { m[k] = v }() }`."""
        statement, starter = context.go_statement, context.starter
        if statement is None or starter is None or context.kind != "goroutine" or (
            symbol.kind not in {"var", "param"}
        ):
            return False
        loop = _loop_of(statement, starter)
        if loop is None or not _is_inside(symbol.ident, starter) or _is_inside(symbol.ident,
                                                                                loop):
            return False
        return self._repeats_in_starter(context)

    def _starter_owns(self, symbol: LocalDecl, context: Context) -> bool:
        """`m := make(...)` in the starter, whose one run starts the goroutine at most once at
        a time: goroutines started by other runs of the starter have maps of their own."""
        starter = context.starter
        return (starter is not None and symbol.kind == "var" and symbol.value is not None
                and symbol.value_count == 1 and _is_inside(symbol.ident, starter)
                and _is_fresh_map(unparen(symbol.value), context.starting_file)
                and not self._repeats_in_starter(context))

    def fresh_receiver(self, context: Context) -> bool:
        """`go x.m()` where x is a variable made fresh for this goroutine: declared inside the
        loop that starts it (or, outside loops, inside the starting function)."""
        statement = context.go_statement
        if context.kind != "go-func" or statement is None or context.starter is None:
            return False
        call = statement.named_children[0] if statement.named_child_count else None
        callee = unparen(call.child_by_field_name("function") or call) if call else None
        operand = callee.child_by_field_name("operand") if callee is not None and (
            callee.type == "selector_expression") else None
        if operand is None or operand.type != "identifier":
            return False
        go_file = self._file_of(statement)
        symbol = self.info.resolve(operand, go_file) if go_file is not None else None
        if isinstance(symbol, LocalDecl) and symbol.kind == "range" and go_file is not None:
            # `for _, c := range clients { go c.Run() }`: the receiver is evaluated at the
            # `go`, so whatever the Go version each goroutine gets its pass's element.
            return self._element_of_starting_loop(symbol, statement)
        if not isinstance(symbol, LocalDecl) or symbol.kind not in {"var"}:
            return False
        scope = _loop_body_of(statement)
        if scope == statement:
            scope = context.starter
        return _is_inside(symbol.ident, scope)

    def fresh_capture(self, symbol: LocalDecl, context: Context) -> bool:
        """A variable a goroutine's func literal captures that is made fresh for each
        goroutine: declared inside the body of the loop that starts it (or, outside loops,
        inside the starting function), `c := &conn{...}; go func() { c.serve() }()`; or,
        from Go 1.22 on, the range variable of that loop (`per_pass_capture`)."""
        statement = context.go_statement
        if context.kind != "goroutine" or statement is None or context.starter is None or (
            _is_inside(symbol.ident, context.function)
        ):
            return False
        if symbol.kind == "range":
            return self.per_pass_capture(symbol, context)
        if symbol.kind != "var":
            return False
        loop = _loop_body_of(statement)
        body = loop.child_by_field_name("body") if loop != statement else context.starter
        return body is not None and _is_inside(symbol.ident, body) and _is_inside(
            statement, body)

    def per_pass_capture(self, symbol: LocalDecl, context: Context) -> bool:
        """`for _, c := range calls { g.Go(func() error { return run(c) }) }` in a module of
        Go 1.22 or later: every pass has its own `c`, so each goroutine captures a different
        element, as `go c.Run()` gets one (`fresh_receiver`). Before Go 1.22 the closures
        share one variable, which the loop overwrites while they run."""
        statement = context.go_statement
        if statement is None or context.kind != "goroutine" or symbol.kind != "range" or (
            self.package.go_version < GO_1_22
        ):
            return False
        return self._element_of_starting_loop(symbol, statement)

    def _element_of_starting_loop(self, symbol: LocalDecl, statement: Node) -> bool:
        """`symbol` is the pointer-typed range variable of the innermost loop around the `go`
        (each pass's element is another value; a value element would be a copy, or the loop
        variable's address), and that loop is not itself run again while its goroutines run:
        a loop around it, or a starter that runs several times at once, would hand the same
        elements to goroutines of another pass (a watcher's `for ev := range events { for _,
        c := range calls { go ... } }`)."""
        loop = _loop_body_of(statement)
        if loop == statement or not same_node(symbol.scope, loop):
            return False
        if not isinstance(self.info.symbol_type(symbol), PointerTo):
            return False
        if _loop_of(loop, enclosing_function(loop)) is not None:
            return False
        outer = self.context_of(loop, symbol.file)
        return outer is None or not outer.repeatable

    def _file_of(self, node: Node) -> GoFile | None:
        root = node
        while root.parent is not None:
            root = root.parent
        return next((f for f in self.package.files if f.parsed and f.root == root), None)

    def _argument_sharing(self, parameter: LocalDecl, context: Context, go_file: GoFile
                          ) -> Sharing | None:
        """`go func(m map[K]V) {...}(shared)`: the parameter aliases the argument."""
        if context.go_statement is None:
            return None
        go_file = context.starting_file  # where the arguments are written
        call = context.go_statement.named_children[0]
        parameters = context.function.child_by_field_name("parameters")
        names = [n for d in (parameters.named_children if parameters else [])
                 for n in d.children_by_field_name("name")]
        argument_list = call.child_by_field_name("arguments")
        arguments = [a for a in (argument_list.named_children if argument_list else [])
                     if a.type != "comment"]
        index = next((i for i, n in enumerate(names) if same_node(n, parameter.ident)), None)
        if index is None or index >= len(arguments):
            return None
        outer = self.context_of(context.go_statement, go_file)
        argument = arguments[index]
        if context.repeatable:
            root = _chain_root(unparen(argument))
            symbol = self.info.resolve(root, go_file) if root is not None else None
            if isinstance(symbol, VarDecl) or (
                isinstance(symbol, LocalDecl) and not _is_inside(symbol.ident, _loop_body_of(
                    context.go_statement))
                and not _handed_over(unparen(argument), context.go_statement, go_file)
            ):
                origin = context.describe(self.package)
                return Sharing(f"`{go_file.text(argument)}` is handed to {origin}", "handed")
        found = self.sharing(argument, go_file, outer) if outer is not None else None
        # The goroutine writes its parameter: what was handed over, whatever it was outside.
        return Sharing(found.reason, "handed") if found is not None else None

    def _rebound_sharing(self, symbol: LocalDecl, map_expr: Node, go_file: GoFile,
                         context: Context) -> Sharing | None:
        """A local of the context bound to a shared map (`m := globalMap`)."""
        if symbol.value is None or symbol.kind != "var" or symbol.value_count > 1:
            return None
        if map_expr.type != "identifier":
            return None  # fields of a local struct value
        value = unparen(symbol.value)
        if value.type not in {"identifier", "selector_expression"}:
            return None
        found = self.sharing(value, go_file, context)
        if found is None:
            return None
        return Sharing(f"`{go_file.text(map_expr)}` is bound to a shared map: {found.reason}",
                       "bound", found.bound_to or found.kind)

    def _starter_uses_after(self, symbol: LocalDecl, map_expr: Node, context: Context,
                            go_file: GoFile) -> bool:
        """The starting function uses the captured map after `go` with no wait between. For a
        field (`l.accounts`), a use of another field of the same value (`l.storages`) does
        not count; the value itself, or a method called on it, does."""
        statement, starter = context.go_statement, context.starter
        if statement is None or starter is None:
            return False
        name = symbol.name
        field = _first_field(map_expr)
        waits = self._waits(context)
        for start, end in word_hits(go_file.source, name, statement.end_byte, starter.end_byte):
            node = go_file.node_at(start, end, named=False)
            if node is None or node.type != "identifier":
                continue
            if self.info.resolve(node, go_file) is not symbol and not _same_decl(
                self.info.resolve(node, go_file), symbol
            ):
                continue
            if field is not None and _other_field(node, field, go_file):
                continue
            if field is not None and self._method_leaves_field(node, field, go_file):
                continue
            if not any(w.end_byte <= node.start_byte for w in waits):
                return True
        return False

    def _method_leaves_field(self, identifier: Node, field: str, go_file: GoFile) -> bool:
        """`l.check(...)` where the method `check` of this package uses its receiver only to
        reach other fields than `field` (`l.lock`, `l.got`): the call does not touch the map."""
        selector = identifier.parent
        call = selector.parent if selector is not None else None
        if selector is None or selector.type != "selector_expression" or call is None or (
            call.type != "call_expression" or call.child_by_field_name("function") != selector
        ):
            return False
        owner = deref(self.info.type_of(identifier, go_file))
        name = selector.child_by_field_name("field")
        if not isinstance(owner, Named) or owner.pkg != "" or name is None:
            return False
        method = self.package.method(owner.name, go_file.text(name))
        receiver = method.receiver_name() if method is not None else None
        if method is None or method.body is None or not receiver or receiver == "_":
            return False
        uses = [n for n in walk(method.body)
                if n.type == "identifier" and method.file.text(n) == receiver]
        return all(_other_field(use, field, method.file) for use in uses)

    def _used_elsewhere_var(self, symbol: VarDecl, context: Context, go_file: GoFile) -> bool:
        """A package variable used by code that can run alongside a run-once goroutine."""
        for other_file in self._files_that_can_use(context):
            for start, end in word_hits(other_file.source, symbol.name):
                node = other_file.node_at(start, end)
                if node is None or node.type != "identifier" or node == symbol.node:
                    continue
                if _is_inside(node, context.function) and other_file is go_file:
                    continue
                if not _same_decl(self.info.resolve(node, other_file), symbol):
                    continue
                if not self._concurrent_use(node, other_file, context):
                    continue
                return True
        return False

    def _field_used_elsewhere(self, selector: Node, go_file: GoFile, context: Context) -> bool:
        """A field used by another function than the run-once goroutine that writes it."""
        operand = selector.child_by_field_name("operand")
        field_node = selector.child_by_field_name("field")
        if operand is None or field_node is None:
            return True
        owner = deref(self.info.type_of(operand, go_file))
        field = go_file.text(field_node)
        for other_file in self._files_that_can_use(context):
            for start, end in field_hits(other_file.source, field):
                node = other_file.node_at(start, end, named=False)
                parent = node.parent if node is not None else None
                if node is None or parent is None or node.type != "field_identifier" or (
                    parent.type != "selector_expression"
                ):
                    continue
                if other_file is go_file and _is_inside(node, context.function):
                    continue
                other_operand = parent.child_by_field_name("operand")
                other_owner = deref(self.info.type_of(other_operand, other_file)) if (
                    other_operand is not None) else None
                if not _same_owner(owner, other_owner):
                    continue
                if not self._concurrent_use(node, other_file, context):
                    continue
                return True
        return False

    def _files_that_can_use(self, context: Context) -> list[GoFile]:
        """The files where `_concurrent_use` can hold for `context`: not the test files when
        the goroutine's function is outside them (a test's use never counts then), so that
        their hits are neither parsed nor typed (on nats-server most of the package's text is
        tests)."""
        if context.file.is_test:
            return self.package.files
        return [f for f in self.package.files if not f.is_test]

    def _concurrent_use(self, node: Node, go_file: GoFile, context: Context) -> bool:
        """Whether a use elsewhere can run while the run-once goroutine does. When its
        starter waits for it (`wg.Wait()`, draining a channel it closes) before going on, the
        goroutine lives inside that one call: only the starter's code between the `go` and the
        wait overlaps it; other functions run before or after (a starter that itself runs
        concurrently makes the goroutine repeatable, which is judged without this)."""
        if self._ordered_before_start(node, go_file, context):
            return False
        if go_file.is_test and not context.file.is_test:
            return False  # a test inspecting state: `go test -race` judges the test
        if self._runs_only_in(node, go_file, context):
            return False
        if _after_join(node, go_file, context):
            return False
        statement, starter = context.go_statement, context.starter
        if statement is None or starter is None:
            return True
        waits = self._waits(context)
        if not _waited_before(statement, starter, waits):
            windows = self._joined_by_callers(context)
            return windows is None or self._overlaps_join(node, go_file, context, windows)
        if go_file is context.starting_file and _is_inside(node, starter):
            return not any(w.end_byte <= node.start_byte for w in waits)
        # Elsewhere: in a goroutine started beside it, or in a function called while it runs.
        end = min((w.start_byte for w in waits if w.start_byte >= statement.end_byte),
                  default=starter.end_byte)
        return self._overlaps_join(node, go_file, context,
                                   [Window(context.starting_file, statement.end_byte, end)])

    # ---- a goroutine joined by the caller of its starter --------------------------------

    def _joined_by_callers(self, context: Context) -> list[Window] | None:
        """`loadBinaryInfo` declares `var wg sync.WaitGroup; defer wg.Wait()` and passes `&wg`
        to `loadBinaryInfoElf`, which does `wg.Add(1); go loader(..., wg)`: the goroutine is
        started once per call of its starter and has ended before the caller returns. The
        spans of code that run while it can (the starter after the `go`, each caller between
        its call and its wait, up to three callers up when the WaitGroup is handed on), or
        None when that is not proven: the starter is called other than from such a caller (as
        a value, with another WaitGroup, in a loop whose passes do not wait, from code that
        runs several times at once), or another `go` in those spans starts the same function."""
        key = ("joined", id(context.file), context.function.start_byte,
               context.go_statement.start_byte if context.go_statement is not None else -1)
        if key not in self._join_cache:
            self._join_cache[key] = self._find_join(context)
        return self._join_cache[key]

    def _find_join(self, context: Context) -> list[Window] | None:
        statement, starter = context.go_statement, context.starter
        if statement is None or starter is None or context.repeatable:
            return None
        source = context.starting_file
        declaration = self._declaration(starter, source)
        index = self._joining_parameter(context)
        if declaration is None or index is None:
            return None
        windows = [Window(source, statement.end_byte, starter.end_byte)]
        if not self._callers_wait(declaration, index, windows, 0):
            return None
        starts_again = any(
            other.go_statement is not None and not same_node(other.go_statement, statement)
            and same_node(other.function, context.function)
            and any(w.holds(other.go_statement, other.starting_file) for w in windows)
            for other in self._by_function.get((id(context.file),
                                               context.function.start_byte), []))
        return None if starts_again else windows

    def _joining_parameter(self, context: Context) -> int | None:
        """The index of the starter's `*sync.WaitGroup` parameter that the goroutine signals
        when it ends (a deferred `Done`, or `Done` as its last statement; `wg.Go(f)` on it),
        when the starter counts it up (`wg.Add`) before the `go`."""
        statement, starter = context.go_statement, context.starter
        assert statement is not None and starter is not None
        source = context.starting_file
        if statement.type == "call_expression":  # wg.Go(func() {...})
            callee = statement.child_by_field_name("function")
            operand = callee.child_by_field_name("operand") if callee is not None else None
            return self._wait_group_parameter(operand, starter, source, _GROUP_TYPES)
        signal = _final_done(context.file.complete(context.function), context.file)
        if signal is None:
            return None
        group: Node | None = signal
        symbol = self.info.resolve(signal, context.file)
        if isinstance(symbol, LocalDecl) and symbol.kind == "param" and same_node(
            symbol.scope, context.function
        ):  # go f(..., wg): the goroutine's own parameter stands for the argument
            call = statement.named_children[0] if statement.named_child_count else None
            names = _parameter_names(context.function)
            position = next((i for i, n in enumerate(names) if same_node(n, symbol.ident)),
                            None)
            arguments = _call_arguments(call) if call is not None else []
            group = unparen(arguments[position]) if position is not None and (
                position < len(arguments)) else None
        index = self._wait_group_parameter(group, starter, source,
                                           frozenset({Named("sync", "WaitGroup")}))
        if index is None:
            return None
        name = source.text(_parameter_names(starter)[index])
        counted = any(
            node.type == "call_expression" and node.end_byte <= statement.start_byte
            and _method_name(node, source) == "Add"
            and source.text(_receiver_of(node) or node) == name
            for node in walk(source.complete(starter)))
        return index if counted else None

    def _wait_group_parameter(self, operand: Node | None, function: Node, go_file: GoFile,
                              types: frozenset[GoType]) -> int | None:
        """The index of `function`'s parameter `operand` names, when it is a pointer to one
        of `types`."""
        if operand is None or operand.type != "identifier":
            return None
        symbol = self.info.resolve(operand, go_file)
        if not isinstance(symbol, LocalDecl) or symbol.kind != "param" or not same_node(
            symbol.scope, function
        ):
            return None
        kind = self.info.symbol_type(symbol)
        if not isinstance(kind, PointerTo) or kind.elem not in types:
            return None
        names = _parameter_names(function)
        return next((i for i, n in enumerate(names) if same_node(n, symbol.ident)), None)

    def _callers_wait(self, declaration: FuncDecl, index: int, windows: list[Window],
                      depth: int) -> bool:
        """Every call of `declaration` passes, as argument `index`, a WaitGroup its caller
        waits on before that call's effects can repeat: `&wg` of a local `sync.WaitGroup`
        that the caller waits for after the call (or defers the wait of, outside loops), or
        the caller's own such parameter, whose callers wait in turn. Adds each caller's span
        that overlaps the goroutine to `windows`."""
        if depth > 2:
            return False

        def waits_here(site: CallSite) -> bool:
            arguments = _call_arguments(site.call)
            if index >= len(arguments) or _in_go_statement(site.call):
                return False
            caller = enclosing_function(site.call)
            outer = self.context_of(site.call, site.file)
            if caller is None or (outer is not None and outer.repeatable):
                return False
            caller = site.file.complete(caller)
            argument = unparen(arguments[index])
            if argument.type == "identifier":  # handed on: the caller's callers must wait
                forwarded = self._wait_group_parameter(
                    argument, caller, site.file, frozenset({Named("sync", "WaitGroup")}))
                upper = self._declaration(caller, site.file) if forwarded is not None else None
                windows.append(Window(site.file, site.call.end_byte, caller.end_byte))
                return upper is not None and forwarded is not None and (
                    _loop_of(site.call, caller) is None) and self._callers_wait(
                    upper, forwarded, windows, depth + 1)
            if argument.type != "unary_expression" or _operator(argument) != "&":
                return False
            group = argument.child_by_field_name("operand")
            symbol = self.info.resolve(group, site.file) if group is not None and (
                group.type == "identifier") else None
            if not isinstance(symbol, LocalDecl) or symbol.kind != "var" or (
                self.info.symbol_type(symbol) != Named("sync", "WaitGroup")
            ) or not _is_inside(symbol.ident, caller):
                return False
            end = _wait_after(site.call, caller, symbol.name, site.file)
            if end is None:
                return False
            windows.append(Window(site.file, site.call.end_byte, end))
            return True

        return every_call_site(self.package, self.info, declaration, waits_here, in_tests=False)

    def _overlaps_join(self, node: Node, go_file: GoFile, context: Context,
                       windows: list[Window], depth: int = 0) -> bool:
        """A use that can run while a joined goroutine does: in one of its `windows`, in a
        function called from there, or in another goroutine started there (a sibling started
        beside it: `go bi.parseDebugFrame(...)` next to `go bi.loadSymbolName(...)`)."""
        if any(w.holds(node, go_file) for w in windows):
            return True
        function = enclosing_function(node)
        while function is not None:
            for other in self._by_function.get((id(go_file), function.start_byte), []):
                if other.go_statement is None:
                    return True  # a handler: it runs whenever a request comes
                if not (context.go_statement is not None
                        and same_node(other.go_statement, context.go_statement)) and (
                    any(w.holds(other.go_statement, other.starting_file) for w in windows)
                    or self._still_running_at_start(other, context)
                    or self._unjoined(other)
                ):
                    return True
            if function.type != "func_literal":
                break
            function = enclosing_function(function)
        declaration = self._declaration(function, go_file) if function is not None else None
        if declaration is None or depth >= 2:
            return False
        # The package's own calls: a test's call runs on the test's goroutine (go test -race).
        sites = call_sites(self.package, self.info, declaration, in_tests=False)
        if sites is None:
            # Used as a value (`fmt.symLookup = bi.symLookup`): it runs where it is called,
            # which is not visible; it can overlap only if the value is taken where the
            # goroutine runs beside other code (every mention of the name is looked at).
            return any(
                self._overlaps_join(mention, other_file, context, windows, depth + 1)
                for other_file in self.package.files
                for start, end in word_hits(other_file.source, declaration.name)
                if (mention := other_file.node_at(start, end)) is not None
                and not same_node(mention, declaration.node.child_by_field_name("name")
                                  or declaration.node))
        return any(self._overlaps_join(site.call, site.file, context, windows, depth + 1)
                   for site in sites
                   if not (site.file is context.file and _is_inside(site.call,
                                                                   context.function)))

    def _unjoined(self, other: Context) -> bool:
        """A goroutine nobody is shown to wait for (a background loop started by `New`): it
        can run beside anything that happens after it starts."""
        if other.go_statement is None or other.starter is None:
            return True
        outer = self.context_of(other.go_statement, other.starting_file)
        if outer is not None and outer.repeatable:
            return True  # started from code that itself runs at any time
        return not _waited_before(other.go_statement, other.starter, self._waits(other)) and (
            self._joined_by_callers(other) is None)

    def _still_running_at_start(self, other: Context, context: Context) -> bool:
        """`other` is started by the same starter before `context`, and the starter does not
        wait for it before starting `context`: the two run side by side."""
        statement, other_statement = context.go_statement, other.go_statement
        starter = context.starter
        if statement is None or other_statement is None or starter is None or (
            other.starting_file is not context.starting_file
            or not _is_inside(other_statement, starter)
            or other_statement.end_byte > statement.start_byte
        ):
            return False
        return not any(other_statement.end_byte <= w.start_byte
                       and w.end_byte <= statement.start_byte for w in self._waits(other))

    def _runs_only_in(self, node: Node, go_file: GoFile, context: Context, depth: int = 0
                      ) -> bool:
        """`node` is in a function that only the goroutine itself calls (directly or through
        such functions): the event-loop shape, `go f.loop()` with helpers that loop calls."""
        function = enclosing_declaration(node)
        if function is None or depth > 3:
            return False
        declaration = self._declaration(function, go_file)
        return declaration is not None and every_call_site(
            self.package, self.info, declaration,
            lambda site: (site.file is context.file and _is_inside(site.call, context.function))
            or self._ordered_before_start(site.call, site.file, context)
            or self._runs_only_in(site.call, site.file, context, depth + 1),
            in_tests=False)  # a test calling it runs it on the test's goroutine

    def _declaration(self, function: Node, go_file: GoFile) -> FuncDecl | None:
        name = function.child_by_field_name("name")
        if name is None:
            return None
        if function.type == "function_declaration":
            found = self.package.func_named(go_file.text(name))
        else:
            receiver = receiver_type_name(function, go_file)
            found = self.package.method(receiver, go_file.text(name)) if receiver else None
        return found if found is not None and same_node(found.node, function) else None

    def _waits(self, context: Context) -> list[Node]:
        key = (id(context.file), context.function.start_byte,
               context.go_statement.start_byte if context.go_statement is not None else -1)
        if key not in self._wait_cache:
            self._wait_cache[key] = _waits_for(context, context.starting_file, self.info)
        return self._wait_cache[key]

    def _ordered_before_start(self, node: Node, go_file: GoFile, context: Context) -> bool:
        """Uses that happen before the goroutine starts: in `init`, or in the starter before
        the `go` statement."""
        function = enclosing_declaration(node)
        if function is None:
            return True  # a package-level initialiser
        name = function.child_by_field_name("name")
        if name is not None and go_file.text(name) == "init" and function.type == (
            "function_declaration"
        ):
            return True
        return (context.starter is not None and context.go_statement is not None
                and go_file is context.starting_file and _is_inside(node, context.starter)
                and node.end_byte <= context.go_statement.start_byte
                and not self._started_before(node, context))

    def _started_before(self, node: Node, context: Context) -> bool:
        """`node` is in a `go` statement of the starter before `context`'s (`go x.loadNames()`
        before `go x.loadAliases()`) that no wait orders before it: it runs beside it."""
        current: Node | None = node
        while current is not None and context.starter is not None and _is_inside(
            current, context.starter
        ):
            if current.type == "go_statement":
                call = current.named_children[0] if current.named_child_count else None
                callee = unparen(call.child_by_field_name("function") or call) if (
                    call is not None and call.type == "call_expression") else None
                # The arguments are evaluated by the starter; the call and a literal's body
                # run on the new goroutine.
                if call is None or not (same_node(node, call) or (
                    callee is not None and callee.type == "func_literal"
                    and _is_inside(node, callee)
                )):
                    return False
                other = next((c for c in self.contexts if c.go_statement is not None
                              and same_node(c.go_statement, current)), None)
                statement = context.go_statement
                if other is None or statement is None:
                    return True
                return not any(current.end_byte <= w.start_byte
                               and w.end_byte <= statement.start_byte for w in self._waits(other))
            current = current.parent
        return False


def _final_done(function: Node, go_file: GoFile) -> Node | None:
    """The identifier `wg` of a `wg.Done()` the goroutine runs when it ends: deferred (also
    under an `if wg != nil`), or its body's last statement."""
    body = function.child_by_field_name("body")
    if body is None:
        return None
    statements = [c for c in body.named_children if c.type == "statement_list"]
    last = statements[0].named_children[-1] if statements and (
        statements[0].named_child_count) else None
    for node in walk(body):
        if node.type != "call_expression" or _method_name(node, go_file) != "Done":
            continue
        receiver = _receiver_of(node)
        if receiver is None or receiver.type != "identifier":
            continue
        holder = node.parent
        deferred = holder is not None and holder.type == "defer_statement" and same_node(
            enclosing_function(node), function)
        if deferred or (last is not None and holder is not None and same_node(holder, last)):
            return receiver
    return None


def _wait_after(call: Node, caller: Node, group: str, go_file: GoFile) -> int | None:
    """Where the caller's wait on its local WaitGroup `group` ends the span the goroutine
    runs in: a `group.Wait()` that always runs after `call` and before the next pass of a
    loop around it (its start), or a `defer group.Wait()` of the caller's own body registered
    before the call, outside loops (the caller's end); None without one."""
    waits = [node for node in walk(caller) if node.type == "call_expression"
             and _method_name(node, go_file) == "Wait"
             and go_file.text(_receiver_of(node) or node) == group
             and same_node(enclosing_function(node), caller)]
    loop = _loop_of(call, caller)
    later = [w for w in waits if w.start_byte >= call.end_byte]
    if _waited_before(call, loop if loop is not None else caller, later):
        return min(w.start_byte for w in later)
    body = caller.child_by_field_name("body")
    statements = next((c for c in body.named_children if c.type == "statement_list"), None) \
        if body is not None else None
    deferred = statements is not None and loop is None and any(
        w.parent is not None and w.parent.type == "defer_statement"
        and w.parent.parent is not None and same_node(w.parent.parent, statements)
        and w.end_byte <= call.start_byte for w in waits)
    return caller.end_byte if deferred else None


def _receiver_of(call: Node) -> Node | None:
    callee = call.child_by_field_name("function")
    return callee.child_by_field_name("operand") if callee is not None and (
        callee.type == "selector_expression") else None


def _parameter_names(function: Node) -> list[Node]:
    parameters = function.child_by_field_name("parameters")
    return [n for d in (parameters.named_children if parameters else [])
            for n in d.children_by_field_name("name")]


def _call_arguments(call: Node) -> list[Node]:
    arguments = call.child_by_field_name("arguments")
    return [a for a in (arguments.named_children if arguments else []) if a.type != "comment"]


def _in_go_statement(call: Node) -> bool:
    holder = call.parent
    return holder is not None and holder.type in {"go_statement", "defer_statement"}


def _handed_over(argument: Node, statement: Node, go_file: GoFile) -> bool:
    """`go run(m); m = make(map...)`: the starter gives the map to the goroutine and takes a
    fresh one before it uses the variable again, so each goroutine has a map of its own."""
    if argument.type != "identifier":
        return False
    name = go_file.text(argument)
    following = statement.next_named_sibling
    while following is not None:
        if following.type == "assignment_statement":
            left = following.child_by_field_name("left")
            right = following.child_by_field_name("right")
            targets = [go_file.text(t) for t in (left.named_children if left else [])]
            values = right.named_children if right is not None else []
            if name in targets:
                index = targets.index(name)
                value = unparen(values[index]) if index < len(values) else None
                # A fresh map, or none (`m = nil`: the next one comes from elsewhere).
                return value is not None and (
                    _is_fresh_map(value, go_file) or go_file.text(value) == "nil") and not any(
                    go_file.text(n) == name for v in values for n in walk(v)
                    if n.type == "identifier")
        if any(n.type == "identifier" and go_file.text(n) == name for n in walk(following)):
            return False
        following = following.next_named_sibling
    return False


def _after_join(node: Node, go_file: GoFile, context: Context) -> bool:
    """`close(quit); x.wg.Wait()` and then a use, in the same function body: the goroutine
    signals `x.wg.Done()` (the event loop's `defer n.wg.Done()`), so once the wait returns it
    has ended and the use cannot overlap it (`Stop` tearing down what the loop owned)."""
    # The goroutine's body may have been left out of the first parse (no rule's trigger in it).
    body = context.file.complete(context.function)
    groups = {_last_field(call, context.file) for call in walk(body)
              if call.type == "call_expression" and _method_name(call, context.file) == "Done"}
    groups.discard(None)
    if not groups:
        return False
    function = enclosing_function(node)
    if function is None or same_node(function, context.function):
        return False
    return any(
        call.type == "call_expression" and call.end_byte <= node.start_byte
        and _method_name(call, go_file) == "Wait" and _last_field(call, go_file) in groups
        and same_node(enclosing_function(call), function)
        for call in walk(function))


def _method_name(call: Node, go_file: GoFile) -> str | None:
    callee = call.child_by_field_name("function")
    field = callee.child_by_field_name("field") if callee is not None and (
        callee.type == "selector_expression") else None
    return go_file.text(field) if field is not None else None


def _last_field(call: Node, go_file: GoFile) -> str | None:
    """`n.wg` of `n.wg.Done()`: the field holding the WaitGroup (a local WaitGroup, `wg.Done()`,
    cannot be waited for by another function)."""
    callee = call.child_by_field_name("function")
    operand = callee.child_by_field_name("operand") if callee is not None and (
        callee.type == "selector_expression") else None
    if operand is None or operand.type != "selector_expression":
        return None
    field = operand.child_by_field_name("field")
    return go_file.text(field) if field is not None else None


def _is_fresh_map(value: Node, go_file: GoFile) -> bool:
    if value.type == "composite_literal":
        return True
    function = value.child_by_field_name("function") if value.type == "call_expression" else None
    return function is not None and go_file.text(function) == "make"


def _first_field(map_expr: Node) -> str | None:
    """`accounts` for `l.accounts` (and `l.accounts.byHash`); None for a plain variable."""
    current = map_expr
    field: Node | None = None
    while current.type == "selector_expression":
        field = current.child_by_field_name("field")
        operand = current.child_by_field_name("operand")
        if operand is None:
            return None
        current = unparen(operand)
    return field.text.decode() if field is not None and field.text is not None else None


def _other_field(identifier: Node, field: str, go_file: GoFile) -> bool:
    """`identifier` is the operand of a selector naming another field than `field`, and not a
    method call (a method can reach any field)."""
    selector = identifier.parent
    if selector is None or selector.type != "selector_expression" or (
        selector.child_by_field_name("operand") != identifier
    ):
        return False
    name = selector.child_by_field_name("field")
    if name is None or go_file.text(name) == field:
        return False
    call = selector.parent
    return not (call is not None and call.type == "call_expression"
                and call.child_by_field_name("function") == selector)


def _same_owner(a: GoType | None, b: GoType | None) -> bool:
    if a is None or b is None:
        return True  # unknown: assume the same type (and stay silent, for precision)
    if isinstance(a, Unknown) or isinstance(b, Unknown):
        return True
    return a == b


def _same_decl(a: Symbol | None, b: Symbol) -> bool:
    if a is None:
        return False
    if isinstance(a, LocalDecl) and isinstance(b, LocalDecl):
        return same_node(a.ident, b.ident)
    if isinstance(a, VarDecl) and isinstance(b, VarDecl):
        return a.node == b.node
    return False


def _waits_for(context: Context, go_file: GoFile, info: TypeInfo) -> list[Node]:
    """Statements in the starter after `go` that wait for the goroutine: `x.Wait()`, or a
    receive from / range over a channel the goroutine sends on or closes."""
    statement, starter = context.go_statement, context.starter
    if statement is None or starter is None:
        return []
    waits: list[Node] = []
    body = go_file.complete(starter).child_by_field_name("body")
    if body is None:
        return waits
    # A starter with many `go` statements would be walked to its end once per statement: the
    # text after the `go` tells first whether it can hold a wait at all (a wait method's
    # name; a receive or a range for a channel, which only the goroutine's signals make one).
    after = go_file.source[statement.end_byte:body.end_byte]
    calls_wait = any(method.encode() in after for method in _WAIT_METHODS)
    channels = (_channels_signalled(context, go_file) if b"<-" in after or b"range" in after
                else set())
    if not calls_wait and not channels:
        return waits
    # The waits are found from their tokens in the text after the `go` (a node lookup per
    # hit) rather than by walking every node there: the walk cost etcd's lint 4 % of its CPU.
    source, start, end = go_file.source, statement.end_byte, body.end_byte
    if calls_wait:
        for method in _WAIT_METHODS:
            waits.extend(call for at, finish in word_hits(source, method, start, end)
                         if (call := _method_call_at(go_file, at, finish)) is not None
                         and call.start_byte >= start)
    if channels:
        position = start
        while (at := source.find(b"<-", position, end)) >= 0:
            position = at + 2
            receive = _parent_of_token(go_file, at, at + 2, "<-")
            if receive is not None and receive.type == "unary_expression" and (
                receive.start_byte >= start
            ):
                operand = receive.child_by_field_name("operand")
                if operand is not None and "".join(go_file.text(operand).split()) in channels:
                    waits.append(receive)
        for at, finish in word_hits(source, "range", start, end):
            clause = _parent_of_token(go_file, at, finish, "range")
            if clause is None or clause.type != "range_clause" or clause.start_byte < start:
                continue
            ranged = clause.child_by_field_name("right")
            if ranged is not None and "".join(go_file.text(ranged).split()) in channels:
                waits.append(clause.parent if clause.parent is not None else clause)
    return waits


def _parent_of_token(go_file: GoFile, start: int, end: int, token: str) -> Node | None:
    """The node holding the token `token` found in the text at [start, end) (None: the text
    is no such token there, but part of a comment, a string or a longer token)."""
    node = go_file.node_at(start, end, named=False)
    if node is None or node.type != token or node.start_byte != start:
        return None
    return node.parent


def _method_call_at(go_file: GoFile, start: int, end: int) -> Node | None:
    """The call `x.M(...)` whose method name M is the identifier at [start, end), or None."""
    field = go_file.node_at(start, end, named=False)
    selector = field.parent if field is not None and field.type == "field_identifier" else None
    if selector is None or selector.type != "selector_expression" or (
        selector.child_by_field_name("field") != field
    ):
        return None
    call = selector.parent
    if call is None or call.type != "call_expression" or (
        call.child_by_field_name("function") != selector
    ):
        return None
    return call


def _channels_signalled(context: Context, go_file: GoFile) -> set[str]:
    """The channels the goroutine sends on or closes, as the starter writes them: a parameter
    of a function started with `go f(ch)` stands for its argument."""
    body_file = context.file
    channels: set[str] = set()
    body = body_file.complete(context.function)
    text = body_file.source[body.start_byte:body.end_byte]
    if b"<-" not in text and b"close" not in text:
        return channels  # neither sends nor closes
    # From the tokens in the text (a node lookup per hit), not a walk of every node.
    source, start, end = body_file.source, body.start_byte, body.end_byte
    position = start
    while (at := source.find(b"<-", position, end)) >= 0:
        position = at + 2
        send = _parent_of_token(body_file, at, at + 2, "<-")
        channel = send.child_by_field_name("channel") if send is not None and (
            send.type == "send_statement") else None
        if channel is not None:
            channels.add("".join(body_file.text(channel).split()))
    for at, finish in word_hits(source, "close", start, end):
        name = body_file.node_at(at, finish, named=False)
        call = name.parent if name is not None and name.type == "identifier" else None
        arguments = call.child_by_field_name("arguments") if call is not None and (
            call.type == "call_expression" and call.child_by_field_name("function") == name
        ) else None
        if arguments and arguments.named_child_count == 1:
            channels.add("".join(body_file.text(arguments.named_children[0]).split()))
    statement = context.go_statement
    call = statement.named_children[0] if statement is not None and (
        statement.type == "go_statement" and statement.named_child_count) else None
    parameters = context.function.child_by_field_name("parameters")
    if call is not None and call.type == "call_expression" and parameters is not None:
        names = [body_file.text(n) for d in parameters.named_children
                 for n in d.children_by_field_name("name")]
        argument_list = call.child_by_field_name("arguments")
        values = [a for a in (argument_list.named_children if argument_list else [])
                  if a.type != "comment"]
        channels.update("".join(go_file.text(value).split())
                        for name, value in zip(names, values, strict=False)
                        if name in channels)
    return channels


def _operator(node: Node) -> str:
    return next((c.type for c in node.children if not c.is_named), "")


# Methods that take a function to run later, on another goroutine or event loop: an event
# loop's task queue, a worker pool. The function does not run where it is written.
_QUEUE_METHODS = frozenset({"Queue", "Enqueue", "Post", "Submit", "Schedule", "Dispatch",
                            "RunOnLoop", "RunOnEventLoop"})
# Actors of github.com/Arceliar/phony: `actor.Act(from, f)` and `phony.Block(actor, f)` run f
# in the actor's inbox, one message at a time: the actor's state belongs to it.
_ACTOR_METHODS = frozenset({"Act", "Block"})
_ACTOR_PACKAGE = "github.com/Arceliar/phony"


def _handed_to(literal: Node) -> Node | None:
    """The `x.f` of the call `x.f(..., literal, ...)` that `literal` is an argument of."""
    call = call_with_argument(literal)
    function = call.child_by_field_name("function") if call is not None else None
    return function if function is not None and function.type == "selector_expression" else None


def _queued(literal: Node, go_file: GoFile) -> bool:
    function = _handed_to(literal)
    field = function.child_by_field_name("field") if function is not None else None
    if field is None:
        return False
    name = go_file.text(field)
    return name in _QUEUE_METHODS or (
        name in _ACTOR_METHODS and _ACTOR_PACKAGE in go_file.imports.values())


def _timer_callback(literal: Node, go_file: GoFile) -> bool:
    """`literal` is the function argument of `time.AfterFunc(d, f)`."""
    function = _handed_to(literal)
    if function is None:
        return False
    operand, field = (function.child_by_field_name("operand"),
                      function.child_by_field_name("field"))
    return (operand is not None and field is not None and go_file.text(field) == "AfterFunc"
            and go_file.imports.get(go_file.text(operand)) == "time")


def _strongest(contexts: list[Context], package: Package) -> Context:
    """The context that proves the most; among equals, one started in the linux/amd64 build:
    the goroutine a message names is then the one most readers build."""
    def proof(context: Context) -> tuple[bool, bool]:
        return context.repeatable, context.kind == "handler"

    best = max(contexts, key=proof)
    equals = [c for c in contexts if c is not best and proof(c) == proof(best)]
    if not equals or best.in_linux_amd64_build(package):
        return best
    return next((c for c in equals if c.in_linux_amd64_build(package)), best)


def _has_handler_parameters(function: Node, go_file: GoFile) -> bool:
    """(http.ResponseWriter, *http.Request) and no result, with the file's import names: a
    function that returns something is no http.HandlerFunc, and no mux can take it
    (gotosocial's `CreateGinTestContext(rw, r) (*gin.Context, *gin.Engine)`, a test helper)."""
    if function.child_by_field_name("result") is not None:
        return False
    parameters = function.child_by_field_name("parameters")
    return tuple(parameter_types(parameters, go_file.imports)) == _HANDLER_PARAMS


def _is_middleware(function: Node, go_file: GoFile) -> bool:
    """A middleware's `ServeHTTP(w http.ResponseWriter, r *http.Request, next H)`, `H` a handler
    type (`http.HandlerFunc` for negroni, `caddyhttp.Handler` for Caddy, which returns an
    error): the server calls it for every request, on the request's goroutine, as it calls a
    handler."""
    name = function.child_by_field_name("name")
    if function.type != "method_declaration" or name is None or (
            go_file.text(name) != "ServeHTTP"):
        return False
    result = function.child_by_field_name("result")
    if result is not None and result_types(result, go_file.imports) != [_ERROR]:
        return False
    parameters = parameter_types(function.child_by_field_name("parameters"), go_file.imports)
    return (len(parameters) == 3 and tuple(parameters[:2]) == _HANDLER_PARAMS
            and isinstance(parameters[2], Named) and parameters[2].name.endswith(
                ("Handler", "HandlerFunc")))


def _arity(protocol: Protocol) -> int:
    """The parameters of a handler: net/http's two, a web framework's one context."""
    return 2 if protocol == "http" else 1


def _framework_handlers(go_file: GoFile) -> list[tuple[Node, Protocol]]:
    """The functions, methods and func literals of a file whose one parameter is a web
    framework's request context (`func(c *gin.Context)`, `func(c echo.Context) error`, ...),
    found from the file's mentions of that type under the name it imports the package as."""
    found: list[tuple[Node, Protocol]] = []
    for framework in _FRAMEWORKS:
        if b'"' + framework.import_path.encode() + b'"' not in go_file.source:
            continue
        wanted = Named(framework.import_path, framework.type_name)
        for local, path in go_file.imports.items():
            if path != framework.import_path:
                continue
            for start, end in word_hits(go_file.source, f"{local}.{framework.type_name}",
                                        followed_by_paren=False):
                function = _function_of_parameter(go_file.node_at(start, end))
                if function is not None and _framework_shaped(function, go_file, wanted,
                                                              framework) and not any(
                        same_node(function, seen) for seen, _ in found):
                    found.append((function, framework.protocol))
    return found


def _framework_shaped(function: Node, go_file: GoFile, wanted: GoType,
                      framework: _Framework) -> bool:
    parameters = tuple(parameter_types(function.child_by_field_name("parameters"),
                                       go_file.imports))
    if parameters != ((PointerTo(wanted) if framework.pointer else wanted),):
        return False
    results = result_types(function.child_by_field_name("result"), go_file.imports)
    return results == ([Named("builtin", "error")] if framework.returns_error else [])


def _function_of_parameter(node: Node | None) -> Node | None:
    """The function whose parameter list holds `node`."""
    current = node
    for _ in range(6):
        if current is None:
            return None
        if current.type == "parameter_list":
            function = current.parent
            if function is not None and function.type in FUNCTIONS and (
                function.child_by_field_name("parameters") == current
            ):
                return function
            return None
        current = current.parent
    return None


def _loop_of(node: Node, function: Node | None) -> Node | None:
    """The innermost loop around `node` inside `function`."""
    return innermost(node, _LOOPS, function)


def _waited_before(statement: Node, limit: Node, waits: list[Node]) -> bool:
    """Whether one of `waits` always runs after `statement` and before control leaves `limit`
    (a loop body's pass, or the function): it is a later statement of a block that holds
    `statement`, within `limit`, and not nested in a branch or a closure."""
    child, block = statement, statement.parent
    while block is not None and block != limit:
        if block.type == "statement_list":
            if any(_top_statement(w, block) is not None and w.start_byte >= child.end_byte
                   for w in waits):
                return True
        elif block.type in FUNCTIONS:
            return False
        child, block = block, block.parent
    return False


def _leaves_after(statement: Node, loop: Node) -> bool:
    """A `return` (or a `break` of this loop) always follows `statement` in the pass: the loop
    starts the goroutine once (`for _, p := range providers { go watch(p); return nil }`)."""
    child, block = statement, statement.parent
    while block is not None and block != loop:
        if block.type == "statement_list":
            for later in block.named_children:
                if later.start_byte < child.end_byte:
                    continue
                if later.type == "return_statement" or (
                    later.type == "break_statement" and not later.named_child_count
                    and block.parent is not None and block.parent.parent == loop
                ):
                    return True
        elif block.type in FUNCTIONS or block.type in {"expression_switch_statement",
                                                        "type_switch_statement",
                                                        "select_statement"}:
            return False
        child, block = block, block.parent
    return False


def _top_statement(node: Node, block: Node) -> Node | None:
    """The statement of `block` that holds `node` directly (its expression, or the node
    itself), None when `node` is nested in a deeper block, a branch or a closure."""
    current = node
    while current.parent is not None and current.parent != block:
        if current.type in {"block", "func_literal", "statement_list"} and current != node:
            return None
        current = current.parent
    return current if current.parent == block else None


def _loop_body_of(node: Node) -> Node:
    current = node.parent
    while current is not None and current.type not in FUNCTIONS:
        if current.type in _LOOPS:
            return current
        current = current.parent
    return node


def _chain_root(expr: Node) -> Node | None:
    current: Node | None = expr
    while current is not None and current.type in {"selector_expression",
                                                   "parenthesized_expression"}:
        current = (current.child_by_field_name("operand")
                   if current.type == "selector_expression" else unparen(current))
    return current if current is not None and current.type == "identifier" else None


def _is_inside(node: Node, ancestor: Node) -> bool:
    return ancestor.start_byte <= node.start_byte and node.end_byte <= ancestor.end_byte

