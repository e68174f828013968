"""The embedded EMT generator: deterministic, physically consistent, MAD's layout."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT

from symlearn.data.atomistic import SUBSETS, generate, split
from symlearn.data.extxyz import frame_labels, read_frames, write_frames
from symlearn.data.splits import split_counts

N = {"bulk": 3, "rattled": 3, "surface": 3, "cluster": 3, "molecule": 3, "alloy": 3}


@pytest.fixture(scope="module")
def frames():
    return generate(N, seed=11, max_atoms=16)


def _signature(frames):
    return [(a.get_chemical_formula(), a.positions.round(12).tobytes(),
             a.info["energy"]) for a in frames]


def test_same_seed_same_structures(frames):
    assert _signature(generate(N, seed=11, max_atoms=16)) == _signature(frames)


def test_other_seed_other_structures(frames):
    assert _signature(generate(N, seed=12, max_atoms=16)) != _signature(frames)


def test_growing_one_subset_keeps_the_others(frames):
    grown = generate({**N, "bulk": 5}, seed=11, max_atoms=16)
    others = [a for a in grown if a.info["subset"] != "bulk"]
    assert _signature(others) == _signature(
        [a for a in frames if a.info["subset"] != "bulk"])


def test_layout_and_sizes(frames):
    assert [a.info["subset"] for a in frames] == [s for s in SUBSETS for _ in range(3)]
    assert [a.info["frame_id"] for a in frames] == list(range(len(frames)))
    for atoms in frames:
        assert 2 <= len(atoms) <= 16
        assert atoms.arrays["forces"].shape == (len(atoms), 3)
        periodic = atoms.pbc.all()
        assert ("stress" in atoms.info) == periodic
        if periodic:
            assert atoms.info["stress"].shape == (3, 3)
            assert atoms.get_volume() > 0
        else:
            assert not atoms.pbc.any()
        assert np.isfinite(atoms.info["energy"])
    # clusters and molecules are the non-periodic subsets
    assert {a.info["subset"] for a in frames if not a.pbc.any()} == {"cluster", "molecule"}


def test_no_atoms_overlap(frames):
    for atoms in frames:
        distances = atoms.get_all_distances(mic=atoms.pbc.all())
        np.fill_diagonal(distances, np.inf)
        assert distances.min() > 0.5, atoms.info


@pytest.mark.parametrize("index", [1, 4, 10, 13, 16])
def test_forces_are_minus_the_energy_gradient(frames, index):
    """Central finite differences of the EMT energy reproduce the stored forces."""
    atoms = frames[index].copy()
    atoms.calc = EMT()
    h = 1e-4
    rng = np.random.default_rng(index)
    for atom in rng.choice(len(atoms), size=min(3, len(atoms)), replace=False):
        for axis in range(3):
            shifted = []
            for sign in (+1, -1):
                displaced = atoms.copy()
                displaced.calc = EMT()
                displaced.positions[atom, axis] += sign * h
                shifted.append(displaced.get_potential_energy())
            numeric = -(shifted[0] - shifted[1]) / (2 * h)
            assert numeric == pytest.approx(frames[index].arrays["forces"][atom, axis],
                                            abs=1e-5)


def test_stress_is_the_strain_derivative_of_the_energy(frames):
    """For a periodic frame, sigma = (1/V) dE/d(strain), by finite differences."""
    atoms = next(a for a in frames if a.info["subset"] == "rattled").copy()
    h = 1e-5
    stress = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            energies = []
            for sign in (+1, -1):
                strained = atoms.copy()
                eps = np.eye(3)
                eps[i, j] += sign * h
                strained.set_cell(atoms.cell.array @ eps, scale_atoms=True)
                strained.calc = EMT()
                energies.append(strained.get_potential_energy())
            stress[i, j] = (energies[0] - energies[1]) / (2 * h) / atoms.get_volume()
    np.testing.assert_allclose(0.5 * (stress + stress.T), atoms.info["stress"], atol=1e-6)


def test_split_is_stratified_and_complete():
    frames = generate(dict.fromkeys(SUBSETS, 5), seed=1, max_atoms=8)
    parts = split(frames, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)
    assert [len(p) for p in parts.values()] == [18, 6, 6]
    ids = sorted(a.info["frame_id"] for part in parts.values() for a in part)
    assert ids == list(range(len(frames)))
    for part in parts.values():
        assert {a.info["subset"] for a in part} == set(SUBSETS)
    again = split(frames, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)
    assert [[a.info["frame_id"] for a in p] for p in again.values()] == \
        [[a.info["frame_id"] for a in p] for p in parts.values()]


def test_split_counts_add_up():
    for n in range(0, 30):
        counts = split_counts(n, {"train": 0.8, "val": 0.1, "test": 0.1})
        assert sum(counts.values()) == n
        assert all(c >= 0 for c in counts.values())
    with pytest.raises(ValueError, match="sum to 1"):
        split_counts(10, {"train": 0.8, "val": 0.3})


def test_written_file_reads_back_with_the_same_labels(frames, tmp_path):
    path = tmp_path / "frames.xyz"
    write_frames(frames, path)
    back = read_frames(path)
    assert len(back) == len(frames)
    for index, (atoms, original) in enumerate(zip(back, frames, strict=True)):
        labels = frame_labels(atoms, path, index)
        assert labels.energy == pytest.approx(original.info["energy"], abs=1e-8)
        np.testing.assert_allclose(labels.forces, original.arrays["forces"], atol=1e-8)
        if original.pbc.all():
            np.testing.assert_allclose(labels.stress, original.info["stress"], atol=1e-8)
        else:
            assert labels.stress is None
        assert atoms.info["subset"] == original.info["subset"]


def test_too_small_max_atoms_is_refused():
    with pytest.raises(ValueError, match="max_atoms"):
        generate(N, seed=0, max_atoms=4)


def test_the_elements_are_a_setting():
    """Crystals, alloys, clusters and surfaces take only the chosen metals, surfaces the
    chosen adsorbates (none: bare); the other subsets' structures are unchanged."""
    from symlearn.data.atomistic import MOLECULES, Elements

    n = {"bulk": 4, "rattled": 4, "surface": 6, "cluster": 4, "alloy": 4}
    chosen = generate(n, seed=5, max_atoms=16, elements=Elements(("Cu", "Au"), ()))
    for atoms in chosen:
        assert set(atoms.get_chemical_symbols()) <= {"Cu", "Au"}, atoms.info["subset"]
    assert len(chosen) == sum(n.values())
    with_oxygen = generate({"surface": 6}, seed=5, max_atoms=16,
                           elements=Elements(("Cu",), ("O",)))
    assert {"O"} == set().union(*(a.get_chemical_symbols() for a in with_oxygen)) - {"Cu"}
    # molecules are H, C, N, O whatever the metals
    molecules = generate({"molecule": 3}, seed=5, max_atoms=16,
                         elements=Elements(("Ag",), ()))
    assert all(set(a.get_chemical_symbols()) <= set("HCNO") for a in molecules)
    assert MOLECULES


@pytest.mark.parametrize(("metals", "adsorbates", "n", "max_atoms", "message"), [
    (("Cu",), (), {"alloy": 2}, 16, "metals: the alloy subset"),
    (("Fe",), (), {"bulk": 2}, 16, "metals: Fe not among EMT's"),
    (("Cu",), ("S",), {"bulk": 2}, 16, "adsorbates: S not among EMT's"),
    (("Cu", "Cu"), (), {"bulk": 2}, 16, "metals: an element is listed twice"),
    ((), (), {"bulk": 2}, 16, "metals: needs at least one metal"),
    (("Cu",), (), {"bulk": 2}, 300, "max_atoms: 300 is outside"),
])
def test_what_the_generator_cannot_make_is_named(metals, adsorbates, n, max_atoms, message):
    from symlearn.data.atomistic import Elements

    with pytest.raises(ValueError, match=message):
        generate(n, seed=0, max_atoms=max_atoms, elements=Elements(metals, adsorbates))
