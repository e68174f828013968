"""fig1: the O(3) quadrature every analysis integrates with, and what a broken
symmetry looks like in one liquid-argon event.

(a) Left, the rotation axes of the grid's proper rotations (where each sends the z
axis) on the sphere in a Mollweide projection, each marker's area proportional to the
summed weight of the rotations sharing that axis; right, each rotation's in-plane angle
gamma about its axis, at a radius that grows with the axis' polar angle beta. Each
rotation is used with and without the inversion, so the grid holds 2 x rotations
elements of O(3). A product rule (Lebedev or Gräf's sphere rule, times D + 1 in-plane
angles) shows as rays; Gräf's SO(3) rule scatters.
(b) One event classified point by point by a fine-tuned PoLAr-MAE, as given (left) and
rotated (right; the rotated copy's prediction drawn on the input-frame points), both in
the plane of the event's two principal axes. Points whose predicted class changes under
the rotation are drawn on top, larger and ringed in red, filled with their class in
each panel: the left and right fills differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from . import style
from .tables import EXAMPLE, FigureError

INPUTS = {"quadrature": ["rotation", "beta", "gamma", "axis_x", "axis_y", "axis_z", "weight",
                         "label", "degree", "exactness", "n_rotations"],
          "example": EXAMPLE}
#: marker area (pt^2) of a node of average weight
MARKER_AREA = 14.0
#: marker areas (pt^2) of panel (b): an event's point, and the ring of a changed one
POINT_AREA, RING_AREA = 1.5, 12.0
AS_GIVEN = "as given"


def data(quadrature: pd.DataFrame, example: pd.DataFrame) -> pd.DataFrame:
    """Exactly what is plotted: panel a's rows (one per node: longitude, latitude,
    weight, marker area; one per in-plane angle) and panel b's (one per point and
    orientation: its position on the two principal axes and its predicted class)."""
    return pd.concat([_quadrature(quadrature), _example(example)], ignore_index=True)


def principal_plane(xyz: np.ndarray) -> np.ndarray:
    """Coordinates (N, 2) of points (N, 3) on their two principal axes, about their
    centroid; each axis' largest component is positive (a fixed sign)."""
    centred = xyz - xyz.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    axes = axes * np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])[:, None]
    return centred @ axes.T


def _example(example: pd.DataFrame) -> pd.DataFrame:
    for key in ("run", "event", "rotation_deg"):
        values = example[key].unique()
        if len(values) != 1:
            raise FigureError(f"fig1: the example table must hold one run, event and "
                              f"rotation; it holds {key} {list(values)}")
    if len(example) < 3:
        raise FigureError(f"fig1: the example event has {len(example)} point(s); a "
                          "projection on its principal axes needs at least 3")
    n_classes = len(style.CLASSES)
    for key in ("semantic", "predicted", "predicted_rotated"):
        bad = sorted(set(example[key]) - set(range(n_classes)))
        if bad:
            raise FigureError(f"fig1: example column {key} holds {bad}, not a class "
                              f"0..{n_classes - 1} ({', '.join(style.CLASSES)})")
    changed = example["predicted"] != example["predicted_rotated"]
    if not (changed == example["changed"].astype(bool)).all():
        raise FigureError("fig1: the example's 'changed' column disagrees with "
                          "predicted != predicted_rotated")
    uv = principal_plane(example[["x", "y", "z"]].to_numpy(float))
    meta = example.iloc[0]
    rotation = f"rotated by {float(meta['rotation_deg']):.0f}°"
    parts = []
    for orientation, column in ((AS_GIVEN, "predicted"), (rotation, "predicted_rotated")):
        parts.append(pd.DataFrame({
            "panel": "b", "element": "point", "index": example["point"],
            "orientation": orientation, "u_voxels": uv[:, 0], "v_voxels": uv[:, 1],
            "predicted_class": example[column].astype(int),
            "class_label": example[column].map(style.group_label),
            "semantic": example["semantic"].astype(int), "changed": changed.to_numpy(),
            "run": meta["run"], "event": meta["event"],
            "rotation_deg": float(meta["rotation_deg"])}))
    return pd.concat(parts, ignore_index=True)


def _quadrature(quadrature: pd.DataFrame) -> pd.DataFrame:
    degrees = quadrature["degree"].unique()
    if len(degrees) != 1:
        raise FigureError(f"fig1: the quadrature table holds several degrees {list(degrees)}")
    meta = quadrature.iloc[0]
    # the rotations sharing an axis (a product rule's D + 1 angles) are one marker
    axes = quadrature[["axis_x", "axis_y", "axis_z"]].round(9)
    grouped = quadrature.groupby([axes[c] for c in axes], sort=False)
    nodes = grouped.agg(weight=("weight", "sum"), rotations=("rotation", "size"),
                        first=("rotation", "first")).reset_index()
    mean = nodes["weight"].mean()
    nodes = pd.DataFrame({
        "panel": "a", "element": "rotation axis", "index": np.arange(len(nodes)),
        "longitude_rad": np.arctan2(nodes["axis_y"], nodes["axis_x"]),
        "latitude_rad": np.arcsin(np.clip(nodes["axis_z"], -1.0, 1.0)),
        "weight": nodes["weight"], "rotations_on_axis": nodes["rotations"],
        "marker_area": MARKER_AREA * nodes["weight"] / mean})
    angles = pd.DataFrame({
        "panel": "a", "element": "in-plane angle", "index": quadrature["rotation"],
        "gamma_rad": np.mod(quadrature["gamma"], 2 * np.pi),
        "radius": 0.25 + quadrature["beta"] / np.pi, "weight": quadrature["weight"]})
    table = pd.concat([nodes, angles], ignore_index=True)
    for key in ("degree", "exactness", "n_rotations"):
        table[key] = int(meta[key])
    table["label"] = meta["label"]
    return table


def _quadrature_panel(fig, table: pd.DataFrame) -> None:
    nodes = table[table["element"] == "rotation axis"]
    angles = table[table["element"] == "in-plane angle"]
    meta = table.iloc[0]
    sphere_ax = fig.add_subplot(1, 3, (1, 2), projection="mollweide")
    gamma_ax = fig.add_subplot(1, 3, 3, projection="polar")
    color_nodes, color_angles = style.colors(2)
    sphere_ax.scatter(nodes["longitude_rad"], nodes["latitude_rad"], s=nodes["marker_area"],
                      color=color_nodes, edgecolors="none", clip_on=False, zorder=3)
    sphere_ax.set_xticks(np.radians([-120, -60, 0, 60, 120]), [])
    sphere_ax.set_yticks(np.radians([-60, -30, 0, 30, 60]))
    sphere_ax.tick_params(labelsize=style.FONT_SIZE - 2)
    sphere_ax.grid(True, linewidth=0.4)
    sphere_ax.set_title(f"{len(nodes)} rotation axes (area ∝ weight)",
                        fontsize=style.FONT_SIZE)
    gamma_ax.scatter(angles["gamma_rad"], angles["radius"], s=MARKER_AREA / 6,
                     color=color_angles, edgecolors="none", zorder=3)
    gamma_ax.set_ylim(0, 1.3)
    gamma_ax.set_yticks([])
    gamma_ax.set_xticks(np.radians([0, 90, 180, 270]), ["0", "π/2", "π", "3π/2"])
    gamma_ax.tick_params(labelsize=style.FONT_SIZE - 1, pad=0)
    gamma_ax.set_title("γ of each rotation\n(radius: its axis' β)", fontsize=style.FONT_SIZE)
    # the counts are in the table (n_rotations: proper and improper)
    fig.suptitle(f"(a)  degree {int(meta['degree'])}: {meta['label'].split(':')[0]}, "
                 f"{len(angles)} rotations × {{E, i}}", x=0.0, ha="left",
                 fontsize=style.FONT_SIZE + 1)


def _example_panel(fig, points: pd.DataFrame) -> None:
    orientations = list(dict.fromkeys(points["orientation"]))
    axes = fig.subplots(1, 2)
    for ax, orientation in zip(axes, orientations, strict=True):
        rows = points[points["orientation"] == orientation]
        changed = rows["changed"].astype(bool)
        # the points that keep their class first, then the ones that change, on top,
        # larger and ringed, filled with their class in this orientation: the two
        # panels differ exactly there
        for subset, area, edge in ((rows[~changed], POINT_AREA, "none"),
                                   (rows[changed], RING_AREA, style.CHANGED_COLOR)):
            for k, name in enumerate(style.CLASSES):
                chosen = subset[subset["predicted_class"] == k]
                if len(chosen):
                    ax.scatter(chosen["u_voxels"], chosen["v_voxels"], s=area,
                               color=style.GROUP_COLORS[name], edgecolors=edge,
                               linewidths=0.35, rasterized=True)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(orientation, fontsize=style.FONT_SIZE)
        ax.set_xlabel("principal axis 1 (voxels)")
    axes[0].set_ylabel("principal axis 2 (voxels)")
    axes[1].tick_params(labelleft=False)
    handles = [Line2D([], [], marker="o", linestyle="", markersize=3.5, markeredgewidth=0,
                      color=style.GROUP_COLORS[name], label=style.group_label(name))
               for name in style.CLASSES]
    handles.append(Line2D([], [], marker="o", linestyle="", markersize=4.5,
                          markerfacecolor="0.75", markeredgewidth=0.8,
                          markeredgecolor=style.CHANGED_COLOR,
                          label="class changed (filled: its class here)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=3,
               columnspacing=1.0, handletextpad=0.2)
    meta = points.iloc[0]
    n = (points["orientation"] == orientations[0]).sum()
    n_changed = int(points.loc[points["orientation"] == orientations[0], "changed"].sum())
    event = meta["event"]
    if isinstance(event, float) and event.is_integer():  # read back beside panel a's NaN
        event = int(event)
    fig.suptitle(f"(b)  event {event} ({meta['run']}): {n_changed} of {n} points "
                 "change class", x=0.0, ha="left", fontsize=style.FONT_SIZE + 1)


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    quadrature, points = table[table["panel"] == "a"], table[table["panel"] == "b"]
    heights = [1.75, 2.1]
    fig = style.figure(sum(heights))
    top, bottom = fig.subfigures(2, 1, height_ratios=heights)
    _quadrature_panel(top, quadrature)
    _example_panel(bottom, points)
    return fig
