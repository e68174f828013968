"""Benchmark of the liquid-argon branch, measured side by side in one run.

- training throughput (events per second) of pre-training and fine-tuning steps, with
  the event geometry cached (as the training does) and, beside it, recomputed every
  step: the ratio is what the cache saves; at the default (tiny) size and at the
  reference's (ViT-S, config/paper.yaml's polarmae.model; a few steps only on CPU);
- analysis time per event of a fine-tuned checkpoint (A, B of every layer and the
  instability on the grid), next to the bare forward passes of the same rotated copies:
  the ratio is the cost of the symmetry core on top of the model.

It prints numbers and ratios; nothing here is a pass/fail test.

    python tests/benchmarks/bench_polarmae.py                 # on simulated events
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))

from symlearn.polarmae import train as training  # noqa: E402
from symlearn.polarmae.analyse import PolarMAEAdapter  # noqa: E402
from symlearn.polarmae.lartpc import make_lartpc  # noqa: E402
from symlearn.settings.polarmae import polarmae_run_settings  # noqa: E402
from symlearn.symmetry import GridContext, o3_quadrature  # noqa: E402


def _throughput(trainer: training.Trainer, steps: int, cached: bool) -> float:
    """Events per second over ``steps`` optimiser steps (after one warm-up step)."""
    trainer.step()
    events, seconds = 0, 0.0
    for _ in range(steps):
        if not cached:  # forget the geometry, as a loader without the cache would
            trainer.train._cache.clear()
        began = time.perf_counter()
        events += trainer.step()[1]
        seconds += time.perf_counter() - began
    return events / seconds


def _training(settings, data, steps: int, label: str) -> None:
    pre = training.Trainer("pretrain", settings, data["train"], data["val"], "cpu")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pre.ckpt"
        torch.save({k: v for k, v in pre.state(0, []).items()
                    if k in training.PUBLISHED}, path)
        tune = training.Trainer("finetune", settings, data["train"], data["val"], "cpu",
                                init_from=path)
    for name, trainer in (("pretrain", pre), ("finetune", tune)):
        cached = _throughput(trainer, steps, cached=True)
        fresh = _throughput(trainer, steps, cached=False)
        print(f"{label:>9} {name:>8}: {cached:7.1f} events/s (geometry cached), "
              f"{fresh:7.1f} events/s (recomputed); cached / recomputed = "
              f"{cached / fresh:.2f}")


def _analysis(settings, data, degree: int, lambda_max: int, n_events: int) -> None:
    store = training.EventStore(data["test"], settings["preprocessing"],
                                settings["tokenizer"])
    model = training.build_model(settings).double().eval()
    adapter = PolarMAEAdapter(model, "finetune")
    context = GridContext(o3_quadrature(degree), lambda_max)
    events = store.usable()[:n_events]
    ours = bare = 0.0
    for index in events:
        event, grouping = store.get(index)
        began = time.perf_counter()
        adapter.analyse(event, grouping, context, batch_points=100_000)
        ours += time.perf_counter() - began
        batch = adapter.batch(event, grouping)
        size = context.copies_per_batch(event.n_points, 100_000)
        began = time.perf_counter()
        for start in range(0, len(context.matrices), size):
            adapter.evaluate(batch, context.matrices[start:start + size])
        bare += time.perf_counter() - began
    points = np.mean([store.get(i)[0].n_points for i in events])
    print(f"analysis, degree {degree} ({context.quadrature.n_rotations} copies), "
          f"lambda_max {lambda_max}, {len(events)} events of {points:.0f} points: "
          f"{ours / len(events):.2f} s per event (bare forward passes "
          f"{bare / len(events):.2f} s); ours / bare = {ours / bare:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--vit-s-steps", type=int, default=3)
    parser.add_argument("--events", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(args.config.read_text())
    settings = polarmae_run_settings(config, next(iter(config["polarmae"]["runs"])))
    with tempfile.TemporaryDirectory() as folder:
        make_lartpc(folder, seed=1, n_events={"train": 32, "val": 4, "test": args.events})
        data = {s: str(Path(folder) / f"{s}.h5") for s in ("train", "val", "test")}
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
        _training(settings, data, args.steps, "default")
        paper = yaml.safe_load((ROOT / "config" / "paper.yaml").read_text())
        vit_s = {**settings, "model": {**settings["model"], **paper["polarmae"]["model"]}}
        _training(vit_s, data, args.vit_s_steps, "ViT-S")
        analysis = config["analysis"]["polarmae"]
        degree = analysis["grid_degree"] or max(2 * analysis["lambda_max"], 1)
        _analysis(settings, data, degree, analysis["lambda_max"], args.events)


if __name__ == "__main__":
    main()
