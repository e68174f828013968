"""Checks shared by the figure tests: the files a figure writes, and the numbers it
draws read back from matplotlib's artists, compared position by position (a swapped
run, bar or column must fail)."""

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


def same(drawn, expected, rtol: float = 1e-12):
    """The same numbers in the same positions (NaN where NaN)."""
    drawn, expected = np.asarray(drawn, float), np.asarray(expected, float)
    assert drawn.shape == expected.shape, (drawn.shape, expected.shape)
    np.testing.assert_allclose(drawn, expected, rtol=rtol, atol=0, equal_nan=True)


def same_bars(ax, expected, horizontal: bool = False):
    """The error bars of ``ax`` are ``expected`` (x, y, error), bar by bar in drawing
    order; centre and length are read back from the bar's ends, hence the rounding."""
    same(error_bars(ax, horizontal), np.asarray(expected, float).reshape(-1, 3), rtol=1e-9)


def data_lines(ax, *gids):
    """The lines of ``ax`` that draw data, in drawing order: not the proxies of a legend
    (no points), the open markers on flagged values, nor the lines named by ``gids``."""
    return [line for line in ax.get_lines() if len(line.get_xdata())
            and line.get_gid() not in (style.FLAGGED, *gids)]


def flagged_points(ax) -> np.ndarray:
    """(x, y) of every mark on a flagged value, in drawing order."""
    marks = [np.c_[np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)]
             for line in ax.get_lines() if line.get_gid() == style.FLAGGED]
    return np.concatenate(marks) if marks else np.empty((0, 2))


def error_bars(ax, horizontal: bool = False) -> np.ndarray:
    """(x, y, half-length) of every error bar, in drawing order: the centre and the
    quadrature error it draws."""
    bars = []
    for collection in ax.collections:
        if collection.get_gid() != style.ERROR_BAR:
            continue
        for (x0, y0), (x1, y1) in (np.asarray(s, float) for s in collection.get_segments()):
            if horizontal:
                assert y0 == y1
                bars.append(((x0 + x1) / 2, y0, (x1 - x0) / 2))
            else:
                assert x0 == x1
                bars.append((x0, (y0 + y1) / 2, (y1 - y0) / 2))
    return np.array(bars).reshape(-1, 3)


def hatched(ax) -> list[bool]:
    """Whether each bar of ``ax`` is hatched (marked as flagged), in drawing order."""
    return [bool(p.get_hatch()) for p in ax.patches if isinstance(p, Rectangle)]


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
