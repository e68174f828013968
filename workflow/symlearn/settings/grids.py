"""The quadrature grids of the analyses: each degree is decided here once, from the
configuration; the workflow hands it to the jobs, which do not decide it again."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..symmetry.degrees import grid_degree, required_degree
from ..symmetry.rules import NoRule, choose, largest_degree
from .pet import pet_output_lambda_max, pet_run_settings, pet_runs
from .polarmae import polarmae_runs


def pet_grid_degree(config: Mapping[str, Any], run: str | None = None,
                    auto: bool = False) -> int:
    """The quadrature degree of the PET analysis of ``run`` (default: of the runs
    trained on the standard targets): the configured one (``geometric_grid_degree``
    for a run on the geometric targets, when set, else ``grid_degree``), or (null, or
    ``auto``) the rule of :func:`symmetry.degrees.analysis_degree` for the run's
    outputs."""
    analysis = config["analysis"]["pet"]
    geometric = run is not None and pet_run_settings(config, run)["targets"] == "geometric"
    configured = analysis.get("grid_degree")
    if geometric and analysis.get("geometric_grid_degree") is not None:
        configured = analysis["geometric_grid_degree"]
    output_lambda = 2 if run is None else pet_output_lambda_max(config, run)
    return grid_degree(None if auto else configured, analysis["lambda_max"], output_lambda)


def polarmae_grid_degree(config: Mapping[str, Any], auto: bool = False) -> int:
    """The quadrature degree of the PoLAr-MAE analysis: the configured one, or (null, or
    ``auto``) the rule of :func:`symmetry.degrees.analysis_degree` for its invariant
    outputs (the class probabilities)."""
    analysis = config["analysis"]["polarmae"]
    return grid_degree(None if auto else analysis["grid_degree"], analysis["lambda_max"], 0)


def quadrature_check_degree(config: Mapping[str, Any], degree: int) -> int | None:
    """The degree of the finer grid of the quadrature check of an analysis on
    ``degree`` (None when the check is off)."""
    check = config["analysis"]["quadrature_check"]
    return degree + check["delta"] if check["n_inputs"] > 0 else None


def analysis_grids(config: Mapping[str, Any]) -> dict[str, int]:
    """The grid degrees the analyses of this configuration run on, each named by the
    key that sets it: the PET runs' (standard and geometric), PoLAr-MAE's, and their
    quadrature checks' finer grids."""
    grids = {}
    pet = config["analysis"]["pet"]
    standard = ("analysis.pet.grid_degree" if pet["grid_degree"] is not None
                else "analysis.pet.lambda_max")
    geometric = ("analysis.pet.geometric_grid_degree"
                 if pet["geometric_grid_degree"] is not None else
                 f"{standard} (geometric runs)" if pet["grid_degree"] is not None else
                 "analysis.pet.lambda_max with the geometric targets' lambda_max")
    for targets, key in (("standard", standard), ("geometric", geometric)):
        runs = [r for r in pet_runs(config)
                if pet_run_settings(config, r)["targets"] == targets]
        if runs:
            grids[key] = pet_grid_degree(config, runs[0])
    if polarmae_runs(config):
        grids[("analysis.polarmae.grid_degree"
               if config["analysis"]["polarmae"]["grid_degree"] is not None
               else "analysis.polarmae.lambda_max")] = polarmae_grid_degree(config)
    for key, degree in list(grids.items()):
        check = quadrature_check_degree(config, degree)
        if check is not None:
            grids[f"{key}, its quadrature check"] = check
    return grids


def grid_warnings(config: Mapping[str, Any]) -> list[str]:
    """A grid above ``analysis.grid_warning_copies`` rotated copies, with its size."""
    limit = config["analysis"]["grid_warning_copies"]
    if limit is None:
        return []
    warnings = []
    for key, degree in analysis_grids(config).items():
        # a rule exact to degree D has at least sum_{l <= D/2} (2l + 1)^2 rotations, so
        # 2 (D + 1)^3 / 6 copies or more: the exact count only where it may matter
        if 2 * (degree + 1) ** 3 / 3 <= limit:
            continue
        try:
            copies = 2 * choose(degree, config["analysis"]["quadrature"])[2]
        except NoRule:
            continue  # an error of semantic_errors
        if copies > limit:
            warnings.append(
                f"{key}: a grid of degree {degree}, {copies:,} rotated copies of each "
                f"input per checkpoint (above analysis.grid_warning_copies, {limit:,})")
    return warnings


def grid_errors(config: Mapping[str, Any]) -> list[str]:
    """A configured grid too coarse for the character projections, or beyond what the
    chosen quadrature family reaches."""
    errors = []
    analysis = config["analysis"]["pet"]
    for key in ("grid_degree", "geometric_grid_degree"):
        degree = analysis[key]
        needed = required_degree(lambda_character=analysis["lambda_max"])
        if degree is not None and degree < needed:
            errors.append(
                f"analysis.pet.{key}: {degree} is too coarse for the character projections "
                f"up to lambda_max {analysis['lambda_max']} (needs >= "
                f"{needed}, or null to choose it)")
    rule = config["analysis"]["quadrature"]
    for key, degree in analysis_grids(config).items():
        largest = largest_degree(rule)
        if degree > largest:
            errors.append(f"{key}: asks for a grid of degree {degree}; analysis.quadrature "
                          f"{rule} reaches degree {largest} at most"
                          + ("" if rule == "auto" else " (auto chooses among every rule)"))
    polarmae = config["analysis"]["polarmae"]
    degree = polarmae["grid_degree"]
    needed = polarmae_grid_degree(config, auto=True)
    if degree is not None and degree < needed:
        errors.append(f"analysis.polarmae.grid_degree: {degree} is too coarse; lambda_max "
                      f"{polarmae['lambda_max']} needs a grid of degree >= {needed} "
                      "(or null to choose it)")
    return errors
