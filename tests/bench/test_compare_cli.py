"""`mapguard bench compare` on files: verdicts, the gate's exit status, output formats, and bad
input (one line naming the file and the problem, exit 2, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mapguard.cli import main

DATA = Path(__file__).parent / "testdata" / "benchstat"
OLD, NEW = str(DATA / "old.txt"), str(DATA / "new.txt")


@pytest.fixture(autouse=True)
def _in_testdata(monkeypatch: pytest.MonkeyPatch) -> None:
    # Columns are named by the paths as given: short names make the tables read as benchstat's.
    monkeypatch.chdir(DATA)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["bench", "compare", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_table_verdicts_and_no_gate_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = run(["old.txt", "new.txt"], capsys)
    assert status == 0
    assert "Encode/format=json-48   1.718µ ± 1%   1.423µ ± 1%  -17.20% (p=0.000 n=10)" in out
    assert "Holm–Bonferroni" in out
    assert "improvement  Encode/format=json-48" in out
    assert "gate: no --fail-on rule given: not gating (exit 0)." in out


@pytest.mark.parametrize(("rule", "status"), [
    ("sec/op<-10%", 1),  # json got 17 % faster: "fell by more than 10 %" holds
    ("sec/op<-20%", 0),
    ("sec/op>+5%", 0),  # nothing got slower
    ("ns/op<-200", 1),  # absolute, in the unit as written: 1718 ns -> 1423 ns
    ("ns/op<-400", 0),
])
def test_fail_on_rules_decide_the_exit_status(rule: str, status: int,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run([OLD, NEW, "--fail-on", rule], capsys)[0] == status


def test_gob_change_is_not_significant_so_no_rule_fires(
        capsys: pytest.CaptureFixture[str]) -> None:
    # gob: +0.15 %, p=0.446. Even a rule on any growth stays quiet.
    status, out, _err = run([OLD, NEW, "--fail-on", "sec/op>0", "--format", "json"], capsys)
    document = json.loads(out)
    gob = next(v for v in document["verdicts"] if "gob" in v["benchmark"])
    assert (status, gob["verdict"], document["gate"]["failed"]) == (0, "~", False)


def test_exact_zero_to_one_alloc_breaks_allocs_rule(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_text("".join(f"BenchmarkGet-2 100 {50 + i % 3} ns/op 0 B/op 0 allocs/op\n"
                           for i in range(10)))
    new.write_text("".join(f"BenchmarkGet-2 100 {50 + i % 3} ns/op 16 B/op 1 allocs/op\n"
                           for i in range(10)))
    status, out, _err = run([str(old), str(new), "--fail-on", "allocs/op>0", "--format",
                             "json"], capsys)
    document = json.loads(out)
    (violation,) = document["gate"]["violations"]
    assert status == 1
    assert (violation["unit"], violation["old"], violation["new"]) == ("allocs/op", 0.0, 1.0)
    assert violation["relative"] is None and violation["verdict"] == "regression"


def test_markdown_for_ci_step_summaries(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = run([OLD, NEW, "--fail-on", "sec/op<-10%", "--fail-on", "allocs/op>0",
                             "--format", "markdown"], capsys)
    assert status == 1
    assert out.startswith("### mapguard bench compare: failed\n")
    assert "Rules: `sec/op<-10%`, `allocs/op>0`" in out
    assert "- **Encode/format=json-48** breaks `sec/op<-10%`: -17.20%" in out
    assert "| Encode/format=gob-48 | sec/op | 3.066µ | 3.070µ | +0.15% | 0.446 | 0.446 |" in out


def test_holm_correction_turns_a_chance_row_into_tilde(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # One row with p about 0.03 among five rows: significant for benchstat, not after Holm.
    old, new = tmp_path / "a.txt", tmp_path / "b.txt"
    lines_old, lines_new = [], []
    for bench in range(5):
        for i in range(8):
            lines_old.append(f"BenchmarkX{bench} 1 {100 + i} ns/op\n")
            shift = 3 if bench == 0 else 0  # p = 0.042 for X0
            lines_new.append(f"BenchmarkX{bench} 1 {100 + i + shift} ns/op\n")
    old.write_text("".join(lines_old))
    new.write_text("".join(lines_new))
    _status, out, _err = run([str(old), str(new), "--format", "json"], capsys)
    first = json.loads(out)["verdicts"][0]
    assert first["p"] <= 0.05 < first["p_holm"]
    assert first["verdict"] == "~"


def test_noise_floor_makes_a_small_significant_change_within_noise(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    floors = tmp_path / "noise.json"
    floors.write_text(json.dumps({"kind": "mapguard-noise-floors", "floors": [
        {"benchmark": "Encode/format=json-48", "unit": "sec/op", "floor": 0.25}]}))
    status, out, _err = run([OLD, NEW, "--noise", str(floors), "--fail-on", "sec/op<-10%",
                             "--format", "json"], capsys)
    document = json.loads(out)
    json_row = next(v for v in document["verdicts"] if "json" in v["benchmark"])
    assert (status, json_row["verdict"], json_row["noise_floor"]) == (0, "within noise", 0.25)
    assert any("no noise floor for 1 benchmark" in note for note in document["notes"])


def test_labels_name_columns(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = run([f"before={OLD}", f"after={NEW}"], capsys)
    assert status == 0 and "│   before    │" in out


def test_projection_options(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _err = run(["crc-new.txt", "--row", "/size", "--col", "/poly", "--filter",
                             "/align:0"], capsys)
    assert status == 0
    assert out.startswith((DATA / "crcSizeVsPoly.stdout").read_text())


# --- bad input ------------------------------------------------------------------------------


def _bad(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    status, _out, err = run(args, capsys)
    assert status == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and "Traceback" not in err
    return lines[-1]


def test_missing_file_and_missing_directory(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert _bad([OLD, str(tmp_path / "nope.txt")], capsys) == \
        f"mapguard: error: {tmp_path / 'nope.txt'}: no such file"
    assert "no such file" in _bad([OLD, str(tmp_path / "no" / "dir" / "x.txt")], capsys)


def test_directory_where_a_file_is_expected(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert f"{tmp_path}: is a directory" in _bad([OLD, str(tmp_path)], capsys)


def test_non_utf8_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"BenchmarkA 1 1 ns/op\nnote: caf\xe9\n")
    assert _bad([OLD, str(bad)], capsys) == f"mapguard: error: {bad}:2: not UTF-8 text " \
        "(expected Go benchmark format, e.g. output of `go test -bench . -count 10`)"


def test_unreadable_file_for_an_unprivileged_user(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("BenchmarkA 1 1 ns/op\n")
    secret.chmod(0o000)
    tmp_path.chmod(0o755)
    # Everything mapguard imports is loaded before giving up root: the interpreter's own files
    # are not readable by nobody here.
    code = ("import os, sys; from mapguard.cli import main; import mapguard.bench.commands; "
            "os.setgid(65534); os.setuid(65534); sys.exit(main(sys.argv[1:]))")
    if os.geteuid() != 0:
        pytest.skip("dropping privileges needs root; as a normal user chmod 000 already works")
    proc = subprocess.run([sys.executable, "-c", code, "bench", "compare", OLD, str(secret)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"mapguard: error: {secret}: cannot read: Permission denied"


def test_bad_lines_are_reported_with_file_and_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.txt"
    broken.write_text((DATA / "new.txt").read_text()
                      + "BenchmarkEncode/format=gob-48  many  3062 ns/op\n")
    status, out, err = run([OLD, str(broken)], capsys)
    assert status == 2
    assert "Encode/format=json-48" in out  # what was read is still compared
    line = len((DATA / "new.txt").read_text().splitlines()) + 1
    assert f"mapguard: {broken}:{line}: parsing iteration count: invalid syntax: 'many'" in err


def test_file_without_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("PASS\nok  example.com/x 0.1s\n")
    assert "empty.txt: no benchmark results" in _bad([OLD, str(empty)], capsys)


@pytest.mark.parametrize(("args", "message"), [
    (["--fail-on", "sec/op>>5%"], "--fail-on 'sec/op>>5%': expected UNIT>THRESHOLD"),
    (["--fail-on", "sec/op"], "expected UNIT>THRESHOLD or UNIT<THRESHOLD"),
    (["--confirm"], "--confirm reruns benchmarks, so it needs --rev"),
    (["--row", ".bogus"], "--row .bogus: unknown key"),
    (["--col", "/size@num"], "sort orders (@) are not supported"),
    (["--filter", "(a OR b)"], "--filter '(a OR b)': cannot read"),
    (["--rev", "HEAD"], "--rev needs exactly two revisions"),
])
def test_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert message in _bad([OLD, NEW, *args], capsys)


def test_noise_file_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none" / "noise.json"
    assert f"{missing}: cannot read" in _bad([OLD, NEW, "--noise", str(missing)], capsys)
    assert f"{tmp_path}: is a directory" in _bad([OLD, NEW, "--noise", str(tmp_path)], capsys)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"kind": "caf\xe9"}')
    assert "latin.json: not UTF-8 text" in _bad([OLD, NEW, "--noise", str(latin)], capsys)
    other = tmp_path / "other.json"
    other.write_text('{"kind": "something else"}')
    assert "other.json: not a noise-floor file" in _bad([OLD, NEW, "--noise", str(other)],
                                                        capsys)
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": "mapguard-noise-floors", "floors": [{"unit": "sec/op"}]}')
    assert "broken.json: floors[0]: bad entry" in _bad([OLD, NEW, "--noise", str(broken)],
                                                       capsys)


def test_confirm_fails_only_when_the_rerun_breaks_the_rule_again(
        capsys: pytest.CaptureFixture[str]) -> None:
    """--confirm with a rerun that no longer shows the change: the gate passes."""
    from mapguard.bench.commands import _compare_files
    from mapguard.bench.gate import FailRule
    from mapguard.bench.inputs import read_bench_file
    from mapguard.bench.projection import Filter, Projection

    files = [read_bench_file("old.txt"), read_bench_file("new.txt")]
    rule = [FailRule.parse("sec/op<-10%")]
    reruns: list[list[str]] = []

    def rerun(benchmarks: list[str], answer: list[str]) -> list:  # type: ignore[type-arg]
        reruns.append(benchmarks)
        return [read_bench_file(name) for name in answer]

    status = _compare_files(files, rule, Projection(), Filter(), None, 0.05, "text",
                            lambda names: rerun(names, ["old=old.txt", "new=old.txt"]))
    out = capsys.readouterr().out
    assert status == 0 and reruns == [["Encode/format=json-48"]]
    assert "--confirm rerun: Encode/format=json-48 no longer breaks sec/op<-10%" in out
    status = _compare_files(files, rule, Projection(), Filter(), None, 0.05, "text",
                            lambda names: rerun(names, ["old.txt", "new.txt"]))
    assert status == 1
    assert "still breaks sec/op<-10%" in capsys.readouterr().out
