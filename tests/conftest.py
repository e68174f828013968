"""Shared fixtures: the repository root, the default config, and a tiny data set."""

from __future__ import annotations

import copy
import os
from pathlib import Path

# One OpenMP thread for torch in the test processes and the commands they start (a
# command given --threads still takes its own): three workers share two cores, and
# OpenMP threads that wait by spinning on an oversubscribed machine burn CPU that the
# other workers need. Set before any test module imports torch.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture()
def default_config() -> dict:
    with open(ROOT / "config" / "config.yaml") as handle:
        return copy.deepcopy(yaml.safe_load(handle))


TINY_SUBSETS = {"bulk": 4, "rattled": 6, "surface": 4, "cluster": 4, "molecule": 4,
                "alloy": 6}
TINY_MODEL = {"cutoff": 4.0, "cutoff_width": 0.5, "d_pet": 8, "d_head": 8, "d_node": 16,
              "d_feedforward": 16, "num_heads": 2, "num_attention_layers": 1,
              "num_gnn_layers": 1}
TINY_TRAINING = {"epochs": 4, "checkpoint_every": 2, "batch_size": 8,
                 "learning_rate": 1e-3, "warmup_fraction": 0.1, "weight_decay": None,
                 "seed": 0, "precision": 32, "num_workers": 0, "threads": 1,
                 "loss_weights": {"energy": 1.0, "forces": 1.0, "stress": 1.0,
                                  "pseudoscalar": 1.0, "density": 1.0}}


@pytest.fixture(scope="session")
def tiny_pet_data(tmp_path_factory) -> dict[str, Path]:
    """Training views of a tiny generated data set: {'train': path, 'val':, 'test':}."""
    from atomistic_views import generated_views

    views, _ = generated_views(tmp_path_factory.mktemp("tiny_data"), TINY_SUBSETS, seed=3,
                               max_atoms=12,
                               fractions={"train": 0.6, "val": 0.2, "test": 0.2})
    return views


def _tiny_settings() -> dict:
    return {"augmentation": "o3", "model": dict(TINY_MODEL),
            "training": copy.deepcopy(TINY_TRAINING)}


@pytest.fixture()
def tiny_settings() -> dict:
    """Settings of a tiny PET run (4 epochs, checkpoints every 2)."""
    return _tiny_settings()


@pytest.fixture(scope="session")
def make_tiny_settings():
    return _tiny_settings


@pytest.fixture(scope="session")
def tiny_pet_run(tiny_pet_data, tmp_path_factory):
    """A tiny PET trained once per session: (settings, output folder, summary), with
    checkpoints at epochs 0, 2 and 4."""
    from symlearn.pet.train import train_pet

    settings = _tiny_settings()
    out = tmp_path_factory.mktemp("tiny_pet_run")
    summary = train_pet(settings, **tiny_pet_data, out_dir=out, threads=1)
    return settings, out, summary


@pytest.fixture()
def http_server():
    """A local HTTP server on 127.0.0.1 (tests/http_server.py), stopped after the test."""
    from http_server import LocalServer, start

    server = LocalServer()
    httpd, thread = start(server)
    yield server
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


# The longest test files (a tiny pipeline through a real SLURM, mostly waiting on the
# scheduler; the tiny pipeline run locally; trainings stopped half way). With `--dist
# loadfile --no-loadscope-reorder` (pyproject.toml) pytest-xdist hands out whole files
# in collection order, one to each worker first: listed first, each starts at once on a
# worker of its own, and the short files fill in behind them.
LONGEST_FIRST = ("tests/slurm/test_slurm_profile.py", "tests/integration/test_workflow.py",
                 "tests/integration/test_interrupts.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        try:
            path = item.path.resolve().relative_to(ROOT).as_posix()
        except ValueError:
            return len(LONGEST_FIRST)
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)
