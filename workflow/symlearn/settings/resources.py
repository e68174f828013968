"""The ``resources`` section and the cluster: which rules ask for a GPU, the threads
each job asks for, and Snakemake's core count on a cluster (profiles/slurm/)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import external, pet, polarmae

#: the rules whose jobs ask a cluster for a GPU (each family's settings module lists
#: its own; profiles/slurm/config.yaml's gpu_rules must be these and EXTERNAL_GPU_RULES,
#: which tests/unit/test_cluster.py checks)
GPU_RULES = pet.GPU_RULES + polarmae.GPU_RULES
#: GPU rules that run only when the configuration names an exported model
EXTERNAL_GPU_RULES = external.GPU_RULES
#: the checkpoint analysis rules of each analysis.jobs setting (only one set is defined)
ANALYSIS_RULES = {"per_checkpoint": ("analyse_pet", "analyse_polarmae"),
                  "per_run": ("analyse_pet_run", "analyse_pet_geometric_run",
                              "analyse_polarmae_pretrain_run",
                              "analyse_polarmae_finetune_run")}


#: a per-run analysis rule -> the resources entry it takes (its runtime per checkpoint)
RUN_ANALYSIS_RESOURCES = {"analyse_pet_run": "analyse_pet",
                          "analyse_pet_geometric_run": "analyse_pet",
                          "analyse_polarmae_pretrain_run": "analyse_polarmae",
                          "analyse_polarmae_finetune_run": "analyse_polarmae"}


def gpu_request(config: Mapping[str, Any], rule: str) -> dict[str, int]:
    """The GPU a job of ``rule`` asks a cluster for: one for GPU_RULES, none for the
    other rules or with ``device: cpu``. (The rules add their threads as CPUs per GPU;
    the SLURM profile may add a partition and a GPU model.)"""
    gpu = rule in GPU_RULES + EXTERNAL_GPU_RULES
    return {"gpu": 1} if gpu and config["device"] != "cpu" else {}


def job_threads(config: Mapping[str, Any]) -> dict[str, int]:
    """The CPU threads each threaded job of this configuration asks for, by the key
    that sets them (every other job runs on one thread)."""
    threads = {**pet.pet_job_threads(config), **polarmae.polarmae_job_threads(config),
               **external.external_job_threads(config)}
    return {key: int(value) for key, value in threads.items()}


def cluster_cores(config: Mapping[str, Any], *, main_process: bool, submits_jobs: bool,
                  remote_job: bool, in_slurm_job: bool) -> int | None:
    """Snakemake's ``--cores`` for a process of a cluster run, or None to keep its own.

    Snakemake caps every job's threads at ``--cores``, for remote jobs too. On a
    cluster that number means nothing for a job: the workflow profile's ``cores: all``
    is the core count of the login node that runs ``snakemake``, and inside a job
    Snakemake counts the cores it sees, which on a node without CPU binding is not
    the allocation. Either would cut a job below the threads it asked SLURM for,
    leaving allocated CPUs idle. So:

    - ``main_process`` and ``submits_jobs`` (Snakemake's remote job limit, ``--jobs``,
      is set, the case in which its own scheduler drops the local core limit too):
      the most threads any job asks for; the jobs get this as their ``--cores``;
    - ``remote_job`` (a job's own Snakemake, started by the executor) ``in_slurm_job``:
      the same number, so the job runs with the threads its allocation was sized for;
    - anything else (a local run): None, Snakemake's own count stands.

    ``--max-threads`` still caps every job's threads.
    """
    if (main_process and submits_jobs) or (remote_job and in_slurm_job):
        return max(job_threads(config).values())
    return None


def resource_errors(config: Mapping[str, Any]) -> list[str]:
    """An analysis job asks for more memory than its own sums may take."""
    errors = []
    budget = config["analysis"]["pet"]["memory_gb"]
    for rule in ("analyse_pet", "purify_pet"):
        mem_mb = (config["resources"].get(rule) or {}).get("mem_mb")
        if mem_mb is not None and mem_mb <= budget * 1024:
            errors.append(f"resources.{rule}.mem_mb: {mem_mb} MB is not above "
                          f"analysis.pet.memory_gb ({budget:g} GiB), the memory its "
                          "character sums alone may take; the job would be killed")
    return errors
