"""Liquid-argon TPC events: the PILArNet-M layout's constants and the two forms of an
event, as stored (:class:`RawEvent`) and as the model reads it (:class:`Event`).

Layout (PILArNet-M). Dataset ``point``: one flattened float32 array per event, reshaped
to (N, 8) = x, y, z (voxel indices 0..767 of the 768^3 grid of 3 mm voxels), voxel value
(the energy in MeV that PoLAr-MAE uses), energy deposit, time, number of electrons, dx.
Dataset ``cluster``: one flattened int64 array per event, reshaped to (C, 5) in v1 =
number of points, fragment id, group id, interaction id, semantic type, or (C, 6) in
v2/v3 with the particle id (pdg-like, -1 for low-energy deposits) appended; v2/v3 files
also hold ``cluster_extra`` ((C, 5) in v2, (C, 6) in v3). Points are stored cluster by
cluster in the order of the ``cluster`` rows, so the sizes column gives every point its
row; the first row of an event is its low-energy deposits (semantic 4, interaction -1).
The layout is detected from the file: ``cluster_extra`` present means a 6-column
``cluster``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..table_schemas import SEMANTIC_CLASSES

VOLUME_SIZE = 768
CLASS_NAMES = SEMANTIC_CLASSES  # semantic 0..4
SHOWER, TRACK, MICHEL, DELTA, LOW_ENERGY = range(5)
POINT_COLUMNS = ("x", "y", "z", "value", "energy_deposit", "time", "n_electrons", "dx")
CLUSTER_COLUMNS = ("size", "fragment_id", "group_id", "interaction_id", "semantic_type",
                   "particle_id")
#: v2 ``cluster_extra``; v3 appends ``is_primary``. The first column of PILArNet-M's is
#: not documented; the simulator writes the energy deposited by the cluster there.
CLUSTER_EXTRA_COLUMNS = ("energy", "momentum", "vertex_x", "vertex_y", "vertex_z")
LAYOUTS = ("v1", "v2", "v3")
#: first event index of each split: the splits draw from disjoint random streams
SPLIT_OFFSETS = {"train": 0, "val": 1_000_000_000, "test": 2_000_000_000}
#: PoLAr-MAE's coordinate scale: half the diagonal of the volume, in voxels
COORD_SCALE = VOLUME_SIZE * math.sqrt(3) / 2



@dataclass
class RawEvent:
    """One event exactly as stored (v2 columns; the v1 layout drops the last column)."""

    point: np.ndarray          # (N, 8) float32
    cluster: np.ndarray        # (C, 6) int64
    cluster_extra: np.ndarray  # (C, 5) float32


@dataclass
class Event:
    """One preprocessed event: what the model and the analysis read."""

    index: int                 # split-local index (for a single file: in the file)
    points: np.ndarray         # (N, 3) float64, normalised if asked
    energy: np.ndarray         # (N,) float64, log-scaled if asked
    raw_energy: np.ndarray     # (N,) float64, MeV (voxel value)
    semantic: np.ndarray       # (N,) int64
    cluster: np.ndarray        # (N,) int64, row of the cluster table
    interaction: np.ndarray    # (N,) int64
    branching: np.ndarray      # (N,) bool

    @property
    def n_points(self) -> int:
        return len(self.points)


