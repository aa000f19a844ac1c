"""Turn a directory's Go files into parsed packages, keeping files that do not parse aside."""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from tree_sitter import Node, Tree

from mapguard.goversion import GO_LINE_MISSING, NEWEST_KNOWN, GoVersion
from mapguard.source.buildtags import left_out_by_release
from mapguard.source.discover import PackageDir, SourceFile
from mapguard.source.gomod import GoModule, find_module
from mapguard.source.package import (
    GoFile,
    Package,
    Parsed,
    package_clause_by_text,
    package_clause_name,
    read_imports,
)
from mapguard.source.parser import (
    FunctionSpan,
    first_syntax_error,
    function_spans,
    parse_go,
    parse_go_skipping,
)


@dataclass(frozen=True, slots=True)
class FileError:
    """A file that could not be analysed, and why."""

    path: Path
    message: str


@dataclass(frozen=True, slots=True)
class VersionChoice:
    """The Go version code is judged at, and where it came from."""

    version: GoVersion
    source: str  # "flag", "go.mod", "go.mod without go line", "toolchain" or "default"


VersionPolicy = Callable[[GoModule | None], VersionChoice]


def module_version(module: GoModule | None) -> VersionChoice | None:
    """The version the go command builds the module's code at; None outside any module."""
    if module is None:
        return None
    if module.go_version is not None:
        return VersionChoice(module.go_version, "go.mod")
    # The go command builds such a module (and any module importing it builds it) as go 1.16:
    # advice that needs a newer Go (clear, atomic.Pointer) would not compile there.
    return VersionChoice(GO_LINE_MISSING, "go.mod without go line")


def module_or_newest(module: GoModule | None) -> VersionChoice:
    """The module's version, or the newest Go known for code outside any module (evidence
    joins read code as the newest compiler would)."""
    return module_version(module) or VersionChoice(NEWEST_KNOWN, "default")


def without_old_release_files(package_dir: PackageDir, version: GoVersion
                              ) -> tuple[PackageDir, list[tuple[SourceFile, str]]]:
    """The directory without the files whose `go1.N` constraint no toolchain able to build the
    module satisfies (`//go:build !go1.13` in a go 1.19 module): the go command never compiles
    them, and their declarations would shadow their live twins'. Also each file left out, with
    its constraint line."""
    live: list[SourceFile] = []
    left_out: list[tuple[SourceFile, str]] = []
    for source_file in package_dir.files:
        constraint = left_out_by_release(source_file.content, version)
        if constraint is None:
            live.append(source_file)
        else:
            left_out.append((source_file, constraint))
    if not left_out:
        return package_dir, left_out
    return PackageDir(package_dir.directory, tuple(live)), left_out


def load_compiled_packages(package_dir: PackageDir, choose_version: VersionPolicy,
                           body_triggers: Sequence[BodyTrigger] | None = None,
                           lazily: Callable[[Path, bytes], bool] | None = None,
                           ) -> tuple[list[Package], list[FileError]]:
    """`load_packages` of the files a toolchain able to build the module compiles: without
    those only older toolchains read (`without_old_release_files`). For readers of evidence
    (profiles, escape facts, calls followed into a package) that want the package as built."""
    version = choose_version(find_module(package_dir.directory)).version
    live, _left_out = without_old_release_files(package_dir, version)
    return load_packages(live, choose_version, body_triggers, lazily=lazily)


# Asked about a file the grammar could not parse even with newer syntax rewritten (its path,
# text and the first error): "analyse" when Go's own parser accepts it, so that it is analysed
# as far as its tree goes instead of being reported as a syntax error; "skip" when the go
# command never reads it (a build constraint leaves it out of every build); else "error".
SyntaxVerdict = Literal["error", "analyse", "skip"]
SyntaxJudge = Callable[[Path, bytes, str], SyntaxVerdict]


def load_packages(
    package_dir: PackageDir, choose_version: VersionPolicy,
    body_triggers: Sequence[BodyTrigger] | None = None,
    judge: SyntaxJudge | None = None,
    shard: frozenset[Path] | None = None,
    triggers_for: Callable[[Path, bytes], Sequence[BodyTrigger] | None] | None = None,
    lazily: Callable[[Path, bytes], bool] | None = None,
) -> tuple[list[Package], list[FileError]]:
    """Parse every file; group the good ones by package clause (`p` and `p_test` apart).

    With `body_triggers`, a top-level function body matching none of them is left out of the
    parse (and parsed later only if something asks about a place inside it); every body of a
    file outside `shard`, when given, is left out (another worker checks that file).
    `triggers_for`, when given, chooses them per file instead (path, text), shard or not. A
    file with a syntax error is reported, unless `judge` says Go accepts it or never reads it.
    A file `lazily` accepts is grouped by the package clause read from its text and parsed
    only when something asks about its syntax (`GoFile.later`): a syntax error in it is then
    added to the returned errors, and one in a file never parsed is not reported. Its package
    parses it when a look-up by name may find a declaration in it, unless it is a test file
    (`Package._pending`, `Package._unread`)."""
    errors: list[FileError] = []
    by_name: dict[str, list[GoFile]] = {}
    context = [f for f in package_dir.files if f.context_only]

    def triggers_of(source_file: SourceFile) -> Sequence[BodyTrigger] | None:
        if triggers_for is not None:
            return triggers_for(source_file.path, source_file.content)
        return body_triggers if shard is None or source_file.path in shard else ()

    def parsed(source_file: SourceFile) -> tuple[Tree, tuple[FunctionSpan, ...]] | None:
        """The file's tree and the bodies it leaves out; None when it is not to be analysed
        (a syntax error, reported unless Go never reads it or accepts it)."""
        tree, skipped = _parse(source_file.content, triggers_of(source_file))
        error = first_syntax_error(tree)
        if error is None:
            return tree, skipped
        message = _describe_syntax_error(error, source_file.content)
        verdict = "error" if judge is None else judge(source_file.path,
                                                      source_file.content, message)
        if verdict == "error":
            errors.append(FileError(source_file.path, message))
        return (tree, skipped) if verdict == "analyse" else None

    for source_file in package_dir.files:
        if source_file.context_only:
            continue
        if lazily is not None and lazily(source_file.path, source_file.content) and (
                (clause := package_clause_by_text(source_file.content)) is not None):
            by_name.setdefault(clause, []).append(GoFile(
                source_file.path, source_file.content, None, clause, None,
                later=functools.partial(_parsed_late, parsed, source_file)))
            continue
        outcome = parsed(source_file)
        if outcome is None:
            continue
        tree, skipped = outcome
        name = package_clause_name(tree.root_node, source_file.content)
        if name is None:
            errors.append(FileError(source_file.path, "no package clause"))
            continue
        imports = read_imports(tree.root_node, source_file.content)
        by_name.setdefault(name, []).append(
            GoFile(source_file.path, source_file.content, tree, name, imports, skipped)
        )
    module = find_module(package_dir.directory)
    choice = choose_version(module)
    packages: list[Package] = []
    for name, files in sorted(by_name.items()):
        package = Package(package_dir.directory, name, files, module, choice.version, choice.source)
        package.deferred = [(f.path, f.content) for f in context]
        packages.append(package)
    return packages, errors


def _parsed_late(parsed: Callable[[SourceFile], tuple[Tree, tuple[FunctionSpan, ...]] | None],
                 source_file: SourceFile) -> Parsed:
    """A file read lazily, parsed when first needed. One the eager path would have left out
    of its package (a syntax error) keeps a tree, for whoever asked, but declares nothing."""
    outcome = parsed(source_file)
    if outcome is None:
        return parse_go(source_file.content), (), False
    return outcome[0], outcome[1], True


class BodyTrigger(Protocol):
    """A regular expression, or anything that searches like one (lint's Trigger)."""

    def search(self, source: bytes, position: int, /) -> re.Match[bytes] | None: ...


def _parse(source: bytes, triggers: Sequence[BodyTrigger] | None
           ) -> tuple[Tree, tuple[FunctionSpan, ...]]:
    if triggers is None:
        return parse_go(source), ()
    spans = function_spans(source)
    if not spans:
        return parse_go(source), ()
    starts = [span.start for span in spans]
    wanted: set[int] = set()
    for trigger in dict.fromkeys(triggers):
        position = 0
        # One search per function at most: after a hit, go on after that function.
        while (hit := trigger.search(source, position)) is not None:
            index = bisect.bisect_right(starts, hit.start()) - 1
            if index >= 0 and hit.start() < spans[index].end:
                wanted.add(index)
                position = spans[index].end
            else:
                following = index + 1
                position = max(hit.end(), starts[following] if following < len(starts)
                               else len(source))
    skipped = tuple(span for index, span in enumerate(spans) if index not in wanted)
    if not skipped:
        return parse_go(source), ()
    tree = parse_go_skipping(source, skipped)
    if tree.root_node.has_error:
        return parse_go(source), ()  # the layout was not what the spans assumed
    return tree, skipped


def _describe_syntax_error(node: Node, source: bytes) -> str:
    line, column = node.start_point.row + 1, node.start_point.column + 1
    if node.is_missing:
        return f"syntax error at {line}:{column}: missing {node.type!r}"
    snippet = source[node.start_byte : min(node.end_byte, node.start_byte + 24)]
    token = snippet.decode("utf-8", "replace").split("\n", 1)[0].strip()
    return f"syntax error at {line}:{column}: unexpected {token!r}" if token else (
        f"syntax error at {line}:{column}"
    )
