"""## What it does
Finds a map written (`m[k] = v`, `m[k]++`, `m[k] op= v`, `delete`, `clear`) by code that runs
concurrently — an HTTP handler, a gRPC service method or server interceptor, a goroutine, a
function started with `go` — while other goroutines can reach the same map, and no lock is held at
the write. HTTP handlers are net/http's (`func(http.ResponseWriter, *http.Request)`) and those of
the web frameworks that serve each request on a goroutine of its own: gin's `func(*gin.Context)`
and echo's `func(echo.Context) error` (`func(*echo.Context) error` from echo v5; both serve through
net/http), fiber's `func(*fiber.Ctx) error` and fasthttp's `func(*fasthttp.RequestCtx)`; a method
of that shape is one when the module hands it on as a value or never calls it (a call that forwards
the request's context makes its caller the handler). A middleware's `ServeHTTP(w, r, next)` is one
too: negroni's (`next http.HandlerFunc`) and Caddy's (`next caddyhttp.Handler`, returning an
error) run for every request, on its goroutine. A gRPC service method is an exported method
with an RPC's signature (`(context.Context, *Req) (*Resp, error)`, or a stream's) of a type that
embeds the generated `Unimplemented...Server`; when the module holds the generated code, only the
RPCs it declares count. A server interceptor is a function or func literal that takes
`*grpc.UnaryServerInfo` and `grpc.UnaryHandler` (or the stream pair), or a `func(context.Context)
(context.Context, error)` that the module hands to a `UnaryServerInterceptor(f)` or
`StreamServerInterceptor(f)` call (the auth function of go-grpc-middleware): grpc-go runs it for
every call. It also follows calls from HTTP handlers and from goroutines that run several times at
once, up to two calls deep and across the packages of the module (a handler in `cmd/server` calling
a store method in `internal/store`): a write there to what the call hands on (the handler's
receiver or a field of it, a shared argument) or to a package-level map is reported at the write,
naming the handler and the call that leads to it. Lint the module from its root (`./...`) for calls
between its packages to be seen. A call reaches only the branches its bool arguments let run: a
helper called as `record(name, true)`, or with a flag the caller tested (`if !parallel { ...;
return }` before it), is not reported for its writes in `if !parallel { ... }` (docs/lint.md,
"Calls from concurrent code", says what counts as known). When goroutines started in build variants
of one file reach the write alike (`run_js.go` and `run_other.go`), the message names the one the
linux/amd64 build has. A write in a closure such code hands to `time.AfterFunc` is said to run in
that callback, on a goroutine of its own: each run of the handler or goroutine schedules one.

It reports a write only with proof that the map is shared: the map is a package-level
variable (one map per process) written in an HTTP handler or in a goroutine that runs several
times at once (directly, or in a function such code calls, where the map is that function's
package-level variable); or the map is a variable of the function that starts goroutines in a
loop, declared before that loop (not in its body: each pass would have its own), and each
pass's goroutine writes it — in its own body, the textbook `for _, u := range urls { go func()
{ m[u] = fetch(u) }() }`, or in a function it calls with that variable (or a field of it) as
the receiver or an argument, up to two calls deep and across the module's packages (`go
func() { t.add(w) }()` where `add` writes `t.counts`; `record(seen, k)` writing `seen[k]`) —
while the loop's passes do not wait for their goroutine (`wg.Wait()` in the pass, an errgroup
limited to one with `SetLimit(1)`), no lock is held at the call or the write, and no other use
of the variable holds a lock. Every goroutine of the loop then writes the one map. It also
reports a method that writes its receiver's map field while holding only the receiver's read
lock (`s.mu.RLock()`, or an embedded RWMutex's `s.RLock()`), where the package writes that
field under the exclusive lock (`s.mu.Lock()`) in at least two other functions: an RLock admits
any number of holders at once, so the lock itself says that this method runs beside others,
whether or not a goroutine or handler reaches it (docs/lint.md, "The lock a type keeps"). Like
the rest of MG004 it is looked for in packages that start goroutines or serve requests (a
package with neither is not read for MG004: on etcd that kept 6 % off the lint). A write
whose only proof is that other goroutines can reach the map — a field reached through the
receiver, any other captured variable (one a goroutine started once shares with its starter),
a map handed over, a goroutine started once — is MG014's (off by default): on fresh trees those
were false 36–75 % of the time, these proofs never (the loop's added eight findings in six of
the 1,600 fresh trees of rounds 18-25, all real, six in the goroutine's body and two through a
call, and none on the seven benchmark trees, 2026-12-06). So is a write to a map the package
reads or writes elsewhere with a lock held (MG014's message then says "... and elsewhere it is
accessed with a lock held (file:line)"): in the review's round 10, 7 of 9 such findings were
false, the write being under a lock the rule does not see (a wrapper that locks around every
handler it registers, a lock taken under a flag).

## Why is this bad?
Go maps are not safe for concurrent use. net/http serves every request on its own goroutine,
and grpc-go every call, so a handler that writes a package-level or shared map is a data race by
construction. The runtime
detects concurrent writes on a best-effort basis and kills the process with
`fatal error: concurrent map writes` (or `concurrent map read and map write`); that error cannot
be recovered. `go test -race` reports `WARNING: DATA RACE` with both stacks — when a test happens
to execute both sides.

## Example
```go
var hits = map[string]int{}

func handle(w http.ResponseWriter, r *http.Request) {
    hits[r.URL.Path]++
}
```

## Use instead
```go
var (
    mu   sync.Mutex
    hits = map[string]int{}
)

func handle(w http.ResponseWriter, r *http.Request) {
    mu.Lock()
    hits[r.URL.Path]++
    mu.Unlock()
}
```
An `RWMutex` needs `Lock` (not `RLock`) for writes. Alternatives: confine the map to one
goroutine and send it updates over a channel, or `sync.Map` for caches whose keys are written
once and read many times (it is not a general replacement for a mutex-guarded map).

## When it is a false alarm
When a lock held by the caller protects the write: name the function `...Locked`, say in its doc
comment that the caller holds the lock ("Lock should be held.", "Lock held on entry", "callers
must hold mu", ...), or call it only with the lock held, and mapguard takes it as held; so is a
lock the starter takes before `go func() {...}()` and the goroutine itself unlocks (`mu.Lock();
go func() { m[k] = v; mu.Unlock() }()`), up to that `Unlock`, and a package-level mutex that a
wrapper holds around every call of a handler function the package only hands to it (`Locked(h)`,
or a route table whose entries a `range` loop wraps), for that handler and what it calls, a
channel of capacity 1 used as a lock (`sem <- true` ... `<-sem`), and a try-lock: `TryLock`, or
a flag swapped between two constants by an atomic compare-and-swap, held where it succeeded
until the flag is stored back (`if atomic.CompareAndSwapUint32(&busy, 0, 1) { ...;
atomic.StoreUint32(&busy, 0) }`, `if !running.CompareAndSwap(false, true) { return }; defer
running.Store(false)`); a CAS of computed values (a counter's retry loop), or one that code
never sets back (an on/off switch), is no lock. A
method with a handler's
parameters that the module only calls (`ctx.Reset(rw, r)` on a pooled per-request value) and
never hands on as a value is not a handler by itself: a method is one when it is `ServeHTTP`,
when some code of the module takes it as a value (`mux.HandleFunc("/", s.m)`), or when nothing
in the module calls it (a library's handler its users register). The same holds for an
unexported function, judged by its package; and a function with a handler's parameters that
returns something (`NewTestContext(w, r) (*Ctx, error)`) is never a handler: no mux can take
it. A type that has a service's
methods but embeds no `Unimplemented...Server` is not taken as a gRPC service, nor is one
declared in a test file (a fake the test calls). A
goroutine whose starter waits for it (`wg.Wait()`, draining a channel it closes) before going on
— also once per pass of a loop — is not taken as running alongside the rest of the package; nor
are the uses in helpers that only the goroutine itself calls (an event loop's own state), uses
before the `go` in the function that starts it, uses after a `Wait()` on the WaitGroup the
goroutine's `Done()` signals (a `Stop` that joins the loop, then tears down what it owned), a
map the starter hands over and replaces (or sets to nil) right after `go`, a map a starter
makes for itself when each of its runs starts the goroutine once at a time (also when it
restarts it with `wg.Wait(); goto retry`), one goroutine per element (`for _, c := range
clients { go c.Run() }` over pointers: each has its own receiver), or another field of the
same value, also when the starter reaches the value through a method that uses only other
fields. A map parameter (or local) that the function rebinds to a fresh map before the write —
`m = maps.Clone(m)`, `m = make(...)`, a map literal — by a statement that runs on every path to
it (earlier in the write's block, or in a block around it) is the function's own copy; a
rebinding inside an `if` that does not hold the write, or after the write, does not count, nor
does one whose variable is assigned again or has its address taken before the write, or in a
function with a `goto`. A function handed to a task queue (`q.Queue(func() {...})`) or to a
phony actor (`actor.Act(from, f)`, `phony.Block(actor, f)`) runs where the queue or the actor's
inbox runs it, not in the goroutine that hands it over. Code in `_test.go` files, and the
goroutines they start (also those running package code, `go s.readLoop()` in a test), are left
to `go test -race`. A write in a branch that the concurrent caller's bool argument rules out
(`if parallel { lock; write } else { write }`, called with `true` or with a flag the caller
tested) is not reached through that call; a flag the rule cannot know there (a field, a value
computed or reassigned before the call) keeps the finding. When the goroutines are ordered by
something the rule does not see (a channel handshake through another function), or a branch is
ruled out by such a flag, suppress the finding with `//mapguard:ignore MG004 <reason>`. Calls
are not followed when a write lock is held at the call (it covers the callee), from a goroutine
that runs once, into a value made fresh for each goroutine (`c := newConn(); go c.serve()`), through
interfaces or function values, into func literals (`once.Do(func() {...})`), or on a value a
generic function of another package returns.

A goroutine is also joined when the wait is one to three calls up: the caller declares `var wg
sync.WaitGroup`, waits after the call (or defers `wg.Wait()` outside loops) and passes `&wg` to
the function that does `wg.Add(1); go load(..., wg)`, and `load` signals `wg.Done()` when it
ends (deferred, or as its last statement). Every call of that function must be such a call:
one in a loop that waits only after the loop, one that never waits, or the function used as a
value keeps the finding. A wait orders its goroutines against the rest of the program, not
against each other: goroutines started beside each other that touch the same map are still
reported, also when their starter waits for them. From Go 1.22 (the module's `go` line) a
closure started once per pass of a range loop over pointers captures that pass's element
(`for _, c := range calls { go func() { run(c) }() }`): each goroutine has its own, as for `go
c.Run()`, unless a loop around that loop hands the same elements to the goroutines of every
round. Before Go 1.22 the closures share one variable, and the finding stays.
"""

from __future__ import annotations

import re
from pathlib import Path

from tree_sitter import Node

from mapguard.lint.rule import Pass, Rule, Severity
from mapguard.source.concurrency import (
    CONTEXT_MARKERS,
    FRAMEWORK_MARKERS,
    Concurrency,
    Sharing,
    Tier,
)
from mapguard.source.lockdiscipline import unguarded_writes
from mapguard.source.lockevidence import locked_elsewhere
from mapguard.source.locks import Mode, lock_mode_at
from mapguard.source.mapwrites import MapWrite, map_writes
from mapguard.source.package import FuncDecl, GoFile
from mapguard.source.typeinfo import (
    LocalDecl,
    calls_in,
    enclosing_function,
    same_node,
    unparen,
)
from mapguard.source.valueflow import rebound_to_copy

# Bodies that start goroutines or handle requests. The other functions the rule looks into
# (ones started with `go f()`, helpers handed a shared map, a gRPC service's methods) are
# parsed when it asks about them. Module-wide following (`mapguard.lint.modulewide`) starts in
# packages whose text holds one of these, and a gRPC service's struct names its generated
# `Unimplemented...Server`; a server interceptor takes a `*grpc.UnaryServerInfo` (or the
# stream one), and go-grpc-middleware's auth function is a `(context.Context, error)` one.
CONTEXT_BODIES = (
    re.compile(rb"\tgo "), re.compile(rb"\{ go "), re.compile(rb"\.Go\("),
    re.compile(rb"ResponseWriter"), re.compile(rb"Unimplemented\w+Server"),
    # Literal patterns only: an alternation (`(?:Unary|Stream)ServerInfo`) has no literal
    # prefix to search by, and scanned every file 15 times slower than these.
    re.compile(rb"ServerInfo"), re.compile(rb"\) \(context\.Context, error\)"),
    # Web frameworks' handlers (`gin.Context`, ...).
    *(re.compile(re.escape(marker)) for marker in FRAMEWORK_MARKERS),
)

# Parameters known to receive a shared map: (file id, function start) -> index -> why.
Handoffs = dict[tuple[int, int], dict[int, str]]


def run(pass_: Pass) -> None:
    analyse(pass_, "proven")
    report_unguarded(pass_, Mode.READ)


def claimed_by_read_lock(pass_: Pass) -> set[tuple[Path, int, int]]:
    """(file, line, column) of the writes MG004 reports for a read lock (`report_unguarded`
    with Mode.READ): MG014 leaves them to it, whichever rules are selected."""
    return {(found.write.file.path, found.write.statement.start_point.row + 1,
             found.write.statement.start_point.column + 1)
            for found in unguarded_writes(pass_.package, pass_.info, Mode.READ)}


def report_unguarded(pass_: Pass, mode: Mode) -> None:
    """The writes of `lockdiscipline` made with `mode` held (READ: MG004's; NONE: MG014's),
    where the concurrency model has not already reported the statement."""
    reported = {(f.path, f.line, f.column) for f in pass_.findings}
    for found in unguarded_writes(pass_.package, pass_.info, mode):
        write = found.write
        place = (write.file.path, write.statement.start_point.row + 1,
                 write.statement.start_point.column + 1)
        if place in reported or not pass_.owns(write.file):
            continue
        reported.add(place)
        target = "".join(write.file.text(write.target).split())
        evidence = ", ".join(found.evidence[:3]) + (", ..." if len(found.evidence) > 3 else "")
        if mode is Mode.READ:
            message = (
                f"`{target}` is written in {found.method} with only the read lock held "
                f"(RLock), and the type writes it under the exclusive lock elsewhere "
                f"({evidence}): an RLock admits any number of holders at once, so two of them "
                "can write the map together, or one write it while another reads (the runtime "
                "then kills the process with `fatal error: concurrent map writes`; go test "
                "-race reports a DATA RACE). Take the write lock (Lock) for the write")
        else:
            message = (
                f"`{target}` is written without a lock in {found.method}, and the type writes "
                f"it with its own lock held elsewhere ({evidence}): if {found.method} runs "
                "while the value is shared, it races with those writes (`fatal error: "
                "concurrent map writes`; go test -race reports a DATA RACE). Hold the same "
                "lock, or say why none is needed here (a set-up phase, a lock held across "
                "calls)")
        pass_.report(write.file, write.statement, message)


def analyse(pass_: Pass, tier: Tier) -> None:
    """Report the writes whose proof of sharing is of `tier`: "proven" (a package-level map
    in a handler or a goroutine that runs several times at once: MG004) or "unproven"
    (reachability alone: MG014, with MG004's message, which names a locked use of the same
    map elsewhere in the package when there is one)."""
    model = Concurrency.of(pass_.package, pass_.info)
    if not model.contexts:
        return  # nothing in this package runs concurrently
    handoffs, receivers = _shared_parameters(pass_, model)
    # Only writes inside concurrent code, or inside functions handed a shared map, can matter;
    # not those in tests, which run under `go test -race` (it judges them better): their
    # regions are not even searched (typing each index write is the costly part).
    regions = [(c.file, c.function) for c in model.contexts if not c.file.is_test]
    regions.extend((d.file, d.node) for d in receivers if not d.file.is_test)
    for write in map_writes(pass_.package, pass_.info, regions):
        found = _in_context(pass_, model, write) or _handed_over(pass_, handoffs, write)
        if found is None:
            continue
        reason, where, mode, proven = found
        if proven != (tier == "proven"):
            continue
        evidence = ""
        if not proven and mode is Mode.NONE:
            # Named in MG014's message, but no proof: the write was often under a lock the
            # model does not see (every handler called by a wrapper that locks, a lock taken
            # under a flag).
            evidence = locked_elsewhere(pass_.package, pass_.info, write.file, write.target,
                                        write.statement) or ""
        pass_.report(write.file, write.statement,
                     _message(write, reason, where, mode, evidence))


# Why the written map is shared, where the write runs, the lock held there, and whether a
# package-level map in a handler or a goroutine that runs several times at once proves it.
Judged = tuple[str, str, Mode, bool]


def _in_context(pass_: Pass, model: Concurrency, write: MapWrite) -> Judged | None:
    context = model.context_of(write.statement, write.file, branches=True)
    if context is None or rebound_to_copy(write.target, write.file, pass_.info):
        return None
    sharing = model.sharing(write.target, write.file, context)
    if sharing is None:
        return None
    mode = lock_mode_at(write.statement, write.file, pass_.info)
    if mode is Mode.WRITE:
        return None
    return (sharing.reason, model.describe_at(write.statement, write.file, context), mode,
            (sharing.package_level and (context.kind == "handler" or context.repeatable))
            or _loop_shared_write(pass_, sharing, write, context.function))


def _loop_shared_write(pass_: Pass, sharing: Sharing, write: MapWrite, goroutine: Node
                       ) -> bool:
    """A write in the goroutine's own body to a variable every goroutine of the starting loop
    captures (`Sharing.loop_shared`), with no use of it under a lock elsewhere: the lock
    model may miss a lock that a locked use shows the author meant (round 10)."""
    return sharing.loop_shared and same_node(enclosing_function(write.statement), goroutine) \
        and locked_elsewhere(pass_.package, pass_.info, write.file, write.target,
                             write.statement) is None


def _handed_over(pass_: Pass, handoffs: Handoffs, write: MapWrite) -> Judged | None:
    parameter = _written_parameter(pass_, write)
    if parameter is None:
        return None
    function, index = parameter
    reason = handoffs.get((id(write.file), function.start_byte), {}).get(index)
    if reason is None or lock_mode_at(write.statement, write.file, pass_.info) is Mode.WRITE:
        return None
    if rebound_to_copy(write.target, write.file, pass_.info):
        return None  # `m = maps.Clone(m)` ran before: the write changes the function's copy
    # The written map is a parameter: what is handed over is reachability, whatever it was.
    return (reason, "a function that concurrent code calls with it",
            lock_mode_at(write.statement, write.file, pass_.info), False)


def _message(write: MapWrite, reason: str, where: str, mode: Mode, evidence: str = "") -> str:
    target = "".join(write.file.text(write.target).split())
    lock_note = (" (an RLock is held, but RLock only allows reads)" if mode is Mode.READ
                 else "")
    locked = (f", and elsewhere it is accessed with a lock held ({evidence})" if evidence
              else "")
    return (
        f"`{target}` is written without a lock{lock_note} in {where}, and {reason}{locked}: "
        f"two goroutines can write it at once, and the runtime then kills the process with "
        f"`fatal error: concurrent map writes` (go test -race reports a DATA RACE). Hold a "
        f"sync.Mutex around every access to it, or give the map to a single goroutine"
    )


def _written_parameter(pass_: Pass, write: MapWrite) -> tuple[Node, int] | None:
    """(function, parameter index) when the written map is a parameter of a declared function."""
    target = unparen(write.target)
    if target.type != "identifier":
        return None
    symbol = pass_.info.resolve(target, write.file)
    if not isinstance(symbol, LocalDecl) or symbol.kind != "param":
        return None
    function = symbol.scope
    if function.type not in {"function_declaration", "method_declaration"}:
        return None
    index = _parameter_index(function, symbol.ident)
    return (function, index) if index is not None else None


def _parameter_index(function: Node, ident: Node) -> int | None:
    parameters = function.child_by_field_name("parameters")
    names = [n for d in (parameters.named_children if parameters else [])
             for n in d.children_by_field_name("name")]
    return next((i for i, name in enumerate(names) if name == ident), None)


def _shared_parameters(pass_: Pass, model: Concurrency) -> tuple[Handoffs, list[FuncDecl]]:
    """Map parameters of same-package functions that receive a shared map from concurrent
    code, directly or through further same-package calls; and the functions that receive one.

    A worklist from the calls in concurrent code outwards: only code that can hand a shared
    map on is read, not every function of the package."""
    shared: Handoffs = {}
    receivers: dict[tuple[int, int], FuncDecl] = {}
    queue: list[tuple[GoFile, Node]] = [(c.file, c.function) for c in model.contexts]
    scanned: set[tuple[int, int]] = set()
    by_name: dict[str, bool] = {}

    def may_take_a_map(name: str | None) -> bool:
        if name is None:
            return False
        known = by_name.get(name)
        if known is None:
            named = pass_.package.functions_named(name)
            # None: a generated file not loaded yet may declare it; resolving will tell.
            known = named is None or any(_takes_a_map(pass_, decl) for decl in named)
            if named is not None:
                by_name[name] = known  # a file that does not mention the name cannot add one
        return known

    while queue:
        go_file, function = queue.pop()
        if (id(go_file), function.start_byte) in scanned:
            continue
        scanned.add((id(go_file), function.start_byte))
        for call in calls_in(go_file.complete(function), go_file.source):
            arguments = _arguments(call)
            called = call.child_by_field_name("function")
            # Resolving a callee can mean inferring its operand's type: not for a call that
            # hands nothing over, nor for one whose name no package function taking a map has.
            if not arguments or called is None or not may_take_a_map(
                    pass_.info.called_name(called, go_file)):
                continue
            callee = pass_.info.called_function(called, go_file)
            if callee is None:
                continue
            key = (id(callee.file), callee.node.start_byte)
            for index, argument in enumerate(arguments):
                if index in shared.get(key, {}) or not _is_map_parameter(pass_, callee, index):
                    continue
                reason = _argument_reason(pass_, model, shared, call, go_file, argument)
                if reason is None or lock_mode_at(call, go_file, pass_.info) is Mode.WRITE:
                    continue  # not shared, or handed over under the lock
                shared.setdefault(key, {})[index] = reason
                receivers[key] = callee
                scanned.discard(key)  # look again: it may pass the map on
                queue.append((callee.file, callee.node))
    return shared, list(receivers.values())


def _argument_reason(pass_: Pass, model: Concurrency, shared: Handoffs, call: Node,
                     go_file: GoFile, argument: Node) -> str | None:
    if rebound_to_copy(argument, go_file, pass_.info):
        return None  # it hands on its own copy
    context = model.context_of(call, go_file, branches=True)
    if context is not None:
        sharing: Sharing | None = model.sharing(argument, go_file, context)
        if sharing is not None:
            origin = context.describe(pass_.package)
            return f"it receives a shared map from {origin}: {sharing.reason}"
    # Passed on from a parameter that is itself known to hold a shared map.
    argument = unparen(argument)
    if argument.type != "identifier":
        return None
    symbol = pass_.info.resolve(argument, go_file)
    if not isinstance(symbol, LocalDecl) or symbol.kind != "param":
        return None
    function = symbol.scope
    index = _parameter_index(function, symbol.ident)
    if index is None:
        return None
    return shared.get((id(go_file), function.start_byte), {}).get(index)


def _arguments(call: Node) -> list[Node]:
    arguments = call.child_by_field_name("arguments")
    return [a for a in (arguments.named_children if arguments else []) if a.type != "comment"]


def _takes_a_map(pass_: Pass, declaration: FuncDecl) -> bool:
    return any(pass_.info.is_map(param) for param in pass_.info.signature(declaration).params)


def _is_map_parameter(pass_: Pass, declaration: FuncDecl, index: int) -> bool:
    params = pass_.info.signature(declaration).params
    return index < len(params) and pass_.info.is_map(params[index])


RULE = Rule(
    code="MG004",
    name="unsynchronized-map-write",
    severity=Severity.ERROR,
    summary="a package-level map written without a lock in a handler or repeated goroutine",
    reports_at="the write (`m[k] = v`, `m[k]++`, `m[k] op= v`, `delete`, `clear`)",
    doc=__doc__ or "",
    run=run,
    # Concurrency needs a `go` statement (gofmt indents it), an HTTP handler or a gRPC
    # service somewhere.
    markers=CONTEXT_MARKERS,
    bodies=CONTEXT_BODIES,
    in_tests=False,  # `go test -race` judges tests and the goroutines they start
    # The concurrency model and the shared-map handoffs span the package.
    whole_package=True,
)
