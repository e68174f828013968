"""PET variants with a richer edge embedding, on top of metatrain's PET.

PET embeds each edge with a linear map of ``(x, y, z, r)`` (``edge_embedder`` of every
GNN layer's ``CartesianTransformer``): its first layer sees the edge direction only
through lambda <= 1 functions. The paper's minimal inductive bias replaces that by
the spherical harmonics of the edge direction up to ``Lmax`` and the distance,
followed by a linear map: every angular order up to ``Lmax`` is then available to the
network from its first layer, while the rest of PET stays unconstrained.

``scale`` chooses the vector the harmonics are taken of:

- ``unit`` (the default): the unit vector ``r̂``, so every order has mean square 1 over
  directions (e3nn's component normalisation) whatever the distance;
- ``cutoff``: the vector over the cutoff, ``r^l Y_lm(r̂) / cutoff^l`` (the solid
  harmonics, homogeneous polynomials). Order ``l`` then carries a factor
  ``(r / cutoff)^l``, 0.5^8 = 0.004 at l = 8 for a neighbour at half the cutoff, so the
  high orders reach the network three orders of magnitude below the low ones, largest
  for the neighbours that the targets' cutoff function weighs least. Measured on the
  geometric targets (120 epochs), this embedding up to L = 8 learned the lambda = 8
  density only a little better than PET's own (relative test RMSE on metatrain's test
  split 0.24 against 0.32), so it is
  kept only to read checkpoints written before ``unit`` existed (a checkpoint without
  the key is rebuilt with it).

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


def __getattr__(name: str):
    # the embedding module lives beside this one, imported on first use: e3nn's
    # import takes about a second, which every standard run would pay
    if name == "SolidHarmonicsEdgeEmbedding":
        from .solid_harmonics import SolidHarmonicsEdgeEmbedding
        return SolidHarmonicsEdgeEmbedding
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: the key of PET's hyperparameters that records the variant in checkpoints
HYPERS_KEY = "symlearn_edge_embedding"
EMBEDDINGS = ("cartesian", "solid_harmonics")
#: what the harmonics are taken of: the unit edge vector, or the vector over the cutoff
SCALES = ("unit", "cutoff")


def check_spec(spec: Mapping[str, Any], default_scale: str = "unit") -> dict[str, Any]:
    """A variant as ``{"type": "cartesian"}`` or ``{"type": "solid_harmonics",
    "lmax": L, "scale": "unit" | "cutoff"}`` (``scale`` absent: ``default_scale``);
    anything else is an error naming what is wrong."""
    kind = spec.get("type")
    if kind not in EMBEDDINGS:
        raise ValueError(f"edge_embedding.type must be one of {EMBEDDINGS}, got {kind!r}")
    if kind == "cartesian":
        return {"type": "cartesian"}
    lmax = spec.get("lmax")
    if not isinstance(lmax, int) or isinstance(lmax, bool) or lmax < 1:
        raise ValueError(f"edge_embedding.lmax must be an integer >= 1, got {lmax!r}")
    scale = spec.get("scale", default_scale)
    if scale not in SCALES:
        raise ValueError(f"edge_embedding.scale must be one of {SCALES}, got {scale!r}")
    return {"type": "solid_harmonics", "lmax": lmax, "scale": scale}


def apply_edge_embedding(model: torch.nn.Module, spec: Mapping[str, Any]) -> None:
    """Replace the edge embedder of every GNN layer of a PET ``model`` (in place)."""
    spec = check_spec(spec, default_scale="cutoff")
    if spec["type"] == "cartesian":
        return
    from . import solid_harmonics  # e3nn (and torch._dynamo): only for this variant
    for layer in model.backend.gnn_layers:
        old = layer.edge_embedder
        layer.edge_embedder = solid_harmonics.SolidHarmonicsEdgeEmbedding(
            spec["lmax"], model.cutoff, old.out_features, spec["scale"]).to(
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
        # a checkpoint written before ``scale`` existed used ``cutoff``
        variant = chosen if chosen is not None else self.hypers.get(HYPERS_KEY)
        if variant is not None and variant["type"] != "cartesian":
            variant = check_spec(variant, default_scale="cutoff")
            apply_edge_embedding(self, variant)
            self.hypers = {**self.hypers, HYPERS_KEY: dict(variant)}

    PET.__init__ = __init__
    try:
        yield
    finally:
        PET.__init__ = original
