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
axis is logarithmic when every instability is positive, linear otherwise.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.lines import Line2D

from . import heatmap, style
from .tables import (
    INSTABILITY,
    POLARMAE_SPECTRUM,
    final_finetune,
    layer_order,
    run_order,
    sort_rows,
)

INPUTS = {"spectrum": POLARMAE_SPECTRUM, "instability": INSTABILITY}
#: the grouping whose groups are drawn filled; the other (locations) is drawn hollow
CLASS = "class"
MARKER_AREA = 18.0


def data(spectrum: pd.DataFrame, instability: pd.DataFrame) -> pd.DataFrame:
    """Exactly what is plotted: panel a's heatmap cells and panel b's points."""
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
    return pd.concat([cells, points], ignore_index=True)[
        ["panel", "run", "augmentation", "phase", "step", "layer", "layer_label", "content",
         "column_label", "o3_lambda", "o3_sigma", "fraction", "quadrature_error",
         "quadrature_flagged", "grid_degree", "check_degree", "grouping", "group",
         "group_label", "n_points", "equivariance_rmse", "instability", "unstable_fraction",
         "accuracy", "recall_as_given"]]


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
    ax.set_ylabel("instability (grid-weighted\nshare of orientations)")
    fig.legend(handles=handles, loc="outside right center", title="group")
    fig.legend(handles=run_handles, loc="outside lower center", ncols=1)
    style.panel_label(fig, "b")


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    cells, points = table[table["panel"] == "a"], table[table["panel"] == "b"]
    heights = [heatmap.height(cells["layer"].nunique()),
               2.1 + 0.14 * points["run"].nunique()]
    fig = style.figure(sum(heights))
    top, bottom = fig.subfigures(2, 1, height_ratios=heights)
    heatmap.character_heatmaps(top, cells)
    style.panel_label(top, "a")
    _instability(bottom, points)
    return fig
