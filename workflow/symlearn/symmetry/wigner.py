"""O(3) representations and characters, from e3nn's Wigner-D matrices.

``g`` is any orthogonal 3x3 matrix; its proper part is ``R = det(g) g``. The
``(lambda, sigma)`` representation is ``D^lambda(R)`` for proper ``g`` and
``sigma (-1)^lambda D^lambda(R)`` for improper ``g``. The real basis is e3nn's (for
lambda = 1 it is x, y, z: ``D^1(R) = R``); characters do not depend on it.
"""

from __future__ import annotations

import contextlib

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


def wigner_D(o3_lambda: int, g) -> torch.Tensor:
    """Real Wigner-D matrices ``D^lambda`` of the proper parts of ``g``: (..., 2l+1, 2l+1)."""
    from e3nn import o3

    g = _as_tensor(g)
    rotations, _ = proper_part(g)
    if o3_lambda == 0:
        return torch.ones(*rotations.shape[:-2], 1, 1, dtype=rotations.dtype,
                          device=rotations.device)
    # e3nn's matrix_to_angles checks det = 1 to its default tolerance: re-orthonormalise
    # (a no-op to round-off) so float32 input passes too
    u, _, vh = torch.linalg.svd(rotations.to(torch.float64))
    rotations = u @ vh
    with _float64_default():
        alpha, beta, gamma = o3.matrix_to_angles(rotations)
        d = o3.wigner_D(o3_lambda, alpha, beta, gamma)
    return d.to(g.dtype)


def representation(o3_lambda: int, o3_sigma: int, g) -> torch.Tensor:
    """Matrices of the ``(lambda, sigma)`` irrep of O(3) at ``g``."""
    g = _as_tensor(g)
    _, improper = proper_part(g)
    signs = parity_signs(o3_lambda, o3_sigma, improper).to(g.dtype)
    return signs[..., None, None] * wigner_D(o3_lambda, g)


def character(o3_lambda: int, o3_sigma: int, g) -> torch.Tensor:
    """Characters ``chi_{lambda, sigma}(g)``, the traces of :func:`representation`."""
    return torch.diagonal(representation(o3_lambda, o3_sigma, g), dim1=-2, dim2=-1).sum(-1)
