"""The O(3) quadrature and the representations (docs/symmetry.md): every rule family's
grid exact up to its degree and visibly not beyond, metatomic's grid, e3nn's Wigner-D.
The rule files themselves: tests/unit/test_quadrature_rules.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from symlearn.symmetry import (
    GridTooCoarse,
    character,
    o3_quadrature,
    representation,
    required_degree,
    wigner_D,
)

RULES = ("auto", "lebedev", "graef_so3", "graef_s2")


def _grid_average(degree: int, o3_lambda: int, rule: str = "auto") -> torch.Tensor:
    """sum_R w_R D^lambda(R) over the proper half of the grid (SO(3) weights)."""
    q = o3_quadrature(degree, rule)
    rotations = torch.as_tensor(q.matrices[:q.n_proper])
    weights = 2 * torch.as_tensor(q.weights[:q.n_proper])
    return torch.einsum("g,gab->ab", weights, wigner_D(o3_lambda, rotations))


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("degree", [0, 1, 2, 4, 5, 8, 12])
def test_grid_layout_and_weights(degree, rule):
    q = o3_quadrature(degree, rule)
    assert q.exactness >= degree and q.rule in RULES[1:]
    assert math.isclose(q.weights.sum(), 1.0, abs_tol=1e-14)
    # SciPy's Lebedev rules of order 13 and a few others have negative weights; auto
    # takes positive-weight rules only
    assert not q.has_negative_weights or rule == "lebedev"
    np.testing.assert_allclose(q.matrices[q.n_proper:], -q.matrices[:q.n_proper])
    np.testing.assert_allclose(q.weights[q.n_proper:], q.weights[:q.n_proper])
    det = np.linalg.det(q.matrices)
    np.testing.assert_allclose(det[:q.n_proper], 1.0, atol=1e-13)
    np.testing.assert_allclose(det[q.n_proper:], -1.0, atol=1e-13)
    gram = np.einsum("gki,gkj->gij", q.matrices, q.matrices)
    np.testing.assert_allclose(gram, np.broadcast_to(np.eye(3), gram.shape), atol=1e-13)
    assert (q.matrices[q.identity_index] == np.eye(3)).all()


def test_auto_takes_the_smallest_rule():
    """Degree 8: Gräf's SO(3) rule, 240 rotations (product Lebedev 38 x 9 = 342, Gräf's
    sphere rule 28 x 9 = 252); degree 12: Gräf's sphere rule 58 x 13 = 754 (Gräf's
    SO(3) rule of degree 14: 960; Lebedev 74 x 13 = 962)."""
    for degree in (1, 4, 8, 12):
        sizes = {r: o3_quadrature(degree, r).n_rotations for r in RULES[1:]}
        assert o3_quadrature(degree).n_rotations == min(sizes.values()), sizes
    assert o3_quadrature(8).n_rotations == 480 and o3_quadrature(8).rule == "graef_so3"
    assert o3_quadrature(12).n_rotations == 1508 and o3_quadrature(12).rule == "graef_s2"
    assert o3_quadrature(16).rule == "graef_s2"  # beyond Gräf's SO(3) rules
    assert [o3_quadrature(d, "lebedev").n_rotations for d in (8, 12)] == [684, 1924]


def test_example_size_from_the_specification():
    # characters to lambda = 8 need D = 16: 110 Lebedev nodes x 17 x 2 = 3,740 copies
    assert required_degree(lambda_character=8) == 16
    assert o3_quadrature(16, "lebedev").n_rotations == 3740


@pytest.mark.parametrize("rule", RULES[1:])
@pytest.mark.parametrize("degree", [1, 2, 4, 5, 8, 9, 12])
def test_wigner_d_integrated_exactly_up_to_degree_and_not_beyond(degree, rule):
    q = o3_quadrature(degree, rule)
    assert torch.allclose(_grid_average(degree, 0, rule), torch.ones(1, 1, dtype=torch.float64))
    for lam in range(1, q.exactness + 1):
        assert torch.linalg.norm(_grid_average(degree, lam, rule)) < 1e-13, lam
    # one degree more is not integrated: the average of D^(t+1) is far from 0
    assert torch.linalg.norm(_grid_average(degree, q.exactness + 1, rule)) > 1e-2


@pytest.mark.parametrize("rule", RULES[1:])
@pytest.mark.parametrize("degree", [4, 8])
def test_orthogonality_of_wigner_products_up_to_degree(degree, rule):
    """int D^l1_ab D^l2_cd dR = delta_l1l2 delta_ac delta_bd / (2 l + 1) for l1 + l2 <= D."""
    q = o3_quadrature(degree, rule)
    rotations = torch.as_tensor(q.matrices[:q.n_proper])
    weights = 2 * torch.as_tensor(q.weights[:q.n_proper])
    for l1 in range(degree + 1):
        for l2 in range(degree + 1 - l1):
            product = torch.einsum("g,gab,gcd->abcd", weights, wigner_D(l1, rotations),
                                   wigner_D(l2, rotations))
            expected = torch.zeros_like(product)
            if l1 == l2:
                eye = torch.eye(2 * l1 + 1, dtype=torch.float64)
                expected = torch.einsum("ac,bd->abcd", eye, eye) / (2 * l1 + 1)
            assert torch.allclose(product, expected, atol=1e-13), (l1, l2)


def test_lebedev_grid_is_metatomics_grid():
    from metatomic.torch.o3._quadrature import choose_quadrature, get_rotation_quadrature

    for degree in (0, 3, 5, 8, 16):
        q = o3_quadrature(degree, "lebedev")
        order, n_gamma = choose_quadrature(degree)
        matrices, weights = get_rotation_quadrature(order, n_gamma, include_inversion=True)
        assert n_gamma == degree + 1 and f"(order {order})" in q.label
        np.testing.assert_allclose(q.matrices, matrices, atol=1e-14)
        np.testing.assert_allclose(q.weights, weights, atol=1e-16)


def test_require_names_the_degree_needed():
    q = o3_quadrature(6, "lebedev")
    q.require(lambda_character=3, lambda_variance=2)
    with pytest.raises(GridTooCoarse, match=r"lambda=4 need degree >= 8.*degree >= 8"):
        q.require(lambda_character=4)
    with pytest.raises(GridTooCoarse, match=r"lambda=3 outputs need degree >= 7"):
        q.require(lambda_variance=3)
    with pytest.raises(GridTooCoarse, match=r"no lebedev quadrature rule reaches degree "
                                            r"140 \(the largest is 131\)"):
        o3_quadrature(140, "lebedev")
    with pytest.raises(GridTooCoarse, match=r"no graef_so3 .* degree 16 \(the largest is "
                                            r"14\).*auto"):
        o3_quadrature(16, "graef_so3")
    with pytest.raises(ValueError, match="non-negative integer"):
        o3_quadrature(-1)


@pytest.mark.parametrize("rule", RULES[1:])
def test_quadrature_table_lists_every_rotation(rule):
    q = o3_quadrature(8, rule)
    table = q.table()
    assert len(table) == q.n_proper
    assert math.isclose(table["weight"].sum(), 1.0, abs_tol=1e-14)
    np.testing.assert_allclose(np.linalg.norm(table[["axis_x", "axis_y", "axis_z"]], axis=1),
                               1.0)
    assert set(table["rule"]) == {q.rule}
    if rule != "graef_so3":  # a product rule: every axis carries D + 1 rotations
        axes = table[["axis_x", "axis_y", "axis_z"]].round(9)
        assert (table.groupby([axes[c] for c in axes]).size() == 9).all()


def _random_rotations(n: int, seed: int = 0) -> torch.Tensor:
    from scipy.spatial.transform import Rotation

    return torch.as_tensor(Rotation.random(n, random_state=seed).as_matrix())


def test_wigner_d_is_an_orthogonal_representation():
    a, b = _random_rotations(50, 1), _random_rotations(50, 2)
    assert torch.allclose(wigner_D(1, a), a, atol=1e-13)  # e3nn's l = 1 basis is x, y, z
    for lam in (0, 1, 2, 5, 8):
        da, db, dab = wigner_D(lam, a), wigner_D(lam, b), wigner_D(lam, a @ b)
        assert torch.allclose(da @ db, dab, atol=1e-12)
        eye = torch.eye(2 * lam + 1, dtype=torch.float64)
        assert torch.allclose(da @ da.transpose(-1, -2), eye.expand_as(da), atol=1e-12)


def test_wigner_d_accurate_whatever_the_default_dtype():
    # e3nn builds its generators in torch's default dtype; float32 there must not
    # degrade the matrices (it did: 6e-7 errors)
    q = o3_quadrature(8)
    rotations = torch.as_tensor(q.matrices[:q.n_proper])
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        d1 = wigner_D(1, rotations)
    finally:
        torch.set_default_dtype(previous)
    assert torch.allclose(d1, rotations, atol=1e-13)


def test_characters_follow_the_closed_form_and_parity():
    rotations = _random_rotations(40, 3)
    cos_omega = ((torch.diagonal(rotations, dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1, 1)
    t = torch.arccos(cos_omega) / 2
    for lam in range(6):
        expected = torch.sin((2 * lam + 1) * t) / torch.sin(t)
        assert torch.allclose(character(lam, 1, rotations), expected, atol=1e-10)
        for sigma in (1, -1):
            chi = character(lam, sigma, -rotations)  # improper: sigma (-1)^lambda chi
            assert torch.allclose(chi, sigma * (-1) ** lam * expected, atol=1e-10)
            rep = representation(lam, sigma, -rotations)
            assert torch.allclose(rep, sigma * (-1) ** lam * wigner_D(lam, rotations))


def test_metatomic_basis_gives_metatomic_wigner_matrices():
    """The spherical targets metatrain stores are rotated with metatomic's D^lambda: the
    ``metatomic`` basis reproduces it (other rotations than the ones it was fitted on)."""
    from metatomic.torch.o3 import O3Transformations
    from scipy.spatial.transform import Rotation

    rotations = torch.as_tensor(Rotation.random(6, rng=np.random.default_rng(11)).as_matrix())
    for lam in range(9):
        ours = wigner_D(lam, rotations, basis="metatomic")
        theirs = O3Transformations(rotations, lam).wigner_D_matrices(lam)
        assert torch.allclose(ours, theirs.to(ours), atol=1e-12), lam
    with pytest.raises(ValueError, match="unknown basis"):
        wigner_D(1, rotations, basis="sphericart")
