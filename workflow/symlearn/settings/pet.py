"""The ``pet`` section: PET's runs (and the equivariant controls trained beside them),
each run's merged settings, outputs and checkpoint epochs, and what a schema cannot
check of them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .base import deep_merge
from .runs import checkpoint_epochs, run_seeds

#: the metatrain architecture of the exactly O(3)-equivariant control runs
CONTROL = "soap_bpnn"
#: the PET family's rules whose jobs ask a cluster for a GPU
GPU_RULES = ("train_pet", "analyse_pet", "purify_pet", "analyse_pet_run",
             "analyse_pet_geometric_run")
#: the keys of the family's sections that change how a job runs, never what it writes
#: (absent on purpose: ``pet.training.num_workers``, since metatrain draws the
#: augmentation's rotations in the data-loader workers, so their number changes the
#: draws, and every ``dtype``, which changes the numbers)
HOW_IT_RUNS = {"pet.training": ("threads",),
               "analysis.pet": ("threads", "batch_atoms", "memory_gb")}


def pet_runs(config: Mapping[str, Any]) -> list[str]:
    """Names of the PET runs to train (a run set to null is switched off)."""
    return [run for run, spec in config["pet"]["runs"].items() if spec is not None]


def pet_run_settings(config: Mapping[str, Any], run: str,
                     seed: int | None = None) -> dict[str, Any]:
    """The settings of one PET run: the shared ``pet`` defaults, overridden by the run;
    with a training ``seed`` (None: the run's first)."""
    spec = config["pet"]["runs"].get(run)
    if spec is None:
        raise ConfigError(f"pet.runs.{run}: no such run (runs: {', '.join(pet_runs(config))})")
    targets = spec.get("targets", "standard")
    architecture = spec.get("architecture") or "pet"
    # the runs on the geometric targets take pet.geometric_runs over the shared
    # defaults, then their own keys; a control (SOAP-BPNN) run takes its model from
    # pet.control_model, and only the training settings from the shared ones
    shared = (config["pet"].get("geometric_runs") or {}) if targets == "geometric" else {}
    if architecture == "pet":
        model = deep_merge(config["pet"]["model"], shared.get("model") or {})
        embedding = dict(spec.get("edge_embedding") or {"type": "cartesian"})
    else:
        model = dict(config["pet"].get("control_model") or {})
        embedding = {"type": architecture}
    settings = {
        "architecture": architecture,
        "augmentation": spec["augmentation"],
        "targets": targets,
        "edge_embedding": embedding,
        "model": deep_merge(model, spec.get("model", {})),
        "training": deep_merge(deep_merge(config["pet"]["training"],
                                          shared.get("training") or {}),
                               spec.get("training", {})),
    }
    settings["training"]["seed"] = (run_seeds(config, "pet", run)[0] if seed is None
                                    else int(seed))
    if settings["targets"] == "geometric":
        settings["geometric"] = dict(config["data"]["atomistic"]["geometric_targets"])
    return settings


def pet_output_lambda_max(config: Mapping[str, Any], run: str) -> int:
    """The largest angular momentum among a run's outputs: the stress's lambda = 2
    part, or the largest lambda of the density projections."""
    if pet_run_settings(config, run)["targets"] == "geometric":
        return config["data"]["atomistic"]["geometric_targets"]["lambda_max"]
    return 2


def pet_run_outputs(config: Mapping[str, Any], run: str) -> list[str]:
    """The outputs of a PET run as the tables name them (the geometric targets without
    metatrain's ``mtt::`` prefix)."""
    settings = pet_run_settings(config, run)
    if settings["targets"] != "geometric":
        return ["energy", "non_conservative_force", "non_conservative_stress"]
    lambda_max = int(config["data"]["atomistic"]["geometric_targets"]["lambda_max"])
    return ["pseudoscalar", *(f"density_l{lam}" for lam in range(lambda_max + 1))]


def pet_checkpoint_epochs(config: Mapping[str, Any]) -> list[int]:
    """Epochs with a checkpoint, shared by every PET run."""
    training = config["pet"]["training"]
    return checkpoint_epochs(training["epochs"], training["checkpoint_every"])


def pet_job_threads(config: Mapping[str, Any]) -> dict[str, int]:
    """The threads of the family's threaded jobs, by the key that sets them."""
    threads = {"analysis.pet.threads": config["analysis"]["pet"]["threads"]}
    for run in pet_runs(config):
        threads[f"pet.runs.{run}.training.threads"] = \
            pet_run_settings(config, run)["training"]["threads"]
    return threads


def control_run_errors(run: str, spec: Mapping[str, Any],
                       settings: Mapping[str, Any]) -> list[str]:
    """What a control run (``architecture: soap_bpnn``) cannot have, one line each,
    naming the run and the key (its targets are checked where they are built,
    :func:`symlearn.pet.control.control_errors`)."""
    errors = []
    if settings["augmentation"] != "none":
        errors.append(f"pet.runs.{run}.augmentation: {settings['augmentation']!r}; a "
                      f"{CONTROL} control is equivariant by construction and has no "
                      "augmenter: set augmentation: none")
    if settings.get("targets", "standard") != "geometric":
        errors.append(f"pet.runs.{run}.targets: a control runs on the geometric targets "
                      "(targets: geometric); the standard runs' tables and figures "
                      "compare PET runs")
    if spec.get("model") is not None:
        errors.append(f"pet.runs.{run}.model: a {CONTROL} control takes its model from "
                      "pet.control_model (these are PET's keys)")
    if spec.get("edge_embedding") is not None:
        errors.append(f"pet.runs.{run}.edge_embedding: a {CONTROL} control has no edge "
                      "embedding (it is PET's)")
    return errors


def pet_errors(config: Mapping[str, Any]) -> list[str]:
    """What a schema cannot check of the PET runs, one line each, naming the key."""
    errors = []
    training = config["pet"]["training"]
    if training["checkpoint_every"] > training["epochs"]:
        errors.append(
            f"pet.training.checkpoint_every: {training['checkpoint_every']} is more than "
            f"pet.training.epochs ({training['epochs']})")
    if not pet_runs(config):
        errors.append("pet.runs: every run is switched off (null); keep at least one")
    for run in pet_runs(config):
        settings = pet_run_settings(config, run)
        model = settings["model"]
        # every PET run shares pet.training's checkpoint epochs (the training rule's
        # outputs and the figures' epoch axis are one list); a run of its own would
        # train, then fail the workflow for checkpoints it never wrote
        for key in ("epochs", "checkpoint_every"):
            if settings["training"][key] != training[key]:
                own = key in ((config["pet"]["runs"][run] or {}).get("training") or {})
                where = (f"pet.runs.{run}.training.{key}" if own
                         else f"pet.geometric_runs.training.{key}")
                message = (f"{where}: {settings['training'][key]} differs from "
                           f"pet.training.{key} ({training[key]}); every PET run shares "
                           "the checkpoint epochs of pet.training")
                if message not in errors:  # pet.geometric_runs: named once
                    errors.append(message)
        if settings["architecture"] != "pet":
            errors += control_run_errors(run, config["pet"]["runs"][run], settings)
            continue
        if model["d_pet"] % model["num_heads"]:
            geometric = ((config["pet"].get("geometric_runs") or {}).get("model")
                         if settings["targets"] == "geometric" else None)
            where = ("pet.runs." + run + ".model" if "model" in config["pet"]["runs"][run]
                     else "pet.geometric_runs.model" if geometric else "pet.model")
            errors.append(
                f"{where}.num_heads: {model['num_heads']} does not divide d_pet "
                f"({model['d_pet']}) for run {run}")
        spec = config["pet"]["runs"][run]
        if (settings["edge_embedding"]["type"] == "solid_harmonics"
                and "lmax" not in settings["edge_embedding"]):
            errors.append(f"pet.runs.{run}.edge_embedding.lmax: solid_harmonics needs lmax")
        embedding = spec.get("edge_embedding") or {}
        for key in ("lmax", "scale"):
            if embedding.get("type") == "cartesian" and key in embedding:
                errors.append(f"pet.runs.{run}.edge_embedding.{key}: the cartesian "
                              f"embedding has no {key} (to switch a run back to PET's own "
                              "embedding in a file layered on top, set its "
                              "edge_embedding: null)")
    return errors
