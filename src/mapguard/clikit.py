"""Small pieces every mapguard command shares: the --format option and JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

JSON_VERSION = 1


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
