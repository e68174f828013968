"""Embedded atomistic data set: small, diverse structures labelled with ASE's EMT.

It stands in for MAD-1.5 in the default run, so it is written in MAD's extxyz
layout: ``energy`` (eV), ``stress`` (eV/A^3, periodic cells only), ``subset`` and
``frame_id`` per structure, ``forces`` (eV/A) per atom. EMT is a real classical
potential (effective-medium theory) for Al, Cu, Ag, Au, Ni, Pd, Pt and, roughly, H, C,
N and O, so energies, forces and stresses are mutually consistent.

Which elements appear is a setting (:class:`Elements`): the metals of the crystals,
alloys, clusters and surfaces, and the adsorbates on the surfaces. A small model learns
a few elements seen many times far better than many elements seen a few times each
(docs/data.md measures it), so the default takes three metals and no adsorbate.

Every structure is drawn from its own random stream, seeded by (seed, subset, index):
the same configuration always gives the same files, and enlarging one subset does not
change the structures already drawn in the others.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# ase.build, EMT and FIRE are imported where they are used: the workflow's start-up
# check (element_errors) imports this module in every Snakemake process
from ase import Atoms
from ase.data import atomic_numbers, reference_states

from .splits import split_counts

SUBSETS = ("bulk", "rattled", "surface", "cluster", "molecule", "alloy")
METALS = ("Al", "Cu", "Ag", "Au", "Ni", "Pd", "Pt")
#: molecules of the G2 set made of H, C, N, O only, small enough for any max_atoms >= 8
MOLECULES = (
    "H2O", "NH3", "CH4", "CO2", "CO", "N2O", "HCN", "H2CO", "CH3OH", "C2H2",
    "C2H4", "HCOOH", "N2H4", "CH3CN", "CH3NO2", "H3CNH2",
)
ADSORBATES = ("H", "C", "N", "O")
#: smallest ``max_atoms`` for which every subset can be built
MIN_ATOMS = 8
#: largest ``max_atoms``: a cluster is cut from a 4 x 4 x 4 cubic fcc crystal
MAX_ATOMS = 256


@dataclass(frozen=True)
class Elements:
    """The elements a data set is drawn from: ``metals`` (of :data:`METALS`) build the
    crystals, alloys, clusters and surfaces; ``adsorbates`` (of :data:`ADSORBATES`, may
    be empty) sit on half of the surfaces. Molecules are always of H, C, N and O."""

    metals: tuple[str, ...] = METALS
    adsorbates: tuple[str, ...] = ADSORBATES

    def __post_init__(self):
        object.__setattr__(self, "metals", tuple(self.metals))
        object.__setattr__(self, "adsorbates", tuple(self.adsorbates))


def element_errors(metals: Sequence[str], adsorbates: Sequence[str],
                   n_structures: Mapping[str, int], max_atoms: int,
                   prefix: str = "") -> list[str]:
    """What the generator cannot make of these settings, one line each naming the key
    (``prefix`` + the key): unknown or repeated elements, no metal, an alloy subset
    with fewer than two metals, a size outside [MIN_ATOMS, MAX_ATOMS]."""
    errors = []
    for key, given, known in (("metals", metals, METALS),
                              ("adsorbates", adsorbates, ADSORBATES)):
        unknown = [x for x in given if x not in known]
        if unknown:
            errors.append(f"{prefix}{key}: {', '.join(map(str, unknown))} not among EMT's "
                          f"{', '.join(known)}")
        if len(set(given)) != len(given):
            errors.append(f"{prefix}{key}: an element is listed twice ({list(given)})")
    if not metals:
        errors.append(f"{prefix}metals: needs at least one metal")
    if n_structures.get("alloy", 0) and len(set(metals)) < 2:
        errors.append(f"{prefix}metals: the alloy subset ({n_structures['alloy']} "
                      f"structures) needs at least two metals, got {list(metals)}; set "
                      f"{prefix}n_structures.alloy to 0 or add a metal")
    if not MIN_ATOMS <= max_atoms <= MAX_ATOMS:
        errors.append(f"{prefix}max_atoms: {max_atoms} is outside what the generator can "
                      f"build ({MIN_ATOMS} to {MAX_ATOMS}: a cluster is cut from a "
                      f"{MAX_ATOMS}-atom fcc crystal)")
    return errors


def _fcc_a(symbol: str) -> float:
    return reference_states[atomic_numbers[symbol]]["a"]


def _random_strain(rng: np.random.Generator, scale: float) -> np.ndarray:
    """Symmetric deformation gradient I + e with e ~ N(0, scale)."""
    e = rng.normal(0.0, scale, (3, 3))
    return np.eye(3) + 0.5 * (e + e.T)


def _strain(atoms: Atoms, deformation: np.ndarray) -> None:
    atoms.set_cell(atoms.cell.array @ deformation.T, scale_atoms=True)


def _crystal(symbol: str, rng: np.random.Generator, max_atoms: int,
             volume_scale: float, min_atoms: int = 2) -> Atoms:
    """A metal in fcc, bcc, hcp or sc at the fcc volume per atom (times a scale)."""
    from ase.build import bulk
    v_atom = _fcc_a(symbol) ** 3 / 4.0 * volume_scale
    lattice = rng.choice(["fcc", "bcc", "hcp", "sc"])
    if lattice == "fcc":
        atoms = bulk(symbol, "fcc", a=(4 * v_atom) ** (1 / 3), cubic=True)
    elif lattice == "bcc":
        atoms = bulk(symbol, "bcc", a=(2 * v_atom) ** (1 / 3), cubic=True)
    elif lattice == "hcp":
        c_over_a = math.sqrt(8 / 3)
        a = (4 * v_atom / (math.sqrt(3) * c_over_a)) ** (1 / 3)
        atoms = bulk(symbol, "hcp", a=a, c=c_over_a * a)
    else:
        atoms = bulk(symbol, "sc", a=v_atom ** (1 / 3))
    return _supercell(atoms, rng, max_atoms, min_atoms)


def _supercell(atoms: Atoms, rng: np.random.Generator, max_atoms: int,
               min_atoms: int = 2) -> Atoms:
    """Repeat ``atoms`` along random axes, at random sizes, within
    [``min_atoms``, ``max_atoms``] where the cell allows it."""
    reps = np.ones(3, dtype=int)
    for axis in rng.permutation(3):
        while rng.random() < 0.7 or len(atoms) * reps.prod() < min_atoms:
            grown = reps.copy()
            grown[axis] += 1
            if len(atoms) * grown.prod() > max_atoms:
                break
            reps = grown
    return atoms.repeat(tuple(int(r) for r in reps))


def _bulk(rng: np.random.Generator, max_atoms: int, elements: Elements) -> Atoms:
    symbol = str(rng.choice(elements.metals))
    return _crystal(symbol, rng, max_atoms, volume_scale=rng.uniform(0.96, 1.04))


def _rattled(rng: np.random.Generator, max_atoms: int, elements: Elements) -> Atoms:
    symbol = str(rng.choice(elements.metals))
    atoms = _crystal(symbol, rng, max_atoms, volume_scale=rng.uniform(0.95, 1.05),
                     min_atoms=4)
    _strain(atoms, _random_strain(rng, 0.02))
    atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
    return atoms


def _surface(rng: np.random.Generator, max_atoms: int, elements: Elements) -> Atoms:
    from ase.build import add_adsorbate, fcc100, fcc110, fcc111
    symbol = str(rng.choice(elements.metals))
    build = [fcc111, fcc100, fcc110][rng.integers(3)]
    adsorbate = rng.random() < 0.5 and bool(elements.adsorbates)
    per_layer = 4
    layers = int(min(4, (max_atoms - adsorbate) // per_layer))
    size = (2, 2, layers) if layers >= 2 else (1, 1, max(2, (max_atoms - adsorbate)))
    atoms = build(symbol, size=size, a=_fcc_a(symbol), vacuum=rng.uniform(4.0, 7.0),
                  periodic=True)
    if adsorbate:
        site = "ontop" if build is not fcc111 else str(rng.choice(["ontop", "fcc", "hcp"]))
        add_adsorbate(atoms, str(rng.choice(elements.adsorbates)), height=rng.uniform(1.6, 2.2),
                      position=site)
    atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
    return atoms


def _cluster(rng: np.random.Generator, max_atoms: int, elements: Elements) -> Atoms:
    """A compact piece of a metal (or binary alloy) crystal, cut around a random point."""
    from ase.build import bulk
    symbols = rng.choice(elements.metals,
                         size=rng.integers(1, min(2, len(elements.metals)) + 1),
                         replace=False)
    a = float(np.mean([_fcc_a(s) for s in symbols])) * rng.uniform(0.97, 1.03)
    crystal = bulk("X", "fcc", a=a, cubic=True).repeat((4, 4, 4))
    centre = crystal.cell.array.sum(axis=0) / 2 + rng.normal(0.0, 0.5, 3)
    n_atoms = int(rng.integers(min(MIN_ATOMS, max_atoms), max_atoms + 1))
    nearest = np.argsort(np.linalg.norm(crystal.positions - centre, axis=1))[:n_atoms]
    positions = crystal.positions[nearest] - centre
    positions += rng.normal(0.0, 0.1, positions.shape)
    return Atoms(symbols=list(rng.choice(symbols, size=n_atoms)), positions=positions,
                 pbc=False)


@functools.cache
def _relaxed_molecule(name: str) -> Atoms:
    """A G2 molecule relaxed with EMT: the G2 geometries sit far from EMT's minima
    (forces of several eV/A), so the molecules are rattled around EMT's own."""
    from ase.build import molecule
    from ase.calculators.emt import EMT
    from ase.optimize import FIRE
    atoms = molecule(name)
    atoms.calc = EMT()
    FIRE(atoms, logfile=None).run(fmax=0.02, steps=500)
    atoms.calc = None
    return atoms


def _molecule(rng: np.random.Generator, max_atoms: int, elements: Elements) -> Atoms:
    names = [name for name in MOLECULES if len(_relaxed_molecule(name)) <= max_atoms]
    atoms = _relaxed_molecule(str(rng.choice(names))).copy()
    atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
    atoms.cell = np.zeros((3, 3))
    atoms.pbc = False
    return atoms


def _alloy(rng: np.random.Generator, max_atoms: int, elements: Elements) -> Atoms:
    """Random substitutional fcc alloy of two or three metals (Vegard lattice constant)."""
    from ase.build import bulk
    symbols = rng.choice(elements.metals,
                         size=rng.integers(2, min(3, len(elements.metals)) + 1),
                         replace=False)
    fractions = rng.dirichlet(np.ones(len(symbols)))
    a = float(np.dot(fractions, [_fcc_a(s) for s in symbols]))
    atoms = _supercell(bulk("X", "fcc", a=a, cubic=True), rng, max_atoms)
    atoms.set_chemical_symbols(list(rng.choice(symbols, size=len(atoms), p=fractions)))
    _strain(atoms, _random_strain(rng, 0.02))
    atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
    return atoms


BUILDERS: Mapping[str, Callable[[np.random.Generator, int, Elements], Atoms]] = {
    "bulk": _bulk,
    "rattled": _rattled,
    "surface": _surface,
    "cluster": _cluster,
    "molecule": _molecule,
    "alloy": _alloy,
}


def label(atoms: Atoms, subset: str, frame_id: int) -> Atoms:
    """Return a calculator-free copy of ``atoms`` carrying EMT labels in MAD's keys."""
    from ase.calculators.emt import EMT
    atoms = atoms.copy()
    atoms.calc = EMT()
    energy = float(atoms.get_potential_energy())
    forces = atoms.get_forces()
    stress = atoms.get_stress(voigt=False) if atoms.pbc.all() else None

    out = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell,
                pbc=atoms.pbc)
    out.info["energy"] = energy
    if stress is not None:
        out.info["stress"] = stress
    out.info["subset"] = subset
    out.info["frame_id"] = frame_id
    out.arrays["forces"] = forces
    return out


def generate(n_structures: Mapping[str, int], seed: int, max_atoms: int,
             elements: Elements = Elements()) -> list[Atoms]:
    """Build and label ``n_structures[subset]`` structures for every subset, of
    ``elements``.

    Frames come subset by subset in the order of :data:`SUBSETS`; ``frame_id`` numbers
    them from 0 in that order.
    """
    problems = element_errors(elements.metals, elements.adsorbates, n_structures,
                              max_atoms)
    if problems:
        raise ValueError("; ".join(problems))
    unknown = set(n_structures) - set(SUBSETS)
    if unknown:
        raise ValueError(f"unknown subsets {sorted(unknown)}; known: {list(SUBSETS)}")
    frames = []
    for i_subset, subset in enumerate(SUBSETS):
        for index in range(n_structures.get(subset, 0)):
            rng = np.random.default_rng([seed, i_subset, index])
            atoms = BUILDERS[subset](rng, max_atoms, elements)
            frames.append(label(atoms, subset, frame_id=len(frames)))
    return frames


def split(frames: list[Atoms], fractions: Mapping[str, float],
          seed: int) -> dict[str, list[Atoms]]:
    """Split frames into named parts, stratified by subset, reproducibly.

    Each subset is shuffled with its own seeded stream and cut by ``fractions``
    (which must sum to 1), so every part holds every subset in the same proportions.
    """
    names = list(fractions)
    parts: dict[str, list[Atoms]] = {name: [] for name in names}
    for i_subset, subset in enumerate(SUBSETS):
        members = [atoms for atoms in frames if atoms.info["subset"] == subset]
        order = np.random.default_rng([seed, i_subset, 2**31]).permutation(len(members))
        start = 0
        for name, count in split_counts(len(members), fractions).items():
            parts[name].extend(members[i] for i in order[start:start + count])
            start += count
    return parts


def summary(parts: Mapping[str, list[Atoms]]) -> pd.DataFrame:
    """Per split and subset (and ``all``): structures, atoms, elements and the spread of
    each target, as the analysis measures its relative errors against: the RMS of the
    energy per atom, its standard deviation (what a composition baseline leaves), the
    RMS of a force component, and the RMS of the isotropic stress and of a component
    of the deviatoric stress (periodic cells only)."""
    rows = []
    for name, frames in parts.items():
        groups = {subset: [a for a in frames if a.info["subset"] == subset]
                  for subset in SUBSETS}
        groups["all"] = list(frames)
        for subset, members in groups.items():
            if not members:
                continue
            energy = np.array([a.info["energy"] / len(a) for a in members])
            forces = np.concatenate([a.arrays["forces"].ravel() for a in members])
            stresses = [np.asarray(a.info["stress"]) for a in members if "stress" in a.info]
            iso = np.array([np.trace(s) / 3 for s in stresses])
            dev = np.concatenate([(s - np.trace(s) / 3 * np.eye(3)).ravel()
                                  for s in stresses]) if stresses else np.array([])
            rows.append({
                "split": name, "subset": subset, "structures": len(members),
                "atoms": int(sum(len(a) for a in members)),
                "largest": max(len(a) for a in members),
                "elements": " ".join(sorted({s for a in members
                                             for s in a.get_chemical_symbols()})),
                "energy_per_atom_rms": float(np.sqrt(np.mean(energy ** 2))),
                "energy_per_atom_std": float(np.std(energy)),
                "force_rms": float(np.sqrt(np.mean(forces ** 2))),
                "stress_isotropic_rms": (float(np.sqrt(np.mean(iso ** 2)))
                                         if len(iso) else np.nan),
                "stress_deviatoric_rms": (float(np.sqrt(np.mean(dev ** 2) * 9 / 5))
                                          if len(dev) else np.nan)})
    return pd.DataFrame(rows)
