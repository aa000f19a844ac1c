"""## What it does
Finds a write into a map of an object that a Kubernetes informer's cache holds: an object
returned by a lister (`c.podLister.Get(name)`, `lister.Pods(ns).List(sel)`, `x.Lister().Get`),
by an informer's store or indexer (`GetStore().GetByKey(key)`, `GetIndexer().ByIndex(...)`),
or handed to an event handler (`AddFunc`, `UpdateFunc`, `DeleteFunc`), written without a
`DeepCopy()` first: `pod.Labels[k] = v`, `delete(cm.Data, k)`, `obj.Spec.Selector[k] = v`,
`metav1.SetMetaDataAnnotation(&svc.ObjectMeta, k, v)`. The object may have passed through a
`range` over a list, a type assertion (`pod := obj.(*v1.Pod)`) or a struct copy
(`meta := pod.ObjectMeta`, `p := *pod`: copying a struct copies its maps by reference), an
alias of one of its maps (`labels := pod.Labels`), or a method given as a handler (`AddFunc:
c.onAdd`). The object's type is client-go's, another module's, whose fields mapguard does not
read: a write is known as a map write by the field's name — `Labels`, `Annotations`, `Data`,
`BinaryData`, `StringData`, `NodeSelector`, `Selector`, `MatchLabels`, `Capacity`,
`Allocatable`, `Limits`, `Requests`, `Parameters` — or by a type the module declares. Reported
at the write.

## Why is this bad?
A lister hands out pointers into the informer's shared cache, not copies: every controller,
every worker goroutine and every later event sees the same object. client-go says so ("Objects
returned here must be treated as read-only") and ships a detector for the mistake
(`KUBE_CACHE_MUTATION_DETECTOR`). Writing a map of a cached object races with the informer's
own goroutine and with every other reader (`fatal error: concurrent map read and map write`;
go test -race reports a DATA RACE), and it changes what the cache believes the cluster holds:
the next comparison against the cached object sees the change as already made, and the update
is never sent.

## Example
```go
pod, err := c.podLister.Pods(ns).Get(name)
if err != nil {
    return err
}
pod.Labels["synced"] = "true" // writes the informer's cached object
_, err = c.client.CoreV1().Pods(ns).Update(ctx, pod, metav1.UpdateOptions{})
```

## Use instead
```go
pod = pod.DeepCopy()
pod.Labels["synced"] = "true"
```
There is no automatic fix: `DeepCopy` is generated per type, and where the object goes next
decides whether it should be copied or built anew.

## When it is a false alarm
When the "lister" is not an informer's: the rule knows listers by name (a variable, field or
call whose name ends in `Lister`, or `.Lister()`) and stores by the informer methods that return
them, so a type of the program's own named that way, whose `Get` returns a fresh object, looks
the same. An object given any new value before the write (`pod = pod.DeepCopy()`, or another
`Get`) is not reported. Suppress with `//mapguard:ignore MG016 <reason>`.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from mapguard.lint.rule import Pass, Rule, Severity, is_support_code
from mapguard.source.mapwrites import map_writes, untyped_writes
from mapguard.source.package import FuncDecl, GoFile
from mapguard.source.typeinfo import LocalDecl, enclosing_function, unparen, walk
from mapguard.source.types import Named, deref

# Patterns that start with a literal, so that a search skips ahead to it:
# `podLister.Get(`, `c.nodeLister.List(`, `x.Lister().Get(`, `lister.Pods(ns).Get(`, and
_LISTER_CALL = re.compile(rb"ister(?:\(\))?(?:\.[A-Z]\w*\([^()]*\))?\.(?:Get|List)\(")
# `informer.GetStore().GetByKey(`, `GetIndexer().ByIndex(`.
_STORE_CALL = re.compile(rb"\.Get(?:Store|Indexer)\(\)\.(?:GetByKey|Get|List|ByIndex)\(")
_HANDLER_FIELDS = re.compile(rb"\b(?:AddFunc|UpdateFunc|DeleteFunc)\s*:")
_META_SETTERS = frozenset({"SetMetaDataLabel", "SetMetaDataAnnotation"})


def _chain_is_source(go_file: GoFile, call: Node) -> bool:
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return False
    method = function.child_by_field_name("field")
    operand = function.child_by_field_name("operand")
    if method is None or operand is None:
        return False
    name = go_file.text(method)
    text = go_file.text(operand)
    if operand.type == "call_expression" and text.endswith(("GetStore()", "GetIndexer()")):
        return name in {"Get", "List", "GetByKey", "ByIndex"}
    if name in {"Get", "List"}:
        # The lister itself, or a namespace lister of it: `l.Pods(ns)`.
        head = text
        if operand.type == "call_expression":
            inner = operand.child_by_field_name("function")
            head = go_file.text(inner) if inner is not None else text
            if head.endswith(".Lister"):
                return True
            if inner is not None and inner.type == "selector_expression":
                base = inner.child_by_field_name("operand")
                head = go_file.text(base) if base is not None else head
        if head.endswith(".Lister()"):
            return True  # `x.Lister().Pods(ns)`
        last = re.split(r"[.\s]", head)[-1]
        return last.endswith(("Lister", "lister")) and not last.endswith("Listers")
    return name in {"GetByKey", "ByIndex"}


def _source_text(go_file: GoFile, call: Node) -> str:
    function = call.child_by_field_name("function")
    return "".join(go_file.text(function).split()) + "(...)" if function is not None else "?"


def _bindings(pass_: Pass, go_file: GoFile, expression: Node) -> list[tuple[LocalDecl, int]]:
    """The variable given what `expression` returns, and where that happens: `v, err :=
    expression`, `v = expression` (also a `var v` declared before), `var v = expression`, and
    the value variable of `for _, v := range expression`."""
    holder = expression.parent
    while holder is not None and holder.type in {"parenthesized_expression",
                                                  "type_assertion_expression"}:
        holder = holder.parent
    if holder is not None and holder.type == "range_clause":
        left = holder.child_by_field_name("left")
        names = left.named_children if left is not None else []
        found = pass_.info.resolve(names[1], go_file) if len(names) > 1 else None
        return [(found, holder.start_byte)] if isinstance(found, LocalDecl) else []
    if holder is None or holder.type != "expression_list":
        return []
    statement = holder.parent
    if statement is None or statement.type not in {"short_var_declaration",
                                                    "assignment_statement", "var_spec"}:
        return []
    left = statement.child_by_field_name("left") or statement.child_by_field_name("name")
    if left is None:
        return []
    first = left.named_children[0] if left.named_children else left
    if first.type != "identifier":
        return []
    found = pass_.info.resolve(first, go_file)
    return [(found, statement.end_byte)] if isinstance(found, LocalDecl) else []


def _root(node: Node) -> Node | None:
    node = unparen(node)
    while node.type in {"selector_expression", "index_expression", "unary_expression",
                        "type_assertion_expression", "parenthesized_expression"}:
        if node.type in {"selector_expression", "index_expression", "unary_expression"}:
            child = node.child_by_field_name("operand")
        else:
            child = node.named_children[0] if node.named_children else None
        if child is None:
            return None
        node = child
    return node if node.type == "identifier" else None


class _Tracker:
    """Variables of one function that hold a cached object, or a value copied from one."""

    def __init__(self, pass_: Pass, go_file: GoFile, function: Node) -> None:
        self.pass_ = pass_
        self.go_file = go_file
        self.function = function
        # id of a variable's declaration -> (the variable, where the object came from, the
        # end of the statement that gave it the object: a reassignment after it copies).
        self.held: dict[int, tuple[LocalDecl, str, int]] = {}

    def holds(self, node: Node) -> tuple[LocalDecl, str, int] | None:
        root = _root(node)
        if root is None:
            return None
        found = self.pass_.info.resolve(root, self.go_file)
        if isinstance(found, LocalDecl):
            return self.held.get(id(found.ident))
        return None

    def add(self, decl: LocalDecl, origin: str, bound_at: int) -> None:
        self.held.setdefault(id(decl.ident), (decl, origin, bound_at))

    def spread(self) -> None:
        """`for _, o := range objs`, `x := obj.ObjectMeta`, `p := obj.(*v1.Pod)`, `s := *o`,
        `labels := pod.Labels`, `a, b := x.(*Pod), y.(*Pod)`: still the cache's maps. Not
        `o.DeepCopy()` or any other call."""
        changed = True
        while changed:
            changed = False
            for node in walk(self.function):
                if node.type == "range_clause":
                    right = node.child_by_field_name("right")
                    left = node.child_by_field_name("left")
                    source = self.holds(right) if right is not None else None
                    if source is not None and left is not None and len(left.named_children) > 1:
                        changed |= self._take(left.named_children[1], source, node.start_byte)
                elif node.type == "short_var_declaration":
                    right = node.child_by_field_name("right")
                    left = node.child_by_field_name("left")
                    if right is None or left is None or not left.named_children:
                        continue
                    values = right.named_children
                    # `a, b := x, y` pairs by position; `p, ok := obj.(*Pod)` gives `p`.
                    pairs = (list(zip(left.named_children, values, strict=True))
                             if len(values) == len(left.named_children)
                             else [(left.named_children[0], values[0])] if len(values) == 1
                             else [])
                    for name, value in pairs:
                        value = unparen(value)
                        if value.type not in {"selector_expression", "unary_expression",
                                              "type_assertion_expression", "identifier",
                                              "index_expression"}:
                            continue  # a call (`o.DeepCopy()`) makes something new
                        source = self.holds(value)
                        if source is not None:
                            changed |= self._take(name, source, node.end_byte)

    def _take(self, name: Node, source: tuple[LocalDecl, str, int], bound_at: int) -> bool:
        found = self.pass_.info.resolve(name, self.go_file)
        if not isinstance(found, LocalDecl) or id(found.ident) in self.held or (
                self.copied_before(source[0], source[2], bound_at)):
            return False
        self.add(found, source[1], bound_at)
        return True

    def copied_before(self, decl: LocalDecl, bound_at: int, before: int) -> bool:
        """`obj = obj.DeepCopy()` (any reassignment) between the binding and `before`."""
        for node in walk(self.function):
            if node.type != "assignment_statement" or not (
                    bound_at <= node.start_byte < before):
                continue
            left = node.child_by_field_name("left")
            if left is None or not left.named_children:
                continue
            target = left.named_children[0]
            if target.type == "identifier" and self.pass_.info.resolve(
                    target, self.go_file) is decl:
                return True
        return False


def _handler_params(pass_: Pass, go_file: GoFile
                    ) -> list[tuple[GoFile, Node, list[LocalDecl]]]:
    """The functions given as AddFunc/UpdateFunc/DeleteFunc — a func literal, or a function
    or method of the package named there (`AddFunc: c.addPod`) — and their parameters: the
    informer's cached objects."""
    handlers: list[tuple[GoFile, Node, list[LocalDecl]]] = []
    for hit in _HANDLER_FIELDS.finditer(go_file.source):
        node = go_file.node_at(hit.start(), hit.start() + 3)
        while node is not None and node.type != "keyed_element":
            node = node.parent
        if node is None or not node.named_children:
            continue
        value = node.named_children[-1]
        while value.type == "literal_element" and value.named_children:
            value = value.named_children[0]
        where, function = go_file, value
        if value.type in {"selector_expression", "identifier"}:
            declaration = _handler_function(pass_, go_file, value)
            if declaration is None:
                continue
            where, function = declaration.file, declaration.file.complete(declaration.node)
        elif value.type != "func_literal":
            continue
        parameters = function.child_by_field_name("parameters")
        decls: list[LocalDecl] = []
        for parameter in parameters.named_children if parameters is not None else []:
            for name in parameter.children_by_field_name("name"):
                declared = pass_.info.resolve(name, where)
                if isinstance(declared, LocalDecl):
                    decls.append(declared)
        if decls:
            handlers.append((where, function, decls))
    return handlers


def _handler_function(pass_: Pass, go_file: GoFile, value: Node) -> FuncDecl | None:
    """The package's function (`onAdd`) or method (`c.onAdd`) a handler field names."""
    if value.type == "identifier":
        return pass_.package.func_named(go_file.text(value))
    field = value.child_by_field_name("field")
    operand = value.child_by_field_name("operand")
    owner = deref(pass_.info.type_of(operand, go_file)) if operand is not None else None
    if field is None or not isinstance(owner, Named) or owner.pkg != "":
        return None
    return pass_.package.method(owner.name, go_file.text(field))


def run(pass_: Pass) -> None:
    trackers: dict[tuple[int, int], _Tracker] = {}
    for go_file in pass_.package.files:
        source = go_file.source
        if go_file.is_test or not pass_.owns(go_file) or not any(
                marker in source for marker in RULE.markers) or is_support_code(
                go_file, pass_.package):
            continue
        hits = [*_LISTER_CALL.finditer(source), *_STORE_CALL.finditer(source)]
        for hit in hits:
            node = go_file.node_at(hit.end() - 1, hit.end())
            while node is not None and node.type != "call_expression":
                node = node.parent
            if node is None or not _chain_is_source(go_file, node):
                continue
            function = enclosing_function(node)
            if function is None:
                continue
            tracker = trackers.setdefault((id(go_file), function.start_byte),
                                          _Tracker(pass_, go_file, function))
            for decl, bound_at in _bindings(pass_, go_file, node):
                tracker.add(decl, f"from {_source_text(go_file, node)}, line "
                                  f"{node.start_point.row + 1}", bound_at)
        for where, function, decls in _handler_params(pass_, go_file):
            if not pass_.owns(where):
                continue
            tracker = trackers.setdefault((id(where), function.start_byte),
                                          _Tracker(pass_, where, function))
            for decl in decls:
                tracker.add(decl, "handed to an informer's event handler", function.start_byte)
    for tracker in trackers.values():
        tracker.spread()
        go_file, function = tracker.go_file, tracker.function
        for statement, target in _writes(pass_, go_file, function):
            held = tracker.holds(target)
            if held is None or target.type not in {"selector_expression", "identifier"}:
                continue
            decl, origin, bound_at = held
            if tracker.copied_before(decl, bound_at, statement.start_byte):
                continue
            pass_.report(go_file, statement, _message(go_file.text(target), origin))
        for node in walk(function):
            if node.type != "call_expression":
                continue
            callee = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            if callee is None or arguments is None or not arguments.named_children:
                continue
            name = go_file.text(callee).rsplit(".", 1)[-1]
            if name not in _META_SETTERS:
                continue
            held = tracker.holds(arguments.named_children[0])
            if held is None or tracker.copied_before(held[0], held[2], node.start_byte):
                continue
            pass_.report(go_file, node, _message(
                f"{go_file.text(callee)}(...)'s map", held[1]))


# The map fields of Kubernetes objects: a client-go type is another module's, whose fields'
# types are not read, so a write to one of these is known as a map write by its name.
KUBERNETES_MAP_FIELDS = frozenset({
    "Labels", "Annotations", "Data", "BinaryData", "StringData", "NodeSelector", "Selector",
    "MatchLabels", "Capacity", "Allocatable", "Limits", "Requests", "Parameters",
})


def _writes(pass_: Pass, go_file: GoFile, function: Node) -> list[tuple[Node, Node]]:
    """(statement, map expression) of every map write in the function: those `map_writes`
    types as maps, and index assignments and `delete`/`clear` calls on a field named in
    KUBERNETES_MAP_FIELDS whose type is not known."""
    found = {write.statement.start_byte: (write.statement, unparen(write.target))
             for write in map_writes(pass_.package, pass_.info, [(go_file, function)])}
    seen: set[int] = set()  # a statement's first written target only
    for statement, target in untyped_writes(function, go_file):
        if statement.start_byte in found or statement.start_byte in seen:
            continue
        seen.add(statement.start_byte)
        target = unparen(target)
        field = target.child_by_field_name("field") if target.type == (
            "selector_expression") else None
        if field is not None and go_file.text(field) in KUBERNETES_MAP_FIELDS:
            found[statement.start_byte] = (statement, target)
    return sorted(found.values(), key=lambda pair: pair[0].start_byte)


def _message(what: str, origin: str) -> str:
    return (f"`{what}` belongs to an object of a lister's or informer's cache ({origin}), and "
            "this writes it in place: the cache shares that object with the goroutine that "
            "fills it and every other reader, so the write races with them (`fatal error: "
            "concurrent map read and map write`; go test -race reports a DATA RACE) and changes "
            "what the cache believes the cluster holds. Call DeepCopy() first and write the copy")


RULE = Rule(
    code="MG016",
    name="cached-object-map-written",
    severity=Severity.WARNING,
    summary="a map of an object from a Kubernetes informer's cache (lister, store, event "
            "handler), written without DeepCopy",
    reports_at="the write (an index assignment, `delete`, `clear`, or a "
               "`SetMetaDataLabel`/`SetMetaDataAnnotation` call)",
    doc=__doc__ or "",
    run=run,
    # Few markers, each a search of every package's text: listers (`Lister`, `lister`), and
    # informers, whose stores and event handlers the rest is reached through.
    markers=(b"Lister", b"lister", b"nformer"),
    bodies=(_LISTER_CALL, _STORE_CALL, _HANDLER_FIELDS),
    in_tests=False,
)
