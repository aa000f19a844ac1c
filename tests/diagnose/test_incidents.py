"""The incident library through the commands: record a confirmed incident from a diagnosis,
list and show it, and see it named by the next diagnosis that looks like it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mapguard.bundle.writer import BundleWriter
from mapguard.cli import main
from mapguard.diagnose.incidents import ConfirmedCause, similarity
from mapguard.errors import UsageError

SOURCE = """package svc

func Tally(xs []string, keep func(string) bool) int {
	counts := make(map[string]int)
	for _, x := range xs {
		if keep(x) {
			counts[x]++
		}
	}
	return len(counts)
}
"""


def _bundle(tmp_path: Path, name: str) -> Path:
    """A bundle whose profile says Tally's map grows: a JSON profile, as `mapguard profile
    --format json` writes it, with the source beside it."""
    tree = tmp_path / f"{name}-src"
    tree.mkdir()
    (tree / "svc.go").write_text(SOURCE)
    root = tmp_path / name
    writer = BundleWriter(root, producer="test")
    writer.add_json("profile", "prod", {
        "version": 1, "kind": "allocs", "sample_type": "alloc_space", "unit": "bytes",
        "total": 1000, "map": {"total": 600, "by_op": {"grow": 600}},
        "sites": [{"function": "svc.Tally", "file": "/build/svc.go", "line": 7, "op": "grow",
                   "value": 600, "share": 0.6}]})
    writer.set_source("prod", tree)
    return root


def _diagnose(bundle: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["diagnose", "--bundle", str(bundle), "--incidents", str(db),
                 "--format", "json"]) == 1
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def test_a_confirmed_incident_is_named_by_the_next_like_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "lib" / "incidents.sqlite"
    first = _bundle(tmp_path, "first")
    assert main(["diagnose", "--bundle", str(first), "--format", "json", "-o",
                 str(tmp_path / "d.json")]) == 1
    assert main(["incidents", "add", "--from", str(tmp_path / "d.json"), "--title",
                 "p99 <b>burn</b> after rules v42", "--confirmed-cause",
                 "map-grown-per-call@svc.go:4", "--fix", "size hint", "--db", str(db)]) == 0
    assert "incident 1 recorded" in capsys.readouterr().out
    assert main(["incidents", "list", "--db", str(db), "--format", "json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["incidents"]
    assert listed["confirmed_cause"] == "map-grown-per-call@svc.go:4"
    assert main(["incidents", "show", "1", "--db", str(db)]) == 0
    shown = capsys.readouterr().out
    assert "fix: size hint" in shown and "cause:map-grown-per-call" in shown
    (diagnosis,) = _diagnose(_bundle(tmp_path, "second"), db, capsys)["diagnoses"]
    (cause,) = diagnosis["causes"]
    (incident,) = cause["similar_incidents"]
    assert incident["id"] == 1 and incident["fix"] == "size hint"
    assert incident["similarity"] >= 0.3 and "cause:map-grown-per-call" in incident["shared"]
    assert main(["diagnose", "--bundle", str(first), "--incidents", str(db)]) == 1
    assert 'seen before: incident 1 "p99 <b>burn</b> after rules v42"' in \
        capsys.readouterr().out


def test_a_cause_not_in_the_diagnosis_is_recorded_with_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, "b")
    main(["diagnose", "--bundle", str(bundle), "--format", "json", "-o", str(tmp_path / "d")])
    assert main(["incidents", "add", "--from", str(tmp_path / "d"), "--title", "t",
                 "--confirmed-cause", "MG004@other.go:9", "--db", str(tmp_path / "db")]) == 0
    assert "not among the causes" in capsys.readouterr().err


def test_similarity_weighs_causes_over_files() -> None:
    same_cause, _ = similarity(["cause:x", "file:a.go"], ["cause:x", "file:b.go"])
    same_file, _ = similarity(["cause:x", "file:a.go"], ["cause:y", "file:a.go"])
    assert same_cause > same_file
    assert similarity([], []) == (0.0, ())


@pytest.mark.parametrize("text", ["MG001", "MG001@server.go", "@server.go:3", "MG001@a:b:3"])
def test_confirmed_cause_format(text: str) -> None:
    with pytest.raises(UsageError, match="RULE_OR_CAUSE@FILE:LINE"):
        ConfirmedCause.parse(text)


def test_bad_library_and_diagnosis_files(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    not_sqlite = tmp_path / "junk.sqlite"
    not_sqlite.write_bytes(b"\xff\xfe not a database at all, not even close" * 20)
    diagnosis = tmp_path / "d.json"
    diagnosis.write_text('{"version": 1, "diagnoses": []}')
    cases = [
        (["incidents", "list", "--db", str(not_sqlite)], "not an incident library"),
        (["incidents", "list", "--db", str(tmp_path)], "is a directory"),
        (["incidents", "show", "3", "--db", str(tmp_path / "none.sqlite")], "no such file"),
        (["incidents", "add", "--from", str(tmp_path / "missing.json"), "--title", "t",
          "--confirmed-cause", "MG001@a.go:1"], "no such file"),
        (["incidents", "add", "--from", str(not_sqlite), "--title", "t",
          "--confirmed-cause", "MG001@a.go:1"], "not UTF-8"),
        (["incidents", "add", "--from", str(diagnosis), "--title", "t", "--confirmed-cause",
          "MG001@a.go:1", "--db", str(tmp_path / "missing" / "dir" / "x.sqlite")],
         "holds no diagnosis"),
        (["diagnose", "--bundle", str(tmp_path), "--incidents", str(not_sqlite)],
         "not an incident library"),
    ]
    for args, said in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, (args, err)


def test_a_file_that_is_no_library_is_never_written(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A mistyped --db: another program's SQLite database gains no tables, and `list` leaves
    an empty file empty (it used to write the library's schema into whatever it opened)."""
    import sqlite3

    other = tmp_path / "app.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE users (name TEXT)")
    before = other.read_bytes()
    diagnosis = tmp_path / "d.json"
    diagnosis.write_text('{"version": 1, "diagnoses": [{"rule": "MG001"}]}')
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    cases = [
        (["incidents", "list", "--db", str(other)], "without mapguard's incidents table"),
        (["incidents", "add", "--from", str(diagnosis), "--title", "t", "--confirmed-cause",
          "MG001@a.go:1", "--db", str(other)], "without mapguard's incidents table"),
        (["incidents", "list", "--db", str(empty)], "an empty file"),
        (["incidents", "show", "1", "--db", str(empty)], "an empty file"),
    ]
    for args, said in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err, (args, err)
    assert other.read_bytes() == before
    assert empty.read_bytes() == b""
