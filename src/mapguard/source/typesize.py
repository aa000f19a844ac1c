"""The size and alignment of a Go type on 64-bit platforms, as far as the package shows it.

What a map's slot holds decides how large its tables are for a number of entries; a profile
gives table sizes in bytes, this turns them back into entries (`mapguard.evidence.tablesize`).
Unknown parts (a type of another package, an array whose length the model does not keep)
make the whole answer unknown: no estimate is better than a wrong one.
"""

from __future__ import annotations

from mapguard.source.typeinfo import TypeInfo
from mapguard.source.types import (
    ChanOf,
    FuncOf,
    GoType,
    InterfaceOf,
    MapOf,
    Named,
    PointerTo,
    SliceOf,
    StructOf,
)

Size = tuple[int, int]  # (bytes, alignment)

_BASIC: dict[str, Size] = {
    "bool": (1, 1), "byte": (1, 1), "uint8": (1, 1), "int8": (1, 1),
    "int16": (2, 2), "uint16": (2, 2), "int32": (4, 4), "uint32": (4, 4), "rune": (4, 4),
    "float32": (4, 4), "int": (8, 8), "uint": (8, 8), "int64": (8, 8), "uint64": (8, 8),
    "uintptr": (8, 8), "float64": (8, 8), "complex64": (8, 4), "complex128": (16, 8),
    "string": (16, 8), "error": (16, 8), "any": (16, 8),
}
_WORD: Size = (8, 8)


def has_pointers(go_type: GoType, info: TypeInfo, depth: int = 0) -> bool | None:
    """Whether values of the type hold pointers the GC must scan (None: unknown)."""
    if depth > 8:
        return None
    if isinstance(go_type, Named):
        if go_type.pkg == "builtin":
            return go_type.name in {"string", "error", "any"} if go_type.name in _BASIC else None
        if go_type.pkg == "" and not go_type.args:
            underlying = info.underlying(go_type)
            return None if underlying == go_type else has_pointers(underlying, info, depth + 1)
        return None
    if isinstance(go_type, PointerTo | MapOf | ChanOf | FuncOf | SliceOf | InterfaceOf):
        return True
    if isinstance(go_type, StructOf):
        found = [has_pointers(f.type, info, depth + 1) for f in go_type.fields]
        return None if None in found else any(found)
    return None


def size_of(go_type: GoType, info: TypeInfo, depth: int = 0) -> Size | None:
    if depth > 8:
        return None
    if isinstance(go_type, Named):
        if go_type.pkg == "builtin":
            return _BASIC.get(go_type.name)
        if go_type.pkg == "" and not go_type.args:
            underlying = info.underlying(go_type)
            return None if underlying == go_type else size_of(underlying, info, depth + 1)
        return None
    if isinstance(go_type, PointerTo | MapOf | ChanOf | FuncOf):
        return _WORD
    if isinstance(go_type, SliceOf):
        return (24, 8)
    if isinstance(go_type, InterfaceOf):
        return (16, 8)
    if isinstance(go_type, StructOf):
        return _struct_size(go_type, info, depth)
    return None


def _struct_size(struct: StructOf, info: TypeInfo, depth: int) -> Size | None:
    offset, align = 0, 1
    for field in struct.fields:
        found = size_of(field.type, info, depth + 1)
        if found is None:
            return None
        size, field_align = found
        offset = -(-offset // field_align) * field_align + size
        align = max(align, field_align)
    if struct.fields and offset == 0:
        return (0, align)
    return (-(-offset // align) * align, align)
