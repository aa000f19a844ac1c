"""The commands a README section shows, as argument lists, so tests run exactly those lines."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def section_commands(heading: str) -> list[list[str]]:
    """Every `mapguard ...` command of the first ```sh block under `## heading`: continuation
    lines joined, comments dropped, `$VARIABLES` expanded from the environment."""
    text = README.read_text()
    start = text.index(f"\n## {heading}\n")
    block = re.search(r"```sh\n(.*?)```", text[start:], re.DOTALL)
    assert block is not None, f"no sh block under ## {heading}"
    joined = block[1].replace("\\\n", " ")
    commands = [shlex.split(os.path.expandvars(line), comments=True)
                for line in joined.splitlines() if line.strip()]
    assert all(command[0] == "mapguard" for command in commands), commands
    return [command[1:] for command in commands]
