"""Figures and table1 built from small fixture tables: files, sizes, and that each CSV
holds exactly the numbers drawn (read back from the matplotlib artists)."""

from __future__ import annotations

import itertools
import struct

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.patches import Rectangle

from symlearn.analyse.tables import collect_checkpoints
from symlearn.cli import main
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
                         n_samples=6 if "stress" in target else 20))
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


@pytest.fixture()
def tables(tmp_path, default_config):
    paths = {"errors": tmp_path / "errors.csv", "spectrum": tmp_path / "spectrum.csv",
             "quadrature": tmp_path / "quadrature.csv", "config": tmp_path / "config.yaml"}
    _errors().to_csv(paths["errors"], index=False)
    _spectrum().to_csv(paths["spectrum"], index=False)
    o3_quadrature(6).table().to_csv(paths["quadrature"], index=False)
    paths["config"].write_text(yaml.safe_dump(default_config))
    return paths


def _png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def _drawn(fig):
    """Every number the figure draws: bar heights, line points, scatter offsets and
    heatmap cells, per axes."""
    drawn = []
    for ax in fig.axes:
        bars = [p.get_height() for p in ax.patches if isinstance(p, Rectangle)]
        lines = [np.asarray(line.get_ydata(), float) for line in ax.get_lines()
                 if len(line.get_xdata())]
        scatters = [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection)]
        meshes = [c.get_array() for c in ax.collections if isinstance(c, QuadMesh)]
        drawn.append(dict(ax=ax, bars=bars, lines=lines, scatters=scatters, meshes=meshes))
    return drawn


def _same(a, b):
    np.testing.assert_allclose(np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float)),
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize("figure", ["fig1", "fig2", "fig3"])
def test_figure_files_are_written_at_single_column_size(figure, tables, tmp_path):
    module = {"fig1": fig1, "fig2": fig2, "fig3": fig3}[figure]
    inputs = {name: tables[name] for name in module.INPUTS}
    paths = build(figure, inputs, tmp_path / "out" / figure)
    assert sorted(p.suffix for p in paths.values()) == [".csv", ".pdf", ".png"]
    assert paths["pdf"].read_bytes()[:5] == b"%PDF-"
    written = pd.read_csv(paths["csv"])
    fig = module.plot(written)
    width_in, height_in = fig.get_size_inches()
    plt.close(fig)
    assert width_in == style.COLUMN_WIDTH
    assert _png_size(paths["png"]) == (round(width_in * style.DPI), round(height_in * style.DPI))
    image = matplotlib.image.imread(paths["png"])[..., :3]
    assert (image.min(axis=-1) < 0.9).mean() > 0.03  # something is drawn
    # no file is left behind but the three outputs
    assert sorted(p.name for p in paths["csv"].parent.iterdir()) == sorted(
        p.name for p in paths.values())


def test_fig1_draws_every_node_and_angle(tables):
    quadrature = pd.read_csv(tables["quadrature"])
    data = fig1.data(quadrature)
    nodes = data[data["element"] == "lebedev node"]
    angles = data[data["element"] == "in-plane angle"]
    assert len(nodes) == 26 and len(angles) == 7  # degree 6: Lebedev order 7, D + 1 angles
    assert (data["n_rotations"] == 26 * 7 * 2).all()
    assert nodes["weight"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(np.cos(nodes["latitude_rad"]) * np.cos(nodes["longitude_rad"]),
                               quadrature["x"], atol=1e-12)
    fig = fig1.plot(data)
    sphere, gamma = _drawn(fig)
    plt.close(fig)
    np.testing.assert_allclose(sphere["scatters"][0],
                               nodes[["longitude_rad", "latitude_rad"]].to_numpy())
    np.testing.assert_allclose(gamma["scatters"][0][:, 0], angles["gamma_rad"])
    with pytest.raises(FigureError, match="several degrees"):
        fig1.data(pd.concat([quadrature, quadrature.assign(degree=9)]))


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
    drawn = _drawn(fig)
    texts = [t.get_text() for d in drawn for t in d["ax"].texts if t.get_text().endswith("%")]
    plt.close(fig)
    _same([h for d in drawn for h in d["bars"]], bars["value"])
    # one heatmap per run (the colour bar's own mesh is not data)
    meshes = [m for d in drawn for m in d["meshes"] if d["ax"].get_xlabel() == "λ"]
    assert len(meshes) == 2
    for mesh, run in zip(meshes, RUNS, strict=True):
        expected = cells[cells["run"] == run]
        assert mesh.shape == (len(LAYERS), 8)
        _same(mesh.compressed(), expected["fraction"])
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
    drawn = _drawn(fig)
    plt.close(fig)
    _same(np.concatenate([y for d in drawn for y in d["lines"]]),
          np.concatenate([lines_a["value"], lines_b["fraction"]]))

    chosen = fig3.data(errors, spectrum, ["node_embedders.0"])
    assert set(chosen.loc[chosen["panel"] == "b", "layer"]) == {"node_embedders.0"}
    with pytest.raises(FigureError, match="not in the analysis tables: nope"):
        fig3.data(errors, spectrum, ["nope"])


def test_table1_puts_computed_ratios_next_to_the_paper(tables, tmp_path, default_config):
    errors = pd.read_csv(tables["errors"])
    table = table1.data(errors, default_config)
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
    noaug = table[table["run"] == "pet-noaug"]
    assert noaug["paper"].isna().all() and noaug["this_run"].notna().all()
    purified = table[table["key"] == "pet_stress_purified"].iloc[0]
    assert np.isnan(purified["this_run"]) and purified["status"].startswith("not produced")
    assert (table["configuration"].str.contains("8 test structures, grid degree 8")).all()

    paths = build("table1", {"errors": tables["errors"], "config": tables["config"]},
                  tmp_path / "table1")
    written = pd.read_csv(paths["csv"])
    assert list(written.columns) == table1.COLUMNS and len(written) == len(table)
    md = (tmp_path / "table1.md").read_text()
    assert f"| {100 * aug.loc['pet_energy', 'this_run']:.0f} % |" in md
    assert "not produced yet" in md and "n_structures: 8" in md


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
