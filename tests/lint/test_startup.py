"""What a lint run imports: the profile reader (numpy, protobuf) costs a fifth of a second
of start-up, and only `lint --profile` needs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
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


# What only the result cache needs (OpenSSL's hashes, SQLite): a lint without one never does.
CACHE = ("hashlib", "sqlite3")


def test_lint_imports_the_cache_store_and_hashes_only_when_it_uses_them() -> None:
    assert _loaded("mapguard.lint.commands", CACHE) == ""
    probe = "mapguard.lint.commands, mapguard.digests; mapguard.digests.blake2b(digest_size=8)"
    assert _loaded(probe, CACHE) == "hashlib"


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


# What the standard worker pool brings (its import and its threads cost 12-17 ms before the
# first package is read): forked workers need none of it.
POOL = ("multiprocessing", "multiprocessing.pool", "subprocess", "tempfile")


def test_a_lint_with_workers_forks_them_without_the_standard_pool() -> None:
    # Two workers forced (any size): the answers they send are counted.
    probe = ("import sys, mapguard.lint.engine as engine, mapguard.lint.workers as workers; "
             "engine.PARALLEL_THRESHOLD_BYTES = 0; answered = []; "
             "original = workers._Worker.answer; "
             "workers._Worker.answer = lambda self: answered.append(1) or original(self); "
             "from mapguard.cli import main; "
             "status = main(['lint', '-j', '2', '--no-cache', '--format', 'json', '-o', "
             f"'/dev/null', '{CORPUS}/...']); "
             f"print(status, len(answered), ','.join(m for m in {POOL!r} if m in sys.modules))")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           timeout=300).stdout.split(" ")
    assert shown[0] == "1" and int(shown[1]) > 2  # findings, from answers of the workers
    assert shown[2].strip() == ""


def test_the_installed_command_exits_without_teardown_and_loses_no_output(tmp_path: Path
                                                                         ) -> None:
    """`mapguard lint` leaves by os._exit once it has flushed: the report, piped, arrives
    whole, and the status is the lint's; a command that registered an exit handler still
    runs it."""
    command = [sys.executable, "-m", "mapguard.cli", "lint", "--no-cache", "--format", "json",
               f"{CORPUS}/..."]
    piped = subprocess.run(command, capture_output=True, text=True, timeout=300)
    report = json.loads(piped.stdout)
    assert piped.returncode == 1 and report["findings"]
    assert piped.stdout.endswith("}\n")
    marker = tmp_path / "ran"
    probe = (f"import atexit, pathlib, sys; atexit.register(pathlib.Path({str(marker)!r})"
             ".write_text, 'yes'); sys.argv = ['mapguard', 'lint', '--no-cache', "
             f"'{CORPUS}/...']; from mapguard.cli import run; run()")
    handled = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             timeout=300)
    assert handled.returncode == 1 and marker.read_text() == "yes"


def test_the_command_sets_the_collectors_pace_before_importing_its_modules() -> None:
    # A meta-path finder records the threshold in force when click is first looked up: the
    # pace must already be the command's, or the passes over the imports' objects come back.
    probe = (
        "import gc, sys\n"
        "seen = []\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'click':\n"
        "            seen.append(gc.get_threshold())\n"
        "        return None\n"
        "sys.meta_path.insert(0, Spy())\n"
        "import mapguard.cli\n"
        "print(seen[0] == mapguard.cli.COLLECTOR_THRESHOLDS, seen[0] != (700, 10, 10))\n")
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                           check=True, timeout=120).stdout.split()
    assert shown == ["True", "True"]
