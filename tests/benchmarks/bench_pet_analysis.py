"""Benchmark of the PET symmetry analysis, measured side by side in one run.

On one checkpoint, one degree and one set of structures it times

- ours on the grid ``analysis.quadrature: auto`` takes (the smallest rule exact to the
  degree: Gräf's SO(3) rule at degree 8, 480 copies) and on the product Lebedev grid
  (684 copies): ``PETAdapter.analyse``, A for the targets and B for every layer;
- bare: the forward passes alone on the Lebedev grid (the same rotated copies, batches
  and requested outputs, inputs built beforehand): what SymmetrizedModel's grid costs
  at the least;
- metatomic's ``SymmetrizedModel`` computing the same A and B on its (Lebedev) grid, at
  its default batch size and at the batch sizes ours uses,

checks that ours and SymmetrizedModel give the same numbers on the same grid, and how
far ours on the smaller grid is from them (a quadrature difference: the trained model's
responses are not band-limited), and measures the peak memory of ours on two grids of
very different sizes (it must not grow with the number of rotations). It prints
ratios; nothing here is a pass/fail test.

    python tests/benchmarks/bench_pet_analysis.py            # after `snakemake`
    python tests/benchmarks/bench_pet_analysis.py --checkpoint X.ckpt --structures Y.xyz
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

from symmetrized_oracle import add_grid_arguments, max_relative_difference  # noqa: E402

from symlearn.data.extxyz import frame_labels, read_frames  # noqa: E402
from symlearn.pet.analyse import (  # noqa: E402
    PETAdapter,
    load_pet,
    request_name,
    sample_kind,
    select_structures,
)
from symlearn.symmetry import GridContext, o3_quadrature  # noqa: E402

DEFAULT_CHECKPOINT = ROOT / "results/train/pet/pet-aug/seed_0/checkpoints/epoch_30.ckpt"
DEFAULT_STRUCTURES = ROOT / "results/data/atomistic/synthetic/pet/test.xyz"


def _setup(args):
    torch.set_num_threads(args.threads)
    model = load_pet(args.checkpoint, dtype=torch.float64)
    adapter = PETAdapter(model)
    frames = read_frames(args.structures)
    chosen = select_structures(len(frames), args.n_structures, args.seed)
    structures = [adapter.structure(i, frames[i], frame_labels(frames[i], args.structures, i))
                  for i in chosen]
    return model, adapter, structures


def _time(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def _oracle_requests(adapter, structure):
    from metatomic.torch import ModelOutput

    targets, layers = adapter.names(structure)
    requests = {f"o3::variance::{t}": ModelOutput(sample_kind=sample_kind(t))
                for t in targets}
    for layer in layers:
        requests[f"o3::character_projection::{request_name(layer)}"] = ModelOutput(
            sample_kind=sample_kind(layer))
    return requests


def _peak_memory(args, degree: int) -> dict:
    """Peak resident memory of ours above the memory after setup, in a fresh process."""
    command = [sys.executable, __file__, "--memory-child", str(degree),
               "--checkpoint", str(args.checkpoint), "--structures", str(args.structures),
               "--n-structures", "1", "--seed", str(args.seed), "--lambda-max",
               str(args.lambda_max), "--batch-atoms", str(args.batch_atoms),
               "--threads", str(args.threads)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _memory_child(args) -> None:
    _, adapter, structures = _setup(args)
    structure = max(structures, key=lambda s: s.n_atoms)
    context = GridContext(o3_quadrature(args.memory_child, "lebedev"), args.lambda_max)
    with open("/proc/self/status") as handle:
        baseline = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS"))
    adapter.analyse(structure, context, batch_atoms=args.batch_atoms)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"rotations": context.quadrature.n_rotations,
                      "peak_above_setup_mib": (peak - baseline) / 1024,
                      "peak_mib": peak / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_grid_arguments(parser, DEFAULT_CHECKPOINT, DEFAULT_STRUCTURES)
    parser.add_argument("--memory-degrees", type=int, nargs=2, default=[8, 16])
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    for path in (args.checkpoint, args.structures):
        if not path.exists():
            sys.exit(f"{path} does not exist: run `snakemake` first, or pass --checkpoint "
                     "and --structures")
    if args.memory_child is not None:
        _memory_child(args)
        return

    from metatomic.torch.o3 import SymmetrizedModel

    model, adapter, structures = _setup(args)
    context = GridContext(o3_quadrature(args.degree), args.lambda_max)
    lebedev = GridContext(o3_quadrature(args.degree, "lebedev"), args.lambda_max)
    n_rot, n_lebedev = context.quadrature.n_rotations, lebedev.quadrature.n_rotations
    print(f"checkpoint {args.checkpoint}\n{len(structures)} structures "
          f"({sum(s.n_atoms for s in structures)} atoms), degree {args.degree}, "
          f"lambda_max {args.lambda_max}, {len(adapter.layers)} layers, float64, "
          f"{args.threads} threads, batch_atoms {args.batch_atoms}\n"
          f"copies per input: auto {n_rot} ({context.quadrature.label}); lebedev "
          f"{n_lebedev} ({lebedev.quadrature.label})")

    def ours(grid=context):
        return [adapter.analyse(s, grid, batch_atoms=args.batch_atoms) for s in structures]

    prepared = []
    for s in structures:
        targets, layers = adapter.names(s)
        requests = adapter.requests(list(dict.fromkeys([*targets, *layers])))
        size = adapter.copies_per_batch(s, args.batch_atoms, lebedev)
        prepared.append((requests, [adapter.rotated_systems(s, lebedev.matrices[index])
                                    for index in lebedev.batches(size)]))

    def bare():
        with torch.inference_mode():
            for requests, batches in prepared:
                for systems in batches:
                    model(systems, requests)

    def oracle(batch_size=None):
        results = []
        for s in structures:
            size = batch_size or adapter.copies_per_batch(s, args.batch_atoms, lebedev)
            wrapper = SymmetrizedModel(model, max_angular_momentum_target=2,
                                       max_angular_momentum_character=args.lambda_max,
                                       max_angular_momentum_grid=args.degree,
                                       batch_size=size)
            with torch.inference_mode():
                results.append(wrapper([s.system], _oracle_requests(adapter, s), None))
        return results

    ours()  # warm-up
    t_ours = _time(ours, args.repeats)
    t_lebedev = _time(lambda: ours(lebedev), args.repeats)
    t_bare = _time(bare, args.repeats)
    t_oracle = _time(lambda: oracle(32), 1)
    t_oracle_same = _time(oracle, 1)
    theirs = oracle()
    same_grid = max(max_relative_difference(a, b, s.n_atoms, request_name)
                    for a, b, s in zip(ours(lebedev), theirs, structures, strict=True))
    with contextlib.redirect_stdout(io.StringIO()):  # every quantity differs: one line
        other_grid = max(max_relative_difference(a, b, s.n_atoms, request_name)
                         for a, b, s in zip(ours(), theirs, structures, strict=True))

    print(f"\n{'':<48}{'copies':>7}{'seconds':>9}{'ms/copy':>9}")
    rows = [("ours, auto grid (A + B, all layers)", n_rot, t_ours),
            ("ours, Lebedev grid", n_lebedev, t_lebedev),
            ("bare forward passes, Lebedev grid", n_lebedev, t_bare),
            ("SymmetrizedModel, batch_size=32 (default)", n_lebedev, t_oracle),
            ("SymmetrizedModel, our batch sizes", n_lebedev, t_oracle_same)]
    for name, copies, seconds in rows:
        print(f"{name:<48}{copies:>7}{seconds:>9.2f}"
              f"{1000 * seconds / (copies * len(structures)):>9.3f}")
    print(f"\nours auto / ours lebedev:                 {t_ours / t_lebedev:5.2f}x  "
          "(target <= 0.75)")
    print(f"SymmetrizedModel (default batch) / ours:  {t_oracle / t_ours:5.2f}x  "
          "(target >= 2.5)")
    print(f"SymmetrizedModel (our batches) / ours:    {t_oracle_same / t_ours:5.2f}x")
    print(f"ours / bare forward passes (Lebedev):     {t_ours / t_bare:5.2f}x  "
          "(target <= 0.75)")
    print(f"ours lebedev / bare forward passes:       {t_lebedev / t_bare:5.2f}x  "
          "(the accumulation's share)")
    print(f"largest relative difference ours vs SymmetrizedModel, same grid: {same_grid:.1e}")
    print(f"largest relative difference ours (auto) vs SymmetrizedModel (Lebedev): "
          f"{other_grid:.1e} (a quadrature difference)")

    small, large = (_peak_memory(args, d) for d in args.memory_degrees)
    print(f"\npeak memory above setup, largest structure: {small['peak_above_setup_mib']:.0f}"
          f" MiB with {small['rotations']} rotations, {large['peak_above_setup_mib']:.0f} MiB"
          f" with {large['rotations']} rotations: ratio "
          f"{large['peak_above_setup_mib'] / small['peak_above_setup_mib']:.2f} for "
          f"{large['rotations'] / small['rotations']:.1f}x the rotations (target: ~1)")


if __name__ == "__main__":
    main()
