"""The linter never crashes: not on arbitrary text, not on the Go tree's own testdata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapguard.cli import main
from mapguard.gotool import GoToolchain
from mapguard.lint.engine import LintOptions, lint

GO_TOKENS = st.sampled_from([
    "package p\n", "func f(", ")", "{", "}", "\n", "m[k] = v", "go func() {", "make(map[",
    "string]int", "]", "for k := range m {", "delete(m, k)", "if x == nil {", "x = ",
    "var ", "type T struct {", "mu.Lock()", "defer mu.Unlock()", "//go:linkname a runtime.b",
    "pool.Put(m)", "atomic.LoadPointer(&p)", "\"a\"+b", ":=", "clear(m)", "(*p)", "nil",
])


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=300), st.lists(GO_TOKENS, max_size=60).map("".join)))
def test_any_text_is_analysed_or_reported_never_a_crash(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.go"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    result = lint([str(path)], LintOptions(jobs=1))
    assert result.files == 1
    for error in result.errors:
        assert error.path == path and error.message


@pytest.mark.slow
def test_every_testdata_directory_of_the_go_tree(
    go_toolchain: GoToolchain, capsys: pytest.CaptureFixture[str]
) -> None:
    src = go_toolchain.goroot / "src"
    targets = [f"{d}/..." for d in sorted(src.rglob("testdata")) if d.is_dir()]
    status = main(["lint", "--no-cache", "--format", "json", *targets])
    document = json.loads(capsys.readouterr().out)
    assert status in {1, 2}
    assert document["files"] > 1000
    assert all(e["message"].startswith(("syntax error at", "no package clause", "cannot read"))
               for e in document["errors"])
