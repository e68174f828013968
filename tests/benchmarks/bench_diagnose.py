"""Benchmark of the metatomic family (``symlearn diagnose``), side by side in one run.

On one exported model, one grid and one set of structures it times

- ours: ``MetatomicAnalysis.analyse_structure`` (A for energy, forces and stress, B for
  every feature output), with the model's direct (non-conservative) forces;
- bare: the same batched calls of the model alone (the same rotated copies, batches and
  requested outputs, inputs built beforehand);
- metatomic's ``SymmetrizedModel`` computing the same A and B, at its default batch
  size and at ours;
- ours with conservative forces and the virial (``forces: conservative``) against the
  bare forward-and-backward passes that give them (copies whose pair vectors are
  computed from positions and strain, one model call for the energy and the feature
  outputs, one backward pass per batch);

and checks that ours and SymmetrizedModel give the same numbers. It prints ratios;
nothing here is a pass/fail test. Without ``--model`` it exports the default run's
``pet-aug`` checkpoint in float64.

    python tests/benchmarks/bench_diagnose.py                # after `snakemake`
    python tests/benchmarks/bench_diagnose.py --model X.pt --structures Y.xyz
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

from symmetrized_oracle import add_grid_arguments, max_relative_difference  # noqa: E402

from symlearn.analyse.driver import select_inputs  # noqa: E402
from symlearn.data.extxyz import read_frames  # noqa: E402
from symlearn.data.rotated_systems import differentiable_copies, rotated_systems  # noqa: E402
from symlearn.metatomic.analyse import MetatomicAnalysis  # noqa: E402
from symlearn.metatomic.model import load_model  # noqa: E402
from symlearn.symmetry import GridContext, o3_quadrature  # noqa: E402
from symlearn.symmetry.degrees import resolves_variances  # noqa: E402

DEFAULT_CHECKPOINT = ROOT / "results/train/pet/pet-aug/seed_0/checkpoints/epoch_30.ckpt"
DEFAULT_STRUCTURES = ROOT / "results/data/atomistic/synthetic/pet/test.xyz"


def _time(function, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def export_float64(checkpoint: Path, folder: str) -> Path:
    """The PET of ``checkpoint`` exported by metatrain (what ``mtt export`` runs), in
    float64 (bench_calculator.py uses it too)."""
    from symlearn.pet.analyse import load_pet

    path = Path(folder) / "model.pt"
    load_pet(checkpoint, dtype=torch.float64).export().save(str(path))
    return path


def _adapter(args, model_path, forces):
    model = load_model(model_path, forces, layers=None, dtype=torch.float64)
    frames = read_frames(args.structures)
    chosen = select_inputs(len(frames), args.n_structures, args.seed)
    adapter = MetatomicAnalysis(model, {i: frames[i] for i in chosen}, str(args.structures),
                                args.batch_atoms, log=lambda *a, **k: None)
    return adapter, [adapter.structure(i, frames[i]) for i in chosen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None,
                        help="an exported model (default: the default run's pet-aug "
                             "checkpoint, exported in float64)")
    add_grid_arguments(parser, DEFAULT_CHECKPOINT, DEFAULT_STRUCTURES)
    args = parser.parse_args()
    for path in ([args.checkpoint] if args.model is None else [args.model]) + [args.structures]:
        if not path.exists():
            sys.exit(f"{path} does not exist: run `snakemake` first, or pass --model and "
                     "--structures")
    torch.set_num_threads(args.threads)
    from metatomic.torch import ModelOutput
    from metatomic.torch.o3 import SymmetrizedModel

    with tempfile.TemporaryDirectory() as folder:
        model_path = args.model or export_float64(args.checkpoint, folder)
        direct, structures = _adapter(args, model_path, "non_conservative")
        conservative, _ = _adapter(args, model_path, "conservative")
    context = GridContext(o3_quadrature(args.degree), args.lambda_max)
    n_rot = context.quadrature.n_rotations
    module = direct.model.module
    print(f"model {model_path}\n{len(structures)} structures "
          f"({sum(len(s.atoms) for s in structures)} atoms), grid degree {args.degree} "
          f"({n_rot} copies each), lambda_max {args.lambda_max}, {len(direct.layers)} "
          f"feature outputs, float64, {args.threads} threads, batch_atoms {args.batch_atoms}")

    def size(s):
        return context.copies_per_batch(len(s.atoms), args.batch_atoms)

    exact = resolves_variances(context.quadrature.exactness, direct.output_lambda_max)

    def ours(adapter=direct):
        return [adapter.analyse_structure(s, context, exact_outputs=exact)
                for s in structures]

    prepared = []
    for s in structures:
        names = list(dict.fromkeys([*direct.names(s), *direct.layers]))
        requests = {direct.model.module_name(n): ModelOutput(
            sample_kind=direct.model.sample_kinds.get(n, "atom")) for n in names}
        prepared.append((requests, [rotated_systems(s.system, context.matrices[index])
                                    for index in context.batches(size(s))]))

    def bare():
        with torch.inference_mode():
            for requests, batches in prepared:
                for systems in batches:
                    module(systems, requests, None)

    def bare_backward():
        # the same model calls as ours: the energy and every feature output, in one call
        requests = {conservative.model.module_name(n): ModelOutput(sample_kind="atom")
                    for n in conservative.layers}
        requests["energy"] = ModelOutput(sample_kind="system")
        for s in structures:
            strain = s.periodic
            for index in context.batches(size(s)):
                systems, positions, eps = differentiable_copies(
                    s.system, context.matrices[index], strain=strain)
                energy = module(systems, requests, None)["energy"].block().values
                torch.autograd.grad(energy.sum(), [positions] + ([eps] if strain else []))

    def oracle(batch_size=None):
        results = []
        for s in structures:
            wrapper = SymmetrizedModel(module, max_angular_momentum_target=2,
                                       max_angular_momentum_character=args.lambda_max,
                                       max_angular_momentum_grid=args.degree,
                                       batch_size=batch_size or size(s))
            requests = {f"o3::variance::{direct.model.module_name(t)}": ModelOutput(
                sample_kind=direct.model.sample_kinds[t]) for t in direct.names(s)}
            for layer in direct.layers:
                requests[f"o3::character_projection::{direct.model.module_name(layer)}"] = (
                    ModelOutput(sample_kind="atom"))
            with torch.inference_mode():
                results.append(wrapper([s.system], requests, None))
        return results

    ours()  # warm-up (TorchScript specialises a model on its first calls, forward and
    conservative.analyse_structure(structures[0], context, exact_outputs=exact)  # backward)
    t_ours = _time(ours, args.repeats)
    t_bare = _time(bare, args.repeats)
    t_oracle = _time(lambda: oracle(32), 1)
    t_oracle_same = _time(oracle, 1)
    t_conservative = _time(lambda: ours(conservative), 1)
    t_bare_backward = _time(bare_backward, 1)
    difference = max(max_relative_difference(a, b, len(s.atoms), direct.model.module_name)
                     for a, b, s in zip(ours(), oracle(), structures, strict=True))

    rows = [("diagnose (A + B, direct forces)", t_ours), ("bare forward passes", t_bare),
            ("SymmetrizedModel, batch_size=32 (default)", t_oracle),
            ("SymmetrizedModel, our batch sizes", t_oracle_same),
            ("diagnose, conservative forces + virial", t_conservative),
            ("bare forward + backward passes", t_bare_backward)]
    copies = n_rot * len(structures)
    print(f"\n{'':<44}{'seconds':>9}{'ms/copy':>9}")
    for name, seconds in rows:
        print(f"{name:<44}{seconds:>9.2f}{1000 * seconds / copies:>9.3f}")
    print(f"\nSymmetrizedModel (default batch) / diagnose: {t_oracle / t_ours:5.2f}x  "
          "(target >= 1.5)")
    print(f"SymmetrizedModel (our batches) / diagnose:   {t_oracle_same / t_ours:5.2f}x")
    print(f"diagnose / bare forward passes:               {t_ours / t_bare:5.2f}x  "
          "(target <= 1.2)")
    print(f"conservative / bare forward + backward:       "
          f"{t_conservative / t_bare_backward:5.2f}x  (target <= 1.3)")
    print(f"largest relative difference diagnose vs SymmetrizedModel: {difference:.1e}")


if __name__ == "__main__":
    main()
