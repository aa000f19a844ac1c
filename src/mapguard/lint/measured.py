"""What a profile says about the lines of the linted code, and findings ranked by it.

`ProfileEvidence` holds, per source line of the work tree, the value a profile charges to it
(`mapguard.lint.profiled` builds it): for allocation profiles every byte allocated with that
line as the first frame of the user's module (map tables, a concatenated key, a `strconv`
call alike) and the map operations among them; for CPU profiles the time spent in the
runtime's map functions on behalf of that line. Only lines of functions whose source matches
the profiled build are joined (`mapguard.evidence.sourcematch`); functions that changed since
the build are listed, never guessed at.

`apply_evidence` gives every finding the value of its site — the reported lines, and for a
finding at a map creation the growth on the lines that insert into that map — ranks the
findings by it, and demotes speed advice (MG001, MG002, MG010) at sites the profile shows
cold: below the hot share (1 % of the profile's total by default). In a CPU profile the cost
of an allocating key (MG010) is building the key, not the map work: there it is all the CPU
of the line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from tree_sitter import Node, Tree

from mapguard.evidence.quantities import human as quantity
from mapguard.evidence.sourcematch import declaration_key
from mapguard.lint.results import LintResult
from mapguard.lint.rule import Finding, Measured
from mapguard.source.parser import parse_go
from mapguard.source.typeinfo import walk

DEFAULT_HOT_SHARE = 0.01
# Speed advice: demoted where the profile shows its site cold.
SPEED_RULES = frozenset({"MG001", "MG002", "MG010"})
# Rules whose advice saves the growth of the map created where they report (a size hint,
# clear): the growth on the lines that insert into that map is part of their cost.
GROWTH_RULES = frozenset({"MG001", "MG002", "MG012"})
# Rules about building a key: their cost in a CPU profile is the line's, not its map work's.
KEY_RULES = frozenset({"MG010"})
_FUNCTIONS = frozenset({"function_declaration", "method_declaration", "func_literal"})


@dataclass(frozen=True, slots=True)
class LineEvidence:
    value: int  # everything charged to the line (allocation), or map CPU (cpu)
    by_op: tuple[tuple[str, int], ...] = ()  # the map operations among it
    growth_sizes: tuple[tuple[int, int], ...] = ()  # map growth by object size, largest first
    total: int = 0  # everything charged to the line, map work or not

    def op(self, name: str) -> int:
        return sum(value for op, value in self.by_op if op == name)


@dataclass(frozen=True, slots=True)
class ChangedFunction:
    """A function of the profile whose source here does not match the profiled build."""

    function: str
    path: Path | None  # the work-tree file, when found
    value: int
    why: str  # "moved" or "missing"


@dataclass(frozen=True, slots=True)
class ProfileEvidence:
    source: str  # the profile file or URL
    kind: str  # allocs, heap or cpu
    sample_type: str
    unit: str
    total: int
    duration_ns: int
    hot_share: float
    lines: dict[Path, dict[int, LineEvidence]] = field(default_factory=dict)
    changed: tuple[ChangedFunction, ...] = ()
    # Directories with samples in functions that match: findings elsewhere are not judged.
    measured_dirs: frozenset[Path] = frozenset()
    notes: tuple[str, ...] = ()

    @property
    def allocation(self) -> bool:
        return self.kind in ("allocs", "heap")

    def hot(self, value: int) -> bool:
        return self.total > 0 and value >= self.hot_share * self.total

    def line(self, path: Path, line: int) -> LineEvidence | None:
        return self.lines.get(path, {}).get(line)

    def in_directory(self, directory: Path) -> Iterator[tuple[Path, dict[int, LineEvidence]]]:
        return ((path, lines) for path, lines in self.lines.items()
                if path.parent == directory)

    def digest(self, directory: Path) -> str:
        """What the evidence rules can see of this directory, for cache keys: its hot lines."""
        hot = sorted((str(path), line, evidence.by_op, evidence.growth_sizes)
                     for path, lines in self.in_directory(directory)
                     for line, evidence in lines.items() if self.hot(evidence.value))
        if not hot:
            return ""
        text = repr((self.hot_share, self.total, self.kind, hot)).encode()
        return hashlib.blake2b(text, digest_size=16).hexdigest()

    def amount(self, value: int) -> str:
        """`16.0 MiB (4.0% of alloc_space)`, with the rate when the duration is known."""
        share = 100 * value / self.total if self.total else 0.0
        rate = ""
        if self.duration_ns > 0:
            rate = f", {human(int(value * 1e9 / self.duration_ns), self.unit)}/s"
        return f"{human(value, self.unit)} ({share:.1f}% of {self.sample_type}{rate})"

    @property
    def threshold_text(self) -> str:
        return f"{100 * self.hot_share:g}% of {self.sample_type}"


def human(value: int, unit: str) -> str:
    """Lint's figures: one decimal, and the unit named for counts."""
    return quantity(value, unit, digits=1, name_other_units=True)


# --- the join ----------------------------------------------------------------------------


def apply_evidence(result: LintResult, evidence: ProfileEvidence,
                   gated: frozenset[str] = frozenset()) -> LintResult:
    """Every finding with what the profile measured at its site, ranked: the measured ones
    by value (largest first), then those the profile cannot judge, then the demoted ones.
    The `gated` rules (off by default, run because of the profile) count only where the
    profile shows their site hot: where it cannot judge, they are demoted too."""
    files = _FileCache()
    measured = [replace(f, measured=_gate(measure(f, evidence, files), f.rule in gated))
                for f in result.findings]
    return replace(result, findings=tuple(sorted(measured, key=rank_key)), evidence=evidence)


def _gate(measured: Measured, gated: bool) -> Measured:
    if not gated or measured.status == "measured":
        return measured
    return replace(measured, demoted=True,
                   detail=f"{measured.detail}; off by default, counted only where hot")


def rank_key(finding: Finding) -> tuple[int, int, str, int, int, str]:
    measured = finding.measured
    if measured is not None and measured.demoted:
        group, value = 2, measured.value
    elif measured is None or measured.status != "measured":
        group, value = 1, 0
    else:
        group, value = 0, measured.value
    return (group, -value, *finding.sort_key)


def measure(finding: Finding, evidence: ProfileEvidence, files: _FileCache | None = None
            ) -> Measured:
    files = files or _FileCache()
    base = Measured("measured", unit=evidence.unit, sample_type=evidence.sample_type)
    path = finding.path.resolve()  # the evidence names files as the profile resolved them
    changed = _changed_function(finding, path, evidence, files)
    if changed is not None:
        return replace(base, status="changed", detail=(
            f"the profiled build of {changed.function} differs from this source "
            f"({changed.why}): its lines are not joined"))
    if path.parent not in evidence.measured_dirs:
        return replace(base, status="not-profiled",
                       detail="no samples in this package: the profile cannot judge it")
    own = tuple(range(finding.line, finding.end_line + 1))
    growth = growth_of(finding, files) if finding.rule in GROWTH_RULES else ()
    key_cost = finding.rule in KEY_RULES and not evidence.allocation
    value = sum((e.total if key_cost else e.value) for line in own
                if (e := evidence.line(path, line)))
    value += sum(e.op("grow") for line in growth if line not in own
                 and (e := evidence.line(path, line)))
    lines = tuple(sorted({*own, *growth}))
    share = value / evidence.total if evidence.total else 0.0
    rate = value * 1e9 / evidence.duration_ns if evidence.duration_ns > 0 else None
    demoted = finding.rule in SPEED_RULES and not evidence.hot(value)
    detail = evidence.amount(value)
    if demoted:
        detail += f": cold, below {evidence.threshold_text}"
    return replace(base, value=value, share=share, per_second=rate, lines=lines,
                   demoted=demoted, detail=detail)


def growth_of(finding: Finding, files: _FileCache) -> tuple[int, ...]:
    """The lines of the same function that insert into the map created where the finding
    is."""
    parsed = files.get(finding.path)
    if parsed is None:
        return ()
    source, root = parsed
    return tuple(growth_lines(source, root, finding.line, finding.column))


def growth_lines(source: bytes, root: Node, line: int, column: int) -> list[int]:
    """Lines that insert into the map created at (line, column) — `m[k] = v`, `m[k]++`,
    `m[k] op= v` in the function that creates it, its closures included."""
    node = _creation_at(root, line, column)
    target = _assigned_to(node, source) if node is not None else None
    function = _enclosing_function(node) if node is not None else None
    if target is None or function is None:
        return []
    lines: list[int] = []
    for candidate in walk(function):
        if candidate.type not in ("assignment_statement", "inc_statement", "dec_statement"):
            continue
        left = candidate.child_by_field_name("left")
        targets = (left.named_children if left is not None else
                   candidate.named_children[:1])
        for written in targets:
            operand = written.child_by_field_name("operand") if (
                written.type == "index_expression") else None
            if operand is not None and _text(operand, source) == target:
                lines.append(candidate.start_point.row + 1)
    return lines


def _creation_at(root: Node, line: int, column: int) -> Node | None:
    """The first map creation (`make(map...)`, a map literal) at or after the position, on
    the finding's line."""
    row = line - 1
    start = root.descendant_for_point_range((row, max(column - 1, 0)), (row, max(column - 1, 0)))
    statement = start
    while statement is not None and statement.parent is not None and (
        statement.parent.start_point.row == row and statement.parent.type not in _FUNCTIONS
        and statement.parent.type not in ("block", "statement_list", "source_file")
    ):
        statement = statement.parent
    if statement is None:
        return None
    for node in walk(statement):
        if node.start_point.row != row:
            continue
        if node.type == "composite_literal":
            kind = node.child_by_field_name("type")
            if kind is not None and kind.type == "map_type":
                return node
        if node.type == "call_expression":
            function = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            if function is not None and function.text == b"make" and arguments is not None:
                return node
    return None


def _assigned_to(creation: Node, source: bytes) -> str | None:
    """The variable or field the creation is stored in: `m := make(...)`, `s.m = ...`,
    `var m = ...`."""
    holder = creation.parent
    if holder is None or holder.type != "expression_list":
        return None
    statement = holder.parent
    if statement is None or statement.type not in ("assignment_statement",
                                                    "short_var_declaration", "var_spec"):
        return None
    values = holder.named_children
    left = statement.child_by_field_name("left")
    names = (left.named_children if left is not None
             else statement.children_by_field_name("name"))
    if len(names) != len(values):
        return None
    index = next(i for i, value in enumerate(values) if value == creation)
    return _text(names[index], source)


def _enclosing_function(node: Node) -> Node | None:
    current = node.parent
    while current is not None and current.type not in ("function_declaration",
                                                       "method_declaration"):
        current = current.parent
    return current


def _text(node: Node, source: bytes) -> str:
    return "".join(source[node.start_byte:node.end_byte].decode("utf-8", "replace").split())


def _changed_function(finding: Finding, path: Path, evidence: ProfileEvidence,
                      files: _FileCache) -> ChangedFunction | None:
    candidates = [c for c in evidence.changed if c.path == path]
    if not candidates:
        return None
    parsed = files.get(finding.path)
    if parsed is None:
        return None
    source, root = parsed
    name = _declared_name(root, source, finding.line)
    if name is None:
        return None
    return next((c for c in candidates if _declares(c.function, name)), None)


def _declared_name(root: Node, source: bytes, line: int) -> str | None:
    """`F`, `T.M` or `(*T).M` of the top-level function holding the line."""
    for node in root.named_children:
        if node.start_point.row + 1 <= line <= node.end_point.row + 1 and node.type in (
            "function_declaration", "method_declaration"
        ):
            name = node.child_by_field_name("name")
            if name is None:
                return None
            if node.type == "function_declaration":
                return _text(name, source)
            receiver = node.child_by_field_name("receiver")
            kind = receiver.named_children[0].child_by_field_name("type") if (
                receiver is not None and receiver.named_children) else None
            text = _text(kind, source) if kind is not None else ""
            base = text.lstrip("*").split("[", 1)[0]
            return f"(*{base}).{_text(name, source)}" if text.startswith("*") else (
                f"{base}.{_text(name, source)}")
    return None


def _declares(function: str, declared: str) -> bool:
    """Whether a profile's function name (`pkg.(*T).M.func1`, generic `[...]` parts included)
    is the declaration `declared` or a closure inside it."""
    key, _closures = declaration_key(function)
    return key == declared


class _FileCache:
    """Each file with findings read and parsed once."""

    def __init__(self) -> None:
        self._parsed: dict[Path, tuple[bytes, Tree] | None] = {}

    def get(self, path: Path) -> tuple[bytes, Node] | None:
        if path not in self._parsed:
            try:
                source = path.read_bytes()
            except OSError:
                self._parsed[path] = None
            else:
                self._parsed[path] = (source, parse_go(source))
        parsed = self._parsed[path]
        return (parsed[0], parsed[1].root_node) if parsed is not None else None


def demoted(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.measured is not None and f.measured.demoted]
