"""fig8: post-hoc purification of PET's readouts, at the last checkpoint of each purified
run.

For every output part (energy, forces, stress trace and lambda = 2 part; or the
geometric targets) the test RMSE and the equivariance RMSE at three stages: the model as
trained ("original"), with the biases of its covariant readouts projected onto their
invariant part ("biases removed"), and with its output projected onto its irrep with the
O(3) quadrature ("projected", the symmetrized prediction, whose own equivariance error
is estimated on random rotations). One panel per run and part (parts that vanish
identically, the antisymmetric stress, left out), the stages side by side within each
quantity (colour and marker = stage, a thin line joining them), a log RMSE axis; the
numbers in the top right corner are the equivariance RMSE of each later stage divided
by the original one, in the stage's colour. Zero RMSEs cannot be drawn on the log axis
and are left out of the drawing (the table keeps them).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from . import style
from .tables import PURIFICATION, STAGES, FigureError, informative_parts, run_order, sort_rows

INPUTS = {"purification": PURIFICATION}
QUANTITIES = {"accuracy": "test", "equivariance": "equiv."}
#: horizontal offset of each stage within a quantity
OFFSETS = dict(zip(STAGES, (-0.24, 0.0, 0.24), strict=True))
STAGE_MARKERS = dict(zip(STAGES, ("o", "s", "^"), strict=True))
#: the gid of the thin line that joins the stages of one quantity
STAGE_PATH = "stage path"
NCOLS = 4
#: the fraction of a panel's height the data take (the ratios are printed above)
HEADROOM = 0.7


def data(purification: pd.DataFrame) -> pd.DataFrame:
    """Exactly what is plotted: per run, part, stage and quantity the RMSE in plotted
    units (``value``) and its ratio to the original stage's (``ratio``)."""
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
    long = pd.concat([rows.assign(quantity=quantity,
                                  value=rows[f"{quantity}_rmse"] * rows["factor"])
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
                 "value", "ratio", "equivariance_estimate", "n_samples"]].reset_index(drop=True)


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
        ax.plot(x, _drawable(points["value"]), linestyle="", marker=STAGE_MARKERS[stage],
                markersize=2.8, color=colors[stage], zorder=2)
    later = rows[(rows["quantity"] == "equivariance") & (rows["stage"] != STAGES[0])]
    for k, row in enumerate(later.dropna(subset=["ratio"]).itertuples(index=False)):
        ax.text(0.97, 0.98 - 0.12 * k, f"×{row.ratio:.2g}", transform=ax.transAxes,
                ha="right", va="top", fontsize=style.FONT_SIZE - 1.5, color=colors[row.stage])
    values = _drawable(rows["value"])
    if np.isfinite(values).any():
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(numticks=4))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        # the data in the lower HEADROOM of the panel, the ratios above them
        low, high = np.log10(np.nanmin(values) / 3), np.log10(np.nanmax(values) * 1.5)
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


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    runs = run_order(table)
    colors = dict(zip(STAGES, style.colors(len(STAGES)), strict=True))
    heights = [1.0 * math.ceil(table.loc[table["run"] == run, "part"].nunique() / NCOLS)
               + 0.2 for run in runs] + [0.35]
    fig = style.figure(sum(heights))
    subfigs = np.atleast_1d(fig.subfigures(len(heights), 1, height_ratios=heights))
    for subfig, run in zip(subfigs, runs, strict=False):
        _run(subfig, table[table["run"] == run], colors)
    handles = [subfigs[0].axes[0].plot([], [], linestyle="", marker=STAGE_MARKERS[s],
                                       color=colors[s], label=style.STAGES[s])[0]
               for s in STAGES]
    subfigs[-1].legend(handles=handles, loc="center", ncols=3, handletextpad=0.2,
                       columnspacing=0.9, title="stage (numbers: equivariance RMSE / "
                                                "original's)")
    return fig
