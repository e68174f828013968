"""table1: the paper's headline numbers next to the values this run computed.

The paper's values are quoted from its text (arXiv:2603.24638) and typed in here, with
where they come from; every value of this run is computed from the analysis tables.
A value the pipeline does not produce yet is listed with its status, never left out.
Every ratio to a "test RMSE" uses the error of the model on the test inputs as given
(``rmse_as_given``, the paper's "absolute error"), not the orientation-averaged one.
PoLAr-MAE rows (equivariance / test RMSE of the class probabilities, mean
classification instability) and the geometric-target rows (relative test RMSE of the
pseudoscalar per run, and of the highest density projection for the Cartesian and the
highest-order solid-harmonics edge embedding) have no quoted paper value: the abstract
gives none. The purification row is the stress equivariance RMSE after the readout
refit (at the largest mu that keeps the stress's test RMSE within 1.1 x the original's)
divided by the original's, for the first purified run trained with O(3) augmentation,
with what that stage costs in model evaluations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..bootstrap import (
    RESAMPLES,
    SEED,
    Estimate,
    PerInput,
    Pooled,
    interval_of,
    whole_change,
)
from ..io import write_text_atomic
from ..settings.grids import pet_grid_degree, polarmae_grid_degree
from ..table_schemas import LEARNED_CLASSES, REFIT, REFIT_RMSE_FACTOR, refit_choices
from . import style
from .pointwise import mean_instability, points_by_run, read_points
from .tables import (
    ERRORS,
    GEOMETRIC_ERRORS,
    INSTABILITY,
    POLARMAE_ERRORS,
    PSEUDOSCALAR,
    STAGES,
    augmentations,
    final_checkpoint,
    final_finetune,
    informative_parts,
    read_per_input,
    read_table,
    run_order,
    whole_output,
)
from .tables import PURIFICATION as PURIFICATION_COLUMNS

INPUTS = {"errors": ERRORS,
          # the collected PoLAr-MAE tables (results/analysis/polarmae/)
          "polarmae_errors": POLARMAE_ERRORS, "instability": INSTABILITY,
          # results/analysis/purification.csv and the geometric-target runs' errors
          # (results/analysis/pet/geometric/errors.csv)
          "purification": PURIFICATION_COLUMNS, "geometric_errors": GEOMETRIC_ERRORS,
          # the exported models of external.models (results/analysis/metatomic/errors.csv)
          # and the calculators of external.calculators (.../calculators/errors.csv)
          "external_errors": ERRORS, "calculator_errors": ERRORS,
          # the resolved configuration (YAML, written by the provenance rule)
          "config": None}
#: the per-structure rows (Parquet) the intervals are drawn from: absent, a row has none
PER_INPUT = ("structures", "purification_structures", "geometric_structures")
#: inputs a configuration may not produce (no run trained on the geometric targets):
#: their rows then say they are not produced
OPTIONAL = ("geometric_errors", "external_errors", "calculator_errors", *PER_INPUT)

#: (key, quantity, target, paper value, where the paper says it)
PAPER = [
    ("pet_energy", "PET energy: equivariance RMSE / test RMSE (as given)", "energy", 0.10,
     "arXiv:2603.24638: PET on MAD-1.5, equivariance error about 10 % of the absolute "
     "error for the energy"),
    ("pet_forces", "PET forces: equivariance RMSE / test RMSE (as given)",
     "non_conservative_force",
     0.31, "arXiv:2603.24638: 31 % for the non-conservative forces"),
    ("pet_stress", "PET stress (full tensor): equivariance RMSE / test RMSE (as given)",
     "non_conservative_stress", 0.26,
     "arXiv:2603.24638: 26 % for the non-conservative stress"),
]
PURIFICATION = ("pet_stress_purified",
                "PET stress: equivariance RMSE after the readout refit / original",
                "non_conservative_stress", 0.5,
                "arXiv:2603.24638: purification roughly halves the stress equivariance "
                "error (quoted as about 50 %)")
#: (key, quantity) of the PoLAr-MAE rows, at each run's last fine-tuning checkpoint
POLARMAE = [("polarmae_probabilities",
             "PoLAr-MAE class probabilities: equivariance RMSE / test RMSE (as given)"),
            ("polarmae_instability",
             "PoLAr-MAE: mean classification instability (grid-weighted)")]
POLARMAE_TARGET = "class_probabilities"
#: the keys of the geometric-target rows, at each run's last checkpoint: the relative
#: test RMSE (as given; / RMS of the reference) of the pseudoscalar per run, and of the
#: highest density projection for the first Cartesian and the highest-L run
GEOMETRIC = ("pet_pseudoscalar", "pet_density_lambda_max")
#: the purification stages compared: the readout refit (at its chosen mu) / the
#: original model
PURIFIED_STAGES = (REFIT, STAGES[0])
NOT_QUOTED = "not quoted in the paper's abstract"
#: (key, quantity, the targets it is read from) of the rows of each exported model
#: and calculator (a calculator's stress has no antisymmetric part: ASE holds six
#: components)
EXTERNAL = [("external_energy", "energy", ("energy",)),
            ("external_forces", "forces",
             ("conservative_force", "non_conservative_force", "forces")),
            ("external_stress", "stress (full tensor)",
             ("conservative_stress", "non_conservative_stress", "stress"))]
#: what the rows call a model of each family
EXTERNAL_KINDS = {"external_errors": "exported model", "calculator_errors": "ASE calculator"}
COLUMNS = ["key", "quantity", "paper", "paper_source", "this_run", "ci_low", "ci_high",
           "run", "augmentation", "epoch", "step", "n_samples", "setup_evaluations",
           "evaluations_per_prediction", "status", "configuration"]


def whole_target(rows: pd.DataFrame) -> tuple[float, float, int]:
    """Test RMSE (as given) and equivariance RMSE of a whole output from its irrep
    parts (:func:`tables.whole_output`), and the samples they are over."""
    accuracy, equivariance, _ = whole_output(rows)
    return accuracy, equivariance, int(rows["n_samples"].max())


def describe(config: Mapping[str, Any]) -> str:
    """One line saying which data, models and analysis produced the numbers."""
    data = config["data"]["atomistic"]
    source = data["source"]
    size = (f"{sum(data['synthetic']['n_structures'].values())} structures"
            if source == "synthetic" else "")
    model, training = config["pet"]["model"], config["pet"]["training"]
    analysis = config["analysis"]["pet"]
    pet = (f"data: {source} {size}".rstrip() + "; "
           f"PET d_pet={model['d_pet']}, {model['num_gnn_layers']} GNN layers, "
           f"{training['epochs']} epochs; analysis: {analysis['n_structures']} test "
           f"structures, grid degree {pet_grid_degree(config)}, "
           f"lambda_max {analysis['lambda_max']}")
    pet += _variants(config)
    lartpc = config["data"]["lartpc"]
    events = (f"{sum(lartpc['synthetic']['n_events'].values())} events"
              if lartpc["source"] == "synthetic" else "")
    polarmae, analysis = config["polarmae"], config["analysis"]["polarmae"]
    return (pet + f". Liquid argon: {lartpc['source']} {events}".rstrip() + "; "
            f"PoLAr-MAE width {polarmae['model']['width']}, {polarmae['model']['depth']} "
            f"blocks, {polarmae['pretrain']['steps']} pre-training + "
            f"{polarmae['finetune']['steps']} fine-tuning steps; analysis: "
            f"{analysis['n_events']} events, grid degree {polarmae_grid_degree(config)}, "
            f"lambda_max {analysis['lambda_max']}")


def _variants(config: Mapping[str, Any]) -> str:
    """The geometric-target runs (with their edge embedding) and the purified runs of the
    configuration, where it has them."""
    runs = config["pet"]["runs"]
    geometric = [f"{run} ({style.embedding_label(*_embedding(spec))})"
                 for run, spec in runs.items()
                 if spec is not None and spec.get("targets") == "geometric"]
    text = ""
    if geometric:
        targets = config["data"]["atomistic"].get("geometric_targets", {})
        lam = f", density λ ≤ {targets['lambda_max']}" if "lambda_max" in targets else ""
        text += f"; geometric targets (pseudoscalar{lam}): {', '.join(geometric)}"
    purification = config["analysis"].get("purification")
    if purification and purification.get("runs"):
        text += f"; purified: {', '.join(purification['runs'])}"
        if "n_rotations" in purification:
            text += (f" (the projected model's equivariance on "
                     f"{purification['n_rotations']} random rotations)")
    return text


def _embedding(spec: Mapping[str, Any]) -> tuple[str, Any]:
    embedding = spec.get("edge_embedding") or {"type": "cartesian"}
    return embedding["type"], embedding.get("lmax")


def instability_interval(points: Mapping | None, run: str, resamples: int = RESAMPLES,
                         seed: int = SEED) -> dict:
    """``ci_low``, ``ci_high`` of the mean instability over the points of the learned
    classes (the class groups of the instability table), from ``points[run]`` (seed ->
    its points.parquet at the last fine-tuning checkpoint): events resampled, the mean
    over seeds with their spread (:class:`symlearn.bootstrap.Estimate`); none without
    the points."""
    sources = (points or {}).get(run) or {}
    if not sources:
        return {}
    per_seed = {}
    for key, source in sources.items():
        table = source if isinstance(source, pd.DataFrame) else read_points(source)
        learned = table["semantic"].isin(range(len(LEARNED_CLASSES)))
        per_seed[key] = mean_instability(table, learned, resamples, seed)
    low, high = Estimate.over_seeds(per_seed).interval()
    return dict(ci_low=low, ci_high=high)


def polarmae_rows(polarmae_errors: pd.DataFrame, instability: pd.DataFrame,
                  configuration: str, points: Mapping | None = None,
                  resamples: int = RESAMPLES, seed: int = SEED) -> list[dict]:
    """The PoLAr-MAE rows, per run at its last fine-tuning checkpoint: the ratio of the
    class probabilities' equivariance RMSE to their test RMSE (as given), and the mean
    instability over every point (the class groups weighted by their points), with its
    interval over events where the run's points are given (``points``: run -> seed ->
    points.parquet)."""
    errors = final_finetune(polarmae_errors, "PoLAr-MAE errors table")
    classes = final_finetune(instability, "instability table")
    sources = {
        "polarmae_probabilities": (errors[errors["target"] == POLARMAE_TARGET],
                                   f"no {POLARMAE_TARGET} in the PoLAr-MAE errors table"),
        "polarmae_instability": (classes[classes["grouping"] == "class"],
                                 "no class groups in the instability table")}
    runs = list(dict.fromkeys(run_order(polarmae_errors) + run_order(instability)))
    augmentation = {**augmentations(polarmae_errors), **augmentations(instability)}
    rows = []
    for key, quantity in POLARMAE:
        source, missing = sources[key]
        for run in runs:
            part = source[source["run"] == run]
            row = dict(key=key, quantity=quantity, run=run, augmentation=augmentation[run],
                       paper=np.nan, paper_source=NOT_QUOTED, configuration=configuration)
            if part.empty:
                rows.append(dict(row, status=f"not produced: {missing} at the last "
                                             f"fine-tuning checkpoint of run {run}"))
                continue
            if key == "polarmae_probabilities":
                accuracy, equivariance, n = whole_target(part)
                value = equivariance / accuracy
            else:
                counts = part["n_points"].to_numpy(float)
                value = float(np.sum(counts * part["instability"]) / counts.sum())
                n = int(counts.sum())
                row.update(instability_interval(points, run, resamples, seed))
            rows.append(dict(row, this_run=value, step=int(part["step"].iloc[0]),
                             n_samples=n, status="computed"))
    return rows


def purification_row(purification: pd.DataFrame, configuration: str,
                     structures: PerInput | None = None) -> dict:
    """The stress equivariance RMSE after the readout refit (at the chosen mu of
    :func:`refit_choices`) divided by the original's, for the first purified run
    trained with O(3) augmentation that has the stress: each stage's whole tensor
    pooled over its non-vanishing parts (:func:`whole_target`); with that stage's cost
    in model evaluations."""
    key, quantity, target, paper, source = PURIFICATION
    row = dict(key=key, quantity=quantity, paper=paper, paper_source=source,
               configuration=configuration)
    augmentation = augmentations(purification)
    runs = [run for run in run_order(purification) if augmentation[run] == "o3"
            and ((purification["run"] == run) & (purification["target"] == target)).any()]
    if not runs:
        return dict(row, status=f"not produced: no run with O(3) augmentation and the "
                                f"{style.target_label(target)} in the purification table "
                                f"(runs: {', '.join(run_order(purification))})")
    run = runs[0]
    row.update(run=run, augmentation=augmentation[run])
    parts = informative_parts(purification[(purification["run"] == run)
                                           & (purification["target"] == target)])
    mu = refit_choices(purification[purification["run"] == run]).get(target, (None,))[0]
    if mu is None and (parts["stage"] == REFIT).any():
        return dict(row, status=f"not produced: no mu of the readout refit keeps the "
                                f"{style.target_label(target)}'s test RMSE (as given) of run "
                                f"{run} within {REFIT_RMSE_FACTOR} x the original's")
    stages = {stage: parts[(parts["stage"] == stage)
                           & ((stage != REFIT) | (parts["mu"].astype(float) == mu))]
              for stage in PURIFIED_STAGES}
    for stage, rows in stages.items():
        if rows.empty:
            return dict(row, status=f"not produced: run {run} has no {stage} stage of the "
                                    f"{style.target_label(target)} in the purification table")
    after, before = (whole_target(stages[stage])[1] for stage in PURIFIED_STAGES)
    if not before > 0:
        return dict(row, status=f"not produced: the {style.target_label(target)} of run "
                                f"{run} has no equivariance error to reduce")
    cost = stages[PURIFIED_STAGES[0]].iloc[0]
    epoch = int(parts["epoch"].max())
    irreps = _irreps(stages[PURIFIED_STAGES[1]])
    structures = structures or PerInput()
    row.update(_interval(whole_change, structures.at(run, epoch, PURIFIED_STAGES[1]),
                         structures.at(run, epoch, REFIT, mu), target, irreps))
    return dict(row, this_run=after / before, epoch=epoch,
                n_samples=whole_target(stages[PURIFIED_STAGES[1]])[2],
                status=f"computed (readout refit at mu = {mu:g})",
                setup_evaluations=cost["setup_evaluations"],
                evaluations_per_prediction=cost["evaluations_per_prediction"])


def _relative(part: pd.DataFrame, run: str, target: str,
              structures: PerInput | None = None) -> dict:
    """The relative test RMSE (as given) of one target of one run, with its interval,
    or why there is none."""
    if part.empty:
        return dict(status=f"not produced: no {target} at the last checkpoint of run {run}")
    row = part.iloc[0]
    if not row["reference_rms"] > 0:
        return dict(status=f"not produced: the reference RMS of {target} is zero in run "
                           f"{run}")
    key = (target, int(row["o3_lambda"]), int(row["o3_sigma"]))
    return dict(this_run=row["rmse_as_given"] / row["reference_rms"], epoch=int(row["epoch"]),
                n_samples=int(row["n_samples"]), status="computed",
                **_interval(Pooled.relative, (structures or PerInput()).at(run, row["epoch"]),
                            *key))


def geometric_rows(geometric_errors: pd.DataFrame, configuration: str,
                   structures: PerInput | None = None) -> list[dict]:
    """The geometric-target rows, at each run's last checkpoint: the relative test RMSE
    of the pseudoscalar for every run (in embedding order), then that of the highest
    density projection for the first Cartesian run and for the run of highest
    solid-harmonics order."""
    final = final_checkpoint(geometric_errors)
    augmentation = augmentations(geometric_errors)
    embedding = {row.run: (row.edge_embedding, row.edge_lmax) for row in
                 geometric_errors.drop_duplicates("run").itertuples(index=False)}
    # runs in embedding order (Cartesian, then solid harmonics of increasing L), as drawn
    runs = list(style.embedding_labels((run, *embedding[run]) for run in embedding))
    label = {run: style.embedding_label(*embedding[run]) for run in runs}
    base = dict(paper=np.nan, paper_source=NOT_QUOTED, configuration=configuration)
    rows = []
    for run in runs:
        part = final[(final["run"] == run) & (final["target"] == PSEUDOSCALAR)]
        rows.append(dict(base, key=GEOMETRIC[0], run=run, augmentation=augmentation[run],
                         quantity=f"PET pseudoscalar target, {label[run]} edge embedding: "
                                  "test RMSE (as given) / RMS of the reference",
                         **_relative(part, run, PSEUDOSCALAR, structures)))

    density = final[final["target"].map(lambda t: style.DENSITY.fullmatch(str(t)) is not None)]
    if density.empty:
        return rows + [dict(base, key=GEOMETRIC[1],
                            quantity="PET highest density projection: test RMSE (as "
                                     "given) / RMS of the reference",
                            status="not produced: no density projection in the geometric "
                                   "analysis tables")]
    lam = int(density["o3_lambda"].max())
    target = f"density_l{lam}"
    cartesian = [run for run in runs if embedding[run][0] == "cartesian"]
    harmonics = sorted((run for run in runs if embedding[run][0] == "solid_harmonics"),
                       key=lambda run: -style.embedding_key(*embedding[run])[1])
    for kind, chosen in (("the Cartesian", cartesian), ("a solid-harmonics", harmonics)):
        row = dict(base, key=GEOMETRIC[1])
        if not chosen:
            rows.append(dict(row, quantity=f"PET density λ={lam} target: test RMSE (as "
                                           "given) / RMS of the reference",
                             status=f"not produced: no geometric run with {kind} edge "
                                    "embedding"))
            continue
        run = chosen[0]
        part = density[(density["run"] == run) & (density["target"] == target)]
        rows.append(dict(row, run=run, augmentation=augmentation[run],
                         quantity=f"PET density λ={lam} target, {label[run]} edge "
                                  "embedding: test RMSE (as given) / RMS of the reference",
                         **_relative(part, run, target, structures)))
    return rows


def external_rows(external_errors: pd.DataFrame, configuration: str,
                  kind: str = EXTERNAL_KINDS["external_errors"]) -> list[dict]:
    """Per exported model (or calculator: ``kind``) and output it has: the ratio of the
    whole output's equivariance RMSE to its test RMSE on the structures as given
    (conservative forces and the virial stress where the model was analysed so)."""
    rows = []
    for run in run_order(external_errors):
        model = external_errors[external_errors["run"] == run]
        for key, label, targets in EXTERNAL:
            for target in targets:
                parts = model[model["target"] == target]
                if parts.empty:
                    continue
                accuracy, equivariance, n = whole_target(parts)
                row = dict(key=key, run=run, augmentation="external", paper=np.nan,
                           paper_source=f"not in the paper (an {kind})",
                           quantity=f"{kind}, {style.target_label(target)}: "
                                    "equivariance RMSE / test RMSE (as given)",
                           configuration=configuration, n_samples=n)
                if not np.isfinite(accuracy) or accuracy <= 0:
                    rows.append(dict(row, status="not produced: the structures carry no "
                                                 f"reference {label}"))
                else:
                    rows.append(dict(row, this_run=equivariance / accuracy,
                                     status="computed"))
    return rows


def _irreps(parts: pd.DataFrame) -> list[tuple[int, int]]:
    return list(zip(parts["o3_lambda"], parts["o3_sigma"], strict=True))


def _interval(*args) -> dict:
    """``ci_low`` and ``ci_high`` of the number the first arg pools from the others
    (:func:`symlearn.bootstrap.interval_of`); none without per-structure rows."""
    found = interval_of(*args)
    return {} if found is None else dict(ci_low=found[0], ci_high=found[1])


def data(errors: pd.DataFrame, polarmae_errors: pd.DataFrame, instability: pd.DataFrame,
         purification: pd.DataFrame, geometric_errors: pd.DataFrame,
         config: Mapping[str, Any], external_errors: pd.DataFrame | None = None,
         calculator_errors: pd.DataFrame | None = None,
         structures: pd.DataFrame | None = None,
         purification_structures: pd.DataFrame | None = None,
         geometric_structures: pd.DataFrame | None = None,
         points: Mapping | None = None,
         resamples: int = RESAMPLES, seed: int = SEED) -> pd.DataFrame:
    """One row per quoted number and run: the paper's value and this run's, with its
    95 % bootstrap interval over the analysed structures where the per-structure rows
    are given (figures.bootstrap)."""
    configuration = describe(config)
    structures = PerInput(structures, resamples, seed)
    purification_structures = PerInput(purification_structures, resamples, seed)
    geometric_structures = PerInput(geometric_structures, resamples, seed)
    final = final_checkpoint(errors)
    runs = list(dict.fromkeys(final["run"]))
    rows = []
    for key, quantity, target, paper, source in PAPER:
        for run in runs:
            parts = final[(final["run"] == run) & (final["target"] == target)]
            augmentation = parts["augmentation"].iloc[0] if len(parts) else None
            row = dict(key=key, quantity=quantity, run=run, augmentation=augmentation,
                       configuration=configuration)
            if augmentation == "o3":
                row.update(paper=paper, paper_source=source)
            else:
                row.update(paper=np.nan, paper_source="not in the paper (no augmentation)")
            if parts.empty:
                row.update(status=f"not produced: no {target} in the analysis tables of "
                                  f"run {run}" + (" (stress is analysed on periodic "
                                                  "structures only)" if "stress" in target
                                                  else ""))
            else:
                accuracy, equivariance, n = whole_target(parts)
                epoch = int(parts["epoch"].iloc[0])
                row.update(this_run=equivariance / accuracy, epoch=epoch,
                           n_samples=n, status="computed",
                           **_interval(Pooled.whole_ratio, structures.at(run, epoch),
                                       target, _irreps(parts)))
            rows.append(row)
    rows += polarmae_rows(polarmae_errors, instability, configuration, points, resamples,
                          seed)
    rows.append(purification_row(purification, configuration, purification_structures))
    rows += geometric_rows(geometric_errors, configuration, geometric_structures)
    for name, table in (("external_errors", external_errors),
                        ("calculator_errors", calculator_errors)):
        if table is not None and len(table):
            rows += external_rows(table, configuration, EXTERNAL_KINDS[name])
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def _number(value) -> str:
    """A fraction as a percentage: whole percents from 10 %, two digits below."""
    if pd.isna(value):
        return "—"
    return f"{100 * value:.0f} %" if 100 * abs(value) >= 9.5 else f"{100 * value:.2g} %"


def _value(row) -> str:
    """This run's number with its 95 % bootstrap interval where it has one."""
    text = _number(row.this_run)
    if not (pd.isna(row.ci_low) or pd.isna(row.ci_high)):
        text += f" [{_number(row.ci_low)}, {_number(row.ci_high)}]"
    return text


def _checkpoint(row) -> str:
    if row.augmentation == "external":
        return "the exported file"
    if not pd.isna(row.epoch):
        return f"epoch {int(row.epoch)}"
    if not pd.isna(row.step):
        return f"fine-tuning step {int(row.step)}"
    return "—"


def _status(row) -> str:
    """The row's status, with the cost in model evaluations where it has one."""
    if pd.isna(row.setup_evaluations) and pd.isna(row.evaluations_per_prediction):
        return row.status
    count = {name: "?" if pd.isna(v) else f"{int(v):,}" for name, v in (
        ("setup", row.setup_evaluations), ("each", row.evaluations_per_prediction))}
    return (f"{row.status}; cost: {count['setup']} model evaluations once, "
            f"{count['each']} per prediction")


def markdown(table: pd.DataFrame, config: Mapping[str, Any]) -> str:
    lines = [
        "# table1: the paper's headline numbers and this run's",
        "",
        "PET: ratios of equivariance RMSE to test RMSE on the analysed test structures at "
        "each run's last checkpoint (docs/symmetry.md, metric A); the test RMSE is the "
        "error of the model on the test inputs as given (the paper's absolute error), "
        "not the error averaged over orientations. PoLAr-MAE, at each run's last "
        "fine-tuning checkpoint on the analysed events: the ratio of the equivariance "
        "RMSE of the per-point class probabilities (which should be invariant) to their "
        "test RMSE as given against the one-hot true class, and the mean classification "
        "instability, the share of the grid's orientations (weighted by the grid "
        "weights) in which a point's predicted class differs from that of the "
        "symmetrized prediction, averaged over every point. Purification: the "
        "equivariance RMSE of the whole stress tensor after the readout refit (the last "
        "layers refitted in closed form to the training error plus mu x A^2, at the "
        "largest mu that keeps the stress's test RMSE within 1.1 x the original's), "
        "divided by the original model's, for the first "
        "purified run trained with O(3) augmentation; its status gives what that costs in "
        "model evaluations. Geometric targets, at each run's last checkpoint: the test "
        "RMSE as given divided by the RMS of the reference values (100 % is no better "
        "than predicting zero) of the pseudoscalar for every run, and of the highest "
        "density projection for the Cartesian and the highest-order solid-harmonics edge "
        "embedding. Exported models (external.models) and ASE calculators "
        "(external.calculators), if any: the ratio of each whole output's equivariance "
        "RMSE to its test RMSE as given (a calculator's stress without its antisymmetric "
        "part, which ASE does not hold). The embedded default run "
        "uses small synthetic data and small models: its numbers are not expected to "
        "match the paper's. In brackets: the 95 % bootstrap interval over the analysed "
        "structures (the PoLAr-MAE instability: over the events), with the spread of the "
        "training seeds added where a run has several (docs/statistics.md).",
        "",
        "| quantity | run | paper | this run | checkpoint | status |",
        "|---|---|---|---|---|---|",
    ]
    for row in table.itertuples(index=False):
        lines.append(f"| {row.quantity} | {row.run if isinstance(row.run, str) else '—'} "
                     f"| {_number(row.paper)} | {_value(row)} | {_checkpoint(row)} "
                     f"| {_status(row)} |")
    lines += ["", "Paper values, from arXiv:2603.24638:", ""]
    for row in table.drop_duplicates("key").itertuples(index=False):
        if not pd.isna(row.paper):
            lines.append(f"- {row.quantity}: {_number(row.paper)} ({row.paper_source})")
    unquoted = table[table["key"].isin([key for key, _ in POLARMAE])]
    if len(unquoted):
        lines.append(f"- PoLAr-MAE rows: {NOT_QUOTED}; this run's values only")
    if table["key"].isin(GEOMETRIC).any():
        lines.append(f"- geometric-target rows: {NOT_QUOTED}; this run's values only")
    lines += ["", "## Configuration that produced this run's values", "",
              describe(config), "", "```yaml",
              yaml.safe_dump(dict(config), sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)


def build(inputs, prefix, resamples: int = RESAMPLES, seed: int = SEED):
    tables = {name: read_table(inputs[name], columns) if name in inputs
              else pd.DataFrame(columns=columns)
              for name, columns in INPUTS.items() if columns is not None}
    tables.update(read_per_input(inputs, PER_INPUT))
    with open(inputs["config"]) as handle:
        config = yaml.safe_load(handle)
    table = data(**tables, config=config, points=points_by_run(inputs),
                 resamples=resamples, seed=seed)
    prefix = str(prefix)
    write_text_atomic(prefix + ".md", markdown(table, config))
    write_text_atomic(prefix + ".csv", table.to_csv(index=False))
    return {"csv": prefix + ".csv", "md": prefix + ".md"}
