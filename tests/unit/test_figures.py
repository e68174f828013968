"""Figures and table1 built from small fixture tables: files, sizes, and that each CSV
holds exactly the numbers drawn (read back from the matplotlib artists). The
PoLAr-MAE figures (fig4, fig5) are in test_figures_polarmae.py."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml
from figure_checks import artists, check_written_figure, same

from symlearn.analyse.tables import collect_checkpoints
from symlearn.cli import main
from symlearn.config import polarmae_grid_degree
from symlearn.figures import build, fig1, fig2, fig3, style, table1
from symlearn.figures.tables import FigureError
from symlearn.symmetry import o3_quadrature

RUNS = {"pet-aug": "o3", "pet-noaug": "none"}
EPOCHS = (0, 5, 10)
PARTS = [("energy", 0, 1), ("non_conservative_force", 1, 1),
         ("non_conservative_stress", 0, 1), ("non_conservative_stress", 1, -1),
         ("non_conservative_stress", 2, 1)]
LAYERS = ["node_embedders.0", "gnn_layers.0_node", "gnn_layers.1_node", "feature",
          "mtt::aux::energy_last_layer_features", "energy", "non_conservative_force",
          "non_conservative_stress"]


def _errors() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for (run, augmentation), epoch, (target, lam, sigma) in itertools.product(
            RUNS.items(), EPOCHS, PARTS):
        zero = (lam, sigma) == (1, -1)  # the stress's antisymmetric part vanishes
        accuracy = 0.0 if zero else rng.uniform(0.1, 1.0)
        rows.append(dict(run=run, augmentation=augmentation, epoch=epoch, target=target,
                         o3_lambda=lam, o3_sigma=sigma, accuracy_rmse=accuracy + 1e-19,
                         equivariance_rmse=1e-19 if zero else accuracy * rng.uniform(0.01, 0.5),
                         n_samples=6 if "stress" in target else 20,
                         reference_rms=0.0 if zero else 1.0))
    return pd.DataFrame(rows)


def _spectrum(lambda_max: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for (run, augmentation), epoch, layer in itertools.product(RUNS.items(), EPOCHS, LAYERS):
        weights = rng.dirichlet(np.full(2 * (lambda_max + 1) + 1, 0.3))
        residual = weights[-1]
        for k, (lam, sigma) in enumerate(itertools.product(range(lambda_max + 1), (1, -1))):
            rows.append(dict(run=run, augmentation=augmentation, epoch=epoch, layer=layer,
                             o3_lambda=lam, o3_sigma=sigma, fraction=weights[k],
                             residual=residual))
    return pd.DataFrame(rows)


#: the rotation that puts fig1 (b)'s planar example event in general position
TILT = np.array([[0.36, 0.48, -0.8], [-0.8, 0.6, 0.0], [0.48, 0.64, 0.6]])


def _example() -> pd.DataFrame:
    """A planar event (a track, a shower blob, a Michel electron, a delta ray) tilted
    out of every coordinate plane; four points change class under the rotation."""
    rng = np.random.default_rng(4)
    plane = np.concatenate([np.c_[np.linspace(0, 60, 30), np.zeros(30)],
                            rng.normal([20, 15], 3, (20, 2)),
                            np.c_[np.full(6, 60), np.linspace(0, 8, 6)],
                            np.c_[np.linspace(30, 34, 4), np.linspace(0, -6, 4)]])
    semantic = np.repeat([1, 0, 2, 3], [30, 20, 6, 4])
    rotated = semantic.copy()
    rotated[[3, 31, 50, 58]] = [0, 1, 1, 1]
    xyz = np.c_[plane, np.zeros(len(plane))] @ TILT + [384.0, 200.0, 500.0]
    return pd.DataFrame(dict(run="polarmae-o3", event=7, rotation_deg=90.0,
                             point=np.arange(len(xyz)), x=xyz[:, 0], y=xyz[:, 1],
                             z=xyz[:, 2], semantic=semantic, predicted=semantic,
                             predicted_rotated=rotated, changed=semantic != rotated))


#: PoLAr-MAE tables small enough to check table1 by hand: (run, step) -> (accuracy,
#: equivariance) RMSE of the class probabilities, and -> [(group, points, instability)]
POLARMAE_ERRORS = {("polarmae-o3", 0): (0.5, 0.4), ("polarmae-o3", 100): (0.2, 0.05),
                   ("polarmae-none", 0): (0.6, 0.1), ("polarmae-none", 100): (0.4, 0.2)}
GROUPS = ["shower", "track", "michel", "delta", "branching", "track segment"]
INSTABILITIES = {
    ("polarmae-o3", 0): [100, 300, 50, 50, 20, 200],
    ("polarmae-o3", 100): [100, 300, 50, 50, 20, 200],
    ("polarmae-none", 0): [200, 200, 50, 50, 30, 150],
    ("polarmae-none", 100): [200, 200, 50, 50, 30, 150],
    ("polarmae-euler", 100): [10, 10, 10, 10, 5, 5]}
INSTABILITY_VALUES = {
    ("polarmae-o3", 0): [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
    ("polarmae-o3", 100): [0.1, 0.02, 0.2, 0.4, 0.9, 0.01],  # classes: 46 / 500
    ("polarmae-none", 0): [0.9, 0.9, 0.9, 0.9, 0.9, 0.9],
    ("polarmae-none", 100): [0.3, 0.1, 0.5, 0.5, 0.05, 0.7],  # classes: 130 / 500
    ("polarmae-euler", 100): [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]}  # classes: 1 / 4
AUGMENTATION = {"polarmae-o3": "o3", "polarmae-none": "none", "polarmae-euler": "euler"}


def _polarmae_errors() -> pd.DataFrame:
    return pd.DataFrame([
        dict(run=run, augmentation=AUGMENTATION[run], phase="finetune", step=step,
             target="class_probabilities", o3_lambda=0, o3_sigma=1, accuracy_rmse=acc,
             equivariance_rmse=eqv, n_samples=1000)
        for (run, step), (acc, eqv) in POLARMAE_ERRORS.items()])


def _instability() -> pd.DataFrame:
    return pd.DataFrame([
        dict(run=run, augmentation=AUGMENTATION[run], phase="finetune", step=step,
             grouping="class" if group in style.CLASSES else "location", group=group,
             n_points=n, instability=value, unstable_fraction=min(1.0, 3 * value),
             equivariance_rmse=value / 10, accuracy=1 - value)
        for (run, step), points in INSTABILITIES.items()
        for group, n, value in zip(GROUPS, points, INSTABILITY_VALUES[run, step],
                                   strict=True)])


def _purification() -> pd.DataFrame:
    """table1's purification input, with no O(3) run (its row says it is not produced);
    the geometric-target rows and a computed purification row are checked in
    test_figures_geometric.py."""
    return pd.DataFrame([
        dict(run="pet-noaug", augmentation="none", edge_embedding="cartesian", edge_lmax=None,
             epoch=10, target=target, o3_lambda=lam, o3_sigma=sigma, stage=stage,
             accuracy_rmse=0.2, equivariance_rmse=0.1, n_samples=6,
             equivariance_estimate="quadrature")
        for target, lam, sigma in PARTS for stage in ("original", "bias_removed")])


def _geometric_errors() -> pd.DataFrame:
    return pd.DataFrame([
        dict(run="geo-cartesian", augmentation="o3", edge_embedding="cartesian",
             edge_lmax=None, epoch=10, target=target, o3_lambda=lam, o3_sigma=sigma,
             accuracy_rmse=0.5, equivariance_rmse=0.1, n_samples=20, reference_rms=1.0)
        for target, lam, sigma in [("pseudoscalar", 0, -1), ("density_l0", 0, 1),
                                   ("density_l1", 1, 1)]])


@pytest.fixture()
def tables(tmp_path, default_config):
    paths = {"errors": tmp_path / "errors.csv", "spectrum": tmp_path / "spectrum.csv",
             "quadrature": tmp_path / "quadrature.csv", "config": tmp_path / "config.yaml",
             "example": tmp_path / "example.csv",
             "polarmae_errors": tmp_path / "polarmae_errors.csv",
             "instability": tmp_path / "instability.csv",
             "purification": tmp_path / "purification.csv",
             "geometric_errors": tmp_path / "geometric_errors.csv"}
    _purification().to_csv(paths["purification"], index=False)
    _geometric_errors().to_csv(paths["geometric_errors"], index=False)
    _errors().to_csv(paths["errors"], index=False)
    _spectrum().to_csv(paths["spectrum"], index=False)
    o3_quadrature(6).table().to_csv(paths["quadrature"], index=False)
    _example().to_csv(paths["example"], index=False)
    _polarmae_errors().to_csv(paths["polarmae_errors"], index=False)
    _instability().to_csv(paths["instability"], index=False)
    paths["config"].write_text(yaml.safe_dump(default_config))
    return paths


@pytest.mark.parametrize("figure", ["fig1", "fig2", "fig3"])
def test_figure_files_are_written_at_single_column_size(figure, tables, tmp_path):
    module = {"fig1": fig1, "fig2": fig2, "fig3": fig3}[figure]
    inputs = {name: tables[name] for name in module.INPUTS}
    paths = build(figure, inputs, tmp_path / "out" / figure)
    check_written_figure(module, paths)


def test_fig1_draws_every_node_and_angle(tables):
    quadrature = pd.read_csv(tables["quadrature"])
    example = pd.read_csv(tables["example"])
    data = fig1.data(quadrature, example)
    nodes = data[data["element"] == "lebedev node"]
    angles = data[data["element"] == "in-plane angle"]
    assert len(nodes) == 26 and len(angles) == 7  # degree 6: Lebedev order 7, D + 1 angles
    assert (nodes["n_rotations"] == 26 * 7 * 2).all()
    assert nodes["weight"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(np.cos(nodes["latitude_rad"]) * np.cos(nodes["longitude_rad"]),
                               quadrature["x"], atol=1e-12)
    fig = fig1.plot(data)
    sphere, gamma, *_ = artists(fig)
    plt.close(fig)
    np.testing.assert_allclose(sphere["scatters"][0],
                               nodes[["longitude_rad", "latitude_rad"]].to_numpy())
    np.testing.assert_allclose(gamma["scatters"][0][:, 0], angles["gamma_rad"])
    with pytest.raises(FigureError, match="several degrees"):
        fig1.data(pd.concat([quadrature, quadrature.assign(degree=9)]), example)


def test_fig1_draws_the_example_event_in_both_orientations(tables):
    quadrature, example = pd.read_csv(tables["quadrature"]), pd.read_csv(tables["example"])
    data = pd.read_csv(build("fig1", tables, tables["example"].parent / "fig1")["csv"])
    points = data[data["panel"] == "b"]
    given, rotated = (points[points["orientation"] == name] for name in
                      ("as given", "rotated by 90°"))
    assert len(given) == len(rotated) == len(example)
    # the planar event seen face-on: distances in the plot are the distances in space
    xyz = example[["x", "y", "z"]].to_numpy()
    uv = given[["u_voxels", "v_voxels"]].to_numpy()
    pairs = np.triu_indices(len(xyz), 1)
    np.testing.assert_allclose(np.linalg.norm(uv[pairs[0]] - uv[pairs[1]], axis=1),
                               np.linalg.norm(xyz[pairs[0]] - xyz[pairs[1]], axis=1),
                               rtol=1e-9)
    np.testing.assert_allclose(uv.mean(axis=0), 0.0, atol=1e-9)
    assert uv[:, 0].var() > uv[:, 1].var()  # the first principal axis first
    np.testing.assert_array_equal(rotated[["u_voxels", "v_voxels"]], uv)
    np.testing.assert_array_equal(given["predicted_class"], example["predicted"])
    np.testing.assert_array_equal(rotated["predicted_class"], example["predicted_rotated"])
    assert given["changed"].sum() == rotated["changed"].sum() == 4
    assert set(rotated.loc[rotated["predicted_class"] == 2, "class_label"]) == {
        "Michel electron"}

    fig = fig1.plot(data)
    left, right = artists(fig)[2:]
    titles = (left["ax"].get_title(), right["ax"].get_title())
    labels = [t.get_text() for t in fig.subfigs[1].legends[0].get_texts()]
    suptitle = fig.subfigs[1]._suptitle.get_text()
    plt.close(fig)
    assert titles == ("as given", "rotated by 90°")
    assert labels == ["shower", "track", "Michel electron", "delta ray", "class changed"]
    assert "event 7" in suptitle and "4 of 60 points change class" in suptitle
    for drawn, rows in ((left, given), (right, rotated)):
        *classes, rings = drawn["scatters"]
        # one scatter per class present, in class order, then the rings of changed points
        expected = [rows[rows["predicted_class"] == k] for k in range(4)]
        for offsets, chosen in zip(classes, [e for e in expected if len(e)], strict=True):
            np.testing.assert_array_equal(offsets, chosen[["u_voxels", "v_voxels"]])
        np.testing.assert_array_equal(
            rings, rows.loc[rows["changed"], ["u_voxels", "v_voxels"]])

    with pytest.raises(FigureError, match="one run, event and rotation; it holds event"):
        fig1.data(quadrature, pd.concat([example, example.assign(event=8)]))
    with pytest.raises(FigureError, match=r"predicted_rotated holds \[4\]"):
        fig1.data(quadrature, example.assign(predicted_rotated=4))
    with pytest.raises(FigureError, match="'changed' column disagrees"):
        fig1.data(quadrature, example.assign(changed=False))


def test_fig2_csv_is_what_is_drawn(tables):
    errors, spectrum = pd.read_csv(tables["errors"]), pd.read_csv(tables["spectrum"])
    data = fig2.data(errors, spectrum)
    bars, cells = data[data["panel"] == "a"], data[data["panel"] == "b"]
    # the last checkpoint only; the vanishing antisymmetric stress part is left out
    assert set(data["epoch"]) == {10}
    assert set(bars["part"]) == {"energy", "forces", "stress trace", "stress λ=2"}
    assert len(bars) == 4 * 2 * 2
    energy = errors[(errors["target"] == "energy") & (errors["epoch"] == 10)
                    & (errors["run"] == "pet-aug")].iloc[0]
    drawn_energy = bars[(bars["part"] == "energy") & (bars["run"] == "pet-aug")]
    assert drawn_energy.set_index("quantity")["value"].to_dict() == pytest.approx(
        {"accuracy": 1e3 * energy["accuracy_rmse"],
         "equivariance": 1e3 * energy["equivariance_rmse"]})
    assert (drawn_energy["unit"] == "meV/atom").all()

    fig = fig2.plot(data)
    drawn = artists(fig)
    texts = [t.get_text() for d in drawn for t in d["ax"].texts if t.get_text().endswith("%")]
    plt.close(fig)
    same([h for d in drawn for h in d["bars"]], bars["value"])
    # one heatmap per run (the colour bar's own mesh is not data)
    meshes = [m for d in drawn for m in d["meshes"] if d["ax"].get_xlabel() == "λ"]
    assert len(meshes) == 2
    for mesh, run in zip(meshes, RUNS, strict=True):
        expected = cells[cells["run"] == run]
        assert mesh.shape == (len(LAYERS), 8)
        same(mesh.compressed(), expected["fraction"])
    ratios = bars.drop_duplicates(["run", "part"])["ratio"]
    assert sorted(texts) == sorted(f"{100 * r:.0f} %" for r in ratios)


def test_fig3_csv_is_what_is_drawn(tables):
    errors, spectrum = pd.read_csv(tables["errors"]), pd.read_csv(tables["spectrum"])
    data = fig3.data(errors, spectrum)
    lines_a, lines_b = data[data["panel"] == "a"], data[data["panel"] == "b"]
    assert set(lines_a["epoch"]) == set(EPOCHS)
    # default layers: the last GNN layer's nodes, the features and every output
    assert list(dict.fromkeys(lines_b["layer"])) == [
        "gnn_layers.1_node", "feature", "energy", "non_conservative_force",
        "non_conservative_stress"]
    # each layer's lines sum to one at every checkpoint ("other" takes the rest)
    sums = lines_b.groupby(["run", "epoch", "layer"])["fraction"].sum()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-12)
    kept = lines_b[lines_b["irrep"] != fig3.OTHER]
    biggest = kept.groupby(["layer", "irrep"])["fraction"].max()
    assert (biggest >= fig3.MINOR).all()

    fig = fig3.plot(data)
    drawn = artists(fig)
    plt.close(fig)
    same(np.concatenate([y for d in drawn for y in d["lines"]]),
          np.concatenate([lines_a["value"], lines_b["fraction"]]))

    chosen = fig3.data(errors, spectrum, ["node_embedders.0"])
    assert set(chosen.loc[chosen["panel"] == "b", "layer"]) == {"node_embedders.0"}
    with pytest.raises(FigureError, match="not in the analysis tables: nope"):
        fig3.data(errors, spectrum, ["nope"])


def test_table1_puts_computed_ratios_next_to_the_paper(tables, tmp_path, default_config):
    errors = pd.read_csv(tables["errors"])
    table = table1.data(errors, _polarmae_errors(), _instability(), _purification(),
                        _geometric_errors(), default_config)
    final = errors[errors["epoch"] == 10].set_index(["run", "target", "o3_lambda"])
    aug = table[table["run"] == "pet-aug"].set_index("key")
    energy = final.loc[("pet-aug", "energy", 0)]
    assert aug.loc["pet_energy", "this_run"] == pytest.approx(
        energy["equivariance_rmse"] / energy["accuracy_rmse"])
    assert aug.loc["pet_energy", "paper"] == 0.10
    assert aug.loc["pet_forces", "paper"] == 0.31
    # the whole stress tensor: parts weighted by their 2 lambda + 1 components
    stress = final.loc[("pet-aug", "non_conservative_stress")]
    weights = np.array([1, 3, 5])
    expected = np.sqrt((weights * stress["equivariance_rmse"] ** 2).sum()
                       / (weights * stress["accuracy_rmse"] ** 2).sum())
    assert aug.loc["pet_stress", "this_run"] == pytest.approx(expected)
    assert aug.loc["pet_stress", "paper"] == 0.26
    noaug = table[(table["run"] == "pet-noaug") & table["key"].isin(["pet_energy", "pet_forces",
                                                                      "pet_stress"])]
    assert noaug["paper"].isna().all() and noaug["this_run"].notna().all()
    # no purified run with O(3) augmentation: the row is listed with its status
    purified = table[table["key"] == "pet_stress_purified"].iloc[0]
    assert np.isnan(purified["this_run"]) and purified["status"].startswith(
        "not produced: no run with O(3) augmentation")
    assert (table["configuration"].str.contains("8 test structures, grid degree 8")).all()

    # PoLAr-MAE, last fine-tuning step (100): 0.05 / 0.2 and 0.2 / 0.4; instability
    # weighted by the points of the four classes (the two locations left out)
    polarmae = table[table["key"].str.startswith("polarmae")].set_index(["key", "run"])
    ratio, instability = "polarmae_probabilities", "polarmae_instability"
    assert polarmae.loc[(ratio, "polarmae-o3"), "this_run"] == pytest.approx(0.25)
    assert polarmae.loc[(ratio, "polarmae-none"), "this_run"] == pytest.approx(0.5)
    assert polarmae.loc[(instability, "polarmae-o3"), "this_run"] == pytest.approx(
        (100 * 0.1 + 300 * 0.02 + 50 * 0.2 + 50 * 0.4) / 500)  # 0.092
    assert polarmae.loc[(instability, "polarmae-none"), "this_run"] == pytest.approx(0.26)
    assert polarmae.loc[(instability, "polarmae-euler"), "this_run"] == pytest.approx(0.25)
    assert polarmae.loc[(instability, "polarmae-o3"), "n_samples"] == 500
    # a run without class probabilities is listed, not left out
    missing = polarmae.loc[(ratio, "polarmae-euler")]
    assert np.isnan(missing["this_run"]) and missing["status"].startswith("not produced")
    computed = polarmae[polarmae["status"] == "computed"]
    assert len(computed) == 5 and (computed["step"] == 100).all()
    assert computed["epoch"].isna().all()
    assert polarmae["paper"].isna().all()
    assert (polarmae["paper_source"] == "not quoted in the paper's abstract").all()
    assert polarmae.loc[(ratio, "polarmae-o3"), "augmentation"] == "o3"
    lartpc, model = default_config["data"]["lartpc"], default_config["polarmae"]
    assert (table["configuration"].str.contains(
        f"Liquid argon: synthetic {sum(lartpc['synthetic']['n_events'].values())} events; "
        f"PoLAr-MAE width {model['model']['width']}, {model['model']['depth']} blocks, "
        f"{model['pretrain']['steps']} pre-training + {model['finetune']['steps']} "
        f"fine-tuning steps; analysis: {default_config['analysis']['polarmae']['n_events']} "
        f"events, grid degree {polarmae_grid_degree(default_config)}", regex=False)).all()

    paths = build("table1", tables, tmp_path / "table1")
    written = pd.read_csv(paths["csv"])
    assert list(written.columns) == table1.COLUMNS and len(written) == len(table)
    md = (tmp_path / "table1.md").read_text()
    assert f"| {table1._number(aug.loc['pet_energy', 'this_run'])} | epoch 10 |" in md
    assert ("| PoLAr-MAE: mean classification instability | polarmae-o3 | — | 9.2 % "
            "| fine-tuning step 100 | computed |") in md
    assert "| 25 % | fine-tuning step 100 |" in md
    assert "| — | not produced: no run with O(3) augmentation" in md
    assert "n_structures: 8" in md
    assert "PoLAr-MAE rows: not quoted in the paper's abstract" in md


def test_polarmae_grid_degree(default_config):
    analysis = default_config["analysis"]["polarmae"]
    analysis.update(grid_degree=None, lambda_max=3)
    assert polarmae_grid_degree(default_config) == 6
    analysis["lambda_max"] = 0  # class probabilities alone: variances need degree 1
    assert polarmae_grid_degree(default_config) == 1
    analysis.update(grid_degree=10, lambda_max=3)
    assert polarmae_grid_degree(default_config) == 10
    assert polarmae_grid_degree(default_config, auto=True) == 6


def test_collected_tables_lead_with_run_and_epoch(tmp_path):
    entries = []
    for run, epoch in itertools.product(RUNS, (0, 5)):
        errors = tmp_path / f"{run}_{epoch}_errors.csv"
        spectrum = tmp_path / f"{run}_{epoch}_spectrum.csv"
        _errors().drop(columns=["run", "augmentation", "epoch"]).iloc[:5].to_csv(
            errors, index=False)
        _spectrum().drop(columns=["run", "augmentation", "epoch"]).iloc[:8].to_csv(
            spectrum, index=False)
        entries.append(dict(run=run, augmentation=RUNS[run], epoch=epoch, errors=errors,
                            spectrum=spectrum))
    collected = collect_checkpoints(entries, "errors")
    assert list(collected.columns[:3]) == ["run", "augmentation", "epoch"]
    assert len(collected) == 4 * 5
    assert collected.groupby(["run", "epoch"]).size().eq(5).all()
    assert len(collect_checkpoints(entries, "spectrum")) == 4 * 8
    pd.DataFrame({"layer": ["x"]}).to_csv(entries[0]["spectrum"], index=False)
    missing = r"pet-aug_0_spectrum.csv: missing column\(s\) fraction, o3_lambda"
    with pytest.raises(ValueError, match=missing):
        collect_checkpoints(entries, "spectrum")


def test_bad_tables_name_the_file_and_the_problem(tables, tmp_path, capsys):
    broken = tmp_path / "broken.csv"
    pd.read_csv(tables["errors"]).drop(columns=["equivariance_rmse"]).to_csv(broken)
    with pytest.raises(FigureError, match=r"broken.csv: missing column\(s\) equivariance_rmse"):
        build("fig2", {"errors": broken, "spectrum": tables["spectrum"]}, tmp_path / "f")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(FigureError, match="empty.csv: the table is empty"):
        build("fig2", {"errors": empty, "spectrum": tables["spectrum"]}, tmp_path / "f")
    with pytest.raises(FigureError, match="unknown figure 'fig9'"):
        build("fig9", {}, tmp_path / "f")
    with pytest.raises(FigureError, match="needs the input table"):
        build("fig2", {"errors": tables["errors"]}, tmp_path / "f")
    assert not list(tmp_path.glob("f*"))
    code = main(["figure", "fig3", "--input", f"errors={broken}", "--input",
                 f"spectrum={tables['spectrum']}", "--out", str(tmp_path / "f")])
    assert code == 2
    assert "missing column(s) equivariance_rmse" in capsys.readouterr().err


def test_labels_are_readable():
    assert style.layer_label("gnn_layers.1.trans.layers.0_edge") == "GNN 1: attention 0 (edge)"
    assert style.layer_label("mtt::aux::non_conservative_force_last_layer_features") == (
        "readout input: forces")
    assert style.layer_label("non_conservative_stress") == "output: stress"
    assert style.layer_label("something.else") == "something.else"
    assert style.irrep_label(3, -1) == "λ=3, σ=−1"
    assert style.layer_label("tokenizer") == "tokenizer"
    assert [style.layer_label(f"blocks.{i}") for i in (0, 11)] == ["block 1", "block 12"]
    assert [style.group_label(g) for g in (2, "delta", "branching", "track segment")] == [
        "Michel electron", "delta ray", "branching point", "track segment"]
    assert style.run_label("polarmae-euler", "euler") == (
        "polarmae-euler (Euler-angle augmentation)")
