"""The ``polarmae`` section: PoLAr-MAE's runs, each run's merged settings and checkpoint
steps, and what a schema cannot check of them."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .base import deep_merge
from .runs import checkpoint_epochs, run_seeds

#: the PoLAr-MAE family's rules whose jobs ask a cluster for a GPU
GPU_RULES = ("pretrain_polarmae", "finetune_polarmae", "analyse_polarmae",
             "analyse_polarmae_pretrain_run", "analyse_polarmae_finetune_run")
#: the keys of the family's sections that change how a job runs, never what it writes
HOW_IT_RUNS = {"polarmae": ("threads", "cache_events"),
               "analysis.polarmae": ("threads", "batch_points")}


def polarmae_runs(config: Mapping[str, Any]) -> list[str]:
    """Names of the PoLAr-MAE runs (a run set to null is switched off)."""
    return [run for run, spec in config["polarmae"]["runs"].items() if spec is not None]


def polarmae_run_settings(config: Mapping[str, Any], run: str,
                          seed: int | None = None) -> dict[str, Any]:
    """Everything one PoLAr-MAE run's training reads: the shared ``polarmae`` settings
    overridden by the run, its training ``seed`` (None: the run's first), and the data's
    preprocessing (stored in every checkpoint, so the analysis reads events exactly as
    the model was trained on them)."""
    spec = config["polarmae"]["runs"].get(run)
    if spec is None:
        raise ConfigError(f"polarmae.runs.{run}: no such run "
                          f"(runs: {', '.join(polarmae_runs(config))})")
    shared = config["polarmae"]
    return {
        "augmentation": spec["augmentation"],
        "model": deep_merge(shared["model"], spec.get("model", {})),
        "tokenizer": deep_merge(shared["tokenizer"], spec.get("tokenizer", {})),
        "pretrain": dict(shared["pretrain"]),
        "finetune": dict(shared["finetune"]),
        "seed": run_seeds(config, "polarmae", run)[0] if seed is None else int(seed),
        "preprocessing": copy.deepcopy(dict(config["data"]["lartpc"]["preprocessing"])),
    }


def polarmae_checkpoint_steps(config: Mapping[str, Any], phase: str) -> list[int]:
    """Steps with a checkpoint in one phase (pretrain or finetune), shared by every run."""
    options = config["polarmae"][phase]
    return checkpoint_epochs(options["steps"], options["checkpoint_every"])


def polarmae_job_threads(config: Mapping[str, Any]) -> dict[str, int]:
    """The threads of the family's threaded jobs, by the key that sets them."""
    return {"analysis.polarmae.threads": config["analysis"]["polarmae"]["threads"],
            "polarmae.threads": config["polarmae"]["threads"]}


def polarmae_tokenizer_errors(config: Mapping[str, Any], run: str,
                              tokenizer: Mapping[str, Any]) -> list[str]:
    """Groups an event cannot supply: farthest-point centres need ``n_tokens`` points,
    and the farthest-point members of a group are chosen from ``upscale_points``."""
    where = (f"polarmae.runs.{run}.tokenizer"
             if "tokenizer" in config["polarmae"]["runs"][run] else "polarmae.tokenizer")
    errors = []
    min_points = config["data"]["lartpc"]["preprocessing"].get("min_points")
    if tokenizer["centres"] == "fps" and min_points and tokenizer["n_tokens"] > min_points:
        errors.append(f"{where}.n_tokens: {tokenizer['n_tokens']} farthest-point groups, "
                      f"but an event may have only {min_points} points "
                      f"(data.lartpc.preprocessing.min_points) (run {run})")
    if tokenizer["members"] == "fps" and tokenizer["group_size"] > tokenizer["upscale_points"]:
        errors.append(f"{where}.group_size: {tokenizer['group_size']} points per group, "
                      f"chosen from only upscale_points = {tokenizer['upscale_points']} "
                      f"(run {run})")
    return errors


def polarmae_errors(config: Mapping[str, Any]) -> list[str]:
    """The PoLAr-MAE part of :func:`semantic_errors`."""
    errors = []
    for phase in ("pretrain", "finetune"):
        options = config["polarmae"][phase]
        if options["checkpoint_every"] > options["steps"]:
            errors.append(f"polarmae.{phase}.checkpoint_every: {options['checkpoint_every']}"
                          f" is more than polarmae.{phase}.steps ({options['steps']})")
    runs = polarmae_runs(config)
    if not runs:
        errors.append("polarmae.runs: every run is switched off (null); keep at least one")
    for run in runs:
        settings = polarmae_run_settings(config, run)
        model = settings["model"]
        where = (f"polarmae.runs.{run}.model" if "model" in config["polarmae"]["runs"][run]
                 else "polarmae.model")
        if model["width"] % model["heads"]:
            errors.append(f"{where}.heads: {model['heads']} does not divide width "
                          f"({model['width']}) for run {run}")
        blocks = model["segmentation_blocks"] or []
        bad = [b for b in blocks if not -model["depth"] <= b < model["depth"]]
        if bad:
            errors.append(f"{where}.segmentation_blocks: {bad} not blocks of a "
                          f"{model['depth']}-block encoder (run {run})")
        errors += polarmae_tokenizer_errors(config, run, settings["tokenizer"])
    log_energy = config["data"]["lartpc"]["preprocessing"]["log_energy"]
    if log_energy and log_energy["emin"] >= log_energy["emax"]:
        errors.append("data.lartpc.preprocessing.log_energy: emin must be below emax")
    fig1_run = config.get("figures", {}).get("fig1_run")
    if fig1_run is not None and fig1_run not in runs:
        errors.append(f"figures.fig1_run: {fig1_run!r} is not a PoLAr-MAE run "
                      f"(runs: {', '.join(runs)})")
    return errors
