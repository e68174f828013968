"""The per-point table of a fine-tuned PoLAr-MAE checkpoint (``points.parquet``, written
by :mod:`symlearn.polarmae.analyse`) and how a point's equivariance error goes with its
classification instability: finding 8 of the claims table and fig4 (c).

Each analysed point carries A, the orbit variance of its class probabilities
(``equivariance_mse``: they should be invariant), and its instability, the grid-weighted
share of orientations whose predicted class differs from that of the symmetrized
prediction. Their association is the Spearman rank correlation pooled over every
analysed point of a run, with a percentile bootstrap interval that resamples whole
events: the points of one event share its tracks, so they are not independent draws.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..bootstrap import Estimate, draw_counts
from .tables import FigureError

#: the columns the correlation and fig4 (c) read
POINTS = ["event", "point", "location", "equivariance_mse", "instability"]
#: bootstrap resamples of the events, the default seed, and the interval's coverage
RESAMPLES, SEED, LEVEL = 1000, 0, 0.95
#: the place a point sits, as the analysis names it ("" elsewhere)
LOCATIONS = ("branching", "track segment")


def read_points(path: str | Path) -> pd.DataFrame:
    """A ``points.parquet``, with an error naming the file when it is missing,
    unreadable (truncated, not Parquet) or lacks a column."""
    try:
        table = pd.read_parquet(path)
    except FileNotFoundError:
        raise FigureError(f"{path}: no such table") from None
    except Exception as err:  # pyarrow raises its own errors for a corrupt file
        raise FigureError(f"{path}: unreadable as Parquet ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else ''})") from None
    missing = [c for c in POINTS if c not in table.columns]
    if missing:
        raise FigureError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def spearman(x, y) -> float:
    """The Spearman rank correlation of ``x`` and ``y`` (scipy's, tied values sharing
    their mean rank). NaN where either is constant."""
    import warnings

    from scipy.stats import ConstantInputWarning, spearmanr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        return float(spearmanr(np.asarray(x, float), np.asarray(y, float)).statistic)


@dataclass(frozen=True)
class Correlation:
    """The pooled Spearman correlation of A and instability, its bootstrap interval
    over events (NaN with fewer than two events), and what it rests on."""

    value: float
    low: float
    high: float
    n_events: int
    n_points: int
    resamples: int
    seed: int
    #: the correlation under each resample (None with fewer than two events)
    draws: np.ndarray | None = field(default=None, compare=False)

    @property
    def estimate(self) -> Estimate:
        """As an :class:`Estimate` (so that several training seeds, analysed on the same
        events and so under the same draws, combine as every other number)."""
        draws = np.empty(0) if self.draws is None else self.draws
        return Estimate(np.concatenate([[self.value], draws]), self.n_events)

    @property
    def basis(self) -> str:
        return f"{self.n_events} events, {self.n_points} points"


def correlation(points: pd.DataFrame, resamples: int = RESAMPLES, seed: int = SEED,
                level: float = LEVEL) -> Correlation:
    """The Spearman correlation of ``equivariance_mse`` and ``instability`` pooled over
    ``points`` (rows with either missing left out), and its ``level`` percentile
    bootstrap interval: ``resamples`` times, as many events as there are drawn with
    replacement (a seeded numpy Generator), their points pooled, the correlation
    recomputed. A resample in which it is undefined (every drawn point equally
    unstable) counts as 0, no association shown."""
    table = points.dropna(subset=["equivariance_mse", "instability"])
    a = table["equivariance_mse"].to_numpy(float)
    instability = table["instability"].to_numpy(float)
    codes, events = pd.factorize(table["event"], sort=True)
    value = spearman(a, instability) if len(table) else math.nan
    low = high = math.nan
    draws = None
    if len(events) >= 2:
        members = [np.flatnonzero(codes == k) for k in range(len(events))]
        rng = np.random.default_rng(seed)
        draws = np.empty(resamples)
        for r in range(resamples):
            chosen = np.concatenate([members[k] for k in rng.integers(0, len(events),
                                                                        len(events))])
            draws[r] = spearman(a[chosen], instability[chosen])
        draws = np.nan_to_num(draws, nan=0.0)
        low, high = (float(v) for v in np.percentile(
            draws, [50 * (1 - level), 50 * (1 + level)]))
    return Correlation(value, low, high, len(events), len(table), resamples, seed, draws)


def mean_instability(points: pd.DataFrame, chosen=None, resamples: int = RESAMPLES,
                     seed: int = SEED) -> Estimate:
    """The mean instability of the ``chosen`` points (a boolean mask over ``points``;
    None: all), under the bootstrap that resamples whole events
    (:func:`symlearn.bootstrap.draw_counts`): a resampled event brings all its points,
    as many times as it is drawn. Two calls on the same events share their draws, so
    their difference is resampled in pairs."""
    known = points["instability"].notna().to_numpy()
    table = points[known]
    codes, events = pd.factorize(table["event"], sort=True)
    weights = np.vstack([np.ones((1, len(events))), draw_counts(list(events), resamples,
                                                                seed)])
    values = table["instability"].to_numpy(float)
    mask = np.ones(len(table), bool) if chosen is None else np.asarray(chosen, bool)[known]
    sums, counts = (np.bincount(codes, weights=w, minlength=len(events))
                    for w in (values * mask, mask.astype(float)))
    # the events that hold chosen points are the inputs this mean rests on (a group
    # seen in one event has no spread over events to measure)
    with np.errstate(divide="ignore", invalid="ignore"):
        return Estimate((weights @ sums) / (weights @ counts), int((counts > 0).sum()))


def excess_instability(points: pd.DataFrame, where: str, resamples: int = RESAMPLES,
                       seed: int = SEED) -> Estimate:
    """The mean instability of the points at ``where`` (a :data:`LOCATIONS` name) minus
    that over all points, resampled by events (finding 8 (b))."""
    return (mean_instability(points, points["location"] == where, resamples, seed)
            - mean_instability(points, None, resamples, seed))


def binned(points: pd.DataFrame, bins: int = 8, min_points: int = 5) -> pd.DataFrame:
    """The mean instability in quantile bins of A (at most ``bins``, each with at least
    ``min_points`` points; ties may merge bins): per bin its edges and median A as
    per-point equivariance RMSE (the square root of A), the mean instability with its
    standard error (the points taken as independent), and its points."""
    table = points.dropna(subset=["equivariance_mse", "instability"])
    columns = ["bin", "rmse_low", "rmse_high", "equivariance_rmse", "instability",
               "instability_se", "n_points"]
    count = min(bins, len(table) // min_points)
    if count < 1:
        return pd.DataFrame(columns=columns)
    rmse = np.sqrt(table["equivariance_mse"].to_numpy(float).clip(min=0.0))
    edges = np.unique(np.quantile(rmse, np.linspace(0.0, 1.0, count + 1)))
    index = np.clip(np.searchsorted(edges, rmse, side="right") - 1, 0, max(len(edges) - 2, 0))
    values = table["instability"].to_numpy(float)
    rows = []
    for k in np.unique(index):
        inside = index == k
        n = int(inside.sum())
        chosen = values[inside]
        rows.append({"bin": len(rows), "rmse_low": float(rmse[inside].min()),
                     "rmse_high": float(rmse[inside].max()),
                     "equivariance_rmse": float(np.median(rmse[inside])),
                     "instability": float(chosen.mean()),
                     "instability_se": float(chosen.std(ddof=1) / math.sqrt(n)) if n > 1
                     else math.nan,
                     "n_points": n})
    return pd.DataFrame(rows, columns=columns)


#: ``--input points_<run>_<seed>=PATH``: the points.parquet of a PoLAr-MAE run's last
#: fine-tuning checkpoint, per training seed (finding 8, fig4, table1)
POINTS_PREFIX = "points_"


def points_by_run(inputs: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """run -> seed -> path from the ``points_<run>_<seed>`` inputs (``points_<run>``:
    one table, of an unnamed seed)."""
    points: dict[str, dict[str, str]] = {}
    for name, path in inputs.items():
        if name.startswith(POINTS_PREFIX):
            run, seed = name[len(POINTS_PREFIX):], ""
            if (found := re.fullmatch(r"(.+)_(\d+)", run)) is not None:
                run, seed = found.groups()
            points.setdefault(run, {})[seed] = path
    return points
