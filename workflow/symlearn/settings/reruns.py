"""What reruns a job: the settings that change how a job runs, never what it writes,
kept out of the ``params`` whose change Snakemake reruns a job for (docs/reruns.md)."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from . import external, pet, polarmae
from .base import config_section

#: the settings that change how a job runs, never what it writes, by config section
#: ("" for the top level): the workflow hands them to its commands outside Snakemake's
#: ``params``, so a change of one reruns nothing (docs/reruns.md gives the reasons).
#: Absent on purpose: ``pet.training.num_workers`` (metatrain draws the augmentation's
#: rotations in the data-loader workers, so their number changes the draws) and every
#: ``dtype`` and ``precision`` (they change the numbers).
#: Each family's settings module names its own sections' keys.
HOW_IT_RUNS: dict[str, tuple[str, ...]] = {
    "": ("device", "resources"),
    "data.fetch": ("retries", "timeout"),
    "analysis": ("jobs", "grid_warning_copies"),
    **pet.HOW_IT_RUNS, **polarmae.HOW_IT_RUNS, **external.HOW_IT_RUNS,
}


class HowItRuns:
    """A ``params`` value that changes how a job runs, never what it writes. Snakemake
    reruns a job when a params value it can represent (a builtin type) changes, and
    leaves other types out of that comparison; in the shell command this one reads as
    its text (JSON for a mapping). tests/integration checks that a change reruns
    nothing."""

    def __init__(self, value: Any):
        self.value = value

    def __str__(self) -> str:
        return self.value if isinstance(self.value, str) else json.dumps(self.value,
                                                                          sort_keys=True)

    def __repr__(self) -> str:
        return f"HowItRuns({self.value!r})"


def result_settings(settings: Mapping[str, Any], section: str) -> dict[str, Any]:
    """``settings`` (config section ``section``) without its how-it-runs keys: what a
    job's ``params`` carry, so that only these changes rerun it."""
    drop = HOW_IT_RUNS.get(section, ())
    return {key: value for key, value in settings.items() if key not in drop}


def result_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration without its how-it-runs settings (a PET run's own training
    threads included): what the results depend on, as the provenance records it."""
    result = copy.deepcopy(dict(config))
    for section, keys in HOW_IT_RUNS.items():
        settings = config_section(result, section, missing={})
        for key in keys:
            settings.pop(key, None)
    for run in (result.get("pet", {}).get("runs") or {}).values():
        if run and isinstance(run.get("training"), dict):
            run["training"].pop("threads", None)
    return result


def how_it_runs(config: Mapping[str, Any], section: str,
                exclude: tuple[str, ...] = ("threads",)) -> dict[str, Any]:
    """The how-it-runs settings of one config section (``threads`` excluded: they reach
    a job through its ``threads``, which Snakemake does not track either)."""
    settings = config_section(config, section)
    return {key: settings[key] for key in HOW_IT_RUNS[section]
            if key in settings and key not in exclude}
