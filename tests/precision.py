"""How closely two analyses of the same checkpoint must agree: in another precision
(float32 against float64) or on another device (CUDA against CPU). docs/symmetry.md,
"Precision", states these tolerances."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

KEYS = ["target", "o3_lambda", "o3_sigma"]
#: float32 against float64: an RMSE to this fraction of its target's label RMS, a
#: character fraction to this, absolutely
FLOAT32_TOLERANCE = 1e-5


def _scale(errors: pd.DataFrame) -> pd.Series:
    """Per row, the label RMS the RMSEs are compared against: the row's, or where the
    labels vanish (the antisymmetric stress) the largest of its target's."""
    largest = errors.groupby("target")["reference_rms"].transform("max")
    return errors["reference_rms"].where(errors["reference_rms"] > 0, largest)


def assert_tables_agree(reference: Path, other: Path, *, relative: float | None = None,
                        scaled: float | None = None) -> dict[str, float]:
    """``errors.csv`` and ``spectrum.csv`` of two analysis folders agree: every RMSE and
    fraction to ``relative`` (relative; fractions and RMSEs at exactly 0 absolutely), or
    RMSEs to ``scaled`` times the label RMS and fractions to ``scaled`` absolutely.
    Returns the largest deviation found of each kind."""
    a = pd.read_csv(Path(reference) / "errors.csv").set_index(KEYS).sort_index()
    b = pd.read_csv(Path(other) / "errors.csv").set_index(KEYS).sort_index()
    assert list(a.index) == list(b.index)
    p = pd.read_csv(Path(reference) / "spectrum.csv")
    q = pd.read_csv(Path(other) / "spectrum.csv")
    assert p[["layer", "o3_lambda", "o3_sigma"]].equals(q[["layer", "o3_lambda", "o3_sigma"]])
    worst = {}
    rmse_scale = _scale(a.reset_index()).to_numpy()
    for frame, other_frame, columns, scale in ((a, b, ("rmse_as_given", "equivariance_rmse"),
                                                rmse_scale),
                                               (p, q, ("fraction", "residual"), 1.0)):
        for column in columns:
            x, y = frame[column].to_numpy(), other_frame[column].to_numpy()
            if relative is not None:
                deviation = np.abs(x - y) / np.where(x != 0, np.abs(x), 1.0)
                limit = relative
            else:
                deviation, limit = np.abs(x - y) / scale, scaled
            worst[column] = float(np.nanmax(deviation))
            assert worst[column] <= limit, (column, worst[column], limit)
    return worst
