"""The real workflow, run through snakemake on a tiny configuration in a temporary
directory: outputs, reruns, config errors, and a training killed half way."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from dryrun import job_counts
from tiny_workflow import (
    GEOMETRIC_RUNS,
    POLARMAE_RUNS,
    TINY,
    _config,
    _environment,
    snakemake,
)

from symlearn.settings.base import deep_merge

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

# the report stage, after every other job: the cost records and their figure
REPORT = {"collect_benchmarks": 1, "figure_cost": 1}
# what depends on the analysis tables: their collection, the PET figures, table1
DOWNSTREAM = {"collect_pet_analysis": 1, "fig2": 1, "fig3": 1, "table1": 1, "all": 1,
              "collect_geometric_analysis": 1, "fig6": 1, "fig7": 1, "claims": 1,
              "learnability": 1, **REPORT}
# ... and on the PoLAr-MAE ones
POLARMAE_DOWNSTREAM = {"collect_polarmae_analysis": 1, "fig4": 1, "fig5": 1, "table1": 1,
                       "claims": 1, "all": 1, **REPORT}


def _job_counts(output: str) -> dict[str, int]:
    return job_counts(output, total=False)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("workflow")
    configfile = _config(directory, TINY)
    result = snakemake(directory, configfile)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return directory, configfile


def test_outputs_exist_and_load(finished_run):
    from symlearn.pet.train import load_checkpoint

    directory, _ = finished_run
    results = directory / "results"
    # every job's cost, one row each, and the report's cost figure
    costs = pd.read_csv(results / "benchmarks.csv", keep_default_na=False, na_values=[""])
    assert (costs["status"] == "ok").all() and (costs["wall_s"] > 0).all()
    train = costs[costs["rule"] == "train_pet"]
    assert sorted(train["wildcards"]) == sorted(f"run={r}, seed=0" for r in (
        "pet-aug", "pet-noaug", *GEOMETRIC_RUNS))
    # analysis.jobs per_run (the default): one analysis job per run
    for phase in ("pretrain", "finetune"):
        assert sorted(costs[costs["rule"] == f"analyse_polarmae_{phase}_run"]["wildcards"]
                      ) == sorted(f"run={r}, seed=0" for r in POLARMAE_RUNS)
    assert len(costs[costs["rule"] == "analyse_pet_run"]) == 2
    assert len(costs[costs["rule"] == "analyse_pet_geometric_run"]) == len(GEOMETRIC_RUNS)
    assert {"make_atomistic", "fig4", "claims"} <= set(costs["rule"])
    assert (results / "figures" / "cost.png").stat().st_size > 0
    for split in ("train", "val", "test"):
        assert (results / "data" / "atomistic" / "synthetic" / f"{split}.xyz").exists()
        assert (results / "data" / "atomistic" / "synthetic" / "pet" / f"{split}.xyz").exists()
    for run in ("pet-aug", "pet-noaug"):
        run_dir = results / "train" / "pet" / run / "seed_0"
        assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
            "epoch_0.ckpt", "epoch_2.ckpt", "epoch_4.ckpt"]
        for checkpoint in (run_dir / "checkpoints").iterdir():
            assert type(load_checkpoint(checkpoint)).__name__ == "PET"
        assert pd.read_csv(run_dir / "train_log.csv")["epoch"].tolist() == [1, 2, 3, 4]
        options = yaml.safe_load((run_dir / "options.yaml").read_text())
        assert options["architecture"]["model"]["d_pet"] == 8
        assert (run_dir / "best_model.pt").stat().st_size > 0
        assert not (run_dir / "resume").exists()
        for epoch in (0, 2, 4):
            analysis = results / "analysis" / "pet" / run / "seed_0" / f"epoch_{epoch}"
            errors = pd.read_csv(analysis / "errors.csv")
            assert list(errors.columns) == [
                "target", "o3_lambda", "o3_sigma", "rmse_as_given", "accuracy_rmse",
                "equivariance_rmse", "n_samples", "reference_rms", "output_rms",
                "quadrature_error", "accuracy_quadrature_error", "grid_degree",
                "check_degree", "grid_rule", "check_rule", "quadrature_flagged"]
            assert {"energy", "non_conservative_force"} <= set(errors["target"])
            spectrum = pd.read_csv(analysis / "spectrum.csv")
            assert list(spectrum.columns) == [
                "layer", "o3_lambda", "o3_sigma", "fraction", "residual", "quadrature_error",
                "residual_quadrature_error", "grid_degree", "check_degree", "grid_rule",
                "check_rule", "quadrature_flagged"]
            for table in (errors, spectrum):
                assert (table["grid_degree"] == 4).all() and (table["check_degree"] == 6).all()
                # analysis.quadrature auto: Gräf's SO(3) rules of degrees 4 and 6
                assert (table[["grid_rule", "check_rule"]] == "graef_so3").all().all()
                assert table["quadrature_error"].notna().all()
            assert spectrum["fraction"].between(0, 1 + 1e-9).all()
            # analysis.pet.scope (figures): before the last checkpoint, fig3's layers (a
            # stress only where an analysed structure is periodic)
            fig3 = {"gnn_layers.0_node", "feature", "energy", "non_conservative_force"}
            layers = set(spectrum["layer"]) - {"non_conservative_stress"}
            assert (layers == fig3) == (epoch != 4), (epoch, layers)
            structures = pd.read_parquet(analysis / "structures.parquet")
            assert structures["structure"].nunique() == 2
        # one job, one log: every checkpoint of the run, each on the grid
        log = (results / "logs" / "analyse_pet_run" / run / "seed_0.log").read_text()
        for epoch in (0, 2, 4):
            assert f"checkpoints/epoch_{epoch}.ckpt: analysis finished" in log
        # max(2 lambda_max, lambda_max + 2) = 4: Gräf's SO(3) rule, 43 rotations x 2
        assert log.count("86 copies") == 3
        assert log.count("on degree 6") == 3  # the quadrature check


def test_geometric_runs_and_purification(finished_run):
    from symlearn.pet.train import load_checkpoint
    from symlearn.pet.variants import SolidHarmonicsEdgeEmbedding

    directory, _ = finished_run
    results = directory / "results"
    for split in ("train", "val", "test"):
        frames = results / "data" / "atomistic" / "synthetic" / "geometric" / f"{split}.xyz"
        assert "density_l2" in frames.read_text()
    model = load_checkpoint(results / "train" / "pet" / "geo-sh2" / "seed_0" / "checkpoints" /
                            "epoch_4.ckpt")
    assert isinstance(model.backend.gnn_layers[0].edge_embedder, SolidHarmonicsEdgeEmbedding)
    errors = pd.read_csv(results / "analysis" / "pet" / "geometric" / "errors.csv")
    assert set(errors["run"]) == set(GEOMETRIC_RUNS)
    assert set(errors["target"]) == {"pseudoscalar", "density_l0", "density_l1",
                                     "density_l2"}
    assert set(errors["edge_embedding"]) == {"cartesian", "solid_harmonics", "soap_bpnn"}
    assert (errors["reference_rms"] > 0).all()
    # the exactly equivariant control, trained and analysed by the pipeline: A of every
    # output part at float64 round-off against the RMS of the output, at every
    # analysed checkpoint (checkpoint 0 is evaluated as given only: no A)
    control = errors[(errors["run"] == "geo-control") & errors["equivariance_rmse"].notna()]
    assert len(control) and (control["output_rms"] > 0).all()
    assert (control["equivariance_rmse"] < 1e-9 * control["output_rms"]).all(), control
    spectrum = pd.read_csv(results / "analysis" / "pet" / "geometric" / "spectrum.csv")
    own = spectrum[(spectrum["run"] == "geo-control")
                   & (spectrum["layer"] == "pseudoscalar")].set_index(
                       ["o3_lambda", "o3_sigma"])["fraction"]
    assert own.loc[(0, -1)] == pytest.approx(1.0, abs=1e-9)
    learnability = pd.read_csv(results / "figures" / "learnability.csv")
    assert set(learnability["run"]) == set(GEOMETRIC_RUNS)
    assert "control's largest equivariance RMSE" in (
        results / "figures" / "learnability.md").read_text()
    # analysis.pet.geometric_every (10): multiples of it, and the last checkpoint
    assert set(errors["epoch"]) == {0, 4}
    assert not (results / "analysis" / "pet" / "geo-sh2" / "seed_0" / "epoch_2").exists()
    # analysis.pet.scope (figures): only the last checkpoint on the grid, the ones
    # before as given (what fig6 (a) reads)
    before, last = errors[errors["epoch"] == 0], errors[errors["epoch"] == 4]
    assert before["rmse_as_given"].notna().all() and last["rmse_as_given"].notna().all()
    assert before[["equivariance_rmse", "accuracy_rmse", "grid_degree"]].isna().all().all()
    assert last[["equivariance_rmse", "accuracy_rmse", "grid_degree"]].notna().all().all()
    pseudoscalar = errors[errors["target"] == "pseudoscalar"]
    assert (pseudoscalar["o3_sigma"] == -1).all()
    spectrum = pd.read_csv(results / "analysis" / "pet" / "geometric" / "spectrum.csv")
    assert "mtt::aux::pseudoscalar_last_layer_features" in set(spectrum["layer"])
    assert set(spectrum["epoch"]) == {4}
    # the standard tables hold the standard runs only
    standard = pd.read_csv(results / "analysis" / "pet" / "errors.csv")
    assert set(standard["run"]) == {"pet-aug", "pet-noaug"}
    purification = pd.read_csv(results / "analysis" / "purification.csv")
    assert set(purification["run"]) == {"pet-aug", "geo-cartesian"}
    assert set(purification["stage"]) == {"original", "bias_removed", "offset_removed",
                                           "projected", "readout_refit"}
    refit = purification[purification["stage"] == "readout_refit"]
    assert refit["mu"].notna().all() and purification.loc[
        purification["stage"] != "readout_refit", "mu"].isna().all()
    for run in ("pet-aug", "geo-cartesian"):
        ckpt = results / "analysis" / "purification" / run / "seed_0_readout_refit.ckpt"
        assert ckpt.stat().st_size > 0
    offset = purification[purification["stage"] == "offset_removed"]
    assert (offset["setup_evaluations"] > 0).all()
    assert (offset["evaluations_per_prediction"] == 1).all()
    assert (purification["epoch"] == 4).all()
    log = (results / "logs" / "analyse_pet_geometric_run" / "geo-sh2" / "seed_0.log").read_text()
    assert log.count("grid degree 4") == 1  # max(2 lambda_max, lambda_max + 2), lambda_max 2
    assert log.count("as given only (no grid, no layer)") == 1
    for figure in ("fig6", "fig7", "fig8"):
        assert (results / "figures" / f"{figure}.png").stat().st_size > 0


def test_polarmae_outputs(finished_run):
    from symlearn.polarmae.train import load_polarmae

    directory, _ = finished_run
    results = directory / "results"
    for split in ("train", "val", "test"):
        assert (results / "data" / "lartpc" / "synthetic" / f"{split}.h5").exists()
    for run in POLARMAE_RUNS:
        for phase in ("pretrain", "finetune"):
            folder = results / "train" / "polarmae" / run / "seed_0" / phase
            assert sorted(p.name for p in folder.iterdir()) == [
                "step_0.ckpt", "step_2.ckpt", "step_4.ckpt", "train_log.csv"]
            model, meta = load_polarmae(folder / "step_4.ckpt")
            assert (meta["phase"], meta["step"], model.width) == (phase, 4, 16)
            assert pd.read_csv(folder / "train_log.csv")["step"].tolist() == [0, 2, 4]
            for step in (0, 2, 4):
                analysis = (results / "analysis" / "polarmae" / run / "seed_0" / phase
                            / f"step_{step}")
                errors = pd.read_csv(analysis / "errors.csv")
                assert len(errors) == (phase == "finetune")
                spectrum = pd.read_csv(analysis / "spectrum.csv")
                assert set(spectrum["layer"]) == {"tokenizer", "blocks.0", "blocks.1"}
                log = (results / "logs" / f"analyse_polarmae_{phase}_run" / run /
                       "seed_0.log").read_text()
                assert f"{phase}/step_{step}.ckpt: analysis finished" in log
            assert log.count("86 copies") == 3
    collected = pd.read_csv(results / "analysis" / "polarmae" / "instability.csv")
    assert set(collected["run"]) == set(POLARMAE_RUNS)
    assert set(collected["phase"]) == {"finetune"}
    assert collected["instability"].dropna().between(0, 1).all()
    example = pd.read_csv(results / "analysis" / "polarmae" / "example.csv")
    assert example["run"].nunique() == 1 and example["run"].iloc[0] in POLARMAE_RUNS


def test_every_figure_is_built_from_the_tables(finished_run):
    directory, _ = finished_run
    figures = directory / "results" / "figures"
    for figure in ("fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8"):
        for ext in ("pdf", "png", "csv"):
            assert (figures / f"{figure}.{ext}").stat().st_size > 0, (figure, ext)
    fig2 = pd.read_csv(figures / "fig2.csv")
    assert set(fig2["run"]) == {"pet-aug", "pet-noaug"} and set(fig2["epoch"]) == {4}
    errors = pd.read_csv(directory / "results" / "analysis" / "pet" / "errors.csv")
    final = errors[(errors["epoch"] == 4) & (errors["run"] == "pet-aug")
                   & (errors["target"] == "energy")]
    drawn = fig2[(fig2["run"] == "pet-aug") & (fig2["part"] == "energy")
                 & (fig2["quantity"] == "equivariance")]
    assert drawn["value"].iloc[0] == pytest.approx(1e3 * final["equivariance_rmse"].iloc[0])
    as_given = fig2[(fig2["run"] == "pet-aug") & (fig2["part"] == "energy")
                    & (fig2["quantity"] == "as_given")]
    assert as_given["value"].iloc[0] == pytest.approx(1e3 * final["rmse_as_given"].iloc[0])
    fig3 = pd.read_csv(figures / "fig3.csv")
    assert set(fig3["epoch"]) == {0, 2, 4}
    fig1 = pd.read_csv(figures / "fig1.csv")
    assert (fig1.loc[fig1["panel"] == "a", "n_rotations"] == 86).all()  # the PET grid
    table = pd.read_csv(figures / "table1.csv")
    computed = table[table["status"] == "computed"]
    assert {"pet_energy", "pet_forces"} <= set(computed["key"])
    pet = computed["key"].str.startswith("pet")
    assert computed.loc[pet, "this_run"].gt(0).all()
    # a 4-step PoLAr-MAE may predict one class everywhere: instability 0 is possible
    assert computed.loc[~pet, "this_run"].ge(0).all()
    # the tiny test split may hold no periodic cell: then the stress row says so
    stress = table[table["key"] == "pet_stress"]
    assert ((stress["status"] == "computed")
            | stress["status"].str.contains("periodic structures only")).all()
    assert "d_pet: 8" in (figures / "table1.md").read_text()
    polarmae = table[table["key"].str.startswith("polarmae")]
    assert set(polarmae["run"]) == set(POLARMAE_RUNS)
    assert (polarmae["status"] == "computed").all()
    fig5 = pd.read_csv(figures / "fig5.csv")
    assert set(fig5["run"]) == set(POLARMAE_RUNS)
    # every finding gets a verdict; the tiny configuration has every run it needs, but
    # its 4-epoch models learn little: a finding is judged only where every run it reads
    # has a relative test RMSE below 0.5, and is otherwise "not run", naming them
    findings = pd.read_csv(figures / "claims.csv")
    verdicts = findings.drop_duplicates("claim").set_index("claim")["verdict"]
    assert list(verdicts.index) == list(range(1, 9))
    assert set(verdicts) <= {"reproduced", "not reproduced", "not run"}
    judged = findings.dropna(subset=["value"])
    assert judged["holds"].isin([True, False]).all() and judged["run"].notna().all()
    preconditions = findings[findings["role"] == "precondition"]
    for claim in (1, 2, 3, 4, 5, 6):  # every PET finding reads the runs' test errors
        rows = preconditions[preconditions["claim"] == claim]
        assert len(rows) and (rows["quantity"] == "relative test RMSE (as given)").all()
        unlearned = rows[~rows["holds"].astype(bool)]
        reason = str(findings.loc[findings["claim"] == claim, "reason"].iloc[0])
        if verdicts[claim] != "not run":
            assert unlearned.empty, rows
        elif "not learned" in reason:  # else a missing part (no stress) is the reason
            assert f"{unlearned['run'].iloc[0]} {unlearned['part'].iloc[0]}" in reason
    errors = pd.read_csv(directory / "results" / "analysis" / "pet" / "errors.csv")
    last = errors[(errors["run"] == "pet-aug") & (errors["epoch"] == errors["epoch"].max())
                  & (errors["target"] == "non_conservative_force")].iloc[0]
    forces = preconditions[(preconditions["claim"] == 1)
                           & (preconditions["part"] == "forces (1,+1)")]
    assert forces["value"].iloc[0] == pytest.approx(
        last["rmse_as_given"] / last["reference_rms"])
    text = (figures / "claims.md").read_text()
    assert "Verdicts:" in text and "relative test RMSE of the runs read" in text
    config = yaml.safe_load((directory / "results" / "provenance" / "config.yaml").read_text())
    assert config["analysis"]["pet"]["n_structures"] == 2


def _external_alone(tmp_path, external: dict, name: str, rules: tuple[str, str]) -> None:
    """The tiny configuration with one ``external`` entry, planned (one analysis and one
    figure for it) and its figure built: only the family's ``rules`` (analyse, collect)
    and figure_external run, on 2 structures at lambda_max 2."""
    configfile = _config(tmp_path, deep_merge(TINY, {
        "external": external,
        "analysis": {"metatomic": {"n_structures": 2, "lambda_max": 2}}}))
    plan = snakemake(tmp_path, configfile, "-n")
    assert plan.returncode == 0, plan.stderr
    counts = _job_counts(plan.stdout + plan.stderr)
    assert counts.get(rules[0]) == 1 and counts.get("figure_external") == 1
    result = snakemake(tmp_path, configfile, f"results/figures/external_{name}.png")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ran = _job_counts(result.stdout + result.stderr)
    assert set(ran) <= {*rules, "figure_external"}, ran


def test_an_exported_model_is_analysed_by_its_own_rules(finished_run, tmp_path):
    """The metatomic family in the pipeline: the finished run's exported PET (metatrain's
    float32 best_model.pt) named under external.models, analysed with conservative forces,
    collected and drawn, with its rows in table1; no training runs for it."""
    directory, _ = finished_run
    model = directory / "results" / "train" / "pet" / "pet-aug" / "seed_0" / "best_model.pt"
    test = directory / "results" / "data" / "atomistic" / "synthetic" / "pet" / "test.xyz"
    _external_alone(tmp_path, {"models": {"tiny-export": {"path": str(model),
                                                          "structures": str(test)}}},
                    "tiny-export", ("analyse_metatomic", "collect_metatomic_analysis"))
    analysis = tmp_path / "results" / "analysis" / "metatomic"
    errors = pd.read_csv(analysis / "errors.csv")
    assert set(errors["run"]) == {"tiny-export"}
    assert {"energy", "conservative_force"} <= set(errors["target"])
    assert (errors["equivariance_rmse"] >= 0).all() and errors["quadrature_error"].notna().all()
    spectrum = pd.read_csv(analysis / "spectrum.csv")
    assert "feature" in set(spectrum["layer"])
    figure = pd.read_csv(tmp_path / "results" / "figures" / "external_tiny-export.csv")
    drawn = figure[(figure["panel"] == "a") & (figure["quantity"] == "equivariance")]
    assert set(drawn["target"]) <= set(errors["target"]) and len(drawn)
    log = (tmp_path / "results" / "logs" / "analyse_metatomic" / "tiny-export.log").read_text()
    assert "skipped output" in log and "forces conservative" in log


def test_a_calculator_is_analysed_by_its_own_rules(finished_run, tmp_path):
    """The calculator family in the pipeline: ASE's EMT named under
    external.calculators, analysed (A at the round-off floor), collected and drawn (panel
    a alone, saying why); no training runs for it, and its settings are shared with
    the models' (analysis.metatomic)."""
    directory, _ = finished_run
    test = directory / "results" / "data" / "atomistic" / "synthetic" / "pet" / "test.xyz"
    _external_alone(tmp_path, {"calculators": {"emt": {
        "calculator": "ase.calculators.emt:EMT", "structures": str(test)}}},
        "emt", ("analyse_calculator", "collect_calculator_analysis"))
    errors = pd.read_csv(tmp_path / "results" / "analysis" / "calculators" / "errors.csv")
    assert set(errors["run"]) == {"emt"} and {"energy", "forces"} <= set(errors["target"])
    scale = errors.groupby("target")["output_rms"].transform("max")
    assert (errors["equivariance_rmse"] / scale < 1e-12).all()
    figure = pd.read_csv(tmp_path / "results" / "figures" / "external_emt.csv")
    assert set(figure["panel"]) == {"a"}
    log = (tmp_path / "results" / "logs" / "analyse_calculator" / "emt.log").read_text()
    assert "estimated time about" in log and "per second in the calculator" in log


def test_mtt_export_of_an_epoch_gives_the_pipelines_analysis_of_that_epoch(finished_run,
                                                                           tmp_path):
    """`mtt export` of epoch_k.ckpt is epoch k's model (not the best-validation one):
    analysed as an exported model on the same structures and grid, it gives the A the
    pipeline's analysis of epoch k wrote, to 1e-8."""
    directory, _ = finished_run
    run_dir = directory / "results" / "train" / "pet" / "pet-aug" / "seed_0"
    last = max(int(p.stem.split("_")[1]) for p in (run_dir / "checkpoints").glob("*.ckpt"))
    model = tmp_path / "epoch.pt"
    exported = subprocess.run(
        [str(Path(sys.executable).parent / "mtt"), "export",
         str(run_dir / "checkpoints" / f"epoch_{last}.ckpt"), "-o", str(model)],
        capture_output=True, text=True, cwd=tmp_path, env=_environment())
    assert exported.returncode == 0, exported.stdout[-2000:] + exported.stderr[-2000:]
    test = directory / "results" / "data" / "atomistic" / "synthetic" / "pet" / "test.xyz"
    pet = TINY["analysis"]["pet"]
    configfile = _config(tmp_path, deep_merge(TINY, {
        "external": {"models": {"epoch-export": {
            "path": str(model), "structures": str(test), "forces": "non_conservative",
            "layers": ["feature"]}}},
        "analysis": {"metatomic": {"n_structures": pet["n_structures"], "seed": 0,
                                   "lambda_max": pet["lambda_max"]}}}))
    result = snakemake(tmp_path, configfile, "results/analysis/metatomic/errors.csv")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    theirs = pd.read_csv(tmp_path / "results" / "analysis" / "metatomic" / "errors.csv")
    ours = pd.read_csv(directory / "results" / "analysis" / "pet" / "errors.csv")
    ours = ours[(ours["run"] == "pet-aug") & (ours["epoch"] == last)]
    keys = ["target", "o3_lambda", "o3_sigma"]
    both = ours.merge(theirs, on=keys, suffixes=("", "_export"))
    # (the stress where a selected test structure is periodic)
    assert {"energy", "non_conservative_force"} <= set(both["target"]), both
    assert (both["grid_degree"] == both["grid_degree_export"]).all()
    for column in ("equivariance_rmse", "rmse_as_given"):
        assert (both[column] - both[f"{column}_export"]).abs().max() < 1e-8, both[
            [*keys, column, f"{column}_export"]]


def test_one_figure_reruns_alone_and_touches_no_model(finished_run):
    directory, configfile = finished_run
    models = sorted((directory / "results" / "train").rglob("*.ckpt"))
    tables = sorted((directory / "results" / "analysis").rglob("*.csv"))
    before = {p: p.stat().st_mtime_ns for p in [*models, *tables]}
    fig2 = directory / "results" / "figures" / "fig2.pdf"
    drawn = fig2.stat().st_mtime_ns
    result = snakemake(directory, configfile, "results/figures/fig2.pdf", "--forcerun", "fig2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _job_counts(result.stdout + result.stderr) == {"fig2": 1}
    assert fig2.stat().st_mtime_ns > drawn
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_report_holds_every_figure_with_its_caption(finished_run):
    directory, configfile = finished_run
    report = directory / "results" / "report.html"
    result = snakemake(directory, configfile, "--report", str(report))
    assert result.returncode == 0, result.stderr[-3000:]
    html = report.read_text()
    for text in ("fig1: the O(3) quadrature", "fig2: what PET learned", "fig4", "fig5",
                 "fig3: PET training dynamics", "table1: the paper", "fig2.png",
                 "claims: the paper's findings",
                 "software.csv", "analysis: 2 test structures", "metatrain"):
        assert text in html, text


def test_report_zip_as_the_catalog_asks_for_it(finished_run):
    """`snakemake --report results/report.zip` (the Snakemake workflow catalog's usage,
    .snakemake-workflow-catalog.yml): one archive with the report page and every
    figure in it."""
    import zipfile

    directory, configfile = finished_run
    report = directory / "results" / "report.zip"
    result = snakemake(directory, configfile, "--report", str(report))
    assert result.returncode == 0, result.stderr[-3000:]
    with zipfile.ZipFile(report) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
    assert any(name.endswith("report.html") for name in names), names
    for figure in ("fig1", "fig2", "fig3", "fig4", "fig5", "fig8", "table1", "claims"):
        assert any(f"/{figure}." in name for name in names), (figure, names)


def test_augmentation_differs_between_runs(finished_run):
    directory, _ = finished_run
    logs = [pd.read_csv(directory / "results" / "train" / "pet" / run / "seed_0" / "train_log.csv")
            for run in ("pet-aug", "pet-noaug")]
    column = "training loss"
    assert logs[0][column].iloc[0] == pytest.approx(logs[1][column].iloc[0], rel=0.5)
    assert not logs[0][column].equals(logs[1][column])


def test_nothing_left_to_do(finished_run):
    """After the targeted reruns above (a figure), only the report stage is out of date:
    the records of the jobs that ran again are newer than the collected table."""
    directory, configfile = finished_run
    result = snakemake(directory, configfile, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(_job_counts(result.stdout)) <= {*REPORT, "all"}, result.stdout[-3000:]
    result = snakemake(directory, configfile)
    assert result.returncode == 0, result.stderr[-3000:]
    costs = pd.read_csv(directory / "results" / "benchmarks.csv")
    assert (costs["status"] == "ok").all()
    result = snakemake(directory, configfile, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


#: a change of each setting of how the jobs run, never what they write
#: (symlearn.settings.reruns.HOW_IT_RUNS), and of the job layout
HOW_IT_RUNS_CHANGES = {
    "device": {"device": "cpu"},
    "threads": {"pet": {"training": {"threads": 2}}, "polarmae": {"threads": 2},
                "analysis": {"pet": {"threads": 2}, "polarmae": {"threads": 2}}},
    "batch sizes and memory": {"analysis": {"pet": {"batch_atoms": 512, "memory_gb": 2},
                                            "polarmae": {"batch_points": 1000}}},
    "event cache": {"polarmae": {"cache_events": 100}},
    "downloads": {"data": {"fetch": {"retries": 2, "timeout": 10}}},
    "cluster resources": {"resources": {"train_pet": {"runtime": 99, "mem_mb": 999}}},
    "grid warning": {"analysis": {"grid_warning_copies": 100}},
    # a per-checkpoint job lists its run's (PoLAr-MAE: its phase's) checkpoints, as the
    # per-run job that wrote its tables did
    "job layout": {"analysis": {"jobs": "per_checkpoint"}},
}


def test_the_settings_of_how_jobs_run_rerun_nothing(finished_run, tmp_path):
    """Every how-it-runs setting changed at once plans nothing. A rerun trigger only
    adds jobs, so each change alone plans nothing either; if this fails, the dry run's
    reasons name the rule and the trigger (one dry run instead of eight: the suite's
    time)."""
    directory, _ = finished_run
    changes = {}
    for change in HOW_IT_RUNS_CHANGES.values():
        changes = deep_merge(changes, change)
    configfile = _config(tmp_path, deep_merge(TINY, changes))
    result = snakemake(directory, configfile, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-3000:]


def test_a_result_setting_reruns_exactly_what_depends_on_it(finished_run, tmp_path):
    """The purification's random rotations: its two jobs, the table and the figure
    made from them, the findings and table1 that read it, and the provenance."""
    directory, _ = finished_run
    change = {"analysis": {"purification": {"n_rotations": 3}}}
    result = snakemake(directory, _config(tmp_path, deep_merge(TINY, change)), "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _job_counts(result.stdout) == {
        "purify_pet": 2, "collect_purification": 1, "fig8": 1, "claims": 1, "table1": 1,
        "provenance": 1, "all": 1, **REPORT}, result.stdout[-3000:]


def test_a_second_seed_trains_and_analyses_only_itself(finished_run, tmp_path):
    """pet.seeds [0, 1]: every PET run but the control (pet.control_seeds stays [0]) is
    trained, analysed and purified once more, under seed_1/; nothing of seed 0 reruns,
    and what collects the seeds (tables, figures, findings) follows."""
    directory, _ = finished_run
    change = {"pet": {"seeds": [0, 1]}}
    result = snakemake(directory, _config(tmp_path, deep_merge(TINY, change)), "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _job_counts(result.stdout) == {
        "train_pet": 4, "analyse_pet_run": 2, "analyse_pet_geometric_run": 2,
        "purify_pet": 2, "collect_purification": 1, "fig8": 1, "provenance": 1,
        **DOWNSTREAM}, result.stdout[-3000:]
    # no job of seed 0 (each job's message names its seed)
    assert "(seed 0)" not in result.stdout and "(seed 0," not in result.stdout
    assert result.stdout.count("(seed 1)") >= 4 + 4  # the trainings and analyses


def test_a_copied_project_or_touched_data_reruns_nothing(finished_run, tmp_path):
    """Content decides a rerun, not modification times: a copy that keeps none (as `cp
    -r` does), then a `touch` of every data file and checkpoint, plans nothing."""
    import shutil

    source, _ = finished_run
    directory = tmp_path / "copy"
    shutil.copytree(source, directory, copy_function=shutil.copyfile)
    configfile = directory / "tiny.yaml"
    result = snakemake(directory, configfile, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-3000:]
    now = time.time()
    for folder in ("data", "train"):
        for path in (directory / "results" / folder).rglob("*"):
            if path.is_file():
                os.utime(path, (now, now))
    result = snakemake(directory, configfile, "-n")
    assert "Nothing to be done" in result.stdout + result.stderr, result.stdout[-3000:]


def test_a_truncated_checkpoint_stops_the_run_before_any_job(finished_run, tmp_path):
    """Every checkpoint an analysis reads is checked when the jobs are planned: a cut
    one stops the run, naming the file, before any job, and the run's finished tables
    stay."""
    import shutil

    source, _ = finished_run
    directory = tmp_path / "copy"
    shutil.copytree(source, directory, copy_function=shutil.copy2, symlinks=True)
    checkpoint = directory / "results" / "train" / "pet" / "pet-aug" / "seed_0" / "checkpoints" / \
        "epoch_2.ckpt"
    whole = checkpoint.read_bytes()
    checkpoint.write_bytes(whole[: len(whole) // 2])
    tables = sorted((directory / "results" / "analysis" / "pet" / "pet-aug").rglob("*.csv"))
    assert tables
    result = snakemake(directory, directory / "tiny.yaml")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "epoch_2.ckpt: not a readable checkpoint" in output, output[-3000:]
    assert "delete it to retrain" in output
    assert all(table.exists() for table in tables)


def test_forcerun_train_pet_reruns_only_training(finished_run):
    directory, configfile = finished_run
    result = snakemake(directory, configfile, "-n", "--forcerun", "train_pet")
    assert result.returncode == 0, result.stderr
    # the standard runs at epochs 0, 2, 4; the geometric ones at 0 and 4 (geometric_every)
    assert _job_counts(result.stdout) == {"train_pet": 2 + len(GEOMETRIC_RUNS),
                                          "analyse_pet_run": 2,
                                          "analyse_pet_geometric_run": len(GEOMETRIC_RUNS),
                                          "purify_pet": 2, "collect_purification": 1,
                                          "fig8": 1, **DOWNSTREAM}


def test_forcerun_analyse_pet_touches_no_model(finished_run):
    directory, configfile = finished_run
    result = snakemake(directory, configfile, "-n", "--forcerun", "analyse_pet_run",
                       "analyse_pet_geometric_run")
    assert result.returncode == 0, result.stderr
    assert _job_counts(result.stdout) == {"analyse_pet_run": 2,
                                          "analyse_pet_geometric_run": len(GEOMETRIC_RUNS),
                                          **DOWNSTREAM}
    result = snakemake(directory, configfile, "-n", "--forcerun",
                       "analyse_polarmae_pretrain_run", "analyse_polarmae_finetune_run")
    assert _job_counts(result.stdout) == {"analyse_polarmae_pretrain_run": 2,
                                          "analyse_polarmae_finetune_run": 2,
                                          **POLARMAE_DOWNSTREAM}
    # the pre-training's analyses stay
    result = snakemake(directory, configfile, "-n", "--forcerun", "finetune_polarmae")
    assert _job_counts(result.stdout) == {"finetune_polarmae": 2,
                                          "analyse_polarmae_finetune_run": 2,
                                          "polarmae_example": 1, "fig1": 1,
                                          **POLARMAE_DOWNSTREAM}
    one = "results/analysis/pet/pet-aug/seed_0/epoch_2/errors.csv"
    result = snakemake(directory, configfile, one, "-n", "--forcerun", "analyse_pet_run")
    assert _job_counts(result.stdout) == {"analyse_pet_run": 1}


def test_per_checkpoint_jobs_make_the_same_tables(finished_run, tmp_path):
    """analysis.jobs: per_checkpoint (the cluster's job arrays) plans one job per
    checkpoint, with the per-run jobs' outputs; rerunning one of them in a copy of the
    finished run writes the table the per-run job wrote."""
    import shutil

    source, _ = finished_run
    directory = tmp_path / "copy"
    shutil.copytree(source, directory, copy_function=shutil.copy2, symlinks=True)
    configfile = _config(directory, deep_merge(TINY, {"analysis": {"jobs": "per_checkpoint"}}))
    result = snakemake(directory, configfile, "-n", "--forcerun", "analyse_pet",
                       "analyse_polarmae")
    assert result.returncode == 0, result.stderr
    # the standard runs at 0, 2, 4, the geometric ones at 0 (as given) and 4; 2 runs x
    # 2 phases x 3 steps (the job layout is not a result: the provenance stays)
    assert _job_counts(result.stdout) == {"analyse_pet": 2 * 3 + 2 * len(GEOMETRIC_RUNS),
                                          "analyse_polarmae": 12,
                                          **DOWNSTREAM, **POLARMAE_DOWNSTREAM}
    assert result.stdout.count("--as-given-only") == len(GEOMETRIC_RUNS)
    assert result.stdout.count("--figure-layers-only") == 2 * 2  # epochs 0 and 2
    tables = [f"results/analysis/pet/{run}/seed_0/epoch_{epoch}/errors.csv"
              for run, epoch in (("pet-aug", 2), ("geo-sh2", 0))]
    before = [pd.read_csv(directory / table) for table in tables]
    plan = snakemake(directory, configfile, *tables, "-n", "--forcerun", "analyse_pet")
    assert _job_counts(plan.stdout) == {"analyse_pet": 2}, plan.stdout
    result = snakemake(directory, configfile, *tables, "--forcerun", "analyse_pet")
    assert result.returncode == 0, result.stderr[-3000:]
    for table, old in zip(tables, before, strict=True):
        pd.testing.assert_frame_equal(pd.read_csv(directory / table), old, check_exact=False,
                                      rtol=1e-12)
    assert (directory / "results" / "logs" / "analyse_pet" / "geo-sh2" / "seed_0" / "epoch_0.log"
            ).exists()


def test_a_corrupt_test_split_costs_no_finished_training(finished_run, tmp_path):
    """Truncating the test split of a finished run, then rerunning one analysis: the
    training (which reads only train and val) is not rerun and its checkpoints stay;
    the analysis stops with one line naming the file and the frame."""
    import shutil

    source, _ = finished_run
    directory = tmp_path / "copy"
    shutil.copytree(source, directory, copy_function=shutil.copy2, symlinks=True)
    configfile = _config(directory, TINY)
    test = directory / "results" / "data" / "atomistic" / "synthetic" / "pet" / "test.xyz"
    text = test.read_text()
    test.write_text(text[: len(text) // 2])
    checkpoints = sorted((directory / "results" / "train" / "pet" / "pet-aug"
                          / "seed_0" / "checkpoints").iterdir())
    one = "results/analysis/pet/pet-aug/seed_0/epoch_2/errors.csv"
    plan = snakemake(directory, configfile, one, "-n", "--forcerun", "analyse_pet_run")
    assert plan.returncode == 0, plan.stderr
    assert _job_counts(plan.stdout) == {"analyse_pet_run": 1}, plan.stdout
    result = snakemake(directory, configfile, one, "--forcerun", "analyse_pet_run")
    assert result.returncode != 0
    log = (directory / "results" / "logs" / "analyse_pet_run" / "pet-aug"
           / "seed_0.log").read_text()
    assert "test.xyz: frame" in log and "Traceback" not in log, log[-2000:]
    assert sorted((directory / "results" / "train" / "pet" / "pet-aug"
                   / "seed_0" / "checkpoints").iterdir()) == checkpoints
    assert not (directory / one).exists()
