"""Gräf's Gauss-type rules on SO(3): rotations chosen by numerical optimisation, with
positive weights, far fewer than a product grid of the same degree (240 at degree 8,
against 342 for product Lebedev). Exact to degree t: ``sum_g w_g D^l(R_g) = 0`` for
1 <= l <= t. The shipped files hold about 11 digits; they are polished to round-off
when built (``_polish``). The rule is translated on the right so that one rotation is
the identity (``R_g -> R_g R_0^T`` keeps every moment: ``D(R h) = D(R) D(h)``)."""

from __future__ import annotations

import functools

import numpy as np

from . import _files, _polish, _product

NAME = "graef_so3"
TITLE = "Gräf SO(3) Gauss"
FOLDER, PREFIX = "graef", "so3_gauss"


def largest_degree() -> int:
    return _files.largest(FOLDER, PREFIX)


def smallest(degree: int, positive: bool = False) -> tuple[int, int, str, bool] | None:
    """``(exactness, proper rotations, label, positive weights)`` of the smallest rule
    exact to ``degree`` (``positive``: with positive weights), or None."""
    found = _files.smallest_file(FOLDER, PREFIX, degree, positive)
    if found is None:
        return None
    exactness, size, path = found
    return (exactness, size, f"{TITLE}: {size} rotations (degree {exactness})",
            _files.positive(path))


@functools.lru_cache(maxsize=16)
def build(degree: int, positive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Proper rotations and weights (summing to 1) of :func:`smallest`'s rule,
    polished to round-off, the first of them the identity."""
    exactness, size, path = _files.smallest_file(FOLDER, PREFIX, degree, positive)
    angles, weights = _files.load(path, 4, size)
    rotations = _product.zyz_matrices(*angles)
    rotations, weights, residual = _polish.polish(rotations, weights, exactness)
    if residual > _polish.ROUND_OFF:
        raise _files.RuleFileError(
            f"{path}: does not integrate degree {exactness} (largest moment {residual:.1e} "
            "after polishing): the file is corrupt")
    first = int(np.argmax(np.trace(rotations, axis1=1, axis2=2)))
    rotations = rotations @ rotations[first].T
    order = [first, *(i for i in range(size) if i != first)]
    rotations[first] = np.eye(3)
    return rotations[order], weights[order]
