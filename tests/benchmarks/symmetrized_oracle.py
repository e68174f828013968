"""What the benchmarks of the analysis share: their common arguments, and the comparison
of our A and B with metatomic's ``SymmetrizedModel`` on the same grid."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import torch


def add_grid_arguments(parser: argparse.ArgumentParser, checkpoint: Path,
                       structures: Path) -> None:
    """The checkpoint, structures, grid and threads every analysis benchmark takes."""
    parser.add_argument("--checkpoint", type=Path, default=checkpoint)
    parser.add_argument("--structures", type=Path, default=structures)
    parser.add_argument("--n-structures", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lambda-max", type=int, default=4)
    parser.add_argument("--degree", type=int, default=8)
    parser.add_argument("--batch-atoms", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)


def max_relative_difference(ours, theirs, n_atoms: int,
                            name: Callable[[str], str] = str) -> float:
    """Largest difference between our A and B (an ``InputAnalysis``) and
    SymmetrizedModel's (``o3::variance::`` and ``o3::character_projection::`` outputs,
    ``name`` giving the model's name of each of ours), relative to the largest value of
    each quantity. Our energies are per atom."""
    worst = 0.0

    def compare(a, b, what, scale=None):
        nonlocal worst
        a, b = a.reshape(-1), b.reshape(-1).to(a)
        scale = float(b.abs().max()) if scale is None else scale
        if scale > 0:
            difference = float((a - b).abs().max()) / scale
            if difference > 1e-6:
                print(f"  {what}: relative difference {difference:.1e}")
            worst = max(worst, difference)

    for target, per_irrep in ours.outputs.items():
        # relative to the target's largest variance: a part that is zero by
        # construction (the antisymmetric part of PET's stress) holds only round-off
        tensor = theirs[f"o3::variance::{name(target)}"]
        pairs = []
        for (lam, sigma), stats in per_irrep.items():
            block = tensor.block() if len(tensor) == 1 else tensor.block(
                {"o3_lambda": lam, "o3_sigma": sigma})
            pairs.append(((lam, sigma),
                          stats.variance * (n_atoms**2 if target == "energy" else 1),
                          block.values))
        scale = max(float(b.abs().max()) for _, _, b in pairs)
        for irrep, a, b in pairs:
            compare(a, b, f"A {target} {irrep}", scale)
    for layer, spectrum in ours.spectra.items():
        # totals per (lambda, sigma), what the tables hold: SymmetrizedModel splits the
        # standard outputs (forces, stress) into irreps first, an orthogonal change of
        # channels that leaves the totals unchanged
        tensor = theirs[f"o3::character_projection::{name(layer)}"]
        totals = torch.zeros(spectrum.lambda_max + 1, 2, dtype=torch.float64)
        names = list(tensor.keys.names)
        for key, block in tensor.items():
            lam = int(key.values[names.index("chi_lambda")])
            sigma = int(key.values[names.index("chi_sigma")])
            totals[lam, 0 if sigma == 1 else 1] += float(block.values.sum())
        mine = spectrum.projections.sum(dim=(2, 3)) * (n_atoms**2 if layer == "energy" else 1)
        compare(mine, totals, f"B {layer}")
    return worst
