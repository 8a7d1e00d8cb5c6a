"""Charts as inline SVG, drawn with matplotlib, readable on paper and in a dark viewer.

The background is transparent and every line of text, axis and grid is drawn in one
placeholder colour that becomes ``currentColor`` in the SVG: the chart takes the page's
text colour, dark on white paper and light in a dark viewer, while the data colours are
mid-tones that read on both. Text stays text (``svg.fonttype: none``) in the system's
sans-serif. Each chart's ids get its section's prefix, so several SVGs share one page.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable
from typing import Any

from mlcost.core import require

# The placeholder colour of text, axes and grid, replaced by currentColor in the SVG.
INK = "#010203"
# Mid-tone data colours (after Tableau 10), legible on white and on near-black.
PALETTE = ("#4e86c8", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#c9a227", "#9c755f")
COST, SAVING, MUTED, WARNING, ERROR = PALETTE[0], PALETTE[2], "#8c8c8c", PALETTE[1], PALETTE[3]
_FONTS = "'DejaVu Sans', Verdana, Arial, system-ui, sans-serif"
_STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10,
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": INK,
    "axes.titlecolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "grid.color": INK,
    "grid.alpha": 0.18,
    "hatch.color": INK,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_ID = re.compile(r'\bid="([^"]+)"')
# matplotlib's rc settings are process-wide: the dashboard draws for two requests at once.
_RC_LOCK = threading.Lock()


def draw(key: str, size_in: tuple[float, float], paint: Callable[[Any], None]) -> str:
    """``paint`` a matplotlib Figure of ``size_in`` inches and return it as inline SVG.

    Raises MissingDependencyError without matplotlib (the finops extra).
    """
    matplotlib = require("matplotlib", extra="finops", purpose="the report's charts")
    from matplotlib.figure import Figure

    style = {**_STYLE, "axes.prop_cycle": matplotlib.cycler(color=PALETTE), "svg.hashsalt": key}
    with _RC_LOCK, matplotlib.rc_context(style):
        figure = Figure(figsize=size_in, layout="constrained")
        paint(figure)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", transparent=True, metadata={"Date": None})
    return _inline(buffer.getvalue(), key)


def _inline(svg: str, key: str) -> str:
    """matplotlib's SVG document as an element for an HTML page (see the module docstring)."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.DOTALL)
    svg = svg.replace(INK, "currentColor").replace("'DejaVu Sans'", _FONTS)
    ids = set(_ID.findall(svg))
    svg = _ID.sub(lambda m: f'id="{key}-{m.group(1)}"', svg)
    svg = re.sub(
        r"(url\(#|href=\"#)([^)\"]+)",
        lambda m: f"{m.group(1)}{key}-{m.group(2)}" if m.group(2) in ids else m.group(0),
        svg,
    )
    return svg.replace("<svg ", f'<svg role="img" class="chart-svg" data-chart="{key}" ', 1)


def axis_scale(low: float, high: float) -> str:
    """A log axis where the values span more than 20x (a linear one would hide the small)."""
    return "log" if low > 0 and high / low > 20 else "linear"
