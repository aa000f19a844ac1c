"""Every `mapguard ...` line the README shows names a command that exists and options that command
takes (with a value from its choices where it has choices). The behaviour behind each line is
tested where its capability is; this keeps the README from promising a command or an option
that is not shipped, or that was renamed since."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from mapguard.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"
_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def readme_command_lines() -> list[str]:
    """The shell lines of the README's code blocks that run mapguard (continuations joined)."""
    lines: list[str] = []
    for block in _FENCE.findall(README.read_text(encoding="utf-8")):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("mapguard "):
                lines.append(line.strip())
    return lines


def _options(command: click.Command) -> dict[str, click.Option]:
    return {name: param for param in command.params if isinstance(param, click.Option)
            for name in (*param.opts, *param.secondary_opts)}


def problems(tokens: list[str]) -> list[str]:
    """What in `mapguard TOKENS` the command line would refuse, as readable lines."""
    command: click.Command = cli
    ctx = click.Context(cli)
    path = ["mapguard"]
    while isinstance(command, click.Group):
        if not tokens:
            return []
        name = tokens[0]
        if name.startswith("-") and command.invoke_without_command:
            break  # `respond --config F`: the group runs itself, with its own options
        sub = command.get_command(ctx, name)
        if sub is not None:
            tokens = tokens[1:]
            path.append(name)
        else:  # `profile FILE` is `profile show FILE`
            sub = command.get_command(ctx, "show")
        if sub is None:
            return [f"`{' '.join(path)}` has no subcommand {name!r}"]
        command = sub
    options = _options(command)
    found: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token == "--":  # the rest is another program's command line, maybe mapguard's
            rest = tokens[index:]
            return found + (problems(rest[1:]) if rest[:1] == ["mapguard"] else [])
        if not token.startswith("-") or token == "-" or re.fullmatch(r"-\d.*", token):
            continue
        name, equals, value = token.partition("=")
        option = options.get(name)
        if option is None:
            found.append(f"`{' '.join(path)}` has no option {name}")
            continue
        if option.is_flag or option.count:
            continue
        if not equals:
            value = tokens[index] if index < len(tokens) else ""
            index += 1
        if isinstance(option.type, click.Choice):
            found += [f"`{' '.join(path)} {name}` does not take {alternative!r}"
                      for alternative in value.split("|") if alternative not in option.type.choices]
    return found


COMMAND_LINES = readme_command_lines()


def test_the_readme_shows_mapguard_commands() -> None:
    assert len(COMMAND_LINES) >= 40  # a parse of the README that found none would check nothing


@pytest.mark.parametrize("line", COMMAND_LINES)
def test_readme_command_line_is_accepted(line: str) -> None:
    tokens = [token.strip("[]") for token in shlex.split(line, comments=True)]
    assert problems(tokens[1:]) == [], line


def test_the_check_refuses_what_the_cli_refuses() -> None:
    assert problems(["lint", "--no-such-option", "./..."]) == [
        "`mapguard lint` has no option --no-such-option"]
    assert problems(["lint", "--format", "json|yaml"]) == [
        "`mapguard lint --format` does not take 'yaml'"]
    assert problems(["nosuch"]) == ["`mapguard` has no subcommand 'nosuch'"]
    assert problems(["respond", "--dry-run", "--nope"]) == [
        "`mapguard respond` has no option --nope"]
    assert problems(["chaos", "cpu", "--pid", "1", "--", "mapguard", "load", "--nope"]) == [
        "`mapguard load` has no option --nope"]
