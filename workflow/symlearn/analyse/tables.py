"""Tidy tables of an analysis: one row per input x quantity, then the pooled tables.

Per-structure rows keep means over that structure's samples together with the sample
count, so pooling is exact: the RMSE of a set of structures weights each structure by
its samples (docs/symmetry.md), never a plain mean of per-structure RMSEs. Character
fractions are averaged over inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..data.extxyz import DataError
from ..symmetry import InputAnalysis

ERRORS_COLUMNS = ["target", "o3_lambda", "o3_sigma", "accuracy_rmse", "equivariance_rmse",
                  "n_samples", "reference_rms"]
SPECTRUM_COLUMNS = ["layer", "o3_lambda", "o3_sigma", "fraction", "residual"]
INSTABILITY_COLUMNS = ["grouping", "group", "n_points", "instability", "unstable_fraction",
                       "equivariance_rmse", "accuracy"]
#: accuracy and A of a checkpoint's readouts as trained and after each purification
#: stage (symlearn.analyse.purification)
PURIFICATION_COLUMNS = [*ERRORS_COLUMNS[:3], "stage", *ERRORS_COLUMNS[3:],
                        "equivariance_estimate"]
#: the per-checkpoint tables that are collected, and their columns
TABLE_COLUMNS = {"errors": ERRORS_COLUMNS, "spectrum": SPECTRUM_COLUMNS,
                 "instability": INSTABILITY_COLUMNS, "purification": PURIFICATION_COLUMNS}
SIGMAS = (1, -1)


def input_rows(analysis: InputAnalysis, info: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of one input's analysis; ``info`` (input id, size, ...) goes on every row."""
    rows = []
    for target, per_irrep in analysis.outputs.items():
        for (lam, sigma), stats in per_irrep.items():
            row = dict(info, table="errors", name=target, o3_lambda=lam, o3_sigma=sigma,
                       n_samples=stats.n_samples,
                       equivariance_mse=float(stats.variance.mean()))
            if stats.squared_error is not None:
                row["accuracy_mse"] = float(stats.squared_error.mean())
                row["symmetrized_mse"] = float(stats.symmetrized_squared_error.mean())
                row["reference_ms"] = float(stats.reference_square.mean())
            rows.append(row)
    for layer, spectrum in analysis.spectra.items():
        fractions = spectrum.fractions()
        residual = float(1.0 - fractions.sum()) if np.isfinite(fractions).all() else np.nan
        n, c = spectrum.norm.shape
        for lam in range(spectrum.lambda_max + 1):
            for s, sigma in enumerate(SIGMAS):
                rows.append(dict(info, table="spectrum", name=layer, o3_lambda=lam,
                                 o3_sigma=sigma, n_samples=n, n_channels=c,
                                 fraction=float(fractions[lam, s]), residual=residual,
                                 norm=float(spectrum.norm.sum())))
    return rows


def errors_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Accuracy and equivariance RMSE per target irrep, pooled by sample count."""
    errors = rows[rows["table"] == "errors"]
    if errors.empty:
        return pd.DataFrame(columns=ERRORS_COLUMNS)
    errors = errors.assign(
        accuracy=errors.get("accuracy_mse", np.nan) * errors["n_samples"],
        equivariance=errors["equivariance_mse"] * errors["n_samples"],
        reference=errors.get("reference_ms", np.nan) * errors["n_samples"])
    every = lambda x: x.sum(min_count=len(x))  # noqa: E731  (NaN unless all known)
    pooled = errors.groupby(["name", "o3_lambda", "o3_sigma"], sort=False).agg(
        accuracy=("accuracy", every), equivariance=("equivariance", "sum"),
        n_samples=("n_samples", "sum"), reference=("reference", every)).reset_index()
    return pd.DataFrame({
        "target": pooled["name"], "o3_lambda": pooled["o3_lambda"],
        "o3_sigma": pooled["o3_sigma"],
        "accuracy_rmse": np.sqrt(pooled["accuracy"] / pooled["n_samples"]),
        "equivariance_rmse": np.sqrt(pooled["equivariance"] / pooled["n_samples"]),
        "n_samples": pooled["n_samples"].astype(int),
        "reference_rms": np.sqrt(pooled["reference"] / pooled["n_samples"]),
    })[ERRORS_COLUMNS]


def spectrum_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Character fractions per layer and irrep, averaged over the inputs (an input
    whose response is zero everywhere has no fractions and is left out)."""
    spectrum = rows[rows["table"] == "spectrum"]
    if spectrum.empty:
        return pd.DataFrame(columns=SPECTRUM_COLUMNS)
    pooled = spectrum.groupby(["name", "o3_lambda", "o3_sigma"], sort=False).agg(
        fraction=("fraction", "mean"), residual=("residual", "mean")).reset_index()
    return pooled.rename(columns={"name": "layer"})[SPECTRUM_COLUMNS]


def collect_checkpoints(entries: list[Mapping[str, Any]], table: str) -> pd.DataFrame:
    """One table of every run and checkpoint. Each entry gives the path of each
    checkpoint's ``table`` (``errors``, ``spectrum`` or ``instability``) and the keys
    that name the checkpoint (``run``, ``augmentation``, ``epoch``; or ``phase`` and
    ``step``), which lead the columns of the result in the order given."""
    columns = TABLE_COLUMNS[table]
    frames, keys = [], []
    for entry in entries:
        keys = [k for k in entry if k not in TABLE_COLUMNS]
        frame = pd.read_csv(entry[table])
        missing = sorted(set(columns) - set(frame.columns))
        if missing:
            raise DataError(f"{entry[table]}: missing column(s) {', '.join(missing)}")
        frames.append(frame[columns].assign(**{k: entry[k] for k in keys}))
    if not frames:
        return pd.DataFrame(columns=["run", "augmentation", "epoch", *columns])
    collected = pd.concat(frames, ignore_index=True)
    return collected[[*keys, *columns]]
