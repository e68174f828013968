"""Write a PET training view as metatrain's memory-mapped dataset (``MemmapDataset``).

metatrain reads a directory given as ``systems: read_from:`` as a
``metatrain.utils.data.dataset.MemmapDataset``: memory-mapped arrays that a training
opens lazily, instead of an extxyz file that metatrain's ASE reader loads (and turns
into TensorMaps) as a whole before the first epoch. For MAD-1.5's ~173,000 training
structures that is the difference between minutes of start-up and gigabytes of
memory per process, and next to nothing.

The layout, as ``MemmapDataset`` reads it (and metatrain's own ``MemmapWriter``
writes it):

- ``ns.npy``: the number of structures, a scalar;
- ``na.npy``: int64, shape (ns + 1,), the cumulative atom counts (``na[0] = 0``);
- ``x.bin``: float32 (na[-1], 3), the positions of all atoms, structure after
  structure;
- ``a.bin``: int32 (na[-1],), their atomic numbers;
- ``c.bin``: float32 (ns, 3, 3), the cells, one cell vector per row;
- one ``<key>.bin`` per target, float32: ``energy.bin`` (ns, 1), ``forces.bin``
  (na[-1], 3, 1), ``stress.bin`` (ns, 3, 3, 1), the trailing axis being metatrain's
  single property. ``key`` is the target's ``key`` in the metatrain options
  (:data:`symlearn.pet.train.STANDARD_TARGETS`).

``MemmapDataset`` stores no periodic boundary conditions: it makes a direction
periodic exactly when its cell vector is non-zero. So the cell vector along every
non-periodic direction is written as a zero row (a molecule with a ``Lattice`` but
``pbc=F F F`` gets an all-zero cell, a slab with ``pbc=T T F`` a zero third row), as
metatomic's ``systems_to_torch`` does on metatrain's ASE path; a periodic direction
with a zero cell vector cannot be represented and is an error. Structures without a
stress (non-periodic ones) get a 3x3 of NaN, which metatrain masks, as in the extxyz
training view. Everything is float32 (metatrain's choice): positions and forces lose
nothing that matters, total energies keep ~7 significant digits.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from ..data.extxyz import frame_labels, iter_frames
from ..errors import DataError
from ..io import atomic_dir

#: the ``.bin`` stem of each target, as the ``key`` of the metatrain target options
TARGET_FILES = ("energy", "forces", "stress")
#: every file of the layout written here
LAYOUT_FILES = ("ns.npy", "na.npy", "x.bin", "a.bin", "c.bin",
                *(f"{key}.bin" for key in TARGET_FILES))


def memmap_cell(atoms, path: str | os.PathLike, index: int) -> np.ndarray:
    """The 3x3 cell of a structure as ``MemmapDataset`` needs it: the vectors along
    non-periodic directions set to zero. A periodic direction with a zero vector
    raises a :class:`DataError` naming file and frame."""
    cell = np.array(atoms.cell.array, dtype=float)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    cell[~pbc] = 0.0
    flat = [axis for axis in range(3) if pbc[axis] and not np.any(cell[axis])]
    if flat:
        raise DataError(f"{path}: frame {index} is periodic along cell vector(s) "
                        f"{flat} but that vector is zero")
    return cell


def write_memmap(src_xyz: str | os.PathLike, dst_dir: str | os.PathLike) -> dict:
    """Stream the extxyz training view ``src_xyz`` into a ``MemmapDataset`` directory.

    Frames are read and checked one at a time (:func:`~symlearn.data.extxyz.iter_frames`,
    :func:`~symlearn.data.extxyz.frame_labels`) and appended to the open ``.bin``
    files. The directory is written as a hidden temporary sibling of ``dst_dir`` and
    renamed onto it only when complete (an existing ``dst_dir`` is replaced then); an
    error removes the temporary directory and leaves ``dst_dir`` as it was.

    The cell vectors along non-periodic directions are written as zero rows, since
    ``MemmapDataset`` derives the periodicity from non-zero cell rows; structures
    without a stress get NaN (see the module docstring for the layout).

    Returns ``{"path", "source", "structures", "atoms", "structures_with_stress"}``.
    """
    src = Path(src_xyz)
    dst = Path(dst_dir)
    counts = [0]
    n_stress = 0
    with atomic_dir(dst) as tmp, contextlib.ExitStack() as stack:
        files = {name: stack.enter_context(open(tmp / f"{name}.bin", "wb"))
                 for name in ("x", "a", "c", *TARGET_FILES)}
        for index, atoms in iter_frames(src):
            labels = frame_labels(atoms, src, index)
            cell = memmap_cell(atoms, src, index)
            stress = (np.full((3, 3), np.nan) if labels.stress is None
                      else labels.stress)
            n_stress += labels.stress is not None
            np.asarray(atoms.positions, dtype=np.float32).tofile(files["x"])
            np.asarray(atoms.numbers, dtype=np.int32).tofile(files["a"])
            cell.astype(np.float32).tofile(files["c"])
            np.array([labels.energy], dtype=np.float32).tofile(files["energy"])
            labels.forces.astype(np.float32).tofile(files["forces"])
            stress.astype(np.float32).tofile(files["stress"])
            counts.append(len(atoms))
        stack.close()  # every .bin complete before the directory is published
        na = np.cumsum(np.asarray(counts, dtype=np.int64))
        np.save(tmp / "ns.npy", np.int64(len(counts) - 1))
        np.save(tmp / "na.npy", na)
    return {"path": str(dst), "source": str(src), "structures": len(counts) - 1,
            "atoms": int(na[-1]), "structures_with_stress": n_stress}
