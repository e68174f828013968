"""Read and check MAD-style extxyz files; write the view the PET training reads.

MAD-1.5 (and the embedded generator) store ``energy``, ``stress`` (periodic cells
only), ``subset`` and ``frame_id`` per structure and ``forces`` per atom. ASE moves
``energy``/``forces``/``stress`` into a single-point calculator when reading, so the
helpers here look in both places.

The training view differs in one way: metatrain needs a ``stress`` on every frame, so
frames without one (molecules, clusters) get a 3x3 of NaN. metatrain's losses, metrics
and scaler skip NaN targets, so the stress of those frames is masked, not set to 0.

The full MAD-1.5 training file holds ~173,000 structures (several GB), so the view is
written streaming (:func:`iter_frames`: one frame in memory at a time), optionally
from a seeded random subset of the frames. :func:`read_frames` reads a whole (small)
file into a list.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.stress import voigt_6_to_full_3x3_stress

from ..errors import DataError  # noqa: F401 (re-exported)
from ..io import atomic_path


@dataclass(frozen=True)
class Labels:
    energy: float
    forces: np.ndarray
    stress: np.ndarray | None  # 3x3, None for frames without a stress


class MissingLabel(DataError):
    """A frame lacks a label (energy, forces, or the stress of a periodic cell); a label
    that is present but wrong is a plain :class:`DataError`."""


#: a position farther than this from the origin (Å) is refused: no structure of the
#: data sets spans more than a few hundred Å, and 1e12 Å is an error of units or parsing
MAX_COORDINATE = 1e5
#: two atoms (or an atom and a periodic image) closer than this (Å) cannot be a
#: physical structure (the shortest bond, H2's, is 0.74 Å): a duplicated atom, mostly
MIN_DISTANCE = 0.1


def check_geometry(atoms: Atoms, path: str | os.PathLike, index: int) -> Atoms:
    """A frame that cannot be physical raises, naming the file, the frame and the atoms:
    a NaN or infinite position or cell, a position beyond :data:`MAX_COORDINATE`, or
    two atoms closer than :data:`MIN_DISTANCE`. Neighbour lists, targets and models
    would otherwise carry it on silently (a NaN density, say) or fail far away, naming
    neither. Every reader of structures calls it."""
    positions = atoms.positions
    if not np.all(np.isfinite(positions)):
        atom = int(np.flatnonzero(~np.isfinite(positions).all(axis=1))[0])
        raise DataError(f"{path}: frame {index}: atom {atom} has a non-finite position "
                        f"{positions[atom].tolist()}")
    cell = np.asarray(atoms.cell)
    if not np.all(np.isfinite(cell)):
        raise DataError(f"{path}: frame {index}: the cell has non-finite entries "
                        f"{cell.tolist()}")
    far = np.abs(positions).max(axis=1) > MAX_COORDINATE
    if far.any():
        atom = int(np.flatnonzero(far)[0])
        raise DataError(f"{path}: frame {index}: atom {atom} is at {positions[atom].tolist()}"
                        f", beyond {MAX_COORDINATE:g} Å of the origin (units?)")
    close = _closest_pair(atoms)
    if close is not None:
        i, j, distance = close
        raise DataError(f"{path}: frame {index}: atoms {i} and {j} are {distance:.3g} Å "
                        f"apart, closer than {MIN_DISTANCE:g} Å (a duplicated atom?)")
    return atoms


def _closest_pair(atoms: Atoms) -> tuple[int, int, float] | None:
    """The closest pair of atoms (periodic images included) under :data:`MIN_DISTANCE`,
    or None."""
    from vesin import NeighborList

    if len(atoms) == 0:
        return None
    pbc = np.asarray(atoms.pbc, dtype=bool)
    box = np.asarray(atoms.cell, dtype=np.float64)
    if pbc.any() and abs(np.linalg.det(box)) < 1e-12:
        pbc = np.zeros(3, dtype=bool)  # a periodic flag without a cell: checked as open
        box = np.zeros((3, 3))
    i, j, d = NeighborList(cutoff=MIN_DISTANCE, full_list=False).compute(
        np.asarray(atoms.positions, dtype=np.float64), box, pbc.tolist(), quantities="ijd")
    if len(d) == 0:
        return None
    k = int(np.argmin(d))
    return int(i[k]), int(j[k]), float(d[k])


def read_frames(path: str | os.PathLike) -> list[Atoms]:
    """Read every frame of an extxyz file; a broken frame, or one with a non-finite
    position or cell, raises naming file and frame."""
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
    for index, atoms in enumerate(frames):
        check_geometry(atoms, path, index)
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
        raise MissingLabel(f"{where} has no '{energy_key}' (per-structure energy)")
    energy = float(np.asarray(energy).reshape(()))
    if not np.isfinite(energy):
        raise DataError(f"{where}: '{energy_key}' is not finite ({energy})")

    forces = _get(atoms, forces_key, per_atom=True)
    if forces is None:
        raise MissingLabel(f"{where} has no '{forces_key}' (per-atom forces)")
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
            raise MissingLabel(f"{where} is periodic but has no '{stress_key}'")
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


def _malformed(path: str | os.PathLike, index: int, detail: object) -> DataError:
    return DataError(
        f"{path}: frame {index} (0-based) cannot be read as extxyz; the file is "
        f"malformed or truncated after {index} complete frames: {detail}")


def _frame_texts(path: str | os.PathLike, keep: np.ndarray | None = None,
                 texts: bool = True) -> Iterator[tuple[int, str | None]]:
    """Split an extxyz file into frames in one streaming pass, without parsing them.

    Yields ``(index, text)`` per frame, ``text`` being the frame's lines (``None``
    without ``texts`` and for the frames that the boolean mask ``keep`` leaves out,
    which are only checked for their layout: an atom count, a comment line and that
    many atom lines). Structural errors (a bad atom count, a truncated frame, data
    after a blank line) raise a :class:`DataError` naming the file, frame and line.
    """
    try:
        handle = open(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    try:
        yield from _split_frames(path, handle, keep, texts)
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not a text file (byte {err.start} of a line is not "
                        "UTF-8): not extxyz") from None


def _split_frames(path, handle, keep, texts) -> Iterator[tuple[int, str | None]]:
    with handle:
        index = 0
        lineno = 0  # lines consumed so far
        pending: str | None = None
        while True:
            line = pending if pending is not None else handle.readline()
            pending = None
            if line == "":
                break
            lineno += 1
            if not line.strip():  # blank lines may only end the file
                rest = handle.readline()
                while rest != "" and not rest.strip():
                    rest = handle.readline()
                if rest == "":
                    break
                raise _malformed(path, index, f"line {lineno} is blank but more data "
                                              "follows it")
            try:
                natoms = int(line)
                if natoms < 0:
                    raise ValueError
            except ValueError:
                raise _malformed(path, index, f"line {lineno} should hold the atom "
                                              f"count, got {line.strip()[:80]!r}") from None
            wanted = texts and (keep is None
                                or (index < len(keep) and bool(keep[index])))
            lines = [line] if wanted else None
            for k in range(natoms + 1):  # the comment line, then one line per atom
                body = handle.readline()
                if body == "":
                    what = "its comment line" if k == 0 else f"{k - 1} of its {natoms} atom lines"
                    raise _malformed(path, index, f"the file ends after {what}")
                lineno += 1
                if lines is not None:
                    lines.append(body)
            while True:  # optional VEC1..3 lines (old-style extxyz cell)
                body = handle.readline()
                if not body.lstrip().startswith("VEC"):
                    pending = body
                    break
                lineno += 1
                if lines is not None:
                    lines.append(body)
            yield index, None if lines is None else "".join(lines)
            index += 1


def count_frames(path: str | os.PathLike) -> int:
    """Number of frames of an extxyz file, from a cheap streaming pass (no parsing)."""
    return sum(1 for _ in _frame_texts(path, texts=False))


def iter_frames(path: str | os.PathLike,
                keep: np.ndarray | None = None) -> Iterator[tuple[int, Atoms]]:
    """Stream the frames of an extxyz file one by one as ``(index, atoms)``.

    Only one frame is held in memory at a time. ``keep`` (a boolean mask over the
    frames of the file) restricts parsing to the frames it marks; the others are only
    checked for their layout. An unreadable frame raises a :class:`DataError` naming
    the file and the frame (0-based); an empty file raises one too.
    """
    empty = True
    for index, text in _frame_texts(path, keep):
        empty = False
        if text is None:
            continue
        try:
            atoms = ase.io.read(io.StringIO(text), index=0, format="extxyz")
        except Exception as err:  # ASE raises many types for malformed frames
            raise _malformed(path, index, err) from err
        yield index, check_geometry(atoms, path, index)
    if empty:
        raise DataError(f"{path}: contains no frames")


def _training_frame(atoms: Atoms, labels: Labels, index: int) -> Atoms:
    view = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell,
                 pbc=atoms.pbc)
    view.info["energy"] = labels.energy
    view.info["stress"] = (np.full((3, 3), np.nan) if labels.stress is None
                           else labels.stress)
    view.info["subset"] = str(atoms.info.get("subset", "unknown"))
    view.info["frame_id"] = int(atoms.info.get("frame_id", index))
    view.arrays["forces"] = labels.forces
    return view


def write_training_view(src: str | os.PathLike, dst: str | os.PathLike,
                        max_structures: int | None = None, seed: int = 0) -> dict:
    """Check the frames of ``src`` and write the PET training view to ``dst``.

    Streams: frames are read, checked (:func:`frame_labels`) and appended to a
    temporary file beside ``dst`` one at a time, so memory does not grow with the
    file; the temporary file is renamed onto ``dst`` only when every frame passed, so
    an error leaves no ``dst`` (and no partial file).

    With ``max_structures`` and a file holding more frames, a first cheap pass counts
    the frames (and checks the layout of all of them), then a random subset of
    ``max_structures`` frames, drawn with ``numpy.random.default_rng(seed)``, is
    checked and written in file order; frames left out are not parsed.

    Returns a JSON-able summary: ``file``, ``frames`` (written), ``frames_in_source``,
    ``atoms`` (written), ``frames_with_stress``, ``subsets``, ``max_structures`` and
    ``seed``.
    """
    keep = None
    total = None
    if max_structures is not None:
        if int(max_structures) < 1:
            raise ValueError(f"max_structures must be a positive number of frames, "
                             f"got {max_structures!r}")
        max_structures = int(max_structures)
        total = count_frames(src)
        if total == 0:
            raise DataError(f"{src}: contains no frames")
        if total > max_structures:
            chosen = np.random.default_rng(seed).choice(total, size=max_structures,
                                                        replace=False)
            keep = np.zeros(total, dtype=bool)
            keep[chosen] = True
    n_frames = n_atoms = n_stress = 0
    subsets: set[str] = set()
    last = -1
    with atomic_path(dst) as tmp, open(tmp, "w") as handle:
        for index, atoms in iter_frames(src, keep):
            labels = frame_labels(atoms, src, index)
            view = _training_frame(atoms, labels, index)
            ase.io.write(handle, view, format="extxyz")
            n_frames += 1
            n_atoms += len(view)
            n_stress += labels.stress is not None
            subsets.add(view.info["subset"])
            last = index
    if total is None:
        total = last + 1
    return {
        "file": str(Path(dst)),
        "frames": n_frames,
        "frames_in_source": total,
        "atoms": n_atoms,
        "frames_with_stress": n_stress,
        "subsets": sorted(subsets),
        "max_structures": max_structures,
        "seed": seed,
    }


def write_frames(frames: list[Atoms], path: str | os.PathLike) -> None:
    """Write frames as extxyz, atomically."""
    with atomic_path(path) as tmp:
        ase.io.write(tmp, frames, format="extxyz")


def optional_labels(atoms, path: str, index: int):
    """The frame's reference labels, or (None, why) when it has none; labels that are
    present but wrong (non-finite, misshapen) are still refused. (A model trained
    elsewhere is analysed on structures that may carry no labels: A needs none.)"""
    try:
        return frame_labels(atoms, path, index), ""
    except MissingLabel as err:
        return None, str(err)
