"""The vocabulary of the findings: the four verdicts, the evidence a finding is judged
on (a number, its quadrature error and bootstrap interval, against a threshold) and how
a verdict follows from it, and what "a run learned its target" means."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from ..bootstrap import Estimate, PerInput
from ..figures import style
from ..figures.tables import augmentations, run_order

REPRODUCED, NOT_REPRODUCED, NOT_RUN = "reproduced", "not reproduced", "not run"


INCONCLUSIVE = "inconclusive"


VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN)


#: the standard outputs, as the analysis names them
ENERGY, FORCES, STRESS = "energy", "non_conservative_force", "non_conservative_stress"


OUTPUTS = (ENERGY, FORCES, STRESS)


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


def not_run(reason: str) -> Verdict:
    """A finding that cannot be judged here, and why."""
    return Verdict(reason=reason)


def per_inputs(value) -> PerInput:
    """The per-input rows a number's bootstrap interval is drawn from."""
    return value if isinstance(value, PerInput) else PerInput(value)


def epoch_label(value) -> str:
    """The checkpoint as the evidence rows name it."""
    return f"epoch {int(value)}"


def runs_with(table: pd.DataFrame, augmentation: str) -> list[str]:
    """The runs of ``table`` trained with ``augmentation``, in run order."""
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
        relative = {row["run"]: relative_error(row) for _, row in group.iterrows()}
        failing = {run: value for run, value in relative.items() if value >= LEARNED_BELOW}
        if failing:
            dropped.append((target, lam, sigma))
            excluded.append(f"{style.target_label(target)} ({lam},{sigma:+d}): " + ", ".join(
                f"{run} {value:.3g}" for run, value in failing.items()))
    keep = ~final.set_index(keys).index.isin(dropped)
    return final[keep], excluded


def nan_to_zero(value) -> float:
    """A quadrature error, 0 where there is none (NaN)."""
    return 0.0 if pd.isna(value) else float(value)


def relative_error(row) -> float:
    """The relative test RMSE as given of a row of an errors table (NaN for a zero
    reference)."""
    return float(row["rmse_as_given"] / row["reference_rms"]) if row["reference_rms"] > 0 \
        else math.nan
