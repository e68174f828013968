"""Post-hoc purification of a trained PET's readouts, and what it does to accuracy and A.

Three stages of the same checkpoint, each analysed on the structures and O(3) grid of
the symmetry analysis (docs/symmetry.md, "Purification"):

- ``original``: the model as trained;
- ``bias_removed``: every readout bias (the node and edge last layers of every head and
  GNN layer) replaced by its invariant part, the group average
  ``sum_g w_g rho(g)^-1 b`` on the quadrature. A bias is a constant output, the same in
  every orientation, so only its invariant part is equivariant: nothing changes for the
  energy, the force's and any lambda > 0 or pseudoscalar bias goes, the stress keeps
  its isotropic part. (An edge readout's bias is multiplied by the sum of the cutoff
  factors, an invariant, so the same rule holds.)
- ``projected``: the bias-removed model's outputs projected onto their irreps with the
  quadrature, ``Pi(x) = sum_g w_g rho(g)^-1 f(g x)``. Its accuracy is that of the
  symmetrized prediction; its own equivariance error, not zero for a finite grid, is
  estimated on ``n_rotations`` random O(3) elements ``h``: ``rho(h)^-1 Pi(h x)`` is the
  symmetrized prediction on the grid translated by ``h`` (``GridContext.shifted``), and
  its sample variance over ``h`` (n - 1 normalisation) is the estimate.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..symmetry import GridContext, OutputKind
from .pet import PETAdapter, setup_checkpoint, table_name, target_kind
from .tables import PURIFICATION_COLUMNS, errors_table, input_rows

STAGES = ("original", "bias_removed", "projected")


def invariant_part(bias: torch.Tensor, kind: OutputKind, context: GridContext) -> torch.Tensor:
    """The group average of a constant output ``bias`` (flattened components x
    properties, PET's layout) over the grid: its projection onto (0, +1)."""
    components = kind.components or ()
    n_components = int(np.prod(components)) if components else 1
    if bias.numel() % n_components:
        raise ValueError(f"a bias of {bias.numel()} values is not a whole number of "
                         f"{kind.name} outputs")
    values = bias.detach().to(context.dtype).reshape(*components, -1).movedim(-1, 0)
    copies = values[None].expand(len(context.matrices), *values.shape)
    averaged = torch.einsum("g,g...->...", context.weights,
                            kind.back_transform(copies, context.matrices))
    return averaged.movedim(0, -1).reshape(-1).to(bias)


def remove_covariant_biases(model: torch.nn.Module, context: GridContext) -> dict[str, float]:
    """Replace, in place, every readout bias of ``model`` by its invariant part; return
    the norm removed per target."""
    backend = model.backend
    removed: dict[str, float] = {}
    for target in model.target_names:
        kind = target_kind(target)
        if kind is None:
            continue
        for layers in (backend.node_last_layers[target], backend.edge_last_layers[target]):
            for per_key in layers:
                for linear in per_key.values():
                    if linear.bias is None:
                        continue
                    with torch.no_grad():
                        kept = invariant_part(linear.bias, kind, context)
                        removed[target] = removed.get(target, 0.0) + float(
                            (linear.bias - kept).square().sum())
                        linear.bias.copy_(kept)
    return {target: value ** 0.5 for target, value in removed.items()}


def _rows(analysis, info: Mapping) -> list[dict]:
    return [row for row in input_rows(analysis, info) if row["table"] == "errors"]


def _projected_rows(adapter: PETAdapter, structure, context: GridContext,
                    rotations: torch.Tensor, batch_atoms: int,
                    purified_rows: list[dict]) -> list[dict]:
    """The projected model's rows, from the purified model's rows of this structure:
    the accuracy of ``Pi`` (its symmetrized error on the grid) and the equivariance
    error of ``rho(h)^-1 Pi(h x)`` over the random ``h``."""
    means: dict[tuple, list[torch.Tensor]] = {}
    for h in rotations:
        analysis = adapter.analyse(structure, context.shifted(h), layers=[],
                                   batch_atoms=batch_atoms, exact_outputs=False)
        for name, per_irrep in analysis.outputs.items():
            for irrep, stats in per_irrep.items():
                means.setdefault((name, irrep), []).append(stats.mean)
    rows = []
    for row in purified_rows:
        stacked = torch.stack(means[(row["name"], (row["o3_lambda"], row["o3_sigma"]))])
        variance = stacked.var(dim=0, correction=1).mean(-1)  # per sample
        rows.append(dict(row, equivariance_mse=float(variance.mean()),
                         accuracy_mse=row["symmetrized_mse"]))
    return rows


def _stage_table(rows: list[dict], stage: str, estimate: str) -> pd.DataFrame:
    rows = pd.DataFrame(rows)
    table = errors_table(rows.assign(name=rows["name"].map(table_name)))
    table.insert(3, "stage", stage)
    return table.assign(equivariance_estimate=estimate)[PURIFICATION_COLUMNS]


def purify_checkpoint(checkpoint: str, structures: str, out: str, settings: Mapping,
                      n_rotations: int, seed: int, device: str = "cpu",
                      threads: int | None = None) -> pd.DataFrame:
    """Accuracy and A of the three stages of one checkpoint; writes the table to
    ``out`` (atomically) and returns it."""
    import time

    from ..data.extxyz import frame_labels
    from ..io import atomic_path
    from ..train.polarmae import random_rotations

    start = time.perf_counter()
    setup = setup_checkpoint(checkpoint, structures, settings, device, threads, layers=[])
    context = setup.context
    original = setup.adapter
    purified = PETAdapter(copy.deepcopy(original.model), layers=[])
    removed = remove_covariant_biases(purified.model, context)
    rng = np.random.default_rng(seed)
    rotations = torch.as_tensor(random_rotations(n_rotations, "o3", rng))
    batch_atoms = int(settings["batch_atoms"])
    exact = setup.exact_outputs
    print(setup.describe(checkpoint, structures, settings), flush=True)
    print("readout bias removed (norm per target): "
          + ", ".join(f"{k} {v:.3g}" for k, v in removed.items()), flush=True)

    rows = {stage: [] for stage in STAGES}
    for index in setup.selected:
        atoms = setup.frames[index]
        labels = frame_labels(atoms, structures, index)
        info = {"structure": index}
        # one system, neighbour list and references for both models (same inputs)
        structure = original.structure(index, atoms, labels)
        new_rows = {}
        for stage, adapter in (("original", original), ("bias_removed", purified)):
            analysis = adapter.analyse(structure, context, layers=[],
                                       batch_atoms=batch_atoms, exact_outputs=exact)
            new_rows[stage] = _rows(analysis, info)
            rows[stage] += new_rows[stage]
        rows["projected"] += _projected_rows(purified, structure, context, rotations,
                                             batch_atoms, new_rows["bias_removed"])

    table = pd.concat([
        _stage_table(rows["original"], "original", "quadrature"),
        _stage_table(rows["bias_removed"], "bias_removed", "quadrature"),
        _stage_table(rows["projected"], "projected", "random_rotations"),
    ], ignore_index=True)
    with atomic_path(Path(out)) as tmp:
        table.to_csv(tmp, index=False)
    print(f"done in {time.perf_counter() - start:.1f} s", flush=True)
    return table
