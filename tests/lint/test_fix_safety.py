"""`--fix` writes only what it owns: never outside the tree it was given, atomically, with the
file's mode kept, and never over a file that changed since it was linted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mapguard.cli import main
from mapguard.lint import commands, fixes

DELETE_LOOP = """package p

func reset(m map[string]int) {
	for k := range m {
		delete(m, k)
	}
}
"""


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "go.mod").write_text("module example.com/repo\n\ngo 1.22\n")
    monkeypatch.chdir(root)
    return root


def fix(capsys: pytest.CaptureFixture[str], *targets: str) -> tuple[int, str, str]:
    status = main(["lint", "--no-cache", "--select", "MG003", "--fix", *targets])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_link_leaving_the_tree_is_linted_but_never_written(
        tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.go").write_text(DELETE_LOOP)
    (tree / "link.go").symlink_to(outside / "victim.go")
    for targets in (["./..."], ["link.go"], ["."]):
        status, out, err = fix(capsys, *targets)
        assert status == 1 and "link.go:4:2: MG003" in out  # still linted
        assert "link.go: links outside the linted tree" in err and "not fixed" in err
        assert (outside / "victim.go").read_text() == DELETE_LOOP
        assert (tree / "link.go").is_symlink()


def test_a_link_inside_the_tree_fixes_its_file_once(
        tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "real").mkdir()
    (tree / "real" / "p.go").write_text(DELETE_LOOP)
    (tree / "alias").mkdir()
    (tree / "alias" / "p.go").symlink_to(tree / "real" / "p.go")
    status, _, err = fix(capsys, "./...")
    assert "fixed 1 finding in 1 file" in err
    assert "clear(m)" in (tree / "real" / "p.go").read_text()
    assert (tree / "alias" / "p.go").is_symlink()
    assert status == 0


def test_the_write_is_a_rename_that_keeps_the_mode(
        tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tree / "p.go"
    path.write_text(DELETE_LOOP)
    path.chmod(0o640)
    inode = path.stat().st_ino
    status, _, err = fix(capsys, "./...")
    assert status == 0 and "fixed 1 finding" in err
    assert "clear(m)" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o640
    assert path.stat().st_ino != inode  # a new file renamed into place
    assert sorted(p.name for p in tree.iterdir()) == ["go.mod", "p.go"]  # no temporary left


def test_a_file_changed_after_linting_is_left_alone(
        tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    path = tree / "p.go"
    path.write_text(DELETE_LOOP)
    edited = DELETE_LOOP.replace("func reset", "// edited meanwhile\nfunc reset")
    real_lint = commands.lint_expansion

    def lint_then_edit(*args: Any, **kwargs: Any) -> Any:
        result = real_lint(*args, **kwargs)
        path.write_text(edited)  # someone saves the file between lint and fix
        return result

    monkeypatch.setattr(commands, "lint_expansion", lint_then_edit)
    _, _, err = fix(capsys, "./...")
    assert "p.go: changed on disk since it was linted: left alone" in err
    assert path.read_text() == edited


def test_a_file_changed_while_fixing_is_left_alone(
        tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    path = tree / "p.go"
    path.write_text(DELETE_LOOP)
    edited = DELETE_LOOP + "\n// saved by an editor\n"
    real_plan = fixes.plan_fixes

    def plan_then_edit(*args: Any, **kwargs: Any) -> Any:
        plan = real_plan(*args, **kwargs)
        path.write_text(edited)  # after the text was read, before the rename
        return plan

    # commands imports the fix writer when it fixes: the patched planner is the one it gets.
    monkeypatch.setattr(fixes, "plan_fixes", plan_then_edit)
    _, _, err = fix(capsys, "./...")
    assert "changed on disk since it was linted" in err
    assert path.read_text() == edited
    assert sorted(p.name for p in tree.iterdir()) == ["go.mod", "p.go"]


def test_a_directory_that_cannot_take_a_new_file_is_one_line(
        tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    path = tree / "p.go"
    path.write_text(DELETE_LOOP)

    def no_room(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tempfile.mkstemp", no_room)
    status, _, err = fix(capsys, "./...")
    assert "p.go: cannot write: No space left on device" in err and "Traceback" not in err
    assert path.read_text() == DELETE_LOOP and status == 1
