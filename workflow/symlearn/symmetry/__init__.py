"""Model-agnostic symmetry metrics (docs/symmetry.md): the O(3) quadrature, irreps and
characters, the equivariance error of outputs (A) and the character projections of
features (B). No model, file or workflow code lives here; adapters feed it."""

from .analysis import GridContext, InputAnalysis, analyse_input, analyse_on_grid
from .irreps import Irrep, OutputKind, rank2_irreps
from .metrics import (
    CharacterProjection,
    IrrepStatistics,
    OrbitStatistics,
    Spectrum,
    character_weights,
)
from .quadrature import (
    GridTooCoarse,
    O3Quadrature,
    analysis_degree,
    lebedev_orders,
    o3_quadrature,
    required_degree,
)
from .wigner import character, proper_part, representation, wigner_D

__all__ = [
    "CharacterProjection", "GridContext", "GridTooCoarse", "InputAnalysis", "Irrep",
    "IrrepStatistics", "O3Quadrature", "OrbitStatistics", "OutputKind", "Spectrum",
    "analyse_input", "analyse_on_grid", "analysis_degree", "character", "character_weights",
    "lebedev_orders", "o3_quadrature", "proper_part", "rank2_irreps", "representation",
    "required_degree",
    "wigner_D",
]
