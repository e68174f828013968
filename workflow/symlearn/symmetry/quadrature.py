"""The O(3) product quadrature of docs/symmetry.md.

Lebedev nodes on the sphere give the rotation axis (alpha, beta), ``K = D + 1``
equispaced in-plane angles give gamma, and every proper rotation ``R = Rz(alpha)
Ry(beta) Rz(gamma)`` is paired with its improper copy ``-R``. The weights sum to one.
The grid integrates every Wigner-D matrix element of degree <= D exactly: the gamma sum
removes ``e^{-i n gamma}`` for ``0 < |n| <= K - 1`` and the Lebedev rule integrates the
remaining spherical harmonics up to its order. It is the grid of
``metatomic.torch.o3.SymmetrizedModel``, so the two give the same numbers.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import SymlearnError
from .degrees import analysis_degree, required_degree  # noqa: F401 (re-exported)


class GridTooCoarse(SymlearnError, ValueError):
    """The quadrature does not resolve what was asked of it."""


@functools.lru_cache(maxsize=1)
def lebedev_orders() -> tuple[int, ...]:
    """The Lebedev orders SciPy tabulates (3, 5, ..., 131)."""
    from scipy.integrate import lebedev_rule

    orders = []
    for order in range(1, 132):
        try:
            lebedev_rule(order)
        except (NotImplementedError, ValueError):
            continue
        orders.append(order)
    return tuple(orders)


@dataclass(frozen=True, eq=False)
class O3Quadrature:
    """Rotations and weights of the product grid (see the module docstring).

    ``matrices[:n_proper]`` are proper rotations and ``matrices[n_proper:]`` are the same
    rotations times -1 (in the same order); ``weights`` sum to one.
    """

    degree: int
    lebedev_order: int
    n_gamma: int
    nodes: np.ndarray          # (M, 3) Lebedev nodes: the rotation axes
    node_weights: np.ndarray   # (M,) Lebedev weights, summing to 4 pi
    angles: np.ndarray         # (M * K, 3) ZYZ Euler angles of the proper rotations
    matrices: np.ndarray       # (2 M K, 3, 3)
    weights: np.ndarray        # (2 M K,)

    @property
    def n_rotations(self) -> int:
        return len(self.weights)

    @property
    def n_proper(self) -> int:
        return len(self.weights) // 2

    @property
    def improper(self) -> np.ndarray:
        """Boolean mask of the improper grid points."""
        return np.arange(self.n_rotations) >= self.n_proper

    @property
    def exactness(self) -> int:
        """Highest Wigner-D degree the grid integrates exactly."""
        return min(self.lebedev_order, self.n_gamma - 1)

    @property
    def identity_index(self) -> int:
        """The grid point that is the identity (every grid has it: the Lebedev pole
        (0, 0, 1) with gamma = 0), where the model sees its inputs as given."""
        found = np.flatnonzero((self.matrices == np.eye(3)).all(axis=(1, 2)))
        if len(found) != 1:
            raise ValueError(f"the grid of degree {self.degree} has no identity element")
        return int(found[0])

    @property
    def has_negative_weights(self) -> bool:
        return bool((self.node_weights < 0).any())

    def require(self, lambda_character: int | None = None,
                lambda_variance: int | None = None) -> None:
        """Raise :class:`GridTooCoarse` naming the degree needed, if this grid cannot
        resolve the requested projections or variances."""
        needed = required_degree(lambda_character, lambda_variance)
        if needed > self.exactness:
            what = []
            if lambda_character is not None and 2 * lambda_character > self.exactness:
                what.append(f"character projections up to lambda={lambda_character} "
                            f"need degree >= {2 * lambda_character}")
            if lambda_variance is not None and 2 * lambda_variance + 1 > self.exactness:
                what.append(f"orbit variances of lambda={lambda_variance} outputs need "
                            f"degree >= {2 * lambda_variance + 1}")
            raise GridTooCoarse(
                f"the quadrature of degree {self.exactness} is too coarse: "
                + "; ".join(what) + f"; use a grid of degree >= {needed}")

    def table(self) -> pd.DataFrame:
        """One row per Lebedev node: axis, Euler angles and weight (the fig1 data)."""
        x, y, z = self.nodes.T
        return pd.DataFrame({
            "node": np.arange(len(x)), "x": x, "y": y, "z": z,
            "alpha": np.arctan2(y, x), "beta": np.arccos(np.clip(z, -1.0, 1.0)),
            "lebedev_weight": self.node_weights / (4 * math.pi),
            "n_gamma": self.n_gamma, "degree": self.degree,
            "lebedev_order": self.lebedev_order, "n_rotations": self.n_rotations,
        })


def _zyz_matrices(alpha: np.ndarray, beta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("ZYZ", np.stack([alpha, beta, gamma], axis=1)).as_matrix()


def grid_size(degree: int) -> int:
    """The rotations (proper and improper) of :func:`o3_quadrature` of ``degree``,
    without building the grid: the model evaluations per input that it costs."""
    from scipy.integrate import lebedev_rule

    orders = lebedev_orders()
    if degree > orders[-1]:
        raise GridTooCoarse(f"quadrature degree {degree} exceeds the largest Lebedev "
                            f"order available ({orders[-1]})")
    order = min(o for o in orders if o >= degree)
    return lebedev_rule(order)[0].shape[1] * (degree + 1) * 2


@functools.lru_cache(maxsize=16)
def o3_quadrature(degree: int) -> O3Quadrature:
    """The grid exact to Wigner-D degree ``degree``: the smallest Lebedev order >=
    ``degree`` times ``degree + 1`` in-plane angles times {E, i}."""
    from scipy.integrate import lebedev_rule

    if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or degree < 0:
        raise ValueError(f"quadrature degree must be a non-negative integer, got {degree!r}")
    degree = int(degree)
    orders = lebedev_orders()
    if degree > orders[-1]:
        raise GridTooCoarse(f"quadrature degree {degree} exceeds the largest Lebedev "
                            f"order available ({orders[-1]})")
    order = min(o for o in orders if o >= degree)
    n_gamma = degree + 1
    nodes, node_weights = lebedev_rule(order)
    nodes = nodes.T.copy()
    x, y, z = nodes.T
    alpha = np.repeat(np.arctan2(y, x), n_gamma)
    beta = np.repeat(np.arccos(np.clip(z, -1.0, 1.0)), n_gamma)
    gamma = np.tile(np.linspace(0.0, 2 * np.pi, n_gamma, endpoint=False), len(x))
    proper = _zyz_matrices(alpha, beta, gamma)
    so3_weights = np.repeat(node_weights / (4 * np.pi * n_gamma), n_gamma)
    return O3Quadrature(
        degree=degree, lebedev_order=order, n_gamma=n_gamma, nodes=nodes,
        node_weights=node_weights, angles=np.stack([alpha, beta, gamma], axis=1),
        matrices=np.concatenate([proper, -proper]),
        weights=np.concatenate([0.5 * so3_weights, 0.5 * so3_weights]),
    )


def haar_o3(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, 3) matrices drawn uniformly from O(3): a Haar-uniform rotation, times -1
    (the inversion) with probability 1/2, the augmentation that makes a model learn
    the symmetry on average and the random rotations that estimate A off the grid."""
    from scipy.spatial.transform import Rotation

    matrices = Rotation.random(n, rng=rng).as_matrix()
    signs = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return matrices * signs[:, None, None]
