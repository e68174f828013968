"""The A and B metrics of docs/symmetry.md, accumulated batch by batch over the grid.

Both accumulators hold a fixed-size state (independent of the number of grid points),
so the memory of an analysis does not grow with the grid.

- :class:`OrbitStatistics` (A): weighted moments of the back-transformed responses
  ``z(g)`` of one irrep of one output, centred on the first response so that
  ``E[z^2] - E[z]^2`` does not lose digits when the mean is large.
- :class:`CharacterProjection` (B): the Fourier coefficients
  ``c+-_{mn} = sum_R w_R D^lambda_{mn}(R^-1) u(+-R)`` of the direct responses ``u(g)``,
  channel by channel, kept as ``c+ + c-`` and ``c+ - c-`` (so a batch may mix proper
  and improper grid points); ``B = (2 lambda + 1) / 4 sum_{mn} (c+ + sigma (-1)^lambda
  c-)^2``.

Round-off: the finite sums are differences of accumulated terms, so an exact zero comes
out as a tiny number of either sign. Values within ``64 * gamma_N`` of the
absolute-weight scale (``gamma_N = N eps / (1 - N eps)``, the bound of Higham's
summation analysis, as in metatomic) are clamped to zero; anything more negative means
the grid does not resolve the response and raises :class:`GridTooCoarse`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .quadrature import GridTooCoarse
from .wigner import proper_part, wigner_matrices

SIGMAS = (1, -1)


def roundoff_tolerance(n_grid: int, dtype: torch.dtype) -> float:
    """Relative tolerance of a weighted sum over ``n_grid`` points."""
    n_eps = n_grid * torch.finfo(dtype).eps
    return 64.0 * n_eps / (1.0 - n_eps)


def character_weights(matrices, weights, lambda_max: int) -> torch.Tensor:
    """Per grid point ``g``, the flattened ``w_R D^lambda(R^-1)`` for lambda = 0..L,
    stacked along the last axis: (N, sum (2 lambda + 1)^2). ``w_R`` is the SO(3)
    weight (twice the O(3) weight) and ``R`` the proper part of ``g``."""
    matrices = torch.as_tensor(matrices, dtype=torch.float64)
    so3_weights = 2.0 * torch.as_tensor(weights, dtype=torch.float64)
    rotations, _ = proper_part(matrices)
    blocks = []
    # every degree at once: each D^lambda is built from the one below it
    for d in wigner_matrices(lambda_max, rotations):
        inverse = d.transpose(-1, -2)
        blocks.append((so3_weights[:, None, None] * inverse).reshape(len(matrices), -1))
    return torch.cat(blocks, dim=1)


@dataclass
class IrrepStatistics:
    """A for one irrep of one output of one input, per sample (component-averaged)."""

    n_components: int
    mean: torch.Tensor                 # (samples, d): the symmetrized prediction Pi(x)
    variance: torch.Tensor             # (samples,): orbit variance v(x)
    squared_error: torch.Tensor | None  # (samples,): orientation-averaged |z - y|^2 / d
    symmetrized_squared_error: torch.Tensor | None  # (samples,): |Pi - y|^2 / d
    reference_square: torch.Tensor | None = None  # (samples,): |y|^2 / d
    #: (samples,): |f(x) - y|^2 / d, the error on the input as given (identity)
    as_given_squared_error: torch.Tensor | None = None

    @property
    def n_samples(self) -> int:
        return len(self.variance)


class OrbitStatistics:
    """Streaming A for one irrep of one output (see the module docstring)."""

    def __init__(self, name: str, reference: torch.Tensor | None = None):
        self.name = name
        self.reference = reference
        self._center = None
        self._as_given = None
        self._n = 0

    def update(self, z: torch.Tensor, weights: torch.Tensor,
               identity: int | None = None) -> None:
        """``z``: (copies, samples, d) back-transformed responses; ``weights``: (copies,);
        ``identity``: the copy that is the input as given, if this batch holds it."""
        if self._center is None:
            self._center = z[0].clone()
            zeros = torch.zeros(z.shape[1], dtype=z.dtype, device=z.device)
            self._s1 = torch.zeros_like(self._center)
            self._s2, self._s2_abs, self._error = zeros, zeros.clone(), zeros.clone()
        weights = weights.to(z)
        centred = z - self._center
        squared = centred.square().sum(-1)
        self._s1 += torch.einsum("b,bnd->nd", weights, centred)
        self._s2 += weights @ squared
        self._s2_abs += weights.abs() @ squared
        if self.reference is not None:
            self._error += weights @ (z - self.reference.to(z)).square().sum(-1)
            if identity is not None:
                self._as_given = (z[identity] - self.reference.to(z)).square().sum(-1)
        self._n += len(z)

    def result(self, n_grid: int) -> IrrepStatistics:
        if self._n != n_grid:
            raise RuntimeError(f"{self.name}: {self._n} of {n_grid} grid points accumulated")
        d = self._center.shape[-1]
        first = self._s1.square().sum(-1)
        variance = self._s2 - first
        tolerance = roundoff_tolerance(n_grid, variance.dtype) * (self._s2_abs + first)
        bad = variance < -tolerance
        if bool(bad.any()):
            worst = float((variance / (self._s2_abs + first)).min())
            raise GridTooCoarse(
                f"orbit variance of {self.name} is negative beyond round-off (relative "
                f"{worst:.3g}): the grid is too coarse to resolve this response; use a "
                "grid of higher degree")
        variance = variance.clamp(min=0.0) / d
        mean = self._center + self._s1
        squared_error = symmetrized = reference_square = as_given = None
        if self.reference is not None:
            reference = self.reference.to(mean)
            squared_error = self._error / d
            symmetrized = (mean - reference).square().sum(-1) / d
            reference_square = reference.square().sum(-1) / d
            as_given = None if self._as_given is None else self._as_given / d
        return IrrepStatistics(d, mean, variance, squared_error, symmetrized,
                               reference_square, as_given)


@dataclass
class Spectrum:
    """B for one feature of one input: unnormalised projections per sample and channel
    and the norm ``sum_g w_g |u(g)|^2`` they are fractions of."""

    projections: torch.Tensor   # (L + 1, 2, samples, channels); sigma = +1, -1
    norm: torch.Tensor          # (samples, channels)
    abs_norm: torch.Tensor      # (samples, channels), with |w_g|
    tolerance: float            # relative round-off tolerance of the sums

    @property
    def lambda_max(self) -> int:
        return self.projections.shape[0] - 1

    def fractions(self) -> np.ndarray:
        """(L + 1, 2) fractions of the squared norm, summed over samples and channels;
        NaN for a response that is zero everywhere."""
        norm = float(self.norm.sum())
        totals = self.projections.sum(dim=(2, 3)).double().cpu().numpy()
        if norm == 0.0 and float(self.abs_norm.sum()) == 0.0:
            return np.full(totals.shape, np.nan)
        return totals / norm

    def residual(self) -> float:
        """Content above lambda_max: ``1 - sum of fractions``."""
        return float(1.0 - np.sum(self.fractions()))

    def check(self, name: str, degree: int) -> None:
        """Raise :class:`GridTooCoarse` if the norm or the residual is negative beyond
        round-off."""
        norm, scale = float(self.norm.sum()), float(self.abs_norm.sum())
        if scale == 0.0:
            return
        excess = float(self.projections.sum()) - norm
        if norm <= 0.0 or excess > self.tolerance * scale:
            raise GridTooCoarse(
                f"character projections of {name} exceed its norm (residual "
                f"{-excess / max(norm, 1e-300):.3g}): the grid of degree {degree} is too "
                "coarse for this response; use a grid of higher degree")


class Workspace:
    """Scratch buffers reused from batch to batch: allocating hundreds of MB of
    temporaries per batch costs page faults that show in the run time."""

    def __init__(self):
        self._buffers: dict[str, torch.Tensor] = {}

    def take(self, key: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        size = int(np.prod(shape))
        buffer = self._buffers.get(key)
        if (buffer is None or buffer.numel() < size or buffer.dtype != like.dtype
                or buffer.device != like.device):
            buffer = torch.empty(size, dtype=like.dtype, device=like.device)
            self._buffers[key] = buffer
        return buffer[:size].view(shape)


class CharacterProjection:
    """Streaming B for one feature (see the module docstring)."""

    def __init__(self, name: str, lambda_max: int, workspace: Workspace | None = None):
        self.name = name
        self.lambda_max = lambda_max
        self.workspace = workspace or Workspace()
        self._plus = None
        self._constant = None
        self._n = 0

    def update(self, u: torch.Tensor, coefficients: torch.Tensor,
               weights: torch.Tensor) -> None:
        """``u``: (copies, samples, channels) direct responses on pairs of grid points
        ``(g, -g)``: copies ``2k`` are proper rotations ``R`` and ``2k + 1`` their
        improper partners ``-R``; ``coefficients``: the :func:`character_weights` rows of
        the proper copies; ``weights``: (copies,) O(3) weights.

        Pairing halves the work: ``c+ + c-`` and ``c+ - c-`` take the sum and the
        difference of the two responses of each pair through one product each."""
        b, n, c = u.shape
        if b % 2 or len(coefficients) != b // 2:
            raise ValueError(f"feature {self.name}: expected pairs of grid points (g, -g), "
                             f"got {b} copies and {len(coefficients)} coefficient rows")
        flat = u.reshape(b // 2, 2, n * c)
        coefficients = coefficients.to(flat)
        weights = weights.to(flat)
        if self._n == 0:
            self._shape = (n, c)
            # a response equal on every grid point so far (an invariant layer, such as
            # a species embedding) is kept as that value and the sums of the weights
            if bool((flat == flat[:1, :1]).all()):
                self._constant = flat[0, 0].clone()
                self._sums = torch.zeros(3, coefficients.shape[1] + 1, dtype=flat.dtype,
                                         device=flat.device)
        elif (n, c) != self._shape:
            raise ValueError(f"feature {self.name}: shape changed from {self._shape} to "
                             f"{(n, c)} between grid points")
        if self._constant is not None:
            if bool((flat == self._constant).all()):
                self._sums[0, :-1] += coefficients.sum(0)
                self._sums[1, -1] += weights.sum()
                self._sums[2, -1] += weights.abs().sum()
                self._n += b
                return
            self._expand_constant()
        take = self.workspace.take
        plus = torch.add(flat[:, 0], flat[:, 1], out=take("plus", (b // 2, n * c), flat))
        minus = torch.sub(flat[:, 0], flat[:, 1], out=take("minus", (b // 2, n * c), flat))
        squared = torch.square(flat.reshape(b, n * c), out=take("squared", (b, n * c), flat))
        # the same sum with |w| bounds the round-off; most grids have no negative weight
        negative = bool((weights < 0).any())
        if self._plus is None:
            self._plus = coefficients.T @ plus
            self._minus = coefficients.T @ minus
            self._norm = weights @ squared
            self._abs_norm = weights.abs() @ squared if negative else self._norm.clone()
        else:
            self._plus.addmm_(coefficients.T, plus)
            self._minus.addmm_(coefficients.T, minus)
            self._norm.addmv_(squared.T, weights)
            self._abs_norm.addmv_(squared.T, weights.abs() if negative else weights)
        self._n += b

    def copy(self, name: str) -> CharacterProjection:
        """An accumulator for ``name`` holding the sums accumulated so far."""
        other = CharacterProjection(name, self.lambda_max, self.workspace)
        for key, value in vars(self).items():
            if key not in ("name", "workspace"):
                setattr(other, key, value.clone() if torch.is_tensor(value) else value)
        return other

    def _expand_constant(self) -> None:
        """The sums so far of a response that was constant until now: each pair added
        ``2 u`` to ``c+ + c-`` and nothing to ``c+ - c-``."""
        u, sums = self._constant, self._sums
        self._plus = torch.outer(2 * sums[0, :-1], u)
        self._minus = torch.zeros_like(self._plus)
        self._norm = sums[1, -1] * u.square()
        self._abs_norm = sums[2, -1] * u.square()
        self._constant = None

    def result(self, n_grid: int, degree: int) -> Spectrum:
        if self._n != n_grid:
            raise RuntimeError(f"{self.name}: {self._n} of {n_grid} grid points accumulated")
        if self._constant is not None:
            self._expand_constant()
        n, c = self._shape
        out = torch.empty(self.lambda_max + 1, 2, n, c, dtype=self._plus.dtype,
                          device=self._plus.device)
        row = 0
        for lam in range(self.lambda_max + 1):
            size = (2 * lam + 1) ** 2
            for s, sigma in enumerate(SIGMAS):
                source = self._plus if sigma * (-1) ** lam == 1 else self._minus
                block = source[row:row + size]
                out[lam, s] = ((2 * lam + 1) / 4.0 * block.square().sum(0)).reshape(n, c)
            row += size
        spectrum = Spectrum(out, self._norm.reshape(n, c), self._abs_norm.reshape(n, c),
                            roundoff_tolerance(n_grid, self._plus.dtype))
        spectrum.check(self.name, degree)
        return spectrum
