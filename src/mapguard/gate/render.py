"""The gate's verdict as text, JSON, a Markdown step summary and SARIF 2.1.0."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mapguard import __version__
from mapguard.gate.checks import ERROR, FAIL, CheckResult, Violation
from mapguard.lint.output import INFORMATION_URI, SARIF_SCHEMA

_MARKS = {"pass": "✅", "fail": "❌", "error": "⚠️"}
_RULES = {
    "new-heap-map": "A map allocation site the compiler puts on the heap, new since the base.",
    "bench-regression": "A benchmark verdict that breaks a --fail-on rule.",
    "profile-budget": "A profile measurement over its budget.",
}


def outcome(results: Sequence[CheckResult]) -> str:
    if any(r.status == ERROR for r in results):
        return ERROR
    return FAIL if any(r.status == FAIL for r in results) else "pass"


def exit_status(results: Sequence[CheckResult]) -> int:
    return {"pass": 0, FAIL: 1, ERROR: 2}[outcome(results)]


def _violation_json(v: Violation) -> dict[str, Any]:
    return {"rule": v.rule, "message": v.message, "file": v.file, "line": v.line,
            "column": v.column, "level": v.level}


def render_json(results: Sequence[CheckResult], base: str | None) -> dict[str, Any]:
    return {"outcome": outcome(results), "base": base, "checks": [
        {"check": r.name, "status": r.status, "summary": r.summary,
         "violations": [_violation_json(v) for v in r.violations]} for r in results]}


def render_text(results: Sequence[CheckResult]) -> str:
    lines = []
    for result in results:
        lines.append(f"{result.status.upper():5} {result.name}: {result.summary}")
        for v in result.violations:
            where = f"{v.file}:{v.line}: " if v.file and v.line else ""
            lines.append(f"      {where}{v.message}")
    lines.append(f"gate: {outcome(results)}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def render_markdown(results: Sequence[CheckResult], base: str | None) -> str:
    state = outcome(results)
    head = {"pass": "passed", FAIL: "failed", ERROR: "could not decide"}[state]
    lines = [f"### {_MARKS[state]} mapguard gate {head}"
             + (f" (against `{_md(base)}`)" if base else ""), "",
             "| check | result | summary |", "|---|---|---|"]
    for result in results:
        lines.append(f"| {result.name} | {_MARKS[result.status]} {result.status} | "
                     f"{_md(result.summary)} |")
    details = [(r.name, v) for r in results for v in r.violations]
    if details:
        lines += ["", "| check | where | what |", "|---|---|---|"]
        for name, v in details[:100]:
            where = f"`{_md(v.file)}:{v.line}`" if v.file and v.line else ""
            lines.append(f"| {name} | {where} | {_md(v.message)} |")
        if len(details) > 100:
            lines.append(f"\n{len(details) - 100} more in the JSON or SARIF output.")
    return "\n".join(lines) + "\n"


def render_sarif(results: Sequence[CheckResult], root: Path) -> dict[str, Any]:
    from mapguard.lint.registry import ALL_RULES

    lint_rules = {rule.code: rule for rule in ALL_RULES}
    used = sorted({v.rule for r in results for v in r.violations})
    rules = []
    for rule_id in used:
        lint_rule = lint_rules.get(rule_id)
        text = lint_rule.summary if lint_rule else _RULES.get(rule_id, rule_id)
        rules.append({"id": rule_id, "name": lint_rule.name if lint_rule else rule_id,
                      "shortDescription": {"text": text}})
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    sarif_results = []
    for result in results:
        for v in result.violations:
            entry: dict[str, Any] = {"ruleId": v.rule, "ruleIndex": index[v.rule],
                                     "level": v.level, "message": {"text": v.message}}
            if v.file:
                region = {"startLine": v.line or 1}
                if v.column:
                    region["startColumn"] = v.column
                entry["locations"] = [{"physicalLocation": {
                    "artifactLocation": {"uri": v.file, "uriBaseId": "%SRCROOT%"},
                    "region": region}}]
            sarif_results.append(entry)
    notifications = [{"level": "error", "message": {"text": f"{r.name}: {r.summary}"}}
                     for r in results if r.status == ERROR]
    return {
        "$schema": SARIF_SCHEMA, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "mapguard gate", "version": __version__,
                                "informationUri": INFORMATION_URI, "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root.resolve().as_uri() + "/"}},
            "invocations": [{"executionSuccessful": not notifications,
                             "toolExecutionNotifications": notifications}],
            "results": sarif_results,
        }],
    }
