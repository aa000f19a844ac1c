"""Lint reports: text with code frames, JSON (docs/lint.md, "Output"), SARIF 2.1.0, GitHub
commands."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mapguard import __version__
from mapguard.clikit import counted
from mapguard.lint.registry import PROFILE_RANKED
from mapguard.lint.results import FileNote, LintResult, VersionNote
from mapguard.lint.rule import Finding, Rule, Severity

if TYPE_CHECKING:  # the escape join pulls in the compiler-output parser: only with --escape
    from mapguard.lint.escape_join import Annotations

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
GITHUB_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
INFORMATION_URI = "https://github.com/mapguard/mapguard"
# Code frames show at most this many characters of a line, this many before the caret.
FRAME_WIDTH = 160
FRAME_CONTEXT = 40


def display_path(path: Path, cwd: Path) -> str:
    """Relative to the current directory when the file is under it, otherwise absolute."""
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return str(path)


class SourceLines:
    """Reads source lines for code frames and SARIF columns, each file once."""

    def __init__(self) -> None:
        self._files: dict[Path, list[str]] = {}

    def line(self, path: Path, number: int) -> str | None:
        if path not in self._files:
            try:
                self._files[path] = path.read_bytes().decode("utf-8", "replace").split("\n")
            except OSError:
                self._files[path] = []
        lines = self._files[path]
        return lines[number - 1] if 0 < number <= len(lines) else None


def render_text(result: LintResult, cwd: Path, *, color: bool = False,
                escape: Annotations | None = None) -> str:
    lines_of = SourceLines()
    out: list[str] = []
    if result.evidence is not None:
        out.extend(_profile_head(result))
    cold_header = False
    for finding in result.findings:
        if finding.measured is not None and finding.measured.demoted and not cold_header:
            cold_header = True
            assert result.evidence is not None
            out.append(f"cold in the profile (below {result.evidence.threshold_text}): speed "
                       "advice demoted, not counted in the exit status")
            out.append("")
        location = f"{display_path(finding.path, cwd)}:{finding.line}:{finding.column}"
        head = f"{location}: {finding.rule} [{finding.severity}] {finding.message}"
        if color:
            colour = {"error": "red", "warning": "yellow", "info": "cyan"}[str(finding.severity)]
            head = (click.style(location, bold=True) + ": "
                    + click.style(f"{finding.rule} [{finding.severity}]", fg=colour)
                    + f" {finding.message}")
        out.append(head)
        out.extend(_code_frame(finding, lines_of))
        if finding.measured is not None:
            out.append(f"    measured: {finding.measured.detail}")
        if escape is not None and finding in escape:
            from mapguard.lint.escape_join import describe

            out.append(f"    escape: {describe(escape[finding])}")
        if finding.fix is not None:
            how = "mapguard lint --fix" if finding.fix.safe else \
                "unsafe: mapguard lint --fix --unsafe-fixes"
            out.append(f"    fix available: {finding.fix.description} ({how})")
        out.append("")
    out.append(summary_line(result))
    speed = [code for code in result.off_by_default if code in PROFILE_RANKED]
    unproven = [code for code in result.off_by_default if code not in PROFILE_RANKED]
    if speed:
        out.append(f"Off by default: {', '.join(speed)} (speed advice that pays only where "
                   f"code runs often): --extend-select {','.join(speed)} turns them on, "
                   "--profile FILE turns them on where a profile shows the code hot.")
    if unproven:
        out.append(f"Off by default: {', '.join(unproven)} (races whose proof that a map is "
                   "shared is that other code can reach it, too often false on real code): "
                   f"--extend-select {','.join(unproven)} turns "
                   f"{'it' if len(unproven) == 1 else 'them'} on.")
    return "\n".join(out)


def _code_frame(finding: Finding, lines_of: SourceLines) -> list[str]:
    text = lines_of.line(finding.path, finding.line)
    if text is None:
        return []
    expanded = text.replace("\t", "    ")
    # Byte column -> position in the tab-expanded line, for the caret.
    prefix = text.encode()[: finding.column - 1].decode("utf-8", "replace")
    start = len(prefix.replace("\t", "    "))
    if finding.end_line == finding.line:
        end_prefix = text.encode()[: finding.end_column - 1].decode("utf-8", "replace")
        width = max(1, len(end_prefix.replace("\t", "    ")) - start)
    else:
        width = max(1, len(expanded.rstrip()) - start)
    shown, start, width = _window(expanded, start, width)
    gutter = f"{finding.line:>5} | "
    return [f"{gutter}{shown}", f"{' ' * (len(gutter) - 2)}| {' ' * start}{'^' * width}"]


def _window(line: str, start: int, width: int) -> tuple[str, int, int]:
    """A line cut to FRAME_WIDTH characters around the caret (generated code and minified
    tables have lines of megabytes), with `…` where it was cut; the caret moved to match."""
    if len(line) <= FRAME_WIDTH:
        return line, start, width
    first = max(0, min(start - FRAME_CONTEXT, len(line) - FRAME_WIDTH))
    last = first + FRAME_WIDTH
    shown = ("…" if first else "") + line[first:last] + ("…" if last < len(line) else "")
    caret = start - first + (1 if first else 0)
    return shown, caret, max(1, min(width, last - start))


def _profile_head(result: LintResult) -> list[str]:
    evidence = result.evidence
    assert evidence is not None
    from mapguard.lint.measured import human

    lines = [f"profile {evidence.source}: {evidence.kind}, {evidence.sample_type}, total "
             f"{human(evidence.total, evidence.unit)}; findings ranked by their sites' "
             f"cost; hot from {evidence.threshold_text}"]
    lines.extend(f"profile note: {note}" for note in evidence.notes)
    lines.append("")
    return lines


def summary_line(result: LintResult) -> str:
    counts = Counter(str(f.severity) for f in result.findings)
    detail = ", ".join(counted(counts[s], s) for s in ("error", "warning") if counts[s])
    if counts["info"]:
        detail += f"{', ' if detail else ''}{counts['info']} info"
    found = counted(len(result.findings), "finding")
    text = f"{found}{f' ({detail})' if detail else ''} in {counted(result.files, 'file')}"
    if result.errors:
        text += f"; {counted(len(result.errors), 'file')} not analysed"
    cold = len(result.findings) - len(result.failing)
    if result.evidence is not None:
        text += f"; {cold} demoted as cold in the profile"
    assumed = "; ".join(_version_text(note) for note in result.versions)
    return f"{text}. {assumed}" if assumed else text


def _version_text(note: VersionNote) -> str:
    text = f"Go {note.version} assumed for {note.where} ({_version_source(note.source)})"
    if note.silenced:
        text += f", which silences {', '.join(note.silenced)} (their advice needs a newer Go)"
    return text


def _version_source(source: str) -> str:
    return {
        "go.mod": "its go.mod",
        "go.mod without go line": "its go.mod has no go line, which the go command reads as "
                                  "go 1.16",
        "flag": "--go-version",
        "toolchain": "no go.mod: the installed Go",
        "default": "no go.mod and no Go found: newest known",
    }.get(source, source)


def render_errors(result: LintResult, cwd: Path) -> str:
    return "\n".join(f"{display_path(e.path, cwd)}: {e.message}" for e in result.errors)


def render_notes(result: LintResult, cwd: Path) -> str:
    return "\n".join(f"{note_location(n, cwd)}: warning: {n.message}" for n in result.notes)


def note_location(note: FileNote, cwd: Path) -> str:
    where = display_path(note.path, cwd)
    return f"{where}:{note.line}" if note.line else where


def render_json(result: LintResult, cwd: Path, escape: Annotations | None = None
                ) -> dict[str, Any]:
    findings = []
    for finding in result.findings:
        data = finding.to_json()
        data["path"] = display_path(finding.path, cwd)
        if escape is not None:
            from mapguard.lint.escape_join import to_json as escape_json

            fact = escape.get(finding)
            data["escape"] = escape_json(fact) if fact is not None else None
        findings.append(data)
    return {
        "version": 1,
        "findings": findings,
        "files": result.files,
        "errors": [{"path": display_path(e.path, cwd), "message": e.message}
                   for e in result.errors],
        "go_versions": [{"module": v.where, "version": v.version, "source": v.source,
                         "silenced": list(v.silenced)}
                        for v in result.versions],
        "warnings": [{"path": display_path(n.path, cwd), "line": n.line or None,
                      "message": n.message} for n in result.notes],
        **({"profile": _profile_json(result)} if result.evidence is not None else {}),
    }


def _profile_json(result: LintResult) -> dict[str, Any]:
    evidence = result.evidence
    assert evidence is not None
    return {
        "source": evidence.source, "kind": evidence.kind, "sample_type": evidence.sample_type,
        "unit": evidence.unit, "total": evidence.total, "duration_ns": evidence.duration_ns,
        "hot_share": evidence.hot_share,
        "changed_functions": [{"function": c.function, "value": c.value, "why": c.why,
                               "path": str(c.path) if c.path else None}
                              for c in evidence.changed],
        "notes": list(evidence.notes),
    }


def render_sarif(result: LintResult, rules: Sequence[Rule], cwd: Path) -> dict[str, Any]:
    index = {rule.code: i for i, rule in enumerate(rules)}
    lines_of = SourceLines()
    results = []
    for finding in result.findings:
        uri = display_path(finding.path, cwd)
        demoted = finding.measured is not None and finding.measured.demoted
        entry: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": "note" if demoted else SARIF_LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": _artifact(uri, finding.path, cwd),
                "region": _region(finding.path, finding.line, finding.column, finding.end_line,
                                  finding.end_column, lines_of),
            }}],
        }
        if finding.rule in index:
            entry["ruleIndex"] = index[finding.rule]
        if finding.measured is not None:
            entry["properties"] = {"measured": finding.measured.to_json()}
        if finding.fix is not None:
            entry["fixes"] = [{
                "description": {"text": finding.fix.description},
                "artifactChanges": [{
                    "artifactLocation": _artifact(uri, finding.path, cwd),
                    "replacements": [{
                        "deletedRegion": _region(finding.path, e.line, e.column, e.end_line,
                                                 e.end_column, lines_of),
                        "insertedContent": {"text": e.text},
                    } for e in finding.fix.edits],
                }],
            }]
        results.append(entry)
    notifications = [{
        "level": level,
        "message": {"text": message},
        "locations": [{"physicalLocation": {
            "artifactLocation": _artifact(display_path(path, cwd), path, cwd)}}],
    } for level, path, message in [*(("error", e.path, e.message) for e in result.errors),
                                   *(("warning", n.path, n.message) for n in result.notes)]]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "mapguard",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_sarif_rule(rule) for rule in rules],
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": cwd.as_uri() + "/"}},
            "invocations": [{
                # A run that left files unanalysed did not succeed (SARIF 2.1.0 §3.20.14).
                "executionSuccessful": not result.errors,
                "toolExecutionNotifications": notifications,
            }],
            "results": results,
            "columnKind": "utf16CodeUnits",
        }],
    }


def _artifact(uri: str, path: Path, cwd: Path) -> dict[str, Any]:
    if Path(uri).is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": uri, "uriBaseId": "%SRCROOT%"}


def _region(path: Path, line: int, column: int, end_line: int, end_column: int,
            lines_of: SourceLines) -> dict[str, int]:
    """SARIF columns count UTF-16 code units; mapguard's count bytes, like Go's tools."""
    return {
        "startLine": line,
        "startColumn": _utf16_column(lines_of.line(path, line), column),
        "endLine": end_line,
        "endColumn": _utf16_column(lines_of.line(path, end_line), end_column),
    }


def _utf16_column(text: str | None, byte_column: int) -> int:
    if text is None:
        return byte_column
    prefix = text.encode("utf-8")[: byte_column - 1].decode("utf-8", "replace")
    return len(prefix.encode("utf-16-le")) // 2 + 1


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": rule.doc, "markdown": rule.doc},
        "defaultConfiguration": {"level": SARIF_LEVEL[rule.severity]},
        "properties": {"tags": ["go", "maps"]},
    }


def render_github(result: LintResult, cwd: Path) -> str:
    """GitHub Actions workflow commands: annotations on the pull request diff."""
    out = []
    for finding in result.findings:
        properties = ",".join([
            f"file={_escape_property(display_path(finding.path, cwd))}",
            f"line={finding.line}", f"col={finding.column}",
            f"endLine={finding.end_line}", f"endColumn={finding.end_column}",
            f"title={_escape_property(f'{finding.rule} {finding.name}')}",
        ])
        demoted = finding.measured is not None and finding.measured.demoted
        level = "notice" if demoted else GITHUB_LEVEL[finding.severity]
        measured = f" (measured: {finding.measured.detail})" if finding.measured else ""
        out.append(f"::{level} {properties}::{_escape_data(finding.message + measured)}")
    for error in result.errors:
        out.append(f"::error file={_escape_property(display_path(error.path, cwd))}::"
                   f"{_escape_data(error.message)}")
    for note in result.notes:
        line = f",line={note.line}" if note.line else ""
        out.append(f"::warning file={_escape_property(display_path(note.path, cwd))}{line}::"
                   f"{_escape_data(note.message)}")
    return "\n".join(out)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2)
