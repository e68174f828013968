"""external: fig2 for one exported model of ``external.models`` (the metatomic family).

(a) the test RMSE of the structures as given next to the equivariance RMSE (A) of each
output part, with A's quadrature error; (b) the character fractions of every feature
output the model declares, sigma = +1 and -1 side by side, and the content above
lambda_max. Drawn exactly as fig2 (:mod:`fig2`), from the collected tables of
``results/analysis/metatomic/``.
"""

from __future__ import annotations

import pandas as pd

from . import fig2
from .tables import FigureError

INPUTS = fig2.INPUTS


def data(errors: pd.DataFrame, spectrum: pd.DataFrame, model: str | None = None
         ) -> pd.DataFrame:
    """fig2's table for one model (``model``: its name under external.models; None:
    every model in the tables)."""
    if model is not None:
        errors, spectrum = errors[errors["run"] == model], spectrum[spectrum["run"] == model]
        if errors.empty and spectrum.empty:
            raise FigureError(f"the tables hold no analysis of the model {model!r}")
    return fig2.data(errors, spectrum)


plot = fig2.plot
