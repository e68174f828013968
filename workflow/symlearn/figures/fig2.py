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
from matplotlib.colors import LogNorm

from . import style
from .tables import ERRORS, SPECTRUM, final_checkpoint, long_errors, run_order

INPUTS = {"errors": ERRORS, "spectrum": SPECTRUM}
#: the colour scale of the heatmaps: fractions below FLOOR share its colour
FLOOR = 1e-4


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


def _heatmaps(fig, cells: pd.DataFrame) -> None:
    runs = run_order(cells)
    layers = list(dict.fromkeys(cells["layer"]))
    lambdas = sorted(cells["o3_lambda"].unique())
    columns = [(lam, sigma) for sigma in (1, -1) for lam in lambdas]
    axes = np.atleast_1d(fig.subplots(1, len(runs), sharey=True))
    norm = LogNorm(vmin=FLOOR, vmax=1.0, clip=True)
    for ax, run in zip(axes, runs, strict=True):
        grid = (cells[cells["run"] == run]
                .pivot(index="layer", columns=["o3_lambda", "o3_sigma"], values="fraction")
                .reindex(index=layers, columns=pd.MultiIndex.from_tuples(columns)))
        mesh = ax.pcolormesh(grid.to_numpy(), norm=norm, cmap="mako_r",
                             edgecolors="none", rasterized=True)
        ax.axvline(len(lambdas), color="white", linewidth=1.5)
        ax.set_xticks(np.arange(len(columns)) + 0.5, [str(lam) for lam, _ in columns])
        ax.set_yticks(np.arange(len(layers)) + 0.5, [style.layer_label(x) for x in layers])
        ax.set_ylim(len(layers), 0)  # first layer on top (the axes are shared: set, not flip)
        ax.tick_params(length=0)
        ax.set_xlabel("λ")
        for k, sigma in enumerate(("σ=+1", "σ=−1")):
            ax.text((k + 0.5) * len(lambdas), 1.0, sigma, ha="center", va="bottom",
                    fontsize=style.FONT_SIZE - 1, transform=ax.get_xaxis_transform())
        ax.set_title(run, pad=9)
    style.panel_label(fig, "b")
    fig.colorbar(mesh, ax=list(axes), label="character fraction", shrink=0.8, aspect=30)


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    bars, cells = table[table["panel"] == "a"], table[table["panel"] == "b"]
    n_layers = cells["layer"].nunique()
    n_bar_rows = math.ceil(bars["part"].nunique() / 2)
    heights = [1.15 * n_bar_rows + 0.35, 0.13 * n_layers + 0.9]
    fig = style.figure(sum(heights))
    top, bottom = fig.subfigures(2, 1, height_ratios=heights)
    _bars(top, bars)
    _heatmaps(bottom, cells)
    return fig
