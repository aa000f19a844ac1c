"""Small pieces every mapguard command shares: the --format option, JSON output, a command that
keeps what follows ``--`` for itself, and a progress bar."""

from __future__ import annotations

import atexit
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

JSON_VERSION = 1


# Set by a command whose run closes every file it writes and waits for every process it
# starts (`lint`): what is left at its exit is freeing memory, which `mapguard.cli.run` skips.
_nothing_to_tear_down = False


def nothing_to_tear_down() -> None:
    """Say that this command's run leaves nothing to do at exit but free memory."""
    global _nothing_to_tear_down
    _nothing_to_tear_down = True


def teardown_skippable() -> bool:
    """Whether the command that ran said so, and nothing registered since needs the exit:
    no exit handler (logging, `weakref.finalize`, temporary directories register one) and no
    other thread."""
    threading = sys.modules.get("threading")
    return (_nothing_to_tear_down and atexit._ncallbacks() == 0
            and (threading is None or threading.active_count() == 1))


def format_option(choices: Sequence[str] = ("text", "json")) -> Callable[[F], F]:
    """`--format` with the given choices, text by default."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(list(choices)),
        default="text",
        show_default=True,
        help="Output format.",
    )


def emit_json(document: dict[str, Any]) -> None:
    """Write a JSON document to stdout, with the contract's `"version": 1` first."""
    json.dump({"version": JSON_VERSION, **document}, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def counted(count: int, noun: str) -> str:
    """'1 finding', '2 findings': report lines read as English."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


AFTER_DASHES = "mapguard.after_dashes"


class CommandAfterDashes(click.Command):
    """Keeps everything after ``--`` (a program to run, `go test` flags) untouched by option
    parsing, in ``ctx.meta[AFTER_DASHES]``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            split = args.index("--")
            ctx.meta[AFTER_DASHES] = args[split + 1 :]
            args = args[:split]
        return super().parse_args(ctx, args)


@contextmanager
def progress_bar(what: str, unit: str, *, refresh_thread: bool = True
                 ) -> Iterator[Callable[[int, int], None] | None]:
    """A transient progress bar on a terminal's stderr; None (no bar) into a pipe or file.
    The callback takes (done, total); a total of 0 means not known yet.

    `refresh_thread=False`: the bar is redrawn by the callback only, with no thread of its own,
    for a command that forks while the bar is up (the lint's workers). A thread running at a
    fork can leave a lock it held (the console's, stderr's) locked for good in the child, which
    then hangs on its first write there; Python 3.12 and newer warn of such forks."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                  transient=True, auto_refresh=refresh_thread) as progress:
        task = progress.add_task(what, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total if total > 0 else None,
                            refresh=not refresh_thread)

        yield update
