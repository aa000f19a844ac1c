"""What a lint run imports: the profile reader (numpy, protobuf) costs a fifth of a second
of start-up, and only `lint --profile` needs it."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "google.protobuf", "mapguard.formats.pprof")
# What joins a profile's evidence to the source: only MG012, with a profile, reports with it.
EVIDENCE = ("mapguard.lint.measured", "mapguard.evidence.tablesize")
# What only --fix/--diff, --bundle and a configuration file need.
ON_REQUEST = ("mapguard.lint.fixes", "difflib", "mapguard.bundle.writer", "tomllib")
# The Go tool's runner: only a file with a syntax error (does gofmt accept it?) or code without
# a go directive (which Go is installed?) needs it.
GO_TOOL = ("mapguard.gotool", "subprocess", "shutil")


def _loaded(imports: str, modules: tuple[str, ...]) -> str:
    """Which of `modules` a fresh interpreter holds after `import {imports}`, comma-joined."""
    probe = (f"import sys; import {imports}; "
             f"print(','.join(m for m in {modules!r} if m in sys.modules))")
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120).stdout.strip()


def test_lint_without_a_profile_does_not_import_the_profile_reader() -> None:
    assert _loaded("mapguard.lint.commands", HEAVY) == ""


def test_the_probe_sees_the_profile_reader_once_it_is_imported() -> None:
    loaded = _loaded("mapguard.lint.commands, mapguard.formats.pprof", HEAVY)
    assert loaded.split(",") == list(HEAVY)


def test_lint_without_a_profile_does_not_import_the_evidence_joiner() -> None:
    assert _loaded("mapguard.lint.commands", EVIDENCE) == ""


def test_lint_imports_the_fix_writer_bundle_writer_and_toml_reader_only_when_asked() -> None:
    assert _loaded("mapguard.lint.commands", ON_REQUEST) == ""
    loaded = _loaded("mapguard.lint.commands, mapguard.lint.fixes, mapguard.bundle.writer, "
                     "tomllib", ON_REQUEST)
    assert loaded.split(",") == list(ON_REQUEST)


def test_lint_imports_the_go_tool_runner_only_when_it_runs_go() -> None:
    assert _loaded("mapguard.lint.commands", GO_TOOL) == ""
    assert _loaded("mapguard.lint.commands, mapguard.gotool", GO_TOOL).split(",") == list(GO_TOOL)


# What tree-sitter-go's package brings in for its highlighting queries, which lint never reads.
QUERY_READER = ("tree_sitter_go", "importlib.resources", "tempfile")


def test_lint_loads_the_go_grammar_without_its_packages_query_reader() -> None:
    assert _loaded("mapguard.lint.commands", QUERY_READER) == ""
    assert _loaded("mapguard.lint.commands, tree_sitter_go", QUERY_READER).split(",") == list(
        QUERY_READER)


def test_the_grammar_loaded_directly_is_the_packages_own() -> None:
    import tree_sitter_go
    from tree_sitter import Language

    from mapguard.source.parser import GO_LANGUAGE

    documented = Language(tree_sitter_go.language())
    assert (GO_LANGUAGE.name, GO_LANGUAGE.abi_version, GO_LANGUAGE.node_kind_count) == (
        documented.name, documented.abi_version, documented.node_kind_count)


def test_a_grammar_package_of_another_layout_is_imported_as_documented() -> None:
    # No binding file where one is expected: the parser still loads, through the package.
    probe = ("import importlib.machinery, sys; importlib.machinery.EXTENSION_SUFFIXES[:] = "
             "['.no-such-suffix']; import mapguard.source.parser as p; "
             "print(p.GO_LANGUAGE.name, 'tree_sitter_go' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, timeout=120).stdout.split()
    assert shown == ["go", "True"]
