"""Fixtures for lint tests: throw-away Go modules written from inline sources."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.results import LintResult

WriteModule = Callable[..., Path]


@pytest.fixture
def write_module(tmp_path: Path) -> WriteModule:
    """write_module({"a.go": src, ...}, go="1.22") -> module directory."""

    def write(files: dict[str, str], go: str | None = "1.22", name: str = "mod") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        if go is not None:
            (root / "go.mod").write_text(f"module example.com/{name}\n\ngo {go}\n")
        for relative, source in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source).lstrip("\n"))
        return root

    return write


def lint_dir(root: Path, **options: object) -> LintResult:
    return lint([f"{root}/..."], LintOptions(jobs=1, **options))  # type: ignore[arg-type]


def findings_by_rule(result: LintResult, rule: str) -> list[tuple[str, int, int]]:
    return [(f.path.name, f.line, f.column) for f in result.findings if f.rule == rule]


def made_cache(directory: Path) -> Path:
    """`directory` with an empty result cache in it, as an earlier run leaves it: a run that
    finds no cache only makes one (`mapguard.lint.engine.lint_expansion`)."""
    from mapguard.lint.cache import LintCache

    LintCache(directory).close()
    return directory
