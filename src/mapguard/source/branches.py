"""Which branches a known bool rules out: `if parallel { ... } else { ... }` in a function
called with `parallel` true never runs its `else` branch for that call.

A call from concurrent code reaches only the branches its arguments let run. Round 22 read a
false MG004 in apache/cloudberry-backup: `executeStatementsForConn(..., executeInParallel)`
writes a package map with a lock in `if executeInParallel { ... }` and without one in the
`else` branch, and its goroutines are started only in `if !executeInParallel { ... } else {
... }`'s `else`, where the flag they pass is true.

What is known, and only that: a `true`/`false` literal, and a bool name (parameter or local)
that nothing assigns after its declaration, inside the branches of the `if`s that test it
(`if x`, `if !x`, and `if x && y` for its body) and after a guard that leaves (`if !x { return
}`). A name that is assigned, incremented, received into, has its address taken, is a range
variable or is declared again in a nested scope is never known.
"""

from __future__ import annotations

from tree_sitter import Node

from mapguard.source.package import GoFile
from mapguard.source.typeinfo import (
    FUNCTION_NODES,
    LocalDecl,
    TypeInfo,
    enclosing_function,
    same_node,
    same_symbol,
    unparen,
    walk,
)

_ASSIGNMENTS = frozenset({"assignment_statement", "short_var_declaration", "inc_statement",
                          "dec_statement", "range_clause", "receive_statement"})
# Declarations that bring another variable of a name into a nested scope, where an `if` on that
# name tests the other one: `var x = ...`, `const x`, a closure's parameter, `switch x := ...`.
_REDECLARATIONS = frozenset({"var_spec", "const_spec", "parameter_declaration",
                            "variadic_parameter_declaration"})
# How a guard's body ends so that the code after the guard does not run when it is taken
# (`mapguard.source.locks` reads `if !mu.TryLock() { return }` with the same set).
LEAVES = frozenset({"return_statement", "goto_statement", "continue_statement",
                    "break_statement"})


def truth(condition: Node | None, go_file: GoFile, known: dict[str, bool]) -> bool | None:
    """The value of `condition` when the names in `known` have those values; None when it
    depends on anything else."""
    if condition is None:
        return None
    condition = unparen(condition)
    kind = condition.type
    if kind == "true":
        return True
    if kind == "false":
        return False
    if kind == "identifier":
        return known.get(go_file.text(condition))
    if kind == "unary_expression" and go_file.text(condition).startswith("!"):
        value = truth(condition.child_by_field_name("operand"), go_file, known)
        return None if value is None else not value
    if kind == "binary_expression":
        operator = condition.child_by_field_name("operator")
        left = truth(condition.child_by_field_name("left"), go_file, known)
        right = truth(condition.child_by_field_name("right"), go_file, known)
        text = go_file.text(operator) if operator is not None else ""
        if text == "&&":
            return False if False in (left, right) else (True if left and right else None)
        if text == "||":
            return True if True in (left, right) else (
                False if left is False and right is False else None)
    return None


def ruled_out(node: Node, function: Node, go_file: GoFile, known: dict[str, bool]) -> bool:
    """Whether `node`, inside `function`, sits in a branch of an `if` that the values in
    `known` (of names of `function` nothing reassigns; see `unassigned`) rule out."""
    if not known:
        return False
    child, current = node, node.parent
    while current is not None and not same_node(current, function):
        if current.type == "if_statement":
            value = truth(current.child_by_field_name("condition"), go_file, known)
            if value is not None:
                consequence = current.child_by_field_name("consequence")
                alternative = current.child_by_field_name("alternative")
                if value is False and consequence is not None and child == consequence:
                    return True
                if value is True and alternative is not None and child == alternative:
                    return True
        if any(truth(guard.child_by_field_name("condition"), go_file, known) is True
               for guard in _guards_before(child)):
            return True  # `if !parallel { ...; return }` left before `node`
        child, current = current, current.parent
    return False


def unassigned(function: Node, go_file: GoFile, names: set[str]) -> set[str]:
    """Those of `names` that nothing in `function` (closures included) assigns, increments,
    ranges over into, receives into, takes the address of or declares again in a nested scope:
    their value is the one they were declared with, wherever the name is read."""
    if not names:
        return names
    body = function.child_by_field_name("body")
    if body is None:
        return names
    names = set(names)
    for node in walk(body):
        if node.type in _ASSIGNMENTS:
            left = node.child_by_field_name("left") or (
                node.named_children[0] if node.named_child_count else None)
            if left is None:
                continue
            targets = left.named_children if left.type == "expression_list" else [left]
            names -= {go_file.text(t) for t in targets if t.type == "identifier"}
        elif node.type in _REDECLARATIONS:
            names -= {go_file.text(n) for n in node.children_by_field_name("name")}
        elif node.type == "type_switch_statement":
            names -= {go_file.text(n) for n in node.children_by_field_name("alias")}
        elif node.type == "unary_expression" and go_file.text(node).startswith("&"):
            operand = node.child_by_field_name("operand")
            if operand is not None and unparen(operand).type == "identifier":
                names.discard(go_file.text(unparen(operand)))
        if not names:
            break
    return names


def parameter_names(function: Node, go_file: GoFile) -> list[str]:
    """The names of `function`'s parameters in argument order (`_` and unnamed ones as "")."""
    parameters = function.child_by_field_name("parameters")
    names: list[str] = []
    for declaration in parameters.named_children if parameters else []:
        if declaration.type == "variadic_parameter_declaration":
            break  # its arguments are gathered into a slice: none matches a name
        found = declaration.children_by_field_name("name")
        names.extend(go_file.text(n) if go_file.text(n) != "_" else "" for n in found)
        if not found and declaration.type == "parameter_declaration":
            names.append("")
    return names


def known_parameters(function: Node, go_file: GoFile, values: tuple[bool | None, ...]
                     ) -> dict[str, bool]:
    """The parameters of `function` whose argument value a call told (`values`, in argument
    order) and that `function` never reassigns."""
    given = {name: value for name, value in zip(parameter_names(function, go_file), values,
                                                strict=False)
             if name and value is not None}
    kept = unassigned(function, go_file, set(given))
    return {name: value for name, value in given.items() if name in kept}


def argument_truth(argument: Node, call: Node, go_file: GoFile, info: TypeInfo,
                   known: dict[str, bool]) -> bool | None:
    """What a bool argument of `call` is when the call runs: a literal; a name of `known` (the
    calling function's parameters a caller told); or a name that nothing reassigns, inside the
    branch of an `if` testing it that holds the call (through the closures between)."""
    argument = unparen(argument)
    if argument.type in {"true", "false"}:
        return argument.type == "true"
    if argument.type != "identifier":
        return None
    name = go_file.text(argument)
    if name in known:
        return known[name]
    # The `if`s around the call are looked at first: most arguments are tested by none, and
    # then their declaration need not be resolved.
    child, current = call, call.parent
    while current is not None:
        if current.type == "if_statement":
            condition = current.child_by_field_name("condition")
            value: bool | None = None
            if child == current.child_by_field_name("consequence"):
                value = _holds_in_body(condition, name, go_file)
            elif child == current.child_by_field_name("alternative"):
                value = _holds_in_else(condition, name, go_file)
            if value is not None:
                return value if _fixed_and_tested(argument, current, go_file, info) else None
        for guard in _guards_before(child):
            # `if !x { return }`: after it, x holds what the guard's test did not.
            tested = _tested(unparen(guard.child_by_field_name("condition") or guard), name,
                             go_file)
            if tested is not None:
                return (not tested) if _fixed_and_tested(argument, guard, go_file,
                                                         info) else None
        child, current = current, current.parent
    return None


def _guards_before(statement: Node) -> list[Node]:
    """The `if`s without `else` before `statement` in its block whose body ends by leaving it
    (`return`, `continue`, `break`, `goto`, `panic(...)`), nearest first."""
    block = statement.parent
    if block is None or block.type not in {"block", "statement_list"}:
        return []
    guards = []
    sibling = statement.prev_named_sibling
    while sibling is not None:
        if sibling.type == "if_statement" and sibling.child_by_field_name(
                "alternative") is None and _leaves(sibling.child_by_field_name("consequence")):
            guards.append(sibling)
        sibling = sibling.prev_named_sibling
    return guards


def _leaves(body: Node | None) -> bool:
    statements = [c for c in (body.named_children if body is not None else [])
                  if c.type != "comment"]
    if statements and statements[-1].type == "statement_list":
        statements = [c for c in statements[-1].named_children if c.type != "comment"]
    if not statements:
        return False
    last = statements[-1]
    if last.type in LEAVES:
        return True
    call = last.named_children[0] if last.type == "expression_statement" and (
        last.named_child_count) else None
    function = call.child_by_field_name("function") if call is not None and (
        call.type == "call_expression") else None
    return function is not None and function.type == "identifier" and function.text == b"panic"


def argument_values(call: Node, go_file: GoFile, info: TypeInfo, known: dict[str, bool]
                    ) -> tuple[bool | None, ...]:
    """`argument_truth` of each argument of `call`, in order; () when none is known, so that
    calls telling nothing look alike."""
    arguments = call.child_by_field_name("arguments")
    values = tuple(argument_truth(a, call, go_file, info, known)
                   for a in (arguments.named_children if arguments else [])
                   if a.type != "comment")
    return values if any(value is not None for value in values) else ()


def _fixed_and_tested(argument: Node, tested_by: Node, go_file: GoFile, info: TypeInfo
                      ) -> bool:
    """Whether the name `argument` is a parameter or local that nothing reassigns, and the one
    the condition of `tested_by` (an `if` around the call) tests, not another of its name."""
    symbol = info.resolve(argument, go_file)
    if not isinstance(symbol, LocalDecl) or symbol.kind not in {"param", "var"}:
        return False
    name = go_file.text(argument)
    condition = tested_by.child_by_field_name("condition")
    tested = [node for node in walk(condition) if node.type == "identifier" and go_file.text(
        node) == name] if condition is not None else []
    if not tested or not all(same_symbol(info.resolve(node, go_file), symbol)
                             for node in tested):
        return False
    scope = symbol.scope
    function = scope if scope.type in FUNCTION_NODES else enclosing_function(scope)
    return function is not None and bool(unassigned(function, go_file, {name}))


def _holds_in_body(condition: Node | None, name: str, go_file: GoFile) -> bool | None:
    """`name`'s value inside the body of `if condition`: `x` and `x && ...` say true, `!x`
    and `!x && ...` false."""
    if condition is None:
        return None
    condition = unparen(condition)
    if condition.type == "binary_expression":
        operator = condition.child_by_field_name("operator")
        if operator is None or go_file.text(operator) != "&&":
            return None
        for side in ("left", "right"):
            value = _holds_in_body(condition.child_by_field_name(side), name, go_file)
            if value is not None:
                return value
        return None
    return _tested(condition, name, go_file)


def _holds_in_else(condition: Node | None, name: str, go_file: GoFile) -> bool | None:
    """`name`'s value in the `else` of `if condition`: the opposite of what `x` or `!x` says
    (`x && y` failing says nothing of `x` alone)."""
    value = _tested(unparen(condition), name, go_file) if condition is not None else None
    return None if value is None else not value


def _tested(condition: Node, name: str, go_file: GoFile) -> bool | None:
    if condition.type == "identifier" and go_file.text(condition) == name:
        return True
    if condition.type == "unary_expression" and go_file.text(condition).startswith("!"):
        operand = condition.child_by_field_name("operand")
        if operand is not None and unparen(operand).type == "identifier" and go_file.text(
                unparen(operand)) == name:
            return False
    return None
