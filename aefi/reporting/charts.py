"""Charts drawn on the server as SVG with matplotlib (Agg), so the page and the PDF show
the same picture. Text stays text in the SVG (``svg.fonttype: none``): the browser and
WeasyPrint set it in the CJK font, and the file stays small."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")

from matplotlib import rc_context  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from aefi.reporting.indicators import RateLine  # noqa: E402

FONT = ["Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Micro Hei", "DejaVu Sans"]
STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": FONT,
    "font.size": 9,
    "svg.fonttype": "none",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.unicode_minus": False,
}
ACCENT = "#0b5cad"
DANGER = "#b3261e"
WARN = "#8a5a00"
MUTED = "#5b6470"
# rc_context changes matplotlib's global settings: one chart at a time per process.
_LOCK = threading.Lock()


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    # Inline in HTML: drop the XML prolog and doctype, keep the <svg> element.
    return text[text.index("<svg") :]


def rate_chart(
    lines: Sequence[RateLine],
    labels: Sequence[str],
    *,
    title: str,
    x_label: str,
    expected_label: str,
) -> str:
    """Reports per 100,000 doses as horizontal bars with their 95 % interval, and the
    expected rate of each line as a mark. The same figures give the same picture, so it
    is drawn once and kept."""
    return _rate_chart(tuple(lines), tuple(labels), title, x_label, expected_label)


@lru_cache(maxsize=64)
def _rate_chart(
    lines: tuple[RateLine, ...],
    labels: tuple[str, ...],
    title: str,
    x_label: str,
    expected_label: str,
) -> str:
    n = max(len(lines), 1)
    with _LOCK, rc_context(STYLE):
        fig = Figure(figsize=(7.2, 0.9 + 0.32 * n))
        ax = fig.add_subplot()
        ys = list(range(len(lines)))[::-1]
        rates = [line.rate or 0.0 for line in lines]
        colors = [
            DANGER if line.flag == "above" else WARN if line.flag == "below" else ACCENT
            for line in lines
        ]
        ax.barh(ys, rates, color=colors, height=0.6, alpha=0.85)
        for y, line in zip(ys, lines, strict=True):
            if line.expected_rate and line.oe_lower is not None and line.oe_upper is not None:
                lo, hi = line.oe_lower * line.expected_rate, line.oe_upper * line.expected_rate
                ax.plot([lo, hi], [y, y], color="#222", linewidth=1)
        expected = [(y, line.expected_rate) for y, line in zip(ys, lines, strict=True)]
        ex = [(y, e) for y, e in expected if e is not None]
        if ex:
            ax.scatter(
                [e for _y, e in ex],
                [y for y, _e in ex],
                marker="|",
                s=260,
                color="#111",
                linewidths=2,
                label=expected_label,
                zorder=3,
            )
            ax.legend(loc="lower right", frameon=False)
        ax.set_yticks(ys, list(labels))
        ax.set_xlabel(x_label)
        ax.set_title(title, loc="left", fontsize=10)
        # A line with few doses has a very wide interval: keep the scale for the rates and
        # the expected marks, and let such intervals run off the edge.
        top = max([*rates, *(e for _y, e in ex)], default=0.0)
        ax.set_xlim(0, top * 2.2 if top > 0 else 1.0)
        ax.grid(axis="x", color="#e3e6ea")
        ax.set_axisbelow(True)
        return _svg(fig)


def share_chart(items: Sequence[tuple[str, float | None]], *, title: str) -> str:
    """Shares in percent as horizontal bars from 0 to 100; no value is drawn as empty."""
    return _share_chart(tuple(items), title)


@lru_cache(maxsize=64)
def _share_chart(items: tuple[tuple[str, float | None], ...], title: str) -> str:
    n = max(len(items), 1)
    with _LOCK, rc_context(STYLE):
        fig = Figure(figsize=(7.2, 0.8 + 0.36 * n))
        ax = fig.add_subplot()
        ys = list(range(len(items)))[::-1]
        values = [v if v is not None else 0.0 for _l, v in items]
        colors = [
            MUTED if v is None else (ACCENT if v >= 90 else WARN if v >= 70 else DANGER)
            for _l, v in items
        ]
        ax.barh(ys, values, color=colors, height=0.6)
        for y, (_label, v) in zip(ys, items, strict=True):
            ax.text(
                min((v or 0) + 1.5, 92),
                y,
                "–" if v is None else f"{v:.1f}%",
                va="center",
                fontsize=8,
            )
        ax.set_yticks(ys, [label for label, _v in items])
        ax.set_xlim(0, 100)
        ax.set_title(title, loc="left", fontsize=10)
        ax.grid(axis="x", color="#e3e6ea")
        ax.set_axisbelow(True)
        return _svg(fig)


# Colour-blind safe (Okabe–Ito), one per event group of the epidemic curve; grey for "other".
SERIES = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#999999")


def epi_curve_chart(
    weeks: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    title: str,
    x_label: str,
    y_label: str,
) -> str:
    """Reports per week as stacked bars, one colour per event group (``series``: the
    group's name and its count per week, as ``weeks``: the weeks' labels)."""
    return _epi_curve_chart(
        tuple(weeks), tuple((n, tuple(c)) for n, c in series), title, x_label, y_label
    )


@lru_cache(maxsize=32)
def _epi_curve_chart(
    weeks: tuple[str, ...],
    series: tuple[tuple[str, tuple[int, ...]], ...],
    title: str,
    x_label: str,
    y_label: str,
) -> str:
    with _LOCK, rc_context(STYLE):
        fig = Figure(figsize=(7.2, 2.8))
        ax = fig.add_subplot()
        xs = list(range(len(weeks)))
        bottom = [0] * len(weeks)
        for i, (name, counts) in enumerate(series):
            ax.bar(xs, counts, bottom=bottom, color=SERIES[i % len(SERIES)], width=0.8, label=name)
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        # A label every fourth week keeps them apart; the last week (this one) always.
        ticks = [x for x in xs if (len(xs) - 1 - x) % 4 == 0]
        ax.set_xticks(ticks, [weeks[x] for x in ticks])
        top = max(bottom, default=0)
        ax.set_ylim(0, max(top, 1) * 1.15)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        ax.set_title(title, loc="left", fontsize=10)
        ax.grid(axis="y", color="#e3e6ea")
        ax.set_axisbelow(True)
        if series:
            ax.legend(loc="upper left", frameon=False, fontsize=8, ncols=min(len(series), 4))
        return _svg(fig)
