"""`snakemake --profile slurm` against a real one-node SLURM (tests/slurm/cluster.py):
the README's install line, a tiny configuration of the whole pipeline run to the end
through the scheduler with every cluster variable set, smaller runs with none set and
with only the GPU model set whose jobs ask for more threads than this machine has
cores, what each job asked the scheduler for (its own record), a job that fails once
and is retried, and a job cancelled with scancel.

Needs root and Debian's slurmctld, slurmd, slurm-client and munge. Without them the
tests are skipped and say why; with SYMLEARN_REQUIRE_SLURM=1 (set by .ci/run) they fail
instead, as they do whenever SLURM is installed but cannot start.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from cluster import GPU_TYPE, SlurmUnavailable, missing, start  # noqa: E402
from project import readme_slurm_commands

from symlearn.pet.train import load_checkpoint
from symlearn.settings.base import deep_merge
from symlearn.settings.resources import ANALYSIS_RULES, GPU_RULES, RUN_ANALYSIS_RESOURCES

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from test_workflow import TINY, _config  # noqa: E402

# the tiny configuration of the integration test, with two checkpoints per run, one
# geometric run and one purified run: every rule still runs, in fewer jobs (the
# integration test runs the rest)
SLURM_TINY = deep_merge(TINY, {
    "pet": {"training": {"checkpoint_every": 4}, "runs": {"geo-sh2": None,
                                                           "geo-control": None}},
    "polarmae": {"pretrain": {"checkpoint_every": 4}, "finetune": {"checkpoint_every": 4}},
    "analysis": {"purification": {"runs": ["pet-aug"]}},
})
# the cluster's own values, given the way the README tells users to give theirs: all of
# them for the full run (without an accounting database SLURM accepts any account, and
# takes a QOS without recording it) ...
ALL_SETTINGS = {"SYMLEARN_SLURM_ACCOUNT": "symlearn-test", "SYMLEARN_SLURM_PARTITION": "cpu",
                "SYMLEARN_SLURM_GPU_PARTITION": "gpu", "SYMLEARN_SLURM_GPU_MODEL": GPU_TYPE,
                "SYMLEARN_SLURM_QOS": "normal"}
# ... and, for the smaller runs, none, or only the GPU model
SMALL_RUN_SETTINGS = {"no-variables": {}, "gpu-model-only": {"SYMLEARN_SLURM_GPU_MODEL": GPU_TYPE}}
# the node declares more CPUs than this machine has, and the smaller runs' GPU jobs ask
# for more threads than this machine's cores: they must get them, from SLURM and on
# their own command line, not the core count of the machine that runs `snakemake`
MACHINE_CORES = len(os.sched_getaffinity(0))
DECLARED_CPUS = 4 * MACHINE_CORES
ABOVE_CORES = MACHINE_CORES + 2
# what a cluster without an accounting daemon needs (docs/slurm.md), and faster polling
TEST_CLUSTER_OPTIONS = ("--slurm-status-command", "squeue",
                        "--slurm-init-seconds-before-status-checks", "1",
                        "--seconds-between-status-checks", "2")
# the training killed once in the full run, and the one cancelled in the last test (the
# scheduler's comment names the rule and its wildcards, run then seed, joined by "_")
KILLED_RUN = "pet-aug"
KILLED = f"rule_train_pet_wildcards_{KILLED_RUN}_0"
CANCELLED = "rule_train_pet_wildcards_pet-noaug_0"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why = missing()
    if why and os.environ.get("SYMLEARN_REQUIRE_SLURM") != "1":
        pytest.skip(f"no SLURM test cluster here: {why}")
    home = tmp_path_factory.mktemp("home")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("SYMLEARN_SLURM_") and key != "XDG_CONFIG_HOME"}
    env["HOME"] = str(home)
    # `python` in the jobs is this interpreter (they inherit the environment)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    try:
        running = start(env, cpus=DECLARED_CPUS)
    except SlurmUnavailable as err:
        pytest.fail(f"SLURM could not start: {err}")
    yield running
    running.stop()


def _install_line() -> str:
    """The README's one-line install of the profile into Snakemake's profile folder."""
    lines = [line for line in readme_slurm_commands()
             if "profiles/slurm" in line and line.startswith("mkdir -p")]
    assert len(lines) == 1, f"README should show one install line, found {lines}"
    return lines[0]


def _snakemake(cluster, directory: Path, configfile: Path, *args: str,
               settings: dict[str, str] = ALL_SETTINGS) -> subprocess.Popen:
    """`snakemake --profile slurm` on ``directory``, with the cluster variables
    ``settings`` (and no other) set."""
    command = [sys.executable, "-m", "snakemake", "--profile", "slurm",
               "--snakefile", str(ROOT / "Snakefile"), "--directory", str(directory),
               "--configfile", str(configfile), *TEST_CLUSTER_OPTIONS, *args]
    return subprocess.Popen(command, cwd=ROOT, env=dict(cluster.env, **settings),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _jobs_of(cluster, comment: str, state: str | None = None) -> list[dict[str, str]]:
    return [job for job in cluster.jobs() if job.get("Comment") == comment
            and (state is None or job["JobState"] == state)]


def _training_process(run: str, directory: Path, seed: int = 0) -> int | None:
    """The pid of the `symlearn train-pet` process of ``run`` (its ``seed``) working in
    ``directory``, if one is running. The folder matters: another test file, run beside this one by
    pytest-xdist, trains a run of the same name in its own folder."""
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
            if b"train-pet" not in command:
                continue
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        if cwd == directory and any(arg.endswith(f"/pet/{run}/seed_{seed}".encode())
                                    for arg in command):
            return int(proc.name)
    return None


def _kill_once_running(run: str, directory: Path, done: threading.Event,
                       killed: list) -> None:
    """Kill the training of ``run`` in ``directory`` as soon as its process appears (as
    a crash or the kernel's OOM killer would): the job fails, and the profile's retries
    resubmit it."""
    while not done.is_set():
        pid = _training_process(run, directory)
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.05)


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    """The README's install line, then the tiny pipeline through `--profile slurm` with
    one training job killed once."""
    subprocess.run(["bash", "-c", _install_line()], cwd=ROOT, env=cluster.env, check=True)
    directory = tmp_path_factory.mktemp("slurm_workflow")
    configfile = _config(directory, SLURM_TINY)
    done, killed = threading.Event(), []
    watcher = threading.Thread(target=_kill_once_running,
                               args=(KILLED_RUN, directory.resolve(), done, killed), daemon=True)
    watcher.start()
    start_time = time.monotonic()
    process = _snakemake(cluster, directory, configfile)
    output, _ = process.communicate(timeout=1500)
    done.set()
    watcher.join()
    print(f"tiny pipeline through SLURM: {time.monotonic() - start_time:.0f} s")
    assert process.returncode == 0, output[-6000:] + cluster.log_tail()
    jobs = cluster.jobs()
    print(f"every variable set ({ALL_SETTINGS}), the first job of each rule:")
    for job in sorted({_rule(j): j for j in sorted(jobs, key=lambda j: -int(j["JobId"]))}
                      .values(), key=lambda job: int(job["JobId"])):
        print("  " + _record(job))
    return directory, configfile, output, killed, jobs


#: the rules that run where snakemake runs (localrules; the downloads are not in this run)
LOCAL_RULES = {"collect_pet_analysis", "collect_geometric_analysis", "collect_purification",
               "collect_polarmae_analysis", "quadrature_table", "provenance", "fig1",
               "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "table1", "learnability",
               "claims",
               "collect_benchmarks", "figure_cost"}


def _rule(job: dict[str, str]) -> str:
    return re.match(r"rule_(\w+?)(_wildcards_.*)?$", job["Comment"]).group(1)


# what the closing notes and a reader want to see of a job's record
RECORD_FIELDS = ("JobId", "ArrayTaskId", "Partition", "Account", "NumCPUs", "CpusPerTres",
                 "TresPerJob", "MinMemoryNode", "TimeLimit", "JobState")


def _record(job: dict[str, str]) -> str:
    return f"{_rule(job)}: " + " ".join(f"{key}={job[key]}" for key in RECORD_FIELDS
                                        if key in job)


def test_profile_installs_and_resolves_by_name(slurm_run, cluster):
    home = Path(cluster.env["HOME"])
    link = home / ".config" / "snakemake" / "slurm"
    assert link.is_symlink() and link.resolve() == (ROOT / "profiles" / "slurm").resolve()
    _, _, output, _, _ = slurm_run
    # found by name in Snakemake's user profile folder (there is no ./slurm)
    assert "Using profiles slurm and workflow specific profile" in output
    assert not (ROOT / "slurm").exists()


def test_pipeline_finishes_through_slurm(slurm_run):
    directory, _, output, _, jobs = slurm_run
    figures = directory / "results" / "figures"
    for name in ("fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8"):
        assert (figures / f"{name}.png").stat().st_size > 0
    assert (figures / "table1.csv").exists()
    assert re.search(r"(\d+) of \1 steps \(100%\) done", output)
    # every job but the local rules (tables and figures) and the target went through
    # the scheduler; the checkpoint analyses one job per run (analysis.jobs: per_run,
    # the default)
    submitted = {_rule(job) for job in jobs}
    assert set(GPU_RULES) - set(ANALYSIS_RULES["per_checkpoint"]) <= submitted
    assert not set(ANALYSIS_RULES["per_checkpoint"]) & submitted
    assert {"make_atomistic", "make_lartpc", "prepare_pet_data", "geometric_targets",
            "polarmae_example"} <= submitted
    assert not LOCAL_RULES & submitted, LOCAL_RULES & submitted
    # ... and ran here: every job's record, but the two that collect the records
    ran = set(pd.read_csv(directory / "results" / "benchmarks.csv")["rule"])
    assert LOCAL_RULES - {"collect_benchmarks", "figure_cost"} <= ran
    assert (figures / "cost.png").stat().st_size > 0


def test_gpu_rules_asked_for_a_gpu_on_the_gpu_partition(slurm_run):
    """From the scheduler's record of each job, with every cluster variable set: the
    training and analysis jobs asked for one GPU of the configured model on the GPU
    partition, with their threads as CPUs per GPU and their configured memory and time;
    the rest asked for no GPU; all were charged to the configured account."""
    _, configfile, _, _, jobs = slurm_run
    config = yaml.safe_load(configfile.read_text())
    for job in jobs:
        rule = _rule(job)
        if rule in GPU_RULES:
            assert job["Partition"] == "gpu", job
            assert job.get("TresPerJob") == f"gres:gpu:{GPU_TYPE}:1", job
            assert job.get("CpusPerTres") == "gres:gpu:1", job
            memory = int(job["MinMemoryNode"].rstrip("M"))
            asked = config["resources"][RUN_ANALYSIS_RESOURCES.get(rule, rule)]["mem_mb"]
            assert memory in (asked, asked + 1, 2 * asked, 2 * asked + 1), job  # +1: arrays
        else:
            assert job["Partition"] == "cpu", job
            assert "gpu" not in job.get("TresPerJob", ""), job
        assert job["Account"] == ALL_SETTINGS["SYMLEARN_SLURM_ACCOUNT"], job
    for rule in GPU_RULES:
        attempts = [j for j in jobs if _rule(j) == rule]
        if rule in ANALYSIS_RULES["per_checkpoint"]:
            assert not attempts
            continue
        first_attempt = min(attempts, key=lambda job: int(job["JobId"]))
        minutes = config["resources"][RUN_ANALYSIS_RESOURCES.get(rule, rule)]["runtime"]
        if rule in RUN_ANALYSIS_RESOURCES:
            # the runtime of one checkpoint's analysis, times the job's checkpoints: 2
            # (PET: epochs 0 and 4; PoLAr-MAE: steps 0 and 4 of one phase)
            minutes *= 2
        assert first_attempt["TimeLimit"] == f"{minutes // 60:02d}:{minutes % 60:02d}:00"


def test_checkpoint_analyses_went_in_as_job_arrays(small_run):
    """With analysis.jobs: per_checkpoint (the smaller runs), the two checkpoint
    analyses of the pre-training, ready together, went in as one SLURM array."""
    _, _, _, jobs = small_run
    tasks = [job for job in jobs if _rule(job) == "analyse_polarmae"]
    assert len(tasks) == 2 and all("ArrayTaskId" in job for job in tasks), tasks
    assert len({job["ArrayJobId"] for job in tasks}) == 1, tasks


def test_jobs_take_the_device_they_were_given(slurm_run):
    """`device: auto` follows the allocation: a GPU job was given a GPU (this torch has
    no CUDA, so it says so and uses the CPU); a CPU job was given none."""
    directory, _, _, _, _ = slurm_run
    logs = directory / "results" / "logs"
    gpu_log = (logs / "train_pet" / "pet-noaug" / "seed_0.log").read_text()
    if not torch.cuda.is_available():
        assert re.search(r"device auto: cpu \(SLURM job \d+ was allocated GPUs \S+, but "
                         r"torch \S+ sees no CUDA device\)", gpu_log), gpu_log[:2000]
    cpu_log = (logs / "polarmae_example.log").read_text()
    assert re.search(r"device auto: cpu \(SLURM job \d+ was allocated no GPU\)", cpu_log)


def test_a_job_that_fails_once_is_retried(slurm_run):
    """The training whose process was killed failed; its second attempt, with twice the
    time and memory, completed, and so did the workflow."""
    _, _, output, killed, jobs = slurm_run
    assert killed, "the training process was never seen running"
    attempts = sorted((job for job in jobs if job["Comment"] == KILLED),
                      key=lambda job: int(job["JobId"]))
    assert [job["JobState"] for job in attempts] == ["FAILED", "COMPLETED"], attempts
    first, second = (int(job["MinMemoryNode"].rstrip("M")) for job in attempts)
    assert second == 2 * first
    assert f"SLURM-job '{attempts[0]['JobId']}' failed" in output
    assert "Trying to restart job" in output


# the smaller runs: the data, one pre-training and the analyses of its two checkpoints
# (a job array) of one PoLAr-MAE run, its jobs asking for more threads than this machine
# has cores
SMALL_RUN = "polarmae-o3"
SMALL_RUN_TARGETS = (f"results/train/polarmae/{SMALL_RUN}/seed_0/pretrain/train_log.csv",
                     *(f"results/analysis/polarmae/{SMALL_RUN}/seed_0/pretrain/step_{step}/errors.csv"
                       for step in (0, 4)))
SMALL_RUN_GPU_RULES = ("pretrain_polarmae", "analyse_polarmae")


@pytest.fixture(scope="module", params=sorted(SMALL_RUN_SETTINGS))
def small_run(request, cluster, slurm_run, tmp_path_factory):
    """The README's commands as a new user types them (the profile installed by
    ``slurm_run``) with only ``SMALL_RUN_SETTINGS[param]`` of the cluster variables
    set; the scheduler's record of its jobs, and their logs."""
    settings = SMALL_RUN_SETTINGS[request.param]
    directory = tmp_path_factory.mktemp(f"slurm_{request.param}")
    configfile = _config(directory, deep_merge(SLURM_TINY, {
        "polarmae": {"threads": ABOVE_CORES},
        "analysis": {"jobs": "per_checkpoint", "polarmae": {"threads": ABOVE_CORES}}}))
    process = _snakemake(cluster, directory, configfile, "--", *SMALL_RUN_TARGETS,
                         settings=settings)
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-6000:] + cluster.log_tail()
    jobs = [job for job in cluster.jobs() if job.get("WorkDir") == str(directory)]
    print(f"\n{request.param} ({settings or 'no SYMLEARN_SLURM_* variable'}), "
          f"{MACHINE_CORES} cores here, {DECLARED_CPUS} declared:")
    for job in sorted(jobs, key=lambda job: int(job["JobId"])):
        print("  " + _record(job))
    return request.param, settings, directory, jobs


def test_small_runs_ask_for_a_gpu_with_or_without_variables(small_run):
    """With no variable set, the GPU jobs still ask for a GPU (any model) and go to the
    cluster's default partition, charged to no account; with only the GPU model set,
    they ask for that model."""
    _, settings, _, jobs = small_run
    assert {_rule(job) for job in jobs} == {"make_lartpc", *SMALL_RUN_GPU_RULES}
    model = settings.get("SYMLEARN_SLURM_GPU_MODEL")
    for job in jobs:
        assert job["JobState"] == "COMPLETED", job
        assert job["Partition"] == "cpu", job  # the cluster's default
        assert job["Account"] == "(null)", job
        if _rule(job) in SMALL_RUN_GPU_RULES:
            assert job.get("TresPerJob") == (f"gres:gpu:{model}:1" if model
                                             else "gres:gpu:1"), job
        else:
            assert "gpu" not in job.get("TresPerJob", ""), job
    assert len([job for job in jobs if _rule(job) == "analyse_polarmae"]) == 2


def test_jobs_get_the_configured_threads_not_this_machines_cores(small_run):
    """Each GPU job asked SLURM for its configured threads as CPUs per GPU, more than
    this machine's cores, and ran with them: its own process logs `--threads N` and
    torch on N threads (the pre-training through `srun`, the analyses as an array)."""
    _, _, directory, jobs = small_run
    assert ABOVE_CORES > MACHINE_CORES
    for job in jobs:
        if _rule(job) in SMALL_RUN_GPU_RULES:
            assert job["NumCPUs"] == str(ABOVE_CORES), job
            assert job.get("CpusPerTres") == f"gres:gpu:{ABOVE_CORES}", job
        else:
            assert job["NumCPUs"] == "1", job
    logs = [directory / "results" / "logs" / "pretrain_polarmae" / SMALL_RUN / "seed_0.log",
            *(directory / "results" / "logs" / "analyse_polarmae" / SMALL_RUN / "seed_0" /
              f"pretrain_step_{step}.log" for step in (0, 4))]
    for log in logs:
        text = log.read_text()
        assert re.search(rf"threads: {ABOVE_CORES} \(--threads {ABOVE_CORES}[;)]", text), \
            f"{log}:\n{text[:3000]}"


def test_scancel_is_reported_with_its_log_and_leaves_nothing_half_written(slurm_run,
                                                                          cluster):
    """A training job cancelled half way through: snakemake reports it failed and names
    its SLURM log; no declared output and no temporary file of it stays behind, and
    what the training kept to resume from is only whole checkpoints."""
    directory, _, _, _, _ = slurm_run
    # a longer training, so that the cancel lands while it writes checkpoints
    configfile = _config(directory, deep_merge(
        SLURM_TINY, {"pet": {"training": {"epochs": 3000, "checkpoint_every": 1000}}}))
    run_dir = directory / "results" / "train" / "pet" / "pet-noaug" / "seed_0"
    process = _snakemake(cluster, directory, configfile, "--retries", "0",
                         "--forcerun", "train_pet", "--",
                         str(run_dir.relative_to(directory) / "best_model.pt"))
    deadline = time.monotonic() + 300
    while not (run_dir / "resume" / "epoch_0.ckpt").exists():
        assert process.poll() is None and time.monotonic() < deadline, \
            "the training never started: " + (process.stdout.read() or "")[-4000:]
        time.sleep(0.2)
    [job] = _jobs_of(cluster, CANCELLED, "RUNNING")
    cluster.run("scancel", job["JobId"])
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0
    assert f"SLURM-job '{job['JobId']}' failed, SLURM status is: 'CANCELLED'" in output
    log = re.search(rf"(\S+/{job['JobId']}\.log)", output)
    assert log, output[-4000:]
    assert Path(log.group(1)).exists()
    for output_file in ["best_model.pt", "train_log.csv", "options.yaml",
                        *(f"checkpoints/epoch_{k}.ckpt" for k in (0, 1000, 2000, 3000))]:
        assert not (run_dir / output_file).exists(), output_file
    assert not list(run_dir.rglob("*.part*")), list(run_dir.rglob("*.part*"))
    kept = sorted((run_dir / "resume").glob("epoch_*.ckpt"))
    assert kept
    for checkpoint in kept:
        load_checkpoint(checkpoint)
