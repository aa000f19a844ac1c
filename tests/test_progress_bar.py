"""The progress bar on a terminal: the lint's is redrawn by its callback, with no thread of its
own, since the lint forks its workers while the bar is up."""

from __future__ import annotations

import io
import sys
import threading

import pytest

from mapguard.clikit import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("refresh_thread", [False, True])
def test_a_bar_without_its_thread_starts_none(refresh_thread: bool,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    before = threading.active_count()
    with progress_bar("linting", "packages", refresh_thread=refresh_thread) as update:
        assert update is not None
        update(0, 3)
        update(2, 3)
        during = threading.active_count()
    assert during == before + (1 if refresh_thread else 0)
    # Drawn all the same, by the callback.
    assert "2/3" in terminal.getvalue()


def test_no_bar_into_a_pipe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with progress_bar("linting", "packages", refresh_thread=False) as update:
        assert update is None
