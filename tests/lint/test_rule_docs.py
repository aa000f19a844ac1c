"""docs/rules.md is generated from the rules' own metadata and explain texts, and stays so."""

from __future__ import annotations

from pathlib import Path

from mapguard.lint.registry import ALL_RULES
from mapguard.lint.ruledocs import main, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def test_rules_md_matches_the_rules() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/rules.md is stale: run python -m mapguard.lint.ruledocs docs/rules.md")


def test_every_rule_says_where_it_reports_and_explains_itself() -> None:
    text = render()
    for rule in ALL_RULES:
        assert rule.reports_at, rule.code
        assert f"## {rule.code} {rule.name}" in text
        assert rule.doc.strip().splitlines()[-1] in text


def test_check_mode_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "rules.md"
    assert main([str(stale)]) == 0 and main(["--check", str(stale)]) == 0
    stale.write_text(render().replace("MG001", "MG999", 1))
    assert main(["--check", str(stale)]) == 1
    assert main(["--check", str(tmp_path / "missing.md")]) == 1
