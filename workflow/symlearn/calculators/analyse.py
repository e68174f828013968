"""The ASE-calculator family's adapter: a calculator called on every rotated copy of a
structure, one copy per call.

A calculator shows only its outputs, so only A is measured (its energy per atom, forces
and, on periodic cells, stress, with the error of the structures as given and of the
orientation-averaged prediction); B needs internal features, which a calculator does not
expose, and the summary says so. One calculator object serves every call: nothing is
rebuilt per copy. A periodic structure's cell rotates with its positions. The shared
driver (:mod:`symlearn.analyse.driver`) does the rest, so the tables mean what the
pipeline's tables mean.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError, DataError
from ..symmetry import OutputKind, analyse_input

#: what a calculator is asked for, as the tables name it, with its representation; ASE
#: holds a stress as six Voigt components, so its antisymmetric (1,-1) part cannot be
#: seen through a calculator and is not reported (the metatomic door measures it)
OUTPUTS = {"energy": OutputKind("invariant"), "forces": OutputKind("vector"),
           "stress": OutputKind("symmetric_rank2")}
#: the stress exists on periodic cells only
PERIODIC_ONLY = ("stress",)
#: why the spectrum table is empty
NO_FEATURES = ("B (the character spectrum of internal features) is not measured: an ASE "
               "calculator exposes its outputs only")


def load_calculator(spec: str):
    """The calculator a ``package.module:factory`` spec makes (``factory()`` called once),
    refused with a message naming the spec when it cannot be imported or is not a
    calculator."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--calculator {spec!r}: give it as package.module:factory")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as err:
        raise ConfigError(f"--calculator {spec!r}: cannot be imported ({err})") from None
    if _is_calculator(factory):  # the spec names a calculator object itself
        return factory
    try:
        calculator = factory()
    except Exception as err:  # noqa: BLE001 (whatever the factory raises is named)
        raise ConfigError(f"--calculator {spec!r}: the factory failed: "
                          f"{type(err).__name__}: {err}") from None
    check_calculator(calculator, spec)
    return calculator


def _is_calculator(value) -> bool:
    from ase.calculators.calculator import BaseCalculator

    return isinstance(value, BaseCalculator)


def check_calculator(calculator, name: str) -> None:
    if not _is_calculator(calculator):
        raise ConfigError(f"calculator {name!r}: {type(calculator).__name__} is not an ASE "
                          "calculator (ase.calculators.calculator.BaseCalculator)")


def calculator_name(calculator) -> str:
    return type(calculator).__name__


class CalculatorAnalysis:
    """The driver's adapter (:class:`symlearn.analyse.driver.Adapter`) for one calculator
    on the selected structures."""

    input_column = "structure"
    layers: list[str] = []
    #: one rotated copy is one calculator call: the progress bar counts calls per second
    progress_unit = "call"

    def __init__(self, calculator, frames: Mapping[int, Any], path: str,
                 name: str | None = None, log=print, outputs: Sequence[str] | None = None):
        self.calculator = calculator
        self.name = name or calculator_name(calculator)
        self.frames = dict(frames)
        self.path = path
        self.log = log
        self.calls = 0
        self.seconds = 0.0
        self.outputs = self._checked_outputs(outputs)

    def _checked_outputs(self, outputs: Sequence[str] | None) -> tuple[str, ...]:
        """The outputs analysed: every one by default (the stress on periodic cells
        only); asked for by name, an unknown one, or the stress of a structure with no
        periodic cell, is refused, naming it."""
        if outputs is None:
            return tuple(OUTPUTS)
        unknown = [name for name in outputs if name not in OUTPUTS]
        if unknown or not outputs:
            raise ConfigError(f"calculator {self.name}: outputs {', '.join(unknown) or '[]'}"
                              f" not known; a calculator gives {', '.join(OUTPUTS)}")
        for index, atoms in self.frames.items():
            for name in PERIODIC_ONLY:
                if name in outputs and not atoms.pbc.all():
                    raise DataError(f"calculator {self.name}, {self.path} frame {index}: "
                                    f"{name} asked for, but the structure has no periodic "
                                    "cell to define it")
        return tuple(dict.fromkeys(outputs))

    def kinds(self, atoms) -> dict[str, OutputKind]:
        """The outputs of ``atoms`` analysed, with their representations."""
        return {name: OUTPUTS[name] for name in self.outputs
                if atoms.pbc.all() or name not in PERIODIC_ONLY}

    @property
    def output_lambda_max(self) -> int:
        return max(OUTPUTS[name].max_lambda for name in self.outputs)

    def inputs(self) -> list:
        from ..analyse.driver import AnalysisInput

        return [AnalysisInput(index, {"frame_id": int(atoms.info.get("frame_id", index)),
                                      "subset": str(atoms.info.get("subset", "")),
                                      "n_atoms": len(atoms)},
                              check_order=(not atoms.pbc.all(), len(atoms)), payload=atoms)
                for index, atoms in self.frames.items()]

    def passes(self, item, context) -> int:
        return 1

    def analyse(self, item, context, *, main: bool, exact_outputs: bool, progress):
        atoms = item.payload
        kinds = self.kinds(atoms)
        references = self.references(item.key, atoms, kinds, context.dtype)
        yield analyse_input(lambda g: self.evaluate(item.key, atoms, g, kinds),
                            context, outputs=kinds, references=references,
                            exact_outputs=exact_outputs, batch_size=64, progress=progress)

    @staticmethod
    def table_name(name: str) -> str:
        return name

    def extra_tables(self, degree: int, check_degree: int | None) -> dict:
        return {}

    # -- the calculator on rotated copies -----------------------------------------------
    def seconds_per_call(self, timed_calls: int = 3) -> tuple[float, int, int]:
        """The calculator's mean time per call on rotated copies of the structure of
        median size (after one call that pays any warm-up; each copy different, since a
        calculator returns a result it holds for the same positions without computing),
        with that structure's index and size: what the estimate at the start scales."""
        by_size = sorted(self.frames.items(), key=lambda item: (len(item[1]), item[0]))
        index, atoms = by_size[len(by_size) // 2]
        kinds = self.kinds(atoms)
        self.evaluate(index, atoms, _about_z([0.1]), kinds)
        start = time.perf_counter()
        self.evaluate(index, atoms, _about_z(0.2 + 0.3 * np.arange(timed_calls)), kinds)
        return (time.perf_counter() - start) / timed_calls, index, len(atoms)

    def references(self, index: int, atoms, kinds, dtype) -> dict[str, torch.Tensor]:
        """The frame's labels (energy per atom, forces, stress) where it has them."""
        from ..data.extxyz import optional_labels

        labels, why = optional_labels(atoms, self.path, index)
        if labels is None:
            self.log(f"{why}: A is computed, the accuracy columns stay empty", flush=True)
            return {}
        values = {"energy": [[labels.energy / len(atoms)]], "forces": labels.forces,
                  "stress": None if labels.stress is None else labels.stress[None]}
        return {name: torch.as_tensor(np.asarray(values[name]), dtype=dtype)
                for name in kinds if values.get(name) is not None}

    def evaluate(self, index: int, atoms, g: torch.Tensor,
                 kinds: Mapping[str, OutputKind]) -> dict[str, torch.Tensor]:
        """Responses (copies, samples, ...) per output for the copies ``g x``: energy per
        atom (eV/atom), forces (eV/Å), stress (eV/Å³), one calculator call per copy."""
        rotations = g.detach().cpu().numpy()
        out: dict[str, list[np.ndarray]] = {name: [] for name in kinds}
        where = f"calculator {self.name}, {self.path} frame {index}"
        for rotation in rotations:
            copy = atoms.copy()
            copy.positions = atoms.positions @ rotation.T
            if atoms.pbc.all():
                copy.set_cell(np.asarray(atoms.cell) @ rotation.T, scale_atoms=False)
            copy.calc = self.calculator
            start = time.perf_counter()
            try:
                values = {}
                if "energy" in kinds:
                    values["energy"] = np.array([[copy.get_potential_energy() / len(atoms)]])
                if "forces" in kinds:
                    values["forces"] = np.asarray(copy.get_forces())
                if "stress" in kinds:
                    values["stress"] = np.asarray(copy.get_stress(voigt=False))[None]
            except Exception as err:  # noqa: BLE001 (whatever the calculator raises is named)
                raise DataError(f"{where}: the calculator failed on a rotated copy: "
                                f"{type(err).__name__}: {err}") from None
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1
            for name in kinds:
                if not np.isfinite(values[name]).all():
                    raise DataError(f"{where}: the calculator returned a non-finite {name}")
                out[name].append(values[name])
        return {name: torch.as_tensor(np.stack(arrays), dtype=g.dtype, device=g.device)
                for name, arrays in out.items()}


def analyse_calculator(calculator, structures: str, out_dir: str,
                       settings: Mapping[str, Any], name: str | None = None,
                       progress: bool = True, log=print) -> dict:
    """A of one calculator on the selected structures, with the quadrature check; writes
    ``errors.csv``, ``spectrum.csv`` (empty: no features) and ``structures.parquet``
    into ``out_dir`` (each atomically), through the shared driver."""
    from ..analyse.driver import Grids, analyse_checkpoint, selected_frames, writable_folder
    from ..symmetry import DTYPES
    from ..symmetry.degrees import grid_degree

    writable_folder(out_dir)
    name = name or calculator_name(calculator)
    check_calculator(calculator, name)
    dtype = DTYPES[settings["dtype"]]
    n_frames, frames = selected_frames(structures, settings["n_structures"],
                                       settings["seed"])
    adapter = CalculatorAnalysis(calculator, frames, structures, name, log,
                                 outputs=settings.get("outputs"))
    lambda_max = int(settings["lambda_max"])
    grids = Grids.build(grid_degree(settings.get("grid_degree"), lambda_max,
                                    adapter.output_lambda_max), settings, dtype, "cpu")
    calls = _planned_calls(adapter, grids)
    per_call, timed, size = adapter.seconds_per_call()
    header = (f"calculator {name}: {len(frames)} of {n_frames} structures of "
              f"{structures}; outputs {', '.join(adapter.outputs)}"
              f"{' (the stress on periodic cells)' if 'stress' in adapter.outputs else ''}; "
              f"{calls:,} calculator calls, one per rotated copy; estimated time about "
              f"{_duration(per_call * calls)} (the calls alone, at the mean of 3 timed "
              f"calls on structure {timed}, {size} atoms, the median size); {NO_FEATURES}")
    summary = analyse_checkpoint(adapter, grids, out_dir, label=name, header=header,
                                 per_input_table="structures.parquet", progress=progress,
                                 log=log)
    summary["calls"] = adapter.calls
    summary["calls_per_second"] = (adapter.calls / adapter.seconds if adapter.seconds > 0
                                   else math.nan)
    log(f"{adapter.calls:,} calculator calls, {summary['calls_per_second']:.1f} per second "
        "in the calculator", flush=True)
    return summary


def _planned_calls(adapter: CalculatorAnalysis, grids) -> int:
    """The calls the grid and the quadrature check will make."""
    from ..analyse.driver import checked_inputs

    checked = checked_inputs(adapter.inputs(), grids)
    return len(adapter.frames) * grids.quadrature.n_rotations + (
        len(checked) * grids.check_context.quadrature.n_rotations if checked else 0)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _about_z(angles) -> torch.Tensor:
    """Rotations about z by ``angles`` (radians), as (copies, 3, 3)."""
    from scipy.spatial.transform import Rotation

    angles = np.asarray(angles, dtype=float)[:, None]  # (copies, one axis)
    return torch.as_tensor(Rotation.from_euler("z", angles).as_matrix(), dtype=torch.float64)
