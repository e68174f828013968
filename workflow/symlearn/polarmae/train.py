"""Train PoLAr-MAE: masked pre-training, then segmentation fine-tuning, each with
checkpoints on a step schedule (step 0, the untrained state, included) and exact resume.

- augmentation: ``o3`` (per event and step, a Haar-uniform rotation, and an inversion
  with probability 1/2); ``euler`` (the reference's ``PointcloudRotation``,
  utils/transforms.py: one rotation per batch, ``euler_angles_to_matrix(angles, "XYZ")``
  of three angles uniform in [-pi, pi], i.e. intrinsic rotations R_x(a) R_y(b) R_z(c),
  which is *not* uniform on rotations); ``none``. Rotations are about the centre of the
  detector volume (the origin of the normalised coordinates).
- optimisation as the reference (configs/polarmae.yml and
  part_segmentation_polarmae_fft.yml, models/base.py): AdamW, a linear warm-up from
  ``warmup_start_lr`` then a cosine decay to ``min_learning_rate``, per step, and the
  gradient norm clipped at ``gradient_clip`` (the reference's ``gradient_clip_val: 3``).
- fine-tuning weights each class in the focal loss; ``class_weights: reference`` takes
  the reference's weights, the inverse of each class's share of PILArNet-M's points
  (:data:`REFERENCE_CLASS_COUNTS`).
- the event geometry (groups, centres, interpolation) is distance-based, hence the same
  in every orientation: it is computed once per event and cached (the last
  ``CACHE_EVENTS`` events used: a split of many events is not held in memory).
- resume: while a phase runs, its checkpoints live in ``<phase dir>/resume/`` with the
  optimiser, scheduler and random state; a killed run started again with the same
  settings and data continues from its last checkpoint and reproduces the uninterrupted
  run. Published files (``step_{k}.ckpt``, ``train_log.csv``) appear only at the end.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..checkpoints import mismatch, read_checkpoint
from ..cluster import resolve_device, use_threads
from ..errors import CheckpointError
from ..io import Closing, atomic_path, sha256_file
from ..settings.runs import checkpoint_epochs
from ..symmetry.quadrature import haar_o3
from .grouping import Batch, Grouping, collate, group_event
from .model import PolarMAE, focal_loss

LOGGER = logging.getLogger(__name__)
AUGMENTATIONS = ("o3", "euler", "none")
PHASES = ("pretrain", "finetune")
FORMAT = "symlearn-polarmae-2"
#: what a published checkpoint keeps (the resume copies also hold optimiser and RNG)
PUBLISHED = ("format", "phase", "step", "settings", "model", "log")
#: the encoder's parameters, carried from pre-training into fine-tuning
ENCODER = ("tokenizer.", "pos_embed.", "blocks.")
#: events (with their grouping) an EventStore keeps by default
CACHE_EVENTS = 2048
#: points of each class (shower, track, Michel, delta) in PILArNet-M, as the reference
#: sets them (datasets/PILArNet.py, ``PILArNetDataModule.class_weights``: "values taken
#: from Figure 8 in Appendix A of the PoLArMAE paper"; low-energy deposits left out)
REFERENCE_CLASS_COUNTS = (1926651899.0, 2038240940.0, 34083197.0, 92015482.0)


def class_weights(setting) -> torch.Tensor | None:
    """The focal loss's class weights: None (equal), ``reference`` (the total over each
    class's count, as the reference computes them) or one weight per class."""
    if setting is None:
        return None
    if setting == "reference":
        counts = torch.tensor(REFERENCE_CLASS_COUNTS, dtype=torch.float64)
        return counts.sum() / counts
    return torch.as_tensor(setting, dtype=torch.float64)


def coordinate_scale(preprocessing: Mapping[str, Any]) -> float:
    """Data units per voxel: PoLAr-MAE's normalisation divides by 768 sqrt(3) / 2."""
    from .events import COORD_SCALE

    return 1.0 / COORD_SCALE if preprocessing.get("normalize", True) else 1.0


def grouping_settings(tokenizer: Mapping[str, Any],
                      preprocessing: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`group_event`: the radius given in voxels."""
    settings = dict(tokenizer)
    settings["radius"] = float(tokenizer["radius"]) * coordinate_scale(preprocessing)
    return settings


def euler_rotation(rng: np.random.Generator) -> np.ndarray:
    """One draw of the reference's rotation: angles (a, b, c) uniform in [-pi, pi] and
    R = R_x(a) R_y(b) R_z(c), pytorch3d's ``euler_angles_to_matrix(..., "XYZ")``, which is
    scipy's intrinsic (upper-case) "XYZ"."""
    from scipy.spatial.transform import Rotation

    return Rotation.from_euler("XYZ", 2.0 * np.pi * rng.random(3) - np.pi).as_matrix()


def random_rotations(n: int, augmentation: str, rng: np.random.Generator) -> np.ndarray:
    """(n, 3, 3) matrices for a batch of ``n`` events: ``o3`` draws one per event,
    ``euler`` one for the whole batch (as the reference's ``PointcloudRotation``)."""
    if augmentation == "none":
        return np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    if augmentation == "o3":
        return haar_o3(n, rng)
    if augmentation == "euler":
        return np.broadcast_to(euler_rotation(rng), (n, 3, 3)).copy()
    raise ValueError(f"unknown augmentation {augmentation!r}; known: {AUGMENTATIONS}")


class EventStore(Closing):
    """The events of one split (a PILArNet-M file or a split manifest, see
    :class:`symlearn.polarmae.lartpc.EventSource`), preprocessed and grouped on first use.

    The source stays open until :meth:`close`. The last ``cache_events`` events asked
    for (dropped ones included, as None) are kept, least recently used out first; 0
    keeps none.
    """

    def __init__(self, path: str | Path, preprocessing: Mapping[str, Any],
                 tokenizer: Mapping[str, Any], branching_radius: float = 3.0,
                 cache_events: int = CACHE_EVENTS):
        from .pilarnet import EventSource

        if int(cache_events) < 0:
            raise ValueError(f"cache_events must be >= 0, got {cache_events}")
        self.path = str(path)
        self.preprocessing = dict(preprocessing)
        self.grouping = grouping_settings(tokenizer, preprocessing)
        self.branching_radius = branching_radius
        self.cache_events = int(cache_events)
        self.source = EventSource(self.path, self.preprocessing, branching_radius)
        self.n_events = len(self.source)
        self._cache: OrderedDict[int, tuple[Any, Grouping] | None] = OrderedDict()
        self._usable: list[int] | None = None

    def get(self, index: int):
        """``(event, grouping)``, or None for an event the preprocessing drops."""
        index = int(index)
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        event = self.source.read(index)
        item = None
        if event is not None:
            points = torch.as_tensor(event.points, dtype=torch.float64)
            item = (event, group_event(points, **self.grouping))
        if self.cache_events:
            self._cache[index] = item
            while len(self._cache) > self.cache_events:
                self._cache.popitem(last=False)
        return item

    def usable(self) -> list[int]:
        """Indices of the events the preprocessing keeps (those ``get`` does not give as
        None): the split is streamed once, counting kept points, without grouping or
        caching events; the list is remembered."""
        if self._usable is None:
            self._usable = self.source.usable()
        return list(self._usable)

    def batch(self, indices: Sequence[int]) -> Batch:
        items = [self.get(i) for i in indices]
        events = [e for e, _ in items]
        return collate([torch.as_tensor(e.points, dtype=torch.float32) for e in events],
                       [torch.as_tensor(e.energy, dtype=torch.float32) for e in events],
                       [g for _, g in items],
                       [torch.as_tensor(e.semantic, dtype=torch.long) for e in events])

    def close(self) -> None:
        """Close the source's files (a later read opens them again)."""
        self.source.close()


def build_model(settings: Mapping[str, Any]) -> PolarMAE:
    """The model of a run's settings (the group radius in the data's units)."""
    grouping = grouping_settings(settings["tokenizer"], settings["preprocessing"])
    return PolarMAE.from_settings(settings["model"], int(grouping["group_size"]),
                                  grouping["radius"])


def load_polarmae(path: str | Path, device: str | torch.device = "cpu",
                  dtype: torch.dtype = torch.float32) -> tuple[PolarMAE, dict[str, Any]]:
    """The model of a checkpoint (eval mode) and its metadata (phase, step, settings)."""
    checkpoint = read_checkpoint(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a PoLAr-MAE checkpoint of this pipeline "
                              f"(expected format {FORMAT!r})")
    model = build_model(checkpoint["settings"])
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as err:
        raise mismatch(path, err) from None
    meta = {k: checkpoint[k] for k in ("phase", "step", "settings")}
    return model.to(device=device, dtype=dtype).eval(), meta


def _schedule(total: int, warmup: int, start: float = 0.0, floor: float = 0.0):
    """The reference's ``LinearWarmupCosineAnnealingLR`` as a factor of the learning
    rate, per optimiser step: from ``start`` up to 1 over ``warmup`` steps, then a cosine
    down to ``floor`` at step ``total``."""
    def factor(step: int) -> float:
        if step < warmup:
            return start + (1.0 - start) * step / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor


class Trainer(Closing):
    """One phase of one run (see the module docstring)."""

    def __init__(self, phase: str, settings: Mapping[str, Any], train: str | Path,
                 val: str | Path, device: str, init_from: str | Path | None = None,
                 cache_events: int = CACHE_EVENTS):
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}")
        self.phase, self.settings, self.device = phase, settings, torch.device(device)
        self.options = settings[phase]
        preprocessing = settings["preprocessing"]
        # a memory knob, not a setting: it changes no number, so it is not fingerprinted
        self.train = EventStore(train, preprocessing, settings["tokenizer"],
                                cache_events=cache_events)
        self.val = EventStore(val, preprocessing, settings["tokenizer"],
                              cache_events=cache_events)
        # float32 whatever the process default: the batches are float32
        self.model = build_model(settings).to(self.device, torch.float32)
        if phase == "finetune":
            if init_from is None:
                raise ValueError("fine-tuning starts from a pre-training checkpoint")
            self._load_encoder(init_from)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=float(self.options["learning_rate"]),
            weight_decay=float(self.options["weight_decay"]))
        rate = float(self.options["learning_rate"])
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, _schedule(int(self.options["schedule_steps"]
                                          or self.options["steps"]),
                                      int(self.options["warmup_steps"]),
                                      float(self.options["warmup_start_lr"]) / rate,
                                      float(self.options["min_learning_rate"]) / rate))
        seed = int(settings["seed"]) + (0 if phase == "pretrain" else 1)
        self.rng = np.random.default_rng(seed)
        self.generator = torch.Generator().manual_seed(seed)
        self.class_weights = class_weights(self.options.get("class_weights"))
        self.train_events = self.train.usable()
        self.val_events = self.val.usable()
        if not self.train_events:
            raise ValueError(f"{train}: no event passes the preprocessing "
                             f"(min_points {preprocessing.get('min_points')})")

    def _load_encoder(self, path) -> None:
        model, meta = load_polarmae(path)
        if meta["phase"] != "pretrain":
            raise CheckpointError(f"{path} is a {meta['phase']} checkpoint, not pretrain")
        for key in ("model", "tokenizer", "preprocessing"):
            if meta["settings"][key] != self.settings[key]:
                raise CheckpointError(f"{path}: its {key} settings differ from this run's")
        state = {k: v for k, v in model.state_dict().items() if k.startswith(ENCODER)}
        self.model.load_state_dict(state, strict=False)

    def close(self) -> None:
        """Close the training and validation events' files."""
        self.train.close()
        self.val.close()

    def loss(self, batch: Batch, generator: torch.Generator | None = None
             ) -> dict[str, torch.Tensor]:
        if self.phase == "pretrain":
            mask = self.model.random_mask(batch, float(self.options["mask_ratio"]),
                                          generator or self.generator)
            return self.model.pretrain_loss(batch, mask, float(self.options["energy_weight"]),
                                            self.options["energy_loss"],
                                            float(self.options["huber_delta"]))
        logits, _ = self.model.segment(batch)
        loss = focal_loss(logits, batch.labels, float(self.options["focal_gamma"]),
                          self.class_weights)
        valid = batch.labels >= 0
        accuracy = (logits.argmax(-1) == batch.labels)[valid].float().mean()
        return {"loss": loss, "accuracy": accuracy}

    def step(self) -> tuple[float, int]:
        """One optimiser step on a random batch, augmented; returns (loss, events)."""
        size = min(int(self.options["batch_size"]), len(self.train_events))
        chosen = self.rng.choice(self.train_events, size=size, replace=False)
        batch = self.train.batch(chosen.tolist())
        rotations = torch.as_tensor(random_rotations(size, self.settings["augmentation"],
                                                     self.rng), dtype=torch.float32)
        batch = batch.rotated(rotations).to(self.device, torch.float32)
        self.model.train()
        loss = self.loss(batch)["loss"]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                       float(self.options["gradient_clip"]))
        self.optimizer.step()
        self.scheduler.step()
        return float(loss.detach()), size

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean losses on the validation events, in their given orientation, with a
        fixed masking seed (so numbers at different steps compare)."""
        if not self.val_events:
            return {}
        self.model.eval()
        generator = torch.Generator().manual_seed(12345)
        totals: dict[str, float] = {}
        size = int(self.options["batch_size"])
        n = 0
        for start in range(0, len(self.val_events), size):
            chunk = self.val_events[start:start + size]
            values = self.loss(self.val.batch(chunk).to(self.device, torch.float32),
                               generator)
            for key, value in values.items():
                totals[key] = totals.get(key, 0.0) + float(value) * len(chunk)
            n += len(chunk)
        return {f"val_{k}": v / n for k, v in totals.items()}

    def state(self, step: int, log: list[dict]) -> dict[str, Any]:
        return {"format": FORMAT, "phase": self.phase, "step": step,
                "settings": dict(self.settings), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": {"numpy": self.rng.bit_generator.state,
                        "torch": self.generator.get_state(),
                        # dropout and stochastic depth draw from the global stream
                        "global": torch.get_rng_state(),
                        "cuda": (torch.cuda.get_rng_state_all()
                                 if torch.cuda.is_available() else None)},
                "log": log}

    def restore(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.rng.bit_generator.state = state["rng"]["numpy"]
        self.generator.set_state(state["rng"]["torch"])
        torch.set_rng_state(state["rng"]["global"])
        if state["rng"]["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])


def _fingerprint(phase: str, settings: Mapping[str, Any], paths: Mapping[str, Any]) -> dict:
    """What a resumed phase must share with the interrupted one: the settings, the data
    paths and, for a split manifest, its content (the files and event ranges; the data
    files themselves are too large to hash at every start)."""
    from .manifests import is_split_manifest

    manifests = {k: sha256_file(v) for k, v in paths.items()
                 if v is not None and is_split_manifest(v)}
    return json.loads(json.dumps({"phase": phase, "settings": settings,
                                  "paths": {k: str(v) for k, v in paths.items()},
                                  "manifests": manifests}, sort_keys=True))


def train_polarmae(phase: str, settings: Mapping[str, Any], train: str | Path,
                   val: str | Path, out_dir: str | Path, device: str = "auto",
                   threads: int | None = None, init_from: str | Path | None = None,
                   cache_events: int = CACHE_EVENTS) -> dict[str, Any]:
    """Run one phase into ``out_dir``: ``step_{k}.ckpt`` on the schedule and
    ``train_log.csv`` (loss, validation metrics, learning rate, events per second)."""
    from ..resume import ResumeFolder

    out = Path(out_dir).absolute()
    use_threads(threads)
    device = resolve_device(device)
    torch.manual_seed(int(settings["seed"]))
    options = settings[phase]
    steps = int(options["steps"])
    schedule = checkpoint_epochs(steps, int(options["checkpoint_every"]))
    work = ResumeFolder(out, _fingerprint(phase, settings, {"train": train, "val": val,
                                                            "init_from": init_from}),
                        r"step_(\d+)\.ckpt")
    resume = work.path
    # the event files stay open while the phase runs, and are closed however it ends
    with Trainer(phase, settings, train, val, device, init_from, cache_events) as trainer:

        start, log = work.open() or 0, []
        if start:
            state = torch.load(resume / f"step_{start}.ckpt", weights_only=False,
                               map_location="cpu")
            trainer.restore(state)
            log = list(state["log"])

        print(f"{phase}: {len(trainer.train_events)} training and {len(trainer.val_events)} "
              f"validation events; {steps} steps of {options['batch_size']} events; "
              f"augmentation {settings['augmentation']}; device {device}; checkpoints at "
              f"steps {schedule}", flush=True)

        def checkpoint(step: int, losses: list[float], events: int, seconds: float) -> None:
            row = {"step": step, "train_loss": float(np.mean(losses)) if losses else np.nan,
                   **trainer.validate(), "learning_rate": trainer.optimizer.param_groups[0]["lr"],
                   "events_per_second": events / seconds if seconds > 0 else np.nan}
            log.append(row)
            with atomic_path(resume / f"step_{step}.ckpt") as tmp:
                torch.save(trainer.state(step, log), tmp)
            print(json.dumps(row), flush=True)

        if start == 0 and 0 in schedule:
            checkpoint(0, [], 0, 0.0)
        losses, events, seconds = [], 0, 0.0
        for step in range(start + 1, steps + 1):
            began = time.perf_counter()
            loss, n = trainer.step()
            seconds += time.perf_counter() - began
            if not math.isfinite(loss):
                raise FloatingPointError(f"{phase} loss is {loss} at step {step}")
            losses.append(loss)
            events += n
            if step in schedule:
                checkpoint(step, losses, events, seconds)
                losses, events, seconds = [], 0, 0.0

    def published(step: int):  # without the optimiser and the random state
        def write(tmp: Path) -> None:
            state = torch.load(resume / f"step_{step}.ckpt", weights_only=False,
                               map_location="cpu")
            torch.save({k: state[k] for k in PUBLISHED}, tmp)
        return write

    work.publish({**{f"step_{step}.ckpt": published(step) for step in schedule},
                  "train_log.csv": lambda tmp: pd.DataFrame(log).to_csv(tmp, index=False)})
    return {"phase": phase, "out_dir": str(out), "device": device, "steps": schedule,
            "resumed_from_step": start or None}
