"""The exactly O(3)-equivariant control: metatrain's SOAP-BPNN, trained and analysed
like PET.

A control run (``architecture: soap_bpnn`` in ``pet.runs``) goes through the PET
family's training (:mod:`symlearn.pet.train`) and analysis (:mod:`symlearn.pet.analyse`)
with the same data, splits, epochs, checkpoints and resume. SOAP-BPNN predicts
invariants with an MLP on SOAP power spectra and covariant targets as invariant
weights times an equivariant basis (metatrain's ``TensorBasis``), so it is equivariant
by construction. Two uses:

- its A sits at the float64 round-off floor and its B is pure, on a trained network
  nobody here wrote: a check of the analysis itself;
- its test error says whether a target can be learnt at all at this scale, so a PET
  run that fails a target is judged against a model that learns it (findings 5, 6).

It has no PET modules: its analysed layers are its invariant ``feature`` output, each
target's last-layer features and the outputs (:func:`control_layers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

#: metatrain's TensorBasis builds a Cartesian target from its irreps up to rank 2
LARGEST_CARTESIAN_RANK = 2


def is_control(model: torch.nn.Module) -> bool:
    """Whether ``model`` is a control (it has no PET backend)."""
    return not hasattr(model, "backend")


def model_targets(model: torch.nn.Module) -> list[str]:
    """The targets a metatrain model predicts, PET or SOAP-BPNN."""
    names = getattr(model, "target_names", None)
    return list(names) if names is not None else list(model.dataset_info.targets)


def control_layers(model: torch.nn.Module, targets: list[str]) -> list[str]:
    """The control's analysed layers: its invariant features, each target's last-layer
    features (the invariant weights of its basis) and the outputs."""
    from .geometric import CUSTOM_PREFIX

    supported = set(model.supported_outputs())
    readouts = [f"mtt::aux::{t.removeprefix(CUSTOM_PREFIX)}_last_layer_features"
                for t in targets]
    return (["feature"] if "feature" in supported else []) + [
        r for r in readouts if r in supported] + list(targets)


def target_problem(name: str, options: Mapping[str, Any]) -> str | None:
    """Why SOAP-BPNN cannot take a target, or None."""
    kind = options.get("type")
    if isinstance(kind, Mapping) and "cartesian" in kind:
        rank = int(kind["cartesian"].get("rank", 0))
        if rank > LARGEST_CARTESIAN_RANK:
            return (f"target {name!r} is a Cartesian tensor of rank {rank}; SOAP-BPNN "
                    f"builds Cartesian targets up to rank {LARGEST_CARTESIAN_RANK}")
    if options.get("forces") or options.get("stress") or options.get("virial"):
        return (f"target {name!r} asks for gradients; the control predicts forces and "
                "stress directly, as PET's runs do")
    return None
