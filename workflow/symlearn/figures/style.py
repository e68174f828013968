"""The one look every figure shares, and the writer of a figure's three files.

Figures are drawn at single-column width (3.4 in) with 7-8 pt text, so they stay
readable when a journal prints them in one column; the palette is seaborn's
colour-blind-safe one. Labels for targets, layers, irreps and liquid-argon classes live
here so that every figure names things the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

from ..io import atomic_path  # noqa: E402
from ..table_schemas import LEARNED_CLASSES  # noqa: E402

#: single-column width of a two-column journal page (inches)
COLUMN_WIDTH = 3.4
#: resolution of the PNG files (the PDF is vector)
DPI = 300
FONT_SIZE = 7.0
PALETTE = "colorblind"
#: how each PET run is drawn, in the order the configuration lists the runs
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D")

DIMENSIONLESS = "dimensionless"
#: target name -> (label, unit, factor from the analysis' units to the plotted ones)
TARGETS = {
    "energy": ("energy", "meV/atom", 1e3),
    "non_conservative_force": ("forces", "meV/Å", 1e3),
    "non_conservative_stress": ("stress", "meV/Å³", 1e3),
    # the outputs of an exported model (the metatomic family)
    "conservative_force": ("forces −∂E/∂x", "meV/Å", 1e3),
    "conservative_stress": ("stress (virial)", "meV/Å³", 1e3),
    # an ASE calculator's (the calculator family), whatever way it computes them
    "forces": ("forces", "meV/Å", 1e3),
    "stress": ("stress", "meV/Å³", 1e3),
    # the geometric targets (per atom): a pseudoscalar and the neighbour-density
    # projections ``density_l{lambda}`` (matched by DENSITY below), both dimensionless
    "pseudoscalar": ("pseudoscalar", DIMENSIONLESS, 1.0),
}
#: a neighbour-density projection target, ``density_l3``: its lambda
DENSITY = re.compile(r"density_l(\d+)")
#: the edge embeddings of the geometric-target runs -> label
EMBEDDINGS = {"cartesian": "Cartesian", "solid_harmonics": "solid harmonics",
              "soap_bpnn": "SOAP-BPNN control (equivariant)"}
#: the stages of a purified run, in order -> label
STAGES = {"original": "original", "bias_removed": "biases removed",
          "offset_removed": "offset removed", "projected": "projected (symmetrized)"}

#: what an error is: the model on the inputs as given (what a reader calls the test
#: RMSE), the same averaged over the grid's orientations, and A
AS_GIVEN = "test RMSE (as given)"
ORIENTATION_AVERAGED = "orientation-averaged RMSE"
EQUIVARIANCE = "equivariance RMSE"
RELATIVE = "relative test RMSE (as given)"
#: the gids of the error bars (the quadrature error of a value) and of the marks on
#: values whose quadrature error exceeds the configured tolerance, and the mark's legend
ERROR_BAR = "quadrature error"
FLAGGED = "quadrature flagged"
FLAGGED_LABEL = "quadrature error > tolerance"

#: the liquid-argon semantic classes PoLAr-MAE predicts, in label order (0..3)
CLASSES = LEARNED_CLASSES
#: the places a point can sit that the instability tables single out
LOCATIONS = ("branching", "track segment")
#: class or location -> label
GROUP_LABELS = {"shower": "shower", "track": "track", "michel": "Michel electron",
                "delta": "delta ray", "branching": "branching point",
                "track segment": "track segment"}
_PALETTE = sns.color_palette(PALETTE)
#: class or location -> colour; red is kept for CHANGED (the palette's vermillion is
#: left out, too close to it), and the two locations are neutral (drawn hollow)
GROUP_COLORS = {"shower": _PALETTE[0], "track": _PALETTE[2], "michel": _PALETTE[4],
                "delta": _PALETTE[5], "branching": (0.1, 0.1, 0.1),
                "track segment": _PALETTE[7]}
#: the ring around a point whose predicted class changes under a rotation
CHANGED_COLOR = "#d7191c"


def apply() -> None:
    """Set the shared matplotlib/seaborn style (idempotent)."""
    sns.set_theme(context="paper", style="ticks", palette=PALETTE, rc={
        "font.size": FONT_SIZE, "axes.titlesize": FONT_SIZE + 1,
        "axes.labelsize": FONT_SIZE, "xtick.labelsize": FONT_SIZE - 1,
        "ytick.labelsize": FONT_SIZE - 1, "legend.fontsize": FONT_SIZE - 1,
        "legend.title_fontsize": FONT_SIZE, "axes.linewidth": 0.6,
        "lines.linewidth": 1.1, "lines.markersize": 3.0, "xtick.major.width": 0.6,
        "ytick.major.width": 0.6, "xtick.major.size": 2.5, "ytick.major.size": 2.5,
        "figure.dpi": 100, "savefig.dpi": DPI, "pdf.fonttype": 42,
        "figure.constrained_layout.use": True, "legend.frameon": False,
    })


def colors(n: int) -> list:
    """``n`` colours of the shared palette."""
    return sns.color_palette(PALETTE, n)


def figure(height: float, **kwargs) -> plt.Figure:
    """A single-column figure ``height`` inches tall, in the shared style."""
    apply()
    return plt.figure(figsize=(COLUMN_WIDTH, height), layout="constrained", **kwargs)


def panel_label(fig, letter: str) -> None:
    """The bold ``(a)`` in the top-left corner of a panel (a subfigure)."""
    fig.suptitle(f"({letter})", x=0.0, ha="left", fontweight="bold", fontsize=FONT_SIZE + 1)


def log_tick(value: float, _position=None) -> str:
    """A log axis's tick label: plain from 0.001 to 1000, a power of ten beyond (where
    ``%g`` would switch to ``1e+06`` mid-axis)."""
    if value <= 0:
        return ""
    if 1e-3 <= value < 1e4:
        return f"{value:g}"
    exponent = math.floor(math.log10(value) + 1e-9)
    mantissa = value / 10 ** exponent
    if abs(mantissa - 1) < 1e-6:
        return f"$10^{{{exponent}}}$"
    return f"${mantissa:g}\\times10^{{{exponent}}}$"


def log_axis(ax, which: str = "y") -> None:
    """A log ``which`` (x or y) axis labelled by :func:`log_tick`, its minor ticks at 2 and
    5, labelled when the data span less than two decades, so that every panel has
    several labelled ticks: both under one decade, 5 alone from one to two decades
    (where 2 and 5 would crowd a short panel)."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    getattr(ax, f"set_{which}scale")("log")
    axis.set_major_formatter(FuncFormatter(log_tick))
    low, high = getattr(ax.dataLim, f"interval{which}")
    # minor ticks at 2 and 5 only: all eight per decade crowd a short panel into a bar
    axis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
    if low > 0 and high / low < 100:
        labelled = (2, 5) if high / low < 10 else (5,)
        # only these are labelled, whatever minor ticks the axis ends up with (a span
        # under a decade otherwise labels 3, 4, 6, ... and the labels run together)
        axis.set_minor_formatter(FuncFormatter(
            lambda v, _: log_tick(v) if v > 0 and round(v / 10 ** math.floor(math.log10(v)))
            in labelled else ""))
    else:
        axis.set_minor_formatter(NullFormatter())


def log_yaxis(ax) -> None:
    """A log y axis (:func:`log_axis`)."""
    log_axis(ax, "y")


def target_label(target: str) -> str:
    density = DENSITY.fullmatch(target)
    if density:
        return f"density λ={density.group(1)}"
    return TARGETS.get(target, (target.replace("_", " "),))[0]


def target_unit(target: str) -> tuple[str, float]:
    """The plotted unit of a target and the factor from the analysis' units to it
    (targets not listed in ``TARGETS`` are plotted as they are; the density projections
    ``density_l{lambda}`` are dimensionless)."""
    if DENSITY.fullmatch(target):
        return DIMENSIONLESS, 1.0
    _, unit, factor = TARGETS.get(target, ("", "analysis units", 1.0))
    return unit, factor


def irrep_label(lam: int, sigma: int) -> str:
    """``λ=1, σ=+1``: the O(3) irrep of a character fraction or an output part."""
    return f"λ={lam}, σ={'+' if sigma > 0 else '−'}1"


def part_label(target: str, lam: int, sigma: int, n_parts: int) -> str:
    """An output's name, with the irrep when the output has several parts."""
    label = target_label(target)
    if n_parts == 1:
        return label
    if target in ("non_conservative_stress", "conservative_stress"):
        return {(0, 1): f"{label} tr(σ)/√3", (1, -1): f"{label} antisym.",
                (2, 1): f"{label} λ=2"}.get((lam, sigma), f"{label} {irrep_label(lam, sigma)}")
    return f"{label} {irrep_label(lam, sigma)}"


_LAYER_PATTERNS = [
    (r"node_embedders\.(\d+)", r"node embedding \1"),
    (r"edge_embedder", "edge embedding"),
    (r"gnn_layers\.(\d+)\.edge_embedder", r"GNN \1: edge embedding"),
    (r"gnn_layers\.(\d+)\.trans\.layers\.(\d+)_(node|edge)", r"GNN \1: attention \2 (\3)"),
    (r"gnn_layers\.(\d+)_(node|edge)", r"GNN \1: output (\2)"),
    (r"features?", "features (all layers)"),
    (r"mtt::aux::(.+)_last_layer_features", r"readout input: \1"),
]


def layer_label(layer: str) -> str:
    """A readable name for a metatrain module path or output (outputs: ``output: x``),
    or a PoLAr-MAE layer (``blocks.0`` -> ``block 1``)."""
    block = re.fullmatch(r"blocks\.(\d+)", layer)
    if block:
        return f"block {int(block.group(1)) + 1}"
    for pattern, label in _LAYER_PATTERNS:
        match = re.fullmatch(pattern, layer)
        if match:
            text = match.expand(label)
            text = DENSITY.sub(lambda m: target_label(m.group(0)), text)
            for target in TARGETS:
                text = text.replace(target, target_label(target))
            return text
    if layer in TARGETS or DENSITY.fullmatch(layer):
        return f"output: {target_label(layer)}"
    return layer


def embedding_label(edge_embedding: str, edge_lmax=None) -> str:
    """``solid harmonics L ≤ 4``: the edge embedding of a geometric-target run (its
    order, when it has one)."""
    label = EMBEDDINGS.get(edge_embedding, str(edge_embedding).replace("_", " "))
    if edge_lmax is None or pd.isna(edge_lmax):
        return label
    return f"{label} L ≤ {int(edge_lmax)}"


def embedding_key(edge_embedding: str, edge_lmax=None) -> tuple[int, float]:
    """Sort key of edge embeddings: Cartesian first, then by increasing order."""
    kinds = list(EMBEDDINGS)
    kind = kinds.index(edge_embedding) if edge_embedding in kinds else len(kinds)
    return kind, -1.0 if edge_lmax is None or pd.isna(edge_lmax) else float(edge_lmax)


def legend_title(labels: Iterable[str]) -> str:
    """The title of a legend of geometric runs: their edge embeddings, and the
    equivariant control where it is one of them (it is no PET embedding)."""
    control = EMBEDDINGS["soap_bpnn"]
    if any(str(label).startswith(control) for label in labels):
        return "PET edge embedding, or the control"
    return "edge embedding"


def embedding_labels(runs: Iterable[tuple]) -> dict[str, str]:
    """run -> legend label, from (run, edge_embedding, edge_lmax) tuples: runs sorted by
    their embedding (:func:`embedding_key`, ties in the order given), each labelled by
    its embedding, and by its name too where runs share an embedding."""
    first = {}
    for run, embedding, lmax in runs:
        first.setdefault(run, (embedding, lmax))
    order = sorted(first, key=lambda run: embedding_key(*first[run]))
    labels = {run: embedding_label(*first[run]) for run in order}
    counts = pd.Series(list(labels.values())).value_counts()
    return {run: label if counts[label] == 1 else f"{label} ({run})"
            for run, label in labels.items()}


def value_axis(ax, values, which: str = "y", span: float = 20.0) -> bool:
    """A log ``which`` axis (:func:`log_axis`) when every value is positive and they span
    more than ``span`` (largest / smallest), else a linear one from 0; call it after
    drawing. Returns whether the axis is logarithmic."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) and (values > 0).all() and values.max() > span * values.min():
        log_axis(ax, which)
        return True
    if which == "y":
        ax.set_ylim(bottom=0)
    else:
        ax.set_xlim(left=0)
    return False


def flags(values) -> np.ndarray:
    """A ``quadrature_flagged`` column as booleans (missing: not flagged)."""
    series = pd.Series(values, dtype=object).map(
        lambda v: str(v).strip().lower() in ("true", "1", "1.0"))
    return series.to_numpy(bool)


def error_bars(ax, x, y, error, horizontal: bool = False, color="0.15",
               linewidth: float = 0.6) -> None:
    """Bars of +- ``error`` about (x, y) where the error is finite (no bar where no
    check ran); their LineCollection has the gid ``ERROR_BAR``."""
    x, y, error = (np.asarray(v, float) for v in (x, y, error))
    keep = np.isfinite(error) & np.isfinite(x) & np.isfinite(y)
    if not keep.any():
        return
    err = {"xerr" if horizontal else "yerr": error[keep]}
    container = ax.errorbar(x[keep], y[keep], fmt="none", ecolor=color,
                            elinewidth=linewidth, capsize=0, zorder=4, **err)
    for collection in container.lines[2]:
        collection.set_gid(ERROR_BAR)


def interval_bars(ax, x, y, low, high, color="0.45", linewidth: float = 0.6,
                  capsize: float = 1.5, alpha: float = 0.6, zorder: float = 1) -> None:
    """Capped whiskers from ``low`` to ``high`` about (x, y): the bootstrap intervals
    (none where an end is NaN; an end on the wrong side of y is drawn at y)."""
    x, y, low, high = (np.asarray(v, float) for v in (x, y, low, high))
    keep = np.isfinite(low) & np.isfinite(high) & np.isfinite(x) & np.isfinite(y)
    if not keep.any():
        return
    ax.errorbar(x[keep], y[keep], yerr=[np.clip(y[keep] - low[keep], 0, None),
                                        np.clip(high[keep] - y[keep], 0, None)],
                fmt="none", ecolor=color, elinewidth=linewidth, capsize=capsize,
                alpha=alpha, zorder=zorder)


def flag_points(ax, x, y, flagged, marker: str = "o", color="0.15",
                size: float = 3.4) -> None:
    """Open markers (white face) on the points whose quadrature error exceeds the
    tolerance, drawn over the filled ones; gid ``FLAGGED``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    flagged = flags(flagged)
    if flagged.any():
        ax.plot(x[flagged], y[flagged], linestyle="", marker=marker, markersize=size,
                markerfacecolor="white", markeredgecolor=color, markeredgewidth=0.8,
                gid=FLAGGED, zorder=5)


def flag_handle(marker: str = "o"):
    """The legend entry of :func:`flag_points`' mark."""
    from matplotlib.lines import Line2D

    return Line2D([], [], linestyle="", marker=marker, markersize=3.4,
                  markerfacecolor="white", markeredgecolor="0.15", markeredgewidth=0.8,
                  label=FLAGGED_LABEL)


def layer_colors(n: int) -> list:
    """``n`` colours in order along a sequential, colour-blind-safe scale (viridis
    without its palest end): for layers in depth order."""
    return [plt.get_cmap("viridis")(x) for x in np.linspace(0.0, 0.85, n)]


def group_label(group: str) -> str:
    """``Michel electron``: a class (name or label 0..3) or a location."""
    if isinstance(group, (int, np.integer)):
        group = CLASSES[group]
    return GROUP_LABELS.get(group, group)


def run_styles(runs: Iterable[str]) -> dict[str, dict]:
    """Line style and marker of each run, in order."""
    return {run: {"linestyle": LINESTYLES[i % len(LINESTYLES)],
                  "marker": MARKERS[i % len(MARKERS)]} for i, run in enumerate(runs)}


def run_label(run: str, augmentation: str | None) -> str:
    """``pet-aug (O(3) augmentation)``."""
    names = {"o3": "O(3) augmentation", "none": "no augmentation",
             "euler": "Euler-angle augmentation"}
    return run if not augmentation else f"{run} ({names.get(augmentation, augmentation)})"


def save(fig: plt.Figure, data: pd.DataFrame, prefix: str | Path) -> dict[str, Path]:
    """Write ``prefix``.pdf, .png and .csv (the data plotted), each atomically."""
    prefix = Path(prefix)
    paths = {ext: prefix.with_name(prefix.name + f".{ext}") for ext in ("pdf", "png", "csv")}
    for ext in ("pdf", "png"):
        with atomic_path(paths[ext]) as tmp:
            fig.savefig(tmp, format=ext, dpi=DPI)
    with atomic_path(paths["csv"]) as tmp:
        data.to_csv(tmp, index=False)
    plt.close(fig)
    return paths
