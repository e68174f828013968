"""The tiny configuration the workflow tests run (integration, GPU), and how they run
snakemake on it in a temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from symlearn.settings.base import deep_merge

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "data": {"atomistic": {"synthetic": {
        "max_atoms": 12,
        "n_structures": {"bulk": 3, "rattled": 5, "surface": 3, "cluster": 3,
                         "molecule": 3, "alloy": 5}},
        "split": {"train": 0.6, "val": 0.2, "test": 0.2},
        "geometric_targets": {"lambda_max": 2}},
        "lartpc": {"synthetic": {"n_events": {"train": 6, "val": 2, "test": 2}},
                   "preprocessing": {"min_points": 200}}},
    "pet": {
        "model": {"d_pet": 8, "d_head": 8, "d_node": 16, "d_feedforward": 16,
                  "num_heads": 2, "num_gnn_layers": 1},
        "training": {"epochs": 4, "checkpoint_every": 2, "threads": 1, "num_workers": 0},
        "geometric_runs": None,
        "control_model": {"soap": {"max_angular": 2, "max_radial": 2},
                          "bpnn": {"num_neurons_per_layer": 8}},
        # the cheaper harmonics run in place of the default's geo-sh8, and the exactly
        # equivariant control of config/findings.yaml
        "runs": {"geo-sh8": None,
                 "geo-sh2": {"augmentation": "o3", "targets": "geometric",
                             "edge_embedding": {"type": "solid_harmonics", "lmax": 2}},
                 "geo-control": {"architecture": "soap_bpnn", "augmentation": "none",
                                 "targets": "geometric"}},
    },
    "polarmae": {
        "model": {"width": 16, "depth": 2, "heads": 2},
        "tokenizer": {"n_init": 32, "n_tokens": 16, "group_size": 8},
        "pretrain": {"steps": 4, "checkpoint_every": 2, "batch_size": 2, "warmup_steps": 1},
        "finetune": {"steps": 4, "checkpoint_every": 2, "batch_size": 2, "warmup_steps": 1},
        "threads": 1,
        "runs": {},
    },
    "analysis": {"pet": {"n_structures": 2, "lambda_max": 2, "threads": 1,
                         "geometric_grid_degree": None},
                 "polarmae": {"n_events": 1, "lambda_max": 2, "threads": 1},
                 "purification": {"runs": ["pet-aug", "geo-cartesian"], "n_rotations": 2,
                                  "n_offset_structures": 2},
                 "quadrature_check": {"n_inputs": 1, "delta": 2}},
}
GEOMETRIC_RUNS = ("geo-cartesian", "geo-sh2", "geo-control")
POLARMAE_RUNS = ("polarmae-o3", "polarmae-none")


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    # the rules call `python -m symlearn`: make `python` this interpreter
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _config(directory: Path, overrides: dict) -> Path:
    with open(ROOT / "config" / "config.yaml") as handle:
        config = deep_merge(yaml.safe_load(handle), overrides)
    path = directory / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake(directory: Path, configfile: Path, *args: str, **kwargs):
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
               "--directory", str(directory), "--configfile", str(configfile),
               "--cores", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, env=_environment(),
                          **kwargs)
