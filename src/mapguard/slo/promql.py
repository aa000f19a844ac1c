"""Just enough PromQL to reason about SLI queries: a lexer, a parser, and linear analysis.

mapguard does not evaluate PromQL (Prometheus and promtool do). It reads queries to (1) list the
metric names an expression reads, (2) check label matchers, and (3) see an SLI query as a linear
combination of counter rates — `sum(rate(a[w])) - sum(rate(b[w]))` — so that promtool tests can
feed it synthetic counters with a known error ratio. Anything outside that subset raises
`Unsupported`, and the caller says so instead of guessing.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from mapguard.slo.model import WINDOW_TEMPLATE


class PromQLSyntaxError(ValueError):
    """The text is not PromQL this module can read."""


class Unsupported(ValueError):
    """Valid PromQL, but outside the linear subset mapguard can simulate."""


AGGREGATIONS = frozenset({
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "group",
    "topk", "bottomk", "quantile", "count_values",
})
_RATE_FUNCTIONS = frozenset({"rate", "irate", "increase"})
_PRECEDENCE = {
    "or": 1, "and": 2, "unless": 2,
    "==": 3, "!=": 3, "<=": 3, "<": 3, ">=": 3, ">": 3,
    "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "atan2": 5, "^": 6,
}
_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
    | (?P<duration>(?:\d+(?:ms|[smhdwy]))+)(?![\w.])
    | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<op>==|!=|=~|!~|>=|<=|[-+*/%^<>=@])
    | (?P<punct>[(){}\[\],:])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "r": "\r"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    text: str
    offset: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise PromQLSyntaxError(f"unexpected {text[position]!r} at offset {position}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    return tokens


def unquote(literal: str) -> str:
    if literal.startswith("`"):
        return literal[1:-1]
    body, out, index = literal[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            out.append(_ESCAPES.get(body[index + 1], body[index + 1]))
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


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
    value: Fraction


@dataclass(frozen=True, slots=True)
class Str:
    value: str


@dataclass(frozen=True, slots=True)
class VectorSel:
    selector: Selector
    range: str | None = None  # "5m" for a range selector
    offset: str | None = None


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


Node = Num | Str | VectorSel | Call | Aggregate | Binary | Unary | Subquery


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self, ahead: int = 0) -> Token | None:
        position = self.index + ahead
        return self.tokens[position] if position < len(self.tokens) else None

    def take(self, text: str | None = None, kind: str | None = None) -> Token:
        token = self.peek()
        if token is None:
            raise PromQLSyntaxError(f"unexpected end of query, wanted {text or kind}")
        if (text is not None and token.text != text) or (kind is not None and token.kind != kind):
            raise PromQLSyntaxError(
                f"unexpected {token.text!r} at offset {token.offset}, wanted {text or kind}"
            )
        self.index += 1
        return token

    def at(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text

    def parse(self) -> Node:
        node = self.expression(0)
        if self.peek() is not None:
            token = self.tokens[self.index]
            raise PromQLSyntaxError(f"unexpected {token.text!r} at offset {token.offset}")
        return node

    def expression(self, min_precedence: int) -> Node:
        left = self.unary()
        while True:
            token = self.peek()
            if token is None or token.text not in _PRECEDENCE:
                return left
            precedence = _PRECEDENCE[token.text]
            if precedence < min_precedence:
                return left
            self.index += 1
            modifiers = self.binary_modifiers()
            right_min = precedence if token.text == "^" else precedence + 1
            left = Binary(token.text, left, self.expression(right_min), modifiers)

    def binary_modifiers(self) -> tuple[str, ...]:
        modifiers: list[str] = []
        while (token := self.peek()) is not None and token.text in {
            "bool", "on", "ignoring", "group_left", "group_right",
        }:
            self.index += 1
            if token.text == "bool":
                modifiers.append("bool")
                continue
            labels = self.label_list() if self.at("(") else ()
            modifiers.append(f"{token.text}({','.join(labels)})")
        return tuple(modifiers)

    def label_list(self) -> tuple[str, ...]:
        self.take("(")
        labels: list[str] = []
        while not self.at(")"):
            labels.append(self.take(kind="ident").text)
            if not self.at(")"):
                self.take(",")
        self.take(")")
        return tuple(labels)

    def unary(self) -> Node:
        token = self.peek()
        if token is not None and token.text in {"-", "+"}:
            self.index += 1
            # Unary minus binds looser than ^ but tighter than * (as in Prometheus).
            return Unary(token.text, self.expression(_PRECEDENCE["^"]))
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            if self.at("["):
                self.take("[")
                window = self.take(kind="duration").text
                if self.at(":"):
                    self.take(":")
                    step = self.take(kind="duration").text if not self.at("]") else None
                    self.take("]")
                    node = Subquery(node, window, step)
                    continue
                self.take("]")
                if not isinstance(node, VectorSel) or node.range is not None:
                    raise PromQLSyntaxError("a range [..] must follow a vector selector")
                node = VectorSel(node.selector, window, node.offset)
            elif self.at("offset"):
                self.take("offset")
                sign = "-" if self.at("-") else ""
                if sign:
                    self.take("-")
                amount = sign + self.take(kind="duration").text
                if isinstance(node, VectorSel):
                    node = VectorSel(node.selector, node.range, amount)
                elif isinstance(node, Subquery):
                    node = Subquery(node.expr, node.range, node.step, amount)
                else:
                    raise PromQLSyntaxError("offset must follow a selector or subquery")
            elif self.at("@"):
                raise PromQLSyntaxError("the @ modifier is not supported here")
            else:
                return node

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            text = token.text
            value = Fraction(int(text, 16)) if text.lower().startswith("0x") else Fraction(text)
            return Num(value)
        if token.kind == "duration" and token.text.isdigit():  # pragma: no cover - lexer order
            return Num(Fraction(token.text))
        if token.kind == "string":
            return Str(unquote(token.text))
        if token.text == "(":
            inner = self.expression(0)
            self.take(")")
            return inner
        if token.text == "{":
            self.index -= 1
            return VectorSel(Selector(None, self.matchers()))
        if token.kind != "ident":
            raise PromQLSyntaxError(f"unexpected {token.text!r} at offset {token.offset}")
        if token.text in {"Inf", "NaN", "inf", "nan"}:
            raise Unsupported(f"{token.text} literal")
        if token.text in AGGREGATIONS and (self.at("(") or self.at("by") or self.at("without")):
            return self.aggregation(token.text)
        if self.at("("):
            return Call(token.text, self.arguments())
        matchers = self.matchers() if self.at("{") else ()
        return VectorSel(Selector(token.text, matchers))

    def arguments(self) -> tuple[Node, ...]:
        self.take("(")
        args: list[Node] = []
        while not self.at(")"):
            args.append(self.expression(0))
            if not self.at(")"):
                self.take(",")
        self.take(")")
        return tuple(args)

    def aggregation(self, op: str) -> Aggregate:
        grouping: tuple[str, ...] = ()
        without = False
        if self.at("by") or self.at("without"):
            without = self.take().text == "without"
            grouping = self.label_list()
        args = self.arguments()
        if self.at("by") or self.at("without"):
            without = self.take().text == "without"
            grouping = self.label_list()
        if not args:
            raise PromQLSyntaxError(f"{op}() needs an argument")
        param, expr = (args[0], args[1]) if len(args) == 2 else (None, args[0])
        return Aggregate(op, expr, param, grouping, without)

    def matchers(self) -> tuple[Matcher, ...]:
        self.take("{")
        found: list[Matcher] = []
        while not self.at("}"):
            name = self.take(kind="ident").text
            op = self.take(kind="op").text
            if op not in {"=", "!=", "=~", "!~"}:
                raise PromQLSyntaxError(f"{op!r} is not a label matcher operator")
            value = unquote(self.take(kind="string").text)
            if op in {"=~", "!~"}:
                try:
                    re.compile(value)
                except re.error as exc:
                    raise PromQLSyntaxError(f"bad regular expression {value!r}: {exc}") from None
            found.append(Matcher(name, op, value))
            if not self.at("}"):
                self.take(",")
        self.take("}")
        return tuple(found)


def fill_window(query: str, window: str = "5m") -> str:
    """Replace Sloth's ``{{.window}}`` template variable."""
    return WINDOW_TEMPLATE.sub(window, query)


def parse(query: str) -> Node:
    """Parse a PromQL expression (``{{.window}}`` is read as 5m)."""
    return _Parser(fill_window(query)).parse()


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """Parse bare matchers such as ``job="api",route!="/healthz"`` (braces optional)."""
    body = text.strip()
    if not body:
        return ()
    if not body.startswith("{"):
        body = "{" + body + "}"
    parser = _Parser(body)
    found = parser.matchers()
    if parser.peek() is not None:
        raise PromQLSyntaxError("unexpected text after the label matchers")
    return found


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
        if not isinstance(arg, VectorSel) or arg.range is None or arg.offset is not None:
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

