"""The lab's plots, PNG and SVG (matplotlib, drawn off-screen): one figure per group."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mapguard.bench.statistics import median
from mapguard.lab.analysis import CPU_TIME, WALL_TIME, ordered_keys, samples, series
from mapguard.lab.runner import LabRun

if TYPE_CHECKING:  # matplotlib takes a second to import: only when plots are drawn
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _medians(values: dict[str, list[float]]) -> tuple[list[float], list[float]]:
    keys = ordered_keys(values)
    return [float(key) for key in keys], [median(values[key]) for key in keys]


def _lines(axes: Axes, run: LabRun, function: str, unit: str, vary: str, key: str,
           names: dict[str, str], scale: float, **where: str) -> None:
    for value, label in names.items():
        xs, ys = _medians(series(run.timings, function, unit, vary, {key: value, **where}))
        if xs:
            axes.plot(xs, [y * scale for y in ys], marker="o", label=label)


def _clear(figure: Figure, run: LabRun) -> None:
    time_axes, bytes_axes = figure.subplots(1, 2)
    names = {"make": "re-create (make)", "clear": "clear", "deleteloop": "delete loop"}
    _lines(time_axes, run, "Refill", CPU_TIME, "size", "strategy", names, 1e9)
    _lines(bytes_axes, run, "Refill", "B/op", "size", "strategy", names, 1.0)
    for axes, label in ((time_axes, "CPU ns per refill"),
                        (bytes_axes, "bytes allocated per refill")):
        axes.set_xscale("log", base=2)
        axes.set_xlabel("entries")
        axes.set_ylabel(label)
        axes.legend()
    time_axes.set_yscale("log")
    bytes_axes.set_yscale("symlog", linthresh=1)  # clear and the loop allocate 0 bytes
    bytes_axes.set_ylim(bottom=0)
    figure.suptitle("Empty and refill a map: re-create, clear, or delete every key")


def _hint(figure: Figure, run: LabRun) -> None:
    time_axes, allocs_axes = figure.subplots(1, 2)
    names = {"none": "make(map[K]V)", "exact": "make(map[K]V, n)"}
    _lines(time_axes, run, "Fill", CPU_TIME, "size", "hint", names, 1e9)
    _lines(allocs_axes, run, "Fill", "allocs/op", "size", "hint", names, 1.0)
    for axes, label in ((time_axes, "CPU ns per fill"), (allocs_axes, "allocations per fill")):
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        axes.set_xlabel("entries")
        axes.set_ylabel(label)
        axes.legend()
    figure.suptitle("Fill a new map, with and without a size hint")


def _sync(figure: Figure, run: LabRun) -> None:
    counts = ordered_keys(series(run.timings, "Concurrent", WALL_TIME, "goroutines",
                                 {"impl": "rwmutex"}))
    panels = figure.subplots(1, max(len(counts), 1), squeeze=False)[0]
    names = {"rwmutex": "RWMutex + map", "syncmap": "sync.Map", "cow": "copy-on-write",
             "sharded": "16 shards"}
    for axes, count in zip(panels, counts, strict=False):
        for impl, label in names.items():
            values = series(run.timings, "Concurrent", WALL_TIME, "reads",
                            {"impl": impl, "goroutines": count})
            keys = ordered_keys(values)
            axes.plot(range(len(keys)), [median(values[k]) * 1e9 for k in keys], marker="o",
                      label=label)
            axes.set_xticks(range(len(keys)), [f"{k}%" for k in keys])
        axes.set_yscale("log")
        axes.set_title(f"{count} goroutine{'s' if count != '1' else ''}")
        axes.set_xlabel("reads")
        axes.set_ylabel("ns per op (wall clock)")
        axes.legend(fontsize="small")
    figure.suptitle("A map shared by goroutines that read and write it")


def _bars(figure: Figure, run: LabRun, function: str, title: str) -> None:
    time_axes, allocs_axes = figure.subplots(1, 2)
    found = samples(run.timings, function, CPU_TIME)
    names = list(found)
    labels = [name.split("/", 1)[1] if "/" in name else name for name in names]
    time_axes.barh(labels, [median(found[name]) * 1e9 for name in names])
    time_axes.set_xlabel("CPU ns per op")
    allocs = samples(run.timings, function, "allocs/op")
    allocs_axes.barh(labels, [median(allocs.get(name, [0.0])) for name in names])
    allocs_axes.set_xlabel("allocations per op")
    allocs_axes.set_yticks([])
    figure.suptitle(title)


_FIGURES: dict[str, Callable[[Figure, LabRun], None]] = {
    "clear": _clear,
    "hint": _hint,
    "sync": _sync,
    "key": lambda figure, run: _bars(figure, run, "Key", "Map keys built per access"),
    "pointer": lambda figure, run: _bars(figure, run, "Replace",
                                         "A fresh map for the caller: pointer, return, reuse"),
    "pool": lambda figure, run: _bars(figure, run, "RequestMap",
                                      "A map per request, or pooled"),
}


def write_plots(run: LabRun, directory: Path) -> list[Path]:
    """One PNG and one SVG per group run; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    written = []
    for group in run.plan.groups:
        figure = Figure(figsize=(11, 4.5), layout="constrained")
        _FIGURES[group](figure, run)
        for suffix in ("png", "svg"):
            path = directory / f"{group}.{suffix}"
            figure.savefig(path, dpi=110)
            written.append(path)
    return written
