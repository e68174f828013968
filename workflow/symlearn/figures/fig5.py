"""fig5: how PoLAr-MAE learns the symmetry during pre-training and fine-tuning.

(a) test RMSE (as given) and equivariance RMSE of the per-point class probabilities
against the fine-tuning step (the segmentation head exists only then), one line style
per run;
(b) the non-invariant fraction of the token features, 1 - fraction(lambda = 0,
sigma = +1), of the tokenizer and of every transformer block against the training step,
pre-training then fine-tuning on one axis (fine-tuning steps offset by the run's last
pre-training step, the boundary dashed), one panel per run, one colour per layer in
depth order. Quadrature estimates (A, the fractions) carry their quadrature error as an
error bar, and an open marker where it exceeds the tolerance. A run trained with
several seeds is drawn as the mean over its seeds, with a band: the 95 % t-interval of
that mean over the seeds (the PoLAr-MAE analysis keeps no per-event rows of these
numbers, so there is no bootstrap over events here).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from . import style
from .tables import (
    FINETUNE,
    POLARMAE_ERRORS,
    POLARMAE_SPECTRUM,
    PRETRAIN,
    QUANTITY_COLUMNS,
    FigureError,
    augmentations,
    layer_order,
    pretrain_steps,
    quantity_rows,
    run_order,
    sort_rows,
    training_steps,
)

INPUTS = {"errors": POLARMAE_ERRORS, "spectrum": POLARMAE_SPECTRUM}
NAMES = {"as_given": style.AS_GIVEN, "equivariance": style.EQUIVARIANCE}
NON_INVARIANT = "non-invariant fraction"
#: the gid of the dashed line at the end of pre-training
BOUNDARY = "phase boundary"


def data(errors: pd.DataFrame, spectrum: pd.DataFrame) -> pd.DataFrame:
    """Exactly what is plotted: panel a's RMSE lines and panel b's fraction lines."""
    tuned = errors[errors["phase"] == FINETUNE]
    if tuned.empty:
        raise FigureError("fig5: the errors table holds no fine-tuning checkpoint")
    tuned = sort_rows(tuned, {"run": run_order(tuned)}, then=["step"])
    lines_a = pd.concat([quantity_rows(tuned, quantity, 1.0).assign(
        seed_half=_seed_half(tuned, QUANTITY_COLUMNS[quantity])) for quantity in NAMES],
        ignore_index=True).assign(panel="a", training_step=np.nan)

    scalar = spectrum[(spectrum["o3_lambda"] == 0) & (spectrum["o3_sigma"] == 1)].copy()
    if scalar.empty:
        raise FigureError("fig5: the spectrum table holds no (lambda=0, sigma=+1) fraction")
    scalar["training_step"] = training_steps(scalar)
    scalar["phase_boundary"] = scalar["run"].map(pretrain_steps(scalar))
    scalar["value"] = 1.0 - scalar["fraction"]  # its quadrature error is the fraction's
    scalar["seed_half"] = _seed_half(scalar, "fraction")  # ... and its seeds' spread
    scalar["quadrature_flagged"] = style.flags(scalar["quadrature_flagged"])
    lines_b = sort_rows(scalar, {"layer": layer_order(scalar["layer"]),
                                 "run": run_order(scalar), "phase": [PRETRAIN, FINETUNE]},
                        then=["step"]).assign(panel="b", quantity=NON_INVARIANT)
    lines_b["layer_label"] = lines_b["layer"].map(style.layer_label)
    lines = pd.concat([lines_a, lines_b], ignore_index=True)
    lines["seed_low"] = lines["value"] - lines["seed_half"]
    lines["seed_high"] = lines["value"] + lines["seed_half"]
    return lines.reindex(columns=
        ["panel", "run", "augmentation", "phase", "step", "training_step", "phase_boundary",
         "target", "layer", "layer_label", "quantity", "value", "quadrature_error",
         "quadrature_flagged", "grid_degree", "check_degree", "n_seeds", "seed_low",
         "seed_high"])


def _seed_half(rows: pd.DataFrame, column: str) -> pd.Series:
    """The half-width of the t-interval over seeds of ``column`` (NaN: one seed, or a
    table without seeds)."""
    name = f"{column}_seed_half"
    return rows[name] if name in rows else pd.Series(np.nan, index=rows.index)


def _line(ax, x, rows: pd.DataFrame, color, line_style: dict,
          flag_size: float = 3.4) -> None:
    """One line of ``value``, its band over seeds (where it has several), its quadrature
    error bars and open markers on its flagged points."""
    if rows["seed_low"].notna().any():
        # a log axis: a band reaching 0 or below is cut at the line's tenth
        low = rows["seed_low"].where(rows["seed_low"] > 0, rows["value"] / 10)
        ax.fill_between(x, low, rows["seed_high"], color=color, alpha=0.2, linewidth=0)
    ax.plot(x, rows["value"], color=color, **line_style)
    style.error_bars(ax, x, rows["value"], rows["quadrature_error"], color=color)
    style.flag_points(ax, x, rows["value"], rows["quadrature_flagged"],
                      marker=line_style["marker"], color=color, size=flag_size)


def _errors(fig, lines: pd.DataFrame, runs, styles, flagged: bool) -> None:
    ax = fig.subplots()
    colors = dict(zip(NAMES, style.colors(2), strict=True))
    for (run, quantity), line in lines.groupby(["run", "quantity"], sort=False):
        _line(ax, line["step"], line, colors[quantity], styles[run])
    style.log_yaxis(ax)
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("RMSE of the\nclass probabilities")
    # legend: metric by colour, then run by line style
    augmentation = augmentations(lines)
    metrics = [Line2D([], [], color=color, label=NAMES[q]) for q, color in colors.items()]
    run_lines = [Line2D([], [], color="0.3", linestyle=styles[run]["linestyle"],
                        marker=styles[run]["marker"],
                        label=style.run_label(run, augmentation[run])) for run in runs]
    if flagged:  # the one legend entry of the mark, for both panels
        metrics.append(style.flag_handle())
    # one column: the run labels are long
    fig.legend(handles=metrics + run_lines, loc="outside lower center", ncols=1,
               handlelength=1.8)
    style.panel_label(fig, "a")


def _fractions(fig, lines: pd.DataFrame, runs) -> None:
    layers = list(dict.fromkeys(lines["layer"]))
    colors = dict(zip(layers, style.layer_colors(len(layers)), strict=True))
    ncols = 2
    axes = np.atleast_1d(fig.subplots(math.ceil((len(runs) + 1) / ncols), ncols,
                                      sharex=True, sharey=True)).ravel()
    for ax, run in zip(axes, runs, strict=False):
        rows = lines[lines["run"] == run]
        for layer, line in rows.groupby("layer", sort=False):
            _line(ax, line["training_step"], line, colors[layer],
                  dict(marker="o", markersize=1.8, linewidth=0.9), flag_size=2.6)
        boundary = rows["phase_boundary"].iloc[0]
        if not pd.isna(boundary):
            ax.axvline(boundary, color="0.4", linestyle="--", linewidth=0.7, gid=BOUNDARY)
            top = blended_transform_factory(ax.transData, ax.transAxes)
            for text, ha in (("pre-training ", "right"), (" fine-tuning", "left")):
                ax.text(boundary, 1.0, text, ha=ha, va="bottom", transform=top,
                        fontsize=style.FONT_SIZE - 2, color="0.3")
        ax.set_title(run, pad=8, fontsize=style.FONT_SIZE)
    for ax in axes[:len(runs)]:
        style.log_yaxis(ax)
    for ax in axes[::ncols][:math.ceil(len(runs) / ncols)]:
        ax.set_ylabel(NON_INVARIANT)
    for ax in axes[max(len(runs) - ncols, 0):len(runs)]:
        ax.set_xlabel("training step")
        ax.xaxis.set_tick_params(labelbottom=True)
    legend_ax = axes[len(runs)]
    legend_ax.axis("off")
    for layer, color in colors.items():
        legend_ax.plot([], [], color=color, marker="o", markersize=1.8,
                       label=style.layer_label(layer))
    legend_ax.legend(loc="center", ncols=1 if len(layers) < 8 else 2, title="layer",
                     columnspacing=0.8, handlelength=1.5)
    for ax in axes[len(runs) + 1:]:
        ax.axis("off")
    style.panel_label(fig, "b")


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    lines_a, lines_b = table[table["panel"] == "a"], table[table["panel"] == "b"]
    runs = run_order(table)
    styles = style.run_styles(runs)
    flagged = style.flags(table["quadrature_flagged"]).any()
    heights = [1.3 + 0.12 * (len(runs) + 2 + flagged),
               1.3 * math.ceil((lines_b["run"].nunique() + 1) / 2) + 0.3]
    fig = style.figure(sum(heights))
    top, bottom = fig.subfigures(2, 1, height_ratios=heights)
    _errors(top, lines_a, runs, styles, flagged)
    _fractions(bottom, lines_b, run_order(lines_b))
    return fig
