"""PoLAr-MAE in PyTorch, built as the reference repository builds it.

The reference is DeepLearnPhysics/PoLAr-MAE at commit 2fd3b80 (Young et al., "Particle
Trajectory Representation Learning with Masked Point Modeling", arXiv:2502.02558). Each
piece below names the reference file it follows; sizes come from ``configs/polarmae.yml``
and ``configs/part_segmentation_polarmae_fft.yml`` and are set in ``config/paper.yaml``.
Nothing in the architecture is constrained by symmetry.

- **Tokenizer** (``layers/pointnet.py``, ``MaskedMiniPointNet``): per point, 1x1
  convolutions ``4 -> 128`` (batch norm over the real points, ReLU) ``-> 256``; the max
  over the group concatenated back to every point; ``512 -> 512`` (batch norm, ReLU)
  ``-> width``; the max over the group. The input is each member's position relative
  to the group centre in units of the group radius, and its energy
  (``layers/grouping.py``, ``rescale_by_group_radius``).
- **Positional embedding** (``layers/pos_embed.py``): ``Linear(3, 128)``, GELU,
  ``Linear(128, width)`` of the centre, added before every block of the encoder and
  of the decoder (``add_pos_at_every_layer``), one module shared by both.
- **Blocks** (``layers/block.py``, ``layers/attention.py``): pre-norm, multi-head
  attention with a query-key-value bias, attention dropout 0.05, stochastic depth
  rising linearly to 0.25 over the blocks (drawn per token, as ``MaskedDropPath``), an
  MLP of ratio 4; hidden tokens are masked as keys and their MLP update is zeroed. The
  encoder has no final norm (``postnorm: false``); the decoder has one.
- **Norm** (``layers/masking.py``, ``MaskedLayerNorm``): one mean and one standard
  deviation over all real tokens and all channels, then a per-channel scale and shift.
- **Pre-training** (``models/ssl/polarmae.py``): 60 % of the tokens masked at random
  (``int(0.6 n)``); the encoder runs on every token with the masked ones hidden as keys;
  the decoder (4 blocks) self-attends over the encoded visible tokens and a learned
  mask token in place of each masked one; a linear map predicts the ``K`` points of each
  masked group with their energies (``mae_prediction: full``), scored by the Chamfer
  distance on the group's real points (pytorch3d's, with ``x_lengths = y_lengths``);
  energy infilling: a second mini-PointNet of the masked group's true positions, with
  a sinusoidal embedding of each point's slot (``equivariant=True``), concatenated with
  the decoded token, maps to one energy per slot, scored by the mean squared error
  (``F.mse_loss``) on the real points. Loss weights: Chamfer 1, energy 1.
- **Segmentation** (``models/finetune/semantic_segmentation.py``, ``layers/seg_head.py``,
  ``layers/feature_upsampling.py``): the outputs of blocks 3, 7 and 11, each normalised
  without parameters, averaged; the max and the mean over the tokens as a global
  feature; token features carried to every point from its 5 nearest centres with
  weights ``1 / (d^2 + eps)``, concatenated with the point's absolute position, through
  two 1x1 convolutions with batch norm and ReLU; with the global feature, the head
  ``3 width -> 512`` (batch norm, ReLU, dropout 0.5) ``-> 256`` (batch norm, ReLU)
  ``-> 4 classes``. The focal loss (``loss/focal.py``) weights each class.

What differs from the reference, and why:

- The norm's mean and deviation are taken per event, where the reference takes them
  over the whole batch (in training, all 32 events at once). Per event, the model's
  output for one event does not depend on which other events share its batch; the
  symmetry analysis batches the rotated copies of one event, and would otherwise
  measure that dependence. With one event per batch the two are the same.
- The tiny default model of ``config/config.yaml`` is narrower and shallower (and so
  are its mini-PointNet and segmentation head); ``config/paper.yaml`` sets the
  reference's sizes.
- No mixed precision (the reference trains in bf16): the analysis needs float64.
- The energy loss may be switched to a Huber loss (``energy_loss: huber``,
  ``huber_delta``); the reference code uses the mean squared error, the default here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..table_schemas import LEARNED_CLASSES
from .grouping import Batch

N_CLASSES = len(LEARNED_CLASSES)
#: the reference norm's guard against a zero deviation (``tiny_value_of_dtype``)
TINY = 1e-13

#: architecture settings and their defaults (the config's polarmae.model): the
#: reference's ViT-S sizes (configs/polarmae.yml, layers/transformer.py ``vit_small``)
DEFAULTS = {"width": 384, "depth": 12, "heads": 6, "mlp_ratio": 4, "decoder_depth": 4,
            "segmentation_blocks": [3, 7, 11], "classes": N_CLASSES,
            "pointnet": [128, 256, 512], "position_hidden": 128, "seg_head_dim": 512,
            "seg_dropout": 0.5, "attention_dropout": 0.05, "drop_path": 0.25,
            "reconstruct": "full"}
RECONSTRUCT = {"full": 4, "positions": 3}


def _masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over axis -2 of ``x`` (..., K, C) over the rows ``mask`` (..., K) keeps."""
    return x.masked_fill(~mask[..., None], float("-inf")).amax(-2)


class MaskedBatchNorm(nn.Module):
    """Batch norm over the channels (last axis) whose statistics, in training, count only
    the entries ``mask`` marks real (the reference's ``MaskedBatchNorm1d``); in
    evaluation it applies the running statistics, entry by entry."""

    def __init__(self, channels: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.training:
            real = x[mask]
            mean = real.mean(0)
            var = real.var(0, unbiased=False)
            with torch.no_grad():
                n = len(real)
                unbiased = var * n / max(n - 1, 1)
                self.running_mean.lerp_(mean.detach(), self.momentum)
                self.running_var.lerp_(unbiased.detach(), self.momentum)
        else:
            # evaluation: one fused multiply-add per entry (the analysis passes many
            # rotated copies through here), the same affine map as below
            scale = self.weight * torch.rsqrt(self.running_var + self.eps)
            return torch.addcmul(self.bias - self.running_mean * scale, x, scale)
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight + self.bias


class SlotEmbedding(nn.Module):
    """The reference's ``PointOrderEncoder``: a sinusoidal embedding of each point's
    slot in its group, through a linear map and ReLU."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.linear = nn.Linear(dim, dim)

    def forward(self, n_slots: int, like: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        frequency = torch.exp(torch.arange(half, device=like.device, dtype=like.dtype)
                              * -(math.log(10000.0) / max(half - 1, 1)))
        t = torch.arange(n_slots, device=like.device, dtype=like.dtype)[:, None] * frequency
        return torch.relu(self.linear(torch.cat([t.sin(), t.cos()], dim=-1)))


class MiniPointNet(nn.Module):
    """The reference's ``MaskedMiniPointNet`` on groups (..., K, C): shared per-point
    maps, a max over the group (padding slots repeat the first member, as in the
    reference, so they change no maximum), concatenated back, a second map and max."""

    def __init__(self, in_channels: int, out_channels: int, widths: Sequence[int],
                 slot_embedding: bool = False):
        super().__init__()
        a, b, c = (int(w) for w in widths)
        self.first_in = nn.Linear(in_channels, a, bias=False)
        self.first_norm = MaskedBatchNorm(a)
        self.first_out = nn.Linear(a, b)
        self.second_in = nn.Linear(2 * b, c, bias=False)
        self.second_norm = MaskedBatchNorm(c)
        self.second_out = nn.Linear(c, out_channels)
        self.slots = SlotEmbedding(b) if slot_embedding else None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        f = self.first_out(torch.relu(self.first_norm(self.first_in(x), mask)))
        if self.slots is not None:
            f = f + self.slots(x.shape[-2], f)
        pooled = f.amax(-2)
        f = torch.cat([pooled[..., None, :].expand_as(f), f], dim=-1)
        f = self.second_out(torch.relu(self.second_norm(self.second_in(f), mask)))
        return f.amax(-2)


def event_norm(x: torch.Tensor, keep: torch.Tensor, weight: torch.Tensor | float = 1.0,
               bias: torch.Tensor | float = 0.0) -> torch.Tensor:
    """The reference's masked layer norm, per event: ``x`` (B, G, D) less the mean over
    the event's kept tokens ``keep`` (B, G) and all channels, over the deviation."""
    m = keep[..., None].to(x)
    n = m.sum((1, 2), keepdim=True).clamp(min=1.0) * x.shape[-1]
    mean = (x * m).sum((1, 2), keepdim=True) / n
    var = ((x - mean) * m).square().sum((1, 2), keepdim=True) / n
    return weight * (x - mean) / (torch.sqrt(var + TINY) + TINY) + bias


class EventNorm(nn.Module):
    """:func:`event_norm` with a learned per-channel scale and shift."""

    def __init__(self, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        return event_norm(x, keep, self.weight, self.bias)


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth per token, as the reference's ``masked_drop_path``."""
    if p == 0.0 or not training:
        return x
    keep = x.new_empty(x.shape[:-1] + (1,)).bernoulli_(1.0 - p)
    return x * keep / (1.0 - p)


class Block(nn.Module):
    """A pre-norm ViT block; tokens not in ``keep`` are hidden as keys, left out of the
    norms' statistics and get no MLP update (the reference's ``x_mask``)."""

    def __init__(self, width: int, heads: int, mlp_ratio: int,
                 attention_dropout: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        self.norm1 = EventNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, dropout=attention_dropout,
                                          batch_first=True)
        self.norm2 = EventNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(),
                                 nn.Linear(mlp_ratio * width, width))
        self.drop_path = float(drop_path)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x, keep)
        h = self.attn(h, h, h, key_padding_mask=~keep, need_weights=False)[0]
        x = x + drop_path(h, self.drop_path, self.training)
        f = self.mlp(self.norm2(x, keep)) * keep[..., None].to(x)
        return x + drop_path(f, self.drop_path, self.training)


def group_inputs(batch: Batch, radius: float) -> torch.Tensor:
    """Per group member: position relative to the centre in units of the group radius
    and energy, (B, G, K, 4)."""
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

    def __init__(self, width: int = 384, depth: int = 12, heads: int = 6,
                 mlp_ratio: int = 4, decoder_depth: int = 4,
                 segmentation_blocks: Sequence[int] | None = (3, 7, 11),
                 classes: int = N_CLASSES, pointnet: Sequence[int] = (128, 256, 512),
                 position_hidden: int = 128, seg_head_dim: int = 512,
                 seg_dropout: float = 0.5, attention_dropout: float = 0.05,
                 drop_path: float = 0.25, reconstruct: str = "full",
                 group_size: int = 32, group_radius: float = 1.0):
        super().__init__()
        if width % heads:
            raise ValueError(f"heads ({heads}) must divide width ({width})")
        if reconstruct not in RECONSTRUCT:
            raise ValueError(f"reconstruct must be one of {sorted(RECONSTRUCT)}")
        self.width, self.depth, self.group_size = width, depth, group_size
        self.group_radius = float(group_radius)
        self.tokenizer = MiniPointNet(4, width, pointnet)
        self.pos_embed = nn.Sequential(nn.Linear(3, position_hidden), nn.GELU(),
                                       nn.Linear(position_hidden, width))

        def blocks(n: int) -> nn.ModuleList:  # stochastic depth rises linearly
            rates = torch.linspace(0.0, drop_path, n).tolist() if n > 1 else [0.0]
            return nn.ModuleList(Block(width, heads, mlp_ratio, attention_dropout, r)
                                 for r in rates)

        self.blocks = blocks(depth)
        # masked pre-training
        self.mask_token = nn.Parameter(torch.zeros(width))
        nn.init.trunc_normal_(self.mask_token, std=0.02, a=-0.02, b=0.02)
        self.decoder = blocks(decoder_depth)
        self.decoder_norm = EventNorm(width)
        self.channels = RECONSTRUCT[reconstruct]
        self.point_head = nn.Linear(width, self.channels * group_size)
        self.energy_encoder = MiniPointNet(3, width, pointnet, slot_embedding=True)
        self.energy_head = nn.Linear(2 * width, group_size)
        # segmentation
        chosen = (list(range(depth)) if segmentation_blocks is None
                  else list(segmentation_blocks))
        bad = [i for i in chosen if not -depth <= i < depth]
        if bad or not chosen:
            raise ValueError(f"segmentation blocks {chosen} are not blocks of a {depth}-block"
                             " encoder")
        self.segmentation_blocks = [i % depth for i in chosen]
        self.upsample_in = nn.Linear(3 + width, width, bias=False)
        self.upsample_norm1 = MaskedBatchNorm(width)
        self.upsample_mid = nn.Linear(width, width, bias=False)
        self.upsample_norm2 = MaskedBatchNorm(width)
        self.head_in = nn.Linear(3 * width, seg_head_dim, bias=False)
        self.head_norm1 = MaskedBatchNorm(seg_head_dim)
        self.head_dropout = nn.Dropout(seg_dropout)
        self.head_mid = nn.Linear(seg_head_dim, seg_head_dim // 2, bias=False)
        self.head_norm2 = MaskedBatchNorm(seg_head_dim // 2)
        self.head_out = nn.Linear(seg_head_dim // 2, classes)
        self.classes = classes
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """ViT initialisation of the linear maps (layers/transformer.py)."""
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

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
    def tokens(self, batch: Batch) -> torch.Tensor:
        """Mini-PointNet tokens (B, G, width), zero on padding tokens."""
        real = batch.member_mask & batch.token_mask[..., None]
        tokens = self.tokenizer(group_inputs(batch, self.group_radius), real)
        return torch.where(batch.token_mask[..., None], tokens, 0.0)

    def encode(self, batch: Batch, hidden: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Tokens, every block's output and the positional embedding; ``hidden`` (B, G)
        hides tokens as keys (padding always is)."""
        tokens = self.tokens(batch)
        pos = self.pos_embed(centre_positions(batch))
        keep = batch.token_mask if hidden is None else batch.token_mask & ~hidden
        x, outputs = tokens, []
        for block in self.blocks:
            x = block(x + pos, keep)
            outputs.append(x)
        return tokens, outputs, pos

    # -- pre-training ----------------------------------------------------------
    def random_mask(self, batch: Batch, ratio: float,
                    generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, G) bool: ``int(ratio * n)`` of each event's ``n`` tokens masked at random
        (the reference's ``VariablePointcloudMasking``, ``rand``)."""
        noise = torch.rand(batch.token_mask.shape, generator=generator)
        noise = noise.to(batch.points.device).masked_fill(~batch.token_mask, 2.0)
        rank = noise.argsort(-1).argsort(-1)
        n = batch.token_mask.sum(-1, keepdim=True)
        n_masked = torch.floor(ratio * n.to(torch.float64)).to(n.dtype)
        return rank < n_masked

    def pretrain_loss(self, batch: Batch, mask: torch.Tensor, energy_weight: float = 1.0,
                      energy_loss: str = "mse", huber_delta: float = 0.2
                      ) -> dict[str, torch.Tensor]:
        """Chamfer distance between the predicted and the true points of the masked
        groups (with energies, for ``reconstruct: full``), plus the error of the
        energies infilled at the true positions of the masked points."""
        _, outputs, pos = self.encode(batch, hidden=mask)
        visible = batch.token_mask & ~mask
        x = torch.where(mask[..., None], self.mask_token.to(outputs[-1]),
                        outputs[-1] * visible[..., None].to(outputs[-1]))
        for block in self.decoder:
            x = block(x + pos, batch.token_mask)
        x = self.decoder_norm(x, batch.token_mask)[mask]                 # (M, D)
        truth = group_inputs(batch, self.group_radius)[mask]             # (M, K, 4)
        members = batch.member_mask[mask]                               # (M, K)
        predicted = self.point_head(x).reshape(len(x), self.group_size, self.channels)
        chamfer = chamfer_distance(predicted, truth[..., :self.channels], members)
        encoded = self.energy_encoder(truth[..., :3], members)
        energy = self.energy_head(torch.cat([encoded, x], dim=-1))      # (M, K)
        if energy_loss == "mse":
            energy_error = (energy - truth[..., 3])[members].square().mean()
        elif energy_loss == "huber":
            energy_error = nn.functional.huber_loss(energy[members], truth[..., 3][members],
                                                    delta=huber_delta)
        else:
            raise ValueError(f"unknown energy loss {energy_loss!r}; known: mse, huber")
        return {"loss": chamfer + energy_weight * energy_error, "chamfer": chamfer,
                "energy": energy_error}

    # -- segmentation ----------------------------------------------------------
    def segment(self, batch: Batch, features: Sequence[str] = ()
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Per-point class logits (B, N, classes) and the requested features."""
        tokens, outputs, _ = self.encode(batch)
        keep = batch.token_mask
        m = keep[..., None].to(tokens)
        t = torch.stack([event_norm(outputs[i], keep) * m
                         for i in self.segmentation_blocks]).mean(0)       # (B, G, D)
        pooled = torch.cat([_masked_max(t, keep),
                            (t * m).sum(1) / m.sum(1).clamp(min=1.0)], dim=-1)  # (B, 2D)
        b = torch.arange(len(t))[:, None, None]
        interpolated = (t[b, batch.neighbours] * batch.weights[..., None]).sum(-2)
        points = batch.point_mask
        f = self.upsample_in(torch.cat([batch.points, interpolated], dim=-1))
        f = torch.relu(self.upsample_norm1(f, points))
        f = torch.relu(self.upsample_norm2(self.upsample_mid(f), points))
        f = torch.cat([f, pooled[:, None].expand(-1, f.shape[1], -1)], dim=-1)
        f = self.head_dropout(torch.relu(self.head_norm1(self.head_in(f), points)))
        f = torch.relu(self.head_norm2(self.head_mid(f), points))
        return self.head_out(f), self._features(tokens, outputs, features)

    def features(self, batch: Batch, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token features only (what the analysis of a pre-training checkpoint reads)."""
        tokens, outputs, _ = self.encode(batch)
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
    """pytorch3d's squared-L2 Chamfer distance as the reference calls it, with
    ``x_lengths = y_lengths = n``: of predicted (M, P, C) only the first ``n`` points
    count, ``n`` the real points ``mask`` (M, K) marks in truth (M, K, C) (real points
    come first). Each direction is averaged over its ``n`` points, then over the sets."""
    n = mask.sum(-1)                                                    # (M,)
    first = torch.arange(predicted.shape[1], device=n.device)[None] < n[:, None]
    d = torch.cdist(predicted, truth).square()                          # (M, P, K)
    to_truth = d.masked_fill(~mask[:, None, :], float("inf")).amin(-1)   # (M, P)
    to_truth = (to_truth * first).sum(-1) / n
    to_predicted = d.masked_fill(~first[:, :, None], float("inf")).amin(-2)  # (M, K)
    to_predicted = (to_predicted * mask).sum(-1) / n
    return (to_truth + to_predicted).mean()


def focal_loss(logits: torch.Tensor, labels: torch.Tensor, gamma: float = 2.0,
               class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """The reference's ``SoftmaxFocalLoss`` over points with a label >= 0:
    ``-w_c (1 - p_t)^gamma log p_t``, summed and divided by the number of those points."""
    valid = labels >= 0
    logits, labels = logits[valid], labels[valid]
    log_p = torch.log_softmax(logits, dim=-1).gather(-1, labels[:, None])[:, 0]
    loss = -((1.0 - log_p.exp()) ** gamma) * log_p
    if class_weights is not None:
        loss = loss * class_weights.to(loss)[labels]
    return loss.mean()
