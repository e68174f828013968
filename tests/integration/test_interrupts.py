"""Stopping the real workflow half way: a training killed with its snakemake resumes
from its last checkpoint, and Ctrl-C or SIGTERM stops the running jobs within seconds.
(A file of its own, so that it runs beside the tiny pipeline of test_workflow.py.)"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from dryrun import job_counts
from tiny_workflow import TINY, _config, _environment, snakemake

from symlearn.settings.base import deep_merge

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
#: what a PET run's training reads: made once, then copied into each test's project
PET_DATA = [f"results/data/atomistic/synthetic/pet/{split}.xyz" for split in ("train", "val")]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A project whose PET training data is made, with Snakemake's records of it."""
    directory = tmp_path_factory.mktemp("prepared")
    result = snakemake(directory, _config(directory, TINY), *PET_DATA)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return directory


def _project(prepared: Path, where: Path) -> Path:
    """A copy of the prepared project (modification times kept) in ``where``."""
    shutil.copytree(prepared, where, dirs_exist_ok=True, symlinks=True,
                    copy_function=shutil.copy2)
    return where


def _start_until(directory: Path, configfile: Path, written: Path, cores: str,
                 *targets: str) -> tuple[subprocess.Popen, Path]:
    """snakemake started in its own session, once ``written`` exists (a training's
    checkpoint): the process and the file of its output."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
               "--directory", str(directory), "--configfile", str(configfile),
               "--cores", cores, *targets]
    output = directory / "snakemake.out"
    with output.open("w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT,
                                   env=_environment(), start_new_session=True)
    deadline = time.monotonic() + 300
    while not written.exists():
        assert process.poll() is None, ("snakemake ended before the checkpoint:\n"
                                        + output.read_text()[-3000:])
        assert time.monotonic() < deadline, f"no {written.name} after 300 s"
        time.sleep(0.05)
    return process, output


def test_killed_training_resumes_from_its_last_checkpoint(prepared, tmp_path):
    """SIGKILL the whole snakemake process group once a checkpoint exists; a plain
    rerun continues the training from it instead of starting again."""
    _project(prepared, tmp_path)
    configfile = _config(tmp_path, deep_merge(
        TINY, {"pet": {"training": {"epochs": 16, "checkpoint_every": 2}}}))
    # one training, on the prepared data: analysing its 9 checkpoints is not tested here
    target = "results/train/pet/pet-aug/seed_0/best_model.pt"
    resume = tmp_path / "results" / "train" / "pet" / "pet-aug" / "seed_0" / "resume"
    process, output = _start_until(tmp_path, configfile, resume / "epoch_4.ckpt", "2",
                                   target)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (resume.parent / "checkpoints" / "epoch_16.ckpt").exists()

    # a killed snakemake leaves its lock behind: the documented --unlock, then a rerun
    assert snakemake(tmp_path, configfile, "--unlock").returncode == 0
    result = snakemake(tmp_path, configfile, target)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    log = (tmp_path / "results" / "logs" / "train_pet" / "pet-aug" / "seed_0.log").read_text()
    resumed = re.search(r"resuming .* after (\d+) epoch", log)
    assert resumed and int(resumed.group(1)) >= 4, log[-2000:]
    table = pd.read_csv(resume.parent / "train_log.csv")
    assert table["epoch"].tolist() == list(range(1, 17))
    assert set(table["attempt"]) == {1, 2}
    assert len(list((resume.parent / "checkpoints").iterdir())) == 9


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_snakemake_stops_its_jobs_within_seconds(prepared, tmp_path,
                                                               signum):
    """Ctrl-C (SIGINT) or SIGTERM sent to snakemake's own process, a training running:
    the training stops within seconds instead of running to its end, snakemake exits,
    nothing finished-looking is left, and the next run plans the training again."""
    import psutil

    _project(prepared, tmp_path)
    configfile = _config(tmp_path, deep_merge(TINY, {"pet": {"training": {
        "epochs": 400, "checkpoint_every": 2}}}))
    target = "results/train/pet/pet-aug/seed_0/best_model.pt"
    resume = tmp_path / "results" / "train" / "pet" / "pet-aug" / "seed_0" / "resume"
    process, output = _start_until(tmp_path, configfile, resume / "epoch_2.ckpt", "1",
                                   target)
    jobs = psutil.Process(process.pid).children(recursive=True)
    assert any("train-pet" in " ".join(job.cmdline()) for job in jobs)
    os.kill(process.pid, signum)  # the snakemake process alone, not its group
    process.wait(timeout=60)
    _, alive = psutil.wait_procs(jobs, timeout=10)
    assert not alive, [" ".join(job.cmdline()) for job in alive]
    assert "stopped" in output.read_text(), output.read_text()[-3000:]
    assert not (tmp_path / target).exists()
    assert not (resume.parent / "checkpoints" / "epoch_400.ckpt").exists()
    snakemake(tmp_path, configfile, "--unlock")
    plan = snakemake(tmp_path, configfile, target, "-n")
    assert job_counts(plan.stdout, total=False).get("train_pet") == 1, plan.stdout[-3000:]
