"""Applying suggested fixes: non-overlapping edits, a re-parse check, unified diffs, and
writing them safely (only inside the linted tree, atomically, never over a newer text)."""

from __future__ import annotations

import contextlib
import difflib
import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tree_sitter import Node

from mapguard.gotool import gofmt_accepts
from mapguard.lint.rule import Edit, Finding, edit
from mapguard.source.package import GoFile
from mapguard.source.parser import first_syntax_error, parse_go


def add_import_edit(go_file: GoFile, path: str) -> Edit | Literal[False] | None:
    """An edit adding `import "path"`; None if already imported, False if the name is taken."""
    name = path.rsplit("/", 1)[-1]
    if go_file.imports.get(name) == path:
        return None
    if name in go_file.imports or _declared_at_top_level(go_file, name):
        return False
    root = go_file.root
    for node in root.named_children:
        if node.type != "import_declaration":
            continue
        spec_list = next((c for c in node.named_children if c.type == "import_spec_list"), None)
        if spec_list is not None:
            specs = [c for c in spec_list.named_children if c.type == "import_spec"]
            after = next((c for c in specs if _spec_path(go_file, c) > path), None)
            if after is not None:
                return edit(go_file, after.start_byte, after.start_byte, f'"{path}"\n\t')
            if specs:
                return edit(go_file, specs[-1].end_byte, specs[-1].end_byte, f'\n\t"{path}"')
            closing = spec_list.end_byte - 1  # just before ")"
            return edit(go_file, closing, closing, f'\t"{path}"\n')
        spec = next((c for c in node.named_children if c.type == "import_spec"), None)
        if spec is not None:
            return edit(go_file, node, node, f'import (\n\t{go_file.text(spec)}\n\t"{path}"\n)')
    clause = next((c for c in root.named_children if c.type == "package_clause"), None)
    if clause is None:
        return False
    return edit(go_file, clause.end_byte, clause.end_byte, f'\n\nimport "{path}"')


def _spec_path(go_file: GoFile, spec: Node) -> str:
    path = spec.child_by_field_name("path")
    return go_file.text(path).strip('"`') if path is not None else ""


def _declared_at_top_level(go_file: GoFile, name: str) -> bool:
    needle = name.encode()
    return needle in go_file.source and any(
        name in go_file.text(child).split("(")[0].split()
        for child in go_file.root.named_children
        if child.type in {"var_declaration", "const_declaration", "type_declaration",
                          "function_declaration"}
    )


@dataclass(frozen=True, slots=True)
class FileFix:
    path: Path
    original: bytes
    fixed: bytes
    applied: tuple[Finding, ...]
    skipped: tuple[Finding, ...]  # overlapping another fix; a second run may apply them
    parse_error: str | None  # the fixed text did not parse: nothing is written


def plan_fixes(path: Path, original: bytes, findings: Iterable[Finding], *,
               unsafe: bool = False) -> FileFix:
    """Apply the fixes of `findings` to one file's text, refusing overlapping edits; fixes
    marked unsafe only when asked."""
    chosen: list[Finding] = []
    skipped: list[Finding] = []
    taken: list[tuple[int, int]] = []
    for finding in sorted(findings, key=lambda f: f.sort_key):
        if finding.fix is None or not (finding.fix.safe or unsafe):
            continue
        spans = [(e.start, e.end) for e in finding.fix.edits]
        if any(_overlaps(span, other) for span in spans for other in taken):
            skipped.append(finding)
            continue
        taken.extend(spans)
        chosen.append(finding)
    edits = sorted((e for f in chosen if f.fix is not None for e in f.fix.edits),
                   key=lambda e: (e.start, e.end), reverse=True)
    text = original
    for change in edits:
        text = text[: change.start] + change.text.encode() + text[change.end :]
    error = first_syntax_error(parse_go(text)) if edits else None
    message = None
    # Syntax the grammar cannot read even rewritten (mapguard.source.newsyntax): Go decides.
    if error is not None and not gofmt_accepts(text):
        message = f"the fixed text does not parse at {error.start_point.row + 1}:" \
                  f"{error.start_point.column + 1}; file left unchanged"
    return FileFix(path, original, text, tuple(chosen), tuple(skipped), message)


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    if a[0] == a[1] or b[0] == b[1]:  # insertions conflict only at the same point inside
        return (a[0] == b[0] and a == b) or (b[0] < a[0] < b[1]) or (a[0] < b[0] < a[1])
    return a[0] < b[1] and b[0] < a[1]


def unified_diff(fix: FileFix, display_path: str) -> str:
    before = fix.original.decode("utf-8", "replace").splitlines(keepends=True)
    after = fix.fixed.decode("utf-8", "replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, f"a/{display_path}", f"b/{display_path}"))


def refusal(path: Path, roots: Iterable[Path]) -> str | None:
    """Why --fix must not write `path`, or None: a file whose real location (symbolic links
    followed) is outside every tree the command line named is linted, never written."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a link loop (Python 3.11)
        return f"cannot resolve: {exc}"
    if not any(real.is_relative_to(root) for root in roots):
        return f"links outside the linted tree (to {real}): linted read-only, not fixed"
    return None


def write_atomically(path: Path, original: bytes, fixed: bytes) -> str | None:
    """Replace the file's text by `fixed` if it still holds `original`: a temporary file in
    the same directory, its mode copied, renamed over the real file (so a reader sees the old
    text or the new one, never a mix). Returns why nothing was written, or None."""
    real = path.resolve()
    try:
        if real.read_bytes() != original:
            return "changed on disk since it was linted: left alone (run mapguard again)"
        mode = stat.S_IMODE(real.stat().st_mode)
        handle, name = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.",
                                        suffix=".mapguard")
    except OSError as exc:
        return f"cannot write: {exc.strerror}"
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(fixed)
            out.flush()
            os.fsync(out.fileno())
        temporary.chmod(mode)
        # Last look before the rename: an editor may have saved the file meanwhile.
        if real.read_bytes() != original:
            return "changed on disk since it was linted: left alone (run mapguard again)"
        temporary.replace(real)
    except OSError as exc:
        return f"cannot write: {exc.strerror}"
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return None
