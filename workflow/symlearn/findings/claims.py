"""claims: each finding of the paper, checked against this run's analysis tables.

A reader runs the pipeline to learn whether the paper's findings hold; this table says
so for each one, with a verdict computed from the tables, never typed:

- ``reproduced``: every number the finding is judged on meets its criterion over its
  whole interval: the 95 % bootstrap interval over the analysed inputs (``ci_low``,
  ``ci_high``; :mod:`symlearn.bootstrap`), widened on each side by the number's
  quadrature error (a number without per-input rows: the value +- its quadrature
  error);
- ``not reproduced``: the whole interval of at least one number fails it;
- ``inconclusive``: none fails outright, but an interval straddles its threshold (the
  Markdown says by how much);
- ``not run``: the configuration lacks the runs or tables the finding needs (the reason
  says which), or a run it reads has not learned its targets (below). That is not an
  error.

A finding is judged only on models that learned what they were trained on: every run it
reads must reach a relative test RMSE as given (RMSE / RMS of the reference) below
:data:`LEARNED_BELOW` at its last checkpoint, on the outputs the finding is about
(:data:`PRECONDITIONS`). Otherwise "A is a small part of the error" holds trivially for
a model whose error is most of the signal. These numbers are the ``precondition`` rows
of claims.csv (``role``), beside the ``criterion`` rows that decide the verdict.

The criteria are fixed here, from the paper's own statements (arXiv:2603.24638), and
are not tuned to any run. Each evidence row carries the number judged, its quadrature
error (where the number is a quadrature estimate; the errors as given and the
instability have none), the threshold, the run and the checkpoint.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..bootstrap import (
    RESAMPLES,
    SEED,
    Estimate,
    PerInput,
    Pooled,
    estimate_of,
    whole_change,
)
from ..figures import style
from ..figures.pointwise import (
    LOCATIONS,
    POINTS_PREFIX,
    correlation,
    excess_instability,
    points_by_run,
    read_points,
)
from ..figures.tables import (
    ERRORS,
    FINETUNE,
    GEOMETRIC_ERRORS,
    INSTABILITY,
    PSEUDOSCALAR,
    SPECTRUM,
    FigureError,
    augmentations,
    final_checkpoint,
    informative_parts,
    read_per_input,
    read_table,
    run_order,
    whole_output,
)
from ..figures.tables import PURIFICATION as PURIFICATION_COLUMNS
from ..io import write_text_atomic
from ..table_schemas import REFIT, REFIT_RMSE_FACTOR, refit_choices

INPUTS = {"errors": ERRORS,
          "spectrum": SPECTRUM,
          "geometric_errors": GEOMETRIC_ERRORS,
          "purification": PURIFICATION_COLUMNS,
          "instability": INSTABILITY}
#: every input may be absent: the findings that need it are then "not run"
OPTIONAL = tuple(INPUTS)
#: the per-structure rows (Parquet) of the standard and the geometric PET runs, from
#: which the intervals are drawn; absent, the numbers are judged without an interval
PER_INPUT = ("structures", "geometric_structures", "purification_structures")

REPRODUCED, NOT_REPRODUCED, NOT_RUN = "reproduced", "not reproduced", "not run"
INCONCLUSIVE = "inconclusive"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN)
#: the standard outputs, as the analysis names them
ENERGY, FORCES, STRESS = "energy", "non_conservative_force", "non_conservative_stress"
OUTPUTS = (ENERGY, FORCES, STRESS)
#: the purification stage compared with the original (the readout refit, at the largest
#: weight mu of A^2 within REFIT_RMSE_FACTOR x the original's test RMSE as given)
PURIFIED = REFIT
COLUMNS = ["claim", "finding", "criterion", "verdict", "reason", "role", "part", "run",
           "checkpoint", "quantity", "value", "quadrature_error", "relation", "threshold",
           "holds", "ci_low", "ci_high", "seeds"]
#: a run counts as having learned an output below this relative test RMSE (as given):
#: half the error of predicting zero everywhere
LEARNED_BELOW = 0.5
#: the irrep part of each standard output that says whether it was learned: the whole
#: energy, the forces, and the isotropic stress (the deviatoric stress of the embedded
#: data, from strains of 2 %, has a fifth of the isotropic part's spread and is not
#: learned at the default's size: docs/data.md)
LEARNED_PARTS = {ENERGY: (0, 1), FORCES: (1, 1), STRESS: (0, 1)}
#: the density projections every edge embedding should learn (the geometric findings
#: compare the embeddings on the others and on the pseudoscalar)
LEARNED_DENSITY_LAMBDA = 2
CRITERION, PRECONDITION = "criterion", "precondition"


@dataclass
class Evidence:
    """One number a finding is judged on: ``value relation threshold`` must hold by more
    than ``error`` (NaN: the number has no quadrature error)."""

    part: str
    run: str
    checkpoint: str
    quantity: str
    value: float
    error: float
    relation: str  # "<", "<=", ">" or ">="
    threshold: float
    #: a 95 % bootstrap interval (low, high) of ``value`` over the analysed inputs.
    #: With one, the number holds when the whole interval, widened on each side by the
    #: quadrature error, meets the criterion, fails when none of it does, and is
    #: otherwise undecided (the finding is "inconclusive"). NaN ends: none could be
    #: drawn (one input), so the number is undecided; None: no per-input rows to draw
    #: one from (tables of an earlier version), so it is judged as value +- error
    ci: tuple[float, float] | Estimate | None = None
    #: the training seeds the number rests on (it is the mean over them); an
    #: :class:`~symlearn.bootstrap.Estimate` as ``ci`` gives the value (the mean over
    #: the seeds of the number), its interval (with the seeds' spread) and their count
    seeds: int = 1

    def __post_init__(self):
        if isinstance(self.ci, Estimate):
            estimate = self.ci
            if math.isfinite(estimate.value):
                self.value = estimate.value
            if estimate.seeds != (None,):
                self.seeds = estimate.n_seeds
            self.ci = estimate.interval()

    @property
    def ci_low(self) -> float:
        return math.nan if self.ci is None else float(self.ci[0])

    @property
    def ci_high(self) -> float:
        return math.nan if self.ci is None else float(self.ci[1])

    def bounds(self) -> tuple[float, float] | None:
        """The interval judged: the bootstrap interval (stretched to hold the estimate)
        widened by the quadrature error; NaN ends where none could be drawn; None
        without one (judged as value +- error)."""
        if self.ci is None or not math.isfinite(self.value):
            return None
        error = 0.0 if math.isnan(self.error) else abs(self.error)
        return (min(self.ci_low, self.value) - error, max(self.ci_high, self.value) + error)

    def _ends(self) -> tuple[float, float]:
        """(worst, best) end of the judged interval for the criterion."""
        low, high = self.bounds()
        return (low, high) if self.relation in (">", ">=") else (high, low)

    @property
    def holds(self) -> bool:
        if self.bounds() is None:
            return self._meets(self.value, self.error)
        return self._meets(self._ends()[0], 0.0)

    @property
    def undecided(self) -> bool:
        """A number whose judged interval straddles its threshold (or could not be
        drawn): neither holds nor fails outright."""
        if self.bounds() is None or self.holds:
            return False
        best = self._ends()[1]
        return not math.isfinite(best) or self._meets(best, 0.0)

    @property
    def straddle(self) -> float:
        """How far an undecided interval reaches past its threshold on the failing side
        (NaN for a decided number)."""
        if not self.undecided:
            return math.nan
        return abs(self._ends()[0] - self.threshold)

    def _meets(self, value: float, error: float) -> bool:
        error = 0.0 if math.isnan(error) else abs(error)
        if not math.isfinite(value):
            return False
        if self.relation == "<":
            return value + error < self.threshold
        if self.relation == "<=":
            return value + error <= self.threshold
        if self.relation == ">":
            return value - error > self.threshold
        if self.relation == ">=":
            return value - error >= self.threshold
        raise ValueError(f"unknown relation {self.relation!r}")


@dataclass
class Verdict:
    evidence: list[Evidence] = field(default_factory=list)
    reason: str = ""  # why a finding is not run
    #: the relative test errors of the runs read (each must hold for a verdict)
    preconditions: list[Evidence] = field(default_factory=list)
    #: output parts left out of the criterion because a run read did not learn them
    #: (beyond :data:`LEARNED_PARTS`, whose failure makes the finding "not run")
    excluded: list[str] = field(default_factory=list)
    #: for a judged finding, what its numbers rest on (finding 8: events and points)
    basis: str = ""

    @property
    def unlearned(self) -> list[Evidence]:
        return [e for e in self.preconditions if not e.holds]

    @property
    def verdict(self) -> str:
        if self.reason or not self.evidence or self.unlearned:
            return NOT_RUN
        if all(e.holds for e in self.evidence):
            return REPRODUCED
        if any(not e.holds and not e.undecided for e in self.evidence):
            return NOT_REPRODUCED
        return INCONCLUSIVE

    def why_not_run(self) -> str:
        """Why the finding is not run; for a judged one, the parts it left out and what
        its numbers rest on."""
        if self.verdict != NOT_RUN:
            excluded = ("not judged, not learned (relative test RMSE as given >= "
                        f"{LEARNED_BELOW:g}): " + "; ".join(self.excluded)) \
                if self.excluded else ""
            return "; ".join(text for text in (excluded, self.basis) if text)
        if self.reason or not self.unlearned:
            return self.reason
        return ("judged only on models that learned their targets (relative test RMSE "
                f"as given < {LEARNED_BELOW:g}); not learned: " + "; ".join(
                    f"{e.run} {e.part} {e.value:.3g} at {e.checkpoint}"
                    for e in self.unlearned))


def _not_run(reason: str) -> Verdict:
    return Verdict(reason=reason)


def _a_difference(mine: Pooled, theirs: Pooled, part: tuple) -> Estimate:
    return mine.rmse(*part, "equivariance_rmse") - theirs.rmse(*part, "equivariance_rmse")


def _sigma_difference(pooled: Pooled, layer: str, odd, even) -> Estimate:
    return pooled.total_fraction(layer, odd) - pooled.total_fraction(layer, even)


def _vector_gain(before: Pooled, after: Pooled) -> Estimate:
    return after.fraction(FORCES, 1, 1) - before.fraction(FORCES, 1, 1)


def _relative_ratio(pooled: Pooled, part: tuple, other: Pooled, other_part: tuple
                    ) -> Estimate:
    return pooled.relative(*part) / other.relative(*other_part)


def _inputs(value) -> PerInput:
    return value if isinstance(value, PerInput) else PerInput(value)


def _epoch(value) -> str:
    return f"epoch {int(value)}"


def _runs_with(table: pd.DataFrame, augmentation: str) -> list[str]:
    kind = augmentations(table)
    return [run for run in run_order(table) if kind[run] == augmentation]


def learned_parts(final: pd.DataFrame, runs: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """``final`` without the output parts that one of ``runs`` did not learn (relative
    test RMSE as given >= :data:`LEARNED_BELOW`), and those parts named with their
    errors. The parts of :data:`LEARNED_PARTS` stay: the finding's preconditions judge
    them. A finding is about what the models learned: a part no model learned says
    nothing about how its equivariance was learned."""
    keys = ["target", "o3_lambda", "o3_sigma"]
    read = final[final["run"].isin(runs)]
    excluded, dropped = [], []
    for (target, lam, sigma), group in read.groupby(keys, sort=False):
        if LEARNED_PARTS.get(target) == (lam, sigma):
            continue
        relative = {row["run"]: _relative(row) for _, row in group.iterrows()}
        failing = {run: value for run, value in relative.items() if value >= LEARNED_BELOW}
        if failing:
            dropped.append((target, lam, sigma))
            excluded.append(f"{style.target_label(target)} ({lam},{sigma:+d}): " + ", ".join(
                f"{run} {value:.3g}" for run, value in failing.items()))
    keep = ~final.set_index(keys).index.isin(dropped)
    return final[keep], excluded


def small_equivariance_error(errors: pd.DataFrame | None, structures=None, **_) -> Verdict:
    """1: with augmentation, A < 0.5 x the test RMSE (as given) for energy, forces and
    stress, at each augmented run's last checkpoint."""
    structures = _inputs(structures)
    if errors is None:
        return _not_run("no PET errors table")
    runs = _runs_with(errors, "o3")
    if not runs:
        return _not_run("no PET run trained with O(3) augmentation")
    final, excluded = learned_parts(informative_parts(final_checkpoint(errors)), runs)
    verdict = Verdict(excluded=excluded)
    for run in runs:
        for target in OUTPUTS:
            parts = final[(final["run"] == run) & (final["target"] == target)]
            if parts.empty:
                return _not_run(f"run {run} has no {style.target_label(target)} at its last "
                                "checkpoint")
            as_given, a, error = whole_output(parts)
            irreps = list(zip(parts["o3_lambda"], parts["o3_sigma"], strict=True))
            pooled = structures.at(run, parts["epoch"].iloc[0])
            ci = estimate_of(Pooled.whole_ratio, pooled, target, irreps)
            verdict.evidence.append(Evidence(
                style.target_label(target), run, _epoch(parts["epoch"].iloc[0]),
                "equivariance RMSE / test RMSE (as given), whole output",
                a / as_given, error / as_given, "<", 0.5, ci=ci))
    return verdict


def augmentation_helps(errors: pd.DataFrame | None, structures=None, **_) -> Verdict:
    """2: A with augmentation < A without, for each output part at the last checkpoint
    (every augmented run against every run without augmentation; resampled in pairs
    where both analysed the same structures)."""
    structures = _inputs(structures)
    if errors is None:
        return _not_run("no PET errors table")
    augmented, plain = _runs_with(errors, "o3"), _runs_with(errors, "none")
    if not augmented or not plain:
        return _not_run("needs a PET run with O(3) augmentation and one without; runs: "
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
                error = _nan0(row.quadrature_error) + _nan0(row.quadrature_error_other)
                mine_at = structures.at(run, row.epoch)
                theirs_at = structures.at(other, row.epoch_other)
                part = (row.target, row.o3_lambda, row.o3_sigma)
                ci = estimate_of(_a_difference, mine_at, theirs_at, part)
                verdict.evidence.append(Evidence(
                    f"{style.target_label(row.target)} ({row.o3_lambda},{row.o3_sigma:+d})",
                    f"{run} vs {other}", _epoch(row.epoch),
                    f"equivariance RMSE of {run} minus that of {other}",
                    row.equivariance_rmse - row.equivariance_rmse_other, error, "<", 0.0,
                    ci=ci))
    if not verdict.evidence:
        return _not_run("the augmented and plain runs share no output part")
    return verdict


def _nan0(value) -> float:
    return 0.0 if pd.isna(value) else float(value)


def low_lambda_features(spectrum: pd.DataFrame | None, errors: pd.DataFrame | None = None,
                        structures=None, **_) -> Verdict:
    """3: in every internal layer of each augmented run's final model, (a) the fraction
    at lambda <= 2 exceeds 0.5 and (b) the sigma = -1 fraction is below the sigma = +1
    fraction."""
    structures = _inputs(structures)
    if spectrum is None:
        return _not_run("no PET spectrum table")
    runs = _runs_with(spectrum, "o3")
    if not runs:
        return _not_run("no PET run trained with O(3) augmentation")
    outputs = set(OUTPUTS) | (set(errors["target"]) if errors is not None else set())
    final = final_checkpoint(spectrum)
    final = final[~final["layer"].isin(outputs)]
    verdict = Verdict()
    for run in runs:
        rows = final[final["run"] == run]
        if rows.empty:
            return _not_run(f"run {run} has no internal layer in the spectrum table")
        for layer, group in rows.groupby("layer", sort=False):
            checkpoint = _epoch(group["epoch"].iloc[0])
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
    structures = _inputs(structures)
    if spectrum is None:
        return _not_run("no PET spectrum table")
    runs = _runs_with(spectrum, "o3")
    if not runs:
        return _not_run("no PET run trained with O(3) augmentation")
    vector = spectrum[(spectrum["layer"] == FORCES) & (spectrum["o3_lambda"] == 1)
                      & (spectrum["o3_sigma"] == 1)]
    verdict = Verdict()
    for run in runs:
        rows = vector[vector["run"] == run].sort_values("epoch")
        if len(rows) < 2 or rows["epoch"].iloc[0] != 0:
            return _not_run(f"run {run} lacks the force output's spectrum at epoch 0 and "
                            "at a later checkpoint")
        first, last = rows.iloc[0], rows.iloc[-1]
        before, after = structures.at(run, first["epoch"]), structures.at(run, last["epoch"])
        verdict.evidence.append(Evidence(
            "forces (1,+1)", run, f"epoch {int(last['epoch'])} vs epoch 0",
            "gain of the force output's (1,+1) fraction",
            float(last["fraction"] - first["fraction"]),
            _nan0(last["quadrature_error"]) + _nan0(first["quadrature_error"]), ">=", 0.2,
            ci=estimate_of(_vector_gain, before, after)))
    return verdict


def _relative(row) -> float:
    return float(row["rmse_as_given"] / row["reference_rms"]) if row["reference_rms"] > 0 \
        else math.nan


def _geometric_runs(errors: pd.DataFrame | None) -> tuple[list[str], list[str]] | Verdict:
    """(Cartesian runs, solid-harmonics runs by increasing L), or "not run" where the
    configuration lacks one of the two."""
    if errors is None:
        return _not_run("no run trained on the geometric targets")
    embedding = {r.run: (r.edge_embedding, r.edge_lmax)
                 for r in errors.drop_duplicates("run").itertuples(index=False)}
    cartesian = [run for run, (kind, _) in embedding.items() if kind == "cartesian"]
    harmonics = sorted((run for run, (kind, _) in embedding.items()
                        if kind == "solid_harmonics"), key=lambda run: embedding[run][1])
    if not cartesian or not harmonics:
        return _not_run("needs a geometric run with the Cartesian edge embedding and one "
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


def _no_control(target: str) -> Verdict:
    return _not_run(f"no exactly equivariant control run (architecture: soap_bpnn) on "
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
        score = _final_relative(final, run, target)
        if score is not None:
            evidence.append(Evidence(f"{style.target_label(target)} (control)", run,
                                     score[1], "relative test RMSE (as given)", score[0],
                                     math.nan, "<", LEARNED_BELOW))
    return evidence


def _final_relative(final: pd.DataFrame, run: str, target: str) -> tuple[float, str] | None:
    rows = final[(final["run"] == run) & (final["target"] == target)]
    if rows.empty:
        return None
    return _relative(rows.iloc[0]), _epoch(rows["epoch"].iloc[0])


def _final_rows(final: pd.DataFrame, structures: PerInput, run: str,
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
    runs = _geometric_runs(geometric_errors)
    if isinstance(runs, Verdict):
        return runs
    if not control_runs(geometric_errors):
        return _no_control(style.target_label(PSEUDOSCALAR))
    cartesian, harmonics = runs
    final = final_checkpoint(geometric_errors)
    plain = _final_relative(final, cartesian[0], PSEUDOSCALAR)
    scores = {run: _final_relative(final, run, PSEUDOSCALAR) for run in harmonics}
    if plain is None or any(score is None for score in scores.values()):
        return _not_run("a geometric run has no pseudoscalar at its last checkpoint")
    best = min(scores, key=lambda run: scores[run][0])
    quantity = "relative test RMSE (as given) of the pseudoscalar"
    structures = _inputs(geometric_structures)
    plain_rows = _final_rows(final, structures, cartesian[0], PSEUDOSCALAR)
    best_rows = _final_rows(final, structures, best, PSEUDOSCALAR)
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
    runs = _geometric_runs(geometric_errors)
    if isinstance(runs, Verdict):
        return runs
    if not control_runs(geometric_errors):
        return _no_control("highest-lambda density")
    cartesian, harmonics = runs
    lam = highest_density(geometric_errors)
    if lam is None:
        return _not_run("no density projection in the geometric errors table")
    target = f"density_l{lam}"
    final = final_checkpoint(geometric_errors)
    high, plain = (_final_relative(final, run, target) for run in (harmonics[-1],
                                                                   cartesian[0]))
    if high is None or plain is None:
        return _not_run(f"a geometric run has no {target} at its last checkpoint")
    structures = _inputs(geometric_structures)
    return Verdict([Evidence(
        f"density lambda = {lam}", f"{harmonics[-1]} / {cartesian[0]}", high[1],
        "ratio of the relative test RMSE (as given)", high[0] / plain[0], math.nan,
        "<", 0.5, ci=estimate_of(_relative_ratio,
                               *_final_rows(final, structures, harmonics[-1], target),
                               *_final_rows(final, structures, cartesian[0], target)))])


def purification_halves_stress(purification: pd.DataFrame | None,
                               purification_structures=None, **_) -> Verdict:
    """7: the readout refit (stage readout_refit) at the largest mu whose stress test
    RMSE (as given) is at most 1.1 x the original's makes the stress A at most 0.6 x the
    original's, for each purified run trained with O(3) augmentation; a run where no mu
    keeps the test RMSE within 1.1 x is not reproduced."""
    if purification is None:
        return _not_run("no purification table")
    stress = purification[purification["target"] == STRESS]
    runs = [run for run in _runs_with(purification, "o3") if (stress["run"] == run).any()]
    if not runs:
        return _not_run("no purified run trained with O(3) augmentation that has the stress")
    structures = _inputs(purification_structures)
    verdict = Verdict()
    bases = []
    for run in runs:
        # parts that vanish identically (the antisymmetric part) are left out
        rows = informative_parts(stress[stress["run"] == run])
        before, refits = rows[rows["stage"] == "original"], rows[rows["stage"] == PURIFIED]
        if before.empty or refits.empty:
            return _not_run(f"run {run} lacks the original or the {PURIFIED} stage")
        checkpoint = _epoch(rows["epoch"].iloc[0])
        mu, _ = refit_choices(rows)[STRESS]
        g0, a0, e0 = whole_output(before)
        mus = sorted(set(refits["mu"].astype(float)))
        if mu is None:
            best = min(whole_output(refits[refits["mu"] == m])[0] for m in mus) / g0
            verdict.evidence.append(Evidence(
                "stress test RMSE", run, checkpoint,
                f"test RMSE (as given) of the stress, {PURIFIED} at its most accurate mu "
                "/ original", best, math.nan, "<=", REFIT_RMSE_FACTOR))
            bases.append(f"{run}: no mu of {len(mus)} keeps the stress test RMSE (as "
                         f"given) within {REFIT_RMSE_FACTOR:g} x the original's")
            continue
        g1, a1, e1 = whole_output(refits[refits["mu"] == mu])
        # ratio bound: numerator up by its error, denominator down by its own
        ratio = a1 / a0
        error = (a1 + e1) / max(a0 - e0, np.finfo(float).tiny) - ratio
        # resampled in pairs: every stage is evaluated on the same structures
        epoch = rows["epoch"].iloc[0]
        irreps = list(zip(before["o3_lambda"], before["o3_sigma"], strict=True))
        pooled = (structures.at(run, epoch, "original"),
                  structures.at(run, epoch, PURIFIED, mu))
        verdict.evidence += [
            Evidence("stress A", run, checkpoint,
                     f"equivariance RMSE of the stress, {PURIFIED} at mu = {mu:g} / "
                     "original", ratio, error, "<=", 0.6,
                     ci=estimate_of(whole_change, *pooled, STRESS, irreps)),
            Evidence("stress test RMSE", run, checkpoint,
                     f"test RMSE (as given) of the stress, {PURIFIED} at mu = {mu:g} / "
                     "original", g1 / g0, math.nan, "<=", REFIT_RMSE_FACTOR,
                     ci=estimate_of(whole_change, *pooled, STRESS, irreps,
                                    "rmse_as_given"))]
        bases.append(f"{run}: mu = {mu:g}, the largest of {len(mus)} within "
                     f"{REFIT_RMSE_FACTOR:g} x the original's stress test RMSE (as given)")
    verdict.basis = "; ".join(bases)
    return verdict


def _points_of(points: Mapping | None, run: str) -> dict[str, pd.DataFrame] | str:
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
        return _not_run("no PoLAr-MAE instability table")
    runs = _runs_with(instability, "o3")
    if not runs:
        return _not_run("no PoLAr-MAE run trained with O(3) augmentation")
    tuned = instability[instability["phase"] == FINETUNE]
    verdict, bases = Verdict(), []
    for run in runs:
        steps = tuned.loc[tuned["run"] == run, "step"]
        if steps.empty:
            return _not_run(f"run {run} has no fine-tuning checkpoint in the instability "
                            "table")
        checkpoint = f"fine-tuning step {int(steps.max())}"
        tables = _points_of(points, run)
        if isinstance(tables, str):
            return _not_run(tables)
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
            return _not_run(f"run {run}: no analysed point at a branching point or on a "
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


def _learned(final: pd.DataFrame, runs: list[str],
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
                f"{style.target_label(target)} ({lam},{sigma:+d})", run, _epoch(row["epoch"]),
                "relative test RMSE (as given)", _relative(row), math.nan, "<",
                LEARNED_BELOW))
    return evidence


def _standard_preconditions(errors: pd.DataFrame | None, augmentation: tuple[str, ...],
                            targets=OUTPUTS) -> list[Evidence]:
    if errors is None:
        return []
    runs = [run for kind in augmentation for run in _runs_with(errors, kind)]
    return _learned(final_checkpoint(errors), runs,
                    {t: LEARNED_PARTS[t] for t in targets})


def learned_augmented(errors=None, **_) -> list[Evidence]:
    """1, 3: the augmented runs learned energy, forces and stress."""
    return _standard_preconditions(errors, ("o3",))


def learned_both(errors=None, **_) -> list[Evidence]:
    """2: the augmented and the plain runs learned energy, forces and stress."""
    return _standard_preconditions(errors, ("o3", "none"))


def learned_forces(errors=None, **_) -> list[Evidence]:
    """4: the augmented runs learned the forces."""
    return _standard_preconditions(errors, ("o3",), targets=(FORCES,))


def learned_low_densities(geometric_errors=None, **_) -> list[Evidence]:
    """5, 6: every geometric run learned the density projections up to lambda = 2, so a
    failure on the pseudoscalar or at high lambda is the embedding's, not the
    training's."""
    if geometric_errors is None:
        return []
    parts = {f"density_l{lam}": (lam, 1) for lam in range(LEARNED_DENSITY_LAMBDA + 1)}
    return _learned(final_checkpoint(geometric_errors), run_order(geometric_errors), parts)


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
    return _learned(original, _runs_with(original, "o3"), {STRESS: LEARNED_PARTS[STRESS]})


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
    for run in _runs_with(tuned, "o3"):
        rows = tuned[tuned["run"] == run]
        rows = rows[rows["step"] == rows["step"].max()]
        right = float((rows["recall_as_given"] * rows["n_points"]).sum()
                      / rows["n_points"].sum())
        evidence.append(Evidence(
            "classes", run, f"fine-tuning step {int(rows['step'].iloc[0])}",
            "error rate as given (1 - share of points classified right)",
            1.0 - right, math.nan, "<", LEARNED_BELOW))
    return evidence


#: (number, finding, criterion, check): the paper's findings and their fixed criteria
CLAIMS: list[tuple[int, str, str, Callable[..., Verdict]]] = [
    (1, "With augmentation, A is a small part of the error for energy, forces and stress "
        "(paper: 10 %, 31 %, 26 %).",
     "equivariance RMSE / test RMSE as given < 0.5 for each output, over the parts "
     "every augmented run learned",
     small_equivariance_error),
    (2, "Augmentation makes the outputs more equivariant.",
     "A with augmentation < A without, for each output part that both runs learned, at "
     "the last checkpoint",
     augmentation_helps),
    (3, "Internal features are dominated by low angular momentum, and the pseudo "
        "(sigma = -1) channels are weak.",
     "(a) fraction at lambda <= 2 > 0.5; (b) sigma = -1 fraction < sigma = +1 fraction; "
     "both in every internal layer of the final augmented model",
     low_lambda_features),
    (4, "During training the force head gains vector character.",
     "the (1,+1) fraction of the force output at the last checkpoint exceeds that at "
     "epoch 0 by at least 0.2",
     force_gains_vector_character),
    (5, "The standard PET fails to learn a pseudoscalar; the modified edge embedding "
        "learns it.",
     "relative test RMSE of the Cartesian run > 0.5, and that of the best "
     "solid-harmonics run < 0.5 x the Cartesian run's; judged where the exactly "
     "equivariant control learns the pseudoscalar (< 0.5)",
     pseudoscalar_needs_harmonics),
    (6, "Higher-order input embeddings are needed for high-lambda targets.",
     "at the highest lambda, the relative test RMSE of the highest-L run < 0.5 x that "
     "of the Cartesian run; judged where the exactly equivariant control learns it "
     "(< 0.5)",
     high_lambda_needs_high_order),
    (7, "Readout purification roughly halves the stress A with little loss of accuracy.",
     "stress A after / before <= 0.6, and test RMSE after / before <= 1.1",
     purification_halves_stress),
    (8, "PoLAr-MAE: high A goes with classification instability under rigid rotations, "
        "related to branching points or track segments.",
     "(a) Spearman correlation of per-point A and instability > 0, its 95 % bootstrap "
     "interval over events above 0 (straddling 0: inconclusive); (b) mean instability at "
     "branching points or on track segments (the larger) > over all points; every "
     "analysed point of the augmented run's last fine-tuning checkpoint",
     unstable_where_a_is_high),
]


#: claim number -> the relative test errors its runs must reach (the runs it reads)
PRECONDITIONS: dict[int, Callable[..., list[Evidence]]] = {
    1: learned_augmented, 2: learned_both, 3: learned_augmented, 4: learned_forces,
    5: learnable_pseudoscalar, 6: learnable_high_lambda, 7: learned_stress,
    8: learned_classes}


def judge(number: int, check: Callable[..., Verdict], **tables) -> Verdict:
    """A finding's verdict with its preconditions (the runs it reads learned)."""
    verdict = check(**tables)
    verdict.preconditions = PRECONDITIONS[number](**tables)
    return verdict


def data(resamples: int = RESAMPLES, seed: int = SEED,
         **tables: pd.DataFrame | None) -> pd.DataFrame:
    """One row per number judged and per precondition (one row for a finding that is
    not run for want of tables). ``points``: PoLAr-MAE run -> its points.parquet (path
    or table), for finding 8; ``structures``, ``geometric_structures``: the per-structure
    rows of the PET runs, from which the intervals are drawn (``resamples`` resamples,
    seeded by ``seed``: figures.bootstrap)."""
    tables = {name: (PerInput(value, resamples, seed) if name in PER_INPUT else value)
              for name, value in tables.items()}
    tables.update(resamples=resamples, seed=seed)
    rows = []
    for number, finding, criterion, check in CLAIMS:
        verdict = judge(number, check, **tables)
        base = dict(claim=number, finding=finding, criterion=criterion,
                    verdict=verdict.verdict, reason=verdict.why_not_run())
        if not verdict.evidence and not verdict.preconditions:
            rows.append(base)
        for role, evidence in ((PRECONDITION, verdict.preconditions),
                               (CRITERION, verdict.evidence)):
            for e in evidence:
                rows.append(dict(base, role=role, part=e.part, run=e.run,
                                 checkpoint=e.checkpoint, quantity=e.quantity,
                                 value=e.value, quadrature_error=e.error,
                                 relation=e.relation, threshold=e.threshold,
                                 holds=e.holds, ci_low=e.ci_low, ci_high=e.ci_high,
                                 seeds=e.seeds))
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def _number(value) -> str:
    return "—" if pd.isna(value) else f"{value:.3g}"


def _value(row, error: bool = True) -> str:
    """A judged number with its quadrature error (``error``) or its bootstrap
    interval."""
    text = _number(row.value)
    if error and not pd.isna(getattr(row, "quadrature_error", math.nan)):
        text += f" ± {_number(row.quadrature_error)}"
    low, high = getattr(row, "ci_low", math.nan), getattr(row, "ci_high", math.nan)
    seeds = getattr(row, "seeds", 1)
    if not (pd.isna(low) and pd.isna(high)):
        text += f" [95 % CI {_number(low)}, {_number(high)}]"
    if not pd.isna(seeds) and int(seeds) > 1:
        text += f" (mean of {int(seeds)} seeds)"
    return text


def _evidence(row) -> Evidence:
    """A row of claims.csv as the number it judged."""
    low, high = getattr(row, "ci_low", math.nan), getattr(row, "ci_high", math.nan)
    ci = None if pd.isna(low) and pd.isna(high) else (float(low), float(high))
    error = getattr(row, "quadrature_error", math.nan)
    return Evidence(row.part, row.run, row.checkpoint, row.quantity, float(row.value),
                    math.nan if pd.isna(error) else float(error), row.relation,
                    float(row.threshold), ci=ci)


def _straddles(row) -> bool:
    """Whether a row of claims.csv is undecided: its judged interval straddles its
    threshold (:attr:`Evidence.undecided`)."""
    return _evidence(row).undecided


def _criteria(group: pd.DataFrame) -> pd.DataFrame:
    return group[group["role"] != PRECONDITION]


def _learned_text(group: pd.DataFrame) -> str:
    """The relative test errors of the runs a finding reads, by run (failing marked)."""
    rows = group[group["role"] == PRECONDITION]
    if rows.empty:
        return "—"
    items = []
    for run, parts in rows.groupby("run", sort=False):
        items.append(f"{run}: " + ", ".join(
            f"{row.part} {_number(row.value)}" + ("" if row.holds else " (not learned)")
            for row in parts.itertuples(index=False)))
    return "; ".join(items)


def _judged(group: pd.DataFrame) -> str:
    """The numbers a finding was judged on, failing ones first, at most six."""
    rows = _criteria(group).dropna(subset=["value"]).sort_values("holds", kind="stable")
    items = []
    for row in rows.head(6).itertuples(index=False):
        evidence = _evidence(row)
        mark = "" if row.holds else " (fails)" if not evidence.undecided else (
            f" (interval straddles the threshold by {evidence.straddle:.2g})"
            if math.isfinite(evidence.straddle) else " (no interval: one input)")
        items.append(f"{row.part}, {row.run}, {row.checkpoint}: {_value(row)}{mark}")
    if len(rows) > 6:
        items.append(f"... {len(rows) - 6} more in claims.csv")
    return "; ".join(items)


def markdown(table: pd.DataFrame) -> str:
    counts = table.drop_duplicates("claim")["verdict"].value_counts()
    lines = [
        "# The paper's findings, checked against this run",
        "",
        "Each verdict is computed from this run's analysis tables with the criterion "
        "shown, fixed from the paper's statement (arXiv:2603.24638). A number counts only "
        "when its whole interval meets its criterion: its 95 % bootstrap interval over "
        "the analysed structures or events (95 % CI below; with several training "
        "seeds, the number is their mean and the interval adds their spread: "
        "docs/statistics.md), widened on each side by its "
        "quadrature error (± below; numbers without ± are not quadrature estimates); a "
        "number without an interval counts when it meets the criterion by more than its "
        "quadrature error. `not reproduced`: a whole interval fails; `inconclusive`: "
        "none fails, but an interval straddles its threshold. `not run`: the "
        "configuration lacks what the finding needs. The embedded default is small: its "
        "verdicts show the chain working, not the paper's scale.",
        "",
        "A finding is judged only on models that learned their targets: each run it "
        "reads must have a relative test RMSE as given (RMSE / RMS of the reference, at "
        f"its last checkpoint) below {LEARNED_BELOW:g} on the outputs the finding is "
        "about (last column); otherwise it is `not run`. Another output part that a run "
        "did not learn is left out of the criterion, and named.",
        "",
        "Verdicts: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS),
        "",
        "| # | finding | criterion | verdict | judged on | relative test RMSE of the "
        "runs read |",
        "|---|---|---|---|---|---|",
    ]
    for number, group in table.groupby("claim", sort=True):
        first = group.iloc[0]
        reason = first["reason"] if isinstance(first["reason"], str) else ""
        judged = reason if first["verdict"] == NOT_RUN else _judged(group) + (
            f" ({reason})" if reason else "")
        lines.append(f"| {number} | {first['finding']} | {first['criterion']} | "
                     f"**{first['verdict']}** | {judged} | {_learned_text(group)} |")
    return "\n".join(lines) + "\n"


def _deciding(group: pd.DataFrame) -> str:
    """The number a verdict turned on: the first that fails, else the closest to its
    threshold, with its part, run and checkpoint."""
    reason = group.iloc[0]["reason"]
    rows = _criteria(group).dropna(subset=["value"])
    if rows.empty or group.iloc[0]["verdict"] == NOT_RUN:
        return reason if isinstance(reason, str) else ""
    failing = rows[~rows["holds"].astype(bool)]
    # a number that fails outright before one whose interval straddles its threshold
    failing = failing.iloc[np.argsort([_straddles(row) for _, row in failing.iterrows()],
                                      kind="stable")]
    if not failing.empty:
        row = failing.iloc[0]
    else:
        # a number with a bootstrap interval is as close as the interval's worst end
        value = rows["value"]
        if "ci_low" in rows and "ci_high" in rows:
            worst = rows["ci_low"].where(rows["relation"].isin([">", ">="]), rows["ci_high"])
            value = worst.where(worst.notna(), value)
        margin = (value - rows["threshold"]).abs() / rows["threshold"].abs().clip(
            lower=1e-300)
        row = rows.loc[margin.idxmin()]
    return f"{_value(row, error=False)} ({row['part']}, {row['run']}, {row['checkpoint']})"


def side_by_side(tables: Mapping[str, pd.DataFrame]) -> str:
    """One Markdown table of the verdicts of several runs' claims.csv, one column per
    run (named by the keys), each verdict with the number it turned on; the README's
    table of the default against config/findings.yaml is this function's output."""
    if not tables:
        raise ValueError("no claims tables to compare")
    names = list(tables)
    findings = {}
    for table in tables.values():
        for number, group in table.groupby("claim", sort=True):
            findings.setdefault(int(number), group.iloc[0]["finding"])
    lines = ["| # | finding | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for number in sorted(findings):
        cells = []
        for name in names:
            group = tables[name][tables[name]["claim"] == number]
            if group.empty:
                cells.append("absent")
            else:
                cells.append(f"**{group.iloc[0]['verdict']}**: {_deciding(group)}")
        lines.append(f"| {number} | {findings[number]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def build(inputs, prefix, resamples: int = RESAMPLES, seed: int = SEED):
    """Read the tables (``points_<run>``: a run's points.parquet, read by finding 8,
    which is "not run" where it is unreadable; ``structures``, ``geometric_structures``:
    the per-structure rows the intervals are drawn from) and write ``prefix``.csv and
    .md."""
    tables = {name: read_table(inputs[name], columns) if name in inputs else None
              for name, columns in INPUTS.items()}
    tables.update(read_per_input(inputs, PER_INPUT))
    points = points_by_run(inputs)
    table = data(resamples, seed, **tables, points=points)
    prefix = str(prefix)
    write_text_atomic(prefix + ".md", markdown(table))
    write_text_atomic(prefix + ".csv", table.to_csv(index=False))
    return {"csv": prefix + ".csv", "md": prefix + ".md"}
