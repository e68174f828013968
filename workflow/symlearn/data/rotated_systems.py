"""Rotated copies of one metatomic ``System``, for any family whose model reads
metatomic systems (PET through metatrain, any exported ``AtomisticModel``).

The neighbour list is computed once per structure and rotated with it: pairs, cell
shifts and distances are invariant under a rigid O(3) transformation, only the pair
vectors turn. :class:`CopyPool` fills copies made once per structure in place, since a
``System`` holds its tensors by reference. :func:`differentiable_copies` builds copies
whose pair vectors are computed from the positions and the cell, so that autograd gives
forces (-dE/dx) and the virial (dE/d strain) of every copy at once.
"""

from __future__ import annotations

import torch


def transform(system, g: torch.Tensor):
    """Positions, cells and neighbour-list vectors of the copies ``g x``."""
    g = g.to(dtype=system.positions.dtype, device=system.positions.device)
    positions = torch.einsum("bij,nj->bni", g, system.positions)
    cells = torch.einsum("bij,nj->bni", g, system.cell)
    vectors = [torch.einsum("bij,pjk->bpik", g, system.get_neighbor_list(o).values)
               for o in system.known_neighbor_lists()]
    return positions, cells, vectors


def build_systems(system, positions, cells, vectors) -> list:
    """One System per copy on these tensors (held by reference), with the structure's
    neighbour list (same pairs and shifts) carrying ``vectors``."""
    from metatensor.torch import TensorBlock
    from metatomic.torch import System

    options = system.known_neighbor_lists()
    blocks = [system.get_neighbor_list(o) for o in options]
    copies = []
    for k in range(len(positions)):
        copy = System(system.types, positions[k], cells[k], system.pbc)
        for o, block, v in zip(options, blocks, vectors, strict=True):
            copy.add_neighbor_list(o, TensorBlock(v[k], block.samples, block.components,
                                                  block.properties))
        copies.append(copy)
    return copies


def rotated_systems(system, g: torch.Tensor) -> list:
    """New copies of ``system`` transformed by each ``g``."""
    return build_systems(system, *transform(system, g))


class CopyPool:
    """Copies of one structure made once and refilled for every batch of ``g``."""

    def __init__(self, system):
        self.system = system
        self._pool = None

    def __call__(self, g: torch.Tensor) -> list:
        positions, cells, vectors = transform(self.system, g)
        b = len(positions)
        if self._pool is None or len(self._pool[0]) < b:
            self._pool = (build_systems(self.system, positions, cells, vectors),
                          positions, cells, vectors)
            return self._pool[0]
        systems, pool_positions, pool_cells, pool_vectors = self._pool
        pool_positions[:b] = positions
        pool_cells[:b] = cells
        for target, v in zip(pool_vectors, vectors, strict=True):
            target[:b] = v
        return systems[:b]


def differentiable_copies(system, g: torch.Tensor, strain: bool = False):
    """Copies ``g x`` whose positions require gradients and whose pair vectors are
    ``x_j - x_i + S cell`` computed from them; with ``strain``, every copy is also
    deformed by ``1 + eps`` with ``eps = 0`` requiring gradients, so that
    ``dE/d eps`` is its virial. Returns (systems, positions, eps or None)."""
    g = g.to(dtype=system.positions.dtype, device=system.positions.device)
    n = len(g)
    positions = torch.einsum("bij,nj->bni", g, system.positions).detach()
    cells = torch.einsum("bij,nj->bni", g, system.cell).detach()
    positions.requires_grad_(True)
    eps = None
    if strain:
        eps = torch.zeros(n, 3, 3, dtype=g.dtype, device=g.device, requires_grad=True)
        deform = torch.eye(3, dtype=g.dtype, device=g.device) + eps
        positions_used = positions @ deform
        cells_used = cells @ deform
    else:
        positions_used, cells_used = positions, cells
    vectors = []
    for o in system.known_neighbor_lists():
        samples = system.get_neighbor_list(o).samples.values
        first, second = samples[:, 0], samples[:, 1]
        shifts = samples[:, 2:5].to(dtype=g.dtype)
        v = (positions_used[:, second] - positions_used[:, first]
             + torch.einsum("pa,bac->bpc", shifts, cells_used))
        vectors.append(v[..., None])
    return build_systems(system, positions_used, cells_used, vectors), positions, eps


def per_copy(name: str, block, n_copies: int) -> torch.Tensor:
    """A block's values as (copies, samples per copy, ...), after checking that every
    copy has the same samples in the same order."""
    values = block.values
    samples = block.samples.values
    if len(values) % n_copies:
        raise ValueError(f"{name}: {len(values)} samples for {n_copies} copies")
    count = len(values) // n_copies
    labels = samples.reshape(n_copies, count, -1)
    expected = torch.arange(n_copies, device=labels.device)[:, None]
    if not bool((labels[:, :, 0] == expected).all()) or not bool(
            (labels[:, :, 1:] == labels[:1, :, 1:]).all()):
        raise ValueError(f"{name}: the rotated copies do not share their sample labels")
    values = values.reshape(n_copies, count, *values.shape[1:])
    if values.shape[-1] == 1 and values.ndim > 2:
        values = values[..., 0]
    return values
