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
