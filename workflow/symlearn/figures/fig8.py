"""fig8: post-hoc purification of PET's readouts, at the last checkpoint of each purified
run.

For every output part (energy, forces, stress tr(σ)/√3 and lambda = 2 part; or the
geometric targets) the test RMSE (as given) and the equivariance RMSE at four stages:
the model as trained ("original"), with the biases of its covariant readouts projected
onto their invariant part ("biases removed"), with the lab-frame constant offset of each
readout (its output averaged over the grid and the training structures) taken out of
the readout bias ("offset removed", the primary comparison with the original), and with
its output projected onto its irrep with the O(3) quadrature ("projected", whose own
equivariance error is estimated on random rotations). One panel per run and part (parts
that vanish identically, the antisymmetric stress, left out), the stages side by side
within each quantity (colour and marker = stage, a thin line joining them), a log RMSE
axis; equivariance RMSEs carry their quadrature error as an error bar, and an open
marker where it exceeds the tolerance. The numbers in the top right corner are the
equivariance RMSE of each later stage divided by the original one, in the stage's
colour; each run's title gives what the stages cost in model evaluations, computed from
the table. Zero RMSEs cannot be drawn on the log axis and are left out of the drawing
(the table keeps them).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from . import style
from .tables import (
    PURIFICATION,
    STAGES,
    FigureError,
    informative_parts,
    quantity_rows,
    run_order,
    sort_rows,
)

INPUTS = {"purification": PURIFICATION}
#: the quantities' tick labels (the legend says what they are)
QUANTITIES = {"as_given": "test", "equivariance": "equiv."}
#: horizontal offset of each stage within a quantity
OFFSETS = dict(zip(STAGES, (-0.3, -0.1, 0.1, 0.3), strict=True))
STAGE_MARKERS = dict(zip(STAGES, ("o", "s", "D", "^"), strict=True))
#: the stage compared with the original first (table1's purification row)
PRIMARY = "offset_removed"
#: the gid of the thin line that joins the stages of one quantity
STAGE_PATH = "stage path"
NCOLS = 4
#: the fraction of a panel's height the data take (the ratios are printed above)
HEADROOM = 0.55


def data(purification: pd.DataFrame) -> pd.DataFrame:
    """Exactly what is plotted: per run, part, stage and quantity the RMSE in plotted
    units (``value``, with its quadrature error), its ratio to the original stage's
    (``ratio``) and the stage's cost in model evaluations."""
    unknown = sorted(set(map(str, purification["stage"])) - set(STAGES))
    if unknown:
        raise FigureError(f"fig8: unknown stage(s) {', '.join(unknown)} in the purification "
                          f"table; known: {', '.join(STAGES)}")
    rows = informative_parts(purification)
    if rows.empty:
        raise FigureError("fig8: every output part of the purification table vanishes")
    n_parts = rows.groupby("target")[["o3_lambda", "o3_sigma"]].apply(
        lambda g: len(g.drop_duplicates()))
    rows = rows.assign(
        part=[style.part_label(t, lam, s, n_parts[t]) for t, lam, s in
              zip(rows["target"], rows["o3_lambda"], rows["o3_sigma"], strict=True)],
        unit=rows["target"].map(lambda t: style.target_unit(t)[0]),
        factor=rows["target"].map(lambda t: style.target_unit(t)[1]),
        stage_label=rows["stage"].map(style.STAGES))
    long = pd.concat([quantity_rows(rows, quantity, rows["factor"])
                      for quantity in QUANTITIES], ignore_index=True)
    keys = ["run", "target", "o3_lambda", "o3_sigma", "quantity"]
    original = long[long["stage"] == STAGES[0]].set_index(keys)["value"]
    before = pd.Series(original.reindex(pd.MultiIndex.from_frame(long[keys])).to_numpy(),
                       index=long.index)
    long["ratio"] = long["value"] / before.where(before > 0)
    long = sort_rows(long, {"run": run_order(long), "part": list(dict.fromkeys(long["part"])),
                            "quantity": list(QUANTITIES), "stage": list(STAGES)})
    return long[["run", "augmentation", "edge_embedding", "edge_lmax", "epoch", "target",
                 "o3_lambda", "o3_sigma", "part", "unit", "stage", "stage_label", "quantity",
                 "value", "quadrature_error", "quadrature_flagged", "ratio",
                 "equivariance_estimate", "n_samples", "setup_evaluations",
                 "evaluations_per_prediction", "grid_degree",
                 "check_degree"]].reset_index(drop=True)


def _drawable(values) -> np.ndarray:
    """Values for a log axis: non-positive ones become NaN (not drawn)."""
    values = np.asarray(values, float)
    return np.where(values > 0, values, np.nan)


def _panel(ax, rows: pd.DataFrame, colors) -> None:
    for q, quantity in enumerate(QUANTITIES):
        path = rows[rows["quantity"] == quantity]
        ax.plot(q + path["stage"].map(OFFSETS), _drawable(path["value"]), color="0.6",
                linewidth=0.6, marker="", gid=STAGE_PATH, zorder=1)
    for stage, points in rows.groupby("stage", sort=False):
        x = points["quantity"].map({q: i for i, q in enumerate(QUANTITIES)}) + OFFSETS[stage]
        y = _drawable(points["value"])
        ax.plot(x, y, linestyle="", marker=STAGE_MARKERS[stage], markersize=2.8,
                color=colors[stage], zorder=2)
        style.error_bars(ax, x, y, points["quadrature_error"], color=colors[stage])
        style.flag_points(ax, x, y, points["quadrature_flagged"],
                          marker=STAGE_MARKERS[stage], color=colors[stage], size=2.8)
    later = rows[(rows["quantity"] == "equivariance") & (rows["stage"] != STAGES[0])]
    for k, row in enumerate(later.dropna(subset=["ratio"]).itertuples(index=False)):
        ax.text(0.97, 0.98 - 0.1 * k, f"×{row.ratio:.2g}", transform=ax.transAxes,
                ha="right", va="top", fontsize=style.FONT_SIZE - 1.5, color=colors[row.stage])
    values = _drawable(rows["value"])
    spread = np.r_[values, _drawable(rows["value"] + rows["quadrature_error"].fillna(0))]
    if np.isfinite(values).any():
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(numticks=4))
        ax.yaxis.set_major_formatter(FuncFormatter(style.log_tick))
        ax.yaxis.set_minor_formatter(NullFormatter())
        # the data in the lower HEADROOM of the panel, the ratios above them
        low, high = np.log10(np.nanmin(values) / 3), np.log10(np.nanmax(spread) * 1.5)
        ax.set_ylim(10 ** low, 10 ** (low + (high - low) / (HEADROOM if len(later) else 1)))
    ax.set_xticks(range(len(QUANTITIES)), list(QUANTITIES.values()), rotation=35,
                  ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.5, len(QUANTITIES) - 0.5)
    ax.tick_params(axis="both", labelsize=style.FONT_SIZE - 1.5)
    unit = rows["unit"].iloc[0]
    title = rows["part"].iloc[0] + ("" if unit == style.DIMENSIONLESS else f"\n({unit})")
    ax.set_title(title, fontsize=style.FONT_SIZE - 1, pad=2)


def _run(fig, rows: pd.DataFrame, colors) -> None:
    parts = list(dict.fromkeys(rows["part"]))
    ncols = NCOLS
    axes = np.atleast_1d(fig.subplots(math.ceil(len(parts) / ncols), ncols)).ravel()
    for ax, part in zip(axes, parts, strict=False):
        _panel(ax, rows[rows["part"] == part], colors)
    for ax in axes[::ncols]:
        ax.set_ylabel("RMSE", labelpad=1)
    for ax in axes[len(parts):]:
        ax.axis("off")
    run = rows["run"].iloc[0]
    fig.suptitle(style.run_label(run, rows["augmentation"].iloc[0]), fontsize=style.FONT_SIZE)
    fig.supxlabel(cost(rows), fontsize=style.FONT_SIZE - 1.5, color="0.3")


def cost(rows: pd.DataFrame) -> str:
    """What the stages of one run cost in model evaluations, from its table: the
    evaluations spent once to build the offset-removed model and per prediction, and
    per prediction of the projected one."""
    per_stage = rows.drop_duplicates("stage").set_index("stage")
    parts = []
    if PRIMARY in per_stage.index:
        setup = per_stage.loc[PRIMARY, "setup_evaluations"]
        each = per_stage.loc[PRIMARY, "evaluations_per_prediction"]
        parts.append(f"offset removal {_count(setup)} once + {_count(each)}/prediction")
    if "projected" in per_stage.index:
        each = per_stage.loc["projected", "evaluations_per_prediction"]
        parts.append(f"projection {_count(each)}/prediction")
    return ("evaluations: " + "; ".join(parts) if parts
            else "cost in model evaluations not recorded")


def _count(value) -> str:
    return "?" if pd.isna(value) else f"{int(value):,}"


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    runs = run_order(table)
    colors = dict(zip(STAGES, style.colors(len(STAGES)), strict=True))
    heights = [1.3 * math.ceil(table.loc[table["run"] == run, "part"].nunique() / NCOLS)
               + 0.3 for run in runs] + [0.85]
    fig = style.figure(sum(heights))
    subfigs = np.atleast_1d(fig.subfigures(len(heights), 1, height_ratios=heights))
    for subfig, run in zip(subfigs, runs, strict=False):
        _run(subfig, table[table["run"] == run], colors)
    handles = [subfigs[0].axes[0].plot([], [], linestyle="", marker=STAGE_MARKERS[s],
                                       color=colors[s], label=style.STAGES[s])[0]
               for s in STAGES]
    if style.flags(table["quadrature_flagged"]).any():
        handles.append(style.flag_handle())
    subfigs[-1].legend(handles=handles, loc="center", ncols=2, handletextpad=0.2,
                       columnspacing=0.9, title_fontsize=style.FONT_SIZE - 1,
                       title="test: test RMSE (as given); equiv.: equivariance RMSE\n"
                             "numbers: equivariance RMSE / original's\n"
                             "error bars: quadrature error; colour and marker: stage")
    return fig
