"""The per-checkpoint analysis, once for every family: the grid and its check, the
inputs, the progress bar, the rows, the pooled tables and their atomic writing.

A family provides an *adapter* (:class:`Adapter`): what its inputs are, how one input is
analysed on a grid, and any tables of its own. :func:`analyse_checkpoint` does the rest,
so a new family never re-implements the quadrature check, the pooling or the writes.
docs/architecture.md describes the protocol.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..errors import DataError
from ..io import writable_folder


@dataclass
class AnalysisInput:
    """One input of an analysis (a structure, an event).

    ``key``: its index in the input file (the value of the adapter's ``input_column``);
    ``info``: the columns its rows carry; ``check_order``: inputs are checked on the
    finer grid in increasing order of this (the smallest first: the finer grid costs
    more per atom than the whole rest); ``payload``: whatever the adapter needs."""

    key: int
    info: dict[str, Any]
    check_order: tuple = ()
    payload: Any = None
    cache: dict[str, Any] = field(default_factory=dict)


class Adapter(Protocol):
    """What a model family gives the driver (docs/architecture.md)."""

    #: the column that names an input in the per-input rows (``structure``, ``event``)
    input_column: str
    #: the names of the internal features projected (B)
    layers: list[str]
    #: the largest angular momentum among the outputs analysed for A
    output_lambda_max: int

    def inputs(self) -> list[AnalysisInput]:
        """The inputs to analyse, in the order they are analysed."""

    def passes(self, item: AnalysisInput, context) -> int:
        """How many passes over the grid ``analyse`` makes for this input."""

    def analyse(self, item: AnalysisInput, context, *, main: bool, exact_outputs: bool,
                progress: Callable[[int], None]) -> Iterator:
        """The :class:`~symlearn.symmetry.InputAnalysis` of each pass over ``context``
        (``main``: the analysis grid, not the check grid)."""

    def table_name(self, name: str) -> str:
        """The name an output or layer has in the tables."""

    def extra_tables(self, degree: int, check_degree: int | None) -> dict[str, Any]:
        """Tables of the family's own, by file name, written before the pooled ones."""

    def as_given(self, item: AnalysisInput, info: Mapping[str, Any]) -> list[dict]:
        """Optional (:func:`evaluate_as_given`): the rows of the test error of one input
        as given, each with ``info``, one forward pass and no grid."""


def select_inputs(n_total: int, n_select: int, seed: int) -> list[int]:
    """Indices of the inputs to analyse: all of them, or a seeded random subset in file
    order."""
    if n_select >= n_total:
        return list(range(n_total))
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(n_total, size=n_select, replace=False))


def selected_frames(structures: str, n_select: int, seed: int) -> tuple[int, dict]:
    """The number of frames of an extxyz file and its selected frames (index -> Atoms,
    :func:`select_inputs`): only these are parsed."""
    from ..data.extxyz import count_frames, iter_frames

    n_frames = count_frames(structures)
    if n_frames == 0:
        raise DataError(f"{structures}: no structure to analyse")
    keep = np.zeros(n_frames, dtype=bool)
    keep[select_inputs(n_frames, int(n_select), int(seed))] = True
    return n_frames, dict(iter_frames(structures, keep))


@dataclass
class Grids:
    """The analysis grid, the check grid of the quadrature check (or None), and the
    check's settings."""

    context: Any
    check_context: Any
    check: Any

    @classmethod
    def build(cls, degree: int, settings: Mapping[str, Any], dtype, device) -> Grids:
        from ..symmetry import GridContext
        from .tables import QuadratureCheck

        lambda_max = int(settings["lambda_max"])
        check = QuadratureCheck.from_settings(degree, settings)
        quadrature = check.grid()
        quadrature.require(lambda_character=lambda_max)
        context = GridContext(quadrature, lambda_max, dtype, device)
        check_context = None
        if check.check_degree is not None:
            check_context = GridContext(check.grid(check.check_degree), lambda_max,
                                        dtype, device)
        return cls(context, check_context, check)

    @property
    def quadrature(self):
        return self.context.quadrature

    def exact(self, context, output_lambda_max: int) -> bool:
        """Whether ``context`` resolves the orbit averages of every output exactly."""
        from ..symmetry.degrees import resolves_variances

        return resolves_variances(context.quadrature.exactness, output_lambda_max)

    def describe(self) -> str:
        return f"{self.quadrature.describe()}; lambda_max {self.context.lambda_max}"


def grid_notes(quadrature, lambda_max: int | None, output_lambda_max: int) -> list[str]:
    """What a grid does not resolve for outputs reaching ``output_lambda_max``: orbit
    averages that are quadrature estimates, and the content B aliases."""
    from ..symmetry.degrees import required_degree, resolves_variances

    notes = []
    if not resolves_variances(quadrature.exactness, output_lambda_max):
        notes.append(f"orbit averages of outputs above lambda = "
                     f"{(quadrature.exactness - 1) // 2} are quadrature estimates on this "
                     "grid")
    unaliased = (None if lambda_max is None else
                 required_degree(lambda_character=lambda_max, lambda_content=output_lambda_max))
    if unaliased is not None and quadrature.exactness < unaliased:
        notes.append(f"B aliases content above degree {quadrature.exactness - lambda_max} "
                     f"(the outputs reach {output_lambda_max}; degree {unaliased} would not "
                     "alias them)")
    return notes


def checked_inputs(items: Sequence[AnalysisInput], grids: Grids) -> list[int]:
    """The keys of the inputs also analysed on the check grid."""
    if grids.check_context is None:
        return []
    order = sorted(items, key=lambda item: (*item.check_order, item.key))
    return [item.key for item in grids.check.checked(order)]


def write_tables(out, tables: Mapping[str, Any]) -> None:
    """Each table into ``out`` under its file name (Parquet or CSV by the suffix), each
    atomically, in the order given: ``errors.csv`` last, so that a folder with it is
    complete."""
    from ..io import atomic_path

    for name, frame in tables.items():
        with atomic_path(out / name) as tmp:
            if name.endswith(".parquet"):
                frame.to_parquet(tmp, index=False)
            else:
                frame.to_csv(tmp, index=False)


def analyse_checkpoint(adapter: Adapter, grids: Grids, out_dir: str | os.PathLike, *,
                       label: str, header: str, per_input_table: str | None = None,
                       progress: bool = True, log=print) -> dict[str, Any]:
    """A and B of every input of ``adapter`` on the grid, the quadrature check on the
    first inputs of ``check_order``; writes the per-input rows (``per_input_table``,
    parquet, when given), the adapter's own tables, ``spectrum.csv`` and, last,
    ``errors.csv`` into ``out_dir``, each atomically. ``header`` opens the log line
    that describes the analysis."""
    import pandas as pd
    from tqdm import tqdm

    from .tables import checked_tables, input_rows

    start = time.perf_counter()
    out = writable_folder(out_dir)
    items = adapter.inputs()
    checked = checked_inputs(items, grids)
    context, check_context = grids.context, grids.check_context
    notes = grid_notes(grids.quadrature, context.lambda_max, adapter.output_lambda_max)
    log(f"{header}; {grids.describe()}; {len(adapter.layers)} layers; quadrature check: "
        + (f"{adapter.input_column}(s) {checked} on degree {grids.check.check_degree}"
           if checked else "off") + "".join(f"; {note}" for note in notes), flush=True)

    rows, check_rows = [], []
    total = len(items) * context.quadrature.n_rotations
    total += len(checked) * (check_context.quadrature.n_rotations if checked else 0)
    # what one step of the bar is: a rotated copy, or a calculator's call (one a copy)
    unit = getattr(adapter, "progress_unit", "copy")
    bar = tqdm(total=total, unit=unit, file=sys.stderr, desc=label, disable=not progress,
               mininterval=2.0)
    for item in items:
        info = {adapter.input_column: item.key, **item.info}
        grids_here = [(context, rows, True)]
        if item.key in checked:
            grids_here.append((check_context, check_rows, False))
        for grid, sink, main in grids_here:
            n_passes = adapter.passes(item, grid)
            if n_passes > 1:
                bar.total += (n_passes - 1) * grid.quadrature.n_rotations
            for result in adapter.analyse(item, grid, main=main,
                                          exact_outputs=grids.exact(
                                              grid, adapter.output_lambda_max),
                                          progress=bar.update):
                sink.extend(dict(row, grid_degree=grid.quadrature.degree)
                            for row in input_rows(result, info))
        item.cache.clear()  # the input's prepared copies are not needed again
    bar.close()

    table = pd.DataFrame(rows + check_rows)
    if table.empty:
        raise DataError(f"{label}: the analysis produced no values (no input, output or "
                        "layer to analyse)")
    table["name"] = table["name"].map(adapter.table_name)
    degree = grids.quadrature.degree
    main_rows = table[table["grid_degree"] == degree]
    extra = table[table["grid_degree"] != degree]
    errors, spectrum = checked_tables(main_rows, extra, adapter.input_column, grids.check,
                                      log=log)
    write_tables(out, {**({per_input_table: table} if per_input_table else {}),
                       **adapter.extra_tables(degree, grids.check.check_degree),
                       "spectrum.csv": spectrum, "errors.csv": errors})
    elapsed = time.perf_counter() - start
    log(f"done in {elapsed:.1f} s ({elapsed / max(1, len(items)):.2f} s per "
        f"{adapter.input_column})", flush=True)
    return {"inputs": len(items), "copies": grids.quadrature.n_rotations,
            "checked": len(checked), "seconds": elapsed, "errors": errors,
            "spectrum": spectrum}


def evaluate_as_given(adapter: Adapter, out_dir: str | os.PathLike, *, header: str,
                      per_input_table: str | None = None, log=print) -> dict[str, Any]:
    """The test error of every input as given, without a grid: what a learning curve
    reads at a fraction of an analysis' cost. Writes the tables
    :func:`analyse_checkpoint` writes, each atomically: the per-input rows, an empty
    ``spectrum.csv`` (no layer was projected) and ``errors.csv`` with only the errors
    as given, ``n_samples`` and the RMS values filled (A, the orientation-averaged
    error, their quadrature errors and the grid columns empty: nothing was measured on
    a grid)."""
    import pandas as pd

    from ..table_schemas import ERRORS_COLUMNS, SPECTRUM_COLUMNS
    from .tables import errors_table

    start = time.perf_counter()
    out = writable_folder(out_dir)
    log(f"{header}; as given only (no grid, no layer)", flush=True)
    items = adapter.inputs()
    rows = []
    for item in items:
        rows += adapter.as_given(item, {adapter.input_column: item.key, **item.info})
        item.cache.clear()
    table = pd.DataFrame(rows)
    if table.empty:
        raise DataError(f"{header}: no input with a reference to evaluate")
    table["name"] = table["name"].map(adapter.table_name)
    errors = errors_table(table).assign(quadrature_error=np.nan,
                                        accuracy_quadrature_error=np.nan,
                                        quadrature_flagged=False)
    for column in ("grid_degree", "check_degree"):  # no grid
        errors[column] = pd.array([pd.NA] * len(errors), dtype="Int64")
    errors["grid_rule"] = errors["check_rule"] = None
    write_tables(out, {**({per_input_table: table} if per_input_table else {}),
                       "spectrum.csv": pd.DataFrame(columns=SPECTRUM_COLUMNS),
                       "errors.csv": errors[ERRORS_COLUMNS]})
    elapsed = time.perf_counter() - start
    log(f"done in {elapsed:.1f} s", flush=True)
    return {"inputs": len(items), "copies": 1, "checked": 0, "seconds": elapsed}
