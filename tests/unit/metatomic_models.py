# ruff: noqa: UP006, UP035, UP045  (TorchScript reads typing.List, Dict, Optional)
"""Small exported metatomic models with known symmetry, for the tests and benchmarks of
the metatomic family.

``PairModel``: an energy that is a sum of a smooth function of the interatomic
distances, so exactly O(3) invariant; ``tilt`` adds ``tilt * u . sum_i x_i`` (u = z),
which is not. Its ``feature`` output holds per-atom sums of two functions of the distances
(invariant).
"""


from typing import Dict, List, Optional

import torch
from metatensor.torch import Labels, TensorBlock, TensorMap
from metatomic.torch import (
    AtomisticModel,
    ModelCapabilities,
    ModelMetadata,
    ModelOutput,
    NeighborListOptions,
    System,
)


class PairModel(torch.nn.Module):
    def __init__(self, cutoff: float = 4.5, tilt: float = 0.0, energy: bool = True):
        super().__init__()
        self.cutoff = cutoff
        self.tilt = tilt
        self.energy = energy
        self.options = NeighborListOptions(cutoff=cutoff, full_list=False, strict=True)
        self.register_buffer("u", torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
        self.scale = torch.nn.Parameter(torch.tensor(1.0, dtype=torch.float64))

    def requested_neighbor_lists(self) -> List[NeighborListOptions]:
        return [self.options]

    def forward(self, systems: List[System], outputs: Dict[str, ModelOutput],
                selected_atoms: Optional[Labels] = None) -> Dict[str, TensorMap]:
        energies: List[torch.Tensor] = []
        features: List[torch.Tensor] = []
        atoms: List[torch.Tensor] = []
        for s, system in enumerate(systems):
            pairs = system.get_neighbor_list(self.options)
            r = torch.sqrt(pairs.values.reshape(-1, 3).square().sum(dim=1))
            smooth = torch.where(r < self.cutoff, (1.0 - r / self.cutoff) ** 2,
                                 torch.zeros_like(r))
            pair = self.scale * torch.exp(-r) * smooth
            energy = pair.sum() + self.tilt * (system.positions @ self.u.to(
                system.positions.dtype)).sum()
            energies.append(energy.reshape(1))
            n = len(system)
            values = torch.zeros(n, 2, dtype=r.dtype, device=r.device)
            first = pairs.samples.column("first_atom")
            second = pairs.samples.column("second_atom")
            both = torch.stack([pair, r * smooth], dim=1)
            values = values.index_add(0, first, both).index_add(0, second, both)
            features.append(values)
            atoms.append(torch.stack([torch.full((n,), s, device=r.device),
                                      torch.arange(n, device=r.device)], dim=1))
        result: Dict[str, TensorMap] = {}
        device = systems[0].positions.device
        # Labels.single() cannot be saved by TorchScript here (torch 2.13)
        single = Labels(["_"], torch.zeros(1, 1, dtype=torch.int32, device=device))
        if "energy" in outputs and self.energy:
            result["energy"] = TensorMap(single, [TensorBlock(
                torch.cat(energies).reshape(-1, 1),
                Labels(["system"], torch.arange(len(systems), device=device).reshape(-1, 1)),
                [], Labels(["energy"], torch.zeros(1, 1, dtype=torch.int32, device=device)))])
        if "feature" in outputs:
            result["feature"] = TensorMap(single, [TensorBlock(
                torch.cat(features), Labels(["system", "atom"], torch.cat(atoms).to(torch.int32)),
                [], Labels(["feature"], torch.arange(2, device=device).reshape(-1, 1)))])
        return result


def export_pair_model(path, tilt: float = 0.0, energy: bool = True,
                      atomic_types: Optional[List[int]] = None,
                      length_unit: str = "angstrom") -> str:
    """Save a :class:`PairModel` as an exported AtomisticModel file."""
    outputs = {"feature": ModelOutput(sample_kind="atom")}
    if energy:
        outputs["energy"] = ModelOutput(unit="eV", sample_kind="atom")
    module = PairModel(tilt=tilt, energy=energy).eval()
    capabilities = ModelCapabilities(
        outputs=outputs, atomic_types=atomic_types or list(range(1, 95)),
        interaction_range=4.5, length_unit=length_unit, supported_devices=["cpu"],
        dtype="float64")
    model = AtomisticModel(module, ModelMetadata(), capabilities)
    model.save(str(path))
    return str(path)
