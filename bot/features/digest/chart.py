"""The digest's trend chart: feedback received vs ignored per week, as a PNG.

matplotlib with the Agg backend (no display, no GUI toolkit), imported only when a chart
is drawn, so `heard --help` and the rest of Heard stay light. Pure: weeks in, bytes out.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot.features.digest.service import TrendWeek

WIDTH, HEIGHT, DPI = 8.0, 3.2, 100  # 800 x 320 pixels: readable in Slack's preview and a page


def trend_png(weeks: Sequence[TrendWeek]) -> bytes:
    """A bar chart of received and ignored feedback for each week, oldest on the left."""
    # matplotlib keeps a font cache and config in the home directory by default; Heard
    # writes nothing there (a demo or a container may have no writable home).
    os.environ.setdefault("MPLCONFIGDIR", str(Path(tempfile.gettempdir()) / "heard-matplotlib"))
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure  # a Figure without pyplot: no global state, thread-safe

    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    axes = figure.add_subplot()
    positions = list(range(len(weeks)))
    received = [w.received for w in weeks]
    ignored = [w.ignored for w in weeks]
    axes.bar([p - 0.2 for p in positions], received, width=0.4, label="received", color="#1264a3")
    axes.bar([p + 0.2 for p in positions], ignored, width=0.4, label="ignored", color="#e01e5a")
    axes.set_xticks(positions, [f"{w.start.day} {w.start:%b}" for w in weeks], fontsize=8)
    axes.set_ylabel("items")
    axes.set_title("Customer feedback per week: received vs ignored", fontsize=11)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(frameon=False, fontsize=9)
    if not any(received) and not any(ignored):
        axes.set_ylim(0, 1)
        axes.text(0.5, 0.5, "no feedback in these weeks", transform=axes.transAxes, ha="center", color="#616061")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
