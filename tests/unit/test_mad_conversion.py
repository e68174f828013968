"""MAD-style extxyz -> streaming training view -> metatrain memmap directory -> PET."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, fcc111, molecule

from symlearn.data import extxyz
from symlearn.data.extxyz import (
    DataError,
    count_frames,
    iter_frames,
    read_frames,
    write_frames,
    write_training_view,
)
from symlearn.io import sha256_path
from symlearn.pet.memmap import (
    LAYOUT_FILES,
    TARGET_FILES,
    memmap_cell,
    write_memmap,
)
from symlearn.pet.train import STANDARD_TARGETS, _dataset, build_options, train_pet


def _mad_frames() -> list[Atoms]:
    """A periodic crystal with a stress, a molecule in a box (pbc F, with a Lattice), a
    molecule without a cell, a 2D slab (pbc T T F) and a skewed crystal (Voigt
    stress), labelled as MAD-1.5 labels them."""
    rng = np.random.default_rng(0)
    crystal = bulk("Cu", "fcc", a=3.6, cubic=True)
    crystal.rattle(0.05, seed=1)
    crystal.info.update(energy=-14.123456, subset="bulk", frame_id=10,
                        stress=np.array([[0.1, 0.01, 0.02], [0.01, 0.2, 0.03],
                                         [0.02, 0.03, 0.3]]))
    boxed = molecule("H2O")
    boxed.cell = [12.0, 12.0, 12.0]
    boxed.center()
    boxed.info.update(energy=-3.5, subset="molecule", frame_id=11)
    bare = molecule("CH4")
    bare.info.update(energy=-24.0, subset="cluster", frame_id=12)
    slab = fcc111("Al", size=(2, 2, 2), vacuum=6.0)
    del slab.info["adsorbate_info"]  # not MAD's, and not writable as extxyz
    slab.info.update(energy=-28.75, subset="surface", frame_id=13)
    skewed = bulk("Si", "diamond", a=5.43)
    skewed.info.update(energy=-10.5, subset="bulk", frame_id=14,
                       stress=np.array([0.4, 0.5, 0.6, 0.01, 0.02, 0.03]))
    frames = [crystal, boxed, bare, slab, skewed]
    for atoms in frames:
        atoms.arrays["forces"] = rng.normal(size=(len(atoms), 3))
    assert slab.pbc.tolist() == [True, True, False] and slab.cell[2, 2] > 0
    assert not boxed.pbc.any() and boxed.cell.volume > 0
    return frames


def _expected_cell(atoms: Atoms) -> np.ndarray:
    cell = np.array(atoms.cell.array)
    cell[~atoms.pbc] = 0.0
    return cell


@pytest.fixture()
def mad_file(tmp_path):
    write_frames(_mad_frames(), tmp_path / "mad.xyz")
    return tmp_path / "mad.xyz"


def _memmap_dataset(path):
    """The dataset metatrain builds for a memmap directory, from our options as
    metatrain's own option expansion completes them."""
    from metatrain.utils.data import get_dataset
    from metatrain.utils.omegaconf import expand_dataset_config
    from omegaconf import OmegaConf

    options = expand_dataset_config(OmegaConf.create(_dataset(path, STANDARD_TARGETS)))
    dataset, info, _ = get_dataset(options[0])
    return dataset, info


def test_round_trip_to_metatrain_memmap(mad_file, tmp_path):
    from metatrain.utils.data.dataset import MemmapDataset

    view = write_training_view(mad_file, tmp_path / "view.xyz")
    assert (view["frames"], view["frames_in_source"], view["frames_with_stress"]) == (
        5, 5, 2)
    summary = write_memmap(tmp_path / "view.xyz", tmp_path / "mm")
    assert summary == {"path": str(tmp_path / "mm"), "source": str(tmp_path / "view.xyz"),
                       "structures": 5, "atoms": 4 + 3 + 5 + 8 + 2,
                       "structures_with_stress": 2}
    assert sorted(p.name for p in (tmp_path / "mm").iterdir()) == sorted(LAYOUT_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mad.xyz", "mm", "view.xyz"]
    assert np.load(tmp_path / "mm" / "na.npy").dtype == np.int64

    dataset, info = _memmap_dataset(tmp_path / "mm")
    assert isinstance(dataset, MemmapDataset)
    assert set(info) == set(STANDARD_TARGETS)
    source = read_frames(mad_file)
    assert len(dataset) == len(source)
    for index, atoms in enumerate(source):
        sample = dataset[index]
        system = sample.system
        labels = extxyz.frame_labels(atoms, mad_file, index)
        np.testing.assert_allclose(system.positions.numpy(), atoms.positions, atol=1e-5)
        assert system.types.tolist() == atoms.numbers.tolist()
        assert system.pbc.tolist() == atoms.pbc.tolist()
        np.testing.assert_allclose(system.cell.numpy(), _expected_cell(atoms), atol=1e-5)
        energy = sample["energy"].block().values
        assert energy.shape == (1, 1)
        assert energy.item() == pytest.approx(atoms.info.get("energy",
                                                             atoms.calc.results["energy"]),
                                              rel=1e-7)
        forces = sample["non_conservative_force"].block().values
        np.testing.assert_allclose(forces.numpy()[..., 0], labels.forces, atol=1e-6)
        stress = sample["non_conservative_stress"].block().values.numpy()[0, ..., 0]
        if atoms.pbc.all():
            np.testing.assert_allclose(stress, labels.stress, atol=1e-7)
        else:  # the molecules and the slab: masked
            assert np.isnan(stress).all()
    # the crystal's off-diagonal stress and the Voigt one arrive as full 3x3
    assert dataset[0]["non_conservative_stress"].block().values[0, 0, 1, 0].item() == (
        pytest.approx(0.01))
    assert dataset[4]["non_conservative_stress"].block().values[0, 1, 2, 0].item() == (
        pytest.approx(0.01))


@pytest.mark.filterwarnings("ignore:A conversion to `System` was requested")
def test_memmap_matches_metatrain_reading_the_extxyz(mad_file, tmp_path):
    """The memmap directory gives metatrain the same systems, targets and target
    metadata as its ASE reader gives for the extxyz training view."""
    from metatrain.utils.data import get_dataset
    from metatrain.utils.omegaconf import expand_dataset_config
    from omegaconf import OmegaConf

    write_training_view(mad_file, tmp_path / "view.xyz")
    write_memmap(tmp_path / "view.xyz", tmp_path / "mm")
    options = expand_dataset_config(OmegaConf.create(
        _dataset(tmp_path / "view.xyz", STANDARD_TARGETS)))
    from_xyz, info_xyz, _ = get_dataset(options[0])
    from_mm, info_mm = _memmap_dataset(tmp_path / "mm")
    assert info_mm == info_xyz  # metatrain requires equal TargetInfo across data sets
    for index in range(len(from_xyz)):
        a, b = from_xyz[index], from_mm[index]
        torch.testing.assert_close(b.system.positions, a.system.positions, atol=1e-5,
                                   rtol=0)
        assert torch.equal(b.system.types, a.system.types)
        assert torch.equal(b.system.pbc, a.system.pbc)
        torch.testing.assert_close(b.system.cell, a.system.cell, atol=1e-5, rtol=0)
        for name in STANDARD_TARGETS:
            block_a, block_b = a[name].block(), b[name].block()
            assert block_a.samples.names == block_b.samples.names
            assert block_a.properties == block_b.properties
            assert block_a.components == block_b.components
            torch.testing.assert_close(block_b.values, block_a.values, atol=1e-5,
                                       rtol=1e-6, equal_nan=True)


def test_target_keys_match_the_layout():
    assert sorted(t["key"] for t in STANDARD_TARGETS.values()) == sorted(TARGET_FILES)


def test_view_is_written_streaming(mad_file, tmp_path, monkeypatch):
    """No whole-file read, and frames come one by one: a broken last frame is only
    met after the first ones were yielded."""
    def whole_file(*args, **kwargs):
        raise AssertionError("read_frames must not be used")

    monkeypatch.setattr(extxyz, "read_frames", whole_file)
    lines = mad_file.read_text().splitlines(keepends=True)
    (tmp_path / "cut.xyz").write_text("".join(lines[:-1]))  # the last frame loses an atom
    frames = iter_frames(tmp_path / "cut.xyz")
    assert [next(frames)[0] for _ in range(4)] == [0, 1, 2, 3]
    with pytest.raises(DataError, match=r"cut\.xyz: frame 4 .*ends after 1 of its 2 atom"):
        next(frames)
    assert count_frames(mad_file) == 5
    summary = write_training_view(mad_file, tmp_path / "view.xyz")
    assert summary["frames"] == 5
    back = read_frames(tmp_path / "view.xyz")  # this module's name: not the patched one
    assert [a.info["frame_id"] for a in back] == [10, 11, 12, 13, 14]


def _corrupt_middle(path, out, how):
    lines = path.read_text().splitlines(keepends=True)
    # frame 0 has 4 atoms (6 lines); frame 1 (the water) starts at line 6
    if how == "number":
        lines[8] = lines[8].replace(lines[8].split()[1], "1.2.3", 1)
    elif how == "count":
        lines[6] = "three\n"
    elif how == "energy":
        lines[7] = lines[7].replace("energy=", "enrgy=")
    out.write_text("".join(lines))


@pytest.mark.parametrize(("how", "message"), [
    ("number", r"bad\.xyz: frame 1 \(0-based\) cannot be read as extxyz"),
    ("count", r"bad\.xyz: frame 1 \(0-based\) .*line 7 should hold the atom count"),
    ("energy", r"bad\.xyz: frame 1 has no 'energy'"),
])
def test_malformed_middle_frame_leaves_no_output(mad_file, tmp_path, how, message):
    _corrupt_middle(mad_file, tmp_path / "bad.xyz", how)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(DataError, match=message):
        write_training_view(tmp_path / "bad.xyz", tmp_path / "view.xyz")
    with pytest.raises(DataError, match=message):
        write_memmap(tmp_path / "bad.xyz", tmp_path / "mm")
    if how == "count":  # a broken layout is found by the counting pass, kept or not
        with pytest.raises(DataError, match=message):
            write_training_view(tmp_path / "bad.xyz", tmp_path / "view.xyz",
                                max_structures=1, seed=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_failed_memmap_keeps_the_previous_directory(mad_file, tmp_path):
    write_training_view(mad_file, tmp_path / "view.xyz")
    write_memmap(tmp_path / "view.xyz", tmp_path / "mm")
    digest = sha256_path(tmp_path / "mm")
    _corrupt_middle(tmp_path / "view.xyz", tmp_path / "bad.xyz", "number")
    with pytest.raises(DataError):
        write_memmap(tmp_path / "bad.xyz", tmp_path / "mm")
    assert sha256_path(tmp_path / "mm") == digest
    # a successful write replaces it
    write_frames(_mad_frames()[:2], tmp_path / "two.xyz")
    assert write_memmap(tmp_path / "two.xyz", tmp_path / "mm")["structures"] == 2
    assert int(np.load(tmp_path / "mm" / "ns.npy")) == 2
    assert sha256_path(tmp_path / "mm") != digest
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bad.xyz", "mad.xyz", "mm", "two.xyz", "view.xyz"]


def test_periodic_direction_without_cell_vector_is_an_error(tmp_path):
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.8]], cell=[4.0, 4.0, 0.0],
                  pbc=True)
    with pytest.raises(DataError, match=r"x\.xyz: frame 3 is periodic along cell "
                                        r"vector\(s\) \[2\]"):
        memmap_cell(atoms, "x.xyz", 3)
    atoms.pbc = [True, True, False]
    np.testing.assert_array_equal(memmap_cell(atoms, "x.xyz", 3), np.diag([4.0, 4, 0]))


def _numbered_frames(n):
    frames = []
    for k in range(n):
        atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7 + 0.01 * k]])
        atoms.info.update(energy=float(k), subset="molecule", frame_id=k)
        atoms.arrays["forces"] = np.zeros((2, 3))
        frames.append(atoms)
    return frames


def test_max_structures_keeps_a_seeded_subset_in_file_order(tmp_path):
    write_frames(_numbered_frames(30), tmp_path / "in.xyz")

    def kept(name, **kwargs):
        summary = write_training_view(tmp_path / "in.xyz", tmp_path / name, **kwargs)
        ids = [a.info["frame_id"] for a in read_frames(tmp_path / name)]
        return summary, ids

    summary, ids = kept("a.xyz", max_structures=7, seed=1)
    assert summary["frames"] == 7 and summary["frames_in_source"] == 30
    assert summary["atoms"] == 14
    assert (summary["max_structures"], summary["seed"]) == (7, 1)
    assert len(ids) == 7 and ids == sorted(ids) and len(set(ids)) == 7
    assert set(ids) <= set(range(30))
    again, ids_again = kept("b.xyz", max_structures=7, seed=1)
    assert ids_again == ids
    assert (tmp_path / "a.xyz").read_bytes() == (tmp_path / "b.xyz").read_bytes()
    assert kept("c.xyz", max_structures=7, seed=2)[1] != ids
    # the energies still belong to their frames
    energies = [a.calc.results["energy"] for a in read_frames(tmp_path / "a.xyz")]
    assert energies == [float(k) for k in ids]
    # as many or more than the file holds: everything
    summary, ids = kept("d.xyz", max_structures=30)
    assert ids == list(range(30)) and summary["frames_in_source"] == 30
    with pytest.raises(ValueError, match="max_structures must be a positive"):
        write_training_view(tmp_path / "in.xyz", tmp_path / "e.xyz", max_structures=0)
    assert not (tmp_path / "e.xyz").exists()


def test_blank_line_before_more_data_is_an_error(mad_file, tmp_path):
    text = mad_file.read_text()
    lines = text.splitlines(keepends=True)
    (tmp_path / "gap.xyz").write_text("".join(lines[:6]) + "\n" + "".join(lines[6:]))
    with pytest.raises(DataError, match=r"frame 1 .*line 7 is blank but more data"):
        write_training_view(tmp_path / "gap.xyz", tmp_path / "view.xyz")
    (tmp_path / "tail.xyz").write_text(text + "\n\n")  # trailing blank lines are fine
    assert count_frames(tmp_path / "tail.xyz") == 5
    with pytest.raises(DataError, match="no such file"):
        count_frames(tmp_path / "absent.xyz")
    (tmp_path / "empty.xyz").write_text("")
    with pytest.raises(DataError, match="contains no frames"):
        write_memmap(tmp_path / "empty.xyz", tmp_path / "mm")
    assert not (tmp_path / "mm").exists()


# --------------------------------------------------------------------------------------
# training on memmap directories


def test_options_for_a_memmap_directory(mad_file, tmp_path, tiny_settings):
    import copy

    from metatrain.utils.pydantic import validate_base_options

    write_training_view(mad_file, tmp_path / "view.xyz")
    write_memmap(tmp_path / "view.xyz", tmp_path / "mm")
    options = build_options(tiny_settings, tmp_path / "mm", tmp_path / "mm",
                            tmp_path / "view.xyz", device="cpu")
    assert options["training_set"]["systems"] == {"read_from": str(tmp_path / "mm"),
                                                  "length_unit": "angstrom"}
    assert options["training_set"]["targets"] == STANDARD_TARGETS
    assert options["test_set"]["systems"]["reader"] == "ase"
    validate_base_options(copy.deepcopy(options))

    tiny_settings["targets"] = "geometric"
    tiny_settings["geometric"] = {"lambda_max": 1}
    with pytest.raises(ValueError, match=rf"{tmp_path / 'mm'} is a memmap directory, "
                                         r"but the targets .*mtt::pseudoscalar.* are "
                                         r"spherical"):
        build_options(tiny_settings, tmp_path / "mm", tmp_path / "mm", tmp_path / "mm",
                      device="cpu")
    (tmp_path / "mm" / "stress.bin").unlink()
    with pytest.raises(ValueError, match=r"lacks \['stress\.bin'\]"):
        _dataset(tmp_path / "mm", STANDARD_TARGETS)


def test_pet_trains_on_memmap_directories(tiny_pet_data, tiny_settings, tmp_path):
    data = {name: tmp_path / "memmap" / name for name in tiny_pet_data}
    for name, path in tiny_pet_data.items():
        write_memmap(path, data[name])
    tiny_settings["training"].update(epochs=1, checkpoint_every=1)
    summary = train_pet(tiny_settings, **data, out_dir=tmp_path / "run", threads=1)
    assert summary["epochs"] == [0, 1]
    for k in (0, 1):
        assert (tmp_path / "run" / "checkpoints" / f"epoch_{k}.ckpt").stat().st_size > 0
    assert (tmp_path / "run" / "best_model.pt").stat().st_size > 0
    assert not (tmp_path / "run" / "resume").exists()
    assert str(data["train"]) in (tmp_path / "run" / "options.yaml").read_text()
