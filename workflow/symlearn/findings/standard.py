"""Findings 1 to 4: PET on energy, forces and stress (A a small part of the error,
augmentation lowering A, low-lambda features with weak sigma = -1 channels, the force
head gaining vector character)."""

from __future__ import annotations

import pandas as pd

from ..bootstrap import (
    Estimate,
    Pooled,
    estimate_of,
)
from ..figures import style
from ..figures.tables import (
    augmentations,
    final_checkpoint,
    informative_parts,
    whole_output,
)
from .verdicts import (
    FORCES,
    OUTPUTS,
    Evidence,
    Verdict,
    epoch_label,
    learned_parts,
    nan_to_zero,
    not_run,
    per_inputs,
    runs_with,
)


def _a_difference(mine: Pooled, theirs: Pooled, part: tuple) -> Estimate:
    return mine.rmse(*part, "equivariance_rmse") - theirs.rmse(*part, "equivariance_rmse")


def _sigma_difference(pooled: Pooled, layer: str, odd, even) -> Estimate:
    return pooled.total_fraction(layer, odd) - pooled.total_fraction(layer, even)


def _vector_gain(before: Pooled, after: Pooled) -> Estimate:
    return after.fraction(FORCES, 1, 1) - before.fraction(FORCES, 1, 1)


def _augmented_runs(table: pd.DataFrame | None, kind: str) -> list[str] | Verdict:
    """The runs of ``table`` trained with O(3) augmentation, or why a finding about
    them is not run."""
    if table is None:
        return not_run(f"no PET {kind} table")
    return runs_with(table, "o3") or not_run("no PET run trained with O(3) augmentation")


def small_equivariance_error(errors: pd.DataFrame | None, structures=None, **_) -> Verdict:
    """1: with augmentation, A < 0.5 x the test RMSE (as given) for energy, forces and
    stress, at each augmented run's last checkpoint."""
    structures = per_inputs(structures)
    runs = _augmented_runs(errors, "errors")
    if isinstance(runs, Verdict):
        return runs
    final, excluded = learned_parts(informative_parts(final_checkpoint(errors)), runs)
    verdict = Verdict(excluded=excluded)
    for run in runs:
        for target in OUTPUTS:
            parts = final[(final["run"] == run) & (final["target"] == target)]
            if parts.empty:
                return not_run(f"run {run} has no {style.target_label(target)} at its last "
                                "checkpoint")
            as_given, a, error = whole_output(parts)
            irreps = list(zip(parts["o3_lambda"], parts["o3_sigma"], strict=True))
            pooled = structures.at(run, parts["epoch"].iloc[0])
            ci = estimate_of(Pooled.whole_ratio, pooled, target, irreps)
            verdict.evidence.append(Evidence(
                style.target_label(target), run, epoch_label(parts["epoch"].iloc[0]),
                "equivariance RMSE / test RMSE (as given), whole output",
                a / as_given, error / as_given, "<", 0.5, ci=ci))
    return verdict


def augmentation_helps(errors: pd.DataFrame | None, structures=None, **_) -> Verdict:
    """2: A with augmentation < A without, for each output part at the last checkpoint
    (every augmented run against every run without augmentation; resampled in pairs
    where both analysed the same structures)."""
    structures = per_inputs(structures)
    if errors is None:
        return not_run("no PET errors table")
    augmented, plain = runs_with(errors, "o3"), runs_with(errors, "none")
    if not augmented or not plain:
        return not_run("needs a PET run with O(3) augmentation and one without; runs: "
                        + ", ".join(f"{r} ({a})" for r, a in augmentations(errors).items()))
    final, excluded = learned_parts(informative_parts(final_checkpoint(errors)),
                                    augmented + plain)
    verdict = Verdict(excluded=excluded)
    for run in augmented:
        for other in plain:
            mine, theirs = final[final["run"] == run], final[final["run"] == other]
            keys = ["target", "o3_lambda", "o3_sigma"]
            pairs = mine.merge(theirs, on=keys, suffixes=("", "_other"))
            for row in pairs.itertuples(index=False):
                # A_aug + its error < A_plain - its error
                error = nan_to_zero(row.quadrature_error) + nan_to_zero(row.quadrature_error_other)
                mine_at = structures.at(run, row.epoch)
                theirs_at = structures.at(other, row.epoch_other)
                part = (row.target, row.o3_lambda, row.o3_sigma)
                ci = estimate_of(_a_difference, mine_at, theirs_at, part)
                verdict.evidence.append(Evidence(
                    f"{style.target_label(row.target)} ({row.o3_lambda},{row.o3_sigma:+d})",
                    f"{run} vs {other}", epoch_label(row.epoch),
                    f"equivariance RMSE of {run} minus that of {other}",
                    row.equivariance_rmse - row.equivariance_rmse_other, error, "<", 0.0,
                    ci=ci))
    if not verdict.evidence:
        return not_run("the augmented and plain runs share no output part")
    return verdict


def low_lambda_features(spectrum: pd.DataFrame | None, errors: pd.DataFrame | None = None,
                        structures=None, **_) -> Verdict:
    """3: in every internal layer of each augmented run's final model, (a) the fraction
    at lambda <= 2 exceeds 0.5 and (b) the sigma = -1 fraction is below the sigma = +1
    fraction."""
    structures = per_inputs(structures)
    runs = _augmented_runs(spectrum, "spectrum")
    if isinstance(runs, Verdict):
        return runs
    outputs = set(OUTPUTS) | (set(errors["target"]) if errors is not None else set())
    final = final_checkpoint(spectrum)
    final = final[~final["layer"].isin(outputs)]
    verdict = Verdict()
    for run in runs:
        rows = final[final["run"] == run]
        if rows.empty:
            return not_run(f"run {run} has no internal layer in the spectrum table")
        for layer, group in rows.groupby("layer", sort=False):
            checkpoint = epoch_label(group["epoch"].iloc[0])
            error = group["quadrature_error"].fillna(0.0)
            low = group["o3_lambda"] <= 2
            odd = group["o3_sigma"] == -1
            irreps = {mask: list(zip(group.loc[rows_of, "o3_lambda"],
                                     group.loc[rows_of, "o3_sigma"], strict=True))
                      for mask, rows_of in (("low", low), ("odd", odd), ("even", ~odd))}
            pooled = structures.at(run, group["epoch"].iloc[0])
            verdict.evidence.append(Evidence(
                f"{layer} (a)", run, checkpoint, "fraction at lambda <= 2",
                float(group.loc[low, "fraction"].sum()), float(error[low].sum()), ">", 0.5,
                ci=estimate_of(Pooled.total_fraction, pooled, layer, irreps["low"])))
            verdict.evidence.append(Evidence(
                f"{layer} (b)", run, checkpoint,
                "sigma = -1 fraction minus sigma = +1 fraction",
                float(group.loc[odd, "fraction"].sum() - group.loc[~odd, "fraction"].sum()),
                float(error.sum()), "<", 0.0,
                ci=estimate_of(_sigma_difference, pooled, layer, irreps["odd"],
                             irreps["even"])))
    return verdict


def force_gains_vector_character(spectrum: pd.DataFrame | None, structures=None,
                                 **_) -> Verdict:
    """4: the (1,+1) fraction of the force output at each augmented run's last checkpoint
    exceeds that at epoch 0 by at least 0.2 (resampled in pairs: one run's checkpoints
    analyse the same structures)."""
    structures = per_inputs(structures)
    runs = _augmented_runs(spectrum, "spectrum")
    if isinstance(runs, Verdict):
        return runs
    vector = spectrum[(spectrum["layer"] == FORCES) & (spectrum["o3_lambda"] == 1)
                      & (spectrum["o3_sigma"] == 1)]
    verdict = Verdict()
    for run in runs:
        rows = vector[vector["run"] == run].sort_values("epoch")
        if len(rows) < 2 or rows["epoch"].iloc[0] != 0:
            return not_run(f"run {run} lacks the force output's spectrum at epoch 0 and "
                            "at a later checkpoint")
        first, last = rows.iloc[0], rows.iloc[-1]
        before, after = structures.at(run, first["epoch"]), structures.at(run, last["epoch"])
        verdict.evidence.append(Evidence(
            "forces (1,+1)", run, f"epoch {int(last['epoch'])} vs epoch 0",
            "gain of the force output's (1,+1) fraction",
            float(last["fraction"] - first["fraction"]),
            nan_to_zero(last["quadrature_error"]) + nan_to_zero(first["quadrature_error"]),
            ">=", 0.2,
            ci=estimate_of(_vector_gain, before, after)))
    return verdict
