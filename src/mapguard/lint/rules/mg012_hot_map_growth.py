"""## What it does
Fires only on evidence, with `mapguard lint --profile allocs.pb.gz` (an allocs or heap
profile): inserts whose table growth holds at least the hot share of the profile's allocated
bytes (1 % by default, `--hot-share`), into a map made in the same function without a size
hint (or with a smaller one). It reports the `make` (or literal) where the hint goes, with the
measured bytes and the size the map actually reached, read from the sizes of the growth
allocations in the profile: "grows to 225–448 entries (512 slots) per map".

## Why is this bad?
A map made without a size hint starts small and grows by doubling: every step allocates a
table twice as large and moves every entry into it, and the old tables are garbage. A map
filled in a traversal, a recursion or a loop over a data structure of unknown size ends up
just as large on every call, but nothing in the code says how large, so no syntax rule can
size it (MG002 handles the loops whose length the code shows). The profile knows: the largest
table allocated for the map, and for maps above 1024 slots how many tables it ended with.

## Example
```go
func (g *graph) reachable(from int) int {
    seen := make(map[int]bool)
    for stack := []int{from}; len(stack) > 0; {
        n := stack[len(stack)-1]
        stack = stack[:len(stack)-1]
        if !seen[n] {
            seen[n] = true
            stack = append(stack, g.edges[n]...)
        }
    }
    return len(seen)
}
```
With a profile in which the insert allocates 40 % of all bytes, growing the map to 512 slots.

## Use instead
```go
seen := make(map[int]bool, 448) // the size the profile shows it reaches
```
Or, better when the size follows the input, a hint computed from it (`len(g.edges)`); and
when the map is made per call, keeping one between calls (a field or a `sync.Pool`, cleared)
saves the growth of every call after the first.

## When it is a false alarm
When the profile is not representative: the hint then reserves memory that most calls do not
use (a hint larger than needed costs the unused slots on every call). The estimate follows
Go's map layouts (Swiss tables since Go 1.24, buckets before) from the key and value sizes the
package shows; when they are unknown (generic code, types of other packages) the slot size is
inferred from the series of table sizes, and when that is ambiguous the finding gives the
largest table in bytes instead.
The rule stays silent for maps it cannot trace to their creation in the same function (a
parameter, a field filled elsewhere), for a creation that already has a hint as large as the
profile's, and where another rule reports the creation (MG002, MG001: their finding carries
the measured bytes).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from tree_sitter import Node

from mapguard.lint.rule import Pass, Rule, Severity
from mapguard.lint.syntax import (
    Use,
    call_arguments,
    classify_use,
    is_map_creation,
    normalized,
    occurrences,
)
from mapguard.source.mapwrites import MapWrite, map_writes
from mapguard.source.package import GoFile
from mapguard.source.typeinfo import LocalDecl, enclosing_declaration, unparen
from mapguard.source.typesize import has_pointers, size_of

if TYPE_CHECKING:
    # Only a run with a profile reports here: a plain lint does not import the evidence
    # joiner (a tenth of mapguard's own start-up), see `_report`.
    from mapguard.evidence.tablesize import Reached
    from mapguard.lint.measured import LineEvidence, ProfileEvidence


def run(pass_: Pass) -> None:
    evidence = pass_.evidence
    if evidence is None or not evidence.allocation:
        return
    for go_file in pass_.package.files:
        if not pass_.owns(go_file):
            continue
        lines = evidence.lines.get(go_file.path.resolve()) or {}
        hot = [line for line, e in lines.items() if evidence.hot(e.op("grow"))]
        creations: dict[int, tuple[Node, LocalDecl, set[int]]] = {}
        for line in sorted(hot):
            for write in _inserts_on(pass_, go_file, line):
                found = _creation_of(pass_, write)
                if found is None:
                    continue
                creation, variable = found
                entry = creations.setdefault(creation.start_byte, (creation, variable, set()))
                entry[2].add(line)
        for creation, variable, _hot_lines in creations.values():
            insert_lines = _insert_lines(pass_, go_file, variable)
            grown = sum(lines[n].op("grow") for n in insert_lines if n in lines)
            if evidence.hot(grown):
                _report(pass_, go_file, creation, insert_lines, lines, grown, evidence)


def _inserts_on(pass_: Pass, go_file: GoFile, line: int) -> list[MapWrite]:
    span = go_file.line_span(line)
    node = go_file.node_at(*span) if span is not None else None
    if node is None:
        return []
    return [w for w in map_writes(pass_.package, pass_.info, [(go_file, node)])
            if w.kind in ("assign", "update") and w.statement.start_point.row == line - 1]


def _creation_of(pass_: Pass, write: MapWrite) -> tuple[Node, LocalDecl] | None:
    """The creation of the local map a write inserts into, when the function makes it in one
    place: `m := make(...)`, `var m = map...{}`, or `var m map[K]V` and one `m = make(...)`."""
    target = unparen(write.target)
    if target.type != "identifier":
        return None
    variable = pass_.info.resolve(target, write.file)
    if not isinstance(variable, LocalDecl) or variable.kind != "var":
        return None
    go_file = write.file
    creations: list[Node] = []
    if variable.value is not None:
        if variable.value_count != 1 or not is_map_creation(variable.value, go_file, pass_.info):
            return None
        creations.append(unparen(variable.value))
    function = enclosing_declaration(variable.ident)
    if function is None:
        return None
    for use in occurrences(function, go_file, variable.name):
        if use == variable.ident or pass_.info.resolve(use, go_file) is not variable:
            continue
        if classify_use(use, go_file, pass_.info) is not Use.ASSIGNED:
            continue
        value = _assigned_value(use)
        if value is None or not is_map_creation(value, go_file, pass_.info):
            return None  # assigned something else too: which map grows is not clear
        creations.append(unparen(value))
    return (creations[0], variable) if len(creations) == 1 else None


def _assigned_value(target: Node) -> Node | None:
    holder = target.parent
    statement = holder.parent if holder is not None else None
    if statement is None or statement.type != "assignment_statement":
        return None
    left = statement.child_by_field_name("left")
    right = statement.child_by_field_name("right")
    targets = left.named_children if left is not None else []
    values = right.named_children if right is not None else []
    if len(targets) != len(values) or target not in targets:
        return None
    return values[targets.index(target)]


def _insert_lines(pass_: Pass, go_file: GoFile, variable: LocalDecl) -> list[int]:
    function = enclosing_declaration(variable.ident)
    if function is None:
        return []
    lines = {w.statement.start_point.row + 1
             for w in map_writes(pass_.package, pass_.info, [(go_file, function)])
             if w.kind in ("assign", "update") and unparen(w.target).type == "identifier"
             and pass_.info.resolve(unparen(w.target), go_file) is variable}
    return sorted(lines)


def _report(pass_: Pass, go_file: GoFile, creation: Node, insert_lines: list[int],
            lines: dict[int, LineEvidence], grown: int, evidence: ProfileEvidence) -> None:
    from mapguard.evidence.tablesize import Layout, reached
    from mapguard.lint.measured import human

    sizes: dict[int, int] = defaultdict(int)
    for line in insert_lines:
        if line in lines:
            for size, grown_bytes in lines[line].growth_sizes:
                sizes[size] += grown_bytes
    map_type = pass_.info.map_type(pass_.info.type_of(creation, go_file))
    layout = None
    if map_type is not None:
        key = size_of(map_type.key, pass_.info)
        element = size_of(map_type.value, pass_.info)
        pointers = [has_pointers(t, pass_.info) for t in (map_type.key, map_type.value)]
        if key is not None and element is not None and None not in pointers:
            layout = Layout(key, element, any(pointers))
    estimate = reached(sizes, layout)
    hint = _hint(creation)
    if hint is not None and (estimate is None or hint >= estimate.most_entries):
        return  # sized already (or a hint the profile cannot judge)
    where = ", ".join(str(n) for n in insert_lines if n in lines and lines[n].op("grow"))
    text = normalized(go_file, creation)
    head = (f"inserts at line{'s' if ',' in where else ''} {where} grow this map: "
            f"{evidence.amount(grown)} of table growth in the profile")
    if estimate is not None:
        sized = _sized(go_file, creation, estimate.hint())
        advice = (f"{_size_text(estimate)}. {'Raise the hint' if hint is not None else 'Size it'}: "
                  f"{sized} allocates that table once")
    else:
        largest = max(sizes, default=0)
        advice = (f"its largest table is {human(largest, 'bytes')} per map. Give `{text}` a "
                  "size hint of the entries it ends up holding")
    pass_.report(go_file, creation, f"{head}; {advice}")


def _size_text(estimate: Reached) -> str:
    tables = f", {estimate.tables} tables" if estimate.tables > 1 else ""
    unit = "slots" if estimate.layout == "swiss" else "entries of buckets"
    return (f"the map grows to {estimate.fewest_entries:,}–{estimate.most_entries:,} entries "
            f"({estimate.slots:,} {unit}{tables}) per map")


def _sized(go_file: GoFile, creation: Node, hint: int) -> str:
    if creation.type == "call_expression":
        arguments = call_arguments(creation)
        kind = go_file.text(arguments[0]) if arguments else "map[K]V"
    else:
        kind = go_file.text(creation.child_by_field_name("type") or creation)
    return f"make({kind}, {hint})"


def _hint(creation: Node) -> int | None:
    """The size hint of `make(M, n)`: a constant's value; for one computed from the input
    (`len(items)`) a number larger than any estimate (the code knows better); None without."""
    if creation.type != "call_expression":
        return None
    arguments = call_arguments(creation)
    if len(arguments) < 2:
        return None
    hint = unparen(arguments[1])
    if hint.type == "int_literal" and hint.text is not None:
        try:
            return int(hint.text.decode().replace("_", ""), 0)
        except ValueError:
            return None
    return 1 << 62  # computed from the input: trust it


RULE = Rule(
    code="MG012",
    name="hot-map-growth",
    severity=Severity.WARNING,
    summary="with --profile: a map that grows at a site the profile shows hot, sized by it",
    reports_at="the `make(...)` call or map literal that creates the map",
    doc=__doc__ or "",
    run=run,
    in_support_code=False,
    evidence_only=True,
    bodies=(),  # the bodies at hot lines are parsed when asked about
)
