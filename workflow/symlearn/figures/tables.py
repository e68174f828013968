"""Reading the analysis tables the figures are drawn from.

The figures never open a model: they read the collected tables of the analyse stage
(one row per run x checkpoint x target irrep, or x layer x irrep) and select from them.
PET checkpoints are counted in epochs; PoLAr-MAE checkpoints by (phase, step), the
optimiser steps done within the pre-training or the fine-tuning phase.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from . import style

#: the columns the figures read from the collected tables of the analyse stage
ERRORS = ["run", "augmentation", "epoch", "target", "o3_lambda", "o3_sigma", "accuracy_rmse",
          "equivariance_rmse", "n_samples"]
SPECTRUM = ["run", "augmentation", "epoch", "layer", "o3_lambda", "o3_sigma", "fraction",
            "residual"]
#: ... and of the PoLAr-MAE analysis, whose checkpoints are (phase, step): fine-tuning
#: ones only, but in the spectrum, which has the pre-training ones too
POLARMAE_ERRORS = ["run", "augmentation", "phase", "step", "target", "o3_lambda", "o3_sigma",
                   "accuracy_rmse", "equivariance_rmse", "n_samples"]
POLARMAE_SPECTRUM = ["run", "augmentation", "phase", "step", "layer", "o3_lambda",
                     "o3_sigma", "fraction", "residual"]
INSTABILITY = ["run", "augmentation", "phase", "step", "grouping", "group", "n_points",
               "instability", "unstable_fraction", "equivariance_rmse", "accuracy"]
#: one event classified in two orientations (fig1 (b))
EXAMPLE = ["run", "event", "rotation_deg", "point", "x", "y", "z", "semantic", "predicted",
           "predicted_rotated", "changed"]
PRETRAIN, FINETUNE = "pretrain", "finetune"
#: ... of the PET runs trained on geometric targets (a pseudoscalar, the neighbour-density
#: projections density_l0, density_l1, ...): their edge embedding (cartesian, or
#: solid_harmonics up to edge_lmax; edge_lmax empty for cartesian), and in the errors
#: the RMS of the reference values, so that accuracy_rmse / reference_rms is a relative
#: error (1: no better than predicting zero)
GEOMETRIC_ERRORS = ["run", "augmentation", "edge_embedding", "edge_lmax", "epoch", "target",
                    "o3_lambda", "o3_sigma", "accuracy_rmse", "equivariance_rmse", "n_samples",
                    "reference_rms"]
GEOMETRIC_SPECTRUM = ["run", "augmentation", "edge_embedding", "edge_lmax", "epoch", "layer",
                      "o3_lambda", "o3_sigma", "fraction", "residual"]
PSEUDOSCALAR = "pseudoscalar"
#: ... of the purified runs: one row per run x target irrep x stage (STAGES, in order),
#: the projected stage's equivariance RMSE estimated on random rotations
PURIFICATION = ["run", "augmentation", "edge_embedding", "edge_lmax", "epoch", "target",
                "o3_lambda", "o3_sigma", "stage", "accuracy_rmse", "equivariance_rmse",
                "n_samples", "equivariance_estimate"]
STAGES = ("original", "bias_removed", "projected")

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


def final_finetune(table: pd.DataFrame, name: str = "table") -> pd.DataFrame:
    """The rows of each run's last fine-tuning checkpoint (PoLAr-MAE tables)."""
    tuned = table[table["phase"] == FINETUNE]
    if tuned.empty:
        raise FigureError(f"the {name} holds no fine-tuning checkpoint (phase "
                          f"{FINETUNE!r}); phases: {', '.join(map(str, table['phase'].unique()))}")
    last = tuned.groupby("run")["step"].transform("max")
    return tuned[tuned["step"] == last]


def pretrain_steps(table: pd.DataFrame) -> pd.Series:
    """run -> its last pre-training step (the phase boundary), NaN for a run without
    pre-training checkpoints."""
    steps = table[table["phase"] == PRETRAIN].groupby("run")["step"].max()
    return steps.reindex(run_order(table))


def training_steps(table: pd.DataFrame) -> pd.Series:
    """Pre-training and fine-tuning on one axis: pre-training steps as they are,
    fine-tuning steps offset by the run's last pre-training step."""
    unknown = set(table["phase"]) - {PRETRAIN, FINETUNE}
    if unknown:
        raise FigureError(f"unknown phase(s) {', '.join(map(str, sorted(unknown)))}; "
                          f"known: {PRETRAIN}, {FINETUNE}")
    offset = table["run"].map(pretrain_steps(table)).fillna(0).astype(int)
    return table["step"] + np.where(table["phase"] == FINETUNE, offset, 0)


def layer_order(layers: Iterable[str]) -> list[str]:
    """PoLAr-MAE layers in depth order: the tokenizer, then ``blocks.0``, ``blocks.1``,
    ... (numerically, not as text), then anything else in the order given."""
    layers = list(dict.fromkeys(layers))

    def depth(layer: str) -> tuple[int, int]:
        if layer == "tokenizer":
            return (0, 0)
        block = re.fullmatch(r"blocks\.(\d+)", layer)
        return (1, int(block.group(1))) if block else (2, layers.index(layer))

    return sorted(layers, key=depth)


def sort_rows(table: pd.DataFrame, orders: dict[str, list],
              then: Iterable[str] = ()) -> pd.DataFrame:
    """Rows sorted by each column of ``orders`` in the order its values are listed
    there (values not listed last), then by the columns ``then``."""
    ranks = {column: {v: i for i, v in enumerate(values)} for column, values in orders.items()}
    return table.sort_values(
        [*orders, *then], kind="stable",
        key=lambda c: c.map(ranks[c.name]).fillna(len(ranks[c.name])) if c.name in ranks
        else c)


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
