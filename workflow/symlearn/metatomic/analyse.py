"""The metatomic family's adapter: any exported ``AtomisticModel`` on the O(3) grid.

One structure at a time, its neighbour list is computed once and rotated with it
(:mod:`symlearn.data.rotated_systems`), and as many rotated copies as fit in
``batch_atoms`` atoms go through one call of the model. Conservative forces and the
virial stress come from one backward pass of the copies' summed energies: the copies
are independent, so each copy's gradient is its own. The shared driver
(:mod:`symlearn.analyse.driver`) does the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.extxyz import optional_labels
from ..data.rotated_systems import CopyPool, differentiable_copies, per_copy
from ..symmetry import InputAnalysis, analyse_input
from .model import CONSERVATIVE_OUTPUTS, PERIODIC_ONLY, LoadedModel, add_spherical_outputs

#: the outputs in energy units (converted to eV), and the references they are judged on
ENERGY_OUTPUTS = {"energy": "energy", "non_conservative_force": "forces",
                  "conservative_force": "forces",
                  "non_conservative_stress": "stress", "conservative_stress": "stress"}


@dataclass
class Structure:
    """One input: the system with its neighbour list, its references and its copies."""

    index: int
    atoms: Any
    system: Any
    references: dict[str, torch.Tensor]
    pool: CopyPool

    @property
    def periodic(self) -> bool:
        return bool(self.atoms.pbc.all())

    @property
    def volume(self) -> float:
        return abs(float(np.linalg.det(np.asarray(self.atoms.cell))))


class MetatomicAnalysis:
    """The driver's adapter (:class:`symlearn.analyse.driver.Adapter`) for one model on
    the selected structures of one extxyz file."""

    input_column = "structure"

    def __init__(self, model: LoadedModel, frames: Mapping[int, Any], path: str,
                 batch_atoms: int = 1024, log=print):
        self.model = model
        self.frames = dict(frames)
        self.path = path
        self.batch_atoms = batch_atoms
        self.dtype = next(iter(model.module.parameters())).dtype
        self.device = next(iter(model.module.parameters())).device
        self.log = log
        self.unlabelled: list[str] = []

    # -- the adapter protocol -----------------------------------------------------------
    @property
    def layers(self) -> list[str]:
        return self.model.layers

    @property
    def output_lambda_max(self) -> int:
        return self.model.output_lambda_max

    def inputs(self) -> list:
        from ..analyse.driver import AnalysisInput

        stress = any(name in self.model.kinds for name in PERIODIC_ONLY)
        return [AnalysisInput(index, {"frame_id": int(atoms.info.get("frame_id", index)),
                                      "subset": str(atoms.info.get("subset", "")),
                                      "n_atoms": len(atoms)},
                              check_order=(stress and not atoms.pbc.all(), len(atoms)),
                              payload=atoms)
                for index, atoms in self.frames.items()]

    def passes(self, item, context) -> int:
        return 1

    def analyse(self, item, context, *, main: bool, exact_outputs: bool, progress):
        if "structure" not in item.cache:
            item.cache["structure"] = self.structure(item.key, item.payload)
        yield self.analyse_structure(item.cache["structure"], context,
                                     exact_outputs=exact_outputs, progress=progress)

    @staticmethod
    def table_name(name: str) -> str:
        return name

    def extra_tables(self, degree: int, check_degree: int | None) -> dict:
        return {}

    # -- the model on rotated copies ----------------------------------------------------
    def structure(self, index: int, atoms) -> Structure:
        """System, neighbour list and references (energy per atom, forces, stress on a
        periodic cell) of one structure."""
        from metatomic.torch import systems_to_torch
        from metatrain.utils.neighbor_lists import get_system_with_neighbor_lists

        system = systems_to_torch(atoms, dtype=self.dtype, device=self.device)
        system = get_system_with_neighbor_lists(system, self.model.neighbor_lists)
        labels, why = optional_labels(atoms, self.path, index)
        refs = {}
        if labels is None:
            self.unlabelled.append(why)
            if len(self.unlabelled) == 1:
                self.log(f"{why}: A and B are computed, the accuracy columns stay empty",
                         flush=True)
        else:
            def tensor(x):
                return torch.as_tensor(np.asarray(x), dtype=self.dtype, device=self.device)

            values = {"energy": tensor([[labels.energy / len(atoms)]]),
                      "forces": tensor(labels.forces),
                      "stress": None if labels.stress is None else tensor(labels.stress)[None]}
            for name in self.model.kinds:
                reference = values.get(ENERGY_OUTPUTS.get(name, ""))
                if reference is not None:
                    refs[name] = reference
        return Structure(index, atoms, system, refs, CopyPool(system))

    def names(self, structure: Structure) -> dict:
        """The outputs analysed for A on this structure (a stress on periodic cells
        only)."""
        return {name: kind for name, kind in self.model.kinds.items()
                if structure.periodic or name not in PERIODIC_ONLY}

    def evaluate(self, structure: Structure, g: torch.Tensor,
                 names: Sequence[str]) -> dict[str, torch.Tensor]:
        """Responses (copies, samples, ...) per name for the copies ``g x``: energies per
        atom, energies, forces and stresses in eV and angstrom."""
        from metatomic.torch import ModelOutput

        model = self.model
        n = len(g)
        direct = [name for name in names if name not in CONSERVATIVE_OUTPUTS]
        derived = [name for name in names if name in CONSERVATIVE_OUTPUTS]
        requests = {model.module_name(name):
                    ModelOutput(sample_kind=model.sample_kinds.get(name, "atom"))
                    for name in direct}
        out: dict[str, torch.Tensor] = {}
        if derived:
            requests["energy"] = ModelOutput(sample_kind="system")
            with torch.enable_grad():
                systems, positions, eps = differentiable_copies(
                    structure.system, g, strain="conservative_stress" in derived)
                raw = model.module(systems, requests, None)
                energy = per_copy("energy", raw["energy"].block(), n)
                wrt = [positions] + ([eps] if eps is not None else [])
                grads = torch.autograd.grad(energy.sum(), wrt)
            if "conservative_force" in derived:
                out["conservative_force"] = -grads[0] * model.energy_factor
            if "conservative_stress" in derived:
                out["conservative_stress"] = (grads[1] / structure.volume)[:, None] * (
                    model.energy_factor)
        else:
            with torch.inference_mode():
                raw = model.module(structure.pool(g), requests, None)
        for name in direct:
            values = per_copy(name, raw[model.module_name(name)].block(), n).detach()
            if name == "energy":
                values = values / len(structure.atoms)
            if name in ENERGY_OUTPUTS:
                values = values * model.energy_factor
            out[name] = values
        return out

    def analyse_structure(self, structure: Structure, context, *,
                          exact_outputs: bool = True, progress=None) -> InputAnalysis:
        """A for the outputs and B for the layers on every grid point."""
        kinds = self.names(structure)
        names = list(dict.fromkeys([*kinds, *self.layers]))
        references = {k: v for k, v in structure.references.items() if k in kinds}
        return analyse_input(
            lambda g: self.evaluate(structure, g, names), context, outputs=kinds,
            features=self.layers, references=references, exact_outputs=exact_outputs,
            batch_size=context.copies_per_batch(len(structure.atoms), self.batch_atoms),
            progress=progress)

    def probe(self) -> None:
        """Evaluate the first structure once, as given, for the outputs of unknown kind:
        one that is a single spherical block is analysed for A; the rest are logged as
        skipped."""
        from metatomic.torch import ModelOutput

        unknown = [n for n, why in self.model.skipped.items() if why.startswith("no known")]
        if unknown and self.frames:
            first = next(iter(self.frames))
            structure = self.structure(first, self.frames[first])
            eye = torch.eye(3, dtype=self.dtype, device=self.device)[None]
            probe = {}
            for name in unknown:
                try:
                    with torch.inference_mode():
                        request = self.model.module_name(name)
                        probe[name] = self.model.module(
                            structure.pool(eye), {request: ModelOutput(sample_kind="atom")},
                            None)[request]
                except Exception:  # an output that cannot be evaluated alone is skipped
                    continue
            add_spherical_outputs(self.model, probe)
        for name, why in self.model.skipped.items():
            self.log(f"skipped output {name}: {why}", flush=True)


def analyse_metatomic_model(model_path: str, structures: str, out_dir: str,
                            settings: Mapping[str, Any], device: str = "cpu",
                            threads: int | None = None, progress: bool = True,
                            log=print) -> dict:
    """A and B of one exported model on the selected structures, with the quadrature
    check; writes ``errors.csv``, ``spectrum.csv`` and ``structures.parquet`` into
    ``out_dir`` (each atomically), through the shared driver."""
    from ..analyse.driver import Grids, analyse_checkpoint, selected_frames, writable_folder
    from ..cluster import resolve_device, use_threads
    from ..symmetry import DTYPES
    from ..symmetry.degrees import grid_degree
    from .model import check_types, load_model

    writable_folder(out_dir)
    use_threads(threads)
    device = resolve_device(device)
    dtype = DTYPES[settings["dtype"]]
    model = load_model(model_path, settings.get("forces", "conservative"),
                       settings.get("outputs"), settings.get("layers"), dtype, device)
    n_frames, frames = selected_frames(structures, settings["n_structures"],
                                       settings["seed"])
    for index, atoms in frames.items():
        check_types(model, atoms, structures, index)
    adapter = MetatomicAnalysis(model, frames, structures, int(settings["batch_atoms"]), log)
    adapter.probe()
    lambda_max = int(settings["lambda_max"])
    grids = Grids.build(grid_degree(settings.get("grid_degree"), lambda_max,
                                    model.output_lambda_max), settings, dtype, device)
    header = (f"model {model_path}: {len(frames)} of {n_frames} structures of "
              f"{structures}; forces {model.forces}; outputs "
              f"{', '.join(model.kinds) or 'none'}; {settings['dtype']} on {device}")
    summary = analyse_checkpoint(adapter, grids, out_dir, label=Path(model_path).stem,
                                 header=header, per_input_table="structures.parquet",
                                 progress=progress, log=log)
    summary["unlabelled"] = len(adapter.unlabelled)
    return summary
