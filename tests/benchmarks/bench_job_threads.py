"""Benchmark: one job on every core, or one job per core?

The default configuration gives every training and analysis job one thread, so that
Snakemake (``cores: all``) runs as many of them at once as there are cores. This
measures that choice side by side in one run, with the commands the workflow runs
(``python -m symlearn ...``, start-up included), on a machine with ``--cores`` cores:

- ``serial``: N jobs one after another, each with ``--threads cores``;
- ``parallel``: the same N jobs, ``cores`` at a time, each with ``--threads 1``;

for a PET checkpoint analysis (``analyse-pet``, the default run's most frequent job)
and for a short PET training (``train-pet``). It prints the wall time of each way and
their ratio (above 1: one thread per job finishes the same work sooner); nothing here
is a pass/fail test.

    python tests/benchmarks/bench_job_threads.py              # after `snakemake`
    python tests/benchmarks/bench_job_threads.py --epochs 3 --repeats 2
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

from symlearn.settings.pet import pet_checkpoint_epochs, pet_run_settings  # noqa: E402


def _config() -> dict:
    with open(ROOT / "config" / "config.yaml") as file:
        return yaml.safe_load(file)


def _analysis_command(config: dict, args, out: Path, threads: int) -> list[str]:
    settings = dict(config["analysis"]["pet"])
    settings["quadrature_check"] = config["analysis"]["quadrature_check"]
    return [sys.executable, "-m", "symlearn", "analyse-pet", "--checkpoint", args.checkpoint,
            "--structures", args.structures, "--settings", json.dumps(settings),
            "--out-dir", str(out), "--device", "cpu", "--threads", str(threads),
            "--no-progress"]


def _training_command(config: dict, args, out: Path, threads: int) -> list[str]:
    settings = pet_run_settings(config, args.run)
    settings["training"] = dict(settings["training"], epochs=args.epochs,
                                checkpoint_every=args.epochs, threads=threads)
    data = Path(args.data)
    return [sys.executable, "-m", "symlearn", "train-pet", "--settings", json.dumps(settings),
            "--train", str(data / "train.xyz"), "--val", str(data / "val.xyz"),
            "--test", str(data / "test.xyz"), "--out-dir", str(out), "--device", "cpu",
            "--threads", str(threads)]


def _run(commands: list[list[str]], at_once: int) -> float:
    """Wall time of running ``commands``, ``at_once`` at a time."""
    start = time.perf_counter()
    pending = list(commands)
    running: list[subprocess.Popen] = []
    while pending or running:
        while pending and len(running) < at_once:
            running.append(subprocess.Popen(pending.pop(0), stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE, text=True, cwd=ROOT))
        job = running.pop(0)
        _, err = job.communicate()
        if job.returncode:
            raise SystemExit(f"a benchmarked job failed (exit {job.returncode}):\n{err}")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    config = _config()
    results = ROOT / config["results"]
    last = pet_checkpoint_epochs(config)[-1]
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--run", default="pet-aug", help="the PET run of config.yaml")
    parser.add_argument("--checkpoint", default=str(
        results / f"train/pet/pet-aug/seed_0/checkpoints/epoch_{last}.ckpt"))
    parser.add_argument("--structures",
                        default=str(results / "data/atomistic/synthetic/pet/test.xyz"))
    parser.add_argument("--data", default=str(results / "data/atomistic/synthetic/pet"),
                        help="folder of the training view's train/val/test.xyz")
    parser.add_argument("--epochs", type=int, default=5, help="epochs of each training")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    for path in (args.checkpoint, args.structures, args.data):
        if not Path(path).exists():
            raise SystemExit(f"{path} does not exist: run `snakemake` first, or pass it")

    jobs = {"analyse-pet": _analysis_command, "train-pet": _training_command}
    print(f"{args.cores} cores; {args.cores} jobs of each kind per measurement")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, command in jobs.items():
            times: dict[str, list[float]] = {"serial": [], "parallel": []}
            for repeat in range(args.repeats):  # interleaved: both see the same load
                for way, threads, at_once in (("serial", args.cores, 1),
                                              ("parallel", 1, args.cores)):
                    commands = [command(config, args, Path(tmp) / f"{kind}-{way}-{repeat}-{i}",
                                        threads) for i in range(args.cores)]
                    times[way].append(_run(commands, at_once))
            serial, parallel = min(times["serial"]), min(times["parallel"])
            print(f"{kind}: serial ({args.cores} threads each) {serial:.1f} s, "
                  f"parallel (1 thread each, {args.cores} at once) {parallel:.1f} s; "
                  f"serial / parallel = {serial / parallel:.2f}")


if __name__ == "__main__":
    main()
