"""Post-hoc purification of a trained PET's readouts, and what it does to accuracy and A.

Five stages of the same checkpoint, each analysed on the structures and O(3) grid of
the symmetry analysis (docs/symmetry.md, "Purification"):

- ``original``: the model as trained;
- ``bias_removed``: every readout bias (the node and edge last layers of every head and
  GNN layer) replaced by its invariant part, the group average
  ``sum_g w_g rho(g)^-1 b`` on the quadrature. A bias the network learned to cancel a
  non-equivariant offset elsewhere cannot simply be dropped, so this stage can make A
  worse; it is kept as the naive baseline.
- ``offset_removed``: the non-equivariant constant offset of each readout removed. The
  lab-frame output averaged over the grid (with its weights), ``O(x) = sum_g w_g
  f(g x)``, keeps an equivariant part only where it is invariant (an energy, a
  stress's isotropic part); what else survives stays fixed in the lab frame. Its
  non-invariant part ``O(x) - sum_g w_g rho(g)^-1 O(x)``, over ``n_offset_structures``
  training structures, is fitted (least squares) by a change of the bias of the first
  node readout of each head, measured as the output's own response to that bias, and
  folded in. Scalar outputs are left alone; a stress keeps its isotropic part. It costs
  ``n_offset_structures x (grid points + 2)`` evaluations once, and nothing per
  prediction.
- ``projected``: the bias-removed model's outputs projected onto their irreps with the
  quadrature, ``Pi(x) = sum_g w_g rho(g)^-1 f(g x)`` (a constant non-invariant offset
  projects to zero, so the original and offset-removed models project to the same
  ``Pi``). Its accuracy is that of the symmetrized prediction; its own equivariance
  error, not zero for a finite grid, is estimated on ``n_rotations`` random O(3)
  elements ``h``: ``rho(h)^-1 Pi(h x)`` is the symmetrized prediction on the grid
  translated by ``h`` (``GridContext.shifted``), and its sample variance over ``h``
  (n - 1 normalisation) is the estimate. It costs a grid of evaluations per prediction.
- ``readout_refit``, one row set per weight ``mu``: every last layer refitted in closed
  form to minimise ``MSE + mu A^2`` (:mod:`symlearn.pet.readout_refit`: the output is
  linear in those weights, so both are quadratic forms). ``MSE`` is over
  ``refit_structures`` training structures as given, ``A^2`` over the grids of the
  ``n_offset_structures`` the offset stage evaluates anyway (the same forward passes).
  On the test structures each refit's outputs are the original's plus a change linear
  in the features recorded from the original's forward passes, so no ``mu`` costs a
  pass of its own. Each output's chosen refit (the largest ``mu`` within
  :data:`symlearn.table_schemas.REFIT_RMSE_FACTOR` x the original's test RMSE as given)
  is saved as an ordinary PET checkpoint and checked against the table's outputs.

The bias stages differ from the original by an output shift that does not depend on the
orientation (:func:`output_shifts`), so their analyses reuse the original's forward passes
on each grid plus that shift; a model where the check fails is evaluated on its own.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..analyse.tables import QuadratureCheck, checked_tables, input_rows
from ..symmetry import GridContext, OutputKind
from ..symmetry.degrees import resolves_variances
from ..table_schemas import PURIFICATION_COLUMNS, REFIT_RMSE_FACTOR, STAGES, refit_choices
from .analyse import PETAdapter, select_structures, setup_checkpoint, table_name, target_kind
from .readout_refit import ReadoutRefit, RefitPredictor


def invariant_part(bias: torch.Tensor, kind: OutputKind, context: GridContext) -> torch.Tensor:
    """The group average of a constant output ``bias`` (flattened components x
    properties, PET's layout) over the grid: its projection onto (0, +1)."""
    components = kind.components or ()
    n_components = int(np.prod(components)) if components else 1
    if bias.numel() % n_components:
        raise ValueError(f"a bias of {bias.numel()} values is not a whole number of "
                         f"{kind.name} outputs")
    values = bias.detach().to(context.dtype).reshape(*components, -1).movedim(-1, 0)
    copies = values[None].expand(len(context.matrices), *values.shape)
    averaged = torch.einsum("g,g...->...", context.weights,
                            kind.back_transform(copies, context.matrices))
    return averaged.movedim(0, -1).reshape(-1).to(bias)


def remove_covariant_biases(model: torch.nn.Module, context: GridContext) -> dict[str, float]:
    """Replace, in place, every readout bias of ``model`` by its invariant part; return
    the norm removed per target."""
    backend = model.backend
    removed: dict[str, float] = {}
    for target in model.target_names:
        kind = target_kind(target)
        if kind is None:
            continue
        for layers in (backend.node_last_layers[target], backend.edge_last_layers[target]):
            for per_key in layers:
                for linear in per_key.values():
                    if linear.bias is None:
                        continue
                    with torch.no_grad():
                        kept = invariant_part(linear.bias, kind, context)
                        removed[target] = removed.get(target, 0.0) + float(
                            (linear.bias - kept).square().sum())
                        linear.bias.copy_(kept)
    return {target: value ** 0.5 for target, value in removed.items()}


def lab_frame_average(adapter: PETAdapter, structure, context: GridContext,
                      targets: list[str], batch_atoms: int,
                      refit: ReadoutRefit | None = None) -> dict[str, torch.Tensor]:
    """``O(x) = sum_g w_g f(g x)`` per target, (samples, ...), in the lab frame: the
    outputs are not turned back, so only what is fixed in the lab frame survives. With
    ``refit``, the same forward passes (of ``refit``'s model, the same weights) also
    add this structure's grid to the readout refit's ``A^2``."""
    sums: dict[str, torch.Tensor] = {}
    size = adapter.copies_per_batch(structure, batch_atoms, context)
    for index in context.batches(size):
        g = context.matrices[index]
        weights = context.weights[index]
        if refit is None:
            values = adapter.evaluate(adapter.transformed(structure, g), targets)
        else:
            values = refit.grid_batch(adapter.transformed(structure, g), g, weights, targets)
        for name in targets:
            term = torch.einsum("g,g...->...", weights, values[name].to(weights))
            sums[name] = sums[name] + term if name in sums else term
    return sums


def _first_node_readout(model: torch.nn.Module, target: str) -> torch.nn.Linear:
    per_key = model.backend.node_last_layers[target][0]
    if len(per_key) != 1:
        raise ValueError(f"{target}: offset removal handles single-block targets, this "
                         f"one has {len(per_key)} blocks")
    return next(iter(per_key.values()))


def offset_targets(adapter: PETAdapter) -> list[str]:
    """The targets with a non-invariant part (every one but a plain scalar)."""
    return [t for t in adapter.targets if adapter.kinds[t].irreps != [(0, 1)]]


def remove_constant_offsets(adapter: PETAdapter, structures: list, context: GridContext,
                            batch_atoms: int, refit: ReadoutRefit | None = None
                            ) -> tuple[dict[str, float], int]:
    """Fold, in place, the least-squares constant that cancels each readout's lab-frame
    non-invariant offset into its bias (see the module docstring); return the norm of
    the bias change per target and the model evaluations spent. With ``refit`` (of a
    model with ``adapter``'s weights as they are on entry), the grid passes also give
    every target's ``A^2`` of the readout refit on these structures."""
    model = adapter.model
    targets = offset_targets(adapter)
    numerator: dict[str, torch.Tensor] = {}
    denominator: dict[str, torch.Tensor] = {}
    evaluations = 0
    eye = torch.eye(3, dtype=adapter.dtype, device=adapter.device)[None]
    for structure in structures:
        kinds, _ = adapter.names(structure, [], outputs=True)
        names = [t for t in targets if t in kinds]
        if refit is not None and kinds:
            refit.begin_grid(structure, list(kinds))
            averages = lab_frame_average(adapter, structure, context, list(kinds),
                                         batch_atoms, refit)
            refit.end_grid()
        elif names:
            averages = lab_frame_average(adapter, structure, context, names, batch_atoms)
        if not names:
            continue
        evaluations += context.quadrature.n_rotations
        # the output's response to a unit change of every bias component: the scale
        # of the readout (and, for a stress, the atoms per volume)
        before = adapter.evaluate(adapter.rotated_systems(structure, eye), names)
        linears = {t: _first_node_readout(model, t) for t in names}
        with torch.no_grad():
            for linear in linears.values():
                linear.bias += 1.0
            after = adapter.evaluate(adapter.rotated_systems(structure, eye), names)
            for linear in linears.values():
                linear.bias -= 1.0
        evaluations += 2
        for name in names:
            kind = adapter.kinds[name]
            average = averages[name].to(context.dtype)  # (samples, ...)
            copies = average[None].expand(len(context.matrices), *average.shape)
            invariant = torch.einsum("g,g...->...", context.weights,
                                     kind.back_transform(copies, context.matrices))
            offset = (average - invariant).reshape(len(average), -1)
            response = (after[name][0] - before[name][0]).to(offset).reshape(len(average), -1)
            numerator[name] = numerator.get(name, 0.0) + (response * offset).sum(0)
            denominator[name] = denominator.get(name, 0.0) + response.square().sum(0)
    changes = {}
    for name in numerator:
        linear = _first_node_readout(model, name)
        shift = numerator[name] / denominator[name].clamp(min=torch.finfo(context.dtype).tiny)
        if shift.numel() != linear.bias.numel():
            raise ValueError(f"{name}: an offset of {shift.numel()} components for a bias "
                             f"of {linear.bias.numel()}")
        with torch.no_grad():
            linear.bias -= shift.to(linear.bias)
        changes[name] = float(shift.norm())
    return changes, evaluations


def output_shifts(original: PETAdapter, changed: Mapping[str, PETAdapter], structure,
                  rotation: torch.Tensor) -> dict[str, dict[str, torch.Tensor] | None]:
    """Per changed model, its outputs minus ``original``'s on ``structure``, per target,
    when that difference does not depend on the orientation, else None. A change of
    readout biases is such a difference: a node bias adds the same lab-frame value to
    every atom, an edge bias adds it weighted by a sum of cutoff functions of the
    distances. Checked on the identity and on ``rotation``, to 1e-10 of the outputs;
    the original is evaluated there once for all."""
    kinds, _ = original.names(structure, [], outputs=True)
    names = list(kinds)
    probes = torch.stack([torch.eye(3, dtype=rotation.dtype, device=rotation.device),
                          rotation]).to(original.dtype).to(original.device)
    before = original.evaluate(original.rotated_systems(structure, probes), names)
    return {key: _shift(before, adapter.evaluate(adapter.rotated_systems(structure, probes),
                                                 names))
            for key, adapter in changed.items()}


def _shift(before: Mapping[str, torch.Tensor],
           after: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
    """``after - before`` on the first probe, or None where it differs between the two."""
    shift = {}
    for name, value in before.items():
        difference = after[name] - value
        scale = max(float(value.abs().max()), float(after[name].abs().max()),
                    torch.finfo(value.dtype).tiny)
        if float((difference[0] - difference[1]).abs().max()) > 1e-10 * scale:
            return None
        shift[name] = difference[0]
    return shift


def output_shift(original: PETAdapter, changed: PETAdapter, structure,
                 rotation: torch.Tensor) -> dict[str, torch.Tensor] | None:
    """:func:`output_shifts` of one changed model."""
    return output_shifts(original, {"changed": changed}, structure, rotation)["changed"]


class GridOutputs:
    """The outputs of one model on every batch of one grid, kept as they are evaluated,
    so that a model that differs from it by an orientation-independent shift
    (:func:`output_shifts`) is analysed without a forward pass of its own."""

    def __init__(self, adapter: PETAdapter, structure,
                 predictor: RefitPredictor | None = None):
        kinds, _ = adapter.names(structure, [], outputs=True)
        self.adapter, self.structure, self.names = adapter, structure, list(kinds)
        self.predictor = predictor
        self.batches: list[tuple[torch.Tensor, dict[str, torch.Tensor]]] = []
        self.deltas: list[list[dict[str, torch.Tensor]]] = []

    def evaluate(self, g: torch.Tensor) -> dict[str, torch.Tensor]:
        systems = self.adapter.transformed(self.structure, g)
        if self.predictor is None:
            values = self.adapter.evaluate(systems, self.names)
        else:
            values, deltas = self.predictor.evaluate(systems, self.names)
            self.deltas.append(deltas)
        self.batches.append((g.clone(), {n: v.clone() for n, v in values.items()}))
        return values

    def refitted(self, j: int):
        """An ``evaluate`` for the ``j``-th refit of the predictor: the recorded
        batches plus that refit's output changes (the output is linear in the
        readout weights, :mod:`symlearn.pet.readout_refit`)."""
        shifts = iter(self.deltas)
        shifted = self.shifted({})

        def evaluate(g: torch.Tensor) -> dict[str, torch.Tensor]:
            values, delta = shifted(g), next(shifts)[j]
            return {name: values[name] + delta[name] if name in delta else values[name]
                    for name in self.names}

        return evaluate

    def shifted(self, shift: Mapping[str, torch.Tensor]):
        """An ``evaluate`` for the shifted model: the recorded batches, in the order
        recorded, plus ``shift``."""
        batches = iter(self.batches)

        def evaluate(g: torch.Tensor) -> dict[str, torch.Tensor]:
            recorded, values = next(batches)
            if not torch.equal(recorded, g):
                raise RuntimeError("a shifted model is analysed on another grid than the "
                                   "recorded one")
            return {name: values[name] + shift[name] if name in shift else values[name]
                    for name in self.names}

        return evaluate


def _rows(analysis, info: Mapping) -> list[dict]:
    return [row for row in input_rows(analysis, info) if row["table"] == "errors"]


def _projected_rows(adapter: PETAdapter, structure, context: GridContext,
                    rotations: torch.Tensor, batch_atoms: int,
                    purified_rows: list[dict]) -> list[dict]:
    """The projected model's rows, from the purified model's rows of this structure:
    the accuracy of ``Pi`` (its symmetrized error on the grid; on the input as given
    too, since ``Pi`` is its prediction) and the equivariance error of
    ``rho(h)^-1 Pi(h x)`` over the random ``h``."""
    means: dict[tuple, list[torch.Tensor]] = {}
    for h in rotations:
        analysis = adapter.analyse(structure, context.shifted(h), layers=[],
                                   batch_atoms=batch_atoms, exact_outputs=False)
        for name, per_irrep in analysis.outputs.items():
            for irrep, stats in per_irrep.items():
                means.setdefault((name, irrep), []).append(stats.mean)
    rows = []
    for row in purified_rows:
        stacked = torch.stack(means[(row["name"], (row["o3_lambda"], row["o3_sigma"]))])
        variance = stacked.var(dim=0, correction=1).mean(-1)  # per sample
        rows.append(_symmetrized(row, equivariance_mse=float(variance.mean())))
    return rows


def _symmetrized(row: dict, equivariance_mse: float = np.nan) -> dict:
    """A row of the projected model from a row of the model it projects."""
    return dict(row, equivariance_mse=equivariance_mse, accuracy_mse=row["symmetrized_mse"],
                as_given_mse=row["symmetrized_mse"])


def _stage_table(rows: list[dict], check_rows: list[dict], stage: str, estimate: str,
                 check: QuadratureCheck, setup_evaluations: int,
                 per_prediction: int, mu: float = np.nan) -> pd.DataFrame:
    def named(rows):
        frame = pd.DataFrame(rows)
        return frame.assign(name=frame["name"].map(table_name)) if len(frame) else frame

    print(f"stage {stage}" + ("" if np.isnan(mu) else f", mu {mu:g}") + ":", flush=True)
    table, _ = checked_tables(named(rows), named(check_rows), "structure", check)
    table.insert(3, "stage", stage)
    return table.assign(mu=float(mu), equivariance_estimate=estimate,
                        setup_evaluations=setup_evaluations,
                        evaluations_per_prediction=per_prediction)[PURIFICATION_COLUMNS]


def training_structures(adapter: PETAdapter, path: str, n: int | None, seed: int,
                        labels: bool = False) -> list:
    """A seeded random subset of ``n`` training structures (None: all), prepared for
    ``adapter``; with their references when ``labels``."""
    from ..data.extxyz import count_frames, frame_labels, iter_frames

    n_frames = count_frames(path)
    chosen = select_structures(n_frames, n_frames if n is None else n, seed)
    keep = np.zeros(n_frames, dtype=bool)
    keep[chosen] = True
    return [adapter.structure(index, atoms,
                              frame_labels(atoms, path, index) if labels else None)
            for index, atoms in iter_frames(path, keep)]


def storage_dtype(checkpoint: str, refit: ReadoutRefit) -> torch.dtype | None:
    """The dtype the checkpoint stores the refitted readouts in (None: none)."""
    from ..checkpoints import read_checkpoint

    state = read_checkpoint(checkpoint)["model_state_dict"]
    names = list(refit.state_entries({t: 0.0 * f.w0 for t, f in refit.fits.items()}))
    return state[names[0]].dtype if names else None


def save_refit_checkpoint(source: str, out: str, entries: Mapping[str, torch.Tensor]) -> None:
    """Write ``source``'s checkpoint with the readout ``entries`` replaced (atomically),
    in the model weights an analysis and a restart load and in the best-model weights
    export loads: an ordinary PET checkpoint of the refitted model."""
    from ..checkpoints import read_checkpoint
    from ..errors import CheckpointError
    from ..io import atomic_path

    checkpoint = read_checkpoint(source)
    for key in ("model_state_dict", "best_model_state_dict"):
        state = checkpoint.get(key)
        if state is None:
            continue
        missing = sorted(set(entries) - set(state))
        if missing:
            raise CheckpointError(f"{source}: {key} lacks {', '.join(missing)}")
        for name, value in entries.items():
            state[name] = value.detach().to(dtype=state[name].dtype).clone()
    with atomic_path(Path(out)) as tmp:
        torch.save(checkpoint, tmp)


def _verify_refit(path: str, original: PETAdapter, predictor: RefitPredictor, j: int,
                  structure, rotation: torch.Tensor) -> float:
    """The largest difference, relative to the outputs, between the saved refit
    evaluated on ``structure`` (as given and turned by ``rotation``) and the outputs the
    tables use for it (the original's plus the predicted change)."""
    from .analyse import load_pet

    saved = PETAdapter(load_pet(path, original.device, original.dtype), layers=[])
    kinds, _ = original.names(structure, [], outputs=True)
    names = list(kinds)
    g = torch.stack([torch.eye(3, dtype=rotation.dtype), rotation]).to(original.dtype)
    predictor.begin(structure, names)
    values, deltas = predictor.evaluate(original.rotated_systems(structure, g), names)
    actual = saved.evaluate(saved.rotated_systems(structure, g), names)
    worst = 0.0
    for name in names:
        expected = values[name] + deltas[j].get(name, 0.0)
        scale = max(float(expected.abs().max()), torch.finfo(expected.dtype).tiny)
        worst = max(worst, float((actual[name] - expected).abs().max()) / scale)
    return worst


def purify_checkpoint(checkpoint: str, structures: str, out: str, settings: Mapping,
                      n_rotations: int, seed: int, device: str = "cpu",
                      threads: int | None = None, train: str | None = None,
                      n_offset_structures: int = 16, refit_mu: Sequence[float] = (),
                      refit_structures: int | None = None,
                      refit_checkpoint: str | None = None,
                      structures_out: str | None = None) -> pd.DataFrame:
    """Accuracy and A of the stages of one checkpoint (``offset_removed`` and
    ``readout_refit``, one set of rows per ``refit_mu``, need the ``train``
    structures); writes the table to ``out`` (atomically) and returns it, the chosen
    refit's checkpoint to ``refit_checkpoint`` and the per-structure rows of every
    stage (the bootstrap's raw material) to ``structures_out`` when given."""
    import time

    from ..data.extxyz import frame_labels
    from ..io import atomic_path
    from ..symmetry.quadrature import haar_o3

    start = time.perf_counter()
    mus = [float(mu) for mu in refit_mu] if train is not None else []
    if any(not (np.isfinite(mu) and mu >= 0) for mu in mus):
        raise ValueError(f"refit_mu: {list(refit_mu)} has a weight that is negative or "
                         "not finite")
    setup = setup_checkpoint(checkpoint, structures, settings, device, threads, layers=[])
    context, check = setup.context, setup.check
    check_context = setup.check_context()
    checked = setup.checked()
    n_grid = context.quadrature.n_rotations
    original = setup.adapter
    purified = PETAdapter(copy.deepcopy(original.model), layers=[])
    removed = remove_covariant_biases(purified.model, context)
    batch_atoms = int(settings["batch_atoms"])
    print(setup.describe(checkpoint, structures, settings), flush=True)
    print("readout bias removed (norm per target): "
          + ", ".join(f"{k} {v:.3g}" for k, v in removed.items()), flush=True)
    offset_free = PETAdapter(copy.deepcopy(original.model), layers=[])
    offset_evaluations = 0
    refit = ReadoutRefit(original) if mus else None
    if refit is not None:
        on = training_structures(original, train, refit_structures, seed, labels=True)
        for structure in on:
            refit.add_as_given(structure)
        print(f"readout refit: squared error on {len(on)} training structures as given "
              f"({refit.evaluations} evaluations)", flush=True)
    if train is not None:
        fitted_on = training_structures(offset_free, train, n_offset_structures, seed)
        shifts, offset_evaluations = remove_constant_offsets(offset_free, fitted_on,
                                                             context, batch_atoms, refit)
        print(f"lab-frame offset removed, fitted on {len(fitted_on)} training structures "
              f"of {train} ({offset_evaluations} evaluations; bias change per target: "
              + ", ".join(f"{k} {v:.3g}" for k, v in shifts.items()) + ")", flush=True)
    predictor, refit_setup = None, 0
    if refit is not None:
        refit_setup = refit.evaluations
        changes, ratios = refit.solve(mus, storage_dtype(checkpoint, refit))
        predictor = refit.predictor(changes)
        print(f"readout refit: A^2 on the grid of the same {len(fitted_on)} structures "
              f"({refit_setup} evaluations in all); mu scaled by tr H_mse / tr H_A per "
              "target: " + ", ".join(f"{k} {v:.3g}" for k, v in ratios.items())
              + "".join(f"; {note}" for note in refit.notes), flush=True)
    rng = np.random.default_rng(seed)
    rotations = torch.as_tensor(haar_o3(n_rotations, rng))
    exact = setup.exact_outputs
    models = [("original", original), ("bias_removed", purified)]
    if train is not None:
        models.append(("offset_removed", offset_free))
    refits = [(STAGES[-1], j) for j in range(len(mus))]

    rows = {stage: [] for stage in [*STAGES, *refits]}
    check_rows = {stage: [] for stage in [*STAGES, *refits]}
    derived = 0
    for index in setup.selected:
        atoms = setup.frames[index]
        labels = frame_labels(atoms, structures, index)
        info = {"structure": index}
        # one system, neighbour list and references for every model (same inputs)
        structure = original.structure(index, atoms, labels)
        grids = [(context, exact, rows)]
        if index in checked:
            grids.append((check_context, resolves_variances(
                check_context.quadrature.exactness, original.output_lambda_max), check_rows))
        # the bias stages differ from the original by a constant per atom: their
        # outputs on a grid are the original's plus that shift, one forward pass for all
        shifts = output_shifts(original, dict(models[1:]), structure, rotations[0])
        derived += sum(shift is not None for shift in shifts.values())
        if predictor is not None:
            predictor.begin(structure, original.names(structure, [], outputs=True)[0])
        for grid, grid_exact, sink in grids:
            # the refits' outputs: the original's plus a change linear in its features
            recorded = GridOutputs(original, structure, predictor)
            for stage, adapter in models:
                shift = shifts.get(stage)
                evaluate = (recorded.evaluate if stage == "original"
                            else None if shift is None else recorded.shifted(shift))
                analysis = adapter.analyse(structure, grid, layers=[],
                                           batch_atoms=batch_atoms, exact_outputs=grid_exact,
                                           evaluate=evaluate)
                sink[stage] += _rows(analysis, info)
            for key in refits:
                analysis = original.analyse(structure, grid, layers=[],
                                            batch_atoms=batch_atoms, exact_outputs=grid_exact,
                                            evaluate=recorded.refitted(key[1]))
                sink[key] += _rows(analysis, info)
        bias_rows = [r for r in rows["bias_removed"] if r["structure"] == index]
        rows["projected"] += _projected_rows(purified, structure, context, rotations,
                                             batch_atoms, bias_rows)
        if index in checked:
            check_rows["projected"] += [_symmetrized(r) for r in check_rows["bias_removed"]
                                        if r["structure"] == index]

    print(f"{derived} of {(len(models) - 1) * len(setup.selected)} bias-stage analyses "
          "derived from the original's outputs (an orientation-independent shift)",
          flush=True)
    costs = {"original": (0, 1), "bias_removed": (0, 1),
             "offset_removed": (offset_evaluations, 1), "projected": (0, n_grid)}
    tables = [_stage_table(rows[stage], check_rows[stage], stage,
                           "random_rotations" if stage == "projected" else "quadrature",
                           check, *costs[stage])
              for stage in STAGES[:-1] if rows[stage]]
    tables += [_stage_table(rows[key], check_rows[key], STAGES[-1], "quadrature", check,
                            refit_setup, 1, mus[key[1]]) for key in refits if rows[key]]
    table = pd.concat(tables, ignore_index=True)
    if structures_out is not None:
        per_structure = pd.concat(
            [pd.DataFrame(rows[stage]).assign(stage=stage, mu=np.nan)
             for stage in STAGES[:-1] if rows[stage]]
            + [pd.DataFrame(rows[key]).assign(stage=STAGES[-1], mu=mus[key[1]])
               for key in refits if rows[key]], ignore_index=True)
        per_structure["name"] = per_structure["name"].map(table_name)
        with atomic_path(Path(structures_out)) as tmp:
            per_structure.to_parquet(tmp, index=False)
    if predictor is not None:
        _save_chosen(table, mus, refit, changes, checkpoint, refit_checkpoint, original,
                     setup, structures, rotations[0])
    with atomic_path(Path(out)) as tmp:
        table.to_csv(tmp, index=False)
    print(f"done in {time.perf_counter() - start:.1f} s", flush=True)
    return table


def _save_chosen(table: pd.DataFrame, mus: list[float], refit: ReadoutRefit, changes: list,
                 checkpoint: str, out: str | None, original: PETAdapter, setup,
                 structures: str, rotation: torch.Tensor) -> None:
    """Choose each output's refit (:func:`symlearn.table_schemas.refit_choices`; an
    output no mu keeps within the factor stays as trained), save the model they make to
    ``out``, and check it against the table's outputs on the first test structure."""
    from ..data.extxyz import frame_labels

    choices = refit_choices(table)
    names = {table_name(t): t for t in refit.fits}  # the tables drop metatrain's mtt::
    chosen = {}
    for target, (mu, ratio) in choices.items():
        if mu is None:
            print(f"readout refit: {target}: no mu keeps the test RMSE (as given) within "
                  f"{REFIT_RMSE_FACTOR} x the original's; left as trained", flush=True)
            continue
        chosen[names[target]] = changes[mus.index(mu)][names[target]]
        print(f"readout refit: {target}: chosen mu {mu:g} (test RMSE as given {ratio:.3g} "
              "x the original's)", flush=True)
    if out is None:
        return
    save_refit_checkpoint(checkpoint, out, refit.state_entries(chosen))
    index = setup.selected[0]
    atoms = setup.frames[index]
    structure = original.structure(index, atoms, frame_labels(atoms, structures, index))
    worst = _verify_refit(out, original, refit.predictor([chosen]), 0, structure, rotation)
    print(f"readout refit: saved {out}; its outputs match the table's to {worst:.1e} "
          "(relative)", flush=True)
    if not worst < 1e-8:
        raise RuntimeError(f"{out}: the saved refit's outputs differ from those the table "
                           f"describes by {worst:.3g} (relative); the readout is not the "
                           "linear map the refit assumes")
