"""What `mapguard ebpf` shows: the live table, the final text report and the JSON document."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from mapguard.ebpf.plan import CLEAR, GROWTH
from mapguard.ebpf.session import OPS_PERIOD, Session
from mapguard.ebpf.stats import SiteStats, site_label


def _us(ns: int) -> str:
    if ns < 1_000:
        return f"{ns / 1000:.2f}"
    return f"{ns / 1000:,.1f}" if ns < 100_000 else f"{ns / 1000:,.0f}"


def header(session: Session, seconds: float) -> Text:
    health = session.health
    cost = health.hit_cost
    lines = [f"{session.target} (Go {session.plan.version}, "
             f"{'Swiss tables' if session.plan.swiss else 'hmap buckets'}) · {seconds:.0f} s · "
             f"overhead {health.share:.2%} of a core (budget "
             f"{session.settings.budget.share:.0%}), last interval {health.last_share:.2%}"]
    if cost is not None:
        lines.append(f"a probe hit costs {cost.emulated_trap * 1e6:.1f} µs (emulated "
                     f"instruction) or {cost.stepped_trap * 1e6:.1f} µs (single-stepped, "
                     f"e.g. RET), plus {cost.chain_sample * 1e6:.1f} µs for a sample with "
                     "its call chain")
    if health.sampling_period > 1:
        lines.append(f"growth probes sampled: attached one interval in "
                     f"{health.sampling_period}; counts are of those intervals")
    if health.ops_dropped:
        lines.append("op probes dropped: over the budget")
    if health.lost_samples:
        lines.append(f"{health.lost_samples:,} samples lost (the kernel's buffers were full)")
    return Text("\n".join(lines))


def site_table(rows: list[SiteStats], title: str, top: int, interval_s: float) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for name, justify in (("/s", "right"), ("total", "right"), ("p50 µs", "right"),
                          ("p99 µs", "right"), ("max µs", "right"), ("kinds", "left"),
                          ("site", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for stats in rows[:top]:
        durations = stats.durations
        kinds = " ".join(f"{kind} {count}" for kind, count in stats.by_kind.most_common())
        table.add_row(f"{stats.last_interval / interval_s:,.0f}", f"{stats.count:,}",
                      _us(durations.percentile_ns(0.5)), _us(durations.percentile_ns(0.99)),
                      _us(durations.max_ns), kinds, _site_text(stats))
    return table


def _site_text(stats: SiteStats) -> str:
    site = stats.site
    if site is None:
        return site_label(None)
    return f"{site_label(site)}  {site.function or ''}"


def maps_table(session: Session, top: int) -> Table:
    table = Table(title="hot maps", title_justify="left")
    for name, justify in (("growths", "right"), ("len at last growth", "right"),
                          ("slots after", "right"), ("map", "left"), ("pid", "right"),
                          ("site", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for stats in session.totals.hot_maps(top):
        table.add_row(f"{stats.growths:,}", f"{stats.length:,}", f"{stats.slots:,}",
                      f"0x{stats.address:x}", str(stats.pid), site_label(stats.site))
    return table


def ops_table(session: Session, top: int) -> Table:
    table = Table(title=f"ops (one call in {OPS_PERIOD} sampled for its site; totals exact)",
                  title_justify="left")
    table.add_column("calls", justify="right")
    table.add_column("op")
    table.add_column("site")
    for op, count in sorted(session.op_totals().items()):
        table.add_row(f"{count:,}", op, "(all sites)")
    ranked = sorted(session.totals.ops.items(), key=lambda item: -item[1])[:top]
    for (site, op), count in ranked:
        table.add_row(f"~{count:,}", op, site_label(site))
    return table


def live_view(session: Session, seconds: float, top: int) -> RenderableType:
    parts: list[RenderableType] = [
        header(session, seconds),
        site_table(session.totals.by_role(GROWTH), "map growth by site", top,
                   session.settings.interval_s),
    ]
    clears = session.totals.by_role(CLEAR)
    if clears:
        parts.append(site_table(clears, "map clear by site", top, session.settings.interval_s))
    parts.append(maps_table(session, min(top, 10)))
    if session.settings.ops:
        parts.append(ops_table(session, top))
    for note in session.health.notes[-5:]:
        parts.append(Text(note, style="yellow"))
    return Group(*parts)


def document(session: Session, seconds: float, ended_by: str) -> dict[str, Any]:
    health = session.health
    return {
        "target": {"name": session.target, "pid": session.pid,
                   "binary": str(session.binary.path),
                   "go_version": session.binary.build.go_version,
                   "map_implementation": "swiss" if session.plan.swiss else "hmap",
                   "processes": sorted(session.totals.pids)},
        "seconds": round(seconds, 3),
        "ended_by": ended_by,
        "probes": {"timed": [s.function for s in session.plan.timed],
                   "ops": [s.function for s in session.plan.ops] if session.settings.ops
                   else [],
                   "points": len(session.timed) + len(session.ops),
                   "absent": list(session.plan.absent)},
        "cost": {
            "per_hit_us": health.hit_cost.to_json() if health.hit_cost else None,
            "probe_hits": sum(p.hits for p in (*session.timed.values(),
                                               *session.ops.values())),
            "probe_cpu_seconds": round(health.probe_seconds, 6),
            "own_cpu_seconds": round(health.own_seconds, 6),
            "share_of_one_core": round(health.share, 6),
            "budget": session.settings.budget.share,
            "ops_dropped": health.ops_dropped,
            "growth_sampled_fraction": round(health.sampled_fraction, 4),
            "lost_samples": health.lost_samples,
            "unmatched_hits": health.unmatched,
            "other_process_samples": health.other_processes,
        },
        "growth": [_site_json(s) for s in session.totals.by_role(GROWTH)],
        "clear": [_site_json(s) for s in session.totals.by_role(CLEAR)],
        "maps": [{"pid": m.pid, "address": f"0x{m.address:x}", "growths": m.growths,
                  "len_at_last_growth": m.length, "slots_after": m.slots, "last_kind": m.kind,
                  "site": site_label(m.site)} for m in session.totals.hot_maps(50)],
        "ops": ({"totals": session.op_totals(),
                 "sites": [{"site": site_label(site), "op": op, "estimated_calls": count}
                           for (site, op), count in sorted(session.totals.ops.items(),
                                                           key=lambda item: -item[1])]}
                if session.settings.ops else None),
        "notes": list(health.notes),
    }


def _site_json(stats: SiteStats) -> dict[str, Any]:
    durations = stats.durations
    site = stats.site
    return {
        "site": site_label(site),
        "file": site.file if site else None,
        "line": site.line if site else None,
        "function": site.function if site else None,
        "count": stats.count,
        "kinds": dict(stats.by_kind),
        "seconds": {"p50": durations.percentile_ns(0.5) / 1e9,
                    "p99": durations.percentile_ns(0.99) / 1e9,
                    "max": durations.max_ns / 1e9, "sum": durations.sum_ns / 1e9},
    }
