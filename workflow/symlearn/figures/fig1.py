"""fig1 (a): the O(3) quadrature every analysis integrates with.

Left, the Lebedev nodes (the rotation axes, i.e. where the z axis is sent) on the
sphere in a Mollweide projection, each marker's area proportional to its weight; right,
the equally spaced in-plane angles gamma applied about every axis. Each (node, gamma)
rotation is used with and without the inversion, so the grid holds
nodes x angles x 2 elements of O(3). Panel (b), one liquid-argon event in two
orientations, comes with the liquid-argon branch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import style
from .tables import FigureError

INPUTS = {"quadrature": ["node", "alpha", "beta", "lebedev_weight", "n_gamma", "degree",
                         "lebedev_order", "n_rotations"]}
#: marker area (pt^2) of a node of average weight
MARKER_AREA = 14.0


def data(quadrature: pd.DataFrame) -> pd.DataFrame:
    """Exactly what is plotted: one row per node (longitude, latitude, weight, marker
    area) and one per in-plane angle."""
    degrees = quadrature["degree"].unique()
    if len(degrees) != 1:
        raise FigureError(f"fig1: the quadrature table holds several degrees {list(degrees)}")
    meta = quadrature.iloc[0]
    mean = quadrature["lebedev_weight"].mean()
    nodes = pd.DataFrame({
        "panel": "a", "element": "lebedev node", "index": quadrature["node"],
        "longitude_rad": quadrature["alpha"], "latitude_rad": np.pi / 2 - quadrature["beta"],
        "weight": quadrature["lebedev_weight"],
        "marker_area": MARKER_AREA * quadrature["lebedev_weight"] / mean})
    n_gamma = int(meta["n_gamma"])
    angles = pd.DataFrame({
        "panel": "a", "element": "in-plane angle", "index": np.arange(n_gamma),
        "gamma_rad": np.linspace(0.0, 2 * np.pi, n_gamma, endpoint=False),
        "weight": 1.0 / n_gamma})
    table = pd.concat([nodes, angles], ignore_index=True)
    for key in ("degree", "lebedev_order", "n_gamma", "n_rotations"):
        table[key] = int(meta[key])
    return table


def plot(table: pd.DataFrame):
    """The figure drawn from :func:`data`'s table alone."""
    nodes = table[table["element"] == "lebedev node"]
    angles = table[table["element"] == "in-plane angle"]
    meta = table.iloc[0]
    fig = style.figure(1.75)
    sphere_ax = fig.add_subplot(1, 3, (1, 2), projection="mollweide")
    gamma_ax = fig.add_subplot(1, 3, 3, projection="polar")
    color_nodes, color_angles = style.colors(2)
    sphere_ax.scatter(nodes["longitude_rad"], nodes["latitude_rad"], s=nodes["marker_area"],
                      color=color_nodes, edgecolors="none", clip_on=False, zorder=3)
    sphere_ax.set_xticks(np.radians([-120, -60, 0, 60, 120]), [])
    sphere_ax.set_yticks(np.radians([-60, -30, 0, 30, 60]))
    sphere_ax.tick_params(labelsize=style.FONT_SIZE - 2)
    sphere_ax.grid(True, linewidth=0.4)
    sphere_ax.set_title(f"{len(nodes)} Lebedev nodes (order {int(meta['lebedev_order'])})",
                        fontsize=style.FONT_SIZE)
    gamma_ax.plot(np.r_[angles["gamma_rad"], angles["gamma_rad"].iloc[:1]],
                  np.ones(len(angles) + 1), color="0.8", linewidth=0.6)
    gamma_ax.scatter(angles["gamma_rad"], np.ones(len(angles)), s=MARKER_AREA,
                     color=color_angles, zorder=3)
    gamma_ax.set_ylim(0, 1.15)
    gamma_ax.set_yticks([])
    gamma_ax.set_xticks(np.radians([0, 90, 180, 270]), ["0", "π/2", "π", "3π/2"])
    gamma_ax.tick_params(labelsize=style.FONT_SIZE - 1, pad=0)
    gamma_ax.set_title(f"{len(angles)} in-plane angles γ", fontsize=style.FONT_SIZE)
    fig.suptitle(f"(a)  degree D = {int(meta['degree'])}: {len(nodes)} × {len(angles)} "
                 f"× {{E, i}} = {int(meta['n_rotations'])} elements of O(3)",
                 x=0.0, ha="left", fontsize=style.FONT_SIZE + 1)
    return fig
