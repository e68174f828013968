"""fig8: post-hoc purification of PET's readouts as a trade-off between accuracy and
equivariance, at the last checkpoint of each purified run.

One panel per run and output (energy, forces, stress; or the geometric targets), each
output whole: its irrep parts pooled per component (:func:`tables.whole_output`; parts
that vanish identically, the antisymmetric stress, left out). x: the test RMSE on the
test structures as given; y: A, the equivariance RMSE on the O(3) quadrature grid (the
projected stage's estimated on random rotations), both log. The readout refit
(stage ``readout_refit``) is a curve through its weights ``mu`` of A^2, in increasing
order, labelled at its ends; the original model is a black star, the other stages
their own markers; the chosen refit (the largest mu within
:data:`symlearn.table_schemas.REFIT_RMSE_FACTOR` x the original's test RMSE, per
output) is ringed and labelled. Equivariance RMSEs carry their quadrature error as a
vertical bar, and an open marker where it exceeds the tolerance. Each run's title says
what the stages cost in model evaluations, from the table. Zero RMSEs cannot be drawn
on the log axes and are left out (the table keeps them).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..table_schemas import REFIT, REFIT_RMSE_FACTOR, refit_choices
from . import style
from .tables import (
    PURIFICATION,
    STAGES,
    FigureError,
    informative_parts,
    run_order,
    sort_rows,
    whole_output,
)

INPUTS = {"purification": PURIFICATION}
#: stage labels (style.STAGES, and the refit's)
STAGE_LABELS = {**style.STAGES, REFIT: "readout refit (curve: μ)"}
STAGE_MARKERS = {"original": "*", "bias_removed": "s", "offset_removed": "D",
                 "projected": "^", REFIT: "o"}
STAGE_SIZES = {"original": 6.5, REFIT: 2.6}
#: the gids of the refit's curve and of the ring on the chosen refit
REFIT_CURVE = "refit curve"
CHOSEN = "chosen refit"
NCOLS = 2
COLUMNS = ["run", "augmentation", "edge_embedding", "edge_lmax", "epoch", "target", "output",
           "unit", "stage", "stage_label", "mu", "rmse_as_given", "equivariance_rmse",
           "quadrature_error", "quadrature_flagged", "chosen", "equivariance_estimate",
           "n_samples", "setup_evaluations", "evaluations_per_prediction", "grid_degree",
           "check_degree"]


def data(purification: pd.DataFrame) -> pd.DataFrame:
    """Exactly what is plotted: per run, output, stage and mu the whole output's test
    RMSE (as given) and A in plotted units (A with its quadrature error, flagged where
    a part is), whether it is the chosen refit, and the stage's cost."""
    unknown = sorted(set(map(str, purification["stage"])) - set(STAGES))
    if unknown:
        raise FigureError(f"fig8: unknown stage(s) {', '.join(unknown)} in the purification "
                          f"table; known: {', '.join(STAGES)}")
    if "mu" not in purification:
        purification = purification.assign(mu=np.nan)
    rows = informative_parts(purification)
    if rows.empty:
        raise FigureError("fig8: every output part of the purification table vanishes")
    keys = ["run", "target", "stage", "mu"]
    out = []
    for (run, target, stage, mu), parts in rows.groupby(keys, sort=False, dropna=False):
        as_given, equivariance, error = whole_output(parts)
        first = parts.iloc[0]
        factor = style.target_unit(target)[1]
        out.append(dict(
            {k: first[k] for k in ("augmentation", "edge_embedding", "edge_lmax", "epoch",
                                   "equivariance_estimate", "setup_evaluations",
                                   "evaluations_per_prediction", "grid_degree",
                                   "check_degree")},
            run=run, target=target, output=style.target_label(target),
            unit=style.target_unit(target)[0], stage=stage, stage_label=STAGE_LABELS[stage],
            mu=mu, rmse_as_given=as_given * factor, equivariance_rmse=equivariance * factor,
            quadrature_error=error * factor if np.isfinite(error) and stage != "projected"
            else np.nan,
            quadrature_flagged=bool(style.flags(parts["quadrature_flagged"]).any()),
            n_samples=int(parts["n_samples"].max()), chosen=False))
    table = pd.DataFrame(out)
    for run in run_order(table):
        for target, (mu, _) in refit_choices(
                purification[purification["run"] == run]).items():
            if mu is not None:
                table.loc[(table["run"] == run) & (table["target"] == target)
                          & (table["stage"] == REFIT) & (table["mu"] == mu), "chosen"] = True
    table = sort_rows(table, {"run": run_order(table),
                              "target": list(dict.fromkeys(table["target"])),
                              "stage": list(STAGES)}, then=["mu"])
    return table[COLUMNS].reset_index(drop=True)


def _drawable(values) -> np.ndarray:
    """Values for a log axis: non-positive ones become NaN (not drawn)."""
    values = np.asarray(values, float)
    return np.where(values > 0, values, np.nan)


def _mu_label(mu: float) -> str:
    if mu == 0:
        return "μ=0"
    exponent = math.log10(mu)
    return f"μ=1e{exponent:.0f}" if exponent == round(exponent) else f"μ={mu:.2g}"


def _panel(ax, rows: pd.DataFrame, colors) -> None:
    refit = rows[rows["stage"] == REFIT]
    for stage in STAGES:
        if stage == REFIT:
            continue
        points = rows[rows["stage"] == stage]
        if points.empty:
            continue
        x, y = _drawable(points["rmse_as_given"]), _drawable(points["equivariance_rmse"])
        # the original's star under the other stages' smaller markers
        ax.plot(x, y, linestyle="", marker=STAGE_MARKERS[stage],
                markersize=STAGE_SIZES.get(stage, 3.2), color=colors[stage],
                zorder=2.5 if stage == "original" else 3, gid=stage)
        style.error_bars(ax, x, y, points["quadrature_error"], color=colors[stage])
        style.flag_points(ax, x, y, points["quadrature_flagged"],
                          marker=STAGE_MARKERS[stage], color=colors[stage])
    if len(refit):
        x, y = _drawable(refit["rmse_as_given"]), _drawable(refit["equivariance_rmse"])
        ax.plot(x, y, color=colors[REFIT], linewidth=0.8, marker=STAGE_MARKERS[REFIT],
                markersize=STAGE_SIZES[REFIT], gid=REFIT_CURVE, zorder=2)
        style.error_bars(ax, x, y, refit["quadrature_error"], color=colors[REFIT])
        style.flag_points(ax, x, y, refit["quadrature_flagged"], color=colors[REFIT],
                          size=STAGE_SIZES[REFIT])
        chosen = np.flatnonzero(refit["chosen"].to_numpy(bool))
        if len(chosen):
            ax.plot(x[chosen], y[chosen], linestyle="", marker="o", markersize=6.5,
                    markerfacecolor="none", markeredgecolor=colors[CHOSEN],
                    markeredgewidth=1.0, gid=CHOSEN, zorder=5)
    x, y = _drawable(rows["rmse_as_given"]), _drawable(rows["equivariance_rmse"])
    if not (np.isfinite(x).any() and np.isfinite(y).any()):
        return _title(ax, rows)
    for which, values in (("x", x), ("y", y)):
        style.log_axis(ax, which)
        low, high = np.nanmin(values), np.nanmax(values)
        # at least a factor 3 of range, and room around the points and their labels
        centre, span = math.sqrt(low * high), max(high / low, 3.0)
        room = (3.0, 2.0) if which == "x" else (1.6, 1.6)  # the mu labels left, right
        getattr(ax, f"set_{which}lim")(centre / span ** 0.5 / room[0],
                                       centre * span ** 0.5 * room[1])
    ax.tick_params(axis="both", which="both", labelsize=style.FONT_SIZE - 2)
    if len(refit):
        _mu_labels(ax, refit)
    return _title(ax, rows)


def _mu_labels(ax, refit: pd.DataFrame) -> None:
    """mu at the curve's ends and at the chosen refit (bold); an end label that would
    sit on the chosen one is left out."""
    x, y = _drawable(refit["rmse_as_given"]), _drawable(refit["equivariance_rmse"])
    chosen = set(np.flatnonzero(refit["chosen"].to_numpy(bool)))
    (x0, x1), (y0, y1) = np.log(ax.get_xlim()), np.log(ax.get_ylim())
    where = np.c_[(np.log(x) - x0) / (x1 - x0), (np.log(y) - y0) / (y1 - y0)]
    last = len(refit) - 1
    for i in sorted({0, last, *chosen}):
        if not np.isfinite(where[i]).all():
            continue
        if i not in chosen and any(np.hypot(*(where[i] - where[j])) < 0.15 for j in chosen):
            continue
        bold = i in chosen
        # the first to the left of its point, the others to the right, the chosen one
        # below it
        left = i == 0 and not bold
        ax.annotate(_mu_label(refit["mu"].iloc[i]), (x[i], y[i]),
                    xytext=(-4 if left else 4, -8 if bold else 0),
                    textcoords="offset points", ha="right" if left else "left",
                    va="center", fontsize=style.FONT_SIZE - 2,
                    color="0.1" if bold else "0.35",
                    fontweight="bold" if bold else "normal", zorder=6)


def _title(ax, rows: pd.DataFrame) -> None:
    unit = rows["unit"].iloc[0]
    title = rows["output"].iloc[0] + ("" if unit == style.DIMENSIONLESS else f" ({unit})")
    ax.set_title(title, fontsize=style.FONT_SIZE - 1, pad=2)


def _run(fig, rows: pd.DataFrame, colors) -> None:
    outputs = list(dict.fromkeys(rows["target"]))
    axes = np.atleast_1d(fig.subplots(math.ceil(len(outputs) / NCOLS), NCOLS)).ravel()
    for ax, target in zip(axes, outputs, strict=False):
        _panel(ax, rows[rows["target"] == target], colors)
    for ax in axes[len(outputs):]:
        ax.axis("off")
    fig.suptitle(style.run_label(rows["run"].iloc[0], rows["augmentation"].iloc[0]) + "\n"
                 + cost(rows), fontsize=style.FONT_SIZE - 1.5)
    fig.supxlabel("test RMSE as given (test structures)", fontsize=style.FONT_SIZE - 1)
    fig.supylabel("A: equivariance RMSE (quadrature grid)", fontsize=style.FONT_SIZE - 1)


def cost(rows: pd.DataFrame) -> str:
    """What the stages of one run cost in model evaluations, from its table: once to
    build the offset-removed and the refitted models (each then predicts with one
    evaluation), and per prediction of the projected one; two lines."""
    per_stage = rows.drop_duplicates("stage").set_index("stage")
    once = [f"{name} {_count(per_stage.loc[stage, 'setup_evaluations'])}"
            for stage, name in (("offset_removed", "offset removal"), (REFIT, "refit"))
            if stage in per_stage.index]
    lines = [f"evaluations once: {', '.join(once)}"] if once else []
    if "projected" in per_stage.index:
        each = per_stage.loc["projected", "evaluations_per_prediction"]
        lines.append(f"per prediction: projection {_count(each)}, the others 1")
    return "\n".join(lines) if lines else "cost in model evaluations not recorded"


def _count(value) -> str:
    return "?" if pd.isna(value) else f"{int(value):,}"


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    runs = run_order(table)
    palette = style.colors(len(STAGES) + 1)
    colors = {"original": "0.1", "bias_removed": palette[1], "offset_removed": palette[2],
              "projected": palette[3], REFIT: palette[0], CHOSEN: palette[4]}
    heights = [1.55 * math.ceil(table.loc[table["run"] == run, "target"].nunique() / NCOLS)
               + 0.6 for run in runs] + [0.75]
    fig = style.figure(sum(heights))
    subfigs = np.atleast_1d(fig.subfigures(len(heights), 1, height_ratios=heights))
    for subfig, run in zip(subfigs, runs, strict=False):
        _run(subfig, table[table["run"] == run], colors)
    present = [s for s in STAGES if (table["stage"] == s).any()]
    ax = subfigs[0].axes[0]
    handles = [ax.plot([], [], linestyle="-" if s == REFIT else "",
                       marker=STAGE_MARKERS[s], markersize=STAGE_SIZES.get(s, 3.2),
                       color=colors[s], label=STAGE_LABELS[s])[0] for s in present]
    if table["chosen"].any():
        handles.append(ax.plot([], [], linestyle="", marker="o", markersize=6.5,
                               markerfacecolor="none", markeredgecolor=colors[CHOSEN],
                               label="chosen refit")[0])
    if style.flags(table["quadrature_flagged"]).any():
        handles.append(style.flag_handle())
    subfigs[-1].legend(handles=handles, loc="center", ncols=2, handletextpad=0.3,
                       columnspacing=0.9, fontsize=style.FONT_SIZE - 1.5,
                       title_fontsize=style.FONT_SIZE - 1.5,
                       title="bars: quadrature error of A; chosen: largest μ within "
                             f"{REFIT_RMSE_FACTOR:g} × the original's test RMSE")
    return fig
