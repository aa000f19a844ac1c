"""The cause chain: from a map's growth in a profile to the creation that sized it, the advice
that fits, and the lint rule that would have caught it.

A growth site is a line that inserts (`m[k] = v`): the map it grows was made elsewhere — earlier
in the same function, by the caller (a parameter), or in a constructor that set the field. The
creation is where a fix goes: a size hint when the map was made without one (the profile shows
how large its tables got), `clear` when it is made anew on every pass of a loop, a pool when a
function makes and drops one per call. The lint rules run on the creation's package; the one
that reports the creation line is named.

Only sites whose function matches the source read (`SourceMatch.trusted`) are followed: a
chain drawn through another version of the file would point at the wrong line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node

from mapguard.evidence.attribution import Attribution, SiteCost
from mapguard.evidence.mapsyntax import FUNCTION_NODES, GoSource, assigned_values, enclosing
from mapguard.evidence.site import Site
from mapguard.evidence.sourcetree import SourceFiles
from mapguard.lint.engine import LintOptions, analyse_dir
from mapguard.lint.rule import Finding
from mapguard.source.discover import PackageDir
from mapguard.source.typeinfo import walk

_LOOPS = ("for_statement",)
# Calls that use a map without keeping it.
_HARMLESS_CALLS = frozenset({"len", "delete", "clear", "print", "println"})


@dataclass(frozen=True, slots=True)
class Creation:
    site: Site | None  # where the map is made; None when the caller makes it
    text: str  # the creating expression, `map[int]string{}`, or a description
    how: str  # "in the same function", "field index, set in NewServer", "by the caller"...
    sized: bool  # made with a size hint
    loop_line: int | None = None  # made anew on every pass of the loop at this line
    kept_in_function: bool = False  # made per call and never leaves the function


@dataclass(frozen=True, slots=True)
class Cause:
    growth: SiteCost
    creation: Creation | None
    advice: tuple[str, ...]
    rule: str | None = None  # "MG002 missing-size-hint": the rule that reports the creation

    def to_json(self) -> dict[str, object]:
        creation = self.creation
        return {
            "growth": {"function": self.growth.site.function, "file": self.growth.site.file,
                       "line": self.growth.site.line, "value": self.growth.value,
                       "largest_object": self.growth.largest_object},
            "creation": None if creation is None else {
                "file": creation.site.file if creation.site else None,
                "line": creation.site.line if creation.site else None,
                "function": creation.site.function if creation.site else None,
                "expr": creation.text, "how": creation.how, "sized": creation.sized,
                "loop_line": creation.loop_line},
            "advice": list(self.advice),
            "rule": self.rule,
        }


def cause_chain(attribution: Attribution, sources: SourceFiles, *, top: int = 5
                ) -> tuple[Cause, ...]:
    """Causes of the `top` largest map growth sites of an allocation profile."""
    growth = [cost for cost in attribution.sites
              if cost.op == "grow" and cost.via is None and cost.match.trusted]
    findings: dict[Path, list[Finding]] = {}
    causes = []
    for cost in growth[:top]:
        source = sources.get(cost.site.file)
        path = sources.resolve(cost.site.file)
        if source is None or path is None:
            continue
        operands = source.insert_operands(cost.site.line)
        creation = creation_of(source, path, operands[0], sources) if operands else None
        rule = None
        if creation is not None and creation.site is not None:
            rule = _rule_at(creation.site, sources, findings)
        causes.append(Cause(cost, creation, _advice(cost, creation, rule), rule))
    return tuple(causes)


# --- finding the creation -------------------------------------------------------------------


def creation_of(source: GoSource, path: Path, operand: Node, sources: SourceFiles
                ) -> Creation | None:
    """Where the map `operand` (an insert's map, `source.insert_operands`) was made, or None
    when the package does not show it."""
    function = enclosing(operand, FUNCTION_NODES)
    if operand.type == "identifier" and function is not None:
        name = source.text(operand)
        made = _assignments(source, function, name, operand.start_byte)
        if made is not None:
            return _described(source, path, made, operand, function, "in the same function")
        if _is_parameter(source, function, name):
            return Creation(None, f"parameter {name}", "by the caller", sized=False)
        return None
    if operand.type == "selector_expression":
        field = source.text(operand.child_by_field_name("field"))
        for other_path, other in sources.package(path.parent).items():
            for node in _field_creations(other, field):
                where = enclosing(node, FUNCTION_NODES)
                named = _function_name(other, where) if where is not None else None
                how = f"field {field}, set in {named}" if named else f"field {field}"
                return _described(other, other_path, node, None, where, how)
    return None


def _assignments(source: GoSource, function: Node, name: str, before: int) -> Node | None:
    """The map creation last assigned to `name` in the function before the use (a creation
    after it, in a loop, counts when there is none before)."""
    found: list[Node] = []
    for node in walk(function):
        for target, value in assigned_values(source, node):
            if target == name and _is_creation(source, value):
                found.append(value)
    earlier = [node for node in found if node.start_byte < before]
    chosen = earlier or found
    return chosen[-1] if chosen else None


def _field_creations(source: GoSource, field: str) -> Iterator[Node]:
    """Creations stored into a field: `x.field = make(...)`, `T{field: map[...]{}}`."""
    for node in walk(source.tree.root_node):
        if node.type == "keyed_element":
            parts = node.named_children
            if len(parts) == 2 and source.text(parts[0]) == field:
                value = _unwrap(parts[1])
                if _is_creation(source, value):
                    yield value
        elif node.type == "assignment_statement":
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            if left is None or right is None:
                continue
            for target, value in zip(left.named_children, right.named_children, strict=False):
                if target.type == "selector_expression" and source.text(
                        target.child_by_field_name("field")) == field and _is_creation(
                        source, value):
                    yield value


def _unwrap(node: Node) -> Node:
    """A keyed element's value is wrapped in a `literal_element`."""
    return node.named_children[0] if node.type == "literal_element" and \
        node.named_children else node


def _is_creation(source: GoSource, node: Node) -> bool:
    if node.type == "composite_literal":
        return source.is_map_type(node.child_by_field_name("type"))
    if node.type == "call_expression" and source.text(
            node.child_by_field_name("function")) == "make":
        arguments = node.child_by_field_name("arguments")
        return arguments is not None and bool(arguments.named_children) and \
            source.is_map_type(arguments.named_children[0])
    return False


def _described(source: GoSource, path: Path, node: Node, use: Node | None,
               function: Node | None, how: str) -> Creation:
    arguments = node.child_by_field_name("arguments")
    sized = node.type == "call_expression" and arguments is not None and \
        len(arguments.named_children) >= 2
    loop = _shared_loop(node, use, function) if use is not None else None
    kept = use is not None and function is not None and loop is None and _kept_in(
        source, function, source.text(use))
    name = _function_name(source, function) if function is not None else None
    site = Site(str(path), node.start_point[0] + 1, node.start_point[1] + 1, name)
    return Creation(site, source.text(node), how, sized,
                    loop.start_point[0] + 1 if loop is not None else None, kept)


def _shared_loop(creation: Node, use: Node, function: Node | None) -> Node | None:
    """The innermost loop of the function holding both the creation and the use."""
    node = creation.parent
    while node is not None and node != function:
        if node.type in _LOOPS and node.start_byte <= use.start_byte < node.end_byte:
            return node
        node = node.parent
    return None


def _kept_in(source: GoSource, function: Node, name: str) -> bool:
    """Does the map `name` stay in the function: never returned, stored, sent, captured by a
    goroutine or passed to a call that could keep it?"""
    for node in walk(function):
        if node.type == "identifier" and source.text(node) == name and _leaves(source, node):
            return False
    return True


def _leaves(source: GoSource, use: Node) -> bool:
    parent = use.parent
    if parent is None:
        return False
    if parent.type == "expression_list":
        holder = parent.parent
        if holder is None:
            return False
        if holder.type == "return_statement":
            return True
        if holder.type == "assignment_statement" and holder.child_by_field_name("right") == parent:
            left = holder.child_by_field_name("left")
            return left is not None and any(
                target.type != "identifier" for target in left.named_children)
    if parent.type == "argument_list":
        call = parent.parent
        callee = call.child_by_field_name("function") if call is not None else None
        return source.text(callee) not in _HARMLESS_CALLS
    return parent.type in ("send_statement", "keyed_element", "literal_element",
                           "go_statement", "unary_expression")


def _is_parameter(source: GoSource, function: Node, name: str) -> bool:
    parameters = function.child_by_field_name("parameters")
    return parameters is not None and any(
        source.text(n) == name for declaration in parameters.named_children
        for n in declaration.children_by_field_name("name"))


def _function_name(source: GoSource, function: Node) -> str | None:
    while function.type == "func_literal":
        outer = enclosing(function, FUNCTION_NODES)
        if outer is None:
            return None
        function = outer
    return source.text(function.child_by_field_name("name")) or None


# --- lint, advice ---------------------------------------------------------------------------


def _rule_at(site: Site, sources: SourceFiles, cache: dict[Path, list[Finding]]) -> str | None:
    directory = Path(site.file).parent
    if directory not in cache:
        files = sources.package_files(directory)
        cache[directory] = list(analyse_dir(PackageDir(directory, files),
                                            LintOptions()).findings) if files else []
    for finding in cache[directory]:
        if str(finding.path) == site.file and finding.line == site.line:
            return f"{finding.rule} {finding.name}"
    return None


def _size(value: int) -> str:
    for factor, suffix in ((1 << 20, "MiB"), (1 << 10, "KiB")):
        if value >= factor:
            return f"{value / factor:.1f} {suffix}"
    return f"{value} B"


def _advice(growth: SiteCost, creation: Creation | None, rule: str | None) -> tuple[str, ...]:
    if creation is None:
        return ()
    tables = (f" (its tables reached {_size(growth.largest_object)} here)"
              if growth.largest_object > 0 else "")
    if creation.site is None:
        return (f"the map is a {creation.text} made {creation.how}: size it where it is made"
                f"{tables}",)
    advice = []
    where = f"line {creation.site.line}"
    if creation.loop_line is not None:
        advice.append(f"made anew on every pass of the loop at line {creation.loop_line}: "
                      f"make it once before the loop and clear() it each pass (clear keeps "
                      "the table, later passes allocate nothing)")
    if creation.sized:
        advice.append(f"{creation.text} at {where} has a size hint smaller than what the map "
                      f"holds{tables}: raise it")
    else:
        advice.append(f"{creation.text} at {where} has no size hint: make it with the number "
                      f"of entries it ends up holding{tables}")
    if creation.kept_in_function:
        advice.append("or keep the map between calls: a sync.Pool of maps, clear() before "
                      "Put (MG006 checks the clear)")
    if rule is not None:
        advice.append(f"{rule} reports the creation")
    return tuple(advice)
