"""The PoLAr-MAE figures (fig4, fig5) built from small fixture tables: files, sizes, and
that each CSV holds exactly the numbers drawn (read back from the matplotlib artists)
and the numbers of the input tables."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from figure_checks import (
    artists,
    check_written_figure,
    data_lines,
    flagged_points,
    same,
    same_bars,
)

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


#: (run, phase, step, layer, lambda, sigma) of the flagged fractions; the pre-training
#: step 0 has no quadrature check (NaN errors); (run, step) of the flagged errors
FLAGGED_FRACTIONS = {("polarmae-o3", "finetune", 40, "blocks.3", 0, 1),
                     ("polarmae-none", "finetune", 40, "tokenizer", 2, -1),
                     ("polarmae-euler", "pretrain", 50, "blocks.10", 0, 1)}
FLAGGED_ERRORS = {("polarmae-euler", 20)}


def _spectrum() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for (run, augmentation), phase in itertools.product(RUNS.items(), STEPS):
        for step, layer in itertools.product(STEPS[phase], LAYERS):
            weights = rng.dirichlet(np.full(2 * (LAMBDA_MAX + 1) + 1, 0.5))
            for k, (lam, sigma) in enumerate(itertools.product(range(LAMBDA_MAX + 1),
                                                               (1, -1))):
                checked = (phase, step) != ("pretrain", 0)
                rows.append(dict(run=run, augmentation=augmentation, phase=phase, step=step,
                                 layer=layer, o3_lambda=lam, o3_sigma=sigma,
                                 fraction=weights[k], residual=weights[-1],
                                 quadrature_error=0.1 * weights[k] if checked else np.nan,
                                 residual_quadrature_error=0.2 * weights[-1] if checked
                                 else np.nan, grid_degree=6,
                                 check_degree=9 if checked else np.nan,
                                 quadrature_flagged=(run, phase, step, layer, lam, sigma)
                                 in FLAGGED_FRACTIONS))
    return pd.DataFrame(rows)


def _errors() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = []
    for (run, augmentation), step in itertools.product(RUNS.items(), STEPS["finetune"]):
        as_given = rng.uniform(0.1, 0.5)
        equivariance = as_given * rng.uniform(0.01, 0.5)
        checked = step > 0
        rows.append(dict(run=run, augmentation=augmentation, phase="finetune", step=step,
                         target="class_probabilities", o3_lambda=0, o3_sigma=1,
                         rmse_as_given=as_given, accuracy_rmse=1.1 * as_given,
                         equivariance_rmse=equivariance, n_samples=900, reference_rms=0.5,
                         quadrature_error=0.2 * equivariance if checked else np.nan,
                         accuracy_quadrature_error=0.01 if checked else np.nan,
                         grid_degree=6, check_degree=9 if checked else np.nan,
                         quadrature_flagged=(run, step) in FLAGGED_ERRORS))
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
                         accuracy=rng.uniform(0.5, 1.0),
                         recall_as_given=rng.uniform(0.5, 1.0), grid_degree=6,
                         check_degree=9))
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
    # cell by cell, one heatmap per run: layers x (lambda, +1), (lambda, -1), residual
    assert titles == list(RUNS)
    assert rows == list(dict.fromkeys(cells["layer_label"]))
    final = spectrum[(spectrum["phase"] == "finetune") & (spectrum["step"] == 40)]
    for heatmap, run in zip(heatmaps, RUNS, strict=True):
        mesh = heatmap["meshes"][0]
        assert mesh.shape == (len(DEPTH), 2 * (LAMBDA_MAX + 1) + 1) and mesh.count() == mesh.size
        chosen = final[final["run"] == run]
        grid = (chosen.pivot(index="layer", columns=["o3_sigma", "o3_lambda"], values="fraction")
                .reindex(index=DEPTH).sort_index(axis=1, ascending=[False, True]))
        residual = chosen.groupby("layer")["residual"].first().reindex(DEPTH)
        same(np.ma.filled(mesh, np.nan), np.c_[grid.to_numpy(), residual.to_numpy()])
        # an x on each flagged cell, and on the residual of its layer
        expected = set()
        for r, phase, step, layer, lam, sigma in FLAGGED_FRACTIONS:
            if (r, phase, step) == (run, "finetune", 40):
                row = DEPTH.index(layer) + 0.5
                expected |= {((1 - sigma) // 2 * (LAMBDA_MAX + 1) + lam + 0.5, row),
                             (2 * (LAMBDA_MAX + 1) + 0.5, row)}
        assert {tuple(p) for p in flagged_points(heatmap["ax"])} == expected
    # panel b: point by point, per group (classes, then locations) and run, at
    # (equivariance RMSE, instability)
    (ax,) = scatter
    assert ax["ax"].get_xscale() == "log" and ax["ax"].get_yscale() == "log"
    assert ax["ax"].get_xlabel() == "equivariance RMSE of the class probabilities"
    assert "grid-weighted" in ax["ax"].get_ylabel()
    offsets = np.concatenate(ax["scatters"])
    order = [(group, run) for _, group in GROUPS for run in RUNS]
    expected = instability[instability["step"] == 40].set_index(["group", "run"]).loc[order]
    same(offsets, expected[["equivariance_rmse", "instability"]])
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


def test_fig4_leaves_out_a_class_without_points(tables):
    """A class absent from the analysed events (n_points 0, NaN values) is neither drawn
    nor listed in the legend; the other classes still are."""
    spectrum, instability = pd.read_csv(tables["spectrum"]), pd.read_csv(tables["instability"])
    empty = instability["group"] == "michel"
    instability.loc[empty, ["n_points"]] = 0
    instability.loc[empty, ["instability", "unstable_fraction", "equivariance_rmse",
                            "accuracy", "recall_as_given"]] = np.nan
    table = fig4.data(spectrum, instability)
    assert "michel" not in set(table["group"].dropna())
    fig = fig4.plot(table)
    (ax,) = [d for d in artists(fig) if d["scatters"]]
    labels = [t.get_text() for legend in fig.subfigs[1].legends for t in legend.get_texts()]
    plt.close(fig)
    assert "Michel electron" not in labels and "delta ray" in labels
    assert len(np.concatenate(ax["scatters"])) == len(RUNS) * (len(GROUPS) - 1)


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
    legend = [t.get_text() for t in fig.subfigs[0].legends[0].get_texts()]
    plt.close(fig)
    # (a): x = fine-tuning step, y = RMSE; line by line, per metric then run
    ax_a = axes_a["ax"]
    assert ax_a.get_xlabel() == "fine-tuning step" and ax_a.get_yscale() == "log"
    lines = data_lines(ax_a)
    expected = [(column, run) for column in ("rmse_as_given", "equivariance_rmse")
                for run in RUNS]
    assert len(lines) == len(expected)
    bars, marks = [], []
    for line, (column, run) in zip(lines, expected, strict=True):
        rows = errors[errors["run"] == run].sort_values("step")
        same(line.get_xdata(), rows["step"])
        same(line.get_ydata(), rows[column])
        if column == "equivariance_rmse":
            checked = rows[rows["quadrature_error"].notna()]
            bars += list(zip(checked["step"], checked[column], checked["quadrature_error"],
                             strict=True))
            marks += [(step, v) for step, v in zip(rows["step"], rows[column], strict=True)
                      if (run, step) in FLAGGED_ERRORS]
    same_bars(ax_a, bars)
    same(flagged_points(ax_a), np.array(marks).reshape(-1, 2))
    assert legend[:3] == ["test RMSE (as given)", "equivariance RMSE",
                          "quadrature error > tolerance"]
    # (b): one panel per run, line by line per layer in depth order at (training step,
    # 1 - fraction(0, +1)), with the fraction's quadrature error where checked
    assert titles == list(RUNS)
    assert len(boundaries) == len(RUNS)
    assert all(list(line.get_xdata()) == [100, 100] for line in boundaries)
    for d, run in zip(axes_b, RUNS, strict=True):
        assert d["ax"].get_yscale() == "log"
        lines = data_lines(d["ax"], fig5.BOUNDARY)
        assert len(lines) == len(DEPTH)
        bars, marks = [], []
        for line, layer in zip(lines, DEPTH, strict=True):
            rows = scalar[(scalar["run"] == run) & (scalar["layer"] == layer)]
            rows = pd.concat([rows[rows["phase"] == "pretrain"].sort_values("step"),
                              rows[rows["phase"] == "finetune"].sort_values("step")])
            x = rows["step"] + np.where(rows["phase"] == "finetune", 100, 0)
            same(line.get_xdata(), x)
            same(line.get_ydata(), 1 - rows["fraction"])
            checked = rows["quadrature_error"].notna().to_numpy()
            bars += list(zip(x[checked], 1 - rows["fraction"][checked],
                             rows["quadrature_error"][checked], strict=True))
            marks += [(xi, 1 - f) for xi, f, p, s in zip(x, rows["fraction"], rows["phase"],
                                                         rows["step"], strict=True)
                      if (run, p, s, layer, 0, 1) in FLAGGED_FRACTIONS]
        same_bars(d["ax"], bars)
        same(flagged_points(d["ax"]), np.array(marks).reshape(-1, 2))


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


def _points(seed: int, n_events: int = 4, n: int = 60) -> pd.DataFrame:
    """A points.parquet of ``n_events`` events: A over two decades, instability rising
    with it in a few discrete steps, every fifth point a branching point and every
    other one on a track segment."""
    rng = np.random.default_rng(seed)
    frames = []
    for event in range(n_events):
        a = 10 ** rng.uniform(-5, -1, n)
        steps = np.round(np.clip(0.3 * (np.log10(a) + 5) + rng.normal(0, 0.3, n), 0, 1), 1)
        point = np.arange(n)
        frames.append(pd.DataFrame({
            "event": 3 * event + 1, "point": point, "semantic": point % 4,
            "location": np.where(point % 5 == 0, "branching",
                                 np.where(point % 2 == 0, "track segment", "")),
            "equivariance_mse": a, "squared_error": 0.1, "instability": steps,
            "symmetrized_class": point % 4, "correct": True, "correct_as_given": 1.0}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture()
def point_files(tmp_path):
    paths = {}
    for k, run in enumerate(RUNS):
        paths[run] = str(tmp_path / f"points_{run}.parquet")
        _points(k).to_parquet(paths[run])
    return paths


def test_fig4_panel_c_is_what_is_drawn(tables, point_files, tmp_path):
    """(c): per run, the binned mean instability of all points and of each location in
    quantile bins of the per-point equivariance RMSE, with standard errors; the title
    gives the run's Spearman correlation, its interval over events and its counts."""
    from symlearn.figures import pointwise

    spectrum, instability = pd.read_csv(tables["spectrum"]), pd.read_csv(tables["instability"])
    table = fig4.data(spectrum, instability, points=point_files)
    bins = table[table["panel"] == "c"]
    assert list(dict.fromkeys(bins["run"])) == list(RUNS)
    assert (bins["step"] == 40).all() and (bins["phase"] == "finetune").all()
    expected = {}
    for k, run in enumerate(RUNS):
        points = _points(k)
        found = pointwise.correlation(points)
        mine = bins[bins["run"] == run]
        assert (mine["spearman"] == found.value).all() and found.value > 0
        assert (mine["spearman_ci_low"] == found.low).all()
        assert (mine["spearman_ci_high"] == found.high).all()
        assert (mine["n_events"] == 4).all() and (mine["run_points"] == 240).all()
        assert list(dict.fromkeys(mine["group"])) == list(fig4.CURVES)
        for curve in fig4.CURVES:
            chosen = points if curve == fig4.ALL_POINTS else points[points["location"] == curve]
            want = pointwise.binned(chosen, fig4.BINS[curve])
            got = mine[mine["group"] == curve]
            assert len(got) == len(want) > 1
            for column in ("equivariance_rmse", "instability", "instability_se", "n_points"):
                same(got[column], want[column])
            assert got["n_points"].sum() == len(chosen)
            expected[run, curve] = want

    paths = build("fig4", tables, tmp_path / "out" / "fig4", {"points": point_files})
    check_written_figure(fig4, paths)
    fig = fig4.plot(pd.read_csv(paths["csv"]))
    assert len(fig.subfigs) == 3
    axes = fig.subfigs[2].axes
    legend = [t.get_text() for t in fig.subfigs[2].legends[0].get_texts()]
    titles = [ax.get_title() for ax in axes]
    try:
        assert len(axes) == len(RUNS)  # three runs in two columns: no empty axes
        assert legend == ["all points", "branching point", "track segment"]
        for ax, run in zip(axes, RUNS, strict=True):
            found = bins[bins["run"] == run].iloc[0]
            assert ax.get_title().splitlines() == [
                run, f"Spearman ρ = {found['spearman']:.2f} [{found['spearman_ci_low']:.2f}, "
                f"{found['spearman_ci_high']:.2f}]", "4 events, 240 points"]
            assert ax.get_xscale() == "log"  # A spans four decades
            lines = data_lines(ax)
            assert len(lines) == len(fig4.CURVES)
            bars = []
            for line, curve in zip(lines, fig4.CURVES, strict=True):
                want = expected[run, curve]
                same(line.get_xdata(), want["equivariance_rmse"])
                same(line.get_ydata(), want["instability"])
                bars += list(zip(want["equivariance_rmse"], want["instability"],
                                 want["instability_se"], strict=True))
            same_bars(ax, bars)
    finally:
        plt.close(fig)
    assert len(set(titles)) == len(RUNS)


def test_fig4_without_points_has_no_panel_c(tables):
    spectrum, instability = pd.read_csv(tables["spectrum"]), pd.read_csv(tables["instability"])
    table = fig4.data(spectrum, instability)
    assert "c" not in set(table["panel"])
    fig = fig4.plot(table)
    count = len(fig.subfigs)
    plt.close(fig)
    assert count == 2


def test_fig4_names_an_unreadable_points_file_or_an_unknown_run(tables, point_files,
                                                                tmp_path):
    spectrum, instability = pd.read_csv(tables["spectrum"]), pd.read_csv(tables["instability"])
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    with pytest.raises(FigureError, match=rf"{corrupt}: unreadable as Parquet"):
        fig4.data(spectrum, instability, points={"polarmae-o3": str(corrupt)})
    with pytest.raises(FigureError, match="points of run 'polarmae-x'"):
        fig4.data(spectrum, instability, points={"polarmae-x": point_files["polarmae-o3"]})
