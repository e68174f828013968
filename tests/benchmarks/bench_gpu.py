"""Benchmark of the GPU path at the paper's model sizes, for docs/paper-scale.md's GPU-hour
estimates (run it where a GPU is lent; it prints numbers, nothing here passes or fails).

- PET training (config/paper.yaml's pet.model and batch size) on a generated set with
  MAD-like structures (up to ``--max-atoms`` atoms): structures per second, and the
  epoch time that gives for MAD-1.5's training split (``--mad-structures``);
- the PET symmetry analysis of the trained checkpoint: rotated copies per second on the
  grids of degree 8 and 17 (A and B of every layer, float64);
- PoLAr-MAE at the reference's size (paper.yaml's polarmae.model, ViT-S): optimiser
  steps per second of pre-training and fine-tuning, batches of ``--polarmae-batch``.

    python tests/benchmarks/bench_gpu.py                  # needs CUDA
    python tests/benchmarks/bench_gpu.py --device cpu --structures 60 --epochs 1 \\
        --degrees 8 --analysis-structures 1 --polarmae-steps 1 --polarmae-batch 2
                                                          # a smoke run of the script
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "tests"))

from symlearn.settings.base import deep_merge  # noqa: E402
from symlearn.settings.pet import pet_run_settings  # noqa: E402
from symlearn.settings.polarmae import polarmae_run_settings  # noqa: E402


def _paper_config() -> dict:
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    return deep_merge(base, yaml.safe_load((ROOT / "config" / "paper.yaml").read_text()))


def _pet(config: dict, args, folder: Path) -> tuple[Path, Path]:
    """Train the paper-size PET for ``args.epochs`` epochs; print structures/s."""
    from atomistic_views import generated_views

    from symlearn.data.atomistic import SUBSETS
    from symlearn.pet.train import train_pet

    per_subset = max(1, args.structures // len(SUBSETS))
    views, parts = generated_views(folder, {s: per_subset for s in SUBSETS}, seed=0,
                                   max_atoms=args.max_atoms,
                                   fractions={"train": 0.8, "val": 0.1, "test": 0.1})
    settings = pet_run_settings(config, "pet-aug")
    settings["training"] = {**settings["training"], "epochs": args.epochs,
                            "checkpoint_every": args.epochs, "num_workers": 0}
    began = time.perf_counter()
    train_pet(settings, views["train"], views["val"], out_dir=folder / "run",
              device=args.device, threads=args.threads)
    seconds = time.perf_counter() - began
    n_train = len(parts["train"])
    atoms = sum(len(f) for f in parts["train"]) / n_train
    rate = n_train * args.epochs / seconds
    print(f"PET training ({settings['model']['d_pet']} wide, batch "
          f"{settings['training']['batch_size']}), {n_train} structures of {atoms:.0f} "
          f"atoms on average, {args.epochs} epoch(s) in {seconds:.0f} s (validation and "
          f"start-up included): {rate:.1f} structures/s; a MAD-1.5 epoch of "
          f"{args.mad_structures} structures: {args.mad_structures / rate / 60:.1f} min",
          flush=True)
    return folder / "run" / "checkpoints" / f"epoch_{args.epochs}.ckpt", views["test"]


def _pet_analysis(config: dict, checkpoint: Path, structures: Path, args) -> None:
    """Rotated copies per second of the PET analysis on the grids of degree 8 and 17."""
    from symlearn.pet.analyse import analyse_pet_checkpoint
    from symlearn.symmetry import o3_quadrature

    settings = {**config["analysis"]["pet"], "n_structures": args.analysis_structures,
                "dtype": "float64", "quadrature_check": {**config["analysis"][
                    "quadrature_check"], "n_inputs": 0}}
    for degree in args.degrees:
        with tempfile.TemporaryDirectory() as out:
            began = time.perf_counter()
            summary = analyse_pet_checkpoint(str(checkpoint), str(structures), out,
                                             {**settings, "grid_degree": degree},
                                             device=args.device, threads=args.threads,
                                             progress=False)
            seconds = time.perf_counter() - began
        copies = o3_quadrature(degree).n_rotations * summary["structures"]
        print(f"PET analysis, degree {degree} ({o3_quadrature(degree).n_rotations} "
              f"copies per structure), {summary['structures']} structure(s): "
              f"{copies / seconds:.0f} copies/s ({seconds:.1f} s)", flush=True)


def _polarmae(config: dict, args, folder: Path) -> None:
    """Optimiser steps per second of the reference-size PoLAr-MAE."""
    from symlearn.polarmae import train as training
    from symlearn.polarmae.simulator import make_lartpc

    make_lartpc(folder / "lartpc", seed=0,
                n_events={"train": 4 * args.polarmae_batch, "val": 2, "test": 2})
    settings = polarmae_run_settings(config, "polarmae-o3")
    settings["preprocessing"] = {**settings["preprocessing"], "min_points": 256}
    for phase in ("pretrain", "finetune"):
        settings[phase] = {**settings[phase], "batch_size": args.polarmae_batch}
    data = {s: folder / "lartpc" / f"{s}.h5" for s in ("train", "val")}
    pre = training.Trainer("pretrain", settings, data["train"], data["val"], args.device)
    path = folder / "pre.ckpt"
    torch.save({k: v for k, v in pre.state(0, []).items() if k in training.PUBLISHED}, path)
    tune = training.Trainer("finetune", settings, data["train"], data["val"], args.device,
                            init_from=path)
    for name, trainer in (("pretrain", pre), ("finetune", tune)):
        trainer.step()  # the geometry of the events is grouped and cached here
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        began = time.perf_counter()
        for _ in range(args.polarmae_steps):
            trainer.step()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - began
        print(f"PoLAr-MAE {name} (width {settings['model']['width']}, "
              f"{settings['model']['depth']} blocks), batch {args.polarmae_batch}: "
              f"{args.polarmae_steps / seconds:.2f} steps/s", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--structures", type=int, default=1200,
                        help="generated structures for the PET training")
    parser.add_argument("--max-atoms", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--mad-structures", type=int, default=195_000,
                        help="MAD-1.5's training split, for the projected epoch time")
    parser.add_argument("--analysis-structures", type=int, default=4)
    parser.add_argument("--degrees", type=lambda text: [int(d) for d in text.split(",")],
                        default=[8, 17], help="grid degrees of the analysis, e.g. 8,17")
    parser.add_argument("--polarmae-steps", type=int, default=20)
    parser.add_argument("--polarmae-batch", type=int, default=32)
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("bench_gpu: no CUDA device here (torch.cuda.is_available() is False); "
                 "run it where a GPU is lent, or give --device cpu for a smoke run")
    config = _paper_config()
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"torch {torch.__version__} on {name}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        checkpoint, structures = _pet(config, args, folder)
        _pet_analysis(config, checkpoint, structures, args)
        _polarmae(config, args, folder)


if __name__ == "__main__":
    main()
