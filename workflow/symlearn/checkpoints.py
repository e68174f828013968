"""Reading a checkpoint file, for every model family: what ``torch.save`` wrote, or one
line naming the file and why it cannot be read (no torch traceback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import CheckpointError


def read_checkpoint(path: str | Path) -> Any:
    """What ``torch.save`` wrote to ``path`` (on the CPU), or a :class:`CheckpointError`
    naming the file when it is missing, empty, truncated or not a torch file."""
    import torch

    if not Path(path).is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        return torch.load(path, weights_only=False, map_location="cpu")
    except Exception as err:  # noqa: BLE001 (empty, truncated or not a torch file)
        raise CheckpointError(
            f"{path}: not a readable checkpoint (empty, truncated or not written by "
            f"torch.save: {type(err).__name__}: {err})") from None
