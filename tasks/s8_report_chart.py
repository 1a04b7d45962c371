"""The digest page's issue-trend chart: articles per issue per day, drawn by matplotlib as inline SVG."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

# Colour-blind-safe (Okabe-Ito, then Tableau) colours, one per series; the page's legend uses the same. Each
# has 3:1 against the white page (WCAG 1.4.11): the light ones (Okabe-Ito's orange, sky blue and yellow,
# Tableau's light tints) are darkened, or replaced by Paul Tol's dark ones.
PALETTE = ("#0072B2", "#B87F00", "#009E73", "#C86EA0", "#1C93D7", "#D55E00", "#978E0C", "#000000",
           "#8c564b", "#7f7f7f", "#6B8E23", "#0E8A96", "#1f77b4", "#A6611A", "#2ca02c", "#d62728",
           "#9467bd", "#AA4499", "#332288", "#882255")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# After the first line, each is dashed, so a line drawn over another with the same counts leaves it showing.
DASHES = ("-", (0, (6, 3)), (0, (2, 2)), (0, (7, 2, 2, 2)), (0, (3, 3)), (0, (1, 2)), (0, (9, 3)), (0, (4, 2, 1, 2)))
SERIES_ID = "series-{index}"  # each line's <g id=...> in the SVG, in legend order
_SVG_START = re.compile(r"<svg\b[^>]*>")
_SIZE_ATTRIBUTE = re.compile(r'\s(?:width|height)="[^"]*"')


@dataclass(frozen=True)
class IssueTrend:
    """Articles per issue per day of publication over a window of days, the issues with the most articles
    first; articles with no publication date read in the window are counted per issue, on no day."""

    days: tuple[date, ...]
    series: dict[str, tuple[int, ...]]  # issue -> one count per day of `days` (dated articles only)
    issues_in_window: int               # issues tagged in the window (series holds the top ones)
    undated: dict[str, int] = field(default_factory=dict)  # issue of series -> its articles with no date

    @property
    def empty(self) -> bool:
        """True when no article in the window has a tag."""
        return not self.series

    def total(self, issue: str) -> int:
        """The issue's articles in the window, dated or not."""
        return sum(self.series[issue]) + self.undated.get(issue, 0)


def trend_from_counts(rows: Iterable[tuple[str, date | None, int]], last_day: date, days: int,
                      max_issues: int) -> IssueTrend:
    """Build the trend from (issue, day, articles) rows (day None: articles with no publication date):
    every day of the window, zero where no row says otherwise, and the max_issues issues with the most
    articles, dated or not (ties by name)."""
    window = tuple(last_day - timedelta(days=days - 1 - i) for i in range(days))
    index = {day: i for i, day in enumerate(window)}
    counts: dict[str, list[int]] = {}
    undated: dict[str, int] = {}
    for issue, day, articles in rows:
        if day is None:
            counts.setdefault(issue, [0] * days)
            undated[issue] = undated.get(issue, 0) + int(articles)
        elif day in index:
            counts.setdefault(issue, [0] * days)[index[day]] += int(articles)
    ranked = sorted(counts, key=lambda issue: (-sum(counts[issue]) - undated.get(issue, 0), issue))
    shown = ranked[:max_issues]
    return IssueTrend(days=window, series={issue: tuple(counts[issue]) for issue in shown},
                      issues_in_window=len(counts),
                      undated={issue: undated[issue] for issue in shown if undated.get(issue)})


def series_colour(index: int) -> str:
    """The colour of the index-th series, as drawn and as shown in the page's legend."""
    return PALETTE[index % len(PALETTE)]


def trend_svg(trend: IssueTrend) -> str:
    """The trend as an <svg> element to inline in HTML: one line per issue (with markers on the days
    that have articles, so a single day shows; dashed after the first, so equal counts do not hide a line), its group's id SERIES_ID; no legend (the page writes one that wraps on a
    phone); no fixed size, only a viewBox, so it scales to its container."""
    import matplotlib  # imported here: only the report needs it, and it takes a second to import

    matplotlib.use("Agg")
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(7.5, 2.8), layout="constrained")
    ax = fig.add_subplot()
    for i, (issue, counts) in enumerate(trend.series.items()):
        marked = [k for k, n in enumerate(counts) if n] or [len(counts) - 1]  # days with articles
        (line,) = ax.plot(trend.days, counts, color=series_colour(i), marker=MARKERS[i % len(MARKERS)],
                          markevery=marked, markersize=5, linewidth=1.6,
                          linestyle=DASHES[0] if i == 0 else DASHES[1 + (i - 1) % (len(DASHES) - 1)],
                          label=issue, clip_on=False)
        line.set_gid(SERIES_ID.format(index=i))
    locator = AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    ax.set_ylim(bottom=0, top=max(1.0, ax.get_ylim()[1]))  # undated articles only: lines at 0, an axis up to 1
    ax.set_xlim(trend.days[0] - timedelta(hours=12), trend.days[-1] + timedelta(hours=12))
    ax.set_ylabel("articles per day")
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    buffer = io.StringIO()
    # text stays text (the browser's font, selectable, small); fixed ids so the same data gives the same page
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "newsdesk"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return _inline(buffer.getvalue())


def _inline(document: str) -> str:
    """The <svg> element alone (no XML declaration, doctype or metadata), sized by the page's CSS."""
    start = _SVG_START.search(document)
    if start is None:
        raise ValueError("matplotlib wrote no <svg> element")
    root = _SIZE_ATTRIBUTE.sub("", start.group(0)).replace("<svg", '<svg class="trend" role="img"', 1)
    body = document[start.end():]
    body = re.sub(r"\s*<metadata>.*?</metadata>", "", body, count=1, flags=re.DOTALL)
    return root + body.rstrip()
