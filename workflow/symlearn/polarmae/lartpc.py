"""Liquid-argon TPC events: a small simulator writing the PILArNet-M HDF5 layout, and
the reader (with PoLAr-MAE's preprocessing) that reads both it and the real files.

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

Simulator. One neutrino-like interaction per event: a muon (straight with
multiple-scattering kinks, 0.6 MeV per voxel, Bragg-like rise over its last ~20 voxels
when it stops), 0-2 protons (short, high dE/dx, Bragg peak), a Michel electron at the
end of a stopping muon (90% of them; the rest are captured), 1-4 delta rays off the
muon, 0-2 electromagnetic showers (branching cascades of short segments with small
gaps) and 10-40 isolated low-energy deposits around the vertex. Trajectories are
stepped at 0.5 voxel and their deposits summed per voxel and per particle (one cluster
row each; a voxel may appear in two clusters, as in the real data). Every event is
drawn from its own random stream, seeded by (seed, event index): a set is reproducible
and does not depend on how many events are asked for, and the splits use disjoint
ranges of indices.

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

Splits. A split is either one PILArNet-M file (all its events) or a split manifest
(``.json``, written by :func:`write_split_manifest`): events [start, stop) of each of
several files, concatenated in order, so a split can span several files or a slice of
one. :class:`EventSource` reads a split by *split-local* index (0 .. n - 1), keeping one
HDF5 handle per file open; ``Event.index`` is that split-local index (for a single file,
the index in the file), unique within the split.
"""

from __future__ import annotations

import bisect
import json
import math
import operator
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from scipy.spatial import cKDTree

from ..errors import DataError
from ..io import Closing, atomic_path, write_text_atomic
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

STEP = 0.5            # voxels per trajectory step
MIP_DEDX = 0.6        # MeV per voxel: 2.1 MeV/cm * 0.3 cm
W_ION = 23.6e-6       # MeV per ionisation electron in argon
RECOMBINATION = 0.7   # fraction of electrons that escape recombination
MARGIN = 100          # voxels between the vertex and the walls
MUON_MASS = 105.66
PROTON_MASS = 938.27
ELECTRON_MASS = 0.511
SHOWER_CRITICAL = 20.0  # MeV below which a shower electron only ranges out
READ_CHUNK = 1024       # events per slice when a file or a range of it is streamed
#: the ``format`` of a split manifest (see :func:`write_split_manifest`)
MANIFEST_FORMAT = "symlearn-lartpc-split/1"


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


# ----------------------------------------------------------------------------- simulator


@dataclass
class _Track:
    """Step midpoints of one particle's trajectory with what each step deposits."""

    mid: np.ndarray   # (M, 3)
    de: np.ndarray    # (M,) MeV
    s: np.ndarray     # (M,) path length at the midpoint
    ds: np.ndarray    # (M,) step length
    end: np.ndarray   # last position reached
    direction: np.ndarray  # direction of the last step
    stopped: bool     # ranged out inside the volume (False: left it)

    @staticmethod
    def concat(parts: Sequence[_Track]) -> _Track:
        return _Track(np.concatenate([p.mid for p in parts]),
                      np.concatenate([p.de for p in parts]),
                      np.concatenate([p.s for p in parts]),
                      np.concatenate([p.ds for p in parts]),
                      parts[-1].end, parts[-1].direction, parts[-1].stopped)


@dataclass
class _Particle:
    semantic: int
    pdg: int
    group: int | None  # None: its own fragment id (a primary)
    track: _Track
    start: np.ndarray
    momentum: float


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _deflect(rng: np.random.Generator, direction: np.ndarray, angle: float) -> np.ndarray:
    """``direction`` turned by ``angle`` (rad) about a random perpendicular axis."""
    perp = rng.normal(size=3)
    perp -= perp.dot(direction) * direction
    perp /= np.linalg.norm(perp)
    out = math.cos(angle) * direction + math.sin(angle) * perp
    return out / np.linalg.norm(out)


def _inside(x: np.ndarray) -> np.ndarray:
    return np.all((x >= 0.0) & (x < VOLUME_SIZE), axis=-1)


def _walk(rng: np.random.Generator, start: np.ndarray, direction: np.ndarray,
          length: float, dedx: Callable[[np.ndarray], np.ndarray],
          sigma: Callable[[np.ndarray], np.ndarray], s0: float = 0.0,
          kink_rate: float = 0.0, kink_sigma: float = 0.0,
          fluctuation: float = 3.0) -> _Track:
    """Step a trajectory of ``length`` voxels, ending at the first step out of the volume.

    ``dedx`` (MeV per voxel) and ``sigma`` (scattering kick per step, rad) are functions
    of the residual range, so Bragg peaks and end-of-range wiggles come for free. The
    direction is a random walk (cumulative kicks), kinks are rare larger kicks, and the
    deposit of each step fluctuates (gamma, mean 1). Every random number is drawn before
    the truncation, so the stream does not depend on where the track leaves.
    """
    n = max(1, math.ceil(length / STEP))
    ds = np.full(n, length / n)
    s_end = np.cumsum(ds)
    s_mid = s_end - 0.5 * ds
    residual = length - s_mid
    kicks = rng.normal(size=(n, 3)) * sigma(residual)[:, None]
    kinks = rng.random(n) < kink_rate
    kicks[kinks] += rng.normal(size=(int(kinks.sum()), 3)) * kink_sigma
    dirs = direction + np.cumsum(kicks, axis=0)
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    pos = start + np.cumsum(dirs * ds[:, None], axis=0)
    mid = np.vstack([start, pos[:-1]]) * 0.5 + pos * 0.5
    de = dedx(residual) * ds * rng.gamma(fluctuation, 1.0 / fluctuation, n)
    out = ~_inside(pos)
    k = int(np.argmax(out)) if out.any() else n
    end = pos[k - 1] if k else np.asarray(start, dtype=float)
    return _Track(mid[:k], de[:k], s0 + s_mid[:k], ds[:k], end, dirs[max(k - 1, 0)],
                  stopped=k == n)


def _muon_dedx(r: np.ndarray) -> np.ndarray:
    return MIP_DEDX * np.maximum(1.0, (20.0 / (r + 0.5)) ** 0.42)


def _proton_dedx(r: np.ndarray) -> np.ndarray:
    # range-energy power law of protons in LAr (R ~ T^1.75), per 3 mm voxel
    return np.maximum(2.0 * MIP_DEDX, 10.0 * (r + 0.5) ** -0.43)


def _electron_dedx(r: np.ndarray) -> np.ndarray:
    return 1.1 * MIP_DEDX * np.maximum(1.0, (3.0 / (r + 0.5)) ** 0.5)


def _kinetic(dedx: Callable[[np.ndarray], np.ndarray], length: float) -> float:
    """Kinetic energy (MeV) that ranges out over ``length`` voxels."""
    r = np.arange(0.0, length, STEP) + 0.5 * STEP
    return float(dedx(r).sum() * STEP)


def _momentum(kinetic: float, mass: float) -> float:
    return math.sqrt(kinetic * kinetic + 2.0 * kinetic * mass)


def _shower(rng: np.random.Generator, start: np.ndarray, direction: np.ndarray,
            energy: float, s0: float) -> _Track | None:
    """An electromagnetic cascade: short wiggly segments that split in two after small
    gaps (conversion-like) until the pieces fall below the critical energy and range
    out. Energy leaving the volume is lost."""
    parts: list[_Track] = []
    stack = [(np.asarray(start, float), direction, energy, s0)]
    segments = 0
    while stack and segments < 600:
        pos, d, e, s = stack.pop()
        segments += 1
        if e <= SHOWER_CRITICAL:
            length = max(1.0, e / _electron_dedx(np.array([10.0]))[0])
            parts.append(_walk(rng, pos, d, length, _electron_dedx,
                               lambda r: np.full_like(r, 0.12), s0=s))
            continue
        length = min(rng.exponential(6.0) + 2.0, e / (1.1 * MIP_DEDX))
        seg = _walk(rng, pos, d, length, lambda r: np.full_like(r, 1.1 * MIP_DEDX),
                    lambda r: np.full_like(r, 0.05), s0=s)
        parts.append(seg)
        left = e - float(seg.de.sum())
        if not seg.stopped or left <= 0.0:
            continue
        split = rng.uniform(0.15, 0.85)
        s_end = s + length
        for fraction in (split, 1.0 - split):
            child = left * fraction
            spread = float(np.clip(2.0 / math.sqrt(child), 0.08, 0.6))
            child_dir = _deflect(rng, seg.direction, abs(rng.normal(0.0, spread)))
            gap = min(rng.exponential(2.0), 10.0)
            child_start = seg.end + gap * child_dir
            if _inside(child_start):
                stack.append((child_start, child_dir, child, s_end + gap))
    parts = [p for p in parts if len(p.de)]
    return _Track.concat(parts) if parts else None


def _voxelise(track: _Track, rng: np.random.Generator) -> np.ndarray:
    """Sum the step deposits per voxel: (K, 8) point rows in order of first visit."""
    idx = np.floor(track.mid).astype(np.int64)
    key = (idx[:, 0] * VOLUME_SIZE + idx[:, 1]) * VOLUME_SIZE + idx[:, 2]
    uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    k = len(uniq)
    energy = np.bincount(inverse, weights=track.de, minlength=k)
    dx = np.bincount(inverse, weights=track.ds, minlength=k)
    time = np.full(k, np.inf)
    np.minimum.at(time, inverse, track.s)
    value = energy * np.exp(rng.normal(0.0, 0.03, k))  # reconstructed charge: 3% smear
    rows = np.column_stack([idx[first], value, energy, time,
                            energy / W_ION * RECOMBINATION, dx])
    return rows[np.argsort(first, kind="stable")]


def _low_energy(rng: np.random.Generator, vertex: np.ndarray) -> np.ndarray:
    """10-40 isolated voxels of 0.02-0.4 MeV within 60 voxels of the vertex."""
    n = int(rng.integers(10, 41))
    radius = 60.0 * rng.random(n) ** (1.0 / 3.0)
    dirs = rng.normal(size=(n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    idx = np.clip(np.floor(vertex + radius[:, None] * dirs), 0, VOLUME_SIZE - 1)
    energy = rng.uniform(0.02, 0.4, n)
    _, keep = np.unique(idx, axis=0, return_index=True)
    keep = np.sort(keep)
    zeros = np.zeros(len(keep))
    return np.column_stack([idx[keep], energy[keep], energy[keep], zeros,
                            energy[keep] / W_ION * RECOMBINATION, zeros])


def simulate_event(seed: int, index: int) -> RawEvent:
    """One event, a function of (seed, index) only."""
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be >= 0, got seed={seed}, index={index}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    vertex = rng.uniform(MARGIN, VOLUME_SIZE - MARGIN, 3)
    particles: list[_Particle] = []

    # muon: its fragment id is 0, the group of the Michel and the delta rays
    mu_dir = _unit(rng)
    mu_len = rng.uniform(150.0, 400.0)
    muon = _walk(rng, vertex, mu_dir, mu_len, _muon_dedx,
                 lambda r: 0.004 * (1.0 + np.sqrt(30.0 / (r + 1.0))),
                 kink_rate=0.02, kink_sigma=0.05)
    particles.append(_Particle(TRACK, 13, 0, muon, vertex,
                               _momentum(_kinetic(_muon_dedx, mu_len), MUON_MASS)))

    for _ in range(int(rng.integers(0, 3))):
        length = rng.uniform(10.0, 60.0)
        track = _walk(rng, vertex, _unit(rng), length, _proton_dedx,
                      lambda r: 0.01 * (1.0 + np.sqrt(10.0 / (r + 1.0))))
        particles.append(_Particle(TRACK, 2212, None, track, vertex,
                                   _momentum(_kinetic(_proton_dedx, length), PROTON_MASS)))

    if muon.stopped and rng.random() < 0.9:  # ~10% of stopping mu- are captured instead
        length = rng.uniform(10.0, 25.0)
        track = _walk(rng, muon.end, _unit(rng), length, _electron_dedx,
                      lambda r: np.full_like(r, 0.15), s0=float(muon.s[-1]) + STEP)
        particles.append(_Particle(MICHEL, 11, 0, track, muon.end,
                                   _momentum(float(track.de.sum()), ELECTRON_MASS)))

    n_mu = len(muon.mid)
    for _ in range(int(rng.integers(1, 5))):
        at = int(rng.integers(0, max(1, int(0.9 * n_mu))))
        local = muon.mid[min(at + 1, n_mu - 1)] - muon.mid[max(at - 1, 0)]
        norm = np.linalg.norm(local)
        local = local / norm if norm > 0 else mu_dir
        direction = _deflect(rng, local, math.acos(rng.uniform(0.3, 0.95)))
        length = rng.uniform(3.0, 12.0)
        track = _walk(rng, muon.mid[at], direction, length, _electron_dedx,
                      lambda r: np.full_like(r, 0.1), s0=float(muon.s[at]))
        particles.append(_Particle(DELTA, 11, 0, track, muon.mid[at],
                                   _momentum(_kinetic(_electron_dedx, length),
                                             ELECTRON_MASS)))

    n_showers = int(rng.choice(3, p=[0.15, 0.45, 0.40]))
    for _ in range(n_showers):
        direction = _unit(rng)
        gap = 0.0 if rng.random() < 0.5 else rng.uniform(3.0, 30.0)  # photon conversion
        start = vertex + gap * direction
        energy = math.exp(rng.uniform(math.log(120.0), math.log(800.0)))
        track = _shower(rng, start, direction, energy, s0=gap)
        if track is not None:
            particles.append(_Particle(SHOWER, 11, None, track, start,
                                       _momentum(energy, ELECTRON_MASS)))

    blocks = [_low_energy(rng, vertex)]
    rows = [[len(blocks[0]), -1, -1, -1, LOW_ENERGY, -1]]
    extra = [[float(blocks[0][:, 4].sum()), 0.0, *vertex]]
    fragment = 0
    for p in particles:
        if not len(p.track.mid):
            continue
        pts = _voxelise(p.track, rng)
        blocks.append(pts)
        group = fragment if p.group is None else p.group
        rows.append([len(pts), fragment, group, 0, p.semantic, p.pdg])
        extra.append([float(pts[:, 4].sum()), p.momentum, *p.start])
        fragment += 1
    return RawEvent(point=np.concatenate(blocks).astype(np.float32),
                    cluster=np.asarray(rows, dtype=np.int64),
                    cluster_extra=np.asarray(extra, dtype=np.float32))


# ----------------------------------------------------------------------------- writing


def _check_raw(event: RawEvent, i: int) -> None:
    point, cluster, extra = event.point, event.cluster, event.cluster_extra
    if point.ndim != 2 or point.shape[1] != 8:
        raise ValueError(f"event {i}: point has shape {point.shape}, expected (N, 8)")
    if cluster.ndim != 2 or cluster.shape[1] != 6:
        raise ValueError(f"event {i}: cluster has shape {cluster.shape}, expected (C, 6)")
    if extra.shape != (len(cluster), 5):
        raise ValueError(f"event {i}: cluster_extra has shape {extra.shape}, "
                         f"expected ({len(cluster)}, 5)")
    if int(cluster[:, 0].sum()) != len(point):
        raise ValueError(f"event {i}: cluster sizes sum to {int(cluster[:, 0].sum())}, "
                         f"but there are {len(point)} points")


def _write_stream(path: str | os.PathLike, events: Iterable[RawEvent], n: int,
                  layout: str) -> None:
    """Write ``n`` events one at a time (a large set never sits in memory), atomically."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        point = f.create_dataset("point", (n,), dtype=h5py.vlen_dtype(np.float32))
        cluster = f.create_dataset("cluster", (n,), dtype=h5py.vlen_dtype(np.int64))
        extra = None
        if layout != "v1":
            extra = f.create_dataset("cluster_extra", (n,),
                                     dtype=h5py.vlen_dtype(np.float32))
        written = 0
        for i, event in enumerate(events):
            if i >= n:
                raise ValueError(f"more than the {n} events announced")
            _check_raw(event, i)
            point[i] = np.ascontiguousarray(event.point, dtype=np.float32).ravel()
            table = event.cluster[:, :5] if layout == "v1" else event.cluster
            cluster[i] = np.ascontiguousarray(table, dtype=np.int64).ravel()
            if extra is not None:
                ext = event.cluster_extra
                if layout == "v3":  # is_primary: a particle that is its own group
                    primary = ((event.cluster[:, 1] == event.cluster[:, 2])
                               & (event.cluster[:, 3] >= 0))
                    ext = np.column_stack([ext, primary])
                extra[i] = np.ascontiguousarray(ext, dtype=np.float32).ravel()
            written += 1
        if written != n:
            raise ValueError(f"{written} events given, {n} announced")
        f.attrs["layout"] = layout
        f.attrs["volume_size"] = VOLUME_SIZE


def write_pilarnet(path: str | os.PathLike, events: Sequence[RawEvent],
                   layout: str = "v2") -> None:
    """Write events in the PILArNet-M layout ("v1", "v2" or "v3"), atomically."""
    _write_stream(path, events, len(events), layout)


def make_lartpc(out_dir: str | os.PathLike, seed: int, n_events: Mapping[str, int],
                layout: str = "v2") -> dict:
    """Simulate and write ``{split}.h5`` for each split; return a JSON-able summary.

    Event i of a split is ``simulate_event(seed, SPLIT_OFFSETS[split] + i)``, so splits
    never share an event and growing one split leaves the others unchanged.
    """
    out_dir = Path(out_dir)
    summary: dict = {"seed": int(seed), "layout": layout, "splits": {}}
    for split, n in n_events.items():
        if split not in SPLIT_OFFSETS:
            raise ValueError(f"unknown split {split!r}; expected one of "
                             f"{tuple(SPLIT_OFFSETS)}")
        n = int(n)
        if not 0 <= n < SPLIT_OFFSETS["val"]:
            raise ValueError(f"split {split!r}: {n} events is out of range")
        offset = SPLIT_OFFSETS[split]
        stats = {"points": 0, "points_above_threshold": 0,
                 "class_points": dict.fromkeys(CLASS_NAMES, 0),
                 "class_clusters": dict.fromkeys(CLASS_NAMES, 0)}
        threshold = preprocessing_defaults()["energy_threshold"]

        def stream(n=n, offset=offset, stats=stats, threshold=threshold
                   ) -> Iterator[RawEvent]:
            for i in range(n):
                event = simulate_event(seed, offset + i)
                semantic = np.repeat(event.cluster[:, 4], event.cluster[:, 0])
                counts = np.bincount(semantic, minlength=len(CLASS_NAMES))
                rows = np.bincount(event.cluster[:, 4], minlength=len(CLASS_NAMES))
                for c, name in enumerate(CLASS_NAMES):
                    stats["class_points"][name] += int(counts[c])
                    stats["class_clusters"][name] += int(rows[c])
                stats["points"] += len(event.point)
                stats["points_above_threshold"] += int((event.point[:, 3] > threshold).sum())
                yield event

        path = out_dir / f"{split}.h5"
        _write_stream(path, stream(), n, layout)
        summary["splits"][split] = {"file": str(path), "events": n, "first_index": offset,
                                    **stats}
    return summary


# ----------------------------------------------------------------------------- reading


def preprocessing_defaults() -> dict:
    """PoLAr-MAE's preprocessing (a fresh dict each call)."""
    return {"energy_threshold": 0.13, "log_energy": {"emin": 0.01, "emax": 20.0},
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


def log_energy(e, emin: float = 0.01, emax: float = 20.0) -> np.ndarray:
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


def _open(path: str | os.PathLike) -> h5py.File:
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise DataError(f"{path}: cannot be opened as HDF5 (not an HDF5 file, or "
                        f"truncated): {err}") from err


def _datasets(f: h5py.File, path) -> tuple[h5py.Dataset, h5py.Dataset, h5py.Dataset | None]:
    """The point, cluster and (v2/v3) cluster_extra datasets, checked for presence."""
    for name in ("point", "cluster"):
        if name not in f:
            raise DataError(f"{path}: no '{name}' dataset (a PILArNet-M file has 'point' "
                            f"and 'cluster'; found {sorted(f.keys())})")
    point, cluster = f["point"], f["cluster"]
    extra = f["cluster_extra"] if "cluster_extra" in f else None
    for name, ds in (("point", point), ("cluster", cluster), ("cluster_extra", extra)):
        if ds is not None and ds.ndim != 1:
            raise DataError(f"{path}: '{name}' has shape {ds.shape}, expected one "
                            "flattened array per event (n_events,)")
    if len(cluster) != len(point) or (extra is not None and len(extra) != len(point)):
        raise DataError(f"{path}: datasets disagree on the number of events: point "
                        f"{len(point)}, cluster {len(cluster)}"
                        + ("" if extra is None else f", cluster_extra {len(extra)}"))
    return point, cluster, extra


def _check_event(path, i: int, point, cluster, extra, width: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Reshape one event's flattened arrays and check them against each other."""
    where = f"{path}: event {i}"
    point = np.asarray(point).ravel()
    cluster = np.asarray(cluster).ravel()
    if point.size % 8:
        raise DataError(f"{where}: 'point' holds {point.size} values, not a multiple of 8 "
                        f"({', '.join(POINT_COLUMNS)})")
    if cluster.size % width:
        raise DataError(f"{where}: 'cluster' holds {cluster.size} values, not a multiple "
                        f"of {width} (the {'v2/v3' if width == 6 else 'v1'} layout)")
    point = point.reshape(-1, 8).astype(np.float64)
    cluster = cluster.reshape(-1, width).astype(np.int64)
    n_clusters = len(cluster)
    if extra is not None and np.asarray(extra).size not in (5 * n_clusters, 6 * n_clusters):
        raise DataError(f"{where}: 'cluster_extra' holds {np.asarray(extra).size} values, "
                        f"not 5 or 6 per cluster row ({n_clusters} rows)")
    sizes = cluster[:, 0]
    if (sizes < 0).any():
        raise DataError(f"{where}: negative cluster size in 'cluster' column 0")
    if int(sizes.sum()) != len(point):
        raise DataError(f"{where}: cluster sizes sum to {int(sizes.sum())}, but 'point' "
                        f"holds {len(point)} points")
    semantic = cluster[:, 4]
    if ((semantic < 0) | (semantic >= len(CLASS_NAMES))).any():
        raise DataError(f"{where}: semantic type outside 0..4: {sorted(set(semantic))}")
    if not np.isfinite(point).all():
        raise DataError(f"{where}: 'point' contains non-finite values")
    return point, cluster


class _PilarnetFile(Closing):
    """One open PILArNet-M file: its datasets, checked for layout, and its event count."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self.handle = _open(path)
        try:
            self.point, self.cluster, self.extra = _datasets(self.handle, self.path)
            self.n_events = len(self.point)
        except OSError as err:
            self.handle.close()
            raise DataError(f"{self.path}: cannot be read (truncated?): {err}") from err
        except BaseException:
            self.handle.close()
            raise
        self.width = 5 if self.extra is None else 6

    def read(self, start: int, stop: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(index in the file, point (N, 8), cluster (C, 5|6)) of events start..stop-1,
        checked, read from the file READ_CHUNK events at a time."""
        for a in range(start, stop, READ_CHUNK):
            b = min(a + READ_CHUNK, stop)
            try:
                points, clusters = self.point[a:b], self.cluster[a:b]
                extras = self.extra[a:b] if self.extra is not None else [None] * (b - a)
            except OSError as err:
                raise DataError(f"{self.path}: event(s) {a}..{b - 1} cannot be read "
                                f"(truncated or corrupt file): {err}") from err
            for i, p, c, e in zip(range(a, b), points, clusters, extras, strict=True):
                yield (i, *_check_event(self.path, i, p, c, e, self.width))

    def close(self) -> None:
        self.handle.close()


def count_events(path: str | os.PathLike) -> int:
    """Number of events in a PILArNet-M file, or in the split of a manifest (``.json``)."""
    if is_split_manifest(path):
        return sum(len(part) for part in read_split_manifest(path))
    with _PilarnetFile(path) as f:
        return f.n_events


# ----------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class SplitPart:
    """The events [start, stop) (indices in the file) that one file gives a split."""

    path: str             # absolute for a manifest's entry (relative ones resolved)
    start: int
    stop: int
    events_in_file: int   # as counted when the manifest was written

    def __len__(self) -> int:
        return self.stop - self.start


def is_split_manifest(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a split manifest (``.json``) rather than an HDF5 file."""
    return Path(path).suffix.lower() == ".json"


def _manifest_entry_path(file: str | os.PathLike, folder: Path) -> str:
    """``file`` relative to ``folder`` when it lies inside it, else absolute."""
    absolute = Path(os.path.abspath(file))
    try:
        return absolute.relative_to(folder).as_posix()
    except ValueError:
        return str(absolute)


def write_split_manifest(files: Sequence[str | os.PathLike],
                         events: tuple[int, int] | None,
                         out: str | os.PathLike) -> dict:
    """Write the split made of the events [start, stop) of the concatenation of
    ``files`` (in the order given; ``events=None``: all of them) to the manifest ``out``
    (a ``.json`` name), atomically, and return what it wrote.

    Every file is opened, checked for the PILArNet-M layout and counted (its events are
    not read). The manifest is ``{"format": MANIFEST_FORMAT, "files": [{"path", "start",
    "stop", "events_in_file"}, ...], "n_events"}``: one entry per file that gives the
    split at least one event, ``start``/``stop`` indices in that file, ``path`` relative
    to the manifest's folder when the file lies inside it, else absolute.
    """
    out = Path(out)
    if not is_split_manifest(out):
        raise ValueError(f"{out}: a split manifest's name must end in .json")
    files = [str(f) for f in files]
    if not files:
        raise ValueError(f"{out}: no file given for the split")
    names = ", ".join(files)
    if events is not None:
        try:
            start, stop = (operator.index(x) for x in events)
        except (TypeError, ValueError):
            raise ValueError(f"events must be (start, stop) integers or None, got "
                             f"{events!r}") from None
        if start < 0 or start >= stop:
            raise DataError(f"{names}: empty event range [{start}, {stop}) asked for "
                            "(need 0 <= start < stop)")
    seen: set[str] = set()
    counts = []
    for file in files:
        key = os.path.abspath(file)
        if key in seen:
            raise DataError(f"{file}: listed twice for one split")
        seen.add(key)
        with _PilarnetFile(file) as f:
            counts.append(f.n_events)
    total = sum(counts)
    held = (f"{files[0]} holds {total} events" if len(files) == 1 else
            ", ".join(f"{f} ({n} events)" for f, n in zip(files, counts, strict=True))
            + f" hold {total} events in all")
    if events is None:
        start, stop = 0, total
        if total == 0:
            raise DataError(f"{names}: no events")
    elif stop > total:
        raise DataError(f"events [{start}, {stop}) asked for, but {held}")
    folder = Path(os.path.abspath(out)).parent
    entries, offset = [], 0
    for file, n in zip(files, counts, strict=True):
        a, b = max(start - offset, 0), min(stop - offset, n)
        if a < b:
            entries.append({"path": _manifest_entry_path(file, folder), "start": a,
                            "stop": b, "events_in_file": n})
        offset += n
    manifest = {"format": MANIFEST_FORMAT, "files": entries, "n_events": stop - start}
    write_text_atomic(out, json.dumps(manifest, indent=1) + "\n")
    return manifest


def _manifest_int(where: str, entry: Mapping, key: str) -> int:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DataError(f"{where}: '{key}' must be an integer, got {value!r}")
    return value


def read_split_manifest(path: str | os.PathLike) -> list[SplitPart]:
    """The parts of a split manifest, checked (the files are not opened; relative paths
    are resolved from the manifest's folder)."""
    if not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    try:
        data = json.loads(Path(path).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a split manifest (not JSON: {err})") from err
    found = data.get("format") if isinstance(data, dict) else None
    if found != MANIFEST_FORMAT:
        raise DataError(f"{path}: not a split manifest (format {found!r}, expected "
                        f"{MANIFEST_FORMAT!r})")
    entries = data.get("files")
    if not isinstance(entries, list) or not entries:
        raise DataError(f"{path}: 'files' must be a non-empty list of "
                        "{path, start, stop, events_in_file}")
    folder = Path(os.path.abspath(path)).parent
    parts = []
    for k, entry in enumerate(entries):
        where = f"{path}: files[{k}]"
        if not isinstance(entry, dict):
            raise DataError(f"{where} is not a mapping")
        file = entry.get("path")
        if not isinstance(file, str) or not file:
            raise DataError(f"{where}: 'path' must be a non-empty string, got {file!r}")
        where = f"{where} ({file})"
        start, stop, n = (_manifest_int(where, entry, key)
                          for key in ("start", "stop", "events_in_file"))
        if not 0 <= start < stop <= n:
            raise DataError(f"{where}: events [{start}, {stop}) are not a non-empty range "
                            f"of the file's {n} events")
        resolved = Path(file) if Path(file).is_absolute() else folder / file
        parts.append(SplitPart(str(resolved), start, stop, n))
    by_file: dict[str, list[SplitPart]] = {}
    for part in parts:
        by_file.setdefault(os.path.normpath(part.path), []).append(part)
    for file, same in by_file.items():
        same.sort(key=lambda p: p.start)
        for a, b in zip(same, same[1:], strict=False):
            if b.start < a.stop:
                raise DataError(f"{path}: {file} is listed with overlapping event ranges "
                                f"[{a.start}, {a.stop}) and [{b.start}, {b.stop})")
    total = sum(len(part) for part in parts)
    if data.get("n_events") != total:
        raise DataError(f"{path}: 'n_events' is {data.get('n_events')!r}, but the files' "
                        f"ranges hold {total} events")
    return parts


# ----------------------------------------------------------------------------- one event


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


# ----------------------------------------------------------------------------- sources


class EventSource(Closing):
    """The events of one split, read by split-local index (0 .. len - 1).

    ``path`` is a split manifest (a ``.json`` name, see :func:`write_split_manifest`):
    the split is the concatenation of its files' ranges, in the manifest's order; or a
    PILArNet-M file (any other name): the split is all of its events, and split-local
    indices are the indices in the file. Each file is opened on first use (a single file
    at once, to count its events) and kept open until :meth:`close` (or the end of a
    ``with`` block); a read after that opens it again. A manifest's files must exist
    when the source is made, and hold the number of events the manifest recorded when
    they are opened.
    """

    def __init__(self, path: str | os.PathLike, preprocessing: Mapping | None = None,
                 branching_radius: float = 3.0):
        self.path = str(path)
        self.preprocessing = resolve_preprocessing(preprocessing)
        self.branching_radius = float(branching_radius)
        self.manifest = is_split_manifest(path)
        self._files: dict[int, _PilarnetFile] = {}
        if self.manifest:
            self.parts = tuple(read_split_manifest(path))
            for part in self.parts:
                if not Path(part.path).is_file():
                    raise DataError(f"{part.path}: no such file (in the split manifest "
                                    f"{self.path})")
        else:
            f = _PilarnetFile(path)
            self._files[0] = f
            self.parts = (SplitPart(self.path, 0, f.n_events, f.n_events),)
        self._offsets = [0]
        for part in self.parts:
            self._offsets.append(self._offsets[-1] + len(part))
        self.n_events = self._offsets[-1]

    def __len__(self) -> int:
        return self.n_events

    def close(self) -> None:
        """Close every open file."""
        files, self._files = self._files, {}
        for f in files.values():
            f.close()

    def _locate(self, index: int) -> tuple[int, int]:
        index = operator.index(index)
        if not 0 <= index < self.n_events:
            raise DataError(f"{self.path}: event {index} asked for, but the "
                            f"{'split' if self.manifest else 'file'} holds "
                            f"{self.n_events} events")
        k = bisect.bisect_right(self._offsets, index) - 1
        return k, self.parts[k].start + index - self._offsets[k]

    def locate(self, index: int) -> tuple[str, int]:
        """(file, index in that file) of the split-local ``index``."""
        k, j = self._locate(index)
        return self.parts[k].path, j

    def _file(self, k: int) -> _PilarnetFile:
        f = self._files.get(k)
        if f is None:
            part = self.parts[k]
            f = _PilarnetFile(part.path)
            if f.n_events != part.events_in_file:
                f.close()
                raise DataError(f"{part.path}: holds {f.n_events} events, but "
                                f"{self.path} recorded {part.events_in_file} (the file "
                                "changed since the split was made)")
            self._files[k] = f
        return f

    def raw(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Event ``index`` as stored, checked: point (N, 8) float64, cluster (C, 5|6)."""
        k, j = self._locate(index)
        ((_, point, cluster),) = self._file(k).read(j, j + 1)
        return point, cluster

    def read(self, index: int) -> Event | None:
        """Event ``index`` preprocessed (``Event.index`` = ``index``), or None when the
        preprocessing drops it."""
        point, cluster = self.raw(index)
        return preprocess_event(index, point, cluster, self.preprocessing,
                                self.branching_radius)

    def stream(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(split-local index, point, cluster) of every event in order, as stored and
        checked, read READ_CHUNK events at a time."""
        for k, part in enumerate(self.parts):
            shift = self._offsets[k] - part.start
            for j, point, cluster in self._file(k).read(part.start, part.stop):
                yield j + shift, point, cluster

    def events(self, indices: Sequence[int] | None = None) -> Iterator[Event]:
        """The events the preprocessing keeps: all, in order (streamed), or those of
        ``indices`` in the order given (every index is checked before any is read)."""
        if indices is None:
            for i, point, cluster in self.stream():
                event = preprocess_event(i, point, cluster, self.preprocessing,
                                         self.branching_radius)
                if event is not None:
                    yield event
            return
        indices = [operator.index(i) for i in indices]
        for i in indices:
            self._locate(i)
        for i in indices:
            event = self.read(i)
            if event is not None:
                yield event

    def usable(self) -> list[int]:
        """Split-local indices of the events the preprocessing keeps (``read(i) is not
        None``), found by streaming the split and counting kept points: nothing is
        preprocessed further, nothing is kept."""
        return [i for i, point, cluster in self.stream()
                if passes_preprocessing(point, cluster, self.preprocessing)]


def read_events(path: str | os.PathLike, preprocessing: Mapping | None = None,
                indices: Sequence[int] | None = None,
                branching_radius: float = 3.0) -> list[Event]:
    """Read (all, or the ``indices`` of) a PILArNet-M file in either layout, or a split
    manifest, preprocessed.

    ``preprocessing=None`` applies nothing; a mapping takes the defaults for missing keys
    (see the module docstring for the order). Events left with fewer than ``min_points``
    points are skipped; ``Event.index`` is always the split-local index (for a file, the
    index in the file). ``branching_radius`` is in voxels, whatever the normalisation.
    """
    with EventSource(path, preprocessing, branching_radius) as source:
        return list(source.events(indices))
