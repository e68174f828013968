"""PET adapter: evaluate a metatrain checkpoint on the O(3) grid and feed the
symmetry core.

One structure at a time, the neighbour list is computed once and rotated with the
structure (pairs, cell shifts and distances are invariant under any rigid O(3)
transformation, only the pair vectors turn), and as many rotated copies as fit in
``batch_atoms`` atoms go through one forward pass. Internal features come from
metatrain's ``mtt::feature::<module path>`` hooks (node-like per atom, edge-like per
pair), the readout features from ``mtt::aux::<target>_last_layer_features``.
The same adapter evaluates the SOAP-BPNN control (:mod:`symlearn.pet.control`),
which has no PET modules: its layers are its features, readout features and outputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from ..analyse.tables import QuadratureCheck
from ..data.rotated_systems import per_copy
from ..errors import ConfigError, DataError
from ..symmetry import DTYPES, GridContext, InputAnalysis, OutputKind, analyse_input
from ..symmetry.degrees import grid_degree as symmetry_grid_degree
from ..symmetry.degrees import resolves_variances
from .control import control_layers, is_control, model_targets
from .geometric import CUSTOM_PREFIX

FEATURE_PREFIX = "mtt::feature::"

#: how each standard PET target transforms; energies are analysed per atom
TARGET_KINDS = {
    "energy": OutputKind("invariant"),
    "non_conservative_force": OutputKind("vector"),
    "non_conservative_stress": OutputKind("rank2"),
}
#: the targets predicted per structure (every other one is per atom)
SYSTEM_TARGETS = ("energy", "non_conservative_stress")
DENSITY = re.compile(re.escape(CUSTOM_PREFIX) + r"density_l(\d+)")


def sample_kind(name: str) -> str:
    """``system`` for the outputs predicted per structure, ``atom`` for every other
    output and feature."""
    return "system" if name in SYSTEM_TARGETS else "atom"


def target_kind(name: str) -> OutputKind | None:
    """How a target transforms: the standard ones, the geometric ones of
    :mod:`symlearn.pet.geometric` (``mtt::pseudoscalar``, (0, -1);
    ``mtt::density_l{lambda}``, (lambda, +1) in metatomic's basis, as metatrain stores
    them), else None."""
    if name in TARGET_KINDS:
        return TARGET_KINDS[name]
    if name == CUSTOM_PREFIX + "pseudoscalar":
        return OutputKind("pseudoscalar")
    if match := DENSITY.fullmatch(name):
        return OutputKind("spherical", int(match.group(1)), 1, basis="metatomic")
    return None


def load_pet(checkpoint: str, device: str | torch.device = "cpu",
             dtype: torch.dtype = torch.float64) -> torch.nn.Module:
    """The PET of a checkpoint, with the weights of that epoch, in eval mode."""
    import metatomic.torch  # noqa: F401  (registers the TorchScript classes)

    from .train import load_checkpoint

    model = load_checkpoint(checkpoint, context="restart")
    return model.to(device=device, dtype=dtype).eval()


def default_layers(model: torch.nn.Module) -> list[str]:
    """Every layer docs/symmetry.md asks for, in forward order: embeddings, each GNN layer's
    transformer layers and its node and edge outputs, the concatenated ``feature``
    output, each head's readout features, and the outputs themselves (a control:
    :func:`symlearn.pet.control.control_layers`)."""
    if is_control(model):
        return control_layers(model, [t for t in model_targets(model)
                                      if target_kind(t) is not None])
    names = [name for name, _ in model.backend.named_modules()]
    layers = [n for n in names if n.startswith("node_embedders.") and n.count(".") == 1]
    layers += [n for n in names if n == "edge_embedder"]
    n_gnn = sum(1 for n in names if n.startswith("gnn_layers.") and n.count(".") == 1)
    for i in range(n_gnn):
        prefix = f"gnn_layers.{i}"
        if f"{prefix}.edge_embedder" in names:
            layers.append(f"{prefix}.edge_embedder")
        transformer = [n for n in names
                       if n.startswith(f"{prefix}.trans.layers.") and n.count(".") == 4]
        for layer in transformer:
            layers += [f"{layer}_node", f"{layer}_edge"]
        layers += [f"{prefix}_node", f"{prefix}_edge"]
    targets = [t for t in model_targets(model) if target_kind(t) is not None]
    layers.append("feature")
    layers += [f"mtt::aux::{t.removeprefix(CUSTOM_PREFIX)}_last_layer_features"
               for t in targets]
    layers += targets
    return layers


def table_name(name: str) -> str:
    """The name a target or layer has in the tables: metatrain's ``mtt::`` prefix of the
    geometric targets dropped (``mtt::pseudoscalar`` -> ``pseudoscalar``, the key of
    the data it was read from); readout features keep their ``mtt::aux::`` names."""
    return name.removeprefix(CUSTOM_PREFIX) if target_kind(name) is not None else name


def request_name(layer: str) -> str:
    """The output name PET answers for a layer."""
    if layer == "feature" or layer.startswith("mtt::") or target_kind(layer) is not None:
        return layer
    return FEATURE_PREFIX + layer


@dataclass
class Structure:
    """One input: the system with its neighbour list, and its reference labels."""

    index: int
    atoms: Atoms
    system: object
    references: dict[str, torch.Tensor]
    _pool: object = None  # reusable transformed copies, see PETAdapter.transformed

    @property
    def n_atoms(self) -> int:
        return len(self.atoms)

    @property
    def periodic(self) -> bool:
        return bool(self.atoms.pbc.all())


class PETAdapter:
    """Evaluates one PET model on rotated copies of structures."""

    def __init__(self, model: torch.nn.Module, layers: Sequence[str] | None = None):
        from metatomic.torch import ModelOutput

        self.model = model
        self.dtype = next(model.parameters()).dtype
        self.device = next(model.parameters()).device
        self.targets = [t for t in model_targets(model) if target_kind(t) is not None]
        self.kinds = {t: target_kind(t) for t in self.targets}
        self.layers = list(default_layers(model) if layers is None else layers)
        if is_control(model):  # of analysis.pet.layers, a control answers its own
            own = default_layers(model)
            self.layers = [layer for layer in self.layers if layer in own]
        self._options = model.requested_neighbor_lists()
        self._outputs = {}
        for name in [*self.targets, *self.layers]:
            self._outputs[request_name(name)] = ModelOutput(sample_kind=sample_kind(name))
        self._check_layers()

    def _check_layers(self) -> None:
        from metatrain.pet.modules.diagnostic import FEATURIZER_INPUT_NAMES

        modules = {name for name, _ in getattr(self.model, "backend", self.model)
                   .named_modules()}
        modules |= set(FEATURIZER_INPUT_NAMES)
        supported = set(self.model.supported_outputs())
        for layer in self.layers:
            request = request_name(layer)
            if request.startswith(FEATURE_PREFIX):
                path = request[len(FEATURE_PREFIX):]
                base = path.removesuffix("_node").removesuffix("_edge")
                if path not in modules and base not in modules:
                    raise ValueError(f"layer {layer!r} is not a module of this PET; "
                                     "see repr(model.backend) for the module paths")
            elif request not in supported:
                raise ValueError(f"layer {layer!r} is not an output of this PET "
                                 f"(outputs: {', '.join(sorted(supported))})")

    @property
    def output_lambda_max(self) -> int:
        """The largest angular momentum among the model's outputs."""
        return max(kind.max_lambda for kind in self.kinds.values())

    def structure(self, index: int, atoms: Atoms, labels=None) -> Structure:
        """Prepare one structure: system, neighbour list and references (energy per
        atom, forces, stress on periodic cells, from ``labels`` of
        :func:`symlearn.data.extxyz.frame_labels`; the geometric targets the model
        predicts, from the structure's arrays)."""
        from metatomic.torch import systems_to_torch
        from metatrain.utils.neighbor_lists import get_system_with_neighbor_lists

        system = systems_to_torch(atoms, dtype=self.dtype, device=self.device)
        system = get_system_with_neighbor_lists(system, self._options)
        refs = {}
        if labels is not None:
            as_tensor = lambda x: torch.as_tensor(np.asarray(x), dtype=self.dtype,  # noqa: E731
                                                  device=self.device)
            refs["energy"] = as_tensor([[labels.energy / len(atoms)]])
            refs["non_conservative_force"] = as_tensor(labels.forces)
            if labels.stress is not None:
                refs["non_conservative_stress"] = as_tensor(labels.stress)[None]
        for name in self.targets:
            key = name.removeprefix(CUSTOM_PREFIX)  # the array the target was read from
            if name not in TARGET_KINDS and key in atoms.arrays:
                refs[name] = torch.as_tensor(atoms.arrays[key], dtype=self.dtype,
                                             device=self.device).reshape(len(atoms), -1)
        return Structure(index, atoms, system, refs)

    def rotated_systems(self, structure: Structure, g: torch.Tensor) -> list:
        """New copies of the structure transformed by each ``g``, reusing its neighbour
        list with the pair vectors transformed."""
        from ..data.rotated_systems import rotated_systems

        return rotated_systems(structure.system, g)

    def transformed(self, structure: Structure, g: torch.Tensor) -> list:
        """Like :meth:`rotated_systems`, but writing into copies made once per
        structure (:class:`symlearn.data.rotated_systems.CopyPool`)."""
        from ..data.rotated_systems import CopyPool

        if structure._pool is None:
            structure._pool = CopyPool(structure.system)
        return structure._pool(g)

    def names(self, structure: Structure, layers: Sequence[str] | None = None,
              outputs: bool = True) -> tuple[dict[str, OutputKind], list[str]]:
        """The targets analysed for A (``outputs=True``) and the layers for B on one
        structure: a stress has a meaning on periodic cells only."""
        layers = self.layers if layers is None else list(layers)
        if not structure.periodic:
            layers = [layer for layer in layers if layer != "non_conservative_stress"]
        kinds = {t: self.kinds[t] for t in self.targets
                 if outputs and (t != "non_conservative_stress" or structure.periodic)}
        return kinds, layers

    def requests(self, names: Sequence[str]) -> dict:
        """The ``ModelOutput`` requests PET answers for these targets and layers."""
        return {request_name(n): self._outputs[request_name(n)] for n in names}

    def evaluate(self, systems: list, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """Raw outputs, (copies, samples, ...) per name, for one batch of copies of one
        structure (energies per atom)."""
        with torch.inference_mode():
            raw = self.model(systems, self.requests(names))
        n_copies = len(systems)
        n_atoms = len(systems[0])
        out = {}
        for name in names:
            block = raw[request_name(name)].block()
            values = per_copy(name, block, n_copies)
            out[name] = values / n_atoms if name == "energy" else values
        return out

    def analyse(self, structure: Structure, context: GridContext, *,
                layers: Sequence[str] | None = None, outputs: bool = True,
                batch_atoms: int = 2048, progress: Callable[[int], None] | None = None,
                exact_outputs: bool = True,
                evaluate: Callable[[torch.Tensor], dict[str, torch.Tensor]] | None = None,
                ) -> InputAnalysis:
        """A for the targets (``outputs=True``; stress only on periodic cells) and B for
        ``layers`` (default: all) on every grid point. ``evaluate`` (g -> outputs per
        name, as :meth:`evaluate` gives them) stands in for this model's forward passes:
        purification derives a bias-shifted model's outputs from the original's."""
        kinds, layers = self.names(structure, layers, outputs)
        names = list(dict.fromkeys([*kinds, *layers]))

        def own(g: torch.Tensor) -> dict[str, torch.Tensor]:
            return self.evaluate(self.transformed(structure, g), names)

        evaluate = own if evaluate is None else evaluate

        return analyse_input(
            evaluate, context, outputs=kinds, features=layers,
            references={k: v for k, v in structure.references.items() if k in kinds},
            exact_outputs=exact_outputs,
            batch_size=self.copies_per_batch(structure, batch_atoms, context),
            progress=progress)

    @staticmethod
    def copies_per_batch(structure: Structure, batch_atoms: int, context: GridContext) -> int:
        """Copies per forward pass: as many as fit in ``batch_atoms`` atoms."""
        return context.copies_per_batch(structure.n_atoms, batch_atoms)

    def state_bytes(self, structure: Structure, lambda_max: int) -> dict[str, int]:
        """Memory each layer's character-projection state takes for this structure."""
        eye = torch.eye(3, dtype=self.dtype, device=self.device)[None]
        probe = self.evaluate(self.rotated_systems(structure, eye), self.layers)
        rows = sum((2 * lam + 1) ** 2 for lam in range(lambda_max + 1))
        size = torch.finfo(self.dtype).bits // 8
        return {name: 2 * rows * probe[name][0].numel() * size for name in self.layers}


def select_structures(n_total: int, n_select: int, seed: int) -> list[int]:
    """Indices of the structures to analyse (:func:`symlearn.analyse.driver.select_inputs`)."""
    from ..analyse.driver import select_inputs

    return select_inputs(n_total, n_select, seed)


def group_layers(sizes: Mapping[str, int], budget: int) -> list[list[str]]:
    """Split layers (in order) into passes whose character state fits ``budget`` bytes;
    a layer larger than the budget gets a pass of its own."""
    groups: list[list[str]] = [[]]
    used = 0
    for name, size in sizes.items():
        if groups[-1] and used + size > budget:
            groups.append([])
            used = 0
        groups[-1].append(name)
        used += size
    return groups


#: the largest angular momentum among the standard targets (the stress's lambda = 2 part)
TARGET_LAMBDA_MAX = max(kind.max_lambda for kind in TARGET_KINDS.values())


def grid_degree(settings: Mapping, output_lambda: int = TARGET_LAMBDA_MAX) -> int:
    """The grid degree of an analysis with these settings: their ``grid_degree`` (the
    workflow decides each run's, :mod:`symlearn.settings.grids`), else the smallest
    that resolves ``lambda_max`` without aliasing the outputs
    (:func:`symmetry.grid_degree`)."""
    return symmetry_grid_degree(settings.get("grid_degree"), int(settings["lambda_max"]),
                                output_lambda)


@dataclass
class CheckpointSetup:
    """What an analysis of one checkpoint works on: the model's adapter, the grid
    (resolving lambda_max and the model's outputs), the structures and the selection."""

    adapter: PETAdapter
    context: GridContext
    frames: dict  # index in the file -> structure, for the selected ones only
    selected: list[int]
    device: str
    n_frames: int  # structures in the file
    check: QuadratureCheck

    @property
    def exact_outputs(self) -> bool:
        """Whether the grid resolves the orbit averages of every output exactly."""
        return resolves_variances(self.quadrature.exactness, self.adapter.output_lambda_max)

    @property
    def quadrature(self):
        return self.context.quadrature

    def checked(self) -> list[int]:
        """The structures also analysed on the check grid: ``n_inputs`` of the selected,
        the smallest first (the finer grid costs more per atom than the whole rest), and
        periodic ones before them when the model predicts a stress (only they have it)."""
        if self.check.check_degree is None:
            return []
        stress = "non_conservative_stress" in self.adapter.targets
        order = sorted(self.selected, key=lambda i: (
            stress and not self.frames[i].pbc.all(), len(self.frames[i]), i))
        return self.check.checked(order)

    def check_context(self) -> GridContext | None:
        """The finer grid of the quadrature check (None when it is off)."""
        if self.check.check_degree is None:
            return None
        return GridContext(self.check.grid(self.check.check_degree), self.context.lambda_max,
                           self.context.dtype, self.context.device)

    def describe(self, checkpoint: str, structures: str, settings: Mapping) -> str:
        from ..analyse.driver import grid_notes

        q = self.quadrature
        check = self.check
        notes = grid_notes(q, self.context.lambda_max, self.adapter.output_lambda_max)
        return (f"{self.header(checkpoint, structures, settings)}; {q.describe()}; "
                f"lambda_max {self.context.lambda_max}; "
                f"{len(self.adapter.layers)} layers; quadrature check: "
                + (f"structure(s) {self.checked()} on degree {check.check_degree}"
                   if check.check_degree is not None else "off")
                + "".join(f"; {note}" for note in notes))

    def header(self, checkpoint: str, structures: str, settings: Mapping) -> str:
        """What is analysed, where and how precisely."""
        return (f"checkpoint {checkpoint}: {len(self.selected)} of {self.n_frames} "
                f"structures of {structures}; {settings['dtype']} on {self.device}")


def check_elements(model: torch.nn.Module, frames: Mapping[int, Atoms], structures: str,
                   checkpoint: str) -> None:
    """Refuse, naming the file, frame and element, a structure with an element the
    checkpoint was not trained on (PET would fail on it with an index error)."""
    from ase.data import chemical_symbols


    known = {int(z) for z in model.atomic_types}
    for index, atoms in frames.items():
        unknown = sorted({int(z) for z in atoms.numbers} - known)
        if unknown:
            raise DataError(
                f"{structures}: frame {index} has "
                f"{', '.join(chemical_symbols[z] for z in unknown)}, an element "
                f"{checkpoint} was not trained on (it knows "
                f"{', '.join(chemical_symbols[z] for z in sorted(known))})")


def setup_checkpoint(checkpoint: str, structures: str, settings: Mapping,
                     device: str = "cpu", threads: int | None = None,
                     layers: Sequence[str] | None = None,
                     figure_layers_only: bool = False) -> CheckpointSetup:
    """Load a checkpoint, build the grid its outputs need and select the structures
    (``analysis.pet`` settings). ``layers``: the layers for B (None: the settings');
    ``figure_layers_only``: fig3's (the settings' ``figure_layers``)."""
    from ..cluster import resolve_device, use_threads
    from ..data.extxyz import count_frames, iter_frames

    use_threads(threads)
    device = resolve_device(device)
    dtype = DTYPES[settings["dtype"]]
    lambda_max = int(settings["lambda_max"])
    model = load_pet(checkpoint, device, dtype)
    if figure_layers_only:
        layers = settings.get("figure_layers")
        if not layers:
            raise ConfigError("--settings: figure_layers_only asks for fig3's layers, and "
                              "the settings name none (figure_layers: the workflow "
                              "decides them, symlearn.settings.pet_layers)")
    adapter = PETAdapter(model, settings.get("layers") if layers is None else layers)
    geometric = any(t not in TARGET_KINDS for t in adapter.targets)
    check = QuadratureCheck.from_settings(
        grid_degree(settings, adapter.output_lambda_max), settings)
    quadrature = check.grid()
    quadrature.require(lambda_character=lambda_max)
    context = GridContext(quadrature, lambda_max, dtype, device)
    # only the selected structures are parsed: a test split may hold 10^4 of them
    n_frames = count_frames(structures)
    n_select = settings["n_structures"]
    if geometric and settings.get("geometric_n_structures") is not None:
        n_select = settings["geometric_n_structures"]
    selected = select_structures(n_frames, int(n_select), int(settings["seed"]))
    keep = np.zeros(n_frames, dtype=bool)
    keep[selected] = True
    frames = dict(iter_frames(structures, keep))
    check_elements(model, frames, structures, checkpoint)
    return CheckpointSetup(adapter, context, frames, selected, device, n_frames, check)


class PETCheckpointAnalysis:
    """The driver's adapter (:class:`symlearn.analyse.driver.Adapter`) for one PET
    checkpoint: its selected structures, each analysed in as many passes over the grid
    as its layers' character sums need to stay within ``memory_gb``."""

    input_column = "structure"

    def __init__(self, setup: CheckpointSetup, structures: str, settings: Mapping):
        self.setup = setup
        self.model = setup.adapter
        self.path = structures
        self.layers = self.model.layers
        self.output_lambda_max = self.model.output_lambda_max
        self.batch_atoms = int(settings["batch_atoms"])
        self.budget = int(float(settings["memory_gb"]) * 2**30)

    def inputs(self) -> list:
        from ..analyse.driver import AnalysisInput

        stress = "non_conservative_stress" in self.model.targets
        items = []
        for index in self.setup.selected:
            atoms = self.setup.frames[index]
            items.append(AnalysisInput(
                index, {"frame_id": int(atoms.info.get("frame_id", index)),
                        "subset": str(atoms.info.get("subset", "")), "n_atoms": len(atoms)},
                check_order=(stress and not atoms.pbc.all(), len(atoms)), payload=atoms))
        return items

    def _prepared(self, item) -> tuple[Structure, list[list[str]]]:
        """The structure (system, neighbour list, labels) and its layer passes, made once
        per input."""
        if "structure" not in item.cache:
            from ..data.extxyz import frame_labels

            atoms = item.payload
            structure = self.model.structure(item.key, atoms,
                                             frame_labels(atoms, self.path, item.key))
            groups = group_layers(self.model.state_bytes(structure, self.setup.context.lambda_max),
                                  self.budget)
            item.cache.update(structure=structure, groups=groups)
        return item.cache["structure"], item.cache["groups"]

    def passes(self, item, context) -> int:
        return len(self._prepared(item)[1])

    def analyse(self, item, context, *, main: bool, exact_outputs: bool, progress):
        structure, groups = self._prepared(item)
        for g, layers in enumerate(groups):
            yield self.model.analyse(structure, context, layers=layers, outputs=g == 0,
                                     batch_atoms=self.batch_atoms, progress=progress,
                                     exact_outputs=exact_outputs)

    @staticmethod
    def table_name(name: str) -> str:
        return table_name(name)

    def extra_tables(self, degree: int, check_degree: int | None) -> dict:
        return {}

    def as_given(self, item, info: Mapping) -> list[dict]:
        return as_given_rows(self.model, self._prepared(item)[0], info)


def analyse_pet_checkpoint(checkpoint: str, structures: str, out_dir: str,
                           settings: Mapping, device: str = "cpu",
                           threads: int | None = None, progress: bool = True,
                           figure_layers_only: bool = False) -> dict:
    """A and B of one checkpoint on the selected structures, and the quadrature check;
    writes ``errors.csv``, ``spectrum.csv`` and ``structures.parquet`` (the per-structure
    rows of both grids) into ``out_dir`` (each atomically), through the shared driver.
    ``figure_layers_only``: B of fig3's layers only (:func:`setup_checkpoint`)."""
    from pathlib import Path

    from ..analyse.driver import Grids, analyse_checkpoint, writable_folder

    writable_folder(out_dir)
    setup = setup_checkpoint(checkpoint, structures, settings, device, threads,
                             figure_layers_only=figure_layers_only)
    grids = Grids(setup.context, setup.check_context(), setup.check)
    header = setup.header(checkpoint, structures, settings)
    summary = analyse_checkpoint(PETCheckpointAnalysis(setup, structures, settings), grids,
                                 out_dir, label=Path(checkpoint).stem, header=header,
                                 per_input_table="structures.parquet", progress=progress)
    return {"structures": summary["inputs"], "copies": summary["copies"],
            "checked": summary["checked"], "seconds": summary["seconds"]}


def as_given_rows(adapter: PETAdapter, structure: Structure,
                  info: Mapping) -> list[dict]:
    """The per-structure rows of the test error on the structure as given alone: one
    forward pass, no grid. Each target irrep gets ``as_given_mse`` and
    ``reference_ms`` as the grid analysis computes them (the identity copy), and NaN
    for everything a grid measures (A, the orientation-averaged and the symmetrized
    error)."""
    kinds, _ = adapter.names(structure, [], outputs=True)
    kinds = {name: kind for name, kind in kinds.items() if name in structure.references}
    eye = torch.eye(3, dtype=adapter.dtype, device=adapter.device)[None]
    values = adapter.evaluate(adapter.rotated_systems(structure, eye), list(kinds))
    rows = []
    for name, kind in kinds.items():
        predicted = kind.split(values[name].to(adapter.dtype))
        expected = kind.split(structure.references[name][None].to(adapter.dtype))
        for (lam, sigma), part in predicted.items():
            z, y = part[0], expected[(lam, sigma)][0]
            d = z.shape[-1]
            rows.append(dict(info, table="errors", name=name, o3_lambda=lam,
                             o3_sigma=sigma, n_samples=len(z), equivariance_mse=np.nan,
                             accuracy_mse=np.nan, symmetrized_mse=np.nan,
                             as_given_mse=float(((z - y).square().sum(-1) / d).mean()),
                             reference_ms=float((y.square().sum(-1) / d).mean()),
                             output_ms=float((z.square().sum(-1) / d).mean())))
    return rows


def evaluate_pet_as_given(checkpoint: str, structures: str, out_dir: str,
                          settings: Mapping, device: str = "cpu",
                          threads: int | None = None) -> dict:
    """The test error of one checkpoint on the selected structures as given, without
    the grid (fig6 (a)'s learning curve), through the shared driver
    (:func:`symlearn.analyse.driver.evaluate_as_given`, which says what the tables
    hold): ``errors.csv``, an empty ``spectrum.csv`` and ``structures.parquet``."""
    from ..analyse.driver import evaluate_as_given, writable_folder

    writable_folder(out_dir)
    setup = setup_checkpoint(checkpoint, structures, settings, device, threads, layers=[])
    summary = evaluate_as_given(PETCheckpointAnalysis(setup, structures, settings),
                                out_dir, header=setup.header(checkpoint, structures,
                                                             settings),
                                per_input_table="structures.parquet")
    return {"structures": summary["inputs"], "copies": 1, "checked": 0,
            "seconds": summary["seconds"]}
