"""A and B against the analytic cases of docs/symmetry.md, an exactly equivariant e3nn model,
the O(N_rot^2) character formula, a function of known spectrum, and the error identity."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symlearn.symmetry import (
    GridContext,
    GridTooCoarse,
    OutputKind,
    analyse_input,
    analyse_on_grid,
    character,
    o3_quadrature,
    rank2_irreps,
)


@pytest.fixture(autouse=True, scope="module")
def _float64():
    """These tests build float64 tensors by default; the default is restored after
    them, so that no other test module inherits it."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _unit(*values) -> torch.Tensor:
    v = torch.tensor(values, dtype=torch.float64)
    return v / v.norm()


X = _unit(0.3, -0.5, 0.8)
V = _unit(1.0, 2.0, -0.5)
Y = torch.tensor([0.2, 0.9, 0.1], dtype=torch.float64)
Z = torch.tensor([-0.7, 0.1, 0.4], dtype=torch.float64)


def _analytic(g: torch.Tensor) -> dict[str, torch.Tensor]:
    gx, gy, gz = g @ X, g @ Y, g @ Z
    return {
        "norm2": (gx * gx).sum(-1)[:, None, None],
        "linear": (gx @ V)[:, None, None],
        "quadratic": ((gx @ V) ** 2)[:, None, None],
        "triple": (gx * torch.linalg.cross(gy, gz)).sum(-1)[:, None, None],
        "position": gx[:, None, :],
    }


EXPECTED = {  # (lambda, sigma) -> fraction
    "norm2": {(0, 1): 1.0},
    "linear": {(1, 1): 1.0},
    "quadratic": {(0, 1): 5 / 9, (2, 1): 4 / 9},
    "triple": {(0, -1): 1.0},
    "position": {(1, 1): 1.0},
}


def _fractions_dict(spectrum) -> dict[tuple[int, int], float]:
    fractions = spectrum.fractions()
    return {(lam, sigma): fractions[lam, s] for lam in range(fractions.shape[0])
            for s, sigma in enumerate((1, -1))}


#: every rule family and auto (docs/symmetry.md, "Quadrature rules"): the closed forms
#: hold on each
RULES = ("auto", "lebedev", "graef_so3", "graef_s2")


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("degree", [8, 12])
def test_analytic_character_fractions(degree, rule):
    context = GridContext(o3_quadrature(degree, rule), lambda_max=4)
    result = analyse_input(_analytic, context, features=list(EXPECTED), batch_size=50)
    for name, expected in EXPECTED.items():
        fractions = _fractions_dict(result.spectra[name])
        for irrep, value in fractions.items():
            assert value == pytest.approx(expected.get(irrep, 0.0), abs=1e-12), (name, irrep)
        assert result.spectra[name].residual() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("rule", RULES)
def test_analytic_outputs_are_exactly_equivariant(rule):
    context = GridContext(o3_quadrature(8, rule), lambda_max=None)
    kinds = {"norm2": OutputKind("invariant"), "triple": OutputKind("pseudoscalar"),
             "position": OutputKind("vector")}
    result = analyse_input(_analytic, context, outputs=kinds, batch_size=64)
    for name in kinds:
        for stats in result.outputs[name].values():
            assert float(stats.variance.max()) < 1e-28
    # the symmetrized prediction of an equivariant output is the output itself
    mean = result.outputs["position"][(1, 1)].mean
    assert torch.allclose(mean, X[None], atol=1e-14)
    # a pseudoscalar seen as invariant averages to 0 and varies: A is its full size
    wrong = analyse_input(_analytic, context, outputs={"triple": OutputKind("invariant")})
    triple = float(torch.dot(X, torch.linalg.cross(Y, Z)))
    assert float(wrong.outputs["triple"][(0, 1)].variance[0]) == pytest.approx(triple ** 2)


class _E3nnModel(torch.nn.Module):
    """An exactly equivariant model: two sets of spherical harmonics of several points
    times radial weights, summed, then two fully connected tensor products."""

    IRREPS_OUT = "2x0e + 1x0o + 2x1o + 1x1e + 1x2e + 1x3o"

    def __init__(self):
        super().__init__()
        from e3nn import o3

        self.sh = o3.Irreps.spherical_harmonics(3)
        self.radial = torch.nn.Sequential(torch.nn.Linear(1, 16), torch.nn.SiLU(),
                                          torch.nn.Linear(16, 2 * self.sh.num_irreps))
        hidden = o3.Irreps("2x0e + 2x1o + 2x1e + 2x2e")
        self.tp1 = o3.FullyConnectedTensorProduct(self.sh, self.sh, hidden)
        self.tp2 = o3.FullyConnectedTensorProduct(hidden, self.sh, self.IRREPS_OUT)
        self.irreps_out = o3.Irreps(self.IRREPS_OUT)

    def _features(self, sh, radial):
        scale = torch.cat([radial[..., i:i + 1].expand(-1, -1, ir.dim)
                           for i, (_, ir) in enumerate(self.sh)], dim=-1)
        return (sh * scale).sum(dim=1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:  # (copies, P, 3)
        from e3nn import o3

        sh = o3.spherical_harmonics(self.sh, points, normalize=True)
        radial = self.radial(points.norm(dim=-1, keepdim=True))
        n = self.sh.num_irreps
        a = self._features(sh, radial[..., :n])
        b = self._features(sh, radial[..., n:])
        return self.tp2(self.tp1(a, b), a)


@pytest.mark.parametrize("rule", RULES)
def test_e3nn_equivariant_model_has_zero_equivariance_error(rule):
    torch.manual_seed(0)
    model = _E3nnModel()
    points = torch.randn(5, 3)
    kinds, names, slices = {}, [], []
    for index, ((mul, ir), sl) in enumerate(zip(model.irreps_out, model.irreps_out.slices(),
                                                strict=True)):
        sigma = ir.p * (-1) ** ir.l
        for copy in range(mul):
            name = f"out{index}_{copy}_{ir.l}{'e' if ir.p == 1 else 'o'}"
            kinds[name] = OutputKind("spherical", ir.l, sigma)
            names.append(name)
            slices.append(slice(sl.start + copy * ir.dim, sl.start + (copy + 1) * ir.dim))

    def evaluate(g):
        with torch.no_grad():
            out = model(torch.einsum("bij,pj->bpi", g, points))
        return {name: out[:, None, s] for name, s in zip(names, slices, strict=True)}

    context = GridContext(o3_quadrature(8, rule), lambda_max=4)
    result = analyse_input(evaluate, context, outputs=kinds, features=names, batch_size=100)
    for name, kind in kinds.items():
        stats = result.outputs[name][(kind.o3_lambda, kind.o3_sigma)]
        assert float(stats.mean.square().sum()) > 1e-12  # a non-trivial output
        assert float(stats.variance.max()) ** 0.5 < 1e-10  # A, an RMSE, below 1e-10
        # and each output's spectrum sits entirely in its own irrep
        fractions = _fractions_dict(result.spectra[name])
        assert fractions[(kind.o3_lambda, kind.o3_sigma)] == pytest.approx(1.0, abs=1e-10)


def test_character_projection_equals_the_quadratic_formula():
    """B = (2l+1) sum_{g1,g2} w1 w2 u(g1) chi(g1 g2^-1) u(g2) on a small grid."""
    torch.manual_seed(1)
    q = o3_quadrature(4)
    g = torch.as_tensor(q.matrices)
    w = torch.as_tensor(q.weights)
    weights = torch.randn(3, 5)

    def feature(rotations):
        p = torch.einsum("bij,pj->bpi", rotations, torch.randn(4, 3,
                                                                generator=torch.Generator().manual_seed(2)))
        return torch.tanh(p.reshape(len(rotations), -1)[:, :3] @ weights)[:, None, :]

    responses = feature(g)  # (N, 1, 5)
    context = GridContext(q, lambda_max=2)
    spectrum = analyse_on_grid({"u": responses}, context, features=["u"]).spectra["u"]
    relative = g[:, None] @ g[None].transpose(-1, -2)  # g1 g2^-1
    u = responses[:, 0, :]
    for lam in range(3):
        for s, sigma in enumerate((1, -1)):
            chi = character(lam, sigma, relative.reshape(-1, 3, 3)).reshape(len(g), len(g))
            expected = (2 * lam + 1) * torch.einsum("a,b,ac,ab,bc->c", w, w, u, chi, u)
            assert torch.allclose(spectrum.projections[lam, s, 0], expected, atol=1e-12)


def _known_spectrum(g: torch.Tensor, coefficients: dict[int, torch.Tensor], d: torch.Tensor):
    """Channels sum_l c_l . Y_l(g x) (component-normalised, so each component has unit
    mean square) plus d times the pseudoscalar x . (y x z)."""
    from e3nn import o3

    gx, gy, gz = g @ X, g @ Y, g @ Z
    out = d[None, :] * (gx * torch.linalg.cross(gy, gz)).sum(-1)[:, None]
    for lam, c in coefficients.items():
        sh = o3.spherical_harmonics(lam, gx, normalize=True, normalization="component")
        out = out + sh @ c
    return out[:, None, :]


@pytest.mark.parametrize("rule", RULES)
def test_fractions_of_a_function_of_known_spectrum(rule):
    torch.manual_seed(3)
    channels = 3
    coefficients = {lam: torch.randn(2 * lam + 1, channels) for lam in range(7)}
    d = torch.randn(channels)
    triple = float(torch.dot(X, torch.linalg.cross(Y, Z)))
    total = sum(float(c.square().sum()) for c in coefficients.values())
    total += triple ** 2 * float(d.square().sum())
    context = GridContext(o3_quadrature(14, rule), lambda_max=3)  # resolves products to 14
    spectrum = analyse_input(lambda g: {"u": _known_spectrum(g, coefficients, d)}, context,
                             features=["u"]).spectra["u"]
    fractions = spectrum.fractions()
    for lam in range(4):
        expected = float(coefficients[lam].square().sum()) / total
        assert fractions[lam, 0] == pytest.approx(expected, abs=1e-12)
    assert fractions[0, 1] == pytest.approx(triple ** 2 * float(d.square().sum()) / total,
                                            abs=1e-12)
    assert fractions[1:, 1] == pytest.approx(0.0, abs=1e-12)
    above = sum(float(coefficients[lam].square().sum()) for lam in range(4, 7)) / total
    assert spectrum.residual() == pytest.approx(above, abs=1e-12)


def test_fractions_of_an_unconstrained_function_sum_to_one_minus_residual():
    """A random MLP of three points (not band-limited): the residual above L equals the
    fractions between L and L' plus the residual above L', on the same grid."""
    torch.manual_seed(4)
    mlp = torch.nn.Sequential(torch.nn.Linear(9, 32), torch.nn.Tanh(), torch.nn.Linear(32, 6))
    points = torch.randn(3, 3)

    def evaluate(g):
        with torch.no_grad():
            return {"u": mlp(torch.einsum("bij,pj->bpi", g, points).reshape(len(g), 9))[:, None]}

    q = o3_quadrature(16)
    coarse = analyse_input(evaluate, GridContext(q, 3), features=["u"]).spectra["u"]
    fine = analyse_input(evaluate, GridContext(q, 8), features=["u"]).spectra["u"]
    f3, f8 = coarse.fractions(), fine.fractions()
    assert (f3 >= 0).all() and (f8 >= 0).all()
    np.testing.assert_allclose(f3, f8[:4], atol=1e-13)
    assert coarse.residual() > 1e-6  # the function has content above lambda = 3
    assert coarse.residual() == pytest.approx(f8[4:].sum() + fine.residual(), abs=1e-12)
    assert f3.sum() + coarse.residual() == pytest.approx(1.0, abs=1e-15)


def test_orientation_averaged_error_identity():
    """mean_g |z(g) - y|^2 = |Pi - y|^2 + v, with the left side accumulated directly."""
    torch.manual_seed(5)
    mlp = torch.nn.Sequential(torch.nn.Linear(12, 32), torch.nn.Tanh(),
                              torch.nn.Linear(32, 1 + 4 * 3 + 9))
    points = torch.randn(4, 3)

    def evaluate(g):
        with torch.no_grad():
            out = mlp(torch.einsum("bij,pj->bpi", g, points).reshape(len(g), 12))
        return {"energy": out[:, None, :1], "forces": out[:, 1:13].reshape(-1, 4, 3),
                "stress": out[:, None, 13:].reshape(-1, 1, 3, 3)}

    kinds = {"energy": OutputKind("invariant"), "forces": OutputKind("vector"),
             "stress": OutputKind("rank2")}
    references = {"energy": torch.randn(1, 1), "forces": torch.randn(4, 3),
                  "stress": torch.randn(1, 3, 3)}
    result = analyse_input(evaluate, GridContext(o3_quadrature(5), None), outputs=kinds,
                           references=references, batch_size=30)
    for name, per_irrep in result.outputs.items():
        for irrep, stats in per_irrep.items():
            assert float(stats.variance.min()) > 0, (name, irrep)  # not equivariant
            combined = stats.symmetrized_squared_error + stats.variance
            assert torch.allclose(stats.squared_error, combined, rtol=1e-12), (name, irrep)


def test_rank2_split_is_orthonormal_and_transforms_as_irreps():
    from symlearn.symmetry import representation

    torch.manual_seed(6)
    m = torch.randn(7, 3, 3)
    parts = rank2_irreps(m)
    assert torch.allclose(sum(p.square().sum(-1) for p in parts.values()),
                          m.square().sum((-1, -2)))
    g = -torch.as_tensor(o3_quadrature(4).matrices[5])  # an improper transformation
    rotated = rank2_irreps(g @ m @ g.T)
    for (lam, sigma), part in parts.items():
        # irreps in metatomic's (y, z, x)-like order: compare norms, basis-free
        assert torch.allclose(rotated[(lam, sigma)].norm(dim=-1), part.norm(dim=-1))
        rep = representation(lam, sigma, g[None])[0]
        if lam == 0:
            assert torch.allclose(rotated[(lam, sigma)], rep[0, 0] * part)
    # the antisymmetric part is an axial vector: unchanged by inversion
    assert torch.allclose(rank2_irreps(m)[(1, -1)], rank2_irreps((-torch.eye(3)) @ m
                                                                   @ (-torch.eye(3)))[(1, -1)])


def test_a_symmetric_rank2_output_keeps_the_trace_and_the_traceless_part():
    """An ASE stress (six Voigt components) is symmetric: its split is rank2's without
    the antisymmetric part, which is zero for it, so no squared norm is lost."""
    torch.manual_seed(7)
    m = torch.randn(2, 5, 3, 3)
    symmetric = (m + m.transpose(-1, -2)) / 2
    kind, full = OutputKind("symmetric_rank2"), OutputKind("rank2")
    assert kind.irreps == [(0, 1), (2, 1)] and kind.components == (3, 3)
    parts = kind.split(symmetric)
    assert set(parts) == {(0, 1), (2, 1)}
    assert torch.allclose(sum(p.square().sum(-1) for p in parts.values()),
                          symmetric.square().sum((-1, -2)))
    g = torch.as_tensor(o3_quadrature(4).matrices[:2])
    assert torch.equal(kind.back_transform(symmetric, g), full.back_transform(symmetric, g))


def test_streaming_matches_one_batch_and_duplicates_share_work():
    context = GridContext(o3_quadrature(8), lambda_max=4)
    grid = _analytic(context.matrices)
    grid["copy_of_quadratic"] = grid["quadratic"].clone()
    whole = analyse_on_grid(grid, context, features=list(grid))
    streamed = analyse_on_grid(grid, context, features=list(grid), batch_size=7)
    for name in grid:
        assert torch.allclose(whole.spectra[name].projections,
                              streamed.spectra[name].projections, atol=1e-14)
    assert whole.spectra["copy_of_quadratic"] is whole.spectra["quadratic"]


def _peaked_at_negative_weight(degree: int):
    """A response that samples, at the grid's rotation axes, a function peaked at a
    Lebedev node of negative weight: the grid is far too coarse for it."""
    q = o3_quadrature(degree, "lebedev")  # order 13: negative weights (auto avoids them)
    assert q.has_negative_weights
    proper = q.matrices[:q.n_proper]
    node = torch.as_tensor(proper[int(np.argmin(q.weights[:q.n_proper]))][:, 2])
    ez = torch.tensor([0.0, 0.0, 1.0])

    def evaluate(g):
        axis = g @ ez  # R e_z is the Lebedev node of R (and -node for -R)
        peak = torch.exp(40 * ((axis @ node).abs() - 1))
        return {"u": peak[:, None, None]}

    return q, evaluate


def test_negative_variance_beyond_roundoff_says_the_grid_is_too_coarse():
    q, evaluate = _peaked_at_negative_weight(12)
    with pytest.raises(GridTooCoarse, match="too coarse"):
        analyse_input(evaluate, GridContext(q, None), outputs={"u": OutputKind("invariant")})


def test_projections_exceeding_the_norm_say_the_grid_is_too_coarse():
    q, evaluate = _peaked_at_negative_weight(12)
    with pytest.raises(GridTooCoarse, match="too coarse"):
        analyse_input(evaluate, GridContext(q, 6), features=["u"])


def test_lambda_max_beyond_the_grid_fails_naming_the_degree():
    with pytest.raises(GridTooCoarse, match="degree >= 10"):
        GridContext(o3_quadrature(8), lambda_max=5)
    context = GridContext(o3_quadrature(4), lambda_max=2)
    with pytest.raises(GridTooCoarse, match="degree >= 5"):
        analyse_input(_analytic, context, outputs={"stress": OutputKind("rank2")})


def test_a_response_constant_at_first_then_varying_is_projected_exactly():
    """Invariant layers are kept as one value while they stay constant; a response
    that changes later must give the same projections as the general path."""
    torch.manual_seed(7)
    context = GridContext(o3_quadrature(6), lambda_max=3)
    responses = torch.randn(context.quadrature.n_rotations, 2, 3)
    responses[context.order[:40]] = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, 0.25]])
    streamed = analyse_on_grid({"u": responses}, context, features=["u"], batch_size=8)
    whole = analyse_on_grid({"u": responses}, context, features=["u"])
    for a, b in ((streamed.spectra["u"].projections, whole.spectra["u"].projections),
                 (streamed.spectra["u"].norm, whole.spectra["u"].norm)):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-14)


def test_features_equal_at_first_then_different_keep_their_own_sums():
    torch.manual_seed(8)
    context = GridContext(o3_quadrature(6), lambda_max=3)
    a = torch.randn(context.quadrature.n_rotations, 3, 2)
    b = a.clone()
    b[context.order[30:]] = torch.randn_like(b[context.order[30:]])
    together = analyse_on_grid({"a": a, "b": b}, context, features=["a", "b"], batch_size=10)
    for name, values in (("a", a), ("b", b)):
        alone = analyse_on_grid({name: values}, context, features=[name])
        assert torch.allclose(together.spectra[name].projections,
                              alone.spectra[name].projections, rtol=1e-12, atol=1e-14)
