"""Reading the analysis tables the figures are drawn from.

The figures never open a model: they read the collected tables of the analyse stage
(one row per run x checkpoint x target irrep, or x layer x irrep) and select from them.
PET checkpoints are counted in epochs; PoLAr-MAE checkpoints by (phase, step), the
optimiser steps done within the pre-training or the fine-tuning phase.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..bootstrap import seed_halfwidth
from ..errors import SymlearnError
from ..table_schemas import (  # noqa: F401 (the tables the figures read)
    ERRORS,
    EXAMPLE,
    FINETUNE,
    GEOMETRIC_ERRORS,
    GEOMETRIC_KEYS,
    GEOMETRIC_SPECTRUM,
    INSTABILITY,
    PET_KEYS,
    POLARMAE_ERRORS,
    POLARMAE_KEYS,
    POLARMAE_SPECTRUM,
    PRETRAIN,
    PURIFICATION,
    SPECTRUM,
    STAGES,
    with_added_columns,
)
from . import style

PSEUDOSCALAR = "pseudoscalar"
#: the quantities of an output part the figures draw: the error on the inputs as
#: given and the equivariance RMSE (A, a quadrature estimate with an error bar)
QUANTITIES = ("as_given", "equivariance")
QUANTITY_COLUMNS = {"as_given": "rmse_as_given", "equivariance": "equivariance_rmse"}

#: an output part whose reference RMSE is below this vanishes identically (the
#: antisymmetric part of the symmetric stress): it carries no information to plot
VANISHING_RMSE = 1e-10


class FigureError(SymlearnError, ValueError):
    """An input table a figure cannot be drawn from (the message names the file)."""




#: the values of a collected table that are averaged over training seeds (a judged
#: number is the mean over seeds); the quadrature errors take the largest seed's
#: (the error of a mean is at most the largest of its terms'), a flag any seed's
SEED_MEANS = ("rmse_as_given", "accuracy_rmse", "equivariance_rmse", "reference_rms",
              "output_rms", "fraction", "residual", "instability", "unstable_fraction",
              "accuracy", "recall_as_given")
SEED_LARGEST = ("quadrature_error", "accuracy_quadrature_error",
                "residual_quadrature_error", "quadrature_flagged")
#: the values whose spread over seeds the figures draw as a band where there are no
#: per-input rows to bootstrap (fig5): ``<value>_seed_half``, the half-width of the
#: 95 % t-interval of the mean over seeds (NaN with one seed)
SEED_BANDS = ("rmse_as_given", "equivariance_rmse", "fraction")


def seed_means(table: pd.DataFrame) -> pd.DataFrame:
    """A collected table with a ``seed`` column as the figures and findings read it: one
    row per checkpoint and part, its values averaged over the seeds that have it (a seed
    whose run failed is simply absent), and ``n_seeds``, how many. A table without the
    column (of an earlier version, or not per checkpoint) is returned as it is."""
    if "seed" not in table:
        return table
    numeric = {c for c in table if pd.api.types.is_numeric_dtype(table[c])}
    values = {c: "mean" for c in SEED_MEANS if c in numeric}
    values.update({c: "max" for c in SEED_LARGEST if c in numeric})
    keys = [c for c in table.columns if c not in values and c != "seed"]
    grouped = table.groupby(keys, dropna=False, sort=False)
    means = grouped.agg({**values, "seed": "nunique"}).rename(columns={"seed": "n_seeds"})
    bands = [c for c in SEED_BANDS if c in values]
    for column in bands:
        means[f"{column}_seed_half"] = grouped[column].agg(seed_halfwidth)
    return means.reset_index()[[*(c for c in table.columns if c != "seed"), "n_seeds",
                                *(f"{c}_seed_half" for c in bands)]]


def read_table(path: str | Path, columns: list[str], may_be_empty: bool = False
               ) -> pd.DataFrame:
    """A CSV table, with a clear error naming the file when it is missing, empty or
    lacks a column (one of :data:`ADDED_COLUMNS` is read as NaN); a table of several
    training seeds is read as their means (:func:`seed_means`). ``may_be_empty``: a
    table of no rows (its header only) is read, for a figure that says what is not
    there (a calculator's spectrum)."""
    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise FigureError(f"{path}: no such table") from None
    except pd.errors.EmptyDataError:
        raise FigureError(f"{path}: the table is empty") from None
    with_added_columns(table, columns)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise FigureError(f"{path}: missing column(s) {', '.join(missing)}")
    if table.empty:
        if may_be_empty:
            return table
        raise FigureError(f"{path}: the table has no rows")
    return seed_means(table)


def read_inputs(path: str | Path) -> pd.DataFrame:
    """A collected per-input table (``structures.parquet``: the rows the bootstrap
    intervals are drawn from), with an error naming the file when it is missing or
    unreadable."""
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise FigureError(f"{path}: no such table") from None
    except Exception as err:  # pyarrow raises its own errors for a corrupt file
        raise FigureError(f"{path}: unreadable as Parquet ({type(err).__name__})") from None


def read_per_input(inputs, names) -> dict[str, pd.DataFrame | None]:
    """The per-input tables ``names`` among ``inputs`` (name -> path), read with
    :func:`read_inputs`; None for each one not given."""
    return {name: read_inputs(inputs[name]) if name in inputs else None for name in names}


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
    """Drop output parts that vanish identically in every run and checkpoint. A part
    without a reference (an exported model's unlabelled structures: no test RMSE) is
    judged by its equivariance RMSE instead."""
    keys = ["target", "o3_lambda", "o3_sigma"]
    largest = errors.groupby(keys)["rmse_as_given"].transform("max")
    equivariance = errors.groupby(keys)["equivariance_rmse"].transform("max")
    return errors[(largest > VANISHING_RMSE)
                  | (largest.isna() & (equivariance > VANISHING_RMSE))]


def quantity_rows(rows: pd.DataFrame, quantity: str, factor) -> pd.DataFrame:
    """``rows`` with one quantity's ``value`` (times ``factor``, the plotted units), and
    its ``quadrature_error`` (same units) and ``quadrature_flagged`` replaced by those of
    that value: only A is a quadrature estimate, the error as given has neither."""
    a = quantity == "equivariance"
    return rows.assign(
        quantity=quantity, value=rows[QUANTITY_COLUMNS[quantity]] * factor,
        quadrature_error=rows["quadrature_error"] * factor if a else np.nan,
        quadrature_flagged=style.flags(rows["quadrature_flagged"]) if a else False)


def long_errors(errors: pd.DataFrame) -> pd.DataFrame:
    """The test RMSE (as given) and the equivariance RMSE in long form, in plotted units,
    each row named by its output part (``stress tr(σ)/√3``) and carrying the ratio
    equivariance / test RMSE (as given)."""
    errors = informative_parts(errors)
    n_parts = errors.groupby("target")[["o3_lambda", "o3_sigma"]].apply(
        lambda g: len(g.drop_duplicates()))
    rows = errors.assign(
        part=[style.part_label(t, lam, s, n_parts[t]) for t, lam, s in
              zip(errors["target"], errors["o3_lambda"], errors["o3_sigma"], strict=True)],
        unit=errors["target"].map(lambda t: style.target_unit(t)[0]),
        ratio=errors["equivariance_rmse"] / errors["rmse_as_given"])
    factor = errors["target"].map(lambda t: style.target_unit(t)[1])
    long = pd.concat([quantity_rows(rows, quantity, factor) for quantity in QUANTITIES])
    # each row's quantities next to each other, in the order of the input
    long = long.sort_index(kind="stable").reset_index(drop=True)
    return long.reindex(columns=[
        "run", "augmentation", "epoch", "target", "o3_lambda", "o3_sigma", "part", "unit",
        "quantity", "value", "quadrature_error", "quadrature_flagged", "ratio", "grid_degree",
        "check_degree", "n_seeds"])


def bar_intervals(long: pd.DataFrame, structures: pd.DataFrame | None,
                  resamples: int, seed: int) -> pd.DataFrame:
    """``long`` (:func:`long_errors`'s rows) with the 95 % bootstrap interval over the
    analysed structures of each value (``ci_low``, ``ci_high``, in plotted units), from
    the per-structure rows (NaN without them, or with one structure)."""
    from ..bootstrap import PerInput

    low, high = np.full(len(long), np.nan), np.full(len(long), np.nan)
    inputs = PerInput(structures, resamples, seed)
    for k, row in enumerate(long.itertuples(index=False)):
        pooled = inputs.at(row.run, row.epoch)
        if pooled is None or not pooled.has(row.target, row.o3_lambda, row.o3_sigma):
            continue
        try:
            estimate = pooled.rmse(row.target, row.o3_lambda, row.o3_sigma,
                                   QUANTITY_COLUMNS[row.quantity])
        except KeyError:  # a quantity this checkpoint did not measure
            continue
        factor = style.target_unit(row.target)[1]
        low[k], high[k] = (factor * end for end in estimate.interval())
    return long.assign(ci_low=low, ci_high=high)


def augmentations(table: pd.DataFrame) -> dict[str, str]:
    """run -> augmentation."""
    return dict(zip(table["run"], table["augmentation"], strict=False))


def whole_output(parts: pd.DataFrame) -> tuple[float, float, float]:
    """(test RMSE as given, equivariance RMSE, its quadrature error) of a whole output
    from its irrep parts, per component (each part weighted by its 2 lambda + 1
    components: the parts are orthonormal, so squared errors add). The error is how far
    the whole moves when every part moves by its own quadrature error."""
    weights = (2 * parts["o3_lambda"] + 1).to_numpy(float)
    total = weights.sum()
    as_given = math.sqrt(np.sum(weights * parts["rmse_as_given"] ** 2) / total)
    a = parts["equivariance_rmse"].to_numpy(float)
    error = np.nan_to_num(parts["quadrature_error"].to_numpy(float))
    equivariance = math.sqrt(np.sum(weights * a**2) / total)
    moved = math.sqrt(np.sum(weights * (a + error) ** 2) / total)
    return as_given, equivariance, moved - equivariance
