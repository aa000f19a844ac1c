"""Which functions of a package gRPC serves: service methods and server interceptors, which
grpc-go runs for each call on the call's own goroutine.

grpc-go serves every call (unary or stream) on a goroutine of its own, so a service method runs
concurrently with itself and with the service's other methods, on the one value the server
registered — as an HTTP handler does (docs/go-facts.md, checked by
`tests/lint/test_grpc_goroutines.py` against the real grpc-go).

Which types are services: protoc-gen-go-grpc generates, for a service `Foo`, a struct
`UnimplementedFooServer` that an implementation embeds (by default it must: the generated
`FooServer` interface has an unexported `mustEmbedUnimplementedFooServer` method). A type of the
package that embeds one, by value or pointer, from any package, is taken as the server of `Foo`.
A type that only happens to have the methods, or a test file's fake, is not.

Which methods: the exported methods of that type with an RPC's signature, the ones the
generated code calls —
- unary: `(context.Context, *Req) (*Resp, error)`;
- streams: `(*Req, Foo_BarServer) error`, `(Foo_BarServer) error`, or the generic stream types
  of protoc-gen-go-grpc 1.5 (`grpc.ServerStreamingServer[Resp]`, `grpc.ClientStreamingServer[Req,
  Resp]`, `grpc.BidiStreamingServer[Req, Resp]`) in the place of `Foo_BarServer`.
When the module holds the generated code, only the names `UnimplementedFooServer` declares
methods for count, so a helper of the same shape on the service type is not taken for a call.

Server interceptors: a function or func literal taking `*grpc.UnaryServerInfo` and
`grpc.UnaryHandler` (or the stream pair) — nothing else takes those — and a `func(context.Context)
(context.Context, error)` whose name the module hands to `UnaryServerInterceptor(f)` or
`StreamServerInterceptor(f)` (go-grpc-middleware's auth function). The registrations are found
by a textual scan of the module, as handler_uses does; a package whose analysis scanned the
module notes it (`mapguard.source.outside`), so its cached result is reused only while the
module's files are the same.
"""

from __future__ import annotations

import re
from pathlib import Path

from tree_sitter import Node

from mapguard.source.handler_uses import module_sources
from mapguard.source.outside import forget_at_run_start, searched_module
from mapguard.source.package import FuncDecl, Package
from mapguard.source.types import (
    GoType,
    Named,
    PointerTo,
    deref,
    parameter_types,
    result_types,
    struct_fields,
)

_UNIMPLEMENTED = re.compile(r"Unimplemented(\w+)Server")
_GENERATED_STREAM = re.compile(r"\w+_\w+Server")
_GENERIC_STREAMS = frozenset({"ServerStreamingServer", "ClientStreamingServer",
                              "BidiStreamingServer"})
_GRPC = "google.golang.org/grpc"
_CONTEXT = Named("context", "Context")
_ERROR = Named("builtin", "error")

# (module root, service) -> the RPC names its generated UnimplementedFooServer declares, or
# None when the module does not hold that code (generated into another module).
_DECLARED: dict[tuple[Path, str], frozenset[str] | None] = {}


def service_methods(package: Package) -> list[FuncDecl]:
    """The package's gRPC service methods, outside test files."""
    services = _service_types(package)
    found: list[FuncDecl] = []
    for type_name, service_names in services.items():
        declared = [names for service in service_names
                    if (names := _declared_rpcs(package, service)) is not None]
        allowed = frozenset().union(*declared) if len(declared) == len(service_names) else None
        for method in package.methods_outside_tests(type_name):
            if not method.name[:1].isupper():
                continue
            if (allowed is None or method.name in allowed) and _rpc_shaped(method):
                found.append(method)
    return found


# What grpc-go hands a server interceptor besides the request: only interceptors take these.
_INTERCEPTOR_PARAMS = (
    frozenset({PointerTo(Named(_GRPC, "UnaryServerInfo")), Named(_GRPC, "UnaryHandler")}),
    frozenset({PointerTo(Named(_GRPC, "StreamServerInfo")), Named(_GRPC, "StreamHandler")}),
)
# go-grpc-middleware's auth interceptors take a function of this shape and call it for every
# call: `grpc_auth.UnaryServerInterceptor(authenticate)`.
_REGISTERED = re.compile(rb"\b(?:Unary|Stream)ServerInterceptor\(\s*(?:\w+\.)?(\w+)\s*\)")
# module root -> the names handed to such a registration anywhere in the module.
_REGISTERED_NAMES: dict[Path, frozenset[str]] = {}
forget_at_run_start(_DECLARED.clear)
forget_at_run_start(_REGISTERED_NAMES.clear)


def interceptor_shaped(function: Node, imports: dict[str, str]) -> bool:
    """`function` (a declaration or a func literal) takes what grpc-go hands a server
    interceptor: `*grpc.UnaryServerInfo` and `grpc.UnaryHandler`, or the stream pair. grpc-go
    calls it for every call, on the call's goroutine."""
    params = set(parameter_types(function.child_by_field_name("parameters"), imports))
    return any(pair <= params for pair in _INTERCEPTOR_PARAMS)


def registered_auth_functions(package: Package) -> list[FuncDecl]:
    """The package's `func(context.Context) (context.Context, error)` functions, outside test
    files, that the module hands to a `UnaryServerInterceptor(f)`/`StreamServerInterceptor(f)`
    call: go-grpc-middleware's auth interceptor calls such a function for every call."""
    if not any(b"context.Context, error)" in f.source for f in package.files):
        return []
    registered: frozenset[str] | None = None
    found: list[FuncDecl] = []
    for declaration in package.funcs_outside_tests():
        imports = declaration.file.imports
        params = parameter_types(declaration.node.child_by_field_name("parameters"), imports)
        results = result_types(declaration.node.child_by_field_name("result"), imports)
        if params != [_CONTEXT] or results != [_CONTEXT, _ERROR]:
            continue
        if registered is None:
            registered = _registered_names(package)
        if declaration.name in registered:
            found.append(declaration)
    return found


def _registered_names(package: Package) -> frozenset[str]:
    module = package.module
    root = module.root if module is not None else package.directory
    searched_module(root)  # also when the memo answers: see mapguard.source.outside
    if root not in _REGISTERED_NAMES:
        _REGISTERED_NAMES[root] = frozenset(
            match.group(1).decode() for source in module_sources(root)
            if b"ServerInterceptor(" in source for match in _REGISTERED.finditer(source))
    return _REGISTERED_NAMES[root]


def _service_types(package: Package) -> dict[str, list[str]]:
    """Type name -> the services whose Unimplemented...Server it embeds."""
    services: dict[str, list[str]] = {}
    if not any(b"Unimplemented" in go_file.source for go_file in package.files
               if not go_file.is_test):
        return services  # no struct can embed one: the package's index is not built for it
    for declaration in package.types_outside_tests():
        type_name = declaration.name
        struct = declaration.type_node
        if (struct is None or struct.type != "struct_type"
                or b"Unimplemented" not in declaration.file.source[struct.start_byte:
                                                                    struct.end_byte]):
            continue
        for field in struct_fields(struct, declaration.file.imports):
            embedded = deref(field.type)
            if field.embedded and isinstance(embedded, Named) and (
                match := _UNIMPLEMENTED.fullmatch(embedded.name)
            ):
                services.setdefault(type_name, []).append(match.group(1))
    return services


def _declared_rpcs(package: Package, service: str) -> frozenset[str] | None:
    module = package.module
    root = module.root if module is not None else package.directory
    searched_module(root)  # also when the memo answers: see mapguard.source.outside
    key = (root, service)
    if key not in _DECLARED:
        # `func (UnimplementedFooServer) Bar(` or, from older generators, `func
        # (*UnimplementedFooServer) Bar(`.
        pattern = re.compile(rb"^func \(\s*(?:\w+\s+)?\*?Unimplemented"
                             + re.escape(service.encode()) + rb"Server\) (\w+)\(", re.MULTILINE)
        names = {match.group(1).decode() for source in module_sources(root)
                 if b"Unimplemented" in source for match in pattern.finditer(source)}
        _DECLARED[key] = frozenset(names) if names else None
    return _DECLARED[key]


def _rpc_shaped(method: FuncDecl) -> bool:
    node = method.node
    imports = method.file.imports
    params = parameter_types(node.child_by_field_name("parameters"), imports)
    results = result_types(node.child_by_field_name("result"), imports)
    if len(params) == 2 and results and len(results) == 2:
        return (params[0] == _CONTEXT and isinstance(params[1], PointerTo)
                and isinstance(results[0], PointerTo) and results[1] == _ERROR)
    if results != [_ERROR] or not 1 <= len(params) <= 2:
        return False
    if len(params) == 2 and not isinstance(params[0], PointerTo):
        return False
    return _is_stream(params[-1])


def _is_stream(declared: GoType) -> bool:
    if not isinstance(declared, Named):
        return False
    if declared.pkg == _GRPC:
        return declared.name in _GENERIC_STREAMS
    return _GENERATED_STREAM.fullmatch(declared.name) is not None
