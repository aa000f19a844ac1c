"""PromQL for SLI queries: parsed by `promql-parser`, then read for what mapguard needs.

`promql-parser` (a binding of a maintained Rust parser that follows Prometheus' grammar) decides
what is PromQL: any query Prometheus accepts is accepted here, with Prometheus' own error
messages otherwise. Its tree is turned into the small immutable nodes below, from which mapguard
(1) lists the metric names an expression reads, (2) checks label matchers, and (3) sees an SLI
query as a linear combination of counter rates — `sum(rate(a[w])) - sum(rate(b[w]))` — so that
promtool tests can feed it synthetic counters with a known error ratio. Anything outside that
subset raises `Unsupported`, and the caller says so instead of guessing.

SLI queries are Go templates as in Sloth: ``{{.window}}`` (any spacing, ``{{- .window -}}`` too)
is the only variable; any other template action is an error.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from fractions import Fraction
from typing import Any

import promql_parser as pp

from mapguard.slo.model import WINDOW_TEMPLATE


class PromQLSyntaxError(ValueError):
    """The text is not PromQL."""


class Unsupported(ValueError):
    """Valid PromQL, but outside the linear subset mapguard can simulate."""


_TEMPLATE_ACTION = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_RATE_FUNCTIONS = frozenset({"rate", "irate", "increase"})
# promql-parser's enums compare but do not hash: look them up by name.
_MATCH_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str  # =, !=, =~, !~
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'


@dataclass(frozen=True, slots=True)
class Selector:
    name: str | None
    matchers: tuple[Matcher, ...] = ()

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        if self.name is not None and self.name != name:
            return False
        return all(m.matches({**labels, "__name__": name}) for m in self.matchers)

    def __str__(self) -> str:
        inner = ",".join(str(m) for m in self.matchers)
        return f"{self.name or ''}{{{inner}}}" if inner or not self.name else self.name


# ---------------------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Num:
    value: Fraction | None  # None: Inf or NaN


@dataclass(frozen=True, slots=True)
class Str:
    value: str


@dataclass(frozen=True, slots=True)
class VectorSel:
    selector: Selector
    range: str | None = None  # "5m" for a range selector
    offset: str | None = None
    at: str | None = None  # the @ modifier, e.g. "end()" or "1700000000"


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Aggregate:
    op: str
    expr: Node
    param: Node | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node
    modifiers: tuple[str, ...] = ()  # "bool", "on(a,b)", "group_left()", ...


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    expr: Node


@dataclass(frozen=True, slots=True)
class Subquery:
    expr: Node
    range: str
    step: str | None
    offset: str | None = None
    at: str | None = None


Node = Num | Str | VectorSel | Call | Aggregate | Binary | Unary | Subquery


def fill_window(query: str, window: str = "5m") -> str:
    """Render Sloth's query template: ``{{.window}}`` becomes `window`.

    Raises PromQLSyntaxError for any other template action (Sloth would fail on it too).
    """
    def render(match: re.Match[str]) -> str:
        if WINDOW_TEMPLATE.fullmatch(match.group()):
            return window
        raise PromQLSyntaxError(
            f"template action {match.group()!r} is not supported; the only template variable "
            "is {{.window}}"
        )

    return _TEMPLATE_ACTION.sub(render, query)


def without_comments(query: str) -> str:
    """The query with its ``#`` comments removed (they run to the end of the line).

    Generated rules embed user queries inside larger expressions, where a comment would
    swallow the closing parenthesis that follows it.
    """
    if "#" not in query:
        return query
    out: list[str] = []
    quote: str | None = None
    index = 0
    while index < len(query):
        char = query[index]
        if quote is not None:
            out.append(char)
            if char == "\\" and quote != "`" and index + 1 < len(query):
                out.append(query[index + 1])
                index += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
            out.append(char)
        elif char == "#":
            while index < len(query) and query[index] != "\n":
                index += 1
            continue
        else:
            out.append(char)
        index += 1
    return "".join(out)


def parse(query: str) -> Node:
    """Parse a PromQL expression (``{{.window}}`` is read as 5m)."""
    text = fill_window(query)
    try:
        tree = pp.parse(text)
    except ValueError as exc:
        raise PromQLSyntaxError(str(exc)) from None
    return _node(tree)


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """Parse bare matchers such as ``job="api",route!="/healthz"`` (braces optional)."""
    body = text.strip()
    if not body:
        return ()
    if not body.startswith("{"):
        body = "{" + body + "}"
    try:
        tree = pp.parse(body)
    except ValueError as exc:
        raise PromQLSyntaxError(str(exc)) from None
    if not isinstance(tree, pp.VectorSelector) or tree.name:
        raise PromQLSyntaxError("not a list of label matchers")
    return _matchers(tree)


def _duration(delta: timedelta | None) -> str | None:
    if delta is None:
        return None
    if delta < timedelta(0):
        return "-" + pp.display_duration(-delta)
    return pp.display_duration(delta)


def _at(modifier: pp.AtModifier | None) -> str | None:
    if modifier is None:
        return None
    if modifier.type == pp.AtModifierType.Start:
        return "start()"
    if modifier.type == pp.AtModifierType.End:
        return "end()"
    return str(modifier.at.timestamp()) if modifier.at is not None else None


def _matchers(selector: pp.VectorSelector) -> tuple[Matcher, ...]:
    found = []
    for matcher in selector.matchers.matchers:
        if matcher.name == "__name__" and matcher.op == pp.MatchOp.Equal and selector.name:
            continue  # the metric name, already in `name`
        op = _MATCH_OPS[str(matcher.op).rpartition(".")[2]]
        if op in {"=~", "!~"}:
            try:
                re.compile(matcher.value)
            except re.error as exc:
                raise Unsupported(f"the regular expression {matcher.value!r}: {exc}") from None
        found.append(Matcher(matcher.name, op, matcher.value))
    return tuple(found)


def _selector(selector: pp.VectorSelector, window: str | None = None) -> VectorSel:
    if selector.matchers.or_matchers:
        raise Unsupported("`or` inside label matchers")
    return VectorSel(
        Selector(selector.name or None, _matchers(selector)), window,
        _duration(selector.offset), _at(selector.at),
    )


def _binary_modifiers(modifier: pp.BinModifier | None) -> tuple[str, ...]:
    if modifier is None:
        return ()
    found: list[str] = ["bool"] if modifier.return_bool else []
    if modifier.matching is not None:
        keyword = "on" if modifier.matching.type == pp.LabelModifierType.Include else "ignoring"
        found.append(f"{keyword}({','.join(modifier.matching.labels)})")
    group = (
        "group_left" if modifier.card == pp.VectorMatchCardinality.ManyToOne
        else "group_right" if modifier.card == pp.VectorMatchCardinality.OneToMany else None
    )
    if group is not None:
        found.append(f"{group}({','.join(modifier.group_labels or [])})")
    return tuple(found)


def _node(tree: Any) -> Node:
    """Turn a promql-parser tree into mapguard's nodes."""
    if isinstance(tree, pp.ParenExpr):
        return _node(tree.expr)
    if isinstance(tree, pp.NumberLiteral):
        value = tree.val
        finite = value == value and value not in (float("inf"), float("-inf"))
        return Num(Fraction(repr(value)) if finite else None)
    if isinstance(tree, pp.StringLiteral):
        return Str(tree.val)
    if isinstance(tree, pp.VectorSelector):
        return _selector(tree)
    if isinstance(tree, pp.MatrixSelector):
        return _selector(tree.vector_selector, _duration(tree.range))
    if isinstance(tree, pp.Call):
        return Call(tree.func.name, tuple(_node(arg) for arg in tree.args))
    if isinstance(tree, pp.AggregateExpr):
        modifier = tree.modifier
        return Aggregate(
            str(tree.op), _node(tree.expr),
            _node(tree.param) if tree.param is not None else None,
            tuple(modifier.labels) if modifier is not None else (),
            modifier is not None and modifier.type == pp.AggModifierType.Without,
        )
    if isinstance(tree, pp.BinaryExpr):
        return Binary(str(tree.op), _node(tree.lhs), _node(tree.rhs),
                      _binary_modifiers(tree.modifier))
    if isinstance(tree, pp.UnaryExpr):
        return Unary("-", _node(tree.expr))
    if isinstance(tree, pp.SubqueryExpr):
        return Subquery(_node(tree.expr), _duration(tree.range) or "",
                        _duration(tree.step), _duration(tree.offset), _at(tree.at))
    raise Unsupported(f"the expression {tree}")  # pragma: no cover - every node kind is above


def walk(node: Node) -> Iterator[Node]:
    yield node
    children: tuple[Node | None, ...]
    if isinstance(node, Call):
        children = node.args
    elif isinstance(node, Aggregate):
        children = (node.param, node.expr)
    elif isinstance(node, Binary):
        children = (node.left, node.right)
    elif isinstance(node, Unary | Subquery):
        children = (node.expr,)
    else:
        children = ()
    for child in children:
        if child is not None:
            yield from walk(child)


def metric_names(query: str) -> set[str]:
    """Names of every series an expression reads (selectors with a name)."""
    names: set[str] = set()
    for node in walk(parse(query)):
        if isinstance(node, VectorSel):
            name = node.selector.name or next(
                (m.value for m in node.selector.matchers if m.name == "__name__" and m.op == "="),
                None,
            )
            if name is None:
                raise Unsupported(f"selector {node.selector} has no metric name")
            names.add(name)
    return names


# ------------------------------------------------------------------------- linear analysis


@dataclass(frozen=True, slots=True)
class Linear:
    """Σ coefficient × rate(selector): what an events query computes from counters."""

    terms: Mapping[Selector, Fraction] = field(default_factory=dict)
    functions: frozenset[str] = frozenset()
    grouping: frozenset[str] = frozenset()  # labels an aggregation keeps

    def plus(self, other: Linear, sign: int = 1) -> Linear:
        terms = dict(self.terms)
        for selector, coefficient in other.terms.items():
            terms[selector] = terms.get(selector, Fraction(0)) + sign * coefficient
        return Linear(
            terms, self.functions | other.functions, self.grouping | other.grouping
        )

    def scaled(self, factor: Fraction) -> Linear:
        return Linear(
            {s: c * factor for s, c in self.terms.items()}, self.functions, self.grouping
        )

    def value(self, rates: Mapping[Selector, Fraction]) -> Fraction:
        return sum((c * rates.get(s, Fraction(0)) for s, c in self.terms.items()), Fraction(0))


def _scalar(node: Node) -> Fraction | None:
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Unary) and (inner := _scalar(node.expr)) is not None:
        return -inner if node.op == "-" else inner
    if isinstance(node, Binary) and node.op in {"+", "-", "*", "/"}:
        left, right = _scalar(node.left), _scalar(node.right)
        if left is None or right is None:
            return None
        if node.op == "/" and right == 0:
            return None
        return {
            "+": lambda: left + right, "-": lambda: left - right,
            "*": lambda: left * right, "/": lambda: left / right,
        }[node.op]()
    return None


def linear(node: Node) -> Linear:
    """Read an events query as a linear combination of counter rates, or raise Unsupported."""
    if isinstance(node, Call) and node.function in _RATE_FUNCTIONS:
        (arg,) = node.args if len(node.args) == 1 else (None,)
        if not isinstance(arg, VectorSel) or arg.range is None or arg.offset or arg.at:
            raise Unsupported(f"{node.function}() of something other than a plain range selector")
        return Linear({arg.selector: Fraction(1)}, frozenset({node.function}))
    if isinstance(node, Aggregate):
        if node.op != "sum" or node.param is not None:
            raise Unsupported(f"the {node.op} aggregation")
        if node.without:
            raise Unsupported("sum without(...)")
        inner = linear(node.expr)
        return Linear(inner.terms, inner.functions, inner.grouping | frozenset(node.grouping))
    if isinstance(node, Unary):
        inner = linear(node.expr)
        return inner.scaled(Fraction(-1)) if node.op == "-" else inner
    if isinstance(node, Binary):
        if node.op == "or":
            # `x or vector(0)` / `x or 0 * y`: the synthetic series always make `x` present.
            return linear(node.left)
        if node.modifiers and any(not m.startswith(("on(", "ignoring(")) for m in node.modifiers):
            raise Unsupported(f"binary modifiers {' '.join(node.modifiers)}")
        if node.op in {"+", "-"}:
            return linear(node.left).plus(linear(node.right), 1 if node.op == "+" else -1)
        if node.op in {"*", "/"}:
            left_scalar, right_scalar = _scalar(node.left), _scalar(node.right)
            if right_scalar is not None and right_scalar != 0:
                factor = right_scalar if node.op == "*" else 1 / right_scalar
                return linear(node.left).scaled(factor)
            if left_scalar is not None and node.op == "*":
                return linear(node.right).scaled(left_scalar)
        raise Unsupported(f"the {node.op!r} operator between series")
    if isinstance(node, Num):
        raise Unsupported("a constant term")
    name = type(node).__name__
    detail = f" {node.function}()" if isinstance(node, Call) else ""
    raise Unsupported(f"{name.lower()}{detail}")


def ratio_parts(node: Node) -> tuple[Node, Node]:
    """Split a raw error-ratio query `errors / total` into its two sides."""
    if isinstance(node, Binary) and node.op == "/" and not node.modifiers:
        return node.left, node.right
    raise Unsupported("a raw error-ratio query that is not `errors / total`")


# ----------------------------------------------------------------------- regex examples

_parser: Any = importlib.import_module("re._parser")
_CATEGORY_EXAMPLES = {
    "CATEGORY_DIGIT": "0", "CATEGORY_NOT_DIGIT": "x", "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_SPACE": "x", "CATEGORY_WORD": "x", "CATEGORY_NOT_WORD": "-",
}


def _examples(items: Any, limit: int) -> list[str]:
    """Strings matching a parsed regex sequence (a few, shortest alternatives first)."""
    results = [""]
    for op, arg in items:
        name = str(op)
        options: list[str]
        if name == "LITERAL":
            options = [chr(arg)]
        elif name == "NOT_LITERAL":
            options = ["x" if chr(arg) != "x" else "y"]
        elif name == "ANY":
            options = ["x"]
        elif name == "IN":
            options = _class_examples(arg)
        elif name == "BRANCH":
            options = [s for branch in arg[1] for s in _examples(branch, limit)]
        elif name == "SUBPATTERN":
            options = _examples(arg[-1], limit)
        elif name in {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}:
            low, _high, body = arg
            inner = _examples(body, limit) or [""]
            options = [inner[0] * max(low, 1)] if low else ["", inner[0]]
            options += [s * max(low, 1) for s in inner[1:]]
        elif name in {"AT"}:
            options = [""]
        elif name == "CATEGORY":
            options = [_CATEGORY_EXAMPLES.get(str(arg), "x")]
        else:
            return []  # lookarounds, backreferences: give up on examples
        results = [prefix + option for prefix in results for option in options][:limit]
    return results


def _class_examples(items: Any) -> list[str]:
    negated = any(str(op) == "NEGATE" for op, _ in items)
    if negated:
        excluded = "".join(_examples([item], 4)[0] for item in items if str(item[0]) != "NEGATE")
        return [next(c for c in "xyz0_-" if c not in excluded)]
    found: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            found.append(chr(arg))
        elif name == "RANGE":
            found.append(chr(arg[0]))
        elif name == "CATEGORY":
            found.append(_CATEGORY_EXAMPLES.get(str(arg), "x"))
    return found or ["x"]


def regex_examples(pattern: str, limit: int = 8) -> list[str]:
    """Strings that fully match `pattern` (checked), best effort; [] when none are found."""
    try:
        parsed = _parser.parse(pattern)
    except re.error:
        return []
    compiled = re.compile(pattern)
    candidates = _examples(list(parsed), limit)
    return [c for c in dict.fromkeys(candidates) if compiled.fullmatch(c)]

