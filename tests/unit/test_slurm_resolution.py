"""`snakemake --profile slurm` as Snakemake resolves it, without a cluster: every
combination of the optional SYMLEARN_SLURM_* variables parses and still asks for a GPU,
jobs get the threads the configuration asks for rather than the core count of the
machine that runs `snakemake`, and the README's SLURM commands run as written.
(tests/slurm runs the same profile against a real SLURM.)"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from project import README, ROOT, configuration, readme_slurm_commands
from snakemake_executor_plugin_slurm.utils import set_gres_string
from snakemake_executor_plugin_slurm_jobstep import get_cpu_setting

from symlearn import cluster
from symlearn.settings.resources import (
    EXTERNAL_GPU_RULES,
    GPU_RULES,
    cluster_cores,
    gpu_request,
    job_threads,
)

PROFILE = ROOT / "profiles" / "slurm"
# each variable, with the value a user might give it
VARIABLES = {"SYMLEARN_SLURM_ACCOUNT": "proj", "SYMLEARN_SLURM_PARTITION": "main",
             "SYMLEARN_SLURM_GPU_PARTITION": "gpu", "SYMLEARN_SLURM_GPU_MODEL": "a100",
             "SYMLEARN_SLURM_QOS": "high"}
COMBINATIONS = [dict(c) for n in range(len(VARIABLES) + 1)
                for c in itertools.combinations(VARIABLES.items(), n)]


def _parse(monkeypatch, env: dict[str, str], *extra: str):
    """Snakemake's own command-line parsing of `snakemake --profile profiles/slurm -n`
    from the repository root (the workflow profile included), with only ``env`` of the
    cluster variables set; argparse errors surface as SystemExit."""
    from snakemake.cli import parse_args

    for key in VARIABLES:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(ROOT)
    _, args = parse_args(["--profile", str(PROFILE), "-n", "--snakefile",
                          str(ROOT / "Snakefile"), *extra])
    return args


class _Resources(dict):
    """A job's resources as the SLURM plugin reads them (``.get`` and attributes)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _submitted(args, rule: str, config: dict, threads: int) -> dict[str, str]:
    """What a job of ``rule`` asks SLURM for under these options: its resources from
    the workflow (symlearn.settings.resources.gpu_request, threads as CPUs per GPU) under the
    profile's default and per-rule resources, rendered by the plugin's own functions."""
    resources = _Resources({key: value.raw for key, value in args.default_resources.items()})
    resources.update({key: value.raw for key, value in
                      (args.set_resources or {}).get(rule, {}).items()})
    resources.update(gpu_request(config, rule))
    if resources.get("gpu"):
        resources["cpus_per_gpu"] = threads
    job = SimpleNamespace(resources=resources, threads=threads)
    return {"gpus": set_gres_string(job).strip(),
            "cpus": get_cpu_setting(job, bool(resources.get("gpu"))),
            "partition": str(resources.get("slurm_partition", "")),
            "account": str(resources.get("slurm_account", ""))}


@pytest.mark.parametrize("env", COMBINATIONS,
                         ids=["+".join(k.removeprefix("SYMLEARN_SLURM_") for k in c) or "none"
                              for c in COMBINATIONS])
def test_every_combination_of_cluster_variables_resolves_and_asks_for_a_gpu(monkeypatch,
                                                                            env):
    args = _parse(monkeypatch, env)
    assert args.executor == "slurm"
    config = configuration()
    model = env.get("SYMLEARN_SLURM_GPU_MODEL")
    gpu_partition = env.get("SYMLEARN_SLURM_GPU_PARTITION") or \
        env.get("SYMLEARN_SLURM_PARTITION", "")
    # the analysis of an exported model too (it runs only with external.models)
    for rule in GPU_RULES + EXTERNAL_GPU_RULES:
        asked = _submitted(args, rule, config, threads=7)
        assert asked["gpus"] == (f"--gpus={model}:1" if model else "--gpus=1"), rule
        assert asked["cpus"] == "--cpus-per-gpu=7", rule
        assert asked["partition"] == gpu_partition, rule
        assert asked["account"] == env.get("SYMLEARN_SLURM_ACCOUNT", ""), rule
    cpu_job = _submitted(args, "make_atomistic", config, threads=1)
    assert cpu_job["gpus"] == "" and cpu_job["cpus"] == "--cpus-per-task=1"
    assert cpu_job["partition"] == env.get("SYMLEARN_SLURM_PARTITION", "")
    qos = getattr(args, "slurm_qos", None)
    assert (qos if isinstance(qos, str) else None) == env.get("SYMLEARN_SLURM_QOS")


def test_the_workflow_profile_sets_cores_to_this_machine(monkeypatch):
    """Why the workflow has to step in: `cores: all` of profiles/default (for local
    runs) wins over any general profile, so a cluster run starts with --cores set to
    the core count of the machine that runs `snakemake`."""
    args = _parse(monkeypatch, {})
    assert args.cores == len(os.sched_getaffinity(0)) or args.cores == os.cpu_count()


def test_cluster_cores_follow_the_configuration_not_the_machine():
    config = configuration("paper.yaml")
    most = max(job_threads(config).values())
    assert most == 8
    common = dict(main_process=True, submits_jobs=True, remote_job=False,
                  in_slurm_job=False)
    assert cluster_cores(config, **common) == most
    # inside a SLURM job, the job's own Snakemake processes
    assert cluster_cores(config, **dict(common, main_process=False, submits_jobs=False,
                                        remote_job=True, in_slurm_job=True)) == most
    # a local run, a local run inside a SLURM allocation, a remote job elsewhere
    assert cluster_cores(config, **dict(common, submits_jobs=False)) is None
    assert cluster_cores(config, **dict(common, submits_jobs=False,
                                        in_slurm_job=True)) is None
    assert cluster_cores(config, **dict(common, main_process=False, submits_jobs=False,
                                        remote_job=True)) is None


def test_job_threads_name_every_threaded_key_and_per_run_overrides():
    config = configuration()
    config["pet"]["runs"]["pet-aug"] = {**config["pet"]["runs"]["pet-aug"],
                                        "training": {"threads": 11}}
    threads = job_threads(config)
    assert threads["pet.runs.pet-aug.training.threads"] == 11
    assert {"analysis.pet.threads", "analysis.polarmae.threads",
            "polarmae.threads"} <= set(threads)


def test_use_threads_logs_what_slurm_allocated(monkeypatch, caplog):
    import torch

    before = torch.get_num_threads()
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    monkeypatch.delenv("SLURM_CPUS_ON_NODE", raising=False)
    try:
        with caplog.at_level("INFO", logger="symlearn.cluster"):
            assert cluster.use_threads(2) == 2
    finally:
        torch.set_num_threads(before)
    assert "threads: 2 (--threads 2; SLURM job 42 was allocated 1 CPUs on this node)" \
        in caplog.text
    assert "oversubscribed" in caplog.text


def _threads_in(output: str) -> set[int]:
    return {int(n) for n in re.findall(r"--threads (\d+)", output)}


@pytest.fixture(scope="module")
def fresh_tree(tmp_path_factory):
    """This repository's files as a fresh clone has them (tracked and new files, no
    results, no .snakemake), and a HOME of its own for the profile's install line."""
    tree = tmp_path_factory.mktemp("clone") / "symlearn"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, tree / name)
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SYMLEARN_SLURM_") and k != "XDG_CONFIG_HOME"}
    env.update(HOME=str(home),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]]))
    return tree, env


@pytest.mark.slow
def test_readme_slurm_commands_run_as_written(fresh_tree):
    """The install line, then each dry run the README shows, from the root of a fresh
    tree with none of the cluster variables set; then again with the README's example
    values. Every threaded job carries its configured threads, whatever this machine's
    core count."""
    tree, env = fresh_tree
    lines = readme_slurm_commands()
    [install] = [line for line in lines if line.startswith("mkdir -p")]
    dry_runs = [line for line in lines if line.startswith("snakemake") and " -n" in line]
    assert "snakemake --profile slurm -n" in dry_runs
    assert "snakemake --profile slurm -n --configfile config/paper.yaml" in dry_runs
    exports = dict(re.match(r"export (\w+)=(\S+)", line).groups()
                   for line in lines if line.startswith("export "))
    assert set(exports) == set(VARIABLES)
    subprocess.run(["bash", "-c", install], cwd=tree, env=env, check=True)
    assert (Path(env["HOME"]) / ".config" / "snakemake" / "slurm").resolve() == \
        (tree / "profiles" / "slurm").resolve()
    for variables in ({}, exports):
        for command in dry_runs:
            result = subprocess.run(["bash", "-c", command], cwd=tree,
                                    env=dict(env, **variables), capture_output=True,
                                    text=True)
            output = result.stdout + result.stderr
            assert result.returncode == 0, f"{command} ({variables}):\n{output[-3000:]}"
            assert "Using profiles slurm and workflow specific profile" in output
            config = configuration("paper.yaml" if "paper.yaml" in command else "config.yaml")
            assert _threads_in(output) == set(job_threads(config).values()), command
            if "paper.yaml" in command:  # what the README says this dry run prints
                quoted = re.search(r"paper\.yaml` prints `--threads (\d+)`",
                                   " ".join(README.read_text().split()))
                assert quoted and _threads_in(output) == {int(quoted.group(1))}
    assert not (tree / "results").exists()


@pytest.mark.slow
def test_a_local_dry_run_still_caps_threads_at_this_machine(tmp_path):
    """Without the cluster profile, `snakemake` runs jobs here: threads stay within this
    machine's cores (paper.yaml asks for 8)."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(ROOT / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(ROOT / "config" / "paper.yaml"),
         "--cores", "2"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _threads_in(result.stdout + result.stderr) == {2}
