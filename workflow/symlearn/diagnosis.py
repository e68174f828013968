"""The Python door to a diagnosis: ``symlearn.diagnose(model, structures, **settings)``
returns the tables the command line writes, for a notebook or a test suite.

``model`` is a metatomic ``AtomisticModel`` (or the path of an exported one) or an ASE
calculator; ``structures`` a list of ``ase.Atoms`` (their calculator's energy, forces
and stress, when attached, are the labels) or the path of an extxyz file. The settings
are those of ``symlearn diagnose`` (``lambda_max``, ``grid_degree``, ``quadrature``,
``n_structures``, ``seed``, ``forces``, ``dtype``, ``batch_atoms``, ``threads``,
``outputs``, ``layers``), defaulting to the pipeline's ``analysis.metatomic``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ConfigError

#: the settings of a model file that a calculator refuses when given (one structure
#: per call, its own forces, no features)
CALCULATOR_REFUSES = ("forces", "layers", "batch_atoms")
#: the settings a diagnosis takes (the keys of ``symlearn diagnose``'s options)
SETTINGS = ("lambda_max", "grid_degree", "quadrature", "n_structures", "seed", "forces",
            "dtype", "batch_atoms", "threads", "outputs", "layers", "quadrature_check")


@dataclass
class Diagnosis:
    """What a diagnosis measured: ``errors`` (A and the errors per output part, with
    their quadrature errors), ``spectrum`` (B per layer; empty for a calculator, which
    shows no features), ``structures`` (the per-structure rows both are pooled from)
    and the grid it was measured on (``grid``, in words; ``degree``, None without a
    grid)."""

    errors: pd.DataFrame
    spectrum: pd.DataFrame
    structures: pd.DataFrame
    grid: str
    model: str
    features: bool = True
    degree: int | None = None

    def summary(self) -> str:
        """The table ``symlearn diagnose`` prints."""
        from .calculators.analyse import NO_FEATURES
        from .metatomic.diagnose import summary_text, symmetrized_rmse

        return summary_text(self.errors, self.spectrum,
                            no_layers=None if self.features else NO_FEATURES,
                            symmetrized=symmetrized_rmse(self.structures, self.degree))

    def to_csv(self, folder: str | Path) -> list[Path]:
        """``errors.csv``, ``spectrum.csv`` and ``structures.parquet`` in ``folder``, as
        the command line writes them."""
        from .analyse.driver import write_tables

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_tables(folder, {"structures.parquet": self.structures,
                              "spectrum.csv": self.spectrum, "errors.csv": self.errors})
        return [folder / "errors.csv", folder / "spectrum.csv", folder / "structures.parquet"]


def _settings(given: dict[str, Any]) -> dict[str, Any]:
    from .metatomic.diagnose import defaults

    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise ConfigError(f"symlearn.diagnose: unknown setting(s) {', '.join(unknown)} "
                          f"(settings: {', '.join(SETTINGS)})")
    settings = defaults()
    settings.update({key: value for key, value in given.items() if value is not None})
    return settings


def _structures_file(structures, folder: Path) -> str:
    """The path of an extxyz file of ``structures`` (written into ``folder`` for a list
    of ``ase.Atoms``)."""
    if isinstance(structures, (str, Path)):
        return str(structures)
    import ase.io
    from ase import Atoms

    frames = list(structures) if isinstance(structures, Sequence) else None
    if not frames or not all(isinstance(atoms, Atoms) for atoms in frames):
        raise ConfigError("symlearn.diagnose: structures must be an extxyz path or a "
                          "non-empty list of ase.Atoms")
    path = folder / "structures.xyz"
    ase.io.write(path, frames, format="extxyz")
    return str(path)


def diagnose(model, structures, *, name: str | None = None, device: str = "auto",
             progress: bool = False, log=None, **settings) -> Diagnosis:
    """A and B of ``model`` (an ``AtomisticModel``, its file, or an ASE calculator) on
    ``structures`` (ase.Atoms or an extxyz path), as tables; ``symlearn diagnose`` is
    this, with the tables written and the summary printed. ``name``: how messages
    and the summary name the model (default: its file or class)."""
    from .calculators.analyse import _is_calculator, analyse_calculator, calculator_name

    calculator = _is_calculator(model)
    if calculator:
        name = name or calculator_name(model)
        foreign = sorted(key for key in CALCULATOR_REFUSES if settings.get(key) is not None)
        if foreign:
            verb = "does" if len(foreign) == 1 else "do"
            raise ConfigError(f"symlearn.diagnose: {', '.join(foreign)} {verb} not apply "
                              f"to an ASE calculator ({name}): it is called on one "
                              "structure at a time, gives its energy, forces and stress "
                              "as it computes them, and shows no features")
    settings = _settings(settings)
    quiet = log if log is not None else (lambda *args, **kwargs: None)
    with tempfile.TemporaryDirectory(prefix="symlearn-diagnose-") as scratch:
        folder = Path(scratch)
        path = _structures_file(structures, folder)
        out = folder / "tables"
        if calculator:
            result = analyse_calculator(model, path, str(out), settings, name=name,
                                        progress=progress, log=quiet)
            features = False
        else:
            from .metatomic.analyse import analyse_metatomic_model

            if isinstance(model, (str, Path)):
                model_path, name = str(model), name or Path(model).name
            elif hasattr(model, "save"):
                model_path, name = str(folder / "model.pt"), name or type(model).__name__
                model.save(model_path)
            else:
                raise ConfigError(f"symlearn.diagnose: {type(model).__name__} is neither a "
                                  "metatomic AtomisticModel (or its file) nor an ASE "
                                  "calculator")
            result = analyse_metatomic_model(model_path, path, str(out), settings,
                                             device=device, threads=settings.get("threads"),
                                             progress=progress, log=quiet)
            features = True
        rows = pd.read_parquet(out / "structures.parquet")
    errors = result["errors"]
    degree = int(errors["grid_degree"].dropna().iloc[0]) if len(errors) else None
    rule = errors["grid_rule"].dropna().iloc[0] if len(errors) else ""
    grid = f"{rule} of degree {degree}" if degree is not None else "no grid"
    return Diagnosis(errors, result["spectrum"], rows, grid, name, features, degree)
