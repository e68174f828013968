"""PET's layer names: which ones a run has (checked from its hyperparameters, without
building it), and the layers fig3 (b) follows over training, decided here once for
the analysis jobs and the figure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .pet import pet_run_outputs, pet_run_settings, pet_runs

#: the first component of every module path of metatrain's PET backend, and the raw
#: featurizer inputs its feature hooks also answer (metatrain pet/modules/diagnostic.py)
PET_MODULES = ("combination_mlps", "combination_norms", "edge_backbone", "edge_embedder",
               "edge_heads", "edge_last_layers", "gnn_layers", "gnn_layers_post_mp_edge",
               "gnn_layers_post_mp_node", "node_backbone", "node_embedders", "node_heads",
               "node_last_layers")


PET_FEATURIZER_INPUTS = ("element_indices_nodes", "element_indices_neighbors",
                         "edge_vectors", "edge_distances", "reverse_neighbor_index",
                         "padding_mask", "cutoff_factors")


def pet_layer_problem(layer: str, config: Mapping[str, Any], run: str) -> str | None:
    """Why a layer name (a metatrain module path, ``feature``, a readout's
    ``mtt::aux::<target>_last_layer_features`` or an output) is not one of this run's
    PET, or None; checked against the run's hyperparameters, without building it."""
    outputs = pet_run_outputs(config, run)
    if layer == "feature" or layer in outputs or layer.removeprefix("mtt::") in outputs:
        return None
    if layer.startswith("mtt::aux::"):
        target = layer.removeprefix("mtt::aux::").removesuffix("_last_layer_features")
        if target in outputs and layer.endswith("_last_layer_features"):
            return None
        return f"no readout {layer!r} (outputs: {', '.join(outputs)})"
    if layer in PET_FEATURIZER_INPUTS:
        return None
    if layer in ("energy", "non_conservative_force", "non_conservative_stress",
                 "pseudoscalar") or re.fullmatch(r"(mtt::)?density_l\d+", layer):
        return f"{layer!r} is not an output of this run (outputs: {', '.join(outputs)})"
    path = layer.removesuffix("_node").removesuffix("_edge")
    parts = path.split(".")
    if parts[0] not in PET_MODULES:
        return (f"{layer!r} is not a module of PET (module paths start with "
                f"{', '.join(PET_MODULES)}), nor feature or an output")
    model = pet_run_settings(config, run)["model"]
    if parts[0] == "gnn_layers" and len(parts) > 1:
        n_gnn = int(model["num_gnn_layers"])
        if not parts[1].isdigit() or int(parts[1]) >= n_gnn:
            return f"{layer!r}: PET has gnn_layers.0 to gnn_layers.{n_gnn - 1}"
        if parts[2:4] == ["trans", "layers"] and len(parts) > 4:
            n_att = int(model["num_attention_layers"])
            if not parts[4].isdigit() or int(parts[4]) >= n_att:
                return (f"{layer!r}: each GNN layer has trans.layers.0 to "
                        f"trans.layers.{n_att - 1}")
    return None


def pet_layer_errors(config: Mapping[str, Any]) -> list[str]:
    """``analysis.pet.layers`` and ``figures.fig3_layers`` entries that no analysed run
    has, found at the start rather than in every analysis job."""
    errors = []
    # a control answers its own layers (symlearn.pet.control.control_layers)
    runs = [r for r in pet_runs(config) if pet_run_settings(config, r)["architecture"] == "pet"]
    for layer in config["analysis"]["pet"]["layers"] or []:
        for run in runs:
            problem = pet_layer_problem(layer, config, run)
            if problem:
                errors.append(f"analysis.pet.layers: run {run}: {problem}")
                break
    standard = [r for r in runs if pet_run_settings(config, r)["targets"] != "geometric"]
    for layer in (config.get("figures") or {}).get("fig3_layers") or []:
        problems = [pet_layer_problem(layer, config, run) for run in standard]
        if standard and all(problems):
            errors.append(f"figures.fig3_layers: {problems[0]}")
    return errors


def pet_figure_layers(config: Mapping[str, Any], run: str) -> list[str]:
    """The layers of ``run`` that fig3 (b) follows over training: ``figures.fig3_layers``
    when set, else the last GNN layer's node features, the shared ``feature`` output
    and every output (a control, which has no GNN layer: the last two). The analysis of
    a checkpoint before the last (``analysis.pet.scope: figures``) computes B of these
    only, so fig3 draws these at every checkpoint."""
    chosen = (config.get("figures") or {}).get("fig3_layers")
    if chosen:
        return list(chosen)
    settings = pet_run_settings(config, run)
    gnn = ([f"gnn_layers.{int(settings['model']['num_gnn_layers']) - 1}_node"]
           if settings["architecture"] == "pet" else [])
    prefix = "mtt::" if settings["targets"] == "geometric" else ""
    return gnn + ["feature"] + [prefix + name for name in pet_run_outputs(config, run)]


def fig3_layers(config: Mapping[str, Any]) -> list[str]:
    """The layers fig3 (b) draws: :func:`pet_figure_layers` of the runs on the standard
    targets, in order, each once."""
    runs = [run for run in pet_runs(config)
            if pet_run_settings(config, run)["targets"] == "standard"]
    return list(dict.fromkeys(layer for run in runs
                              for layer in pet_figure_layers(config, run)))
