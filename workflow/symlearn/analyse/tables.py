"""Tidy tables of an analysis: one row per input x quantity, then the pooled tables.

Per-structure rows keep means over that structure's samples together with the sample
count, so pooling is exact: the RMSE of a set of structures weights each structure by
its samples (docs/symmetry.md), never a plain mean of per-structure RMSEs. Character
fractions are averaged over inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..table_schemas import (
    ERRORS_COLUMNS,
    SPECTRUM_COLUMNS,
    TABLE_COLUMNS,
    with_added_columns,
)

if TYPE_CHECKING:  # torch: the collect jobs read tables without it
    from ..symmetry import InputAnalysis

SIGMAS = (1, -1)
#: the pooled values, before the quadrature check adds its columns
POOLED_ERRORS = ERRORS_COLUMNS[:9]
POOLED_SPECTRUM = SPECTRUM_COLUMNS[:5]


def input_rows(analysis: InputAnalysis, info: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of one input's analysis; ``info`` (input id, size, ...) goes on every row."""
    rows = []
    for target, per_irrep in analysis.outputs.items():
        for (lam, sigma), stats in per_irrep.items():
            row = dict(info, table="errors", name=target, o3_lambda=lam, o3_sigma=sigma,
                       n_samples=stats.n_samples,
                       equivariance_mse=float(stats.variance.mean()),
                       # over the orbit: |Pi|^2 + v, per component
                       output_ms=float((stats.mean.square().sum(-1) / stats.n_components
                                        + stats.variance).mean()))
            if stats.squared_error is not None:
                row["accuracy_mse"] = float(stats.squared_error.mean())
                if stats.as_given_squared_error is not None:
                    row["as_given_mse"] = float(stats.as_given_squared_error.mean())
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
        return pd.DataFrame(columns=POOLED_ERRORS)
    errors = errors.assign(
        as_given=errors.get("as_given_mse", np.nan) * errors["n_samples"],
        accuracy=errors.get("accuracy_mse", np.nan) * errors["n_samples"],
        equivariance=errors["equivariance_mse"] * errors["n_samples"],
        reference=errors.get("reference_ms", np.nan) * errors["n_samples"],
        output=errors.get("output_ms", np.nan) * errors["n_samples"])
    every = lambda x: x.sum(min_count=len(x))  # noqa: E731  (NaN unless all known)
    pooled = errors.groupby(["name", "o3_lambda", "o3_sigma"], sort=False).agg(
        as_given=("as_given", every), accuracy=("accuracy", every),
        equivariance=("equivariance", every),
        n_samples=("n_samples", "sum"), reference=("reference", every),
        output=("output", every)).reset_index()
    return pd.DataFrame({
        "target": pooled["name"], "o3_lambda": pooled["o3_lambda"],
        "o3_sigma": pooled["o3_sigma"],
        "rmse_as_given": np.sqrt(pooled["as_given"] / pooled["n_samples"]),
        "accuracy_rmse": np.sqrt(pooled["accuracy"] / pooled["n_samples"]),
        "equivariance_rmse": np.sqrt(pooled["equivariance"] / pooled["n_samples"]),
        "n_samples": pooled["n_samples"].astype(int),
        "reference_rms": np.sqrt(pooled["reference"] / pooled["n_samples"]),
        "output_rms": np.sqrt(pooled["output"] / pooled["n_samples"]),
    })[POOLED_ERRORS]


def spectrum_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Character fractions per layer and irrep, averaged over the inputs (an input
    whose response is zero everywhere has no fractions and is left out)."""
    spectrum = rows[rows["table"] == "spectrum"]
    if spectrum.empty:
        return pd.DataFrame(columns=POOLED_SPECTRUM)
    pooled = spectrum.groupby(["name", "o3_lambda", "o3_sigma"], sort=False).agg(
        fraction=("fraction", "mean"), residual=("residual", "mean")).reset_index()
    return pooled.rename(columns={"name": "layer"})[POOLED_SPECTRUM]


def _check_judged(frame: pd.DataFrame, table: str, entry: Mapping[str, Any]) -> None:
    """A NaN where the figures and the findings read a number fails the collection,
    naming the checkpoint and the row: the test error of a part with a reference, A on
    a row measured on a grid, a character fraction. (Empty where nothing was measured
    is not a NaN: an as-given evaluation has no A.)"""
    if table == "errors":
        checks = {"rmse_as_given": frame["reference_rms"] > 0,
                  "equivariance_rmse": frame["grid_degree"].notna()}
        name = "target"
    elif table == "spectrum":
        checks = {"fraction": pd.Series(True, index=frame.index)}
        name = "layer"
    else:
        return
    for column, measured in checks.items():
        bad = measured & ~np.isfinite(pd.to_numeric(frame[column], errors="coerce"))
        if bad.any():
            row = frame[bad].iloc[0]
            checkpoint = ", ".join(f"{key} {entry[key]}" for key in entry
                                   if key not in TABLE_COLUMNS and key != "augmentation")
            raise DataError(f"{entry[table]} ({checkpoint}): {column} is not a number for "
                            f"{row[name]} ({row['o3_lambda']},{int(row['o3_sigma']):+d}), "
                            f"and {int(bad.sum())} row(s) in all; the figures and the "
                            "findings read it")


#: the per-input tables an entry of the collect step may name beside its checkpoint's
INPUT_TABLES = ("structures",)


def collect_checkpoints(entries: list[Mapping[str, Any]], table: str) -> pd.DataFrame:
    """One table of every run and checkpoint. Each entry gives the path of each
    checkpoint's ``table`` (``errors``, ``spectrum`` or ``instability``) and the keys
    that name the checkpoint (``run``, ``augmentation``, ``epoch``; or ``phase`` and
    ``step``), which lead the columns of the result in the order given."""
    columns = TABLE_COLUMNS[table]
    frames, keys = [], []
    for entry in entries:
        # (an entry also names its per-input rows, a path, which is not a key)
        keys = [k for k in entry if k not in TABLE_COLUMNS and k not in INPUT_TABLES]
        try:
            frame = pd.read_csv(entry[table])
        except FileNotFoundError:
            raise DataError(f"{entry[table]}: no such table") from None
        except pd.errors.EmptyDataError:
            raise DataError(f"{entry[table]}: the table is empty (no header)") from None
        with_added_columns(frame, columns)  # a table written before them
        missing = sorted(set(columns) - set(frame.columns))
        if missing:
            raise DataError(f"{entry[table]}: missing column(s) {', '.join(missing)}")
        _check_judged(frame, table, entry)
        frames.append(frame[columns].assign(**{k: entry[k] for k in keys}))
    if not frames:
        return pd.DataFrame(columns=["run", "augmentation", "epoch", *columns])
    collected = pd.concat(frames, ignore_index=True)
    return collected[[*keys, *columns]]


#: what the collected per-input table keeps of each input's rows: the raw material of
#: the bootstrap intervals (symlearn.bootstrap), pooled as the tables pool them
INPUT_VALUES = ["table", "name", "o3_lambda", "o3_sigma", "n_samples", "as_given_mse",
                "equivariance_mse", "accuracy_mse", "reference_ms", "output_ms", "fraction"]


def main_grid_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """An analysis's per-input rows without those of its quadrature check (the checked
    inputs analysed again on the finer grid, the larger ``grid_degree``)."""
    if "grid_degree" not in frame or frame["grid_degree"].isna().all():
        return frame
    return frame[frame["grid_degree"] == frame["grid_degree"].min()]


def collect_inputs(entries: list[Mapping[str, Any]], table: str = "structures",
                   input: str = "structure") -> pd.DataFrame:
    """One table of the per-input rows (``input``: the column naming an input) of every
    checkpoint, on the main grid, with the keys of its checkpoint leading as in
    :func:`collect_checkpoints`; a value an analysis did not measure is NaN."""
    frames, keys = [], []
    for entry in entries:
        keys = [k for k in entry if k not in TABLE_COLUMNS and k != table]
        try:
            frame = pd.read_parquet(entry[table])
        except FileNotFoundError:
            raise DataError(f"{entry[table]}: no such table") from None
        except Exception as err:  # pyarrow's own errors for a corrupt file
            raise DataError(f"{entry[table]}: unreadable as Parquet "
                            f"({type(err).__name__})") from None
        missing = [c for c in (input, "name", "o3_lambda", "o3_sigma") if c not in frame]
        if missing:
            raise DataError(f"{entry[table]}: missing column(s) {', '.join(missing)}")
        # a purification's rows also name their stage and weight mu
        stages = [c for c in ("stage", "mu") if c in frame]
        frame = main_grid_rows(frame).reindex(columns=[input, *stages, *INPUT_VALUES])
        if frame["table"].isna().all():
            frame["table"] = "errors"
        frames.append(frame.assign(**{k: entry[k] for k in keys}))
    if not frames:
        return pd.DataFrame(columns=[*keys, input, *INPUT_VALUES])
    collected = pd.concat(frames, ignore_index=True)
    return collected[[*keys, *(c for c in frames[0].columns if c not in keys)]]


@dataclass(frozen=True)
class QuadratureCheck:
    """The convergence check of an analysis (``analysis.quadrature_check``): the first
    ``n_inputs`` analysed inputs are analysed again on the grid of degree
    ``degree + delta``; a value whose change exceeds ``tolerance`` (relative for an
    RMSE, absolute for a character fraction, which is already relative) is flagged."""

    degree: int
    n_inputs: int = 1
    delta: int = 4
    tolerance: float = 0.05
    #: analysis.quadrature: the rule family of both grids, or auto
    rule: str = "auto"

    @classmethod
    def from_settings(cls, degree: int, settings: Mapping[str, Any]) -> QuadratureCheck:
        check = settings.get("quadrature_check") or {}
        return cls(int(degree), int(check.get("n_inputs", 1)), int(check.get("delta", 4)),
                   float(check.get("tolerance", 0.05)), settings.get("quadrature", "auto"))

    @property
    def check_degree(self) -> int | None:
        return self.degree + self.delta if self.n_inputs > 0 else None

    def grid(self, degree: int | None = None):
        """The O(3) grid of ``degree`` (the analysis grid's by default) by this rule."""
        from ..symmetry import o3_quadrature

        return o3_quadrature(self.degree if degree is None else degree, self.rule)

    @property
    def grid_rule(self) -> str:
        """The family of the analysis grid's rule."""
        from ..symmetry.rules import choose

        return choose(self.degree, self.rule)[0]

    @property
    def check_rule(self) -> str | None:
        """The family of the check grid's rule (None when the check is off)."""
        from ..symmetry.rules import choose

        return None if self.check_degree is None else choose(self.check_degree, self.rule)[0]

    def checked(self, inputs: list) -> list:
        """The inputs analysed on both grids."""
        return list(inputs[:self.n_inputs])


#: per table, each quadrature-error column and the per-input value it is the change of
#: (an RMSE is compared as the square root of that input's mean square)
CHECKED_VALUES = {
    "errors": {"quadrature_error": ("equivariance_mse", np.sqrt),
               "accuracy_quadrature_error": ("accuracy_mse", np.sqrt)},
    "spectrum": {"quadrature_error": ("fraction", np.asarray),
                 "residual_quadrature_error": ("residual", np.asarray)},
}


def _largest_changes(rows: pd.DataFrame, check_rows: pd.DataFrame | None, table: str,
                     key: str) -> pd.DataFrame:
    """Per (name, o3_lambda, o3_sigma) of ``table``, the largest change of each value of
    CHECKED_VALUES between the two grids over the checked inputs (``key``)."""
    index = ["name", "o3_lambda", "o3_sigma"]
    columns = CHECKED_VALUES[table]
    empty = pd.DataFrame({"name": pd.Series(dtype=object),
                          "o3_lambda": pd.Series(dtype="int64"),
                          "o3_sigma": pd.Series(dtype="int64"),
                          **{c: pd.Series(dtype=float) for c in columns}})
    if check_rows is None or check_rows.empty:
        return empty
    coarse, fine = (frame[frame["table"] == table].set_index([key, *index])
                    for frame in (rows, check_rows))
    if fine.empty:
        return empty
    fine = fine.reindex(coarse.index.intersection(fine.index))
    here = coarse.loc[fine.index]
    change = pd.DataFrame({
        column: np.abs(transform(here.get(value, np.nan)) - transform(fine.get(value, np.nan)))
        for column, (value, transform) in columns.items()}, index=fine.index)
    return change.groupby(index, sort=False).max().reset_index()


def quadrature_errors(rows: pd.DataFrame, check_rows: pd.DataFrame | None, key: str
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per target irrep and per layer irrep, the largest change of each value between
    the grid (``rows``) and the check grid (``check_rows``) over the checked inputs
    (``key``: the column naming an input)."""
    return (_largest_changes(rows, check_rows, "errors", key),
            _largest_changes(rows, check_rows, "spectrum", key))


def checked_tables(rows: pd.DataFrame, check_rows: pd.DataFrame | None, key: str,
                   check: QuadratureCheck, log=print) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pooled errors and spectrum tables with their quadrature errors, grid degrees
    and flags; each flagged value is logged (the run goes on)."""
    errors, spectrum = errors_table(rows), spectrum_table(rows)
    error_changes, spectrum_changes = quadrature_errors(rows, check_rows, key)
    errors = errors.merge(error_changes.rename(columns={"name": "target"}), how="left",
                          on=["target", "o3_lambda", "o3_sigma"])
    spectrum = spectrum.merge(spectrum_changes.rename(columns={"name": "layer"}),
                              how="left", on=["layer", "o3_lambda", "o3_sigma"])
    tolerance = check.tolerance
    # an RMSE at round-off of its output's scale (an irrep that vanishes identically,
    # like a symmetric stress's antisymmetric part) is not flagged for a relative change
    scale = errors[["accuracy_rmse", "reference_rms"]].astype(float).max(axis=1).fillna(0.0)
    floor = 1e-9 * scale.groupby(errors["target"]).transform("max")
    errors["quadrature_flagged"] = (
        (errors["quadrature_error"] > tolerance * errors["equivariance_rmse"] + floor)
        | (errors["accuracy_quadrature_error"] > tolerance * errors["accuracy_rmse"] + floor))
    spectrum["quadrature_flagged"] = ((spectrum["quadrature_error"] > tolerance)
                                      | (spectrum["residual_quadrature_error"] > tolerance))
    for table in (errors, spectrum):
        table["grid_degree"] = check.degree
        table["check_degree"] = pd.array([check.check_degree] * len(table), dtype="Int64")
        table["grid_rule"] = check.grid_rule
        table["check_rule"] = check.check_rule
        table["quadrature_flagged"] = table["quadrature_flagged"].astype(bool)
    log_flags(errors, spectrum, check, log)
    return errors[ERRORS_COLUMNS], spectrum[SPECTRUM_COLUMNS]


def log_flags(errors: pd.DataFrame, spectrum: pd.DataFrame, check: QuadratureCheck,
              log=print) -> None:
    """One line per flagged value, naming the degree to try next."""
    flagged = [f"{r.target} ({r.o3_lambda},{r.o3_sigma:+d}): equivariance RMSE "
               f"{r.equivariance_rmse:.3g} +- {r.quadrature_error:.2g}, orientation-averaged "
               f"RMSE {r.accuracy_rmse:.3g} +- {r.accuracy_quadrature_error:.2g}"
               for r in errors[errors["quadrature_flagged"]].itertuples()]
    flagged += [f"{r.layer} ({r.o3_lambda},{r.o3_sigma:+d}): fraction {r.fraction:.3g} +- "
                f"{r.quadrature_error:.2g}, residual {r.residual:.3g} +- "
                f"{r.residual_quadrature_error:.2g}"
                for r in spectrum[spectrum["quadrature_flagged"]].itertuples()]
    if flagged:
        log(f"WARNING quadrature check: {len(flagged)} value(s) change by more than the "
            f"tolerance {check.tolerance:g} between the grid of degree {check.degree} and "
            f"the check grid of degree {check.check_degree}; the grid does not resolve "
            f"these responses (try grid_degree >= {check.check_degree}):", flush=True)
        for line in flagged:
            log("  " + line, flush=True)
