"""Plot helpers shared by the monitoring report and the shadow comparison.

matplotlib runs on its Agg backend (files only, no display), so plots build in CI; each
figure is written atomically, so a reader of the report never sees half a PNG.
"""

from __future__ import annotations

from pathlib import Path

from text_recognizer.util import atomic_write

REFERENCE_COLOR, PRODUCTION_COLOR, ALERT_COLOR = "#4C72B0", "#DD8452", "#C44E52"


def pyplot():
    """matplotlib.pyplot on the Agg backend (imported on first use: monitoring stays light)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG (atomically), close it, and return ``path``."""
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, dpi=90, bbox_inches="tight", format="png")
    pyplot().close(fig)
    return path
