"""Model-agnostic symmetry metrics (docs/symmetry.md): the O(3) quadrature, irreps and
characters, the equivariance error of outputs (A) and the character projections of
features (B). No model, file or workflow code lives here; adapters feed it.

The names below load on first use (PEP 562), so that the torch-free parts
(:mod:`.degrees`, the grid-degree rule) import without torch."""

from __future__ import annotations

import importlib

_EXPORTS = {
    ".analysis": ["DTYPES", "GridContext", "InputAnalysis", "analyse_input",
                  "analyse_on_grid"],
    ".irreps": ["Irrep", "OutputKind", "rank2_irreps"],
    ".metrics": ["CharacterProjection", "IrrepStatistics", "OrbitStatistics", "Spectrum",
                 "character_weights"],
    ".quadrature": ["GridTooCoarse", "O3Quadrature", "grid_size",
                    "haar_o3", "o3_quadrature"],
    ".degrees": ["analysis_degree", "grid_degree", "required_degree"],
    ".wigner": ["character", "proper_part", "representation", "wigner_D"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
