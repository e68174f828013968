"""The character-fraction heatmap of fig2 (b) (PET layers) and fig4 (a) (PoLAr-MAE
blocks): one heatmap per run, rows = layers in the order they come, columns = the
irreps (lambda, sigma) with sigma = +1 and sigma = -1 side by side, log colour scale so
that small leaks show."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from . import style
from .tables import run_order

#: the colour scale of the heatmaps: fractions below FLOOR share its colour
FLOOR = 1e-4


def height(n_layers: int) -> float:
    """The height (inches) of a subfigure of heatmaps with ``n_layers`` rows."""
    return 0.13 * n_layers + 0.9


def character_heatmaps(fig, cells: pd.DataFrame, floor: float = FLOOR) -> None:
    """Draw ``cells`` (run, layer, o3_lambda, o3_sigma, fraction) into the (sub)figure
    ``fig``, one heatmap per run sharing the rows, with one colour bar; the x label of
    every heatmap is ``λ``. Run titles are smaller when more than two runs share the
    width."""
    runs = run_order(cells)
    layers = list(dict.fromkeys(cells["layer"]))
    lambdas = sorted(int(lam) for lam in cells["o3_lambda"].unique())
    columns = [(lam, sigma) for sigma in (1, -1) for lam in lambdas]
    axes = np.atleast_1d(fig.subplots(1, len(runs), sharey=True))
    norm = LogNorm(vmin=floor, vmax=1.0, clip=True)
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
        ax.set_title(run, pad=9, fontsize=style.FONT_SIZE + (1 if len(runs) <= 2 else -1))
    fig.colorbar(mesh, ax=list(axes), label="character fraction", shrink=0.8, aspect=30)
