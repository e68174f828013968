"""The learnability table: the relative test RMSE of every geometric target for the
exactly equivariant control and for each PET run, side by side, at each run's last
checkpoint.

A target that the control (metatrain's SOAP-BPNN, equivariant by construction) learns
is learnable from these data at this scale, so a PET embedding that fails it fails for
its own reasons (findings 5 and 6 are judged only there). The table also gives the
control's largest equivariance error relative to its output's RMS: for an exactly
equivariant network it is float64 round-off, a check of the analysis itself.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..figures import style
from ..figures.tables import GEOMETRIC_ERRORS, final_checkpoint, read_table
from ..io import write_text_atomic
from .geometric import CONTROL
from .verdicts import LEARNED_BELOW

INPUTS = {"geometric_errors": GEOMETRIC_ERRORS}
OPTIONAL = tuple(INPUTS)
COLUMNS = ["target", "o3_lambda", "o3_sigma", "run", "model", "epoch",
           "relative_test_rmse", "learned", "equivariance_rmse", "output_rms",
           "relative_equivariance"]


def data(geometric_errors: pd.DataFrame | None) -> pd.DataFrame:
    """One row per geometric target and run at the run's last checkpoint: relative test
    RMSE (test RMSE on the structures as given / RMS of the reference), whether that is
    learned (< :data:`LEARNED_BELOW`), and A / RMS of the output over the grid."""
    if geometric_errors is None or geometric_errors.empty:
        return pd.DataFrame(columns=COLUMNS)
    final = final_checkpoint(geometric_errors)
    labels = style.embedding_labels(
        (r.run, r.edge_embedding, r.edge_lmax)
        for r in final[["run", "edge_embedding", "edge_lmax"]].itertuples(index=False))
    rows = []
    for row in final.itertuples(index=False):
        reference = float(row.reference_rms)
        relative = float(row.rmse_as_given) / reference if reference > 0 else math.nan
        output = float(row.output_rms)
        rows.append(dict(
            target=row.target, o3_lambda=int(row.o3_lambda), o3_sigma=int(row.o3_sigma),
            run=row.run, model=labels[row.run], epoch=int(row.epoch),
            relative_test_rmse=relative, learned=bool(relative < LEARNED_BELOW),
            equivariance_rmse=float(row.equivariance_rmse), output_rms=output,
            relative_equivariance=(float(row.equivariance_rmse) / output
                                   if output > 0 else math.nan)))
    table = pd.DataFrame(rows, columns=COLUMNS)
    order = {run: i for i, run in enumerate(labels)}
    return table.sort_values(["o3_lambda", "o3_sigma", "run"], key=lambda c: c.map(
        order) if c.name == "run" else c).reset_index(drop=True)


def control_floor(table: pd.DataFrame) -> tuple[float, str] | None:
    """The controls' largest A / output RMS over their targets, and where."""
    control = table[table["model"].str.startswith(style.EMBEDDINGS[CONTROL])]
    control = control[np.isfinite(control["relative_equivariance"])]
    if control.empty:
        return None
    worst = control.loc[control["relative_equivariance"].idxmax()]
    return float(worst["relative_equivariance"]), f"{worst['target']} ({worst['run']})"


def markdown(table: pd.DataFrame) -> str:
    lines = ["# Learnability of the geometric targets", "",
             "Relative test RMSE (test RMSE on the test structures as given / RMS of the "
             "reference; 1: no better than predicting zero) at each run's last "
             f"checkpoint; below {LEARNED_BELOW:g} the target counts as learned (*).", ""]
    if table.empty:
        return "\n".join(lines + ["No run was trained on the geometric targets.", ""])
    wide = table.pivot_table(index=["o3_lambda", "o3_sigma", "target"], columns="model",
                             values="relative_test_rmse", sort=False)
    models = list(dict.fromkeys(table["model"]))
    epochs = table.groupby("model")["epoch"].first()
    lines.append("| target | " + " | ".join(f"{m} (epoch {epochs[m]})" for m in models)
                 + " |")
    lines.append("|---|" + "---|" * len(models))
    for (lam, sigma, target), values in wide.iterrows():
        cells = [f"{values[m]:.3f}{'*' if values[m] < LEARNED_BELOW else ''}"
                 if np.isfinite(values[m]) else "" for m in models]
        lines.append(f"| {style.target_label(target)} ({lam},{sigma:+d}) | "
                     + " | ".join(cells) + " |")
    floor = control_floor(table)
    lines.append("")
    if floor is None:
        lines.append("No exactly equivariant control run: whether a target is learnable "
                     "at this scale is not measured.")
    else:
        lines.append(f"The control's largest equivariance RMSE relative to the RMS of its "
                     f"output over the grid: {floor[0]:.2g} ({floor[1]}); an exactly "
                     "equivariant network sits at float64 round-off.")
    return "\n".join(lines + [""])


def build(inputs, prefix, **_options):
    errors = (read_table(inputs["geometric_errors"], GEOMETRIC_ERRORS)
              if "geometric_errors" in inputs else None)
    table = data(errors)
    prefix = str(prefix)
    write_text_atomic(prefix + ".md", markdown(table))
    write_text_atomic(prefix + ".csv", table.to_csv(index=False))
    return {"csv": prefix + ".csv", "md": prefix + ".md"}
