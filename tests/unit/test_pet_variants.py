"""PET variants (solid-harmonics edge embeddings) and the purification of readouts."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from symlearn.data.extxyz import frame_labels, read_frames, write_frames
from symlearn.pet.analyse import PETAdapter, load_pet, target_kind
from symlearn.pet.geometric import add_geometric_targets
from symlearn.pet.purification import (
    STAGES,
    GridOutputs,
    _first_node_readout,
    invariant_part,
    output_shift,
    purify_checkpoint,
    remove_constant_offsets,
    remove_covariant_biases,
    training_structures,
)
from symlearn.pet.variants import (
    SolidHarmonicsEdgeEmbedding,
    check_spec,
    edge_embedding,
)
from symlearn.symmetry import GridContext, OutputKind, o3_quadrature
from symlearn.symmetry.quadrature import haar_o3
from symlearn.table_schemas import PURIFICATION_COLUMNS

LAMBDA_MAX = 3


@pytest.fixture(scope="module")
def geometric_data(tiny_pet_data, tmp_path_factory):
    """The tiny data set with its geometric targets (lambda <= 3)."""
    directory = tmp_path_factory.mktemp("geometric")
    paths = {}
    for name, path in tiny_pet_data.items():
        frames = read_frames(path)
        add_geometric_targets(frames, cutoff=4.0, width=0.5, lambda_max=LAMBDA_MAX)
        paths[name] = directory / f"{name}.xyz"
        write_frames(frames, paths[name])
    return paths


def _geometric_settings(make_tiny_settings, embedding):
    settings = make_tiny_settings()
    settings.update(targets="geometric", edge_embedding=embedding,
                    geometric={"cutoff": 4.0, "cutoff_width": 0.5,
                               "lambda_max": LAMBDA_MAX})
    settings["training"].update(epochs=1, checkpoint_every=1)
    return settings


@pytest.mark.parametrize("embedding", [{"type": "cartesian"},
                                       {"type": "solid_harmonics", "lmax": 2},
                                       {"type": "solid_harmonics", "lmax": 4},
                                       {"type": "solid_harmonics", "lmax": 8}],
                         ids=["cartesian", "sh2", "sh4", "sh8"])
def test_each_variant_builds_and_takes_a_training_step(embedding, geometric_data,
                                                       make_tiny_settings, tmp_path):
    from symlearn.pet.train import train_pet

    settings = _geometric_settings(make_tiny_settings, embedding)
    train_pet(settings, **geometric_data, out_dir=tmp_path, threads=1)
    before = load_pet(tmp_path / "checkpoints" / "epoch_0.ckpt")
    after = load_pet(tmp_path / "checkpoints" / "epoch_1.ckpt")
    embedders = [layer.edge_embedder for layer in after.backend.gnn_layers]
    if embedding["type"] == "cartesian":
        assert all(isinstance(e, torch.nn.Linear) and e.in_features == 4 for e in embedders)
    else:
        lmax = embedding["lmax"]
        assert all(isinstance(e, SolidHarmonicsEdgeEmbedding) and e.lmax == lmax and e.unit
                   and e.linear.in_features == (lmax + 1) ** 2 + 1 for e in embedders)
    # the step changed the weights, the embedding's included
    changed = [not torch.equal(a, b) for a, b in
               zip(before.state_dict().values(), after.state_dict().values(), strict=True)]
    assert any(changed)
    assert not torch.equal(before.backend.gnn_layers[0].edge_embedder.state_dict()[
        next(iter(embedders[0].state_dict()))], embedders[0].state_dict()[
        next(iter(embedders[0].state_dict()))])
    # the geometric targets are outputs, with the transformation the analysis expects
    assert {"mtt::pseudoscalar", *(f"mtt::density_l{lam}" for lam in range(LAMBDA_MAX + 1))
            } <= set(after.target_names)
    assert target_kind("mtt::pseudoscalar").irreps == [(0, -1)]
    assert target_kind("mtt::density_l3") == OutputKind("spherical", 3, 1, basis="metatomic")
    # metatrain exported (TorchScript) the variant
    assert (tmp_path / "best_model.pt").stat().st_size > 0


def test_harmonics_of_the_unit_vector_or_of_the_vector_over_the_cutoff():
    """``scale="unit"`` (the default) feeds Y_lm of the direction: scaling the edge
    vector by s leaves every order unchanged and the distance column scales by s.
    ``scale="cutoff"`` feeds the solid harmonics r^l Y_lm(v/cutoff): order l scales
    by s^l."""
    from e3nn.o3._spherical_harmonics import _spherical_harmonics

    v = torch.tensor([[0.3, -0.7, 0.5]], dtype=torch.float64)
    edges = lambda x: torch.cat([x, x.norm(dim=-1, keepdim=True)], dim=-1)  # noqa: E731
    n = 16  # (lmax + 1)^2 harmonics, then the distance
    degrees = torch.cat([torch.full((2 * lam + 1,), lam) for lam in range(4)])
    for scale in ("unit", "cutoff"):
        embedding = SolidHarmonicsEdgeEmbedding(3, cutoff=2.0, d_model=n + 1,
                                                scale=scale).double()
        torch.nn.init.eye_(embedding.linear.weight)
        torch.nn.init.zeros_(embedding.linear.bias)
        features = [embedding(edges(s * v)).detach()[0] for s in (1.0, 2.0)]
        assert torch.allclose(features[1][n], 2.0 * features[0][n], atol=1e-12)
        factor = torch.ones(n, dtype=torch.float64) if scale == "unit" else 2.0 ** degrees
        assert torch.allclose(features[1][:n], features[0][:n] * factor, atol=1e-12)
        vector = v / v.norm() if scale == "unit" else v / 2.0
        assert torch.allclose(features[0][:n], _spherical_harmonics(3, *vector.T)[0],
                              atol=1e-12)
    # a padded (zero) edge gives finite features: Y_0 only
    unit = SolidHarmonicsEdgeEmbedding(3, cutoff=2.0, d_model=4)
    assert torch.isfinite(unit(torch.zeros(1, 4))).all()


def test_the_scale_is_recorded_and_old_checkpoints_read_as_cutoff():
    assert check_spec({"type": "solid_harmonics", "lmax": 2}) == {
        "type": "solid_harmonics", "lmax": 2, "scale": "unit"}
    assert check_spec({"type": "solid_harmonics", "lmax": 2},
                      default_scale="cutoff")["scale"] == "cutoff"
    with pytest.raises(ValueError, match="edge_embedding.scale"):
        check_spec({"type": "solid_harmonics", "lmax": 2, "scale": "unitless"})


def test_bad_variants_are_named():
    with pytest.raises(ValueError, match="edge_embedding.type"):
        check_spec({"type": "spherical"})
    with pytest.raises(ValueError, match="edge_embedding.lmax"):
        check_spec({"type": "solid_harmonics"})


def test_edge_embedding_patch_is_undone():
    from metatrain.pet.model import PET

    original = PET.__init__
    with edge_embedding({"type": "solid_harmonics", "lmax": 2}):
        assert PET.__init__ is not original
    assert PET.__init__ is original


# --------------------------------------------------------------------------------------
# purification


@pytest.fixture(scope="module")
def grid():
    return GridContext(o3_quadrature(5), None)


@pytest.mark.parametrize(("kind", "shape"), [
    (OutputKind("invariant"), (2,)), (OutputKind("vector"), (3, 2)),
    (OutputKind("rank2"), (3, 3, 1)), (OutputKind("pseudoscalar"), (1, 1)),
    (OutputKind("spherical", 2, 1, basis="metatomic"), (5, 1))])
def test_invariant_part_of_a_bias(kind, shape, grid):
    """The group average keeps a scalar, drops a vector, a pseudoscalar and a lambda = 2
    bias, and keeps a matrix's isotropic part."""
    bias = torch.arange(1.0, 1.0 + np.prod(shape), dtype=torch.float64)
    kept = invariant_part(bias, kind, grid).reshape(shape)
    if kind.name == "invariant":
        expected = bias.reshape(shape)
    elif kind.name == "rank2":
        m = bias.reshape(3, 3)
        expected = (torch.trace(m) / 3 * torch.eye(3, dtype=m.dtype))[..., None]
    else:
        expected = torch.zeros(shape, dtype=torch.float64)
    assert torch.allclose(kept, expected, atol=1e-12)


@pytest.fixture(scope="module")
def standard_model(tiny_pet_run):
    _, out, _ = tiny_pet_run
    return load_pet(out / "checkpoints" / "epoch_4.ckpt")


def _force_and_stress_a(model, tiny_pet_data, context):
    adapter = PETAdapter(model, layers=[])
    frames = read_frames(tiny_pet_data["test"])
    index = next(i for i, a in enumerate(frames) if a.pbc.all())
    structure = adapter.structure(index, frames[index],
                                  frame_labels(frames[index], tiny_pet_data["test"], index))
    result = adapter.analyse(structure, context, layers=[])
    return {name: {irrep: float(stats.variance.mean()) for irrep, stats in per.items()}
            for name, per in result.outputs.items()}


def _last_layers(model, target):
    backend = model.backend
    for layers in (backend.node_last_layers[target], backend.edge_last_layers[target]):
        for per_key in layers:
            yield from per_key.values()


def test_purification_removes_a_deliberate_bias(standard_model, tiny_pet_data):
    context = GridContext(o3_quadrature(5), None)
    model = copy.deepcopy(standard_model)
    original = _force_and_stress_a(model, tiny_pet_data, context)
    with torch.no_grad():
        for linear in _last_layers(model, "non_conservative_force"):
            linear.bias += torch.tensor([0.5, -0.3, 0.2], dtype=linear.bias.dtype)
    biased = _force_and_stress_a(model, tiny_pet_data, context)
    force = ("non_conservative_force", (1, 1))
    assert biased[force[0]][force[1]] > 2 * original[force[0]][force[1]]
    removed = remove_covariant_biases(model, context)
    assert removed["non_conservative_force"] > 0
    assert removed["energy"] < 1e-12  # the energy's bias is invariant: kept
    purified = _force_and_stress_a(model, tiny_pet_data, context)
    assert purified[force[0]][force[1]] < 0.5 * biased[force[0]][force[1]]
    for linear in _last_layers(model, "non_conservative_force"):
        assert float(linear.bias.detach().abs().max()) < 1e-15


def _exactly_equivariant(model):
    """A copy whose readouts have no weights and only invariant biases (a constant
    energy, an isotropic stress, no force): an exactly equivariant PET."""
    model = copy.deepcopy(model)
    with torch.no_grad():
        for target in ("energy", "non_conservative_force", "non_conservative_stress"):
            for linear in _last_layers(model, target):
                linear.weight.zero_()
                linear.bias.zero_()
                if target == "energy":
                    linear.bias.fill_(0.7)
                if target == "non_conservative_stress":
                    linear.bias.copy_(0.4 * torch.eye(3).reshape(-1))
    return model


def test_purification_leaves_an_exactly_equivariant_model_unchanged(standard_model,
                                                                   tiny_pet_data):
    """Readouts with no weights and only invariant biases (a constant energy, an
    isotropic stress, no force) give an exactly equivariant PET: purification keeps
    every bias and A stays zero."""
    context = GridContext(o3_quadrature(5), None)
    model = _exactly_equivariant(standard_model)
    before = {name: p.clone() for name, p in model.named_parameters()}
    a_before = _force_and_stress_a(model, tiny_pet_data, context)
    remove_covariant_biases(model, context)
    for name, p in model.named_parameters():
        assert torch.allclose(p, before[name], atol=1e-12), name
    a_after = _force_and_stress_a(model, tiny_pet_data, context)
    for per in (a_before, a_after):
        assert all(v < 1e-20 for irreps in per.values() for v in irreps.values())


def _offsets(model, tiny_pet_data, context, n=4):
    adapter = PETAdapter(model, layers=[])
    structures = training_structures(adapter, str(tiny_pet_data["train"]), n, seed=0)
    return remove_constant_offsets(adapter, structures, context, batch_atoms=512)


def test_offset_removal_removes_a_deliberate_constant_offset(standard_model, tiny_pet_data):
    """A constant force offset and an anisotropic stress offset added to a trained model
    are found and removed exactly (the lab-frame average is linear in the bias), so the
    two models end with the same readout biases and the same A; the energy's bias and
    the stress's isotropic part are left alone."""
    context = GridContext(o3_quadrature(5), None)
    clean, offset = copy.deepcopy(standard_model), copy.deepcopy(standard_model)
    force, stress = "non_conservative_force", "non_conservative_stress"
    f64 = {"dtype": torch.float64}
    added_stress = torch.tensor([[0.2, 0.1, 0.0], [0.1, -0.3, 0.05], [0.0, 0.05, 0.1]], **f64)
    with torch.no_grad():
        _first_node_readout(offset, force).bias += torch.tensor([2.0, -1.2, 0.8], **f64)
        _first_node_readout(offset, stress).bias += (added_stress
                                                     + 0.7 * torch.eye(3, **f64)).reshape(-1)
    a_clean = _force_and_stress_a(clean, tiny_pet_data, context)
    a_offset = _force_and_stress_a(offset, tiny_pet_data, context)
    assert a_offset[force][(1, 1)] > 2 * a_clean[force][(1, 1)]
    energy_bias = _first_node_readout(offset, "energy").bias.clone()
    _, evaluations = _offsets(clean, tiny_pet_data, context)
    changes, _ = _offsets(offset, tiny_pet_data, context)
    assert "energy" not in changes
    assert evaluations == 4 * (context.quadrature.n_rotations + 2)
    torch.testing.assert_close(_first_node_readout(offset, "energy").bias, energy_bias)
    torch.testing.assert_close(_first_node_readout(offset, force).bias,
                               _first_node_readout(clean, force).bias, rtol=0, atol=1e-10)
    # the isotropic part of the added stress stays
    torch.testing.assert_close(_first_node_readout(offset, stress).bias,
                               _first_node_readout(clean, stress).bias
                               + 0.7 * torch.eye(3, dtype=torch.float64).reshape(-1),
                               rtol=0, atol=1e-10)
    a_removed = _force_and_stress_a(offset, tiny_pet_data, context)
    a_clean_removed = _force_and_stress_a(clean, tiny_pet_data, context)
    assert a_removed[force][(1, 1)] == pytest.approx(a_clean_removed[force][(1, 1)],
                                                      rel=1e-8)
    assert a_removed[stress][(2, 1)] == pytest.approx(a_clean_removed[stress][(2, 1)],
                                                       rel=1e-8)


def test_offset_removal_leaves_an_exactly_equivariant_model_unchanged(standard_model,
                                                                      tiny_pet_data):
    context = GridContext(o3_quadrature(5), None)
    model = _exactly_equivariant(standard_model)
    before = {name: p.clone() for name, p in model.named_parameters()}
    _offsets(model, tiny_pet_data, context)
    for name, p in model.named_parameters():
        torch.testing.assert_close(p, before[name], rtol=0, atol=1e-12)


def _periodic_structure(adapter, tiny_pet_data):
    frames = read_frames(tiny_pet_data["test"])
    index = next(i for i, a in enumerate(frames) if a.pbc.all())
    return adapter.structure(index, frames[index],
                             frame_labels(frames[index], tiny_pet_data["test"], index))


def test_a_bias_stage_derived_from_the_original_equals_its_own_analysis(standard_model,
                                                                       tiny_pet_data):
    """Purification analyses the bias-removed and offset-removed models from the
    original's outputs plus an orientation-independent shift: every statistic equals
    the model's own analysis to 1e-10, with node and edge biases changed."""
    context = GridContext(o3_quadrature(5), 2)
    original = PETAdapter(copy.deepcopy(standard_model), layers=[])
    changed = PETAdapter(copy.deepcopy(standard_model), layers=[])
    with torch.no_grad():
        for linear in _last_layers(changed.model, "non_conservative_force"):
            linear.bias += torch.tensor([0.5, -0.3, 0.2], dtype=linear.bias.dtype)
        for linear in _last_layers(changed.model, "non_conservative_stress"):
            linear.bias += 0.1 * torch.arange(9, dtype=linear.bias.dtype)
    remove_covariant_biases(changed.model, context)
    structure = _periodic_structure(original, tiny_pet_data)
    rotation = torch.as_tensor(haar_o3(1, np.random.default_rng(3))[0])
    shift = output_shift(original, changed, structure, rotation)
    assert shift is not None
    assert float(shift["non_conservative_force"].abs().max()) > 1e-3
    recorded = GridOutputs(original, structure)
    for model, evaluate in ((original, recorded.evaluate), (changed, recorded.shifted(shift))):
        derived = model.analyse(structure, context, layers=[], batch_atoms=64,
                                evaluate=evaluate)
        own = model.analyse(structure, context, layers=[], batch_atoms=64)
        for name, per_irrep in own.outputs.items():
            for irrep, stats in per_irrep.items():
                for field in ("mean", "variance", "squared_error",
                              "symmetrized_squared_error", "as_given_squared_error"):
                    if getattr(stats, field) is not None:
                        torch.testing.assert_close(
                            getattr(derived.outputs[name][irrep], field),
                            getattr(stats, field), rtol=1e-10, atol=1e-12)


def test_a_change_that_depends_on_the_orientation_is_not_derived(standard_model,
                                                                tiny_pet_data):
    """A changed readout weight changes the outputs differently in each orientation:
    no shift, so purification evaluates that model on its own."""
    original = PETAdapter(copy.deepcopy(standard_model), layers=[])
    changed = PETAdapter(copy.deepcopy(standard_model), layers=[])
    with torch.no_grad():
        for linear in _last_layers(changed.model, "non_conservative_force"):
            linear.weight.mul_(1.1)
    structure = _periodic_structure(original, tiny_pet_data)
    rotation = torch.as_tensor(haar_o3(1, np.random.default_rng(3))[0])
    assert output_shift(original, changed, structure, rotation) is None


def test_purify_checkpoint_table(tiny_pet_run, tiny_pet_data, tmp_path):
    _, out, _ = tiny_pet_run
    settings = {"n_structures": 2, "seed": 0, "lambda_max": 1, "grid_degree": None,
                "geometric_grid_degree": None, "batch_atoms": 512, "dtype": "float64",
                "threads": 1, "memory_gb": 1, "layers": None,
                "quadrature_check": {"n_inputs": 1, "delta": 2, "tolerance": 0.05}}
    table = purify_checkpoint(str(out / "checkpoints" / "epoch_4.ckpt"),
                              str(tiny_pet_data["test"]), str(tmp_path / "p.csv"),
                              settings, n_rotations=3, seed=0,
                              train=str(tiny_pet_data["train"]), n_offset_structures=3,
                              structures_out=str(tmp_path / "p.parquet"))
    assert list(table.columns) == PURIFICATION_COLUMNS
    assert pd.read_csv(tmp_path / "p.csv").shape == table.shape
    # the per-structure rows of every stage pool to the table's numbers (the bootstrap
    # intervals of finding 7 are drawn from them)
    from symlearn.bootstrap import Pooled

    rows = pd.read_parquet(tmp_path / "p.parquet")
    assert list(dict.fromkeys(rows["stage"])) == list(STAGES[:-1])
    for stage, part in table.groupby("stage", sort=False):
        pooled = Pooled(rows[rows["stage"] == stage])
        for row in part.itertuples(index=False):
            assert pooled.rmse(row.target, row.o3_lambda, row.o3_sigma,
                               "rmse_as_given").value == pytest.approx(row.rmse_as_given,
                                                                       rel=1e-9, abs=1e-300)
    # no refit weights given: every stage but the readout refit (test_readout_refit.py)
    assert list(dict.fromkeys(table["stage"])) == list(STAGES[:-1])
    assert table["mu"].isna().all()
    by = table.set_index(["stage", "target", "o3_lambda"])
    costs = table.drop_duplicates("stage").set_index("stage")
    assert costs.loc["original", "setup_evaluations"] == 0
    assert costs.loc["offset_removed", "evaluations_per_prediction"] == 1
    assert costs.loc["offset_removed", "setup_evaluations"] > 0
    assert costs.loc["projected", "evaluations_per_prediction"] == o3_quadrature(
        int(costs.loc["projected", "grid_degree"])).n_rotations
    # the quadrature check ran on the grid of degree D + 2
    assert ((table["check_degree"] - table["grid_degree"]) == 2).all()
    assert table.loc[table["stage"] != "projected", "quadrature_error"].notna().all()
    # the energy is invariant: its bias stays, so the first three stages agree
    for stage in ("bias_removed", "offset_removed"):
        assert np.isclose(by.loc[("original", "energy", 0), "equivariance_rmse"],
                          by.loc[(stage, "energy", 0), "equivariance_rmse"])
    # the projected model's prediction is its symmetrized one, as given too
    projected = table[table["stage"] == "projected"]
    np.testing.assert_allclose(projected["rmse_as_given"], projected["accuracy_rmse"])
    # the projected forces are equivariant up to the grid's aliasing
    force = by.loc[("projected", "non_conservative_force", 1)]
    assert force["equivariance_rmse"] < 0.05 * by.loc[
        ("original", "non_conservative_force", 1), "equivariance_rmse"]
    assert (table.loc[table["stage"] == "projected", "equivariance_estimate"]
            == "random_rotations").all()
