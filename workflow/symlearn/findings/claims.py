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

The findings are judged in :mod:`.standard` (1 to 4), :mod:`.geometric` (5, 6),
:mod:`.purification` (7) and :mod:`.polarmae` (8), each with its preconditions
(:mod:`.preconditions`), on the vocabulary of :mod:`.verdicts`; this module lists them
with their criteria (:data:`CLAIMS`) and writes the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from ..bootstrap import (
    RESAMPLES,
    SEED,
    PerInput,
)
from ..figures.pointwise import (
    points_by_run,
)
from ..figures.tables import (
    ERRORS,
    GEOMETRIC_ERRORS,
    INSTABILITY,
    SPECTRUM,
    read_per_input,
    read_table,
)
from ..figures.tables import PURIFICATION as PURIFICATION_COLUMNS
from ..io import write_text_atomic
from .geometric import high_lambda_needs_high_order, pseudoscalar_needs_harmonics
from .polarmae import unstable_where_a_is_high
from .preconditions import (
    learnable_high_lambda,
    learnable_pseudoscalar,
    learned_augmented,
    learned_both,
    learned_classes,
    learned_forces,
    learned_stress,
)
from .purification import purification_halves_stress
from .standard import (
    augmentation_helps,
    force_gains_vector_character,
    low_lambda_features,
    small_equivariance_error,
)
from .verdicts import CRITERION, LEARNED_BELOW, NOT_RUN, PRECONDITION, VERDICTS, Evidence, Verdict

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


COLUMNS = ["claim", "finding", "criterion", "verdict", "reason", "role", "part", "run",
           "checkpoint", "quantity", "value", "quadrature_error", "relation", "threshold",
           "holds", "ci_low", "ci_high", "seeds"]


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
