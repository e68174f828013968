"""Configuration checks, shared paths and helpers of every rules file."""

import json
import os
import re
import shlex

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import validate

# The rules run `python -m symlearn` with the package folder on PYTHONPATH, so the
# command works in any environment the jobs run in (the venv, --sdm conda, cluster
# nodes) whether or not the package was pip-installed there.
_PACKAGE_DIR = os.path.join(workflow.basedir, "workflow")
# (the prefix is formatted like a rule's command: {{ }} stands for a literal brace)
shell.prefix(
    f'set -euo pipefail; export PYTHONPATH="{_PACKAGE_DIR}${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; '
)
if _PACKAGE_DIR not in sys.path:
    sys.path.insert(0, _PACKAGE_DIR)

from symlearn.errors import ConfigError  # noqa: E402
from symlearn.settings.analysis import (  # noqa: E402
    pet_analysed_epochs,
    pet_analysis_settings,
    pet_checkpoint_scope,
    polarmae_analysis_settings,
)
from symlearn.settings.base import (  # noqa: E402
    coerce_command_line_strings,
    load_config_file,
    load_schema,
)
from symlearn.settings.checks import (  # noqa: E402
    check_config,
    config_warnings,
    results_folder_errors,
)
from symlearn.settings.data import SPLITS  # noqa: E402
from symlearn.settings.grids import pet_grid_degree  # noqa: E402
from symlearn.settings.external import (  # noqa: E402
    external_calculator_settings,
    external_calculators,
    external_model_settings,
    external_models,
)
from symlearn.settings.pet_layers import fig3_layers  # noqa: E402
from symlearn.settings.pet import (  # noqa: E402
    pet_checkpoint_epochs,
    pet_run_settings,
    pet_runs,
)
from symlearn.settings.polarmae import (  # noqa: E402
    polarmae_checkpoint_steps,
    polarmae_run_settings,
    polarmae_runs,
)
from symlearn.settings.reruns import (  # noqa: E402
    HowItRuns,
    how_it_runs,
    result_config,
    result_settings,
)
from symlearn.settings.resources import GPU_RULES, cluster_cores, gpu_request  # noqa: E402
from symlearn.settings.runs import run_seeds  # noqa: E402
from symlearn.checkpoints import check_complete  # noqa: E402
from symlearn.errors import CheckpointError  # noqa: E402
from symlearn.interrupts import pass_on_interrupts  # noqa: E402
from symlearn.figures import FIGURES as FIGURE_IDS, TABLES as TABLE_IDS  # noqa: E402
from symlearn.figures.provenance import software_versions  # noqa: E402

_SCHEMA = os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml")
# concise messages that name every bad key, before any job starts ...
_SCHEMA_TREE = load_schema(_SCHEMA)
try:
    # a key repeated in a configuration file: Snakemake keeps the last silently
    for _path in workflow.configfiles:
        load_config_file(_path)
    # nested --config values arrive as strings; read them as the schema expects
    coerce_command_line_strings(config, _SCHEMA_TREE)
    check_config(config, _SCHEMA_TREE)
    if _problems := results_folder_errors(config, os.getcwd(), workflow.basedir):
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(_problems))
except ConfigError as err:
    raise WorkflowError(str(err)) from None
for _warning in config_warnings(config):
    logger.warning(f"configuration: {_warning}")
# an explicitly named GPU is checked here when the jobs run on this machine (dry runs
# too), not in the first training job; `auto` adapts to what each job gets, and the
# jobs of a cluster run check their own node
if workflow.is_main_process and workflow.local_exec and config["device"].startswith("cuda"):
    from symlearn.cluster import device_problem  # imports torch: only for cuda

    if _problem := device_problem(config["device"]):
        raise WorkflowError(f"device: {_problem}")
# ... then Snakemake's own validation (it also fills schema defaults)
validate(config, _SCHEMA)

RESULTS = config["results"].rstrip("/")
PET_RUNS = pet_runs(config)
# the runs trained on energy, forces and stress (fig2, fig3, table1), and those trained
# on the geometric targets (fig6, fig7), collected into separate tables
PET_TARGET_SETS = ("standard", "geometric")
PET_RUNS_BY_TARGETS = {
    targets: [r for r in PET_RUNS if pet_run_settings(config, r)["targets"] == targets]
    for targets in PET_TARGET_SETS
}
PURIFIED_RUNS = config["analysis"]["purification"]["runs"]
PET_EPOCHS = pet_checkpoint_epochs(config)
# each run's training seeds (pet.seeds, pet.control_seeds, polarmae.seeds, or its own)
PET_SEEDS = {run: run_seeds(config, "pet", run) for run in PET_RUNS}
# where the trainings publish their checkpoints (the one definition of each pattern)
# (each run is trained once per training seed, under seed_{seed}/)
PET_TRAINING = f"{RESULTS}/train/pet/{{run}}/seed_{{seed}}"
PET_CHECKPOINT = f"{PET_TRAINING}/checkpoints/epoch_{{epoch}}.ckpt"
POLARMAE_TRAINING = f"{RESULTS}/train/polarmae/{{run}}/seed_{{seed}}"
POLARMAE_CHECKPOINT = f"{POLARMAE_TRAINING}/{{phase}}/step_{{step}}.ckpt"
# each checkpoint's analysis tables (the one definition of each pattern)
PET_ANALYSIS = {
    table: f"{RESULTS}/analysis/pet/{{run}}/seed_{{seed}}/epoch_{{epoch}}/{name}"
    for table, name in (("errors", "errors.csv"), ("spectrum", "spectrum.csv"),
                        ("structures", "structures.parquet"))
}
POLARMAE_ANALYSIS = {
    table: f"{RESULTS}/analysis/polarmae/{{run}}/seed_{{seed}}/{{phase}}/step_{{step}}/{name}"
    for table, name in (("errors", "errors.csv"), ("spectrum", "spectrum.csv"),
                        ("instability", "instability.csv"), ("points", "points.parquet"))
}
# per_run: one job analyses every checkpoint of a run, paying the start-up of a job
# (Python, torch, metatrain) once; per_checkpoint: one job per checkpoint, for job
# arrays on a cluster (workflow/rules/analyse.smk)
ANALYSIS_JOBS = config["analysis"]["jobs"]
# the per-run PET analysis rules, by the targets of their runs
PET_RUN_ANALYSIS_RULES = {"standard": "analyse_pet_run",
                          "geometric": "analyse_pet_geometric_run"}
# the grid of the standard runs' analysis (fig1 (a) draws it)
PET_GRID_DEGREE = pet_grid_degree(config)
POLARMAE_RUNS = polarmae_runs(config)
POLARMAE_SEEDS = {run: run_seeds(config, "polarmae", run) for run in POLARMAE_RUNS}
POLARMAE_PHASES = ("pretrain", "finetune")
# analysis.jobs per_run: one PoLAr-MAE analysis job per run and phase
POLARMAE_RUN_ANALYSIS_RULES = {"pretrain": "analyse_polarmae_pretrain_run",
                               "finetune": "analyse_polarmae_finetune_run"}
POLARMAE_STEPS = {phase: polarmae_checkpoint_steps(config, phase) for phase in POLARMAE_PHASES}
FIGURES = f"{RESULTS}/figures"
BENCHMARKS = f"{RESULTS}/benchmarks"
# the exported models analysed by the metatomic family (workflow/rules/metatomic.smk),
# the ASE calculators by the calculator family (workflow/rules/calculators.smk), and
# both together: each has a figure external_{model} and rows in table1
EXTERNAL_MODELS = external_models(config)
EXTERNAL_CALCULATORS = external_calculators(config)
EXTERNAL_NAMES = EXTERNAL_MODELS + EXTERNAL_CALCULATORS
# the versions that decide the numbers; a change reruns the provenance rule
SOFTWARE_VERSIONS = "; ".join(f"{name} {version}" for name, version in software_versions())
# How a job runs, never what it writes (symlearn.settings.reruns.HOW_IT_RUNS): params of type
# HowItRuns, which Snakemake leaves out of the params whose change reruns a job. Threads
# go through each rule's `threads`, which it does not track either.
DEVICE = HowItRuns(str(config["device"]))
FETCH_RETRY_OPTIONS = HowItRuns("--retries {retries} --timeout {timeout}".format(
    **how_it_runs(config, "data.fetch")))
POLARMAE_CACHE_EVENTS = HowItRuns(str(how_it_runs(config, "polarmae")["cache_events"]))
ANALYSIS_RUNTIME = {family: HowItRuns(how_it_runs(config, f"analysis.{family}"))
                    for family in ("pet", "polarmae", "metatomic")}


wildcard_constraints:
    split="|".join(SPLITS),
    dataset="[A-Za-z0-9][A-Za-z0-9_.-]*",
    run="|".join(re.escape(run) for run in dict.fromkeys(PET_RUNS + POLARMAE_RUNS)),
    phase="|".join(POLARMAE_PHASES),
    step=r"\d+",
    seed=r"\d+",
    epoch=r"\d+",
    degree=r"\d+",
    model="|".join(re.escape(m) for m in EXTERNAL_NAMES) or "(?!)",
    calculator="|".join(re.escape(c) for c in EXTERNAL_CALCULATORS) or "(?!)",


def job_resources(name, checkpoints=1):
    """What a job of ``name`` asks a cluster for (``resources.<name>`` in the config):
    runtime (times ``checkpoints``, for a job that analyses that many) and mem_mb, both
    multiplied by the attempt when a failed job is retried; for GPU_RULES also one GPU
    (none with device cpu), with the threads as CPUs per GPU. Local runs ignore all of
    it."""
    asked = dict(config["resources"].get(name) or {})
    if "runtime" in asked:
        asked["runtime"] *= checkpoints
    resources = {key: (lambda wildcards, attempt, value=value: value * attempt)
                 for key, value in asked.items()}
    gpu = gpu_request(config, name)
    if gpu:
        resources.update(gpu, cpus_per_gpu=lambda wildcards, threads: threads)
    return resources


def use_cluster_cores():
    """On a cluster, jobs get the threads the configuration asks for, not the core
    count of the login node or of what a job's own Snakemake sees
    (symlearn.settings.resources.cluster_cores says why). Snakemake offers no setting for this,
    so the cap is set on the workflow object before any job's resources are
    expanded; tests/unit/test_slurm_resolution.py and tests/slurm check that it holds."""
    cores = cluster_cores(config, main_process=workflow.is_main_process,
                          submits_jobs=workflow.resource_settings.nodes is not None,
                          remote_job=workflow.remote_exec,
                          in_slurm_job=bool(os.environ.get("SLURM_JOB_ID")))
    if cores is not None:
        workflow.resource_settings.cores = cores
        workflow.global_resources["_cores"] = cores


use_cluster_cores()


def check_cpu_only_resources():
    """With device cpu the GPU rules ask for no GPU, so a GPU model set for them (by the
    SLURM profile, from SYMLEARN_SLURM_GPU_MODEL) would leave their jobs pending forever
    (--gpus=MODEL:0): stop before submitting anything."""
    if config["device"] != "cpu":
        return
    overrides = workflow.resource_settings.overwrite_resources or {}
    named = [r for r in GPU_RULES if "gpu_model" in dict(overrides.get(r, {}))]
    if named:
        raise WorkflowError(
            f"device: cpu, but a GPU model is set for {', '.join(named)} (the SLURM "
            "profile's SYMLEARN_SLURM_GPU_MODEL); unset it to run without GPUs")


check_cpu_only_resources()


def atomistic_dataset():
    """Name of the atomistic data set the training reads (data.atomistic.source)."""
    return config["data"]["atomistic"]["source"]


def pet_data(split, run=None, training=False):
    """The extxyz view of one split of the configured atomistic data set; for a run
    trained on the geometric targets, the view with those targets added. ``training``:
    what metatrain reads, the memory-mapped directory when
    data.atomistic.training_format is memmap (standard targets only)."""
    view = "pet"
    if run is not None and pet_run_settings(config, run)["targets"] == "geometric":
        view = "geometric"
    path = f"{RESULTS}/data/atomistic/{atomistic_dataset()}/{view}/{split}"
    if training and view == "pet" and config["data"]["atomistic"]["training_format"] == "memmap":
        return f"{path}.memmap"
    return f"{path}.xyz"


def run_data(split, training=False):
    """Input function: one split of the data a PET run reads (see pet_data)."""
    return lambda wildcards: pet_data(split, wildcards.run, training)


def _checkpoint_folders(wildcards, input, output, pattern):
    """A job's (checkpoint, output folder) pairs, in order: every checkpoint of a
    per-run job; for a per-checkpoint job, whose input lists the run's checkpoints as
    the per-run job's does, the one its wildcards name (``pattern``)."""
    if isinstance(output.errors, list):
        checkpoints, errors = input.checkpoints, output.errors
    else:
        checkpoints, errors = [expand(pattern, **wildcards)[0]], [output.errors]
    return [(checkpoint, os.path.dirname(table))
            for checkpoint, table in zip(checkpoints, errors, strict=True)]


def _pair_options(checkpoint, folder):
    return f"--checkpoint {shlex.quote(checkpoint)} --out-dir {shlex.quote(folder)}"


def pet_analysis_jobs(wildcards, input, output):
    """analyse-pet's --checkpoint/--out-dir pairs for a job's checkpoints, with
    --as-given-only or --figure-layers-only for those that get less than everything
    (symlearn.settings.analysis.pet_checkpoint_scope)."""
    options = []
    for checkpoint, folder in _checkpoint_folders(wildcards, input, output, PET_CHECKPOINT):
        options.append(_pair_options(checkpoint, folder))
        epoch = int(re.search(r"epoch_(\d+)\.ckpt$", checkpoint).group(1))
        scope = pet_checkpoint_scope(config, wildcards.run, epoch)
        if scope != "all":
            options.append(f"--{scope.replace('_', '-')}-only {shlex.quote(checkpoint)}")
    return " ".join(options)


def polarmae_analysis_jobs(wildcards, input, output):
    """analyse-polarmae's --checkpoint/--out-dir pairs for a job's checkpoints."""
    return " ".join(_pair_options(*pair) for pair in
                    _checkpoint_folders(wildcards, input, output, POLARMAE_CHECKPOINT))


def pet_settings_json(wildcards):
    """A run's merged settings, as the JSON the train command reads (without its
    threads: how it runs)."""
    settings = pet_run_settings(config, wildcards.run, int(wildcards.seed))
    settings["training"] = result_settings(settings["training"], "pet.training")
    return json.dumps(settings, sort_keys=True)


def pet_threads(wildcards):
    return pet_run_settings(config, wildcards.run)["training"]["threads"]


def pet_training_outputs():
    """Every PET run's checkpoints, log and exported model, for each of its seeds."""
    return [
        path
        for run in PET_RUNS
        for seed in PET_SEEDS[run]
        for path in expand(
            [PET_CHECKPOINT, f"{PET_TRAINING}/train_log.csv", f"{PET_TRAINING}/best_model.pt"],
            run=run,
            seed=seed,
            epoch=PET_EPOCHS,
        )
    ]


def pet_analysis_outputs():
    """The symmetry tables of every PET run and seed at every analysed checkpoint."""
    return [
        path
        for run in PET_RUNS
        for seed in PET_SEEDS[run]
        for path in expand(
            list(PET_ANALYSIS.values()),
            run=run,
            seed=seed,
            epoch=pet_analysed_epochs(config, run),
        )
    ]


def pet_run_keys(run):
    """The columns that name a PET run in the collected tables."""
    settings = pet_run_settings(config, run)
    embedding = settings["edge_embedding"]
    return {
        "run": run,
        "augmentation": settings["augmentation"],
        "edge_embedding": embedding["type"],
        "edge_lmax": embedding.get("lmax"),
    }


def pet_checkpoint_tables(targets):
    """Input function: the errors and spectrum tables and the per-structure rows of
    every checkpoint of the runs trained on ``targets``, as named inputs."""
    return lambda wildcards: {
        f"{kind}_{run}_{seed}_{epoch}": expand(PET_ANALYSIS[kind], run=run, seed=seed,
                                               epoch=epoch)[0]
        for run in PET_RUNS_BY_TARGETS[targets]
        for seed in PET_SEEDS[run]
        for epoch in pet_analysed_epochs(config, run)
        for kind in ("errors", "spectrum", "structures")
    }


def pet_checkpoint_entries(targets):
    """Params function: the JSON list the collect command reads (run keys, epoch,
    tables) for the runs trained on ``targets``."""
    return lambda wildcards, input: json.dumps(
        [
            {
                **pet_run_keys(run),
                "seed": seed,
                "epoch": epoch,
                **{kind: input[f"{kind}_{run}_{seed}_{epoch}"]
                   for kind in ("errors", "spectrum", "structures")},
            }
            for run in PET_RUNS_BY_TARGETS[targets]
            for seed in PET_SEEDS[run]
            for epoch in pet_analysed_epochs(config, run)
        ]
    )


def purification_tables(wildcards):
    """The purification table and per-structure rows of every purified run, as named
    inputs."""
    return {
        name: expand(path, run=run, seed=seed)[0]
        for run in PURIFIED_RUNS
        for seed in PET_SEEDS[run]
        for name, path in (
            (f"table_{run}_{seed}", rules.purify_pet.output.table),
            (f"structures_{run}_{seed}", rules.purify_pet.output.structures),
        )
    }


def purification_entries(wildcards, input):
    """The JSON list the collect command reads for the purification tables."""
    return json.dumps(
        [
            {
                **pet_run_keys(run),
                "seed": seed,
                "epoch": PET_EPOCHS[-1],
                "purification": input[f"table_{run}_{seed}"],
                "structures": input[f"structures_{run}_{seed}"],
            }
            for run in PURIFIED_RUNS
            for seed in PET_SEEDS[run]
        ]
    )


def lartpc_data(split):
    """One split of the configured liquid-argon data set: the simulator's file, or the
    manifest of the downloaded files and event range (PILArNet-M layout)."""
    source = config["data"]["lartpc"]["source"]
    suffix = "h5" if source == "synthetic" else "json"
    return f"{RESULTS}/data/lartpc/{source}/{split}.{suffix}"


def download_pattern(kind):
    """Wildcard pattern of the data sets of data.<kind>.downloads (none: matches
    nothing), so the fetch rules never claim the synthetic files."""
    names = config["data"][kind]["downloads"]
    return "|".join(re.escape(name) for name in names) or "(?!)"


def fetch_options(urls, sha256):
    """The fetch command's mirror, checksum and retry options."""
    options = [f"--url {shlex.quote(url)}" for url in urls]
    if sha256 is not None:
        options.append(f"--sha256 {sha256}")
    return " ".join(options)


def mad_fetch_options(wildcards):
    spec = config["data"]["atomistic"]["downloads"][wildcards.dataset]
    name = spec["files"][wildcards.split]
    urls = [template.format(file=name) for template in spec["mirrors"]]
    return fetch_options(urls, spec["sha256"][wildcards.split])


def pilarnet_fetch_options(wildcards):
    spec = config["data"]["lartpc"]["downloads"][wildcards.dataset]
    urls = [template.format(file=wildcards.file, revision=spec["revision"])
            for template in spec["mirrors"]]
    return fetch_options(urls, spec["sha256"].get(wildcards.file))


def pilarnet_split_files(wildcards):
    """The downloaded files of one split of a hub data set, in order."""
    spec = config["data"]["lartpc"]["downloads"][wildcards.dataset]
    return [f"{RESULTS}/data/lartpc/{wildcards.dataset}/files/{name}"
            for name in spec["splits"][wildcards.split]["files"]]


def pilarnet_split_events(wildcards):
    """The split's event range as options of the lartpc-split command."""
    spec = config["data"]["lartpc"]["downloads"][wildcards.dataset]
    events = spec["splits"][wildcards.split].get("events")
    return "" if events is None else f"--events {events[0]} {events[1]}"


def atomistic_subset(wildcards):
    """prepare-pet-data's subset options for a downloaded split (none: every frame)."""
    spec = config["data"]["atomistic"]["downloads"].get(wildcards.dataset)
    if spec is None or spec["max_structures"][wildcards.split] is None:
        return ""
    return f"--max-structures {spec['max_structures'][wildcards.split]} --seed {spec['seed']}"


def polarmae_settings_json(wildcards):
    """A PoLAr-MAE run's merged settings with the job's training seed, as the JSON the
    train command reads."""
    return json.dumps(polarmae_run_settings(config, wildcards.run, int(wildcards.seed)),
                      sort_keys=True)


def pet_analysis_settings_json(wildcards):
    """The analysis settings of the job's PET {run}, with its grid degree and fig3's
    layers decided (symlearn.settings.analysis.pet_analysis_settings), as JSON."""
    return json.dumps(pet_analysis_settings(config, wildcards.run), sort_keys=True)


def polarmae_analysis_settings_json():
    """The PoLAr-MAE analysis settings, with their grid degree decided, as JSON."""
    return json.dumps(polarmae_analysis_settings(config), sort_keys=True)


def polarmae_checkpoints(phase, run=None, seed=None, pattern=POLARMAE_CHECKPOINT):
    """``pattern`` (by default the checkpoint) at every scheduled step of one phase of a
    run and seed, in training order (run or seed None: that wildcard left in)."""
    chosen = {key: value for key, value in (("run", run), ("seed", seed))
              if value is not None}
    return expand(pattern, phase=phase, step=POLARMAE_STEPS[phase], **chosen,
                  allow_missing=True)


def polarmae_phase_checkpoints(wildcards):
    """Every checkpoint of the job's {run} and {phase}: what a per-checkpoint analysis
    lists, as the per-run job of its phase does, so that a switch of analysis.jobs
    reruns nothing."""
    return polarmae_checkpoints(wildcards.phase, wildcards.run, wildcards.seed)


def complete_checkpoints(patterns):
    """An input function: ``patterns`` (checkpoints, with wildcards, or an input
    function that gives them) for one job, each
    that exists already checked complete (symlearn.checkpoints.check_complete) when the
    jobs are planned. A truncated checkpoint then stops the run before any job starts,
    naming the file, and the finished tables that read it stay: Snakemake deletes the
    outputs of a job that fails, not of one that never starts."""
    def checked(wildcards):
        paths = expand(patterns(wildcards) if callable(patterns) else patterns, **wildcards)
        for path in paths:
            if os.path.exists(path):
                try:
                    check_complete(path)
                except CheckpointError as err:
                    raise WorkflowError(f"{err}; restore it, or delete it to retrain "
                                        "the run that wrote it") from None
        return paths[0] if isinstance(patterns, str) else paths

    return checked


def pet_run_checkpoints(wildcards):
    """Every checkpoint of the job's PET {run} that its analyses read: what a
    per-checkpoint analysis lists, as the per-run job does, so that a switch of
    analysis.jobs reruns nothing."""
    return expand(PET_CHECKPOINT, run=wildcards.run, seed=wildcards.seed,
                  epoch=pet_analysed_epochs(config, wildcards.run))


def polarmae_training_outputs():
    """Every PoLAr-MAE run's checkpoints and logs of both phases, for each seed."""
    return [
        path
        for run in POLARMAE_RUNS
        for seed in POLARMAE_SEEDS[run]
        for phase in POLARMAE_PHASES
        for path in [
            *polarmae_checkpoints(phase, run, seed),
            expand(f"{POLARMAE_TRAINING}/{phase}/train_log.csv", run=run, seed=seed)[0],
        ]
    ]


def polarmae_checkpoint_list():
    """(run, seed, phase, step) of every PoLAr-MAE checkpoint, in training order."""
    return [
        (run, seed, phase, step)
        for run in POLARMAE_RUNS
        for seed in POLARMAE_SEEDS[run]
        for phase in POLARMAE_PHASES
        for step in POLARMAE_STEPS[phase]
    ]


def polarmae_analysis_outputs():
    """The analysis tables of every PoLAr-MAE checkpoint."""
    return [
        expand(POLARMAE_ANALYSIS[kind], run=run, seed=seed, phase=phase, step=step)[0]
        for run, seed, phase, step in polarmae_checkpoint_list()
        for kind in ("errors", "spectrum", "instability", "points")
    ]


def polarmae_checkpoint_tables(wildcards):
    """Every PoLAr-MAE checkpoint's per-checkpoint tables, as named inputs."""
    return {
        f"{kind}_{run}_{seed}_{phase}_{step}": expand(POLARMAE_ANALYSIS[kind], run=run,
                                                      seed=seed, phase=phase, step=step)[0]
        for run, seed, phase, step in polarmae_checkpoint_list()
        for kind in ("errors", "spectrum", "instability")
    }


def polarmae_checkpoint_entries(wildcards, input):
    """The JSON list the collect command reads: run, augmentation, seed, phase, step,
    tables."""
    return json.dumps(
        [
            {
                "run": run,
                "augmentation": polarmae_run_settings(config, run)["augmentation"],
                "seed": seed,
                "phase": phase,
                "step": step,
                **{
                    kind: input[f"{kind}_{run}_{seed}_{phase}_{step}"]
                    for kind in ("errors", "spectrum", "instability")
                },
            }
            for run, seed, phase, step in polarmae_checkpoint_list()
        ]
    )


def polarmae_example_run():
    """The run whose final checkpoint classifies fig1 (b)'s event."""
    return config["figures"]["fig1_run"] or POLARMAE_RUNS[0]


def figure_outputs(figure, category):
    """A figure's PNG (shown in the report with its caption), PDF and data CSV."""
    return {
        "png": report(
            f"{FIGURES}/{figure}.png",
            caption=f"../report/{figure}.rst",
            category=category,
            labels={"figure": figure},
        ),
        "pdf": f"{FIGURES}/{figure}.pdf",
        "csv": f"{FIGURES}/{figure}.csv",
    }


def benchmark_file(rule_name, *wildcards):
    """A job's benchmark record: results/benchmarks/{rule}/{key}={value}/....tsv, one
    folder level per wildcard (job.tsv without wildcards), so that collect-benchmarks
    reads the rule and the wildcards back from the path."""
    parts = [f"{name}={{{name}}}" for name in wildcards] or ["job"]
    return os.path.join(BENCHMARKS, rule_name, *parts[:-1], parts[-1] + ".tsv")


def output_prefix(wildcards, output):
    """The path prefix a figure command writes its files to (its CSV without .csv)."""
    return os.path.splitext(output.csv)[0]


def figure_ids():
    """The figures this configuration draws: fig6 and fig7 need a run trained on the
    geometric targets."""
    skipped = () if PET_RUNS_BY_TARGETS["geometric"] else ("fig6", "fig7")
    return [figure for figure in FIGURE_IDS if figure not in skipped]


def learnability_inputs(wildcards):
    """The learnability table's input: the geometric runs' errors, where there are any."""
    if PET_RUNS_BY_TARGETS["geometric"]:
        return {"geometric_errors": rules.collect_geometric_analysis.output.errors}
    return {}


def table1_inputs(wildcards):
    """table1's input tables (the geometric runs' errors where there are such runs),
    with the per-structure rows and per-point tables its intervals are drawn from."""
    inputs = {
        "errors": rules.collect_pet_analysis.output.errors,
        "structures": rules.collect_pet_analysis.output.structures,
        "polarmae_errors": rules.collect_polarmae_analysis.output.errors,
        "instability": rules.collect_polarmae_analysis.output.instability,
        "purification": rules.collect_purification.output.table,
        "purification_structures": rules.collect_purification.output.structures,
        "config": rules.provenance.output.config,
    }
    if PET_RUNS_BY_TARGETS["geometric"]:
        inputs["geometric_errors"] = rules.collect_geometric_analysis.output.errors
        inputs["geometric_structures"] = rules.collect_geometric_analysis.output.structures
    if EXTERNAL_MODELS:
        inputs["external_errors"] = rules.collect_metatomic_analysis.output.errors
    if EXTERNAL_CALCULATORS:
        inputs["calculator_errors"] = rules.collect_calculator_analysis.output.errors
    # each run's points at its last fine-tuning checkpoint: the instability's interval
    inputs.update(polarmae_final_points())
    return inputs


def polarmae_final_points():
    """points_<run>_<seed> -> the points.parquet of each PoLAr-MAE run's last
    fine-tuning checkpoint, per seed (finding 8 and fig4 (c) read every analysed point)."""
    return {
        f"points_{run}_{seed}": expand(POLARMAE_ANALYSIS["points"], run=run, seed=seed,
                                       phase="finetune",
                                       step=max(POLARMAE_STEPS["finetune"]))[0]
        for run in POLARMAE_RUNS
        for seed in POLARMAE_SEEDS[run]
    }


def points_option(input):
    """run -> seed -> the points.parquet of its last fine-tuning checkpoint, from the
    points_<run>_<seed> inputs (the JSON of fig4's and the claims' --options)."""
    points = {}
    for run in POLARMAE_RUNS:
        for seed in POLARMAE_SEEDS[run]:
            if f"points_{run}_{seed}" in input.keys():
                points.setdefault(run, {})[str(seed)] = input[f"points_{run}_{seed}"]
    return points


def fig4_inputs(wildcards):
    """fig4's tables: the collected spectrum and instability, and every run's points."""
    return {
        "spectrum": rules.collect_polarmae_analysis.output.spectrum,
        "instability": rules.collect_polarmae_analysis.output.instability,
        **polarmae_final_points(),
    }


def fig4_options(wildcards, input):
    """fig4's --options: run -> the points.parquet of its last fine-tuning checkpoint,
    and the bootstrap's resamples and seed (its intervals over events)."""
    return json.dumps({"points": points_option(input), **config["figures"]["bootstrap"]})


def claims_inputs(wildcards):
    """The tables the findings are judged on (the geometric runs' errors where there are
    such runs; a finding whose table is absent is "not run"), and each PoLAr-MAE run's
    points.parquet at its last fine-tuning checkpoint (points_<run>: finding 8)."""
    inputs = {
        "errors": rules.collect_pet_analysis.output.errors,
        "spectrum": rules.collect_pet_analysis.output.spectrum,
        "structures": rules.collect_pet_analysis.output.structures,
        "purification": rules.collect_purification.output.table,
        "purification_structures": rules.collect_purification.output.structures,
        "instability": rules.collect_polarmae_analysis.output.instability,
        **polarmae_final_points(),
    }
    if PET_RUNS_BY_TARGETS["geometric"]:
        inputs["geometric_errors"] = rules.collect_geometric_analysis.output.errors
        inputs["geometric_structures"] = rules.collect_geometric_analysis.output.structures
    return inputs


def table_input_arguments(wildcards, input):
    """The --input flags of the figure command, one per input table."""
    return " ".join(f"--input {name}={path}" for name, path in input.items())


def figure_targets():
    """Every figure and table the pipeline draws."""
    return [
        *expand(f"{FIGURES}/{{figure}}.{{ext}}", figure=figure_ids(), ext=["pdf", "png", "csv"]),
        *expand(f"{FIGURES}/{{table}}.{{ext}}", table=TABLE_IDS, ext=["csv", "md"]),
    ]


# the metatomic family (workflow/rules/metatomic.smk)


def _entry_structures(settings):
    """The structures an external entry is analysed on: the test split of
    data.atomistic, or the extxyz file it names."""
    structures = settings["structures"]
    return pet_data("test") if structures == "test" else structures


def external_structures(wildcards):
    return _entry_structures(external_model_settings(config, wildcards.model))


def calculator_structures(wildcards):
    return _entry_structures(external_calculator_settings(config, wildcards.calculator))


def external_tables(wildcards):
    """The collected tables of the family that analysed ``wildcards.model`` (an
    exported model or a calculator): what its figure is drawn from."""
    collect = (rules.collect_metatomic_analysis if wildcards.model in EXTERNAL_MODELS
               else rules.collect_calculator_analysis)
    return {"errors": collect.output.errors, "spectrum": collect.output.spectrum}


def external_targets():
    """Every exported model's and calculator's tables and figure (nothing without
    external.models or external.calculators)."""
    return [
        *expand(rules.analyse_metatomic.output, model=EXTERNAL_MODELS),
        *expand(rules.analyse_calculator.output, calculator=EXTERNAL_CALCULATORS),
        *expand(f"{FIGURES}/external_{{model}}.{{ext}}", model=EXTERNAL_NAMES,
                ext=["png", "pdf", "csv"]),
    ]


def final_targets():
    """Every output of the run but the report stage's: what rule all asks for, and what
    collect_benchmarks waits for (called once every rules file is included)."""
    return [
        *pet_training_outputs(),
        *pet_analysis_outputs(),
        *polarmae_training_outputs(),
        *polarmae_analysis_outputs(),
        *figure_targets(),
        *external_targets(),
    ]


onstart:
    # a local run's running jobs stop with it on Ctrl-C or a SIGTERM to Snakemake
    # (symlearn.interrupts); a cluster's are cancelled by its executor
    if workflow.local_exec:
        pass_on_interrupts(logger.info)
