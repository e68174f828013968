"""fig7: how far up in angular momentum can PET learn, depending on its edge embedding?

Targets of increasing angular momentum, the neighbour-density projections
c_{lambda mu}(i) = sum_j g(r_ij) Y_{lambda mu}(r_ij / |r_ij|), lambda = 0, 1, ..., are
learned by PET runs that differ in their edge embedding: PET's standard Cartesian one
(a linear map of x, y, z, r) or solid spherical harmonics of the edge vector up to L.
At each run's last checkpoint, the relative test RMSE (as given) of each projection
(test RMSE of the model on the inputs as they are / RMS of the reference values: 1 is
no better than predicting zero, the dashed line)
against lambda, one line per run labelled by its embedding; the order L of each
solid-harmonics embedding is marked by a dotted vertical line in its colour. The RMSE
axis is logarithmic when the values span
more than a factor of 20.
"""

from __future__ import annotations

import pandas as pd
from matplotlib.transforms import blended_transform_factory

from . import style
from .fig6 import RUN_COLUMNS, relative_errors, run_labels, run_styles, zero_predictor_line
from .tables import GEOMETRIC_ERRORS, FigureError, final_checkpoint, sort_rows

INPUTS = {"geometric_errors": GEOMETRIC_ERRORS}
#: the gid of the dotted line at a solid-harmonics embedding's order L
EMBEDDING_ORDER = "embedding order"


def data(geometric_errors: pd.DataFrame) -> pd.DataFrame:
    """Exactly what is plotted: one point per run and density projection, at the run's
    last checkpoint (``value``: the relative test RMSE as given)."""
    density = geometric_errors[geometric_errors["target"].map(
        lambda t: style.DENSITY.fullmatch(str(t)) is not None)]
    if density.empty:
        raise FigureError("fig7: the geometric errors table holds no density projection "
                          "(density_l0, density_l1, ...); targets: "
                          f"{', '.join(map(str, geometric_errors['target'].unique()))}")
    wrong = density[density["target"] != "density_l" + density["o3_lambda"].astype(str)]
    if len(wrong):
        raise FigureError(f"fig7: target {wrong['target'].iloc[0]} has o3_lambda "
                          f"{wrong['o3_lambda'].iloc[0]}")
    final = final_checkpoint(density)
    labels = run_labels(final)
    points = sort_rows(final, {"run": list(labels)}, then=["o3_lambda"])
    points = points.assign(label=points["run"].map(labels),
                           value=relative_errors(points, "fig7"))
    return points[[*RUN_COLUMNS, "epoch", "target", "o3_lambda", "o3_sigma", "rmse_as_given",
                   "reference_rms", "value"]].reset_index(drop=True)


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    styles = run_styles(table)
    fig = style.figure(2.45 + 0.12 * ((table["run"].nunique() + 2) // 2))
    ax = fig.subplots()
    for run, line in table.groupby("run", sort=False):
        ax.plot(line["o3_lambda"], line["value"], label=line["label"].iloc[0], **styles[run])
    zero_predictor_line(ax)
    top = blended_transform_factory(ax.transData, ax.transAxes)
    orders = table.drop_duplicates("run").dropna(subset=["edge_lmax"])
    for row in orders.drop_duplicates("edge_lmax").itertuples(index=False):
        ax.text(row.edge_lmax, 1.01, f"L={int(row.edge_lmax)}", transform=top, ha="center",
                va="bottom", fontsize=style.FONT_SIZE - 1.5, color=styles[row.run]["color"])
    for row in orders.itertuples(index=False):
        ax.axvline(row.edge_lmax, color=styles[row.run]["color"], linestyle=":",
                   linewidth=0.9, gid=EMBEDDING_ORDER, zorder=0)
    lambdas = sorted(table["o3_lambda"].unique())
    ax.set_xticks(lambdas)
    ax.set_xlim(min(lambdas) - 0.4, max(lambdas) + 0.4)
    style.value_axis(ax, [*table["value"], 1.0])
    ax.set_xlabel("λ of the neighbour-density projection")
    ax.set_ylabel(style.RELATIVE.replace(" (", "\n("))
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2,
               title=style.legend_title(labels))
    return fig
