"""What each file of a bundle says, as typed records: the evidence `diagnose` and `report` read.

One loader per kind. A loader reads its file (JSON written by a mapguard command, or the raw
format the command itself reads) and raises `InputError` naming the file and the field when
the shape is wrong. Paths stay as the evidence gives them; `diagnose.sites` joins them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mapguard.bundle.reader import Entry, read_json_file, start_snapshot
from mapguard.bundle.shape import Doc
from mapguard.errors import InputError
from mapguard.evidence.site import Site


@dataclass(frozen=True, slots=True)
class LintFinding:
    rule: str
    name: str
    severity: str
    file: str
    line: int
    column: int
    message: str


@dataclass(frozen=True, slots=True)
class LintEvidence:
    origin: str
    findings: tuple[LintFinding, ...]
    files: int


@dataclass(frozen=True, slots=True)
class EscapeSite:
    site: Site
    expr: str
    verdict: str  # stack | heap | moved-to-heap
    why: str | None


@dataclass(frozen=True, slots=True)
class EscapeEvidence:
    origin: str
    sites: tuple[EscapeSite, ...]


@dataclass(frozen=True, slots=True)
class SiteValue:
    site: Site
    op: str
    value: int
    via: str | None = None  # the library function that did the map work, called from the site


@dataclass(frozen=True, slots=True)
class CostEvidence:
    """Map cost by site from a profile (allocation bytes or CPU nanoseconds) or a watch
    interval. `lines` holds every value by the first user line that made it, map or not
    (raw profiles only), so a finding's line can be measured whatever it allocates."""

    origin: str
    kind: str  # allocs | heap | cpu | watch
    unit: str  # bytes | nanoseconds
    total: int
    map_total: int
    by_op: Mapping[str, int]
    sites: tuple[SiteValue, ...]
    lines: Mapping[tuple[str, int], int] = field(default_factory=dict)
    seconds: float | None = None  # the span the values cover, when known
    requests: int | None = None  # requests served meanwhile, when known
    unattributed: int = 0
    notes: tuple[str, ...] = ()

    @property
    def is_allocation(self) -> bool:
        return self.unit == "bytes"


@dataclass(frozen=True, slots=True)
class GcPoint:
    at_s: float
    pause_ms: float  # both stop-the-world pauses of the cycle
    heap_live_mb: float
    heap_goal_mb: float
    forced: bool


@dataclass(frozen=True, slots=True)
class GcEvidence:
    origin: str
    cycles: int
    span_s: float
    gc_cpu_percent: float | None  # over the logged window when known, else since start
    gc_cpu_source: str  # "window" | "since start"
    pause_p99_ms: float | None
    pause_max_ms: float | None
    cycles_per_s: float | None
    gogc: int | None  # None: not recorded (Go's default is 100)
    timeline: tuple[GcPoint, ...]


@dataclass(frozen=True, slots=True)
class Stall:
    site: Site
    count: int
    p99_s: float
    max_s: float
    sum_s: float


@dataclass(frozen=True, slots=True)
class EbpfEvidence:
    origin: str
    seconds: float
    stalls: tuple[Stall, ...]


@dataclass(frozen=True, slots=True)
class SloVerdict:
    slo: str
    kind: str
    held: bool | None
    burn_rate: float | None
    good_ratio: float | None


@dataclass(frozen=True, slots=True)
class LoadStep:
    name: str  # "rate 600/s", "quota 25%"
    rate: float | None
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    answered: int
    failed: int
    slo: tuple[SloVerdict, ...]


@dataclass(frozen=True, slots=True)
class LoadEvidence:
    origin: str
    what: str  # load | chaos
    steps: tuple[LoadStep, ...]

    @property
    def burned(self) -> tuple[SloVerdict, ...]:
        return tuple(v for step in self.steps for v in step.slo if v.held is False)


@dataclass(frozen=True, slots=True)
class SloWindow:
    window: str
    burn_rate: float | None


@dataclass(frozen=True, slots=True)
class SloState:
    slo: str
    objective: str
    budget_remaining: float | None
    windows: tuple[SloWindow, ...]
    alerts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SloEvidence:
    origin: str
    slos: tuple[SloState, ...]


# --- lint and escape -----------------------------------------------------------------------


def _resolved(file: str, base: str | None) -> str:
    """A relative path read against the directory it was written from, when recorded."""
    if base and not Path(file).is_absolute():
        return str(Path(base) / file)
    return file


def load_lint(entry: Entry) -> LintEvidence:
    doc = Doc(read_json_file(entry.path), entry.name)
    base = entry.meta.get("base")
    findings = tuple(
        LintFinding(f.text("rule"), f.opt_text("name") or "",
                    f.opt_text("severity") or "warning", _resolved(f.text("path"), base),
                    f.integer("line"), f.opt_integer("column") or 0, f.text("message"))
        for f in doc.objects("findings"))
    return LintEvidence(entry.name, findings, doc.opt_integer("files") or 0)


def load_escape(entry: Entry) -> EscapeEvidence:
    base = entry.meta.get("base")
    if entry.path.suffix == ".log":
        from mapguard.evidence.escape_run import read_escape_log

        report = read_escape_log(entry.path, Path(base or entry.path.parent).resolve())
        return EscapeEvidence(entry.name, tuple(
            EscapeSite(Site(f.position.file, f.position.line, f.position.column, f.function),
                       f.expr, f.verdict.value, f.why)
            for f in report.map_sites() if f.inlined_from is None))
    doc = Doc(read_json_file(entry.path), entry.name)
    return EscapeEvidence(entry.name, tuple(
        EscapeSite(Site(_resolved(s.text("file"), base), s.integer("line"),
                        s.opt_integer("column") or 0, s.opt_text("function")),
                   s.text("expr"), s.text("verdict"), s.opt_text("why"))
        for s in doc.objects("sites") if not s.has("inlined_from")))


# --- profiles and watch ---------------------------------------------------------------------


def load_costs(entry: Entry, source: Path | None) -> CostEvidence:
    """A profile (raw, attributed against `source`; minus its start snapshot when the bundle
    holds one), `mapguard profile --format json`, or a `mapguard watch --once` interval."""
    if entry.kind == "watch":
        return _watch_costs(entry)
    if entry.path.name.endswith(".json"):
        return _profile_json(entry)
    from mapguard.evidence.profile_commands import load
    from mapguard.evidence.sourcetree import SourceFiles

    profile = load(str(entry.path))
    start_path = start_snapshot(entry)
    start = load(str(start_path)) if start_path else None
    sources = SourceFiles(source)  # parsed once for both snapshots (library files included)
    end_costs = _attributed(profile, sources)
    requests = entry.meta.get("requests")
    seconds = entry.meta.get("seconds")
    costs = end_costs if start is None else _minus(end_costs, _attributed(start, sources))
    return CostEvidence(
        entry.name, profile.kind if profile.kind in ("allocs", "heap", "cpu") else "allocs",
        costs.unit, costs.total, costs.map_total, costs.by_op, costs.sites, costs.lines,
        float(seconds) if isinstance(seconds, (int, float)) else (
            profile.duration_nanos / 1e9 if profile.duration_nanos else None),
        int(requests) if isinstance(requests, int) else None,
        costs.unattributed, costs.notes)


@dataclass(frozen=True, slots=True)
class _Costs:
    unit: str
    total: int
    map_total: int
    by_op: Mapping[str, int]
    sites: tuple[SiteValue, ...]
    lines: Mapping[tuple[str, int], int]
    unattributed: int
    notes: tuple[str, ...]


def _attributed(profile: Any, sources: Any) -> _Costs:
    from mapguard.evidence.attribution import attribute_profile

    names = [t.type for t in profile.sample_types]
    index_name = "alloc_space" if "alloc_space" in names else None
    attribution = attribute_profile(profile, sources, sample_index=index_name)
    index = profile.sample_index(index_name)
    sites = tuple(SiteValue(Site(c.site.file, c.site.line, 0, c.site.function), c.op, c.value,
                            c.via.function if c.via is not None else None)
                  for c in attribution.sites)
    lines = _user_lines(profile, index) if attribution.unit == "bytes" else {}
    return _Costs(attribution.unit, attribution.total, attribution.map_total,
                  dict(attribution.by_op), sites, lines, attribution.unattributed,
                  attribution.notes)


def _user_lines(profile: Any, index: int) -> dict[tuple[str, int], int]:
    """Value by the first frame of the program's own code in each sample's stack."""
    from mapguard.evidence.goframes import FrameKind, frame_kind

    table = profile.samples
    line_of = np.full(len(profile.locations), -1, dtype=np.int64)
    keys: list[tuple[str, int]] = []
    known: dict[tuple[str, int], int] = {}
    for i, location in enumerate(profile.locations):
        for frame in location.frames:
            if frame_kind(frame.function, frame.file) is FrameKind.USER:
                key = (frame.file, frame.line)
                line_of[i] = known.setdefault(key, len(keys))
                if known[key] == len(keys):
                    keys.append(key)
                break
    if not len(table) or not keys:
        return {}
    stacks = table.stacks
    has_line = line_of[stacks] >= 0
    positions = np.where(has_line, np.arange(len(stacks)), len(stacks))
    following = np.minimum.accumulate(positions[::-1])[::-1]
    starts, ends = table.offsets[:-1], table.offsets[1:]
    inside = starts < ends
    first = np.full(len(table), len(stacks), dtype=np.int64)
    first[inside] = following[starts[inside]]
    found = first < ends
    values = table.values[:, index]
    sums = np.zeros(len(keys), dtype=np.int64)
    np.add.at(sums, line_of[stacks[first[found]]], values[found])
    return {key: int(value) for key, value in zip(keys, sums.tolist(), strict=True) if value}


def _minus(end: _Costs, start: _Costs) -> _Costs:
    """What happened between two cumulative profiles of one process."""
    before = {(s.site, s.op): s.value for s in start.sites}
    sites = [SiteValue(s.site, s.op, s.value - before.get((s.site, s.op), 0), s.via)
             for s in end.sites]
    by_op = {op: value - start.by_op.get(op, 0) for op, value in end.by_op.items()}
    lines = {key: value - start.lines.get(key, 0) for key, value in end.lines.items()}
    kept = sorted((s for s in sites if s.value > 0), key=lambda s: -s.value)
    return _Costs(end.unit, end.total - start.total, end.map_total - start.map_total, by_op,
                  tuple(kept), {k: v for k, v in lines.items() if v > 0},
                  end.unattributed - start.unattributed, end.notes)


def _profile_json(entry: Entry) -> CostEvidence:
    doc = Doc(read_json_file(entry.path), entry.name)
    map_part = doc.child("map")
    sites = tuple(
        SiteValue(Site(s.text("file"), s.integer("line"), 0, s.opt_text("function")),
                  s.text("op"), s.integer("value"), _via(s))
        for s in doc.objects("sites"))
    requests = entry.meta.get("requests")
    return CostEvidence(
        entry.name, doc.text("kind"), doc.text("unit"), doc.integer("total"),
        map_part.integer("total"),
        {op: int(v) for op, v in map_part.numbers("by_op").items()}, sites, {},
        None, int(requests) if isinstance(requests, int) else None,
        doc.opt_integer("unattributed") or 0, tuple(str(n) for n in doc.data.get("notes") or ()))


def _via(site: Doc) -> str | None:
    via = site.opt_child("via")
    return via.opt_text("function") if via is not None else None


def _watch_costs(entry: Entry) -> CostEvidence:
    doc = Doc(read_json_file(entry.path), entry.name)
    targets = list(doc.objects("targets"))
    wanted = entry.meta.get("target")
    chosen = [t for t in targets if wanted in (None, t.opt_text("target")) and t.has("sites")]
    if not chosen:
        raise InputError(entry.name, "no target with a measured interval",
                         where="targets", expected="the output of mapguard watch --once")
    target = chosen[0]
    by_op: dict[str, int] = defaultdict(int)
    sites = []
    for s in target.objects("sites"):
        site = parse_site_label(s.text("site"))
        sites.append(SiteValue(site, s.text("op"), s.integer("bytes")))
        by_op[s.text("op")] += s.integer("bytes")
    return CostEvidence(entry.name, "watch", "bytes", target.integer("total_bytes"),
                        target.integer("map_bytes"), dict(by_op), tuple(sites), {},
                        target.opt_number("seconds"))


def parse_site_label(label: str) -> Site:
    """`path/file.go:94` (a site read with source) or a Go function name (without)."""
    head, _, tail = label.rpartition(":")
    if head.endswith(".go") and tail.isdigit():
        return Site(head, int(tail), 0, None)
    return Site("", 0, 0, label)


# --- GC --------------------------------------------------------------------------------------


def load_gc(entry: Entry) -> GcEvidence:
    from mapguard.evidence.gcsummary import summarize_gctrace
    from mapguard.formats.gctrace import Cycles, GcCycle, GcTrace, parse_gctrace

    if entry.path.suffix == ".log":
        try:
            text = entry.path.read_bytes().decode("utf-8", "replace")
        except OSError as exc:
            raise InputError(entry.name, f"cannot read: {exc.strerror or exc}") from None
        trace = parse_gctrace(text, entry.name)
    else:
        doc = Doc(read_json_file(entry.path), entry.name)
        rows = []
        for cycle in doc.objects("cycles"):
            try:
                rows.append(GcCycle(**{**cycle.data, "notes": tuple(cycle.data.get("notes", ()))}))
            except TypeError as exc:
                raise InputError(entry.name, f"not a gctrace cycle: {exc}",
                                 where=cycle.where) from None
        trace = GcTrace(Cycles.from_rows(rows), (), 0)
        stated = doc.opt_child("summary")
        if stated is not None:  # `mapguard gc --format json` keeps only some cycles
            return _stated_gc(entry, stated, trace)
    summary = summarize_gctrace(trace)
    window = summary.gc_cpu_window_percent
    gogc = entry.meta.get("gogc")
    return GcEvidence(
        entry.name, summary.cycles, summary.span_s,
        window if window is not None else (
            float(summary.gc_cpu_percent) if summary.gc_cpu_percent is not None else None),
        "window" if window is not None else "since start",
        summary.pauses_ms.p99, summary.pauses_ms.max, summary.cycles_per_s,
        int(gogc) if isinstance(gogc, int) else None, _timeline(trace))


def _timeline(trace: Any) -> tuple[GcPoint, ...]:
    return tuple(GcPoint(c.at_s, c.stw_sweep_term_ms + c.stw_mark_term_ms, c.heap_live_mb,
                         c.heap_goal_mb, c.forced) for c in trace.cycles)


def _stated_gc(entry: Entry, summary: Doc, trace: Any) -> GcEvidence:
    """The summary `mapguard gc` computed over every cycle of the log."""
    window = summary.opt_number("gc_cpu_window_percent")
    since_start = summary.opt_number("gc_cpu_percent")
    pauses = summary.opt_child("stw_pause_ms")
    gogc = entry.meta.get("gogc")
    return GcEvidence(
        entry.name, summary.integer("cycles"), summary.opt_number("span_s") or 0.0,
        window if window is not None else since_start,
        "window" if window is not None else "since start",
        pauses.opt_number("p99") if pauses else None,
        pauses.opt_number("max") if pauses else None,
        summary.opt_number("cycles_per_s"), int(gogc) if isinstance(gogc, int) else None,
        _timeline(trace))


# --- eBPF, load, chaos, SLO ------------------------------------------------------------------


def load_ebpf(entry: Entry) -> EbpfEvidence:
    doc = Doc(read_json_file(entry.path), entry.name)
    stalls = []
    for s in doc.objects("growth"):
        seconds = s.child("seconds")
        site = Site(s.opt_text("file") or "", s.opt_integer("line") or 0, 0, s.opt_text("function"))
        stalls.append(Stall(site, s.integer("count"), seconds.number("p99"), seconds.number("max"),
                            seconds.number("sum")))
    return EbpfEvidence(entry.name, doc.number("seconds"), tuple(stalls))


def _verdicts(doc: Doc, key: str = "slo") -> list[tuple[int | None, SloVerdict]]:
    """SLO verdicts with the step each belongs to (None: the verdict's step is not named)."""
    return [(v.opt_integer("step"), SloVerdict(v.text("slo"), v.opt_text("kind") or "",
                                           v.opt_flag("held"), v.opt_number("burn_rate"),
                                           v.opt_number("good_ratio")))
            for v in doc.objects(key, optional=True)]


def _latency(step: Doc) -> tuple[float | None, float | None, float | None]:
    latency = step.opt_child("latency_ms")
    if latency is None:
        return None, None, None
    return latency.opt_number("p50"), latency.opt_number("p99"), latency.opt_number("max")


def load_load(entry: Entry) -> LoadEvidence:
    """`mapguard load` (one step per rate) or `mapguard chaos cpu` (one per quota step)."""
    doc = Doc(read_json_file(entry.path), entry.name)
    steps = []
    if entry.kind == "load":
        verdicts = _verdicts(doc)
        for step in doc.objects("steps"):
            p50, p99, worst = _latency(step)
            number = step.opt_integer("step")
            steps.append(LoadStep(
                f"rate {step.opt_number('rate') or 0:g}/s", step.opt_number("rate"), p50, p99,
                worst,
                step.opt_integer("answered") or 0, step.opt_integer("failed") or 0,
                tuple(v for at, v in verdicts if at in (None, number))))
        return LoadEvidence(entry.name, "load", tuple(steps))
    verdicts = _verdicts(doc)
    for step in doc.objects("steps"):
        number = step.opt_integer("step")
        load = step.opt_child("load")
        quota = step.opt_text("quota") or "none"
        p50, p99, worst = _latency(load) if load is not None else (None, None, None)
        steps.append(LoadStep(
            f"quota {quota}", load.opt_number("rate") if load else None, p50, p99, worst,
            (load.opt_integer("answered") or 0) if load else 0,
            (load.opt_integer("failed") or 0) if load else 0,
            tuple(v for at, v in verdicts if at in (None, number))))
    return LoadEvidence(entry.name, "chaos", tuple(steps))


def load_slo(entry: Entry) -> SloEvidence:
    """`mapguard slo status --format json`."""
    doc = Doc(read_json_file(entry.path), entry.name)
    slos = []
    for slo in doc.objects("slos"):
        windows = tuple(SloWindow(w.text("window"), w.opt_number("burn_rate"))
                        for w in slo.objects("windows", optional=True))
        alerts = tuple(a.opt_text("alertname") or "" for a in slo.objects("alerts",
                                                                          optional=True))
        slos.append(SloState(slo.opt_text("id") or "?", str(slo.data.get("objective_percent", "")),
                             slo.opt_number("budget_remaining"), windows, alerts))
    return SloEvidence(entry.name, tuple(slos))


def finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value
