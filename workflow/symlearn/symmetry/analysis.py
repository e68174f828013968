"""A and B for one input, from a model callable or from responses already on the grid.

The callable receives a batch of O(3) matrices ``g`` (copies, 3, 3) and returns, for
each name, the responses ``f(g x)`` as a tensor (copies, samples, ...): outputs with the
trailing shape of their :class:`OutputKind`, features with any trailing shape (flattened
to channels). Nothing here knows what the model is.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch

from .irreps import Irrep, OutputKind
from .metrics import (
    CharacterProjection,
    IrrepStatistics,
    OrbitStatistics,
    Spectrum,
    Workspace,
    character_weights,
)
from .quadrature import GridTooCoarse, O3Quadrature

#: the precisions an analysis runs in, by their configuration names
DTYPES = {"float32": torch.float32, "float64": torch.float64}

Evaluate = Callable[[torch.Tensor], Mapping[str, torch.Tensor]]


@dataclass
class InputAnalysis:
    """A per output and irrep, B per feature, for one input."""

    outputs: dict[str, dict[Irrep, IrrepStatistics]]
    spectra: dict[str, Spectrum]


class GridContext:
    """The grid as tensors on one device and dtype, with the character coefficients
    computed once and shared by every input analysed on it.

    Grid points are visited in pairs ``(R, -R)`` (the evaluation order does not change
    any sum), which lets :class:`CharacterProjection` handle both cosets at once.
    """

    def __init__(self, quadrature: O3Quadrature, lambda_max: int | None,
                 dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu"):
        self.quadrature = quadrature
        self.lambda_max = lambda_max
        self.dtype, self.device = dtype, torch.device(device)
        self.matrices = torch.as_tensor(quadrature.matrices, dtype=dtype, device=self.device)
        self.weights = torch.as_tensor(quadrature.weights, dtype=dtype, device=self.device)
        self.workspace = Workspace()  # scratch shared by every projection on this grid
        n_proper = quadrature.n_proper
        self.order = torch.stack([torch.arange(n_proper), torch.arange(n_proper) + n_proper],
                                 dim=1).reshape(-1).to(self.device)
        # the input as given: the identity, unless the grid is shifted
        self.identity = quadrature.identity_index
        self.coefficients = None
        if lambda_max is not None:
            quadrature.require(lambda_character=lambda_max)
            self.coefficients = character_weights(
                quadrature.matrices[:n_proper], quadrature.weights[:n_proper],
                lambda_max).to(dtype=dtype, device=self.device)

    def shifted(self, h: torch.Tensor) -> GridContext:
        """The same grid translated on the right, ``g -> g h``, for outputs only: A on
        it back-transforms ``f(g h x)`` by ``rho(g h)``, so its symmetrized prediction is
        ``rho(h)^-1 Pi(h x)`` in the frame of ``x`` (how a symmetrized model's own
        equivariance is measured)."""
        shifted = copy.copy(self)
        shifted.matrices = self.matrices @ h.to(self.matrices)
        shifted.coefficients = None
        shifted.lambda_max = None
        shifted.identity = None
        return shifted

    def copies_per_batch(self, size_per_copy: int, budget: int) -> int:
        """Grid points per forward pass: as many copies as fit in ``budget`` (atoms,
        points, ...) at ``size_per_copy`` each, at least a pair, spread evenly over the
        batches."""
        copies = max(2, budget // max(1, size_per_copy))
        n = self.quadrature.n_rotations
        size = math.ceil(n / math.ceil(n / min(copies, n)))
        return size + size % 2

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Grid indices in batches of about ``batch_size`` (rounded up to whole pairs)."""
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        size = 2 * math.ceil(batch_size / 2)
        for start in range(0, self.quadrature.n_rotations, size):
            yield self.order[start:start + size]


def _accumulate(context: GridContext,
                batches: Iterable[tuple[torch.Tensor, Mapping[str, torch.Tensor]]],
                outputs: Mapping[str, OutputKind], features: Sequence[str],
                references: Mapping[str, torch.Tensor], progress,
                exact_outputs: bool = True) -> InputAnalysis:
    quadrature = context.quadrature
    n_grid = quadrature.n_rotations
    if outputs and exact_outputs:
        quadrature.require(lambda_variance=max(k.max_lambda for k in outputs.values()))
    if features and context.coefficients is None:
        raise ValueError("features need a grid context built with lambda_max")
    stats: dict[str, dict[Irrep, OrbitStatistics]] = {}
    for name, kind in outputs.items():
        ref = references.get(name)
        parts = kind.split(ref[None].to(context.dtype)) if ref is not None else {}
        stats[name] = {irrep: OrbitStatistics(f"{name} {irrep}",
                                              parts[irrep][0] if parts else None)
                       for irrep in kind.irreps}
    projections = {name: CharacterProjection(name, context.lambda_max, context.workspace)
                   for name in features}
    # a feature equal to an earlier one on every grid point (e.g. a module that passes
    # its last sub-layer's output through) is projected once
    same_as: dict[str, str] | None = None

    for index, responses in batches:
        g = context.matrices[index]
        weights = context.weights[index]
        identity = None
        if context.identity is not None:
            found = torch.nonzero(index == context.identity)
            identity = int(found[0, 0]) if len(found) else None
        for name, kind in outputs.items():
            values = _response(responses, name, len(g)).to(context.dtype)
            kind.check_shape(name, values)
            for irrep, part in kind.split(kind.back_transform(values, g)).items():
                stats[name][irrep].update(part, weights, identity)
        values = {}
        for name in features:
            value = _response(responses, name, len(g)).to(context.dtype)
            values[name] = value.reshape(value.shape[0], value.shape[1], -1)
        if same_as is None:
            same_as = _duplicates(values)
        for name, source in list(same_as.items()):
            if not torch.equal(values[name], values[source]):
                # equal so far, not here: from now on it keeps sums of its own
                projections[name] = projections[source].copy(name)
                del same_as[name]
        coefficients = context.coefficients[index[0::2]] if features else None
        for name in features:
            if name not in same_as:
                projections[name].update(values[name], coefficients, weights)
        if progress is not None:
            progress(len(g))

    degree = quadrature.exactness
    try:
        spectra = {}
        for name in features:
            source = (same_as or {}).get(name, name)
            if source not in spectra:
                spectra[source] = projections[source].result(n_grid, degree)
            spectra[name] = spectra[source]
        results = {name: {irrep: acc.result(n_grid) for irrep, acc in per.items()}
                   for name, per in stats.items()}
    except GridTooCoarse as error:
        # name a degree: one that resolves every output's orbit variance, else the
        # character projections of outputs up to that lambda without aliasing
        top = max((k.max_lambda for k in outputs.values()), default=0)
        lam = context.lambda_max or 0
        needed = max(2 * top + 1, lam + top, 2 * lam, degree + 1)
        raise GridTooCoarse(f"{error}; the response has content the grid of degree "
                            f"{degree} cannot integrate: try degree {needed} "
                            "(analysis grid_degree)") from None
    return InputAnalysis(outputs=results, spectra={name: spectra[name] for name in features})


def _duplicates(values: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """``{name: earlier name}`` for responses identical to an earlier one."""
    same_as: dict[str, str] = {}
    names = list(values)
    for i, name in enumerate(names):
        for earlier in names[:i]:
            if earlier not in same_as and values[name].shape == values[earlier].shape \
                    and torch.equal(values[name], values[earlier]):
                same_as[name] = earlier
                break
    return same_as


def _response(responses: Mapping[str, torch.Tensor], name: str, n_copies: int) -> torch.Tensor:
    if name not in responses:
        raise KeyError(f"the model did not return {name!r} (returned: "
                       f"{', '.join(sorted(responses))})")
    values = responses[name]
    if values.ndim < 2 or values.shape[0] != n_copies:
        raise ValueError(f"{name}: expected ({n_copies}, samples, ...) responses, got "
                         f"shape {tuple(values.shape)}")
    return values


def analyse_input(evaluate: Evaluate, context: GridContext, *,
                  outputs: Mapping[str, OutputKind] | None = None,
                  features: Sequence[str] = (),
                  references: Mapping[str, torch.Tensor] | None = None,
                  exact_outputs: bool = True,
                  batch_size: int = 64, progress: Callable[[int], None] | None = None,
                  ) -> InputAnalysis:
    """A for ``outputs`` (with the accuracy against ``references``, given in the input
    frame as (samples, ...)) and B for ``features``, evaluating ``evaluate`` on batches
    of at most ``batch_size`` grid points. ``exact_outputs=False`` accepts a grid that
    does not resolve every output (its orbit averages are then quadrature estimates)."""
    def batches():
        for index in context.batches(batch_size):
            yield index, evaluate(context.matrices[index])

    return _accumulate(context, batches(), outputs or {}, features, references or {}, progress,
                       exact_outputs)


def analyse_on_grid(responses: Mapping[str, torch.Tensor], context: GridContext, *,
                    outputs: Mapping[str, OutputKind] | None = None,
                    features: Sequence[str] = (),
                    references: Mapping[str, torch.Tensor] | None = None,
                    batch_size: int | None = None) -> InputAnalysis:
    """The same, from responses already evaluated on every grid point, in grid order:
    (n_rotations, samples, ...) per name."""
    n = context.quadrature.n_rotations
    for name, values in responses.items():
        if values.shape[0] != n:
            raise ValueError(f"{name}: {values.shape[0]} responses for a grid of {n} points")
    size = batch_size or n

    def batches():
        for index in context.batches(size):
            yield index, {name: values[index.to(values.device)]
                         for name, values in responses.items()}

    return _accumulate(context, batches(), outputs or {}, features, references or {}, None)
