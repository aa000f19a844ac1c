"""Following calls from concurrent code: what a called function does to the maps it is handed.

MG004, MG005 and MG008 judge a write where it happens; the concurrency that makes it a race
can be a call or two away, in another package of the module (a handler in `cmd/server`
calling a writer in `internal/store`). This module follows calls outwards, at most
`MAX_DEPTH` calls deep, from:

- every concurrency context of a package that runs several times at once (HTTP handlers,
  goroutines started in a loop or per request; `Concurrency`), with what the call hands on:
  a receiver or an argument that other goroutines reach (the context's own sharing rules say
  which, except for a value made fresh for each goroutine), and the package-level maps of
  every package it reaches;
- every function that loads or stores a published map (MG008), with the published map as
  an argument.

A called function is *visited* with what it was handed (`Shared`): its unlocked writes to a
shared map are MG004 findings when the map is a package-level variable, MG014 ones
otherwise (MG008 for a published one), its unlocked lazy
initialisation of shared state an MG005 finding, and its own calls hand on what they pass.
A call made with a write lock held hands on nothing (the lock covers the callee). Calls into
the same package are visited at once; calls into another package of the module become
`CallOut` records, which the engine (`mapguard.lint.modulewide`) groups by package and visits
there, round after round, with every package's results cached. Interface calls, function
values and func literals (`once.Do(func() {...})`) are not followed:
who runs them, and how often, is not visible.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tree_sitter import Node

from mapguard.lint.rules import mg005_lazy_init_race as mg005
from mapguard.lint.rules import mg008_published_map_mutated as mg008
from mapguard.source.branches import argument_values, known_parameters, ruled_out
from mapguard.source.calls import runs_under_once
from mapguard.source.concurrency import Concurrency, Context
from mapguard.source.lockevidence import locked_elsewhere
from mapguard.source.locks import Mode, lock_mode_at
from mapguard.source.mapwrites import map_writes
from mapguard.source.package import FuncDecl, GoFile, Package, VarDecl, receiver_type_name
from mapguard.source.typeinfo import (
    ImportRef,
    LocalDecl,
    TypeInfo,
    calls_in,
    same_node,
    under,
    unparen,
    walk,
)
from mapguard.source.types import Named, deref
from mapguard.source.valueflow import (
    built_with_field,
    checked_field,
    never_set_nil,
    rebound_to_copy,
    set_before_start,
)

MAX_DEPTH = 2  # calls followed from one context (a handler, its helper, the store it calls)
_NIL_CHECK = re.compile(rb"== ?nil|nil ==")
PUBLISHING = (b"atomic.Pointer[", b"atomic.Value", b"sync.Map")

_REPEATS = "runs several times at once"


@dataclass(frozen=True, slots=True)
class Shared:
    """What a called function is handed that other goroutines reach, and why (None: not
    shared): its receiver, each parameter, the package-level maps of its package; the
    published maps among its parameters (MG008); the context it all comes from."""

    receiver: str | None = None
    params: tuple[str | None, ...] = ()
    globals: str | None = None
    published: tuple[str | None, ...] = ()
    origin: str = ""
    depth: int = 0
    # Fields of the receiver, and of each parameter, that the code starting the goroutines
    # set before the `go` (`mapguard.source.valueflow`): lazy initialisation of them is dead.
    receiver_set: tuple[str, ...] = ()
    params_set: tuple[tuple[str, ...], ...] = ()
    # The value of each bool argument the call is known to pass (`true`, or a flag the caller
    # tested; `mapguard.source.branches`): the callee's branches it rules out are not reached.
    flags: tuple[bool | None, ...] = ()
    # Whether the receiver, and each parameter, is a variable every goroutine of the loop that
    # starts them captures (`Sharing.loop_shared`): shared for certain, not merely reachable,
    # so a write to it that no lock covers is MG004's, as in the goroutine's own body.
    receiver_loop: bool = False
    params_loop: tuple[bool, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.receiver or self.globals or any(self.params) or any(self.published))

    @property
    def pattern(self) -> tuple[object, ...]:
        """Which inputs are shared, whatever the reasons: a function is visited once per
        pattern (the first caller's reasons name it in the messages)."""
        return (bool(self.receiver), tuple(map(bool, self.params)), bool(self.globals),
                tuple(map(bool, self.published)), self.receiver_set, self.params_set,
                self.flags, self.receiver_loop, self.params_loop)

    def param(self, index: int) -> str | None:
        return self.params[index] if index < len(self.params) else None

    def param_loop(self, index: int) -> bool:
        return self.params_loop[index] if index < len(self.params_loop) else False

    def published_param(self, index: int) -> str | None:
        return self.published[index] if index < len(self.published) else None

    def param_set(self, index: int) -> tuple[str, ...]:
        return self.params_set[index] if index < len(self.params_set) else ()

    def to_json(self) -> list[Any]:
        return [self.receiver, list(self.params), self.globals, list(self.published),
                self.origin, self.depth, list(self.receiver_set),
                [list(fields) for fields in self.params_set], list(self.flags),
                self.receiver_loop, list(self.params_loop)]

    @classmethod
    def from_json(cls, data: list[Any]) -> Shared:
        (receiver, params, globals_, published, origin, depth, receiver_set, params_set,
         flags, receiver_loop, params_loop) = data
        return cls(receiver, tuple(params), globals_, tuple(published), origin, depth,
                   tuple(receiver_set), tuple(tuple(fields) for fields in params_set),
                   tuple(flags), receiver_loop, tuple(params_loop))


@dataclass(frozen=True, slots=True)
class CallOut:
    """A call into another package of the module, with what it hands over."""

    package: str  # import path
    function: str  # `F`, or `T.M` for a method of T (either receiver form)
    shared: Shared
    where: str  # the call, `file.go:12`, for the message

    def to_json(self) -> list[Any]:
        return [self.package, self.function, self.shared.to_json(), self.where]

    @classmethod
    def from_json(cls, data: list[Any]) -> CallOut:
        package, function, shared, where = data
        return cls(package, function, Shared.from_json(shared), where)


# What an expression in a visited function is (a field of), a local bound to one followed:
# a package-level variable, the receiver (index None) or a parameter (its index); and the
# expression found to start at it (`Follower._input_of`).
Traced = tuple[VarDecl | LocalDecl, int | None, Node]


def _traced_loop(traced: Traced | None, shared: Shared) -> bool:
    """Whether the traced expression is (a field of) the receiver or a parameter that every
    goroutine of the starting loop captures (`Shared.receiver_loop`)."""
    if traced is None or isinstance(traced[0], VarDecl):
        return False
    index = traced[1]
    return shared.receiver_loop if index is None else shared.param_loop(index)


# Where a call goes: a function of the package being visited, or (import path, name) of one in
# another package of the module.
Target = FuncDecl | tuple[str, str]


@dataclass(frozen=True, slots=True)
class Effect:
    """A finding to report: `rule` at `node` of `file`."""

    rule: str
    file: GoFile
    node: Node
    message: str


@dataclass(slots=True)
class Reach:
    """What following calls found: the effects, and the calls leaving the package."""

    effects: list[Effect] = field(default_factory=list)
    calls: list[CallOut] = field(default_factory=list)


class Follower:
    """Visits the functions of one package with what their callers hand them."""

    def __init__(self, package: Package, info: TypeInfo) -> None:
        self.package = package
        self.info = info
        module = package.module
        self.module_path = module.path if module is not None else None
        self.reach = Reach()
        self._visited: set[tuple[int, int, tuple[object, ...]]] = set()

    # ---- where following starts -------------------------------------------------------

    def from_contexts(self, model: Concurrency, owns: Callable[[Path], bool]) -> None:
        """The calls made by each concurrency context (its own writes are MG004's), of the
        contexts in the files this analysis owns (`Pass.owns`)."""
        # The first context to reach a write is the one its message names: those in the
        # linux/amd64 build go first, as MG004 prefers them among equal contexts.
        for context in sorted(model.contexts,
                              key=lambda c: not c.in_linux_amd64_build(self.package)):
            # A goroutine that runs once shares only with code it is ordered against in ways
            # a call chain does not show (channels, waits, flags): followed, it would guess.
            if context.file.is_test or not owns(context.file.path) or not context.repeatable:
                continue
            origin = _origin(context, self.package)
            globals_ = f"which {_REPEATS}"
            body = context.file.complete(context.function)
            known = model.known_at_start(context)
            for call in _calls(body, context.file.source):
                # Where a call goes is cheaper to learn than what it hands on, and most calls
                # leave the module (the standard library, dependencies): those come first.
                target = self._target(call, context.file)
                if target is None or ruled_out(call, body, context.file, known):
                    continue
                shared = self._handed_from_context(model, context, call, origin, globals_)
                if shared:
                    self._call(context.file, call, replace(shared, flags=argument_values(
                        call, context.file, self.info, known)), target)

    def from_publishers(self, owns: Callable[[Path], bool]) -> None:
        """The calls that hand a published map on (MG008), in the files this analysis owns."""
        for go_file in self.package.files:
            if go_file.is_test or not owns(go_file.path) or not any(
                marker in go_file.source for marker in PUBLISHING
            ):
                continue
            for call in _calls(go_file.root):
                arguments = _arguments(call)
                maps = [self.info.is_map_expr(a, go_file) for a in arguments]
                target = self._target(call, go_file) if any(maps) else None
                if target is None:
                    continue  # judging what a call hands on costs more than these look-ups
                published = tuple(mg008.published(a, go_file, call, self.info) if is_map
                                  else None for a, is_map in zip(arguments, maps, strict=True))
                if any(published):
                    where = f"{go_file.path.name}:{call.start_point.row + 1}"
                    self._call(go_file, call, Shared(published=published, origin=where), target)

    def from_requests(self, calls: list[CallOut]) -> None:
        """Visit the functions of this package other packages call (`CallOut.function`)."""
        for call in calls:
            declaration = self._declaration(call.function)
            if declaration is not None:
                self.visit(declaration, call.shared, call.where)

    # ---- visiting -------------------------------------------------------------------------

    def visit(self, declaration: FuncDecl, shared: Shared, where: str) -> None:
        go_file = declaration.file
        key = (id(go_file), declaration.node.start_byte, shared.pattern)
        if key in self._visited or shared.depth > MAX_DEPTH or go_file.is_test:
            return
        self._visited.add(key)
        function = go_file.complete(declaration.node)
        name = _display_name(declaration)
        known = known_parameters(function, go_file, shared.flags) if any(
            flag is not None for flag in shared.flags) else {}
        self._writes(go_file, function, shared, name, where, known)
        if any(marker in go_file.source[function.start_byte:function.end_byte]
               for marker in (b"nil",)):
            self._lazy_inits(declaration, go_file, function, shared, name, where, known)
        if shared.depth >= MAX_DEPTH:
            return  # its calls would go one call too deep
        for call in _calls(function, go_file.source):
            target = self._target(call, go_file)
            if target is None or ruled_out(call, function, go_file, known):
                continue
            receiver, arguments = call_receiver(call), _arguments(call)
            # What each input is traced to once: its reason and its loop proof come from it.
            traced_receiver, *traced_arguments = [
                self._input_of(expr, go_file, function) for expr in (receiver, *arguments)]
            handed = Shared(self._traced_reason(traced_receiver, go_file, shared),
                            tuple(self._traced_reason(t, go_file, shared)
                                  for t in traced_arguments),
                            shared.globals,
                            tuple(self._published(a, go_file, function, shared)
                                  for a in arguments),
                            shared.origin, shared.depth + 1,
                            self._preset(receiver, go_file, function, shared),
                            _presets([self._preset(a, go_file, function, shared)
                                      for a in arguments]),
                            argument_values(call, go_file, self.info, known),
                            _traced_loop(traced_receiver, shared),
                            tuple(_traced_loop(t, shared) for t in traced_arguments))
            # A lock held at the call covers what the callee does. The visited function's
            # own callers are not asked (locks.py does, with the package's TypeInfo): the call
            # that led here held no lock, so "every caller holds one" cannot be true.
            if handed and lock_mode_at(call, go_file) is not Mode.WRITE:
                self._call(go_file, call, handed, target)

    def _call(self, go_file: GoFile, call: Node, shared: Shared, target: Target) -> None:
        where = f"{_relative(go_file.path, self.package)}:{call.start_point.row + 1}"
        if isinstance(target, FuncDecl):
            self.visit(target, shared, where)
        else:
            package, name = target
            self.reach.calls.append(CallOut(package, name, shared, where))

    def _target(self, call: Node, go_file: GoFile) -> Target | None:
        """Where a call goes: a function of this package, or (import path, `F` or `T.M`) in
        another package of the module; None elsewhere, or when that is not visible."""
        function = call.child_by_field_name("function")
        if function is None:
            return None
        declaration = self.info.called_function(function, go_file)
        return declaration if declaration is not None else self._callee_package(call, go_file)

    def _callee_package(self, call: Node, go_file: GoFile) -> tuple[str, str] | None:
        """(import path, `F` or `T.M`) of a call into another package of this module."""
        if self.module_path is None:
            return None
        function = unparen(call.child_by_field_name("function") or call)
        if function.type != "selector_expression":
            return None
        operand = function.child_by_field_name("operand")
        field_node = function.child_by_field_name("field")
        if operand is None or field_node is None:
            return None
        name = go_file.text(field_node)
        if operand.type == "identifier":
            symbol = self.info.resolve(operand, go_file)
            if isinstance(symbol, ImportRef):
                return (symbol.path, name) if self._in_module(symbol.path) else None
        owner = deref(self.info.type_of(operand, go_file))
        if isinstance(owner, Named) and owner.pkg and self._in_module(owner.pkg):
            return owner.pkg, f"{owner.name}.{name}"
        return None

    def _in_module(self, path: str) -> bool:
        module = self.module_path
        return module is not None and (path == module or path.startswith(module + "/"))

    def _declaration(self, function: str) -> FuncDecl | None:
        if "." in function:
            receiver, name = function.split(".", 1)
            return self.info.method(Named("", receiver), name)
        found = self.package.func_named(function)
        return found if found is not None and not found.is_method else None

    # ---- what the visited function does -----------------------------------------------

    def _writes(self, go_file: GoFile, function: Node, shared: Shared, name: str,
                where: str, known: dict[str, bool]) -> None:
        for write in map_writes(self.package, self.info, [(go_file, function)]):
            if _runs_apart(write.statement, function):
                continue  # another goroutine, or a func value (once.Do's): who runs it?
            if ruled_out(write.statement, function, go_file, known):
                continue  # in a branch the call's arguments do not let run
            published = self._published(write.target, go_file, function, shared)
            traced = None if published else self._input_of(write.target, go_file, function)
            reason = self._traced_reason(traced, go_file, shared)
            if published is None and reason is None:
                continue
            mode = lock_mode_at(write.statement, go_file)  # locks taken here (see `visit`)
            if mode is Mode.WRITE:
                continue
            target = "".join(go_file.text(write.target).split())
            if published is not None:
                message = (
                    f"`{target}` is written in place in {name}, which is handed a published "
                    f"map at {where} (it {published}). Readers use it without locks, so this "
                    "write races with them (the runtime can die with `fatal error: concurrent "
                    "map read and map write`; go test -race reports a DATA RACE). Copy-on-write "
                    "instead: copy it, change the copy, then Store the copy")
                self.reach.effects.append(Effect("MG008", go_file, write.statement, message))
                continue
            lock_note = (" (an RLock is held, but RLock only allows reads)"
                         if mode is Mode.READ else "")
            # Following starts only from handlers and goroutines that run several times at
            # once: a package-level map is proof enough (MG004); a receiver or an argument
            # handed on is reachability, MG014's. A locked use of the map elsewhere in the
            # package is named in the message but proves nothing: the write was often under
            # a lock the model does not see (a caller's, one taken under a flag).
            # So is a map every goroutine of the starting loop captures, handed on as it is
            # (`for ... { go func() { c.add(k) }() }`), unless a use of it elsewhere takes a
            # lock: the model may miss one that such a use shows the author meant.
            rule, evidence = "MG004", ""
            if not self._package_level(write.target, go_file):
                loop = _traced_loop(traced, shared)
                locked_use = locked_elsewhere(self.package, self.info, go_file, write.target,
                                              write.statement) if (
                    mode is Mode.NONE or loop) else None
                if not loop or locked_use is not None:
                    rule = "MG014"
                    # Named only for a write without any lock (an RLock's note says enough).
                    evidence = locked_use if mode is Mode.NONE and locked_use else ""
            if evidence:
                reason = f"{reason}, and elsewhere it is accessed with a lock held ({evidence})"
            message = (
                f"`{target}` is written without a lock{lock_note} in {name}, which "
                f"{_subject(shared.origin)} reaches through the call at {where}: {reason}: two "
                "goroutines can write it at once, and the runtime then kills the process "
                "with `fatal error: concurrent map writes` (go test -race reports a DATA "
                "RACE). Hold a sync.Mutex around every access to it, or give the map to a "
                "single goroutine")
            self.reach.effects.append(Effect(rule, go_file, write.statement, message))

    def _lazy_inits(self, declaration: FuncDecl, go_file: GoFile, function: Node,
                    shared: Shared, name: str, where: str, known: dict[str, bool]) -> None:
        if not (shared.receiver or shared.globals) or self.package.is_main:
            return  # MG005 leaves main packages alone (their lazy set-up runs at start-up)
        under_once: bool | None = None  # a search of the package: only when something is found
        seen: set[int] = set()
        for hit in _NIL_CHECK.finditer(go_file.source, function.start_byte, function.end_byte):
            node = go_file.node_at(hit.start(), hit.end())
            while node is not None and node.type != "binary_expression":
                node = node.parent if node.type in {"nil", "identifier"} else None
            found = mg005.lazy_init(node, go_file) if node is not None else None
            if found is None or found[0].start_byte in seen:
                continue
            statement, checked = found
            seen.add(statement.start_byte)
            if _runs_apart(statement, function) or ruled_out(statement, function, go_file,
                                                             known):
                continue
            if mg005.initialises_nothing(self.info, statement, go_file, checked) or (
                    mg005.zero_size_singleton(self.info, go_file, statement, checked)) or (
                    mg005.set_by_init(self.package, self.info, go_file, checked)) or (
                    mg005.rechecked_under_lock(self.info, go_file, statement)):
                continue
            if checked.type == "identifier" and not isinstance(
                self.info.resolve(checked, go_file), VarDecl
            ):
                continue  # assigning a parameter or a local rebinds it: nothing shared changes
            reason = self._reason(checked, go_file, function, shared)
            if reason is None or lock_mode_at(statement, go_file) is not Mode.NONE:
                continue
            if self._initialised_before(checked, go_file, function, shared) and (
                mg005.locked_use(self.info, go_file, checked) is None
            ):
                continue  # the nil branch is dead: nobody sees nil
            if under_once is None:
                under_once = runs_under_once(self.package, self.info, declaration,
                                             in_tests=False)
            if under_once:
                return
            if mg005.set_while_registering(self.package, self.info, go_file, statement, checked):
                continue  # the route setup sets it before anything is served
            text = "".join(go_file.text(checked).split())
            message = (
                f"lazy initialisation of `{text}` without a lock in {name}, which "
                f"{_subject(shared.origin)} reaches through the call at {where}: {reason}: two "
                "goroutines can both see nil and both assign, and one keeps using the value "
                "the other replaced (go test -race reports a DATA RACE). Use sync.Once, "
                "initialise it eagerly, or take the lock before the check")
            # As for writes: a package-level variable, or the function's own use of the value
            # under a lock (check-then-lock), proves it; the rest is MG014's.
            proven = self._package_level(checked, go_file) or mg005.locked_use(
                self.info, go_file, checked) is not None
            self.reach.effects.append(Effect("MG005" if proven else "MG014", go_file,
                                             statement, message))

    # ---- why an expression is shared -----------------------------------------------------

    def _handed_from_context(self, model: Concurrency, context: Context, call: Node,
                             origin: str, globals_: str | None) -> Shared:
        go_file = context.file

        def why(expr: Node | None) -> tuple[str | None, bool]:
            """Why `expr` is shared, and whether every goroutine of the loop that starts
            the context captures it (`Sharing.loop_shared`)."""
            if expr is None:
                return None, False
            expr = unparen(expr)
            if expr.type == "unary_expression" and expr.child_by_field_name("operand"):
                expr = unparen(expr.child_by_field_name("operand") or expr)
            if expr.type == "identifier":
                symbol = self.info.resolve(expr, go_file)
                if isinstance(symbol, LocalDecl) and symbol.kind == "receiver" and same_node(
                    symbol.scope, context.function
                ):
                    # `c := newConn(); go c.serve()`: each goroutine has a receiver of its own.
                    return None if model.fresh_receiver(context) else (
                        f"`{go_file.text(expr)}` is the receiver of {origin}"), False
            if expr.type not in {"identifier", "selector_expression"}:
                return None, False
            root = _root(expr)
            symbol = self.info.resolve(root, go_file) if root is not None else None
            if isinstance(symbol, LocalDecl) and model.fresh_capture(symbol, context):
                return None, False  # each goroutine has a value of its own
            sharing = model.sharing(expr, go_file, context)
            return (sharing.reason, sharing.loop_shared) if sharing is not None else (
                None, False)

        receiver, arguments = call_receiver(call), _arguments(call)
        (receiver_reason, receiver_loop), handed = why(receiver), [why(a) for a in arguments]
        reasons = tuple(reason for reason, _loop in handed)

        def preset(expr: Node | None, reason: str | None) -> tuple[str, ...]:
            # Fields set before the start matter only for what is handed on as shared.
            return set_before_start(self.package, self.info, context, expr) if reason else ()

        shared = Shared(receiver_reason, reasons, globals_, (), origin, 1,
                        preset(receiver, receiver_reason),
                        _presets([preset(a, r) for a, r in zip(arguments, reasons,
                                                               strict=True)]),
                        receiver_loop=receiver_loop,
                        params_loop=tuple(loop for _reason, loop in handed))
        # A lock held at the call covers what the callee does.
        if shared and lock_mode_at(call, go_file, self.info) is Mode.WRITE:
            return Shared()
        return shared

    def _preset(self, expr: Node | None, go_file: GoFile, function: Node, shared: Shared
                ) -> tuple[str, ...]:
        """What the visited function hands on of the fields set before the start: its own
        receiver or parameter, passed as it is."""
        expr = unparen(expr) if expr is not None else None
        if expr is None or expr.type != "identifier":
            return ()
        symbol = self.info.resolve(expr, go_file)
        if not isinstance(symbol, LocalDecl) or not same_node(symbol.scope, function):
            return ()
        if symbol.kind == "receiver":
            return shared.receiver_set
        index = _parameter_index(function, symbol.ident) if symbol.kind == "param" else None
        return shared.param_set(index) if index is not None else ()

    def _initialised_before(self, checked: Node, go_file: GoFile, function: Node,
                            shared: Shared) -> bool:
        """`x.f` of a lazy initialisation is set on every path before the goroutines that
        reach it start: by their starter (`Shared.receiver_set`), or by every constructor of
        x's type in the module; and no code sets it back to nil."""
        parts = checked_field(checked, go_file)
        if parts is None:
            return False
        operand, field_name = parts
        if operand.type == "identifier" and field_name in self._preset(operand, go_file,
                                                                       function, shared):
            return never_set_nil(self.package, field_name, exported=field_name[:1].isupper())
        return built_with_field(self.package, self.info, operand, go_file, field_name)

    def _reason(self, expr: Node | None, go_file: GoFile, function: Node, shared: Shared
                ) -> str | None:
        """Why `expr`, in a visited function, is shared: it is (a field of) the shared
        receiver, a shared parameter, a package-level map reached concurrently, or a local
        bound to one of these."""
        return self._traced_reason(self._input_of(expr, go_file, function), go_file, shared)

    def _traced_reason(self, traced: Traced | None, go_file: GoFile, shared: Shared
                       ) -> str | None:
        """`_reason` of an expression already traced to its input (`_input_of`)."""
        if traced is None:
            return None
        source, index, at = traced
        if isinstance(source, VarDecl):
            if source.constant or shared.globals is None or not self._is_map_holder(at,
                                                                                   go_file):
                return None
            # A lazily set-up pointer or a struct holding maps is no map itself.
            what = "map" if self.info.is_map_expr(at, go_file) else "variable"
            return (f"`{_text(at, go_file)}` is a package-level {what}, and "
                    f"{_runs_several(shared.origin)}")
        return shared.receiver if index is None else shared.param(index)

    def _input_of(self, expr: Node | None, go_file: GoFile, function: Node, depth: int = 0
                  ) -> Traced | None:
        """What `expr`, in a visited function, is (a field of), following a local bound to
        one: a package-level variable, the function's receiver, or its parameter (with its
        index); and the expression found to start at it. None for anything else."""
        root = _root(expr)
        if expr is None or root is None or depth > 3:
            return None
        symbol = self.info.resolve(root, go_file)
        if isinstance(symbol, VarDecl):
            return symbol, None, expr
        if not isinstance(symbol, LocalDecl):
            return None
        if symbol.kind in {"receiver", "param"} and not same_node(symbol.scope, function):
            return None  # a closure's own parameter
        if symbol.kind == "receiver":
            return symbol, None, expr
        if symbol.kind == "param":
            index = _parameter_index(function, symbol.ident)
            if index is None or (root is expr and rebound_to_copy(root, go_file, self.info)):
                return None  # `m = maps.Clone(m)` before: the function's own copy
            return symbol, index, expr
        if symbol.kind == "var" and symbol.value is not None and symbol.value_count == 1:
            value = unparen(symbol.value)
            if value.type in {"identifier", "selector_expression"} and root is expr:
                return self._input_of(value, go_file, function, depth + 1)
        return None

    def _package_level(self, expr: Node | None, go_file: GoFile, depth: int = 0) -> bool:
        """`expr` is (a field of) a package-level variable, or a local bound to one."""
        root = _root(expr)
        if root is None or depth > 3:
            return False
        symbol = self.info.resolve(root, go_file)
        if isinstance(symbol, VarDecl):
            return not symbol.constant
        if isinstance(symbol, LocalDecl) and symbol.kind == "var" and root is expr and (
            symbol.value is not None and symbol.value_count == 1
        ):
            value = unparen(symbol.value)
            return value.type in {"identifier", "selector_expression"} and (
                self._package_level(value, go_file, depth + 1))
        return False

    def _published(self, expr: Node | None, go_file: GoFile, function: Node,
                   shared: Shared) -> str | None:
        expr = unparen(expr) if expr is not None else None
        if expr is None or expr.type != "identifier" or not any(shared.published):
            return None
        symbol = self.info.resolve(expr, go_file)
        if not isinstance(symbol, LocalDecl) or symbol.kind != "param" or not same_node(
            symbol.scope, function
        ):
            return None
        index = _parameter_index(function, symbol.ident)
        return shared.published_param(index) if index is not None else None

    def _is_map_holder(self, expr: Node | None, go_file: GoFile) -> bool:
        """A package-level value worth following: a map, or a value with map fields (a
        selector chain reaches one)."""
        if expr is None:
            return False
        return expr.type == "selector_expression" or self.info.is_map_expr(expr, go_file) or (
            self.info.struct_of(self.info.type_of(expr, go_file)) is not None)


def _presets(fields: list[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """Per-parameter fields set before the start; () when there are none at all."""
    return tuple(fields) if any(fields) else ()


def call_receiver(call: Node) -> Node | None:
    function = unparen(call.child_by_field_name("function") or call)
    return function.child_by_field_name("operand") if function.type == (
        "selector_expression") else None


def _calls(node: Node, source: bytes | None = None) -> Iterator[Node]:
    """The calls in `node`, not those inside goroutines it starts or func values it makes
    (`once.Do(func() {...})`: when and how often those run is not visible). With `source`,
    the text of its file, they are found from their parentheses (`calls_in`)."""
    candidates = calls_in(node, source) if source is not None else (
        candidate for candidate in walk(node) if candidate.type == "call_expression")
    for candidate in candidates:
        if not _runs_apart(candidate, node):
            yield candidate


# What runs apart from the function that holds it: a goroutine it starts, a func value it makes.
_APART = frozenset({"go_statement", "func_literal"})


def _runs_apart(node: Node, function: Node) -> bool:
    """Whether `node` is inside a goroutine `function` starts or a func value it makes: code
    whose when and how often the call chain does not show (`go f()`, `once.Do(func() {...})`)."""
    return under(node, _APART, function)


def _arguments(call: Node) -> list[Node]:
    arguments = call.child_by_field_name("arguments")
    return [a for a in (arguments.named_children if arguments else []) if a.type != "comment"]


def _root(expr: Node | None) -> Node | None:
    current = unparen(expr) if expr is not None else None
    if current is not None and current.type == "unary_expression":
        current = unparen(current.child_by_field_name("operand") or current)
    while current is not None and current.type == "selector_expression":
        current = unparen(current.child_by_field_name("operand") or current)
    return current if current is not None and current.type == "identifier" else None


def _parameter_index(function: Node, ident: Node) -> int | None:
    parameters = function.child_by_field_name("parameters")
    names = [n for d in (parameters.named_children if parameters else [])
             for n in d.children_by_field_name("name")]
    return next((i for i, name in enumerate(names) if same_node(name, ident)), None)


def _text(node: Node | None, go_file: GoFile) -> str:
    return "".join(go_file.text(node).split()) if node is not None else ""


def _display_name(declaration: FuncDecl) -> str:
    if declaration.receiver_type is None:
        return declaration.name
    receiver = declaration.node.child_by_field_name("receiver")
    pointer = receiver is not None and "*" in declaration.file.text(receiver)
    return (f"(*{declaration.receiver_type}).{declaration.name}" if pointer
            else f"{declaration.receiver_type}.{declaration.name}")


def _origin(context: Context, package: Package) -> str:
    function = context.function
    name = function.child_by_field_name("name")
    where = f"{_relative(context.file.path, package)}:{function.start_point.row + 1}"
    if context.kind == "handler":
        served = context.handler_name
        if name is not None and function.type == "method_declaration":
            receiver = receiver_type_name(function, context.file)
            return f"the {served} {receiver}.{context.file.text(name)} ({where})"
        if name is not None:
            return f"the {served} {context.file.text(name)} ({where})"
        return f"the {served} at {where}"
    line = context.go_statement.start_point.row + 1 if context.go_statement else 0
    started = f"the goroutine started at {_relative(context.starting_file.path, package)}:{line}"
    return f"{started}, which {_REPEATS}" if context.repeatable else started


def _subject(origin: str) -> str:
    """`origin` as the subject of a verb: a trailing "which" clause is closed by a comma
    ("the goroutine started at a.go:3, which runs several times at once, reaches ...")."""
    return f"{origin}," if origin.endswith(_REPEATS) else origin


def _runs_several(origin: str) -> str:
    """A clause saying that `origin` runs several times at once ("the goroutine started at
    a.go:3 runs several times at once"), whether or not `origin` already says it."""
    return f"{origin.removesuffix(f', which {_REPEATS}')} {_REPEATS}"


def _relative(path: Path, package: Package) -> str:
    module = package.module
    try:
        return path.relative_to(module.root).as_posix() if module is not None else path.name
    except ValueError:
        return path.name
