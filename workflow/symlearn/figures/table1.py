"""table1: the paper's headline numbers next to the values this run computed.

The paper's values are quoted from its text (arXiv:2603.24638) and typed in here, with
where they come from; every value of this run is computed from the analysis tables.
A value the pipeline does not produce yet is listed with its status, never left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..config import pet_grid_degree
from ..io import write_text_atomic
from .tables import ERRORS, final_checkpoint, read_table

INPUTS = {"errors": ERRORS,
          # the resolved configuration (YAML, written by the provenance rule)
          "config": None}

#: (key, quantity, target, paper value, where the paper says it)
PAPER = [
    ("pet_energy", "PET energy: equivariance RMSE / test RMSE", "energy", 0.10,
     "arXiv:2603.24638: PET on MAD-1.5, equivariance error about 10 % of the absolute "
     "error for the energy"),
    ("pet_forces", "PET forces: equivariance RMSE / test RMSE", "non_conservative_force",
     0.31, "arXiv:2603.24638: 31 % for the non-conservative forces"),
    ("pet_stress", "PET stress (full tensor): equivariance RMSE / test RMSE",
     "non_conservative_stress", 0.26,
     "arXiv:2603.24638: 26 % for the non-conservative stress"),
]
PURIFICATION = ("pet_stress_purified",
                "PET stress: equivariance RMSE after / before readout purification",
                "non_conservative_stress", 0.5,
                "arXiv:2603.24638: purification roughly halves the stress equivariance "
                "error (quoted as about 50 %)")
COLUMNS = ["key", "quantity", "paper", "paper_source", "this_run", "run", "augmentation",
           "epoch", "n_samples", "status", "configuration"]


def whole_target(rows: pd.DataFrame) -> tuple[float, float, int]:
    """Accuracy and equivariance RMSE of a whole output from its irrep parts: per
    component, each part weighted by its 2 lambda + 1 components (the parts are
    orthonormal, so squared errors add)."""
    weights = (2 * rows["o3_lambda"] + 1).to_numpy(float)
    accuracy = np.sqrt(np.sum(weights * rows["accuracy_rmse"] ** 2) / weights.sum())
    equivariance = np.sqrt(np.sum(weights * rows["equivariance_rmse"] ** 2) / weights.sum())
    return float(accuracy), float(equivariance), int(rows["n_samples"].max())


def describe(config: Mapping[str, Any]) -> str:
    """One line saying which data, models and analysis produced the numbers."""
    data = config["data"]["atomistic"]
    source = data["source"]
    size = (f"{sum(data['synthetic']['n_structures'].values())} structures"
            if source == "synthetic" else "")
    model, training = config["pet"]["model"], config["pet"]["training"]
    analysis = config["analysis"]["pet"]
    return (f"data: {source} {size}".rstrip() + "; "
            f"PET d_pet={model['d_pet']}, {model['num_gnn_layers']} GNN layers, "
            f"{training['epochs']} epochs; analysis: {analysis['n_structures']} test "
            f"structures, grid degree {pet_grid_degree(config)}, "
            f"lambda_max {analysis['lambda_max']}")


def data(errors: pd.DataFrame, config: Mapping[str, Any]) -> pd.DataFrame:
    """One row per quoted number and run: the paper's value and this run's."""
    configuration = describe(config)
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
                row.update(this_run=equivariance / accuracy, epoch=int(parts["epoch"].iloc[0]),
                           n_samples=n, status="computed")
            rows.append(row)
    key, quantity, target, paper, source = PURIFICATION
    rows.append(dict(key=key, quantity=quantity, paper=paper, paper_source=source,
                     status="not produced yet: the pipeline has no purification rule",
                     configuration=configuration))
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def _number(value) -> str:
    return "—" if pd.isna(value) else f"{100 * value:.0f} %"


def markdown(table: pd.DataFrame, config: Mapping[str, Any]) -> str:
    lines = [
        "# table1: the paper's headline numbers and this run's",
        "",
        "Ratios of equivariance RMSE to test RMSE on the analysed test structures at each "
        "run's last checkpoint (SYMMETRY.md, metric A). The embedded default run uses "
        "small synthetic data and small models: its numbers are not expected to match "
        "the paper's.",
        "",
        "| quantity | run | paper | this run | epoch | status |",
        "|---|---|---|---|---|---|",
    ]
    for row in table.itertuples(index=False):
        epoch = "—" if pd.isna(row.epoch) else str(int(row.epoch))
        lines.append(f"| {row.quantity} | {row.run if isinstance(row.run, str) else '—'} "
                     f"| {_number(row.paper)} | {_number(row.this_run)} | {epoch} "
                     f"| {row.status} |")
    lines += ["", "Paper values, from arXiv:2603.24638:", ""]
    for row in table.drop_duplicates("key").itertuples(index=False):
        if not pd.isna(row.paper):
            lines.append(f"- {row.quantity}: {_number(row.paper)} ({row.paper_source})")
    lines += ["", "## Configuration that produced this run's values", "",
              describe(config), "", "```yaml",
              yaml.safe_dump(dict(config), sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)


def build(inputs, prefix):
    errors = read_table(inputs["errors"], INPUTS["errors"])
    with open(inputs["config"]) as handle:
        config = yaml.safe_load(handle)
    table = data(errors, config)
    prefix = str(prefix)
    write_text_atomic(prefix + ".md", markdown(table, config))
    write_text_atomic(prefix + ".csv", table.to_csv(index=False))
    return {"csv": prefix + ".csv", "md": prefix + ".md"}
