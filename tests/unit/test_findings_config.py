"""config/findings.yaml: the default's jobs (and geo-sh4's) with longer training, its own
results folder, and a clear stop when combined with a configuration lacking its runs."""

from __future__ import annotations

import subprocess
import sys

import yaml
from dryrun import dry_run
from project import configuration


def test_findings_runs_the_default_jobs_into_its_own_folder(root):
    _, default = dry_run()
    _, findings = dry_run("--configfile", str(root / "config" / "findings.yaml"))
    # the same jobs, with other settings, the runs the default leaves out (geo-sh2,
    # geo-sh4 and the control geo-control), and 3 training seeds of every run a finding
    # reads: 7 PET runs (2 standard, 5 geometric) and polarmae-o3; polarmae-none keeps
    # one seed; pet-aug is purified once per seed
    seeds = 3
    extra = {"train_pet": 7 * seeds - 4, "analyse_pet_run": 2 * seeds - 2,
             "analyse_pet_geometric_run": 5 * seeds - 2, "purify_pet": seeds - 1}
    extra.update({rule: seeds - 1 for rule in (
        "pretrain_polarmae", "finetune_polarmae", "analyse_polarmae_pretrain_run",
        "analyse_polarmae_finetune_run")})
    extra["total"] = sum(extra.values())
    assert findings == {job: count + extra.get(job, 0) for job, count in default.items()}
    config = configuration("findings.yaml")
    assert config["results"] != configuration()["results"]
    assert config["pet"]["training"]["epochs"] > configuration()["pet"]["training"]["epochs"]
    assert config["pet"]["seeds"] == config["pet"]["control_seeds"] == [0, 1, 2]


def test_findings_over_a_configuration_without_its_runs_stops_at_start(root, tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"pet": {"runs": {"geo-sh8": None, "pet-noaug": None}},
                                    "polarmae": {"runs": {"polarmae-o3": None}}}))
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(root / "Snakefile"),
         "--directory", str(tmp_path), "--configfile",
         str(root / "config" / "findings.yaml"), str(mine)],
        capture_output=True, text=True, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "required_runs.pet: pet-noaug, geo-sh8 missing from pet.runs" in output, output
    assert "required_runs.polarmae: polarmae-o3 missing from polarmae.runs" in output
    assert not (tmp_path / "results-findings").exists()
