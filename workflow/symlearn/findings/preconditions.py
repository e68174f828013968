"""The preconditions of each finding: every run it reads learned the outputs it is
about (a relative test RMSE as given below the threshold), and for a geometric target,
the exactly equivariant control learned it."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from ..figures import style
from ..figures.tables import (
    FINETUNE,
    PSEUDOSCALAR,
    final_checkpoint,
    run_order,
)
from .geometric import highest_density, learned_by_control
from .verdicts import (
    FORCES,
    LEARNED_BELOW,
    LEARNED_DENSITY_LAMBDA,
    LEARNED_PARTS,
    OUTPUTS,
    STRESS,
    Evidence,
    epoch_label,
    relative_error,
    runs_with,
)


def learned_evidence(final: pd.DataFrame, runs: list[str],
             parts: Mapping[str, tuple[int, int]]) -> list[Evidence]:
    """The relative test RMSE (as given) of each run's ``parts`` (target -> (lambda,
    sigma)) at its last checkpoint; a part a run lacks is absent (a run without
    periodic test structures has no stress)."""
    evidence = []
    for run in runs:
        for target, (lam, sigma) in parts.items():
            rows = final[(final["run"] == run) & (final["target"] == target)
                         & (final["o3_lambda"] == lam) & (final["o3_sigma"] == sigma)]
            rows = rows[rows["reference_rms"] > 0]
            if rows.empty:
                continue
            row = rows.iloc[0]
            evidence.append(Evidence(
                f"{style.target_label(target)} ({lam},{sigma:+d})", run, epoch_label(row["epoch"]),
                "relative test RMSE (as given)", relative_error(row), math.nan, "<",
                LEARNED_BELOW))
    return evidence


def standard_preconditions(errors: pd.DataFrame | None, augmentation: tuple[str, ...],
                            targets=OUTPUTS) -> list[Evidence]:
    if errors is None:
        return []
    runs = [run for kind in augmentation for run in runs_with(errors, kind)]
    return learned_evidence(final_checkpoint(errors), runs,
                    {t: LEARNED_PARTS[t] for t in targets})


def learned_augmented(errors=None, **_) -> list[Evidence]:
    """1, 3: the augmented runs learned energy, forces and stress."""
    return standard_preconditions(errors, ("o3",))


def learned_both(errors=None, **_) -> list[Evidence]:
    """2: the augmented and the plain runs learned energy, forces and stress."""
    return standard_preconditions(errors, ("o3", "none"))


def learned_forces(errors=None, **_) -> list[Evidence]:
    """4: the augmented runs learned the forces."""
    return standard_preconditions(errors, ("o3",), targets=(FORCES,))


def learned_low_densities(geometric_errors=None, **_) -> list[Evidence]:
    """5, 6: every geometric run learned the density projections up to lambda = 2, so a
    failure on the pseudoscalar or at high lambda is the embedding's, not the
    training's."""
    if geometric_errors is None:
        return []
    parts = {f"density_l{lam}": (lam, 1) for lam in range(LEARNED_DENSITY_LAMBDA + 1)}
    return learned_evidence(final_checkpoint(geometric_errors), run_order(geometric_errors), parts)


def learnable_pseudoscalar(geometric_errors=None, **_) -> list[Evidence]:
    """5: the low densities learned by every run, and the pseudoscalar by the control."""
    return (learned_low_densities(geometric_errors)
            + learned_by_control(geometric_errors, PSEUDOSCALAR))


def learnable_high_lambda(geometric_errors=None, **_) -> list[Evidence]:
    """6: the low densities learned by every run, and the highest-lambda density by the
    control."""
    evidence = learned_low_densities(geometric_errors)
    lam = highest_density(geometric_errors)
    if lam is None:
        return evidence
    return evidence + learned_by_control(geometric_errors, f"density_l{lam}")


def learned_stress(purification=None, **_) -> list[Evidence]:
    """7: each purified augmented run learned the stress (as trained, before any
    purification)."""
    if purification is None:
        return []
    original = purification[purification["stage"] == "original"]
    return learned_evidence(original, runs_with(original, "o3"), {STRESS: LEARNED_PARTS[STRESS]})


def learned_classes(instability=None, **_) -> list[Evidence]:
    """8: each augmented PoLAr-MAE run classifies the test points as given better than
    it would by chance: its error rate (1 - the share of points classified right) is
    below :data:`LEARNED_BELOW`."""
    if instability is None:
        return []
    # the classes partition the points: their recalls, weighted by their points, give
    # the share of all points classified right
    tuned = instability[(instability["phase"] == FINETUNE)
                        & (instability["grouping"] == "class") & (instability["n_points"] > 0)]
    evidence = []
    for run in runs_with(tuned, "o3"):
        rows = tuned[tuned["run"] == run]
        rows = rows[rows["step"] == rows["step"].max()]
        right = float((rows["recall_as_given"] * rows["n_points"]).sum()
                      / rows["n_points"].sum())
        evidence.append(Evidence(
            "classes", run, f"fine-tuning step {int(rows['step'].iloc[0])}",
            "error rate as given (1 - share of points classified right)",
            1.0 - right, math.nan, "<", LEARNED_BELOW))
    return evidence
