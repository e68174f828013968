"""What ``symlearn diagnose`` starts from and prints: its default settings (the
pipeline's ``analysis.metatomic``) and the summary of its tables.

A diagnosis (:func:`symlearn.diagnose`) runs exactly what the ``analyse_metatomic`` rule
runs (the same settings keys, the same tables), so a number printed is a number the
pipeline would write.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def defaults() -> dict[str, Any]:
    """The settings of a diagnosis when none are given: ``analysis.metatomic``, the
    quadrature rule and the quadrature check of config/config.yaml, so that
    ``diagnose`` and the pipeline's default agree, with conservative forces, every
    output and every layer."""
    import yaml

    from ..settings.base import DEFAULT_CONFIG

    with open(DEFAULT_CONFIG) as handle:
        analysis = yaml.safe_load(handle)["analysis"]
    return {**analysis["metatomic"], "quadrature_check": analysis["quadrature_check"],
            "quadrature": analysis["quadrature"], "forces": "conservative",
            "outputs": None, "layers": None}


#: the unit of each energy-like output in the tables
UNITS = {"energy": "eV/atom", "non_conservative_force": "eV/Å",
         "conservative_force": "eV/Å", "non_conservative_stress": "eV/Å³",
         "conservative_stress": "eV/Å³",
         # an ASE calculator's (symlearn.calculators)
         "forces": "eV/Å", "stress": "eV/Å³"}


def _number(value: float, error: float | None = None) -> str:
    if value is None or not np.isfinite(value):
        return "—"
    text = f"{value:.3g}"
    if error is not None and np.isfinite(error):
        text += f" ± {error:.1g}"
    return text


def symmetrized_rmse(structures: pd.DataFrame, degree: int | None
                     ) -> dict[tuple[str, int, int], float]:
    """The RMSE of the symmetrized prediction per output part, pooled by samples from
    the per-structure rows on the main grid (``degree``); computed there from its own
    sums, not as sqrt(averaged^2 - A^2), which cancels when A is most of the error."""
    if structures is None or structures.empty or "symmetrized_mse" not in structures:
        return {}
    rows = structures[(structures["table"] == "errors")
                      & (structures["grid_degree"] == degree)].dropna(
        subset=["symmetrized_mse"])
    sums = rows.assign(total=rows["symmetrized_mse"] * rows["n_samples"]).groupby(
        ["name", "o3_lambda", "o3_sigma"])[["total", "n_samples"]].sum()
    return {key: float(np.sqrt(row.total / row.n_samples)) for key, row in sums.iterrows()}


def summary_text(errors: pd.DataFrame, spectrum: pd.DataFrame,
                 no_layers: str | None = None,
                 symmetrized: dict[tuple[str, int, int], float] | None = None) -> str:
    """A per output part (with its quadrature error) next to the errors against the
    labels: on the structures as given, averaged over the orientations, and of the
    symmetrized (orientation-averaged) prediction (``symmetrized``, from
    :func:`symmetrized_rmse`), then each layer's character fractions and the residual
    above lambda_max (``no_layers``: why there are none, for a model that shows none)."""
    lines = ["A: equivariance RMSE (± its quadrature error), and the RMSE against the "
             "labels of the structures as given, averaged over the orientations, and of "
             "the symmetrized prediction", ""]
    header = (f"{'output part':<34}{'A':>20}{'as given':>11}{'averaged':>11}"
              f"{'symmetrized':>13}{'A / as given':>14}")
    lines += [header, "-" * len(header)]
    for row in errors.itertuples():
        part = f"{row.target} ({row.o3_lambda},{row.o3_sigma:+d}) [{UNITS.get(row.target, '')}]"
        ratio = (row.equivariance_rmse / row.rmse_as_given
                 if np.isfinite(row.rmse_as_given) and row.rmse_as_given > 0 else np.nan)
        pooled = (symmetrized or {}).get((row.target, row.o3_lambda, row.o3_sigma), np.nan)
        lines.append(f"{part:<34}{_number(row.equivariance_rmse, row.quadrature_error):>20}"
                     f"{_number(row.rmse_as_given):>11}{_number(row.accuracy_rmse):>11}"
                     f"{_number(pooled):>13}{_number(ratio):>14}")
    if errors.empty:
        lines.append("(no output analysed)")
    lines += ["", "B: character fractions per layer (sigma = +1 / -1 per lambda), and the "
              "residual above lambda_max", ""]
    if spectrum.empty:
        lines.append(f"({no_layers or 'no layer analysed'})")
        return "\n".join(lines)
    lambdas = sorted(spectrum["o3_lambda"].unique())
    columns = "".join(f"{f'λ={lam} +/−':>14}" for lam in lambdas)
    header = f"{'layer':<56}{columns}{'residual':>10}"
    lines += [header, "-" * len(header)]
    for layer, rows in spectrum.groupby("layer", sort=False):
        fractions = rows.set_index(["o3_lambda", "o3_sigma"])["fraction"]
        cells = "".join(f"{fractions.get((lam, 1), np.nan):>7.3f}/"
                        f"{fractions.get((lam, -1), np.nan):<6.3f}" for lam in lambdas)
        lines.append(f"{layer[:55]:<56}{cells}{rows['residual'].iloc[0]:>10.3g}")
    return "\n".join(lines)
