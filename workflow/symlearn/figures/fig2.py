"""fig2: what a trained PET has learned of the symmetry, at its last checkpoint.

(a) accuracy RMSE next to equivariance RMSE for each output part (energy, forces,
stress trace and lambda = 2 part), one pair of bars per run with the ratio printed above;
(b) the character fractions of every analysed layer, sigma = +1 and sigma = -1 side by
side, one heatmap per run (log colour scale, so that small leaks show).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import heatmap, style
from .tables import ERRORS, SPECTRUM, final_checkpoint, long_errors, run_order

INPUTS = {"errors": ERRORS, "spectrum": SPECTRUM}


def data(errors: pd.DataFrame, spectrum: pd.DataFrame) -> pd.DataFrame:
    """Exactly what is plotted: panel a's bars and panel b's heatmap cells."""
    bars = long_errors(final_checkpoint(errors)).assign(panel="a")
    cells = final_checkpoint(spectrum).assign(panel="b")
    cells["layer_label"] = cells["layer"].map(style.layer_label)
    return pd.concat([bars, cells], ignore_index=True)[
        ["panel", "run", "augmentation", "epoch", "target", "part", "quantity", "value",
         "unit", "ratio", "layer", "layer_label", "o3_lambda", "o3_sigma", "fraction"]]


def _bars(fig, bars: pd.DataFrame) -> None:
    parts = list(dict.fromkeys(bars["part"]))
    runs = run_order(bars)
    ncols = min(len(parts), 2)
    axes = np.atleast_1d(fig.subplots(math.ceil(len(parts) / ncols), ncols)).ravel()
    accuracy_color, equivariance_color = style.colors(2)
    width = 0.38
    for ax, part in zip(axes, parts, strict=False):
        rows = bars[bars["part"] == part]
        for i, run in enumerate(runs):
            pair = rows[rows["run"] == run].set_index("quantity")
            if pair.empty:
                continue
            acc, eqv = pair.loc["accuracy", "value"], pair.loc["equivariance", "value"]
            ax.bar(i - width / 2, acc, width, color=accuracy_color,
                   label="test RMSE" if i == 0 else None)
            ax.bar(i + width / 2, eqv, width, color=equivariance_color,
                   label="equivariance RMSE" if i == 0 else None)
            ax.text(i, max(acc, eqv) * 1.03, f"{100 * pair['ratio'].iloc[0]:.0f} %",
                    ha="center", va="bottom", fontsize=style.FONT_SIZE - 1)
        ax.set_xticks(range(len(runs)), runs)
        ax.set_title(part)
        ax.set_ylabel(f"RMSE ({rows['unit'].iloc[0]})")
        ax.set_ylim(0, rows["value"].max() * 1.25)
        ax.margins(x=0.1)
    for ax in axes[len(parts):]:
        ax.axis("off")
    style.panel_label(fig, "a")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    bars, cells = table[table["panel"] == "a"], table[table["panel"] == "b"]
    n_layers = cells["layer"].nunique()
    n_bar_rows = math.ceil(bars["part"].nunique() / 2)
    heights = [1.15 * n_bar_rows + 0.35, heatmap.height(n_layers)]
    fig = style.figure(sum(heights))
    top, bottom = fig.subfigures(2, 1, height_ratios=heights)
    _bars(top, bars)
    heatmap.character_heatmaps(bottom, cells)
    style.panel_label(bottom, "b")
    return fig
