"""The embedded liquid-argon event simulator, writing the PILArNet-M layout.

Simulator. One neutrino-like interaction per event: a muon (straight with
multiple-scattering kinks, 0.6 MeV per voxel, Bragg-like rise over its last ~20 voxels
when it stops), 0-3 protons (short, high dE/dx, Bragg peak), a Michel electron at the
end of a stopping muon (90% of them; the rest are captured), 1-4 delta rays off the
muon, 0-2 electromagnetic showers (branching cascades of short segments with small
gaps) and 10-40 isolated low-energy deposits around the vertex. Trajectories are
stepped at 0.5 voxel and their deposits summed per voxel and per particle (one cluster
row each; a voxel may appear in two clusters, as in the real data). Every event is
drawn from its own random stream, seeded by (seed, event index): a set is reproducible
and does not depend on how many events are asked for, and the splits use disjoint
ranges of indices.

The mix of particles (:data:`SHOWERS`, :data:`SHOWER_ENERGY`, :data:`MUON_LENGTH`,
:data:`PROTONS`, :data:`DELTA_RAYS`, :data:`MICHEL_LENGTH`) is tuned so that each
class's share of the points after the default preprocessing comes near PILArNet-M's.
Those shares are the reference PoLAr-MAE repository's class counts (datasets/PILArNet.py,
``PILArNetDataModule.class_weights``, taken from Figure 8 of the PoLAr-MAE paper,
arXiv:2502.02558; low-energy deposits left out): shower 47.1 %, track 49.8 %, Michel
0.83 %, delta 2.25 %. ``tests/unit/test_lartpc_data.py`` measures the simulated shares
on 150 events and checks each within a factor 1.5 of these; the default fine-tuning
weights the classes by the reference's inverse shares as well
(:data:`symlearn.polarmae.train.REFERENCE_CLASS_COUNTS`), so that Michel electrons and
delta rays, rare in both, are learnt.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .events import (
    CLASS_NAMES,
    DELTA,
    LOW_ENERGY,
    MICHEL,
    SHOWER,
    SPLIT_OFFSETS,
    TRACK,
    VOLUME_SIZE,
    RawEvent,
)
from .pilarnet import _write_stream
from .preprocessing import preprocessing_defaults

STEP = 0.5            # voxels per trajectory step
MIP_DEDX = 0.6        # MeV per voxel: 2.1 MeV/cm * 0.3 cm
W_ION = 23.6e-6       # MeV per ionisation electron in argon
RECOMBINATION = 0.7   # fraction of electrons that escape recombination
MARGIN = 100          # voxels between the vertex and the walls
MUON_MASS = 105.66
PROTON_MASS = 938.27
ELECTRON_MASS = 0.511
SHOWER_CRITICAL = 20.0  # MeV below which a shower electron only ranges out
#: the particle mix, tuned so that the classes' shares of the points come near
#: PILArNet-M's (see the module docstring): probabilities of 0, 1, 2 showers, the
#: showers' energy range (MeV, log-uniform) and the delta rays per muon [low, high)
SHOWERS = (0.3, 0.45, 0.25)
SHOWER_ENERGY = (120.0, 700.0)
MUON_LENGTH = (250.0, 600.0)  # voxels, before it stops or leaves
PROTONS = (0, 4)
PROTON_LENGTH = (10.0, 80.0)
DELTA_RAYS = (1, 5)
MICHEL_LENGTH = (10.0, 25.0)  # voxels



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
    mu_len = rng.uniform(*MUON_LENGTH)
    muon = _walk(rng, vertex, mu_dir, mu_len, _muon_dedx,
                 lambda r: 0.004 * (1.0 + np.sqrt(30.0 / (r + 1.0))),
                 kink_rate=0.02, kink_sigma=0.05)
    particles.append(_Particle(TRACK, 13, 0, muon, vertex,
                               _momentum(_kinetic(_muon_dedx, mu_len), MUON_MASS)))

    for _ in range(int(rng.integers(*PROTONS))):
        length = rng.uniform(*PROTON_LENGTH)
        track = _walk(rng, vertex, _unit(rng), length, _proton_dedx,
                      lambda r: 0.01 * (1.0 + np.sqrt(10.0 / (r + 1.0))))
        particles.append(_Particle(TRACK, 2212, None, track, vertex,
                                   _momentum(_kinetic(_proton_dedx, length), PROTON_MASS)))

    if muon.stopped and rng.random() < 0.9:  # ~10% of stopping mu- are captured instead
        length = rng.uniform(*MICHEL_LENGTH)
        track = _walk(rng, muon.end, _unit(rng), length, _electron_dedx,
                      lambda r: np.full_like(r, 0.15), s0=float(muon.s[-1]) + STEP)
        particles.append(_Particle(MICHEL, 11, 0, track, muon.end,
                                   _momentum(float(track.de.sum()), ELECTRON_MASS)))

    n_mu = len(muon.mid)
    for _ in range(int(rng.integers(*DELTA_RAYS))):
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

    n_showers = int(rng.choice(len(SHOWERS), p=SHOWERS))
    for _ in range(n_showers):
        direction = _unit(rng)
        gap = 0.0 if rng.random() < 0.5 else rng.uniform(3.0, 30.0)  # photon conversion
        start = vertex + gap * direction
        energy = math.exp(rng.uniform(*np.log(SHOWER_ENERGY)))
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

