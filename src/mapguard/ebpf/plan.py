"""Probe plans: which runtime functions to probe for the binary's Go version, and what to read.

Go 1.24 replaced the runtime's maps with Swiss tables (`internal/runtime/maps`); the functions
that grow a map differ on each side (docs/ebpf.md has the table):

- Go >= 1.24: growth is timed at `(*Map).growToSmall`, `(*Map).growToTable`, `(*table).grow`
  and `(*table).split`; clear at `(*Map).Clear`.
- Go 1.18-1.23: growth at `runtime.hashGrow`; clear at `runtime.mapclear`.
- `--ops` counts `mapassign*`, `mapdelete*` and sync.Map's stores; before 1.24 also
  `growWork*`, the evacuation that follows a hashGrow.

Each Swiss growth is one of four: the first insert allocates one 8-slot group (`small`), the 9th
turns it into a 16-slot table (`table`), a full table doubles (`grow`, up to 1024 slots) or, at
1024 slots, splits in two (`split`). `(*table).rehash` only chooses between the last two, so
it is not probed. Before 1.24 `hashGrow` starts a growth (doubling, or a same-size grow that
packs overflow buckets) and the copying is spread over later inserts (`growWork`).

Arguments come from Go's register ABI on amd64 (ABIInternal, Go 1.17+): arguments in RAX,
RBX, RCX, RDI, RSI, R8...; the receiver first; R14 holds the current goroutine (`g`), which
keys the timing. A map's entry count is its header's first word in both implementations
(`len(m)` reads it there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mapguard.ebpf.binary import GoBinary
from mapguard.errors import InputError
from mapguard.goversion import GO_1_24, GoVersion

OLDEST_SUPPORTED = GoVersion(1, 18)  # register ABI since 1.17; inline build info since 1.18
GO_1_20 = GoVersion(1, 20)

GROWTH = "growth"
CLEAR = "clear"
OP = "op"


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """One function to probe. `map_arg` is the register holding the map pointer (timed probes
    read the map's entry count through it); `fetch` adds named fetch arguments in the kernel's
    uprobe_events syntax."""

    function: str
    role: str  # GROWTH, CLEAR or OP
    kind: str  # small, table, grow, split, hashgrow, clear, assign, delete, evacuate, syncmap
    map_arg: str | None = None
    fetch: tuple[tuple[str, str], ...] = ()

    @property
    def timed(self) -> bool:
        return self.role != OP


@dataclass(frozen=True, slots=True)
class ProbePlan:
    version: GoVersion
    swiss: bool
    timed: tuple[ProbeSpec, ...]
    ops: tuple[ProbeSpec, ...]
    absent: tuple[str, ...]  # optional functions the binary does not contain (never called)


_SWISS = "internal/runtime/maps."
_SWISS_GROWTH = (
    ProbeSpec(f"{_SWISS}(*Map).growToSmall", GROWTH, "small", "ax"),
    ProbeSpec(f"{_SWISS}(*Map).growToTable", GROWTH, "table", "ax"),
    ProbeSpec(f"{_SWISS}(*table).grow", GROWTH, "grow", "cx", (("capacity", "%di:u16"),)),
    ProbeSpec(f"{_SWISS}(*table).split", GROWTH, "split", "cx"),
)
_SWISS_CLEAR = ProbeSpec(f"{_SWISS}(*Map).Clear", CLEAR, "clear", "ax")
# hashGrow(t *maptype, h *hmap): the bucket count's log2, B, is the hmap's 10th byte.
_HMAP_GROWTH = ProbeSpec("runtime.hashGrow", GROWTH, "hashgrow", "bx", (("log2buckets",
                                                                          "+9(%bx):u8"),))
_HMAP_CLEAR = ProbeSpec("runtime.mapclear", CLEAR, "clear", "bx")

_VARIANTS = ("", "_fast32", "_fast64", "_fast64ptr", "_faststr")
_ASSIGN = tuple(ProbeSpec(f"runtime.mapassign{v}", OP, "assign") for v in _VARIANTS)
_DELETE = tuple(ProbeSpec(f"runtime.mapdelete{v}", OP, "delete") for v in _VARIANTS)
_GROW_WORK = tuple(ProbeSpec(f"runtime.growWork{v}", OP, "evacuate")
                   for v in ("", "_fast32", "_fast64", "_faststr"))
# sync.Map's stores. Since 1.24 its methods are one-line wrappers (usually inlined) over the
# internal hash-trie, instantiated for (any, any); Store calls Swap there, and since 1.20 in
# the old design too, so Store is probed only before 1.20.
_TRIE = re.compile(r"^internal/sync\.\(\*HashTrieMap\[go\.shape\.interface \{\},"
                   r"go\.shape\.interface \{\}\]\)\.(Swap|LoadOrStore|CompareAndSwap)$")
_SYNCMAP_1_20 = ("sync.(*Map).Swap", "sync.(*Map).LoadOrStore", "sync.(*Map).CompareAndSwap")
_SYNCMAP_1_18 = ("sync.(*Map).Store", "sync.(*Map).LoadOrStore")


def plan_for(binary: GoBinary) -> ProbePlan:
    """The probes for `binary`; InputError when its Go is too old or a growth function the
    plan needs is missing."""
    version = binary.version
    if version < OLDEST_SUPPORTED:
        raise InputError(binary.path, f"was built by Go {version}; mapguard ebpf needs Go "
                         f"{OLDEST_SUPPORTED} or newer (register ABI and build info)")
    swiss = version >= GO_1_24
    growth = _SWISS_GROWTH if swiss else (_HMAP_GROWTH,)
    missing = [spec.function for spec in growth if binary.function(spec.function) is None]
    if missing:
        raise InputError(binary.path, f"Go {version} binary without {', '.join(missing)}: "
                         "cannot probe map growth (inlined or renamed in this Go version?)")
    clear = _SWISS_CLEAR if swiss else _HMAP_CLEAR
    ops = [*_ASSIGN, *_DELETE, *(() if swiss else _GROW_WORK), *_syncmap_specs(binary)]
    absent = [spec.function for spec in (clear, *ops) if binary.function(spec.function) is None]
    timed = (*growth, *((clear,) if binary.function(clear.function) else ()))
    present_ops = tuple(spec for spec in ops if binary.function(spec.function) is not None)
    return ProbePlan(version, swiss, timed, present_ops, tuple(absent))


def _syncmap_specs(binary: GoBinary) -> list[ProbeSpec]:
    if binary.version >= GO_1_24:
        names = [f.name for f in binary.functions if _TRIE.match(f.name)]
    else:
        names = list(_SYNCMAP_1_20 if binary.version >= GO_1_20 else _SYNCMAP_1_18)
    return [ProbeSpec(name, OP, "syncmap") for name in names]
