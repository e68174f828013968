"""The PET adapter: metatomic's SymmetrizedModel as the oracle, neighbour-list reuse,
the per-checkpoint tables, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from symlearn.data.extxyz import frame_labels, read_frames
from symlearn.pet.analyse import (
    PETAdapter,
    analyse_pet_checkpoint,
    default_layers,
    evaluate_pet_as_given,
    group_layers,
    load_pet,
    select_structures,
)
from symlearn.pet.train import CheckpointError
from symlearn.symmetry import GridContext, GridTooCoarse, o3_quadrature
from symlearn.table_schemas import ERRORS_COLUMNS, SPECTRUM_COLUMNS

SETTINGS = {"n_structures": 3, "seed": 0, "lambda_max": 2, "grid_degree": None,
            "batch_atoms": 256, "dtype": "float64", "threads": 1, "memory_gb": 1.0,
            "layers": None, "geometric_n_structures": None, "geometric_every": None,
            "geometric_grid_degree": None, "scope": "figures"}


@pytest.fixture(scope="module")
def checkpoint(tiny_pet_run):
    return tiny_pet_run[1] / "checkpoints" / "epoch_4.ckpt"


@pytest.fixture(scope="module")
def model(checkpoint):
    return load_pet(checkpoint, dtype=torch.float64)


@pytest.fixture(scope="module")
def structures(tiny_pet_data, model):
    """A periodic structure and a non-periodic one of the tiny test split."""
    path = tiny_pet_data["test"]
    frames = read_frames(path)
    periodic = next(i for i, a in enumerate(frames) if a.pbc.all())
    isolated = next(i for i, a in enumerate(frames) if not a.pbc.any())
    adapter = PETAdapter(model, ["feature"])
    return [adapter.structure(i, frames[i], frame_labels(frames[i], path, i))
            for i in (periodic, isolated)]


def test_oracle_symmetrized_model_gives_the_same_a_and_b(model, structures):
    """A (energy, forces, stress) and B (the `feature` output) agree with metatomic's
    SymmetrizedModel on the same (product Lebedev) grid to 1e-10 relative, in float64."""
    from metatomic.torch import ModelOutput
    from metatomic.torch.o3 import SymmetrizedModel

    degree, lambda_max = 5, 2
    adapter = PETAdapter(model, ["feature"])
    context = GridContext(o3_quadrature(degree, "lebedev"), lambda_max)
    oracle = SymmetrizedModel(model, max_angular_momentum_target=2,
                              max_angular_momentum_character=lambda_max,
                              max_angular_momentum_grid=degree, batch_size=24)

    def close(ours, theirs):
        ours, theirs = ours.reshape(-1), theirs.reshape(-1)
        scale = float(theirs.abs().max())
        assert scale > 0
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10 * scale)

    for structure in structures:
        ours = adapter.analyse(structure, context, batch_atoms=64)
        requests = {
            "o3::variance::energy": ModelOutput(sample_kind="system"),
            "o3::variance::non_conservative_force": ModelOutput(sample_kind="atom"),
            "o3::character_projection::feature": ModelOutput(sample_kind="atom"),
        }
        if structure.periodic:
            requests["o3::variance::non_conservative_stress"] = ModelOutput(
                sample_kind="system")
        with torch.inference_mode():
            theirs = oracle([structure.system], requests, None)
        n = structure.n_atoms
        # our energies are per atom
        close(ours.outputs["energy"][(0, 1)].variance * n ** 2,
              theirs["o3::variance::energy"].block().values)
        close(ours.outputs["non_conservative_force"][(1, 1)].variance,
              theirs["o3::variance::non_conservative_force"].block().values)
        if structure.periodic:
            stress = theirs["o3::variance::non_conservative_stress"]
            for lam, sigma in ((0, 1), (2, 1)):
                block = stress.block({"o3_lambda": lam, "o3_sigma": sigma})
                close(ours.outputs["non_conservative_stress"][(lam, sigma)].variance,
                      block.values)
        else:
            assert "non_conservative_stress" not in ours.outputs
        # every (lambda, sigma) at once: relative to the largest projection, as some
        # irreps hold only round-off
        projections = theirs["o3::character_projection::feature"]
        close(ours.spectra["feature"].projections,
              torch.stack([torch.stack([
                  projections.block({"chi_lambda": lam, "chi_sigma": sigma}).values
                  for sigma in (1, -1)]) for lam in range(lambda_max + 1)]))


def test_reused_neighbour_list_gives_the_outputs_of_a_recomputed_one(model, structures):
    from metatomic.torch import systems_to_torch
    from metatrain.utils.neighbor_lists import get_system_with_neighbor_lists

    adapter = PETAdapter(model, ["gnn_layers.0_node", "feature"])
    names = ["energy", "non_conservative_force", "gnn_layers.0_node", "feature"]
    g = torch.as_tensor(o3_quadrature(4, "lebedev").matrices[[3, 17, 100]])
    for structure in structures:
        reused = adapter.evaluate(adapter.rotated_systems(structure, g), names)
        fresh = []
        for matrix in g.numpy():
            atoms = structure.atoms.copy()
            atoms.positions = atoms.positions @ matrix.T
            atoms.cell = np.asarray(atoms.cell) @ matrix.T
            system = systems_to_torch(atoms, dtype=torch.float64)
            fresh.append(get_system_with_neighbor_lists(system,
                                                        model.requested_neighbor_lists()))
        recomputed = adapter.evaluate(fresh, names)
        for name in names:
            torch.testing.assert_close(reused[name], recomputed[name], rtol=1e-10,
                                       atol=1e-10)


def test_default_layers_cover_the_architecture(model):
    layers = default_layers(model)
    assert layers[:2] == ["node_embedders.0", "edge_embedder"]
    for expected in ["gnn_layers.0.edge_embedder", "gnn_layers.0.trans.layers.0_node",
                     "gnn_layers.0.trans.layers.0_edge", "gnn_layers.0_node",
                     "gnn_layers.0_edge", "feature", "mtt::aux::energy_last_layer_features",
                     "mtt::aux::non_conservative_force_last_layer_features",
                     "mtt::aux::non_conservative_stress_last_layer_features",
                     "energy", "non_conservative_force", "non_conservative_stress"]:
        assert expected in layers
    with pytest.raises(ValueError, match="'gnn_layers.7_node' is not a module"):
        PETAdapter(model, ["gnn_layers.7_node"])


def test_results_do_not_depend_on_batches_or_passes(model, structures):
    adapter = PETAdapter(model)
    context = GridContext(o3_quadrature(5), 2)
    structure = structures[0]
    one = adapter.analyse(structure, context, batch_atoms=10_000)
    small = adapter.analyse(structure, context, batch_atoms=1)
    sizes = adapter.state_bytes(structure, 2)
    groups = group_layers(sizes, max(sizes.values()))
    assert len(groups) > 1 and sum(groups, []) == adapter.layers
    passes = [adapter.analyse(structure, context, layers=group, outputs=i == 0)
              for i, group in enumerate(groups)]
    for name in adapter.layers:
        spectrum = next(p.spectra[name] for p in passes if name in p.spectra)
        for other in (small.spectra[name], spectrum):
            torch.testing.assert_close(one.spectra[name].projections, other.projections,
                                       rtol=1e-9, atol=1e-12)
    for name, per_irrep in one.outputs.items():
        for irrep, stats in per_irrep.items():
            torch.testing.assert_close(stats.variance, small.outputs[name][irrep].variance,
                                       rtol=1e-9, atol=1e-20)


def test_checkpoint_tables(checkpoint, tiny_pet_data, tmp_path):
    out = tmp_path / "analysis"
    summary = analyse_pet_checkpoint(str(checkpoint), str(tiny_pet_data["test"]), str(out),
                                     SETTINGS, device="cpu", threads=1, progress=False)
    # max(2 lambda_max, lambda_max + 2) = 4: the stress's orbit averages (exact on 5)
    # are quadrature estimates, measured by the check on degree 4 + 4
    assert summary["copies"] == o3_quadrature(4).n_rotations
    assert summary["checked"] == 1
    errors = pd.read_csv(out / "errors.csv")
    spectrum = pd.read_csv(out / "spectrum.csv")
    per_structure = pd.read_parquet(out / "structures.parquet")
    assert list(errors.columns) == ERRORS_COLUMNS
    assert list(spectrum.columns) == SPECTRUM_COLUMNS
    assert set(errors["target"]) == {"energy", "non_conservative_force",
                                     "non_conservative_stress"}
    assert (errors["grid_degree"] == 4).all() and (errors["check_degree"] == 8).all()
    assert (spectrum["grid_degree"] == 4).all() and (spectrum["check_degree"] == 8).all()
    assert errors["quadrature_error"].notna().all()
    assert spectrum["quadrature_error"].notna().all()
    frames = read_frames(tiny_pet_data["test"])
    chosen = select_structures(len(frames), 3, 0)
    assert sorted(per_structure["structure"].unique()) == chosen
    # one structure, periodic (it has every output), also on the check grid
    checked = per_structure[per_structure["grid_degree"] == 8]["structure"].unique()
    assert len(checked) == 1 and checked[0] in chosen and frames[checked[0]].pbc.all()
    per_structure = per_structure[per_structure["grid_degree"] == 4]
    energy = errors.set_index("target").loc["energy"]
    assert energy["n_samples"] == len(chosen)
    forces = errors.set_index("target").loc["non_conservative_force"]
    assert forces["n_samples"] == sum(len(frames[i]) for i in chosen)
    # pooled by samples from the per-structure table
    rows = per_structure[(per_structure["table"] == "errors")
                         & (per_structure["name"] == "non_conservative_force")]
    pooled = np.sqrt((rows["equivariance_mse"] * rows["n_samples"]).sum()
                     / rows["n_samples"].sum())
    assert forces["equivariance_rmse"] == pytest.approx(pooled)
    as_given = np.sqrt((rows["as_given_mse"] * rows["n_samples"]).sum()
                       / rows["n_samples"].sum())
    assert forces["rmse_as_given"] == pytest.approx(as_given)
    layers = spectrum.groupby("layer", sort=False)
    assert len(spectrum) == layers.ngroups * 3 * 2
    totals = layers["fraction"].sum() + layers["residual"].first()
    np.testing.assert_allclose(totals, 1.0, atol=1e-9)
    embedding = spectrum[spectrum["layer"] == "edge_embedder"].set_index(
        ["o3_lambda", "o3_sigma"])["fraction"]
    assert embedding.loc[(0, 1)] == pytest.approx(1.0)  # a species embedding: invariant
    assert not list(out.glob(".*part*"))


def test_as_given_evaluation_equals_the_grid_analysis_as_given(checkpoint, tiny_pet_data,
                                                              tmp_path):
    """--as-given-only (the geometric runs' checkpoints before the last): one forward
    pass per structure gives the grid analysis' test error as given, reference RMS and
    sample counts; nothing measured on a grid is filled in."""
    from symlearn.cli import main

    grid, given = tmp_path / "grid", tmp_path / "given"
    analyse_pet_checkpoint(str(checkpoint), str(tiny_pet_data["test"]), str(grid),
                           SETTINGS, device="cpu", threads=1, progress=False)
    assert main(["analyse-pet", "--checkpoint", str(checkpoint), "--structures",
                 str(tiny_pet_data["test"]), "--out-dir", str(given), "--settings",
                 json.dumps(SETTINGS), "--device", "cpu", "--as-given-only", str(checkpoint)]) == 0
    keys = ["target", "o3_lambda", "o3_sigma"]
    full = pd.read_csv(grid / "errors.csv").set_index(keys)
    cheap = pd.read_csv(given / "errors.csv")
    assert list(cheap.columns) == ERRORS_COLUMNS
    cheap = cheap.set_index(keys)
    assert sorted(cheap.index) == sorted(full.index)
    cheap = cheap.loc[full.index]
    np.testing.assert_allclose(cheap["rmse_as_given"], full["rmse_as_given"], rtol=1e-12)
    np.testing.assert_allclose(cheap["reference_rms"], full["reference_rms"], rtol=1e-12)
    assert (cheap["n_samples"] == full["n_samples"]).all()
    measured_on_a_grid = ["accuracy_rmse", "equivariance_rmse", "quadrature_error",
                          "accuracy_quadrature_error", "grid_degree", "check_degree",
                          "grid_rule", "check_rule"]
    assert cheap[measured_on_a_grid].isna().all().all()
    assert not cheap["quadrature_flagged"].any()
    spectrum = pd.read_csv(given / "spectrum.csv")
    assert list(spectrum.columns) == SPECTRUM_COLUMNS and spectrum.empty
    rows = pd.read_parquet(given / "structures.parquet")
    assert sorted(rows["structure"].unique()) == sorted(
        pd.read_parquet(grid / "structures.parquet")["structure"].unique())


def test_figure_layers_only_is_the_full_analysis_of_fig3s_layers(checkpoint, tiny_pet_data,
                                                                 tmp_path):
    """--figure-layers-only (the standard runs' checkpoints before the last): A as in
    the full analysis, and B of fig3's default layers, each as the full analysis has
    it."""
    from symlearn.cli import main

    full, cheap = tmp_path / "full", tmp_path / "figure"
    analyse_pet_checkpoint(str(checkpoint), str(tiny_pet_data["test"]), str(full),
                           SETTINGS, device="cpu", threads=1, progress=False)
    gnn = [x for x in PETAdapter(load_pet(checkpoint)).layers
           if x.startswith("gnn_layers.") and x.endswith("_node") and x.count(".") == 1]
    # what the workflow hands the job (symlearn.settings.pet_layers.pet_figure_layers)
    layers = [gnn[-1], "feature", "energy", "non_conservative_force",
              "non_conservative_stress"]
    command = ["analyse-pet", "--checkpoint", str(checkpoint), "--structures",
               str(tiny_pet_data["test"]), "--out-dir", str(cheap), "--device", "cpu",
               "--no-progress", "--figure-layers-only", str(checkpoint), "--settings"]
    # without the layers named, the job says so rather than choosing them itself
    assert main([*command, json.dumps(SETTINGS)]) == 2
    assert main([*command, json.dumps({**SETTINGS, "figure_layers": layers})]) == 0
    spectrum = pd.read_csv(cheap / "spectrum.csv")
    assert list(dict.fromkeys(spectrum["layer"])) == layers
    every = pd.read_csv(full / "spectrum.csv")
    assert len(set(every["layer"])) > len(layers)
    keys = ["layer", "o3_lambda", "o3_sigma"]
    merged = spectrum.merge(every, on=keys, suffixes=("", "_full"))
    assert len(merged) == len(spectrum)
    np.testing.assert_allclose(merged["fraction"], merged["fraction_full"], rtol=1e-12,
                               atol=1e-14)
    pd.testing.assert_frame_equal(pd.read_csv(cheap / "errors.csv"),
                                  pd.read_csv(full / "errors.csv"), check_exact=False,
                                  rtol=1e-12)


def test_float32_analysis_agrees_with_float64_to_the_stated_tolerance(
        checkpoint, tiny_pet_data, tmp_path):
    """docs/symmetry.md, "Precision": in float32 an RMSE agrees with float64 to 1e-5 of
    its target's label RMS and a fraction to 1e-5; A itself at the round-off floor (the
    antisymmetric stress) is far off relatively, which is why the tolerance is scaled."""
    from precision import FLOAT32_TOLERANCE, assert_tables_agree

    for dtype in ("float64", "float32"):
        analyse_pet_checkpoint(str(checkpoint), str(tiny_pet_data["test"]),
                               str(tmp_path / dtype), {**SETTINGS, "dtype": dtype},
                               device="cpu", threads=1, progress=False)
    worst = assert_tables_agree(tmp_path / "float64", tmp_path / "float32",
                                scaled=FLOAT32_TOLERANCE)
    assert 0 < worst["equivariance_rmse"] and 0 < worst["fraction"]  # float32 differs
    with pytest.raises(AssertionError):  # and the relative comparison would fail
        assert_tables_agree(tmp_path / "float64", tmp_path / "float32", relative=1e-3)


def test_bad_inputs_name_the_problem(checkpoint, tiny_pet_data, tmp_path):
    structures = str(tiny_pet_data["test"])
    coarse = dict(SETTINGS, grid_degree=3)
    with pytest.raises(GridTooCoarse, match="lambda=2 need degree >= 4"):
        analyse_pet_checkpoint(str(checkpoint), structures, str(tmp_path), coarse,
                               progress=False)
    high = dict(SETTINGS, lambda_max=4, grid_degree=6)
    with pytest.raises(GridTooCoarse, match="lambda=4 need degree >= 8"):
        analyse_pet_checkpoint(str(checkpoint), structures, str(tmp_path), high,
                               progress=False)
    torch.save({"architecture_name": "nanopet"}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="architecture 'nanopet'"):
        analyse_pet_checkpoint(str(tmp_path / "other.ckpt"), structures, str(tmp_path),
                               SETTINGS, progress=False)
    assert not list(tmp_path.glob("*.csv"))


def test_an_element_the_model_never_saw_is_refused_naming_it(checkpoint, tiny_pet_data,
                                                            tmp_path):
    """A structure with uranium, which the tiny PET was not trained on: one error naming
    the file, the frame and the element, for the analysis and the as-given evaluation."""
    from symlearn.data.extxyz import read_frames, write_frames
    from symlearn.errors import DataError

    frames = read_frames(tiny_pet_data["test"])
    frames[0].numbers[0] = 92
    path = tmp_path / "uranium.xyz"
    write_frames(frames, path)
    settings = dict(SETTINGS, n_structures=len(frames))
    for analyse in (analyse_pet_checkpoint, evaluate_pet_as_given):
        with pytest.raises(DataError, match=r"uranium.xyz: frame 0 has U, an element .* "
                                            r"was not trained on"):
            analyse(str(checkpoint), str(path), str(tmp_path / "out"), settings)


def test_cli_reports_bad_input_without_a_traceback(checkpoint, tiny_pet_data, tmp_path,
                                                   capsys):
    import json

    from symlearn.cli import main

    code = main(["analyse-pet", "--checkpoint", str(checkpoint), "--structures",
                 str(tiny_pet_data["test"]), "--out-dir", str(tmp_path), "--settings",
                 json.dumps(dict(SETTINGS, grid_degree=3)), "--device", "cpu"])
    assert code == 2
    assert "use a grid of degree >= 4" in capsys.readouterr().err


def test_reused_copies_are_refilled_for_every_batch(model, structures):
    adapter = PETAdapter(model, ["feature"])
    matrices = torch.as_tensor(o3_quadrature(4, "lebedev").matrices)
    structure = structures[0]
    names = ["energy", "non_conservative_force", "feature"]
    for index in ([0, 1, 2, 3], [40, 41], [7, 90, 101]):  # smaller and larger batches
        g = matrices[index]
        pooled = adapter.evaluate(adapter.transformed(structure, g), names)
        fresh = adapter.evaluate(adapter.rotated_systems(structure, g), names)
        for name in names:
            assert torch.equal(pooled[name], fresh[name]), name
