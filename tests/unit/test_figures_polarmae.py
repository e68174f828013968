"""The PoLAr-MAE figures (fig4, fig5) built from small fixture tables: files, sizes, and
that each CSV holds exactly the numbers drawn (read back from the matplotlib artists)
and the numbers of the input tables."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from figure_checks import artists, check_written_figure, same

from symlearn.cli import main
from symlearn.figures import build, fig4, fig5, style
from symlearn.figures.tables import (
    FigureError,
    final_finetune,
    layer_order,
    pretrain_steps,
    training_steps,
)

RUNS = {"polarmae-o3": "o3", "polarmae-euler": "euler", "polarmae-none": "none"}
STEPS = {"pretrain": (0, 50, 100), "finetune": (0, 20, 40)}
#: the tokenizer and 11 blocks, as the collect rule may list them: as text, so that
#: blocks.10 comes before blocks.2 and the figures must put them in depth order
LAYERS = sorted(["tokenizer"] + [f"blocks.{i}" for i in range(11)])
DEPTH = ["tokenizer"] + [f"blocks.{i}" for i in range(11)]
LAMBDA_MAX = 2
GROUPS = [("class", g) for g in style.CLASSES] + [("location", g) for g in style.LOCATIONS]


def _spectrum() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for (run, augmentation), phase in itertools.product(RUNS.items(), STEPS):
        for step, layer in itertools.product(STEPS[phase], LAYERS):
            weights = rng.dirichlet(np.full(2 * (LAMBDA_MAX + 1) + 1, 0.5))
            for k, (lam, sigma) in enumerate(itertools.product(range(LAMBDA_MAX + 1),
                                                               (1, -1))):
                rows.append(dict(run=run, augmentation=augmentation, phase=phase, step=step,
                                 layer=layer, o3_lambda=lam, o3_sigma=sigma,
                                 fraction=weights[k], residual=weights[-1]))
    return pd.DataFrame(rows)


def _errors() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = []
    for (run, augmentation), step in itertools.product(RUNS.items(), STEPS["finetune"]):
        accuracy = rng.uniform(0.1, 0.5)
        rows.append(dict(run=run, augmentation=augmentation, phase="finetune", step=step,
                         target="class_probabilities", o3_lambda=0, o3_sigma=1,
                         accuracy_rmse=accuracy,
                         equivariance_rmse=accuracy * rng.uniform(0.01, 0.5), n_samples=900))
    return pd.DataFrame(rows)


def _instability() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for (run, augmentation), step, (grouping, group) in itertools.product(
            RUNS.items(), STEPS["finetune"], GROUPS):
        rows.append(dict(run=run, augmentation=augmentation, phase="finetune", step=step,
                         grouping=grouping, group=group, n_points=int(rng.integers(20, 500)),
                         instability=rng.uniform(0.005, 0.3),
                         unstable_fraction=rng.uniform(0.1, 1.0),
                         equivariance_rmse=rng.uniform(0.005, 0.2),
                         accuracy=rng.uniform(0.5, 1.0)))
    return pd.DataFrame(rows)


@pytest.fixture()
def tables(tmp_path):
    frames = {"spectrum": _spectrum(), "errors": _errors(), "instability": _instability()}
    paths = {}
    for name, frame in frames.items():
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths


@pytest.mark.parametrize("figure", ["fig4", "fig5"])
def test_figure_files_are_written_at_single_column_size(figure, tables, tmp_path):
    module = {"fig4": fig4, "fig5": fig5}[figure]
    inputs = {name: tables[name] for name in module.INPUTS}
    paths = build(figure, inputs, tmp_path / "out" / figure)
    check_written_figure(module, paths)


def test_selections_of_the_polarmae_tables():
    spectrum = _spectrum()
    final = final_finetune(spectrum)
    assert set(final["phase"]) == {"finetune"} and set(final["step"]) == {40}
    assert layer_order(LAYERS + ["head"]) == DEPTH + ["head"]
    assert pretrain_steps(spectrum).to_dict() == dict.fromkeys(RUNS, 100)
    steps = training_steps(spectrum)
    tuned = spectrum["phase"] == "finetune"
    np.testing.assert_array_equal(steps[tuned], spectrum.loc[tuned, "step"] + 100)
    np.testing.assert_array_equal(steps[~tuned], spectrum.loc[~tuned, "step"])
    with pytest.raises(FigureError, match="spectrum table holds no fine-tuning checkpoint"):
        final_finetune(spectrum[~tuned], "spectrum table")
    with pytest.raises(FigureError, match="unknown phase"):
        training_steps(spectrum.assign(phase="warmup"))


def test_fig4_csv_is_what_is_drawn(tables):
    spectrum, instability = pd.read_csv(tables["spectrum"]), pd.read_csv(tables["instability"])
    data = fig4.data(spectrum, instability)
    cells, points = data[data["panel"] == "a"], data[data["panel"] == "b"]
    # the last fine-tuning checkpoint only; layers in depth order, with readable names
    assert set(data["phase"]) == {"finetune"} and set(data["step"]) == {40}
    assert list(dict.fromkeys(cells["layer"])) == DEPTH
    assert list(dict.fromkeys(cells["layer_label"])) == ["tokenizer"] + [
        f"block {i}" for i in range(1, 12)]
    assert len(points) == len(RUNS) * len(GROUPS)
    expected = instability[instability["step"] == 40].set_index(["run", "group"])
    drawn_points = points.set_index(["run", "group"])
    for column in ("equivariance_rmse", "instability", "n_points", "accuracy"):
        np.testing.assert_array_equal(drawn_points[column],
                                      expected.loc[drawn_points.index, column])
    assert set(points["group_label"]) == {"shower", "track", "Michel electron", "delta ray",
                                          "branching point", "track segment"}

    fig = fig4.plot(pd.read_csv(build("fig4", tables, tables["spectrum"].parent / "f4")["csv"]))
    drawn = artists(fig)
    heatmaps = [d for d in drawn if d["ax"].get_xlabel() == "λ"]
    scatter = [d for d in drawn if d["scatters"]]
    rows = [t.get_text() for t in heatmaps[0]["ax"].get_yticklabels()]
    titles = [d["ax"].get_title() for d in heatmaps]
    legend_labels = [t.get_text() for legend in fig.subfigs[1].legends
                     for t in legend.get_texts()]
    plt.close(fig)
    # one heatmap per run: layers x (lambda, sigma), sigma = +1 then -1
    assert titles == list(RUNS)
    assert rows == list(dict.fromkeys(cells["layer_label"]))
    final = spectrum[(spectrum["phase"] == "finetune") & (spectrum["step"] == 40)]
    for heatmap, run in zip(heatmaps, RUNS, strict=True):
        mesh = heatmap["meshes"][0]
        assert mesh.shape == (len(DEPTH), 2 * (LAMBDA_MAX + 1)) and mesh.count() == mesh.size
        grid = (final[final["run"] == run]
                .pivot(index="layer", columns=["o3_sigma", "o3_lambda"], values="fraction")
                .reindex(index=DEPTH).sort_index(axis=1, ascending=[False, True]))
        np.testing.assert_array_equal(mesh, grid.to_numpy())
    # panel b: one marker per run and group at (equivariance RMSE, instability)
    (ax,) = scatter
    assert ax["ax"].get_xscale() == "log" and ax["ax"].get_yscale() == "log"
    assert ax["ax"].get_xlabel() == "equivariance RMSE of the class probabilities"
    offsets = np.concatenate(ax["scatters"])
    assert len(offsets) == len(points)
    same(offsets[:, 0], points["equivariance_rmse"])
    same(offsets[:, 1], points["instability"])
    collections = ax["ax"].collections
    hollow = [c for c in collections if len(c.get_facecolors()) == 0]
    assert len(hollow) == len(RUNS) * len(style.LOCATIONS)  # the locations are hollow
    assert legend_labels[:6] == ["shower", "track", "Michel electron", "delta ray",
                                 "branching point", "track segment"]
    assert legend_labels[6:] == [style.run_label(run, aug) for run, aug in RUNS.items()]


def test_fig4_draws_zero_instability_on_a_linear_axis(tables):
    spectrum, instability = pd.read_csv(tables["spectrum"]), pd.read_csv(tables["instability"])
    fig = fig4.plot(fig4.data(spectrum, instability.assign(instability=0.0)))
    (ax,) = [d["ax"] for d in artists(fig) if d["scatters"]]
    plt.close(fig)
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0


def test_fig5_csv_is_what_is_drawn(tables):
    errors, spectrum = pd.read_csv(tables["errors"]), pd.read_csv(tables["spectrum"])
    data = fig5.data(errors, spectrum)
    lines_a, lines_b = data[data["panel"] == "a"], data[data["panel"] == "b"]
    # (a) both RMSEs of every fine-tuning checkpoint, as in the errors table
    assert len(lines_a) == 2 * len(errors)
    for quantity in ("accuracy", "equivariance"):
        chosen = lines_a[lines_a["quantity"] == quantity].set_index(["run", "step"])
        expected = errors.set_index(["run", "step"])[f"{quantity}_rmse"]
        np.testing.assert_array_equal(chosen["value"], expected.loc[chosen.index])
    # (b) 1 - fraction(0, +1) of every layer and checkpoint, fine-tuning after pre-training
    scalar = spectrum[(spectrum["o3_lambda"] == 0) & (spectrum["o3_sigma"] == 1)]
    assert len(lines_b) == len(scalar)
    merged = lines_b.merge(scalar, on=["run", "phase", "step", "layer"])
    np.testing.assert_allclose(merged["value"], 1 - merged["fraction"], rtol=1e-15)
    tuned = merged["phase"] == "finetune"
    np.testing.assert_array_equal(merged.loc[tuned, "training_step"],
                                  merged.loc[tuned, "step"] + 100)
    np.testing.assert_array_equal(merged.loc[~tuned, "training_step"],
                                  merged.loc[~tuned, "step"])
    assert (lines_b["phase_boundary"] == 100).all()
    assert list(dict.fromkeys(lines_b["layer"])) == DEPTH

    fig = fig5.plot(pd.read_csv(build("fig5", tables, tables["errors"].parent / "f5")["csv"]))
    drawn = artists(fig)
    axes_a, *axes_b = [d for d in drawn if d["lines"]]
    boundaries = [line for d in axes_b for line in d["ax"].get_lines()
                  if line.get_gid() == fig5.BOUNDARY]
    titles = [d["ax"].get_title() for d in axes_b]
    plt.close(fig)
    # (a): x = fine-tuning step, y = RMSE, one line per run and metric
    ax_a = axes_a["ax"]
    assert ax_a.get_xlabel() == "fine-tuning step" and ax_a.get_yscale() == "log"
    same(np.concatenate(axes_a["lines"]), lines_a["value"])
    same(np.concatenate([line.get_xdata() for line in ax_a.get_lines()]), lines_a["step"])
    # (b): one panel per run, one line per layer at (training step, non-invariant fraction)
    assert titles == list(RUNS)
    assert len(boundaries) == len(RUNS)
    assert all(list(line.get_xdata()) == [100, 100] for line in boundaries)
    for d, run in zip(axes_b, RUNS, strict=True):
        assert d["ax"].get_yscale() == "log"
        data_lines = [line for line in d["ax"].get_lines() if line.get_gid() != fig5.BOUNDARY]
        assert len(data_lines) == len(DEPTH)
        rows = lines_b[lines_b["run"] == run]
        same(np.concatenate([line.get_ydata() for line in data_lines]), rows["value"])
        same(np.concatenate([line.get_xdata() for line in data_lines]), rows["training_step"])


def test_fig5_without_pretraining_has_no_phase_boundary(tables):
    errors, spectrum = pd.read_csv(tables["errors"]), pd.read_csv(tables["spectrum"])
    spectrum = spectrum[~((spectrum["run"] == "polarmae-none")
                          & (spectrum["phase"] == "pretrain"))]
    data = fig5.data(errors, spectrum)
    none = data[(data["panel"] == "b") & (data["run"] == "polarmae-none")]
    assert none["phase_boundary"].isna().all()
    np.testing.assert_array_equal(none["training_step"], none["step"])
    fig = fig5.plot(data)
    boundaries = [line for ax in fig.axes for line in ax.get_lines()
                  if line.get_gid() == fig5.BOUNDARY]
    plt.close(fig)
    assert len(boundaries) == len(RUNS) - 1


@pytest.mark.parametrize("figure, table, column", [
    ("fig4", "spectrum", "fraction"), ("fig4", "instability", "instability"),
    ("fig5", "errors", "equivariance_rmse"), ("fig5", "spectrum", "phase")])
def test_missing_columns_name_the_file(figure, table, column, tables, tmp_path):
    broken = tmp_path / f"broken_{table}.csv"
    pd.read_csv(tables[table]).drop(columns=[column]).to_csv(broken, index=False)
    module = {"fig4": fig4, "fig5": fig5}[figure]
    inputs = {name: tables[name] for name in module.INPUTS} | {table: broken}
    with pytest.raises(FigureError, match=rf"broken_{table}.csv: missing column\(s\) {column}"):
        build(figure, inputs, tmp_path / "f")
    assert not list(tmp_path.glob("f.*"))


def test_figures_from_the_command_line(tables, tmp_path, capsys):
    code = main(["figure", "fig4", "--input", f"spectrum={tables['spectrum']}",
                 "--input", f"instability={tables['instability']}",
                 "--out", str(tmp_path / "cli" / "fig4")])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == [
        "fig4.csv", "fig4.pdf", "fig4.png"]
    pretrain_only = tmp_path / "pretrain_only.csv"
    spectrum = pd.read_csv(tables["spectrum"])
    spectrum[spectrum["phase"] == "pretrain"].to_csv(pretrain_only, index=False)
    code = main(["figure", "fig4", "--input", f"spectrum={pretrain_only}",
                 "--input", f"instability={tables['instability']}",
                 "--out", str(tmp_path / "cli" / "bad")])
    assert code == 2
    assert "spectrum table holds no fine-tuning checkpoint" in capsys.readouterr().err
    code = main(["figure", "fig5", "--input", f"errors={tables['errors']}",
                 "--out", str(tmp_path / "cli" / "fig5")])
    assert code == 2
    assert "fig5 needs the input table(s) spectrum" in capsys.readouterr().err
