"""Lock discipline a package shows for a map: where its non-test code uses the same map with a
lock held.

A write without a lock to a map the package itself guards elsewhere — the same package-level
variable, or the same field of a value of the same type, read or written under a lock — seems to
contradict the package's own rule for it; MG014's message names that locked use. It is not
proof enough for MG004 (docs/rules.md, MG004 and MG014): on real trees the write was mostly
under a lock the rule does not see, a caller's or one taken under a flag. MG005's
check-then-lock uses `same_target`.
"""

from __future__ import annotations

from tree_sitter import Node

from mapguard.source.locks import Mode, lock_mode_at
from mapguard.source.package import GoFile, Package, VarDecl
from mapguard.source.typeinfo import TypeInfo, field_hits, unparen, word_hits
from mapguard.source.types import Named, deref

# (file, node) of each use of one map made with a lock held.
_Uses = list[tuple[GoFile, Node]]


def same_target(info: TypeInfo, go_file: GoFile, node: Node, owner: Named | None,
                symbol: object) -> bool:
    """`node` names the same field of a value of `owner`'s type, or (owner None) the same
    package variable `symbol`."""
    parent = node.parent
    if owner is None:
        found = info.resolve(node, go_file) if node.type == "identifier" else None
        return isinstance(found, VarDecl) and isinstance(symbol, VarDecl) and (
            found.node == symbol.node)
    if node.type != "field_identifier" or parent is None or (
        parent.type != "selector_expression"
    ):
        return False
    operand = parent.child_by_field_name("operand")
    other = deref(info.type_of(operand, go_file)) if operand is not None else None
    return isinstance(other, Named) and (other.pkg, other.name) == (owner.pkg, owner.name)


def locked_elsewhere(package: Package, info: TypeInfo, go_file: GoFile, target: Node,
                     outside: Node) -> str | None:
    """`file.go:N` of a use of the map `target` names — a package-level variable, or a field
    of a value of a named type — that the package's non-test code makes with a lock held,
    outside the node `outside` (the write itself); None when there is none, or when `target`
    is neither."""
    target = unparen(target)
    owner: Named | None = None
    symbol: object = None
    if target.type == "identifier":
        symbol = info.resolve(target, go_file)
        if not isinstance(symbol, VarDecl) or symbol.constant:
            return None
        name = go_file.text(target)
    elif target.type == "selector_expression":
        operand = target.child_by_field_name("operand")
        field = target.child_by_field_name("field")
        found = deref(info.type_of(operand, go_file)) if operand is not None else None
        if field is None or not isinstance(found, Named):
            return None
        owner, name = found, go_file.text(field)
    else:
        return None
    key = ("locked-uses", owner.pkg if owner else "", owner.name if owner else "", name,
           id(symbol.node) if isinstance(symbol, VarDecl) else 0)
    uses = package.memo.get(key)
    if not isinstance(uses, list):
        uses = package.memo[key] = _locked_uses(package, info, name, owner, symbol)
    for use_file, node in uses:
        if use_file is go_file and outside.start_byte <= node.start_byte < outside.end_byte:
            continue
        return f"{use_file.path.name}:{node.start_point.row + 1}"
    return None


def _locked_uses(package: Package, info: TypeInfo, name: str, owner: Named | None,
                 symbol: object) -> _Uses:
    uses: _Uses = []
    for go_file in package.files:
        if go_file.is_test:
            continue
        hits = (field_hits(go_file.source, name) if owner is not None
                else word_hits(go_file.source, name))
        for start, end in hits:
            node = go_file.node_at(start, end, named=False)
            if node is None or not same_target(info, go_file, node, owner, symbol):
                continue
            if lock_mode_at(node, go_file, info) is not Mode.NONE:
                uses.append((go_file, node))
    return uses
