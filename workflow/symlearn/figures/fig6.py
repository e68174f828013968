"""fig6: can PET learn a pseudoscalar, and is its pseudoscalar channel used?

A pseudoscalar target (invariant under rotations, odd under inversion) learned by PET
runs that differ in their edge embedding: PET's standard Cartesian one (a linear map of
x, y, z, r) or solid spherical harmonics of the edge vector up to L. (a) The relative
test RMSE (as given: the test RMSE of the model on the inputs as they are / RMS of the
reference values; 1 is no better than predicting zero, the dashed line) against epoch,
one line per run labelled by its embedding, each point with its 95 % bootstrap interval
over the analysed structures where the per-structure rows are given;
(b) at each run's last checkpoint, the character fraction of the (lambda = 0,
sigma = -1) irrep -- the pseudoscalar channel -- of every analysed layer, in forward
order from top to bottom (layers on the vertical axis so that their names stay
readable at single-column width), on a log axis where fractions below ``FLOOR`` are
drawn at ``FLOOR``, with its quadrature error as a horizontal bar and an open marker
where that error exceeds the tolerance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import LogLocator

from ..bootstrap import RESAMPLES, SEED, PerInput
from . import style
from .tables import (
    GEOMETRIC_ERRORS,
    GEOMETRIC_SPECTRUM,
    PSEUDOSCALAR,
    FigureError,
    final_checkpoint,
    sort_rows,
)

INPUTS = {"geometric_errors": GEOMETRIC_ERRORS, "geometric_spectrum": GEOMETRIC_SPECTRUM}
#: the per-structure rows of the geometric runs: panel a's intervals
PER_INPUT = OPTIONAL = ("geometric_structures",)
#: the pseudoscalar irrep (lambda, sigma)
CHANNEL = (0, -1)
#: panel b: fractions below this are drawn at it (the value column holds what is drawn)
FLOOR = 1e-6
#: the gid and legend label of the line at relative RMSE 1
ZERO_PREDICTOR = "predicting zero"
RUN_COLUMNS = ["run", "augmentation", "edge_embedding", "edge_lmax", "label"]


def run_labels(*tables: pd.DataFrame) -> dict[str, str]:
    """run -> legend label (its edge embedding), runs in embedding order (Cartesian,
    then solid harmonics of increasing L): :func:`style.embedding_labels`."""
    return style.embedding_labels(
        (row.run, row.edge_embedding, row.edge_lmax) for table in tables
        for row in table[["run", "edge_embedding", "edge_lmax"]].itertuples(index=False))


def relative_errors(errors: pd.DataFrame, figure: str) -> pd.Series:
    """rmse_as_given / reference_rms (the relative test RMSE as given), with a clear
    error where the reference vanishes."""
    bad = errors[~(errors["reference_rms"] > 0)]
    if len(bad):
        first = bad.iloc[0]
        raise FigureError(f"{figure}: the reference RMS of {first['target']} is "
                          f"{first['reference_rms']} in run {first['run']} at epoch "
                          f"{first['epoch']}: the relative error is undefined")
    return errors["rmse_as_given"] / errors["reference_rms"]


def relative_intervals(lines: pd.DataFrame, structures: pd.DataFrame | None,
                       resamples: int, seed: int) -> pd.DataFrame:
    """Panel a's lines with the 95 % bootstrap interval of each relative test RMSE over
    the analysed structures (NaN without per-structure rows)."""
    low, high = np.full(len(lines), np.nan), np.full(len(lines), np.nan)
    inputs = PerInput(structures, resamples, seed)
    for k, row in enumerate(lines.itertuples(index=False)):
        pooled = inputs.at(row.run, row.epoch)
        part = (row.target, row.o3_lambda, row.o3_sigma)
        if pooled is None or not pooled.has(*part):
            continue
        low[k], high[k] = pooled.relative(*part).interval()
    return lines.assign(ci_low=low, ci_high=high)


def data(geometric_errors: pd.DataFrame, geometric_spectrum: pd.DataFrame,
         geometric_structures: pd.DataFrame | None = None, resamples: int = RESAMPLES,
         seed: int = SEED) -> pd.DataFrame:
    """Exactly what is plotted: panel a's relative-RMSE lines (with their bootstrap
    intervals where the per-structure rows are given), panel b's fractions (``value``:
    the fraction, or ``FLOOR`` where it is smaller)."""
    errors = geometric_errors[geometric_errors["target"] == PSEUDOSCALAR]
    if errors.empty:
        raise FigureError(f"fig6: the geometric errors table holds no {PSEUDOSCALAR} target; "
                          f"targets: {', '.join(map(str, geometric_errors['target'].unique()))}")
    channel = geometric_spectrum[(geometric_spectrum["o3_lambda"] == CHANNEL[0])
                                 & (geometric_spectrum["o3_sigma"] == CHANNEL[1])]
    if channel.empty:
        raise FigureError("fig6: the geometric spectrum table holds no (lambda=0, sigma=-1) "
                          "fraction")
    labels = run_labels(errors, channel)
    lines = sort_rows(errors, {"run": list(labels)}, then=["epoch"]).assign(panel="a")
    lines["value"] = relative_errors(lines, "fig6")
    lines = relative_intervals(lines, geometric_structures, resamples, seed)

    layers = list(dict.fromkeys(geometric_spectrum["layer"]))  # forward order
    points = sort_rows(final_checkpoint(channel), {"run": list(labels), "layer": layers})
    points = points.assign(panel="b", layer_label=points["layer"].map(style.layer_label),
                           layer_index=points["layer"].map({x: i for i, x in
                                                            enumerate(layers)}),
                           value=points["fraction"].clip(lower=FLOOR),
                           quadrature_flagged=style.flags(points["quadrature_flagged"]))
    table = pd.concat([lines, points], ignore_index=True)
    table["label"] = table["run"].map(labels)
    # panel a's values are not quadrature estimates: no quadrature error, never flagged
    a = table["panel"] == "a"
    table.loc[a, "quadrature_error"] = np.nan
    table["quadrature_flagged"] = style.flags(table["quadrature_flagged"]) & ~a
    return table[["panel", *RUN_COLUMNS, "epoch", "target", "o3_lambda", "o3_sigma",
                  "rmse_as_given", "reference_rms", "layer", "layer_label", "layer_index",
                  "fraction", "value", "ci_low", "ci_high", "quadrature_error",
                  "quadrature_flagged", "grid_degree", "check_degree"]]


def run_styles(table: pd.DataFrame) -> dict[str, dict]:
    """Colour and marker of each run, in the table's (embedding) order: the same in
    fig6 and fig7."""
    runs = list(dict.fromkeys(table["run"]))
    return {run: {"color": color, "marker": style.MARKERS[i % len(style.MARKERS)]}
            for i, (run, color) in enumerate(zip(runs, style.colors(len(runs)),
                                                 strict=True))}


def zero_predictor_line(ax) -> None:
    """The dashed line at relative RMSE 1 (no better than predicting zero)."""
    ax.axhline(1.0, color="0.5", linestyle="--", linewidth=0.7, gid=ZERO_PREDICTOR,
               label=ZERO_PREDICTOR, zorder=0)


def _errors(fig, lines: pd.DataFrame, styles, flagged: bool) -> None:
    ax = fig.subplots()
    for run, line in lines.groupby("run", sort=False):
        ax.plot(line["epoch"], line["value"], label=line["label"].iloc[0], **styles[run])
        style.interval_bars(ax, line["epoch"], line["value"], line["ci_low"],
                            line["ci_high"], color=styles[run]["color"])
    zero_predictor_line(ax)
    # the axis follows the values: a few structures can give an interval a long tail
    # (the frame cuts it), which would squash the lines
    values = np.asarray([*lines["value"], 1.0], float)
    values = values[np.isfinite(values)]
    if style.value_axis(ax, values):
        ax.set_ylim(values.min() / 1.6, values.max() * 1.6)
    else:
        ax.set_ylim(0, values.max() * 1.15)
    ax.set_xlabel("epoch")
    ax.set_ylabel(style.RELATIVE.replace(" (", "\n("))
    ax.set_title("pseudoscalar: test RMSE (as given) / RMS of the reference",
                 fontsize=style.FONT_SIZE)
    handles, _ = ax.get_legend_handles_labels()
    if flagged:  # the mark is drawn in panel b: one legend for the figure
        handles.append(style.flag_handle())
        handles[-1].set_label(style.FLAGGED_LABEL + " (b)")
    fig.legend(handles=handles, loc="outside lower center", ncols=2,
               title=style.legend_title(lines["label"]))
    style.panel_label(fig, "a")


def _channel(fig, points: pd.DataFrame, styles) -> None:
    ax = fig.subplots()
    layers = points.drop_duplicates("layer_index").sort_values("layer_index")
    for run, line in points.groupby("run", sort=False):
        ax.plot(line["value"], line["layer_index"], linewidth=0.7, markersize=2.5,
                **styles[run])
        style.error_bars(ax, line["value"], line["layer_index"], line["quadrature_error"],
                         horizontal=True, color=styles[run]["color"])
        style.flag_points(ax, line["value"], line["layer_index"], line["quadrature_flagged"],
                          marker=styles[run]["marker"], color=styles[run]["color"], size=3.0)
    ax.set_yticks(layers["layer_index"], layers["layer_label"], fontsize=style.FONT_SIZE - 1.5)
    ax.set_ylim(layers["layer_index"].max() + 0.6, layers["layer_index"].min() - 0.6)
    ax.set_xscale("log")
    ax.set_xlim(FLOOR / 2, 2.0)
    ax.xaxis.set_major_locator(LogLocator(numticks=5))
    ax.grid(axis="y", color="0.92", linewidth=0.5)
    ax.set_xlabel("character fraction of λ=0, σ=−1")
    ax.set_title("last checkpoint", fontsize=style.FONT_SIZE)
    style.panel_label(fig, "b")


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    lines, points = table[table["panel"] == "a"], table[table["panel"] == "b"]
    styles = run_styles(table)
    n_runs = table["run"].nunique()
    heights = [1.55 + 0.12 * ((n_runs + 3) // 2),
               0.115 * points["layer_index"].nunique() + 0.55]
    fig = style.figure(sum(heights))
    top, bottom = fig.subfigures(2, 1, height_ratios=heights)
    _errors(top, lines, styles, style.flags(points["quadrature_flagged"]).any())
    _channel(bottom, points, styles)
    return fig
