"""The ``analysis`` section: which checkpoints each run's analysis reads, what it
computes of each (its scope), and the settings each analysis job receives, with its
grid degree and fig3's layers decided (:mod:`.grids`, :mod:`.pet_layers`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .data import synthetic_test_size
from .grids import pet_grid_degree, polarmae_grid_degree
from .pet import pet_checkpoint_epochs, pet_run_settings, pet_runs
from .pet_layers import pet_figure_layers
from .polarmae import polarmae_run_settings, polarmae_runs
from .reruns import result_settings


def pet_analysed_epochs(config: Mapping[str, Any], run: str) -> list[int]:
    """The checkpoint epochs of one PET run that the analysis reads: every checkpoint,
    except for the runs on the geometric targets when ``analysis.pet.geometric_every``
    is set: their checkpoints at multiples of it, and the last (their degree-12 grid
    makes each analysis the cost of the default run; fig6 (a) and fig7 follow the test
    error at these epochs, fig6 (b) reads the last)."""
    epochs = pet_checkpoint_epochs(config)
    every = config["analysis"]["pet"].get("geometric_every")
    if every is None or pet_run_settings(config, run)["targets"] != "geometric":
        return epochs
    return [epoch for epoch in epochs if epoch % int(every) == 0 or epoch == epochs[-1]]


def pet_checkpoint_scope(config: Mapping[str, Any], run: str, epoch: int) -> str:
    """What the analysis of one checkpoint computes (``analysis.pet.scope``): ``all``
    (A and B of every layer of ``analysis.pet.layers``), or, with ``scope: figures``
    for a checkpoint before the run's last analysed one, what the figures and the
    claims read of it: ``as_given`` (a run on the geometric targets: the test error as
    given, no grid; fig6 (a)) or ``figure_layers`` (A and B of fig3's layers, when
    ``layers`` is null; fig3)."""
    pet = config["analysis"]["pet"]
    if pet.get("scope", "figures") != "figures":
        return "all"
    if int(epoch) == pet_analysed_epochs(config, run)[-1]:
        return "all"
    if pet_run_settings(config, run)["targets"] == "geometric":
        return "as_given"
    return "figure_layers" if pet.get("layers") is None else "all"


def analysis_settings(config: Mapping[str, Any], family: str) -> dict[str, Any]:
    """A family's analysis settings (without their how-it-runs keys) with the shared
    quadrature rule and check."""
    settings = result_settings(config["analysis"][family], f"analysis.{family}")
    settings["quadrature_check"] = config["analysis"]["quadrature_check"]
    settings["quadrature"] = config["analysis"]["quadrature"]
    return settings


def pet_analysis_settings(config: Mapping[str, Any], run: str) -> dict[str, Any]:
    """What the analysis of a PET run's checkpoints reads: :func:`analysis_settings`,
    its grid degree (:func:`.grids.pet_grid_degree`) and the layers fig3 follows
    (``figure_layers``, what ``--figure-layers-only`` analyses)."""
    settings = analysis_settings(config, "pet")
    settings["grid_degree"] = pet_grid_degree(config, run)
    settings["figure_layers"] = pet_figure_layers(config, run)
    return settings


def polarmae_analysis_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """What the analysis of the PoLAr-MAE checkpoints reads: :func:`analysis_settings`,
    its grid degree and the data's branching radius."""
    settings = analysis_settings(config, "polarmae")
    settings["grid_degree"] = polarmae_grid_degree(config)
    settings["branching_radius"] = config["data"]["lartpc"]["branching_radius"]
    return settings


def analysis_errors(config: Mapping[str, Any]) -> list[str]:
    """What a schema cannot check of the analyses, one line each, naming the key."""
    errors = []
    mus = config["analysis"]["purification"]["refit_mu"]
    bad = [mu for mu in mus if not (isinstance(mu, (int, float)) and math.isfinite(mu)
                                    and mu >= 0)]
    if not mus or bad:
        errors.append("analysis.purification.refit_mu: "
                      + (f"{', '.join(map(str, bad))}: each weight must be finite and >= 0"
                         if bad else "empty; give at least one weight (0: an ordinary "
                                     "least-squares refit)"))
    for run in config["analysis"]["purification"]["runs"]:
        if run not in pet_runs(config):
            errors.append(f"analysis.purification.runs: {run!r} is not a PET run "
                          f"(runs: {', '.join(pet_runs(config))})")
        elif pet_run_settings(config, run)["architecture"] != "pet":
            errors.append(f"analysis.purification.runs: {run!r} is an equivariant "
                          "control; purification refits PET's readouts")
    layers = config["analysis"]["pet"]["layers"]
    fig3_layers = config.get("figures", {}).get("fig3_layers")
    if fig3_layers and layers is not None:
        unknown = [x for x in fig3_layers if x not in layers]
        if unknown:
            errors.append(f"figures.fig3_layers: {', '.join(unknown)} not analysed; "
                          "add them to analysis.pet.layers")
    depths = [polarmae_run_settings(config, run)["model"]["depth"]
              for run in polarmae_runs(config)]
    polarmae_layers = config["analysis"]["polarmae"]["layers"] or []
    if depths:
        bad = [x for x in polarmae_layers
               if x.startswith("blocks.") and int(x[7:]) >= min(depths)]
        if bad:
            errors.append(f"analysis.polarmae.layers: {', '.join(bad)} beyond the last block "
                          f"(blocks.{min(depths) - 1})")
    return errors


def analysis_warnings(config: Mapping[str, Any]) -> list[str]:
    """More analysed structures than the synthetic test split holds (the analysis then
    takes the whole split)."""
    test = synthetic_test_size(config)
    if test is None:
        return []  # a downloaded split's size is known only once it is fetched
    analysis = config["analysis"]["pet"]
    asked = {"analysis.pet.n_structures": analysis["n_structures"],
             "analysis.pet.geometric_n_structures": analysis["geometric_n_structures"]}
    return [f"{key}: {n} asked, but the synthetic test split holds {test} structures; "
            f"the analysis will use all {test}"
            for key, n in asked.items() if n is not None and n > test]
