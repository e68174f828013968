"""fig4: what a fine-tuned PoLAr-MAE has learned of the symmetry, at each run's last
fine-tuning checkpoint.

(a) the character fractions of the token features after the tokenizer and after every
transformer block, sigma = +1 and sigma = -1 side by side, then the content above
lambda_max, one heatmap per run (the heatmap of fig2 (b)); (b) per group of points, the
equivariance RMSE of the class probabilities (they should be invariant) against the
classification instability (the share of the grid's orientations, weighted by the grid
weights, in which a point's predicted class differs from that of the symmetrized
prediction): colour = semantic class, or the place a point sits
(branching point, plain track segment: hollow markers); marker = run. The instability
axis is logarithmic when every instability is positive, linear otherwise; (c) one panel
per run whose points.parquet is given (``options["points"]``: run -> path): the mean
instability of the points in quantile bins of their equivariance RMSE (the square root
of their A), with its standard error, for every analysed point and for the branching
points and track segments alone; the title gives the Spearman correlation of per-point A
and instability pooled over the points, its 95 % bootstrap interval over events (as
finding 8 of the claims table judges it) and the events and points it rests on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from ..bootstrap import RESAMPLES, SEED
from ..table_schemas import LEARNED_CLASSES
from . import heatmap, style
from .pointwise import LOCATIONS, binned, correlation, mean_instability, read_points
from .tables import (
    INSTABILITY,
    POLARMAE_SPECTRUM,
    FigureError,
    final_finetune,
    layer_order,
    run_order,
    sort_rows,
)

INPUTS = {"spectrum": POLARMAE_SPECTRUM, "instability": INSTABILITY}
#: the grouping whose groups are drawn filled; the other (locations) is drawn hollow
CLASS = "class"
MARKER_AREA = 18.0
#: panel c's curves: every analysed point, then the points of each location
ALL_POINTS = "all"
CURVES = (ALL_POINTS, *LOCATIONS)
CURVE_LABELS = {ALL_POINTS: "all points", **{g: style.group_label(g) for g in LOCATIONS}}
#: quantile bins of the equivariance RMSE, for all points and for one location
BINS = {ALL_POINTS: 10, **dict.fromkeys(LOCATIONS, 5)}
#: panels of c side by side
PANEL_COLUMNS = 2
COLUMNS = [
    "panel", "run", "augmentation", "phase", "step", "layer", "layer_label", "content",
    "column_label", "o3_lambda", "o3_sigma", "fraction", "quadrature_error",
    "quadrature_flagged", "grid_degree", "check_degree", "grouping", "group",
    "group_label", "n_points", "equivariance_rmse", "instability", "unstable_fraction",
    "accuracy", "recall_as_given", "instability_ci_low", "instability_ci_high", "bin",
    "rmse_low", "rmse_high", "instability_se", "spearman", "spearman_ci_low",
    "spearman_ci_high", "n_events", "run_points"]


def _read(source) -> pd.DataFrame:
    return source if isinstance(source, pd.DataFrame) else read_points(source)


def _point_tables(points: Mapping) -> dict[str, pd.DataFrame]:
    """run -> its points (``points[run]``: a table or path, or training seed -> one).
    Several seeds' points are pooled, an event of each seed counted as its own (the
    bootstrap then resamples seed-events: the curves and intervals show the seeds
    together, where finding 8 averages over them)."""
    tables = {}
    for run, source in points.items():
        if not isinstance(source, Mapping):
            tables[run] = _read(source)
            continue
        seeds = {seed: _read(each) for seed, each in source.items()}
        if len(seeds) == 1:
            tables[run] = next(iter(seeds.values()))
            continue
        tables[run] = pd.concat(
            [table.assign(event=[f"{seed}/{event}" for event in table["event"]])
             for seed, table in seeds.items()], ignore_index=True)
    return tables


def group_intervals(groups: pd.DataFrame, points: Mapping[str, pd.DataFrame],
                    resamples: int = RESAMPLES, seed: int = SEED) -> pd.DataFrame:
    """Panel b's rows (``groups``: the instability table's groups at the last
    fine-tuning checkpoint) with the 95 % bootstrap interval over events of each
    group's mean instability, from the run's analysed points (NaN where the run has no
    points table)."""
    low, high = [], []
    for row in groups.itertuples(index=False):
        table = points.get(row.run)
        interval = (math.nan, math.nan)
        if table is not None:
            chosen = (table["semantic"] == LEARNED_CLASSES.index(row.group)
                      if row.grouping == CLASS and row.group in LEARNED_CLASSES
                      else table["location"] == row.group)
            if chosen.any():
                interval = mean_instability(table, chosen, resamples, seed).interval()
        low.append(interval[0])
        high.append(interval[1])
    return groups.assign(instability_ci_low=low, instability_ci_high=high)


def point_bins(instability: pd.DataFrame, points: Mapping[str, str | pd.DataFrame],
               resamples: int = RESAMPLES, seed: int = SEED) -> pd.DataFrame:
    """Panel c's rows: per run of ``points`` (run -> its points.parquet at the last
    fine-tuning checkpoint, path or table), the binned mean instability of every point
    and of each location, with the run's Spearman correlation of A and instability, its
    bootstrap interval over events and the events and points it rests on."""
    final = final_finetune(instability, "instability table")
    known = final.drop_duplicates("run").set_index("run")
    frames = []
    for run, table in _point_tables(points).items():
        if run not in known.index:
            raise FigureError(f"points of run {run!r}, which the instability table lacks "
                              f"at a fine-tuning checkpoint; runs: {', '.join(known.index)}")
        table = table.dropna(subset=["equivariance_mse", "instability"])
        if table.empty:
            continue  # nothing to draw
        found = correlation(table, resamples, seed)
        for curve in CURVES:
            chosen = table if curve == ALL_POINTS else table[table["location"] == curve]
            bins = binned(chosen, BINS[curve])
            frames.append(bins.assign(
                panel="c", run=run, augmentation=known.loc[run, "augmentation"],
                phase=known.loc[run, "phase"], step=known.loc[run, "step"], grouping="curve",
                group=curve, group_label=CURVE_LABELS[curve], spearman=found.value,
                spearman_ci_low=found.low, spearman_ci_high=found.high,
                n_events=found.n_events, run_points=found.n_points))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def data(spectrum: pd.DataFrame, instability: pd.DataFrame,
         points: Mapping[str, str | pd.DataFrame] | None = None,
         resamples: int = RESAMPLES, seed: int = SEED) -> pd.DataFrame:
    """Exactly what is plotted: panel a's heatmap cells, panel b's points (with their
    bootstrap intervals over events, figures.bootstrap) and panel c's bins
    (``points``: run -> its points.parquet at the last fine-tuning checkpoint; none: no
    panel c and no intervals)."""
    points_tables = _point_tables(dict(points or {}))
    final = final_finetune(spectrum, "spectrum table")
    final = sort_rows(final, {"run": run_order(final), "layer": layer_order(final["layer"]),
                              "o3_sigma": [1, -1]}, then=["o3_lambda"])
    cells = heatmap.cells(final, ["run", "augmentation", "phase", "step"])
    cells = cells.assign(panel="a", layer_label=cells["layer"].map(style.layer_label))
    points = final_finetune(instability, "instability table").assign(panel="b")
    # a group without points (a class absent from the analysed events) has nothing to
    # draw, so it is neither drawn nor listed in the legend
    points = points[points["n_points"] > 0]
    points = sort_rows(points, {"grouping": [CLASS], "group": [*style.CLASSES, *style.LOCATIONS],
                                "run": run_order(points)})
    points["group_label"] = points["group"].map(style.group_label)
    points = group_intervals(points, points_tables, resamples, seed)
    frames = [cells, points]
    if points_tables:
        frames.append(point_bins(instability, points_tables, resamples, seed))
    return pd.concat([f for f in frames if len(f)], ignore_index=True).reindex(
        columns=COLUMNS)


def _group_color(group: str, k: int):
    return style.GROUP_COLORS.get(group, style.colors(10)[(6 + k) % 10])


def _instability(fig, points: pd.DataFrame) -> None:
    ax = fig.subplots()
    runs = run_order(points)
    styles = style.run_styles(runs)
    augmentation = dict(zip(points["run"], points["augmentation"], strict=False))
    groups = list(dict.fromkeys(zip(points["grouping"], points["group"], strict=True)))
    handles = []
    for k, (grouping, group) in enumerate(groups):
        color = _group_color(group, k)
        filled = grouping == CLASS
        face = color if filled else "none"
        for run in runs:
            row = points[(points["group"] == group) & (points["grouping"] == grouping)
                         & (points["run"] == run)]
            if len(row):
                ax.scatter(row["equivariance_rmse"], row["instability"], s=MARKER_AREA,
                           marker=styles[run]["marker"], facecolors=face, edgecolors=color,
                           linewidths=0.9, zorder=3)
                # the 95 % bootstrap interval over events (none without points)
                style.interval_bars(ax, row["equivariance_rmse"], row["instability"],
                                    row["instability_ci_low"], row["instability_ci_high"],
                                    color=color, linewidth=0.7, alpha=0.7, zorder=2)
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=4,
                              markerfacecolor=face, markeredgecolor=color,
                              markeredgewidth=0.9, label=style.group_label(group)))
    run_handles = [Line2D([], [], marker=styles[run]["marker"], linestyle="",
                          markersize=4, color="0.3",
                          label=style.run_label(run, augmentation[run])) for run in runs]
    style.log_axis(ax, "x")
    if (points["instability"] > 0).all():
        style.log_axis(ax, "y")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel("equivariance RMSE of the class probabilities")
    ax.set_ylabel("instability (grid-weighted\nshare of orientations;\n"
                  "bars: 95 % CI over events)")
    fig.legend(handles=handles, loc="outside right center", title="group")
    fig.legend(handles=run_handles, loc="outside lower center", ncols=1)
    style.panel_label(fig, "b")


#: curve -> (colour, marker face filled): the locations as in panel b (hollow), every
#: point in a colour no class uses
CURVE_STYLES = {ALL_POINTS: (style.colors(10)[1], True),
                "branching": (style.GROUP_COLORS["branching"], False),
                "track segment": (style.GROUP_COLORS["track segment"], False)}


def _number(value: float) -> str:
    return "—" if not math.isfinite(value) else f"{value:.2f}"


def correlation_title(row) -> str:
    """A panel's title: the run, the Spearman correlation with its bootstrap interval,
    and the events and points it rests on."""
    interval = ("" if not (math.isfinite(row["spearman_ci_low"])
                           and math.isfinite(row["spearman_ci_high"]))
                else f" [{_number(row['spearman_ci_low'])}, {_number(row['spearman_ci_high'])}]")
    return (f"{row['run']}\nSpearman ρ = {_number(row['spearman'])}{interval}\n"
            f"{_count(row['n_events'], 'event')}, {_count(row['run_points'], 'point')}")


def _count(n, noun: str) -> str:
    return f"{int(n)} {noun}{'' if int(n) == 1 else 's'}"


def _correlations(fig, bins: pd.DataFrame) -> None:
    """Panel c: per run, the binned mean instability against the equivariance RMSE of
    the points, per curve, with standard errors."""
    runs = run_order(bins)
    columns = min(PANEL_COLUMNS, len(runs))
    rows = math.ceil(len(runs) / columns)
    axes = np.atleast_1d(fig.subplots(rows, columns, sharex=True, sharey=True,
                                      squeeze=False)).ravel()
    low = bins["rmse_low"].min()
    # log whenever it can be: a linear axis of small values carries an offset text
    # (x 1e-5) that sits on the axis label
    log_x = low > 0
    log_y = bool((bins["instability"] > 0).all())
    drawn = []
    for ax, run in zip(axes, runs, strict=False):
        rows_of_run = bins[bins["run"] == run]
        for curve in CURVES:
            chosen = rows_of_run[rows_of_run["group"] == curve].sort_values("bin")
            if chosen.empty:
                continue
            color, filled = CURVE_STYLES[curve]
            ax.plot(chosen["equivariance_rmse"], chosen["instability"], marker="o",
                    markersize=2.6, linewidth=0.8, color=color,
                    markerfacecolor=color if filled else "white", markeredgewidth=0.7,
                    label=CURVE_LABELS[curve], zorder=3)
            style.error_bars(ax, chosen["equivariance_rmse"], chosen["instability"],
                             chosen["instability_se"], color=color)
            drawn.append(curve)
        ax.set_title(correlation_title(rows_of_run.iloc[0]), fontsize=style.FONT_SIZE - 1)
    for ax in axes[len(runs):]:
        ax.remove()  # an empty slot draws nothing
    kept = axes[:len(runs)]
    for ax in kept:
        if log_x:
            style.log_axis(ax, "x")
        if log_y:
            style.log_axis(ax, "y")
        else:
            ax.set_ylim(bottom=0)
    for ax in kept[-columns:]:  # the lowest panel of each column, which may not be
        ax.xaxis.set_tick_params(which="both", labelbottom=True)  # in the last row
        ax.set_xlabel("per-point equivariance RMSE\nof the class probabilities",
                      fontsize=style.FONT_SIZE - 1)
    for ax in kept[::columns]:
        ax.set_ylabel("mean instability (± s.e.)")
    handles = [Line2D([], [], marker="o", markersize=2.6, linewidth=0.8,
                      color=CURVE_STYLES[c][0],
                      markerfacecolor=CURVE_STYLES[c][0] if CURVE_STYLES[c][1] else "white",
                      label=CURVE_LABELS[c]) for c in CURVES if c in drawn]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles))
    style.panel_label(fig, "c")


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    cells, points = table[table["panel"] == "a"], table[table["panel"] == "b"]
    bins = table[table["panel"] == "c"]
    heights = [heatmap.height(cells["layer"].nunique()),
               2.1 + 0.14 * points["run"].nunique()]
    if len(bins):
        heights.append(0.35 + 1.75 * math.ceil(bins["run"].nunique() / PANEL_COLUMNS))
    fig = style.figure(sum(heights))
    subfigures = fig.subfigures(len(heights), 1, height_ratios=heights)
    heatmap.character_heatmaps(subfigures[0], cells)
    style.panel_label(subfigures[0], "a")
    _instability(subfigures[1], points)
    if len(bins):
        _correlations(subfigures[2], bins)
    return fig
