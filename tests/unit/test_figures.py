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
from figure_checks import (
    artists,
    check_written_figure,
    data_lines,
    error_bars,
    flagged_points,
    hatched,
    same,
    same_bars,
)

from symlearn.analyse.tables import collect_checkpoints
from symlearn.cli import main
from symlearn.figures import build, fig1, fig2, fig3, style, table1
from symlearn.figures.tables import FigureError
from symlearn.settings.grids import polarmae_grid_degree
from symlearn.symmetry import o3_quadrature

RUNS = {"pet-aug": "o3", "pet-noaug": "none"}
EPOCHS = (0, 5, 10)
PARTS = [("energy", 0, 1), ("non_conservative_force", 1, 1),
         ("non_conservative_stress", 0, 1), ("non_conservative_stress", 1, -1),
         ("non_conservative_stress", 2, 1)]
#: what the workflow hands fig3 for a 2-layer PET (symlearn.settings.pet_layers)
FIG3_LAYERS = ["gnn_layers.1_node", "feature", "energy", "non_conservative_force",
               "non_conservative_stress"]
LAYERS = ["node_embedders.0", "gnn_layers.0_node", "gnn_layers.1_node", "feature",
          "mtt::aux::energy_last_layer_features", "energy", "non_conservative_force",
          "non_conservative_stress"]


#: the fixture's grid degrees, and the (run, epoch, target, lambda) whose quadrature
#: error exceeds the tolerance; epoch 0 has no quadrature check (NaN errors)
GRID, CHECK = 8, 12
FLAGGED_ERRORS = {("pet-noaug", 10, "non_conservative_force", 1),
                  ("pet-aug", 10, "non_conservative_stress", 2),
                  ("pet-aug", 5, "energy", 0)}
#: ... and the (run, epoch, layer, lambda, sigma) of the spectrum
FLAGGED_FRACTIONS = {("pet-aug", 10, "gnn_layers.0_node", 1, 1),
                     ("pet-noaug", 10, "energy", 2, -1), ("pet-noaug", 5, "feature", 0, 1)}


def _errors() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for (run, augmentation), epoch, (target, lam, sigma) in itertools.product(
            RUNS.items(), EPOCHS, PARTS):
        zero = (lam, sigma) == (1, -1)  # the stress's antisymmetric part vanishes
        as_given = 0.0 if zero else rng.uniform(0.1, 1.0)
        equivariance = 1e-19 if zero else as_given * rng.uniform(0.01, 0.5)
        checked = epoch > 0
        rows.append(dict(run=run, augmentation=augmentation, epoch=epoch, target=target,
                         o3_lambda=lam, o3_sigma=sigma, rmse_as_given=as_given + 1e-19,
                         accuracy_rmse=np.hypot(as_given * 0.9, equivariance),
                         equivariance_rmse=equivariance,
                         n_samples=6 if "stress" in target else 20,
                         reference_rms=0.0 if zero else 1.0,
                         quadrature_error=equivariance * rng.uniform(0.02, 0.2) if checked
                         else np.nan,
                         accuracy_quadrature_error=1e-3 if checked else np.nan,
                         grid_degree=GRID, check_degree=CHECK if checked else np.nan,
                         quadrature_flagged=(run, epoch, target, lam) in FLAGGED_ERRORS))
    return pd.DataFrame(rows)


def _spectrum(lambda_max: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for (run, augmentation), epoch, layer in itertools.product(RUNS.items(), EPOCHS, LAYERS):
        weights = rng.dirichlet(np.full(2 * (lambda_max + 1) + 1, 0.3))
        residual = weights[-1]
        checked = layer != "feature" or epoch != 5  # one layer left unchecked
        for k, (lam, sigma) in enumerate(itertools.product(range(lambda_max + 1), (1, -1))):
            rows.append(dict(run=run, augmentation=augmentation, epoch=epoch, layer=layer,
                             o3_lambda=lam, o3_sigma=sigma, fraction=weights[k],
                             residual=residual,
                             quadrature_error=0.05 * weights[k] if checked else np.nan,
                             residual_quadrature_error=0.1 * residual if checked else np.nan,
                             grid_degree=GRID, check_degree=CHECK if checked else np.nan,
                             quadrature_flagged=(run, epoch, layer, lam, sigma)
                             in FLAGGED_FRACTIONS))
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
             target="class_probabilities", o3_lambda=0, o3_sigma=1, rmse_as_given=acc,
             accuracy_rmse=1.1 * acc, equivariance_rmse=eqv, n_samples=1000,
             reference_rms=0.5, quadrature_error=0.01 * eqv, accuracy_quadrature_error=0.0,
             grid_degree=6, check_degree=9, quadrature_flagged=False)
        for (run, step), (acc, eqv) in POLARMAE_ERRORS.items()])


def _instability() -> pd.DataFrame:
    return pd.DataFrame([
        dict(run=run, augmentation=AUGMENTATION[run], phase="finetune", step=step,
             grouping="class" if group in style.CLASSES else "location", group=group,
             n_points=n, instability=value, unstable_fraction=min(1.0, 3 * value),
             equivariance_rmse=value / 10, accuracy=1 - value, recall_as_given=1 - value,
             grid_degree=6, check_degree=9)
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
             mu=np.nan, rmse_as_given=0.2, accuracy_rmse=0.21, equivariance_rmse=0.1,
             n_samples=6,
             reference_rms=1.0, quadrature_error=0.01, accuracy_quadrature_error=0.01,
             grid_degree=GRID, check_degree=CHECK, quadrature_flagged=False,
             equivariance_estimate="quadrature", setup_evaluations=setup,
             evaluations_per_prediction=1)
        for target, lam, sigma in PARTS
        for stage, setup in (("original", 0), ("bias_removed", 0), ("offset_removed", 4480))])


def _geometric_errors() -> pd.DataFrame:
    return pd.DataFrame([
        dict(run="geo-cartesian", augmentation="o3", edge_embedding="cartesian",
             edge_lmax=None, epoch=10, target=target, o3_lambda=lam, o3_sigma=sigma,
             rmse_as_given=0.5, accuracy_rmse=0.55, equivariance_rmse=0.1, n_samples=20,
             reference_rms=1.0, quadrature_error=0.01, accuracy_quadrature_error=0.01,
             grid_degree=GRID, check_degree=CHECK, quadrature_flagged=False)
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
    options = {"layers": FIG3_LAYERS} if figure == "fig3" else None
    paths = build(figure, inputs, tmp_path / "out" / figure, options)
    check_written_figure(module, paths)


def test_fig1_draws_every_axis_and_rotation(tables):
    quadrature = pd.read_csv(tables["quadrature"])
    example = pd.read_csv(tables["example"])
    data = fig1.data(quadrature, example)
    nodes = data[data["element"] == "rotation axis"]
    angles = data[data["element"] == "in-plane angle"]
    # degree 6, auto: Gräf's SO(3) rule, 116 rotations about as many axes (Gräf's
    # sphere rule: 18 nodes x 7 angles; Lebedev: 26 x 7)
    assert len(angles) == 116 and len(nodes) == 116
    assert (nodes["n_rotations"] == 116 * 2).all()
    assert nodes["weight"].sum() == pytest.approx(1.0)
    axes = quadrature.drop_duplicates(["axis_x", "axis_y", "axis_z"])
    # a product rule: one marker per sphere node, carrying its D + 1 rotations
    product = fig1.data(o3_quadrature(6, "graef_s2").table(), example)
    product_nodes = product[product["element"] == "rotation axis"]
    assert len(product_nodes) == 18 and (product_nodes["rotations_on_axis"] == 7).all()
    np.testing.assert_allclose(np.cos(nodes["latitude_rad"]) * np.cos(nodes["longitude_rad"]),
                               axes["axis_x"], atol=1e-12)
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
    assert labels == ["shower", "track", "Michel electron", "delta ray",
                      "class changed (filled: its class here)"]
    assert "event 7" in suptitle and "4 of 60 points change class" in suptitle
    fills = []
    for drawn, rows in ((left, given), (right, rotated)):
        # one scatter per class present among the points that keep their class, in
        # class order, then the same for the changed ones (on top, ringed)
        changed = rows["changed"].astype(bool)
        expected = [part[part["predicted_class"] == k]
                    for part in (rows[~changed], rows[changed]) for k in range(4)]
        expected = [e for e in expected if len(e)]
        assert len(drawn["scatters"]) == len(expected)
        for offsets, chosen in zip(drawn["scatters"], expected, strict=True):
            np.testing.assert_array_equal(offsets, chosen[["u_voxels", "v_voxels"]])
        fills.append(sorted(rows.loc[changed, "predicted_class"]))
    # the changed points show their class before and after: the panels differ there
    assert fills[0] != fills[1]

    with pytest.raises(FigureError, match="one run, event and rotation; it holds event"):
        fig1.data(quadrature, pd.concat([example, example.assign(event=8)]))
    with pytest.raises(FigureError, match=r"predicted_rotated holds \[4\]"):
        fig1.data(quadrature, example.assign(predicted_rotated=4))
    with pytest.raises(FigureError, match="'changed' column disagrees"):
        fig1.data(quadrature, example.assign(changed=False))


PART_LABELS = {("energy", 0): "energy", ("non_conservative_force", 1): "forces",
               ("non_conservative_stress", 0): "stress tr(σ)/√3",
               ("non_conservative_stress", 2): "stress λ=2"}


def _expected_grid(spectrum: pd.DataFrame, run: str, epoch: int, layers) -> np.ndarray:
    """A run's heatmap as it must be drawn, from the input table: rows = layers, columns
    = (lambda, +1) by lambda, (lambda, -1), then the residual."""
    rows = spectrum[(spectrum["run"] == run) & (spectrum["epoch"] == epoch)]
    lambdas = sorted(rows["o3_lambda"].unique())
    out = []
    for layer in layers:
        layer_rows = rows[rows["layer"] == layer].set_index(["o3_lambda", "o3_sigma"])
        out.append([layer_rows.loc[(lam, sigma), "fraction"] for sigma in (1, -1)
                    for lam in lambdas] + [layer_rows["residual"].iloc[0]])
    return np.array(out)


def _mesh(d) -> np.ndarray:
    return np.ma.filled(d["meshes"][0].astype(float), np.nan)


def test_fig2_csv_is_what_is_drawn(tables):
    errors, spectrum = pd.read_csv(tables["errors"]), pd.read_csv(tables["spectrum"])
    data = pd.read_csv(build("fig2", tables, tables["errors"].parent / "f2")["csv"])
    bars, cells = data[data["panel"] == "a"], data[data["panel"] == "b"]
    # the last checkpoint only; the vanishing antisymmetric stress part is left out
    assert set(data["epoch"]) == {10}
    assert list(dict.fromkeys(bars["part"])) == list(PART_LABELS.values())
    assert len(bars) == 4 * 2 * 2
    # the residual: one cell per run and layer, after the irreps
    residual = cells[cells["content"] == "residual"]
    assert len(residual) == len(RUNS) * len(LAYERS)
    assert set(residual["column_label"]) == {"λ>λmax"}

    fig = fig2.plot(data)
    drawn = artists(fig)
    legend = [t.get_text() for t in fig.subfigs[0].legends[0].get_texts()]
    plt.close(fig)
    final = errors[errors["epoch"] == 10].set_index(["run", "target", "o3_lambda"])
    bar_axes = [d for d in drawn if d["bars"]]
    assert [d["ax"].get_title() for d in bar_axes] == list(PART_LABELS.values())
    for d, (target, lam) in zip(bar_axes, PART_LABELS, strict=True):
        # bar by bar: per run, the test RMSE as given, then the equivariance RMSE
        factor = style.target_unit(target)[1]
        rows = [final.loc[(run, target, lam)] for run in RUNS]
        same(d["bars"], [factor * r[column] for r in rows
                         for column in ("rmse_as_given", "equivariance_rmse")])
        # the equivariance bars are hatched where flagged, and carry the quadrature error
        assert hatched(d["ax"]) == [flag for run in RUNS for flag in (
            False, (run, 10, target, lam) in FLAGGED_ERRORS)]
        centres = [(i + 0.19, factor * r["equivariance_rmse"], factor * r["quadrature_error"])
                   for i, r in enumerate(rows)]
        same_bars(d["ax"], centres)
        texts = [t.get_text() for t in d["ax"].texts]
        assert texts == [f"{100 * r['equivariance_rmse'] / r['rmse_as_given']:.0f} %"
                         for r in rows]
    assert legend[:3] == ["test RMSE (as given)", "equivariance RMSE",
                          "quadrature error > tolerance"]
    # cell by cell, one heatmap per run (the colour bar's own mesh is not data)
    heatmaps = [d for d in drawn if d["ax"].get_xlabel() == "λ"]
    assert len(heatmaps) == 2
    for d, run in zip(heatmaps, RUNS, strict=True):
        same(_mesh(d), _expected_grid(spectrum, run, 10, LAYERS))
        ticks = [t.get_text() for t in d["ax"].get_xticklabels()]
        assert ticks == ["0", "1", "2", "3"] * 2 + ["λ>λmax"]
        # an x on every flagged cell (the residual: when a row of its layer is flagged)
        marks = {tuple(p) for p in flagged_points(d["ax"])}
        expected = set()
        for r, epoch, layer, lam, sigma in FLAGGED_FRACTIONS:
            if (r, epoch) == (run, 10):
                row = LAYERS.index(layer) + 0.5
                expected |= {((1 - sigma) * 2 + lam + 0.5, row), (8.5, row)}
        assert marks == expected and len(flagged_points(d["ax"])) == len(expected)


def test_fig2_draws_nothing_without_data(tables):
    errors, spectrum = pd.read_csv(tables["errors"]), pd.read_csv(tables["spectrum"])
    unchecked = errors.assign(quadrature_error=np.nan, quadrature_flagged=False)
    fig = fig2.plot(fig2.data(unchecked, spectrum.assign(quadrature_flagged=False)))
    drawn = artists(fig)
    legend = [t.get_text() for t in fig.subfigs[0].legends[0].get_texts()]
    colorbar = fig.subfigs[1].axes[-1].get_ylabel()
    plt.close(fig)
    for d in drawn:
        assert len(error_bars(d["ax"])) == 0 and len(flagged_points(d["ax"])) == 0
        assert not any(hatched(d["ax"]))
    assert legend == ["test RMSE (as given)", "equivariance RMSE"]
    assert colorbar == "character fraction"


def test_fig3_csv_is_what_is_drawn(tables):
    errors, spectrum = pd.read_csv(tables["errors"]), pd.read_csv(tables["spectrum"])
    data = pd.read_csv(build("fig3", tables, tables["errors"].parent / "f3",
                             {"layers": FIG3_LAYERS})["csv"])
    lines_a, lines_b = data[data["panel"] == "a"], data[data["panel"] == "b"]
    assert set(lines_a["epoch"]) == set(EPOCHS)
    # default layers: the last GNN layer's nodes, the features and every output
    layers = ["gnn_layers.1_node", "feature", "energy", "non_conservative_force",
              "non_conservative_stress"]
    assert list(dict.fromkeys(lines_b["layer"])) == layers
    # each layer's lines sum to one at every checkpoint ("other" takes the rest)
    sums = lines_b.groupby(["run", "epoch", "layer"])["fraction"].sum()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-12)
    kept = lines_b[lines_b["irrep"] != fig3.OTHER]
    biggest = kept.groupby(["layer", "irrep"])["fraction"].max()
    assert (biggest >= fig3.MINOR).all()

    fig = fig3.plot(data)
    drawn = artists(fig)
    legend = [t.get_text() for t in fig.subfigs[0].legends[0].get_texts()]
    plt.close(fig)
    assert legend[:2] == ["test RMSE (as given)", "equivariance RMSE"]
    assert legend[-1] == "quadrature error > tolerance"
    axes_a = [d["ax"] for d in drawn[:4]]
    assert [ax.get_title() for ax in axes_a] == list(PART_LABELS.values())
    for ax, (target, lam) in zip(axes_a, PART_LABELS, strict=True):
        factor = style.target_unit(target)[1]
        lines = data_lines(ax)
        bars, marks = [], []
        expected = [(run, column) for run in RUNS
                    for column in ("rmse_as_given", "equivariance_rmse")]
        assert len(lines) == len(expected)
        for line, (run, column) in zip(lines, expected, strict=True):
            rows = errors[(errors["run"] == run) & (errors["target"] == target)
                          & (errors["o3_lambda"] == lam)].sort_values("epoch")
            same(line.get_xdata(), rows["epoch"])
            same(line.get_ydata(), factor * rows[column])
            if column == "equivariance_rmse":  # A: error bars where checked, marks
                checked = rows[rows["quadrature_error"].notna()]
                bars += [(e, factor * v, factor * q) for e, v, q in zip(
                    checked["epoch"], checked[column], checked["quadrature_error"],
                    strict=True)]
                marks += [(e, factor * v) for e, v in zip(rows["epoch"], rows[column],
                                                          strict=True)
                          if (run, e, target, lam) in FLAGGED_ERRORS]
        same_bars(ax, bars)
        same(flagged_points(ax), np.array(marks).reshape(-1, 2))
    # (b): line by line, per run the irreps (as the CSV names them) at every epoch
    axes_b = [d["ax"] for d in drawn[4:4 + len(layers)]]
    final = spectrum.set_index(["run", "epoch", "layer", "o3_lambda", "o3_sigma"])
    for ax, layer in zip(axes_b, layers, strict=True):
        rows = lines_b[lines_b["layer"] == layer]
        groups = list(dict.fromkeys(zip(rows["run"], rows["irrep"], strict=True)))
        lines = data_lines(ax)
        assert len(lines) == len(groups)
        for line, (run, irrep) in zip(lines, groups, strict=True):
            line_rows = rows[(rows["run"] == run) & (rows["irrep"] == irrep)]
            same(line.get_xdata(), EPOCHS)
            if irrep == fig3.OTHER:
                continue
            lam, sigma = line_rows[["o3_lambda", "o3_sigma"]].iloc[0].astype(int)
            same(line.get_ydata(), [final.loc[(run, e, layer, lam, sigma), "fraction"]
                                    for e in EPOCHS])
        # "other" is the minor irreps plus the residual, with the sum of their errors
        other = rows[rows["irrep"] == fig3.OTHER]
        major = set(rows["irrep"]) - {fig3.OTHER}
        for row in other.itertuples(index=False):
            inputs = spectrum[(spectrum["run"] == row.run) & (spectrum["epoch"] == row.epoch)
                              & (spectrum["layer"] == layer)]
            minor = inputs[[style.irrep_label(lam, s) not in major for lam, s in
                            zip(inputs["o3_lambda"], inputs["o3_sigma"], strict=True)]]
            assert row.fraction == pytest.approx(minor["fraction"].sum()
                                                 + inputs["residual"].iloc[0], rel=1e-12)
            expected = minor["quadrature_error"].sum(min_count=len(minor)) + inputs[
                "residual_quadrature_error"].iloc[0]
            assert row.quadrature_error == pytest.approx(expected, rel=1e-12, nan_ok=True)
    # the unchecked layer has no error bar at epoch 5; the flagged (0, +1) fraction and
    # "other" of the features at epoch 5 are marked
    features = axes_b[layers.index("feature")]
    assert 5 not in {x for x, _, _ in error_bars(features)}
    marks = {tuple(p) for p in flagged_points(features)}
    feature_rows = lines_b[(lines_b["layer"] == "feature") & (lines_b["run"] == "pet-noaug")
                           & (lines_b["epoch"] == 5)].set_index("irrep")
    assert marks == {(5.0, feature_rows.loc["λ=0, σ=+1", "fraction"]),
                     (5.0, feature_rows.loc[fig3.OTHER, "fraction"])}


def test_fig3_layers_can_be_chosen(tables):
    errors, spectrum = pd.read_csv(tables["errors"]), pd.read_csv(tables["spectrum"])
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
        energy["equivariance_rmse"] / energy["rmse_as_given"])
    assert aug.loc["pet_energy", "paper"] == 0.10
    assert aug.loc["pet_forces", "paper"] == 0.31
    # the whole stress tensor: parts weighted by their 2 lambda + 1 components
    stress = final.loc[("pet-aug", "non_conservative_stress")]
    weights = np.array([1, 3, 5])
    expected = np.sqrt((weights * stress["equivariance_rmse"] ** 2).sum()
                       / (weights * stress["rmse_as_given"] ** 2).sum())
    assert aug.loc["pet_stress", "this_run"] == pytest.approx(expected)
    assert aug.loc["pet_stress", "paper"] == 0.26
    noaug = table[(table["run"] == "pet-noaug") & table["key"].isin(["pet_energy", "pet_forces",
                                                                      "pet_stress"])]
    assert noaug["paper"].isna().all() and noaug["this_run"].notna().all()
    # no purified run with O(3) augmentation: the row is listed with its status
    purified = table[table["key"] == "pet_stress_purified"].iloc[0]
    assert np.isnan(purified["this_run"]) and purified["status"].startswith(
        "not produced: no run with O(3) augmentation")
    structures = default_config_structures()
    assert (table["configuration"].str.contains(
        f"{structures} test structures, grid degree 8")).all()

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
    assert ("| PoLAr-MAE: mean classification instability (grid-weighted) | polarmae-o3 | — "
            "| 9.2 % | fine-tuning step 100 | computed |") in md
    # the ratios are to the test RMSE as given (the fixture's orientation-averaged RMSE
    # differs), and say so
    assert "| PET energy: equivariance RMSE / test RMSE (as given) | pet-aug |" in md
    assert ("| PoLAr-MAE class probabilities: equivariance RMSE / test RMSE (as given) "
            "| polarmae-o3 |") in md
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
                            spectrum=spectrum, structures=tmp_path / f"{run}_{epoch}.parquet"))
    collected = collect_checkpoints(entries, "errors")
    assert list(collected.columns[:3]) == ["run", "augmentation", "epoch"]
    # the per-input rows' path is not a key of the checkpoint (a column of it would keep
    # each seed's rows apart when the figures average over seeds)
    assert "structures" not in collected
    assert len(collected) == 4 * 5
    assert collected.groupby(["run", "epoch"]).size().eq(5).all()
    assert len(collect_checkpoints(entries, "spectrum")) == 4 * 8
    pd.DataFrame({"layer": ["x"]}).to_csv(entries[0]["spectrum"], index=False)
    missing = (r"pet-aug_0_spectrum.csv: missing column\(s\) (\w+, )*fraction, "
               r"(\w+, )*o3_lambda")
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


@pytest.mark.parametrize(("value", "label"), [
    (1e6, "$10^{6}$"), (1e4, "$10^{4}$"), (1000, "1000"), (0.5, "0.5"), (0.001, "0.001"),
    (1e-4, "$10^{-4}$"), (2e-5, "$2\\times10^{-5}$")])
def test_log_ticks_are_plain_or_powers_of_ten(value, label):
    """No log axis switches to `1e+06` mid-axis: plain numbers from 0.001 to 1000,
    powers of ten beyond."""
    assert style.log_tick(value) == label


def test_a_log_axis_over_eleven_decades_has_no_e_notation():
    fig, ax = plt.subplots()
    ax.plot([1, 2], [1e-5, 1e6])
    style.log_yaxis(ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    plt.close(fig)
    assert labels and not any("e+" in text or "e-" in text for text in labels), labels


def default_config_structures() -> int:
    """analysis.pet.n_structures of config/config.yaml (table1 states it)."""
    import yaml

    from symlearn.settings.base import SCHEMA_PATH

    root = SCHEMA_PATH.parents[2]
    with open(root / "config" / "config.yaml") as handle:
        return yaml.safe_load(handle)["analysis"]["pet"]["n_structures"]


def test_table1_rows_carry_the_interval_of_their_own_number(tables, default_config):
    """Per-structure rows that all equal the pooled values: every resample pools to the
    same number, so each PET row's interval is that number (the wiring, end to end);
    without the rows a row has no interval."""
    errors = pd.read_csv(tables["errors"])
    final = errors[errors["epoch"] == 10]
    rows = pd.concat([final.assign(structure=s) for s in range(4)], ignore_index=True)
    rows = rows.assign(table="errors", name=rows["target"],
                       equivariance_mse=rows["equivariance_rmse"] ** 2,
                       as_given_mse=rows["rmse_as_given"] ** 2)
    args = (errors, _polarmae_errors(), _instability(), _purification(),
            _geometric_errors(), default_config)
    table = table1.data(*args, structures=rows).set_index(["key", "run"])
    for key in ("pet_energy", "pet_forces", "pet_stress"):
        row = table.loc[(key, "pet-aug")]
        assert row["ci_low"] == pytest.approx(row["this_run"], rel=1e-9)
        assert row["ci_high"] == pytest.approx(row["this_run"], rel=1e-9)
    assert table1.data(*args)["ci_low"].isna().all()


def test_fig3_draws_the_layers_it_is_given_and_asks_for_them(tables):
    """fig3's layers are decided once, by the workflow (symlearn.settings.pet_layers),
    for the analyses of the early checkpoints and the figure alike: the figure draws
    what it is given, in that order, and without a list says so."""
    errors, spectrum = pd.read_csv(tables["errors"]), pd.read_csv(tables["spectrum"])
    data = fig3.data(errors, spectrum, ["feature", "gnn_layers.0_node"])
    assert list(dict.fromkeys(data[data["panel"] == "b"]["layer"])) == [
        "feature", "gnn_layers.0_node"]
    for missing in (None, []):
        with pytest.raises(FigureError, match="fig3: name the layers"):
            fig3.data(errors, spectrum, missing)
    # an output no analysed structure had (no periodic one: no stress) has nothing to
    # draw; any other layer missing from the tables is an error
    stressless = errors[errors["target"] != "non_conservative_stress"]
    data = fig3.data(stressless, spectrum[spectrum["layer"] != "non_conservative_stress"],
                     FIG3_LAYERS)
    assert "non_conservative_stress" not in set(data["layer"])
    assert set(data[data["panel"] == "b"]["layer"]) == set(FIG3_LAYERS) - {
        "non_conservative_stress"}
    with pytest.raises(FigureError, match="not in the analysis tables: gnn_layers.7_node"):
        fig3.data(errors, spectrum, ["gnn_layers.7_node", "feature"])


