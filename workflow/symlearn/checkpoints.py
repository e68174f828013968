"""Reading a checkpoint file, for every model family: what ``torch.save`` wrote, or one
line naming the file and why it cannot be read (no torch traceback)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
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


def check_complete(path: str | Path) -> None:
    """Refuse, naming the file, a checkpoint that is missing, empty or truncated, without
    loading it (nor importing torch): ``torch.save`` writes a zip archive that ends with
    its end-of-directory record (22 bytes, no comment), so a cut file does not, and
    every entry's stated size must fit in the file. (A record found elsewhere is no
    proof: a checkpoint can hold a whole model archive among its bytes.) Cheap enough
    to run on every checkpoint before any work."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    size = path.stat().st_size
    with open(path, "rb") as handle:
        handle.seek(max(size - 22, 0))
        tail = handle.read(22)
    if len(tail) < 22 or not tail.startswith(b"PK\x05\x06"):
        raise CheckpointError(f"{path}: not a readable checkpoint ({size} bytes: empty, "
                              "truncated or not written by torch.save: it does not end "
                              "with a zip archive's directory)")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({size} bytes: empty, truncated or not "
            f"written by torch.save: {err})") from None
    for entry in entries:
        if entry.header_offset + entry.compress_size > size:
            raise CheckpointError(f"{path}: not a readable checkpoint (entry "
                                  f"{entry.filename} runs past the end of the file)")


def check_all_complete(paths: Iterable[str | Path]) -> None:
    """:func:`check_complete` on every checkpoint a job will read, before it reads any:
    a bad one fails the job before its first result, naming the file."""
    for path in paths:
        check_complete(path)


def mismatch(path: str | Path, err: Exception) -> CheckpointError:
    """A checkpoint whose weights do not fit the model it describes (keys renamed,
    missing or of another shape), as one line naming the file and the first keys."""
    text = str(err).splitlines()
    detail = "; ".join(line.strip() for line in text[:3] if line.strip())[:400]
    return CheckpointError(f"{path}: its weights do not fit the model it describes "
                           f"(renamed, missing or reshaped parameters: {detail})")
