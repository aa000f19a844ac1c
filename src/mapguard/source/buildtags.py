"""Whether a file's build constraint leaves it out of every build the go command makes by default,
and whether the linux/amd64 build reads it.

mapguard reads every file of a package, whatever its `//go:build` line says, so that code for
every platform is linted. A file that does not parse is the exception worth a second look: some
files are not Go on purpose and are kept out of every build by their constraint
(`//go:build !go1.17` over a sentence that stops an old toolchain with a readable error). The go
command never reads such a file (`go list` puts it in `IgnoredGoFiles`), so mapguard does not
report it as a syntax error either.

The constraint is judged as the go command judges it without `-tags`, on every platform: a
file is left out everywhere when no combination of operating system, architecture, cgo on or
off, compiler, Go experiments and toolchain version (the one in use or a newer one, for
`go1.N` tags) satisfies it; any other word (`ignore`, `integration`, ...) names a tag nobody
set. The `//go:build` line wins over `// +build` lines, as in Go 1.17 and later.
"""

from __future__ import annotations

import itertools
import re

from mapguard.goversion import GoVersion

# `go tool dist list` of go1.27.3 (checked by tests/source/test_buildtags.py), and the names
# go/build still knows from other ports.
KNOWN_OS = frozenset({
    "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
    "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos",
})
KNOWN_ARCH = frozenset({
    "386", "amd64", "amd64p32", "arm", "arm64", "arm64be", "armbe", "loong64", "mips",
    "mips64", "mips64le", "mips64p32", "mips64p32le", "mipsle", "ppc", "ppc64", "ppc64le",
    "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm",
})
# Operating systems that also set another's tag, and the ones `unix` holds for (go/build).
_ALSO = {"android": "linux", "illumos": "solaris", "ios": "darwin"}
UNIX_OS = frozenset({"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios",
                     "linux", "netbsd", "openbsd", "solaris"})
_RELEASE = re.compile(r"go1\.(\d+)")
_GO_BUILD = re.compile(rb"^//go:build\s+(.+?)\s*$", re.MULTILINE)
_PLUS_BUILD = re.compile(rb"^//\s*\+build\s+(.+?)\s*$", re.MULTILINE)
_TOKEN = re.compile(r"\s*(\(|\)|!|&&|\|\||[A-Za-z0-9_.]+)")

# A parsed constraint: a tag, ("not", x), ("and", x, y, ...) or ("or", x, y, ...).
Expr = str | tuple["str | Expr", ...]


def left_out_everywhere(source: bytes, version: GoVersion) -> str | None:
    """The file's constraint line when no default build with `version` (or newer) reads the
    file; None when some build may, or the file has no constraint it can read."""
    constraint = _constraint(source)
    if constraint is None:
        return None
    line, expression = constraint
    return None if any(_holds(expression, tags) for tags in _builds(expression, version)) else line


def left_out_by_release(source: bytes, version: GoVersion) -> str | None:
    """The file's constraint line when its `go1.N` terms alone keep it out of every build with
    `version` or newer, whatever the other tags (`//go:build !go1.13`, a shim for toolchains the
    module cannot be built with); None otherwise. Every other tag it names is taken as free to be
    on or off, each independently of the rest: a file any such build might read is kept."""
    if b"go1." not in source[:4096]:
        return None
    constraint = _constraint(source)
    if constraint is None:
        return None
    line, expression = constraint
    named = _tags_of(expression)
    releases = {tag for tag in named if _RELEASE.fullmatch(tag)}
    free = sorted(named - releases)
    if not releases or len(free) > 10:
        return None
    minors = sorted({version.minor, *(n for tag in releases
                                      if (n := int(tag[4:])) > version.minor)})
    for minor in minors:
        toolchain = {f"go1.{n}" for n in range(1, minor + 1)}
        for on in itertools.product((True, False), repeat=len(free)):
            tags = toolchain | {tag for tag, flag in zip(free, on, strict=True) if flag}
            if _holds(expression, frozenset(tags)):
                return None
    return line


def in_linux_amd64_build(file_name: str, source: bytes, version: GoVersion) -> bool:
    """Whether `go build` for linux/amd64 (cgo on, no `-tags`) with `version` reads the file:
    its name's `_GOOS`/`_GOARCH` suffixes and its constraint both allow it. Where a message
    must name one of several equal places, the one in the build most servers are made for is
    the one a reader expects (`interpreter_pc.go` rather than its `interpreter_js.go` twin)."""
    tags = frozenset({"linux", "amd64", "unix", "cgo", "gc",
                      *(f"go1.{n}" for n in range(1, version.minor + 1))})
    stem = file_name.removesuffix(".go").removesuffix("_test")
    parts = stem.split("_")[1:]  # go/build ignores the first element: `linux.go` is no suffix
    architecture = parts.pop() if parts and parts[-1] in KNOWN_ARCH else None
    system = parts[-1] if parts and parts[-1] in KNOWN_OS else None
    if any(suffix is not None and suffix not in tags for suffix in (architecture, system)):
        return False
    constraint = _constraint(source)
    return constraint is None or _holds(constraint[1], tags)


def _constraint(source: bytes) -> tuple[str, Expr] | None:
    """The file's constraint line(s) and their expression; None without one it can read."""
    header = _header(source)
    line: str
    expression: Expr | None
    if (go_build := _GO_BUILD.search(header)) is not None:
        line = "//go:build " + go_build.group(1).decode("utf-8", "replace")
        expression = _parse_expression(line.removeprefix("//go:build "))
    else:
        plus = [m.group(1).decode("utf-8", "replace") for m in _PLUS_BUILD.finditer(header)]
        if not plus:
            return None
        line = "\n".join(f"// +build {text}" for text in plus)
        # Lines are ANDed; in a line, spaces OR options, commas AND terms.
        expression = ("and", *(_plus_line(text) for text in plus))
    return None if expression is None else (line, expression)


def _plus_line(text: str) -> Expr:
    options: list[Expr] = []
    for option in text.split():
        terms: list[Expr] = [("not", t[1:]) if t.startswith("!") else t
                             for t in option.split(",")]
        options.append(("and", *terms))
    return ("or", *options)


def _tags_of(expression: Expr) -> set[str]:
    if isinstance(expression, str):
        return {expression}
    return set().union(*(_tags_of(part) for part in expression[1:]))


def _builds(expression: Expr, version: GoVersion) -> list[frozenset[str]]:
    """The tag sets of every build that can matter to `expression`: each operating system and
    architecture it names plus one it does not, cgo on and off, either compiler, each named
    experiment on and off, each toolchain from `version` to the newest `go1.N` it names."""
    named = _tags_of(expression)
    others = sorted(KNOWN_OS - named)
    systems = [*sorted(named & KNOWN_OS),
               *[o for o in others if o in UNIX_OS and o not in _ALSO][:1],
               *[o for o in others if o not in UNIX_OS][:1]]
    arches = [*sorted(named & KNOWN_ARCH), *sorted(KNOWN_ARCH - named)[:1]]
    experiments = sorted(t for t in named if t.startswith("goexperiment."))
    # Toolchains differ only where a named go1.N starts to hold: the one in use, and each newer
    # release the constraint names.
    minors = sorted({version.minor, *(n for t in named if (m := _RELEASE.fullmatch(t))
                                      and (n := int(m.group(1))) > version.minor)})
    builds: list[frozenset[str]] = []
    for system, arch, cgo, compiler, minor, on in itertools.product(
            systems, arches, (True, False), ("gc", "gccgo"), minors,
            itertools.product((True, False), repeat=len(experiments))):
        tags = {system, arch, compiler, *(f"go1.{n}" for n in range(1, minor + 1))}
        tags |= {_ALSO[system]} if system in _ALSO else set()
        tags |= {"unix"} if system in UNIX_OS else set()
        tags |= {"cgo"} if cgo else set()
        tags |= {e for e, flag in zip(experiments, on, strict=True) if flag}
        builds.append(frozenset(tags))
    return builds


def _holds(expression: Expr, tags: frozenset[str]) -> bool:
    if isinstance(expression, str):
        return expression in tags
    operator, *parts = expression
    if operator == "not":
        return not _holds(parts[0], tags)
    if operator == "and":
        return all(_holds(part, tags) for part in parts)
    return any(_holds(part, tags) for part in parts)


def _header(source: bytes) -> bytes:
    """The comments and blank lines before the package clause (where constraints live)."""
    end = 0
    in_block = False
    # Line by line from the top, without splitting the whole file: the header is a few lines
    # of files that can be megabytes long, and this runs per file and per goroutine named.
    while end < len(source):
        newline = source.find(b"\n", end)
        line_end = len(source) if newline < 0 else newline + 1
        stripped = source[end:line_end].strip()
        if in_block:
            in_block = b"*/" not in stripped
        elif stripped.startswith(b"/*"):
            in_block = b"*/" not in stripped[2:]
        elif stripped and not stripped.startswith(b"//"):
            break
        end = line_end
    return source[:end]


def _parse_expression(text: str) -> Expr | None:
    """`a && (b || !c)`: || binds loosest, then &&, then !; None when it does not read as one."""
    tokens: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            if text[position:].strip():
                return None
            break
        tokens.append(match.group(1))
        position = match.end()
    index = 0

    def or_expression() -> Expr:
        nonlocal index
        parts = [and_expression()]
        while index < len(tokens) and tokens[index] == "||":
            index += 1
            parts.append(and_expression())
        return parts[0] if len(parts) == 1 else ("or", *parts)

    def and_expression() -> Expr:
        nonlocal index
        parts = [unary()]
        while index < len(tokens) and tokens[index] == "&&":
            index += 1
            parts.append(unary())
        return parts[0] if len(parts) == 1 else ("and", *parts)

    def unary() -> Expr:
        nonlocal index
        if index >= len(tokens):
            raise ValueError("expression ends early")
        token = tokens[index]
        index += 1
        if token == "!":
            return ("not", unary())
        if token == "(":
            inner = or_expression()
            if index >= len(tokens) or tokens[index] != ")":
                raise ValueError("unbalanced parenthesis")
            index += 1
            return inner
        if token in {")", "&&", "||"}:
            raise ValueError(f"unexpected {token}")
        return token

    try:
        expression = or_expression()
    except ValueError:
        return None
    return expression if index == len(tokens) else None
