"""`mapguard lint` from the command line: formats, exit codes, config, baseline, fixes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from mapguard.cli import main
from mapguard.gotool import GoToolchain, run_go
from mapguard.source.parser import first_syntax_error, parse_go

from .conftest import WriteModule

SCHEMA = Path(__file__).resolve().parent.parent / "data" / "sarif-schema-2.1.0.json"

SOURCE = """
package p

func reset(m map[string]int, users []string) map[string]bool {
	for k := range m {
		delete(m, k)
	}
	byName := make(map[string]bool)
	for _, u := range users {
		byName[u] = true
	}
	return byName
}
"""


@pytest.fixture
def module(write_module: WriteModule, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_module({"p.go": SOURCE})
    monkeypatch.chdir(root)
    return root


# MG002 is off by default; these tests use its finding as a second one with an unsafe fix.
WITH_MG002 = ["--extend-select", "MG002"]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(["lint", "--no-cache", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_json_follows_the_contract(module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(["--format", "json", "./..."], capsys)
    document = json.loads(out)
    assert status == 1 and document["version"] == 1 and document["files"] == 1
    assert document["errors"] == []
    first = document["findings"][0]
    assert set(first) >= {"rule", "name", "severity", "path", "line", "column", "end_line",
                          "end_column", "message", "fix"}
    assert (first["rule"], first["path"], first["line"], first["column"]) == ("MG003", "p.go", 4, 2)


def test_sarif_is_valid_against_the_official_schema(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(["--format", "sarif", *WITH_MG002], capsys)
    document = json.loads(out)
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    run_ = document["runs"][0]
    assert {r["id"] for r in run_["tool"]["driver"]["rules"]} >= {"MG001", "MG002", "MG003"}
    assert all(r["help"]["markdown"].startswith("## What it does")
               for r in run_["tool"]["driver"]["rules"])
    assert [r["ruleId"] for r in run_["results"]] == ["MG003", "MG002"] and status == 1


def test_github_format_emits_workflow_commands(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(["--format", "github"], capsys)
    lines = out.strip().splitlines()
    assert lines[0].startswith("::notice file=p.go,line=4,col=2,endLine=6,endColumn=3,")
    assert "title=MG003 delete-all-loop::" in lines[0]


def test_text_report_has_code_frame_and_assumed_version(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run([], capsys)
    assert "p.go:4:2: MG003 [info]" in out
    assert "    4 |     for k := range m {" in out
    assert "Go 1.22 assumed for example.com/mod (its go.mod)" in out


def test_nothing_found_exits_zero(write_module: WriteModule, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(write_module({"p.go": "package p\n"}))
    assert run([], capsys)[0] == 0


def test_unparsable_file_exits_two_with_the_rest_analysed(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (module / "bad.go").write_text("package p\nfunc {\n")
    status, out, _ = run(["--format", "json", *WITH_MG002], capsys)
    document = json.loads(out)
    assert status == 2 and len(document["findings"]) == 2
    assert document["errors"][0]["path"] == "bad.go"


def test_bad_config_is_one_line_naming_file_and_field(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (module / ".mapguard.toml").write_text('selct = ["MG001"]\n')
    status, _, err = run([], capsys)
    assert status == 2
    assert err.strip().splitlines() == [
        f"mapguard: error: {module / '.mapguard.toml'}: selct: unknown setting"]


def test_config_selects_rules_and_flags_override(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (module / ".mapguard.toml").write_text('ignore = ["MG002"]\n')
    _, out, _ = run(["--format", "json"], capsys)
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["MG003"]
    _, out, _ = run(["--format", "json", "--select", "MG002"], capsys)
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["MG002"]


def test_speed_advice_that_needs_evidence_is_off_by_default(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def rules(args: list[str]) -> list[str]:
        _, out, _ = run(["--format", "json", *args], capsys)
        return [f["rule"] for f in json.loads(out)["findings"]]

    status, out, _ = run([], capsys)
    # The text report ends with a line per reason naming what was left off and how to turn
    # it on: speed advice (a profile ranks it), and races proven only by reachability.
    assert status == 1 and ": MG003 [" in out and ": MG002 [" not in out
    speed_line, unproven_line = out.strip().splitlines()[-2:]
    assert speed_line.startswith(
        "Off by default: MG001, MG002, MG010 (speed advice that pays only where code runs "
        "often): --extend-select MG001,MG002,MG010 turns them on")
    assert unproven_line.startswith(
        "Off by default: MG008, MG013, MG014 (races whose proof that a map is shared is") and (
        unproven_line.endswith("--extend-select MG008,MG013,MG014 turns them on."))
    assert rules([]) == ["MG003"]
    assert rules(["--extend-select", "missing-size-hint"]) == ["MG003", "MG002"]
    _, out, _ = run([*WITH_MG002], capsys)
    assert out.strip().splitlines()[-2].startswith("Off by default: MG001, MG010 (")
    assert rules(["--select", "MG002"]) == ["MG002"]
    (module / ".mapguard.toml").write_text('extend-select = ["MG002"]\n')
    assert rules([]) == ["MG003", "MG002"]
    # A --select on the command line replaces the file's choice, its extensions too.
    assert rules(["--select", "MG003"]) == ["MG003"]
    # A rule named on the command line wins over the file's ignore.
    (module / ".mapguard.toml").write_text('ignore = ["MG002"]\n')
    assert rules(["--extend-select", "MG002"]) == ["MG003", "MG002"]
    status, _, err = run(["--extend-select", "MG999"], capsys)
    assert status == 2 and "unknown rule 'MG999'" in err


def test_pyproject_tool_section_is_read(module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (module / "pyproject.toml").write_text('[tool.mapguard]\nselect = ["delete-all-loop"]\n')
    _, out, _ = run(["--format", "json"], capsys)
    assert [f["rule"] for f in json.loads(out)["findings"]] == ["MG003"]


def test_unknown_rule_is_a_usage_error(module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["--select", "MG999"], capsys)
    assert status == 2 and "unknown rule 'MG999'" in err


def test_baseline_hides_old_findings_and_shows_new_ones(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--write-baseline", "base.json", *WITH_MG002], capsys)[0] == 0
    assert run(["--baseline", "base.json", *WITH_MG002], capsys)[0] == 0
    # Moving code down does not make old findings new; a second copy is new.
    source = (module / "p.go").read_text()
    (module / "p.go").write_text(source.replace("package p\n", "package p\n\n// moved\n")
                                 + SOURCE.replace("package p", "").replace("reset", "reset2"))
    status, out, _ = run(["--baseline", "base.json", "--format", "json", *WITH_MG002], capsys)
    assert status == 1
    lines = (module / "p.go").read_text().splitlines()
    reset2 = next(i for i, text in enumerate(lines, start=1) if "func reset2" in text)
    found = [f["line"] for f in json.loads(out)["findings"]]
    assert len(found) == 2 and all(line > reset2 for line in found)


def test_corrupt_baseline_is_an_input_error(module: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    (module / "base.json").write_text("{not json")
    status, _, err = run(["--baseline", "base.json"], capsys)
    assert status == 2 and "base.json" in err and "invalid JSON" in err


def test_diff_shows_fixes_without_writing(module: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    before = (module / "p.go").read_text()
    _, out, _ = run(["--diff", *WITH_MG002], capsys)
    # The size hint may over-allocate when users repeat: an unsafe fix, shown only when asked.
    assert "+\tclear(m)" in out and "+\tbyName := make(map[string]bool, len(users))" not in out
    _, out, _ = run(["--diff", "--unsafe-fixes", *WITH_MG002], capsys)
    assert "+\tclear(m)" in out and "+\tbyName := make(map[string]bool, len(users))" in out
    assert (module / "p.go").read_text() == before


def test_fix_rewrites_and_the_result_parses(module: Path, capsys: pytest.CaptureFixture[str]
                                            ) -> None:
    status, _, err = run(["--fix", *WITH_MG002], capsys)
    fixed = (module / "p.go").read_bytes()
    assert "fixed 1 finding in 1 file" in err and status == 1  # the unsafe hint is left
    assert b"clear(m)" in fixed and b"len(users))" not in fixed
    status, _, err = run(["--fix", "--unsafe-fixes", *WITH_MG002], capsys)
    fixed = (module / "p.go").read_bytes()
    assert "fixed 1 finding in 1 file" in err and status == 0
    assert first_syntax_error(parse_go(fixed)) is None
    assert b"clear(m)" in fixed and b"len(users))" in fixed
    assert run([*WITH_MG002], capsys)[0] == 0


def test_explain_and_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "MG003"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# MG003 delete-all-loop (info, needs Go 1.21)")
    assert "runtime.mapclear" in out
    assert main(["rules", "--format", "json"]) == 0
    codes = [r["code"] for r in json.loads(capsys.readouterr().out)["rules"]]
    assert codes == sorted(codes) and "MG010" in codes


@pytest.mark.slow
def test_fixed_corpus_packages_still_vet(
    go_toolchain: GoToolchain, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus = Path(__file__).resolve().parent.parent / "fixtures" / "corpus"
    copy = tmp_path / "corpus"
    shutil.copytree(corpus, copy)
    monkeypatch.chdir(copy)
    before = {p: p.read_bytes() for p in copy.rglob("*.go")}
    assert main(["lint", "--no-cache", "--fix", "--unsafe-fixes", "./..."]) in {0, 1}
    changed = [p for p, text in before.items() if p.read_bytes() != text]
    assert len(changed) >= 5, "expected the corpus to hold fixable findings"
    proc = run_go(["vet", "./..."], cwd=copy, toolchain=go_toolchain)
    assert proc.returncode == 0, proc.stderr
    # A second run finds nothing left to fix.
    assert main(["lint", "--no-cache", "--diff", "--unsafe-fixes", "./..."]) in {0, 1}
    assert "@@" not in capsys.readouterr().out



@pytest.mark.slow
def test_escape_annotates_findings_with_the_compilers_verdict(
    go_toolchain: GoToolchain, write_module: WriteModule, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = """
    package p

    var kept map[string]bool

    func Local(users []string) int {
    	byName := make(map[string]bool)
    	for _, u := range users {
    		byName[u] = true
    	}
    	return len(byName)
    }

    func Escaping(users []string) {
    	all := make(map[string]bool)
    	for _, u := range users {
    		all[u] = true
    	}
    	kept = all
    }
    """
    monkeypatch.chdir(write_module({"p.go": source}, name="esc"))
    status = main(["lint", "--no-cache", "--escape", "--format", "json", *WITH_MG002, "./..."])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert status == 1
    verdicts = {f["line"]: f["escape"]["verdict"] for f in findings}
    assert verdicts == {6: "stack", 14: "heap"}


def test_advice_everywhere_reports_in_test_code(write_module: WriteModule,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    root = write_module({"p_test.go": SOURCE})
    monkeypatch.chdir(root)
    status, out, _ = run(["--format", "json", "./..."], capsys)
    assert status == 0 and json.loads(out)["findings"] == []
    status, out, _ = run(["--format", "json", "--advice-everywhere", *WITH_MG002, "./..."],
                         capsys)
    found = json.loads(out)["findings"]
    assert status == 1 and {f["rule"] for f in found} == {"MG002", "MG003"}
    assert all(f["fix"] is None or f["fix"]["safety"] in {"safe", "unsafe"} for f in found)
    (root / ".mapguard.toml").write_text('advice-everywhere = true\nextend-select = ["MG002"]\n')
    assert run(["./..."], capsys)[0] == 1
