"""``assert_equivariant`` for a test suite: A of a model's outputs on an O(3) quadrature
rule exact to its degree, per structure and output part, against a tolerance.

A check on one random rotation (e3nn's ``assert_equivariant``) or a few sampled group
elements (escnn's ``check_equivariance``) sees the model at those rotations only. This
integrates the equivariance error over the whole of O(3), rotations and inversions, on
a rule exact for responses whose angular content stays within the rule's degree
(docs/symmetry.md; beyond it the integral is a quadrature estimate), and the quadrature
check re-measures it on a finer rule, so a number that the grid does not resolve comes
with its error rather than passing unnoticed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["assert_equivariant"]


def assert_equivariant(model, structures, *, rtol: float = 1e-8, atol: float = 0.0,
                       **settings) -> pd.DataFrame:
    """Fail unless every output part of ``model`` is equivariant on every structure: its
    A (the RMS over the grid of the prediction's deviation from its orbit average,
    transformed back) at most ``atol + rtol x`` the RMS of that output on that
    structure. ``model`` and ``structures`` are those of :func:`symlearn.diagnose`
    (an ``AtomisticModel``, its file or an ASE calculator; ``ase.Atoms`` or an extxyz
    path), and so are ``settings``. Returns the errors table on a pass; raises
    ``AssertionError`` naming the output, the structure, A, the tolerance and the grid."""
    from .diagnosis import diagnose

    if rtol < 0 or atol < 0:
        raise ValueError(f"rtol and atol must be >= 0, got {rtol}, {atol}")
    diagnosis = diagnose(model, structures, **settings)
    rows = diagnosis.structures
    rows = rows[(rows["table"] == "errors")
                & (rows["grid_degree"] == rows["grid_degree"].min())]
    # the scale of an output on a structure: the largest RMS among its parts
    scale = rows.groupby(["structure", "name"])["output_ms"].transform(
        lambda ms: np.sqrt(ms.max()))
    a = np.sqrt(rows["equivariance_mse"].astype(float))
    tolerance = atol + rtol * scale
    failing = rows[~(a <= tolerance)]
    if not failing.empty:
        worst = (a[failing.index] / tolerance[failing.index].clip(lower=1e-300)).idxmax()
        row = rows.loc[worst]
        raise AssertionError(
            f"{diagnosis.model}: {row['name']} ({int(row.o3_lambda)},{int(row.o3_sigma):+d}) "
            f"of structure {int(row.structure)} is not equivariant: A = {a[worst]:.3g} > "
            f"tolerance {tolerance[worst]:.3g} (atol {atol:g} + rtol {rtol:g} x output "
            f"RMS {scale[worst]:.3g}), on {diagnosis.grid}; {len(failing)} of {len(rows)} "
            "output parts fail")
    return diagnosis.errors
