"""PET training through metatrain: options, checkpoints, augmentation switch, resume."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import torch
from metatrain.utils.errors import ArchitectureError

import symlearn.pet.train as pet
from symlearn.pet.train import build_options, load_checkpoint, train_pet


def test_options_builder(tiny_settings, tmp_path):
    tiny_settings["training"]["weight_decay"] = 0.01
    tiny_settings["training"]["loss_weights"]["stress"] = 0.5
    options = build_options(tiny_settings, "a.xyz", "b.xyz", "c.xyz", device="cpu")
    hypers = options["architecture"]["training"]
    assert options["architecture"]["name"] == "pet"
    assert options["architecture"]["model"] == tiny_settings["model"]
    assert options["device"] == "cpu"
    assert options["seed"] == 0
    assert options["base_precision"] == 32
    assert hypers["num_epochs"] == 4
    assert hypers["checkpoint_interval"] == 1  # the trainer subclass keeps the schedule
    assert hypers["weight_decay"] == 0.01
    assert hypers["per_structure_targets"] == ["non_conservative_stress"]
    assert hypers["loss"]["non_conservative_stress"] == {"type": "mse", "weight": 0.5}
    for name, path in [("training_set", "a.xyz"), ("validation_set", "b.xyz"),
                       ("test_set", "c.xyz")]:
        dataset = options[name]
        assert dataset["systems"]["read_from"] == path
        targets = dataset["targets"]
        assert targets["energy"]["forces"] is False  # forces are not energy gradients
        assert targets["non_conservative_force"]["type"] == {"cartesian": {"rank": 1}}
        assert targets["non_conservative_force"]["sample_kind"] == "atom"
        assert targets["non_conservative_stress"]["type"] == {"cartesian": {"rank": 2}}
    # without weight decay, metatrain's Adam default is kept
    tiny_settings["training"]["weight_decay"] = None
    assert "weight_decay" not in build_options(
        tiny_settings, "a", "b", "c", "cpu")["architecture"]["training"]


def test_metatrain_accepts_the_options(tiny_settings):
    """metatrain's own validators accept what the builder writes."""
    from metatrain.utils.architectures import check_architecture_options, get_default_hypers
    from metatrain.utils.omegaconf import BASE_OPTIONS
    from metatrain.utils.pydantic import validate_base_options
    from omegaconf import OmegaConf

    options = build_options(tiny_settings, "a.xyz", "b.xyz", "c.xyz", device="cpu")
    validate_base_options(copy.deepcopy(options))
    merged = OmegaConf.merge(BASE_OPTIONS, {"architecture": get_default_hypers("pet")},
                             options)
    check_architecture_options(
        name="pet", options=OmegaConf.to_container(merged["architecture"]))


def _state(path):
    return torch.load(path, weights_only=False, map_location="cpu")["model_state_dict"]


def _assert_same_weights(a, b):
    # metatrain stores the fine-tuning settings in a state dict; they are not weights
    a, b = ({n: v for n, v in x.items() if n != "finetune_config"} for x in (a, b))
    assert a.keys() == b.keys()
    for name in a:
        if torch.is_tensor(a[name]) and a[name].is_floating_point():
            assert torch.equal(a[name], b[name]), name


@pytest.fixture()
def trained(tiny_pet_run):
    return tiny_pet_run


def test_training_writes_checkpoints_log_and_model(trained):
    _, out, summary = trained
    assert summary["epochs"] == [0, 2, 4]
    assert summary["resumed_from_epoch"] is None
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "epoch_0.ckpt", "epoch_2.ckpt", "epoch_4.ckpt"]
    assert not (out / "resume").exists()
    log = pd.read_csv(out / "train_log.csv")
    assert log["epoch"].tolist() == [1, 2, 3, 4]
    assert "validation non_conservative_force RMSE (per atom) [meV/A]" in log.columns
    assert log.notna().all().all()
    assert (out / "best_model.pt").stat().st_size > 0
    assert (out / "options.yaml").exists()


def test_checkpoints_load_at_their_epoch(trained, tiny_pet_data):
    _, out, _ = trained
    untrained = torch.load(out / "checkpoints" / "epoch_0.ckpt", weights_only=False)
    assert untrained["epoch"] is None  # a restart from it starts at the first epoch
    assert untrained["optimizer_state_dict"] is None
    assert torch.load(out / "checkpoints" / "epoch_2.ckpt", weights_only=False)["epoch"] == 1
    states = [_state(out / "checkpoints" / f"epoch_{k}.ckpt") for k in (0, 2, 4)]
    changed = [name for name in states[0] if torch.is_tensor(states[0][name])
               and states[0][name].is_floating_point()
               and not torch.equal(states[0][name], states[2][name])]
    assert changed, "training did not change the weights"
    for k in (0, 2, 4):
        for context in ("restart", "export"):
            model = load_checkpoint(out / "checkpoints" / f"epoch_{k}.ckpt", context)
            assert type(model).__name__ == "PET"
    # the epoch-0 model carries its fitted composition baseline
    composition = dict(load_checkpoint(out / "checkpoints" / "epoch_0.ckpt")
                       .additive_models[0].named_buffers())
    assert any(value.abs().sum() > 0 for name, value in composition.items()
               if "energy" in name)


def test_checkpoint_of_another_architecture_is_named(tmp_path):
    torch.save({"architecture_name": "nanopet"}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="architecture 'nanopet', expected one of pet, "
                                         "soap_bpnn"):
        load_checkpoint(tmp_path / "other.ckpt")
    torch.save({"format": "symlearn-polarmae-1", "phase": "finetune"},
               tmp_path / "polarmae.ckpt")
    with pytest.raises(ValueError, match="polarmae.ckpt is a PoLAr-MAE checkpoint, not a "
                                         "PET one"):
        load_checkpoint(tmp_path / "polarmae.ckpt")


#: analysis.pet settings as the workflow passes them
SETTINGS = {"batch_atoms": 1024, "dtype": "float64", "geometric_every": None,
            "geometric_grid_degree": None, "geometric_n_structures": None,
            "grid_degree": None, "lambda_max": 4, "layers": None, "memory_gb": 4,
            "n_structures": 8, "quadrature_check": {"delta": 4, "n_inputs": 1,
                                                    "tolerance": 0.05},
            "scope": "figures", "seed": 0, "threads": 1}


@pytest.mark.parametrize("content", ["missing", "empty", "garbage", "truncated"])
def test_unreadable_checkpoint_is_named_without_a_traceback(tmp_path, content):
    """An empty, truncated or foreign file fails with one line naming it, from the
    loader and from the commands that read checkpoints."""
    import subprocess
    import sys

    path = tmp_path / "epoch_5.ckpt"
    if content == "empty":
        path.write_bytes(b"")
    elif content == "garbage":
        path.write_bytes(b"not a checkpoint at all\n" * 40)
    elif content == "truncated":
        torch.save({"architecture_name": "pet", "weights": torch.zeros(1000)}, path)
        path.write_bytes(path.read_bytes()[:300])
    expected = "no such checkpoint" if content == "missing" else "not a readable checkpoint"
    with pytest.raises(ValueError, match=f"epoch_5.ckpt: {expected}"):
        load_checkpoint(path)
    done = subprocess.run(
        [sys.executable, "-m", "symlearn", "analyse-pet", "--checkpoint", str(path),
         "--structures", str(tmp_path / "test.xyz"), "--settings", json.dumps(SETTINGS),
         "--out-dir", str(tmp_path / "out")],
        capture_output=True, text=True)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    assert str(path) in done.stderr and expected in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_metatrain_is_left_as_it_was(trained):
    import metatrain.pet
    import metatrain.pet.trainer
    from metatrain.utils.augmentation import O3Augmenter

    assert metatrain.pet.__trainer__ is metatrain.pet.trainer.Trainer
    assert metatrain.pet.trainer.O3Augmenter is O3Augmenter


@pytest.mark.parametrize(("augmentation", "called"), [("o3", True), ("none", False)])
def test_augmentation_switch(tiny_settings, tiny_pet_data, tmp_path, monkeypatch,
                             augmentation, called):
    from metatrain.utils.augmentation import O3Augmenter

    calls = []
    original = O3Augmenter.apply_random_augmentations

    def spy(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(O3Augmenter, "apply_random_augmentations", spy)
    tiny_settings["augmentation"] = augmentation
    tiny_settings["training"].update(epochs=1, checkpoint_every=1)
    train_pet(tiny_settings, **tiny_pet_data, out_dir=tmp_path, threads=1)
    assert bool(calls) is called


class _Interrupted(Exception):
    pass


def _interrupt_after(monkeypatch, epoch):
    """Make the next training die right after it saved the checkpoint of ``epoch``."""
    make = pet._make_trainer

    def make_dying(schedule, architecture="pet"):
        class Dying(make(schedule, architecture)):
            def _save_epoch(self, model, directory, completed):
                super()._save_epoch(model, directory, completed)
                if completed == epoch:
                    raise _Interrupted

        return Dying

    monkeypatch.setattr(pet, "_make_trainer", make_dying)


def test_interrupted_training_resumes_exactly(trained, tiny_pet_data, tmp_path,
                                              monkeypatch):
    settings, reference, _ = trained
    out = tmp_path / "run"
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(ArchitectureError) as info:
        train_pet(settings, **tiny_pet_data, out_dir=out, threads=1)
    assert isinstance(info.value.__cause__, _Interrupted)
    # nothing published yet: only the resume folder, holding epochs 0 and 2
    assert sorted(p.name for p in out.iterdir()) == ["resume"]
    assert (out / "resume" / "epoch_2.ckpt").exists()

    monkeypatch.undo()
    summary = train_pet(settings, **tiny_pet_data, out_dir=out, threads=1)
    assert summary["resumed_from_epoch"] == 2
    assert summary["attempts"] == 2
    for k in (0, 2, 4):
        _assert_same_weights(_state(reference / "checkpoints" / f"epoch_{k}.ckpt"),
                             _state(out / "checkpoints" / f"epoch_{k}.ckpt"))
    resumed_log = pd.read_csv(out / "train_log.csv")
    reference_log = pd.read_csv(reference / "train_log.csv")
    assert resumed_log["attempt"].tolist() == [1, 1, 2, 2]
    pd.testing.assert_frame_equal(resumed_log.drop(columns="attempt"),
                                  reference_log.drop(columns="attempt"))


def test_resume_folder_of_other_settings_is_discarded(tiny_settings, tiny_pet_data,
                                                      tmp_path, monkeypatch):
    tiny_settings["training"].update(epochs=2, checkpoint_every=1)
    _interrupt_after(monkeypatch, 1)
    with pytest.raises(ArchitectureError):
        train_pet(tiny_settings, **tiny_pet_data, out_dir=tmp_path, threads=1)
    monkeypatch.undo()
    tiny_settings["training"]["learning_rate"] = 2e-3
    summary = train_pet(tiny_settings, **tiny_pet_data, out_dir=tmp_path, threads=1)
    assert summary["resumed_from_epoch"] is None
    assert summary["attempts"] == 1


def _mtt_export(checkpoint, output):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    mtt = shutil.which("mtt") or str(Path(sys.executable).parent / "mtt")
    result = subprocess.run([mtt, "export", str(checkpoint), "-o", str(output)],
                            capture_output=True, text=True, cwd=Path(output).parent)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return output


def _outputs(model_path, frames):
    """Every output of a metatomic model file (float64) on the frames as given."""
    from symlearn.metatomic.analyse import MetatomicAnalysis
    from symlearn.metatomic.model import load_model

    model = load_model(model_path, forces="non_conservative")
    analysis = MetatomicAnalysis(model, dict(enumerate(frames)), "test.xyz")
    eye = torch.eye(3, dtype=torch.float64)[None]
    values = {}
    for index, atoms in enumerate(frames):
        structure = analysis.structure(index, atoms)
        for name, value in analysis.evaluate(structure, eye, list(model.kinds)).items():
            values[(index, name)] = value
    return values


def test_mtt_export_of_an_epoch_checkpoint_is_that_epoch(trained, tiny_pet_data, tmp_path):
    """metatrain's export (and load_model) read a checkpoint's best_model_state_dict:
    `mtt export epoch_k.ckpt` gives epoch k's own model, whatever epoch validated best,
    to 1e-12 in float64; the training's best model is best_model.pt."""
    from ase.io import read

    from symlearn.pet.analyse import load_pet

    _, out, _ = trained
    frames = read(tiny_pet_data["test"], ":")[:3]
    exported = {}
    for k in (2, 4):
        checkpoint = out / "checkpoints" / f"epoch_{k}.ckpt"
        stored = torch.load(checkpoint, weights_only=False)
        _assert_same_weights(stored["best_model_state_dict"], stored["model_state_dict"])
        assert stored["best_epoch"] == k - 1
        assert pet.TRAINING_BEST in stored  # what a restart reads
        mtt = _outputs(_mtt_export(checkpoint, tmp_path / f"mtt_{k}.pt"), frames)
        own = tmp_path / f"own_{k}.pt"
        load_pet(checkpoint, dtype=torch.float32).export().save(str(own))
        reference = _outputs(own, frames)
        assert mtt.keys() == reference.keys() and mtt
        for key in mtt:
            assert torch.allclose(mtt[key], reference[key], rtol=0, atol=1e-12), key
        exported[k] = mtt
    # the test can fail: two epochs' exports differ
    assert any(not torch.allclose(exported[2][key], exported[4][key])
               for key in exported[2])
    # the training's best model is exported beside the checkpoints, under its own name
    final = torch.load(out / "checkpoints" / "epoch_4.ckpt", weights_only=False)
    best = final[pet.TRAINING_BEST]
    assert best["best_epoch"] is not None and (out / "best_model.pt").stat().st_size > 0


def test_an_epoch_checkpoint_keeps_the_training_best_apart(trained, tmp_path):
    """When an earlier epoch validated best, epoch k's checkpoint still exports epoch k:
    the best so far goes under TRAINING_BEST, and a restart reads it back from there."""
    _, out, _ = trained
    trainer_class = pet._make_trainer([0, 2, 4])
    stored = torch.load(out / "checkpoints" / "epoch_4.ckpt", weights_only=False)
    earlier = _state(out / "checkpoints" / "epoch_2.ckpt")
    trainer = trainer_class.load_checkpoint(stored, stored["train_hypers"], "restart")
    trainer.best_model_state_dict = copy.deepcopy(earlier)
    trainer.best_epoch, trainer.best_metric = 1, 0.125  # epoch 2 validated best
    model = load_checkpoint(out / "checkpoints" / "epoch_4.ckpt")
    trainer._save_epoch(model, tmp_path, 4)
    assert (trainer.best_epoch, trainer.best_metric) == (1, 0.125)  # left as it was
    saved = torch.load(tmp_path / "epoch_4.ckpt", weights_only=False)
    _assert_same_weights(saved["best_model_state_dict"],
                         _state(out / "checkpoints" / "epoch_4.ckpt"))
    assert saved["best_epoch"] == 3
    best = saved[pet.TRAINING_BEST]
    assert (best["best_epoch"], best["best_metric"]) == (1, 0.125)
    _assert_same_weights(best["best_model_state_dict"], earlier)
    restarted = trainer_class.load_checkpoint(saved, saved["train_hypers"], "restart")
    assert (restarted.best_epoch, restarted.best_metric) == (1, 0.125)
    # metatrain's loader in its export context gives epoch 4's weights
    from metatrain.utils.io import model_from_checkpoint

    exported = model_from_checkpoint(saved, context="export").state_dict()
    _assert_same_weights(exported, _state(out / "checkpoints" / "epoch_4.ckpt"))


def test_a_checkpoint_whose_weights_do_not_fit_is_named_without_a_traceback(trained,
                                                                          tmp_path):
    """A parameter renamed in the stored weights (as an edited or foreign checkpoint
    has): one line naming the file and the parameters, from the loader and the CLI."""
    import subprocess
    import sys

    from symlearn.errors import CheckpointError

    _, out, _ = trained
    checkpoint = torch.load(out / "checkpoints" / "epoch_2.ckpt", weights_only=False,
                            map_location="cpu")
    state = checkpoint["model_state_dict"]
    name = next(key for key in state if key.endswith(".weight"))
    state[name.replace(".weight", ".renamed")] = state.pop(name)
    torch.save(checkpoint, tmp_path / "renamed.ckpt")
    with pytest.raises(CheckpointError, match=r"renamed.ckpt: its weights do not fit the "
                                              r"model it describes"):
        load_checkpoint(tmp_path / "renamed.ckpt")
    done = subprocess.run(
        [sys.executable, "-m", "symlearn", "analyse-pet", "--checkpoint",
         str(tmp_path / "renamed.ckpt"), "--structures", str(tmp_path / "test.xyz"),
         "--settings", json.dumps(SETTINGS), "--out-dir", str(tmp_path / "out")],
        capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "its weights do not fit" in done.stderr
