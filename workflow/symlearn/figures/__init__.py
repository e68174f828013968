"""Figures and tables of the paper, each drawn from the analysis tables alone.

One module per figure: ``INPUTS`` names the tables it reads and their columns,
``data(**tables, **options)`` builds the table of exactly what is plotted and
``plot(table)`` draws it; :func:`build` reads the inputs and writes ``prefix``.pdf,
.png and .csv. A table module (``table1``, and ``claims`` and ``learnability`` of
:mod:`symlearn.findings`) has its own ``build``. ``style`` holds the shared look.
"""

from __future__ import annotations

import importlib

#: the figures this package draws (one module each): .pdf, .png and .csv
FIGURES = ("fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8")
#: figures drawn once per exported model of external.models (options: model)
MODEL_FIGURES = ("external",)
#: figures of the run itself rather than of the paper: cost (where the time and memory
#: of the jobs went, from results/benchmarks.csv)
RUN_FIGURES = ("cost",)
#: the tables it writes (one module each): .csv and .md; claims: the paper's findings,
#: each with a computed verdict; learnability: each geometric target's test error for
#: the equivariant control and each PET run
TABLES = ("table1", "claims", "learnability")
#: the tables of :mod:`symlearn.findings` (the paper's findings and the learnability
#: they are judged with, not figures), which the figure command writes as the others
FINDINGS = ("claims", "learnability")


def build(figure: str, inputs: dict, prefix, options: dict | None = None) -> dict:
    """Build one figure or table (``fig1`` ... ``fig8``, ``table1``, ``claims``) from its
    input tables."""
    from . import style
    from .tables import FigureError, read_per_input, read_table

    known = FIGURES + MODEL_FIGURES + RUN_FIGURES + TABLES
    if figure not in known:
        raise FigureError(f"unknown figure {figure!r}; known: {', '.join(known)}")
    # the findings are judged in their own package, on the same tables
    package = "symlearn.findings" if figure in FINDINGS else __name__
    module = importlib.import_module(f"{package}.{figure}")
    missing = sorted(set(module.INPUTS) - set(inputs) - set(getattr(module, "OPTIONAL", ())))
    if missing:
        raise FigureError(f"{figure} needs the input table(s) {', '.join(missing)}")
    if figure in TABLES:
        return module.build(inputs, prefix, **(options or {}))
    tables = {name: read_table(inputs[name], columns,
                               may_be_empty=name in getattr(module, "MAY_BE_EMPTY", ()))
              for name, columns in module.INPUTS.items()}
    # per-input rows (Parquet), optional: the bootstrap intervals a figure draws
    tables.update({name: table for name, table in
                   read_per_input(inputs, getattr(module, "PER_INPUT", ())).items()
                   if table is not None})
    table = module.data(**tables, **(options or {}))
    return style.save(module.plot(table), table, prefix)
