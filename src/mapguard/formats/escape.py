"""Parse the compiler's escape-analysis diagnostics (docs/go-facts.md, "Compiler and runtime
output").

Two inputs:

* ``go build -gcflags=-m`` / ``-m=2`` text: ``file:line:col: message`` lines under ``# package``
  headers. ``-m=2`` adds explanations — ``X escapes to heap in F:`` followed by indented
  ``flow: A ← B:`` and ``from EXPR (reason) at POS`` lines — ahead of the verdict line.
* ``go build -gcflags=-json=0,file:///DIR``: one file per source file, a header line then
  LSP-style diagnostics. It reports only what reaches the heap (no "does not escape", no
  "moved to heap": a variable that moves shows as an explanation without a verdict entry).

For every allocation the compiler judged, an `EscapeFact`: where, what, the verdict (stack /
heap / moved to heap), whether it is a map allocation site (``make(map…)``, a map literal, a map
variable moved to the heap) and, when the input has them, the flows that explain it. Copies that
inlining made elsewhere are folded into their origin when it can be found. Inlining and
bounds-check chatter is skipped. Pure: text in, records out.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from mapguard.errors import InputError


class Verdict(StrEnum):
    STACK = "stack"
    HEAP = "heap"
    MOVED = "moved-to-heap"


class AllocKind(StrEnum):
    MAKE_MAP = "make-map"
    MAP_LITERAL = "map-literal"
    MAP_VARIABLE = "map-variable"
    VARIABLE = "variable"  # moved to heap, not known to hold a map
    OTHER = "other"  # new(T), &T{}, slices, closures, interface conversions...

    @property
    def is_map(self) -> bool:
        return self in (AllocKind.MAKE_MAP, AllocKind.MAP_LITERAL, AllocKind.MAP_VARIABLE)


@dataclass(frozen=True, slots=True, order=True)
class Position:
    file: str  # as the compiler printed it: relative to the build's directory, or absolute
    line: int
    column: int  # 1-based, in bytes (a tab is one column)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class FlowStep:
    """``from EXPR (reason) at POS``: one step of a flow."""

    what: str
    why: str  # "assign", "return", "captured by a closure", "address-of", "call parameter"...
    at: Position | None


@dataclass(frozen=True, slots=True)
class Flow:
    """``flow: TO ← FROM:`` with the steps that make it."""

    to: str
    source: str
    steps: tuple[FlowStep, ...] = ()


@dataclass(frozen=True, slots=True)
class InlinedCopy:
    """The same allocation, compiled again where its function was inlined."""

    position: Position  # the call site
    verdict: Verdict
    function: str | None  # the caller, when known


@dataclass(frozen=True, slots=True)
class EscapeFact:
    position: Position
    expr: str  # as printed: "make(map[string]int, 8)", "map[string]int{...}", "m"
    verdict: Verdict
    kind: AllocKind
    function: str | None = None  # as the compiler names it: "returned", "(*T).reset"
    package: str | None = None
    flows: tuple[Flow, ...] = ()
    inlined_copies: tuple[InlinedCopy, ...] = ()
    # Set when this fact is itself an inlined copy whose origin is not in the input (a standard
    # library function, or output without that package): the callee's name, or its position.
    inlined_from: str | None = None
    # A map on the stack holds its header and first 8 slots there; inserts past 8 entries (or
    # a size hint above 8) put its tables on the heap. Set from the source, not the compiler.
    grows_on_heap: bool = False

    @property
    def why(self) -> str | None:
        """The flow that finally lets the value out, in one line (None without -m=2 flows)."""
        return explain(self, str)


def explain(fact: EscapeFact, where: Callable[[Position], str]) -> str | None:
    """``TO ← FROM: what (reason) at POS; ...`` for the last flow, spills left out."""
    if not fact.flows:
        return None
    last = fact.flows[-1]
    steps = [step for step in last.steps if step.why != "spill"] or list(last.steps)
    said = "; ".join(
        f"{step.what} ({step.why})" + (f" at {where(step.at)}" if step.at else "")
        for step in steps
    )
    return f"{last.to} ← {last.source}" + (f": {said}" if said else "")


@dataclass(frozen=True, slots=True)
class ParamLeak:
    """``leaking param: m`` and friends: a parameter's value outlives the call."""

    position: Position
    param: str
    detail: str  # the rest of the message, e.g. "to result ~r0 level=0", "content"
    package: str | None = None


@dataclass(frozen=True, slots=True)
class EscapeReport:
    facts: tuple[EscapeFact, ...]
    leaks: tuple[ParamLeak, ...]
    packages: tuple[str, ...]
    # Diagnostics lines this parser does not know (compile errors among them), first few only.
    unrecognized: tuple[str, ...]

    def map_sites(self) -> tuple[EscapeFact, ...]:
        return tuple(fact for fact in self.facts if fact.kind.is_map)


_DIAGNOSTIC = re.compile(r"^(.+?):(\d+):(\d+): (.*)$")
_POSITION = re.compile(r"^(.+?):(\d+):(\d+)$")
_FLOW = re.compile(r"^flow: (.*?) ← (.*):$")
_FROM = re.compile(r"^from (.*) \(([^()]*)\)(?: at (.+))?$")
_MAKE_MAP = re.compile(r"^make\((?:go\.shape\.)?map\[")
_MAP_LITERAL = re.compile(r"^(?:go\.shape\.)?map\[.*\}$")
_IDENTIFIER = re.compile(r"^[\w~.]+$")
_STORAGE = re.compile(r"^&\{storage for (.*)\}$")
# Other -m/-m=2 chatter: inlining, devirtualization, loop and bounds-check reports.
_SKIPPED = (
    "can inline ", "cannot inline ", "inlining call to ", "devirtualizing ",
    "partially devirtualizing ", "found loop", "Rewrote", "mark escaped content", "parameter ",
    "Proved ", "Disproved ", "Found IsInBounds", "Found IsSliceInBounds",
    "ignoring self-assignment", "assuming ",
)
_SKIPPED_PARTS = (
    " capturing by ", " ignoring self-assignment in ", "bounds check elided", "zero-copy ",
)
# Wrappers the compiler generates (method values, promoted methods) have no source position.
_GENERATED = "<autogenerated>:"
_UNRECOGNIZED_KEPT = 20


def classify(expr: str) -> AllocKind:
    if _MAKE_MAP.match(expr):
        return AllocKind.MAKE_MAP
    if _MAP_LITERAL.match(expr):
        return AllocKind.MAP_LITERAL
    return AllocKind.OTHER


def _position(text: str) -> Position | None:
    match = _POSITION.match(text.strip())
    if match is None:
        return None
    return Position(match.group(1), int(match.group(2)), int(match.group(3)))


@dataclass(slots=True)
class _Explanation:
    function: str | None
    flows: list[Flow] = field(default_factory=list)


@dataclass(slots=True)
class _Collector:
    """What both input forms reduce to, before facts are assembled."""

    # (position, expr, verdict, occurrence) -> package. An inlined function that allocates the
    # same expression twice leaves two identical lines at the call site: the occurrence (how
    # many lines for that position and expression came before, in one package's output) keeps
    # them apart; the same line from another compilation of the file is one fact.
    verdicts: dict[tuple[Position, str, Verdict, int], str | None] = field(default_factory=dict)
    occurrences: dict[tuple[Position, str, str | None], int] = field(default_factory=dict)
    explanations: dict[tuple[Position, str], _Explanation] = field(default_factory=dict)
    leaks: dict[tuple[Position, str, str], ParamLeak] = field(default_factory=dict)
    # Callees inlined at a call site, outermost first (nested inlining shares the position).
    inline_calls: dict[Position, list[str]] = field(default_factory=dict)
    # (package, function name) -> its declaration, from "can inline" / "cannot inline".
    declarations: dict[tuple[str | None, str], Position] = field(default_factory=dict)
    origins: dict[tuple[Position, str], Position] = field(default_factory=dict)  # JSON inlineLoc
    # -m=2 names every function ("cannot inline" too), so declarations bound function bodies.
    all_declared: bool = False
    packages: list[str] = field(default_factory=list)
    unrecognized: list[str] = field(default_factory=list)

    def verdict(self, position: Position, expr: str, verdict: Verdict, package: str | None) -> None:
        occurrence = self.occurrences.get((position, expr, package), 0)
        self.occurrences[(position, expr, package)] = occurrence + 1
        self.verdicts.setdefault((position, expr, verdict, occurrence), package)

    def unknown(self, line: str) -> None:
        if len(self.unrecognized) < _UNRECOGNIZED_KEPT:
            self.unrecognized.append(line)


def parse_escape_text(text: str, source: str = "<build output>") -> EscapeReport:
    """Parse ``go build -gcflags=-m`` (or ``-m=2``) output."""
    collector = _Collector()
    package: str | None = None
    explanation: _Explanation | None = None
    flow: list[FlowStep] | None = None
    saw_diagnostic = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith("# "):
            package = line[2:].strip()
            collector.packages.append(package)
            explanation = flow = None
            continue
        match = _DIAGNOSTIC.match(line)
        if match is None:
            if line.strip() and not line.startswith(_GENERATED):
                collector.unknown(line)
            continue
        saw_diagnostic = True
        position = Position(match.group(1), int(match.group(2)), int(match.group(3)))
        message = match.group(4)
        if message.startswith("  ") and explanation is not None:
            flow = _explanation_line(message.strip(), explanation, flow)
            continue
        explanation = flow = None
        if message.endswith(":") and " escapes to heap in " in message:
            expr, _, function = message[:-1].rpartition(" escapes to heap in ")
            explanation = _Explanation(function)
            collector.explanations[(position, expr)] = explanation
        elif message.startswith("parameter ") and message.endswith(":"):
            explanation = _Explanation(None)  # a leak's explanation: read, not kept
        else:
            _message(collector, position, message, package, line)
    if not saw_diagnostic:
        raise InputError(
            source,
            "no compiler diagnostics found",
            expected="output of `go build -gcflags=-m` or `-gcflags=-m=2` (file:line:col: ...)",
        )
    return _assemble(collector)


def _explanation_line(
    text: str, explanation: _Explanation, steps: list[FlowStep] | None
) -> list[FlowStep] | None:
    flow = _FLOW.match(text)
    if flow is not None:
        explanation.flows.append(Flow(flow.group(1), flow.group(2)))
        return []
    step = _FROM.match(text)
    if step is not None and steps is not None and explanation.flows:
        steps.append(FlowStep(step.group(1), step.group(2), _position(step.group(3) or "")))
        last = explanation.flows[-1]
        explanation.flows[-1] = replace(last, steps=tuple(steps))
    return steps


def _message(
    collector: _Collector, position: Position, message: str, package: str | None, line: str
) -> None:
    if message.endswith(" does not escape"):
        collector.verdict(position, message[: -len(" does not escape")], Verdict.STACK, package)
    elif message.endswith(" escapes to heap"):
        collector.verdict(position, message[: -len(" escapes to heap")], Verdict.HEAP, package)
    elif message.startswith("moved to heap: "):
        collector.verdict(position, message[len("moved to heap: ") :], Verdict.MOVED, package)
    elif message.startswith("leaking "):
        _leak(collector, position, message, package)
    elif message.startswith("inlining call to "):
        collector.inline_calls.setdefault(position, []).append(message[len("inlining call to ") :])
    elif message.startswith(("can inline ", "cannot inline ")):
        name = message.split(" ", 2)[2].split(" ", 1)[0].rstrip(":")
        collector.declarations.setdefault((package, name), position)
        collector.all_declared |= message.startswith("cannot inline ")
    elif not message.startswith(_SKIPPED) and not any(part in message for part in _SKIPPED_PARTS):
        collector.unknown(line)


def _leak(collector: _Collector, position: Position, message: str, package: str | None) -> None:
    # "leaking param: m", "leaking param: m to result ~r0 level=0", "leaking param content: m",
    # "leaking closure reference m"
    body = message[len("leaking ") :]
    if body.startswith("param content: "):
        param, detail = body[len("param content: ") :], "content"
    elif body.startswith("param: "):
        param, _, detail = body[len("param: ") :].partition(" ")
    else:
        param, detail = body.rsplit(" ", 1)[-1], body.rsplit(" ", 1)[0]
    key = (position, param, detail)
    collector.leaks.setdefault(key, ParamLeak(position, param, detail, package))


def parse_escape_json(documents: Iterable[tuple[str, str]]) -> EscapeReport:
    """Parse ``-gcflags=-json=0,file:///DIR`` output: (name, text) of each file in DIR."""
    collector = _Collector()
    count = 0
    for name, text in documents:
        count += 1
        _json_document(collector, name, text)
    if count == 0:
        raise InputError("<json>", "no compiler JSON files", expected="files written by -json=0")
    return _assemble(collector)


def _json_document(collector: _Collector, name: str, text: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError as exc:
        raise InputError(name, f"not compiler JSON output: {exc}", where="line 1") from exc
    if not isinstance(header, dict) or "file" not in header or "version" not in header:
        raise InputError(name, "not compiler JSON output", where="line 1",
                         expected='a header like {"version":0,"package":...,"file":...}')
    file = str(header["file"])
    package = str(header.get("package")) if header.get("package") else None
    if package and package not in collector.packages:
        collector.packages.append(package)
    heap_at: set[tuple[Position, Position | None]] = set()
    explained: list[tuple[Position, str, Position | None]] = []
    for number, line in enumerate(lines[1:], 2):
        try:
            entry = json.loads(line)
            start = entry["range"]["start"]
            position = Position(file, int(start["line"]), int(start["character"]))
            code, message = str(entry.get("code", "")), str(entry.get("message", ""))
            related = entry.get("relatedInformation") or []
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(name, f"not a compiler diagnostic: {exc}", where=f"line {number}",
                             expected="an LSP diagnostic with range.start") from exc
        origin, flows = _json_related(related)
        if code in ("escape", "escapes") and message == "":
            heap_at.add((position, origin))
        elif code in ("escape", "escapes") and message.endswith(" escapes to heap"):
            expr = message[: -len(" escapes to heap")]
            collector.explanations[(position, expr)] = _Explanation(None, flows)
            explained.append((position, expr, origin))
        elif code == "leak":
            _leak(collector, position, "leaking param: " + message.removeprefix("parameter "),
                  package)
    # An allocation that escapes has a verdict entry (empty message) at its position; a variable
    # moved to the heap has only its explanation.
    for position, expr, origin in explained:
        kind = Verdict.HEAP if (position, origin) in heap_at else Verdict.MOVED
        collector.verdict(position, expr, kind, package)
        if origin is not None:
            collector.origins[(position, expr)] = origin


def _json_related(related: Sequence[dict[str, object]]) -> tuple[Position | None, list[Flow]]:
    """The diagnostic's own inlined-from position (an inlineLoc before any flow) and its flows."""
    origin: Position | None = None
    flows: list[Flow] = []
    steps: list[FlowStep] = []
    for item in related:
        text = str(item.get("message", ""))
        location = item.get("location")
        at: Position | None = None
        if isinstance(location, dict):
            uri = str(location.get("uri", "")).removeprefix("file://")
            start = location.get("range", {}).get("start", {})
            at = Position(uri, int(start.get("line", 0)), int(start.get("character", 0)))
        if text == "inlineLoc":
            if not flows and origin is None:
                origin = at
            continue
        body = text.removeprefix("escflow:").strip()
        flow = _FLOW.match(body)
        if flow is not None:
            flows.append(Flow(flow.group(1), flow.group(2)))
            steps = []
            continue
        step = _FROM.match(body)
        if step is not None and flows:
            steps.append(FlowStep(step.group(1), step.group(2), at))
            flows[-1] = replace(flows[-1], steps=tuple(steps))
    return origin, flows


def _assemble(collector: _Collector) -> EscapeReport:
    facts = [_fact(collector, key, package) for key, package in collector.verdicts.items()]
    if collector.all_declared:
        facts = _attribute_functions(facts, collector)
    facts = _mark_map_variables(facts, collector)
    facts = _fold_inlined(facts, collector)
    facts.sort(key=lambda fact: (fact.position, fact.expr))
    leaks = sorted(collector.leaks.values(), key=lambda leak: (leak.position, leak.param))
    return EscapeReport(tuple(facts), tuple(leaks), tuple(dict.fromkeys(collector.packages)),
                        tuple(collector.unrecognized))


def _fact(
    collector: _Collector, key: tuple[Position, str, Verdict, int], package: str | None
) -> EscapeFact:
    position, expr, verdict, _ = key
    explanation = collector.explanations.get((position, expr))
    if verdict is Verdict.STACK and explanation is not None:
        # The explanation belongs to a heap copy at the same call site.
        explanation = _Explanation(explanation.function)
    kind = AllocKind.VARIABLE if verdict is Verdict.MOVED else classify(expr)
    return EscapeFact(
        position=position,
        expr=expr,
        verdict=verdict,
        kind=kind,
        function=explanation.function if explanation else None,
        package=package,
        flows=tuple(explanation.flows) if explanation else (),
    )


def _attribute_functions(facts: list[EscapeFact], collector: _Collector) -> list[EscapeFact]:
    """Name the enclosing function of facts that have none: the last function declared above
    them in their file (closures, `F.func1`, count as their enclosing function)."""
    starts: dict[str, list[tuple[int, str]]] = {}
    for (_, name), position in collector.declarations.items():
        if ".func" not in name:
            starts.setdefault(position.file, []).append((position.line, name))
    for lines in starts.values():
        lines.sort()
    named = []
    for fact in facts:
        candidates = starts.get(fact.position.file, [])
        index = bisect.bisect_right(candidates, (fact.position.line, "\U0010ffff")) - 1
        if fact.function is None and index >= 0:
            fact = replace(fact, function=candidates[index][1])
        named.append(fact)
    return named


def _mark_map_variables(facts: list[EscapeFact], collector: _Collector) -> list[EscapeFact]:
    """A moved variable holds a map when a map allocation flows into it (-m=2 / JSON flows),
    or when a map is allocated on its own declaration line (`m := make(map…)`)."""
    fed: set[tuple[str, str | None, str]] = set()  # (file, function, variable)
    map_lines: set[tuple[str, int]] = set()
    for fact in facts:
        if not fact.kind.is_map:
            continue
        map_lines.add((fact.position.file, fact.position.line))
        if fact.function is None:
            continue  # JSON names no functions: a variable's name alone says too little
        for flow in fact.flows:
            storage = _STORAGE.match(flow.source)
            if storage is not None and classify(storage.group(1)).is_map:
                fed.add((fact.position.file, fact.function, flow.to))
    marked = []
    for fact in facts:
        if fact.kind is AllocKind.VARIABLE and _IDENTIFIER.match(fact.expr) and (
            (fact.position.file, fact.function, fact.expr) in fed
            or (fact.position.file, fact.position.line) in map_lines
        ):
            fact = replace(fact, kind=AllocKind.MAP_VARIABLE)
        marked.append(fact)
    return marked


def _fold_inlined(facts: list[EscapeFact], collector: _Collector) -> list[EscapeFact]:
    """Attach each inlined copy to the fact of its origin; keep unmatched copies as facts.

    JSON output names each copy's origin. Text output only places copies at the call site: the
    copies of one expression there are matched, in the order the compiler printed them, with
    that expression's allocations in the inlined callee's body, in source order (a callee that
    allocates `make(T)` twice leaves two copies)."""
    by_position: dict[tuple[Position, str], int] = {}
    for index, fact in enumerate(facts):
        by_position.setdefault((fact.position, fact.expr), index)
    copies: dict[int, list[InlinedCopy]] = {}
    kept: list[int] = []
    at_call: dict[tuple[Position, str], list[int]] = {}

    def attach(index: int, target: int | None, label: str) -> None:
        fact = facts[index]
        if target is None or target == index:
            facts[index] = replace(fact, inlined_from=label)
            kept.append(index)
        else:
            copies.setdefault(target, []).append(
                InlinedCopy(fact.position, fact.verdict, fact.function))

    for index, fact in enumerate(facts):
        origin = collector.origins.get((fact.position, fact.expr))
        if origin is not None:
            attach(index, by_position.get((origin, fact.expr)), str(origin))
        elif fact.position in collector.inline_calls:
            at_call.setdefault((fact.position, fact.expr), []).append(index)
        else:
            kept.append(index)
    for (position, expr), indices in at_call.items():
        callees = collector.inline_calls[position]
        origins = _origins_in_callees(facts, expr, callees, facts[indices[0]].package, collector)
        for place, index in enumerate(indices):
            attach(index, origins[place] if place < len(origins) else None, callees[0])
    result = []
    for index in sorted(kept):
        fact = facts[index]
        if index in copies:
            fact = replace(fact, inlined_copies=tuple(sorted(copies[index], key=_copy_key)))
        result.append(fact)
    return result


def _copy_key(copy: InlinedCopy) -> Position:
    return copy.position


def _origins_in_callees(facts: list[EscapeFact], expr: str, callees: list[str],
                        package: str | None, collector: _Collector) -> list[int]:
    """The allocations of `expr` in the bodies of the inlined callees (outermost first; a
    callee's body ends where the next function of its file is declared), in source order."""
    starts: dict[str, list[int]] = {}
    for position in collector.declarations.values():
        starts.setdefault(position.file, []).append(position.line)
    found: list[int] = []
    for callee in callees:
        declaration = _declaration(callee, package, collector)
        if declaration is None:
            continue
        later = [line for line in starts.get(declaration.file, []) if line > declaration.line]
        end = min(later, default=1 << 31)
        found += sorted(
            (index for index, fact in enumerate(facts)
             if fact.expr == expr and fact.position.file == declaration.file
             and declaration.line <= fact.position.line < end
             and fact.position not in collector.inline_calls),
            key=lambda index: facts[index].position)
    return found


def _declaration(callee: str, package: str | None, collector: _Collector) -> Position | None:
    found = collector.declarations.get((package, callee))
    if found is not None:
        return found
    # "sub.New" or "sub.(*T).Reset": another package, named by its last path element.
    qualifier, _, name = callee.partition(".")
    if not name or "(" in qualifier or "[" in qualifier:
        return None
    for (other, function), position in collector.declarations.items():
        if function == name and other is not None and other.rsplit("/", 1)[-1] == qualifier:
            return position
    return None
