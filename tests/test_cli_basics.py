from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.gotool import GoToolchain


def test_doctor_json_names_the_go_toolchain(
    go_toolchain: GoToolchain, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["version"] == 1
    go = next(check for check in document["checks"] if check["name"] == "go")
    assert go["ok"] and go_toolchain.full_version in go["detail"]


def test_doctor_names_the_interpreter_and_its_build_path(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """The interpreter's build weighs on the lint's speed: doctor says which one runs it."""
    assert main(["doctor", "--format", "json"]) in {0, 1}
    document = json.loads(capsys.readouterr().out)
    python = next(check for check in document["checks"] if check["name"] == "python")
    implementation, version, at, path = python["detail"].split(" ", 3)
    assert (implementation, version, at) == (
        platform.python_implementation(), platform.python_version(), "at")
    assert Path(path).is_file() and Path(path) == Path(os.path.realpath(sys.executable))


@pytest.mark.parametrize(("argv", "said"), [
    (["doctor", "--format", "yaml"], "Invalid value for '--format'"),
    (["lint", "--bogus"], "No such option '--bogus'"),
    (["nosuch"], "No such command 'nosuch'"),
    (["slo", "convert", "x.yaml"], "Missing option '--to'. Choose from: sloth, openslo, mapguard"),
    (["incidents", "show", "abc"], "'abc' is not a valid integer"),
])
def test_a_usage_error_is_one_line_and_exit_2(argv: list[str], said: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """As the README says of every bad input: one line (click's usage block would be four),
    naming the problem and where the help is."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mapguard: error: "), err
    assert said in err and "--help`)" in err, err


def test_a_bare_group_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["slo"]) == 2
    assert "Commands:" in capsys.readouterr().err


def test_an_internal_error_is_one_line_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import mapguard.lint.commands as lint_commands

    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyError("planted")

    monkeypatch.setattr(lint_commands, "lint_expansion", broken)
    monkeypatch.delenv("MAPGUARD_DEBUG", raising=False)
    assert main(["lint", "--no-cache", "tests/fixtures/corpus/mg003_delete_all"]) == 3
    err = capsys.readouterr().err
    assert err == ("mapguard: internal error: KeyError: 'planted' (a bug in mapguard; "
                   "MAPGUARD_DEBUG=1 shows where)\n")
    monkeypatch.setenv("MAPGUARD_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["lint", "--no-cache", "tests/fixtures/corpus/mg003_delete_all"])
