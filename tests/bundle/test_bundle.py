"""The evidence bundle: what writers put where, what readers find (with and without a manifest),
and bad bundles failing in one line per file without losing the rest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mapguard.bundle.evidence import load_gc, load_lint, parse_site_label
from mapguard.bundle.layout import KINDS
from mapguard.bundle.reader import open_bundle
from mapguard.bundle.writer import BundleWriter
from mapguard.cli import main
from mapguard.errors import InputError, UsageError

GC_LINES = "\n".join(
    f"gc {n} @{n / 10:.3f}s 2%: 0.1+2.0+0.05 ms clock, 0.2+0.1/1.0/0.5+0.1 ms cpu, "
    "4->5->2 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P" for n in range(1, 6)) + "\n"
LINT = {"version": 1, "files": 1, "errors": [], "findings": [
    {"rule": "MG002", "name": "missing-size-hint", "severity": "info", "path": "pkg/a.go",
     "line": 7, "column": 2, "end_line": 7, "end_column": 20, "message": "size it",
     "fix": None}]}


def test_writer_and_reader_agree(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    writer = BundleWriter(root, producer="test")
    writer.add_json("lint", "before", LINT, meta={"base": "/src"})
    writer.add_text("gc", "before", GC_LINES, ".log", meta={"gogc": 200})
    writer.add_bytes("profile", "after", b"\x1f\x8b", ".allocs.pb.gz")
    writer.set_source("before", tmp_path)
    bundle = open_bundle(root)
    assert bundle.labels() == ["before", "after"]
    assert [(e.kind, e.name) for e in bundle.entries] == [
        ("lint", "lint/before.json"), ("gc", "gc/before.log"),
        ("profile", "profiles/after.allocs.pb.gz")]
    assert bundle.source("before") == tmp_path.resolve() and bundle.source("after") is None
    (lint,) = bundle.of("lint", "before")
    assert load_lint(lint).findings[0].file == "/src/pkg/a.go"  # relative to where it ran
    gc = load_gc(bundle.of("gc")[0])
    assert gc.cycles == 5 and gc.gogc == 200
    assert oct((root / "lint" / "before.json").stat().st_mode & 0o777) == "0o644"


def test_files_dropped_in_by_hand_are_found_and_strays_named(tmp_path: Path) -> None:
    (tmp_path / "lint").mkdir()
    (tmp_path / "lint" / "v1.json").write_text(json.dumps(LINT))
    (tmp_path / "lint" / "notes.txt").write_text("hello")
    (tmp_path / "pictures").mkdir()
    (tmp_path / "pictures" / "cat.png").write_bytes(b"")
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "v1.allocs.pb.gz").write_bytes(b"")
    (tmp_path / "profiles" / "v1.allocs.start.pb.gz").write_bytes(b"")
    bundle = open_bundle(tmp_path)
    assert [(e.kind, e.label) for e in bundle.entries] == [("lint", "v1"), ("profile", "v1")]
    assert len(bundle.problems) == 2
    assert any(p.startswith("lint/notes.txt: expected mapguard lint") for p in bundle.problems)
    assert any(p.startswith("pictures/cat.png: not a kind") for p in bundle.problems)


def test_concurrent_writers_keep_each_others_entries(tmp_path: Path) -> None:
    root = tmp_path / "b"
    script = ("import sys; from pathlib import Path; from mapguard.bundle.writer import "
              "BundleWriter; w = BundleWriter(Path(sys.argv[1]), producer='t');\n"
              "[w.add_json('load', f'{sys.argv[2]}-{i}', {'steps': []}) for i in range(20)]")
    BundleWriter(root, producer="t")
    processes = [subprocess.Popen([sys.executable, "-c", script, str(root), f"w{n}"])
                 for n in range(3)]
    assert [p.wait(timeout=120) for p in processes] == [0, 0, 0]
    manifest = json.loads((root / "bundle.json").read_text())
    assert len(manifest["entries"]) == 60


def test_writer_refuses_bad_places(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        BundleWriter(tmp_path / "missing" / "bundle", producer="t")
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="not a directory"):
        BundleWriter(tmp_path / "file", producer="t")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "bundle.json").write_text('{"mapguard_bundle": 9}')
    with pytest.raises(InputError, match="bundle layout version 9"):
        BundleWriter(tmp_path / "other", producer="t")
    with pytest.raises(ValueError, match="label"):
        BundleWriter(tmp_path / "ok", producer="t").add_json("lint", "../up", {})


def test_site_labels_of_watch() -> None:
    assert parse_site_label("internal/risk/server.go:94").line == 94
    function_only = parse_site_label("example.com/riskd/internal/risk.(*Cache).Put")
    assert function_only.line == 0 and function_only.function is not None


def test_every_kind_has_a_directory_and_a_reader_documented() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "bundle.md").read_text()
    for kind in KINDS:
        assert f"DIR/{kind.directory}/" in docs, kind.name


# --- bad input through the commands that read bundles ---------------------------------------


def _one_line(err: str, *needles: str) -> None:
    lines = [line for line in err.strip().splitlines() if line]
    assert "Traceback" not in err
    for needle in needles:
        assert any(needle in line for line in lines), (needle, err)


@pytest.mark.parametrize("command", ["diagnose", "report"])
def test_missing_and_misplaced_bundles(tmp_path: Path, command: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--bundle", str(tmp_path / "nope")]) == 2
    _one_line(capsys.readouterr().err, "no such directory")
    (tmp_path / "file").write_text("")
    assert main([command, "--bundle", str(tmp_path / "file")]) == 2
    _one_line(capsys.readouterr().err, "not a directory")


@pytest.mark.parametrize("command", ["diagnose", "report"])
def test_bad_files_are_named_and_the_rest_is_used(tmp_path: Path, command: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lint").mkdir()
    (tmp_path / "lint" / "broken.json").write_bytes(b'{"findings": [\xff\xfe')
    (tmp_path / "lint" / "shape.json").write_text('{"findings": [{"rule": 3}]}')
    (tmp_path / "gc").mkdir()
    (tmp_path / "gc" / "good.log").write_text(GC_LINES)
    (tmp_path / "gc" / "dir.log").mkdir()
    args = [command, "--bundle", str(tmp_path)]
    if command == "report":
        args += ["-o", str(tmp_path / "r.html")]
    assert main(args) == 2
    captured = capsys.readouterr()
    _one_line(captured.err, "lint/broken.json: line 1: not UTF-8 text",
              "lint/shape.json: findings[0].rule: found a number (expected a string)",
              "gc/dir.log: expected")
    if command == "diagnose":
        assert "diagnosis of good" in captured.out  # the readable evidence is still used
    else:
        assert "good" in (tmp_path / "r.html").read_text()


def test_unreadable_file_as_another_user(tmp_path: Path, nobody: int) -> None:
    """Root reads anything: drop privileges in a child to see an unreadable file refused."""
    shared = Path(tempfile.mkdtemp(prefix="mapguard-test-bundle-"))  # nobody can reach it
    try:
        shared.chmod(0o755)
        (shared / "lint").mkdir(mode=0o755)
        secret = shared / "lint" / "secret.json"
        secret.write_text(json.dumps(LINT))
        secret.chmod(0o600)
        (shared / "gc").mkdir(mode=0o700)
        (shared / "gc" / "a.log").write_text(GC_LINES)
        child = subprocess.run(
            [sys.executable, "-c", "import sys; from mapguard.cli import main; "
             "sys.exit(main(['diagnose', '--bundle', sys.argv[1]]))", str(shared)],
            capture_output=True, text=True, timeout=120, user=nobody, group=nobody,
            env={**os.environ, "HOME": "/tmp"})
        assert child.returncode == 2, child.stderr
        assert child.stderr.count("\n") == 1 and "Traceback" not in child.stderr
        assert "cannot read" in child.stderr and "Permission denied" in child.stderr
        (shared / "gc").chmod(0o755)
        (shared / "gc" / "a.log").chmod(0o644)
        child = subprocess.run(
            [sys.executable, "-c", "import sys; from mapguard.cli import main; "
             "sys.exit(main(['diagnose', '--bundle', sys.argv[1]]))", str(shared)],
            capture_output=True, text=True, timeout=120, user=nobody, group=nobody,
            env={**os.environ, "HOME": "/tmp"})
        assert child.returncode == 2, child.stderr
        assert "lint/secret.json: cannot read: Permission denied" in child.stderr
        assert "Traceback" not in child.stderr and "diagnosis of a" in child.stdout
    finally:
        shutil.rmtree(shared)
