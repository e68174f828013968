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

import numpy as np
import torch

CENTRE_METHODS = ("cnms", "fps")
MEMBER_METHODS = ("fps", "nearest")
#: added to the squared distances of the upsampling weights, as the reference adds
#: ``torch.finfo(float32).eps`` (layers/feature_upsampling.py); a constant here, so that
#: the weights do not depend on the precision the analysis runs in
UPSAMPLING_EPS = float(np.finfo(np.float32).eps)


@dataclass
class Grouping:
    """The groups of one event (``G`` tokens of at most ``K`` points, ``N`` points, each
    point interpolated from ``U`` centres)."""

    centres: torch.Tensor       # (G,) point index of each group centre
    members: torch.Tensor       # (G, K) point indices, padded with the first member
    member_mask: torch.Tensor   # (G, K) bool, real members
    neighbours: torch.Tensor    # (N, U) nearest centres (token indices) of each point
    weights: torch.Tensor       # (N, U) 1/d^2 interpolation weights, summing to 1

    @property
    def n_tokens(self) -> int:
        return len(self.centres)


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # exact differences, not the |a|^2 + |b|^2 - 2 a.b shortcut: the grouping of a
    # rotated or reordered event must come out the same
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def _rounded(distance, unit: float):
    """Distances as integers of ``2**-20 unit``: equal distances compare equal in
    every orientation (tensors or arrays)."""
    if isinstance(distance, torch.Tensor):
        return torch.round(distance * (2.0**20 / unit)).to(torch.int64)
    return np.round(np.asarray(distance) * (2.0**20 / unit)).astype(np.int64)


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


def ball_query(points: np.ndarray, queries: np.ndarray, radius: float, unit: float,
               limit: int | None = None, tree=None) -> list[np.ndarray]:
    """For each query, the indices of the points within ``radius`` in increasing index
    order, the first ``limit`` of them: pytorch3d's ``ball_query``, which the reference
    uses, keeps the first K points it finds scanning the points in order. Distances are
    compared rounded (:func:`_rounded`), so the answer is the same in every
    orientation."""
    from scipy.spatial import cKDTree

    tree = cKDTree(points) if tree is None else tree
    found = tree.query_ball_point(queries, radius * (1 + 1e-9) + unit * 2.0**-18,
                                  return_sorted=True)
    bound = _rounded(radius, unit)
    out = []
    for query, index in zip(queries, found, strict=True):
        index = np.asarray(index, dtype=np.int64)
        d = np.sqrt(np.square(points[index] - query).sum(-1))
        index = index[_rounded(d, unit) <= bound]
        out.append(index if limit is None else index[:limit])
    return out


def cnms_centres(points: torch.Tensor, radius: float, overlap_factor: float,
                 neighbours: int, n_max: int) -> torch.Tensor:
    """PoLAr-MAE's centrality-based non-maximum suppression (C-NMS), as the reference
    kernel computes it (``extensions/cnms``: ``cnms`` and ``greedy_reduction_cpu``):
    every point is a candidate; each candidate's ball of radius
    ``2 radius overlap_factor`` is queried for at most ``neighbours`` candidates (the
    reference's K, ``num_init_groups``); candidates are visited by decreasing count
    (ties: lower index first), and each one still kept removes every other candidate
    of its ball. The kept candidates, in index order, are the centres, at most
    ``n_max`` (the reference's ``context_length``)."""
    xyz = points.detach().cpu().numpy()
    balls = ball_query(xyz, xyz, 2.0 * radius * overlap_factor, radius, neighbours)
    counts = np.array([len(b) for b in balls])
    retain = np.ones(len(xyz), dtype=bool)
    for i in np.argsort(-counts, kind="stable"):
        if retain[i]:
            ball = balls[i]
            retain[ball[ball != i]] = False
    return torch.as_tensor(np.flatnonzero(retain)[:n_max], dtype=torch.long)


def _farthest_in_ball(points: torch.Tensor, ball: np.ndarray, k: int,
                      unit: float) -> np.ndarray:
    """:func:`farthest_points` of ``k`` of the ball's points from its first, as the
    reference reduces a ball of up to ``group_upscale_points`` to ``group_max_points``
    (``select_topk_by_fps``: pytorch3d's sampler, which starts at index 0); a ball of at
    most ``k`` points is kept whole, in index order."""
    if len(ball) <= k:
        return ball
    return ball[farthest_points(points[torch.as_tensor(ball)], k, start=0, unit=unit).numpy()]


def group_event(points: torch.Tensor, *, centres: str = "cnms", n_init: int = 256,
                n_tokens: int = 64, group_size: int = 16, radius: float = 0.01,
                overlap_factor: float = 0.72, members: str = "fps",
                upscale_points: int = 256, upsample_neighbours: int = 5) -> Grouping:
    """Groups of one event's points ``(N, 3)`` (see :mod:`symlearn.polarmae.model` for
    the reference each choice follows).

    - centres: ``cnms`` (the reference, :func:`cnms_centres`; ``n_init`` is its K) or
      ``fps`` (``n_tokens`` farthest points, Point-MAE's choice);
    - members: ``fps`` (the reference: the first ``upscale_points`` points of the ball
      of ``radius``, in index order, reduced to ``group_size`` by farthest-point
      sampling) or ``nearest`` (the ``group_size`` nearest points of the ball); a group
      with fewer points is padded with its first member, as the reference pads;
    - upsampling: each point's ``upsample_neighbours`` nearest centres, weighted by
      ``1 / (d^2 + eps)`` and normalised (the reference's PointNet++ interpolation).
    """
    if centres not in CENTRE_METHODS:
        raise ValueError(f"unknown centre selection {centres!r}; known: {CENTRE_METHODS}")
    if members not in MEMBER_METHODS:
        raise ValueError(f"unknown group members {members!r}; known: {MEMBER_METHODS}")
    points = points.to(torch.float64)
    if centres == "fps":
        chosen = farthest_points(points, n_tokens, unit=radius)
    else:
        chosen = cnms_centres(points, radius, overlap_factor, n_init, n_tokens)
    xyz = points.numpy()
    balls = ball_query(xyz, xyz[chosen.numpy()], radius, radius,
                       upscale_points if members == "fps" else None)
    k = group_size
    member_index = np.empty((len(chosen), k), dtype=np.int64)
    mask = np.zeros((len(chosen), k), dtype=bool)
    for g, (centre, ball) in enumerate(zip(chosen.tolist(), balls, strict=True)):
        if members == "fps":
            picked = _farthest_in_ball(points, ball, k, radius)
        else:
            d = _rounded(np.sqrt(np.square(xyz[ball] - xyz[centre]).sum(-1)), radius)
            picked = ball[np.argsort(d, kind="stable")[:k]]
        member_index[g, :len(picked)] = picked
        member_index[g, len(picked):] = picked[0]
        mask[g, :len(picked)] = True
    to_centre = _distances(points, points[chosen])                      # (N, G)
    m = min(upsample_neighbours, len(chosen))
    neighbours = _nearest(to_centre, m, radius)
    inverse = 1.0 / (to_centre.gather(1, neighbours).square() + UPSAMPLING_EPS)
    weights = inverse / inverse.sum(-1, keepdim=True)
    if m < upsample_neighbours:  # fewer tokens than neighbours: pad with zero weight
        pad = upsample_neighbours - m
        neighbours = torch.cat([neighbours, neighbours[:, :1].expand(-1, pad)], dim=1)
        weights = torch.cat([weights, torch.zeros(len(points), pad, dtype=weights.dtype)], 1)
    return Grouping(chosen, torch.as_tensor(member_index), torch.as_tensor(mask),
                    neighbours, weights)


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
    neighbours: torch.Tensor    # (B, N, U)
    weights: torch.Tensor       # (B, N, U)
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
    u = max(x.neighbours.shape[1] for x in groupings)
    dtype = points[0].dtype
    out = Batch(
        points=torch.zeros(b, n, 3, dtype=dtype), energy=torch.zeros(b, n, dtype=dtype),
        point_mask=torch.zeros(b, n, dtype=torch.bool),
        centres=torch.zeros(b, g, dtype=torch.long),
        token_mask=torch.zeros(b, g, dtype=torch.bool),
        members=torch.zeros(b, g, k, dtype=torch.long),
        member_mask=torch.zeros(b, g, k, dtype=torch.bool),
        neighbours=torch.zeros(b, n, u, dtype=torch.long),
        weights=torch.zeros(b, n, u, dtype=dtype),
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
        out.neighbours[i, :m, :x.neighbours.shape[1]] = x.neighbours
        out.weights[i, :m, :x.weights.shape[1]] = x.weights.to(dtype)
        if labels is not None:
            out.labels[i, :m] = labels[i]
    return out
