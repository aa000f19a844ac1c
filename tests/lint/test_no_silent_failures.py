"""`mapguard lint` never fails silently: empty targets, unusable paths, ignore comments that
suppress nothing, per-module configuration, machine-readable output that stays parseable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import WriteModule
from .test_cli_lint import run

DELETE_LOOP = """
package p

func reset(m map[string]int) {
	for k := range m {
		delete(m, k)
	}
}
"""


@pytest.fixture
def module(write_module: WriteModule, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = write_module({"p.go": DELETE_LOOP})
    monkeypatch.chdir(root)
    return root


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# --- nested modules whose go.mod is not one ----------------------------------------------


@pytest.mark.parametrize("content", [b"", b"// nothing but a comment\n", b"module x\ngo one\n"])
def test_a_broken_nested_go_mod_leaves_out_its_module_and_warns(
        module: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    """Seen in knative-extensions/eventing-natss: an empty `third_party/go.mod` stopped
    `lint ./...` halfway with exit 2 and no report. `go vet ./...` leaves that nested module
    out; mapguard lints the rest, says what it left out, and keeps the exit status of the
    findings."""
    nested = module / "third_party" / "lib"
    nested.mkdir(parents=True)
    (module / "third_party" / "go.mod").write_bytes(content)
    (nested / "lib.go").write_text(DELETE_LOOP.replace("package p", "package lib"))
    status, out, err = run(["--format", "json", "./..."], capsys)
    document = json.loads(out)
    assert status == 1
    assert [(f["rule"], f["path"]) for f in document["findings"]] == [("MG003", "p.go")]
    [warning] = document["warnings"]
    assert warning["path"] == "third_party/go.mod"
    assert "package directory is not analysed" in warning["message"]
    # Named on the command line, the broken module is the run's input: one line, exit 2.
    status, out, err = run(["./third_party/..."], capsys)
    assert status == 2 and out == ""
    assert "third_party/go.mod" in one_line(err)


# --- targets without Go files -------------------------------------------------------------


def test_a_directory_without_go_files_is_an_error(module: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (module / "empty").mkdir()
    status, out, err = run(["./empty"], capsys)
    assert status == 2 and out == ""
    assert "./empty: matched no Go files" in one_line(err)


def test_a_pattern_excluded_entirely_is_an_error(module: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(["--exclude", "*.go", "./..."], capsys)
    assert status == 2
    assert "every Go file it matches is excluded" in one_line(err)


def test_an_empty_pattern_beside_others_warns_as_go_vet_does(
        module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (module / "empty").mkdir()
    status, _, err = run(["./empty/...", "./..."], capsys)
    assert status == 1  # the other pattern's finding
    assert "warning: ./empty/...: matched no Go files" in err


def test_a_module_config_excluding_all_its_files_is_an_error(
        module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (module / "inner").mkdir()
    (module / "inner" / "go.mod").write_text("module example.com/inner\n\ngo 1.22\n")
    (module / "inner" / "q.go").write_text(DELETE_LOOP.replace("package p", "package inner"))
    (module / "inner" / ".mapguard.toml").write_text('exclude = ["*.go"]\n')
    status, _, err = run(["./inner/..."], capsys)
    assert status == 2 and "exclude them all" in one_line(err)


# --- paths that cannot be written or read ----------------------------------------------------


@pytest.mark.parametrize("option", ["-o", "--write-baseline"])
def test_an_output_in_a_missing_directory_is_one_line(
        module: Path, capsys: pytest.CaptureFixture[str], option: str) -> None:
    status, out, err = run([option, "missing/dir/out.json"], capsys)
    assert status == 2 and out == ""
    assert "no such directory missing/dir" in one_line(err)


@pytest.mark.parametrize("option", ["-o", "--write-baseline"])
def test_an_output_that_is_a_directory_is_one_line(
        module: Path, capsys: pytest.CaptureFixture[str], option: str) -> None:
    (module / "adir").mkdir()
    status, _, err = run([option, "adir"], capsys)
    assert status == 2
    assert "adir" in one_line(err)


@pytest.mark.parametrize("option", ["-o", "--write-baseline", "--baseline", "--config"])
def test_a_symlink_loop_is_one_line(module: Path, capsys: pytest.CaptureFixture[str],
                                    option: str) -> None:
    (module / "loop").symlink_to(module / "loop")
    status, _, err = run([option, "loop"], capsys)
    assert status == 2
    line = one_line(err)
    assert "loop" in line and "symbolic links" in line


@pytest.mark.parametrize("option", ["--baseline", "--config"])
def test_a_missing_input_is_one_line(module: Path, capsys: pytest.CaptureFixture[str],
                                     option: str) -> None:
    status, _, err = run([option, "missing/dir/in.toml"], capsys)
    assert status == 2 and "missing/dir/in.toml" in one_line(err)


@pytest.mark.parametrize("option", ["--baseline", "--config"])
def test_an_input_that_is_not_utf8_is_one_line(module: Path, capsys: pytest.CaptureFixture[str],
                                               option: str) -> None:
    (module / "latin1").write_bytes(b'select = ["MG001"] # caf\xe9\n')
    status, _, err = run([option, "latin1"], capsys)
    assert status == 2 and "not UTF-8" in one_line(err)


def test_a_found_config_that_cannot_be_read_is_one_line(
        module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (module / ".mapguard.toml").mkdir()  # a directory where the file is expected
    status, _, err = run(["./..."], capsys)
    assert status == 2 and ".mapguard.toml" in one_line(err)


def test_a_found_config_that_is_not_utf8_is_one_line(
        module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (module / ".mapguard.toml").write_bytes(b"ignore = [] # \xff\n")
    status, _, err = run(["./..."], capsys)
    assert status == 2 and "not UTF-8" in one_line(err)


@pytest.mark.parametrize("option", ["--baseline", "--config"])
def test_an_input_that_is_a_directory_is_one_line(
        module: Path, capsys: pytest.CaptureFixture[str], option: str) -> None:
    (module / "adir").mkdir()
    status, _, err = run([option, "adir"], capsys)
    assert status == 2 and "adir" in one_line(err) and "directory" in err


# --- ignore comments --------------------------------------------------------------------------


@pytest.mark.parametrize(("comment", "warning"), [
    ("//mapguard:ignore", "names no rule"),
    ("//mapguard:ignore because it is fine", "names no rule"),
    ("//mapguard:ignore MG030 reviewed", "names unknown rule MG030"),
    ("//mapguard:ignore MG003,MG0003 reviewed", "names unknown rule MG0003"),
])
def test_an_ignore_comment_that_suppresses_nothing_is_a_warning(
        write_module: WriteModule, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], comment: str, warning: str) -> None:
    root = write_module({"p.go": DELETE_LOOP.replace("\tfor k", f"\t{comment}\n\tfor k")})
    monkeypatch.chdir(root)
    _, _, err = run(["--format", "json", "./..."], capsys)
    assert f"p.go:4: warning: ignore comment {warning}" not in err  # JSON: in the document
    _, out, err = run(["./..."], capsys)
    assert f"p.go:4: warning: ignore comment {warning}" in err
    # The rule it meant to silence still reports unless the comment names it rightly.
    assert ("MG003" in out) == ("MG003," not in comment)
    _, out, _ = run(["--format", "json", "./..."], capsys)
    assert json.loads(out)["warnings"][0]["line"] == 4


def test_rule_names_work_in_ignore_comments(write_module: WriteModule,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    root = write_module({"p.go": DELETE_LOOP.replace(
        "\tfor k", "\t//mapguard:ignore delete-all-loop emptied on purpose\n\tfor k")})
    monkeypatch.chdir(root)
    status, _, err = run(["./..."], capsys)
    assert status == 0 and "warning" not in err


# --- each module's configuration --------------------------------------------------------------


def test_each_module_config_applies_when_linting_from_the_parent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name, config in (("quiet", 'ignore = ["MG003"]\n'), ("loud", None)):
        module = tmp_path / name
        module.mkdir()
        (module / "go.mod").write_text(f"module example.com/{name}\n\ngo 1.22\n")
        (module / "p.go").write_text(DELETE_LOOP)
        if config is not None:
            (module / ".mapguard.toml").write_text(config)
    monkeypatch.chdir(tmp_path)
    _, out, _ = run(["--format", "json", "./..."], capsys)
    assert [f["path"] for f in json.loads(out)["findings"]] == ["loud/p.go"]
    monkeypatch.chdir(tmp_path / "quiet")
    assert run(["./..."], capsys)[0] == 0  # the same as from inside
    monkeypatch.chdir(tmp_path)
    _, out, _ = run(["--select", "MG003", "--format", "json", "./..."], capsys)
    assert len(json.loads(out)["findings"]) == 2  # the command line overrides every file


def test_a_module_config_excludes_relative_to_itself(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    module = tmp_path / "m"
    (module / "gen").mkdir(parents=True)
    (module / "go.mod").write_text("module example.com/m\n\ngo 1.22\n")
    (module / "p.go").write_text(DELETE_LOOP)
    (module / "gen" / "g.go").write_text(DELETE_LOOP.replace("package p", "package gen"))
    (module / ".mapguard.toml").write_text('exclude = ["gen/**"]\n')
    monkeypatch.chdir(tmp_path)
    _, out, _ = run(["--format", "json", "./..."], capsys)
    assert [f["path"] for f in json.loads(out)["findings"]] == ["m/p.go"]


# --- reports -----------------------------------------------------------------------------


def test_diff_with_json_keeps_stdout_json(module: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    status, out, _ = run(["--diff", "--format", "json", "./..."], capsys)
    document = json.loads(out)
    assert status == 1 and "+\tclear(m)" in document["diff"]
    assert (module / "p.go").read_text().count("delete(") == 1


def test_diff_with_sarif_puts_the_diff_on_stderr(module: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _, out, err = run(["--diff", "--format", "sarif", "./..."], capsys)
    assert json.loads(out)["version"] == "2.1.0" and "+\tclear(m)" in err


def test_after_fix_positions_are_those_of_the_fixed_file(
        write_module: WriteModule, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # The MG003 fix turns three lines into one: the MG002 finding below moves up by two.
    root = write_module({"p.go": DELETE_LOOP + """
func index(users []string) map[string]bool {
	byName := make(map[string]bool)
	for _, u := range users {
		byName[u] = true
	}
	return byName
}
"""})
    monkeypatch.chdir(root)
    _, out, _ = run(["--select", "MG002,MG003", "--format", "json", "./..."], capsys)
    before = {f["rule"]: f["line"] for f in json.loads(out)["findings"]}
    assert before == {"MG003": 4, "MG002": 10}
    status, out, _ = run(["--select", "MG003,MG002", "--fix", "--format", "json", "./..."],
                         capsys)
    after = json.loads(out)["findings"]
    lines = (root / "p.go").read_text().split("\n")
    # Whatever the MG002 fix did, each reported position is in the file as it is now.
    for finding in after:
        assert "make(map[string]bool" in lines[finding["line"] - 1] or finding["rule"] != "MG002"
    assert status in {0, 1}


def test_long_lines_are_cut_in_code_frames(write_module: WriteModule,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    padding = "/*" + "x" * 5000 + "*/"
    root = write_module({"p.go": DELETE_LOOP.replace("\tfor k", f"\t{padding} for k")})
    monkeypatch.chdir(root)
    _, out, _ = run(["./..."], capsys)
    frame = next(line for line in out.splitlines() if line.lstrip().startswith("4 |"))
    caret = next(line for line in out.splitlines() if "^" in line)
    assert len(frame) < 200 and "…" in frame
    # The caret still points at `for`.
    assert frame[caret.index("^"):].startswith("for k")


def test_sarif_says_the_run_failed_when_files_were_not_analysed(
        module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(["--format", "sarif", "./..."], capsys)
    assert json.loads(out)["runs"][0]["invocations"][0]["executionSuccessful"] is True
    (module / "broken.go").write_text("package p\n\nfunc (\n")
    status, out, _ = run(["--format", "sarif", "./..."], capsys)
    invocation = json.loads(out)["runs"][0]["invocations"][0]
    assert status == 2 and invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["level"] == "error"


def test_the_text_report_names_the_rules_a_go_version_silences(
        write_module: WriteModule, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    root = write_module({"p.go": DELETE_LOOP}, go="1.20")
    monkeypatch.chdir(root)
    _, out, _ = run(["./..."], capsys)
    summary = next(line for line in out.splitlines() if " assumed for " in line)
    assert "Go 1.20 assumed for example.com/mod (its go.mod), which silences" in summary
    assert "MG003" in summary.split("silences", 1)[1]
    _, out, _ = run(["--format", "json", "./..."], capsys)
    assert "MG003" in json.loads(out)["go_versions"][0]["silenced"]
    monkeypatch.chdir(write_module({"p.go": DELETE_LOOP}, go="1.22", name="newer"))
    _, out, _ = run(["./..."], capsys)
    assert "silences" not in out


def test_a_go_mod_without_a_go_line_is_read_as_go_1_16(
        write_module: WriteModule, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The go command builds such a module at go 1.16 (test_gofacts.py checks it): clear()
    would not compile there, so MG003 is silenced and the report says why (round 16: 13
    atomic.Pointer findings on cornelk/hashmap v1.0.1, which has no go line)."""
    root = write_module({"p.go": DELETE_LOOP}, go=None)
    (root / "go.mod").write_text("module example.com/mod\n")
    monkeypatch.chdir(root)
    status, out, _ = run(["./..."], capsys)
    summary = next(line for line in out.splitlines() if " assumed for " in line)
    assert status == 0 and "MG003" not in out.split(summary)[0]
    assert ("Go 1.16 assumed for example.com/mod (its go.mod has no go line, which the go "
            "command reads as go 1.16), which silences") in summary
    assert "MG003" in summary.split("silences", 1)[1]
