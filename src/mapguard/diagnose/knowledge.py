"""The root-cause library: `data/diagnose/causes.yaml`, read and checked.

Each entry names what must hold for a subject to be that cause (`requires`), which measurements
are its cost, what it is, how to fix it and where to read more. A user's own file can replace the
shipped one (`mapguard diagnose --knowledge FILE`); it is checked the same way, and a mistake is
one line naming the entry and the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mapguard.errors import InputError

KINDS = ("cost", "correctness")
OPS = ("create", "grow", "syncmap")
ORIGIN_KEYS = ("per_call", "sized", "in_loop")
_REQUIRES = ("lint", "measured", "origin", "stalls", "cpu")
_COSTS = ("bytes", "line_bytes", "stalls", "cpu")
_FIELDS = ("id", "rule", "kind", "title", "requires", "cost", "explanation", "fix",
           "references")


@dataclass(frozen=True, slots=True)
class Requires:
    lint: str | None = None  # a rule code, "none", or None (no condition)
    measured: tuple[str, ...] = ()
    origin: Mapping[str, bool] | None = None
    stalls: bool = False
    cpu: bool = False


@dataclass(frozen=True, slots=True)
class CostMeasures:
    bytes_ops: tuple[str, ...] = ()
    line_bytes: bool = False
    stalls: bool = False
    cpu: bool = False


@dataclass(frozen=True, slots=True)
class Reference:
    kind: str  # rule | doc | url
    target: str

    def text(self) -> str:
        if self.kind == "rule":
            return f"mapguard explain {self.target}"
        return self.target


@dataclass(frozen=True, slots=True)
class CauseEntry:
    id: str
    kind: str
    title: str
    requires: Requires
    cost: CostMeasures
    explanation: str
    fix: str
    references: tuple[Reference, ...]
    rule: str | None = None


def shipped_path() -> Path:
    return Path(str(resources.files("mapguard") / "data" / "diagnose" / "causes.yaml"))


def load_knowledge(path: Path | None = None) -> tuple[CauseEntry, ...]:
    """The causes of `path`, or of the shipped library."""
    source = path or shipped_path()
    try:
        text = source.read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise InputError(source, "is a directory", expected="a YAML file of causes") from None
    except FileNotFoundError:
        raise InputError(source, "no such file") from None
    except OSError as exc:
        raise InputError(source, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(source, "not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else None
        raise InputError(source, f"not YAML: {getattr(exc, 'problem', exc)}",
                         where=where) from None
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(
            data.get("causes"), list):
        raise InputError(source, "not a cause library", expected="version: 1 and a list of causes")
    entries = [_entry(source, index, item) for index, item in enumerate(data["causes"])]
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise InputError(source, f"cause {entry.id!r} is defined twice")
        seen.add(entry.id)
    return tuple(entries)


def _entry(source: Path, index: int, item: Any) -> CauseEntry:
    where = f"causes[{index}]"
    if not isinstance(item, dict):
        raise InputError(source, "expected a mapping", where=where)
    name = item.get("id")
    if isinstance(name, str):
        where = f"cause {name}"

    def fail(field: str, problem: str) -> InputError:
        return InputError(source, problem, where=f"{where}: {field}")

    unknown = sorted(set(item) - set(_FIELDS))
    if unknown:
        raise fail(unknown[0], f"unknown field (known: {', '.join(_FIELDS)})")
    for field in ("id", "kind", "title", "explanation", "fix"):
        if not isinstance(item.get(field), str) or not item[field].strip():
            raise fail(field, "missing, or not text")
    if item["kind"] not in KINDS:
        raise fail("kind", f"{item['kind']!r} is not one of {', '.join(KINDS)}")
    rule = item.get("rule")
    if rule is not None and not (isinstance(rule, str) and rule.startswith("MG")):
        raise fail("rule", "expected a rule code like MG001")
    requires = _requires(item.get("requires"), fail)
    cost = _cost(item.get("cost") or {}, fail)
    if item["kind"] == "cost" and cost == CostMeasures():
        raise fail("cost", "a cost cause needs at least one measurement")
    return CauseEntry(item["id"], item["kind"], item["title"].strip(), requires, cost,
                      " ".join(item["explanation"].split()), " ".join(item["fix"].split()),
                      _references(item.get("references") or [], fail), rule)


def _requires(value: Any, fail: Any) -> Requires:
    if not isinstance(value, dict) or not value:
        raise fail("requires", "expected a mapping of predicates")
    unknown = sorted(set(value) - set(_REQUIRES))
    if unknown:
        raise fail(f"requires.{unknown[0]}", f"unknown predicate (known: {', '.join(_REQUIRES)})")
    lint = value.get("lint")
    if lint is not None and not (isinstance(lint, str) and (lint == "none"
                                                            or lint.startswith("MG"))):
        raise fail("requires.lint", "expected a rule code or none")
    measured = value.get("measured") or []
    if not isinstance(measured, list) or any(op not in OPS for op in measured):
        raise fail("requires.measured", f"expected a list of ops ({', '.join(OPS)})")
    origin = value.get("origin")
    if origin is not None and (not isinstance(origin, dict) or any(
            key not in ORIGIN_KEYS or not isinstance(flag, bool) for key, flag in origin.items())):
        raise fail("requires.origin", f"expected true/false for {', '.join(ORIGIN_KEYS)}")
    for flag in ("stalls", "cpu"):
        if not isinstance(value.get(flag, False), bool):
            raise fail(f"requires.{flag}", "expected true or false")
    return Requires(lint, tuple(measured), origin, bool(value.get("stalls")),
                    bool(value.get("cpu")))


def _cost(value: Any, fail: Any) -> CostMeasures:
    if not isinstance(value, dict):
        raise fail("cost", "expected a mapping")
    unknown = sorted(set(value) - set(_COSTS))
    if unknown:
        raise fail(f"cost.{unknown[0]}", f"unknown measurement (known: {', '.join(_COSTS)})")
    ops = value.get("bytes") or []
    if not isinstance(ops, list) or any(op not in OPS for op in ops):
        raise fail("cost.bytes", f"expected a list of ops ({', '.join(OPS)})")
    for flag in ("line_bytes", "stalls", "cpu"):
        if not isinstance(value.get(flag, False), bool):
            raise fail(f"cost.{flag}", "expected true or false")
    return CostMeasures(tuple(ops), bool(value.get("line_bytes")), bool(value.get("stalls")),
                        bool(value.get("cpu")))


def _references(value: Any, fail: Any) -> tuple[Reference, ...]:
    if not isinstance(value, list):
        raise fail("references", "expected a list")
    found = []
    for item in value:
        if not isinstance(item, dict) or len(item) != 1:
            raise fail("references", "each reference is one of rule: X, doc: PATH, url: URL")
        ((kind, target),) = item.items()
        if kind not in ("rule", "doc", "url") or not isinstance(target, str):
            raise fail("references", "each reference is one of rule: X, doc: PATH, url: URL")
        found.append(Reference(kind, target))
    return tuple(found)
