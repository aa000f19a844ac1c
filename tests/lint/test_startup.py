"""What a lint run imports: the profile reader (numpy, protobuf) costs a fifth of a second
of start-up, and only `lint --profile` needs it."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numpy", "google.protobuf", "mapguard.formats.pprof")


def test_lint_without_a_profile_does_not_import_the_profile_reader() -> None:
    probe = ("import sys; import mapguard.lint.commands; "
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=120).stdout.strip()
    assert loaded == ""


def test_the_probe_sees_the_profile_reader_once_it_is_imported() -> None:
    probe = ("import sys; import mapguard.lint.commands, mapguard.formats.pprof; "
             f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=120).stdout.strip()
    assert loaded.split(",") == list(HEAVY)


# What joins a profile's evidence to the source: only MG012, with a profile, reports with it.
EVIDENCE = ("mapguard.lint.measured", "mapguard.evidence.tablesize")


def test_lint_without_a_profile_does_not_import_the_evidence_joiner() -> None:
    probe = ("import sys; import mapguard.lint.commands; "
             f"print(','.join(m for m in {EVIDENCE!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=120).stdout.strip()
    assert loaded == ""
