"""The ``external`` section: exported models analysed by the metatomic family, each with
its analysis settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: the metatomic family's rule, whose jobs ask a cluster for a GPU; it runs only when
#: the configuration names an exported model
GPU_RULES = ("analyse_metatomic",)
#: the keys of the family's section that change how a job runs, never what it writes
HOW_IT_RUNS = {"analysis.metatomic": ("threads", "batch_atoms")}


def external_models(config: Mapping[str, Any]) -> list[str]:
    """The names of the exported models of ``external.models``, in order."""
    return list((config.get("external") or {}).get("models") or {})


def external_model_settings(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    """One exported model's analysis settings: ``analysis.metatomic`` and the quadrature
    check, with the model's entry on top (``forces`` conservative, ``structures`` test
    when left out)."""
    settings = dict(config["analysis"]["metatomic"])
    settings["quadrature_check"] = config["analysis"]["quadrature_check"]
    settings["quadrature"] = config["analysis"]["quadrature"]
    settings.update({"forces": "conservative", "structures": "test", "outputs": None,
                     "layers": None})
    settings.update(config["external"]["models"][model])
    return settings


def external_job_threads(config: Mapping[str, Any]) -> dict[str, int]:
    """The threads of the family's jobs, by the key that sets them (none without an
    exported model)."""
    if not external_models(config):
        return {}
    return {"analysis.metatomic.threads": config["analysis"]["metatomic"]["threads"]}


def external_model_errors(config: Mapping[str, Any]) -> list[str]:
    """An exported model's file or structures that do not exist, found at the start."""
    errors = []
    for model in external_models(config):
        settings = external_model_settings(config, model)
        key = f"external.models.{model}"
        if not Path(settings["path"]).is_file():
            errors.append(f"{key}.path: {settings['path']}: no such model file")
        structures = settings["structures"]
        if structures != "test" and not Path(structures).is_file():
            errors.append(f"{key}.structures: {structures}: no such extxyz file (or "
                          "'test' for the test split of data.atomistic)")
        if 2 * settings["lambda_max"] > (settings["grid_degree"] or 2 * settings["lambda_max"]):
            errors.append(f"{key}: grid_degree {settings['grid_degree']} is below 2 "
                          f"lambda_max ({2 * settings['lambda_max']})")
    return errors
