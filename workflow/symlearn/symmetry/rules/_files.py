"""The rule files shipped in ``rules/data`` (their source and licence: data/graef/
NOTICE.md), read and checked."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np

from ...errors import SymlearnError

DATA = Path(__file__).resolve().parent / "data"


class RuleFileError(SymlearnError, ValueError):
    """A shipped rule file is missing or corrupt; the message names it."""


@functools.cache
def catalogue(folder: str, prefix: str) -> dict[int, tuple[int, Path]]:
    """``{degree: (size, path)}`` of the files ``<prefix>_size<N>_degree<t>.npy``."""
    found = {}
    for path in (DATA / folder).glob(f"{prefix}_size*_degree*.npy"):
        match = re.fullmatch(rf"{prefix}_size(\d+)_degree(\d+)\.npy", path.name)
        if match:
            found[int(match.group(2))] = (int(match.group(1)), path)
    return dict(sorted(found.items()))


def largest(folder: str, prefix: str) -> int:
    """The largest degree among a family's rule files."""
    return max(catalogue(folder, prefix))


def smallest_file(folder: str, prefix: str, degree: int, positive_only: bool = False
                  ) -> tuple[int, int, Path] | None:
    """``(exactness, size, path)`` of the smallest rule file of a family exact to
    ``degree`` (``positive_only``: with positive weights), or None."""
    for exactness, (size, path) in catalogue(folder, prefix).items():
        if exactness >= degree and (not positive_only or positive(path)):
            return exactness, size, path
    return None


@functools.cache
def positive(path: Path) -> bool:
    """Whether the rule's weights are all positive (read without checks: building the
    rule checks the file)."""
    try:
        return bool((np.load(path, allow_pickle=False)[-1] > 0).all())
    except (OSError, ValueError, IndexError):
        return False


def load(path: Path, rows: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(coordinates (rows - 1, size), weights (size,))`` of a rule file, checked:
    readable, ``rows`` x ``size`` finite numbers, weights that sum to 1 (a few of
    Gräf's sphere rules have negative weights; ``auto`` passes them over)."""
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise RuleFileError(f"{path}: the quadrature rule file is missing (reinstall "
                            "symlearn, or choose analysis.quadrature: lebedev)") from None
    except (OSError, ValueError) as err:
        raise RuleFileError(f"{path}: not a readable .npy quadrature rule ({err})") from None
    if data.shape != (rows, size):
        raise RuleFileError(f"{path}: a rule of {size} points needs shape ({rows}, {size}), "
                            f"the file holds {data.shape}")
    if not np.isfinite(data).all():
        raise RuleFileError(f"{path}: holds non-finite values")
    weights = data[-1]
    if abs(weights.sum() - 1.0) > 1e-9:
        raise RuleFileError(f"{path}: the weights must sum to 1; they sum to "
                            f"{weights.sum():.12g}")
    return data[:-1], weights
