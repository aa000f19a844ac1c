"""Where to put the probes inside a function: after its stack check, and on every way out.

The probed functions are disassembled with `go tool objdump -s`, which knows Go's own symbol
names and prints one instruction a line. Two places matter:

- the *entry*: the instruction after the prologue's stack-bound check (`CMPQ SP, 0x10(R14);
  JBE morestack`). A goroutine whose stack is too small jumps to `morestack`, gets a larger
  stack and re-runs the function from its first instruction; a probe on that first instruction
  would fire twice for one call. After the check it fires once.
- the *exits*: every `RET`, and every jump out of the function (a tail call). Timing ends there.
  Return probes (uretprobes) are never used: they overwrite the return address on the
  goroutine's stack, which the Go runtime reads and moves when it grows a stack (`unknown
  caller pc`, golang/go#22008). A probe on a RET instruction changes nothing on the stack.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mapguard.errors import InputError, ToolError
from mapguard.gotool import GoToolchain, go_environment

OBJDUMP_TIMEOUT_S = 120.0
_TEXT = re.compile(r"^TEXT (?P<name>.+)\(SB\)")
_INSTRUCTION = re.compile(
    r"^\s+(?P<position>\S+)\s+0x(?P<address>[0-9a-f]+)\s+(?P<encoding>[0-9a-f]+)\s+"
    r"(?P<assembly>.*?)\s*$")
_JUMP_TARGET = re.compile(r"^J[A-Z]+\s+(?:0x(?P<address>[0-9a-f]+)|(?P<symbol>.+)\(SB\))$")


@dataclass(frozen=True, slots=True)
class Instruction:
    address: int
    encoding: bytes
    assembly: str

    @property
    def length(self) -> int:
        return len(self.encoding)

    @property
    def mnemonic(self) -> str:
        return self.assembly.split(None, 1)[0] if self.assembly else ""

    @property
    def emulated(self) -> bool:
        """Does the kernel emulate this instruction when a uprobe hits it? It does for pushes
        of a register, NOP, calls and jumps (arch/x86/kernel/uprobes.c); any other
        instruction is single-stepped out of line, a second trap that costs several times
        more (RET, most of all, on virtual machines)."""
        code = self.encoding
        if code[:1] == b"\x41" and len(code) > 1:  # REX.B: push r8-r15
            code = code[1:]
        first = code[0] if code else 0
        return (0x50 <= first <= 0x57 or first in (0x90, 0xE8, 0xE9, 0xEB)
                or 0x70 <= first <= 0x7F or (first == 0x0F and len(code) > 1
                                             and 0x80 <= code[1] <= 0x8F))


@dataclass(frozen=True, slots=True)
class ProbeSite:
    address: int
    emulated: bool


@dataclass(frozen=True, slots=True)
class Placement:
    function: str
    start: int
    entry: ProbeSite  # first instruction after the stack check (the start when there is none)
    exits: tuple[ProbeSite, ...]  # RET instructions and jumps out of the function


def parse_objdump(text: str, source: str) -> dict[str, list[Instruction]]:
    """`go tool objdump` output: instructions by function name."""
    functions: dict[str, list[Instruction]] = {}
    current: list[Instruction] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if header := _TEXT.match(line):
            current = functions.setdefault(header["name"], [])
            continue
        if not line.strip():
            continue
        instruction = _INSTRUCTION.match(line)
        if instruction is None or current is None:
            raise InputError(source, f"unexpected objdump line: {line.strip()[:80]!r}",
                             where=f"line {number}")
        current.append(Instruction(int(instruction["address"], 16),
                                   bytes.fromhex(instruction["encoding"]),
                                   instruction["assembly"]))
    return functions


def placement(name: str, instructions: list[Instruction]) -> Placement:
    """Entry and exits of one function, from its instructions in address order."""
    if not instructions:
        raise InputError(name, "objdump printed no instructions")
    start = instructions[0].address
    end = instructions[-1].address + instructions[-1].length
    entry = _after_stack_check(instructions, start, end)
    exits = []
    for instruction in instructions:
        if instruction.mnemonic == "RET":
            exits.append(ProbeSite(instruction.address, instruction.emulated))
        elif instruction.mnemonic == "JMP":
            target = _jump_target(instruction)
            if target is not None and target != name and not (
                    isinstance(target, int) and start <= target < end):
                # A tail call leaves the function here.
                exits.append(ProbeSite(instruction.address, instruction.emulated))
    if not exits:
        raise InputError(name, "has no RET instruction: it cannot be timed")
    return Placement(name, start, entry, tuple(exits))


def _after_stack_check(instructions: list[Instruction], start: int, end: int
                       ) -> ProbeSite:
    """The instruction after the prologue's conditional jump to the morestack call, if the
    function has that prologue (NOSPLIT functions do not)."""
    by_address = {i.address: index for index, i in enumerate(instructions)}
    for index, instruction in enumerate(instructions[:4]):
        if not instruction.mnemonic.startswith("J") or instruction.mnemonic == "JMP":
            continue
        target = _jump_target(instruction)
        if isinstance(target, int) and start <= target < end and target in by_address and \
                _reaches_morestack(instructions[by_address[target]:]):
            after = instructions[index + 1]
            return ProbeSite(after.address, after.emulated)
        break
    return ProbeSite(start, instructions[0].emulated)


def _reaches_morestack(block: list[Instruction]) -> bool:
    for instruction in block:
        if instruction.mnemonic == "CALL":
            return "runtime.morestack" in instruction.assembly
        if instruction.mnemonic in ("RET", "JMP"):
            return False
    return False


def _jump_target(instruction: Instruction) -> int | str | None:
    match = _JUMP_TARGET.match(instruction.assembly)
    if match is None:
        return None  # an indirect jump (through a register or memory)
    if match["address"] is not None:
        return int(match["address"], 16)
    return match["symbol"]


def disassemble(binary: Path, names: list[str], toolchain: GoToolchain
                ) -> dict[str, Placement]:
    """Placements of `names` in `binary`, with one `go tool objdump` run."""
    pattern = "^(" + "|".join(re.escape(name) for name in names) + ")$"
    command = [str(toolchain.go), "tool", "objdump", "-s", pattern, str(binary)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True,
                              timeout=OBJDUMP_TIMEOUT_S, env=go_environment(toolchain))
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"go tool objdump did not finish within {OBJDUMP_TIMEOUT_S:.0f} s"
                        ) from exc
    except OSError as exc:
        raise ToolError(f"cannot run {toolchain.go}: {exc.strerror}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        raise ToolError(f"go tool objdump {binary}: {detail}")
    functions = parse_objdump(proc.stdout, f"go tool objdump {binary}")
    return {name: placement(name, functions[name]) for name in names if name in functions}
