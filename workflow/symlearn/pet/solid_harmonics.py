"""The solid-harmonics edge embedding of the PET variants (symlearn.pet.variants says
what it is for). A module of its own so that e3nn, whose import takes about a second,
is loaded only by the runs that use it; its kernel is bound here at import, where
TorchScript finds it when metatrain exports a model."""

from __future__ import annotations

import torch
from e3nn.o3._spherical_harmonics import _spherical_harmonics


class SolidHarmonicsEdgeEmbedding(torch.nn.Module):
    """``(x, y, z, r) -> W [Y^s_{l m}(u) for l <= lmax, r / cutoff] + b``, with ``Y^s``
    e3nn's solid harmonics (homogeneous polynomials of degree l; any real basis of them
    spans the same space, which the linear map mixes) of ``u = r̂`` (``scale="unit"``)
    or ``u = v / cutoff`` (``scale="cutoff"``; the module docstring says why it is not
    the default). e3nn's kernel ``_spherical_harmonics`` is called directly: it is
    TorchScript-compatible, so metatrain can export the model, which its
    ``SphericalHarmonics`` module is not when scripted inside another module."""

    def __init__(self, lmax: int, cutoff: float, d_model: int, scale: str = "unit"):
        super().__init__()
        if lmax < 1:
            raise ValueError(f"the solid-harmonics embedding needs lmax >= 1, got {lmax}")
        if scale not in ("unit", "cutoff"):  # variants.SCALES (which imports this module)
            raise ValueError(f"edge_embedding.scale must be unit or cutoff, got {scale!r}")
        self.lmax = int(lmax)
        self.cutoff = float(cutoff)
        self.unit = scale == "unit"
        self.linear = torch.nn.Linear((self.lmax + 1) ** 2 + 1, d_model)

    def forward(self, edges: torch.Tensor) -> torch.Tensor:
        distance = edges[..., 3:4]
        if self.unit:  # padded edges (zero vectors) keep zero harmonics above l = 0
            vectors = edges[..., :3] / distance.clamp_min(1e-12)
        else:
            vectors = edges[..., :3] / self.cutoff
        harmonics = _spherical_harmonics(self.lmax, vectors[..., 0], vectors[..., 1],
                                         vectors[..., 2])
        return self.linear(torch.cat([harmonics, distance / self.cutoff], dim=-1))
