"""Aliasing, the grid-degree rule that avoids it for the model's outputs, and the
quadrature check that measures it (docs/symmetry.md, "Aliasing", "Quadrature error")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from symlearn.analyse.tables import QuadratureCheck, checked_tables, input_rows
from symlearn.symmetry import GridContext, OutputKind, analyse_input, analysis_degree, o3_quadrature
from symlearn.table_schemas import ERRORS_COLUMNS, SPECTRUM_COLUMNS

LAMBDA_MAX = 4
AXIS = torch.tensor([0.3, -0.5, 0.8], dtype=torch.float64)


@pytest.fixture(autouse=True, scope="module")
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def pure_lambda8(g: torch.Tensor) -> dict[str, torch.Tensor]:
    """Channels Y_8m(g a), a response with content at lambda = 8 only (sigma = +1)."""
    from e3nn import o3

    axis = AXIS / AXIS.norm()
    sh = o3.spherical_harmonics(8, g @ axis, normalize=True, normalization="component")
    return {"u": sh[:, None, :]}


def spectrum_rows(degree: int, structure: int = 0) -> list[dict]:
    context = GridContext(o3_quadrature(degree), LAMBDA_MAX)
    analysis = analyse_input(pure_lambda8, context, features=["u"])
    return [dict(row, grid_degree=degree)
            for row in input_rows(analysis, {"structure": structure})]


def fractions(rows: list[dict]) -> dict[tuple[int, int], float]:
    return {(r["o3_lambda"], r["o3_sigma"]): r["fraction"] for r in rows}


def test_the_degree_rule():
    """max(2 lambda_max, lambda_max + L): the standard PET outputs (L = 2) keep degree 8,
    the lambda = 8 density targets get 12; the workflow's torch-free copy agrees."""
    assert analysis_degree(4, 2) == 8
    assert analysis_degree(4, 8) == 12
    assert analysis_degree(0, 0) == 1  # an invariant output's variance needs D >= 1
    assert analysis_degree(2, 8) == 10


def test_a_pure_lambda8_response_aliases_on_the_degree_8_grid():
    """On degree 8 the lambda = 8 content leaks into lambda <= 4 (D < lambda_max + 8);
    on degree 12, the rule's, every fraction at or below lambda_max is zero and the
    residual holds all of it."""
    coarse = fractions(spectrum_rows(8))
    assert max(coarse.values()) > 0.05  # a pure lambda = 8 response has none of these
    assert coarse[(4, 1)] > 0.05
    residual = spectrum_rows(8)[0]["residual"]
    assert residual < 0.95
    rows = spectrum_rows(analysis_degree(LAMBDA_MAX, 8))
    assert max(fractions(rows).values()) < 1e-12
    assert rows[0]["residual"] == pytest.approx(1.0, abs=1e-12)


def test_the_quadrature_check_measures_and_flags_aliasing():
    """The check's largest change is the difference between the two grids, per irrep,
    and an aliased fraction is flagged; on the rule's grid nothing is."""
    check = QuadratureCheck(degree=8, n_inputs=1, delta=4, tolerance=0.01)
    coarse, fine = spectrum_rows(8), spectrum_rows(12)
    logged = []
    _, spectrum = checked_tables(pd.DataFrame(coarse), pd.DataFrame(fine), "structure",
                                 check, log=lambda *a, **k: logged.append(a[0]))
    assert list(spectrum.columns) == SPECTRUM_COLUMNS
    by = spectrum.set_index(["o3_lambda", "o3_sigma"])
    f8, f12 = fractions(coarse), fractions(fine)
    for irrep, value in f8.items():
        assert by.loc[irrep, "fraction"] == pytest.approx(value, abs=1e-15)
        assert by.loc[irrep, "quadrature_error"] == pytest.approx(abs(value - f12[irrep]),
                                                                  abs=1e-15)
    assert bool(by.loc[(4, 1), "quadrature_flagged"])
    assert (by["grid_degree"] == 8).all() and (by["check_degree"] == 12).all()
    assert logged and "degree 8" in logged[0] and "grid_degree >= 12" in logged[0]

    check = QuadratureCheck(degree=12, n_inputs=1, delta=4, tolerance=0.01)
    _, spectrum = checked_tables(pd.DataFrame(spectrum_rows(12)),
                                 pd.DataFrame(spectrum_rows(16)), "structure", check,
                                 log=lambda *a, **k: None)
    assert float(spectrum["quadrature_error"].max()) < 1e-12
    assert not spectrum["quadrature_flagged"].any()


def test_without_a_check_the_error_is_unknown_not_zero():
    check = QuadratureCheck(degree=8, n_inputs=0)
    _, spectrum = checked_tables(pd.DataFrame(spectrum_rows(8)), None, "structure", check,
                                 log=lambda *a, **k: None)
    assert spectrum["quadrature_error"].isna().all()
    assert spectrum["check_degree"].isna().all()
    assert not spectrum["quadrature_flagged"].any()


def _mlp_outputs():
    """An unconstrained network of four points: energy and forces with no symmetry."""
    torch.manual_seed(7)
    mlp = torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.Tanh(),
                              torch.nn.Linear(32, 13))
    points = torch.randn(4, 3)

    def evaluate(g):
        with torch.no_grad():
            out = mlp(torch.einsum("bij,pj->bpi", g, points).reshape(len(g), 12))
        return {"energy": out[:, None, :1], "forces": out[:, 1:].reshape(-1, 4, 3)}

    kinds = {"energy": OutputKind("invariant"), "forces": OutputKind("vector")}
    references = {"energy": torch.tensor([[0.3]]), "forces": torch.randn(4, 3)}
    return evaluate, kinds, references


def test_rmse_as_given_is_the_error_of_the_input_as_given():
    """The identity is a grid point: rmse_as_given is |f(x) - y| there, which differs from
    the orientation-averaged RMSE of a model that is not equivariant."""
    evaluate, kinds, references = _mlp_outputs()
    context = GridContext(o3_quadrature(5), None)
    analysis = analyse_input(evaluate, context, outputs=kinds, references=references,
                             exact_outputs=False, batch_size=16)
    rows = pd.DataFrame(input_rows(analysis, {"structure": 0}))
    errors, _ = checked_tables(rows.assign(grid_degree=5), None, "structure",
                               QuadratureCheck(degree=5, n_inputs=0),
                               log=lambda *a, **k: None)
    assert list(errors.columns) == ERRORS_COLUMNS
    direct = evaluate(torch.eye(3)[None])
    by = errors.set_index("target")
    for name in kinds:
        expected = float((direct[name][0].reshape(references[name].shape)
                          - references[name]).square().mean().sqrt())
        assert by.loc[name, "rmse_as_given"] == pytest.approx(expected, rel=1e-12)
    assert by.loc["forces", "rmse_as_given"] != pytest.approx(
        by.loc["forces", "accuracy_rmse"], rel=1e-3)


def test_the_quadrature_error_of_a_is_the_change_of_the_rmse():
    evaluate, kinds, references = _mlp_outputs()
    per_grid = {}
    for degree in (5, 9):
        analysis = analyse_input(evaluate, GridContext(o3_quadrature(degree), None),
                                 outputs=kinds, references=references, exact_outputs=False)
        per_grid[degree] = pd.DataFrame(input_rows(analysis, {"structure": 0})).assign(
            grid_degree=degree)
    errors, _ = checked_tables(per_grid[5], per_grid[9], "structure",
                               QuadratureCheck(degree=5, n_inputs=1, delta=4),
                               log=lambda *a, **k: None)
    for row in errors.itertuples():
        a = [per_grid[d].set_index("name").loc[row.target, "equivariance_mse"] ** 0.5
             for d in (5, 9)]
        assert row.quadrature_error == pytest.approx(abs(a[0] - a[1]), abs=1e-14)
        assert row.grid_degree == 5 and row.check_degree == 9
    assert np.isfinite(errors["accuracy_quadrature_error"]).all()


def test_an_irrep_that_vanishes_identically_is_not_flagged():
    """A symmetric stress's antisymmetric part is zero up to round-off on both grids: a
    relative change of round-off is not a quadrature error worth a flag."""
    rows = []
    for degree, noise in ((8, 2.4e-36), (12, 5.0e-36)):
        for lam, sigma, mse in ((0, 1, 0.04), (1, -1, noise), (2, 1, 1e-4)):
            rows.append({"table": "errors", "structure": 0, "name": "stress",
                         "o3_lambda": lam, "o3_sigma": sigma, "n_samples": 1,
                         "equivariance_mse": mse / 10, "accuracy_mse": mse,
                         "as_given_mse": mse, "reference_ms": 0.05, "grid_degree": degree})
    rows = pd.DataFrame(rows)
    errors, _ = checked_tables(rows[rows.grid_degree == 8], rows[rows.grid_degree == 12],
                               "structure", QuadratureCheck(degree=8),
                               log=lambda *a, **k: None)
    by = errors.set_index(["o3_lambda", "o3_sigma"])
    # relative to itself, the round-off changes by far more than the tolerance
    assert by.loc[(1, -1), "quadrature_error"] > 0.05 * by.loc[(1, -1), "equivariance_rmse"]
    assert not by["quadrature_flagged"].any()
