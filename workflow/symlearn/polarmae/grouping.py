"""Point-cloud tokenisation geometry of PoLAr-MAE: group centres, ball-query groups and
the interpolation weights that carry token features back to the points.

Everything here depends on the points only through their distances, so it is
unchanged by any rotation or inversion of the event. Voxelised events are full of
exactly equal distances (points on a lattice), which round-off would order differently
in each orientation: distances are compared after rounding to ``2**-20`` of the group
radius, and ties go to the lower point index, so the choice is the same in every
orientation (it may depend on the order of the points, as in the original). That
is what lets training cache it per event under augmentation and lets the analysis
compute it once per event and reuse it for every rotated copy, with token ``k`` of every
copy the same group of points (the samples B compares across the grid).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

CENTRE_METHODS = ("fps", "centrality")


@dataclass
class Grouping:
    """The groups of one event (``G`` tokens of at most ``K`` points, ``N`` points)."""

    centres: torch.Tensor       # (G,) point index of each group centre
    members: torch.Tensor       # (G, K) point indices, padded with the centre
    member_mask: torch.Tensor   # (G, K) bool, real members
    neighbours: torch.Tensor    # (N, 3) nearest centres (token indices) of each point
    weights: torch.Tensor       # (N, 3) inverse-distance interpolation weights

    @property
    def n_tokens(self) -> int:
        return len(self.centres)


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # exact differences, not the |a|^2 + |b|^2 - 2 a.b shortcut: the grouping of a
    # rotated or reordered event must come out the same
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def _rounded(distance: torch.Tensor, unit: float) -> torch.Tensor:
    """Distances as integers of ``2**-20 unit``: equal distances compare equal in
    every orientation."""
    return torch.round(distance * (2.0**20 / unit)).to(torch.int64)


def _nearest(distance: torch.Tensor, k: int, unit: float) -> torch.Tensor:
    """Indices of the ``k`` smallest entries of each row, ties to the lower index."""
    return torch.argsort(_rounded(distance, unit), dim=-1, stable=True)[..., :k]


def farthest_points(points: torch.Tensor, n: int, start: int | None = None,
                    unit: float = 1.0) -> torch.Tensor:
    """Indices of ``n`` points chosen by farthest-point sampling, from ``start`` or
    (default) from the point farthest from the centroid: a choice that depends on
    neither the orientation of the event nor the order of its points."""
    n = min(n, len(points))
    if start is None:
        start = int(torch.argmax(_rounded((points - points.mean(0)).norm(dim=-1), unit)))
    chosen = torch.empty(n, dtype=torch.long)
    distance = torch.full((len(points),), torch.iinfo(torch.int64).max, dtype=torch.int64)
    index = start
    for k in range(n):
        chosen[k] = index
        new = _rounded((points - points[index]).square().sum(-1).sqrt(), unit)
        distance = torch.minimum(distance, new)
        index = int(torch.argmax(distance))  # the first of equal maxima
    return chosen


def centrality_centres(points: torch.Tensor, candidates: torch.Tensor, radius: float,
                       overlap_factor: float, n_max: int) -> torch.Tensor:
    """PoLAr-MAE's centrality-based selection (C-NMS), in a plain form: candidates are
    ranked by how many points their ball holds (the most central first) and kept
    greedily unless closer than ``2 radius (1 - overlap_factor)`` to a kept centre,
    so that kept balls overlap by at most about ``overlap_factor``; at most ``n_max``."""
    centres = points[candidates]
    inside = _rounded(_distances(centres, points), radius) <= _rounded(torch.tensor(radius),
                                                                       radius)
    order = torch.argsort(-inside.sum(-1), stable=True)
    separation = _rounded(torch.tensor(2.0 * radius * (1.0 - overlap_factor)), radius)
    between = _rounded(_distances(centres, centres), radius)
    kept: list[int] = []
    for k in order.tolist():
        if all(between[k, j] >= separation for j in kept):
            kept.append(k)
            if len(kept) == n_max:
                break
    return candidates[torch.tensor(sorted(kept), dtype=torch.long)]


def group_event(points: torch.Tensor, *, centres: str = "fps", n_init: int = 256,
                n_tokens: int = 64, group_size: int = 16, radius: float = 0.01,
                overlap_factor: float = 0.7) -> Grouping:
    """Groups of one event's points ``(N, 3)``: centres (farthest points, or the
    centrality selection among ``n_init`` farthest points), then for each centre its
    ``group_size`` nearest points within ``radius`` (the centre is always a member)."""
    if centres not in CENTRE_METHODS:
        raise ValueError(f"unknown centre selection {centres!r}; known: {CENTRE_METHODS}")
    points = points.to(torch.float64)
    if centres == "fps":
        chosen = farthest_points(points, n_tokens, unit=radius)
    else:
        chosen = centrality_centres(points, farthest_points(points, n_init, unit=radius),
                                    radius, overlap_factor, n_tokens)
    distance = _distances(points[chosen], points)                      # (G, N)
    k = min(group_size, len(points))
    members = _nearest(distance, k, radius)                             # nearest first
    mask = _rounded(distance.gather(1, members), radius) <= _rounded(torch.tensor(radius),
                                                                     radius)
    mask[:, 0] = True  # the centre itself (distance 0)
    members = torch.where(mask, members, chosen[:, None])
    to_centre = distance.T                                              # (N, G)
    m = min(3, len(chosen))
    neighbours = _nearest(to_centre, m, radius)
    d = to_centre.gather(1, neighbours)
    inverse = 1.0 / (d + 1e-8)
    weights = inverse / inverse.sum(-1, keepdim=True)
    if m < 3:  # fewer than three tokens: pad with zero weight
        pad = 3 - m
        neighbours = torch.cat([neighbours, neighbours[:, :1].expand(-1, pad)], dim=1)
        weights = torch.cat([weights, torch.zeros(len(points), pad, dtype=weights.dtype)], 1)
    return Grouping(chosen, members, mask, neighbours, weights)


@dataclass
class Batch:
    """Events padded to one tensor each: ``B`` events, ``N`` points, ``G`` tokens."""

    points: torch.Tensor        # (B, N, 3)
    energy: torch.Tensor        # (B, N)
    point_mask: torch.Tensor    # (B, N) bool
    centres: torch.Tensor       # (B, G)
    token_mask: torch.Tensor    # (B, G) bool
    members: torch.Tensor       # (B, G, K)
    member_mask: torch.Tensor   # (B, G, K) bool
    neighbours: torch.Tensor    # (B, N, 3)
    weights: torch.Tensor       # (B, N, 3)
    labels: torch.Tensor | None = None  # (B, N), -1 on padding

    def to(self, device=None, dtype=None) -> Batch:
        out = {}
        for name, value in vars(self).items():
            if value is None:
                out[name] = None
            elif value.is_floating_point():
                out[name] = value.to(device=device, dtype=dtype)
            else:
                out[name] = value.to(device=device)
        return Batch(**out)

    def copies(self, matrices: torch.Tensor) -> Batch:
        """Copies of a one-event batch, the event transformed by each matrix (C, 3, 3);
        everything but the points is shared (expanded, not copied)."""
        if len(self.points) != 1:
            raise ValueError("copies() takes a batch of one event")
        n = len(matrices)
        fields = {name: None if value is None else value.expand(n, *value.shape[1:])
                  for name, value in vars(self).items()}
        fields["points"] = torch.einsum("bij,nj->bni", matrices.to(self.points),
                                        self.points[0])
        return Batch(**fields)

    def rotated(self, matrices: torch.Tensor) -> Batch:
        """The batch with each event's points transformed by its matrix (B, 3, 3)."""
        points = torch.einsum("bij,bnj->bni", matrices.to(self.points), self.points)
        return Batch(**{**vars(self), "points": points})


def collate(points: Sequence[torch.Tensor], energies: Sequence[torch.Tensor],
            groupings: Sequence[Grouping],
            labels: Sequence[torch.Tensor] | None = None) -> Batch:
    """Pad events (each with its grouping) into one :class:`Batch`."""
    b = len(points)
    n = max(len(p) for p in points)
    g = max(x.n_tokens for x in groupings)
    k = max(x.members.shape[1] for x in groupings)
    dtype = points[0].dtype
    out = Batch(
        points=torch.zeros(b, n, 3, dtype=dtype), energy=torch.zeros(b, n, dtype=dtype),
        point_mask=torch.zeros(b, n, dtype=torch.bool),
        centres=torch.zeros(b, g, dtype=torch.long),
        token_mask=torch.zeros(b, g, dtype=torch.bool),
        members=torch.zeros(b, g, k, dtype=torch.long),
        member_mask=torch.zeros(b, g, k, dtype=torch.bool),
        neighbours=torch.zeros(b, n, 3, dtype=torch.long),
        weights=torch.zeros(b, n, 3, dtype=dtype),
        labels=None if labels is None else torch.full((b, n), -1, dtype=torch.long))
    for i, (p, e, x) in enumerate(zip(points, energies, groupings, strict=True)):
        m, t, kk = len(p), x.n_tokens, x.members.shape[1]
        out.points[i, :m] = p
        out.energy[i, :m] = e
        out.point_mask[i, :m] = True
        out.centres[i, :t] = x.centres
        out.token_mask[i, :t] = True
        out.members[i, :t, :kk] = x.members
        out.member_mask[i, :t, :kk] = x.member_mask
        out.neighbours[i, :m] = x.neighbours
        out.weights[i, :m] = x.weights.to(dtype)
        if labels is not None:
            out.labels[i, :m] = labels[i]
    return out
