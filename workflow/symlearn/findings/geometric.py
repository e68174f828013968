"""Findings 5 and 6: the geometric targets (a pseudoscalar needs the solid-harmonics
embedding; high-lambda targets need a high-order one), each judged only where the
exactly equivariant control learns the target."""

from __future__ import annotations

import math

import pandas as pd

from ..bootstrap import (
    Estimate,
    PerInput,
    Pooled,
    estimate_of,
)
from ..figures import style
from ..figures.tables import (
    PSEUDOSCALAR,
    final_checkpoint,
)
from .verdicts import (
    LEARNED_BELOW,
    Evidence,
    Verdict,
    epoch_label,
    not_run,
    per_inputs,
    relative_error,
)


def _relative_ratio(pooled: Pooled, part: tuple, other: Pooled, other_part: tuple
                    ) -> Estimate:
    return pooled.relative(*part) / other.relative(*other_part)


def geometric_runs(errors: pd.DataFrame | None) -> tuple[list[str], list[str]] | Verdict:
    """(Cartesian runs, solid-harmonics runs by increasing L), or "not run" where the
    configuration lacks one of the two."""
    if errors is None:
        return not_run("no run trained on the geometric targets")
    embedding = {r.run: (r.edge_embedding, r.edge_lmax)
                 for r in errors.drop_duplicates("run").itertuples(index=False)}
    cartesian = [run for run, (kind, _) in embedding.items() if kind == "cartesian"]
    harmonics = sorted((run for run, (kind, _) in embedding.items()
                        if kind == "solid_harmonics"), key=lambda run: embedding[run][1])
    if not cartesian or not harmonics:
        return not_run("needs a geometric run with the Cartesian edge embedding and one "
                        "with solid harmonics")
    return cartesian, harmonics


#: the edge_embedding value of a control run in the geometric tables: metatrain's
#: SOAP-BPNN, exactly equivariant (symlearn.pet.control)
CONTROL = "soap_bpnn"


def control_runs(errors: pd.DataFrame | None) -> list[str]:
    """The exactly equivariant control runs of a geometric table."""
    if errors is None:
        return []
    return [r.run for r in errors.drop_duplicates("run").itertuples(index=False)
            if r.edge_embedding == CONTROL]


def no_control(target: str) -> Verdict:
    return not_run(f"no exactly equivariant control run (architecture: soap_bpnn) on "
                    f"the geometric targets, so whether the {target} can be learnt at "
                    "this scale is unknown (config/findings.yaml trains one)")


def highest_density(errors: pd.DataFrame | None) -> int | None:
    """The largest lambda among the density projections of a geometric table, or None."""
    if errors is None:
        return None
    density = errors[errors["target"].map(
        lambda t: style.DENSITY.fullmatch(str(t)) is not None)]
    return None if density.empty else int(density["o3_lambda"].max())


def learned_by_control(geometric_errors: pd.DataFrame | None,
                       target: str) -> list[Evidence]:
    """The control's relative test RMSE of ``target`` at its last checkpoint, which
    must be below :data:`LEARNED_BELOW`: a target no model learns at this scale says
    nothing about PET's embeddings."""
    if geometric_errors is None:
        return []
    final = final_checkpoint(geometric_errors)
    evidence = []
    for run in control_runs(geometric_errors):
        score = final_relative(final, run, target)
        if score is not None:
            evidence.append(Evidence(f"{style.target_label(target)} (control)", run,
                                     score[1], "relative test RMSE (as given)", score[0],
                                     math.nan, "<", LEARNED_BELOW))
    return evidence


def final_relative(final: pd.DataFrame, run: str, target: str) -> tuple[float, str] | None:
    rows = final[(final["run"] == run) & (final["target"] == target)]
    if rows.empty:
        return None
    return relative_error(rows.iloc[0]), epoch_label(rows["epoch"].iloc[0])


def final_rows(final: pd.DataFrame, structures: PerInput, run: str,
                target: str) -> tuple[Pooled | None, tuple]:
    """The pooled rows of ``run``'s last checkpoint and the part ``target`` names."""
    row = final[(final["run"] == run) & (final["target"] == target)].iloc[0]
    return structures.at(run, row["epoch"]), (target, row["o3_lambda"], row["o3_sigma"])


def pseudoscalar_needs_harmonics(geometric_errors: pd.DataFrame | None,
                                 geometric_structures=None, **_) -> Verdict:
    """5: the Cartesian run's relative test RMSE of the pseudoscalar (test RMSE as given
    / RMS of the reference) exceeds 0.5, and the best solid-harmonics run's is below
    0.5 x the Cartesian run's, at the last checkpoints. Judged only where the exactly
    equivariant control learns the pseudoscalar (a precondition)."""
    runs = geometric_runs(geometric_errors)
    if isinstance(runs, Verdict):
        return runs
    if not control_runs(geometric_errors):
        return no_control(style.target_label(PSEUDOSCALAR))
    cartesian, harmonics = runs
    final = final_checkpoint(geometric_errors)
    plain = final_relative(final, cartesian[0], PSEUDOSCALAR)
    scores = {run: final_relative(final, run, PSEUDOSCALAR) for run in harmonics}
    if plain is None or any(score is None for score in scores.values()):
        return not_run("a geometric run has no pseudoscalar at its last checkpoint")
    best = min(scores, key=lambda run: scores[run][0])
    quantity = "relative test RMSE (as given) of the pseudoscalar"
    structures = per_inputs(geometric_structures)
    plain_rows = final_rows(final, structures, cartesian[0], PSEUDOSCALAR)
    best_rows = final_rows(final, structures, best, PSEUDOSCALAR)
    return Verdict([
        Evidence("Cartesian", cartesian[0], plain[1], quantity, plain[0], math.nan, ">", 0.5,
                 ci=estimate_of(Pooled.relative, plain_rows[0], *plain_rows[1])),
        Evidence("best solid harmonics / Cartesian", f"{best} / {cartesian[0]}",
                 scores[best][1], f"ratio of the {quantity}",
                 scores[best][0] / plain[0], math.nan, "<", 0.5,
                 ci=estimate_of(_relative_ratio, *best_rows, *plain_rows))])


def high_lambda_needs_high_order(geometric_errors: pd.DataFrame | None,
                                 geometric_structures=None, **_) -> Verdict:
    """6: at the highest density lambda, the relative test RMSE of the highest-L
    solid-harmonics run is below 0.5 x that of the Cartesian run. Judged only where
    the exactly equivariant control learns that density (a precondition)."""
    runs = geometric_runs(geometric_errors)
    if isinstance(runs, Verdict):
        return runs
    if not control_runs(geometric_errors):
        return no_control("highest-lambda density")
    cartesian, harmonics = runs
    lam = highest_density(geometric_errors)
    if lam is None:
        return not_run("no density projection in the geometric errors table")
    target = f"density_l{lam}"
    final = final_checkpoint(geometric_errors)
    high, plain = (final_relative(final, run, target) for run in (harmonics[-1],
                                                                   cartesian[0]))
    if high is None or plain is None:
        return not_run(f"a geometric run has no {target} at its last checkpoint")
    structures = per_inputs(geometric_structures)
    return Verdict([Evidence(
        f"density lambda = {lam}", f"{harmonics[-1]} / {cartesian[0]}", high[1],
        "ratio of the relative test RMSE (as given)", high[0] / plain[0], math.nan,
        "<", 0.5, ci=estimate_of(_relative_ratio,
                               *final_rows(final, structures, harmonics[-1], target),
                               *final_rows(final, structures, cartesian[0], target)))])
