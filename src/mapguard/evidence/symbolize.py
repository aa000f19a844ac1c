"""Symbolise a debug=1 heap profile's PC lists against its binary with `go tool addr2line`.

The `#` lines of a debug=1 heap profile name only the user frames; the `@` PC list still holds
the runtime ones (mapassign, growToTable, makemap...). Symbolising every PC recovers them, so
attribution can classify by the runtime's own names (docs/go-facts.md).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mapguard.errors import InputError, ToolError
from mapguard.formats.pprof import Frame, Location, Profile
from mapguard.gotool import require_go, run_go

ADDR2LINE_TIMEOUT_S = 300.0


def parse_addr2line(output: str, count: int, source: str) -> list[Frame | None]:
    """`go tool addr2line` answers each address with two lines: function, then file:line
    (`?` and `?:0` when it does not know)."""
    lines = output.splitlines()
    if len(lines) != 2 * count:
        raise InputError(source, f"addr2line gave {len(lines)} lines for {count} addresses",
                         expected="two lines per address")
    frames: list[Frame | None] = []
    for function, position in zip(lines[::2], lines[1::2], strict=True):
        file, _, line = position.rpartition(":")
        if function == "?" or not line.isdigit():
            frames.append(None)
        else:
            frames.append(Frame(function, file, int(line)))
    return frames


def symbolize(profile: Profile, binary: Path) -> Profile:
    """A copy of `profile` whose locations carry the binary's own symbols for their PCs."""
    if not binary.is_file():
        raise InputError(binary, "no such binary")
    addresses = [loc.address for loc in profile.locations]
    if not addresses:
        return profile
    toolchain = require_go()
    proc = run_go(["tool", "addr2line", str(binary)], timeout=ADDR2LINE_TIMEOUT_S,
                  toolchain=toolchain, input="".join(f"0x{a:x}\n" for a in addresses))
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise ToolError(f"go tool addr2line {binary}: {detail}")
    frames = parse_addr2line(proc.stdout, len(addresses), str(binary))
    locations = tuple(
        # The profile's own `#` frames know inlining; addr2line fills in the PCs they skip.
        Location(loc.id, loc.address, loc.mapping_id,
                 loc.frames or ((frame,) if frame else ()))
        for loc, frame in zip(profile.locations, frames, strict=True))
    return dataclasses.replace(profile, locations=locations, runtime_frames=True)
