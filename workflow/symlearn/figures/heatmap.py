"""The character-fraction heatmap of fig2 (b) (PET layers) and fig4 (a) (PoLAr-MAE
blocks): one heatmap per run, rows = layers in the order they come, columns = the
irreps (lambda, sigma) with sigma = +1 and sigma = -1 side by side, then the content
above lambda_max (the residual, so that what the irreps miss is seen), on one log
colour scale so that small leaks show. Cells whose quadrature error exceeds the
tolerance carry an x."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from . import style
from .tables import run_order

#: the colour scale of the heatmaps: fractions below FLOOR share its colour
FLOOR = 1e-4
#: the ``content`` of a cell: an irrep's fraction, or the layer's residual
IRREP, RESIDUAL = "irrep", "residual"
RESIDUAL_LABEL = "λ>λmax"
#: the columns of a cell in the figure tables
COLUMNS = ["content", "column_label", "o3_lambda", "o3_sigma", "fraction",
           "quadrature_error", "quadrature_flagged", "grid_degree", "check_degree"]


def cells(spectrum: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per drawn cell: each irrep's fraction, then per layer (``keys`` + layer)
    one row for the residual with its own quadrature error; the residual is flagged
    when any row of its layer is (the tables flag rows, not values)."""
    irreps = spectrum.assign(
        content=IRREP, quadrature_flagged=style.flags(spectrum["quadrature_flagged"]),
        column_label=[style.irrep_label(lam, s) for lam, s in
                      zip(spectrum["o3_lambda"], spectrum["o3_sigma"], strict=True)])
    by_layer = irreps.groupby([*keys, "layer"], sort=False)
    residual = by_layer.agg(fraction=("residual", "first"),
                            quadrature_error=("residual_quadrature_error", "first"),
                            quadrature_flagged=("quadrature_flagged", "any"),
                            grid_degree=("grid_degree", "first"),
                            check_degree=("check_degree", "first")).reset_index()
    residual = residual.assign(content=RESIDUAL, column_label=RESIDUAL_LABEL,
                               o3_lambda=np.nan, o3_sigma=np.nan)
    # each layer's irreps then its residual, layers in the order given
    table = pd.concat([irreps, residual], ignore_index=True)
    order = table.groupby([*keys, "layer"], sort=False).ngroup()
    table = table.assign(_order=order).sort_values("_order", kind="stable")
    return table.drop(columns="_order")[[*keys, "layer", *COLUMNS]].reset_index(drop=True)


def lambdas(cells: pd.DataFrame) -> list[int]:
    return sorted(int(lam) for lam in cells.loc[cells["content"] == IRREP, "o3_lambda"].unique())


def columns(cells: pd.DataFrame) -> list[str]:
    """The drawn columns (``column_label``), left to right: (lambda, +1) by lambda,
    (lambda, -1), then the residual."""
    return ([style.irrep_label(lam, sigma) for sigma in (1, -1) for lam in lambdas(cells)]
            + [RESIDUAL_LABEL])


def grid(cells: pd.DataFrame, layers: list[str], value: str = "fraction") -> pd.DataFrame:
    """One run's ``value`` as drawn: layers x :func:`columns`."""
    return cells.pivot(index="layer", columns="column_label", values=value).reindex(
        index=layers, columns=columns(cells))


def height(n_layers: int) -> float:
    """The height (inches) of a subfigure of heatmaps with ``n_layers`` rows."""
    return 0.13 * n_layers + 1.15


def character_heatmaps(fig, cells: pd.DataFrame, floor: float = FLOOR) -> None:
    """Draw ``cells`` (:func:`cells`' table) into the (sub)figure ``fig``, one heatmap
    per run sharing the rows, with one colour bar; flagged cells carry an x (white on
    dark cells, black on light ones). Run titles are smaller when more than two runs
    share the width."""
    runs = run_order(cells)
    layers = list(dict.fromkeys(cells["layer"]))
    n_lambdas = len(lambdas(cells))
    n_irreps = 2 * n_lambdas
    axes = np.atleast_1d(fig.subplots(1, len(runs), sharey=True))
    norm = LogNorm(vmin=floor, vmax=1.0, clip=True)
    any_flagged = False
    for ax, run in zip(axes, runs, strict=True):
        rows = cells[cells["run"] == run]
        values = grid(rows, layers).to_numpy(float)
        mesh = ax.pcolormesh(values, norm=norm, cmap="mako_r", edgecolors="none",
                             rasterized=True)
        flagged = grid(rows, layers, "quadrature_flagged").fillna(False).to_numpy(bool)
        i, j = np.nonzero(flagged)
        dark = norm(np.clip(values[i, j], floor, 1.0)) > 0.55
        for on_dark, color in ((True, "white"), (False, "black")):
            chosen = dark == on_dark
            if chosen.any():
                ax.plot(j[chosen] + 0.5, i[chosen] + 0.5, linestyle="", marker="x",
                        markersize=2.6, markeredgewidth=0.6, color=color, gid=style.FLAGGED)
        any_flagged |= bool(flagged.any())
        for x in (n_lambdas, n_irreps):
            ax.axvline(x, color="white", linewidth=1.5)
        ax.set_xticks(np.arange(n_irreps + 1) + 0.5,
                      [str(lam) for lam in lambdas(cells)] * 2 + [RESIDUAL_LABEL])
        ax.get_xticklabels()[-1].set(rotation=90, fontsize=style.FONT_SIZE - 1.5)
        ax.set_yticks(np.arange(len(layers)) + 0.5, [style.layer_label(x) for x in layers])
        ax.set_ylim(len(layers), 0)  # first layer on top (the axes are shared: set, not flip)
        ax.tick_params(length=0)
        ax.set_xlabel("λ")
        for k, sigma in enumerate(("σ=+1", "σ=−1")):
            ax.text((k + 0.5) * n_lambdas, 1.0, sigma, ha="center", va="bottom",
                    fontsize=style.FONT_SIZE - 1, transform=ax.get_xaxis_transform())
        ax.set_title(run, pad=9, fontsize=style.FONT_SIZE + (1 if len(runs) <= 2 else -1))
    label = "character fraction" + ("\n(×: " + style.FLAGGED_LABEL + ")" if any_flagged
                                    else "")
    fig.colorbar(mesh, ax=list(axes), label=label, shrink=0.8, aspect=30)
