"""Finding 8: PoLAr-MAE's per-point A goes with its classification instability under
rigid rotations, at branching points or on track segments."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from ..bootstrap import (
    RESAMPLES,
    SEED,
    Estimate,
)
from ..figures.pointwise import (
    LOCATIONS,
    POINTS_PREFIX,
    correlation,
    excess_instability,
    read_points,
)
from ..figures.tables import (
    FINETUNE,
    FigureError,
)
from .verdicts import Evidence, Verdict, not_run, runs_with


def points_of(points: Mapping | None, run: str) -> dict[str, pd.DataFrame] | str:
    """The per-point tables of ``run``, per training seed (``points[run]``: a DataFrame
    or the path of a points.parquet, or seed -> one), with its analysed points only; or
    why there are none (the message names the file). A seed whose table is missing is
    left out (its training failed); a corrupt one is named."""
    source = (points or {}).get(run)
    if source is None or (isinstance(source, Mapping) and not source):
        return (f"no points.parquet of run {run} at its last fine-tuning checkpoint "
                f"(--input {POINTS_PREFIX}{run}_SEED=PATH)")
    sources = dict(source) if isinstance(source, Mapping) else {"": source}
    tables = {}
    for seed, each in sources.items():
        try:
            table = each if isinstance(each, pd.DataFrame) else read_points(each)
        except FigureError as err:
            return str(err)
        tables[seed] = table.dropna(subset=["equivariance_mse", "instability"])
    if all(table.empty for table in tables.values()):
        return f"run {run}: its points table holds no analysed point"
    return {seed: table for seed, table in tables.items() if not table.empty}


def unstable_where_a_is_high(instability: pd.DataFrame | None,
                             points: Mapping | None = None, resamples: int = RESAMPLES,
                             seed: int = SEED, **_) -> Verdict:
    """8: at each augmented PoLAr-MAE run's last fine-tuning checkpoint, over every
    analysed point (``points``: run -> its points.parquet, path or table):
    (a) the Spearman rank correlation of a point's A (the orbit variance of its class
    probabilities) and its instability is positive, with its 95 % percentile bootstrap
    interval over events (:func:`symlearn.figures.pointwise.correlation`) above 0 (an
    interval that straddles 0: inconclusive);
    (b) the mean instability at branching points or on track segments, whichever is
    larger, exceeds the mean over all points."""
    if instability is None:
        return not_run("no PoLAr-MAE instability table")
    runs = runs_with(instability, "o3")
    if not runs:
        return not_run("no PoLAr-MAE run trained with O(3) augmentation")
    tuned = instability[instability["phase"] == FINETUNE]
    verdict, bases = Verdict(), []
    for run in runs:
        steps = tuned.loc[tuned["run"] == run, "step"]
        if steps.empty:
            return not_run(f"run {run} has no fine-tuning checkpoint in the instability "
                            "table")
        checkpoint = f"fine-tuning step {int(steps.max())}"
        tables = points_of(points, run)
        if isinstance(tables, str):
            return not_run(tables)
        # per training seed (each analysed on the same events, so under the same
        # draws), then their mean (symlearn.bootstrap.Estimate)
        found = {s: correlation(table, resamples, seed) for s, table in tables.items()}
        first = next(iter(found.values()))
        seeds = f", {len(found)} seeds" if len(found) > 1 else ""
        verdict.evidence.append(Evidence(
            "(a) A vs instability", run, checkpoint,
            f"Spearman rank correlation of per-point A and instability, pooled over "
            f"{first.basis}{seeds}; interval: 95 % percentile bootstrap over events "
            f"({first.resamples} resamples, seed {first.seed})",
            first.value, math.nan, ">", 0.0,
            ci=Estimate.over_seeds({s: f.estimate for s, f in found.items()})))
        # the mean over seeds of each location's mean instability (where it has points)
        means = {where: pd.Series([table.loc[table["location"] == where,
                                             "instability"].mean()
                                   for table in tables.values()]).mean()
                 for where in LOCATIONS}
        means = {where: value for where, value in means.items() if pd.notna(value)}
        if not means:
            return not_run(f"run {run}: no analysed point at a branching point or on a "
                            "track segment")
        where = max(means, key=means.get)
        place = "at branching points" if where == "branching" else "on track segments"
        excess = Estimate.over_seeds({s: excess_instability(table, where, resamples, seed)
                                      for s, table in tables.items()})
        verdict.evidence.append(Evidence(
            f"(b) {where} - all points", run, checkpoint,
            f"mean instability {place} (the larger of the two) minus over all "
            f"{first.n_points} points; interval: 95 % percentile bootstrap over events",
            excess.value, math.nan, ">", 0.0, ci=excess))
        bases.append(f"{run}: {first.basis}{seeds}")
    verdict.basis = "judged on " + "; ".join(bases)
    return verdict
