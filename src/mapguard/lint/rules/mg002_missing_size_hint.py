"""## What it does
Finds a map created without a size (`make(map[K]V)` or an empty literal) and then filled by a
loop that inserts once per pass, where the number of passes is known before the loop: the
length of a slice, array, map or string named by a plain expression (`x`, `s.items`,
`rows[0]`), a counted loop up to a plain value `n` (`for i := 0; i < n; i++`, `for i := range
n`), or the element count of a literal the loop ranges over. It suggests `make(map[K]V,
len(x))` (or `n`, or the count). When the loop only copies another map of exactly the same type
(`dst[k] = v` over `range src`), it suggests `maps.Clone(src)` (Go 1.21).

The automatic fix is *safe* (applied by `--fix`) only when the keys are distinct by
construction: the keys of a map ranged over, a slice index, the counter. When the keys are the
elements or come from them, elements may share a key and the hint may over-allocate: the fix is
marked unsafe (`--fix --unsafe-fixes`).

## Why is this bad?
A map created without a hint starts with room for 8 entries. As the loop inserts, the map grows
again and again: each growth allocates a bigger table and moves every entry into it (Swiss tables
in Go 1.24+ double their tables and split them past 1024 slots; older maps grew incrementally).
With `make(map[K]V, n)` the table is allocated once at the right size: fewer allocations, less
copying, less garbage. The hint is only a hint — more inserts still work.

`maps.Clone(src)` copies a map in one call, and copies the source's capacity too, so a source
that once held many more entries gives a large clone. `maps.Clone(nil)` returns nil, where the
loop leaves an empty map.

## Example
```go
byID := make(map[string]*User)
for _, u := range users {
    byID[u.ID] = u
}
```

## Use instead
```go
byID := make(map[string]*User, len(users))
for _, u := range users {
    byID[u.ID] = u
}
```

## When it is a false alarm
When many elements share a key, the hint over-allocates: a map sized for `len(users)` when only a
handful of distinct keys exist. The rule only reports loops that insert on every pass, not
`m[k]++` counters (also kept through a local: `y := m[k] + 1; m[k] = y`), grouping
(`m[k] = append(m[k], v)`) or conditional inserts, never a set of some property of the elements
(`set[r.Status] = struct{}{}`, or every insert storing one value: `true`, `nil`, a package's
placeholder), and never keys made by division, a remainder, a right shift or rounding
(`m[int(math.Round(e.Y/tol))]`, `m[id%shards]`): all are built to collapse. Nor does it size a
map by a length that may change between the `make` and the loop: a statement in between that
names the variable holding it, other than in `len(...)` (`w.objects` reset, then filled by
`w.addPages()`, then ranged over; review round 28). A loop that only
seeds a map that a later loop or closure keeps filling is left alone (its length is not the
map's size); the few keys that later statements may add, in a branch or not, are counted in
the hint (`len(src)+2`).

When the map stays small or is built once, the hint is right but worth little. The rule leaves
alone what the review of real trees found to be that noise: a loop over a literal of 8 elements
or fewer (directly, through a variable, or a variadic parameter every caller passes a few
arguments: the map's first group holds 8 entries anyway), code that runs once (`init`, `main`,
a `sync.Once` body, a helper only the package's initialisation calls), configuration code (a
method of a `Config`/`Options`/`Settings` type, a function named after one), and test and tool
code unless asked (`--advice-everywhere`). It never pastes a call or a literal into `len(...)`.

## Off by default
Whether a hint pays depends on how large the map gets and how often the code runs, and the
source says neither. On real trees no earlier round had read, 8 of 51 findings were worth
telling: most were maps of a few entries (the checks of one table, the columns of one index)
or code that runs once per start-up, clone or GC (docs/review/fresh-sample-round2.md); on
round 28's, 10 of 108 (docs/review/fresh-sample-round28.md). So the
rule runs only when asked: `--extend-select MG002` (or `extend-select = ["MG002"]`,
`--select`), or with a profile, `--profile allocs.pb.gz`, where its findings count only at
sites the profile shows hot (the growth on the map's insert lines included) and the rest is
demoted. MG012 is its evidence twin: with a profile it reports the maps that grow hot where
no loop shows the size (a traversal, a recursion); where MG002 reports the same `make`, MG002's
finding carries the measured bytes.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace

from tree_sitter import Node

from mapguard.goversion import GO_1_21
from mapguard.lint.rule import Edit, Fix, Pass, Rule, Severity, edit
from mapguard.lint.syntax import (
    MAP_CREATION_BODIES,
    Use,
    assignment_operator,
    assignment_pairs,
    builtin_call_name,
    call_arguments,
    classify_use,
    map_creation_sites,
    normalized,
    occurrences,
    statements,
)
from mapguard.source.calls import call_sites, run_by_once
from mapguard.source.mapwrites import write_statement
from mapguard.source.package import FuncDecl, GoFile, VarDecl, receiver_type_name
from mapguard.source.typeinfo import (
    STRING,
    LocalDecl,
    TypeInfo,
    enclosing_declaration,
    enclosing_function,
    under,
    unparen,
    walk,
)
from mapguard.source.types import (
    ArrayOf,
    ChanOf,
    GoType,
    MapOf,
    Named,
    PointerTo,
    SliceOf,
    StructOf,
    Unknown,
)

# A return before the insert does not matter: the map is abandoned on that path. What makes
# the insert conditional is skipping to the next pass (or out of the loop).
_BRANCHES = frozenset({"continue_statement", "break_statement", "goto_statement"})


class Keys(enum.Enum):
    """What the loop's keys are, which decides how many entries the fill makes."""

    DISTINCT = "distinct"  # the keys of a ranged map, a slice index, the counter: one each
    ELEMENT = "element"  # the ranged element itself: fewer entries only if elements repeat
    DERIVED = "derived"  # built from the element (a field, a call): elements may share one


@dataclass(frozen=True, slots=True)
class Filling:
    """A loop that fills a map made without a size hint, and the size it could be given."""

    loop: Node
    length_of: Node  # the x of len(x), the n of a counted loop, or a literal ranged over
    hint: str  # the size to write: "len(x)", "n", or a literal's element count
    insert: Node  # the `m[k] = v` statement
    keys: Keys
    copy_source: Node | None  # src when the loop is exactly `for k, v := range src { m[k] = v }`


# A map made without a hint holds 8 entries in its first group (Go 1.24+): a hint of 8 or less
# allocates the same, so a literal of that many elements has nothing to gain.
_SMALL = 8


def run(pass_: Pass) -> None:
    for go_file, creation in map_creation_sites(pass_):
        _check(pass_, go_file, creation)


def _check(pass_: Pass, go_file: GoFile, create: Node) -> None:
    info = pass_.info
    if create.type == "composite_literal":
        body = create.child_by_field_name("body")
        if body is None or any(c.type != "comment" for c in body.named_children):
            return
        map_type_node = create.child_by_field_name("type")
    else:
        arguments = call_arguments(create)
        if builtin_call_name(create, go_file, info) != "make" or len(arguments) != 1:
            return
        map_type_node = arguments[0]
    map_type = info.map_type(info.type_node(map_type_node, go_file))
    if map_type_node is None or map_type is None:
        return
    statement, target = _creating_statement(create, go_file)
    if statement is None or target is None:
        return
    filling = _filling_loop(info, go_file, statement, target)
    if filling is None or (filling.length_of.type != "composite_literal" and not _available_at(
            info, go_file, filling.length_of, create)):
        return  # the length is not known where the map is made (a call, a later variable)
    if next(occurrences(filling.length_of, go_file, normalized(go_file, target)), None):
        return  # ranging over the map being built
    extra = _keys_added_after(info, go_file, statement, filling.loop,
                              normalized(go_file, target))
    if extra is None:
        return  # the loop only seeds it: a hint of its length would not be the map's size
    if extra:
        hint = (str(int(filling.hint) + extra) if filling.hint.isdigit()
                else f"{filling.hint}+{extra}")
        filling = replace(filling, hint=hint)
    if filling.keys is Keys.DERIVED and _is_set(info, go_file, map_type.value, filling.insert):
        return  # a set of some property of the elements: they may share it, and often do
    if _quantised_key(go_file, filling.insert):
        return  # keys made by division or rounding group the elements: built to collapse
    if _small_literal(pass_, go_file, filling.length_of) or _runs_once(pass_, go_file, create):
        return  # nothing to gain: a few entries, or code that runs once per configuration
    name = normalized(go_file, target)
    type_text = go_file.text(map_type_node)
    # Keys added after the loop rule Clone out of the advice: a clone of a nil source is nil,
    # and the next insert would panic (round 28, openlit's `MarshalJSON`).
    clone = (_clone_source(info, go_file, create, filling)
             if pass_.allows(GO_1_21) and not extra else None)
    if clone is not None:
        source = go_file.text(clone)
        assign = {"short_var_declaration": ":=", "var_declaration": "="}.get(
            statement.type, "=")
        spelled = f"var {name} = " if statement.type == "var_declaration" else f"{name} {assign} "
        message = (
            f"`{name}` is filled by a loop that only copies `{source}`: write "
            f"{spelled}maps.Clone({source}), which allocates the table once (it copies "
            f"`{source}`'s capacity too, and returns nil when `{source}` is nil)"
        )
        fix = _clone_fix(info, go_file, statement, create, target, filling) or _hint_fix(
            go_file, create, type_text, filling)
        if fix is not None and not fix.description.startswith("copy"):
            message += f"; or size it: make({type_text}, {filling.hint})"
    else:
        each = "exactly one entry per element" if filling.keys is Keys.DISTINCT else (
            "up to one entry per element (fewer where elements share a key)")
        if filling.length_of.type == "composite_literal":
            what = f"{each} of the literal it ranges over"
        elif filling.hint.startswith("len("):
            what = f"{each} of `{go_file.text(filling.length_of)}`"
        else:
            what = f"one entry on each of its `{filling.hint}` passes"  # a counted loop
        message = (
            f"`{name}` grows one insert at a time while the loop below adds {what}: size "
            f"it up front with make({type_text}, {filling.hint}) so the table is allocated "
            f"once instead of growing and rehashing as it fills"
        )
        fix = _hint_fix(go_file, create, type_text, filling)
    pass_.report(go_file, create, message, fix=fix)


def _small_literal(pass_: Pass, go_file: GoFile, length_of: Node) -> bool:
    """A variable that holds a literal of a few elements (`dts := []T{a, b}`), never assigned
    again in the function, or a variadic parameter that every call passes a few arguments:
    the map fits its first group of 8 slots."""
    info = pass_.info
    if length_of.type != "identifier":
        return False
    symbol = info.resolve(length_of, go_file)
    if isinstance(symbol, LocalDecl) and symbol.kind == "param" and symbol.ident.parent is not \
            None and symbol.ident.parent.type == "variadic_parameter_declaration":
        return _few_variadic_arguments(pass_, go_file, symbol)
    if not isinstance(symbol, LocalDecl | VarDecl) or symbol.value is None:
        return False
    value = unparen(symbol.value)
    count = _literal_count(value) if value.type == "composite_literal" else None
    if count is None or count > _SMALL:
        return False
    if isinstance(symbol, LocalDecl):
        function = enclosing_function(length_of)
        return function is not None and not any(
            classify_use(use, go_file, info) is Use.ASSIGNED and use != symbol.ident
            for use in occurrences(function, go_file, symbol.name))
    return True


def _few_variadic_arguments(pass_: Pass, go_file: GoFile, parameter: LocalDecl) -> bool:
    """Every call of the function in the package lists at most 8 variadic arguments (none
    spreads a slice with `xs...`); an exported function is judged only with callers here."""
    declaration = enclosing_declaration(parameter.ident)
    name_node = declaration.child_by_field_name("name") if declaration is not None else None
    if declaration is None or name_node is None:
        return False
    name = go_file.text(name_node)
    receiver = receiver_type_name(declaration, go_file) if (
        declaration.type == "method_declaration") else None
    function = pass_.package.method(receiver, name) if receiver is not None else (
        pass_.package.func_named(name))
    sites = call_sites(pass_.package, pass_.info, function) if function is not None else None
    if not sites:
        return False
    fixed = len(pass_.info.signature(function).params) - 1 if function is not None else 0
    for site in sites:
        arguments = site.call.child_by_field_name("arguments")
        if arguments is None or any(child.type == "..." for child in arguments.children):
            return False
        values = [a for a in arguments.named_children if a.type != "comment"]
        if len(values) - fixed > _SMALL:
            return False
    return True


# Names of configuration types and of the functions that read them: code that runs once per
# configuration load, where a size hint saves a few microseconds once (the noise of the
# review of real trees: config maps of a few entries).
_CONFIGURATION = re.compile(r"Config|Configuration|Options|Opts|Settings")


def _runs_once(pass_: Pass, go_file: GoFile, node: Node) -> bool:
    """Code that runs once per process or per configuration: `init` and `main`, a body run
    by `sync.Once` (a literal or a function handed to `Do`), a function named after a
    configuration or a method of a configuration type (`func (c *Config) Validate()`,
    `DecodeConfig`), or a helper only the package's initialisation calls."""
    literal = node.parent
    while literal is not None and literal.type not in {"function_declaration",
                                                       "method_declaration"}:
        if literal.type == "func_literal" and _handed_to_once(go_file, literal):
            return True
        literal = literal.parent
    declaration = enclosing_declaration(node)
    name_node = declaration.child_by_field_name("name") if declaration is not None else None
    if declaration is None or name_node is None:
        return False
    name = go_file.text(name_node)
    if declaration.type == "function_declaration" and name in {"init", "main"}:
        return True
    receiver = receiver_type_name(declaration, go_file) if (
        declaration.type == "method_declaration") else None
    if _CONFIGURATION.search(name) or (receiver is not None and _CONFIGURATION.search(receiver)):
        return True
    function = pass_.package.func_named(name) if declaration.type == "function_declaration" \
        else pass_.package.method(receiver or "", name)
    if function is None:
        return False
    if run_by_once(pass_.package, name):
        return True  # `once.Do(f)`
    # An unexported function called only while the package initialises (such a helper is
    # named in a place or two: a name the package uses more often is not worth the search).
    if not name[:1].islower() or sum(
            f.source.count(name.encode()) for f in pass_.package.files) > 4:
        return False
    sites = call_sites(pass_.package, pass_.info, function)
    return bool(sites) and all(
        site.caller is None or (site.caller.name in {"init", "main"}
                                and not site.caller.is_method)
        for site in sites or ())


def _handed_to_once(go_file: GoFile, literal: Node) -> bool:
    """`once.Do(func() {...})`, `sync.OnceFunc(func() {...})`, `sync.OnceValue(...)`."""
    arguments = literal.parent
    call = arguments.parent if arguments is not None else None
    if call is None or call.type != "call_expression":
        return False
    called = go_file.text(call.child_by_field_name("function") or call)
    return called.endswith((".Do", "OnceFunc", "OnceValue", "OnceValues"))


_SAME_VALUE_LITERALS = frozenset({"nil", "true", "false", "int_literal", "float_literal",
                                  "interpreted_string_literal", "raw_string_literal"})


def _is_set(info: TypeInfo, go_file: GoFile, value: GoType, insert: Node) -> bool:
    """Only the keys matter: `map[K]struct{}`, or every insert stores the same value — `true`,
    `nil` (`owners[r.OwnerID] = nil`), an empty literal, or a package-level placeholder such
    as `lang.Placeholder` whose type lives in a package we do not load."""
    underlying = info.underlying(value)
    if isinstance(underlying, StructOf) and not underlying.fields:
        return True
    inserted = next(iter(assignment_pairs(insert)))[1]
    if inserted is None:
        return False
    if inserted.type in _SAME_VALUE_LITERALS:
        return True
    if inserted.type == "composite_literal":
        body = inserted.child_by_field_name("body")
        return body is not None and not any(c.type != "comment" for c in body.named_children)
    if inserted.type == "selector_expression":
        operand = inserted.child_by_field_name("operand")
        return operand is not None and operand.type == "identifier" and (
            go_file.text(operand) in go_file.imports)
    return False


def _creating_statement(create: Node, go_file: GoFile) -> tuple[Node | None, Node | None]:
    """The statement that stores the new map in a variable or field, and that target."""
    holder = create.parent
    if holder is None or holder.type != "expression_list":
        return None, None
    statement = holder.parent
    if statement is None:
        return None, None
    if statement.type == "var_spec":
        names = statement.children_by_field_name("name")
        declaration = statement.parent
        while declaration is not None and declaration.type != "var_declaration":
            declaration = declaration.parent
        if len(names) == 1 and declaration is not None:
            return declaration, names[0]
        return None, None
    if statement.type == "short_var_declaration" or (
        statement.type == "assignment_statement" and assignment_operator(statement) == "="
    ):
        pairs = list(assignment_pairs(statement))
        if len(pairs) == 1 and pairs[0][1] == create:
            target = pairs[0][0]
            if target.type in {"identifier", "selector_expression"}:
                return statement, target
    return None, None


def _filling_loop(info: TypeInfo, go_file: GoFile, statement: Node, target: Node
                  ) -> Filling | None:
    block = statement.parent
    if block is None or block.type != "statement_list":
        return None
    name = normalized(go_file, target)
    following = [s for s in block.named_children
                 if s.start_byte > statement.start_byte and s.type != "comment"]
    for position, later in enumerate(following):
        if later.type == "for_statement":
            filling = _loop_fills(info, go_file, later, name)
            if filling is not None:
                if any(_may_change(info, go_file, between, filling.length_of)
                       for between in following[:position]):
                    return None  # its length at the make is not its length at the loop
                return filling
        if next(occurrences(later, go_file, name), None) is not None:
            return None  # used (filled, passed, replaced) before the loop: the hint would lie
    return None


def _may_change(info: TypeInfo, go_file: GoFile, statement: Node, length_of: Node) -> bool:
    """Whether `statement` may change what the loop's length is taken from (`w.objects`: the
    variable `w` that holds it): it assigns the variable or the expression, takes an address in
    it, calls a method through it that has a pointer receiver (or through a pointer, or a
    method it cannot resolve), or passes a pointer to a call. Reading it, passing a copy of a
    value and `len(...)` change nothing. Round 28, coregx/gxpdf: `w.objects` reset just before
    the `make`, then filled by `w.createPages(...)`, then ranged over."""
    root = length_of
    while root.type in {"selector_expression", "index_expression", "parenthesized_expression"}:
        inner = root.child_by_field_name("operand") or (
            root.named_children[0] if root.named_children else None)
        if inner is None:
            return True
        root = inner
    if root.type != "identifier":
        return length_of.type != "composite_literal"
    held = info.type_of(root, go_file)
    through_pointer = held is None or isinstance(held, PointerTo | Unknown)
    for use in occurrences(statement, go_file, go_file.text(root)):
        outer = use
        while outer.parent is not None and outer.parent.type in {
                "selector_expression", "index_expression", "parenthesized_expression"}:
            outer = outer.parent
        holder = outer.parent
        if holder is None:
            continue
        if holder.type == "argument_list":
            call = holder.parent
            if call is not None and builtin_call_name(call, go_file, info) in {"len", "cap"}:
                continue
            if through_pointer:
                return True  # the callee gets what the length hangs from
            continue  # a copy of a value
        if holder.type == "unary_expression" and go_file.text(holder).startswith("&"):
            return True
        if holder.type == "call_expression" and holder.child_by_field_name("function") == outer:
            method = info.called_function(outer, go_file)
            if method is None or through_pointer or _pointer_receiver(method):
                return True
            continue
        if _assigned(outer):
            return True
    return False


def _pointer_receiver(declaration: FuncDecl) -> bool:
    receiver = declaration.node.child_by_field_name("receiver")
    return receiver is None or "*" in declaration.file.text(receiver)


def _assigned(expr: Node) -> bool:
    """`expr` is (in) the left side of an assignment, or incremented."""
    node: Node | None = expr
    while node is not None and node.type not in {"assignment_statement", "short_var_declaration",
                                                 "inc_statement", "dec_statement",
                                                 "statement_list", "block"}:
        child, node = node, node.parent
        if node is not None and node.type in {"assignment_statement", "short_var_declaration"}:
            left = node.child_by_field_name("left")
            return left is not None and left.start_byte <= child.start_byte < left.end_byte
    return node is not None and node.type in {"inc_statement", "dec_statement"}


def _keys_added_after(info: TypeInfo, go_file: GoFile, statement: Node, loop: Node,
                      name: str) -> int | None:
    """How many keys at most the creating block adds after the filling loop: one per insert
    statement, in a branch or not (`m["total"] = 0`, `if ok { m["risk"] = r }`: the hint counts
    them). None when an insert sits in a later loop or a closure: then the filling loop only
    seeds the map, and its length plus a known number is not the map's size."""
    block = statement.parent
    if block is None:
        return 0
    added = 0
    for later in block.named_children:
        if later.start_byte < loop.end_byte:
            continue
        for use in occurrences(later, go_file, name):
            if not _is_insert(use, go_file, info):
                continue
            ancestor = use.parent
            while ancestor is not None and ancestor != block:
                if ancestor.type in {"for_statement", "func_literal"}:
                    return None
                ancestor = ancestor.parent
            added += 1
    return added


def _loop_fills(info: TypeInfo, go_file: GoFile, loop: Node, name: str) -> Filling | None:
    length = _known_length(info, go_file, loop)
    body = loop.child_by_field_name("body")
    if length is None or body is None:
        return None
    length_of, hint = length
    inserts = [use for use in occurrences(body, go_file, name) if _is_insert(use, go_file, info)]
    if len(inserts) != 1:
        return None
    insert_statement = _statement_of(inserts[0])
    direct = statements(body)
    if insert_statement is None or insert_statement not in direct or (
        assignment_operator(insert_statement) != "="
    ):
        return None
    if len(list(assignment_pairs(insert_statement))) != 1:
        return None
    if _branches_before(body, insert_statement, loop):
        return None
    if _reads_map(insert_statement, go_file, name) or _read_modify_write(
        body, insert_statement, go_file, name
    ):
        return None  # `m[k] = append(m[k], v)`: grouping, one entry per distinct key
    keys = _key_kind(info, go_file, loop, insert_statement)
    copy_source = _pure_copy_source(go_file, loop, direct, insert_statement)
    return Filling(loop, length_of, hint, insert_statement, keys, copy_source)


def _key_kind(info: TypeInfo, go_file: GoFile, loop: Node, insert: Node) -> Keys:
    """Whether the inserted keys are distinct by construction (the ranged map's keys, a slice
    index, the counter), the elements themselves, or derived from them."""
    target, _value = next(iter(assignment_pairs(insert)))
    key = target.child_by_field_name("index") if target.type == "index_expression" else None
    if key is None:
        return Keys.DERIVED
    key = unparen(key)
    clause = next((c for c in loop.named_children
                   if c.type in {"range_clause", "for_clause"}), None)
    if clause is None:
        return Keys.DERIVED
    if clause.type == "for_clause":
        initializer = clause.child_by_field_name("initializer")
        left = initializer.child_by_field_name("left") if initializer is not None else None
        counter = go_file.text(left) if left is not None else None
        if key.type == "identifier" and go_file.text(key) == counter:
            return Keys.DISTINCT
        return Keys.ELEMENT if _indexes_with(go_file, key, counter) else Keys.DERIVED
    left = clause.child_by_field_name("left")
    names = [go_file.text(n) for n in left.named_children if n.type != "comment"] if left else []
    ranged = clause.child_by_field_name("right")
    ranged_type = info.underlying(info.type_of(ranged, go_file)) if ranged is not None else None
    if key.type == "identifier" and names and go_file.text(key) == names[0] != "_":
        # The first range variable: a map's keys, a slice's indexes, or the count of
        # `range n` are distinct; a channel's or an iterator's values are elements.
        if isinstance(ranged_type, MapOf | SliceOf | ArrayOf) or ranged_type == STRING or (
            ranged is not None and ranged.type in {"call_expression", "int_literal"}
        ) or _is_integer(ranged_type):
            return Keys.DISTINCT
        return Keys.ELEMENT
    if key.type == "identifier" and len(names) > 1 and go_file.text(key) == names[1] != "_":
        return Keys.ELEMENT
    if names and names[0] != "_" and _indexes_with(go_file, key, names[0]):
        return Keys.ELEMENT  # `for i := range xs { m[xs[i]] = ... }`
    return Keys.DERIVED


# Arithmetic that maps many values to one: a key computed with it groups the elements.
_QUANTISING_OPERATORS = frozenset({"/", "%", ">>"})
_ROUNDING = re.compile(r"^math\.(?:Round|Floor|Ceil|Trunc|RoundToEven)$")


def _quantised_key(go_file: GoFile, insert: Node) -> bool:
    """The inserted key is computed by division, a remainder, a right shift or rounding
    (`m[int(math.Round(e.Y / tol))]`, `m[id % shards]`): elements that fall in one bucket share
    it, and the map is built to hold one entry per bucket (round 28: coregx/gxpdf's rows of
    text elements keyed by their quantised Y)."""
    target, _value = next(iter(assignment_pairs(insert)))
    key = target.child_by_field_name("index") if target.type == "index_expression" else None
    if key is None:
        return False
    key = unparen(key)
    if key.type == "identifier":
        # A key computed just before, in the loop's body: `k := int(math.Round(...)); m[k] = v`.
        computed = [value for earlier in (insert.parent.named_children if insert.parent else [])
                    if earlier.end_byte <= insert.start_byte
                    and earlier.type in {"short_var_declaration", "assignment_statement"}
                    for left, value in assignment_pairs(earlier)
                    if value is not None and go_file.text(left) == go_file.text(key)]
        return any(_quantising(go_file, value) for value in computed)
    return _quantising(go_file, key)


def _quantising(go_file: GoFile, key: Node) -> bool:
    for node in walk(key):
        if node.type == "binary_expression" and any(
                not child.is_named and go_file.text(child) in _QUANTISING_OPERATORS
                for child in node.children):
            return True
        if node.type == "call_expression":
            function = node.child_by_field_name("function")
            if function is not None and _ROUNDING.match(go_file.text(function)):
                return True
    return False


def _indexes_with(go_file: GoFile, key: Node, index_name: str | None) -> bool:
    """`x[i]` with i the loop's index."""
    if key.type != "index_expression" or index_name is None:
        return False
    index = key.child_by_field_name("index")
    return index is not None and go_file.text(index) == index_name


def _is_integer(go_type: GoType | None) -> bool:
    return isinstance(go_type, Named) and go_type.pkg == "builtin" and go_type.name in _INTEGERS


_INTEGERS = frozenset({"int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16",
                       "uint32", "uint64", "uintptr", "byte", "rune"})


def _read_modify_write(body: Node, insert: Node, go_file: GoFile, name: str) -> bool:
    """`g := m[k]; ...; m[k] = g`: the inserted value is built from the entry already there."""
    target, value = next(iter(assignment_pairs(insert)))
    key = target.child_by_field_name("index") if target.type == "index_expression" else None
    if key is None or value is None:
        return False
    key_text = normalized(go_file, key)
    for use in occurrences(body, go_file, name):
        index = use.parent
        if index is None or index.type != "index_expression" or index == target:
            continue
        read_key = index.child_by_field_name("index")
        if read_key is None or normalized(go_file, read_key) != key_text:
            continue
        # The entry read on the right of a statement, whole or in an expression
        # (`y := m[k] + 1; m[k] = y`: a counter over a local).
        statement = index.parent
        while statement is not None and statement.type not in {
                "short_var_declaration", "assignment_statement", "statement_list", "block"}:
            statement = statement.parent
        if statement is None or statement.type not in {"short_var_declaration",
                                                       "assignment_statement"}:
            continue
        right = statement.child_by_field_name("right")
        if right is None or not (right.start_byte <= index.start_byte < right.end_byte):
            continue
        left = statement.child_by_field_name("left")
        for variable in (left.named_children if left is not None else []):
            if variable.type == "identifier" and next(
                occurrences(value, go_file, go_file.text(variable)), None
            ) is not None:
                return True
    return False


def _reads_map(insert: Node, go_file: GoFile, name: str) -> bool:
    right = insert.child_by_field_name("right")
    return right is not None and next(occurrences(right, go_file, name), None) is not None


def _statement_of(node: Node) -> Node | None:
    current: Node | None = node
    while current is not None and not current.type.endswith("_statement"):
        current = current.parent
    return current


def _is_insert(use: Node, go_file: GoFile, info: TypeInfo) -> bool:
    """`m[k] = v`, `m[k] op= v` or `m[k]++`: any statement that may add a key."""
    return (classify_use(use, go_file, info) is Use.ACCESS
            and write_statement(use.parent) is not None)


def _known_length(info: TypeInfo, go_file: GoFile, loop: Node) -> tuple[Node, str] | None:
    """(x, "len(x)") when the loop runs exactly len(x) times over a slice, array, map or
    string x named by a plain expression; (n, "n") when it counts from 0 up to a plain value
    n; a literal ranged over gives its element count."""
    for clause in loop.named_children:
        if clause.type == "range_clause":
            ranged = clause.child_by_field_name("right")
            if ranged is None:
                return None
            ranged = unparen(ranged)
            if ranged.type == "composite_literal" and _has_length(info, go_file, ranged):
                count = _literal_count(ranged)
                return (ranged, str(count)) if count is not None and count > _SMALL else None
            if _has_length(info, go_file, ranged):
                return (ranged, f"len({go_file.text(ranged)})") if _plain(ranged) else None
            if ranged.type == "call_expression" and (
                builtin_call_name(ranged, go_file, info) == "len"
            ):  # `for i := range len(x)` (Go 1.22) counts up to len(x)
                arguments = call_arguments(ranged)
                if len(arguments) == 1 and _has_length(info, go_file, arguments[0]) and (
                    _plain(arguments[0])
                ):
                    return arguments[0], f"len({go_file.text(arguments[0])})"
                return None
            if _is_integer(info.underlying(info.type_of(ranged, go_file))) and _plain(ranged) \
                    and not info.is_constant(ranged, go_file) and _unchanged_in(
                        go_file, loop, ranged):
                return ranged, go_file.text(ranged)  # `for i := range n` (Go 1.22)
            return None
        if clause.type == "for_clause":
            return _counted_length(info, go_file, clause, loop)
    return None


def _plain(expr: Node) -> bool:
    """A name, a field, an element (`x`, `s.items`, `rows[0]`): what can be pasted into a hint
    and read the same twice. Never a call, an operation or a literal."""
    expr = unparen(expr)
    if expr.type == "identifier":
        return True
    if expr.type == "selector_expression":
        operand = expr.child_by_field_name("operand")
        return operand is not None and _plain(operand)
    if expr.type == "index_expression":
        operand = expr.child_by_field_name("operand")
        index = expr.child_by_field_name("index")
        return operand is not None and index is not None and _plain(operand) and (
            index.type in {"int_literal", "interpreted_string_literal"} or _plain(index))
    return False


def _literal_count(literal: Node) -> int | None:
    """The number of elements of a slice, array or map literal (None with `[...]` spread)."""
    body = literal.child_by_field_name("body")
    if body is None:
        return 0
    elements = [e for e in body.named_children if e.type != "comment"]
    if any(e.type == "keyed_element" for e in elements):
        literal_type = literal.child_by_field_name("type")
        if literal_type is None or literal_type.type != "map_type":
            return None  # `[]T{5: x}` has more elements than it lists
    return len(elements)


def _unchanged_in(go_file: GoFile, loop: Node, bound: Node) -> bool:
    """Whether the loop body never assigns the names the bound is made of."""
    body = loop.child_by_field_name("body")
    if body is None:
        return False
    for node in walk(bound):
        if node.type != "identifier":
            continue
        for use in occurrences(body, go_file, go_file.text(node)):
            parent = use.parent
            if parent is not None and parent.type in {"inc_statement", "dec_statement"}:
                return False
            holder = parent
            statement = holder.parent if holder is not None else None
            if holder is not None and holder.type == "expression_list" and statement is not None \
                    and statement.child_by_field_name("left") == holder:
                return False
            if parent is not None and parent.type == "unary_expression" and \
                    go_file.text(parent).startswith("&"):
                return False
    return True


def _has_length(info: TypeInfo, go_file: GoFile, expr: Node) -> bool:
    go_type = info.underlying(info.type_of(expr, go_file))
    if isinstance(go_type, PointerTo):
        go_type = info.underlying(go_type.elem)
        return isinstance(go_type, ArrayOf)
    if isinstance(go_type, ChanOf):
        return False
    return isinstance(go_type, SliceOf | ArrayOf | MapOf) or go_type == STRING


def _counted_length(info: TypeInfo, go_file: GoFile, clause: Node, loop: Node
                    ) -> tuple[Node, str] | None:
    """`for i := 0; i < len(x); i++` gives (x, "len(x)"); `for i := 0; i < n; i++` with n a
    plain value the loop does not change gives (n, "n")."""
    initializer = clause.child_by_field_name("initializer")
    condition = clause.child_by_field_name("condition")
    update = clause.child_by_field_name("update")
    if initializer is None or condition is None or update is None:
        return None
    if initializer.type != "short_var_declaration" or update.type != "inc_statement":
        return None
    counter = go_file.text(initializer.child_by_field_name("left") or initializer)
    start = go_file.text(initializer.child_by_field_name("right") or initializer)
    if start != "0" or normalized(go_file, update).removesuffix("++") != counter:
        return None
    if condition.type != "binary_expression":
        return None
    left = condition.child_by_field_name("left")
    right = condition.child_by_field_name("right")
    operator = next((c.type for c in condition.children if not c.is_named), "")
    if left is None or right is None or operator != "<" or go_file.text(left) != counter:
        return None
    if right.type == "call_expression" and builtin_call_name(right, go_file, info) == "len":
        arguments = call_arguments(right)
        if len(arguments) == 1 and _has_length(info, go_file, arguments[0]) and _plain(
            arguments[0]
        ):
            return arguments[0], f"len({go_file.text(arguments[0])})"
        return None
    if _plain(right) and not info.is_constant(right, go_file) and _unchanged_in(
        go_file, loop, right
    ) and _is_integer(info.underlying(info.type_of(right, go_file))):
        return right, go_file.text(right)
    return None


def _branches_before(body: Node, insert: Node, loop: Node) -> bool:
    """A continue/break/return/goto before the insert makes the insert conditional."""
    for node in walk(body):
        if node.start_byte >= insert.start_byte:
            break
        if node.type in _BRANCHES and _leaves_iteration(node, loop):
            return True
    return False


def _leaves_iteration(branch: Node, loop: Node) -> bool:
    """Whether a branch statement can skip the rest of `loop`'s current pass."""
    if branch.type == "goto_statement":
        return not under(branch, "func_literal", loop)
    labelled = branch.named_child_count > 0
    current = branch.parent
    while current is not None and current != loop:
        if current.type == "func_literal":
            return False
        if not labelled and current.type == "for_statement":
            return False  # continue/break of an inner loop
        if not labelled and branch.type == "break_statement" and current.type in {
            "expression_switch_statement", "type_switch_statement", "select_statement"
        }:
            return False
        current = current.parent
    return True


def _pure_copy_source(go_file: GoFile, loop: Node, direct: list[Node], insert: Node
                      ) -> Node | None:
    """src when the loop is exactly `for k, v := range src { dst[k] = v }`."""
    if len(direct) != 1:
        return None
    clause = next((c for c in loop.named_children if c.type == "range_clause"), None)
    if clause is None or not any(c.type == ":=" for c in clause.children):
        return None
    left = clause.child_by_field_name("left")
    names = [go_file.text(n) for n in left.named_children] if left is not None else []
    if len(names) != 2 or "_" in names:
        return None
    target, value = next(iter(assignment_pairs(insert)))
    if value is None or target.type != "index_expression":
        return None
    key = target.child_by_field_name("index")
    if key is None or go_file.text(key) != names[0] or go_file.text(value) != names[1]:
        return None
    return clause.child_by_field_name("right")


def _hint_fix(go_file: GoFile, create: Node, type_text: str, filling: Filling) -> Fix:
    """The size hint; safe (applied by `--fix`) only when the keys are distinct by
    construction, so that the hint is the exact size and never over-allocates."""
    replacement = f"make({type_text}, {filling.hint})"
    return Fix(f"size the map: {replacement}", (edit(go_file, create, create, replacement),),
               safe=filling.keys is Keys.DISTINCT)


def _clone_source(info: TypeInfo, go_file: GoFile, create: Node, filling: Filling
                  ) -> Node | None:
    """The copied map when `maps.Clone` of it gives exactly the map's type: the same type
    (not one with another value type, not a named type where the map is unnamed)."""
    source = filling.copy_source
    if source is None:
        return None
    source_type = info.type_of(source, go_file)
    if isinstance(source_type, Unknown) or source_type != info.type_of(create, go_file):
        return None
    return source


def _available_at(info: TypeInfo, go_file: GoFile, expr: Node, point: Node) -> bool:
    """Whether `expr` can be evaluated at `point` with the same value: no calls, no channel
    receives, and every name in it declared before `point`."""
    for node in walk(expr):
        if node.type in {"call_expression", "unary_expression", "func_literal"}:
            return False
        parent = node.parent
        if node.type == "identifier" and (parent is None or parent.type != "selector_expression"
                                          or parent.child_by_field_name("operand") == node):
            symbol = info.resolve(node, go_file)
            if isinstance(symbol, LocalDecl):
                if symbol.ident.start_byte > point.start_byte:
                    return False
            elif not isinstance(symbol, VarDecl):
                return False
    return True


def _clone_fix(info: TypeInfo, go_file: GoFile, statement: Node, create: Node, target: Node,
               filling: Filling) -> Fix | None:
    """maps.Clone only where it behaves exactly like the loop: the copy is then only read here,
    so a nil result (from a nil source) cannot be written to or handed out."""
    source = filling.copy_source
    if source is None or target.type != "identifier" or statement.type != "short_var_declaration":
        return None
    if not _available_at(info, go_file, source, create):
        return None
    block = statement.parent
    if block is None or _next_statement(block, statement) != filling.loop:
        return None
    function_end = _function_end(statement)
    name = go_file.text(target)
    for use in occurrences(block, go_file, name):
        if use.start_byte <= filling.loop.end_byte or use.start_byte > function_end:
            continue
        if classify_use(use, go_file, info) is not Use.ACCESS or _is_insert(use, go_file, info):
            return None
        if use.parent is not None and use.parent.type == "binary_expression":
            return None  # `m == nil` would tell maps.Clone(nil) from the loop's empty map
    # The fix writer is imported by the finding that needs it: a plain lint leaves it out.
    from mapguard.lint.fixes import add_import_edit

    import_edit = add_import_edit(go_file, "maps")
    if import_edit is False:
        return None
    edits: list[Edit] = [edit(go_file, create, create, f"maps.Clone({go_file.text(source)})")]
    loop_start = go_file.source.rfind(b"\n", 0, filling.loop.start_byte)
    edits.append(edit(go_file, loop_start, filling.loop.end_byte, ""))
    if import_edit is not None:
        edits.append(import_edit)
    return Fix(f"copy with maps.Clone({go_file.text(source)})", tuple(edits))


def _next_statement(block: Node, statement: Node) -> Node | None:
    later = [s for s in block.named_children
             if s.start_byte > statement.start_byte and s.type != "comment"]
    return later[0] if later else None


def _function_end(node: Node) -> int:
    current = node.parent
    while current is not None and current.type not in {
        "function_declaration", "method_declaration", "func_literal"
    }:
        current = current.parent
    return current.end_byte if current is not None else node.end_byte


RULE = Rule(
    code="MG002",
    name="missing-size-hint",
    severity=Severity.INFO,
    summary="a map filled by a loop of known length but created without a size hint",
    reports_at="the `make(...)` call or the map literal",
    doc=__doc__ or "",
    run=run,
    markers=(b"make(", b"{}"),  # map_creation_sites() finds the candidates
    bodies=MAP_CREATION_BODIES,
    in_support_code=False,
    on_by_default=False,  # worth it only where the code runs often: docs/review/
)
