"""Which results go together: tables, rows and columns by keys, as benchstat groups them.

Keys (benchstat's names):
    .name       the benchmark function's name ("Encode")
    .fullname   the whole name with sub-benchmark parts and GOMAXPROCS ("Encode/format=json-48")
    .file       the input's file name, or the label given as LABEL=FILE
    /KEY        a sub-benchmark part KEY=VALUE of the name; /gomaxprocs is the "-N" suffix
    KEY         a configuration line of the input ("goos", "note", ...)
    .config     every configuration key not named elsewhere

By default results are split into tables by `.config` (and unit), rows by `.fullname` and columns
by `.file`; the first column is the baseline of each row. A key named in one place is left out of
the general keys elsewhere (`--col /format` takes /format out of the row's `.fullname`), and
`--ignore` keys are left out of everything.

Filters are a subset of benchstat's: space-separated terms that must all match, each
``KEY:VALUE``, ``KEY:"quoted value"``, ``KEY:/regexp/`` or ``KEY:(V1 OR V2)``, optionally
negated with a leading ``-``; ``*`` matches everything. ``.unit`` terms select measurements.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mapguard.errors import UsageError
from mapguard.formats.benchfmt import BenchResult, Measurement, split_name

NAME, FULLNAME, FILE, CONFIG, UNIT = ".name", ".fullname", ".file", ".config", ".unit"
GOMAXPROCS = "/gomaxprocs"
_SPECIAL = (NAME, FULLNAME, FILE, CONFIG)

Field = tuple[str, str]  # (key, value)
Key = tuple[Field, ...]


def parse_keys(text: str, option: str) -> tuple[str, ...]:
    """A comma- or space-separated list of keys."""
    keys = tuple(key for key in re.split(r"[,\s]+", text.strip()) if key)
    for key in keys:
        if "@" in key:
            raise UsageError(f"{option} {key}: sort orders (@) are not supported; keys are "
                             f"ordered as they first appear")
        if key.startswith(".") and key not in _SPECIAL:
            raise UsageError(f"{option} {key}: unknown key (expected one of "
                             f"{', '.join(_SPECIAL)}, /NAME or a configuration key)")
        if key == "/":
            raise UsageError(f"{option}: '/' needs a sub-benchmark key name, e.g. /size")
    return keys


@dataclass(frozen=True, slots=True)
class Projection:
    table: tuple[str, ...] = (CONFIG,)
    row: tuple[str, ...] = (FULLNAME,)
    col: tuple[str, ...] = (FILE,)
    ignore: tuple[str, ...] = ()

    @property
    def _named(self) -> frozenset[str]:
        return frozenset((*self.table, *self.row, *self.col, *self.ignore))

    def table_key(self, result: BenchResult, label: str) -> Key:
        return self._project(self.table, result, label)

    def row_key(self, result: BenchResult, label: str) -> Key:
        return self._project(self.row, result, label)

    def col_key(self, result: BenchResult, label: str) -> Key:
        return self._project(self.col, result, label)

    def residue(self, result: BenchResult, label: str) -> Key:
        """What no key shows: results that differ only here land in one cell, which benchstat
        reports as "benchmarks vary in ..."."""
        named = self._named
        fields: list[Field] = []
        if FULLNAME not in named:
            fields.append((FULLNAME, self._fullname(result)))
        if FILE not in named:
            fields.append((FILE, label))
        if CONFIG not in named:
            fields += [(key, value) for key, value in result.config if key not in named]
        return tuple(fields)

    def _project(self, keys: Sequence[str], result: BenchResult, label: str) -> Key:
        fields: list[Field] = []
        for key in keys:
            if key == CONFIG:
                named = self._named
                fields += [(name, value) for name, value in result.config if name not in named]
            elif key == FULLNAME:
                fields.append((key, self._fullname(result)))
            elif key == NAME:
                fields.append((key, result.base_name))
            elif key == FILE:
                fields.append((key, label))
            elif key.startswith("/"):
                fields.append((key, name_part(result.name, key)))
            else:
                fields.append((key, result.config_value(key)))
        return tuple(fields)

    def _fullname(self, result: BenchResult) -> str:
        """The full name without the parts that keys name elsewhere."""
        named = self._named
        base, parts = split_name(result.name)
        kept = [base if NAME not in named else "*"]
        for part in parts:
            if part.startswith("-"):
                if GOMAXPROCS not in named:
                    kept.append(part)
                continue
            key = part.split("=", 1)[0]
            if "=" in part and key in named:
                continue
            kept.append(part)
        return "".join(kept)


def name_part(name: str, key: str) -> str:
    """The value of sub-benchmark key "/size" in "Get/size=1024-8" ("1024"); "" if absent."""
    _base, parts = split_name(name)
    if key == GOMAXPROCS and parts and parts[-1].startswith("-"):
        return parts[-1][1:]
    prefix = key + "="
    for part in parts:
        if part.startswith(prefix):
            return part[len(prefix):]
    return ""


def key_text(key: Key) -> str:
    """A key as a row or column label: its values, space-separated."""
    return " ".join(value for _name, value in key)


# --- filters --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Term:
    key: str
    values: tuple[str, ...]  # any of these, exactly
    pattern: re.Pattern[str] | None
    negated: bool

    def matches(self, value: str) -> bool:
        hit = (self.pattern.search(value) is not None if self.pattern is not None
               else value in self.values)
        return hit != self.negated


_TERM = re.compile(
    r'(?P<neg>-)?(?P<key>"[^"]*"|[^\s:"]+):'
    r'(?:/(?P<re>(?:[^/\\]|\\.)*)/|"(?P<quoted>[^"]*)"|\((?P<alts>[^()]*)\)|(?P<plain>[^\s()"]+))'
)


@dataclass(frozen=True, slots=True)
class Filter:
    terms: tuple[_Term, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Filter:
        terms: list[_Term] = []
        position = 0
        text = text.strip()
        while position < len(text):
            if text[position].isspace():
                position += 1
                continue
            if text[position] == "*" and (position + 1 == len(text)
                                          or text[position + 1].isspace()):
                position += 1
                continue
            match = _TERM.match(text, position)
            if match is None:
                raise UsageError(
                    f"--filter {text!r}: cannot read {text[position:]!r} (supported: KEY:VALUE, "
                    f'KEY:"VALUE", KEY:/REGEXP/, KEY:(A OR B), -TERM, *; terms separated by '
                    f"spaces must all match)"
                )
            terms.append(_term(match, text))
            position = match.end()
        return cls(tuple(terms))

    def keeps(self, result: BenchResult, label: str) -> bool:
        """Does the result pass every term that is not about units?"""
        return all(term.matches(_value_of(term.key, result, label))
                   for term in self.terms if term.key != UNIT)

    def keeps_unit(self, measurement: Measurement) -> bool:
        for term in self.terms:
            if term.key != UNIT:
                continue
            if not (term.matches(measurement.unit) or term.matches(measurement.original_unit)):
                return False
        return True


def _term(match: re.Match[str], text: str) -> _Term:
    key = match.group("key").strip('"')
    negated = match.group("neg") is not None
    if match.group("re") is not None:
        try:
            pattern = re.compile(match.group("re"))
        except re.error as exc:
            raise UsageError(f"--filter {text!r}: bad regular expression: {exc}") from None
        return _Term(key, (), pattern, negated)
    if match.group("alts") is not None:
        values = tuple(value.strip('"') for value in re.split(r"\s+OR\s+", match.group("alts"))
                       if value.strip())
        return _Term(key, values, None, negated)
    value = match.group("quoted") if match.group("quoted") is not None else match.group("plain")
    return _Term(key, (value,), None, negated)


def _value_of(key: str, result: BenchResult, label: str) -> str:
    if key == NAME:
        return result.base_name
    if key == FULLNAME:
        return result.name
    if key == FILE:
        return label
    if key.startswith("/"):
        return name_part(result.name, key)
    return result.config_value(key)
