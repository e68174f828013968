"""Bootstrap intervals of the pooled analysis numbers, from the per-input rows.

A checkpoint's numbers pool a few analysed inputs (structures, events), so they move
with which inputs were drawn. A percentile bootstrap says by how much: each resample
draws as many inputs as were analysed, with replacement, and pools them with the same
formulae as the tables (:mod:`symlearn.analyse.tables`): an RMSE weights each input by
its samples, a character fraction is the mean over inputs. A resample is a vector of
counts (how often each input was drawn), so pooling every resample of every number is
one matrix product, and no model is evaluated again.

Pairing: the draws depend only on the seed and the ids of the inputs, so two
checkpoints (two runs, or two epochs of one run) that analysed the same inputs get the
same draws, and a difference or ratio between them is resampled in pairs; checkpoints
that analysed different inputs are resampled independently.

Training seeds: a run trained with several seeds gives one number per seed (each seed's
checkpoint analysed on the same inputs, so with the same draws). The judged number is
their mean; its interval adds, in quadrature on each side, the bootstrap half-width of
the mean and the t-interval half-width of the spread between seeds
(:meth:`Estimate.interval`). docs/statistics.md gives the formulae and what an interval
covers.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

#: resamples, seed and coverage of every interval the pipeline writes
RESAMPLES, SEED, LEVEL = 1000, 0, 0.95
#: the most resamples a configuration may ask for (each costs a matrix product per
#: checkpoint; beyond this, the percentiles no longer move at the printed precision)
MAX_RESAMPLES = 100_000


def _id_key(value) -> int:
    """A non-negative integer for an input id (an int, or the CRC-32 of its text)."""
    if isinstance(value, (int, np.integer)) and value >= 0:
        return int(value)
    return zlib.crc32(str(value).encode())


def draw_counts(ids: Iterable, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, n) counts: how often each of the ``n`` inputs (``ids``, in sorted
    order) is drawn in each resample, n draws with replacement per resample. The
    generator is seeded by ``seed`` and the ids, so the same inputs always get the same
    draws (paired resampling), and different ones get unrelated draws."""
    ids = sorted(ids, key=lambda v: (str(type(v)), v))
    n = len(ids)
    if resamples < 1 or resamples > MAX_RESAMPLES:
        raise ValueError(f"resamples: {resamples} is outside 1..{MAX_RESAMPLES}")
    if n == 0:
        return np.zeros((resamples, 0), dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), n,
                                                        *map(_id_key, ids)]))
    picks = rng.integers(0, n, size=(resamples, n))
    flat = picks + n * np.arange(resamples)[:, None]
    return np.bincount(flat.ravel(), minlength=resamples * n).reshape(resamples, n)


def interval(draws: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The ``level`` percentile interval of ``draws`` (NaN draws left out; NaN ends
    where fewer than two are finite)."""
    draws = np.asarray(draws, float)
    draws = draws[np.isfinite(draws)]
    if len(draws) < 2:
        return math.nan, math.nan
    low, high = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def seed_halfwidth(values: np.ndarray, level: float = LEVEL) -> float:
    """The half-width of the Student t-interval of the mean of ``values`` (one number
    per training seed): t_{(1+level)/2, S-1} s / sqrt(S); NaN with fewer than two."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return math.nan
    quantile = stats.t.ppf(0.5 * (1 + level), len(values) - 1)
    return float(quantile * values.std(ddof=1) / math.sqrt(len(values)))


def combined_interval(value: float, boot: tuple[float, float], spread: float
                      ) -> tuple[float, float]:
    """The interval of a mean over seeds: on each side, the bootstrap half-width (from
    ``value`` to the end of ``boot``, at least 0) and the seeds' t half-width
    ``spread`` added in quadrature. A part that could not be drawn (NaN) is left out;
    NaN ends where neither could."""
    parts = [(value - boot[0], boot[1] - value)] if np.isfinite(boot).all() else []
    if math.isfinite(spread):
        parts.append((spread, spread))
    if not parts or not math.isfinite(value):
        return math.nan, math.nan
    below = math.sqrt(sum(max(p[0], 0.0) ** 2 for p in parts))
    above = math.sqrt(sum(max(p[1], 0.0) ** 2 for p in parts))
    return value - below, value + above


@dataclass(frozen=True)
class Estimate:
    """A pooled number at the estimate (``draws[:, 0]``: every input once) and under each
    resample (``draws[:, 1:]``), one row per training seed (``seeds``: their labels).
    Arithmetic between two estimates pairs their seeds (those both have), as it pairs
    their resamples."""

    draws: np.ndarray
    n_inputs: int
    seeds: tuple = field(default=(None,))

    def __post_init__(self):
        draws = np.asarray(self.draws, float)
        object.__setattr__(self, "draws", draws.reshape(1, -1) if draws.ndim == 1 else draws)
        if len(self.seeds) != self.draws.shape[0]:
            raise ValueError(f"{self.draws.shape[0]} rows of draws for seeds {self.seeds}")

    @classmethod
    def over_seeds(cls, estimates: dict) -> Estimate:
        """One estimate from single-seed ones (seed label -> :class:`Estimate`), whose
        resamples are paired (the same inputs under the same draws)."""
        seeds = tuple(estimates)
        parts = [estimates[seed] for seed in seeds]
        return cls(np.vstack([p.draws.mean(axis=0) for p in parts]),
                   min(p.n_inputs for p in parts), seeds)

    @property
    def n_seeds(self) -> int:
        return self.draws.shape[0]

    @property
    def per_seed(self) -> np.ndarray:
        """The number of each seed (at the estimate)."""
        return self.draws[:, 0]

    @property
    def value(self) -> float:
        """The mean over the seeds of the number."""
        return float(np.mean(self.per_seed))

    def interval(self, level: float = LEVEL) -> tuple[float, float]:
        """The ``level`` interval of the mean over seeds: the percentile interval of the
        mean's resamples (none with fewer than two inputs: every resample is then the
        estimate) combined with the seeds' t-interval (none with one seed) by
        :func:`combined_interval`; NaN ends where neither can be drawn."""
        boot = (interval(self.draws[:, 1:].mean(axis=0), level) if self.n_inputs >= 2
                else (math.nan, math.nan))
        return combined_interval(self.value, boot, seed_halfwidth(self.per_seed, level))

    def _aligned(self, other: Estimate) -> tuple[np.ndarray, np.ndarray, tuple]:
        """Both draws on the seeds they share (paired by seed); without a shared seed,
        each averaged over its own (the spread between seeds then unknown)."""
        if self.seeds == other.seeds:
            return self.draws, other.draws, self.seeds
        shared = [seed for seed in self.seeds if seed in other.seeds]
        if shared:
            mine = [self.seeds.index(seed) for seed in shared]
            theirs = [other.seeds.index(seed) for seed in shared]
            return self.draws[mine], other.draws[theirs], tuple(shared)
        return (self.draws.mean(axis=0, keepdims=True),
                other.draws.mean(axis=0, keepdims=True), ("mean",))

    def _combine(self, other, op) -> Estimate:
        if isinstance(other, Estimate):
            mine, theirs, seeds = self._aligned(other)
            return Estimate(op(mine, theirs), min(self.n_inputs, other.n_inputs), seeds)
        return Estimate(op(self.draws, other), self.n_inputs, self.seeds)

    def __sub__(self, other) -> Estimate:
        return self._combine(other, np.subtract)

    def __rsub__(self, other) -> Estimate:
        return Estimate(other - self.draws, self.n_inputs, self.seeds)

    def __add__(self, other) -> Estimate:
        return self._combine(other, np.add)

    def __truediv__(self, other) -> Estimate:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self._combine(other, np.divide)


def estimate_of(make, *args) -> Estimate | None:
    """The :class:`Estimate` ``make(*args)`` pools (the args hold the checkpoints'
    :class:`Pooled` rows); None where a checkpoint has no per-input rows (an arg is
    None) or lacks the number."""
    if any(arg is None for arg in args):
        return None
    try:
        return make(*args)
    except KeyError:
        return None


def interval_of(make, *args) -> tuple[float, float] | None:
    """The interval of :func:`estimate_of`'s estimate (None where it has none)."""
    estimate = estimate_of(make, *args)
    return None if estimate is None else estimate.interval()


def whole_change(before: Pooled, after: Pooled, name: str, parts,
                 column: str = "equivariance_rmse") -> Estimate:
    """after / before of a whole output's RMSE (``column``) between two checkpoints or
    stages (resampled in pairs where they share their inputs)."""
    return after.whole(name, parts, column) / before.whole(name, parts, column)


#: the per-input columns pooled as RMSEs (weighted by n_samples), and their table names
MEAN_SQUARES = {"as_given_mse": "rmse_as_given", "equivariance_mse": "equivariance_rmse",
                "accuracy_mse": "accuracy_rmse", "reference_ms": "reference_rms",
                "output_ms": "output_rms"}
KEYS = ["name", "o3_lambda", "o3_sigma"]


class _OneSeed:
    """The pooled numbers of one training seed's per-input rows of a checkpoint (see
    :class:`Pooled`)."""

    def __init__(self, rows: pd.DataFrame, input: str = "structure",
                 resamples: int = RESAMPLES, seed: int = SEED):
        self.ids = sorted(set(rows[input]), key=lambda v: (str(type(v)), v))
        self.n_inputs = len(self.ids)
        self._weights = np.vstack([np.ones((1, self.n_inputs)),
                                   draw_counts(self.ids, resamples, seed)])
        self._position = pd.Index(self.ids)
        self._input = input
        table = rows["table"] if "table" in rows else pd.Series("errors", index=rows.index)
        self._rows = {"errors": rows[table == "errors"], "spectrum": rows[table == "spectrum"]}
        # pooled on first use: a figure that reads the errors never pools the spectra
        self._pooled: dict[str, dict] = {}

    def _matrix(self, rows: pd.DataFrame, values: str, keys: pd.MultiIndex) -> np.ndarray:
        """(inputs, keys) matrix of ``values`` (NaN where an input lacks a key)."""
        matrix = np.full((self.n_inputs, len(keys)), np.nan)
        where = self._position.get_indexer(rows[self._input])
        column = keys.get_indexer(pd.MultiIndex.from_frame(rows[KEYS]))
        matrix[where, column] = rows[values].to_numpy(float)
        return matrix

    @staticmethod
    def _keys(rows: pd.DataFrame) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(rows[KEYS].drop_duplicates())

    def _errors(self) -> dict[tuple, dict[str, np.ndarray]]:
        if "errors" not in self._pooled:
            rows, pooled = self._rows["errors"], {}
            if len(rows):
                keys = self._keys(rows)
                samples = self._matrix(rows, "n_samples", keys)
                present = np.isfinite(samples)
                samples = np.where(present, samples, 0.0)
                total = self._weights @ samples
                pooled = {tuple(key): {} for key in keys}
                for column, name in MEAN_SQUARES.items():
                    if column not in rows:
                        continue
                    values = self._matrix(rows, column, keys)
                    # NaN unless every input that has the key has the value (as the
                    # tables)
                    known = (~present | np.isfinite(values)).all(axis=0)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        mean = (self._weights @ np.nan_to_num(values * samples)) / total
                    mean[:, ~known] = np.nan
                    root = np.sqrt(np.clip(mean, 0.0, None))
                    for k, key in enumerate(keys):
                        pooled[tuple(key)][name] = root[:, k]
            self._pooled["errors"] = pooled
        return self._pooled["errors"]

    def _spectrum(self) -> dict[tuple, np.ndarray]:
        if "spectrum" not in self._pooled:
            rows, pooled = self._rows["spectrum"], {}
            if len(rows) and "fraction" in rows:
                keys = self._keys(rows)
                values = self._matrix(rows, "fraction", keys)
                known = np.isfinite(values)
                with np.errstate(divide="ignore", invalid="ignore"):
                    mean = (self._weights @ np.where(known, values, 0.0)) \
                        / (self._weights @ known)
                pooled = {tuple(key): mean[:, k] for k, key in enumerate(keys)}
            self._pooled["spectrum"] = pooled
        return self._pooled["spectrum"]


class Pooled:
    """The pooled numbers of one checkpoint's per-input rows (``input`` names the
    input), at the estimate and under ``resamples`` bootstrap resamples of its inputs;
    with a ``seed`` column, those of each training seed (their draws paired where they
    analysed the same inputs).

    ``rmse(name, lambda, sigma, column)`` is an errors-table RMSE (``rmse_as_given``,
    ``equivariance_rmse``, ...), ``fraction(layer, lambda, sigma)`` a spectrum-table
    character fraction; each is an :class:`Estimate` with one row per seed."""

    def __init__(self, rows: pd.DataFrame, input: str = "structure",
                 resamples: int = RESAMPLES, seed: int = SEED):
        if "seed" in rows and rows["seed"].notna().any():
            self.seeds = tuple(sorted(int(s) for s in rows["seed"].dropna().unique()))
            groups = [rows[rows["seed"] == s] for s in self.seeds]
        else:
            self.seeds, groups = (None,), [rows]
        self._seeds = [_OneSeed(group, input, resamples, seed) for group in groups]
        self.n_inputs = min(one.n_inputs for one in self._seeds)

    def _stacked(self, pick) -> Estimate:
        return Estimate(np.vstack([pick(one) for one in self._seeds]), self.n_inputs,
                        self.seeds)

    def has(self, name: str, lam: int, sigma: int) -> bool:
        """Whether the errors rows of every seed hold this output part."""
        return all((name, int(lam), int(sigma)) in one._errors() for one in self._seeds)

    def rmse(self, name: str, lam: int, sigma: int, column: str) -> Estimate:
        key = (name, int(lam), int(sigma))
        return self._stacked(lambda one: one._errors()[key][column])

    def fraction(self, name: str, lam: int, sigma: int) -> Estimate:
        key = (name, int(lam), int(sigma))
        return self._stacked(lambda one: one._spectrum()[key])

    def whole(self, name: str, parts: Sequence[tuple[int, int]], column: str) -> Estimate:
        """The RMSE of a whole output from its irrep ``parts`` ((lambda, sigma)), per
        component: each part weighted by its 2 lambda + 1 components, as
        :func:`symlearn.figures.tables.whole_output`."""
        weights = np.array([2 * lam + 1 for lam, _ in parts], float)
        squares = np.stack([self.rmse(name, lam, sigma, column).draws ** 2
                            for lam, sigma in parts])
        return Estimate(np.sqrt(np.tensordot(weights, squares, axes=1) / weights.sum()),
                        self.n_inputs, self.seeds)

    def relative(self, name: str, lam: int, sigma: int) -> Estimate:
        """The relative test RMSE (as given): / RMS of the reference."""
        return (self.rmse(name, lam, sigma, "rmse_as_given")
                / self.rmse(name, lam, sigma, "reference_rms"))

    def whole_ratio(self, name: str, parts: Sequence[tuple[int, int]]) -> Estimate:
        """A / test RMSE (as given) of a whole output from its irrep ``parts``."""
        return (self.whole(name, parts, "equivariance_rmse")
                / self.whole(name, parts, "rmse_as_given"))

    def total_fraction(self, name: str, irreps: Iterable[tuple[int, int]]) -> Estimate:
        """The sum of the character fractions of ``irreps`` of a layer."""
        zero = np.zeros((len(self.seeds), self._seeds[0]._weights.shape[0]))
        return Estimate(sum((self.fraction(name, lam, sigma).draws
                             for lam, sigma in irreps), start=zero),
                        self.n_inputs, self.seeds)


class PerInput:
    """The per-input rows of the analysed checkpoints (a collected
    ``structures.parquet``: columns run, epoch, seed, and for a purification stage and
    mu), pooled once per checkpoint (over its seeds) at the estimate and under each
    resample (:class:`Pooled`)."""

    def __init__(self, rows: pd.DataFrame | None = None, resamples: int = RESAMPLES,
                 seed: int = SEED):
        self.rows, self.resamples, self.seed = rows, int(resamples), int(seed)
        self._pooled: dict[tuple[str, int], Pooled | None] = {}

    def at(self, run: str, epoch, stage: str | None = None,
           mu: float | None = None) -> Pooled | None:
        """The pooled rows of ``run`` at ``epoch`` (a purification's: of one ``stage``
        and weight ``mu``); None: no rows."""
        if self.rows is None:
            return None
        key = (run, int(epoch), stage, mu)
        if key not in self._pooled:
            rows = self.rows
            chosen = (rows["run"] == run) & (rows["epoch"] == key[1])
            if stage is not None:
                chosen &= rows["stage"] == stage
            if mu is not None:
                chosen &= np.isclose(rows["mu"].astype(float), float(mu))
            rows = rows[chosen]
            self._pooled[key] = (Pooled(rows, resamples=self.resamples, seed=self.seed)
                                 if len(rows) else None)
        return self._pooled[key]
