"""Parse the Go benchmark format (golang.org/design/14313-benchmark-format).

What `go test -bench` prints, and what benchstat reads::

    goos: linux                                      configuration line: key, colon, space, value
    pkg: example.com/cache
    Unit text-bytes assume=exact                     unit metadata line
    BenchmarkGet/size=1024-8  5000000  231.5 ns/op  0 B/op  0 allocs/op
                                                     result line: name, iterations, value-unit pairs

A configuration line sets its key for the results that follow it (an empty value unsets it). A
key starts with a lower-case letter and holds no space and no upper-case letter. A result's name
carries sub-benchmark parts (``/size=1024``) and the GOMAXPROCS suffix (``-8``). Values are
tidied as benchstat does: ``ns`` becomes ``sec`` and ``MB`` becomes ``B`` (``ns/op`` -> ``sec/op``,
``MB/s`` -> ``B/s``), so no table ever shows ``µns/op``. Every other line (``PASS``, ``ok``,
test logs) is not part of the format and is skipped. A line that starts like a result or unit
line but does not parse is kept as a `SyntaxProblem` with its line number: never guessed, never
dropped in silence.

Pure: text in, records out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

_BENCHMARK = "Benchmark"
_UNIT = "Unit"
# Go's strconv.Atoi and ParseFloat, decimal forms only (plus Inf and NaN, which ReportMetric
# can print); Python's int() and float() would also take "1_000" and surrounding spaces.
_INTEGER = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)",
    re.IGNORECASE,
)
_GOMAXPROCS = re.compile(r"-[0-9]+$")


@dataclass(frozen=True, slots=True)
class Measurement:
    value: float  # in `unit`, tidied
    unit: str  # tidied: "sec/op", "B/s", "B/op", "allocs/op", custom units
    original_value: float  # as the line wrote it
    original_unit: str


@dataclass(frozen=True, slots=True)
class BenchResult:
    """One result line, with the configuration in effect where it stood."""

    name: str  # without the "Benchmark" prefix: "Get/size=1024-8"
    iterations: int
    measurements: tuple[Measurement, ...]
    config: tuple[tuple[str, str], ...]  # file configuration, in the order the keys were set
    source: str  # the file (or label) it was read from
    line: int  # 1-based

    @property
    def base_name(self) -> str:
        """The benchmark function's name: "Get" for "Get/size=1024-8"."""
        return split_name(self.name)[0]

    def config_value(self, key: str) -> str:
        for name, value in self.config:
            if name == key:
                return value
        return ""

    def value(self, unit: str) -> float | None:
        for measurement in self.measurements:
            if measurement.unit == unit:
                return measurement.value
        return None


@dataclass(frozen=True, slots=True)
class UnitMetadata:
    unit: str  # tidied
    key: str  # "assume", "better", ...
    value: str
    source: str
    line: int


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class BenchFile:
    source: str
    results: tuple[BenchResult, ...]
    units: tuple[UnitMetadata, ...]
    problems: tuple[SyntaxProblem, ...]


def split_name(name: str) -> tuple[str, tuple[str, ...]]:
    """The base name and the parts after it, each with its leading "/" (or "-" for the
    GOMAXPROCS suffix, always last): "Get/size=1024-8" -> ("Get", ("/size=1024", "-8"))."""
    suffix = _GOMAXPROCS.search(name)
    # A name that is only "-8" has no suffix: the base would be empty.
    gomaxprocs = suffix.group() if suffix and suffix.start() > 0 else ""
    body = name[: len(name) - len(gomaxprocs)]
    pieces = body.split("/")
    parts = tuple("/" + piece for piece in pieces[1:])
    return pieces[0], (*parts, gomaxprocs) if gomaxprocs else parts


@functools.lru_cache(maxsize=1024)  # a file names a handful of units, on every line
def tidy_unit(unit: str) -> tuple[str, float]:
    """The unit benchstat shows and the factor to get there: ("ns/op") -> ("sec/op", 1e-9)."""
    if unit == "ns/op":
        return "sec/op", 1e-9
    if unit == "MB/s":
        return "B/s", 1e6
    if "ns" not in unit and "MB" not in unit:
        return unit, 1.0
    factor = 1.0
    pieces: list[str] = []
    for token, denominator in _unit_tokens(unit):
        if not denominator and token in ("ns", "MB"):
            factor = factor / 1e9 if token == "ns" else factor * 1e6
            pieces.append("sec" if token == "ns" else "B")
        else:
            pieces.append(token)
    return "".join(pieces), factor


def _unit_tokens(unit: str) -> Iterator[tuple[str, bool]]:
    """A unit cut into words and the separators between them (words that follow a "/" are in
    the denominator until a "*"); joining the pieces gives the unit back."""
    denominator = False
    for piece in re.split(r"([*/\-\s]+)", unit):
        if not piece:
            continue
        if re.fullmatch(r"[*/\-\s]+", piece):
            for char in piece:
                if char == "*":
                    denominator = False
                elif char == "/":
                    denominator = True
            yield piece, True  # a separator is never replaced
        else:
            yield piece, denominator


def parse_benchfmt(text: str, source: str = "<input>") -> BenchFile:
    """Results, unit metadata and problems of one file in the Go benchmark format."""
    parser = _Parser(source)
    for number, raw in enumerate(text.split("\n"), start=1):
        parser.line(raw.removesuffix("\r"), number)
    return BenchFile(source, tuple(parser.results), tuple(parser.units), tuple(parser.problems))


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.config: dict[str, str] = {}
        self.results: list[BenchResult] = []
        self.units: list[UnitMetadata] = []
        self.problems: list[SyntaxProblem] = []
        self._unit_values: dict[tuple[str, str], str] = {}

    def line(self, text: str, number: int) -> None:
        if text.startswith(_BENCHMARK):
            self._result(text, number)
            return
        if text.startswith(_UNIT):
            fields = text.split()
            if fields[0] == _UNIT:
                self._unit(fields[1:], number)
                return
        config = _config_line(text)
        if config is not None:
            key, value = config
            if value:
                self.config[key] = value
            else:
                self.config.pop(key, None)

    def _problem(self, number: int, message: str) -> None:
        self.problems.append(SyntaxProblem(self.source, number, message))

    def _result(self, text: str, number: int) -> None:
        fields = text[len(_BENCHMARK):].split()
        if len(fields) < 2:
            # "BenchmarkFoo" alone is what -v prints before a benchmark's logs: not a result.
            return
        name, iterations, pairs = fields[0], fields[1], fields[2:]
        if not _INTEGER.fullmatch(iterations):
            self._problem(number, f"parsing iteration count: invalid syntax: {iterations!r}")
            return
        if not pairs:
            self._problem(number, "missing measurements")
            return
        measurements = []
        for index in range(0, len(pairs), 2):
            value = pairs[index]
            if not _FLOAT.fullmatch(value):
                self._problem(number, f"parsing measurement: invalid syntax: {value!r}")
                return
            if index + 1 >= len(pairs):
                self._problem(number, "missing units")
                return
            unit = pairs[index + 1]
            tidied, factor = tidy_unit(unit)
            measurements.append(Measurement(float(value) * factor, tidied, float(value), unit))
        self.results.append(BenchResult(
            name, int(iterations), tuple(measurements), tuple(self.config.items()), self.source,
            number,
        ))

    def _unit(self, fields: list[str], number: int) -> None:
        if not fields:
            self._problem(number, "missing unit")
            return
        unit = tidy_unit(fields[0])[0]
        for field in fields[1:]:
            key, equals, value = field.partition("=")
            if not equals or not key:
                self._problem(number, f"expected key=value, got {field!r}")
                continue
            known = self._unit_values.get((unit, key))
            if known is not None:
                if known != value:
                    self._problem(number, f"metadata {key} of unit {fields[0]} already set to "
                                          f"{known}")
                continue
            self._unit_values[(unit, key)] = value
            self.units.append(UnitMetadata(unit, key, value, self.source, number))


def _config_line(text: str) -> tuple[str, str] | None:
    """(key, value) of a configuration line, None for any other line."""
    colon = text.find(":")
    if colon <= 0:
        return None
    key = text[:colon]
    if not key[0].islower() or any(char.isspace() or char.isupper() for char in key):
        return None
    rest = text[colon + 1:]
    if not rest:
        return key, ""
    value = rest.lstrip(" \t")
    # "key:value" with no blank after the colon is not a configuration line.
    return (key, value) if len(value) < len(rest) else None
