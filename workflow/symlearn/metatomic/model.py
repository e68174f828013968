"""An exported metatomic model (``AtomisticModel``, as ``mtt export`` writes it), loaded
for the analysis, and what each of its outputs is.

- **A** (outputs with a standard meaning): ``energy`` (analysed per atom),
  ``non_conservative_force`` (``non_conservative_forces``, its older name, is the same
  output), ``non_conservative_stress``, and any output whose one block
  is a spherical irrep (keys ``o3_lambda``, ``o3_sigma``). With ``forces: conservative``
  the forces ``-dE/dx`` and the virial stress ``(1/V) dE/d strain`` of the energy,
  through autograd on every rotated copy (``conservative_force``,
  ``conservative_stress``).
- **B** (layers): ``feature`` (older name ``features``) and every ``mtt::aux::*`` and
  ``mtt::feature::*`` output.
- Every other output is named in the log as skipped.

The model is evaluated through its inner module (``AtomisticModel.module``), as
metatomic's ``SymmetrizedModel.wrap`` does: lengths must be in angstrom (a model in
another unit is refused, naming it), energies are converted to eV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import CheckpointError, DataError
from ..symmetry import OutputKind

#: output name -> (its kind, its sample kind); energies are analysed per atom
STANDARD_OUTPUTS = {
    "energy": (OutputKind("invariant"), "system"),
    "non_conservative_force": (OutputKind("vector"), "atom"),
    "non_conservative_stress": (OutputKind("rank2"), "system"),
}
#: other names of a standard output (metatrain's target names)
ALIASES = {"non_conservative_forces": "non_conservative_force", "features": "feature"}
#: the outputs derived from the energy through autograd
CONSERVATIVE_OUTPUTS = {
    "conservative_force": (OutputKind("vector"), "atom"),
    "conservative_stress": (OutputKind("rank2"), "system"),
}
FORCE_MODES = ("conservative", "non_conservative", "none")
#: outputs only a periodic structure has
PERIODIC_ONLY = ("non_conservative_stress", "conservative_stress")


def is_layer(name: str) -> bool:
    """Whether an output is an internal representation, projected for B."""
    return name == "feature" or name.startswith(("mtt::aux::", "mtt::feature::"))


@dataclass
class LoadedModel:
    """The model's inner module in the analysis precision, its declared outputs and
    what is analysed of them."""

    path: str
    module: torch.nn.Module
    capabilities: object
    neighbor_lists: list
    energy_factor: float  # the model's energy unit -> eV
    kinds: dict[str, OutputKind] = field(default_factory=dict)
    sample_kinds: dict[str, str] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    forces: str = "none"
    #: an output's name in the tables -> the name the inner module answers to
    module_names: dict[str, str] = field(default_factory=dict)

    def module_name(self, name: str) -> str:
        return self.module_names.get(name, name)

    @property
    def atomic_types(self) -> set[int]:
        return {int(t) for t in self.capabilities.atomic_types}

    @property
    def output_lambda_max(self) -> int:
        return max((kind.max_lambda for kind in self.kinds.values()), default=0)


def load_atomistic(path: str | Path, dtype: torch.dtype = torch.float64,
                   device: str | torch.device = "cpu") -> tuple:
    """The inner module of a metatomic model file, in ``dtype`` on ``device``, its
    capabilities, for each declared output the name the inner module answers to
    (metatomic renames outputs between versions, and ``AtomisticModel`` translates
    between the old and the new name), and the neighbour lists it asks for; a file that
    is not a model is refused in one line naming it."""
    import metatomic.torch as mta

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model file")
    try:
        model = mta.load_atomistic_model(str(path))
    except Exception as err:  # TorchScript, zip and metatomic errors alike
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path}: not a metatomic model ({detail[:200]})") from None
    capabilities = model.capabilities()
    unit = capabilities.length_unit
    try:
        factor = mta.unit_conversion_factor(unit, "angstrom") if unit else 1.0
    except Exception:
        factor = float("nan")
    if factor != 1.0:
        raise CheckpointError(f"{path}: the model's length unit is {unit!r}; the analysis "
                              "reads structures in angstrom and needs a model in angstrom "
                              "(export it with length_unit angstrom)")
    module = model.module.to(device=device, dtype=dtype).eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    inner = set(getattr(model, "_model_capabilities_outputs_names", capabilities.outputs))
    answered = {}
    for name in capabilities.outputs:
        if name not in inner:
            for other in (model._get_new_name(name), model._get_deprecated_name(name)):
                if other in inner:
                    answered[name] = other
    return module, capabilities, answered, list(model.requested_neighbor_lists())


def _energy_factor(capabilities) -> float:
    import metatomic.torch as mta

    unit = capabilities.outputs["energy"].unit if "energy" in capabilities.outputs else ""
    if not unit:
        return 1.0
    try:
        return float(mta.unit_conversion_factor(unit, "eV"))
    except Exception:
        return 1.0


def classify_outputs(model: LoadedModel, forces: str,
                     outputs: Sequence[str] | None = None,
                     layers: Sequence[str] | None = None) -> None:
    """Fill ``model``'s outputs analysed for A, its layers for B and the skipped ones;
    ``outputs`` and ``layers`` restrict them (None: everything the model declares)."""
    if forces not in FORCE_MODES:
        raise CheckpointError(f"forces must be one of {', '.join(FORCE_MODES)}, got "
                              f"{forces!r}")
    raw_names = list(model.capabilities.outputs.keys())
    present = {ALIASES.get(name, name): name for name in raw_names}
    kinds, samples, skipped = {}, {}, {}
    declared = []
    for name in raw_names:
        standard = ALIASES.get(name, name)
        if standard != name and standard in raw_names:
            skipped[name] = f"the same output as {standard}"
            continue
        if standard != name:  # only the older name is declared: analysed as the new one
            model.module_names.setdefault(standard, model.module_names.get(name, name))
        declared.append(standard)
    for name in declared:
        standard = name
        if standard in STANDARD_OUTPUTS:
            if standard.startswith("non_conservative") and forces == "conservative":
                skipped[name] = "forces: conservative analyses -dE/dx and the virial"
            elif standard.startswith("non_conservative") and forces == "none":
                skipped[name] = "forces: none"
            else:
                kinds[name], samples[name] = STANDARD_OUTPUTS[standard]
        elif not is_layer(name):
            skipped[name] = "no known transformation (not a standard or spherical output)"
    if forces == "conservative":
        if "energy" not in present:
            raise CheckpointError(
                f"{model.path}: forces: conservative needs an 'energy' output, and the "
                f"model declares {', '.join(declared) or 'none'}")
        for name, (kind, sample) in CONSERVATIVE_OUTPUTS.items():
            kinds[name], samples[name] = kind, sample
    elif forces == "non_conservative" and "non_conservative_force" not in present:
        raise CheckpointError(
            f"{model.path}: forces: non_conservative needs a 'non_conservative_force' "
            f"output, and the model declares {', '.join(declared) or 'none'}")
    found_layers = [name for name in declared if is_layer(name)]
    if outputs is not None:
        unknown = [o for o in outputs if o not in kinds and o not in skipped]
        if unknown or not any(o in kinds for o in outputs):
            raise CheckpointError(
                f"{model.path}: none of the outputs asked for ({', '.join(outputs)}) is "
                f"analysed for this model; it has {', '.join(kinds) or 'none'}")
        for name in list(kinds):
            if name not in outputs:
                skipped[name] = "not asked for (outputs)"
                del kinds[name], samples[name]
    if layers is not None:
        missing = [layer for layer in layers if layer not in found_layers]
        if missing:
            raise CheckpointError(
                f"{model.path}: layer(s) {', '.join(missing)} are not outputs of the "
                f"model; its layers: {', '.join(found_layers) or 'none'}")
        found_layers = list(layers)
    if not kinds and not found_layers:
        raise CheckpointError(
            f"{model.path}: none of the outputs asked for is declared by the model "
            f"(it declares {', '.join(declared) or 'none'}): nothing to analyse")
    model.kinds, model.sample_kinds, model.layers = kinds, samples, found_layers
    model.skipped = skipped
    model.forces = forces


def add_spherical_outputs(model: LoadedModel, probe: Mapping[str, object]) -> None:
    """Outputs with one spherical block (keys ``o3_lambda``, ``o3_sigma``, one ``o3_mu``
    component axis), seen on a probe evaluation, are analysed for A."""
    for name, tensor in probe.items():
        if not model.skipped.get(name, "").startswith("no known"):
            continue
        keys = tensor.keys
        if len(keys) != 1 or set(keys.names) != {"o3_lambda", "o3_sigma"}:
            continue
        block = tensor.block()
        if len(block.components) != 1 or block.components[0].names != ["o3_mu"]:
            continue
        lam, sigma = (int(keys.column(n)[0]) for n in ("o3_lambda", "o3_sigma"))
        model.kinds[name] = OutputKind("spherical", lam, sigma, basis="metatomic")
        model.sample_kinds[name] = "system" if "atom" not in block.samples.names else "atom"
        del model.skipped[name]


def load_model(path: str | Path, forces: str = "conservative",
               outputs: Sequence[str] | None = None, layers: Sequence[str] | None = None,
               dtype: torch.dtype = torch.float64,
               device: str | torch.device = "cpu") -> LoadedModel:
    """Load a model file and decide what is analysed of it."""
    module, capabilities, answered, neighbor_lists = load_atomistic(path, dtype, device)
    model = LoadedModel(str(path), module, capabilities, neighbor_lists,
                        _energy_factor(capabilities), module_names=answered)
    classify_outputs(model, forces, outputs, layers)
    return model


def check_types(model: LoadedModel, atoms, path: str, index: int) -> None:
    """A structure with an atomic type the model does not support is refused."""
    unknown = sorted({int(z) for z in atoms.numbers} - model.atomic_types)
    if unknown:
        raise DataError(f"{path}: frame {index} has atomic type(s) {unknown}, which the "
                        f"model {model.path} does not support (it supports "
                        f"{sorted(model.atomic_types)})")
