"""Configuration checks: every bad key, type or value is named before any job runs."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from symlearn.errors import ConfigError
from symlearn.settings.base import deep_merge
from symlearn.settings.checks import check_config, semantic_errors
from symlearn.settings.pet import pet_checkpoint_epochs, pet_run_settings, pet_runs
from symlearn.settings.runs import checkpoint_epochs


def test_default_config_is_valid(default_config):
    check_config(default_config)


def _set(config, dotted, value):
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node[key]
    node[last] = value


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        ("pet.training.epochs", "ten", r"pet\.training\.epochs: 'ten' is not of type 'integer'"),
        ("pet.training.epoch", 10, r"unknown key pet\.training\.epoch"),
        ("pet.model.d_pett", 10, r"unknown key pet\.model\.d_pett"),
        ("data.atomistic.synthetic.max_atoms", 3, r"data\.atomistic\.synthetic\.max_atoms: 3"),
        ("data.atomistic.synthetic.n_structures.crystal", 3,
         r"unknown key data\.atomistic\.synthetic\.n_structures\.crystal"),
        ("pet.runs.pet-aug.augmentation", "so3", r"pet\.runs\.pet-aug\.augmentation: 'so3'"),
        ("pet.runs.pet-aug.training", {"epochs": 3},
         r"unknown key pet\.runs\.pet-aug\.training\.epochs"),
        ("pet.runs.pet-aug.model", {"d_pet": -1}, r"pet\.runs\.pet-aug\.model\.d_pet: -1"),
        ("device", "gpu", r"device: 'gpu' does not match"),
        ("pet.training.learning_rate", 0, r"pet\.training\.learning_rate: 0"),
        ("pet.training.precision", 16, r"pet\.training\.precision: 16 is not one of"),
        ("colour", "blue", r"unknown key colour"),
        ("resources.train_pett", {"runtime": 5}, r"unknown key resources\.train_pett"),
        ("resources.train_pet.mem", 5, r"unknown key resources\.train_pet\.mem"),
        ("resources.train_pet.runtime", "2h",
         r"resources\.train_pet\.runtime: '2h' is not of type 'integer'"),
        ("resources.analyse_pet.mem_mb", 0, r"resources\.analyse_pet\.mem_mb: 0"),
        ("analysis.quadrature_check.n_inputs", -1,
         r"analysis\.quadrature_check\.n_inputs: -1 is less than the minimum of 0"),
        ("analysis.quadrature_check.delta", -4,
         r"analysis\.quadrature_check\.delta: -4 is less than the minimum of 1"),
        ("analysis.quadrature_check.tolerance", 0,
         r"analysis\.quadrature_check\.tolerance: 0"),
        ("analysis.quadrature_check.n_input", 1,
         r"unknown key analysis\.quadrature_check\.n_input"),
        ("analysis.pet.grid_degree", 7,
         r"analysis\.pet\.grid_degree: 7 is too coarse for the character projections up "
         r"to lambda_max 4 \(needs >= 8"),
        ("analysis.pet.geometric_grid_degree", 6,
         r"analysis\.pet\.geometric_grid_degree: 6 is too coarse"),
    ],
)
def test_schema_names_the_bad_key(default_config, dotted, value, expected):
    _set(default_config, dotted, value)
    with pytest.raises(ConfigError, match=expected):
        check_config(default_config)


def test_missing_key_is_named(default_config):
    del default_config["pet"]["training"]["batch_size"]
    with pytest.raises(ConfigError, match=r"pet\.training: 'batch_size' is a required"):
        check_config(default_config)


def test_all_problems_are_listed_at_once(default_config):
    _set(default_config, "pet.training.epochs", "ten")
    _set(default_config, "pet.model.colour", 1)
    with pytest.raises(ConfigError) as info:
        check_config(default_config)
    assert "pet.training.epochs" in str(info.value)
    assert "pet.model.colour" in str(info.value)


@pytest.mark.parametrize(
    ("dotted", "value", "expected"),
    [
        ("data.atomistic.split.train", 0.5, r"data\.atomistic\.split: fractions sum to 0\.7"),
        ("pet.training.checkpoint_every", 50,
         r"pet\.training\.checkpoint_every: 50 is more than pet\.training\.epochs"),
        ("pet.model.num_heads", 3, r"pet\.model\.num_heads: 3 does not divide d_pet"),
        ("data.atomistic.synthetic.n_structures",
         {"bulk": 2}, r"data\.atomistic\.split\.val: the val split receives no structure"),
        ("polarmae.model.heads", 3, r"polarmae\.model\.heads: 3 does not divide width"),
        ("polarmae.finetune.checkpoint_every", 500,
         r"polarmae\.finetune\.checkpoint_every: 500 is more than polarmae\.finetune\.steps"),
        ("polarmae.model.segmentation_blocks", [0, 3],
         r"polarmae\.model\.segmentation_blocks: \[3\] not blocks of a 3-block encoder"),
        ("analysis.polarmae.layers", ["tokenizer", "blocks.5"],
         r"analysis\.polarmae\.layers: blocks\.5 beyond the last block \(blocks\.2\)"),
        ("analysis.polarmae.grid_degree", 5,
         r"analysis\.polarmae\.grid_degree: 5 is too coarse; lambda_max 4 needs a grid of "
         r"degree >= 8"),
        ("figures.fig1_run", "polarmae-x", r"figures\.fig1_run: 'polarmae-x' is not a"),
        ("data.lartpc.preprocessing.log_energy", {"emin": 30.0, "emax": 20.0},
         r"data\.lartpc\.preprocessing\.log_energy: emin must be below emax"),
        ("polarmae.runs.polarmae-o3.augmentation", "random", r"polarmae\.runs\.polarmae-o3"
         r"\.augmentation: 'random' is not one of \['o3', 'euler', 'none'\]"),
        ("analysis.polarmae.layers", ["block.1"], r"analysis\.polarmae\.layers\.0"),
        # sizes and elements the embedded generator cannot make
        ("data.atomistic.synthetic.max_atoms", 300,
         r"data\.atomistic\.synthetic\.max_atoms: 300 is greater than the maximum of 256"),
        ("data.atomistic.synthetic.metals", ["Cu"],
         r"data\.atomistic\.synthetic\.metals: the alloy subset \(60 structures\) needs "
         r"at least two metals"),
        ("data.atomistic.synthetic.metals", ["Cu", "Fe"],
         r"data\.atomistic\.synthetic\.metals\.1: 'Fe' is not one of"),
        ("data.atomistic.synthetic.adsorbates", ["S"],
         r"data\.atomistic\.synthetic\.adsorbates\.0: 'S' is not one of"),
        ("resources.analyse_pet", {"mem_mb": 4000},
         r"resources\.analyse_pet\.mem_mb: 4000 MB is not above analysis\.pet\.memory_gb "
         r"\(4 GiB\)"),
    ],
)
def test_impossible_values_are_named(default_config, dotted, value, expected):
    _set(default_config, dotted, value)
    with pytest.raises(ConfigError, match=expected):
        check_config(default_config)


def test_geometric_runs_take_their_shared_keys(default_config):
    """pet.geometric_runs sits between the shared defaults and a geometric run's own
    keys; the standard runs never see it; null switches it off."""
    default_config["pet"]["geometric_runs"] = {"model": {"d_pet": 64, "d_node": 128},
                                               "training": {"epochs": 7}}
    default_config["pet"]["runs"]["geo-sh8"]["model"] = {"d_node": 96}
    geometric = pet_run_settings(default_config, "geo-sh8")
    assert geometric["model"]["d_pet"] == 64 and geometric["model"]["d_node"] == 96
    assert geometric["training"]["epochs"] == 7
    standard = pet_run_settings(default_config, "pet-aug")
    assert standard["model"] == default_config["pet"]["model"]
    assert standard["training"]["epochs"] == default_config["pet"]["training"]["epochs"]
    default_config["pet"]["geometric_runs"] = None
    check_config(default_config)
    assert pet_run_settings(default_config, "geo-cartesian")["model"] == \
        default_config["pet"]["model"]
    default_config["pet"]["geometric_runs"] = {"model": {"num_heads": 3}}
    with pytest.raises(ConfigError, match=r"pet\.geometric_runs\.model\.num_heads: 3 does "
                                          r"not divide d_pet"):
        check_config(default_config)


def test_run_settings_merge_overrides(default_config):
    default_config["pet"]["runs"]["wide"] = {
        "augmentation": "none", "model": {"d_pet": 64}, "seeds": [7, 8],
        "training": {"batch_size": 2}}
    settings = pet_run_settings(default_config, "wide")
    assert settings["augmentation"] == "none"
    assert settings["model"]["d_pet"] == 64
    assert settings["model"]["d_node"] == default_config["pet"]["model"]["d_node"]
    assert settings["training"]["batch_size"] == 2
    # the run's own seeds: its first, or the job's
    assert settings["training"]["seed"] == 7
    assert pet_run_settings(default_config, "wide", 8)["training"]["seed"] == 8
    assert settings["training"]["epochs"] == default_config["pet"]["training"]["epochs"]
    # the shared defaults are not modified by a run's overrides
    assert default_config["pet"]["model"]["d_pet"] == 32
    with pytest.raises(ConfigError, match="no such run"):
        pet_run_settings(default_config, "missing")


def test_a_run_set_to_null_is_switched_off(default_config):
    default_config["pet"]["runs"]["pet-noaug"] = None
    check_config(default_config)
    assert pet_runs(default_config)[0] == "pet-aug"
    assert "pet-noaug" not in pet_runs(default_config)
    with pytest.raises(ConfigError, match="no such run"):
        pet_run_settings(default_config, "pet-noaug")
    default_config["pet"]["runs"] = dict.fromkeys(default_config["pet"]["runs"])
    with pytest.raises(ConfigError, match="pet.runs: every run is switched off"):
        check_config(default_config)


def test_a_layered_file_switches_a_run_back_to_the_cartesian_embedding(default_config):
    """A file layered on top merges into the run's lmax, so `type: cartesian` alone is
    refused with a message saying how; `edge_embedding: null` switches it back."""
    layered = deep_merge(default_config, {"pet": {"runs": {"geo-sh8": {
        "edge_embedding": {"type": "cartesian"}}}}})
    with pytest.raises(ConfigError, match=r"pet.runs.geo-sh8.edge_embedding.lmax: .*"
                                          r"set its edge_embedding: null"):
        check_config(layered)
    layered = deep_merge(default_config, {"pet": {"runs": {"geo-sh8": {
        "edge_embedding": None}}}})
    check_config(layered)
    assert pet_run_settings(layered, "geo-sh8")["edge_embedding"] == {"type": "cartesian"}


def test_checkpoint_schedule():
    assert checkpoint_epochs(30, 5) == [0, 5, 10, 15, 20, 25, 30]
    assert checkpoint_epochs(7, 3) == [0, 3, 6, 7]
    assert checkpoint_epochs(1, 1) == [0, 1]
    with pytest.raises(ValueError):
        checkpoint_epochs(0, 1)


def test_default_schedule(default_config):
    assert pet_checkpoint_epochs(default_config)[0] == 0
    assert pet_checkpoint_epochs(default_config)[-1] == \
        default_config["pet"]["training"]["epochs"]


def test_geometric_runs_are_analysed_every_geometric_every_epochs(default_config):
    """The runs on the geometric targets are analysed at multiples of
    analysis.pet.geometric_every and at their last checkpoint; null restores every
    checkpoint; the standard runs always get every checkpoint."""
    from symlearn.settings.analysis import pet_analysed_epochs

    default_config["pet"]["training"].update(epochs=25, checkpoint_every=5)
    default_config["analysis"]["pet"]["geometric_every"] = 10
    assert pet_analysed_epochs(default_config, "geo-sh8") == [0, 10, 20, 25]
    assert pet_analysed_epochs(default_config, "pet-aug") == [0, 5, 10, 15, 20, 25]
    default_config["analysis"]["pet"]["geometric_every"] = None
    assert pet_analysed_epochs(default_config, "geo-sh8") == [0, 5, 10, 15, 20, 25]
    default_config["analysis"]["pet"]["geometric_every"] = 0
    with pytest.raises(ConfigError, match=r"analysis\.pet\.geometric_every"):
        check_config(default_config)


def test_scope_figures_gives_earlier_checkpoints_what_the_figures_read(default_config):
    """analysis.pet.scope: figures (the default) analyses a run's last checkpoint fully
    and the ones before as the figures read them: a geometric run's as given, a
    standard run's with fig3's layers (when layers is null); all restores everything."""
    from symlearn.settings.analysis import pet_checkpoint_scope

    scope = lambda run, epoch: pet_checkpoint_scope(default_config, run, epoch)  # noqa: E731
    last = default_config["pet"]["training"]["epochs"]
    assert default_config["analysis"]["pet"]["scope"] == "figures"
    assert [scope("geo-sh8", e) for e in (0, 10, last)] == ["as_given", "as_given", "all"]
    assert [scope("pet-aug", e) for e in (0, 10, last)] == [
        "figure_layers", "figure_layers", "all"]
    default_config["analysis"]["pet"]["layers"] = ["feature"]
    assert scope("pet-aug", 0) == "all" and scope("geo-sh8", 0) == "as_given"
    default_config["analysis"]["pet"]["scope"] = "all"
    assert scope("pet-aug", 0) == scope("geo-sh8", 0) == "all"
    default_config["analysis"]["pet"]["scope"] = "some"
    with pytest.raises(ConfigError, match=r"analysis\.pet\.scope"):
        check_config(default_config)


def test_check_config_command(default_config, tmp_path, root):
    good = root / "config" / "config.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"pet": {"training": {"epochs": "ten"}}}))
    ok = subprocess.run([sys.executable, "-m", "symlearn", "check-config", str(good)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    failed = subprocess.run(
        [sys.executable, "-m", "symlearn", "check-config", str(good), str(bad)],
        capture_output=True, text=True)
    assert failed.returncode == 2
    assert "pet.training.epochs: 'ten' is not of type 'integer'" in failed.stderr


def test_fig3_layers_must_be_analysed(default_config):
    # layers every run has (the geometric runs have no energy output)
    default_config["analysis"]["pet"]["layers"] = ["feature", "gnn_layers.1_node"]
    default_config["figures"]["fig3_layers"] = ["feature", "gnn_layers.0_node"]
    with pytest.raises(ConfigError, match=r"figures\.fig3_layers: gnn_layers\.0_node not "
                                          r"analysed"):
        check_config(default_config)
    default_config["figures"]["fig3_layers"] = ["feature"]
    check_config(default_config)


@pytest.mark.parametrize(("lambda_max", "grid_degree"), [(0, None), (2, None), (4, None),
                                                          (6, None), (3, 11)])
def test_each_pet_run_gets_its_grid_degree_in_its_settings(default_config, lambda_max,
                                                            grid_degree):
    """The grid degree is decided once (symlearn.settings.grids) and handed to the
    analysis jobs in their settings: the smallest that resolves lambda_max without
    aliasing the run's outputs (2 for the stress, the geometric targets' lambda_max),
    unless configured (geometric_grid_degree for a run on the geometric targets)."""
    from symlearn.settings.analysis import pet_analysis_settings

    settings = default_config["analysis"]["pet"]
    settings.update(lambda_max=lambda_max, grid_degree=grid_degree,
                    geometric_grid_degree=None)
    geometric = default_config["data"]["atomistic"]["geometric_targets"]["lambda_max"]
    given = lambda run: pet_analysis_settings(default_config, run)["grid_degree"]  # noqa: E731
    auto = grid_degree is None
    assert given("pet-aug") == (max(2 * lambda_max, lambda_max + 2) if auto else grid_degree)
    assert given("geo-sh8") == (max(2 * lambda_max, lambda_max + geometric) if auto
                                else grid_degree)
    settings["geometric_grid_degree"] = 2 * lambda_max + 3
    assert given("geo-sh8") == 2 * lambda_max + 3
    assert given("pet-aug") == (max(2 * lambda_max, lambda_max + 2) if auto else grid_degree)


def test_the_pet_analysis_takes_the_degree_it_is_given(default_config):
    """The job does not decide the degree again: its settings' grid_degree stands, and
    only settings without one (a direct call) get the smallest that resolves them."""
    from symlearn.pet.analyse import grid_degree

    settings = dict(default_config["analysis"]["pet"], grid_degree=13,
                    geometric_grid_degree=5)
    assert grid_degree(settings, 8) == 13
    settings["grid_degree"] = None
    assert grid_degree(settings, 8) == max(2 * settings["lambda_max"],
                                           settings["lambda_max"] + 8)


def test_fig3_layers_are_decided_once(default_config):
    """What the early checkpoints' analyses compute (--figure-layers-only) and what fig3
    draws are one list: the last GNN layer's node features, feature and the outputs,
    or figures.fig3_layers when set."""
    from symlearn.settings.analysis import pet_analysis_settings
    from symlearn.settings.pet_layers import fig3_layers

    n_gnn = default_config["pet"]["model"]["num_gnn_layers"]
    expected = [f"gnn_layers.{n_gnn - 1}_node", "feature", "energy",
                "non_conservative_force", "non_conservative_stress"]
    assert fig3_layers(default_config) == expected
    assert pet_analysis_settings(default_config, "pet-aug")["figure_layers"] == expected
    default_config["pet"]["model"]["num_gnn_layers"] = 5
    assert fig3_layers(default_config)[0] == "gnn_layers.4_node"
    default_config["figures"]["fig3_layers"] = ["feature"]
    assert fig3_layers(default_config) == ["feature"]
    assert pet_analysis_settings(default_config, "pet-noaug")["figure_layers"] == ["feature"]


def test_default_grids_follow_the_outputs(default_config):
    """Degree 8 for the standard runs (lambda_max 4, outputs up to 2), 12 for the runs
    on the lambda = 8 density targets (lambda_max + 8)."""
    from symlearn.settings.grids import pet_grid_degree, quadrature_check_degree

    assert pet_grid_degree(default_config, "pet-aug") == 8
    assert pet_grid_degree(default_config, "geo-sh8") == 12
    assert quadrature_check_degree(default_config, 12) == 16
    default_config["analysis"]["quadrature_check"]["n_inputs"] = 0
    assert quadrature_check_degree(default_config, 12) is None


@pytest.mark.parametrize(("lambda_max", "grid_degree"), [(0, None), (1, None), (4, None),
                                                          (3, 9)])
def test_the_polarmae_analysis_gets_its_grid_degree_in_its_settings(default_config,
                                                                    lambda_max, grid_degree):
    """Invariant outputs (class probabilities): 2 lambda_max (at least 1), unless
    configured; the job takes the degree it is given."""
    from symlearn.polarmae.analyse import grid_degree as job_degree
    from symlearn.settings.analysis import polarmae_analysis_settings

    default_config["analysis"]["polarmae"].update(lambda_max=lambda_max,
                                                  grid_degree=grid_degree)
    settings = polarmae_analysis_settings(default_config)
    expected = max(2 * lambda_max, 1) if grid_degree is None else grid_degree
    assert settings["grid_degree"] == job_degree(settings) == expected


def test_polarmae_run_settings(default_config):
    from symlearn.settings.polarmae import polarmae_run_settings

    default_config["polarmae"]["runs"]["wide"] = {
        "augmentation": "none", "model": {"width": 64}, "tokenizer": {"centres": "fps"}}
    check_config(default_config)
    settings = polarmae_run_settings(default_config, "wide")
    assert settings["model"]["width"] == 64
    assert settings["model"]["depth"] == default_config["polarmae"]["model"]["depth"]
    assert settings["tokenizer"]["centres"] == "fps"
    assert settings["preprocessing"] == default_config["data"]["lartpc"]["preprocessing"]
    assert default_config["polarmae"]["model"]["width"] == 32
    with pytest.raises(ConfigError, match="no such run"):
        polarmae_run_settings(default_config, "missing")


@pytest.mark.parametrize(("dotted", "value", "message"), [
    ("polarmae.tokenizer.radius", 0.0, r"polarmae\.tokenizer\.radius"),
    ("polarmae.tokenizer.overlap_factor", 0, r"polarmae\.tokenizer\.overlap_factor"),
    ("polarmae.tokenizer.centres", "centrality", r"polarmae\.tokenizer\.centres"),
    ("polarmae.finetune.class_weights", "inverse", r"polarmae\.finetune\.class_weights"),
])
def test_bad_polarmae_tokenizer_settings_name_the_key(default_config, dotted, value, message):
    _set(default_config, dotted, value)
    with pytest.raises(ConfigError, match=message):
        check_config(default_config)


def test_more_groups_than_an_event_can_supply_is_refused(default_config):
    tokenizer = default_config["polarmae"]["tokenizer"]
    tokenizer.update(centres="fps", n_tokens=300)  # the default min_points is 256
    with pytest.raises(ConfigError, match=r"polarmae\.tokenizer\.n_tokens: 300 farthest-point"
                                          r" groups, but an event may have only 256 points"):
        check_config(default_config)
    tokenizer.update(centres="cnms")  # C-NMS: n_tokens is a cap, not a demand
    check_config(default_config)
    tokenizer.update(group_size=300)
    with pytest.raises(ConfigError, match=r"polarmae\.tokenizer\.group_size: 300 points"):
        check_config(default_config)


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os

    from symlearn.io import write_text_atomic

    mask = os.umask(0)
    os.umask(mask)
    write_text_atomic(tmp_path / "table.csv", "a\n")
    assert mask != 0o177  # else a private temporary file would pass unnoticed
    assert (tmp_path / "table.csv").stat().st_mode & 0o777 == 0o666 & ~mask


def test_findings_configuration_is_valid_and_names_its_runs():
    """config/findings.yaml over the default passes, and lists the runs its claims read."""
    from project import configuration

    config = configuration("findings.yaml")
    check_config(config)
    required = config["required_runs"]
    assert set(required["pet"]) == set(pet_runs(config))
    assert required["purification"] == config["analysis"]["purification"]["runs"]


@pytest.mark.parametrize(("where", "drop", "named"), [
    ("pet", ["geo-sh8"], "required_runs.pet: geo-sh8 missing from pet.runs"),
    ("pet", ["geo-sh4", "pet-noaug"],
     "required_runs.pet: pet-noaug, geo-sh4 missing from pet.runs"),
    ("polarmae", ["polarmae-o3"],
     "required_runs.polarmae: polarmae-o3 missing from polarmae.runs"),
])
def test_findings_over_a_configuration_lacking_its_runs_names_them(where, drop, named):
    from project import configuration

    config = configuration("findings.yaml")
    for run in drop:
        config[where]["runs"][run] = None
    with pytest.raises(ConfigError, match=re.escape(named)):
        check_config(config)


def test_required_purification_runs_are_checked(default_config):
    default_config["required_runs"] = {"purification": ["pet-noaug"]}
    with pytest.raises(ConfigError, match=re.escape(
            "required_runs.purification: pet-noaug missing from analysis.purification.runs "
            "(pet-aug)")):
        check_config(default_config)
    default_config["required_runs"] = {"pets": ["pet-aug"]}
    with pytest.raises(ConfigError, match=re.escape(
            "unknown key required_runs.pets (allowed here: pet, polarmae, purification)")):
        check_config(default_config)


def test_nested_command_line_strings_are_read_as_the_schema_expects(default_config):
    """`snakemake --config pet='{...}'` leaves nested values as strings; they are read
    as numbers, booleans, null or lists where the schema wants those, and a string that
    still does not fit is named by the check."""
    from symlearn.settings.base import coerce_command_line_strings, deep_merge

    given = {"pet": {"training": {"epochs": "20", "learning_rate": "1e-3",
                                  "weight_decay": "null"},
                     "runs": {"pet-noaug": "null", "pet-aug": {"augmentation": "none"}}},
             "analysis": {"pet": {"layers": "[gnn_layers.0]", "n_structures": "4"}},
             "results": "123"}
    coerce_command_line_strings(given)
    assert given["pet"]["training"] == {"epochs": 20, "learning_rate": 1e-3,
                                        "weight_decay": None}
    assert given["pet"]["runs"] == {"pet-noaug": None, "pet-aug": {"augmentation": "none"}}
    assert given["analysis"]["pet"] == {"layers": ["gnn_layers.0"], "n_structures": 4}
    assert given["results"] == "123"  # a string where the schema wants one
    config = deep_merge(default_config, given)
    check_config(config)
    assert pet_runs(config) == [r for r in default_config["pet"]["runs"] if r != "pet-noaug"]
    bad = coerce_command_line_strings({"pet": {"training": {"epochs": "ten"}}})
    with pytest.raises(ConfigError, match="pet.training.epochs: 'ten' is not of type"):
        check_config(deep_merge(default_config, bad))


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such configuration file"),
    ("", "the file is empty (Snakemake refuses an empty configuration file)"),
    ("pet:\n  training: [\n", "not valid YAML at line 3, column 1"),
    ("- a\n- b\n", "the top level is a list, not a mapping of configuration keys"),
])
def test_check_config_names_a_bad_file(tmp_path, root, content, message):
    """A missing, empty, unparsable or non-mapping file: one line naming it, no
    traceback (Snakemake refuses the same files)."""
    path = tmp_path / "my.yaml"
    if content is not None:
        path.write_text(content)
    done = subprocess.run([sys.executable, "-m", "symlearn", "check-config",
                           str(root / "config" / "config.yaml"), str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert f"{path}: {message}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_more_analysed_structures_than_the_test_split_warn(default_config, tmp_path, root):
    """analysis.pet.n_structures above the synthetic test split is not an error (the
    analysis takes the whole split) but is said, once, at the start, with the number
    used: by the config check and by the workflow."""
    from symlearn.data.splits import split_counts
    from symlearn.settings.checks import config_warnings

    assert config_warnings(default_config) == []
    atomistic = default_config["data"]["atomistic"]
    test = sum(split_counts(n, atomistic["split"])["test"]
               for n in atomistic["synthetic"]["n_structures"].values())
    default_config["analysis"]["pet"]["n_structures"] = test + 1
    (warning,) = config_warnings(default_config)
    assert warning == (f"analysis.pet.n_structures: {test + 1} asked, but the synthetic "
                       f"test split holds {test} structures; the analysis will use all {test}")
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"analysis": {"pet": {"geometric_n_structures": 999}}}))
    done = subprocess.run(
        [sys.executable, "-m", "symlearn", "check-config",
         str(root / "config" / "config.yaml"), str(mine)],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warning: analysis.pet.geometric_n_structures: 999 asked" in done.stderr
    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(root / "Snakefile"),
         "--directory", str(tmp_path), "--configfile", str(mine)],
        capture_output=True, text=True, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert (dry.stdout + dry.stderr).count(
        "configuration: analysis.pet.geometric_n_structures: 999 asked") == 1


def test_a_costly_grid_is_named_with_its_size_and_an_impossible_one_stops(default_config):
    """lambda_max 40 asks for a degree-80 grid: a warning names the key and the number
    of rotated copies (the exact size of the grid the analysis would build); a grid
    beyond the largest degree of analysis.quadrature's rules is an error at the start;
    the default warns of nothing; null switches the warning off."""
    from symlearn.settings.checks import config_warnings
    from symlearn.symmetry import grid_size, o3_quadrature

    assert [grid_size(d) for d in (8, 12)] == [o3_quadrature(d).n_rotations for d in (8, 12)]
    assert config_warnings(default_config) == []
    default_config["analysis"]["pet"]["lambda_max"] = 40
    check_config(default_config)
    warnings = config_warnings(default_config)
    assert warnings[0] == (f"analysis.pet.lambda_max: a grid of degree 80, "
                           f"{grid_size(80):,} rotated copies of each input per checkpoint "
                           "(above analysis.grid_warning_copies, 20,000)")
    default_config["analysis"]["grid_warning_copies"] = None
    assert config_warnings(default_config) == []
    default_config["analysis"]["pet"]["lambda_max"] = 65
    with pytest.raises(ConfigError, match=r"analysis.pet.lambda_max, its quadrature check: "
                                          r"asks for a grid of degree 134; "
                                          r"analysis.quadrature auto reaches degree 131 at "
                                          r"most"):
        check_config(default_config)


@pytest.mark.parametrize(("key", "layers", "message"), [
    ("analysis.pet.layers", ["gnn_layers.7_node"],
     r"analysis\.pet\.layers: run pet-aug: 'gnn_layers\.7_node': PET has gnn_layers\.0 to "
     r"gnn_layers\.1"),
    ("analysis.pet.layers", ["gnn_layers.0.trans.layers.3_edge"],
     r"each GNN layer has trans\.layers\.0 to trans\.layers\.0"),
    ("analysis.pet.layers", ["gnn_layer.0_node"], r"'gnn_layer\.0_node' is not a module of PET"),
    ("analysis.pet.layers", ["feature", "energy"],
     r"run geo-cartesian: 'energy' is not an output of this run \(outputs: pseudoscalar"),
    ("figures.fig3_layers", ["bogus"], r"figures\.fig3_layers: 'bogus' is not a module"),
])
def test_layer_names_are_checked_at_the_start(default_config, key, layers, message):
    """A layer PET does not have stops the run before any job, naming the key and the
    run (it would otherwise fail in every analysis job)."""
    section, name = key.rsplit(".", 1)
    node = default_config
    for part in section.split("."):
        node = node[part]
    node[name] = layers
    with pytest.raises(ConfigError, match=message):
        check_config(default_config)


def test_every_layer_of_a_real_pet_passes_the_start_check(default_config, tiny_pet_run):
    """What the check accepts includes every layer the analysis finds in a PET built
    with these hyperparameters (default_layers of a trained tiny PET)."""
    import torch

    from symlearn.pet.analyse import default_layers, load_pet
    from symlearn.settings.base import deep_merge
    from symlearn.settings.pet_layers import pet_layer_problem

    settings = tiny_pet_run[0]
    model = load_pet(tiny_pet_run[1] / "checkpoints" / "epoch_4.ckpt", dtype=torch.float64)
    config = deep_merge(default_config, {"pet": {"model": settings["model"]}})
    for layer in default_layers(model):
        assert pet_layer_problem(layer, config, "pet-aug") is None, layer


def test_the_start_check_knows_what_metatrain_pet_has(tiny_pet_run):
    """The torch-free copies the start check keeps (config.py imports no torch) are
    metatrain's: the featurizer inputs its hooks answer, and the top-level modules of a
    real PET's backend."""
    import torch
    from metatrain.pet.modules.diagnostic import FEATURIZER_INPUT_NAMES

    from symlearn.pet.analyse import load_pet
    from symlearn.settings.pet_layers import PET_FEATURIZER_INPUTS, PET_MODULES

    assert set(PET_FEATURIZER_INPUTS) == set(FEATURIZER_INPUT_NAMES)
    model = load_pet(tiny_pet_run[1] / "checkpoints" / "epoch_4.ckpt", dtype=torch.float64)
    tops = {name.split(".")[0] for name, _ in model.backend.named_modules() if name}
    assert tops <= set(PET_MODULES), tops - set(PET_MODULES)


@pytest.mark.parametrize(("mus", "named"), [
    ([], "analysis.purification.refit_mu: empty"),
    ([0, -1.0], "analysis.purification.refit_mu: -1.0: each weight must be finite"),
    ([0, float("inf")], "analysis.purification.refit_mu: inf: each weight must be finite"),
    ([float("nan")], "analysis.purification.refit_mu: nan: each weight must be finite")])
def test_bad_refit_weights_are_refused(default_config, mus, named):
    default_config["analysis"]["purification"]["refit_mu"] = mus
    with pytest.raises(ConfigError, match=re.escape(named)):
        check_config(default_config)


@pytest.mark.parametrize("where", ["geometric_runs", "run"])
def test_a_run_with_its_own_checkpoint_epochs_is_refused(default_config, where):
    """The checkpoint epochs are one list for every PET run (the training rule's outputs):
    a run given epochs of its own would train, then fail the workflow. Refused at the
    start, naming the key once."""
    if where == "geometric_runs":
        default_config["pet"]["geometric_runs"] = {"training": {"epochs": 20}}
        key = "pet.geometric_runs.training.epochs: 20 differs"
    else:
        default_config["pet"]["runs"]["pet-aug"]["training"] = {"checkpoint_every": 5}
        key = "pet.runs.pet-aug.training.checkpoint_every: 5 differs"
    named = [e for e in semantic_errors(default_config) if key in e]
    assert len(named) == 1 and named[0].startswith(key)


@pytest.mark.parametrize("value, message", [
    (100_001, "100001 is greater than the maximum of 100000"),
    (1, "1 is less than the minimum of 2"),
    ("many", "'many' is not of type 'integer'")])
def test_bootstrap_resamples_beyond_the_limit_are_refused_naming_the_key(
        default_config, value, message):
    default_config["figures"]["bootstrap"]["resamples"] = value
    with pytest.raises(ConfigError, match=rf"figures\.bootstrap\.resamples: {message}"):
        check_config(default_config)
