"""`mapguard profile`: map cost in a pprof profile, by op and source site; and `profile diff`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.markup import escape as markup
from rich.table import Table

from mapguard.bundle.options import bundle_options, open_bundle_writer
from mapguard.bundle.writer import BundleWriter
from mapguard.clikit import emit_json, format_option
from mapguard.errors import InputError
from mapguard.evidence.attribution import ALLOCATION_KINDS, Attribution, attribute_profile
from mapguard.evidence.binary import read_binary
from mapguard.evidence.causes import Cause, cause_chain
from mapguard.evidence.profile_diff import Change, ProfileDiff, diff_profiles
from mapguard.evidence.quantities import human
from mapguard.evidence.render import console, display_path, unclipped
from mapguard.evidence.site import Site
from mapguard.evidence.sourcematch import SourceMatch
from mapguard.evidence.sourcetree import SourceFiles, SourceVersion
from mapguard.evidence.symbolize import symbolize
from mapguard.formats.pprof import DEFAULT_MAX_SIZE, Profile, parse_profile

FETCH_TIMEOUT_S = 30.0
MAX_DOWNLOAD = 512 << 20


def fetch(url: str, *, max_bytes: int = MAX_DOWNLOAD) -> bytes:
    """GET a profile from a /debug/pprof endpoint, with a timeout and a size cap.
    A CPU profile (`?seconds=N`) takes N seconds to answer: the read timeout allows for it."""
    seconds = httpx.URL(url).params.get("seconds")
    wait = FETCH_TIMEOUT_S + (float(seconds) if seconds and seconds.isdigit() else 0.0)
    timeout = httpx.Timeout(FETCH_TIMEOUT_S, read=wait)
    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
            if response.status_code != 200:
                raise InputError(url, f"HTTP {response.status_code} {response.reason_phrase}")
            for chunk in response.iter_raw():
                size += len(chunk)
                if size > max_bytes:
                    raise InputError(url, f"response larger than the {max_bytes} byte cap")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise InputError(url, f"cannot fetch: {exc or type(exc).__name__}") from None
    return b"".join(chunks)


def load(target: str, *, max_size: int = DEFAULT_MAX_SIZE,
         raw: list[bytes] | None = None) -> Profile:
    """A profile from a file or a URL; its bytes are appended to `raw` when given."""
    if target.startswith(("http://", "https://")):
        data = fetch(target)
    else:
        try:
            data = Path(target).read_bytes()
        except OSError as exc:
            raise InputError(target, f"cannot read: {exc.strerror}") from None
    if raw is not None:
        raw.append(data)
    return parse_profile(data, target, max_size=max_size)


def analyse(target: str, source: Path | None, sample_index: str | None,
            binary: Path | None, revision: str | None = None, raw: list[bytes] | None = None
            ) -> tuple[Profile, Attribution, SourceFiles]:
    """Load, symbolise (a debug=1 text profile with its binary) and attribute one profile."""
    profile = load(target, raw=raw)
    info = read_binary(binary) if binary is not None else None
    if binary is not None and profile.text_format:
        profile = symbolize(profile, binary)
    sources = SourceFiles(source, revision=revision, binary=info)
    return profile, attribute_profile(profile, sources, sample_index=sample_index), sources


class _ProfileGroup(click.Group):
    """`profile FILE` runs the default `show`; `profile diff A B` the subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group("profile", cls=_ProfileGroup)
def profile() -> None:
    """Map cost in a pprof profile, by op and source site.

    \b
    mapguard profile FILE|URL [OPTIONS]     same as `profile show`
    mapguard profile diff BASE NEW          what changed, the map part first
    """


_source = click.option("--source", type=click.Path(path_type=Path),
                       help="Directory of the Go sources (default: the paths in the profile). "
                            "A git checkout is read at the profiled revision.")
_index = click.option("--sample-index", help="Sample type: alloc_space, inuse_objects, cpu...")
_top = click.option("--top", type=click.IntRange(min=1), default=15, show_default=True,
                    help="How many sites to show.")
_binary_path = click.Path(path_type=Path)  # checked by read_binary: one line when it fails


@profile.command("show")
@click.argument("target")
@_source
@_index
@click.option("--binary", type=_binary_path,
              help="The profiled binary: its build information names the source revision; "
                   "a debug=1 heap profile is symbolised against it.")
@click.option("--revision", help="The git revision of --source the profiled binary was built "
                                 "from (default: the binary's, else the work tree).")
@_top
@format_option()
@bundle_options
def show(target: str, source: Path | None, sample_index: str | None, binary: Path | None,
         revision: str | None, top: int, output_format: str, bundle_dir: Path | None,
         bundle_label: str) -> int:
    """Top map cost sites with op, value and share, the map total by op, and for the largest
    growth sites the creation that sized the map, with advice."""
    bundle = open_bundle_writer(bundle_dir, bundle_label, "mapguard profile")
    raw: list[bytes] = []
    profile, result, sources = analyse(target, source, sample_index, binary, revision, raw)
    causes = cause_chain(result, sources) if result.kind in ALLOCATION_KINDS else ()
    if output_format == "json":
        emit_json({**result.to_json(top), "causes": [cause.to_json() for cause in causes]})
    else:
        render(result, top, target, causes)
    if bundle is not None:
        _save(bundle, bundle_label, profile, result, causes, raw[0], source, target)
    return 0


def _save(bundle: BundleWriter, label: str, profile: Profile, result: Attribution,
          causes: tuple[Cause, ...], data: bytes, source: Path | None, target: str) -> None:
    """The profile as read (attributed again when the bundle is read, with every line's
    bytes); a symbolised text profile as the attribution shown, which needed the binary."""
    meta = {"from": target}
    if profile.text_format:
        bundle.add_json("profile", label, {"version": 1, **result.to_json(),
                                           "causes": [c.to_json() for c in causes]}, meta=meta)
    else:
        kind = profile.kind if profile.kind in ("allocs", "heap", "cpu") else "profile"
        bundle.add_bytes("profile", label, data, f".{kind}.pb.gz", meta=meta)
    if source is not None:
        bundle.set_source(label, source)


@profile.command("diff")
@click.argument("base")
@click.argument("new")
@_source
@_index
@click.option("--base-binary", type=_binary_path, help="The binary BASE was taken from.")
@click.option("--binary", "new_binary", type=_binary_path,
              help="The binary NEW was taken from.")
@click.option("--base-revision", help="The git revision BASE's binary was built from.")
@click.option("--revision", "new_revision", help="The git revision NEW's binary was built from.")
@_top
@format_option()
def diff(base: str, new: str, source: Path | None, sample_index: str | None,
         base_binary: Path | None, new_binary: Path | None, base_revision: str | None,
         new_revision: str | None, top: int, output_format: str) -> int:
    """What changed from BASE to NEW: map total and ops, map sites, then functions.

    Each profile is read against its own revision of --source (from --base-binary/--binary
    build information or --base-revision/--revision), so a fix that moved lines compares
    right."""
    base_profile, base_attr, _ = analyse(base, source, sample_index, base_binary,
                                         base_revision)
    new_profile, new_attr, _ = analyse(new, source, sample_index, new_binary, new_revision)
    result = diff_profiles(base_profile, new_profile, base_attr, new_attr, sample_index, new)
    if output_format == "json":
        emit_json(result.to_json(top))
    else:
        render_diff(result, top)
    return 0


# --- text output ---------------------------------------------------------------------------


def _share(value: int, total: int) -> str:
    return f"{100 * value / total:.1f}%" if total else "-"


def _location(file: str, line: int) -> str:
    return f"{Path(file).name}:{line}" if line else Path(file).name


_MATCH_WORDS = {
    SourceMatch.EXACT: "", SourceMatch.ENCLOSED: "",
    SourceMatch.MOVED: "moved since the build", SourceMatch.MISSING: "not in the source",
    SourceMatch.NO_SOURCE: "",
}


def _via(via: Site | None) -> str:
    if via is None:
        return ""
    return f"{via.function} ({_location(via.file, via.line)})"


def _source_line(version: SourceVersion | None) -> str | None:
    if version is None or version.root is None:
        return None
    where = display_path(str(version.root))
    if version.revision is None:
        return f"source: {where} (work tree)"
    origin = {"revision": "--revision", "build info": "the binary's build information"}.get(
        version.origin, version.origin)
    return f"source: {where} at revision {version.revision[:12]} (from {origin})"


def render(result: Attribution, top: int, target: str, causes: tuple[Cause, ...] = ()
           ) -> None:
    out = console()
    unit = result.unit
    out.print(f"[bold]{markup(target)}[/]: {result.kind} profile, {result.sample_type}; total "
              f"{human(result.total, unit)}; in maps {human(result.map_total, unit)} "
              f"({_share(result.map_total, result.total)})")
    if (line := _source_line(result.source)) is not None:
        out.print(markup(line))
    ops = Table(title="map cost by op", title_justify="left")
    ops.add_column("op")
    ops.add_column("value", justify="right")
    ops.add_column("share", justify="right")
    for op, value in result.by_op.items():
        ops.add_row(op, human(value, unit), _share(value, result.total))
    out.print(ops)
    if result.sites:
        shown = result.sites[:top]
        sites = Table(title=f"top map sites (of {len(result.sites)})", title_justify="left")
        columns = [("value", "right"), ("share", "right"), ("op", "left"),
                   ("function", "left"), ("where", "left")]
        with_via = any(cost.via for cost in shown)
        with_match = any(_MATCH_WORDS[cost.match] for cost in shown)
        columns += [("via", "left")] * with_via + [("source", "left")] * with_match
        for column, justify in columns:
            sites.add_column(column, justify=justify)  # type: ignore[arg-type]
        for cost in shown:
            row = [human(cost.value, unit), f"{100 * cost.share:.1f}%", cost.op,
                   markup(cost.site.function or "?"),
                   markup(_location(cost.site.file, cost.site.line))]
            row += [markup(_via(cost.via))] * with_via + [_MATCH_WORDS[cost.match]] * with_match
            sites.add_row(*row)
        out.print(unclipped(sites))
    else:
        out.print("no map cost found")
    if result.unmatched:
        table = Table(title="by function only: the source does not match the profiled build",
                      title_justify="left")
        for column in ("value", "function", "file", "why"):
            table.add_column(column, justify="right" if column == "value" else "left")
        for unmatched in result.unmatched[:top]:
            table.add_row(human(unmatched.value, unit), markup(unmatched.function),
                          markup(Path(unmatched.file).name), _MATCH_WORDS[unmatched.match])
        out.print(unclipped(table))
    if result.unattributed:
        out.print(f"unattributed (ambiguous): {human(result.unattributed, unit)}")
    for cause in causes:
        _print_cause(out, cause, result)
    for note in result.notes:
        out.print(f"note: {markup(note)}")


def _print_cause(out: Console, cause: Cause, result: Attribution) -> None:
    growth = cause.growth
    head = (f"{_location(growth.site.file, growth.site.line)} ({growth.site.function}) grows "
            f"{_share(growth.value, result.total)} of all {result.sample_type}")
    creation = cause.creation
    if creation is not None and creation.site is not None:
        head += (f"; the map is made at {_location(creation.site.file, creation.site.line)}: "
                 f"{creation.text} ({creation.how})")
    elif creation is not None:
        head += f"; the map is a {creation.text}, made {creation.how}"
    out.print(f"[bold]cause[/]: {markup(head)}")
    for advice in cause.advice:
        out.print(f"  advice: {markup(advice)}")


def _delta_row(change: Change, unit: str) -> list[str]:
    sign = "+" if change.delta > 0 else ""
    return [human(change.base, unit), human(change.new, unit), sign + human(change.delta, unit)]


def render_diff(result: ProfileDiff, top: int) -> None:
    out = console()
    unit = result.unit
    summary = Table(title=f"{result.kind} profile, {result.sample_type}", title_justify="left")
    for column in ("", "base", "new", "delta"):
        summary.add_column(column, justify="left" if not column else "right")
    summary.add_row("map total", *_delta_row(result.map_total, unit))
    for change in result.by_op:
        summary.add_row(f"  {change.name}", *_delta_row(change, unit))
    summary.add_row("profile total", *_delta_row(result.total, unit))
    out.print(summary)
    for label, version in (("base", result.base_source), ("new", result.new_source)):
        if (line := _source_line(version)) is not None:
            out.print(markup(f"{label} {line}"))
    tables: list[tuple[str, list[list[Any]]]] = [
        ("map sites that changed", [
            [s.op, markup(s.site.function or "?"), markup(_location(s.site.file, s.site.line)),
             *_delta_row(Change("", s.base, s.new), unit)] for s in result.sites[:top]]),
        ("functions that changed (flat)", [
            ["", markup(f.name), "", *_delta_row(f, unit)] for f in result.functions[:top]]),
    ]
    for title, rows in tables:
        if not rows:
            out.print(f"{title}: none")
            continue
        table = Table(title=title, title_justify="left")
        for column in ("op", "function", "where", "base", "new", "delta"):
            table.add_column(column, justify="right" if column in ("base", "new", "delta")
                             else "left")
        for row in rows:
            table.add_row(*row)
        out.print(unclipped(table))
    for note in result.notes:
        out.print(f"note: {markup(note)}")
