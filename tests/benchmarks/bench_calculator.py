"""Benchmark of the calculator family against the metatomic family, side by side in one
run, at one grid degree (8 by default: lambda_max 4, the default analysis).

It diagnoses the same structures three ways and prints rotated copies per second (for
a calculator one copy is one call) and their ratios:

- ASE's EMT through the calculator door (one call per copy; a cheap potential, so the
  door's own cost per call shows);
- a PET through the metatomic door (the copies of a structure packed into batches of
  ``batch_atoms`` atoms, conservative forces and the virial by autograd);
- the same PET through the calculator door, wrapped by metatomic's own ASE calculator
  (``metatomic_ase.MetatomicCalculator``): the cost of one call per copy for a model
  that could be batched.

The quadrature check is off (the same grid for all three) and so is B (``layers: []``;
the calculator door has no features), so the three measure the same A. It prints numbers; nothing
here is a pass/fail test. Without ``--checkpoint`` it exports the default run's
``pet-aug`` checkpoint (its last epoch) in float64.

    python tests/benchmarks/bench_calculator.py                    # after `snakemake`
    python tests/benchmarks/bench_calculator.py --checkpoint X.ckpt --structures Y.xyz
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from bench_diagnose import DEFAULT_CHECKPOINT, DEFAULT_STRUCTURES, export_float64

from symlearn import diagnose


def _copies_per_second(model, structures: Path, settings: dict) -> tuple[float, int, str]:
    start = time.perf_counter()
    result = diagnose(model, structures, **settings)
    seconds = time.perf_counter() - start
    copies = len(result.structures.drop_duplicates(["structure"])) * _n_rotations(result)
    return copies / seconds, copies, result.grid


def _n_rotations(result) -> int:
    from symlearn.symmetry import o3_quadrature

    degree = int(result.errors["grid_degree"].iloc[0])
    rule = result.errors["grid_rule"].iloc[0]
    return o3_quadrature(degree, rule=rule).n_rotations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                        help="a PET checkpoint (default: the default run's pet-aug, last "
                             "epoch)")
    parser.add_argument("--structures", type=Path, default=DEFAULT_STRUCTURES)
    parser.add_argument("--n-structures", type=int, default=3)
    parser.add_argument("--grid-degree", type=int, default=8)
    parser.add_argument("--lambda-max", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from ase.calculators.emt import EMT
    from metatomic_ase import MetatomicCalculator

    torch.set_num_threads(args.threads)
    settings = {"n_structures": args.n_structures, "grid_degree": args.grid_degree,
                "lambda_max": args.lambda_max, "seed": 0, "threads": args.threads,
                "quadrature_check": {"n_inputs": 0, "delta": 4, "tolerance": 0.05}}
    with tempfile.TemporaryDirectory() as folder:
        model = str(export_float64(args.checkpoint, folder))
        emt, copies, grid = _copies_per_second(EMT(), args.structures, settings)
        pet_file, _, _ = _copies_per_second(model, args.structures,
                                            {**settings, "layers": []})
        pet_ase, _, _ = _copies_per_second(MetatomicCalculator(model, device="cpu"),
                                           args.structures, settings)
    print(f"{args.n_structures} structures of {args.structures}, {copies} copies each "
          f"way, on {grid}; {args.threads} thread(s)")
    print(f"  EMT, calculator door:               {emt:8.1f} copies (calls) / s")
    print(f"  PET, metatomic door (batched):      {pet_file:8.1f} copies / s")
    print(f"  PET, calculator door (one a call):  {pet_ase:8.1f} copies (calls) / s")
    print(f"  ratio EMT calculator / PET metatomic:        {emt / pet_file:6.2f}")
    print(f"  ratio PET metatomic / PET calculator door:   {pet_file / pet_ase:6.2f}")


if __name__ == "__main__":
    main()
