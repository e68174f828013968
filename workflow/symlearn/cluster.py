"""What a job was given by the machine or the scheduler that runs it: the device
(``device: auto``), its CPU threads and, on SLURM, one process per training run.

Under SLURM a node may hold GPUs that belong to other jobs: ``auto`` takes a GPU only
when the job was allocated one (SLURM exports ``CUDA_VISIBLE_DEVICES`` and
``SLURM_*GPUS*`` for it), so a CPU job never lands on someone else's GPU.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator

import torch

from .errors import SymlearnError

LOGGER = logging.getLogger(__name__)


def slurm_job() -> str | None:
    """The SLURM job id this process runs in, or None outside SLURM."""
    return os.environ.get("SLURM_JOB_ID") or None


def slurm_gpus() -> str | None:
    """The GPUs SLURM allocated to this job (as it names them), or None."""
    for name in ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS"):  # GPU indices, e.g. "0,1"
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    count = os.environ.get("SLURM_GPUS_ON_NODE", "").strip()  # a count
    return f"{count} GPU(s)" if count not in ("", "0") else None


def slurm_cpus() -> int | None:
    """The CPUs SLURM allocated to this job step on this node, or None when SLURM does
    not say (outside SLURM, or where an executor cleared the job's variables)."""
    for name in ("SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE"):
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return None


def use_threads(threads: int | None) -> int:
    """Run torch on ``threads`` CPU threads (the job's ``--threads``; None: torch's
    default), and log them beside what SLURM allocated, so that a job's log shows
    whether it uses the CPUs it was given. Returns the threads torch now uses."""
    if threads:
        torch.set_num_threads(int(threads))
    used = torch.get_num_threads()
    job, cpus = slurm_job(), slurm_cpus()
    given = f"--threads {threads}" if threads else "no --threads"
    where = (f"; SLURM job {job} was allocated {cpus} CPUs on this node" if cpus
             else f"; SLURM job {job}" if job else "")
    LOGGER.info("threads: %d (%s%s)", used, given, where)
    if cpus is not None and used > cpus:
        LOGGER.warning("%d threads on %d allocated CPUs: the job is oversubscribed",
                       used, cpus)
    return used


DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]+)?")


class DeviceError(SymlearnError, RuntimeError):
    """The device asked for cannot be used here."""


def device_problem(device: str) -> str | None:
    """Why the explicitly named ``device`` (``cpu``, ``cuda``, ``cuda:N``) cannot be used
    by this process, or None. ``auto`` always can."""
    if not DEVICE.fullmatch(device):
        return (f"device {device!r} is not one of auto, cpu, cuda or cuda:N")
    if not device.startswith("cuda"):
        return None
    if not torch.cuda.is_available():
        return (f"device {device!r} was requested but torch {torch.__version__} sees no "
                "CUDA device here; use device: cpu, or auto (a GPU where a job has one)")
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        return (f"device {device!r} was requested but this machine has "
                f"{torch.cuda.device_count()} CUDA device(s) (cuda:0 to "
                f"cuda:{torch.cuda.device_count() - 1})")
    return None


def resolve_device(device: str) -> str:
    """The torch device of ``device``: ``cpu``, ``cuda[:N]``, or ``auto``.

    ``auto`` is CUDA when this process can see a GPU and, inside a SLURM job, when the
    job was allocated one; otherwise the CPU. The choice and its reason are logged.
    An explicit ``cuda`` without CUDA is an error, not a silent fallback.
    """
    if device != "auto":
        problem = device_problem(device)
        if problem:
            raise DeviceError(problem)
        return device
    job = slurm_job()
    if job is not None and slurm_gpus() is None:
        LOGGER.info("device auto: cpu (SLURM job %s was allocated no GPU)", job)
        return "cpu"
    if torch.cuda.is_available():
        where = f"SLURM job {job}, GPUs {slurm_gpus()}" if job else "this machine"
        LOGGER.info("device auto: cuda (%s: %s)", where, torch.cuda.get_device_name(0))
        return "cuda"
    reason = (f"SLURM job {job} was allocated GPUs {slurm_gpus()}, but torch "
              f"{torch.__version__} sees no CUDA device" if job
              else "torch sees no CUDA device")
    LOGGER.info("device auto: cpu (%s)", reason)
    return "cpu"


class SeveralTasks(SymlearnError, RuntimeError):
    """A single-process step was started as one of several SLURM tasks."""


@contextlib.contextmanager
def single_process(step: str) -> Iterator[None]:
    """Run ``step`` as one process, whatever SLURM says about the job's tasks.

    metatrain turns on distributed training by itself when ``SLURM_NTASKS`` > 1;
    symlearn's trainings write their checkpoints from one process and offer no
    distributed mode. In a job of several tasks, task 0 trains alone (metatrain is
    shown a single task) and any other task stops with an error instead of training a
    second copy into the same folder.
    """
    tasks = int(os.environ.get("SLURM_NTASKS", "1") or 1) if slurm_job() else 1
    if tasks <= 1:
        yield
        return
    rank = os.environ.get("SLURM_PROCID", "0")
    if rank != "0":
        raise SeveralTasks(
            f"{step} runs in one process, but it was started as task {rank} of "
            f"{tasks} of SLURM job {slurm_job()}; start it with one task (srun -n 1)")
    LOGGER.warning("SLURM job %s has %d tasks; %s trains in this one process only",
                   slurm_job(), tasks, step)
    saved = os.environ["SLURM_NTASKS"]
    os.environ["SLURM_NTASKS"] = "1"
    try:
        yield
    finally:
        os.environ["SLURM_NTASKS"] = saved
