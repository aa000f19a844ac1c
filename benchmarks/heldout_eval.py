"""Held-out before/after evaluation: does lint report real map bugs on the code before their fix,
and only there?

    .venv/bin/python benchmarks/heldout_eval.py --set /work/heldout/set.json --markdown

That one command is the re-run after a rule change: it lints every fix of the set with mapguard
as it was before issue 15 (`pre15`: this repository at 19a288e^1, its `src/` extracted to a
temporary directory and run with this checkout's installed dependencies; cached per revision)
and with this checkout (`current`), then prints one verdict line per fix and the bar of issue 15.
Other versions to compare: `--version LABEL=REV` (any git revision of this repository; `.` is
this checkout) or `--mapguard LABEL=COMMAND` (any mapguard command line); the first version is
the baseline of the bar, the last the one measured.

The set file (kept outside the project, see docs/review/heldout-before-after.md) is JSON:

    {"fixes": [{"id": ..., "repo": "owner+name", "fix": SHA, "parent": SHA, "kind": "a"|"b"|"c",
                "cross_package": whether a kind b writer and its goroutine are in different
                packages, "description": ..., "files": [paths the fix touched],
                "bug_lines": [{"file": path, "lines": [line numbers in the parent]}]}]}

For each fix and each side (the parent: `before`; the fix: `after`) the repository's module that
holds the bug is extracted from the git history under --mirror (`git archive`, only *.go,
go.mod and go.sum, without vendor/: the whole module, so that the module-wide rules see the
other packages), and `mapguard lint <packages> --no-cache --format json` runs in it, on the
packages the fix touched and those of the bug lines (where the fix touched only a caller), or
with --whole-module on all of them (`./...`: slower, but calls are then followed from handlers
and goroutines in packages the fix did not touch).

A fix counts as *caught* by a version when
- a finding of a rule that fits the fix's kind (kinds a and b: any rule but the speed advice;
  kind c: the speed advice) lies on a bug line (within --window lines) or in the same function
  in the before code,
- such a finding is gone from the after code (fewer findings of that rule, file, function and
  map name), and
- the after code has no finding the before code did not have.
Kind c fixes missed without a profile are counted as "needs a profile". The bar: of the kind a
and b fixes the baseline has no finding for, the share the measured version catches (issue 15
asks for at least a third).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_lint_revisions import (  # the sibling script's revision extractor
    ROOT,
    extract_archive,
    extract_src,
)

DEFAULT_VERSIONS = ("pre15=19a288e^1", "current=.")
SPEED_RULES = frozenset({"MG001", "MG002", "MG003", "MG010", "MG011", "MG012"})
FUNC_START = re.compile(r"^func\s*(\([^)]*\))?\s*([A-Za-z_][A-Za-z0-9_]*)")


class BadInput(Exception):
    """One line naming the file and the problem."""


@dataclass(frozen=True, slots=True)
class Version:
    label: str
    command: tuple[str, ...]
    cache_tag: str | None  # a commit hash when the results of this version can be cached


@dataclass(frozen=True, slots=True)
class Fix:
    id: str
    repo: str
    fix: str
    parent: str
    kind: str
    cross_package: bool
    description: str
    files: tuple[str, ...]
    bug_lines: dict[str, tuple[int, ...]]


@dataclass(slots=True)
class SideRun:
    findings: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def load_set(path: Path) -> list[Fix]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: is a directory, expected a JSON set file") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise BadInput(f"{path}: not JSON ({error.msg}, line {error.lineno})") from None
    try:
        return [Fix(id=item["id"], repo=item["repo"], fix=item["fix"], parent=item["parent"],
                    kind=item["kind"], cross_package=bool(item.get("cross_package")),
                    description=item["description"],
                    files=tuple(item["files"]),
                    bug_lines={entry["file"]: tuple(entry["lines"])
                               for entry in item["bug_lines"]})
                for item in data["fixes"]]
    except (KeyError, TypeError) as error:
        raise BadInput(f"{path}: a fix lacks the field {error}") from None


def parse_versions(specs: list[str], commands: list[str], scratch: Path) -> list[Version]:
    versions: list[Version] = []
    for spec in specs or ([] if commands else list(DEFAULT_VERSIONS)):
        label, _, revision = spec.partition("=")
        if not label or not revision:
            raise BadInput(f"--version {spec!r}: expected LABEL=REV")
        if revision == ".":
            src, tag = ROOT / "src", None
        else:
            resolved = subprocess.run(["git", "rev-parse", "--verify", revision + "^{commit}"],
                                      cwd=ROOT, capture_output=True, text=True)
            if resolved.returncode != 0:
                raise BadInput(f"--version {spec!r}: {revision} is no revision of {ROOT}")
            tag = resolved.stdout.strip()
            src = extract_src(tag, scratch / f"src-{tag[:12]}")
        versions.append(Version(label, (sys.executable, "-c",
                                        "import sys; sys.path.insert(0, sys.argv.pop(1)); "
                                        "from mapguard.cli import main; main()", str(src)), tag))
    for spec in commands:
        label, _, command = spec.partition("=")
        if not label or not command:
            raise BadInput(f"--mapguard {spec!r}: expected LABEL=COMMAND")
        versions.append(Version(label, tuple(shlex.split(command)), None))
    return versions


def git(git_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True)


def module_root(git_dir: Path, revision: str, path: str) -> str:
    """The directory of the nearest go.mod above `path` at `revision` ('' for the repository
    root, also when no go.mod exists: GOPATH-era code)."""
    parts = path.split("/")[:-1]
    while parts:
        if git(git_dir, "cat-file", "-e", f"{revision}:{'/'.join(parts)}/go.mod").returncode == 0:
            return "/".join(parts)
        parts.pop()
    return ""


def extract_module(git_dir: Path, revision: str, root: str, into: Path) -> None:
    if into.is_dir():
        return
    prefix = f"{root}/" if root else ""
    blobs = {}  # path -> object id, of the files taken
    for entry in git(git_dir, "ls-tree", "-r", revision, "--", root or ".").stdout.splitlines():
        meta, _, path = entry.decode(errors="replace").partition("\t")
        name = path.rsplit("/", 1)[-1]
        if ((name.endswith(".go") or name in {"go.mod", "go.sum"})
                and "/vendor/" not in f"/{path}"):
            blobs[path] = meta.split()[2]
    checked = subprocess.run(["git", f"--git-dir={git_dir}", "cat-file", "--batch-check"],
                             input="\n".join(blobs.values()) + "\n", capture_output=True,
                             text=True).stdout.splitlines()
    # a snapshot may lack its largest blobs (generated assets): leave those files out
    absent = [path for path, line in zip(blobs, checked, strict=True) if line.endswith("missing")]
    names = {path.rsplit("/", 1)[-1] for path in blobs}
    # git archive fails on a pathspec that matches nothing: GOPATH-era trees have no go.mod
    specs = [f":(glob){prefix}**/{name}" for name in ("*.go", "go.mod", "go.sum")
             if name.startswith("*") or name in names]
    archive = git(git_dir, "archive", "--format=tar", revision, "--", *specs,
                  f":(exclude,glob){prefix}**/vendor/**",
                  *(f":(exclude,literal){path}" for path in absent))
    if archive.returncode != 0:
        raise BadInput(f"{git_dir}: git archive {revision} failed: "
                       f"{archive.stderr.decode(errors='replace').strip()}")
    partial = into.with_name(into.name + ".partial")
    extract_archive(archive.stdout, partial)
    partial.rename(into)


def lint(version: Version, module: Path, packages: list[str], output: Path) -> SideRun:
    targets = [f"./{package}" if package != "." else "." for package in packages]
    done = subprocess.run([*version.command, "lint", *targets, "--no-cache", "--format", "json",
                           "-o", str(output)], cwd=module, capture_output=True, text=True)
    run = SideRun()
    if done.returncode not in {0, 1, 2} or not output.is_file():
        run.errors.append(f"exit {done.returncode}: {done.stderr.strip()[-300:]}")
        return run
    report = json.loads(output.read_text(encoding="utf-8"))
    run.findings = report["findings"]
    run.errors = [str(error) for error in report.get("errors", [])]
    return run


def function_spans(source: Path) -> list[tuple[int, int, str]]:
    """(first line, last line, name) of each top-level function of a gofmt-formatted file."""
    spans: list[tuple[int, int, str]] = []
    lines = source.read_text(encoding="utf-8", errors="replace").splitlines()
    start: tuple[int, str] | None = None
    for number, line in enumerate(lines, 1):
        match = FUNC_START.match(line)
        if match:
            receiver = re.sub(r"^\(\s*\w*\s*\*?|\)$", "", match.group(1) or "").strip()
            start = (number, f"{receiver}.{match.group(2)}" if receiver else match.group(2))
            if line.rstrip().endswith("}"):
                spans.append((number, number, start[1]))
                start = None
        elif start is not None and line == "}":
            spans.append((start[0], number, start[1]))
            start = None
    return spans


def function_at(spans: list[tuple[int, int, str]], line: int) -> str | None:
    return next((name for first, last, name in spans if first <= line <= last), None)


Key = tuple[str, str, str, str]


def finding_keys(findings: list[dict[str, Any]], module: Path, root: str) -> list[Key]:
    """(rule, repository path, function, subject) of each finding: what survives line shifts.
    The subject is the first `quoted` name of the message (the map the finding is about)."""
    spans: dict[str, list[tuple[int, int, str]]] = {}
    keys: list[Key] = []
    for finding in findings:
        path = finding["path"]
        if path not in spans:
            spans[path] = function_spans(module / path) if (module / path).is_file() else []
        subject = re.search(r"`([^`]*)`", finding["message"])
        keys.append((finding["rule"], repo_path(root, path),
                     function_at(spans[path], finding["line"]) or f"line {finding['line']}",
                     subject.group(1) if subject else ""))
    return keys


def repo_path(root: str, path: str) -> str:
    return f"{root}/{path}" if root else path


def fits_kind(rule: str, kind: str) -> bool:
    return (rule in SPEED_RULES) == (kind == "c")


def evaluate(fix: Fix, version: Version, mirror: Path, work: Path, window: int,
             whole_module: bool) -> dict[str, Any]:
    git_dir = mirror / fix.repo / "repo"
    if not git_dir.is_dir():
        raise BadInput(f"{git_dir}: no such git directory (is --mirror right?)")
    root = module_root(git_dir, fix.parent, next(iter(fix.bug_lines)))
    runs: dict[str, tuple[SideRun, Path]] = {}
    for side, revision in (("before", fix.parent), ("after", fix.fix)):
        module = work / "trees" / f"{fix.id}-{side}"
        extract_module(git_dir, revision, root, module)
        module_dir = module / root if root else module
        wanted = [path for path in fix.files if path.endswith(".go")
                  and not path.endswith("_test.go") and "/vendor/" not in f"/{path}"]
        packages = sorted({str(Path(path[len(root) + 1:] if root else path).parent)
                           for path in [*wanted, *fix.bug_lines] if (module / path).is_file()})
        if whole_module:
            packages = ["..."]
        targets = hashlib.sha256("\0".join(packages).encode()).hexdigest()[:12]
        cache = (work / "results" / f"{version.cache_tag}-{fix.id}-{side}-{targets}.json"
                 if version.cache_tag else None)
        if cache is not None and cache.is_file():
            cached = json.loads(cache.read_text(encoding="utf-8"))
            run = SideRun(cached["findings"], cached["errors"])
        else:
            output = work / "out" / f"{version.label}-{fix.id}-{side}.json"
            output.parent.mkdir(parents=True, exist_ok=True)
            output.unlink(missing_ok=True)
            run = lint(version, module_dir, packages, output)
            if cache is not None and not any(e.startswith("exit ") for e in run.errors):
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps({"findings": run.findings, "errors": run.errors}))
        runs[side] = (run, module_dir)

    before, before_dir = runs["before"]
    after, after_dir = runs["after"]
    before_keys = finding_keys(before.findings, before_dir, root)
    after_keys = finding_keys(after.findings, after_dir, root)
    bug_functions = {}
    for path, lines in fix.bug_lines.items():
        source = work / "trees" / f"{fix.id}-before" / path
        spans = function_spans(source) if source.is_file() else []
        bug_functions[path] = {function_at(spans, line) for line in lines} - {None}
    at_bug = []
    for finding, key in zip(before.findings, before_keys, strict=True):
        path = key[1]
        lines = fix.bug_lines.get(path, ())
        near = any(abs(finding["line"] - line) <= window for line in lines)
        if fits_kind(finding["rule"], fix.kind) and (near or key[2] in bug_functions.get(path, ())):
            at_bug.append({"rule": finding["rule"], "path": path, "line": finding["line"],
                           "function": key[2], "subject": key[3],
                           "message": finding["message"][:200]})
    # a finding is gone when the after code has fewer findings of its key than the before code
    shrunk = Counter(before_keys) - Counter(after_keys)
    gone = [hit for hit in at_bug
            if shrunk[(hit["rule"], hit["path"], hit["function"], hit["subject"])] > 0]
    new_after = Counter(after_keys) - Counter(before_keys)
    failed = [e for e in before.errors + after.errors if e.startswith("exit ")]
    if failed:
        verdict = "error"
    elif not at_bug:
        verdict = "needs a profile" if fix.kind == "c" else "missed"
    elif not gone:
        verdict = "reported, still reported after the fix"
    elif new_after:
        verdict = "reported, but the fix gains a finding"
    else:
        verdict = "caught"
    return {"id": fix.id, "repo": fix.repo, "fix": fix.fix, "kind": fix.kind,
            "version": version.label, "verdict": verdict, "at_bug": at_bug,
            "gone_after": gone,
            "new_after": [list(key) for key in new_after.elements()],
            "before_findings": len(before.findings), "after_findings": len(after.findings),
            "before_rules": dict(Counter(f["rule"] for f in before.findings)),
            "errors": before.errors + after.errors}



def summarise(results: dict[str, list[dict[str, Any]]], fixes: list[Fix],
              markdown: bool) -> list[str]:
    labels = list(results)
    by_id = {label: {r["id"]: r for r in rows} for label, rows in results.items()}
    out = []
    if markdown:
        out.append("| fix | repo | kind | " + " | ".join(labels) + " |")
        out.append("|---|---|---|" + "---|" * len(labels))
    for fix in fixes:
        cells = []
        for label in labels:
            row = by_id[label][fix.id]
            rules = ",".join(sorted({hit["rule"] for hit in row["at_bug"]}))
            cells.append(row["verdict"] + (f" ({rules})" if rules else ""))
        if markdown:
            out.append(f"| {fix.fix[:10]} | {fix.repo} | {fix.kind} | " + " | ".join(cells) + " |")
        else:
            pairs = zip(labels, cells, strict=True)
            out.append(f"{fix.repo} {fix.fix[:10]} {fix.kind}: "
                       + "; ".join(f"{label}: {cell}" for label, cell in pairs))
    out.append("")
    for label in labels:
        rows = results[label]
        verdicts = Counter((row["kind"], row["verdict"]) for row in rows)
        out.append(f"{label}: " + ", ".join(f"{kind}/{verdict}: {count}" for (kind, verdict), count
                                             in sorted(verdicts.items())))
        by_rule: Counter[str] = sum((Counter(row["before_rules"]) for row in rows), Counter())
        out.append(f"{label}: all findings on the before code, by rule: "
                   + ", ".join(f"{rule} {count}" for rule, count in sorted(by_rule.items())))
    base, measured = labels[0], labels[-1]
    unseen = [fix for fix in fixes if fix.kind in {"a", "b"} and not by_id[base][fix.id]["at_bug"]]
    caught = [fix for fix in unseen if by_id[measured][fix.id]["verdict"] == "caught"]
    profile = [fix for fix in fixes if fix.kind == "c"
               and by_id[measured][fix.id]["verdict"] == "needs a profile"]
    out.append(f"bar: of the {len(unseen)} kind a/b fixes {base} has no finding for, {measured} "
               f"catches {len(caught)} ({len(caught) / len(unseen):.0%}; needed: a third)"
               if unseen else f"bar: {base} has a finding for every kind a/b fix")
    cross = [fix for fix in fixes if fix.cross_package]
    out.append(f"kind b fixes across packages: {len(cross)}, {measured} catches "
               f"{sum(by_id[measured][fix.id]['verdict'] == 'caught' for fix in cross)}")
    out.append(f"kind c fixes {measured} cannot see without a profile: {len(profile)} of "
               f"{sum(fix.kind == 'c' for fix in fixes)}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, required=True, help="the held-out set (JSON)")
    parser.add_argument("--version", action="append", default=[], metavar="LABEL=REV",
                        help="a git revision of this repository ('.' = this checkout); "
                             f"default {' and '.join(DEFAULT_VERSIONS)}")
    parser.add_argument("--mapguard", action="append", default=[], metavar="LABEL=COMMAND",
                        help="a mapguard command line to evaluate")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"),
                        help="where the repositories' git directories are (OWNER+NAME/repo)")
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "mapguard-heldout",
                        help="extracted trees and cached results of fixed revisions")
    parser.add_argument("--window", type=int, default=3,
                        help="lines around a bug line that count as on it")
    parser.add_argument("--whole-module", action="store_true",
                        help="lint the module's every package (./...), so that calls are followed "
                             "from goroutines and handlers in packages the fix did not touch")
    parser.add_argument("--only", action="append", default=[], help="only this fix id")
    parser.add_argument("--output", type=Path, help="write all results here as JSON")
    parser.add_argument("--markdown", action="store_true", help="the verdicts as a table")
    args = parser.parse_args()
    try:
        fixes = [fix for fix in load_set(args.set) if not args.only or fix.id in args.only]
        if not args.mirror.is_dir():
            raise BadInput(f"{args.mirror}: no such directory")
        args.work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            versions = parse_versions(args.version, args.mapguard, Path(scratch))
            results: dict[str, list[dict[str, Any]]] = {v.label: [] for v in versions}
            for number, fix in enumerate(fixes, 1):
                for version in versions:
                    row = evaluate(fix, version, args.mirror, args.work, args.window,
                                   args.whole_module)
                    results[version.label].append(row)
                    print(f"[{number}/{len(fixes)}] {fix.id} {version.label}: {row['verdict']}",
                          file=sys.stderr, flush=True)
    except BadInput as error:
        print(f"heldout_eval: {error}", file=sys.stderr)
        return 2
    if args.output:
        args.output.write_text(json.dumps(results, indent=1), encoding="utf-8")
    print("\n".join(summarise(results, fixes, args.markdown)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
