"""Benchmark: does the default's PET learn its targets, and which lever makes it?

The embedded default must give PET runs that learn energy, forces and stress (relative
test RMSE as given: the RMSE over the RMS of the reference) within the default run's
time. This trains the default's ``pet-aug`` run once per setting, one after another on
the same machine, from the cumulative levers below, and prints for each the relative
RMSE of its last checkpoint on the whole test and validation splits (as given, no grid)
and the training's wall time. Nothing here is a pass/fail test: the numbers are what
docs/data.md quotes.

- ``before``: every element EMT knows (7 metals, H/C/N/O adsorbates and molecules),
  batches of 8, force loss weight 10, 20 epochs (the default before this benchmark);
- ``elements``: the default's data (3 metals, bare surfaces, no molecules);
- ``batches``: ... and batches of 4 (twice the optimiser steps per epoch);
- ``forces``: ... and a force loss weight of 30;
- ``epochs``: ... and the default's epochs (30): the default itself.

It trains the standard runs (``pet-aug``, ``pet-noaug``); docs/data.md gives the
geometric runs' learning rate, measured the same way.

    python tests/benchmarks/bench_learning.py                 # every lever, ~12 min
    python tests/benchmarks/bench_learning.py --levers before epochs --run pet-noaug
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "tests"))

from symlearn.settings.pet import pet_run_settings  # noqa: E402

#: the embedded data set before this benchmark: every subset of every element
BEFORE_DATA = {"metals": ["Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt"],
               "adsorbates": ["H", "C", "N", "O"],
               "n_structures": {"bulk": 40, "rattled": 60, "surface": 40, "cluster": 40,
                                "molecule": 40, "alloy": 60}}
BEFORE_EPOCHS = 20
LEVERS = ("before", "elements", "batches", "forces", "epochs")


def _config() -> dict:
    with open(ROOT / "config" / "config.yaml") as file:
        return yaml.safe_load(file)


def lever_config(config: dict, lever: str) -> dict:
    """The configuration of one lever: the default, with what comes after ``lever`` in
    :data:`LEVERS` undone."""
    config = copy.deepcopy(config)
    synthetic = config["data"]["atomistic"]["synthetic"]
    training = config["pet"]["training"]
    index = LEVERS.index(lever)
    if index < LEVERS.index("elements"):
        synthetic.update(copy.deepcopy(BEFORE_DATA))
    if index < LEVERS.index("batches"):
        training["batch_size"] = 8
    if index < LEVERS.index("forces"):
        training["loss_weights"]["forces"] = 10.0
    if index < LEVERS.index("epochs"):
        training["epochs"], training["checkpoint_every"] = BEFORE_EPOCHS, BEFORE_EPOCHS
    return config


def _data(config: dict, folder: Path) -> Path:
    """The PET training views of the configuration's embedded data set."""
    from atomistic_views import generated_views

    synthetic = config["data"]["atomistic"]["synthetic"]
    views, _ = generated_views(folder, synthetic["n_structures"], synthetic["seed"],
                               synthetic["max_atoms"], config["data"]["atomistic"]["split"],
                               synthetic["metals"], synthetic["adsorbates"])
    return views["train"].parent


def _relative_errors(checkpoint: Path, structures: Path, out: Path, config: dict) -> dict:
    from symlearn.pet.analyse import evaluate_pet_as_given

    settings = dict(config["analysis"]["pet"], n_structures=10**9)
    with contextlib.redirect_stdout(io.StringIO()):
        evaluate_pet_as_given(str(checkpoint), str(structures), str(out), settings)
    errors = pd.read_csv(out / "errors.csv")
    errors = errors[errors["reference_rms"] > 0]
    return {f"{row.target} ({row.o3_lambda},{row.o3_sigma:+d})":
            row.rmse_as_given / row.reference_rms for row in errors.itertuples()}


def measure(lever: str, run: str, folder: Path) -> dict:
    from symlearn.pet.train import train_pet

    config = lever_config(_config(), lever)
    data = _data(config, folder / "data")
    settings = pet_run_settings(config, run)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        summary = train_pet(settings, data / "train.xyz", data / "val.xyz",
                            out_dir=folder / "run", device="cpu", threads=1)
    seconds = time.perf_counter() - start
    last = folder / "run" / "checkpoints" / f"epoch_{summary['epochs'][-1]}.ckpt"
    row = {"lever": lever, "epochs": settings["training"]["epochs"],
           "batch": settings["training"]["batch_size"], "train_s": round(seconds)}
    for split in ("test", "val"):
        errors = _relative_errors(last, data / f"{split}.xyz", folder / split, config)
        row.update({f"{split} {name}": value for name, value in errors.items()})
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levers", nargs="+", choices=LEVERS, default=list(LEVERS))
    parser.add_argument("--run", default="pet-aug", help="a PET run of config/config.yaml")
    args = parser.parse_args(argv)
    rows = []
    for lever in args.levers:
        with tempfile.TemporaryDirectory() as folder:
            rows.append(measure(lever, args.run, Path(folder)))
        print(f"{lever}: trained in {rows[-1]['train_s']} s", flush=True)
    table = pd.DataFrame(rows).set_index("lever")
    short = {"energy (0,+1)": "E", "non_conservative_force (1,+1)": "F",
             "non_conservative_stress (0,+1)": "σ iso", "non_conservative_stress (2,+1)": "σ dev"}
    table.columns = [" ".join(short.get(part, part) for part in
                              (c.split(" ", 1) if c.startswith(("test", "val")) else [c]))
                     for c in table.columns]
    print(f"\nrun {args.run}: relative RMSE as given (RMSE / RMS of the reference) at the "
          "last checkpoint, whole splits")
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
