"""What a rule is, what it may read (`Pass`), and what it reports (`Finding`, `Fix`).

Modelled on golang.org/x/tools/go/analysis: a rule is a value that declares its metadata, its
*markers* — literal bytes without which a package cannot hold a finding (`delete(`, `.Put(`,
`go:linkname`...), so the engine skips the rule there — its *anchors* — regular expressions,
each starting with a literal, that `Pass.candidates()` turns into syntax nodes — and a
`run(pass)` function. The engine owns parsing, scheduling, suppression, caching and output.
Searching text for a literal is orders of magnitude cheaper than visiting every node of every
tree, and it is what keeps a whole standard library within a gofmt run's time.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tree_sitter import Node

from mapguard.goversion import GoVersion
from mapguard.source.gomod import GoModule
from mapguard.source.package import GoFile, Package
from mapguard.source.typeinfo import TypeInfo

if TYPE_CHECKING:  # profile evidence is read only with `lint --profile`
    from mapguard.lint.measured import ProfileEvidence


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace bytes [start, end) of a file with `text`; positions are 1-based for display."""

    start: int
    end: int
    text: str
    line: int
    column: int
    end_line: int
    end_column: int

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "end_line": self.end_line,
                "end_column": self.end_column, "text": self.text,
                "start_byte": self.start, "end_byte": self.end}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Edit:
        return cls(data["start_byte"], data["end_byte"], data["text"], data["line"],
                   data["column"], data["end_line"], data["end_column"])


@dataclass(frozen=True, slots=True)
class Fix:
    """Edits that carry out a finding's advice. Like ruff's, a fix is *safe* when it keeps the
    program's meaning in every case; `--fix` applies only safe fixes unless asked for more."""

    description: str
    edits: tuple[Edit, ...]
    safe: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"description": self.description, "safety": "safe" if self.safe else "unsafe",
                "edits": [e.to_json() for e in self.edits]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fix:
        return cls(data["description"], tuple(Edit.from_json(e) for e in data["edits"]),
                   data.get("safety", "safe") == "safe")


@dataclass(frozen=True, slots=True)
class Measured:
    """What a profile (`lint --profile`) measured at a finding's site."""

    status: str  # "measured"; "not-profiled": no samples in the package; "changed": the
    # profiled build of the function differs from the source, so its lines are not joined
    value: int = 0
    unit: str = ""
    sample_type: str = ""
    share: float = 0.0  # of the profile's total
    per_second: float | None = None  # when the profile covers a known duration
    lines: tuple[int, ...] = ()  # the lines whose cost is the finding's
    demoted: bool = False  # speed advice at a site the profile shows cold
    detail: str = ""  # what the status means for this finding, in words

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "value": self.value, "unit": self.unit,
                "sample_type": self.sample_type, "share": round(self.share, 6),
                "per_second": (round(self.per_second, 3) if self.per_second is not None
                               else None),
                "lines": list(self.lines), "demoted": self.demoted, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem a rule reports, at a span of a file, with its message and fix."""

    rule: str
    name: str
    severity: Severity
    path: Path  # absolute
    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    fix: Fix | None = None
    measured: Measured | None = None  # with `lint --profile` only; never cached

    def to_json(self) -> dict[str, Any]:
        data = {"rule": self.rule, "name": self.name, "severity": str(self.severity),
                "path": str(self.path), "line": self.line, "column": self.column,
                "end_line": self.end_line, "end_column": self.end_column,
                "message": self.message, "fix": self.fix.to_json() if self.fix else None}
        if self.measured is not None:
            data["measured"] = self.measured.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        fix = Fix.from_json(data["fix"]) if data.get("fix") else None
        return cls(data["rule"], data["name"], Severity(data["severity"]), Path(data["path"]),
                   data["line"], data["column"], data["end_line"], data["end_column"],
                   data["message"], fix)

    @property
    def sort_key(self) -> tuple[str, int, int, str]:
        return (str(self.path), self.line, self.column, self.rule)


@dataclass(frozen=True, slots=True)
class Trigger:
    """A text pattern with a cheap second look at each hit (`accept`), for places a regular
    expression alone cannot narrow without losing its fast literal search."""

    pattern: re.Pattern[bytes]
    accept: Callable[[bytes, re.Match[bytes]], bool]

    def finditer(self, source: bytes) -> Iterator[re.Match[bytes]]:
        return (hit for hit in self.pattern.finditer(source) if self.accept(source, hit))

    def search(self, source: bytes, position: int) -> re.Match[bytes] | None:
        while (hit := self.pattern.search(source, position)) is not None:
            if self.accept(source, hit):
                return hit
            position = hit.end()
        return None


TextPattern = re.Pattern[bytes] | Trigger


@dataclass(frozen=True, slots=True)
class Rule:
    """A lint rule: what it reports and where, its documentation, and the `run` that finds it."""

    code: str  # MG001
    name: str  # rebuild-instead-of-clear
    severity: Severity
    summary: str  # one line, for `mapguard rules`
    doc: str  # the explain text: what / why / example / instead / false alarms (markdown)
    run: Callable[[Pass], None]
    reports_at: str = ""  # the node a finding's position names (docs/rules.md)
    markers: tuple[bytes, ...] = ()  # one must occur in the package, else skip; (): always run
    # One of these must also occur in the package (looked for in the package's text only, not
    # per file as `markers` are for candidates); (): no such condition.
    requires_any: tuple[bytes, ...] = ()
    anchors: tuple[TextPattern, ...] = ()  # where candidates() looks; literal-first
    # The function bodies worth parsing for this rule: those where one of these matches.
    # None: every body. Only a matter of speed: a body left out is parsed when asked about.
    bodies: tuple[TextPattern, ...] | None = None
    # The Go version below which the rule reports nothing (its advice needs it); the report
    # names the rules a module's Go version silences. A rule that still reports on older code,
    # with other advice, leaves this None and asks `Pass.allows` per piece of advice.
    needs: GoVersion | None = None
    # False: advice about speed or style, which test and tool code do not need, or a leak that
    # there reaches only other tests (MG006); the engine drops the rule's findings there
    # (`is_support_code`) unless the user asks for them.
    in_support_code: bool = True
    # False: the rule reports nothing in _test.go files (tests run under `go test -race`, which
    # judges races there better), so it neither looks at candidates there nor has their bodies
    # parsed up front.
    in_tests: bool = True
    # Codes of rules whose finding inside this rule's reported node is the same problem: the
    # engine keeps only this rule's (MG001's `clear` makes MG002's size hint moot).
    supersedes: tuple[str, ...] = ()
    # Fires only on a profile's evidence (`lint --profile`): without one the engine skips it,
    # and where another rule reports the same line, that finding carries the evidence.
    evidence_only: bool = False
    # False: `mapguard lint` runs the rule only when asked (`--select`, `--extend-select`,
    # `select`/`extend-select` in the configuration) or on a profile's evidence (`--profile`:
    # then only what the profile shows hot counts). For advice whose worth depends on how
    # often the code runs and how large its maps get, which the source does not say: on real
    # trees most such findings were true but not worth telling (docs/review/).
    on_by_default: bool = True
    # True: the rule analyses the package as one (a model of all its goroutines) rather than
    # candidate by candidate, so a split package runs it once, in one shard, for every file,
    # instead of building the same model in each shard.
    whole_package: bool = False

    def applies_to(self, text: bytes) -> bool:
        """Whether the text of a package (all its files joined) holds one of the markers, and
        one of `requires_any`."""
        return self.applies_if(text.__contains__)

    def applies_if(self, holds: Callable[[bytes], bool]) -> bool:
        """`applies_to`, with `holds` saying whether the package's text holds a marker (the
        engine asks each marker once per package: several rules share theirs)."""
        return (not self.markers or any(holds(marker) for marker in self.markers)) and (
            not self.requires_any or any(holds(marker) for marker in self.requires_any))


@dataclass(frozen=True, slots=True)
class Match:
    """One hit of an anchor: the smallest named node that covers the matched text."""

    file: GoFile
    node: Node
    start: int
    end: int


@dataclass(slots=True)
class Pass:
    """What one rule may read while analysing one package, and where it reports."""

    rule: Rule
    package: Package
    info: TypeInfo
    findings: list[Finding] = field(default_factory=list)
    # When a large package is split across workers: the files whose candidates this pass
    # checks (the rest are there to be looked up). None: every file.
    shard: frozenset[Path] | None = None
    # What a profile measured (`lint --profile`), for the rules that fire on evidence.
    evidence: ProfileEvidence | None = None

    def owns(self, go_file: GoFile) -> bool:
        """Whether candidates in `go_file` are this pass's to check."""
        return self.shard is None or go_file.path in self.shard

    @property
    def go_version(self) -> GoVersion:
        return self.package.go_version

    def allows(self, version: GoVersion) -> bool:
        """Whether the package's Go version permits advice that needs `version`."""
        return self.package.go_version >= version

    def report(
        self,
        go_file: GoFile,
        node: Node,
        message: str,
        *,
        fix: Fix | None = None,
        severity: Severity | None = None,
        end: Node | None = None,
    ) -> None:
        last = end or node
        self.findings.append(Finding(
            rule=self.rule.code,
            name=self.rule.name,
            severity=severity or self.rule.severity,
            path=go_file.path,
            line=node.start_point.row + 1,
            column=node.start_point.column + 1,
            end_line=last.end_point.row + 1,
            end_column=last.end_point.column + 1,
            message=message,
            fix=fix,
        ))

    def candidates(self) -> Iterator[Match]:
        """The nodes at the rule's anchor hits, in the files that hold one of its markers."""
        markers = self.rule.markers
        files = [f for f in self.package.files
                 if self.owns(f) and (self.rule.in_tests or not f.is_test)
                 and (not markers or any(m in f.source for m in markers))]
        for anchor in self.rule.anchors:
            yield from self.find(anchor, files)

    def find(self, pattern: TextPattern, files: list[GoFile] | None = None
             ) -> Iterator[Match]:
        """The nodes at the hits of any pattern (group "at" narrows the hit, when present)."""
        regex = pattern.pattern if isinstance(pattern, Trigger) else pattern
        narrow = "at" in regex.groupindex
        for go_file in self.package.files if files is None else files:
            for hit in pattern.finditer(go_file.source):
                start, end = hit.span("at") if narrow else hit.span()
                node = go_file.node_at(start, end)
                if node is not None:
                    yield Match(go_file, node, start, end)


def is_support_code(go_file: GoFile, package: Package | None = None) -> bool:
    """Test or tool code, where advice about speed is noise: a _test.go file, a helper that
    imports "testing", or a file of a support package (`is_support_package`)."""
    if go_file.path.name.endswith("_test.go") or "testing" in go_file.imports.values():
        return True
    return package is not None and is_support_package(package)


# `import "testing"` (or `import t "testing"`) in the import block before the first function.
# (`_` and `.` imports do not count: `GoFile.imports` leaves them out.)
_IMPORTS_TESTING = re.compile(
    rb'^(?:import[ \t]+|[ \t]+)(?:(?:[A-Za-z]\w*|_\w+)[ \t]+)?"testing"', re.M)


def looks_like_support_file(path: Path, source: bytes) -> bool:
    """`is_support_code` judged on the text before parsing (the file's own part of it): a
    _test.go file, or one whose imports name "testing". Used only to choose which function
    bodies to parse up front, so a rare miss costs time, never a finding."""
    if path.name.endswith("_test.go"):
        return True
    header_end = source.find(b"\nfunc ")
    return _IMPORTS_TESTING.search(source, 0, header_end if header_end >= 0 else len(source)) \
        is not None


# Directories of test support (`tests`, `testutil`, `mocks`...; also any name ending in `test`
# as `httptest` and `fstest` do) and of tooling (`tools`, `hack`, `scripts`, `examples`...).
_SUPPORT_DIRS = frozenset({"test", "tests", "testutil", "testutils", "testhelper",
                           "testhelpers", "testing", "mock", "mocks", "fake", "fakes", "tools",
                           "tool", "hack", "scripts", "examples", "example", "docs"})
_NOT_TEST_WORDS = frozenset({"latest", "greatest", "fastest", "shortest", "attest", "contest",
                             "protest"})


def is_support_package(package: Package) -> bool:
    """Judged on the package's path inside its module (never on where the checkout lives)."""
    return is_support_directory(package.directory, package.module)


def is_support_directory(directory: Path, module: GoModule | None) -> bool:
    """`is_support_package` for a directory, before its files are parsed."""
    try:
        inside = directory.relative_to(module.root) if module is not None else None
    except ValueError:
        inside = None
    parts = (*module.path.split("/"), *inside.parts) if module is not None and inside else (
        (directory.name,))
    return any(part in _SUPPORT_DIRS or (
        len(part) > 4 and part.endswith("test") and part not in _NOT_TEST_WORDS)
        for part in parts)


def edit(go_file: GoFile, start: Node | int, end: Node | int, text: str) -> Edit:
    """An edit replacing the bytes from `start` to `end` (nodes mean their start/end)."""
    start_byte = start.start_byte if isinstance(start, Node) else start
    end_byte = end.end_byte if isinstance(end, Node) else end
    line, column = _position(go_file.source, start_byte)
    end_line, end_column = _position(go_file.source, end_byte)
    return Edit(start_byte, end_byte, text, line, column, end_line, end_column)


def _position(source: bytes, offset: int) -> tuple[int, int]:
    line_start = source.rfind(b"\n", 0, offset) + 1
    return source.count(b"\n", 0, offset) + 1, offset - line_start + 1
