"""Reading the analysis tables the figures are drawn from.

The figures never open a model: they read the collected tables of the analyse stage
(one row per run x checkpoint x target irrep, or x layer x irrep) and select from them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import style

#: the columns the figures read from the collected tables of the analyse stage
ERRORS = ["run", "augmentation", "epoch", "target", "o3_lambda", "o3_sigma", "accuracy_rmse",
          "equivariance_rmse", "n_samples"]
SPECTRUM = ["run", "augmentation", "epoch", "layer", "o3_lambda", "o3_sigma", "fraction",
            "residual"]

#: an output part whose reference RMSE is below this vanishes identically (the
#: antisymmetric part of the symmetric stress): it carries no information to plot
VANISHING_RMSE = 1e-10


class FigureError(ValueError):
    """An input table a figure cannot be drawn from (the message names the file)."""


def read_table(path: str | Path, columns: list[str]) -> pd.DataFrame:
    """A CSV table, with a clear error naming the file when it is missing, empty or
    lacks a column."""
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise FigureError(f"{path}: no such table") from None
    except pd.errors.EmptyDataError:
        raise FigureError(f"{path}: the table is empty") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise FigureError(f"{path}: missing column(s) {', '.join(missing)}")
    if table.empty:
        raise FigureError(f"{path}: the table has no rows")
    return table


def run_order(table: pd.DataFrame) -> list[str]:
    """Runs in the order they first appear (the configuration's order)."""
    return list(dict.fromkeys(table["run"]))


def final_checkpoint(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of each run's last checkpoint."""
    last = table.groupby("run")["epoch"].transform("max")
    return table[table["epoch"] == last]


def informative_parts(errors: pd.DataFrame) -> pd.DataFrame:
    """Drop output parts that vanish identically in every run and checkpoint."""
    keys = ["target", "o3_lambda", "o3_sigma"]
    largest = errors.groupby(keys)["accuracy_rmse"].transform("max")
    return errors[largest > VANISHING_RMSE]


def long_errors(errors: pd.DataFrame) -> pd.DataFrame:
    """Accuracy and equivariance RMSE in long form, in plotted units, each row named
    by its output part (``stress trace``) and carrying the ratio equivariance/accuracy."""
    errors = informative_parts(errors)
    n_parts = errors.groupby("target")[["o3_lambda", "o3_sigma"]].apply(
        lambda g: len(g.drop_duplicates()))
    rows = []
    for row in errors.itertuples(index=False):
        unit, factor = style.target_unit(row.target)
        base = dict(run=row.run, augmentation=row.augmentation, epoch=row.epoch,
                    target=row.target, o3_lambda=row.o3_lambda, o3_sigma=row.o3_sigma,
                    part=style.part_label(row.target, row.o3_lambda, row.o3_sigma,
                                          n_parts[row.target]),
                    unit=unit,
                    ratio=row.equivariance_rmse / row.accuracy_rmse)
        rows.append(dict(base, quantity="accuracy", value=row.accuracy_rmse * factor))
        rows.append(dict(base, quantity="equivariance", value=row.equivariance_rmse * factor))
    return pd.DataFrame(rows)


def augmentations(table: pd.DataFrame) -> dict[str, str]:
    """run -> augmentation."""
    return dict(zip(table["run"], table["augmentation"], strict=False))
