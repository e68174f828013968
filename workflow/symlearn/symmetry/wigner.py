"""O(3) representations and characters, from e3nn's Wigner-D matrices.

``g`` is any orthogonal 3x3 matrix; its proper part is ``R = det(g) g``. The
``(lambda, sigma)`` representation is ``D^lambda(R)`` for proper ``g`` and
``sigma (-1)^lambda D^lambda(R)`` for improper ``g``. The real basis is e3nn's (for
lambda = 1 it is x, y, z: ``D^1(R) = R``) unless ``basis="metatomic"`` asks for the
real spherical harmonics of metatensor, metatomic and sphericart (mu = -lambda..lambda;
lambda = 1 is y, z, x), in which metatrain stores and rotates spherical targets;
characters do not depend on the basis.
"""

from __future__ import annotations

import contextlib
import functools

import torch


@contextlib.contextmanager
def _float64_default():
    """e3nn builds its generators in the default dtype: float32 would make D^lambda
    accurate to 1e-7 only."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _as_tensor(g) -> torch.Tensor:
    g = torch.as_tensor(g)
    if not g.is_floating_point():
        g = g.to(torch.float64)
    return g


def proper_part(g) -> tuple[torch.Tensor, torch.Tensor]:
    """``(R, improper)``: the rotation ``det(g) g`` and a boolean mask of det(g) < 0."""
    g = _as_tensor(g)
    det = torch.linalg.det(g)
    if not torch.allclose(det.abs(), torch.ones_like(det), atol=1e-6):
        raise ValueError("matrices must be orthogonal (|det| = 1)")
    return g * det.sign()[..., None, None], det < 0


def parity_signs(o3_lambda: int, o3_sigma: int, improper: torch.Tensor) -> torch.Tensor:
    """``sigma (-1)^lambda`` where ``improper`` is true, 1 elsewhere."""
    sign = o3_sigma * (-1) ** o3_lambda
    return torch.where(improper, float(sign), 1.0)


BASES = ("e3nn", "metatomic")


@functools.cache
def _metatomic_basis(o3_lambda: int) -> torch.Tensor:
    """``Q`` with ``D_metatomic(R) = Q D_e3nn(R) Q^T``: the intertwiner of the two real
    bases, the null vector of ``D_m(R) Q - Q D_e(R) = 0`` stacked over a few rotations
    (unique up to a sign, which cancels in ``Q D Q^T``)."""
    import numpy as np
    from metatomic.torch.o3 import O3Transformations
    from scipy.spatial.transform import Rotation

    n = 2 * o3_lambda + 1
    if n == 1:
        return torch.ones(1, 1, dtype=torch.float64)
    rotations = torch.as_tensor(Rotation.random(4, rng=np.random.default_rng(0)).as_matrix())
    d_m = O3Transformations(rotations, o3_lambda).wigner_D_matrices(o3_lambda)
    d_e = wigner_D(o3_lambda, rotations)
    eye = torch.eye(n, dtype=torch.float64)
    # vec(D_m Q - Q D_e) = (I x D_m - D_e^T x I) vec(Q), column-major vec
    system = torch.cat([torch.kron(eye, a) - torch.kron(b.T.contiguous(), eye)
                        for a, b in zip(d_m.to(torch.float64), d_e, strict=True)])
    _, singular, vh = torch.linalg.svd(system)
    if singular[-2] < 1e-6 or singular[-1] > 1e-8:
        raise RuntimeError(f"no unique basis change for lambda = {o3_lambda}")
    q = vh[-1].reshape(n, n).T
    return q * (n ** 0.5 / torch.linalg.norm(q))


def wigner_D(o3_lambda: int, g, basis: str = "e3nn") -> torch.Tensor:
    """Real Wigner-D matrices ``D^lambda`` of the proper parts of ``g``: (..., 2l+1, 2l+1),
    in e3nn's real basis or (``basis="metatomic"``) in metatomic's."""
    if basis not in BASES:
        raise ValueError(f"unknown basis {basis!r}; known: {', '.join(BASES)}")
    if basis == "metatomic":
        q = _metatomic_basis(o3_lambda)
        d = wigner_D(o3_lambda, g)
        return (q.to(d) @ d @ q.T.to(d))

    g = _as_tensor(g)
    rotations, _ = proper_part(g)
    # re-orthonormalise (a no-op to round-off) so float32 input is a rotation in float64
    u, _, vh = torch.linalg.svd(rotations.to(torch.float64))
    return wigner_matrices(o3_lambda, u @ vh)[o3_lambda].to(g.dtype)


@functools.cache
def _coupling(o3_lambda: int) -> torch.Tensor:
    """The isometry ((2l-1) 3, 2l+1) that takes ``D^{l-1} (x) D^1`` to ``D^l``: e3nn's
    Wigner-3j symbol (l-1, 1, l), scaled to orthonormal columns."""
    from e3nn import o3

    with _float64_default():
        c = o3.wigner_3j(o3_lambda - 1, 1, o3_lambda)
    return c.reshape(3 * (2 * o3_lambda - 1), 2 * o3_lambda + 1) * (2 * o3_lambda + 1) ** 0.5


def wigner_matrices(degree: int, rotations: torch.Tensor) -> list[torch.Tensor]:
    """``[D^0, ..., D^degree]`` of float64 proper ``rotations`` (..., 3, 3), in e3nn's
    basis, built from the matrices by coupling: ``D^1 = R`` and ``D^l = C^T (D^{l-1} (x)
    R) C`` with C the 3j symbol (an intertwiner, so this is e3nn's D^l). Polynomials in
    the entries, accurate to round-off for every rotation: Euler angles lose digits
    near their poles (1e-11 in D^8 a few degrees away), which an exact quadrature
    would see."""
    shape = rotations.shape[:-2]
    r = rotations.reshape(-1, 3, 3)
    n = len(r)
    out = [torch.ones(n, 1, 1, dtype=r.dtype, device=r.device), r]
    for lam in range(2, degree + 1):
        c = _coupling(lam).to(r)
        product = torch.einsum("gik,gjm->gijkm", out[-1], r).reshape(
            n, 3 * (2 * lam - 1), 3 * (2 * lam - 1))
        out.append(c.T @ product @ c)
    return [d.reshape(*shape, *d.shape[-2:]) for d in out[:degree + 1]]


def representation(o3_lambda: int, o3_sigma: int, g) -> torch.Tensor:
    """Matrices of the ``(lambda, sigma)`` irrep of O(3) at ``g``."""
    g = _as_tensor(g)
    _, improper = proper_part(g)
    signs = parity_signs(o3_lambda, o3_sigma, improper).to(g.dtype)
    return signs[..., None, None] * wigner_D(o3_lambda, g)


def character(o3_lambda: int, o3_sigma: int, g) -> torch.Tensor:
    """Characters ``chi_{lambda, sigma}(g)``, the traces of :func:`representation`."""
    return torch.diagonal(representation(o3_lambda, o3_sigma, g), dim1=-2, dim2=-1).sum(-1)
