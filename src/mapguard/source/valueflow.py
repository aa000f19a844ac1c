"""What a variable or a field holds at a point of the code, where the code itself proves it.

Two questions of the concurrency rules (docs/rules.md, MG004 and MG005):

- *Rebound to a copy*: a map parameter (or local) reassigned a fresh map — `m = maps.Clone(m)`,
  `make(...)`, a map literal — by a statement that runs before a use on every path (an earlier
  statement of the use's block or of a block around it) no longer holds the caller's map
  there: a write through it changes the function's own copy.
- *Set before the goroutines start*: a field that code assigns a value before the `go`
  statement that starts the goroutines checking it — in the starter, or, for an unexported
  starter, at every call of it before the call — or that every way of building its type in
  the module sets (each composite literal sets it, or the function that makes the value sets it
  before any `return`/`go`, directly or through a setter method, or every caller of a maker
  function does so right after the call), is never nil where those goroutines look, provided
  no code of the module assigns it nil.

Both answer "proven" or "not proven": any shape they do not know (a `goto`, a value made with
`new(T)` or `var v T`, a use of the type outside a pointer in another package, a use of the
maker as a value) leaves the finding reported. Test files are not looked at: values that only
tests build are judged by `go test -race`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from mapguard.source.calls import call_sites
from mapguard.source.concurrency import Context
from mapguard.source.handler_uses import module_sources
from mapguard.source.package import FuncDecl, GoFile, Package, receiver_type_name
from mapguard.source.typeinfo import (
    FUNCTION_NODES,
    ImportRef,
    LocalDecl,
    TypeInfo,
    enclosing_function,
    operator_of,
    same_node,
    unparen,
    walk,
    word_hits,
)
from mapguard.source.types import Named, deref

# Packages whose `Clone` returns a fresh map.
_CLONE_PACKAGES = frozenset({"maps", "golang.org/x/exp/maps"})
# Values that build something: a call, a literal, an address, a closure.
_BUILT = frozenset({"call_expression", "composite_literal", "unary_expression", "func_literal"})
# Where a type's name can stand without making a value of it that may lack a field.
_HARMLESS_USES = frozenset({"pointer_type", "parameter_declaration",
                            "variadic_parameter_declaration", "type_assertion_expression"})
_NOT_A_TYPE_USE = frozenset({"comment", "interpreted_string_literal", "raw_string_literal",
                             "interpreted_string_literal_content",
                             "raw_string_literal_content", "field_identifier",
                             "package_identifier"})


def earlier_statements(node: Node, limit: Node) -> Iterator[Node]:
    """The statements that run before `node` on every path through `limit` (a function):
    the earlier statements of each block around `node`, innermost first. None across a
    closure: a func literal's body runs whenever it is called."""
    child, parent = node, node.parent
    while parent is not None and not same_node(child, limit):
        if parent.type in FUNCTION_NODES and not same_node(parent, limit):
            return
        if parent.type == "statement_list":
            sibling = child.prev_named_sibling
            while sibling is not None:
                yield sibling
                sibling = sibling.prev_named_sibling
        child, parent = parent, parent.parent


# ---- rebound to a copy (MG004) -------------------------------------------------------------

def rebound_to_copy(use: Node, go_file: GoFile, info: TypeInfo) -> bool:
    """`use` names a parameter or local of its own function that an earlier statement on every
    path (see `earlier_statements`) reassigned a fresh map, and nothing assigns it or takes
    its address between that statement and `use`."""
    use = unparen(use)
    if use.type != "identifier":
        return False
    symbol = info.resolve(use, go_file)
    function = enclosing_function(use)
    if not isinstance(symbol, LocalDecl) or symbol.kind not in {"param", "var"} or (
        function is None or not same_node(enclosing_function(symbol.ident), function)
    ):
        return False
    # A jump can skip the rebinding. Walked only when the text holds `goto` (a walk of every
    # function MG004 hands a map to was a tenth of its cost; rewrites of newer syntax only
    # blank text or swap `new`/`make`, so no tree holds a `goto` its file's text lacks).
    if b"goto" in go_file.source[function.start_byte:function.end_byte] and any(
            node.type == "goto_statement" for node in walk(function)):
        return False
    for statement in earlier_statements(use, function):
        assigns, value = _assignment(statement, symbol, go_file, info)
        if not assigns:
            continue
        if value is None or not _is_fresh_map(value, go_file, info):
            return False  # the nearest assignment decides, and this one is not a copy
        return not _touched_between(function, symbol, statement.end_byte, use.start_byte,
                                    go_file, info)
    return False


def _assignment(statement: Node, symbol: LocalDecl, go_file: GoFile, info: TypeInfo
                ) -> tuple[bool, Node | None]:
    """Whether `statement` (`x = v`, `x, y = v, w`, `x, err := f()`) assigns the variable,
    and the value it gives it (None when the values do not pair up with the names)."""
    if statement.type not in {"assignment_statement", "short_var_declaration"}:
        return False, None
    if statement.type == "assignment_statement" and operator_of(statement) != "=":
        return False, None  # `m += ...` is no map
    left = statement.child_by_field_name("left")
    right = statement.child_by_field_name("right")
    targets = [t for t in (left.named_children if left else []) if t.type != "comment"]
    values = [v for v in (right.named_children if right else []) if v.type != "comment"]
    for index, target in enumerate(targets):
        target = unparen(target)
        if target.type != "identifier" or go_file.text(target) != symbol.name:
            continue
        if not _same_local(info.resolve(target, go_file), symbol):
            continue
        return True, unparen(values[index]) if len(values) == len(targets) else None
    return False, None


def _touched_between(function: Node, symbol: LocalDecl, start: int, end: int,
                     go_file: GoFile, info: TypeInfo) -> bool:
    """An assignment of the variable, or `&x`, between the two offsets (closures included:
    one defined there may run before the use)."""
    for node in walk(function):
        if node.end_byte <= start or node.start_byte >= end:
            continue
        if _assignment(node, symbol, go_file, info)[0]:
            return True
        if node.type == "unary_expression" and operator_of(node) == "&":
            operand = node.child_by_field_name("operand")
            if operand is not None and unparen(operand).type == "identifier" and _same_local(
                info.resolve(unparen(operand), go_file), symbol
            ):
                return True
    return False


def _is_fresh_map(value: Node, go_file: GoFile, info: TypeInfo) -> bool:
    """`make(map...)`, a map literal, or `maps.Clone(x)`."""
    if value.type == "composite_literal":
        return info.is_map(info.type_node(value.child_by_field_name("type"), go_file))
    if value.type != "call_expression":
        return False
    function = unparen(value.child_by_field_name("function") or value)
    arguments = value.child_by_field_name("arguments")
    first = arguments.named_children[0] if arguments and arguments.named_child_count else None
    if function.type == "identifier" and go_file.text(function) == "make" and first is not None:
        return info.builtin_name(value, go_file) == "make" and info.is_map(
            info.type_node(first, go_file))
    if function.type != "selector_expression":
        return False
    operand = function.child_by_field_name("operand")
    field = function.child_by_field_name("field")
    if operand is None or field is None or go_file.text(field) != "Clone":
        return False
    package = info.resolve(operand, go_file) if operand.type == "identifier" else None
    return isinstance(package, ImportRef) and package.path in _CLONE_PACKAGES


def _same_local(found: object, symbol: LocalDecl) -> bool:
    return isinstance(found, LocalDecl) and same_node(found.ident, symbol.ident)


# ---- set before the goroutines start (MG005) -----------------------------------------------

def fields_set_before(node: Node, variable: LocalDecl, limit: Node, go_file: GoFile,
                      info: TypeInfo) -> frozenset[str]:
    """The fields of `variable` that statements running before `node` on every path within
    `limit` assign a value (`v.f = build()`, or a setter method `v.SetF(x)` that assigns its
    receiver's field): nearest first, up to a statement that rebinds the variable itself."""
    found: set[str] = set()
    for statement in earlier_statements(node, limit):
        if _assignment(statement, variable, go_file, info)[0]:
            break  # what came before describes another value
        found.update(_fields_assigned(statement, variable, go_file, info))
    return frozenset(found)


def set_before_start(package: Package, info: TypeInfo, context: Context, expr: Node | None
                     ) -> tuple[str, ...]:
    """The fields of the value `expr` names in a goroutine's code (a variable it captured from
    its starter, or the receiver of `go x.m()`) that are set before the goroutine starts: in
    the starter before the `go`, or at every call of an unexported starter method."""
    expr = unparen(expr) if expr is not None else None
    statement, starter = context.go_statement, context.starter
    if expr is None or expr.type != "identifier" or statement is None or starter is None:
        return ()
    go_file = context.file
    symbol = info.resolve(expr, go_file)
    if not isinstance(symbol, LocalDecl):
        return ()
    if context.kind == "go-func":
        # `go x.m()`: the receiver of m is the starter's x.
        if symbol.kind != "receiver" or not same_node(symbol.scope, context.function):
            return ()
        call = statement.named_children[0] if statement.named_child_count else None
        function = unparen(call.child_by_field_name("function") or call) if call else None
        operand = function.child_by_field_name("operand") if function is not None and (
            function.type == "selector_expression") else None
        go_file = context.starting_file
        found = info.resolve(unparen(operand), go_file) if operand is not None and (
            unparen(operand).type == "identifier") else None
        if not isinstance(found, LocalDecl):
            return ()
        symbol = found
    elif same_node(enclosing_function(symbol.ident), context.function) or not (
        starter.start_byte <= symbol.ident.start_byte < starter.end_byte
    ):
        return ()  # the goroutine's own variable, or not the starter's
    fields = set(fields_set_before(statement, symbol, starter, go_file, info))
    if symbol.kind == "receiver" and same_node(symbol.scope, starter):
        declaration = _method_declaration(package, starter, go_file)
        if declaration is not None:
            fields |= set_before_starter_calls(package, info, declaration)
    if fields and any(_assignment(node, symbol, go_file, info)[0] for node in walk(starter)
                      if node.start_byte >= statement.end_byte):
        return ()  # rebound after the `go`: the goroutine may see another value
    return tuple(sorted(fields))


def _method_declaration(package: Package, function: Node, go_file: GoFile) -> FuncDecl | None:
    name = function.child_by_field_name("name")
    if function.type != "method_declaration" or name is None:
        return None
    receiver = receiver_type_name(function, go_file)
    found = package.method(receiver, go_file.text(name)) if receiver else None
    return found if found is not None and same_node(found.node, function) else None


def checked_field(checked: Node, go_file: GoFile) -> tuple[Node, str] | None:
    """(operand, field name) of a lazily initialised `x.f`; None for anything else."""
    if checked.type != "selector_expression":
        return None
    operand = checked.child_by_field_name("operand")
    field = checked.child_by_field_name("field")
    if operand is None or field is None:
        return None
    return unparen(operand), go_file.text(field)


def built_with_field(package: Package, info: TypeInfo, operand: Node, go_file: GoFile,
                     field: str) -> bool:
    """`operand` is a value of a struct type of this package whose every constructor in the
    module sets `field` (`constructors_set`)."""
    owner = deref(info.type_of(operand, go_file))
    return isinstance(owner, Named) and owner.pkg == "" and constructors_set(
        package, info, owner.name, field)


def set_before_starter_calls(package: Package, info: TypeInfo, starter: FuncDecl
                             ) -> frozenset[str]:
    """The receiver fields every call of the unexported method `starter` in the package's
    non-test code sets on the receiver it calls it with, before the call (`s.limits =
    newLimits(); s.run()`). A test's call runs on the test's goroutine, which `go test -race`
    judges: it does not undo what the package's own callers show."""
    if starter.name[:1].isupper() or not starter.is_method:
        return frozenset()  # callers in other packages are not seen
    sites = call_sites(package, info, starter, in_tests=False)
    if not sites:
        return frozenset()
    common: frozenset[str] | None = None
    for site in sites:
        function = site.call.child_by_field_name("function")
        operand = unparen(function.child_by_field_name("operand") or function) if (
            function is not None and function.type == "selector_expression") else None
        symbol = info.resolve(operand, site.file) if operand is not None and (
            operand.type == "identifier") else None
        caller = enclosing_function(site.call)
        if not isinstance(symbol, LocalDecl) or caller is None:
            return frozenset()
        fields = fields_set_before(site.call, symbol, caller, site.file, info)
        common = fields if common is None else common & fields
        if not common:
            return frozenset()
    return common or frozenset()


def _fields_assigned(statement: Node, variable: LocalDecl, go_file: GoFile, info: TypeInfo
                     ) -> set[str]:
    """Fields of `variable` that `statement` sets, directly or through a setter method."""
    found: set[str] = set()
    if statement.type == "assignment_statement" and operator_of(statement) == "=":
        left = statement.child_by_field_name("left")
        right = statement.child_by_field_name("right")
        targets = [t for t in (left.named_children if left else []) if t.type != "comment"]
        values = [v for v in (right.named_children if right else []) if v.type != "comment"]
        if len(values) == len(targets):
            for target, value in zip(targets, values, strict=True):
                name = _field_of(unparen(target), variable, go_file, info)
                if name is not None and _builds(unparen(value), name, go_file):
                    found.add(name)
    elif statement.type == "expression_statement" and statement.named_child_count:
        call = unparen(statement.named_children[0])
        if call.type == "call_expression":
            found.update(_set_by_setter(call, variable, go_file, info))
    return found


def _field_of(target: Node, variable: LocalDecl, go_file: GoFile, info: TypeInfo
              ) -> str | None:
    """`f` when `target` is `v.f` with `v` the variable."""
    if target.type != "selector_expression":
        return None
    operand = target.child_by_field_name("operand")
    field = target.child_by_field_name("field")
    if operand is None or field is None or unparen(operand).type != "identifier":
        return None
    symbol = info.resolve(unparen(operand), go_file)
    return go_file.text(field) if _same_local(symbol, variable) else None


def _builds(value: Node, field: str, go_file: GoFile) -> bool:
    """A value that is not nil: a call, a literal, an address or a closure — but not a copy
    of the same field of some value (`deepCopy(o.f)` keeps a nil nil)."""
    return value.type in _BUILT and not any(
        n.type == "field_identifier" and go_file.text(n) == field for n in walk(value))


def _set_by_setter(call: Node, variable: LocalDecl | None, go_file: GoFile, info: TypeInfo,
                   ) -> set[str]:
    """`v.SetF(x)` on the variable (any receiver when `variable` is None): the receiver fields
    the method's own top-level statements assign a built value, or its parameter when the
    argument is not `nil`."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return set()
    operand = function.child_by_field_name("operand")
    if variable is not None and (operand is None or unparen(operand).type != "identifier" or (
        not _same_local(info.resolve(unparen(operand), go_file), variable)
    )):
        return set()
    method = info.called_function(function, go_file)
    if method is None or not method.is_method:
        return set()
    node = method.file.complete(method.node)
    body = node.child_by_field_name("body")
    statements = body.named_children[0] if body is not None and body.named_child_count else None
    receiver = method.receiver_name()
    if statements is None or statements.type != "statement_list" or not receiver:
        return set()
    parameters = _parameter_names(node, method.file)
    arguments_node = call.child_by_field_name("arguments")
    arguments = [a for a in (arguments_node.named_children if arguments_node else [])
                 if a.type != "comment"]
    found: set[str] = set()
    for statement in statements.named_children:
        if statement.type != "assignment_statement" or operator_of(statement) != "=":
            continue
        left = statement.child_by_field_name("left")
        right = statement.child_by_field_name("right")
        if left is None or right is None or left.named_child_count != 1 or (
            right.named_child_count != 1
        ):
            continue
        target, value = unparen(left.named_children[0]), unparen(right.named_children[0])
        if target.type != "selector_expression":
            continue
        owner = target.child_by_field_name("operand")
        field = target.child_by_field_name("field")
        if owner is None or field is None or method.file.text(owner) != receiver:
            continue
        name = method.file.text(field)
        if _builds(value, name, method.file):
            found.add(name)
        elif value.type == "identifier" and method.file.text(value) in parameters:
            index = parameters.index(method.file.text(value))
            if index < len(arguments) and unparen(arguments[index]).type != "nil":
                found.add(name)
    return found


def _parameter_names(function: Node, go_file: GoFile) -> list[str]:
    parameters = function.child_by_field_name("parameters")
    return [go_file.text(n) for d in (parameters.named_children if parameters else [])
            for n in d.children_by_field_name("name")]


def never_set_nil(package: Package, field: str, *, exported: bool) -> bool:
    """No non-test code assigns the field nil (`x.f = nil`): in the package, and, for an
    exported field, anywhere in the module."""
    pattern = re.compile(rb"\." + re.escape(field.encode()) + rb"\s*=\s*nil\b")
    sources = [f.source for f in package.files if not f.is_test]
    if exported and package.module is not None:
        sources.extend(module_sources(package.module.root))
    return not any(pattern.search(source) for source in sources)


def constructors_set(package: Package, info: TypeInfo, type_name: str, field: str) -> bool:
    """Every value of the package's struct type `type_name` that the module's non-test code
    builds has `field` set before anything else sees it (module docstring)."""
    key = ("constructors-set", type_name, field)
    if key not in package.memo:
        package.memo[key] = _constructors_set(package, info, type_name, field)
    return bool(package.memo[key])


def _constructors_set(package: Package, info: TypeInfo, type_name: str, field: str) -> bool:
    if not never_set_nil(package, field, exported=field[:1].isupper()):
        return False
    if type_name[:1].isupper() and _used_by_value_elsewhere(package, type_name):
        return False
    built = False
    for go_file in package.files:
        if go_file.is_test:
            continue
        for start, end in word_hits(go_file.source, type_name):
            node = go_file.node_at(start, end)
            if node is None or node.type in _NOT_A_TYPE_USE:
                continue
            if _zero_value_documented(node, go_file):
                return False  # the lazy initialisation serves values built as `T{}`
            if not _builds_with_field(node, go_file, package, info, field):
                return False
            built = built or (node.parent is not None and node.parent.type == "composite_literal")
    # No literal at all: the values come from elsewhere (users of an exported type, `new`).
    return built


def _zero_value_documented(node: Node, go_file: GoFile) -> bool:
    """The type's declaration says its zero value is ready to use."""
    spec = node.parent
    declaration = spec.parent if spec is not None and spec.type == "type_spec" and same_node(
        spec.child_by_field_name("name"), node) else None
    comment = declaration.prev_sibling if declaration is not None else None
    while comment is not None and comment.type == "comment":
        if b"zero value" in go_file.source[comment.start_byte:comment.end_byte].lower():
            return True
        comment = comment.prev_sibling
    return False


def _builds_with_field(node: Node, go_file: GoFile, package: Package, info: TypeInfo,
                       field: str) -> bool:
    """One mention of the type: harmless (a pointer type, a parameter, the declaration), or
    a composite literal whose value gets the field before it is handed on."""
    parent = node.parent
    if node.type != "type_identifier" or parent is None:
        return False  # a conversion `T(x)`, `new(T)`, a key named like the type...
    if parent.type == "type_spec" and same_node(parent.child_by_field_name("name"), node):
        return True
    if parent.type in _HARMLESS_USES:
        return True
    if parent.type in FUNCTION_NODES | {"function_type"} and same_node(
        parent.child_by_field_name("result"), node
    ):
        return True
    if parent.type != "composite_literal":
        return False  # `var v T`, `[]T`, an embedded field, a type argument...
    if _keyed_value(parent, field, go_file) is not None:
        return True
    holder = parent.parent
    if holder is not None and holder.type == "unary_expression":
        holder = holder.parent
    returned = holder.parent if holder is not None and holder.type == "expression_list" else None
    if returned is not None and returned.type == "return_statement":  # `return &T{...}`
        return _maker_completed(returned, go_file, package, info, field)
    statement, variable = _bound_to(holder, go_file, info)
    if statement is None or variable is None:
        return False
    if _completed_after(statement, variable, go_file, info, field):
        return True
    return _returned_unstarted(statement, variable, go_file, info) and _maker_completed(
        statement, go_file, package, info, field)


def _keyed_value(literal: Node, field: str, go_file: GoFile) -> Node | None:
    """The value of `field: value` in the literal, when it builds one."""
    body = literal.child_by_field_name("body")
    for element in body.named_children if body is not None else []:
        if element.type != "keyed_element" or element.named_child_count != 2:
            continue
        key, value = element.named_children
        if go_file.text(key).strip() != field:
            continue
        inner = value.named_children[0] if value.type == "literal_element" and (
            value.named_child_count) else value
        inner = unparen(inner)
        if inner.type != "nil" and _builds(inner, field, go_file):
            return inner
    return None


def _bound_to(holder: Node | None, go_file: GoFile, info: TypeInfo
              ) -> tuple[Node | None, LocalDecl | None]:
    """(statement, variable) for `v := value` / `v = value` / `var v = value` whose only value
    is the one in `holder` (an expression list)."""
    if holder is None or holder.type != "expression_list":
        return None, None
    statement = holder.parent
    if statement is None or holder.named_child_count != 1:
        return None, None
    if statement.type in {"short_var_declaration", "assignment_statement"}:
        left = statement.child_by_field_name("left")
        if left is None or left.named_child_count != 1 or not same_node(
            statement.child_by_field_name("right"), holder
        ):
            return None, None
        name = unparen(left.named_children[0])
    elif statement.type == "var_spec":
        names = statement.children_by_field_name("name")
        if len(names) != 1:
            return None, None
        name = names[0]
        statement = statement.parent.parent if statement.parent is not None and (
            statement.parent.parent is not None) else statement  # the var declaration
        if statement.type != "var_declaration":
            statement = statement.parent if statement.parent is not None else statement
    else:
        return None, None
    symbol = _declared(name, statement, go_file, info)
    return (statement, symbol) if symbol is not None else (None, None)


def _declared(name: Node, statement: Node, go_file: GoFile, info: TypeInfo
              ) -> LocalDecl | None:
    """The variable `name` declares or assigns in `statement`, as a later use resolves it (a
    `:=` name is in scope only after its statement)."""
    if name.type != "identifier":
        return None
    text = go_file.text(name)
    later = statement.next_named_sibling
    while later is not None:
        for node in walk(later):
            if node.type == "identifier" and go_file.text(node) == text:
                found = info.resolve(node, go_file)
                if not isinstance(found, LocalDecl):
                    return None
                # declared here, or an existing variable assigned here
                fits = same_node(found.ident, name) or found.ident.end_byte <= (
                    statement.start_byte)
                return found if fits else None
        later = later.next_named_sibling
    return None


def _completed_after(statement: Node, variable: LocalDecl, go_file: GoFile, info: TypeInfo,
                     field: str) -> bool:
    """A later statement of the same block sets the field (directly or by a setter) before
    any statement that returns, starts a goroutine or rebinds the variable."""
    later = statement.next_named_sibling
    while later is not None:
        if field in _fields_assigned(later, variable, go_file, info):
            return True
        if later.type in {"return_statement", "go_statement"} or any(
            n.type in {"return_statement", "go_statement", "goto_statement"}
            for n in walk(later)
        ) or _assignment(later, variable, go_file, info)[0]:
            return False
        later = later.next_named_sibling
    return False


def _returned_unstarted(statement: Node, variable: LocalDecl, go_file: GoFile, info: TypeInfo
                        ) -> bool:
    """The statements after the binding start no goroutine and end by returning the
    variable (`r := &T{...}; r.init(); return r`): the caller gets the value first."""
    later = statement.next_named_sibling
    while later is not None:
        if any(n.type == "go_statement" for n in walk(later)):
            return False
        if later.type == "return_statement":
            values = later.named_children[0] if later.named_child_count else None
            first = values.named_children[0] if values is not None and (
                values.type == "expression_list" and values.named_child_count) else values
            return first is not None and unparen(first).type == "identifier" and _same_local(
                info.resolve(unparen(first), go_file), variable)
        later = later.next_named_sibling
    return False


def _maker_completed(inside: Node, go_file: GoFile, package: Package, info: TypeInfo,
                     field: str) -> bool:
    """The literal is in a plain function (a maker, `NewRegistryDefault`) every use of which
    in the module is a call whose result is bound to a variable that the caller then
    completes (`r := NewRegistryDefault(); ...; r.SetLogger(l)`)."""
    function = enclosing_function(inside)
    name_node = function.child_by_field_name("name") if function is not None else None
    if function is None or function.type != "function_declaration" or name_node is None:
        return False
    name = go_file.text(name_node)
    if name[:1].isupper() and _named_elsewhere(package, name):
        return False
    for other in package.files:
        if other.is_test:
            continue
        for start, end in word_hits(other.source, name):
            node = other.node_at(start, end)
            if node is None or node.type in _NOT_A_TYPE_USE:
                continue
            if same_node(node, name_node) and other is go_file:
                continue  # the declaration
            call = node.parent
            if node.type != "identifier" or call is None or call.type != "call_expression" or (
                not same_node(call.child_by_field_name("function"), node)
            ):
                return False  # used as a value: who completes it is not visible
            holder = call.parent
            if holder is None or holder.type != "expression_list" or (
                holder.named_child_count != 1
            ):
                return False
            statement = holder.parent
            left = statement.child_by_field_name("left") if statement is not None else None
            if statement is None or left is None or not left.named_child_count or (
                statement.type not in {"short_var_declaration", "assignment_statement"}
            ):
                return False
            symbol = _declared(unparen(left.named_children[0]), statement, other, info)
            if symbol is None or not _completed_after(
                statement, symbol, other, info, field
            ):
                return False
    return True


def _import_path(package: Package) -> str | None:
    module = package.module
    if module is None:
        return None
    try:
        relative = package.directory.relative_to(module.root).as_posix()
    except ValueError:
        return None
    return module.path if relative == "." else f"{module.path}/{relative}"


def _named_elsewhere(package: Package, name: str) -> bool:
    """Another package of the module names `pkg.Name` (or imports the package with `.`)."""
    return any(_mentions(source, package, name, pointer_ok=False)
               for source in _importers(package))


def _used_by_value_elsewhere(package: Package, type_name: str) -> bool:
    """Another package of the module names the type other than as `*pkg.T`."""
    return any(_mentions(source, package, type_name, pointer_ok=True)
               for source in _importers(package))


def _importers(package: Package) -> list[bytes]:
    path = _import_path(package)
    module = package.module
    if path is None or module is None:
        return []
    quoted = b'"' + path.encode() + b'"'
    return [source for source in module_sources(module.root) if quoted in source]


_IMPORT_NAME = re.compile(rb'(?:^|[\s(])([\w.]+)\s+"([^"]+)"')


def _mentions(source: bytes, package: Package, name: str, *, pointer_ok: bool) -> bool:
    path = _import_path(package) or ""
    alias = next((m.group(1) for m in _IMPORT_NAME.finditer(source)
                  if m.group(2).decode() == path), None)
    if alias in {b".", b"_"}:
        return alias == b"."
    qualifier = alias or package.name.encode()
    pattern = re.compile(rb"\b" + re.escape(qualifier) + rb"\s*\.\s*" + re.escape(name.encode())
                         + rb"\b")
    for hit in pattern.finditer(source):
        line_start = source.rfind(b"\n", 0, hit.start()) + 1
        if b"//" in source[line_start:hit.start()]:
            continue
        if pointer_ok and source[line_start:hit.start()].rstrip().endswith(b"*"):
            continue
        return True
    return False
