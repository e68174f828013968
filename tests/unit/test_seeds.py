"""Training seeds: the mean over seeds and its interval (symlearn.bootstrap), its
coverage, the collected tables read as seed means (symlearn.figures.tables), a finding
judged on the seeds that exist when one is missing, and the settings that choose them
(symlearn.settings)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from symlearn.analyse.tables import errors_table, spectrum_table
from symlearn.bootstrap import Estimate, Pooled, combined_interval, interval
from symlearn.figures.tables import seed_means
from symlearn.findings import claims
from symlearn.findings.verdicts import ENERGY, FORCES
from symlearn.settings.base import schema_errors
from symlearn.settings.pet import pet_run_settings
from symlearn.settings.polarmae import polarmae_run_settings
from symlearn.settings.runs import run_seeds


def _rows(values, seed=None, ids=None) -> pd.DataFrame:
    """Per-input spectrum rows of one seed whose pooled fraction is the mean of
    ``values``."""
    ids = range(len(values)) if ids is None else ids
    rows = pd.DataFrame({"structure": list(ids), "table": "spectrum", "name": "layer",
                         "o3_lambda": 0, "o3_sigma": 1, "fraction": values})
    return rows if seed is None else rows.assign(seed=seed)


def test_the_mean_over_seeds_and_its_interval_follow_the_documented_formula():
    """Three seeds on the same 20 inputs: the number is the mean of each seed's; the
    interval adds, on each side, the percentile half-width of the mean's resamples and
    t_{0.975, 2} s / sqrt(3) in quadrature (docs/statistics.md)."""
    rng = np.random.default_rng(5)
    base = rng.normal(size=20)
    per_seed = {seed: base + offset for seed, offset in zip((0, 1, 2), (0.0, 0.3, -0.1),
                                                            strict=True)}
    rows = pd.concat([_rows(values, seed) for seed, values in per_seed.items()])
    estimate = Pooled(rows, resamples=2000, seed=3).fraction("layer", 0, 1)
    singles = [Pooled(_rows(values), resamples=2000, seed=3).fraction("layer", 0, 1)
               for values in per_seed.values()]
    means = np.array([values.mean() for values in per_seed.values()])
    assert estimate.seeds == (0, 1, 2) and estimate.n_seeds == 3
    assert estimate.value == pytest.approx(means.mean(), rel=1e-12)
    # the seeds share their inputs, so their resamples are paired: one set of draws
    mean_draws = np.mean([single.draws[0, 1:] for single in singles], axis=0)
    low_b, high_b = interval(mean_draws)
    spread = stats.t.ppf(0.975, 2) * means.std(ddof=1) / math.sqrt(3)
    value = means.mean()
    expected = (value - math.hypot(value - low_b, spread),
                value + math.hypot(high_b - value, spread))
    assert estimate.interval() == pytest.approx(expected, rel=1e-12)
    # one seed: the bootstrap interval alone; one input and one seed: none
    assert singles[0].interval() == pytest.approx(interval(singles[0].draws[0, 1:]))
    assert all(math.isnan(end) for end in Estimate(np.array([0.2]), 1).interval())
    # one input, three seeds: the seeds' t-interval alone
    lone = Estimate(np.array([[0.1], [0.2], [0.4]]), 1, (0, 1, 2))
    half = stats.t.ppf(0.975, 2) * np.std([0.1, 0.2, 0.4], ddof=1) / math.sqrt(3)
    assert lone.interval() == pytest.approx((lone.value - half, lone.value + half))


def test_combined_interval_leaves_out_what_cannot_be_drawn():
    assert combined_interval(1.0, (0.8, 1.5), math.nan) == pytest.approx((0.8, 1.5))
    assert combined_interval(1.0, (math.nan, math.nan), 0.3) == pytest.approx((0.7, 1.3))
    low, high = combined_interval(1.0, (0.7, 1.4), 0.4)
    assert (low, high) == pytest.approx((0.5, 1.0 + math.hypot(0.4, 0.4)))
    assert all(math.isnan(end) for end in combined_interval(1.0, (math.nan,) * 2,
                                                            math.nan))


@pytest.mark.slow
def test_the_interval_over_seeds_covers_the_true_mean_at_about_its_level():
    """200 trials: 3 seeds of one model class, each seed's number shifted by its own
    training noise (normal, sd 0.3), all analysed on the same 30 inputs (normal, sd 1).
    The interval holds the true mean (0) in 90 to 99.5 % of trials: the t-interval of
    3 seeds added to the bootstrap is slightly conservative, a bootstrap alone would
    fall near 70 %."""
    rng = np.random.default_rng(21)
    covered = bootstrap_only = 0
    trials = 200
    for trial in range(trials):
        inputs = rng.normal(size=30)
        offsets = rng.normal(0.0, 0.3, size=3)
        rows = pd.concat([_rows(inputs + offset, seed) for seed, offset in enumerate(offsets)])
        estimate = Pooled(rows, resamples=400, seed=trial).fraction("layer", 0, 1)
        low, high = estimate.interval()
        covered += low <= 0.0 <= high
        b_low, b_high = interval(estimate.draws[:, 1:].mean(axis=0))
        bootstrap_only += b_low <= 0.0 <= b_high
    assert 0.90 <= covered / trials <= 0.995
    assert bootstrap_only / trials < 0.85


def test_a_difference_pairs_the_seeds_both_runs_have():
    mine = Estimate(np.array([[1.0, 1.1], [2.0, 2.1], [3.0, 3.1]]), 5, (0, 1, 2))
    theirs = Estimate(np.array([[0.5, 0.4], [1.0, 0.9]]), 5, (0, 2))
    difference = mine - theirs
    assert difference.seeds == (0, 2)
    assert difference.per_seed == pytest.approx([0.5, 2.0])
    # no shared seed: each run's mean over its own seeds (their spread unknown)
    other = Estimate(np.array([[0.0, 0.0]]), 5, (7,))
    assert (mine - other).seeds == ("mean",) and (mine - other).value == pytest.approx(2.0)


def _errors_and_structures(rng, seeds_of):
    """Collected errors, spectrum and per-structure tables of runs with the given seeds
    (run -> (augmentation, seeds)), one checkpoint (epoch 30) each."""
    errors, spectrum, structures = [], [], []
    for run, (augmentation, seeds) in seeds_of.items():
        for seed in seeds:
            rows = []
            for s in range(8):
                n_atoms = int(rng.integers(4, 12))
                for name, lam, samples in ((ENERGY, 0, 1), (FORCES, 1, n_atoms)):
                    scale = 0.2 if augmentation == "o3" else 1.0
                    rows.append(dict(structure=s, table="errors", name=name, o3_lambda=lam,
                                     o3_sigma=1, n_samples=samples,
                                     equivariance_mse=scale * rng.exponential(0.01),
                                     as_given_mse=rng.exponential(0.01),
                                     accuracy_mse=rng.exponential(0.01),
                                     reference_ms=1.0 + rng.uniform(), output_ms=1.0))
                for lam in range(2):
                    rows.append(dict(structure=s, table="spectrum", name="gnn_0",
                                     o3_lambda=lam, o3_sigma=1, n_samples=n_atoms,
                                     fraction=rng.uniform(0.3, 0.5), residual=0.0))
            rows = pd.DataFrame(rows)
            keys = dict(run=run, augmentation=augmentation, epoch=30, seed=seed)
            errors.append(errors_table(rows).assign(quadrature_error=0.0, **keys))
            spectrum.append(spectrum_table(rows).assign(quadrature_error=0.0, **keys))
            structures.append(rows.assign(**keys))
    return (pd.concat(errors, ignore_index=True), pd.concat(spectrum, ignore_index=True),
            pd.concat(structures, ignore_index=True))


def test_a_missing_seed_is_judged_on_the_seeds_that_exist():
    """pet-noaug lost seed 2 (its training failed under --keep-going): finding 2 pairs
    the two seeds both runs have, the rows say so, and nothing fails."""
    errors, spectrum, structures = _errors_and_structures(
        np.random.default_rng(8), {"pet-aug": ("o3", (0, 1, 2)),
                                   "pet-noaug": ("none", (0, 1))})
    means = seed_means(errors)
    assert set(means.groupby("run")["n_seeds"].first().items()) == {("pet-aug", 3),
                                                                   ("pet-noaug", 2)}
    table = claims.data(errors=means, spectrum=seed_means(spectrum), structures=structures,
                        geometric_errors=None, purification=None, instability=None,
                        resamples=200)
    second = table[(table["claim"] == 2) & (table["role"] == claims.CRITERION)]
    assert len(second) and (second["seeds"] == 2).all()
    assert second["ci_low"].notna().all()
    third = table[(table["claim"] == 3) & (table["role"] == claims.CRITERION)]
    assert len(third) and (third["seeds"] == 3).all()
    # the value is the mean over the shared seeds of each seed's difference
    aug = structures[(structures["run"] == "pet-aug") & structures["seed"].isin([0, 1])]
    plain = structures[structures["run"] == "pet-noaug"]
    a = Pooled(aug).rmse(ENERGY, 0, 1, "equivariance_rmse")
    b = Pooled(plain).rmse(ENERGY, 0, 1, "equivariance_rmse")
    energy = second[second["part"].str.startswith("energy")].iloc[0]
    assert energy["value"] == pytest.approx((a - b).value, rel=1e-12)
    assert "mean of 2 seeds" in claims.markdown(table)


def test_seed_means_average_the_values_and_keep_the_largest_quadrature_error():
    table = pd.DataFrame({"run": "r", "augmentation": "o3", "seed": [0, 1, 2], "epoch": 4,
                          "target": "energy", "o3_lambda": 0, "o3_sigma": 1,
                          "equivariance_rmse": [1.0, 2.0, 4.0],
                          "quadrature_error": [0.1, 0.3, 0.2], "n_samples": 8,
                          # a purification table's label of how A was estimated
                          "equivariance_estimate": "quadrature"})
    means = seed_means(table)
    assert len(means) == 1 and "seed" not in means
    row = means.iloc[0]
    assert row["equivariance_rmse"] == pytest.approx(7 / 3)
    assert row["quadrature_error"] == 0.3 and row["n_seeds"] == 3 and row["n_samples"] == 8
    assert row["equivariance_estimate"] == "quadrature"
    half = stats.t.ppf(0.975, 2) * np.std([1.0, 2.0, 4.0], ddof=1) / math.sqrt(3)
    assert row["equivariance_rmse_seed_half"] == pytest.approx(half)
    assert seed_means(table.drop(columns="seed")) is not None


@pytest.mark.parametrize("seeds, problem", [([], "should be non-empty"),
                                            ([0, 0], "non-unique"),
                                            ([-1], "minimum"), ("0", "array")])
def test_bad_seeds_are_refused_naming_the_key(default_config, seeds, problem):
    for path in (("pet", "seeds"), ("pet", "control_seeds"), ("polarmae", "seeds")):
        config = {**default_config, path[0]: {**default_config[path[0]], path[1]: seeds}}
        errors = schema_errors(config)
        assert errors and any(".".join(path) in error for error in errors), errors
    config = dict(default_config)
    config["pet"] = {**config["pet"], "runs": {**config["pet"]["runs"],
                                               "pet-aug": {"augmentation": "o3",
                                                           "seeds": seeds}}}
    assert any("pet.runs.pet-aug.seeds" in error for error in schema_errors(config))


def test_each_run_takes_its_familys_seeds_or_its_own(default_config):
    config = dict(default_config)
    config["pet"] = {**config["pet"], "seeds": [0, 1], "control_seeds": [5],
                     "runs": {"a": {"augmentation": "o3"},
                              "c": {"augmentation": "none", "architecture": "soap_bpnn",
                                    "targets": "geometric"},
                              "own": {"augmentation": "none", "seeds": [9]}}}
    assert run_seeds(config, "pet", "a") == [0, 1]
    assert run_seeds(config, "pet", "c") == [5]
    assert run_seeds(config, "pet", "own") == [9]
    assert pet_run_settings(config, "a", 1)["training"]["seed"] == 1
    assert run_seeds(default_config, "polarmae", "polarmae-o3") == [0]
    assert polarmae_run_settings(default_config, "polarmae-o3", 4)["seed"] == 4
