"""Turn a directory's Go files into parsed packages, keeping files that do not parse aside."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node

from mapguard.goversion import GoVersion
from mapguard.source.discover import PackageDir
from mapguard.source.gomod import GoModule, find_module
from mapguard.source.package import GoFile, Package, package_clause_name, read_imports
from mapguard.source.parser import first_syntax_error, parse_go


@dataclass(frozen=True, slots=True)
class FileError:
    path: Path
    message: str


@dataclass(frozen=True, slots=True)
class VersionChoice:
    version: GoVersion
    source: str  # "flag", "go.mod", "toolchain" or "default"


VersionPolicy = Callable[[GoModule | None], VersionChoice]


def load_packages(
    package_dir: PackageDir, choose_version: VersionPolicy
) -> tuple[list[Package], list[FileError]]:
    """Parse every file; group the good ones by package clause (`p` and `p_test` apart)."""
    errors: list[FileError] = []
    by_name: dict[str, list[GoFile]] = {}
    context = [f for f in package_dir.files if f.context_only]
    for source_file in package_dir.files:
        if source_file.context_only:
            continue
        tree = parse_go(source_file.content)
        error = first_syntax_error(tree)
        if error is not None:
            message = _describe_syntax_error(error, source_file.content)
            errors.append(FileError(source_file.path, message))
            continue
        name = package_clause_name(tree.root_node, source_file.content)
        if name is None:
            errors.append(FileError(source_file.path, "no package clause"))
            continue
        imports = read_imports(tree.root_node, source_file.content)
        by_name.setdefault(name, []).append(
            GoFile(source_file.path, source_file.content, tree, name, imports)
        )
    module = find_module(package_dir.directory)
    choice = choose_version(module)
    packages: list[Package] = []
    for name, files in sorted(by_name.items()):
        package = Package(package_dir.directory, name, files, module, choice.version, choice.source)
        package.deferred = [(f.path, f.content) for f in context]
        packages.append(package)
    return packages, errors


def _describe_syntax_error(node: Node, source: bytes) -> str:
    line, column = node.start_point.row + 1, node.start_point.column + 1
    if node.is_missing:
        return f"syntax error at {line}:{column}: missing {node.type!r}"
    snippet = source[node.start_byte : min(node.end_byte, node.start_byte + 24)]
    token = snippet.decode("utf-8", "replace").split("\n", 1)[0].strip()
    return f"syntax error at {line}:{column}: unexpected {token!r}" if token else (
        f"syntax error at {line}:{column}"
    )
