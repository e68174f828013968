"""Every check of a configuration, gathered: the schema's first, then what each section
module finds that a schema cannot (fractions that must sum to 1, a checkpoint interval
longer than the training, a layer no run has, ...). The workflow runs them when it
starts, before any job, and so does ``symlearn check-config``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .analysis import analysis_errors, analysis_warnings
from .base import schema_errors
from .data import data_errors
from .external import external_model_errors
from .grids import grid_errors, grid_warnings
from .pet import pet_errors, pet_runs
from .pet_layers import pet_layer_errors
from .polarmae import polarmae_errors, polarmae_runs
from .resources import resource_errors


def semantic_errors(config: Mapping[str, Any]) -> list[str]:
    """Problems a schema cannot express, one line each, naming the key."""
    return (data_errors(config) + pet_errors(config) + grid_errors(config)
            + analysis_errors(config) + polarmae_errors(config) + resource_errors(config)
            + required_run_errors(config) + external_model_errors(config)
            + pet_layer_errors(config))


def config_warnings(config: Mapping[str, Any]) -> list[str]:
    """What a valid configuration asks for that it may not want, one line each, naming
    the key: a grid above ``analysis.grid_warning_copies`` copies, and more analysed
    structures than the synthetic test split holds."""
    return grid_warnings(config) + analysis_warnings(config)


def required_run_errors(config: Mapping[str, Any]) -> list[str]:
    """The runs that ``required_runs`` names (a layered configuration file such as
    config/findings.yaml needs them) are all defined, each missing one named."""
    required = config.get("required_runs") or {}
    defined = {
        "pet": ("pet.runs", pet_runs(config)),
        "polarmae": ("polarmae.runs", polarmae_runs(config)),
        "purification": ("analysis.purification.runs",
                         list(config["analysis"]["purification"]["runs"])),
    }
    errors = []
    for kind, (where, runs) in defined.items():
        missing = [run for run in required.get(kind, []) if run not in runs]
        if missing:
            errors.append(
                f"required_runs.{kind}: {', '.join(missing)} missing from {where} "
                f"({', '.join(runs) or 'none'}); the layered configuration file that sets "
                "required_runs is judged on these runs: define them, or drop that file")
    return errors


def results_folder_errors(config: Mapping[str, Any], workdir: str | Path,
                          repository: str | Path) -> list[str]:
    """The ``results`` folder that is surely a mistake: a null spelt as a string (what
    ``--config results=null`` gives), or a working folder inside the repository but
    not its root (``snakemake -s ../Snakefile`` from ``docs/``), which would write the
    results into that subfolder."""
    errors = []
    results = config.get("results")
    if isinstance(results, str) and results.strip().lower() in ("null", "none", "~", ""):
        errors.append(f"results: {results!r} is not a folder name (give a path, e.g. "
                      "results)")
    workdir, repository = Path(workdir).resolve(), Path(repository).resolve()
    if workdir != repository and workdir.is_relative_to(repository):
        errors.append(f"the working folder {workdir} is inside the repository but not its "
                      f"root: run snakemake from {repository} (or --directory elsewhere)")
    return errors


def check_config(config: Mapping[str, Any], schema: Mapping | None = None) -> None:
    """Raise :class:`ConfigError` listing every problem, schema first."""
    errors = schema_errors(config, schema)
    if not errors:
        errors = semantic_errors(config)
    if errors:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(errors))
