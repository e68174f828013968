"""external: fig2 for one exported model of ``external.models`` (the metatomic family)
or one ASE calculator of ``external.calculators`` (the calculator family).

(a) the test RMSE of the structures as given next to the equivariance RMSE (A) of each
output part, with A's quadrature error; (b) the character fractions of every feature
output the model declares, sigma = +1 and -1 side by side, and the content above
lambda_max. Drawn exactly as fig2 (:mod:`fig2`), from the collected tables of
``results/analysis/metatomic/`` or ``results/analysis/calculators/``. A calculator shows
no features: its figure is panel (a) alone, saying so where (b) would be.
"""

from __future__ import annotations

import math

import pandas as pd

from . import fig2, style
from .tables import FigureError

INPUTS = fig2.INPUTS
#: a calculator's collected spectrum has no rows (no features): panel (a) alone
MAY_BE_EMPTY = ("spectrum",)


def data(errors: pd.DataFrame, spectrum: pd.DataFrame, model: str | None = None
         ) -> pd.DataFrame:
    """fig2's table for one model (``model``: its name under external.models; None:
    every model in the tables)."""
    if model is not None:
        errors, spectrum = errors[errors["run"] == model], spectrum[spectrum["run"] == model]
        if errors.empty and spectrum.empty:
            raise FigureError(f"the tables hold no analysis of the model {model!r}")
    return fig2.data(errors, spectrum)


#: where panel (b) would be, for a model with no feature analysed
NO_FEATURES = ("(b) not drawn: B, the character spectrum of internal features, is not "
               "measured\n(an ASE calculator shows its outputs only)")


def plot(table: pd.DataFrame):
    """fig2's figure; panel (a) alone, with a line saying why, when there is no
    feature (a calculator)."""
    if (table["panel"] == "b").any():
        return fig2.plot(table)
    bars = table[table["panel"] == "a"]
    height = 1.15 * math.ceil(bars["part"].nunique() / 2) + 0.6
    fig = style.figure(height + 0.35)
    top, note = fig.subfigures(2, 1, height_ratios=[height, 0.35])
    fig2.draw_bars(top, bars)
    note.text(0.5, 0.5, NO_FEATURES, ha="center", va="center",
              fontsize=style.FONT_SIZE - 1, color="0.3")
    return fig
