"""Geometric per-atom targets whose O(3) behaviour is known exactly.

They let PET be trained on targets of every angular momentum and of odd parity, so
that how it learns each irreducible representation can be measured. All are smooth
functions of the neighbour vectors ``r_ij = r_j - r_i`` (periodic images included)
within ``cutoff``, weighted by the cutoff function ``f_c`` of :func:`smooth_cutoff`.

Neighbour-density projections (``density_l{λ}``, λ = 0..lambda_max, σ = +1)::

    c_{λμ}(i) = Σ_j f_c(r_ij) Y_{λμ}(r̂_ij)

with ``Y_{λμ}`` the orthonormal real spherical harmonics of
:func:`real_spherical_harmonics` (μ = -λ..λ, the metatensor/metatomic/sphericart
convention). Under ``x -> g x`` they transform as ``c -> D^λ(g) c`` for a rotation
and ``c -> (-1)^λ D^λ(-g) c`` for an improper ``g``: exactly what metatrain's O3
augmentation applies to a spherical target with ``o3_sigma = +1``.

Pseudoscalar (``pseudoscalar``, λ = 0, σ = -1): with three radial weights
``w_k(r) = f_c(r) exp(-((r - μ_k)/s)^2)``, ``μ_k = (0.25, 0.5, 0.75) cutoff`` and
``s = cutoff/4``, the vectors ``A_k(i) = Σ_j w_k(r_ij) r_ij / cutoff`` give::

    p_i = PSEUDOSCALAR_SCALE * A_1 · (A_2 × A_3)
        = PSEUDOSCALAR_SCALE * Σ_{jkl} w_1(r_ij) w_2(r_ik) w_3(r_il)
                                r_ij · (r_ik × r_il) / cutoff^3

a smooth triplet sum computed in O(neighbours). It is rotation-invariant and odd
under inversion, so it vanishes on centrosymmetric environments (ideal crystals) and
is non-zero on generic ones. ``PSEUDOSCALAR_SCALE`` is a fixed constant chosen so the
standard deviation on the synthetic data set is O(0.1-1) at cutoff 4.5 Å; it is
never set from data statistics at run time.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list
from scipy.special import sph_harm_y

#: metatrain's prefix of non-standard target names: the geometric targets are
#: ``mtt::pseudoscalar`` and ``mtt::density_l{lambda}``, read from the extxyz arrays
#: named without it
CUSTOM_PREFIX = "mtt::"

#: centres of the three radial weights of the pseudoscalar, in units of the cutoff
PSEUDOSCALAR_CENTRES = (0.25, 0.5, 0.75)
#: width of the three radial weights, in units of the cutoff
PSEUDOSCALAR_WIDTH = 0.25
#: fixed factor bringing the pseudoscalar's spread to O(0.1-1) on typical structures
PSEUDOSCALAR_SCALE = 100.0


def target_irreps(lambda_max: int) -> dict[str, tuple[int, int]]:
    """The ``atoms.arrays`` keys :func:`add_geometric_targets` writes, in order, each
    with the irrep ``(o3_lambda, o3_sigma)`` it transforms as."""
    return {"pseudoscalar": (0, -1),
            **{f"density_l{lam}": (lam, 1) for lam in range(lambda_max + 1)}}


def smooth_cutoff(r: np.ndarray, cutoff: float, width: float) -> np.ndarray:
    """1 below ``cutoff - width``, 0 above ``cutoff``, a cosine step between.

    The step is C1 (value and slope continuous), so targets built from it change
    smoothly when a neighbour crosses the cutoff sphere.
    """
    if not 0 < width <= cutoff:
        raise ValueError(f"need 0 < width <= cutoff, got width={width}, cutoff={cutoff}")
    r = np.asarray(r, dtype=np.float64)
    start = cutoff - width
    x = np.clip((r - start) / width, 0.0, 1.0)
    return 0.5 * (1.0 + np.cos(np.pi * x))


def real_spherical_harmonics(o3_lambda: int, vectors: np.ndarray) -> np.ndarray:
    """Orthonormal real spherical harmonics of the directions of ``vectors``.

    ``(n, 3) -> (n, 2λ+1)``, columns μ = -λ..λ. From SciPy's complex harmonics
    (Condon-Shortley phase included) by the map metatomic's Wigner matrices use::

        μ > 0: √2 (-1)^μ Re Y_λ^μ,   μ < 0: √2 (-1)^μ Im Y_λ^|μ|,   μ = 0: Y_λ^0

    so that λ = 1 is ``sqrt(3/4π) (y, z, x) / r``. Zero vectors give NaN.
    """
    if o3_lambda < 0:
        raise ValueError(f"o3_lambda must be >= 0, got {o3_lambda}")
    vectors = np.asarray(vectors, dtype=np.float64).reshape(-1, 3)
    x, y, z = vectors.T
    r = np.sqrt(x * x + y * y + z * z)
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = np.arccos(np.clip(z / r, -1.0, 1.0))
    phi = np.mod(np.arctan2(y, x), 2.0 * np.pi)

    m = np.arange(o3_lambda + 1)
    complex_y = sph_harm_y(o3_lambda, m[None, :], theta[:, None], phi[:, None])
    signs = np.sqrt(2.0) * (-1.0) ** m[1:]
    out = np.empty((len(vectors), 2 * o3_lambda + 1))
    out[:, o3_lambda] = complex_y[:, 0].real
    out[:, o3_lambda + 1:] = signs * complex_y[:, 1:].real
    out[:, :o3_lambda] = (signs * complex_y[:, 1:].imag)[:, ::-1]
    out[r == 0] = np.nan
    return out


def _neighbours(atoms: Atoms, cutoff: float):
    """Centre indices and neighbour vectors (periodic images included)."""
    centres, vectors = neighbor_list("iD", atoms, cutoff)
    return centres, np.asarray(vectors, dtype=np.float64)


def _pseudoscalar(n_atoms, centres, vectors, cutoff, width) -> np.ndarray:
    distances = np.linalg.norm(vectors, axis=1)
    cut = smooth_cutoff(distances, cutoff, width)
    sums = []
    for centre in PSEUDOSCALAR_CENTRES:  # three radial channels, not pairs
        weight = cut * np.exp(-(((distances - centre * cutoff)
                                 / (PSEUDOSCALAR_WIDTH * cutoff)) ** 2))
        total = np.zeros((n_atoms, 3))
        np.add.at(total, centres, weight[:, None] * vectors / cutoff)
        sums.append(total)
    a1, a2, a3 = sums
    return PSEUDOSCALAR_SCALE * np.einsum("ij,ij->i", a1, np.cross(a2, a3))


def _density(n_atoms, centres, vectors, cutoff, width, lambda_max) -> dict[int, np.ndarray]:
    distances = np.linalg.norm(vectors, axis=1)
    cut = smooth_cutoff(distances, cutoff, width)
    out = {}
    for o3_lambda in range(lambda_max + 1):
        harmonics = real_spherical_harmonics(o3_lambda, vectors)
        total = np.zeros((n_atoms, 2 * o3_lambda + 1))
        np.add.at(total, centres, cut[:, None] * harmonics)
        out[o3_lambda] = total
    return out


def pseudoscalar(atoms: Atoms, cutoff: float, width: float) -> np.ndarray:
    """The per-atom pseudoscalar ``p_i`` of the module docstring, shape (n_atoms,)."""
    centres, vectors = _neighbours(atoms, cutoff)
    return _pseudoscalar(len(atoms), centres, vectors, cutoff, width)


def density_projections(atoms: Atoms, cutoff: float, width: float,
                        lambda_max: int) -> dict[int, np.ndarray]:
    """``{λ: c_λ}`` with ``c_λ`` of shape (n_atoms, 2λ+1), for λ = 0..lambda_max."""
    centres, vectors = _neighbours(atoms, cutoff)
    return _density(len(atoms), centres, vectors, cutoff, width, lambda_max)


def add_geometric_targets(frames: list[Atoms], cutoff: float, width: float,
                          lambda_max: int, source: str = "the structures") -> None:
    """Store every target of :func:`target_irreps` in ``atoms.arrays``, in place.

    One neighbour list per frame serves all targets. A target that comes out NaN or
    infinite raises, naming ``source``, the frame, the atom and the target: metatrain
    would skip it in its losses and the analysis would lose it without a word.
    """
    from ..errors import DataError

    for index, atoms in enumerate(frames):
        centres, vectors = _neighbours(atoms, cutoff)
        n_atoms = len(atoms)
        targets = {"pseudoscalar": _pseudoscalar(n_atoms, centres, vectors, cutoff, width)}
        density = _density(n_atoms, centres, vectors, cutoff, width, lambda_max)
        targets.update({f"density_l{o3_lambda}": values
                        for o3_lambda, values in density.items()})
        for name, values in targets.items():
            bad = ~np.isfinite(np.asarray(values).reshape(n_atoms, -1)).all(axis=1)
            if bad.any():
                raise DataError(f"{source}: frame {index}: the {name} target of atom "
                                f"{int(np.flatnonzero(bad)[0])} is not finite")
            atoms.arrays[name] = values
