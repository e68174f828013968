"""fig3: how PET learns the symmetry during training.

(a) test RMSE (as given) and equivariance RMSE against epoch for each output part, one
line style per run; (b) the character fractions of chosen layers and of every output
against epoch: irreps that ever carry at least ``MINOR`` of a layer are drawn, the rest
(and the content above lambda_max) are summed into "other", so each layer's lines sum
to one. Quadrature estimates (A, the fractions) carry their quadrature error as an
error bar, and an open marker where it exceeds the tolerance; with the per-structure
rows, every point also carries its 95 % bootstrap interval over the analysed structures
(capped whiskers: a curve has a few checkpoints). What the lines show is left to the
reader: nothing here is written from a run's results.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..bootstrap import RESAMPLES, SEED, PerInput
from . import style
from .tables import (
    ERRORS,
    QUANTITIES,
    SPECTRUM,
    FigureError,
    augmentations,
    bar_intervals,
    long_errors,
    run_order,
)

INPUTS = {"errors": ERRORS, "spectrum": SPECTRUM}
#: the per-structure rows (structures.parquet), from which the intervals are drawn
PER_INPUT = OPTIONAL = ("structures",)
#: an irrep gets its own line if it reaches this fraction of a layer at some checkpoint
MINOR = 0.02
OTHER = "other"


def fraction_intervals(lines: pd.DataFrame, structures: pd.DataFrame | None,
                       resamples: int, seed: int) -> pd.DataFrame:
    """Panel b's lines with the 95 % bootstrap interval of each fraction over the
    analysed structures; "other" is one minus the layer's drawn irreps, per resample."""
    low, high = np.full(len(lines), np.nan), np.full(len(lines), np.nan)
    if structures is not None:
        inputs = PerInput(structures, resamples, seed)
        drawn = lines[lines["irrep"] != OTHER].groupby(["run", "epoch", "layer"])
        kept = {key: list(zip(g["o3_lambda"].astype(int), g["o3_sigma"].astype(int),
                              strict=True)) for key, g in drawn}
        for k, row in enumerate(lines.itertuples(index=False)):
            found = inputs.at(row.run, row.epoch)
            try:
                if found is None:
                    continue
                if row.irrep == OTHER:
                    drawn_irreps = kept.get((row.run, row.epoch, row.layer), [])
                    low[k], high[k] = (1.0 - found.total_fraction(
                        row.layer, drawn_irreps)).interval()
                else:
                    low[k], high[k] = found.fraction(row.layer, row.o3_lambda,
                                                     row.o3_sigma).interval()
            except KeyError:
                continue
    return lines.assign(ci_low=low, ci_high=high)


def data(errors: pd.DataFrame, spectrum: pd.DataFrame,
         layers: Sequence[str] | None = None, structures: pd.DataFrame | None = None,
         resamples: int = RESAMPLES, seed: int = SEED) -> pd.DataFrame:
    """Exactly what is plotted: panel a's RMSE lines and panel b's fraction lines, each
    point with its bootstrap interval where the per-structure rows are given."""
    lines_a = bar_intervals(long_errors(errors), structures, resamples, seed).assign(
        panel="a")
    if not layers:
        raise FigureError("fig3: name the layers panel b follows (--options '{\"layers\": "
                          "[...]}'); the workflow passes figures.fig3_layers, else the "
                          "last GNN layer, feature and the outputs "
                          "(symlearn.settings.pet_layers.fig3_layers)")
    present, targets = set(spectrum["layer"]), set(errors["target"])
    # an output that no analysed input had (the stress, when none of the test structures
    # is periodic) is in neither table: it has nothing to draw, and is left out
    unanalysed = [x for x in layers if x not in present and x not in targets
                  and (x in style.TARGETS or style.DENSITY.fullmatch(x))]
    if unanalysed:
        print(f"fig3: no analysed input has {', '.join(unanalysed)}; left out",
              file=sys.stderr)
    layers = [x for x in layers if x not in unanalysed]
    unknown = [x for x in layers if x not in present]
    if unknown:
        raise FigureError(f"fig3: layer(s) not in the analysis tables: {', '.join(unknown)}; "
                         f"known: {', '.join(dict.fromkeys(spectrum['layer']))}")
    chosen = spectrum[spectrum["layer"].isin(layers)].copy()
    chosen["irrep"] = [style.irrep_label(lam, s) for lam, s in
                       zip(chosen["o3_lambda"], chosen["o3_sigma"], strict=True)]
    chosen["quadrature_flagged"] = style.flags(chosen["quadrature_flagged"])
    major = chosen.groupby(["layer", "irrep"])["fraction"].transform("max") >= MINOR
    keys = ["run", "augmentation", "epoch", "layer"]
    kept = chosen[major][[*keys, "irrep", "o3_lambda", "o3_sigma", "fraction",
                          "quadrature_error", "quadrature_flagged"]]
    # "other": the minor irreps plus the content above lambda_max, so lines sum to one;
    # its quadrature error is bounded by the sum of theirs (NaN if one is unknown), and it
    # is flagged when any row of its layer is
    minor = chosen.assign(fraction=chosen["fraction"].where(~major, 0.0),
                          quadrature_error=chosen["quadrature_error"].where(~major, 0.0))
    groups = minor.groupby(keys, sort=False)
    other = groups.agg(minor=("fraction", "sum"), residual=("residual", "first"),
                       minor_error=("quadrature_error", lambda e: e.sum(min_count=len(e))),
                       residual_error=("residual_quadrature_error", "first"),
                       quadrature_flagged=("quadrature_flagged", "any")).reset_index()
    other = other.assign(fraction=other["minor"] + other["residual"],
                         quadrature_error=other["minor_error"] + other["residual_error"],
                         irrep=OTHER)[[*keys, "irrep", "fraction", "quadrature_error",
                                       "quadrature_flagged"]]
    lines_b = pd.concat([kept, other], ignore_index=True).assign(panel="b")
    lines_b["layer_label"] = lines_b["layer"].map(style.layer_label)
    order = {layer: i for i, layer in enumerate(layers)}
    lines_b = lines_b.sort_values(["layer", "run", "irrep", "epoch"],
                                  key=lambda c: c.map(order) if c.name == "layer" else c,
                                  kind="stable")
    lines_b = fraction_intervals(lines_b, structures, resamples, seed)
    return pd.concat([lines_a, lines_b], ignore_index=True)[
        ["panel", "run", "augmentation", "epoch", "target", "part", "quantity", "value",
         "unit", "layer", "layer_label", "irrep", "o3_lambda", "o3_sigma", "fraction",
         "quadrature_error", "ci_low", "ci_high", "quadrature_flagged"]]


def _line(ax, x, y, rows: pd.DataFrame, color, line_style: dict) -> None:
    """One line, its bootstrap whiskers, its quadrature error bars and open markers on
    its flagged points."""
    ax.plot(x, y, color=color, **line_style)
    style.interval_bars(ax, x, y, rows["ci_low"], rows["ci_high"], color=color)
    style.error_bars(ax, x, y, rows["quadrature_error"], color=color)
    style.flag_points(ax, x, y, rows["quadrature_flagged"], marker=line_style["marker"],
                      color=color)


def _grid(fig, n: int, ncols: int = 2):
    axes = np.atleast_1d(fig.subplots(math.ceil(n / ncols), ncols, sharex=True)).ravel()
    for ax in axes[n:]:
        ax.axis("off")
    return axes


def _run_legend(ax, runs, styles, augmentation):
    for run in runs:
        ax.plot([], [], color="0.3", linestyle=styles[run]["linestyle"],
                marker=styles[run]["marker"], label=style.run_label(run, augmentation[run]))


def _errors(fig, lines: pd.DataFrame, runs, styles, flagged: bool) -> None:
    parts = list(dict.fromkeys(lines["part"]))
    axes = _grid(fig, len(parts))
    colors = dict(zip(QUANTITIES, style.colors(2), strict=True))
    names = {"as_given": style.AS_GIVEN, "equivariance": style.EQUIVARIANCE}
    for ax, part in zip(axes, parts, strict=False):
        rows = lines[lines["part"] == part]
        for (run, quantity), line in rows.groupby(["run", "quantity"], sort=False):
            _line(ax, line["epoch"], line["value"], line, colors[quantity], styles[run])
        style.log_yaxis(ax)
        ax.set_title(part)
        ax.set_ylabel(f"RMSE ({rows['unit'].iloc[0]})")
    for ax in axes[max(len(parts) - 2, 0):len(parts)]:
        ax.set_xlabel("epoch")
    for quantity, color in colors.items():  # legend entries: metric by colour ...
        axes[0].plot([], [], color=color, label=names[quantity])
    # ... and run by line style
    _run_legend(axes[0], runs, styles, augmentations(lines))
    handles, labels = axes[0].get_legend_handles_labels()
    if flagged:  # the one legend entry of the mark, for both panels
        handles.append(style.flag_handle())
    fig.legend(handles=handles, loc="outside lower center", ncols=2)
    style.panel_label(fig, "a")


def _fractions(fig, lines: pd.DataFrame, runs, styles) -> None:
    layers = list(dict.fromkeys(lines["layer"]))
    irreps = sorted(set(lines["irrep"]) - {OTHER}, key=lambda s: (
        int(re.search(r"λ=(\d+)", s).group(1)), "−" in s)) + [OTHER]
    # "other" in near-black: the palette has a grey of its own
    colors = dict(zip(irreps, style.colors(len(irreps) - 1) + [(0.15, 0.15, 0.15)],
                      strict=True))
    axes = _grid(fig, len(layers) + 1)
    for ax, layer in zip(axes, layers, strict=False):
        rows = lines[lines["layer"] == layer]
        for (run, irrep), line in rows.groupby(["run", "irrep"], sort=False):
            _line(ax, line["epoch"], line["fraction"], line, colors[irrep], styles[run])
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(style.layer_label(layer))
        ax.set_ylabel("fraction")
    for ax in axes[max(len(layers) - 2, 0):len(layers)]:
        ax.set_xlabel("epoch")
        ax.xaxis.set_tick_params(labelbottom=True)
    legend_ax = axes[len(layers)]
    legend_ax.axis("off")
    for irrep, color in colors.items():
        legend_ax.plot([], [], color=color, label=irrep)
    legend_ax.legend(loc="center", ncols=1 if len(irreps) < 7 else 2, title="irrep")
    style.panel_label(fig, "b")


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    lines_a, lines_b = table[table["panel"] == "a"], table[table["panel"] == "b"]
    runs = run_order(table)
    styles = style.run_styles(runs)
    heights = [1.15 * math.ceil(lines_a["part"].nunique() / 2) + 0.55,
               1.15 * math.ceil((lines_b["layer"].nunique() + 1) / 2) + 0.2]
    fig = style.figure(sum(heights))
    top, bottom = fig.subfigures(2, 1, height_ratios=heights)
    _errors(top, lines_a, runs, styles, style.flags(table["quadrature_flagged"]).any())
    _fractions(bottom, lines_b, runs, styles)
    return fig
