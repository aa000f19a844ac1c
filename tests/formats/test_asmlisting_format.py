"""The compiler's assembly listing: the calls each function makes; fuzzed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.formats.asmlisting import calls_by_function, short_name

# Trimmed from `go build -gcflags=-S` of the lab's package (go1.26).
LISTING = """\
# mapguard.lab/maplab
mapguard.lab/maplab.ClearByDeleteLoop STEXT size=52 args=0x8 locals=0x18 funcid=0x0 align=0x0
\t0x0000 00000 (/tmp/m/maplab/s.go:55)\tTEXT\tmapguard.lab/maplab.ClearByDeleteLoop(SB), $24-8
\t0x0018 00024 (/tmp/m/maplab/strategies.go:56)\tCALL\truntime.mapclear(SB)
\t0x0028 00040 (/tmp/m/maplab/strategies.go:55)\tCALL\truntime.morestack_noctxt(SB)
\trel 25+4 t=R_CALL runtime.mapclear+0
\t0x0000 48 83 ec 18                                      H...
mapguard.lab/maplab.(*LockedMap).Store STEXT size=120 args=0x18 locals=0x28 funcid=0x0 align=0x0
\t0x0020 00032 (/tmp/m/maplab/concurrent.go:30)\tCALL\tsync.(*RWMutex).Lock(SB)
\t0x0040 00064 (/tmp/m/maplab/concurrent.go:31)\tCALL\truntime.mapassign_fast64(SB)
go:cuinfo.producer.mapguard.lab/maplab SDWARFCUINFO dupok size=0
\t0x0000 72 65 67 61 62 69 24                             regabi
mapguard.lab/maplab.ClearFloatsByDeleteLoop STEXT size=165 args=0x8 locals=0x88 funcid=0x0 align=0x0
\t0x004b 00075 (/tmp/m/maplab/strategies.go:63)\tCALL\truntime.mapIterStart(SB)
\t0x0070 00112 (/tmp/m/maplab/strategies.go:64)\tCALL\truntime.mapdelete(SB)
"""


def test_calls_per_function() -> None:
    calls = calls_by_function(LISTING)
    assert calls == {
        "ClearByDeleteLoop": ("runtime.mapclear", "runtime.morestack_noctxt"),
        "(*LockedMap).Store": ("sync.(*RWMutex).Lock", "runtime.mapassign_fast64"),
        "ClearFloatsByDeleteLoop": ("runtime.mapIterStart", "runtime.mapdelete"),
    }


def test_short_names_drop_the_package_path() -> None:
    assert short_name("mapguard.lab/maplab.(*T).Reset") == "(*T).Reset"
    assert short_name("main.main") == "main"
    assert short_name("example.com/a/b.c.func1") == "c.func1"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(LISTING.splitlines()), st.text(max_size=80)),
                max_size=30))
def test_any_text_parses(lines: list[str]) -> None:
    calls = calls_by_function("\n".join(lines))
    for name, symbols in calls.items():
        assert isinstance(name, str) and all(isinstance(symbol, str) for symbol in symbols)
