"""Server-drawn SVG charts (matplotlib, Agg backend): the same picture on the page and in
a PDF. No pyplot: a Figure per call, so requests in several threads do not share state.

Chinese labels need a CJK font; Debian's fonts-noto-cjk provides "Noto Sans CJK SC".
Text stays text in the SVG (``svg.fonttype: none``): small files, and the browser or
WeasyPrint draws it with the same font.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib import dates as mdates  # noqa: E402
from matplotlib.backends.backend_svg import FigureCanvasSVG  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

FONTS = ["Noto Sans CJK SC", "WenQuanYi Micro Hei", "DejaVu Sans"]
_lock = threading.Lock()  # font cache and rcParams are process-wide

matplotlib.rcParams.update(
    {
        "font.family": FONTS,
        "svg.fonttype": "none",
        "axes.unicode_minus": False,
        "svg.hashsalt": "aefi",  # stable ids: the same data gives the same file
    }
)


@dataclass(frozen=True)
class ChartText:
    """The words of a chart, already in the reader's language."""

    title: str
    observed: str
    expected: str
    boundary: str
    x_label: str
    y_label: str
    note: str = ""
    events: str = ""  # legend of the dots, one per report (its onset)
    start: str = ""  # label of the line where surveillance started


def observed_expected_svg(
    times: Sequence[datetime],
    observed: Sequence[float],
    expected: Sequence[float],
    boundary: Sequence[float] | None,
    text: ChartText,
    *,
    width_in: float = 8.0,
    height_in: float = 3.6,
    narrow: bool = False,
    events: Sequence[tuple[datetime, float]] = (),
    started_at: datetime | None = None,
) -> str:
    """Cumulative observed (steps) against cumulative expected over time, with the MaxSPRT
    boundary (events needed to signal at each time) when given, a dot per report at its
    onset and a line where surveillance started. ``narrow``: drawn for a phone (about
    360 px: fewer ticks, larger type, the legend under the plot). Returns SVG markup."""
    if narrow:
        width_in, height_in = 4.0, 4.2
    font = 10 if narrow else 8
    with _lock:
        fig = Figure(figsize=(width_in, height_in), dpi=100)
        FigureCanvasSVG(fig)
        ax = fig.add_subplot(1, 1, 1)
        if len(times):
            t = mdates.date2num(list(times))
            ax.set_xlim(t[0], t[-1] + (0.5 if len(t) > 1 else 1))
            if started_at is not None and text.start:
                ax.axvline(
                    mdates.date2num(started_at),
                    color="#8a6d00",
                    linewidth=1,
                    linestyle=":",
                    label=text.start,
                )
            ax.step(t, observed, where="post", color="#b3261e", linewidth=2, label=text.observed)
            if events:
                ax.plot(
                    mdates.date2num([e[0] for e in events]),
                    [e[1] for e in events],
                    "o",
                    color="#b3261e",
                    markersize=5 if narrow else 4,
                    label=text.events or None,
                )
            ax.plot(t, expected, color="#1f5fa8", linewidth=2, label=text.expected)
            if boundary is not None:
                b = np.asarray(boundary, dtype=float)
                ax.step(
                    t,
                    b,
                    where="post",
                    color="#6b6b6b",
                    linewidth=1.5,
                    linestyle="--",
                    label=text.boundary,
                )
            ax.xaxis.set_major_locator(
                mdates.AutoDateLocator(minticks=2, maxticks=4 if narrow else 8)
            )
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d" if narrow else "%Y-%m-%d"))
            top = max(
                [1.0, float(np.max(observed)) if len(observed) else 0.0]
                + [float(np.max(expected)) if len(expected) else 0.0]
                + ([float(np.nanmax(boundary))] if boundary is not None and len(boundary) else [])
            )
            ax.set_ylim(0, top * 1.15 + 0.5)
        # On a phone the title is two lines, the lot over the event: on one it ran past the
        # figure's right edge and was cut mid-word ("严重过敏" of 严重过敏反应).
        title = text.title.replace(" · ", "\n", 1) if narrow else text.title
        ax.set_title(title, fontsize=font + 3, loc="left")
        ax.set_xlabel(text.x_label, fontsize=font + 1)
        ax.set_ylabel(text.y_label, fontsize=font + 1)
        ax.tick_params(labelsize=font)
        ax.grid(True, color="#e3e6ea", linewidth=0.6)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if narrow:
            ax.legend(
                fontsize=font,
                loc="upper left",
                bbox_to_anchor=(0, -0.18),
                frameon=False,
                ncol=1,
            )
        else:
            ax.legend(fontsize=font, loc="upper left", frameon=False)
        if text.note and not narrow:
            fig.text(0.01, 0.01, text.note, fontsize=7, color="#555555")
        fig.tight_layout(rect=(0, 0.04 if text.note and not narrow else 0, 1, 1))
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        svg = buf.getvalue()
    # Drop the XML prolog and DOCTYPE: the SVG is embedded in an HTML page.
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg
