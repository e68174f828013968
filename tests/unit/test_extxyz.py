"""MAD-style extxyz checks and the PET training view (stress masked with NaN)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule

from symlearn.data import extxyz
from symlearn.data.extxyz import DataError, read_frames, write_frames, write_training_view


def _frames():
    crystal = bulk("Cu", "fcc", a=3.6, cubic=True)
    crystal.info.update(energy=-1.0, stress=np.diag([0.1, 0.2, 0.3]), subset="bulk",
                        frame_id=0)
    crystal.arrays["forces"] = np.full((4, 3), 0.5)
    water = molecule("H2O")
    water.info.update(energy=2.0, subset="molecule", frame_id=1)
    water.arrays["forces"] = np.zeros((3, 3))
    return [crystal, water]


def test_training_view_masks_missing_stress(tmp_path):
    write_frames(_frames(), tmp_path / "in.xyz")
    summary = write_training_view(tmp_path / "in.xyz", tmp_path / "out.xyz")
    assert summary["frames"] == 2
    assert summary["frames_with_stress"] == 1
    crystal, water = read_frames(tmp_path / "out.xyz")
    np.testing.assert_allclose(crystal.calc.results["stress"][:3], [0.1, 0.2, 0.3])
    assert np.isnan(water.calc.results["stress"]).all()
    assert water.info["subset"] == "molecule"


def test_streamed_view_is_the_file_written_at_once(tmp_path):
    """Writing frame by frame gives the file that writing the whole list gave."""
    frames = _frames() * 3
    write_frames(frames, tmp_path / "in.xyz")
    summary = write_training_view(tmp_path / "in.xyz", tmp_path / "out.xyz")
    assert summary == {"file": str(tmp_path / "out.xyz"), "frames": 6,
                       "frames_in_source": 6, "atoms": 21, "frames_with_stress": 3,
                       "subsets": ["bulk", "molecule"], "max_structures": None,
                       "seed": 0}
    views = [extxyz._training_frame(atoms, extxyz.frame_labels(atoms, "in", k), k)
             for k, atoms in enumerate(read_frames(tmp_path / "in.xyz"))]
    write_frames(views, tmp_path / "at_once.xyz")
    assert (tmp_path / "out.xyz").read_bytes() == (tmp_path / "at_once.xyz").read_bytes()


def test_metatrain_reads_the_view_with_masked_stress(tmp_path):
    """metatrain's own reader accepts the view, with NaN stress where there is none."""
    from metatrain.utils.data.readers.ase import read_generic
    from omegaconf import OmegaConf

    write_frames(_frames(), tmp_path / "in.xyz")
    write_training_view(tmp_path / "in.xyz", tmp_path / "out.xyz")
    target = OmegaConf.create({
        "quantity": "non_conservative_stress", "read_from": str(tmp_path / "out.xyz"),
        "reader": "ase", "key": "stress", "unit": "eV/A^3", "sample_kind": "system",
        "type": {"cartesian": {"rank": 2}}, "num_subtargets": 1, "description": ""})
    maps, _ = read_generic("non_conservative_stress", target)
    values = [m.block().values.squeeze() for m in maps]
    assert values[0].diagonal().tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert values[1].isnan().all()


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("energy", r"frame 1 has no 'energy'"),
        ("forces", r"frame 1 has no 'forces'"),
    ],
)
def test_missing_field_names_file_and_frame(tmp_path, remove, message):
    frames = _frames()
    crystal = frames[0]
    frames[1] = crystal.copy()
    frames[1].info = {k: v for k, v in crystal.info.items() if k != remove}
    if remove == "forces":
        del frames[1].arrays["forces"]
    write_frames(frames, tmp_path / "in.xyz")
    with pytest.raises(DataError, match=rf"in\.xyz: {message}"):
        write_training_view(tmp_path / "in.xyz", tmp_path / "out.xyz")
    assert not (tmp_path / "out.xyz").exists()


def test_periodic_frame_without_stress_is_an_error(tmp_path):
    frames = _frames()
    del frames[0].info["stress"]
    write_frames(frames, tmp_path / "in.xyz")
    with pytest.raises(DataError, match=r"frame 0 is periodic but has no 'stress'"):
        write_training_view(tmp_path / "in.xyz", tmp_path / "out.xyz")


def test_wrong_force_shape_is_an_error(tmp_path):
    frames = _frames()
    atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.8]])
    atoms.info.update(energy=1.0, subset="molecule", forces=np.zeros(3))
    frames.append(atoms)
    write_frames(frames, tmp_path / "in.xyz")
    with pytest.raises(DataError, match=r"frame 2 has no 'forces'"):
        write_training_view(tmp_path / "in.xyz", tmp_path / "out.xyz")


def test_truncated_file_names_file_and_frame(tmp_path):
    write_frames(_frames(), tmp_path / "in.xyz")
    lines = (tmp_path / "in.xyz").read_text().splitlines(keepends=True)
    (tmp_path / "cut.xyz").write_text("".join(lines[:-2]))  # the molecule loses atoms
    with pytest.raises(DataError, match=r"cut\.xyz: frame 1 .*truncated after 1 complete"):
        read_frames(tmp_path / "cut.xyz")


def test_truncated_file_leaves_no_view(tmp_path):
    write_frames(_frames(), tmp_path / "in.xyz")
    lines = (tmp_path / "in.xyz").read_text().splitlines(keepends=True)
    (tmp_path / "cut.xyz").write_text("".join(lines[:-2]))
    with pytest.raises(DataError, match=r"cut\.xyz: frame 1 .*truncated after 1 complete"
                                        r".*ends after 1 of its 3 atom lines"):
        write_training_view(tmp_path / "cut.xyz", tmp_path / "out.xyz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.xyz", "in.xyz"]


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_frames(tmp_path / "absent.xyz")
    (tmp_path / "empty.xyz").write_text("")
    with pytest.raises(DataError, match="contains no frames"):
        read_frames(tmp_path / "empty.xyz")
    for kwargs in ({}, {"max_structures": 3}):
        with pytest.raises(DataError, match="no such file"):
            write_training_view(tmp_path / "absent.xyz", tmp_path / "out.xyz", **kwargs)
        with pytest.raises(DataError, match="contains no frames"):
            write_training_view(tmp_path / "empty.xyz", tmp_path / "out.xyz", **kwargs)
    assert not (tmp_path / "out.xyz").exists()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("positions", np.nan, r"frame 1: atom 2 has a non-finite position \[nan, nan, nan\]"),
    ("positions", np.inf, r"frame 1: atom 2 has a non-finite position \[inf, inf, inf\]"),
    ("cell", np.nan, r"frame 1: the cell has non-finite entries"),
    ("forces", np.nan, r"frame 1: 'forces' contains non-finite values"),
    ("stress", np.inf, r"frame 1: 'stress' contains non-finite values"),
    ("energy", np.nan, r"frame 1: 'energy' is not finite \(nan\)"),
])
def test_non_finite_values_name_file_frame_and_field(tmp_path, field, value, message):
    """Every reader refuses a NaN or infinity in the geometry or the labels, naming
    the file, the frame and the field, and writes nothing."""
    from symlearn.data.extxyz import iter_frames

    crystal = _frames()[0]
    frames = [crystal, crystal.copy()]
    frames[1].info = dict(crystal.info)
    bad = frames[1]
    if field == "positions":
        bad.positions[2] = value
    elif field == "cell":
        bad.cell[0, 0] = value
    elif field == "forces":
        bad.arrays["forces"][1, 0] = value
    elif field == "stress":
        bad.info["stress"] = np.diag([0.1, value, 0.3])
    else:
        bad.info["energy"] = value
    write_frames(frames, tmp_path / "in.xyz")
    with pytest.raises(DataError, match=rf"in\.xyz: {message}"):
        write_training_view(tmp_path / "in.xyz", tmp_path / "out.xyz")
    assert not (tmp_path / "out.xyz").exists()
    if field in ("positions", "cell"):
        with pytest.raises(DataError, match=rf"in\.xyz: {message}"):
            read_frames(tmp_path / "in.xyz")
        with pytest.raises(DataError, match=rf"in\.xyz: {message}"):
            list(iter_frames(tmp_path / "in.xyz"))


@pytest.mark.parametrize(("change", "message"), [
    ("duplicate", r"frame 1: atoms 0 and 3 are 0 Å apart, closer than 0.1 Å"),
    ("image", r"frame 1: atoms 0 and 0 are 0.05 Å apart"),
    ("far", r"frame 1: atom 2 is at \[1000000000000.0, .*beyond 100000 Å"),
])
def test_a_structure_that_cannot_be_physical_is_refused_by_every_reader(
        tmp_path, change, message):
    """Two atoms at one position, an atom 0.05 Å from its own periodic image (a cell of
    0.05 Å), a coordinate of 1e12 Å: each is refused, naming the file, the frame and the
    atoms, by every reader, and nothing is written."""
    from symlearn.data.extxyz import iter_frames

    crystal = _frames()[0]
    bad = crystal.copy()
    bad.info = dict(crystal.info)
    if change == "duplicate":
        bad.positions[3] = bad.positions[0]
    elif change == "image":
        bad = Atoms("Cu", positions=[[0, 0, 0]], cell=[0.05, 5, 5], pbc=True,
                    info=dict(crystal.info, stress=np.zeros((3, 3))))
        bad.arrays["forces"] = np.zeros((1, 3))
    else:
        bad.positions[2] = [1e12, 0, 0]
    write_frames([crystal, bad], tmp_path / "in.xyz")
    with pytest.raises(DataError, match=rf"in\.xyz: {message}"):
        write_training_view(tmp_path / "in.xyz", tmp_path / "out.xyz")
    assert not (tmp_path / "out.xyz").exists()
    with pytest.raises(DataError, match=rf"in\.xyz: {message}"):
        read_frames(tmp_path / "in.xyz")
    with pytest.raises(DataError, match=rf"in\.xyz: {message}"):
        list(iter_frames(tmp_path / "in.xyz"))


def test_a_file_that_is_not_text_is_refused(tmp_path):
    from symlearn.data.extxyz import count_frames

    (tmp_path / "random.xyz").write_bytes(bytes(range(256)) * 8)
    with pytest.raises(DataError, match=r"random\.xyz: not a text file"):
        count_frames(tmp_path / "random.xyz")
    with pytest.raises(DataError, match=r"random\.xyz: frame 0 .* cannot be read"):
        read_frames(tmp_path / "random.xyz")
