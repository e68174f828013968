"""The workflow's plans on a tiny configuration, before any job runs: one file asks for
only what it needs, the lint is clean, and a bad configuration fails naming its key."""

from __future__ import annotations

import pytest
from dryrun import job_counts
from tiny_workflow import TINY, _config, snakemake

from symlearn.settings.base import deep_merge

pytestmark = pytest.mark.integration


def test_asking_for_one_file_runs_only_what_it_needs(tmp_path):
    configfile = _config(tmp_path, TINY)
    result = snakemake(tmp_path, configfile, "-n",
                       "results/data/atomistic/synthetic/pet/val.xyz")
    assert result.returncode == 0, result.stderr
    assert job_counts(result.stdout, total=False) == {"make_atomistic": 1, "prepare_pet_data": 1}


def test_lint_is_clean(tmp_path):
    result = snakemake(tmp_path, _config(tmp_path, TINY), "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"pet": {"training": {"epochs": "ten"}}},
         "pet.training.epochs: 'ten' is not of type 'integer'"),
        ({"pet": {"runs": {"pet-aug": {"augmentation": "o3", "depth": 2}}}},
         "unknown key pet.runs.pet-aug.depth"),
        ({"data": {"atomistic": {"split": {"train": 0.9}}}},
         "data.atomistic.split: fractions sum to 1.3"),
        ({"analysis": {"pet": {"lambda_max": 3, "grid_degree": 5}}},
         "analysis.pet.grid_degree: 5 is too coarse for the character projections up to "
         "lambda_max 3 (needs >= 6, or null to choose it)"),
        ({"analysis": {"quadrature_check": {"delta": -1}}},
         "analysis.quadrature_check.delta: -1 is less than the minimum of 1"),
        ({"pet": {"runs": {"geo-bad": {"augmentation": "o3", "targets": "geometric",
                                       "edge_embedding": {"type": "solid_harmonics"}}}}},
         "pet.runs.geo-bad.edge_embedding.lmax: solid_harmonics needs lmax"),
        ({"analysis": {"purification": {"runs": ["pet-nope"]}}},
         "analysis.purification.runs: 'pet-nope' is not a PET run"),
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, overrides, message):
    configfile = _config(tmp_path, deep_merge(TINY, overrides))
    result = snakemake(tmp_path, configfile)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
