"""PoLAr-MAE's preprocessing of one event, and its branching points.

Preprocessing (PoLAr-MAE), in this order, each step switchable: keep points with voxel
value > ``energy_threshold``; drop class 4 (``drop_low_energy``); skip events with fewer
than ``min_points`` points left; map the energy to [-1, 1] on a log scale
(``log_energy``); scale coordinates so the whole volume fits in the unit ball
(``normalize``).

Branching points. A point is flagged as a branching point when, within
``branching_radius`` voxels of it, there is a point of *another cluster of the same
interaction* (interaction id >= 0). This is where particles of one interaction meet: the
vertex, where a delta ray leaves the muon, where the Michel electron starts at the muon's
end. It uses only the cluster table (rows and interaction ids), so the same definition
holds on real PILArNet-M files; there a shower is split into several fragments (rows),
so contacts between fragments of one shower count too. It is computed in voxel
coordinates after the threshold and the class-4 drop, before normalisation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.spatial import cKDTree

from .events import COORD_SCALE, LOW_ENERGY, VOLUME_SIZE, Event


def preprocessing_defaults() -> dict:
    """PoLAr-MAE's preprocessing (a fresh dict each call)."""
    # emin: the reference's loader sets it to the energy threshold whenever there is one
    # (datasets/PILArNet.py, ``transform_energy``), whatever its config says (0.01)
    return {"energy_threshold": 0.13, "log_energy": {"emin": 0.13, "emax": 20.0},
            "drop_low_energy": True, "min_points": 1024, "normalize": True}


def resolve_preprocessing(preprocessing: Mapping | None) -> dict:
    """The full preprocessing: None switches every step off, a missing key takes the
    default, an unknown key is an error (a typo would silently keep the default)."""
    if preprocessing is None:
        return {"energy_threshold": None, "log_energy": None, "drop_low_energy": False,
                "min_points": None, "normalize": False}
    defaults = preprocessing_defaults()
    unknown = sorted(set(preprocessing) - set(defaults))
    if unknown:
        raise ValueError(f"unknown preprocessing key(s) {unknown}; known: {sorted(defaults)}")
    out = {**defaults, **preprocessing}
    log = out["log_energy"]
    if log is True:
        log = defaults["log_energy"]
    elif log is False:
        log = None
    if log is not None:
        if not isinstance(log, Mapping):
            raise ValueError(f"preprocessing 'log_energy' must be a mapping with emin and "
                             f"emax, or null; got {log!r}")
        bad = sorted(set(log) - {"emin", "emax"})
        if bad:
            raise ValueError(f"unknown preprocessing key(s) log_energy.{bad}")
        log = {**defaults["log_energy"], **log}
        if not (log["emin"] > 0 and log["emax"] > 0):
            raise ValueError(f"preprocessing 'log_energy' needs emin, emax > 0, got {log}")
    out["log_energy"] = log
    return out


def log_energy(e, emin: float = 0.13, emax: float = 20.0) -> np.ndarray:
    """PoLAr-MAE's energy scale: [0, emax] onto [-1, 1] logarithmically (not clipped)."""
    e = np.asarray(e, dtype=np.float64)
    lo = math.log10(emin)
    return 2.0 * (np.log10(e + emin) - lo) / (math.log10(emax + emin) - lo) - 1.0


def normalize_coordinates(xyz) -> np.ndarray:
    """Voxel indices to PoLAr-MAE's scale: centre 384 at 0, the volume inside the unit
    ball (a radius of r voxels becomes r / COORD_SCALE)."""
    return (np.asarray(xyz, dtype=np.float64) - VOLUME_SIZE / 2) / COORD_SCALE


def voxel_coordinates(points) -> np.ndarray:
    """The inverse of :func:`normalize_coordinates`."""
    return np.asarray(points, dtype=np.float64) * COORD_SCALE + VOLUME_SIZE / 2


def branching_mask(xyz: np.ndarray, cluster: np.ndarray, interaction: np.ndarray,
                   radius: float = 3.0) -> np.ndarray:
    """Points within ``radius`` (same units as ``xyz``) of a point of another cluster of
    the same interaction (interaction id >= 0): where particles of one interaction meet."""
    mask = np.zeros(len(xyz), dtype=bool)
    eligible = np.flatnonzero(interaction >= 0)
    if len(eligible) < 2:
        return mask
    pairs = cKDTree(xyz[eligible]).query_pairs(radius, output_type="ndarray")
    i, j = eligible[pairs[:, 0]], eligible[pairs[:, 1]]
    meet = (cluster[i] != cluster[j]) & (interaction[i] == interaction[j])
    mask[i[meet]] = True
    mask[j[meet]] = True
    return mask





def _kept(point: np.ndarray, cluster: np.ndarray, prep: Mapping
          ) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the points the threshold and the class-4 drop keep, cluster row of every
    point)."""
    row = np.repeat(np.arange(len(cluster), dtype=np.int64), cluster[:, 0])
    keep = np.ones(len(point), dtype=bool)
    if prep["energy_threshold"] is not None:
        keep &= point[:, 3] > prep["energy_threshold"]
    if prep["drop_low_energy"]:
        keep &= cluster[row, 4] != LOW_ENERGY
    return keep, row


def _enough(n_kept: int, prep: Mapping) -> bool:
    return prep["min_points"] is None or n_kept >= prep["min_points"]


def passes_preprocessing(point: np.ndarray, cluster: np.ndarray, prep: Mapping) -> bool:
    """Whether :func:`preprocess_event` keeps the event (without building it)."""
    keep, _ = _kept(point, cluster, prep)
    return _enough(int(keep.sum()), prep)


def preprocess_event(index: int, point: np.ndarray, cluster: np.ndarray, prep: Mapping,
                     branching_radius: float = 3.0) -> Event | None:
    """One checked raw event (point (N, 8), cluster (C, 5|6), as the reader gives them)
    preprocessed by ``prep`` (a :func:`resolve_preprocessing` result), or None when fewer
    than ``min_points`` points are left. ``branching_radius`` is in voxels."""
    keep, row = _kept(point, cluster, prep)
    if not _enough(int(keep.sum()), prep):
        return None
    point, row = point[keep], row[keep]
    xyz = point[:, :3]
    interaction = cluster[row, 3]
    branching = branching_mask(xyz, row, interaction, branching_radius)
    raw = point[:, 3].copy()
    log = prep["log_energy"]
    energy = raw.copy() if log is None else log_energy(raw, log["emin"], log["emax"])
    return Event(index=int(index),
                 points=normalize_coordinates(xyz) if prep["normalize"] else xyz.copy(),
                 energy=energy, raw_energy=raw, semantic=cluster[row, 4].copy(),
                 cluster=row, interaction=interaction, branching=branching)


