"""The ``external`` section: exported models analysed by the metatomic family and ASE
calculators analysed by the calculator family, each with its analysis settings
(``analysis.metatomic``, shared by both, with the entry's keys on top)."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: the metatomic family's rule, whose jobs ask a cluster for a GPU; it runs only when
#: the configuration names an exported model. A calculator picks its own device, so
#: analyse_calculator asks for none (docs/diagnose.md says how to give it one)
GPU_RULES = ("analyse_metatomic",)
#: the keys of the families' section that change how a job runs, never what it writes
HOW_IT_RUNS = {"analysis.metatomic": ("threads", "batch_atoms")}


def external_models(config: Mapping[str, Any]) -> list[str]:
    """The names of the exported models of ``external.models``, in order."""
    return list((config.get("external") or {}).get("models") or {})


def external_calculators(config: Mapping[str, Any]) -> list[str]:
    """The names of the ASE calculators of ``external.calculators``, in order."""
    return list((config.get("external") or {}).get("calculators") or {})


def _analysis_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    settings = dict(config["analysis"]["metatomic"])
    settings["quadrature_check"] = config["analysis"]["quadrature_check"]
    settings["quadrature"] = config["analysis"]["quadrature"]
    return settings


def external_model_settings(config: Mapping[str, Any], model: str) -> dict[str, Any]:
    """One exported model's analysis settings: ``analysis.metatomic`` and the quadrature
    check, with the model's entry on top (``forces`` conservative, ``structures`` test
    when left out)."""
    settings = _analysis_settings(config)
    settings.update({"forces": "conservative", "structures": "test", "outputs": None,
                     "layers": None})
    settings.update(config["external"]["models"][model])
    return settings


def external_calculator_settings(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One calculator's analysis settings: ``analysis.metatomic`` and the quadrature
    check, with the entry on top (``structures`` test when left out); ``calculator`` is
    its ``package.module:factory``."""
    settings = _analysis_settings(config)
    settings.pop("batch_atoms", None)  # one structure per call: nothing to pack
    settings["structures"] = "test"
    settings.update(config["external"]["calculators"][name])
    return settings


def external_job_threads(config: Mapping[str, Any]) -> dict[str, int]:
    """The threads of the families' jobs, by the key that sets them (none without an
    exported model or a calculator)."""
    if not external_models(config) and not external_calculators(config):
        return {}
    return {"analysis.metatomic.threads": config["analysis"]["metatomic"]["threads"]}


def _entry_errors(key: str, settings: Mapping[str, Any]) -> list[str]:
    errors = []
    structures = settings["structures"]
    if structures != "test" and not Path(structures).is_file():
        errors.append(f"{key}.structures: {structures}: no such extxyz file (or "
                      "'test' for the test split of data.atomistic)")
    if 2 * settings["lambda_max"] > (settings["grid_degree"] or 2 * settings["lambda_max"]):
        errors.append(f"{key}: grid_degree {settings['grid_degree']} is below 2 "
                      f"lambda_max ({2 * settings['lambda_max']})")
    return errors


def _module_missing(module: str) -> str | None:
    """Why ``module`` cannot be imported, found without importing it (its parent
    packages are imported), or None. The working folder is searched too, as the job
    (``python -m symlearn``, run there) searches it."""
    added = os.getcwd() not in sys.path and "" not in sys.path
    if added:
        sys.path.append(os.getcwd())
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    finally:
        if added:
            sys.path.remove(os.getcwd())
    return None if found is not None else f"no module named {module!r}"


def external_model_errors(config: Mapping[str, Any]) -> list[str]:
    """An exported model's file, a calculator's module or either's structures that do
    not exist, and a name given to both a model and a calculator, found at the start."""
    errors = []
    for model in external_models(config):
        settings = external_model_settings(config, model)
        key = f"external.models.{model}"
        if not Path(settings["path"]).is_file():
            errors.append(f"{key}.path: {settings['path']}: no such model file")
        errors += _entry_errors(key, settings)
    for name in external_calculators(config):
        settings = external_calculator_settings(config, name)
        key = f"external.calculators.{name}"
        missing = _module_missing(settings["calculator"].partition(":")[0])
        if missing:
            errors.append(f"{key}.calculator: {settings['calculator']}: cannot be "
                          f"imported ({missing})")
        errors += _entry_errors(key, settings)
    for name in sorted(set(external_models(config)) & set(external_calculators(config))):
        errors.append(f"external: {name!r} names both a model and a calculator (their "
                      f"figures would share results/figures/external_{name}.png)")
    return errors
