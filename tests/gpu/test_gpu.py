"""The CUDA path: the tiny pipeline's trainings on the GPU, and the PET analysis on CUDA
against the CPU's (docs/symmetry.md, "Precision"). Skipped, saying why, on a machine
without CUDA; run with ``pytest -m gpu`` where a GPU is lent."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
import yaml
from precision import FLOAT32_TOLERANCE, assert_tables_agree
from tiny_workflow import TINY, _config, snakemake

from symlearn.settings.base import deep_merge

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="no CUDA device: torch.cuda.is_available() is False here; "
                              "these tests run where a GPU is lent (pytest -m gpu)"),
]

#: the trainings and one PET analysis of the tiny configuration, on the GPU
CUDA_RUN = deep_merge(TINY, {"device": "cuda"})


@pytest.fixture(scope="module")
def cuda_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cuda_workflow")
    configfile = _config(directory, CUDA_RUN)
    targets = ["results/train/pet/pet-aug/seed_0/checkpoints/epoch_4.ckpt",
               "results/train/polarmae/polarmae-o3/seed_0/finetune/step_4.ckpt"]
    result = snakemake(directory, configfile, *targets)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return directory, configfile


def test_trainings_run_on_the_gpu(cuda_run):
    directory, _ = cuda_run
    logs = directory / "results" / "logs"
    pet = (logs / "train_pet" / "pet-aug" / "seed_0.log").read_text()
    assert "cuda" in pet.lower(), pet[-2000:]
    for phase in ("pretrain", "finetune"):
        log = (logs / f"{phase}_polarmae" / "polarmae-o3" / "seed_0.log").read_text()
        assert "device cuda" in log, log[-2000:]
    checkpoint = torch.load(directory / "results" / "train" / "polarmae" / "polarmae-o3"
                            / "seed_0" / "finetune" / "step_4.ckpt", weights_only=False,
                            map_location="cpu")
    assert all(torch.isfinite(v).all() for v in checkpoint["model"].values()
               if v.is_floating_point())


@pytest.mark.parametrize(("dtype", "tolerance"), [("float64", {"relative": 1e-10}),
                                                  ("float32", {"scaled": FLOAT32_TOLERANCE})])
def test_pet_analysis_on_cuda_matches_the_cpu(cuda_run, tmp_path, dtype, tolerance):
    from symlearn.pet.analyse import analyse_pet_checkpoint

    directory, configfile = cuda_run
    config = yaml.safe_load(configfile.read_text())
    settings = {**config["analysis"]["pet"], "dtype": dtype,
                "quadrature_check": config["analysis"]["quadrature_check"]}
    checkpoint = (directory / "results" / "train" / "pet" / "pet-aug" / "seed_0" / "checkpoints"
                  / "epoch_4.ckpt")
    structures = directory / "results" / "data" / "atomistic" / "synthetic" / "pet" / "test.xyz"
    analyse_pet_checkpoint(str(checkpoint), str(structures), str(tmp_path / "cpu"),
                           {**settings, "dtype": "float64"}, device="cpu", threads=1,
                           progress=False)
    analyse_pet_checkpoint(str(checkpoint), str(structures), str(tmp_path / "cuda"),
                           settings, device="cuda", threads=1, progress=False)
    worst = assert_tables_agree(tmp_path / "cpu", tmp_path / "cuda", **tolerance)
    print(f"CUDA {dtype} against CPU float64: largest deviations {worst}")
    assert len(pd.read_csv(tmp_path / "cuda" / "errors.csv"))
