"""The product construction shared by the sphere-based families: a rule on the sphere
gives the rotation axis (alpha, beta), ``K = D + 1`` equispaced in-plane angles give
gamma, ``R = Rz(alpha) Ry(beta) Rz(gamma)``. The gamma sum removes ``e^{-i n gamma}``
for ``0 < |n| <= D`` and the sphere's rule integrates the remaining spherical
harmonics: exact to degree min(its degree, D)."""

from __future__ import annotations

import numpy as np


def zyz_matrices(alpha: np.ndarray, beta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("ZYZ", np.stack([alpha, beta, gamma], axis=1)).as_matrix()


def product(nodes: np.ndarray, node_weights: np.ndarray, degree: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """``(rotations (M K, 3, 3), weights (M K,))`` of sphere ``nodes`` (M, 3) with
    ``node_weights`` summing to 1, times ``degree + 1`` in-plane angles; the node at the
    north pole with gamma = 0 is the identity."""
    n_gamma = degree + 1
    x, y, z = nodes.T
    alpha = np.repeat(np.arctan2(y, x), n_gamma)
    beta = np.repeat(np.arccos(np.clip(z, -1.0, 1.0)), n_gamma)
    gamma = np.tile(np.linspace(0.0, 2 * np.pi, n_gamma, endpoint=False), len(x))
    return zyz_matrices(alpha, beta, gamma), np.repeat(node_weights / n_gamma, n_gamma)
