"""The exactly equivariant control (metatrain's SOAP-BPNN), trained and analysed like
PET: its A at the float64 round-off floor and its B pure, on a trained network nobody
here wrote; and the control runs a configuration cannot have, refused at the start."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from test_train_pet import SETTINGS as TRAINING_SETTINGS

from symlearn.pet.control import target_problem
from symlearn.settings.pet import control_run_errors

#: a tiny SOAP-BPNN (pet.control_model's shape)
TINY_CONTROL = {"soap": {"max_angular": 2, "max_radial": 3,
                         "cutoff": {"radius": 4.0, "width": 0.5}},
                "bpnn": {"num_hidden_layers": 1, "num_neurons_per_layer": 8},
                "legacy": False}
#: analysis.pet settings as the workflow passes them, on 3 structures
SETTINGS = dict(TRAINING_SETTINGS, n_structures=3)


@pytest.fixture(scope="module")
def control_run(make_tiny_settings, tiny_pet_data, tmp_path_factory):
    from symlearn.pet.train import train_pet

    settings = make_tiny_settings()
    settings.update(architecture="soap_bpnn", augmentation="none",
                    model=copy.deepcopy(TINY_CONTROL))
    settings["training"].update(epochs=2, checkpoint_every=1)
    out = tmp_path_factory.mktemp("control_run")
    train_pet(settings, tiny_pet_data["train"], tiny_pet_data["val"], out_dir=out,
              threads=1)
    return out, settings


def test_control_trains_with_pet_checkpoints_and_resume_files(control_run):
    from symlearn.pet.train import load_checkpoint

    control_run, _ = control_run
    names = sorted(p.name for p in (control_run / "checkpoints").iterdir())
    assert names == ["epoch_0.ckpt", "epoch_1.ckpt", "epoch_2.ckpt"]
    model = load_checkpoint(control_run / "checkpoints" / "epoch_2.ckpt")
    assert type(model).__name__ == "SoapBpnn"
    log = pd.read_csv(control_run / "train_log.csv")
    assert list(log["epoch"]) == [1, 2]


def test_an_interrupted_control_resumes_exactly(control_run, tiny_pet_data, tmp_path,
                                                monkeypatch):
    """The control's training resumes from its last checkpoint as PET's does: the
    resumed run's weights are the uninterrupted run's."""
    from metatrain.utils.errors import ArchitectureError
    from test_train_pet import _assert_same_weights, _interrupt_after, _Interrupted, _state

    from symlearn.pet.train import train_pet

    control_run, settings = control_run
    out = tmp_path / "run"
    data = {"train": tiny_pet_data["train"], "val": tiny_pet_data["val"]}
    _interrupt_after(monkeypatch, 1)
    with pytest.raises(ArchitectureError) as info:
        train_pet(settings, **data, out_dir=out, threads=1)
    assert isinstance(info.value.__cause__, _Interrupted)
    monkeypatch.undo()
    summary = train_pet(settings, **data, out_dir=out, threads=1)
    assert summary["resumed_from_epoch"] == 1
    for k in (0, 1, 2):
        _assert_same_weights(_state(control_run / "checkpoints" / f"epoch_{k}.ckpt"),
                             _state(out / "checkpoints" / f"epoch_{k}.ckpt"))


def output_rms(errors: pd.DataFrame) -> dict[str, float]:
    """The RMS of each output over all its components (its parts' mean squares
    weighted by their 2 lambda + 1 components)."""
    dims = 2 * errors["o3_lambda"] + 1
    squares = (errors["output_rms"] ** 2 * dims).groupby(errors["target"]).sum()
    return (squares / dims.groupby(errors["target"]).sum()).pow(0.5).to_dict()


def test_control_a_is_at_round_off_and_its_b_is_pure(control_run, tiny_pet_data, tmp_path):
    from symlearn.pet.analyse import analyse_pet_checkpoint

    control_run, _ = control_run
    out = tmp_path / "analysis"
    analyse_pet_checkpoint(str(control_run / "checkpoints" / "epoch_2.ckpt"),
                           str(tiny_pet_data["test"]), str(out), SETTINGS, device="cpu",
                           threads=1, progress=False)
    errors = pd.read_csv(out / "errors.csv")
    assert set(errors["target"]) == {"energy", "non_conservative_force",
                                     "non_conservative_stress"}
    # A of every irrep part relative to the RMS of the whole output: the float64 floor
    relative = errors["equivariance_rmse"] / errors["target"].map(output_rms(errors))
    assert (relative < 1e-9).all(), errors[["target", "o3_lambda", "o3_sigma",
                                            "equivariance_rmse", "output_rms"]]
    assert (errors["output_rms"] > 0).all()
    spectrum = pd.read_csv(out / "spectrum.csv")
    own = {"energy": (0, 1), "non_conservative_force": (1, 1), "feature": (0, 1)}
    for layer, (lam, sigma) in own.items():
        rows = spectrum[spectrum["layer"] == layer].set_index(["o3_lambda", "o3_sigma"])
        assert rows.loc[(lam, sigma), "fraction"] == pytest.approx(1.0, abs=1e-9), layer
        others = rows.drop(index=(lam, sigma))["fraction"]
        assert float(np.abs(others).max()) < 1e-9, layer


def test_control_runs_a_configuration_cannot_have_are_named():
    settings = {"augmentation": "o3", "targets": "standard"}
    errors = control_run_errors("ctl", {"augmentation": "o3", "model": {"d_pet": 8},
                                        "edge_embedding": {"type": "cartesian"}}, settings)
    assert any(e.startswith("pet.runs.ctl.augmentation:") for e in errors)
    assert any(e.startswith("pet.runs.ctl.model:") for e in errors)
    assert any(e.startswith("pet.runs.ctl.edge_embedding:") for e in errors)
    # in the pipeline a control runs on the geometric targets (fig2, fig3 compare PETs)
    assert any(e.startswith("pet.runs.ctl.targets: a control runs on the geometric")
               for e in errors)
    assert control_run_errors("ctl", {"augmentation": "none"},
                              {"augmentation": "none", "targets": "geometric"}) == []
    # the targets, checked where the training builds them
    assert target_problem("mtt::octupole", {"type": {"cartesian": {"rank": 3}}}) == (
        "target 'mtt::octupole' is a Cartesian tensor of rank 3; SOAP-BPNN builds "
        "Cartesian targets up to rank 2")
    assert "asks for gradients" in target_problem("energy", {"forces": True})
    assert target_problem("non_conservative_stress",
                          {"type": {"cartesian": {"rank": 2}}}) is None


def test_a_control_run_is_checked_at_the_start_naming_the_run(default_config):
    from symlearn.errors import ConfigError
    from symlearn.settings.checks import check_config

    default_config["pet"]["runs"]["geo-control"] = {
        "architecture": "soap_bpnn", "augmentation": "o3", "targets": "geometric"}
    with pytest.raises(ConfigError, match="pet.runs.geo-control.augmentation: 'o3'"):
        check_config(default_config)
    default_config["pet"]["runs"]["geo-control"]["augmentation"] = "none"
    check_config(default_config)
    # purification refits PET's readouts
    default_config["analysis"]["purification"]["runs"] = ["geo-control"]
    with pytest.raises(ConfigError, match="'geo-control' is an equivariant control"):
        check_config(default_config)


def test_a_control_training_refuses_targets_soap_bpnn_cannot_build(monkeypatch, tmp_path):
    """Checked where the targets are built, before any data is read or model made."""
    from symlearn.errors import ConfigError
    from symlearn.pet import train

    monkeypatch.setattr(train, "target_options", lambda settings: {
        "mtt::octupole": {"type": {"cartesian": {"rank": 3}}}})
    with pytest.raises(ConfigError, match="Cartesian tensor of rank 3"):
        train.train_pet({"architecture": "soap_bpnn", "targets": "geometric"},
                        train=tmp_path / "none.xyz", val=tmp_path / "none.xyz",
                        out_dir=tmp_path / "out", device="cpu")
    assert not (tmp_path / "out").exists()
