"""Newton polishing of a quadrature rule to float64 round-off, and its moments.

A rule on SO(3) is exact to degree t when ``sum_g w_g D^l(R_g) = delta_{l0}`` for every
l <= t (the Haar average of a Wigner-D matrix vanishes for l >= 1); a rule on the
sphere is, when ``sum_i w_i Y_l(x_i) = delta_{l0}``. The published rules hold about 11
significant digits, so these moments are about 1e-11 as read. A few Gauss-Newton steps
on the moment equations, from the file, bring them to round-off: the nodes move by
about 1e-11 and the rule stays the published one. Nodes are moved on the right,
``R_g -> R_g exp(sum_k d_k X_k)``, so no Euler-angle singularity enters; a node of the
sphere is the image of the z axis, ``x = R z``, moved by the two generators that do
not fix z. Needs torch (e3nn's real Wigner-D matrices and so(3) generators).
"""

from __future__ import annotations

import functools

import numpy as np

#: the largest moment left after polishing that still counts as round-off
ROUND_OFF = 1e-13
#: the relative singular value below which a direction of the moment equations is not
#: used (the Jacobian's spectrum has a gap of 1e6 there)
RCOND = 1e-7
#: Gauss-Newton steps at most (from 1e-11, one or two reach round-off)
MAX_STEPS = 6


@functools.cache
def _generators(o3_lambda: int):
    """e3nn's so(3) generators of the lambda irrep (3, 2l+1, 2l+1), float64: for lambda
    = 1 they act on (x, y, z), as D^1(R) = R does."""
    from e3nn import o3

    from ..wigner import _float64_default

    with _float64_default():  # in float32 they are accurate to 5e-7 only
        return o3.so3_generators(o3_lambda)


@functools.cache
def _z_axis() -> int:
    """The generator that fixes the z axis."""
    g = _generators(1)
    return int(next(k for k in range(3) if float(g[k][:, 2].abs().max()) == 0.0))


@functools.cache
def _z_invariant(o3_lambda: int):
    """The unit vector of the lambda irrep that rotations about z leave alone: the
    sphere's moment ``sum_i w_i D^l(R_i) v`` is then the rule's Y_l moment."""
    import torch

    x = _generators(o3_lambda)[_z_axis()]
    _, _, vh = torch.linalg.svd(x)
    return vh[-1]


def moments(rotations, weights, degree: int, sphere: bool = False) -> np.ndarray:
    """The largest ``|sum_g w_g D^l(R_g)|`` per l = 0..degree (for l = 0, its distance
    from 1); ``sphere``: the moments of the points ``R_g z`` instead."""
    import torch

    from ..wigner import wigner_matrices

    rotations = torch.as_tensor(rotations, dtype=torch.float64)
    weights = torch.as_tensor(weights, dtype=torch.float64)
    out = [abs(float(weights.sum()) - 1.0)]
    wigner = wigner_matrices(degree, rotations)
    for lam in range(1, degree + 1):
        d = wigner[lam]
        if sphere:
            d = d @ _z_invariant(lam)
        out.append(float(torch.einsum("g,g...->...", weights, d).abs().max()))
    return np.array(out)


def _system(rotations, weights, degree: int, sphere: bool):
    """The residual of the moment equations and its Jacobian in (node moves, weights)."""
    import torch

    from ..wigner import wigner_matrices

    parameters = [k for k in range(3) if not (sphere and k == _z_axis())]
    residual, jacobian = [weights.sum(dim=0, keepdim=True) - 1.0], []
    n = len(weights)
    jacobian.append(torch.cat([torch.zeros(1, n * len(parameters), dtype=torch.float64),
                               torch.ones(1, n, dtype=torch.float64)], dim=1))
    wigner = wigner_matrices(degree, rotations)
    for lam in range(1, degree + 1):
        d = wigner[lam]                                   # (n, 2l+1, 2l+1)
        x = _generators(lam)[parameters]                  # (p, 2l+1, 2l+1)
        moves = torch.einsum("gij,pjk->gpik", d, x)     # d/dt D(R exp(t X_p))
        if sphere:
            v = _z_invariant(lam)
            d, moves = d @ v, moves @ v
        residual.append(torch.einsum("g,g...->...", weights, d).reshape(-1))
        rows = moves.shape[2:].numel()
        move_columns = (weights[:, None, None] * moves.reshape(n, len(parameters), rows))
        jacobian.append(torch.cat([move_columns.reshape(n * len(parameters), rows).T,
                                   d.reshape(n, rows).T], dim=1))
    return torch.cat(residual), torch.cat(jacobian), parameters


def polish(rotations: np.ndarray, weights: np.ndarray, degree: int, sphere: bool = False,
           ) -> tuple[np.ndarray, np.ndarray, float]:
    """``(rotations, weights, largest moment)`` after Gauss-Newton steps on the moment
    equations of ``degree`` (minimum-norm steps: the rule moves as little as it must),
    stopping at round-off or when a step no longer helps."""
    import torch

    r = torch.as_tensor(rotations, dtype=torch.float64).clone()
    w = torch.as_tensor(weights, dtype=torch.float64).clone()
    x1 = _generators(1)
    best = None
    for _ in range(MAX_STEPS + 1):
        residual, jacobian, parameters = _system(r, w, degree, sphere)
        size = float(residual.abs().max())
        if best is not None and size >= best[2]:
            break
        best = (r.clone(), w.clone(), size)
        if size <= ROUND_OFF / 10:
            break
        # singular values below RCOND of the largest are the rule's own symmetries
        # (rotating it as a whole) and near-symmetries: a step along them would be huge
        step = torch.linalg.lstsq(jacobian, -residual[:, None], rcond=RCOND,
                                  driver="gelsd").solution[:, 0]
        n = len(w)
        moves = step[:n * len(parameters)].reshape(n, len(parameters))
        generator = torch.einsum("gp,pij->gij", moves, x1[parameters])
        r = r @ torch.linalg.matrix_exp(generator)
        w = w + step[n * len(parameters):]
    r, w, size = best
    return r.numpy(), w.numpy(), size
