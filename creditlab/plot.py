"""The book's matplotlib style: one look for every chapter's figures."""

from __future__ import annotations

from typing import Any

import matplotlib as mpl

#: colours for methods compared in a chapter, in order (colour-blind safe, Okabe-Ito)
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]

STYLE: dict[str, Any] = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "lines.linewidth": 1.8,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "svg.hashsalt": "creditlab",
}


def use_style() -> None:
    """Apply the book's style to matplotlib's global settings."""
    mpl.rcParams.update(STYLE)
