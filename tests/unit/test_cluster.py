"""What a job was given: the device `auto` picks under SLURM, one process per training,
SIGTERM cleaning up, and the SLURM profile as Snakemake reads it."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

import pytest
import torch

from symlearn import cli
from symlearn.cluster import (
    SeveralTasks,
    device_problem,
    resolve_device,
    single_process,
    slurm_gpus,
)
from symlearn.io import atomic_path
from symlearn.settings.resources import EXTERNAL_GPU_RULES, GPU_RULES

SLURM_VARIABLES = ("SLURM_JOB_ID", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_STEP_GPUS",
                   "SLURM_JOB_GPUS", "SLURM_GPUS_ON_NODE")


@pytest.fixture()
def outside_slurm(monkeypatch):
    for name in SLURM_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture()
def cuda_visible(outside_slurm):
    """A machine where torch sees one GPU."""
    outside_slurm.setattr(torch.cuda, "is_available", lambda: True)
    outside_slurm.setattr(torch.cuda, "get_device_name", lambda index=0: "Test GPU")
    return outside_slurm


def test_explicit_devices(outside_slurm):
    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="'cuda:1' was requested but torch .* sees no"):
            resolve_device("cuda:1")


def test_a_named_gpu_this_machine_lacks_is_said(outside_slurm):
    """device_problem, which the workflow calls at start for an explicit cuda: no CUDA
    at all, or an index beyond the devices there are; None when the device exists."""
    outside_slurm.setattr(torch.cuda, "is_available", lambda: False)
    assert "sees no CUDA device here; use device: cpu, or auto" in device_problem("cuda")
    assert device_problem("cpu") is None
    outside_slurm.setattr(torch.cuda, "is_available", lambda: True)
    outside_slurm.setattr(torch.cuda, "device_count", lambda: 2)
    assert device_problem("cuda:1") is None and device_problem("cuda") is None
    assert device_problem("cuda:7") == ("device 'cuda:7' was requested but this machine "
                                        "has 2 CUDA device(s) (cuda:0 to cuda:1)")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_the_workflow_refuses_a_named_gpu_at_start(tmp_path, root):
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(root / "Snakefile"),
         "--directory", str(tmp_path), "--config", "device=cuda:7"],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode != 0
    assert "device: device 'cuda:7' was requested but torch" in done.stdout + done.stderr
    assert not (tmp_path / "results").exists()


def test_auto_outside_slurm_takes_a_visible_gpu(cuda_visible, caplog):
    with caplog.at_level(logging.INFO, logger="symlearn.cluster"):
        assert resolve_device("auto") == "cuda"
    assert "device auto: cuda (this machine: Test GPU)" in caplog.text


def test_auto_in_a_slurm_job_without_a_gpu_stays_on_the_cpu(cuda_visible, caplog):
    """The node's GPUs belong to other jobs: a job given none must not take one."""
    cuda_visible.setenv("SLURM_JOB_ID", "42")
    cuda_visible.setenv("SLURM_GPUS_ON_NODE", "0")
    with caplog.at_level(logging.INFO, logger="symlearn.cluster"):
        assert resolve_device("auto") == "cpu"
    assert "SLURM job 42 was allocated no GPU" in caplog.text


@pytest.mark.parametrize("variable", ["SLURM_STEP_GPUS", "SLURM_JOB_GPUS"])
def test_auto_in_a_slurm_job_with_a_gpu_uses_it(cuda_visible, variable, caplog):
    cuda_visible.setenv("SLURM_JOB_ID", "42")
    cuda_visible.setenv(variable, "0")
    with caplog.at_level(logging.INFO, logger="symlearn.cluster"):
        assert resolve_device("auto") == "cuda"
    assert "SLURM job 42, GPUs 0: Test GPU" in caplog.text


def test_auto_with_an_allocated_gpu_but_no_cuda_falls_back_and_says_why(outside_slurm,
                                                                         caplog):
    outside_slurm.setattr(torch.cuda, "is_available", lambda: False)
    outside_slurm.setenv("SLURM_JOB_ID", "7")
    outside_slurm.setenv("SLURM_GPUS_ON_NODE", "1")
    with caplog.at_level(logging.INFO, logger="symlearn.cluster"):
        assert resolve_device("auto") == "cpu"
    assert "SLURM job 7 was allocated GPUs 1 GPU(s), but torch" in caplog.text


def test_slurm_gpu_variables(outside_slurm):
    assert slurm_gpus() is None
    outside_slurm.setenv("SLURM_GPUS_ON_NODE", "0")
    assert slurm_gpus() is None
    outside_slurm.setenv("SLURM_JOB_GPUS", "0,1")
    assert slurm_gpus() == "0,1"


def test_single_process_hides_extra_tasks_from_metatrain(outside_slurm, caplog):
    """metatrain would turn on distributed training in a job of 4 tasks; task 0 trains
    alone, and the job's environment is as it was afterwards."""
    from metatrain.utils.distributed.slurm import resolve_distributed

    outside_slurm.setenv("SLURM_JOB_ID", "9")
    outside_slurm.setenv("SLURM_PROCID", "0")
    outside_slurm.setenv("SLURM_NTASKS", "4")
    assert resolve_distributed(None) is True
    with caplog.at_level(logging.WARNING, logger="symlearn.cluster"):
        with single_process("training"):
            assert resolve_distributed(None) is False
    assert "SLURM job 9 has 4 tasks; training trains in this one process only" in caplog.text
    assert os.environ["SLURM_NTASKS"] == "4"


def test_single_process_stops_the_other_tasks(outside_slurm):
    outside_slurm.setenv("SLURM_JOB_ID", "9")
    outside_slurm.setenv("SLURM_PROCID", "2")
    outside_slurm.setenv("SLURM_NTASKS", "4")
    with pytest.raises(SeveralTasks, match=r"started as task 2 of 4 of SLURM job 9; start "
                                           r"it with one task \(srun -n 1\)"):
        with single_process("training"):
            pytest.fail("a second task must not train")


def test_train_command_refuses_a_second_task(outside_slurm, tmp_path, capsys):
    outside_slurm.setenv("SLURM_JOB_ID", "9")
    outside_slurm.setenv("SLURM_PROCID", "1")
    outside_slurm.setenv("SLURM_NTASKS", "2")
    code = cli.main(["train-polarmae", "pretrain", "--settings", "{}", "--train", "x.h5",
                     "--val", "y.h5", "--out-dir", str(tmp_path / "run")])
    assert code == 2
    assert "symlearn train-polarmae: error: symlearn train-polarmae pretrain runs in one " \
           "process, but it was started as task 1 of 2" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_sigterm_unwinds_and_removes_temporary_files(tmp_path):
    """What scancel or a time limit sends: the unfinished output's temporary file goes,
    and nothing appears under the final name."""
    previous = signal.signal(signal.SIGTERM, cli._terminate)
    try:
        with pytest.raises(SystemExit) as stopped:
            with atomic_path(tmp_path / "table.csv") as tmp:
                tmp.write_text("half a table")
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):  # the handler runs between bytecodes
                    pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


CLUSTER_KEYS = ("SYMLEARN_SLURM_ACCOUNT", "SYMLEARN_SLURM_PARTITION",
                "SYMLEARN_SLURM_GPU_PARTITION", "SYMLEARN_SLURM_GPU_MODEL",
                "SYMLEARN_SLURM_QOS")


@pytest.fixture()
def profile(root, monkeypatch):
    """profiles/slurm/config.yaml as Snakemake's profile parser turns it into options,
    with only the given cluster variables set."""
    from snakemake.profiles import ProfileConfigFileParser

    def parse(**env: str) -> dict:
        for key in CLUSTER_KEYS:
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        with open(root / "profiles" / "slurm" / "config.yaml") as handle:
            return dict(ProfileConfigFileParser().parse(handle))
    return parse


def test_profile_without_cluster_values_names_no_partition(profile):
    options = profile()
    assert options["executor"] == "slurm"
    assert sorted(options["default-resources"]) == ["mem_mb=4000", "runtime=60"]
    assert options.get("set-resources", []) == []
    assert "slurm-qos" not in options
    assert options["slurm-array-jobs"] == "analyse_pet,analyse_polarmae"
    assert int(options["retries"]) >= 1


def test_profile_takes_the_cluster_values_from_the_environment(profile):
    options = profile(SYMLEARN_SLURM_ACCOUNT="proj", SYMLEARN_SLURM_PARTITION="cpu",
                      SYMLEARN_SLURM_GPU_PARTITION="gpu", SYMLEARN_SLURM_GPU_MODEL="a100",
                      SYMLEARN_SLURM_QOS="high")
    assert set(options["default-resources"]) >= {"slurm_partition=cpu",
                                                 "slurm_account=proj"}
    expected = {f"{rule}:{key}" for rule in GPU_RULES + EXTERNAL_GPU_RULES
                for key in ("slurm_partition=gpu", "gpu_model=a100")}
    assert set(options["set-resources"]) == expected
    assert options["slurm-qos"] == "high"


def test_gpu_partition_defaults_to_the_cpu_partition(profile):
    options = profile(SYMLEARN_SLURM_PARTITION="main")
    assert set(options["set-resources"]) == {f"{rule}:slurm_partition=main"
                                             for rule in GPU_RULES + EXTERNAL_GPU_RULES}


def test_profile_and_workflow_agree_on_the_gpu_rules(root):
    """The profile sends these rules to the GPU partition; the workflow asks a GPU for
    exactly these (symlearn.settings.resources.GPU_RULES, used by common.smk's job_resources, and
    EXTERNAL_GPU_RULES, the analysis of an exported model: it was left out once, and its
    jobs asked for a GPU on the CPU partition)."""
    import yaml

    text = (root / "profiles" / "slurm" / "config.yaml").read_text()
    definitions = yaml.safe_load(text)["__definitions__"]
    [line] = [d for d in definitions if d.startswith("gpu_rules")]
    assert tuple(eval(line.split("=", 1)[1])) == GPU_RULES + EXTERNAL_GPU_RULES
    from symlearn.settings.resources import RUN_ANALYSIS_RESOURCES

    smk = "".join(p.read_text() for p in (root / "workflow" / "rules").glob("*.smk"))
    for rule in GPU_RULES:
        if rule in RUN_ANALYSIS_RESOURCES:
            # a per-run analysis: its per-checkpoint rule's resources, times its checkpoints
            assert f'"{rule}"' in smk, rule
            assert f'**job_resources("{RUN_ANALYSIS_RESOURCES[rule]}", checkpoints=' in smk
        else:
            assert f'**job_resources("{rule}")' in smk, rule


def test_cpu_only_run_with_a_gpu_model_stops_before_submitting(root, tmp_path):
    """`--gpus=MODEL:0` would stay pending forever: the workflow names the setting."""
    import subprocess
    import sys

    env = dict(os.environ, SYMLEARN_SLURM_GPU_MODEL="a100")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--profile", str(root / "profiles/slurm"),
         "--snakefile", str(root / "Snakefile"), "--directory", str(tmp_path),
         "--config", "device=cpu"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "device: cpu, but a GPU model is set for train_pet" in result.stderr + \
        result.stdout


def test_bad_input_is_one_line_and_a_bug_keeps_its_traceback(monkeypatch, capsys):
    """The command line catches the one base class of bad-input errors (exit 2, one
    line naming the command); any other exception is a bug and is not disguised as
    bad input. Every error class of the package derives from the base."""
    from symlearn import errors
    from symlearn.data.extxyz import DataError
    from symlearn.data.fetch import FetchError
    from symlearn.errors import ConfigError
    from symlearn.figures.tables import FigureError
    from symlearn.pet.train import CheckpointError
    from symlearn.symmetry.quadrature import GridTooCoarse

    for kind in (ConfigError, DataError, FetchError, FigureError, GridTooCoarse,
                 CheckpointError, SeveralTasks):
        assert issubclass(kind, errors.SymlearnError), kind

    def raising(error):
        def command(args):
            raise error
        return command

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    action = parser._subparsers._group_actions[0].choices["check-config"]
    action.set_defaults(func=raising(DataError("x.xyz: frame 3 has no 'forces'")))
    assert cli.main(["check-config", "any.yaml"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == \
        "symlearn check-config: error: x.xyz: frame 3 has no 'forces'"
    action.set_defaults(func=raising(KeyError("a bug")))
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["check-config", "any.yaml"])
