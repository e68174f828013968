"""Benchmark: the levers that keep the default run within 15 minutes on 2 cores.

Each lever is measured side by side in one run, on the checkpoints and data of a
finished default run (``snakemake`` first), one thread, nothing else changed:

- ``polarmae batch``: a PoLAr-MAE analysis of one test event on the grid of degree 8,
  rotated copies packed up to 100,000 points per forward pass (the old default)
  against 5,000 (``analysis.polarmae.batch_points``);
- ``polarmae batch norm``: the same at 5,000 points, the evaluation batch norm as four
  element-wise passes (the old code) against one fused multiply-add;
- ``geometric checkpoint``: a geometric run's checkpoint on the grid (A and B of every
  layer) against its test error as given (``analysis.pet.scope: figures`` for the
  checkpoints before the last);
- ``standard checkpoint``: a standard run's checkpoint with every layer against fig3's
  layers (the same scope);
- ``jobs``: the geometric run's earlier checkpoints as given, one ``python -m symlearn
  analyse-pet`` process each (``analysis.jobs: per_checkpoint``) against one process
  for all of them (``per_run``): what the start-up of a job costs.

It prints the seconds of each side and their ratio (above 1: the lever is faster);
nothing here is a pass/fail test, and absolute times on a shared machine are notes.

    python tests/benchmarks/bench_default_run.py              # after `snakemake`
    python tests/benchmarks/bench_default_run.py --results results --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))


def _config() -> dict:
    with open(ROOT / "config" / "config.yaml") as file:
        return yaml.safe_load(file)


def _best(function, repeats: int) -> float:
    """The shortest of ``repeats`` wall times of ``function()`` (the least disturbed)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def _pet_settings(config: dict, run: str) -> dict:
    """The settings the workflow hands the analysis jobs of ``run``."""
    from symlearn.settings.analysis import pet_analysis_settings

    return pet_analysis_settings(config, run)


def polarmae_rows(results: Path, config: dict, repeats: int) -> list[tuple]:
    import torch

    from symlearn.polarmae.analyse import PolarMAEAdapter, _events
    from symlearn.polarmae.model import MaskedBatchNorm
    from symlearn.polarmae.train import load_polarmae
    from symlearn.symmetry import GridContext, o3_quadrature

    run = next(iter(config["polarmae"]["runs"]))
    folder = results / "train" / "polarmae" / run / "seed_0" / "finetune"
    checkpoint = max(folder.glob("step_*.ckpt"), key=lambda p: int(p.stem.split("_")[1]))
    model, meta = load_polarmae(str(checkpoint), "cpu", torch.float64)
    adapter = PolarMAEAdapter(model, meta["phase"], None)
    settings = dict(config["analysis"]["polarmae"], quadrature_check={"n_inputs": 0},
                    branching_radius=config["data"]["lartpc"]["branching_radius"])
    store, selected = _events(meta["settings"], str(results / "data" / "lartpc" /
                                                  "synthetic" / "test.h5"), settings)
    event, grouping = store.get(selected[0])
    context = GridContext(o3_quadrature(8), int(settings["lambda_max"]), torch.float64, "cpu")

    def analyse(points: int):
        return lambda: adapter.analyse(event, grouping, context, batch_points=points)

    fused = MaskedBatchNorm.forward

    def unfused(self, x, mask):
        if self.training:
            return fused(self, x, mask)
        return ((x - self.running_mean) * torch.rsqrt(self.running_var + self.eps)
                * self.weight + self.bias)

    large = _best(analyse(100_000), repeats)
    small = _best(analyse(5_000), repeats)
    MaskedBatchNorm.forward = unfused
    try:
        four_passes = _best(analyse(5_000), repeats)
    finally:
        MaskedBatchNorm.forward = fused
    label = (f"one event ({event.n_points} points) x {context.quadrature.n_rotations} "
             "copies")
    return [("polarmae batch", label, "100,000 points", large, "5,000 points", small),
            ("polarmae batch norm", label, "four passes", four_passes, "fused", small)]


def pet_rows(results: Path, config: dict, repeats: int, out: Path) -> list[tuple]:
    from symlearn.pet.analyse import analyse_pet_checkpoint, evaluate_pet_as_given
    from symlearn.settings.analysis import pet_analysed_epochs
    from symlearn.settings.pet import pet_run_settings

    runs = [r for r, spec in config["pet"]["runs"].items() if spec is not None]
    geometric = next(r for r in runs if pet_run_settings(config, r)["targets"] == "geometric")
    standard = next(r for r in runs if pet_run_settings(config, r)["targets"] == "standard")
    settings, standard_settings = _pet_settings(config, geometric), _pet_settings(config,
                                                                                  standard)
    data = results / "data" / "atomistic" / "synthetic"

    def checkpoint(run: str, epoch: int) -> str:
        return str(results / "train" / "pet" / run / "seed_0" / "checkpoints"
                   / f"epoch_{epoch}.ckpt")

    epochs = pet_analysed_epochs(config, geometric)
    geo, geo_data = checkpoint(geometric, epochs[0]), str(data / "geometric" / "test.xyz")
    grid = _best(lambda: analyse_pet_checkpoint(geo, geo_data, str(out / "g"), settings,
                                                threads=1, progress=False), repeats)
    given = _best(lambda: evaluate_pet_as_given(geo, geo_data, str(out / "a"), settings,
                                                threads=1), repeats)
    std, std_data = checkpoint(standard, 0), str(data / "pet" / "test.xyz")
    every = _best(lambda: analyse_pet_checkpoint(std, std_data, str(out / "e"),
                                                 standard_settings, threads=1,
                                                 progress=False), repeats)
    figure = _best(lambda: analyse_pet_checkpoint(std, std_data, str(out / "f"),
                                                  standard_settings,
                                                  threads=1, progress=False,
                                                  figure_layers_only=True), repeats)

    earlier = [checkpoint(geometric, e) for e in epochs[:-1]]
    command = [sys.executable, "-m", "symlearn", "analyse-pet", "--structures", geo_data,
               "--settings", json.dumps(settings), "--device", "cpu", "--threads", "1"]

    def jobs(together: bool):
        pairs = [(c, str(out / f"j{i}")) for i, c in enumerate(earlier)]
        groups = [pairs] if together else [[pair] for pair in pairs]

        def run():
            for group in groups:
                options = [o for c, d in group for o in ("--checkpoint", c, "--out-dir", d,
                                                         "--as-given-only", c)]
                subprocess.run(command + options, check=True, capture_output=True,
                               cwd=ROOT, env={**os.environ,
                                              "PYTHONPATH": str(ROOT / "workflow")})
        return run

    separate = _best(jobs(False), repeats)
    together = _best(jobs(True), repeats)
    return [("geometric checkpoint", f"{geometric}, epoch {epochs[0]}", "grid", grid,
             "as given", given),
            ("standard checkpoint", f"{standard}, epoch 0", "every layer", every,
             "fig3's layers", figure),
            ("jobs", f"{len(earlier)} checkpoints of {geometric}, as given",
             "one process each", separate, "one process", together)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=str(ROOT / "results"),
                        help="the results folder of a finished default run")
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each side; the shortest counts")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    config = _config()
    results = Path(args.results)
    with tempfile.TemporaryDirectory() as tmp:
        rows = polarmae_rows(results, config, args.repeats)
        rows += pet_rows(results, config, args.repeats, Path(tmp))
    print(f"{'lever':22s} {'what':42s} {'before':>18s} {'after':>18s} {'ratio':>6s}")
    for lever, what, before_label, before, after_label, after in rows:
        print(f"{lever:22s} {what:42s} {before_label:>11s} {before:5.1f} s "
              f"{after_label:>11s} {after:5.1f} s {before / after:6.2f}")


if __name__ == "__main__":
    main()
