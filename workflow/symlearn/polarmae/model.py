"""PoLAr-MAE in PyTorch: a mini-PointNet tokenizer over ball-query groups, a ViT
encoder, masked pre-training (Chamfer reconstruction of the masked groups plus energy
infilling) and a segmentation head reading several blocks (focal loss, 4 classes).

Follows Young et al., "Particle Trajectory Representation Learning with Masked Point
Modeling" (PoLAr-MAE, 2025), which itself follows Point-MAE: tokens are embedded from
the points of a group relative to its centre and their energies, the centres' positions
enter through a learned positional embedding added at every block, and nothing in the
architecture is constrained by symmetry. Differences from the original, for a model
that runs on CPU without custom kernels: layer norm instead of batch norm in the
mini-PointNet (padded groups), masked tokens are kept as queries in the encoder but
hidden as keys (the visible tokens' outputs are the same as encoding them alone), and
the per-point head interpolates token features from the three nearest centres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..table_schemas import LEARNED_CLASSES
from .grouping import Batch

N_CLASSES = len(LEARNED_CLASSES)

#: architecture settings and their defaults (the config's polarmae.model)
DEFAULTS = {"width": 64, "depth": 3, "heads": 4, "mlp_ratio": 4, "decoder_depth": 1,
            "segmentation_blocks": None, "classes": N_CLASSES}


def _mlp(*sizes: int, norm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            if norm:
                layers.append(nn.LayerNorm(sizes[i + 1]))
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


def _masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over the group axis (-2) of ``x`` (..., K, C) over real members only."""
    return x.masked_fill(~mask[..., None], float("-inf")).amax(-2)


class MiniPointNet(nn.Module):
    """Point-MAE's token embedding: a shared MLP per point, a max over the group,
    that group feature concatenated back to every point, a second MLP and max."""

    def __init__(self, in_channels: int, width: int):
        super().__init__()
        hidden = max(2 * width, 32)
        self.first = _mlp(in_channels, hidden, hidden, norm=True)
        self.second = _mlp(2 * hidden, 2 * hidden, width, norm=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        f = self.first(x)
        pooled = _masked_max(f, mask)
        f = torch.cat([pooled[..., None, :].expand_as(f), f], dim=-1)
        return _masked_max(self.second(f), mask)


class Block(nn.Module):
    """A pre-norm ViT block; padding (and, in pre-training, masked) tokens are hidden
    as keys."""

    def __init__(self, width: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = _mlp(width, mlp_ratio * width, width)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h, h, key_padding_mask=hidden, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


def group_inputs(batch: Batch, radius: float) -> torch.Tensor:
    """Per group member: position relative to the centre in units of the group radius
    (as PoLAr-MAE, after PointNeXt, so that local coordinates are of order 1) and
    energy, (B, G, K, 4)."""
    b = torch.arange(len(batch.points))[:, None, None]
    local = (batch.points[b, batch.members] - centre_positions(batch)[:, :, None]) / radius
    return torch.cat([local, batch.energy[b, batch.members][..., None]], dim=-1)


def centre_positions(batch: Batch) -> torch.Tensor:
    return batch.points[torch.arange(len(batch.points))[:, None], batch.centres]


class PolarMAE(nn.Module):
    """Tokenizer, encoder, pre-training decoder and segmentation head in one module;
    a checkpoint of either phase holds all of it (the phase decides what is trained).

    ``features`` are what the symmetry analysis reads: ``tokenizer`` (the
    mini-PointNet tokens) and ``blocks.i`` (the tokens after block ``i``).
    """

    def __init__(self, width: int = 64, depth: int = 3, heads: int = 4, mlp_ratio: int = 4,
                 decoder_depth: int = 1, segmentation_blocks: Sequence[int] | None = None,
                 classes: int = N_CLASSES, group_size: int = 16, group_radius: float = 1.0):
        super().__init__()
        if width % heads:
            raise ValueError(f"heads ({heads}) must divide width ({width})")
        self.width, self.depth, self.group_size = width, depth, group_size
        self.group_radius = float(group_radius)
        self.tokenizer = MiniPointNet(4, width)
        self.pos_embed = _mlp(3, 2 * width, width)
        self.blocks = nn.ModuleList(Block(width, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        # masked pre-training
        self.mask_token = nn.Parameter(torch.zeros(width))
        nn.init.normal_(self.mask_token, std=0.02)
        self.decoder_pos_embed = _mlp(3, 2 * width, width)
        self.decoder = nn.ModuleList(Block(width, heads, mlp_ratio)
                                     for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(width)
        self.point_head = nn.Linear(width, 3 * group_size)
        self.energy_head = _mlp(width + 3, width, 1)
        # segmentation
        blocks = list(range(depth)) if segmentation_blocks is None else list(segmentation_blocks)
        bad = [i for i in blocks if not -depth <= i < depth]
        if bad or not blocks:
            raise ValueError(f"segmentation blocks {blocks} are not blocks of a {depth}-block"
                             " encoder")
        self.segmentation_blocks = [i % depth for i in blocks]
        self.seg_norms = nn.ModuleList(nn.LayerNorm(width) for _ in self.segmentation_blocks)
        self.seg_tokens = nn.Linear(width * len(self.segmentation_blocks), width)
        self.point_embed = _mlp(4, width, width)
        self.seg_head = _mlp(2 * width, width, classes)
        self.classes = classes

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], group_size: int,
                      group_radius: float) -> PolarMAE:
        unknown = sorted(set(settings) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"unknown PoLAr-MAE setting(s): {', '.join(unknown)}")
        return cls(**{**DEFAULTS, **settings}, group_size=group_size,
                   group_radius=group_radius)

    def feature_names(self) -> list[str]:
        return ["tokenizer", *(f"blocks.{i}" for i in range(self.depth))]

    # -- encoder ---------------------------------------------------------------
    def encode(self, batch: Batch, hidden: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Tokens and every block's output; ``hidden`` (B, G) hides tokens as keys
        (padding always is)."""
        tokens = self.tokenizer(group_inputs(batch, self.group_radius), batch.member_mask)
        tokens = torch.where(batch.token_mask[..., None], tokens, 0.0)
        pos = self.pos_embed(centre_positions(batch))
        hide = ~batch.token_mask if hidden is None else hidden | ~batch.token_mask
        x, outputs = tokens, []
        for block in self.blocks:
            x = block(x + pos, hide)
            outputs.append(x)
        return tokens, outputs

    # -- pre-training ----------------------------------------------------------
    def random_mask(self, batch: Batch, ratio: float,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, G) bool: ``round(ratio * n)`` of each event's ``n`` tokens masked
        (at least one token stays visible)."""
        noise = torch.rand(batch.token_mask.shape, generator=generator)
        noise = noise.to(batch.points.device).masked_fill(~batch.token_mask, 2.0)
        rank = noise.argsort(-1).argsort(-1)
        n = batch.token_mask.sum(-1, keepdim=True)
        n_masked = torch.clamp(torch.round(ratio * n), max=n - 1)
        return rank < n_masked

    def pretrain_loss(self, batch: Batch, mask: torch.Tensor,
                      energy_weight: float = 1.0) -> dict[str, torch.Tensor]:
        """Chamfer distance between predicted and true points of the masked groups
        (relative to their centres), plus the mean squared error of the energies the
        model infills at the true positions of the masked points."""
        _, outputs = self.encode(batch, hidden=mask)
        encoded = self.norm(outputs[-1])
        x = torch.where(mask[..., None], self.mask_token.to(encoded), encoded)
        pos = self.decoder_pos_embed(centre_positions(batch))
        for block in self.decoder:
            x = block(x + pos, ~batch.token_mask)
        x = self.decoder_norm(x)[mask]                                  # (M, D)
        truth = group_inputs(batch, self.group_radius)[mask]             # (M, K, 4)
        members = batch.member_mask[mask]                               # (M, K)
        predicted = self.point_head(x).reshape(len(x), self.group_size, 3)
        chamfer = chamfer_distance(predicted, truth[..., :3], members)
        inputs = torch.cat([x[:, None].expand(-1, truth.shape[1], -1), truth[..., :3]], -1)
        energy = self.energy_head(inputs)[..., 0]
        energy_error = ((energy - truth[..., 3]).square() * members).sum() / members.sum()
        return {"loss": chamfer + energy_weight * energy_error, "chamfer": chamfer,
                "energy": energy_error}

    # -- segmentation ----------------------------------------------------------
    def segment(self, batch: Batch, features: Sequence[str] = ()
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Per-point class logits (B, N, classes) and the requested features."""
        tokens, outputs = self.encode(batch)
        chosen = [norm(outputs[i]) for norm, i in zip(self.seg_norms, self.segmentation_blocks,
                                                      strict=True)]
        t = self.seg_tokens(torch.cat(chosen, dim=-1))                  # (B, G, D)
        b = torch.arange(len(t))[:, None, None]
        interpolated = (t[b, batch.neighbours] * batch.weights[..., None]).sum(-2)
        centres = centre_positions(batch)
        nearest = centres[torch.arange(len(t))[:, None], batch.neighbours[..., 0]]
        local = torch.cat([(batch.points - nearest) / self.group_radius,
                           batch.energy[..., None]], dim=-1)
        logits = self.seg_head(torch.cat([interpolated, self.point_embed(local)], dim=-1))
        return logits, self._features(tokens, outputs, features)

    def features(self, batch: Batch, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token features only (what the analysis of a pre-training checkpoint reads)."""
        tokens, outputs = self.encode(batch)
        return self._features(tokens, outputs, names)

    def _features(self, tokens, outputs, names) -> dict[str, torch.Tensor]:
        known = dict(zip(self.feature_names(), [tokens, *outputs], strict=True))
        missing = [n for n in names if n not in known]
        if missing:
            raise ValueError(f"unknown PoLAr-MAE feature(s) {missing}; known: "
                             f"{', '.join(known)}")
        return {name: known[name] for name in names}


def chamfer_distance(predicted: torch.Tensor, truth: torch.Tensor,
                     mask: torch.Tensor) -> torch.Tensor:
    """Squared-L2 Chamfer distance between point sets (M, P, 3) and (M, K, 3) with real
    truth points ``mask`` (M, K), averaged over the sets."""
    d = torch.cdist(predicted, truth).square()                          # (M, P, K)
    to_truth = d.masked_fill(~mask[:, None, :], float("inf")).amin(-1).mean(-1)
    to_predicted = (d.amin(-2) * mask).sum(-1) / mask.sum(-1)
    return (to_truth + to_predicted).mean()


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0,
               class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Focal loss (Lin et al. 2017) over points with a label >= 0:
    ``-w_c (1 - p_t)^gamma log p_t``, averaged over those points."""
    valid = labels >= 0
    logits, labels = logits[valid], labels[valid]
    log_p = torch.log_softmax(logits, dim=-1).gather(-1, labels[:, None])[:, 0]
    loss = -((1.0 - log_p.exp()) ** gamma) * log_p
    if class_weights is not None:
        loss = loss * class_weights.to(loss)[labels]
    return loss.mean()
