"""How an output should transform, and its split into O(3) irreps.

An :class:`OutputKind` says which representation ``rho`` an output carries, so that a
response on a transformed input can be brought back, ``z(g) = rho(g)^-1 f(g x)``, and
split into ``(lambda, sigma)`` parts whose components are orthonormal (the squared norm
is preserved), as in docs/symmetry.md:

- ``invariant``: any trailing shape, all of it (0, +1) (energies, class probabilities);
- ``pseudoscalar``: (0, -1);
- ``vector`` (polar, trailing 3 Cartesian components): (1, +1);
- ``axial`` (trailing 3): (1, -1);
- ``rank2`` (trailing 3 x 3 Cartesian matrix): trace (0, +1), antisymmetric part
  (1, -1) and symmetric traceless part (2, +1), in metatomic's component convention;
- ``symmetric_rank2`` (trailing 3 x 3): a matrix whose antisymmetric part cannot be
  seen, such as the stress an ASE calculator returns (six Voigt components): (0, +1)
  and (2, +1) only;
- ``spherical`` (trailing 2 lambda + 1): (lambda, sigma), in e3nn's real basis or, with
  ``basis="metatomic"``, in the one metatrain's spherical targets use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .wigner import parity_signs, proper_part, wigner_D

Irrep = tuple[int, int]

_TRAILING = {"pseudoscalar": 1, "vector": 1, "axial": 1, "rank2": 2, "symmetric_rank2": 2,
             "spherical": 1}


@dataclass(frozen=True)
class OutputKind:
    """The representation an output carries (see the module docstring)."""

    name: str
    o3_lambda: int = 0
    o3_sigma: int = 1
    basis: str = "e3nn"

    def __post_init__(self):
        if self.name not in ("invariant", *_TRAILING):
            raise ValueError(f"unknown output kind {self.name!r}; known: invariant, "
                             + ", ".join(_TRAILING))
        if self.name == "spherical" and (self.o3_lambda < 0 or self.o3_sigma not in (1, -1)):
            raise ValueError(f"invalid irrep ({self.o3_lambda}, {self.o3_sigma})")

    @property
    def irreps(self) -> list[Irrep]:
        return {
            "invariant": [(0, 1)], "pseudoscalar": [(0, -1)], "vector": [(1, 1)],
            "axial": [(1, -1)], "rank2": [(0, 1), (1, -1), (2, 1)],
            "symmetric_rank2": [(0, 1), (2, 1)],
            "spherical": [(self.o3_lambda, self.o3_sigma)],
        }[self.name]

    @property
    def max_lambda(self) -> int:
        return max(lam for lam, _ in self.irreps)

    @property
    def components(self) -> tuple[int, ...] | None:
        """The trailing component axes of one sample (None: any, for ``invariant``)."""
        return {"pseudoscalar": (1,), "vector": (3,), "axial": (3,), "rank2": (3, 3),
                "symmetric_rank2": (3, 3),
                "spherical": (2 * self.o3_lambda + 1,)}.get(self.name)

    def check_shape(self, name: str, values: torch.Tensor) -> None:
        """``values`` is (copies, samples, ...): check the trailing component axes."""
        expected = self.components
        if values.ndim < 2:
            raise ValueError(f"output {name!r}: expected (copies, samples, ...) values, "
                             f"got shape {tuple(values.shape)}")
        if expected is not None and tuple(values.shape[2:]) != expected:
            raise ValueError(f"output {name!r} of kind {self.name}: expected trailing "
                             f"shape {expected}, got {tuple(values.shape[2:])}")

    def back_transform(self, values: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """``rho(g)^-1 values`` for values of shape (copies, samples, ...) and g (copies,
        3, 3): the response brought back to the frame of the input."""
        g = g.to(values)
        if self.name == "invariant":
            return values
        if self.name == "pseudoscalar":
            return values * torch.linalg.det(g)[:, None, None]
        if self.name == "vector":
            return torch.einsum("bij,bni->bnj", g, values)
        if self.name == "axial":
            return torch.einsum("bij,bni->bnj", g, values) * torch.linalg.det(g)[:, None, None]
        if self.name in ("rank2", "symmetric_rank2"):
            return torch.einsum("bki,bnkl,blj->bnij", g, values, g)
        _, improper = proper_part(g)
        signs = parity_signs(self.o3_lambda, self.o3_sigma, improper).to(values)
        d = wigner_D(self.o3_lambda, g, self.basis).to(values)
        return signs[:, None, None] * torch.einsum("bmk,bnm->bnk", d, values)

    def split(self, values: torch.Tensor) -> dict[Irrep, torch.Tensor]:
        """The irreducible parts of (copies, samples, ...) values, each (copies,
        samples, d) with orthonormal components."""
        b, n = values.shape[:2]
        if self.name == "rank2":
            return rank2_irreps(values)
        if self.name == "symmetric_rank2":
            parts = rank2_irreps(values)
            return {irrep: parts[irrep] for irrep in self.irreps}
        return {self.irreps[0]: values.reshape(b, n, -1)}


def rank2_irreps(m: torch.Tensor) -> dict[Irrep, torch.Tensor]:
    """Orthonormal (0,+1), (1,-1) and (2,+1) parts of Cartesian matrices (..., 3, 3),
    in the component order metatomic uses (mu = -1, 0, 1 ~ y, z, x)."""
    s2, s3, s6 = math.sqrt(2.0), math.sqrt(3.0), math.sqrt(6.0)
    trace = (m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2])[..., None] / s3
    antisym = torch.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1],
                           m[..., 2, 1] - m[..., 1, 2]], dim=-1) / s2
    sym = torch.stack([
        (m[..., 0, 1] + m[..., 1, 0]) / s2,
        (m[..., 1, 2] + m[..., 2, 1]) / s2,
        (2 * m[..., 2, 2] - m[..., 0, 0] - m[..., 1, 1]) / s6,
        (m[..., 0, 2] + m[..., 2, 0]) / s2,
        (m[..., 0, 0] - m[..., 1, 1]) / s2,
    ], dim=-1)
    return {(0, 1): trace, (1, -1): antisym, (2, 1): sym}
