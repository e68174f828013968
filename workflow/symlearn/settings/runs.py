"""What every model family's runs share: training seeds and checkpoint schedules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def run_seeds(config: Mapping[str, Any], family: str, run: str) -> list[int]:
    """The training seeds of one run of ``family`` (pet or polarmae): its own
    ``seeds``, else the family's (``pet.control_seeds`` for a control run)."""
    spec = config[family]["runs"].get(run) or {}
    if spec.get("seeds") is not None:
        return [int(seed) for seed in spec["seeds"]]
    key = "control_seeds" if (family == "pet" and (spec.get("architecture") or "pet")
                              != "pet") else "seeds"
    return [int(seed) for seed in config[family][key]]


def checkpoint_epochs(epochs: int, every: int) -> list[int]:
    """Epochs (counted as completed epochs) that get a checkpoint: 0, every k, last."""
    if epochs < 1 or every < 1:
        raise ValueError(f"epochs and checkpoint_every must be >= 1, got {epochs}, {every}")
    return sorted({0, *range(every, epochs + 1, every), epochs})
