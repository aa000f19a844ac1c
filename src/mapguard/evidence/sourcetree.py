"""The Go source a profile is read against: the user's tree (on disk, or in a git checkout at
the revision the profiled binary was built from) and the libraries' (GOROOT, module cache).

Profiles carry the build machine's paths; a file is found under the source root by the longest
suffix of its path that exists there. Which version of the user's files is read:

1. `revision` when given (any git revision name);
2. else the binary's VCS revision from its Go build information (`go build` stamps
   `vcs.revision` in a git checkout), when that commit is in the checkout;
3. else the work tree as it is.

Whatever was read, each frame is still checked against it (`sourcematch`): a dirty build, a
wrong revision or a file changed since are caught function by function, not trusted.

Standard-library frames are read from the GOROOT of the toolchain in use and dependency frames
from the module cache (or `vendor/`), under the same check: a Go release whose function moved
is not read at the profiled line.
"""

from __future__ import annotations

import functools
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tree_sitter import Node

from mapguard.errors import InputError, ToolError
from mapguard.evidence.binary import BinaryInfo
from mapguard.evidence.goframes import is_stdlib, package_of
from mapguard.evidence.mapsyntax import GoSource, declared_map_types
from mapguard.evidence.sourcematch import Declarations, SourceMatch, check_frame, declarations
from mapguard.formats.pprof import Frame
from mapguard.gotool import find_go, run_go
from mapguard.source import discover
from mapguard.source.loader import load_compiled_packages, module_or_newest
from mapguard.source.package import GoFile, is_generated
from mapguard.source.typeinfo import TypeInfo
from mapguard.source.types import Unknown

GIT_TIMEOUT_S = 120.0
_MODULE_LINE = re.compile(rb"^\s*module\s+(\S+)", re.M)


class GitCheckout:
    """A git work tree, read with the `git` command (plumbing only)."""

    def __init__(self, top: Path) -> None:
        self.top = top

    @classmethod
    def containing(cls, directory: Path) -> GitCheckout | None:
        proc = _git(directory, "rev-parse", "--show-toplevel")
        if proc is None or proc.returncode != 0:
            return None
        return cls(Path(proc.stdout.decode().strip()).resolve())

    def commit_of(self, revision: str) -> str | None:
        proc = _git(self.top, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
        return proc.stdout.decode().strip() if proc is not None and proc.returncode == 0 \
            else None

    def files(self, commit: str, under: str) -> list[str]:
        """Paths (relative to the checkout's top) of the files under `under` at `commit`."""
        proc = _git(self.top, "ls-tree", "-r", "-z", "--name-only", commit, "--", under or ".")
        if proc is None or proc.returncode != 0:
            return []
        return [name for name in proc.stdout.decode("utf-8", "replace").split("\0") if name]

    def read(self, commit: str, paths: Iterable[str]) -> dict[str, bytes]:
        """The contents of several files at `commit`, in one `git cat-file --batch`."""
        wanted = list(dict.fromkeys(paths))
        if not wanted:
            return {}
        request = "".join(f"{commit}:{path}\n" for path in wanted).encode()
        proc = _git(self.top, "cat-file", "--batch", stdin=request)
        if proc is None or proc.returncode != 0:
            return {}
        found: dict[str, bytes] = {}
        data, position = proc.stdout, 0
        for path in wanted:
            end = data.find(b"\n", position)
            header = data[position:end].split()
            position = end + 1
            if len(header) != 3 or header[1] != b"blob":
                continue  # "<name> missing"
            size = int(header[2])
            found[path] = data[position : position + size]
            position += size + 1
        return found


def _git(directory: Path, *args: str, stdin: bytes | None = None
         ) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(["git", "-C", str(directory), *args], input=stdin,
                              capture_output=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None  # no git: the directory is read as it is on disk


@dataclass(frozen=True, slots=True)
class SourceVersion:
    """Which version of the user's source is read, and why."""

    root: Path | None
    revision: str | None  # a full commit id, or None for the files as they are on disk
    origin: str  # "revision", "build info", "work tree" or "profile paths"
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"root": str(self.root) if self.root else None, "revision": self.revision,
                "origin": self.origin, "notes": list(self.notes)}


def choose_version(root: Path | None, revision: str | None, binary: BinaryInfo | None
                   ) -> tuple[SourceVersion, GitCheckout | None]:
    if root is not None and not root.is_dir():
        problem = "not a directory" if root.exists() else "no such directory"
        raise InputError(root, problem, expected="the directory of the Go sources (--source)")
    if root is None:
        if revision is not None:
            raise InputError("--revision", "needs --source, the git checkout to read it from")
        return SourceVersion(None, None, "profile paths"), None
    checkout = GitCheckout.containing(root)
    notes: list[str] = []
    if revision is not None:
        if checkout is None:
            raise InputError(root, f"not a git checkout: cannot read revision {revision}")
        commit = checkout.commit_of(revision)
        if commit is None:
            raise InputError(root, f"no revision {revision!r} in this checkout")
        return SourceVersion(root, commit, "revision"), checkout
    build = binary.build if binary is not None else None
    stamped = build.vcs_revision if build is not None else None
    if stamped and checkout is not None:
        commit = checkout.commit_of(stamped)
        if commit is not None:
            if build is not None and build.vcs_modified:
                notes.append(f"the binary was built from a modified work tree at {stamped[:12]}:"
                             " each function is checked against that revision")
            return SourceVersion(root, commit, "build info", tuple(notes)), checkout
        notes.append(f"the binary's revision {stamped[:12]} is not in {root} (fetch it?): "
                     "reading the work tree, each function checked")
    elif stamped:
        notes.append(f"the binary was built at revision {stamped[:12]}, but {root} is not a "
                     "git checkout: reading it as it is, each function checked")
    return SourceVersion(root, None, "work tree", tuple(notes)), checkout


class SourceFiles:
    """The user's Go files as the profiled build saw them, and the libraries' files.

    One instance serves many profiles of the same build (it caches parsed files): build it
    once per (source, revision) and pass it to `attribute_profile` each time.
    """

    def __init__(self, root: Path | None = None, *, revision: str | None = None,
                 binary: BinaryInfo | None = None) -> None:
        self.root = root.resolve() if root is not None else None
        self.binary = binary
        self.version, self._checkout = choose_version(self.root, revision, binary)
        self._listing: set[str] | None = None  # paths relative to root, at the revision
        self._resolved: dict[str, Path | None] = {}
        self._packages: dict[Path, dict[Path, _Parsed]] = {}
        self._contents: dict[Path, dict[Path, bytes]] = {}
        self._library: dict[str, _Parsed | None] = {}
        self._checks: dict[tuple[str, str, int, int], SourceMatch] = {}
        self.module_path = self._module_path()

    # --- the user's files ---------------------------------------------------------------

    def _rel_root(self) -> str:
        assert self._checkout is not None and self.root is not None
        relative = self.root.relative_to(self._checkout.top).as_posix()
        return "" if relative == "." else relative

    def _files_at_revision(self) -> set[str]:
        if self._listing is None:
            assert self._checkout is not None and self.version.revision is not None
            prefix = self._rel_root()
            names = self._checkout.files(self.version.revision, prefix)
            strip = len(prefix) + 1 if prefix else 0
            self._listing = {name[strip:] for name in names}
        return self._listing

    def _read(self, paths: list[Path]) -> dict[Path, bytes]:
        """Contents of work-tree paths: from the revision when one is read, else from disk."""
        if self.version.revision is not None and self._checkout is not None:
            top = self._checkout.top
            relative = {path.relative_to(top).as_posix(): path for path in paths}
            blobs = self._checkout.read(self.version.revision, relative)
            return {relative[name]: content for name, content in blobs.items()}
        found: dict[Path, bytes] = {}
        for path in paths:
            try:
                found[path] = path.read_bytes()
            except OSError:
                continue
        return found

    def resolve(self, file: str) -> Path | None:
        """Where a profile's file is in this source (a work-tree path), or None."""
        if file not in self._resolved:
            self._resolved[file] = self._find(file)
        return self._resolved[file]

    def _find(self, file: str) -> Path | None:
        path = PurePosixPath(file)
        if self.root is None:
            return Path(file) if Path(file).is_file() else None
        parts = path.parts[1:] if path.is_absolute() else path.parts
        at_revision = self.version.revision is not None
        listing = self._files_at_revision() if at_revision else None
        for start in range(len(parts)):
            candidate = "/".join(parts[start:])
            if listing is not None:
                if candidate in listing:
                    return self.root / candidate
            elif (self.root / candidate).is_file():
                return self.root / candidate
        return None

    def get(self, file: str) -> GoSource | None:
        """The parsed file a profile names, as the profiled build had it."""
        parsed = self._parsed(file)
        return parsed.source if parsed is not None else None

    def _parsed(self, file: str) -> _Parsed | None:
        path = self.resolve(file)
        if path is None:
            return None
        self.package(path.parent)
        return self._packages[path.parent].get(path)

    def package(self, directory: Path) -> dict[Path, GoSource]:
        """Every file of a package directory (work-tree paths), as the profiled build had it."""
        package = self._packages.get(directory)
        if package is None:
            package = self._packages[directory] = self._parse_package(directory)
        return {path: parsed.source for path, parsed in package.items()}

    def package_files(self, directory: Path) -> tuple[discover.SourceFile, ...]:
        """The package's files as the linter reads them."""
        self.package(directory)
        return tuple(discover.SourceFile(path, content, context_only=is_generated(content))
                     for path, content in sorted(self._contents[directory].items()))

    def _parse_package(self, directory: Path) -> dict[Path, _Parsed]:
        """Every file of a package directory, with the package's type model when it loads."""
        contents = self._contents[directory] = self._read(self._package_paths(directory))
        map_types = declared_map_types(contents.values())
        typed = _typed_sources(directory, contents, map_types)
        return {path: _Parsed.of(typed.get(path) or GoSource(
            content, package_map_types=map_types)) for path, content in contents.items()}

    def _package_paths(self, directory: Path) -> list[Path]:
        if self.version.revision is None or self.root is None:
            return sorted(directory.glob("*.go"))
        relative = directory.relative_to(self.root).as_posix()
        prefix = "" if relative == "." else relative + "/"
        return sorted(self.root / name for name in self._files_at_revision()
                      if name.startswith(prefix) and "/" not in name[len(prefix):]
                      and name.endswith(".go"))

    def is_under_root(self, file: str) -> bool:
        return self.root is not None and self.resolve(file) is not None

    def check(self, frame: Frame) -> SourceMatch:
        """Does the user's source match this frame (see `sourcematch`)?"""
        key = (frame.function, frame.file, frame.start_line,
               0 if frame.start_line else frame.line)
        if key not in self._checks:
            parsed = self._parsed(frame.file)
            self._checks[key] = check_frame(frame, parsed.declarations if parsed else None)
        return self._checks[key]

    # --- whose code is it ---------------------------------------------------------------

    def _module_path(self) -> str | None:
        """The user's module: go.mod at or above the root (as read), else the binary's."""
        if self.root is not None:
            directory = self.root
            while True:
                content = self._read([directory / "go.mod"]).get(directory / "go.mod")
                if content is not None:
                    found = _MODULE_LINE.search(content)
                    if found:
                        return found.group(1).decode("utf-8", "replace").strip('"')
                if directory.parent == directory or (
                        self._checkout is not None and directory == self._checkout.top):
                    break
                directory = directory.parent
        build = self.binary.build if self.binary is not None else None
        return build.main_module if build is not None else None

    def is_user(self, function: str, file: str) -> bool:
        """Code of the user's own module (not the standard library, not a dependency)."""
        package = package_of(function)
        if package == "main" or package.startswith("main."):
            return True
        if self.module_path is not None:
            return package == self.module_path or package.startswith(self.module_path + "/")
        if is_stdlib(function, file):
            # A dot-less module path of the user's own, found in the source tree.
            return self.is_under_root(file) and "/vendor/" not in file
        return True

    # --- libraries ------------------------------------------------------------------------

    def library(self, frame: Frame) -> tuple[GoSource | None, SourceMatch]:
        """The standard-library or dependency file of a frame, and how it matches."""
        if frame.file not in self._library:
            self._library[frame.file] = self._parse_library(frame)
        parsed = self._library[frame.file]
        if parsed is None:
            return None, SourceMatch.MISSING
        return parsed.source, check_frame(frame, parsed.declarations)

    def _parse_library(self, frame: Frame) -> _Parsed | None:
        if "/vendor/" in frame.file and (vendored := self._parsed(frame.file)) is not None:
            return vendored
        path = _library_path(frame.file)
        if path is None:
            return None
        try:
            content = path.read_bytes()
        except OSError:
            return None
        return _Parsed.of(GoSource(content, package_map_types=_library_map_types(path.parent)))


@dataclass(frozen=True, slots=True)
class _Parsed:
    source: GoSource
    declarations: Declarations

    @classmethod
    def of(cls, source: GoSource) -> _Parsed:
        return cls(source, declarations(source.tree, source.source))


def _library_path(file: str) -> Path | None:
    """The local copy of a standard-library or module-cache file named by a profile: the
    path after the build machine's `pkg/mod/` or GOROOT `src/` (a function's file need not be
    in its package's directory: `time.newTimer` lives in runtime/time.go)."""
    if "@" in file:  # the module cache: .../pkg/mod/MODULE@VERSION/FILE (or trimmed)
        cache = _gomodcache()
        if cache is None:
            return None
        rest = file.split("/pkg/mod/", 1)[1] if "/pkg/mod/" in file else file
        candidate = cache / rest
        return candidate if candidate.is_file() else None
    goroot = _toolchain_goroot()
    if goroot is None:
        return None
    position = file.find("/src/")
    while position >= 0:
        candidate = goroot / "src" / file[position + len("/src/") :]
        if candidate.is_file():
            return candidate
        position = file.find("/src/", position + 1)
    return None


@functools.cache
def _library_map_types(directory: Path) -> frozenset[str]:
    """Map types of a GOROOT or module-cache package (those files do not change)."""
    contents: list[bytes] = []
    for sibling in directory.glob("*.go"):
        try:
            contents.append(sibling.read_bytes())
        except OSError:
            continue
    return declared_map_types(contents)


@functools.cache
def _toolchain_goroot() -> Path | None:
    try:
        toolchain = find_go()
    except ToolError:
        return None
    return toolchain.goroot if toolchain is not None else None


@functools.cache
def _gomodcache() -> Path | None:
    try:
        proc = run_go(["env", "GOMODCACHE"], timeout=60)
    except ToolError:
        return None
    value = proc.stdout.strip()
    return Path(value) if proc.returncode == 0 and value else None


def _typed_sources(directory: Path, contents: dict[Path, bytes],
                   map_types: frozenset[str]) -> dict[Path, GoSource]:
    """The files with their package's type model, built from the contents read (which may be
    another revision than the disk's); empty when the package does not load."""
    files = tuple(discover.SourceFile(path, content, context_only=is_generated(content))
                  for path, content in sorted(contents.items()))
    packages, _errors = load_compiled_packages(discover.PackageDir(directory, files),
                                               module_or_newest)
    typed: dict[Path, GoSource] = {}
    for package in packages:
        info = TypeInfo(package)
        for go_file in package.files:
            def oracle(expr: Node, go_file: GoFile = go_file, info: TypeInfo = info
                       ) -> bool | None:
                found = info.type_of(expr, go_file)
                return None if isinstance(found, Unknown) else info.is_map(found)

            typed[go_file.path] = GoSource(go_file.source, go_file.tree, oracle,
                                           package_map_types=map_types)
    return typed
