"""PoLAr-MAE adapter: evaluate a checkpoint on the O(3) grid and feed the symmetry core.

Each test event is grouped once (the grouping is distance-based, so every rotated copy
has the same tokens: token ``k`` is the same group of points on every grid point), and
as many rotated copies as fit in ``batch_points`` points go through one forward pass.
Rotations turn the normalised coordinates about the centre of the detector volume;
energies do not change.

- B for the tokenizer's tokens and every block's tokens (samples = tokens);
- A for the per-point class probabilities of a fine-tuned checkpoint, which should be
  invariant (samples = points, 4 components);
- classification instability: for each point, the fraction of grid orientations whose
  predicted class differs from the class of the symmetrized prediction ``Pi``, reported
  per semantic class and for points at branching points vs plain track segments
  (``symlearn.polarmae.lartpc`` defines branching from the cluster structure).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..errors import DataError
from ..symmetry import DTYPES, GridContext, InputAnalysis, OutputKind, analyse_input
from ..symmetry.degrees import grid_degree as symmetry_grid_degree
from ..table_schemas import INSTABILITY_COLUMNS, LEARNED_CLASSES
from .grouping import Batch, Grouping, collate
from .model import PolarMAE

OUTPUT = "class_probabilities"
LOCATIONS = ("branching", "track segment")


def grid_degree(settings: Mapping[str, Any]) -> int:
    """The configured degree, or the rule of :func:`symmetry.grid_degree` for invariant
    outputs (the class probabilities)."""
    return symmetry_grid_degree(settings.get("grid_degree"), int(settings["lambda_max"]), 0)


class PolarMAEAdapter:
    """Evaluates one PoLAr-MAE checkpoint on rotated copies of events."""

    def __init__(self, model: PolarMAE, phase: str, layers: Sequence[str] | None = None):
        self.model = model
        self.phase = phase
        self.dtype = next(model.parameters()).dtype
        self.device = next(model.parameters()).device
        self.layers = list(model.feature_names() if layers is None else layers)
        unknown = [x for x in self.layers if x not in model.feature_names()]
        if unknown:
            raise ValueError(f"unknown PoLAr-MAE layer(s) {unknown}; known: "
                             f"{', '.join(model.feature_names())}")

    @property
    def segments(self) -> bool:
        """Whether the checkpoint has a trained segmentation head (fine-tuning)."""
        return self.phase == "finetune"

    def batch(self, event, grouping: Grouping) -> Batch:
        return collate([torch.as_tensor(event.points)], [torch.as_tensor(event.energy)],
                       [grouping], [torch.as_tensor(event.semantic, dtype=torch.long)]
                       ).to(self.device, self.dtype)

    def evaluate(self, batch: Batch, g: torch.Tensor) -> dict[str, torch.Tensor]:
        """Class probabilities (copies, points, classes) and token features (copies,
        tokens, width) of the event transformed by each ``g``."""
        copies = batch.copies(g.to(device=self.device, dtype=self.dtype))
        with torch.inference_mode():
            if self.segments:
                logits, features = self.model.segment(copies, self.layers)
                return {OUTPUT: torch.softmax(logits, dim=-1), **features}
            return self.model.features(copies, self.layers)

    def given_prediction(self, event, grouping: Grouping) -> np.ndarray:
        """The class predicted for every point of the event as given (one pass)."""
        identity = torch.eye(3, dtype=torch.float64)[None]
        return self.evaluate(self.batch(event, grouping), identity)[OUTPUT][0].argmax(-1
                                                                                  ).cpu().numpy()

    def analyse(self, event, grouping: Grouping, context: GridContext, *,
                batch_points: int = 200_000, progress: Callable[[int], None] | None = None
                ) -> tuple[InputAnalysis, np.ndarray | None]:
        """A and B of one event, and the class predicted on every grid point
        (grid points x points, in the order visited) when the model segments."""
        batch = self.batch(event, grouping)
        predictions: list[torch.Tensor] = []

        def evaluate(g: torch.Tensor) -> dict[str, torch.Tensor]:
            out = self.evaluate(batch, g)
            if OUTPUT in out:
                predictions.append(out[OUTPUT].argmax(-1).to(torch.int8).cpu())
            return out

        outputs, references = {}, {}
        if self.segments:
            outputs = {OUTPUT: OutputKind("invariant")}
            labels = torch.as_tensor(event.semantic, dtype=torch.long)
            one_hot = torch.nn.functional.one_hot(labels, self.model.classes)
            references = {OUTPUT: one_hot.to(device=self.device, dtype=self.dtype)}
        result = analyse_input(evaluate, context, outputs=outputs, features=self.layers,
                               references=references,
                               batch_size=context.copies_per_batch(event.n_points,
                                                                   batch_points),
                               progress=progress)
        predicted = torch.cat(predictions).numpy() if predictions else None
        return result, predicted


def point_rows(event, result: InputAnalysis, predicted: np.ndarray,
               weights: np.ndarray, given: np.ndarray | None = None) -> pd.DataFrame:
    """One row per point: its class, location, orbit variance of the probabilities,
    instability, the symmetrized prediction and whether it is right, and whether the
    prediction on the event as given (``given``; None: not known) is right.
    ``weights``: the grid weights in the order the grid was visited (the rows of
    ``predicted``): the instability is the grid's estimate of the Haar measure of the
    orientations that change the class."""
    stats = result.outputs[OUTPUT][(0, 1)]
    symmetrized = stats.mean.argmax(-1).cpu().numpy()
    changed = (predicted != symmetrized[None]).astype(np.float64)
    instability = np.asarray(weights, dtype=np.float64) @ changed
    location = np.where(event.branching, LOCATIONS[0],
                        np.where(event.semantic == 1, LOCATIONS[1], ""))
    return pd.DataFrame({
        "event": event.index, "point": np.arange(event.n_points),
        "semantic": event.semantic, "location": location,
        "equivariance_mse": stats.variance.cpu().numpy(),
        "squared_error": stats.squared_error.cpu().numpy(),
        "instability": instability, "symmetrized_class": symmetrized,
        "correct": symmetrized == event.semantic,
        "correct_as_given": (np.full(event.n_points, np.nan) if given is None
                             else (given == event.semantic).astype(np.float64))})


def instability_table(points: pd.DataFrame, degree: int = 0,
                      check_degree: int | None = None) -> pd.DataFrame:
    """Per semantic class and per location: instability, the fraction of points ever
    unstable, the equivariance RMSE of the probabilities, the accuracy of the
    symmetrized prediction and the recall on the events as given: the share of the
    group's points whose class the model predicts (for a class, its recall)."""
    groups = [("class", name, points["semantic"] == k) for k, name in enumerate(LEARNED_CLASSES)]
    groups += [("location", name, points["location"] == name) for name in LOCATIONS]
    rows = []
    for grouping, name, selected in groups:
        chosen = points[selected]
        n = len(chosen)
        rows.append({
            "grouping": grouping, "group": name, "n_points": n,
            "instability": chosen["instability"].mean() if n else np.nan,
            "unstable_fraction": (chosen["instability"] > 0).mean() if n else np.nan,
            "equivariance_rmse": math.sqrt(chosen["equivariance_mse"].mean()) if n else np.nan,
            "accuracy": chosen["correct"].mean() if n else np.nan,
            "recall_as_given": (chosen["correct_as_given"].mean()
                                if n and "correct_as_given" in chosen else np.nan),
            "grid_degree": degree, "check_degree": check_degree})
    table = pd.DataFrame(rows, columns=INSTABILITY_COLUMNS)
    table["check_degree"] = table["check_degree"].astype("Int64")
    return table


def _events(checkpoint_settings: Mapping[str, Any], path: str, settings: Mapping[str, Any]):
    """The store of the test events and the indices of the analysed ones: a seeded random
    subset of the events the preprocessing keeps, in file order (events are read in the
    subset's random order only until enough are found, so a large file is not read
    whole)."""
    from .train import EventStore

    store = EventStore(path, checkpoint_settings["preprocessing"],
                       checkpoint_settings["tokenizer"],
                       branching_radius=float(settings["branching_radius"]))
    order = np.random.default_rng(int(settings["seed"])).permutation(store.n_events)
    chosen = []
    for index in order.tolist():
        if store.get(index) is not None:
            chosen.append(index)
            if len(chosen) == int(settings["n_events"]):
                break
    if not chosen:
        raise DataError(f"{path}: no event passes the preprocessing of this checkpoint")
    return store, sorted(chosen)


POINT_COLUMNS = ["event", "point", "semantic", "location", "equivariance_mse",
                 "squared_error", "instability", "symmetrized_class", "correct",
                 "correct_as_given"]


class PolarMAECheckpointAnalysis:
    """The driver's adapter (:class:`symlearn.analyse.driver.Adapter`) for one PoLAr-MAE
    checkpoint: its selected test events, one pass over the grid each, and the point
    rows and instability table of a fine-tuned checkpoint."""

    input_column = "event"

    def __init__(self, adapter: PolarMAEAdapter, loaded: Mapping[int, tuple],
                 batch_points: int):
        self.model = adapter
        self.loaded = loaded
        self.layers = adapter.layers
        self.output_lambda_max = 0  # the class probabilities are invariant
        self.batch_points = batch_points
        self.points: list[pd.DataFrame] = []

    def inputs(self) -> list:
        from ..analyse.driver import AnalysisInput

        return [AnalysisInput(index, {"n_points": event.n_points,
                                      "n_tokens": grouping.n_tokens},
                              check_order=(event.n_points,), payload=(event, grouping))
                for index, (event, grouping) in self.loaded.items()]

    def passes(self, item, context) -> int:
        return 1

    def analyse(self, item, context, *, main: bool, exact_outputs: bool, progress):
        event, grouping = item.payload
        result, predicted = self.model.analyse(event, grouping, context,
                                               batch_points=self.batch_points,
                                               progress=progress)
        if predicted is not None and main:
            # the grid weights in the order the grid was visited (the rows of predicted)
            visited = context.weights[context.order].cpu().numpy()
            given = self.model.given_prediction(event, grouping)
            self.points.append(point_rows(event, result, predicted, visited, given))
        yield result

    @staticmethod
    def table_name(name: str) -> str:
        return name

    def extra_tables(self, degree: int, check_degree: int | None) -> dict:
        points = (pd.concat(self.points, ignore_index=True) if self.points
                  else pd.DataFrame(columns=POINT_COLUMNS))
        instability = (instability_table(points, degree, check_degree) if len(points)
                       else pd.DataFrame(columns=INSTABILITY_COLUMNS))
        return {"points.parquet": points, "instability.csv": instability}


def analyse_polarmae_checkpoint(checkpoint: str, events: str, out_dir: str,
                                settings: Mapping[str, Any], device: str = "cpu",
                                threads: int | None = None, progress: bool = True) -> dict:
    """A, B and the classification instability of one checkpoint on the selected test
    events; writes ``errors.csv``, ``spectrum.csv`` (the PET analysis' schema),
    ``instability.csv`` and ``points.parquet`` into ``out_dir`` (each atomically),
    through the shared driver."""
    from ..analyse.driver import Grids, analyse_checkpoint, writable_folder
    from ..cluster import resolve_device, use_threads
    from .train import load_polarmae

    writable_folder(out_dir)
    use_threads(threads)
    device = resolve_device(device)
    dtype = DTYPES[settings["dtype"]]
    degree = grid_degree(settings)
    grids = Grids.build(degree, settings, dtype, device)
    model, meta = load_polarmae(checkpoint, device, dtype)
    adapter = PolarMAEAdapter(model, meta["phase"], settings.get("layers"))
    store, selected = _events(meta["settings"], events, settings)
    loaded = {index: store.get(index) for index in selected}
    header = (f"checkpoint {checkpoint} ({meta['phase']} step {meta['step']}): "
              f"{len(selected)} events of {events}; {settings['dtype']} on {device}")
    summary = analyse_checkpoint(
        PolarMAECheckpointAnalysis(adapter, loaded, int(settings["batch_points"])), grids,
        out_dir, label=Path(checkpoint).stem, header=header, progress=progress)
    return {"events": summary["inputs"], "copies": summary["copies"],
            "checked": summary["checked"], "seconds": summary["seconds"]}


def example_event(checkpoint: str, events: str, out: str, settings: Mapping[str, Any],
                  run: str, device: str = "cpu") -> pd.DataFrame:
    """fig1 (b)'s data: the first analysed test event classified in its given
    orientation and after one seeded Haar-random rotation, point by point."""
    from scipy.spatial.transform import Rotation

    from ..cluster import resolve_device
    from ..errors import CheckpointError
    from ..io import atomic_path
    from .preprocessing import voxel_coordinates
    from .train import load_polarmae

    device = resolve_device(device)
    model, meta = load_polarmae(checkpoint, device, DTYPES[settings["dtype"]])
    adapter = PolarMAEAdapter(model, meta["phase"], [])
    if not adapter.segments:
        raise CheckpointError(f"{checkpoint}: a {meta['phase']} checkpoint has no trained "
                              "segmentation head; fig1 (b) needs a fine-tuning checkpoint")
    store, selected = _events(meta["settings"], events, settings)
    event, grouping = store.get(selected[0])
    rotation = Rotation.random(rng=np.random.default_rng(int(settings["seed"])))
    g = torch.as_tensor(np.stack([np.eye(3), rotation.as_matrix()]))
    probabilities = adapter.evaluate(adapter.batch(event, grouping), g)[OUTPUT]
    classes = probabilities.argmax(-1).cpu().numpy()
    normalized = meta["settings"]["preprocessing"].get("normalize", True)
    voxels = voxel_coordinates(event.points) if normalized else np.asarray(event.points)
    table = pd.DataFrame({
        "run": run, "event": event.index,
        "rotation_deg": float(np.degrees(rotation.magnitude())),
        "point": np.arange(event.n_points), "x": voxels[:, 0], "y": voxels[:, 1],
        "z": voxels[:, 2], "semantic": event.semantic, "predicted": classes[0],
        "predicted_rotated": classes[1], "changed": classes[0] != classes[1]})
    with atomic_path(out) as tmp:
        table.to_csv(tmp, index=False)
    return table
