"""Checks shared by the figure tests: the files a figure writes, and the numbers it
draws read back from matplotlib's artists."""

from __future__ import annotations

import struct

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.patches import Rectangle

from symlearn.figures import style


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def artists(fig):
    """Every number the figure draws: bar heights, line points, scatter offsets and
    heatmap cells, per axes."""
    out = []
    for ax in fig.axes:
        bars = [p.get_height() for p in ax.patches if isinstance(p, Rectangle)]
        lines = [np.asarray(line.get_ydata(), float) for line in ax.get_lines()
                 if len(line.get_xdata())]
        scatters = [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)]
        meshes = [c.get_array() for c in ax.collections if isinstance(c, QuadMesh)]
        out.append(dict(ax=ax, bars=bars, lines=lines, scatters=scatters, meshes=meshes))
    return out


def same(a, b):
    np.testing.assert_allclose(np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float)),
                               rtol=1e-12, atol=0)


def check_written_figure(module, paths) -> None:
    """A PDF, a non-blank PNG of single-column width at the style's DPI, the CSV the
    figure redraws from, and nothing else left in the folder."""
    assert sorted(p.suffix for p in paths.values()) == [".csv", ".pdf", ".png"]
    assert paths["pdf"].read_bytes()[:5] == b"%PDF-"
    fig = module.plot(pd.read_csv(paths["csv"]))
    width_in, height_in = fig.get_size_inches()
    plt.close(fig)
    assert width_in == style.COLUMN_WIDTH
    assert png_size(paths["png"]) == (round(width_in * style.DPI), round(height_in * style.DPI))
    image = matplotlib.image.imread(paths["png"])[..., :3]
    assert (image.min(axis=-1) < 0.9).mean() > 0.03  # something is drawn
    # no file is left behind but the three outputs
    assert sorted(p.name for p in paths["csv"].parent.iterdir()) == sorted(
        p.name for p in paths.values())
