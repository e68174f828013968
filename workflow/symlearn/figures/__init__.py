"""Figures and tables of the paper, each drawn from the analysis tables alone.

One module per figure: ``data(tables...)`` builds the table of exactly what is
plotted, ``plot(table)`` draws it, ``build(inputs, prefix)`` reads the input tables
and writes ``prefix``.pdf/.png/.csv. ``style`` holds the shared look.
"""

from __future__ import annotations

import importlib

#: the figures and tables this package draws (one module each)
FIGURES = ("fig1", "fig2", "fig3", "table1")


def build(figure: str, inputs: dict, prefix, options: dict | None = None) -> dict:
    """Build one figure (``fig1`` ...) from its input tables."""
    from .tables import FigureError

    if figure not in FIGURES:
        raise FigureError(f"unknown figure {figure!r}; known: {', '.join(FIGURES)}")
    module = importlib.import_module(f"{__name__}.{figure}")
    missing = sorted(set(getattr(module, "INPUTS", {})) - set(inputs))
    if missing:
        raise FigureError(f"{figure} needs the input table(s) {', '.join(missing)}")
    return module.build(inputs, prefix, options or {})
