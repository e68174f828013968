"""fig2: what a trained PET has learned of the symmetry, at its last checkpoint.

(a) the test RMSE (as given: the model on the test inputs as they are) next to the
equivariance RMSE (A) for each output part (energy, forces, stress tr(σ)/√3 and
lambda = 2 part), one pair of bars per run with the ratio printed above; A's quadrature
error as an error bar, hatched where it exceeds the tolerance; (b) the character
fractions of every analysed layer, sigma = +1 and sigma = -1 side by side, then the
content above lambda_max, one heatmap per run (:mod:`heatmap`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from ..bootstrap import RESAMPLES, SEED
from . import heatmap, style
from .tables import (
    ERRORS,
    QUANTITIES,
    SPECTRUM,
    bar_intervals,
    final_checkpoint,
    long_errors,
    run_order,
)

INPUTS = {"errors": ERRORS, "spectrum": SPECTRUM}
#: the per-structure rows (structures.parquet), from which the bars' intervals are drawn
PER_INPUT = OPTIONAL = ("structures",)
#: the hatch of a bar whose quadrature error exceeds the tolerance
HATCH = "////"
LABELS = {"as_given": style.AS_GIVEN, "equivariance": style.EQUIVARIANCE}


def data(errors: pd.DataFrame, spectrum: pd.DataFrame,
         structures: pd.DataFrame | None = None, resamples: int = RESAMPLES,
         seed: int = SEED) -> pd.DataFrame:
    """Exactly what is plotted: panel a's bars, with their 95 % bootstrap intervals over
    the analysed structures where the per-structure rows are given, and panel b's
    heatmap cells."""
    bars = bar_intervals(long_errors(final_checkpoint(errors)), structures, resamples,
                         seed).assign(panel="a")
    cells = heatmap.cells(final_checkpoint(spectrum), ["run", "augmentation", "epoch"])
    cells = cells.assign(panel="b", layer_label=cells["layer"].map(style.layer_label))
    # (no cells: a model with no feature analysed; an empty frame would make every
    # column of the concatenation an object column)
    return pd.concat([bars, cells] if len(cells) else [bars],
                     ignore_index=True).reindex(columns=
        ["panel", "run", "augmentation", "epoch", "target", "part", "quantity", "value",
         "unit", "ratio", "layer", "layer_label", "content", "column_label", "o3_lambda",
         "o3_sigma", "fraction", "quadrature_error", "ci_low", "ci_high",
         "quadrature_flagged", "grid_degree", "check_degree", "n_seeds"])


def draw_bars(fig, bars: pd.DataFrame) -> None:
    """Panel (a) into ``fig`` (a figure or subfigure); external draws it alone."""
    parts = list(dict.fromkeys(bars["part"]))
    runs = run_order(bars)
    ncols = min(len(parts), 2)
    axes = np.atleast_1d(fig.subplots(math.ceil(len(parts) / ncols), ncols)).ravel()
    colors = dict(zip(QUANTITIES, style.colors(2), strict=True))
    width = 0.38
    for ax, part in zip(axes, parts, strict=False):
        rows = bars[bars["part"] == part]
        for i, run in enumerate(runs):
            pair = rows[rows["run"] == run].set_index("quantity").reindex(list(QUANTITIES))
            if pair["value"].isna().all():
                continue
            x = i + width * (np.arange(len(QUANTITIES)) - 0.5)
            flagged = style.flags(pair["quadrature_flagged"])
            for xk, (quantity, row), flag in zip(x, pair.iterrows(), flagged, strict=True):
                ax.bar(xk, row["value"], width, color=colors[quantity],
                       hatch=HATCH if flag else None, edgecolor="0.15" if flag else None,
                       linewidth=0)
            style.interval_bars(ax, x, pair["value"], pair["ci_low"], pair["ci_high"],
                                linewidth=0.8, capsize=2.0, alpha=1.0, zorder=3)
            style.error_bars(ax, x, pair["value"], pair["quadrature_error"])
            top = np.nanmax(np.fmax(pair["value"] + pair["quadrature_error"].fillna(0),
                                    pair["ci_high"]))
            ratio = pair["ratio"].iloc[0]
            # over the bars drawn (A alone when the structures carry no labels)
            centre = float(np.mean(x[pair["value"].notna().to_numpy()]))
            ax.text(centre, top * 1.03, "no labels" if pd.isna(ratio)
                    else f"{100 * ratio:.0f} %", ha="center", va="bottom",
                    fontsize=style.FONT_SIZE - 1)
        ax.set_xticks(range(len(runs)), runs)
        ax.set_title(part)
        ax.set_ylabel(f"RMSE ({rows['unit'].iloc[0]})")
        ax.set_ylim(0, np.fmax(rows["value"] + rows["quadrature_error"].fillna(0),
                               rows["ci_high"]).max() * 1.25)
        ax.margins(x=0.1)
    for ax in axes[len(parts):]:
        ax.axis("off")
    style.panel_label(fig, "a")
    drawn = set(bars.loc[bars["value"].notna(), "quantity"])
    handles = [Patch(color=colors[q], label=LABELS[q]) for q in QUANTITIES if q in drawn]
    if style.flags(bars["quadrature_flagged"]).any():
        handles.append(Patch(facecolor=colors["equivariance"], hatch=HATCH,
                             edgecolor="0.15", linewidth=0, label=style.FLAGGED_LABEL))
    seeds = int(bars["n_seeds"].max()) if bars["n_seeds"].notna().any() else 1
    intervals = ("" if not bars["ci_low"].notna().any() else
                 "; capped: 95 % CI over structures" if seeds == 1 else
                 f";\ncapped: 95 % CI over structures and seeds (means of {seeds} seeds)")
    fig.legend(handles=handles, loc="outside lower center", ncols=2,
               title="numbers: equivariance / test RMSE (as given);\nerror bars: "
                     f"quadrature error{intervals}", title_fontsize=style.FONT_SIZE - 1)


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    bars, cells = table[table["panel"] == "a"], table[table["panel"] == "b"]
    n_layers = cells["layer"].nunique()
    n_bar_rows = math.ceil(bars["part"].nunique() / 2)
    heights = [1.15 * n_bar_rows + 0.6, heatmap.height(n_layers)]
    fig = style.figure(sum(heights))
    top, bottom = fig.subfigures(2, 1, height_ratios=heights)
    draw_bars(top, bars)
    heatmap.character_heatmaps(bottom, cells)
    style.panel_label(bottom, "b")
    return fig
