"""The shipped cause library: complete, consistent, and its references lead somewhere real;
a user's library with a mistake fails in one line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.diagnose.knowledge import load_knowledge
from mapguard.errors import InputError
from mapguard.lint.registry import ALL_RULES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    found = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return found


def test_every_rule_has_a_cause_and_every_cost_cause_a_measurement() -> None:
    causes = load_knowledge()
    assert {c.rule for c in causes if c.rule} == {rule.code for rule in ALL_RULES}
    for cause in causes:
        assert cause.explanation and cause.fix and cause.references
        if cause.kind == "cost":
            measures = cause.cost
            assert measures.bytes_ops or measures.line_bytes or measures.stalls or measures.cpu
    # Rule-backed causes come first: a subject with a finding is named by its rule.
    first_without_rule = next(i for i, c in enumerate(causes) if c.rule is None)
    assert all(c.rule is None for c in causes[first_without_rule:])


def test_references_point_at_rules_and_headings_that_exist() -> None:
    codes = {rule.code for rule in ALL_RULES}
    for cause in load_knowledge():
        for reference in cause.references:
            if reference.kind == "rule":
                assert reference.target in codes
            elif reference.kind == "doc":
                path, _, anchor = reference.target.partition("#")
                document = DOCS.parent / path
                assert document.is_file(), reference.target
                assert anchor in _anchors(document.read_text()), reference.target


@pytest.mark.parametrize(("content", "message"), [
    ("version: 1\ncauses: [{id: x}]\n", "cause x: kind: missing"),
    ("version: 1\ncauses:\n  - {id: x, kind: cost, title: t, explanation: e, fix: f,\n"
     "     requires: {lint: MG001}, cost: {bytes: [explode]}}\n", "cost.bytes"),
    ("version: 1\ncauses:\n  - {id: x, kind: cost, title: t, explanation: e, fix: f,\n"
     "     requires: {weather: sunny}, cost: {cpu: true}}\n", "unknown predicate"),
    ("version: 2\ncauses: []\n", "not a cause library"),
    ("causes: [\n", "not YAML"),
])
def test_a_broken_library_is_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "causes.yaml"
    path.write_text(content)
    with pytest.raises(InputError, match=re.escape(message)) as raised:
        load_knowledge(path)
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)


def test_knowledge_option_with_bad_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe causes")
    for path, said in ((tmp_path / "missing" / "causes.yaml", "no such file"),
                       (tmp_path, "is a directory"), (binary, "not UTF-8")):
        assert main(["diagnose", "--bundle", str(bundle), "--knowledge", str(path)]) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
