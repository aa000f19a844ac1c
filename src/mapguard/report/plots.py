"""The report's plots: matplotlib figures drawn off-screen as SVG, embedded as `data:` URIs.

An SVG shown through `<img>` is an image: a browser runs no script inside it, so text from the
evidence (file names, labels) that ends up in a plot cannot act. Labels are still cut to a
readable length and their `$` escaped (matplotlib would read `$...$` as mathematics).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib takes a second to import: only when a plot is drawn
    from matplotlib.figure import Figure

LABEL_CHARS = 48
OPS_COLOURS = {"create": "#4c72b0", "grow": "#dd8452", "syncmap": "#55a868"}


def _label(text: str) -> str:
    text = text if len(text) <= LABEL_CHARS else "…" + text[-(LABEL_CHARS - 1):]
    return text.replace("$", r"\$")


def _figure(width: float, height: float) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _data_uri(figure: Figure) -> str:
    import matplotlib

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mapguard"}):
        buffer = io.BytesIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def site_bars(sites: Sequence[tuple[str, str, float]], unit: str, title: str) -> str:
    """Horizontal bars: (site, op, value), largest first."""
    figure = _figure(7.5, 0.45 * max(len(sites), 2) + 1.0)
    axes = figure.subplots()
    labels = [_label(site) for site, _, _ in sites][::-1]
    values = [value for _, _, value in sites][::-1]
    colours = [OPS_COLOURS.get(op, "#8172b3") for _, op, _ in sites][::-1]
    axes.barh(range(len(values)), values, color=colours)
    axes.set_yticks(range(len(values)), labels, fontsize=8)
    axes.set_xlabel(unit)
    axes.set_title(_label(title), fontsize=10)
    from matplotlib.patches import Patch

    shown = [Patch(color=colour, label=op) for op, colour in OPS_COLOURS.items()
             if any(o == op for _, o, _ in sites)]
    if shown:
        axes.legend(handles=shown, fontsize=8, loc="lower right")
    return _data_uri(figure)


def gc_timeline(series: Mapping[str, Sequence[tuple[float, float]]],
                rates: Mapping[str, Sequence[tuple[float, float]]], title: str,
                unit: str = "GC pause, ms") -> str:
    """GC pauses over time (left axis) and map allocation rates (right axis)."""
    figure = _figure(7.5, 3.2)
    axes = figure.subplots()
    for name, points in series.items():
        if points:
            xs, ys = zip(*points, strict=True)
            axes.plot(xs, ys, marker=".", linestyle="-", linewidth=0.8, label=_label(name))
    axes.set_xlabel("seconds")
    axes.set_ylabel(unit)
    if rates:
        other = axes.twinx()
        for index, (name, points) in enumerate(rates.items()):
            if points:
                xs, ys = zip(*points, strict=True)
                other.step(xs, ys, where="post", linestyle="--", linewidth=1.0,
                           color=f"C{index + 3}", label=_label(name))
        other.set_ylabel("map bytes / s")
        other.legend(fontsize=7, loc="upper right")
    axes.legend(fontsize=7, loc="upper left")
    axes.set_title(_label(title), fontsize=10)
    return _data_uri(figure)


def grouped_bars(groups: Sequence[str], series: Mapping[str, Sequence[float | None]],
                 unit: str, title: str) -> str:
    """One group of bars per step (quota, rate), one bar per label."""
    figure = _figure(7.5, 3.0)
    axes = figure.subplots()
    width = 0.8 / max(len(series), 1)
    for index, (name, values) in enumerate(series.items()):
        positions = [g + index * width for g in range(len(groups))]
        axes.bar(positions, [v if v is not None else 0.0 for v in values], width,
                 label=_label(name))
    axes.set_xticks([g + width * (len(series) - 1) / 2 for g in range(len(groups))],
                    [_label(g) for g in groups], fontsize=8)
    axes.set_ylabel(unit)
    axes.set_title(_label(title), fontsize=10)
    axes.legend(fontsize=8)
    return _data_uri(figure)
