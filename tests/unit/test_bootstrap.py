"""The bootstrap intervals (symlearn.bootstrap): their coverage on a known distribution,
pooling identical to the tables', paired resampling, and how an interval decides a
verdict (symlearn.findings.claims)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from symlearn.analyse.tables import errors_table, spectrum_table
from symlearn.bootstrap import MAX_RESAMPLES, Pooled, draw_counts
from symlearn.findings.verdicts import (
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    Evidence,
    Verdict,
)


def _mean_rows(values, ids=None) -> pd.DataFrame:
    """Per-input spectrum rows whose pooled fraction is the plain mean of ``values``."""
    ids = range(len(values)) if ids is None else ids
    return pd.DataFrame({"structure": list(ids), "table": "spectrum", "name": "layer",
                         "o3_lambda": 0, "o3_sigma": 1, "fraction": values})


def test_draw_counts_draw_n_with_replacement_and_depend_on_the_inputs_only():
    counts = draw_counts([3, 1, 2, 7], resamples=500, seed=4)
    assert counts.shape == (500, 4) and (counts.sum(axis=1) == 4).all()
    # every input is drawn about as often as the others: 500 x 4 draws, 1/4 each
    assert np.allclose(counts.mean(axis=0), 1.0, atol=0.15)
    assert (draw_counts([7, 3, 2, 1], 500, 4) == counts).all()  # order does not matter
    assert not (draw_counts([3, 1, 2, 7], 500, 5) == counts).all()
    assert not (draw_counts([3, 1, 2, 8], 500, 4) == counts).all()
    with pytest.raises(ValueError, match="resamples"):
        draw_counts([1, 2], MAX_RESAMPLES + 1)


def test_the_interval_covers_the_true_mean_at_about_its_level():
    """400 samples of 40 draws from an exponential distribution (mean 1, skewed): the
    95 % percentile interval of the mean holds the true mean in 90 to 98.5 % of them
    (a percentile interval undercovers slightly at this size; 400 samples put the
    observed rate within about 1 % of its expectation)."""
    rng = np.random.default_rng(12)
    covered = 0
    trials = 400
    for trial in range(trials):
        values = rng.exponential(1.0, size=40)
        estimate = Pooled(_mean_rows(values), resamples=1000, seed=trial).fraction(
            "layer", 0, 1)
        assert estimate.value == pytest.approx(values.mean(), rel=1e-12)
        low, high = estimate.interval()
        covered += low <= 1.0 <= high
    assert 0.90 <= covered / trials <= 0.985


def test_a_wider_spread_gives_a_wider_interval_and_one_input_none():
    rng = np.random.default_rng(0)
    values = rng.normal(size=20)
    narrow = Pooled(_mean_rows(values)).fraction("layer", 0, 1).interval()
    wide = Pooled(_mean_rows(10 * values)).fraction("layer", 0, 1).interval()
    assert (wide[1] - wide[0]) == pytest.approx(10 * (narrow[1] - narrow[0]), rel=1e-9)
    single = Pooled(_mean_rows([0.3])).fraction("layer", 0, 1)
    assert single.value == 0.3 and all(math.isnan(end) for end in single.interval())


def _per_structure(rng, n_structures=7) -> pd.DataFrame:
    rows = []
    for s in range(n_structures):
        n_atoms = int(rng.integers(4, 20))
        for name, lam, samples in (("energy", 0, 1), ("forces", 1, n_atoms)):
            rows.append(dict(structure=10 + s, table="errors", name=name, o3_lambda=lam,
                             o3_sigma=1, n_samples=samples,
                             equivariance_mse=rng.exponential(0.01),
                             as_given_mse=rng.exponential(0.1),
                             accuracy_mse=rng.exponential(0.1),
                             reference_ms=rng.exponential(1.0),
                             output_ms=rng.exponential(1.0)))
        for lam in range(3):
            for sigma in (1, -1):
                rows.append(dict(structure=10 + s, table="spectrum", name="feature",
                                 o3_lambda=lam, o3_sigma=sigma, n_samples=n_atoms,
                                 fraction=rng.uniform(), residual=0.0))
    return pd.DataFrame(rows)


def test_the_estimate_pools_exactly_as_the_tables_do():
    """Draw 0 (every input once) is the number the errors and spectrum tables hold:
    an RMSE weighted by samples, a fraction averaged over inputs."""
    rows = _per_structure(np.random.default_rng(1))
    pooled = Pooled(rows)
    for row in errors_table(rows).itertuples(index=False):
        for column in ("rmse_as_given", "equivariance_rmse", "accuracy_rmse",
                       "reference_rms", "output_rms"):
            assert pooled.rmse(row.target, row.o3_lambda, row.o3_sigma, column).value == \
                pytest.approx(getattr(row, column), rel=1e-12)
    for row in spectrum_table(rows).itertuples(index=False):
        assert pooled.fraction(row.layer, row.o3_lambda, row.o3_sigma).value == \
            pytest.approx(row.fraction, rel=1e-12)


def test_paired_resampling_narrows_a_difference_that_shares_its_variance():
    """Two runs whose A varies from structure to structure in the same way, one
    slightly lower: on the same structures the draws are paired and the difference's
    interval is narrow; the same numbers on structures of other ids are resampled
    independently, and the interval is many times wider."""
    rng = np.random.default_rng(3)
    base = rng.exponential(1.0, size=12)

    def rows(values, ids):
        return pd.DataFrame({"structure": ids, "table": "errors", "name": "energy",
                             "o3_lambda": 0, "o3_sigma": 1, "n_samples": 1,
                             "equivariance_mse": values})

    ids = list(range(12))
    lower = base * 0.9 + rng.normal(0, 0.005, size=12).clip(-0.05, 0.05)
    mine = Pooled(rows(lower, ids)).rmse("energy", 0, 1, "equivariance_rmse")
    paired = mine - Pooled(rows(base, ids)).rmse("energy", 0, 1, "equivariance_rmse")
    unpaired = mine - Pooled(rows(base, [100 + i for i in ids])).rmse(
        "energy", 0, 1, "equivariance_rmse")
    assert paired.value == pytest.approx(unpaired.value, rel=1e-12)
    (p_low, p_high), (u_low, u_high) = paired.interval(), unpaired.interval()
    assert p_high < 0  # paired: the lower run is lower on every resample
    assert u_low < 0 < u_high  # unpaired: the spread of the structures swamps it
    assert (p_high - p_low) < (u_high - u_low) / 3


def _verdict(value, error, ci, relation="<", threshold=0.5) -> str:
    return Verdict([Evidence("part", "run", "epoch 1", "q", value, error, relation,
                             threshold, ci=ci)]).verdict


def test_an_interval_decides_the_verdict_with_the_quadrature_error_widening_it():
    # the whole interval below the threshold: reproduced
    assert _verdict(0.40, 0.01, (0.35, 0.45)) == REPRODUCED
    # the whole interval above it: not reproduced, even though the estimate is close
    assert _verdict(0.52, 0.0, (0.51, 0.60)) == NOT_REPRODUCED
    # straddling: inconclusive, and the Markdown says by how much
    straddling = Evidence("part", "run", "epoch 1", "q", 0.45, 0.0, "<", 0.5,
                          ci=(0.40, 0.55))
    assert Verdict([straddling]).verdict == INCONCLUSIVE
    assert straddling.straddle == pytest.approx(0.05)
    # a bootstrap interval that meets the criterion, widened by the quadrature error
    # past the threshold: the quadrature error makes it inconclusive
    assert _verdict(0.45, 0.0, (0.44, 0.49)) == REPRODUCED
    assert _verdict(0.45, 0.02, (0.44, 0.49)) == INCONCLUSIVE
    # the same for ">" criteria
    assert _verdict(0.3, 0.0, (0.1, 0.5), ">", 0.0) == REPRODUCED
    assert _verdict(0.3, 0.0, (-0.1, 0.5), ">", 0.0) == INCONCLUSIVE
    assert _verdict(-0.3, 0.0, (-0.5, -0.1), ">", 0.0) == NOT_REPRODUCED
    # without per-input rows: value +- quadrature error; an interval that could not be
    # drawn (one input) decides nothing
    assert _verdict(0.45, 0.02, None) == REPRODUCED
    assert _verdict(0.49, 0.02, None) == NOT_REPRODUCED
    assert _verdict(0.45, 0.0, (math.nan, math.nan)) == INCONCLUSIVE
    # one failing number outright outweighs one that straddles
    verdict = Verdict([Evidence("a", "r", "e", "q", 0.45, 0.0, "<", 0.5, ci=(0.4, 0.55)),
                       Evidence("b", "r", "e", "q", 0.7, 0.0, "<", 0.5, ci=(0.6, 0.8))])
    assert verdict.verdict == NOT_REPRODUCED


def test_collect_keeps_the_main_grid_and_the_stage(tmp_path):
    """The collected per-input table drops the quadrature check's rows (the checked
    input analysed again on the finer grid) and keeps a purification's stage and mu."""
    from symlearn.analyse.tables import collect_inputs

    rows = _per_structure(np.random.default_rng(2), n_structures=3).assign(grid_degree=8)
    check = rows[rows["structure"] == 10].assign(grid_degree=12, equivariance_mse=9.0)
    path = tmp_path / "structures.parquet"
    pd.concat([rows, check]).assign(stage="original", mu=np.nan).to_parquet(path)
    collected = collect_inputs([dict(run="r", augmentation="o3", epoch=3,
                                      structures=str(path))])
    assert list(collected.columns[:5]) == ["run", "augmentation", "epoch", "structure",
                                           "stage"]
    assert len(collected) == len(rows) and (collected["equivariance_mse"] != 9.0).all()
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(Exception, match="bad.parquet: unreadable as Parquet"):
        collect_inputs([dict(run="r", augmentation="o3", epoch=3, structures=str(bad))])


def test_fig2s_bars_get_the_interval_of_their_own_number():
    """The bars' intervals (fig2) are the bootstrap of the very number drawn, in its
    plotted units: each holds its bar."""
    from symlearn.analyse.tables import errors_table as pool
    from symlearn.figures.tables import bar_intervals, long_errors

    rows = _per_structure(np.random.default_rng(5)).assign(
        run="pet-aug", augmentation="o3", epoch=30)
    errors = pool(rows).assign(run="pet-aug", augmentation="o3", epoch=30,
                               quadrature_error=0.0, quadrature_flagged=False,
                               grid_degree=8, check_degree=12)
    bars = bar_intervals(long_errors(errors), rows, 1000, 0)
    assert bars["ci_low"].notna().all()
    assert ((bars["ci_low"] <= bars["value"]) & (bars["value"] <= bars["ci_high"])).all()
    assert bar_intervals(long_errors(errors), None, 1000, 0)["ci_low"].isna().all()
