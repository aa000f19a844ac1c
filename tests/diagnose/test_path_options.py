"""Every path option of diagnose, report and gate, given a missing directory, a directory where a
file is expected, and a file that is not UTF-8 (or not what it should be): exit 2 and one line
naming the path and the problem. Bundles and incident libraries: tests/bundle, test_incidents."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapguard.cli import main


@pytest.fixture
def place(tmp_path: Path) -> Path:
    (tmp_path / "bundle").mkdir()
    (tmp_path / "dir").mkdir()
    (tmp_path / "bad.bin").write_bytes(b"\xff\xfe\x00 not text")
    module = tmp_path / "module"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/m\n\ngo 1.22\n")
    (module / "m.go").write_text("package m\n\nfunc F() map[string]int { return nil }\n")
    return tmp_path


CASES = [
    # (command line, with {p} the test's directory; what the error says)
    ("diagnose --bundle {p}/bundle --source {p}/nope/src", "not a directory"),
    ("diagnose --bundle {p}/bundle --source {p}/bad.bin", "not a directory"),
    ("diagnose --bundle {p}/bundle -o {p}/nope/d.json", "directory {p}/nope does not exist"),
    ("diagnose --bundle {p}/bundle -o {p}/dir", "is a directory"),
    ("diagnose --bundle {p}/bundle --knowledge {p}/nope/k.yaml", "no such file"),
    ("diagnose --bundle {p}/bundle --knowledge {p}/dir", "is a directory"),
    ("diagnose --bundle {p}/bundle --knowledge {p}/bad.bin", "not UTF-8"),
    ("diagnose --bundle {p}/bundle --incidents {p}/nope/i.sqlite", "no such file"),
    ("report --bundle {p}/bundle -o {p}/nope/r.html", "directory {p}/nope does not exist"),
    ("report --bundle {p}/bundle -o {p}/dir", "is a directory"),
    ("report --bundle {p}/bundle --source {p}/nope", "not a directory"),
    ("report --bundle {p}/bundle --source {p}/bad.bin", "not a directory"),
    ("report --bundle {p}/bundle --knowledge {p}/dir", "is a directory"),
    ("report --bundle {p}/bundle --knowledge {p}/bad.bin", "not UTF-8"),
    ("gate {p}/nope --lint", "not a directory"),
    ("gate {p}/bad.bin --lint", "not a directory"),
    ("gate {p}/module --lint --baseline {p}/nope/b.json", "No such file or directory"),
    ("gate {p}/module --lint --baseline {p}/dir", "Is a directory"),
    ("gate {p}/module --lint --baseline {p}/bad.bin", "not UTF-8"),
    ("gate {p}/module --profile {p}/nope/p.pb.gz --profile-budget map.share<=2%",
     "No such file or directory"),
    ("gate {p}/module --profile {p}/dir --profile-budget map.share<=2%", "{p}/dir"),
    ("gate {p}/module --profile {p}/bad.bin --profile-budget map.share<=2%",
     "not a pprof profile"),
    ("gate {p}/module --lint --summary {p}/nope/s.md", "does not exist"),
    ("gate {p}/module --lint --summary {p}/dir", "is a directory"),
    ("gate {p}/module --lint --sarif {p}/nope/g.sarif", "does not exist"),
    ("gate {p}/module --lint --sarif {p}/dir", "is a directory"),
]


@pytest.mark.parametrize(("line", "said"), CASES)
def test_a_bad_path_is_one_line_and_exit_2(place: Path, line: str, said: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    args = line.format(p=place).split()
    assert main(args) == 2
    captured = capsys.readouterr()
    # The gate prints its checks' results (an ERROR line naming the file) on standard output;
    # the others stop with one line on standard error (click's own usage errors add a hint).
    said = said.format(p=place)
    problem = [text for text in (captured.err + captured.out).splitlines()
               if said.lower() in text.lower()]
    assert len(problem) == 1, (captured.err, captured.out)
    assert "Traceback" not in captured.err + captured.out
