"""The O(3) quadrature of docs/symmetry.md: an SO(3) rule from :mod:`.rules` (the
family ``analysis.quadrature`` names, or with ``auto`` the smallest exact to the degree
asked for), every proper rotation ``R`` paired with its improper copy ``-R``. The
weights sum to one, and the grid integrates every Wigner-D matrix element of degree <=
its exactness (to round-off). With ``lebedev`` it is the grid of
``metatomic.torch.o3.SymmetrizedModel``, so the two give the same numbers.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import SymlearnError
from . import rules
from .degrees import analysis_degree, required_degree  # noqa: F401 (re-exported)


class GridTooCoarse(SymlearnError, ValueError):
    """The quadrature does not resolve what was asked of it."""


@dataclass(frozen=True, eq=False)
class O3Quadrature:
    """Rotations and weights of an O(3) grid (see the module docstring).

    ``matrices[:n_proper]`` are proper rotations, one of them the identity, and
    ``matrices[n_proper:]`` are the same rotations times -1 (in the same order);
    ``weights`` sum to one. ``degree`` is the degree asked for, ``exactness`` the one
    the rule reaches (at least ``degree``)."""

    degree: int
    exactness: int
    rule: str                  # the family (a value of analysis.quadrature but auto)
    label: str                 # the rule in words, with its sizes
    matrices: np.ndarray       # (2 N, 3, 3)
    weights: np.ndarray        # (2 N,)

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
    def identity_index(self) -> int:
        """The grid point that is the identity , where the
        model sees its inputs as given (every rule holds it)."""
        found = np.flatnonzero((self.matrices == np.eye(3)).all(axis=(1, 2)))
        if len(found) != 1:
            raise ValueError(f"the grid of degree {self.degree} has no identity element")
        return int(found[0])

    @property
    def has_negative_weights(self) -> bool:
        return bool((self.weights < 0).any())

    def describe(self) -> str:
        """The grid in words: degree, rule and copies per input."""
        return (f"grid degree {self.exactness} ({self.label} x {{E, i}} = "
                f"{self.n_rotations} copies)")

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
        """One row per proper rotation: its ZYZ Euler angles, where it sends the z
        axis, and its weight among the proper rotations (the fig1 data)."""
        from scipy.spatial.transform import Rotation

        proper = self.matrices[:self.n_proper]
        with warnings.catch_warnings():  # at beta = 0 only alpha + gamma is defined
            warnings.simplefilter("ignore", UserWarning)
            alpha, beta, gamma = Rotation.from_matrix(proper).as_euler("ZYZ").T
        x, y, z = proper[:, :, 2].T
        return pd.DataFrame({
            "rotation": np.arange(self.n_proper), "alpha": alpha, "beta": beta,
            "gamma": gamma, "axis_x": x, "axis_y": y, "axis_z": z,
            "weight": 2 * self.weights[:self.n_proper], "rule": self.rule,
            "label": self.label, "degree": self.degree, "exactness": self.exactness,
            "n_rotations": self.n_rotations,
        })


def _check_degree(degree) -> int:
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or degree < 0:
        raise ValueError(f"quadrature degree must be a non-negative integer, got {degree!r}")
    return int(degree)


def _choose(degree: int, rule: str) -> tuple[str, int, int, str]:
    try:
        return rules.choose(degree, rule)
    except rules.NoRule as err:
        raise GridTooCoarse(str(err)) from None


def grid_size(degree: int, rule: str = rules.AUTO) -> int:
    """The rotations (proper and improper) of :func:`o3_quadrature` of ``degree``,
    without building the grid: the model evaluations per input that it costs."""
    return 2 * _choose(_check_degree(degree), rule)[2]


@functools.lru_cache(maxsize=16)
def o3_quadrature(degree: int, rule: str = rules.AUTO) -> O3Quadrature:
    """The grid exact to Wigner-D degree ``degree`` with the rule ``rule`` takes for it
    (``auto``: the smallest of every family's)."""
    degree = _check_degree(degree)
    family, exactness, _, label = _choose(degree, rule)
    _, proper, weights = rules.build(degree, rule)
    return O3Quadrature(
        degree=degree, exactness=exactness, rule=family, label=label,
        matrices=np.concatenate([proper, -proper]),
        weights=np.concatenate([0.5 * weights, 0.5 * weights]),
    )


def haar_o3(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, 3) matrices drawn uniformly from O(3): a Haar-uniform rotation, times -1
    (the inversion) with probability 1/2, the augmentation that makes a model learn
    the symmetry on average and the random rotations that estimate A off the grid."""
    from scipy.spatial.transform import Rotation

    matrices = Rotation.random(n, rng=rng).as_matrix()
    signs = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return matrices * signs[:, None, None]
