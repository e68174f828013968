"""Read and check MAD-style extxyz files; write the view the PET training reads.

MAD-1.5 (and the embedded generator) store ``energy``, ``stress`` (periodic cells
only), ``subset`` and ``frame_id`` per structure and ``forces`` per atom. ASE moves
``energy``/``forces``/``stress`` into a single-point calculator when reading, so the
helpers here look in both places.

The training view differs in one way: metatrain needs a ``stress`` on every frame, so
frames without one (molecules, clusters) get a 3x3 of NaN. metatrain's losses, metrics
and scaler skip NaN targets, so the stress of those frames is masked, not set to 0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.stress import voigt_6_to_full_3x3_stress

from ..io import atomic_path


class DataError(ValueError):
    """A data file is unreadable or lacks a field; the message names file and frame."""


@dataclass(frozen=True)
class Labels:
    energy: float
    forces: np.ndarray
    stress: np.ndarray | None  # 3x3, None for frames without a stress


def read_frames(path: str | os.PathLike) -> list[Atoms]:
    """Read every frame of an extxyz file; a broken frame raises naming file and frame."""
    frames: list[Atoms] = []
    try:
        for atoms in ase.io.iread(path, index=":", format="extxyz"):
            frames.append(atoms)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as err:  # ASE raises many types for malformed or truncated files
        raise DataError(
            f"{path}: frame {len(frames)} (0-based) cannot be read as extxyz; the file "
            f"is malformed or truncated after {len(frames)} complete frames: {err}"
        ) from err
    if not frames:
        raise DataError(f"{path}: contains no frames")
    return frames


def _get(atoms: Atoms, key: str, per_atom: bool):
    results = atoms.calc.results if atoms.calc is not None else {}
    if key in results:
        return results[key]
    store = atoms.arrays if per_atom else atoms.info
    return store.get(key)


def frame_labels(atoms: Atoms, path: str | os.PathLike, index: int,
                 energy_key: str = "energy", forces_key: str = "forces",
                 stress_key: str = "stress") -> Labels:
    """Check one frame and return its labels; errors name the file, frame and field."""
    where = f"{path}: frame {index}"
    energy = _get(atoms, energy_key, per_atom=False)
    if energy is None:
        raise DataError(f"{where} has no '{energy_key}' (per-structure energy)")
    energy = float(np.asarray(energy).reshape(()))
    if not np.isfinite(energy):
        raise DataError(f"{where}: '{energy_key}' is not finite ({energy})")

    forces = _get(atoms, forces_key, per_atom=True)
    if forces is None:
        raise DataError(f"{where} has no '{forces_key}' (per-atom forces)")
    forces = np.asarray(forces, dtype=float)
    if forces.shape != (len(atoms), 3):
        raise DataError(f"{where}: '{forces_key}' has shape {forces.shape}, "
                        f"expected ({len(atoms)}, 3)")
    if not np.all(np.isfinite(forces)):
        raise DataError(f"{where}: '{forces_key}' contains non-finite values")

    stress = _get(atoms, stress_key, per_atom=False)
    periodic = bool(atoms.pbc.all())
    if stress is None:
        if periodic:
            raise DataError(f"{where} is periodic but has no '{stress_key}'")
    else:
        stress = np.asarray(stress, dtype=float)
        if stress.shape == (6,):
            stress = voigt_6_to_full_3x3_stress(stress)
        elif stress.shape == (9,):
            stress = stress.reshape(3, 3)
        if stress.shape != (3, 3):
            raise DataError(f"{where}: '{stress_key}' has shape {stress.shape}, "
                            "expected 3x3, 9 or 6 (Voigt) values")
        if not periodic:
            stress = None  # a stress on a non-periodic frame has no meaning: mask it
        elif not np.all(np.isfinite(stress)):
            raise DataError(f"{where}: '{stress_key}' contains non-finite values")
    return Labels(energy=energy, forces=forces, stress=stress)


def write_training_view(src: str | os.PathLike, dst: str | os.PathLike) -> dict:
    """Check every frame of ``src`` and write the PET training view to ``dst``.

    Returns a small summary (frames, atoms, frames with a stress, subsets).
    """
    frames = read_frames(src)
    out = []
    n_stress = 0
    for index, atoms in enumerate(frames):
        labels = frame_labels(atoms, src, index)
        view = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell,
                     pbc=atoms.pbc)
        view.info["energy"] = labels.energy
        if labels.stress is None:
            view.info["stress"] = np.full((3, 3), np.nan)
        else:
            view.info["stress"] = labels.stress
            n_stress += 1
        view.info["subset"] = str(atoms.info.get("subset", "unknown"))
        view.info["frame_id"] = int(atoms.info.get("frame_id", index))
        view.arrays["forces"] = labels.forces
        out.append(view)
    write_frames(out, dst)
    return {
        "file": str(Path(dst)),
        "frames": len(out),
        "atoms": int(sum(len(a) for a in out)),
        "frames_with_stress": n_stress,
        "subsets": sorted({a.info["subset"] for a in out}),
    }


def write_frames(frames: list[Atoms], path: str | os.PathLike) -> None:
    """Write frames as extxyz, atomically."""
    with atomic_path(path) as tmp:
        ase.io.write(tmp, frames, format="extxyz")
