from __future__ import annotations

import json

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


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--format", "yaml"]) == 2
    assert "Invalid value for '--format'" in capsys.readouterr().err
