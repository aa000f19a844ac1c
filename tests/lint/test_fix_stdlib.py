"""`mapguard lint --fix` on a copy of the whole standard library of the newest Go, then
`go build std cmd` and `go vet` on every package a fix changed: both stay green.

The fixed copy is shown to the go command as an overlay (`-overlay`) of the real GOROOT, so the
toolchain builds the fixed text at the real paths (and keeps its build cache for what did not
change). A failure names the fixes of the files the compiler or vet complains about.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.gotool import GoToolchain, gofmt_accepts, run_go

GO_ENV = {"GOFLAGS": "", "GOTOOLCHAIN": "local", "GOPROXY": "off"}




def changed_files(original: Path, copy: Path) -> list[Path]:
    """Relative paths of the .go files whose text differs between the two trees."""
    changed = []
    for path in sorted(copy.rglob("*.go")):
        relative = path.relative_to(copy)
        source = original / relative
        if path.is_file() and source.is_file() and path.read_bytes() != source.read_bytes():
            changed.append(relative)
    return changed


def explain(output: str, src: Path, fixes: dict[str, list[str]]) -> str:
    """The go command's complaints, each with the fixes applied to the file it names."""
    lines = [output.strip()[-4000:], "", "fixes in the files named above:"]
    for relative, applied in sorted(fixes.items()):
        if str(src / relative) in output or relative in output:
            lines.extend(f"  {relative}: {fix}" for fix in applied)
    return "\n".join(lines)


def compiled_files(toolchain: GoToolchain, packages: list[str], overlay: Path,
                   src: Path) -> set[Path]:
    """The files of `packages` the go command compiles on this platform (tests included)."""
    proc = run_go(["list", "-e", "-overlay", str(overlay), "-json=Dir,GoFiles,CgoFiles,"
                   "TestGoFiles,XTestGoFiles", *packages], cwd=src, env=GO_ENV,
                  toolchain=toolchain, timeout=600)
    assert proc.returncode == 0, proc.stderr
    files: set[Path] = set()
    for chunk in re.split(r"(?m)^}\n", proc.stdout):
        if chunk.strip():
            info = json.loads(chunk + "}")
            for key in ("GoFiles", "CgoFiles", "TestGoFiles", "XTestGoFiles"):
                files.update(Path(info["Dir"]) / name for name in info.get(key) or ())
    return files


ALL_ADVICE = ["--extend-select", "MG001,MG002"]


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_fixed_standard_library_builds_and_vets(
        newest_go: GoToolchain, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    src = newest_go.goroot / "src"
    copy = tmp_path / "src"
    shutil.copytree(src, copy, symlinks=True,
                    ignore=shutil.ignore_patterns("testdata", "*.a", "*.syso"))
    # A cache of its own: the first run records the fixes, the --fix run reuses its analysis.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # MG001 and MG002 are off by default; their fixes are the ones most likely to break a
    # build, so they are checked too.
    main(["lint", "--format", "json", *ALL_ADVICE, f"{copy}/..."])
    fixes: dict[str, list[str]] = defaultdict(list)
    for finding in json.loads(capsys.readouterr().out)["findings"]:
        if finding["fix"] is not None:
            relative = str(Path(finding["path"]).resolve().relative_to(copy))
            fixes[relative].append(f"{finding['rule']} line {finding['line']}: "
                                   f"{finding['fix']['description']}")
    report = tmp_path / "report.json"
    status = main(["lint", "--fix", "--format", "json", "-o", str(report), *ALL_ADVICE,
                   f"{copy}/..."])
    capsys.readouterr()
    assert status in {0, 1} and json.loads(report.read_text())["errors"] == []

    changed = changed_files(src, copy)
    assert changed, "no fix applied: the test would check nothing"

    overlay = tmp_path / "overlay.json"
    overlay.write_text(json.dumps({"Replace": {
        str(src / relative): str(copy / relative) for relative in changed}}))
    build = run_go(["build", "-overlay", str(overlay), "std", "cmd"], cwd=src, env=GO_ENV,
                   toolchain=newest_go, timeout=3000)
    assert build.returncode == 0, explain(build.stdout + build.stderr, src, fixes)

    packages = sorted({str(relative.parent) for relative in changed})
    compiled = compiled_files(newest_go, packages, overlay, src)
    vet = run_go(["vet", "-overlay", str(overlay), *packages], cwd=src, env=GO_ENV,
                 toolchain=newest_go, timeout=3000)
    assert vet.returncode == 0, explain(vet.stdout + vet.stderr, src, fixes)
    # Files this platform does not compile: a generator program (`//go:build ignore`) is
    # vetted on its own; a file for another platform must at least still be valid Go.
    for relative in changed:
        if src / relative in compiled:
            continue
        text = (copy / relative).read_bytes()
        if re.search(rb"(?m)^//go:build ignore$", text):
            alone = run_go(["vet", "-overlay", str(overlay), str(src / relative)], cwd=src,
                           env=GO_ENV, toolchain=newest_go, timeout=600)
            assert alone.returncode == 0, explain(alone.stdout + alone.stderr, src, fixes)
        else:
            assert gofmt_accepts(text), explain(f"{relative}: gofmt rejects the fixed text",
                                                src, fixes)
