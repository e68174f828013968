"""Train PET through metatrain, with checkpoints at chosen epochs and exact resume.

metatrain does the training (``metatrain.cli.train.train_model`` and PET's own
trainer). This module adds, without editing the installed package, what the
symmetry analysis needs from a training run:

- ``epoch_{k}.ckpt`` after ``k`` completed epochs, for ``k`` = 0 (the model before its
  first optimizer step, with its composition baseline and scaler already fitted), every
  ``checkpoint_every`` epochs and the last epoch. Each is *that epoch's model* for every
  reader: metatrain's ``mtt export`` and ``load_model`` take a checkpoint's
  ``best_model_state_dict``, so it holds the epoch's own weights; the training's
  best-validation model so far, which a restart needs to go on choosing the best, is
  kept under :data:`TRAINING_BEST` (and exported at the end as ``best_model.pt``);
- an augmentation switch: ``o3`` keeps PET's ``O3Augmenter`` (a uniform rotation and a
  random inversion per structure), ``none`` replaces it by the identity;
- resume: a killed run, started again with the same settings, continues from its last
  checkpoint with the random-number state saved beside it, so it reproduces the
  uninterrupted run.

Both additions are a subclass of the architecture's trainer, installed as its
package's trainer only for the duration of one training call. The same driver trains
any architecture of :data:`ARCHITECTURES`: PET, and metatrain's SOAP-BPNN, the exactly
O(3)-equivariant control (:mod:`symlearn.pet.control`), with the same data, splits,
checkpoints and resume.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import random
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

from ..checkpoints import mismatch, read_checkpoint
from ..cluster import resolve_device, use_threads
from ..errors import CheckpointError, ConfigError, DataError
from ..io import atomic_path, sha256_path
from ..settings.runs import checkpoint_epochs
from .geometric import CUSTOM_PREFIX, target_irreps
from .variants import edge_embedding

LOGGER = logging.getLogger(__name__)

#: metatrain target name -> its options (the extxyz key it is read from, its type)
STANDARD_TARGETS: dict[str, dict[str, Any]] = {
    "energy": {
        "key": "energy", "unit": "eV", "forces": False, "stress": False,
        "virial": False,
    },
    "non_conservative_force": {
        "key": "forces", "unit": "eV/A", "quantity": "non_conservative_force",
        "type": {"cartesian": {"rank": 1}}, "sample_kind": "atom",
    },
    "non_conservative_stress": {
        "key": "stress", "unit": "eV/A^3", "quantity": "non_conservative_stress",
        "type": {"cartesian": {"rank": 2}}, "sample_kind": "system",
    },
}
#: metatrain target name -> its config loss-weight name (every density_l* is "density")
LOSS_WEIGHT_NAMES = {"energy": "energy", "non_conservative_force": "forces",
                     "non_conservative_stress": "stress", "pseudoscalar": "pseudoscalar"}




def loss_weight_name(target: str) -> str:
    name = target.removeprefix(CUSTOM_PREFIX)
    return "density" if name.startswith("density_l") else LOSS_WEIGHT_NAMES[name]


TARGET_SETS = ("standard", "geometric")
#: the metatrain architectures a run may name (``architecture``): PET, the model under
#: study, and SOAP-BPNN, the exactly equivariant control
ARCHITECTURES = ("pet", "soap_bpnn")


def _spherical(key: str, o3_lambda: int, o3_sigma: int) -> dict[str, Any]:
    return {"key": key, "unit": "", "quantity": "", "sample_kind": "atom",
            "type": {"spherical": {"irreps": [{"o3_lambda": o3_lambda,
                                               "o3_sigma": o3_sigma}]}}}


def target_options(settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The metatrain targets of a run: energy, forces and stress (``standard``), or the
    geometric targets of :mod:`symlearn.pet.geometric` as spherical targets, so that
    metatrain's augmentation rotates (and inverts) them as they transform: the
    pseudoscalar as (0, -1), the density projections ``mtt::density_l{lambda}`` as
    (lambda, +1)."""
    targets = settings.get("targets", "standard")
    if targets == "standard":
        return copy.deepcopy(STANDARD_TARGETS)
    if targets != "geometric":
        raise ValueError(f"targets must be one of {TARGET_SETS}, got {targets!r}")
    irreps = target_irreps(int(settings["geometric"]["lambda_max"]))
    return {CUSTOM_PREFIX + key: _spherical(key, *irrep) for key, irrep in irreps.items()}


AUGMENTATIONS = ("o3", "none")
def _spherical_targets(targets: Mapping[str, Any]) -> list[str]:
    return sorted(name for name, options in targets.items()
                  if isinstance(options.get("type"), Mapping)
                  and "spherical" in options["type"])


def _dataset(path: str | Path, targets: Mapping[str, Any]) -> dict[str, Any]:
    """metatrain options of one data set: an extxyz file (read with ASE) or a memmap
    directory (:func:`symlearn.pet.memmap.write_memmap`).

    metatrain reads a ``read_from`` that is a directory as a ``MemmapDataset``
    whatever the ``reader`` says, so for a directory the ``reader`` is left out;
    each target is read from ``<read_from>/<key>.bin``. ``MemmapDataset`` rejects
    spherical targets, so the geometric targets need an extxyz file.
    """
    targets = copy.deepcopy(dict(targets))
    if not Path(path).is_dir():
        return {
            "systems": {"read_from": str(path), "reader": "ase",
                        "length_unit": "angstrom"},
            "targets": targets,
        }
    spherical = _spherical_targets(targets)
    if spherical:
        raise ValueError(
            f"{path} is a memmap directory, but the targets {spherical} are spherical "
            "and metatrain's MemmapDataset does not support spherical targets; train "
            "the geometric targets on an extxyz file")
    missing = [f"{options.get('key', name)}.bin" for name, options in targets.items()
               if not (Path(path) / f"{options.get('key', name)}.bin").is_file()]
    if missing:
        raise ValueError(f"{path} is not a memmap data set of these targets: it lacks "
                         f"{missing}")
    return {
        "systems": {"read_from": str(path), "length_unit": "angstrom"},
        "targets": targets,
    }


def check_training_data(path: str | Path, targets: Mapping[str, Any]) -> int:
    """Refuse, in one line naming the file, the frame and the field, a split metatrain
    would otherwise fail on deep inside its reader (or train on silently): a missing
    file, an unreadable or non-finite frame, a frame without the labels of the run's
    targets. A memmap directory is checked by :func:`_dataset`. Returns the frames."""
    from ..data.extxyz import frame_labels, iter_frames

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file")
    if path.is_dir():
        return 0
    keys = [options.get("key", name) for name, options in targets.items()]
    n = 0
    for index, atoms in iter_frames(path):
        n += 1
        if "energy" in targets:
            frame_labels(atoms, path, index)
            continue
        for key in keys:
            values = atoms.arrays.get(key, atoms.info.get(key))
            if values is None:
                raise DataError(f"{path}: frame {index} has no '{key}' (a target of this "
                                "run)")
            if not np.all(np.isfinite(np.asarray(values, dtype=float))):
                raise DataError(f"{path}: frame {index}: '{key}' contains non-finite "
                                "values")
    return n


def build_options(settings: Mapping[str, Any], train: str | Path, val: str | Path,
                  test: str | Path, device: str, final_eval: bool = True) -> dict[str, Any]:
    """metatrain options for one run, from the run's settings in the config.

    ``settings`` has ``model`` (PET model hyperparameters, passed through),
    ``training`` (epochs, batch size, learning rate, ...), ``augmentation`` and
    optionally ``targets`` (``standard`` or ``geometric``, with ``geometric`` settings).
    Checkpoints are requested every epoch; :class:`_Trainer` keeps the ones the
    schedule asks for. ``train``, ``val`` and ``test`` are each an extxyz training
    view or a memmap directory (:func:`_dataset`). ``final_eval``: metatrain's closing
    evaluation of the exported model on every split (it rereads them; the checkpoints
    and the analyses do not need it).
    """
    training = settings["training"]
    targets = target_options(settings)
    hypers = {
        "num_epochs": int(training["epochs"]),
        "batch_size": int(training["batch_size"]),
        "learning_rate": float(training["learning_rate"]),
        "warmup_fraction": float(training["warmup_fraction"]),
        "checkpoint_interval": 1,
        "log_interval": 1,
        # stress is intensive: its loss and metrics are per structure, not per atom
        "per_structure_targets": [t for t in targets if t == "non_conservative_stress"],
        "loss": {
            target: {"type": "mse",
                     "weight": float(training["loss_weights"][loss_weight_name(target)])}
            for target in targets
        },
    }
    if training.get("weight_decay") is not None:
        hypers["weight_decay"] = float(training["weight_decay"])
    if training.get("num_workers") is not None:
        hypers["num_workers"] = int(training["num_workers"])
    return {
        "seed": int(training["seed"]),
        "device": device,
        "base_precision": int(training["precision"]),
        "architecture": {"name": settings.get("architecture", "pet"),
                         "model": dict(settings["model"]),
                         "training": hypers},
        "training_set": _dataset(train, targets),
        "validation_set": _dataset(val, targets),
        "test_set": _dataset(test, targets),
        "final_eval": bool(final_eval),
    }


# --------------------------------------------------------------------------------------
# the trainer subclass


class _IdentityAugmenter:
    """Drop-in for ``O3Augmenter`` that leaves systems and targets unchanged."""

    def __init__(self, target_info_dict, extra_data_info_dict=None, **kwargs):
        pass

    def apply_random_augmentations(self, systems, targets, extra_data=None):
        return systems, targets, ({} if extra_data is None else extra_data)


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


#: the key of a per-epoch checkpoint that holds the training's best-validation state
#: so far (metatrain's ``best_*`` fields, which the checkpoint's own ``best_*`` fields
#: replace by the epoch's): read back on a restart by ``_Trainer.load_checkpoint``
TRAINING_BEST = "symlearn_training_best"
_BEST_FIELDS = ("best_epoch", "best_metric", "best_model_state_dict",
                "best_optimizer_state_dict")


def _trainer_module(architecture: str):
    import importlib

    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    return importlib.import_module(f"metatrain.{architecture}.trainer")


def _make_trainer(schedule: list[int], architecture: str = "pet") -> type:
    Trainer = _trainer_module(architecture).Trainer  # noqa: N806

    class _Trainer(Trainer):
        """The architecture's trainer, saving ``epoch_{k}.ckpt`` (+ RNG state) on the
        schedule."""

        def train(self, model, dtype, devices, train_datasets, val_datasets,
                  checkpoint_dir):
            fresh = self.epoch is None and self.optimizer_state_dict is None
            if fresh and 0 in schedule:
                # Run PET's set-up (composition baseline, scaler, loaders) without
                # any epoch, and save that untrained model as epoch 0.
                n_epochs = self.hypers["num_epochs"]
                self.hypers["num_epochs"] = 0
                try:
                    super().train(model, dtype, devices, train_datasets, val_datasets,
                                  checkpoint_dir)
                finally:
                    self.hypers["num_epochs"] = n_epochs
                self.epoch = None
                self.optimizer_state_dict = None
                self.scheduler_state_dict = None
                self.best_metric = None
                self.best_epoch = None
                self.best_model_state_dict = None
                self._save_epoch(model, Path(checkpoint_dir), 0)
            super().train(model, dtype, devices, train_datasets, val_datasets,
                          checkpoint_dir)

        @classmethod
        def load_checkpoint(cls, checkpoint, hypers, context):
            """A restart from ``epoch_{k}.ckpt`` goes on with the training's best
            model so far (:data:`TRAINING_BEST`), not with epoch k's own weights."""
            trainer = super().load_checkpoint(checkpoint, hypers, context)
            best = checkpoint.get(TRAINING_BEST)
            if best is not None:
                for name in _BEST_FIELDS:
                    setattr(trainer, name, best[name])
            return trainer

        def save_checkpoint(self, model, path):
            match = re.fullmatch(r"model_(\d+)\.ckpt", Path(path).name)
            if match is None:  # the final checkpoint written by train_model
                return super().save_checkpoint(model, path)
            completed = int(match.group(1)) + 1
            if completed in schedule:
                self._save_epoch(model, Path(path).parent, completed)

        def _save_epoch(self, model, directory: Path, completed: int) -> None:
            """Write ``epoch_{completed}.ckpt`` with the epoch's own weights in its
            ``best_*`` fields (what export reads) and the training's best so far under
            :data:`TRAINING_BEST` (what a restart reads)."""
            best = {name: getattr(self, name) for name in _BEST_FIELDS}
            if (best["best_model_state_dict"] is not None
                    and hasattr(model, "finetune_config")):  # PET's, not SOAP-BPNN's
                best["best_model_state_dict"]["finetune_config"] = model.finetune_config
            self.best_epoch = completed - 1 if completed else None  # metatrain counts from 0
            self.best_model_state_dict = copy.deepcopy(model.state_dict())
            self.best_optimizer_state_dict = self.optimizer_state_dict
            try:
                with atomic_path(directory / f"epoch_{completed}.rng.pt") as tmp:
                    torch.save(_rng_state(), tmp)
                with atomic_path(directory / f"epoch_{completed}.ckpt") as tmp:
                    super().save_checkpoint(_WithTrainingBest(model, best), tmp)
            finally:
                for name, value in best.items():
                    setattr(self, name, value)
            LOGGER.info("Saved checkpoint after %d epoch(s)", completed)

    return _Trainer


class _WithTrainingBest:
    """The model as metatrain's ``save_checkpoint`` sees it, its checkpoint dictionary
    also holding the training's best so far under :data:`TRAINING_BEST`: the per-epoch
    checkpoint is written once, in one piece."""

    def __init__(self, model, best: Mapping[str, Any]):
        self._model, self._best = model, best

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def get_checkpoint(self) -> dict:
        checkpoint = self._model.get_checkpoint()
        checkpoint[TRAINING_BEST] = self._best
        return checkpoint


class _RestartSafeLambdaLR(torch.optim.lr_scheduler.LambdaLR):
    """LambdaLR whose ``load_state_dict`` also restores the optimizer's lr.

    A new LambdaLR sets the optimizer's lr to its warm-up value (0) and the stock
    ``load_state_dict`` does not set it back, so the first step after a metatrain
    restart would run with a learning rate of 0.
    """

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group, lr in zip(self.optimizer.param_groups, self.get_last_lr(),
                             strict=True):
            group["lr"] = lr


@contextlib.contextmanager
def _pet_trainer(trainer: type, augmentation: str,
                 resume_rng: Mapping[str, Any] | None = None,
                 architecture: str = "pet") -> Iterator[None]:
    """Install ``trainer`` (and, for ``none``, the identity augmenter) in metatrain's
    ``architecture`` package. SOAP-BPNN has no augmenter: it is equivariant by
    construction, so its runs take ``augmentation: none``.

    Both trainers build its learning-rate scheduler after all set-up and right before
    its epoch loop; the wrapped scheduler factory is where a restart is mended. With
    ``resume_rng``, the random state saved with the restart checkpoint is set back
    there (set-up itself draws from the global generator: every data-loader pass of
    the composition and scaler fits takes a seed), and the learning rate is restored
    together with the scheduler state.
    """
    import importlib

    if augmentation not in AUGMENTATIONS:
        raise ValueError(f"augmentation must be one of {AUGMENTATIONS}, "
                         f"got {augmentation!r}")
    package = importlib.import_module(f"metatrain.{architecture}")
    module = _trainer_module(architecture)
    if augmentation != "none" and not hasattr(module, "O3Augmenter"):
        raise ValueError(f"augmentation: {architecture} has no augmenter (it is "
                         "equivariant by construction); set augmentation: none")
    saved = (package.__trainer__, getattr(module, "O3Augmenter", None),
             module.get_scheduler)
    pending = [resume_rng]

    def get_scheduler(*args, **kwargs):
        scheduler = saved[2](*args, **kwargs)
        scheduler.__class__ = _RestartSafeLambdaLR
        if pending[0] is not None:
            _set_rng_state(pending[0])
            pending[0] = None
        return scheduler

    package.__trainer__ = trainer
    module.get_scheduler = get_scheduler
    if augmentation == "none" and saved[1] is not None:
        module.O3Augmenter = _IdentityAugmenter
    try:
        yield
    finally:
        package.__trainer__ = saved[0]
        if saved[1] is not None:
            module.O3Augmenter = saved[1]
        module.get_scheduler = saved[2]


# --------------------------------------------------------------------------------------
# the driver


def _fingerprint(options: Mapping[str, Any], settings: Mapping[str, Any],
                 data: Mapping[str, str | Path]) -> dict[str, Any]:
    """What must not change for a resume to continue the same run (device may)."""
    options = {k: v for k, v in options.items() if k != "device"}
    return {
        "options": json.loads(json.dumps(options)),
        "augmentation": settings["augmentation"],
        "edge_embedding": settings.get("edge_embedding"),
        "checkpoint_every": settings["training"]["checkpoint_every"],
        "data": {name: sha256_path(path) for name, path in data.items()},
    }


def _merge_logs(resume: Path) -> pd.DataFrame:
    """One row per epoch from metatrain's per-attempt CSV logs, the latest attempt
    winning where a resumed attempt redid epochs; units go into the column names."""
    frames = []
    attempts = sorted(resume.glob("attempt_*.csv"),
                      key=lambda p: int(p.stem.split("_")[1]))
    for order, path in enumerate(attempts):
        if path.stat().st_size == 0:  # an attempt that died before its first epoch
            continue
        raw = pd.read_csv(path, header=None, dtype=str)
        names = [f"{key} [{unit}]" if isinstance(unit, str) and unit else key
                 for key, unit in zip(raw.iloc[0], raw.iloc[1], strict=True)]
        table = raw.iloc[2:].set_axis(names, axis=1).apply(pd.to_numeric)
        frames.append(table.assign(attempt=order + 1))
    if not frames:
        raise RuntimeError(f"metatrain wrote no training log in {resume}")
    log = pd.concat(frames, ignore_index=True)
    log = log.drop_duplicates(subset="Epoch", keep="last").sort_values("Epoch")
    # metatrain counts epochs from 0; checkpoints count completed epochs
    log.insert(0, "epoch", log.pop("Epoch") + 1)
    return log.reset_index(drop=True)


@contextlib.contextmanager
def _training_logs(log_file: Path) -> Iterator[None]:
    """Copy the training's log to ``log_file`` and its metrics to a CSV beside it.

    metatrain logs through the root logger and writes metric rows to handlers of its
    ``metatrain`` logger that have ``emit_data``; its own ``setup_logging`` relies on
    ``logging.basicConfig``, which works once per process, so this sets the handlers
    up (and takes them down) itself.
    """
    from metatrain.utils.logging import ROOT_LOGGER, CSVFileHandler

    text_handler = logging.FileHandler(log_file, encoding="utf-8")
    text_handler.setFormatter(logging.Formatter(
        "[{asctime}][{levelname}] - {message}", datefmt="%Y-%m-%d %H:%M:%S", style="{"))
    csv_handler = CSVFileHandler(filename=str(log_file.with_suffix(".csv")),
                                 encoding="utf-8")
    root = logging.getLogger()
    saved_level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(text_handler)
    ROOT_LOGGER.addHandler(csv_handler)
    try:
        yield
    finally:
        ROOT_LOGGER.removeHandler(csv_handler)
        csv_handler.close()
        root.removeHandler(text_handler)
        text_handler.close()
        root.setLevel(saved_level)


def train_pet(settings: Mapping[str, Any], train: str | Path, val: str | Path,
              test: str | Path | None = None, out_dir: str | Path = ".",
              device: str = "auto", threads: int | None = None) -> dict[str, Any]:
    """Train one PET run into ``out_dir`` and return a summary.

    The training reads only ``train`` and ``val``: metatrain's closing evaluation (of
    the exported model on the training, validation and test splits) runs only when a
    ``test`` split is given. The pipeline gives none, so a training (and its
    checkpoints) never depends on the split the analysis reads, a change there cannot
    cost a finished training, and no job rereads every split to print errors that the
    analyses compute themselves.

    ``out_dir`` receives ``checkpoints/epoch_{k}.ckpt``, ``train_log.csv``,
    ``best_model.pt`` (metatrain's export of the best-validation model) and
    ``options.yaml`` (the metatrain options used). While training runs, everything
    lives in ``out_dir/resume/``; it is published and removed only at the end, so a
    killed run is continued by the next call with the same settings and data.
    """
    from metatrain.cli.train import train_model
    from omegaconf import OmegaConf

    from ..resume import ResumeFolder

    out = Path(out_dir).absolute()
    use_threads(threads)
    device = resolve_device(device)
    targets = target_options(settings)
    if settings.get("architecture", "pet") != "pet":
        from .control import target_problem

        problems = [problem for name, options in targets.items()
                    if (problem := target_problem(name, options))]
        if problems:  # (its other settings are checked when the workflow starts)
            raise ConfigError("--settings: " + "; ".join(problems))
    data = {"train": train, "val": val, **({"test": test} if test is not None else {})}
    for split in data.values():
        check_training_data(split, targets)
    options = build_options(settings, train, val, val if test is None else test, device,
                            final_eval=test is not None)
    schedule = checkpoint_epochs(int(settings["training"]["epochs"]),
                                 int(settings["training"]["checkpoint_every"]))
    work = ResumeFolder(out, _fingerprint(options, settings, data), r"epoch_(\d+)\.ckpt",
                        "epoch")
    restart_epoch = work.open()
    resume = work.path

    restart_from = resume_rng = None
    if restart_epoch is not None:
        restart_from = resume / f"epoch_{restart_epoch}.ckpt"
        rng_file = resume / f"epoch_{restart_epoch}.rng.pt"
        resume_rng = torch.load(rng_file, weights_only=False) if rng_file.exists() else None
    attempt = work.attempt()
    architecture = settings.get("architecture", "pet")
    variant = (edge_embedding(settings.get("edge_embedding") or {"type": "cartesian"})
               if architecture == "pet" else contextlib.nullcontext())

    with (_training_logs(resume / f"attempt_{attempt}.log"),
          _pet_trainer(_make_trainer(schedule, architecture), settings["augmentation"],
                       resume_rng, architecture),
          variant):
        train_model(OmegaConf.create(options), output=resume / "model.pt",
                    extensions=resume / "extensions", checkpoint_dir=resume,
                    restart_from=restart_from)

    missing = work.missing(schedule)
    if missing:
        raise RuntimeError(f"training finished without checkpoints for epochs {missing}")
    log = _merge_logs(resume)
    work.publish({
        **{f"checkpoints/epoch_{k}.ckpt": work.copy(f"epoch_{k}.ckpt") for k in schedule},
        "best_model.pt": work.copy("model.pt"),
        "train_log.csv": lambda tmp: log.to_csv(tmp, index=False),
        "options.yaml": lambda tmp: tmp.write_text(yaml.safe_dump(options, sort_keys=False)),
    })
    return {"run_dir": str(out), "device": device, "epochs": schedule,
            "resumed_from_epoch": restart_epoch, "attempts": attempt}


def load_checkpoint(path: str | Path, context: str = "restart") -> torch.nn.Module:
    """Load the PET model stored in a checkpoint as it was at that epoch.

    ``context="restart"`` gives the weights of that epoch; ``"export"`` gives the
    best-validation weights seen up to it (what metatrain exports).
    """
    from metatrain.utils.io import model_from_checkpoint

    checkpoint = read_checkpoint(path)
    if isinstance(checkpoint, dict) and str(checkpoint.get("format", "")).startswith(
            "symlearn-polarmae"):
        raise CheckpointError(f"{path} is a PoLAr-MAE checkpoint, not a PET one; analyse "
                              "it with analyse-polarmae")
    name = checkpoint.get("architecture_name") if isinstance(checkpoint, dict) else None
    if name not in ARCHITECTURES:
        raise CheckpointError(f"{path} is not a PET checkpoint of metatrain (architecture "
                              f"{name!r}, expected one of {', '.join(ARCHITECTURES)})")
    with edge_embedding():  # rebuilt with the edge embedding its weights belong to
        try:
            return model_from_checkpoint(checkpoint, context=context)
        except (RuntimeError, KeyError) as err:  # load_state_dict, a missing entry
            raise mismatch(path, err) from None
