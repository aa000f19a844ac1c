"""Reading a directory's Go files for the lint: every byte, and the files that cannot be read
named with the reason, the others still read."""

from __future__ import annotations

import os
from pathlib import Path

from mapguard.source.discover import DirTarget, Selection, read_target


def test_files_are_read_whole_and_a_missing_one_is_named(tmp_path: Path) -> None:
    small = tmp_path / "a.go"
    small.write_bytes(b"package p\n")
    # Bigger than one read of the reader's minimum, and not a multiple of it.
    large = tmp_path / "b.go"
    large.write_bytes(b"package p\n\n" + b"// " + os.urandom(300_000).hex().encode() + b"\n")
    empty = tmp_path / "c.go"
    empty.write_bytes(b"")
    gone = tmp_path / "gone.go"  # removed after the directory was listed
    files = ((small, False), (large, False), (empty, False), (gone, False))
    target = DirTarget(tmp_path, files, sum(p.stat().st_size for p, _ in files[:3]))
    package_dir, unreadable = read_target(target, Selection())
    assert package_dir is not None
    assert [(f.path, f.content) for f in package_dir.files] == [
        (path, path.read_bytes()) for path in (small, large, empty)]
    assert unreadable == [(gone, "No such file or directory")]


def test_a_directory_named_like_a_go_file_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "a.go").write_bytes(b"package p\n")
    (tmp_path / "dir.go").mkdir()
    files = ((tmp_path / "a.go", False), (tmp_path / "dir.go", True))
    package_dir, unreadable = read_target(DirTarget(tmp_path, files, 10), Selection())
    assert package_dir is not None and [f.path.name for f in package_dir.files] == ["a.go"]
    assert unreadable == [(tmp_path / "dir.go", "Is a directory")]
