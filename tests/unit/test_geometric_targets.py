"""Geometric targets: exact O(3) behaviour, as metatrain's augmentation transforms them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from scipy.integrate import lebedev_rule
from scipy.spatial.transform import Rotation

from symlearn.data.extxyz import read_frames, write_frames
from symlearn.pet.geometric import (
    add_geometric_targets,
    density_projections,
    pseudoscalar,
    real_spherical_harmonics,
    smooth_cutoff,
    target_irreps,
)

CUTOFF, WIDTH, LAMBDA_MAX = 4.5, 0.5, 8
ATOL = 1e-10
# extxyz stores per-atom arrays with 8 decimals
FILE_ATOL = 5.1e-9


def _cluster() -> Atoms:
    rng = np.random.default_rng(0)
    return Atoms("CH3NO2H", positions=rng.uniform(-2.0, 2.0, size=(8, 3)))


def _rattled_cell() -> Atoms:
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    atoms.rattle(stdev=0.1, seed=1)
    return atoms


def _small_triclinic_cell() -> Atoms:
    """A cell smaller than the cutoff: every atom sees several images of itself."""
    atoms = bulk("Si", "diamond", a=5.43)
    atoms.cell[2] += [0.3, -0.2, 0.1]
    atoms.rattle(stdev=0.1, seed=2)
    return atoms


STRUCTURES = {"cluster": _cluster, "rattled_cell": _rattled_cell,
              "small_triclinic_cell": _small_triclinic_cell}


def _transformed(atoms: Atoms, matrix: np.ndarray) -> Atoms:
    """``x -> g x`` for positions and cell vectors alike."""
    out = atoms.copy()
    out.positions = atoms.positions @ matrix.T
    out.cell = np.asarray(atoms.cell) @ matrix.T
    return out


def _operations(seed: int, n: int = 3) -> list[np.ndarray]:
    """Haar-random rotations and the improper operations ``-R`` made from them."""
    rotations = Rotation.random(n, random_state=seed).as_matrix()
    return [*rotations, *(-rotations)]


# -- smooth cutoff and spherical harmonics -------------------------------------------


def test_smooth_cutoff_values_and_c1_continuity():
    r = np.array([0.0, 3.0, 4.0, 4.25, 4.5, 5.0])
    np.testing.assert_allclose(smooth_cutoff(r, 4.5, 0.5), [1, 1, 1, 0.5, 0, 0], atol=1e-15)
    grid = np.linspace(3.5, 5.0, 30001)
    values = smooth_cutoff(grid, 4.5, 0.5)
    assert np.all(np.diff(values) <= 0)
    slope = np.gradient(values, grid)
    # the slope is continuous: ~0 on both edges of the step, -pi/(2 width) at its middle
    for edge in (4.0, 4.5):
        assert abs(slope[np.argmin(abs(grid - edge))]) < 1e-3
    assert slope.min() == pytest.approx(-np.pi / (2 * 0.5), rel=1e-6)
    with pytest.raises(ValueError, match="width"):
        smooth_cutoff(r, 4.5, 0.0)


def test_real_spherical_harmonics_are_orthonormal_on_a_lebedev_grid():
    # products of harmonics up to λ = 8 have degree 16; the order-17 rule is exact
    points, weights = lebedev_rule(17)
    harmonics = np.concatenate(
        [real_spherical_harmonics(o3_lambda, points.T * 2.5)
         for o3_lambda in range(LAMBDA_MAX + 1)], axis=1)
    assert harmonics.shape == (len(weights), (LAMBDA_MAX + 1) ** 2)
    gram = harmonics.T @ (weights[:, None] * harmonics)
    np.testing.assert_allclose(gram, np.eye(len(gram)), atol=ATOL)


def test_l1_harmonics_are_y_z_x():
    vectors = np.random.default_rng(3).normal(size=(20, 3))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    expected = np.sqrt(3 / (4 * np.pi)) * unit[:, [1, 2, 0]]
    np.testing.assert_allclose(real_spherical_harmonics(1, vectors), expected, atol=1e-14)
    np.testing.assert_allclose(real_spherical_harmonics(0, vectors),
                               np.full((20, 1), 0.5 / np.sqrt(np.pi)), atol=1e-14)


def test_harmonics_on_the_poles_and_axes_are_finite():
    axes = np.vstack([np.eye(3), -np.eye(3)])
    for o3_lambda in range(LAMBDA_MAX + 1):
        assert np.isfinite(real_spherical_harmonics(o3_lambda, axes)).all()


# -- pseudoscalar ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_pseudoscalar_is_rotation_invariant_and_inversion_odd(name):
    atoms = STRUCTURES[name]()
    p = pseudoscalar(atoms, CUTOFF, WIDTH)
    assert p.shape == (len(atoms),) and p.dtype == np.float64
    assert np.all(np.abs(p) > 1e-6), "a generic environment has a non-zero pseudoscalar"
    for rotation in Rotation.random(4, random_state=7).as_matrix():
        np.testing.assert_allclose(pseudoscalar(_transformed(atoms, rotation), CUTOFF, WIDTH),
                                   p, atol=ATOL, rtol=0)
        np.testing.assert_allclose(
            pseudoscalar(_transformed(atoms, -rotation), CUTOFF, WIDTH), -p,
            atol=ATOL, rtol=0)
    np.testing.assert_allclose(pseudoscalar(_transformed(atoms, -np.eye(3)), CUTOFF, WIDTH),
                               -p, atol=ATOL, rtol=0)


def test_pseudoscalar_equals_the_triplet_sum():
    """A_1·(A_2×A_3) is the smooth triplet sum, evaluated here pair by pair."""
    from ase.neighborlist import neighbor_list

    from symlearn.pet import geometric

    atoms = _cluster()
    centres, vectors = neighbor_list("iD", atoms, CUTOFF)
    r = np.linalg.norm(vectors, axis=1)
    weights = [smooth_cutoff(r, CUTOFF, WIDTH)
               * np.exp(-(((r - mu * CUTOFF) / (geometric.PSEUDOSCALAR_WIDTH * CUTOFF)) ** 2))
               for mu in geometric.PSEUDOSCALAR_CENTRES]
    expected = np.zeros(len(atoms))
    for i in range(len(atoms)):
        mine = centres == i
        v = vectors[mine] / CUTOFF
        w1, w2, w3 = (w[mine] for w in weights)
        triple = np.einsum("ja,kb,lc,abc->jkl", v, v, v, _levi_civita())
        expected[i] = np.einsum("j,k,l,jkl->", w1, w2, w3, triple)
    np.testing.assert_allclose(pseudoscalar(atoms, CUTOFF, WIDTH),
                               geometric.PSEUDOSCALAR_SCALE * expected, atol=ATOL, rtol=0)


def _levi_civita() -> np.ndarray:
    eps = np.zeros((3, 3, 3))
    for a, b, c in [(0, 1, 2), (1, 2, 0), (2, 0, 1)]:
        eps[a, b, c], eps[a, c, b] = 1.0, -1.0
    return eps


def test_centrosymmetric_crystal_has_zero_pseudoscalar():
    p = pseudoscalar(bulk("Cu", "fcc", a=3.6, cubic=True), CUTOFF, WIDTH)
    np.testing.assert_allclose(p, 0.0, atol=1e-12)


def test_atom_without_neighbours_has_zero_targets():
    lone = Atoms("H2", positions=[[0, 0, 0], [0, 0, CUTOFF + 0.1]])
    periodic = Atoms("H", positions=[[1, 1, 1]], cell=[CUTOFF + 0.2] * 3, pbc=True)
    for atoms in (lone, periodic):
        add_geometric_targets([atoms], CUTOFF, WIDTH, LAMBDA_MAX)
        for key in target_irreps(LAMBDA_MAX):
            assert np.all(atoms.arrays[key] == 0.0), key


def test_add_geometric_targets_shapes():
    atoms = _rattled_cell()
    add_geometric_targets([atoms], CUTOFF, WIDTH, 3)
    assert list(target_irreps(3)) == ["pseudoscalar", "density_l0", "density_l1",
                                      "density_l2", "density_l3"]
    assert atoms.arrays["pseudoscalar"].shape == (len(atoms),)
    for o3_lambda in range(4):
        values = atoms.arrays[f"density_l{o3_lambda}"]
        assert values.shape == (len(atoms), 2 * o3_lambda + 1)
        assert values.dtype == np.float64
    # density_l0 counts the neighbours, smoothly: Y_00 = 1/sqrt(4 pi)
    from ase.neighborlist import neighbor_list

    distances = neighbor_list("d", atoms, CUTOFF)
    centres = neighbor_list("i", atoms, CUTOFF)
    counts = np.bincount(centres, weights=smooth_cutoff(distances, CUTOFF, WIDTH),
                         minlength=len(atoms))
    np.testing.assert_allclose(atoms.arrays["density_l0"][:, 0],
                               counts / np.sqrt(4 * np.pi), atol=ATOL)


# -- density projections transform with metatomic's Wigner matrices --------------------


@pytest.mark.parametrize("name", sorted(STRUCTURES))
def test_density_projections_transform_with_metatomic_wigner_matrices(name):
    from metatomic.torch.o3 import O3Transformations

    atoms = STRUCTURES[name]()
    reference = density_projections(atoms, CUTOFF, WIDTH, LAMBDA_MAX)
    for o3_lambda, values in reference.items():
        assert np.abs(values).max() > 1e-3, f"λ={o3_lambda}: the test must not compare zeros"
    for matrix in _operations(seed=11):
        transformations = O3Transformations(torch.from_numpy(matrix)[None], LAMBDA_MAX)
        parity = -1.0 if np.linalg.det(matrix) < 0 else 1.0
        moved = density_projections(_transformed(atoms, matrix), CUTOFF, WIDTH, LAMBDA_MAX)
        for o3_lambda in range(LAMBDA_MAX + 1):
            wigner = transformations.wigner_D_matrices(o3_lambda)[0].numpy()
            expected = parity**o3_lambda * reference[o3_lambda] @ wigner.T
            np.testing.assert_allclose(moved[o3_lambda], expected, atol=ATOL, rtol=0,
                                       err_msg=f"λ={o3_lambda}, det={np.linalg.det(matrix)}")


def _target_info(name: str, o3_lambda: int, o3_sigma: int):
    """The TargetInfo metatrain builds for a per-atom spherical target from a config."""
    from metatrain.utils.data.target_info import get_generic_target_info
    from metatrain.utils.omegaconf import expand_dataset_config
    from omegaconf import OmegaConf

    conf = expand_dataset_config(OmegaConf.create({
        "systems": {"read_from": "unused.xyz", "length_unit": "angstrom"},
        "targets": {name: {"key": name, "quantity": "", "sample_kind": "atom",
                           "type": {"spherical": {"irreps": [
                               {"o3_lambda": o3_lambda, "o3_sigma": o3_sigma}]}}}},
    }))
    return conf[0]["targets"][name], get_generic_target_info(name, conf[0]["targets"][name])


def _tensor_map(info, frames: list[Atoms], key: str):
    """A batch TensorMap laid out as metatrain's ASE reader lays out one target."""
    from metatensor.torch import Labels, TensorBlock, TensorMap

    block = info.layout.block()
    values = np.concatenate([np.asarray(a.arrays[key]).reshape(len(a), -1) for a in frames])
    samples = torch.tensor([[s, a] for s, atoms in enumerate(frames)
                            for a in range(len(atoms))])
    return TensorMap(info.layout.keys, [TensorBlock(
        values=torch.from_numpy(values).reshape([-1] + block.shape[1:]),
        samples=Labels(["system", "atom"], samples),
        components=block.components, properties=block.properties)])


def test_targets_follow_metatrain_o3_augmentation():
    """Targets of the augmented systems == metatrain's augmentation of the targets."""
    from metatomic.torch import systems_to_torch
    from metatrain.utils.augmentation import O3Augmenter

    frames = [STRUCTURES[name]() for name in sorted(STRUCTURES)]
    add_geometric_targets(frames, CUTOFF, WIDTH, LAMBDA_MAX)
    infos = {"pseudoscalar": _target_info("pseudoscalar", 0, -1)[1]}
    for o3_lambda in range(LAMBDA_MAX + 1):
        infos[f"density_l{o3_lambda}"] = _target_info(f"density_l{o3_lambda}", o3_lambda,
                                                      1)[1]
    augmenter = O3Augmenter(infos)
    targets = {key: _tensor_map(info, frames, key) for key, info in infos.items()}
    systems = systems_to_torch(frames, dtype=torch.float64)
    operations = _operations(seed=5, n=len(frames))
    for batch in (operations[:len(frames)], operations[len(frames):]):
        new_systems, new_targets, _ = augmenter.apply_augmentations(
            systems, targets, [torch.from_numpy(m) for m in batch])
        moved = [Atoms(numbers=s.types.numpy(), positions=s.positions.numpy(),
                       cell=s.cell.numpy(), pbc=s.pbc.numpy()) for s in new_systems]
        for atoms, original, matrix in zip(moved, frames, batch, strict=True):
            np.testing.assert_allclose(atoms.positions, original.positions @ matrix.T,
                                       atol=1e-12)
        add_geometric_targets(moved, CUTOFF, WIDTH, LAMBDA_MAX)
        for key, info in infos.items():
            expected = _tensor_map(info, moved, key).block().values.numpy()
            got = new_targets[key].block().values.numpy()
            assert np.abs(expected).max() > 1e-3
            np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0, err_msg=key)


# -- command line and metatrain's reader -----------------------------------------------


def test_cli_output_reads_back_with_metatrain(tmp_path):
    from metatrain.utils.data.readers.ase import read_generic

    from symlearn.cli import main

    frames = [STRUCTURES[name]() for name in sorted(STRUCTURES)]
    for index, atoms in enumerate(frames):
        atoms.info["energy"] = -1.0 - index
        atoms.arrays["forces"] = np.full((len(atoms), 3), 0.25)
    write_frames(frames, tmp_path / "in.xyz")
    assert main(["geometric-targets", str(tmp_path / "in.xyz"), str(tmp_path / "out.xyz"),
                 "--cutoff", str(CUTOFF), "--cutoff-width", str(WIDTH),
                 "--lambda-max", "3"]) == 0

    # the targets of the positions as stored (8 decimals), as the CLI computes them
    expected = read_frames(tmp_path / "in.xyz")
    add_geometric_targets(expected, CUTOFF, WIDTH, 3)
    written = read_frames(tmp_path / "out.xyz")
    for before, after in zip(expected, written, strict=True):
        np.testing.assert_array_equal(after.positions, before.positions)
        np.testing.assert_array_equal(after.calc.results["forces"], 0.25)
        assert after.calc.results["energy"] == before.calc.results["energy"]

    for key, o3_lambda, o3_sigma in [("pseudoscalar", 0, -1), ("density_l0", 0, 1),
                                     ("density_l1", 1, 1), ("density_l2", 2, 1),
                                     ("density_l3", 3, 1)]:
        conf, _ = _target_info(key, o3_lambda, o3_sigma)
        conf["read_from"] = str(tmp_path / "out.xyz")
        maps, info = read_generic(key, conf)
        assert info.is_spherical and info.per_atom
        assert len(maps) == len(frames)
        for tensor_map, atoms in zip(maps, expected, strict=True):
            block = tensor_map.block()
            assert block.values.shape == (len(atoms), 2 * o3_lambda + 1, 1)
            assert block.samples.names == ["system", "atom"]
            assert block.components[0].names == ["o3_mu"]
            np.testing.assert_allclose(
                block.values.numpy()[:, :, 0],
                np.asarray(atoms.arrays[key]).reshape(len(atoms), -1),
                atol=FILE_ATOL, rtol=0, err_msg=key)


def test_a_target_that_comes_out_non_finite_is_an_error_naming_frame_and_atom(monkeypatch):
    """Whatever makes a density NaN, the step that makes it stops, naming the frame,
    the atom and the target, instead of writing a NaN that training would skip."""
    from ase.build import bulk

    from symlearn.errors import DataError
    from symlearn.pet import geometric

    real = geometric._density

    def with_nan(*args, **kwargs):
        density = real(*args, **kwargs)
        density[1] = density[1].copy()
        density[1][2] = np.nan
        return density

    monkeypatch.setattr(geometric, "_density", with_nan)
    frames = [bulk("Cu", cubic=True), bulk("Ag", cubic=True)]
    with pytest.raises(DataError, match="train.xyz: frame 0: the density_l1 target of "
                                        "atom 2 is not finite"):
        geometric.add_geometric_targets(frames, 4.5, 0.5, 2, source="train.xyz")
    assert "density_l1" not in frames[0].arrays
