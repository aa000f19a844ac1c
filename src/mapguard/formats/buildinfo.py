"""Go build information: what `go version -m BINARY` prints, read from the binary's bytes.

The linker embeds a blob (ELF section `.go.buildinfo`) that starts with ``\\xff Go buildinf:``,
a pointer size and a flags byte; since Go 1.18 (flag bit 2) two length-prefixed strings follow
at offset 32: the Go version and the module information, whose text is the one `go version -m`
shows (``path``, ``mod``, ``dep``, ``=>`` and ``build KEY=VALUE`` lines, tab-separated). The
`build` settings name the VCS revision the binary was built from (``vcs.revision``) and whether
the work tree had changes (``vcs.modified``).

Pure: bytes or text in, a `BuildInfo` out; bad input raises `InputError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from mapguard.errors import InputError

BUILDINFO_MAGIC = b"\xff Go buildinf:"
_HEADER_SIZE = 32
_FLAG_INLINE_STRINGS = 2
# The module information is framed by 16 sentinel bytes at each end.
_MODINFO_SENTINEL = 16


@dataclass(frozen=True, slots=True)
class BuildInfo:
    go_version: str  # "go1.27.3"
    path: str  # the main package's import path
    main_module: str | None  # the main module's path (`mod` line), None for `go run` files
    settings: tuple[tuple[str, str], ...]  # `build` lines, in order
    dependencies: tuple[str, ...] = ()  # the module paths of the `dep` lines

    @property
    def modules(self) -> tuple[str, ...]:
        """The main module's path (when there is one), then every dependency's."""
        return ((self.main_module,) if self.main_module else ()) + self.dependencies

    def setting(self, key: str) -> str | None:
        return next((value for name, value in self.settings if name == key), None)

    @property
    def vcs_revision(self) -> str | None:
        return self.setting("vcs.revision")

    @property
    def vcs_modified(self) -> bool:
        """The work tree had uncommitted changes when the binary was built."""
        return self.setting("vcs.modified") == "true"


def parse_buildinfo_blob(data: bytes, source: str) -> BuildInfo | None:
    """The build info in a `.go.buildinfo` blob; None for the pre-Go 1.18 layout, which holds
    pointers into the binary instead of the strings (ask `go version -m` for those)."""
    if not data.startswith(BUILDINFO_MAGIC) or len(data) < _HEADER_SIZE:
        raise InputError(source, "no Go build information (not a Go binary?)",
                         expected="a .go.buildinfo section starting with '\\xff Go buildinf:'")
    if not data[15] & _FLAG_INLINE_STRINGS:
        return None
    version, offset = _varint_string(data, _HEADER_SIZE, source)
    modinfo, _ = _varint_string(data, offset, source)
    if len(modinfo) >= 2 * _MODINFO_SENTINEL + 1 and modinfo[-_MODINFO_SENTINEL - 1] == "\n":
        modinfo = modinfo[_MODINFO_SENTINEL:-_MODINFO_SENTINEL]
    else:
        modinfo = ""  # built without module information (GOPATH mode)
    return parse_modinfo(modinfo, version, source)


def _varint_string(data: bytes, offset: int, source: str) -> tuple[str, int]:
    length = shift = 0
    while True:
        if offset >= len(data):
            raise InputError(source, "truncated Go build information", where=f"offset {offset}")
        byte = data[offset]
        offset += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            break
        if shift > 63:
            raise InputError(source, "corrupt Go build information", where=f"offset {offset}")
    end = offset + length
    if end > len(data):
        raise InputError(source, "truncated Go build information", where=f"offset {offset}")
    return data[offset:end].decode("utf-8", "replace"), end


def parse_modinfo(text: str, go_version: str, source: str) -> BuildInfo:
    """The module-information text (the lines `go version -m` indents under the binary)."""
    path = ""
    main_module: str | None = None
    settings: list[tuple[str, str]] = []
    dependencies: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip("\r")
        if not line.strip():
            continue
        kind, _, rest = line.lstrip("\t").partition("\t")
        if kind == "go":
            go_version = rest.strip() or go_version
        elif kind == "path":
            path = rest.strip()
        elif kind == "mod":
            main_module = rest.split("\t", 1)[0] or None
        elif kind == "build":
            key, equals, value = _unquote_key_value(rest)
            if not equals:
                raise InputError(source, f"malformed build setting {rest!r}",
                                 where=f"line {number}", expected="build\tKEY=VALUE")
            settings.append((key, value))
        elif kind == "dep":
            if module := rest.split("\t", 1)[0]:
                dependencies.append(module)
        elif kind != "=>":
            raise InputError(source, f"unknown build information line {line[:80]!r}",
                             where=f"line {number}",
                             expected="go, path, mod, dep, => or build lines")
    return BuildInfo(go_version, path, main_module, tuple(settings), tuple(dependencies))


def _unquote_key_value(text: str) -> tuple[str, str, str]:
    """`KEY=VALUE` where either side may be a Go quoted string (strconv.Quote)."""
    if text.startswith('"'):
        key, rest = _go_quoted(text)
        equals, value = rest[:1], rest[1:]
    else:
        key, equals, value = text.partition("=")
    if value.startswith('"'):
        value, _ = _go_quoted(value)
    return key, equals, value


def _go_quoted(text: str) -> tuple[str, str]:
    """A leading Go-quoted string and what follows it. JSON reads what Go's strconv.Quote
    writes for printable text; other escapes are kept as written."""
    end = 1
    while end < len(text):
        if text[end] == "\\":
            end += 2
            continue
        if text[end] == '"':
            break
        end += 1
    quoted = text[: end + 1]
    try:
        value = json.loads(quoted)
    except ValueError:
        value = quoted[1:-1]
    return str(value), text[end + 1 :]


def parse_go_version_m(text: str, source: str) -> BuildInfo:
    """What `go version -m BINARY` printed: `BINARY: go1.N` then the tab-indented lines."""
    first, _, rest = text.partition("\n")
    _, colon, version = first.rpartition(": ")
    if not colon or not version.startswith("go"):
        raise InputError(source, f"unexpected `go version -m` output {first[:80]!r}",
                         where="line 1", expected="BINARY: goVERSION")
    return parse_modinfo(rest, version.strip(), source)
