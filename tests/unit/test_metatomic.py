"""The metatomic family: any exported AtomisticModel, against the PET family, against
models of known symmetry, and on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from closed_forms import field_term_a
from metatomic_models import export_pair_model

from symlearn.data.extxyz import read_frames
from symlearn.errors import CheckpointError, DataError
from symlearn.metatomic.analyse import analyse_metatomic_model
from symlearn.metatomic.diagnose import defaults
from symlearn.pet.analyse import analyse_pet_checkpoint, load_pet

SETTINGS = {"n_structures": 3, "seed": 0, "lambda_max": 2, "grid_degree": None,
            "batch_atoms": 256, "dtype": "float64", "threads": 1,
            "quadrature_check": {"n_inputs": 1, "delta": 4, "tolerance": 0.05}}
TILT = 0.3


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"invariant": export_pair_model(folder / "invariant.pt"),
            "tilted": export_pair_model(folder / "tilted.pt", tilt=TILT),
            "no_energy": export_pair_model(folder / "no_energy.pt", energy=False),
            "hydrogen_only": export_pair_model(folder / "h.pt", atomic_types=[1]),
            "nanometre": export_pair_model(folder / "nm.pt", length_unit="nm")}


def _analyse(model, structures, out, **settings):
    return analyse_metatomic_model(str(model), str(structures), str(out),
                                   {**SETTINGS, **settings}, progress=False)


def test_exported_pet_gives_the_pet_family_numbers(tiny_pet_run, tiny_pet_data, tmp_path):
    """A PET checkpoint exported with metatrain (float64) gives through the metatomic
    family the A and B the pet family gives on the checkpoint, to 1e-10 relative."""
    checkpoint = tiny_pet_run[1] / "checkpoints" / "epoch_4.ckpt"
    exported = tmp_path / "pet.pt"
    load_pet(checkpoint, dtype=torch.float64).export().save(str(exported))
    layers = ["feature", "mtt::aux::energy_last_layer_features",
              "mtt::aux::non_conservative_force_last_layer_features"]
    ours = _analyse(exported, tiny_pet_data["test"], tmp_path / "metatomic",
                    forces="non_conservative", layers=layers)
    analyse_pet_checkpoint(str(checkpoint), str(tiny_pet_data["test"]), str(tmp_path / "pet"),
                           {**SETTINGS, "memory_gb": 1.0, "layers": layers},
                           device="cpu", threads=1, progress=False)
    pet_errors = pd.read_csv(tmp_path / "pet" / "errors.csv")
    pet_spectrum = pd.read_csv(tmp_path / "pet" / "spectrum.csv")
    keys = ["target", "o3_lambda", "o3_sigma"]
    joined = pet_errors.merge(ours["errors"], on=keys, suffixes=("_pet", "_mt"))
    assert set(joined["target"]) == {"energy", "non_conservative_force",
                                     "non_conservative_stress"}
    for column in ("rmse_as_given", "accuracy_rmse", "equivariance_rmse", "reference_rms"):
        a, b = joined[f"{column}_pet"], joined[f"{column}_mt"]
        # a part that vanishes identically (the stress's antisymmetric part) is round-off
        floor = 1e-12 * joined.groupby("target")[f"{column}_pet"].transform("max")
        assert (np.abs(a - b) <= 1e-10 * np.abs(a) + floor).all(), column
    joined = pet_spectrum.merge(ours["spectrum"], on=["layer", "o3_lambda", "o3_sigma"],
                                suffixes=("_pet", "_mt"))
    assert set(joined["layer"]) == set(layers)
    np.testing.assert_allclose(joined["fraction_mt"], joined["fraction_pet"], rtol=1e-10,
                               atol=1e-12)


def test_invariant_model_has_zero_a(models, tiny_pet_data, tmp_path):
    """Energy, conservative forces and virial stress of a function of the distances are
    exactly invariant and equivariant; its features are pure (0, +1)."""
    result = _analyse(models["invariant"], tiny_pet_data["test"], tmp_path)
    errors = result["errors"].set_index("target")
    assert set(errors.index) == {"energy", "conservative_force", "conservative_stress"}
    scale = result["errors"]["reference_rms"].max()
    assert (result["errors"]["equivariance_rmse"] < 1e-12 * scale).all()
    assert (result["errors"]["rmse_as_given"] > 0).all()
    spectrum = result["spectrum"].set_index(["layer", "o3_lambda", "o3_sigma"])["fraction"]
    assert spectrum[("feature", 0, 1)] == pytest.approx(1.0, abs=1e-12)
    assert spectrum.drop(("feature", 0, 1)).abs().max() < 1e-12


def test_assert_equivariant_on_an_exported_model(models, tiny_pet_data):
    """symlearn.testing.assert_equivariant through the metatomic door: the invariant
    pair model passes per structure at 1e-10 relative, the tilted one fails."""
    from symlearn.testing import assert_equivariant

    assert_equivariant(models["invariant"], tiny_pet_data["test"], rtol=1e-10,
                       n_structures=2, lambda_max=2, device="cpu")
    with pytest.raises(AssertionError,
                       match=r"tilted.pt: .* of structure \d+ is not equivariant: A = "):
        assert_equivariant(models["tilted"], tiny_pet_data["test"], rtol=1e-6,
                           n_structures=2, lambda_max=2, device="cpu")


def test_non_invariant_term_gives_the_a_predicted_on_paper(models, tiny_pet_data, tmp_path):
    """E + c u.sum_i x_i: over O(3), u.(g s) has mean 0 and variance |s|^2 / 3, so the
    per-atom energy's A is c |s| / (sqrt(3) n) per structure; the conservative forces
    gain -c u on every atom, whose back-transformed variance per component is c^2 / 3."""
    result = _analyse(models["tilted"], tiny_pet_data["test"], tmp_path)
    errors = result["errors"].set_index("target")
    analysed = sorted(set(pd.read_parquet(tmp_path / "structures.parquet")["structure"]))
    energy, forces = field_term_a(read_frames(tiny_pet_data["test"]), analysed, TILT)
    assert errors.loc["energy", "equivariance_rmse"] == pytest.approx(energy, rel=1e-10)
    assert errors.loc["conservative_force", "equivariance_rmse"] == pytest.approx(
        forces, rel=1e-10)


def test_structures_without_labels_still_give_a_and_b(models, tiny_pet_data, tmp_path,
                                                       capsys):
    bare = tmp_path / "bare.xyz"
    ase.io.write(bare, [ase.Atoms(a.numbers, a.positions, cell=a.cell, pbc=a.pbc)
                        for a in read_frames(tiny_pet_data["test"])[:3]], format="extxyz")
    result = _analyse(models["tilted"], bare, tmp_path / "out")
    errors = result["errors"]
    assert errors["equivariance_rmse"].notna().all()
    assert errors["rmse_as_given"].isna().all() and errors["accuracy_rmse"].isna().all()
    assert "accuracy columns stay empty" in capsys.readouterr().out


@pytest.mark.parametrize("case, settings, error, message", [
    ("garbage", {}, CheckpointError, "not a metatomic model"),
    ("no_energy", {"forces": "conservative"}, CheckpointError, "needs an 'energy' output"),
    ("invariant", {"outputs": ["dipole"]}, CheckpointError, "none of the outputs asked"),
    ("invariant", {"layers": ["mtt::aux::nothing"]}, CheckpointError, "not outputs"),
    ("hydrogen_only", {}, DataError, "does not support"),
    ("nanometre", {}, CheckpointError, "length unit is 'nm'"),
])
def test_bad_input_is_named(models, tiny_pet_data, tmp_path, case, settings, error,
                            message):
    if case == "garbage":
        path = tmp_path / "garbage.pt"
        path.write_bytes(b"not a model at all")
    else:
        path = Path(models[case])
    out = tmp_path / "out"
    with pytest.raises(error, match=message) as raised:
        _analyse(path, tiny_pet_data["test"], out, **settings)
    assert str(path) in str(raised.value) or str(tiny_pet_data["test"]) in str(raised.value)
    assert not out.exists()


def test_diagnose_prints_a_summary_and_writes_the_tables(models, tiny_pet_data, tmp_path):
    out = tmp_path / "diag"
    done = subprocess.run(
        [sys.executable, "-m", "symlearn", "diagnose", models["tilted"],
         str(tiny_pet_data["test"]), "--lambda-max", "2", "--n-structures", "2",
         "--out", str(out), "--no-progress"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "conservative_force (1,+1) [eV/Å]" in done.stdout
    assert "feature" in done.stdout and "residual" in done.stdout
    for name in ("errors.csv", "spectrum.csv", "structures.parquet"):
        assert (out / name).is_file()
    errors = pd.read_csv(out / "errors.csv").set_index("target")
    assert errors.loc["conservative_force", "equivariance_rmse"] == pytest.approx(
        TILT / np.sqrt(3), rel=1e-10)

    garbage = tmp_path / "garbage.pt"
    garbage.write_text("nothing")
    done = subprocess.run([sys.executable, "-m", "symlearn", "diagnose", str(garbage),
                           str(tiny_pet_data["test"]), "--out", str(tmp_path / "no")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and str(garbage) in done.stderr
    assert not (tmp_path / "no").exists()


def test_diagnose_defaults_are_the_configured_ones(root):
    config = yaml.safe_load((root / "config" / "config.yaml").read_text())
    configured = {**config["analysis"]["metatomic"],
                  "quadrature_check": config["analysis"]["quadrature_check"],
                  "quadrature": config["analysis"]["quadrature"], "forces": "conservative",
                  "outputs": None, "layers": None}
    assert json.dumps(defaults(), sort_keys=True) == json.dumps(configured, sort_keys=True)


def test_table1_has_the_rows_of_each_exported_model():
    """Per model and output it has: the whole output's A / test RMSE (as given), with the
    stress's parts pooled by their components; no labels: not produced, saying why."""
    from symlearn.figures.table1 import external_rows

    def part(run, target, lam, sigma, as_given, a):
        return dict(run=run, augmentation="external", epoch=0, target=target,
                    o3_lambda=lam, o3_sigma=sigma, rmse_as_given=as_given,
                    equivariance_rmse=a, quadrature_error=0.0, n_samples=4)

    errors = pd.DataFrame([
        part("m", "energy", 0, 1, 0.2, 0.05),
        part("m", "conservative_force", 1, 1, 1.0, 0.3),
        part("m", "conservative_stress", 0, 1, 0.1, 0.01),
        part("m", "conservative_stress", 2, 1, 0.2, 0.1),
        part("bare", "energy", 0, 1, np.nan, 0.05)])
    rows = pd.DataFrame(external_rows(errors, "cfg")).set_index(["run", "key"])
    assert rows.loc[("m", "external_energy"), "this_run"] == pytest.approx(0.25)
    assert rows.loc[("m", "external_forces"), "this_run"] == pytest.approx(0.3)
    stress = np.sqrt((0.01**2 + 5 * 0.1**2) / 6) / np.sqrt((0.1**2 + 5 * 0.2**2) / 6)
    assert rows.loc[("m", "external_stress"), "this_run"] == pytest.approx(stress)
    assert (rows.loc["m", "status"] == "computed").all()
    assert rows.loc[("bare", "external_energy"), "status"].startswith("not produced: the "
                                                                     "structures carry no")


def test_external_figure_without_labels_draws_a_alone(tmp_path):
    """Unlabelled structures: panel (a) draws the equivariance RMSE alone, says so, and
    lists only what it draws in its legend (nothing is drawn that has no data)."""
    from symlearn.figures import build

    rows = []
    for target, lam, sigma in (("energy", 0, 1), ("conservative_force", 1, 1)):
        rows.append(dict(run="m", augmentation="external", epoch=0, target=target,
                         o3_lambda=lam, o3_sigma=sigma, rmse_as_given=np.nan,
                         accuracy_rmse=np.nan, equivariance_rmse=0.01, n_samples=3,
                         reference_rms=np.nan, quadrature_error=1e-5,
                         accuracy_quadrature_error=np.nan, grid_degree=8, check_degree=12,
                         quadrature_flagged=False))
    errors = tmp_path / "errors.csv"
    pd.DataFrame(rows).to_csv(errors, index=False)
    spectrum = tmp_path / "spectrum.csv"
    pd.DataFrame([dict(run="m", augmentation="external", epoch=0, layer="feature",
                       o3_lambda=lam, o3_sigma=sigma, fraction=1.0 if lam == 0 and sigma == 1
                       else 0.0, residual=0.0, quadrature_error=0.0,
                       residual_quadrature_error=0.0, grid_degree=8, check_degree=12,
                       quadrature_flagged=False)
                  for lam in range(3) for sigma in (1, -1)]).to_csv(spectrum, index=False)
    build("external", {"errors": str(errors), "spectrum": str(spectrum)}, tmp_path / "f",
          {"model": "m"})
    table = pd.read_csv(tmp_path / "f.csv")
    bars = table[table["panel"] == "a"]
    assert set(bars["target"]) == {"energy", "conservative_force"}
    assert bars.loc[bars["quantity"] == "as_given", "value"].isna().all()
    assert (bars.loc[bars["quantity"] == "equivariance", "value"] > 0).all()
    assert (tmp_path / "f.png").stat().st_size > 0


@pytest.mark.parametrize("rule", ["auto", "graef_s2"])
def test_smaller_grids_give_symmetrized_models_numbers_on_band_limited_outputs(
        models, tiny_pet_data, rule):
    """The tilted model's energy is ``E(x) + c u.sum_i x_i``: its rotational content stops
    at lambda = 1, so A (its square reaches 2) and B up to lambda_max 2 (products reach
    3) are exact on any grid of degree >= 3. Ours on the degree-5 grid of ``rule``
    (Gräf's SO(3) rule, 60 rotations; Gräf's sphere rule, 12 x 6) and metatomic's
    SymmetrizedModel on its own product Lebedev grid (14 x 6) give the same A and B to
    1e-10."""
    from metatomic.torch import ModelOutput
    from metatomic.torch.o3 import SymmetrizedModel

    from symlearn.metatomic.analyse import MetatomicAnalysis
    from symlearn.metatomic.model import load_model
    from symlearn.symmetry import GridContext, analyse_input, o3_quadrature

    degree, lambda_max = 5, 2
    model = load_model(models["tilted"], forces="none", layers=["feature"])
    frames = dict(enumerate(read_frames(tiny_pet_data["test"])))
    adapter = MetatomicAnalysis(model, frames, tiny_pet_data["test"])
    context = GridContext(o3_quadrature(degree, rule), lambda_max)
    lebedev = o3_quadrature(degree, "lebedev")
    assert context.quadrature.n_rotations < lebedev.n_rotations
    oracle = SymmetrizedModel(model.module, max_angular_momentum_target=1,
                              max_angular_momentum_character=lambda_max,
                              max_angular_momentum_grid=degree, batch_size=32)
    for index in (0, 1):
        structure = adapter.structure(index, frames[index])
        ours = adapter.analyse_structure(structure, context)
        # B of the energy itself (an output, not a layer of the model): its responses
        # projected as a feature
        ours.spectra.update(analyse_input(
            lambda g, s=structure: adapter.evaluate(s, g, ["energy"]), context,
            features=["energy"]).spectra)
        requests = {"o3::variance::energy": ModelOutput(sample_kind="system"),
                    **{f"o3::character_projection::{name}": ModelOutput(
                        sample_kind="system" if name == "energy" else "atom")
                       for name in ("energy", "feature")}}
        with torch.inference_mode():
            theirs = oracle([structure.system], requests, None)
        n = len(frames[index])
        variance = theirs["o3::variance::energy"].block().values.reshape(-1)
        assert float(variance.max()) > 1e-3  # the tilt is seen
        torch.testing.assert_close(ours.outputs["energy"][(0, 1)].variance.reshape(-1) * n**2,
                                   variance, rtol=1e-10, atol=1e-10 * float(variance.max()))
        for name in ("energy", "feature"):
            tensor = theirs[f"o3::character_projection::{name}"]
            expected = torch.stack([torch.stack([
                tensor.block({"chi_lambda": lam, "chi_sigma": sigma}).values
                for sigma in (1, -1)]) for lam in range(lambda_max + 1)])
            mine = ours.spectra[name].projections * (n**2 if name == "energy" else 1)
            scale = float(expected.abs().max())
            torch.testing.assert_close(mine.reshape(-1), expected.reshape(-1).to(mine),
                                       rtol=1e-10, atol=1e-10 * scale)


def _float64_copy(exported: Path, path: Path) -> str:
    """The exported model with its weights and declared dtype in float64 (``mtt
    export`` keeps the checkpoint's float32; both doors then evaluate in float64)."""
    from metatomic.torch import AtomisticModel, load_atomistic_model

    model = load_atomistic_model(str(exported))
    capabilities = model.capabilities()
    capabilities.dtype = "float64"
    AtomisticModel(model.module.to(torch.float64).eval(), model.metadata(),
                   capabilities).save(str(path))
    return str(path)


def test_the_same_model_through_both_doors(tiny_pet_run, tiny_pet_data, tmp_path):
    """The tiny PET exported with ``mtt export``, diagnosed as a metatomic file and as
    metatomic's own ASE calculator: the same A, errors and quadrature errors, to 1e-8
    relative. The calculator's stress has no (1,-1) row: ASE holds six components."""
    from metatomic_ase import MetatomicCalculator

    from symlearn import diagnose

    checkpoint = tiny_pet_run[1] / "checkpoints" / "epoch_4.ckpt"
    exported = tmp_path / "pet.pt"
    done = subprocess.run([str(Path(sys.executable).parent / "mtt"), "export",
                           str(checkpoint), "-o", str(exported)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    model = _float64_copy(exported, tmp_path / "pet64.pt")
    settings = {"n_structures": 3, "lambda_max": 2, "seed": 0}
    through_metatomic = diagnose(model, tiny_pet_data["test"], layers=["feature"],
                                 **settings).errors
    through_ase = diagnose(MetatomicCalculator(model, device="cpu"), tiny_pet_data["test"],
                           **settings).errors
    assert not ((through_ase["target"] == "stress") & (through_ase["o3_lambda"] == 1)).any()
    through_ase = through_ase.replace({"target": {"forces": "conservative_force",
                                                  "stress": "conservative_stress"}})
    keys = ["target", "o3_lambda", "o3_sigma"]
    joined = through_metatomic.merge(through_ase, on=keys, suffixes=("_mt", "_ase"))
    assert len(joined) == len(through_ase) == 4  # energy, forces, stress (0,+1) (2,+1)
    for column in ("equivariance_rmse", "quadrature_error", "rmse_as_given",
                   "accuracy_rmse", "output_rms", "reference_rms"):
        a, b = joined[f"{column}_mt"], joined[f"{column}_ase"]
        assert np.isfinite(a).all() and (a > 0).all(), column
        relative = float((np.abs(a - b) / np.abs(a)).max())
        assert relative < 1e-8, (column, relative)
        print(f"two doors: {column} largest relative difference {relative:.1e}")
    assert (joined["grid_degree_mt"] == joined["grid_degree_ase"]).all()
