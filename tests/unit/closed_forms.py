"""Closed forms the analyses are checked against, shared by the model families."""

from __future__ import annotations

import numpy as np


def field_term_a(frames, analysed, c: float) -> tuple[float, float]:
    """A of the energy per atom and of the forces for a field term c u . sum_i x_i (|u|
    = 1) added to an invariant energy: over O(3), u.(g s) has mean 0 and variance
    |s|^2 / 3, so the per-atom energy's A is c |s| / (sqrt(3) n) per structure (pooled
    over ``analysed``); the forces gain -c u on every atom, whose back-transformed
    variance per component is c^2 / 3."""
    variances = [c**2 * np.sum(frames[i].positions.sum(axis=0) ** 2)
                 / (3 * len(frames[i]) ** 2) for i in analysed]
    return float(np.sqrt(np.mean(variances))), c / np.sqrt(3)
