"""One way to save a figure: PNG rendered in memory, then written atomically.

Every plot in langadapt (report, layer analysis, tokenizer stats and sweeps) goes
through `save_figure`, so a killed run never leaves half a PNG and all figures share
one resolution. `pyplot()` selects the Agg backend (files only, no display) first.
"""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

from langadapt.runs import atomic_write_bytes

DPI = 110


def pyplot():
    """`matplotlib.pyplot` on the Agg backend (chosen before pyplot is first imported)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | Path, *, dpi: int = DPI) -> Path:
    """Write `fig` as a PNG at `path` (temp file + rename) and close it."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing glyphs (CJK tokens) are not worth a warning each
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:  # a pyplot figure stays in pyplot's list until closed
        plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
