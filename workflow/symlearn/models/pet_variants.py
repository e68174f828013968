"""PET variants with a richer edge embedding, on top of metatrain's PET.

PET embeds each edge with a linear map of ``(x, y, z, r)`` (``edge_embedder`` of every
GNN layer's ``CartesianTransformer``): its first layer sees the edge direction only
through lambda <= 1 functions. The paper's minimal inductive bias replaces that by
the solid spherical harmonics ``r^l Y_lm`` of the edge vector up to ``Lmax`` (here of
the vector divided by the cutoff, so that every order is O(1)) and the distance,
followed by a linear map: every angular order up to ``Lmax`` is then available to the
network from its first layer, while the rest of PET stays unconstrained.

metatrain is not edited: :func:`edge_embedding` installs, for the duration of a
``with`` block, a wrapper of ``PET.__init__`` that swaps the edge embedders of a newly
built model and records the variant in the model's hyperparameters. Checkpoints
therefore carry it, and a checkpoint loaded inside the same block (with no variant
given) is rebuilt with the modules its weights belong to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from e3nn.o3._spherical_harmonics import _spherical_harmonics

#: the key of PET's hyperparameters that records the variant in checkpoints
HYPERS_KEY = "symlearn_edge_embedding"
EMBEDDINGS = ("cartesian", "solid_harmonics")


class SolidHarmonicsEdgeEmbedding(torch.nn.Module):
    """``(x, y, z, r) -> W [Y^s_{l m}(v / cutoff) for l <= lmax, r / cutoff] + b``, with
    ``Y^s`` e3nn's solid harmonics (homogeneous polynomials of degree l; any real basis
    of them spans the same space, which the linear map mixes). e3nn's kernel
    ``_spherical_harmonics`` is called directly: it is TorchScript-compatible, so
    metatrain can export the model, which its ``SphericalHarmonics`` module is not
    when scripted inside another module."""

    def __init__(self, lmax: int, cutoff: float, d_model: int):
        super().__init__()
        if lmax < 1:
            raise ValueError(f"the solid-harmonics embedding needs lmax >= 1, got {lmax}")
        self.lmax = int(lmax)
        self.cutoff = float(cutoff)
        self.linear = torch.nn.Linear((self.lmax + 1) ** 2 + 1, d_model)

    def forward(self, edges: torch.Tensor) -> torch.Tensor:
        scaled = edges / self.cutoff
        harmonics = _spherical_harmonics(self.lmax, scaled[..., 0], scaled[..., 1],
                                         scaled[..., 2])
        return self.linear(torch.cat([harmonics, scaled[..., 3:4]], dim=-1))


def check_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A variant as ``{"type": "cartesian"}`` or ``{"type": "solid_harmonics",
    "lmax": L}``; anything else is an error naming what is wrong."""
    kind = spec.get("type")
    if kind not in EMBEDDINGS:
        raise ValueError(f"edge_embedding.type must be one of {EMBEDDINGS}, got {kind!r}")
    if kind == "cartesian":
        return {"type": "cartesian"}
    lmax = spec.get("lmax")
    if not isinstance(lmax, int) or isinstance(lmax, bool) or lmax < 1:
        raise ValueError(f"edge_embedding.lmax must be an integer >= 1, got {lmax!r}")
    return {"type": "solid_harmonics", "lmax": lmax}


def apply_edge_embedding(model: torch.nn.Module, spec: Mapping[str, Any]) -> None:
    """Replace the edge embedder of every GNN layer of a PET ``model`` (in place)."""
    spec = check_spec(spec)
    if spec["type"] == "cartesian":
        return
    for layer in model.backend.gnn_layers:
        old = layer.edge_embedder
        layer.edge_embedder = SolidHarmonicsEdgeEmbedding(
            spec["lmax"], model.cutoff, old.out_features).to(
                dtype=old.weight.dtype, device=old.weight.device)


@contextlib.contextmanager
def edge_embedding(spec: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Build PET models with the edge embedding ``spec`` while the block runs; with
    ``spec=None``, with the one a model's hyperparameters record (loading)."""
    from metatrain.pet.model import PET

    chosen = None if spec is None else check_spec(spec)
    original = PET.__init__

    def __init__(self, hypers, dataset_info):
        original(self, hypers, dataset_info)
        variant = chosen if chosen is not None else self.hypers.get(HYPERS_KEY)
        if variant is not None and variant["type"] != "cartesian":
            apply_edge_embedding(self, variant)
            self.hypers = {**self.hypers, HYPERS_KEY: dict(variant)}

    PET.__init__ = __init__
    try:
        yield
    finally:
        PET.__init__ = original
